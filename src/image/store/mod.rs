//! The content-addressed image store.
//!
//! Layout below the store root (`$JIG_HOME/store` or `~/.local/share/jig/store`):
//!
//! ```text
//! images/<id>/rootfs/      an image's root filesystem; <id> = sha256 tree hash (hex)
//! images/<id>/image.toml   where it came from and its runtime config (env, cmd)
//! blobs/sha256/<hex>       downloaded blobs (registry layers, .debs), by content hash
//! tmp/<pid>-<n>/           work in progress; renamed into images/ when complete
//! run/                     empty directory the runtime mounts its scratch tmpfs on
//! lock                     flock(2) file serializing concurrent jig processes
//! ```
//!
//! Every image is built in `tmp/` and appears in `images/` by a single `rename(2)`, so
//! a crash at any point leaves either a complete image or debris in `tmp/` that `gc`
//! (or the next import holding the exclusive lock) removes. Images are never modified
//! once committed: the runtime mounts them as the read-only lower layer of an overlay.

pub mod temp;
pub mod tree;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The sha256 tree hash of an image's root filesystem, in lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageId(String);

impl ImageId {
    /// Accepts `sha256:HEX`, a full hex digest, or (with `store`) a unique prefix.
    pub fn parse(s: &str) -> Result<ImageId> {
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("'{s}' is not an image id (expected sha256:<64 hex digits>)");
        }
        Ok(ImageId(hex.to_ascii_lowercase()))
    }

    /// The bare hex digest.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, as `jig images` shows them.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

/// Runtime configuration that travels with an image (from an OCI config or a recipe build).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// `KEY=VALUE` entries; recipe env is applied on top.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Default entrypoint, used when a recipe names no command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// Default arguments (or command, without an entrypoint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
}

/// PATH inside an image that does not declare one (the value Docker and Debian use).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `images/<id>/image.toml` records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageMeta {
    /// Human-readable origin, e.g. `rootfs:/home/me/rootfs` or `oci:docker.io/library/alpine:3.20`.
    pub source: String,
    /// Digest of what the image was made from (OCI manifest digest, tarball sha256), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<String>,
    /// Total size of the regular files in bytes.
    #[serde(default)]
    pub size: u64,
    /// Runtime configuration.
    #[serde(default)]
    pub config: ImageConfig,
    /// The Debian packages a bootstrapped image was made of, sorted by name: what
    /// `jig.lock` records so another machine can check it builds the same set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackagePin>,
    /// The layer digests of a registry image (`sha256:HEX`, manifest order), for its SBOM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
}

/// One package of a bootstrapped image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagePin {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// sha256 of the .deb, hex.
    pub sha256: String,
}

/// An image present in the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its id (tree hash).
    pub id: ImageId,
    /// Its recorded metadata.
    pub meta: ImageMeta,
}

/// Handle on the store root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A held `flock(2)`; released when dropped (or when the process dies, so a crash never
/// leaves the store locked).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

/// A directory under `tmp/` that becomes an image on [`Store::commit`] and is removed
/// when dropped uncommitted, so failed imports leave nothing behind.
#[derive(Debug)]
pub struct TempImage {
    dir: PathBuf,
    committed: bool,
}

impl TempImage {
    /// The directory the root filesystem is to be written into (exists, empty).
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        if !self.committed {
            let _ = remove_tree(&self.dir);
        }
    }
}

impl Store {
    /// The store at `root`; nothing is created until a write needs it.
    pub fn new(root: PathBuf) -> Store {
        Store { root }
    }

    /// The store root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory the runtime mounts its per-launch scratch tmpfs on.
    pub fn run_dir(&self) -> PathBuf {
        self.root.join("run")
    }

    /// The root filesystem path of image `id` (whether or not it exists). This is what
    /// the shim hot path uses: it computes the path and reads nothing.
    pub fn rootfs_of(&self, id: &ImageId) -> PathBuf {
        self.images_dir().join(id.hex()).join("rootfs")
    }

    fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// Creates the store's directories if missing.
    pub fn ensure(&self) -> Result<()> {
        for d in [
            self.images_dir(),
            self.root.join("tmp"),
            self.root.join("blobs").join("sha256"),
            self.run_dir(),
        ] {
            fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
        }
        Ok(())
    }

    fn lock(&self, exclusive: bool) -> Result<StoreLock> {
        self.ensure()?;
        lock_file(&self.root.join("lock"), exclusive)
    }

    /// A shared lock: imports hold it while they work, so `gc` cannot sweep their temp dirs.
    pub fn lock_shared(&self) -> Result<StoreLock> {
        self.lock(false)
    }

    /// The exclusive lock `gc` and the installed-index writers take.
    pub fn lock_exclusive(&self) -> Result<StoreLock> {
        self.lock(true)
    }

    /// A fresh temp image directory. The caller should hold a shared lock until commit.
    pub fn temp_image(&self) -> Result<TempImage> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        self.ensure()?;
        let tmp = self.root.join("tmp");
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = tmp.join(format!("{}-{}", std::process::id(), n));
            match fs::create_dir(&dir) {
                Ok(()) => {
                    fs::create_dir(dir.join("rootfs"))
                        .with_context(|| format!("creating {}/rootfs", dir.display()))?;
                    return Ok(TempImage {
                        dir,
                        committed: false,
                    });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
            }
        }
    }

    /// Hashes the temp image's tree, records `meta`, and renames it into place. If an
    /// identical image is already stored, the temp copy is discarded and the stored one
    /// is returned.
    pub fn commit(&self, mut temp: TempImage, mut meta: ImageMeta) -> Result<Image> {
        let summary = tree::hash(&temp.rootfs())
            .with_context(|| format!("hashing {}", temp.rootfs().display()))?;
        meta.size = summary.size;
        let id = ImageId(summary.hex);
        let text = toml::to_string(&meta).context("serializing image metadata")?;
        fs::write(temp.dir.join("image.toml"), text)
            .with_context(|| format!("writing {}/image.toml", temp.dir.display()))?;
        let dest = self.images_dir().join(id.hex());
        match fs::rename(&temp.dir, &dest) {
            Ok(()) => temp.committed = true,
            // Someone (maybe a concurrent jig) stored the same tree first: ours is a
            // duplicate and is removed when `temp` drops.
            Err(e)
                if dest.join("image.toml").exists()
                    && matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("moving {} to {}", temp.dir.display(), dest.display())
                });
            }
        }
        self.image(&id)?
            .with_context(|| format!("image {id} vanished right after it was stored"))
    }

    /// The stored image with this id, if complete.
    pub fn image(&self, id: &ImageId) -> Result<Option<Image>> {
        let dir = self.images_dir().join(id.hex());
        let meta_path = dir.join("image.toml");
        let text = match fs::read_to_string(&meta_path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", meta_path.display())),
        };
        let meta: ImageMeta =
            toml::from_str(&text).with_context(|| format!("parsing {}", meta_path.display()))?;
        Ok(Some(Image {
            id: id.clone(),
            meta,
        }))
    }

    /// Finds an image by full id or unique hex prefix (at least 4 digits).
    pub fn find(&self, prefix: &str) -> Result<Image> {
        let p = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if p.len() < 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("'{prefix}' is not an image id or a prefix of one (4+ hex digits)");
        }
        let matches: Vec<Image> = self
            .images()?
            .into_iter()
            .filter(|i| i.id.hex().starts_with(&p.to_ascii_lowercase()))
            .collect();
        match matches.len() {
            0 => bail!("no image {prefix} in the store"),
            1 => Ok(matches.into_iter().next().expect("one match")),
            n => bail!("{prefix} matches {n} images; give more digits"),
        }
    }

    /// All complete images, sorted by id.
    pub fn images(&self) -> Result<Vec<Image>> {
        let dir = self.images_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| ImageId::parse(n).ok()) else {
                continue;
            };
            if let Some(image) = self.image(&id)? {
                out.push(image);
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// The image a cached build step produced, if it is still stored.
    pub fn cached_build(&self, key: &str) -> Result<Option<Image>> {
        let path = self.root.join("builds").join(key);
        match fs::read_to_string(&path) {
            Ok(id) => match ImageId::parse(id.trim()) {
                Ok(id) => self.image(&id),
                Err(_) => Ok(None),
            },
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Records that build step `key` produced image `id` (temp file + rename).
    pub fn remember_build(&self, key: &str, id: &ImageId) -> Result<()> {
        let dir = self.root.join("builds");
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!(".{key}.{}", std::process::id()));
        fs::write(&tmp, id.hex()).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, dir.join(key)).with_context(|| format!("writing build cache entry {key}"))
    }

    /// Removes one image. The caller holds the exclusive lock and has checked that no
    /// installed recipe uses it.
    pub fn remove(&self, id: &ImageId) -> Result<()> {
        let dir = self.images_dir().join(id.hex());
        // Rename first so a half-removed image can never look complete.
        let doomed =
            self.root
                .join("tmp")
                .join(format!("rm-{}-{}", std::process::id(), id.short()));
        fs::rename(&dir, &doomed)
            .with_context(|| format!("moving {} out of the way", dir.display()))?;
        remove_tree(&doomed).with_context(|| format!("removing {}", doomed.display()))
    }

    /// Removes everything under `tmp/` (debris of interrupted imports). Caller holds the
    /// exclusive lock, so no import is running.
    pub fn sweep_tmp(&self) -> Result<u64> {
        let tmp = self.root.join("tmp");
        let mut n = 0;
        if let Ok(entries) = fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                remove_tree(&entry.path())
                    .with_context(|| format!("removing {}", entry.path().display()))?;
                n += 1;
            }
        }
        Ok(n)
    }
}

/// Opens (creating it) and `flock(2)`s the file at `path`, shared or exclusive; the lock
/// lasts as long as the returned value.
pub fn lock_file(path: &Path, exclusive: bool) -> Result<StoreLock> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // flock(2) rather than fcntl locks: it belongs to the open file, so it is not
    // dropped when some other code closes another fd of the same file.
    loop {
        // SAFETY: flock on an fd we own.
        let r = unsafe { libc::flock(file.as_raw_fd(), op) };
        if r == 0 {
            return Ok(StoreLock { _file: file });
        }
        let err = io::Error::last_os_error();
        if err.kind() != ErrorKind::Interrupted {
            return Err(err).with_context(|| format!("locking {}", path.display()));
        }
    }
}

/// `rm -rf` that first makes directories writable, since images may contain read-only
/// directories that would otherwise make removal fail.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return fs::remove_file(path),
        Ok(m) => {
            if m.permissions().mode() & 0o700 != 0o700 {
                fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
            }
        }
    }
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path())?;
        } else {
            fs::remove_file(entry.path())?;
        }
    }
    fs::remove_dir(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_is_content_addressed_and_deduplicated() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let make = |content: &str| {
            let t = store.temp_image().unwrap();
            fs::write(t.rootfs().join("f"), content).unwrap();
            store.commit(t, ImageMeta::default()).unwrap()
        };
        let a = make("one");
        let b = make("one");
        let c = make("two");
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_eq!(store.images().unwrap().len(), 2);
        assert_eq!(fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
        assert_eq!(store.find(&a.id.hex()[..8]).unwrap().id, a.id);
    }

    #[test]
    fn dropped_temp_image_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        {
            let t = store.temp_image().unwrap();
            fs::write(t.rootfs().join("f"), "x").unwrap();
        }
        assert_eq!(fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
        assert!(store.images().unwrap().is_empty());
    }

    #[test]
    fn incomplete_image_dir_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        store.ensure().unwrap();
        let fake = store.images_dir().join("a".repeat(64));
        fs::create_dir_all(fake.join("rootfs")).unwrap();
        assert!(store.images().unwrap().is_empty());
    }
}
