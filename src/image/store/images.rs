//! The store's images: made in `tmp/`, committed into `images/` by one `rename(2)`,
//! found, listed and removed.
//!
//! An image is complete when `images/<id>/image.toml` and `images/<id>/rootfs/` are
//! there (commit writes the file before the rename). Damage to one image (a garbled or
//! missing `image.toml`, a missing `rootfs/`) makes that image absent or reported,
//! never an error of commands about others: a listing skips it, a build that needs it
//! builds it again and the commit replaces it, `gc` removes it when unused.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::files::Sharing;
use super::lock::{StoreLock, lock_file};
use super::meta::{Image, ImageId, ImageMeta};
use super::remove::remove_tree;
use super::temp::{OwnedDir, owned_dir, sweep};
use super::tree;

/// Handle on the store root.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// A directory under `tmp/`, owned by this process (see [`super::temp`]), that
/// becomes an image on [`Store::commit`] and is removed when dropped uncommitted, so
/// failed or interrupted imports leave nothing behind.
#[derive(Debug)]
pub struct TempImage {
    dir: OwnedDir,
    committed: bool,
}

impl TempImage {
    /// The directory the root filesystem is to be written into (exists, empty).
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path.join("rootfs")
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        if !self.committed {
            // Still holding the ownership lock: no sweep races this removal.
            let _ = remove_tree(&self.dir.path);
        }
    }
}

/// What [`Store::remove`] did: the ids removed, and those kept because a running tool
/// uses them (with one such tool's pid).
pub type Removed = (Vec<ImageId>, Vec<(ImageId, u32)>);

/// What the store holds under one name of `images/`.
#[derive(Debug)]
pub enum Found {
    /// A complete image.
    Image(Image),
    /// An image directory that cannot be used as it is: why, naming the file.
    Damaged(ImageId, String),
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

    /// `images/`.
    pub fn images_dir(&self) -> PathBuf {
        self.root.join("images")
    }

    /// `files/sha256/`: regular files shared across images ([`super::files`]).
    pub fn files_dir(&self) -> PathBuf {
        self.root.join("files").join("sha256")
    }

    /// `leases/` ([`super::lease`]).
    pub fn leases_dir(&self) -> PathBuf {
        self.root.join("leases")
    }

    /// `locks/`: one lock file per build in flight ([`super::flight`]).
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// `trash/`: images being removed ([`Store::remove`]).
    pub fn trash_dir(&self) -> PathBuf {
        self.root.join("trash")
    }

    /// `tmp/`: work in progress.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Creates the store's directories if missing.
    pub fn ensure(&self) -> Result<()> {
        for d in [
            self.images_dir(),
            self.tmp_dir(),
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

    /// A shared lock: held while images are committed or leased, so `gc` (which holds
    /// the exclusive one) sees every image either unused or leased.
    pub fn lock_shared(&self) -> Result<StoreLock> {
        self.lock(false)
    }

    /// The exclusive lock `gc` and the installed-index writers take.
    pub fn lock_exclusive(&self) -> Result<StoreLock> {
        self.lock(true)
    }

    /// Removes what killed processes left in `tmp/` (entries nobody holds); returns
    /// how many.
    pub fn sweep_tmp(&self) -> Result<usize> {
        let tmp = self.tmp_dir();
        sweep(&tmp, |_| true).with_context(|| format!("cleaning {}", tmp.display()))
    }

    /// A fresh temp image directory, owned by this process. What killed processes left
    /// in `tmp/` is removed first.
    pub fn temp_image(&self) -> Result<TempImage> {
        self.ensure()?;
        let tmp = self.tmp_dir();
        self.sweep_tmp()?;
        let dir = owned_dir(&tmp, "")
            .with_context(|| format!("creating a directory in {}", tmp.display()))?;
        let rootfs = dir.path.join("rootfs");
        fs::create_dir(&rootfs).with_context(|| format!("creating {}", rootfs.display()))?;
        Ok(TempImage {
            dir,
            committed: false,
        })
    }

    /// Hashes the temp image's tree (sharing its files with the stored images on the
    /// way), records `meta`, and renames it into place; the image is leased to this
    /// process ([`super::lease`]) before `gc` can see it. If an identical image is
    /// already stored, the temp copy is discarded and the stored one is returned; a
    /// damaged one is replaced.
    pub fn commit(&self, mut temp: TempImage, mut meta: ImageMeta) -> Result<Image> {
        let _lock = self.lock_shared()?;
        let rootfs = temp.rootfs();
        let mut sharing = Sharing::new(self.files_dir());
        let summary = tree::hash_with(&rootfs, &mut |p, m, sha| sharing.offer(p, m, sha))
            .with_context(|| format!("hashing {}", rootfs.display()))?;
        sharing.finish();
        meta.size = summary.size;
        let id = ImageId::parse(&summary.hex)?;
        let text = toml::to_string(&meta).context("serializing image metadata")?;
        let meta_path = temp.dir.path.join("image.toml");
        fs::write(&meta_path, text).with_context(|| format!("writing {}", meta_path.display()))?;
        let dest = self.images_dir().join(id.hex());
        for attempt in 0..2 {
            match fs::rename(&temp.dir.path, &dest) {
                Ok(()) => {
                    temp.committed = true;
                    break;
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) => {
                    match self.found(&id) {
                        // Someone (maybe a concurrent jig) stored the same tree first:
                        // ours is a duplicate and is removed when `temp` drops.
                        Some(Found::Image(_)) => break,
                        // A damaged image of that id: out of the way, then ours.
                        _ if attempt == 0 => self.remove_unlocked(std::slice::from_ref(&id))?,
                        _ => {
                            return Err(e).with_context(|| {
                                format!("moving {} to {}", temp.dir.path.display(), dest.display())
                            });
                        }
                    }
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("moving {} to {}", temp.dir.path.display(), dest.display())
                    });
                }
            }
        }
        super::lease::add(&self.leases_dir(), &id)?;
        match self.found(&id) {
            Some(Found::Image(image)) => Ok(image),
            _ => bail!("image {id} vanished right after it was stored"),
        }
    }

    /// What `images/<id>` holds: a complete image, a damaged one, or nothing.
    pub fn found(&self, id: &ImageId) -> Option<Found> {
        let dir = self.images_dir().join(id.hex());
        let meta_path = dir.join("image.toml");
        let damaged = |why: String| Some(Found::Damaged(id.clone(), why));
        let text = match fs::read_to_string(&meta_path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                return match fs::symlink_metadata(&dir) {
                    Ok(_) => damaged(format!("{} is missing", meta_path.display())),
                    Err(_) => None,
                };
            }
            Err(e) => return damaged(format!("cannot read {}: {e}", meta_path.display())),
        };
        let meta: ImageMeta = match toml::from_str(&text) {
            Ok(m) => m,
            Err(e) => {
                let first = e.to_string().lines().next().unwrap_or_default().to_owned();
                return damaged(format!("{} is damaged: {first}", meta_path.display()));
            }
        };
        let rootfs = dir.join("rootfs");
        if !fs::symlink_metadata(&rootfs).is_ok_and(|m| m.is_dir()) {
            return damaged(format!("{} is missing", rootfs.display()));
        }
        Some(Found::Image(Image {
            id: id.clone(),
            meta,
        }))
    }

    /// The stored image with this id, if complete (a damaged one counts as absent).
    pub fn image(&self, id: &ImageId) -> Result<Option<Image>> {
        Ok(match self.found(id) {
            Some(Found::Image(i)) => Some(i),
            _ => None,
        })
    }

    /// The stored image `id`, leased to this process, if complete: for a build that
    /// found it (in a cache) and goes on to use it.
    pub fn hold(&self, id: &ImageId) -> Result<Option<Image>> {
        let _lock = self.lock_shared()?;
        let Some(image) = self.image(id)? else {
            return Ok(None);
        };
        super::lease::add(&self.leases_dir(), id)?;
        Ok(Some(image))
    }

    /// Every name under `images/`: complete images and damaged ones, sorted by id.
    pub fn scan(&self) -> Result<Vec<Found>> {
        let dir = self.images_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
        };
        let mut ids: Vec<ImageId> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| ImageId::parse(n).ok()))
            .collect();
        ids.sort();
        Ok(ids.iter().filter_map(|id| self.found(id)).collect())
    }

    /// All complete images, sorted by id.
    pub fn images(&self) -> Result<Vec<Image>> {
        Ok(self
            .scan()?
            .into_iter()
            .filter_map(|f| match f {
                Found::Image(i) => Some(i),
                Found::Damaged(..) => None,
            })
            .collect())
    }

    /// Finds an image, complete or damaged, by full id or unique hex prefix (at least
    /// 4 digits).
    pub fn find(&self, prefix: &str) -> Result<Found> {
        let p = prefix.strip_prefix("sha256:").unwrap_or(prefix);
        if p.len() < 4 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("'{prefix}' is not an image id or a prefix of one (4+ hex digits)");
        }
        let p = p.to_ascii_lowercase();
        let mut matches: Vec<Found> = self
            .scan()?
            .into_iter()
            .filter(|f| id_of(f).hex().starts_with(&p))
            .collect();
        match matches.len() {
            0 => bail!("no image {prefix} in the store"),
            1 => Ok(matches.remove(0)),
            n => bail!("{prefix} matches {n} images; give more digits"),
        }
    }

    /// The image a cached build step produced, if it is still stored complete; leased
    /// to this process, which goes on to use it.
    pub fn cached_build(&self, key: &str) -> Result<Option<Image>> {
        let path = self.root.join("builds").join(key);
        match fs::read(&path) {
            // A garbled entry is a cache miss: the build runs and rewrites it.
            Ok(id) => match ImageId::parse(String::from_utf8_lossy(&id).trim()) {
                Ok(id) => self.hold(&id),
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

    /// Removes images (complete or damaged), except those a running tool uses, which
    /// are left in place; returns the ids removed and those kept for being in use (with
    /// a pid using each). The caller holds the exclusive lock and has checked that no
    /// installed recipe and no lease uses them.
    ///
    /// Each image is first renamed into `trash/` (so a half-removed image never looks
    /// complete, and a launch starting now finds nothing), then the mount tables are
    /// read once: a launch that mounted the image before the rename shows there. An
    /// image in use goes back where it was; the rest is deleted.
    pub fn remove(&self, ids: &[ImageId]) -> Result<Removed> {
        let trash = self.trash_dir();
        fs::create_dir_all(&trash).with_context(|| format!("creating {}", trash.display()))?;
        let mut moved = Vec::new();
        for id in ids {
            let dir = self.images_dir().join(id.hex());
            let doomed = trash.join(format!("{}.{}", id.hex(), std::process::id()));
            let _ = remove_tree(&doomed);
            match fs::rename(&dir, &doomed) {
                Ok(()) => moved.push((id.clone(), dir, doomed)),
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("moving {} out of the way", dir.display()));
                }
            }
        }
        let busy = super::inuse::in_use(&self.images_dir());
        let (mut removed, mut kept) = (Vec::new(), Vec::new());
        for (id, dir, doomed) in moved {
            if let Some(pid) = busy.get(&id) {
                if fs::rename(&doomed, &dir).is_ok() {
                    kept.push((id, *pid));
                }
                continue;
            }
            remove_tree(&doomed).with_context(|| format!("removing {}", doomed.display()))?;
            removed.push(id);
        }
        Ok((removed, kept))
    }

    /// [`Store::remove`] for the commit of an image whose id is taken by a damaged
    /// one; the caller holds the shared lock only, so nothing else decides here.
    fn remove_unlocked(&self, ids: &[ImageId]) -> Result<()> {
        let (_, kept) = self.remove(ids)?;
        if let Some((id, pid)) = kept.first() {
            bail!(
                "image {} is damaged, and a running tool (pid {pid}) uses it",
                id.short()
            );
        }
        Ok(())
    }
}

/// The id of what [`Store::scan`] found.
pub fn id_of(f: &Found) -> &ImageId {
    match f {
        Found::Image(i) => &i.id,
        Found::Damaged(id, _) => id,
    }
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
