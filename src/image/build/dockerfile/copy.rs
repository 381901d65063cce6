//! `COPY` and `ADD`: what they read, as one deterministic tar (its sha256 is the
//! content part of the step's cache key), and writing it into the image.
//!
//! The payload is made before the cache is asked: sources are read from a [`Tree`]
//! (the context beneath its root, or a `--from` image in its root), heredocs become
//! files, a local archive `ADD` names is hashed as it is, a URL is represented by its
//! `--checksum` (or downloaded to know its content). Entries carry their modes (or
//! `--chmod`), times 0 and owner 0, in name order, so the same input gives the same
//! bytes.
//!
//! Writing happens in a copy of the previous image: the destination directory is made
//! and opened inside the image with `openat2(RESOLVE_IN_ROOT)` (an image's symlink is
//! followed as the container would follow it, never to a host path), and the payload
//! goes through the checked unpacker onto that directory (`/proc/self/fd/N`), which
//! refuses `..`, absolute names and symlinked parents. `ADD` of a local tar extracts
//! it with the same unpacker; `ADD` of a URL checks the download against `--checksum`.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow, bail};
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::inroot::{is_dir_in_root, mkdir_in_root};
use super::tree::{Entry, Found, Kind, Tree};
use crate::base::digest::hex;
use crate::image::source::dockerfile::op::{CopyOp, CopySource};
use crate::image::store::temp::TempFile;
use crate::image::unpack;

/// What one `COPY`/`ADD` writes, ready to apply.
pub struct Payload {
    /// The plain sources as one tar (in the store's tmp/, removed when dropped).
    tar: TempFile,
    /// Local archives `ADD` extracts, in order.
    archives: Vec<(String, File)>,
    /// URLs `ADD` downloads: (url, file name, checksum).
    urls: Vec<(String, String, Option<String>)>,
    /// The name of the single file entry, when it may become `dest` itself.
    single: Option<String>,
    /// The content part of the cache key.
    pub digest: String,
    /// `--chmod`.
    chmod: Option<u32>,
}

/// Reads what `op` copies (from `tree`, the context or its `--from` image) into a
/// payload in `tmp`. `what` names the step in errors.
pub fn payload(op: &CopyOp, tree: &Tree, tmp: &Path, what: &str) -> Result<Payload> {
    let temp = TempFile::create(tmp, "copy-")
        .map_err(|e| anyhow!("creating {}: {}", e.path.display(), e.error))?;
    let file = temp.file.try_clone().context("opening the payload file")?;
    let mut tar = tar::Builder::new(HashWriter::new(BufWriter::new(file)));
    let mut key = Sha256::new();
    let mut archives = Vec::new();
    let mut urls = Vec::new();
    let mut count = 0;
    let mut single = None;
    let mut wildcard = false;
    for source in &op.sources {
        match source {
            CopySource::Inline { name, content } => {
                count += 1;
                single = Some(name.clone());
                let mode = op.chmod.unwrap_or(0o644);
                append(&mut tar, name, &mut file_entry(mode, content.as_bytes()))?;
            }
            CopySource::Path(p) if op.add && is_url(p) => {
                count += 1;
                let name = url_name(p).with_context(|| format!("{what}: {p}"))?;
                single = Some(name.clone());
                key.update(format!("url\0{p}\0").as_bytes());
                match &op.checksum {
                    Some(c) => key.update(c.as_bytes()),
                    // Without a checksum only the content itself says whether it changed.
                    None => key.update(download(p, None, tmp, what)?.1.as_bytes()),
                }
                key.update(b"\n");
                urls.push((p.clone(), name, op.checksum.clone()));
            }
            CopySource::Path(p) => {
                wildcard |= p.contains(['*', '?', '[']);
                for Found { rel, entry } in tree.find(p, what)? {
                    count += 1;
                    match entry.kind {
                        Kind::Dir(children) => {
                            for child in children {
                                add_entry(&mut tar, "", child, op.chmod)?;
                            }
                        }
                        Kind::File(file, _) if op.add && is_archive(&file)? => {
                            let digest = file_sha256(&file)?;
                            key.update(format!("archive\0{rel}\0{digest}\n").as_bytes());
                            archives.push((rel, file));
                        }
                        Kind::File(..) | Kind::Symlink(_) => {
                            let name = rel.rsplit('/').next().unwrap_or(&rel).to_owned();
                            single = Some(name.clone());
                            add_entry(&mut tar, "", Entry { name, ..entry }, op.chmod)?;
                        }
                    }
                }
            }
        }
    }
    let w = tar.into_inner().context("finishing the payload")?;
    let (mut buf, tar_digest) = w.finish();
    buf.flush().context("writing the payload")?;
    key.update(format!("tar\0{tar_digest}\n").as_bytes());
    let into_dir = op.dest.ends_with('/') || count > 1 || wildcard || single.is_none();
    Ok(Payload {
        tar: temp,
        archives,
        urls,
        single: if into_dir { None } else { single },
        digest: hex(&key.finalize()),
        chmod: op.chmod,
    })
}

impl Payload {
    /// Writes the payload into the image at `rootfs`, at `dest` (absolute, in the
    /// image), held to `limits`.
    pub fn apply(
        mut self,
        rootfs: &Path,
        dest: &str,
        limits: &unpack::Limits,
        tmp: &Path,
        what: &str,
    ) -> Result<()> {
        let budget = unpack::Budget::new(*limits).context("setting up the step's limits")?;
        let layer = unpack::Layer {
            name: what,
            whiteouts: false,
            budget: &budget,
        };
        // One file and a destination that is no directory in the image: the file is
        // the destination (`COPY a.txt /etc/b.conf`).
        let trimmed = dest.trim_end_matches('/');
        let (dir, rename) = match &self.single {
            Some(name) if !is_dir_in_root(rootfs, trimmed) => {
                let (parent, file) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
                if file.is_empty() {
                    (trimmed.to_owned(), None)
                } else {
                    (parent.to_owned(), Some((name.clone(), file.to_owned())))
                }
            }
            _ => (trimmed.to_owned(), None),
        };
        let target = mkdir_in_root(rootfs, &dir).with_context(|| format!("{what}: {dest}"))?;
        let target_path = PathBuf::from(format!("/proc/self/fd/{}", target.as_raw_fd()));
        self.tar.file.rewind()?;
        let reader = io::BufReader::new(&self.tar.file);
        let mut map = |p: PathBuf| -> Result<Option<PathBuf>, String> {
            match &rename {
                Some((from, to)) if p == Path::new(from) => Ok(Some(PathBuf::from(to))),
                _ => Ok(Some(p)),
            }
        };
        unpack::apply_mapped(reader, &target_path, &layer, &mut map)?;
        for (rel, file) in &self.archives {
            let name = format!("{what}: {rel}");
            let reader = unpack::decompress(Box::new(io::BufReader::new(file)))
                .map_err(|e| anyhow!("{name}: cannot read the archive: {e}"))?;
            let archive = unpack::Layer {
                name: &name,
                whiteouts: false,
                budget: &budget,
            };
            unpack::apply(reader, &target_path, &archive)?;
        }
        for (url, name, checksum) in &self.urls {
            let (file, _) = download(url, checksum.as_deref(), tmp, what)?;
            let size = file.file.metadata()?.len();
            let mut one = tar::Builder::new(Vec::new());
            let mut h = header(tar::EntryType::Regular, self.chmod.unwrap_or(0o600), size);
            let mut body = &file.file;
            body.rewind()?;
            one.append_data(&mut h, name, body)?;
            let bytes = one.into_inner()?;
            let mut map = |p: PathBuf| -> Result<Option<PathBuf>, String> {
                match &rename {
                    Some((from, to)) if p == Path::new(from) => Ok(Some(PathBuf::from(to))),
                    _ => Ok(Some(p)),
                }
            };
            unpack::apply_mapped(&bytes[..], &target_path, &layer, &mut map)?;
        }
        Ok(())
    }
}

/// Downloads `url` into a temp file of `tmp`, checking `checksum` (`sha256:`,
/// `sha384:` or `sha512:` and hex) when given. Returns the file and its sha256 (hex).
fn download(
    url: &str,
    checksum: Option<&str>,
    tmp: &Path,
    what: &str,
) -> Result<(TempFile, String)> {
    let http = crate::image::source::debian::fetch::Http::new();
    let mut body = http
        .open(url)
        .map_err(|e| anyhow!("{what}: downloading {url}: {e}"))?;
    let mut temp = TempFile::create(tmp, "add-")
        .map_err(|e| anyhow!("creating {}: {}", e.path.display(), e.error))?;
    let (mut s256, mut s384, mut s512) = (Sha256::new(), Sha384::new(), Sha512::new());
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = body
            .read(&mut buf)
            .with_context(|| format!("{what}: downloading {url}"))?;
        if n == 0 {
            break;
        }
        s256.update(&buf[..n]);
        s384.update(&buf[..n]);
        s512.update(&buf[..n]);
        temp.file.write_all(&buf[..n])?;
    }
    let sha256 = hex(&s256.finalize());
    if let Some(want) = checksum {
        let got = match want.split_once(':').map(|(a, _)| a) {
            Some("sha384") => format!("sha384:{}", hex(&s384.finalize())),
            Some("sha512") => format!("sha512:{}", hex(&s512.finalize())),
            _ => format!("sha256:{sha256}"),
        };
        if got != want {
            return Err(crate::base::error::hinted(
                format!(
                    "{what}: {url} does not match --checksum: it is {got}, not {want}; refused"
                ),
                "the file changed or was tampered with; check the URL, then update --checksum",
            ));
        }
    }
    Ok((temp, sha256))
}

/// `http://` or `https://`: what `ADD` downloads.
pub fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

/// The file name a URL is saved as: its last path segment.
fn url_name(url: &str) -> Result<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    match path.split_once('/').map(|(_, p)| p) {
        Some(p) => match p.rsplit('/').next() {
            Some(name) if !name.is_empty() && name != "." && name != ".." => Ok(name.to_owned()),
            _ => bail!("the URL names no file; give a destination file name"),
        },
        None => bail!("the URL names no file; give a destination file name"),
    }
}

/// Whether `file` starts like a tar archive `ADD` extracts: gzip, xz, zstd or a plain
/// tar (the `ustar` magic).
fn is_archive(file: &File) -> Result<bool> {
    let mut head = [0u8; 262];
    let mut n = 0;
    while n < head.len() {
        match file.read_at(&mut head[n..], n as u64)? {
            0 => break,
            k => n += k,
        }
    }
    let h = &head[..n];
    Ok(h.starts_with(&[0x1f, 0x8b])
        || h.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0])
        || h.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || h.get(257..262) == Some(b"ustar"))
}

fn file_sha256(file: &File) -> Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut off = 0;
    loop {
        let n = file.read_at(&mut buf, off)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        off += n as u64;
    }
    Ok(hex(&h.finalize()))
}

/// Appends `entry` (below `prefix`) and what it holds.
fn add_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    prefix: &str,
    entry: Entry,
    chmod: Option<u32>,
) -> Result<()> {
    let path = if prefix.is_empty() {
        entry.name.clone()
    } else {
        format!("{prefix}/{}", entry.name)
    };
    let mode = chmod.unwrap_or(entry.mode);
    match entry.kind {
        Kind::Dir(children) => {
            let mut h = header(tar::EntryType::Directory, mode, 0);
            tar.append_data(&mut h, format!("{path}/"), io::empty())
                .with_context(|| format!("adding {path}"))?;
            for child in children {
                add_entry(tar, &path, child, chmod)?;
            }
        }
        Kind::File(file, size) => {
            let mut h = header(tar::EntryType::Regular, mode, size);
            // Exactly the size looked at: a file that grows meanwhile is cut there.
            tar.append_data(&mut h, &path, (&file).take(size))
                .with_context(|| format!("adding {path}"))?;
        }
        Kind::Symlink(target) => {
            let mut h = header(tar::EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut h, &path, &target)
                .with_context(|| format!("adding {path}"))?;
        }
    }
    Ok(())
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    entry: &mut (tar::Header, Vec<u8>),
) -> Result<()> {
    let (h, data) = entry;
    tar.append_data(h, name, &data[..])
        .with_context(|| format!("adding {name}"))
}

fn file_entry(mode: u32, data: &[u8]) -> (tar::Header, Vec<u8>) {
    (
        header(tar::EntryType::Regular, mode, data.len() as u64),
        data.to_vec(),
    )
}

/// A header with nothing of the build machine in it: mode and size only.
fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Hashes what is written through it.
struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> HashWriter<W> {
    fn new(inner: W) -> HashWriter<W> {
        HashWriter {
            inner,
            hasher: Sha256::new(),
        }
    }

    fn finish(self) -> (W, String) {
        (self.inner, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(sources: &[&str], dest: &str, chmod: Option<u32>) -> CopyOp {
        CopyOp {
            add: false,
            from: None,
            sources: sources
                .iter()
                .map(|s| CopySource::Path((*s).into()))
                .collect(),
            dest: dest.into(),
            chmod,
            checksum: None,
        }
    }

    #[test]
    fn copies_land_where_docker_puts_them_and_hash_what_they_read() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let (ctx, root, tmp) = (
            t.path().join("ctx"),
            t.path().join("root"),
            t.path().join("tmp"),
        );
        for d in [ctx.join("dir/sub"), root.join("etc"), tmp.clone()] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(ctx.join("a.conf"), "a").unwrap();
        std::fs::write(ctx.join("dir/sub/b"), "b").unwrap();
        let tree = Tree::context(&ctx).unwrap();
        let limits = unpack::Limits::default();
        let apply = |o: &CopyOp, dest: &str| {
            let p = payload(o, &tree, &tmp, "COPY").unwrap();
            let digest = p.digest.clone();
            p.apply(&root, dest, &limits, &tmp, "COPY").unwrap();
            digest
        };
        // One file to a path that is no directory: the file is renamed.
        let d1 = apply(&op(&["a.conf"], "/etc/b.conf", None), "/etc/b.conf");
        assert_eq!(
            std::fs::read_to_string(root.join("etc/b.conf")).unwrap(),
            "a"
        );
        // To an existing directory: kept its name; with --chmod.
        apply(&op(&["a.conf"], "/etc", Some(0o600)), "/etc");
        let mode = std::fs::metadata(root.join("etc/a.conf"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // A directory: its contents, into a directory made for them.
        apply(&op(&["dir"], "/opt/x/", None), "/opt/x/");
        assert_eq!(
            std::fs::read_to_string(root.join("opt/x/sub/b")).unwrap(),
            "b"
        );
        // The digest follows the content, not the file's times.
        std::fs::write(ctx.join("a.conf"), "changed").unwrap();
        let tree2 = Tree::context(&ctx).unwrap();
        let p = payload(&op(&["a.conf"], "/etc/b.conf", None), &tree2, &tmp, "COPY").unwrap();
        assert_ne!(p.digest, d1);
        std::fs::write(ctx.join("a.conf"), "a").unwrap();
        let tree3 = Tree::context(&ctx).unwrap();
        let p = payload(&op(&["a.conf"], "/etc/b.conf", None), &tree3, &tmp, "COPY").unwrap();
        assert_eq!(p.digest, d1);
    }

    #[test]
    fn urls_name_their_file() {
        assert_eq!(url_name("https://h/a/b.tgz?x=1").unwrap(), "b.tgz");
        assert!(url_name("https://h/").is_err());
        assert!(url_name("https://h").is_err());
        assert!(is_url("http://x") && !is_url("file:///etc/passwd"));
    }
}
