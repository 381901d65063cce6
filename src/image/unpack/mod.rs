//! Safe application of tar archives (rootfs tarballs, OCI layers, Debian data.tar).
//!
//! Archives are untrusted input. Every entry is written relative to an open directory
//! fd of the target, and every parent directory is reached with `openat2(2)` and
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, so nothing can be written outside the
//! target: absolute paths and `..` are refused, a symlink in a parent position is
//! refused (the classic tar path-escape), hard links must name a file inside the
//! image. Device nodes are skipped (they cannot be made unprivileged and an image has
//! no use for them), setuid/setgid bits are stripped, directories get u+rwx and files
//! u+rw so jig can always read and later remove what it stored, and extended
//! attributes are not applied at all.
//!
//! With [`Layer::whiteouts`] set, OCI whiteouts are honoured: `.wh.NAME` deletes NAME
//! from the layers below and `.wh..wh..opq` empties its directory of lower content.
//! The names `.wh.`, `.wh..` and `.wh...` are refused in every mode: as whiteouts they
//! would name the directory itself or its parent (at the top, the directory holding the
//! image), and kept as plain files they turn into that attack wherever the tree is made
//! into a layer again.
//!
//! Every archive is counted against a [`Budget`]: the [`Limits`] of `config.toml` on
//! bytes and entries, per archive and per image. An entry is admitted before anything of
//! it is written, from the size its header declares, so a decompression bomb stops at
//! the entry that would cross a limit. The tar parser itself is held to a small
//! allowance of header bytes per entry ([`MAX_ENTRY_HEADERS`]): it reads pax records and
//! GNU long names into memory, and a hostile archive could otherwise declare gigabytes
//! of them.
//!
//! [`apply_mapped`] lets a caller rename entries before they are written (Debian's
//! merged-/usr moves `bin/...` to `usr/bin/...`); mapped paths go through the same
//! checks as archive paths.

use std::cell::Cell;
use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::ptr::NonNull;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, fstatat, mkdirat, mknodat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{UnlinkatFlags, linkat, symlinkat, unlinkat};

pub use crate::base::config::Limits;

/// An unpack failure: which archive, which entry, and why.
#[derive(Debug)]
pub struct Error {
    /// The archive (layer digest, file name) being applied.
    pub layer: String,
    /// The entry path as written in the archive.
    pub path: String,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.layer, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.layer, self.path, self.reason)
        }
    }
}

impl std::error::Error for Error {}

/// Counts of what an apply did, for messages and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// Entries written.
    pub written: u64,
    /// Device nodes skipped.
    pub skipped_devices: u64,
    /// Whiteouts applied.
    pub whiteouts: u64,
}

/// Options for applying one archive.
#[derive(Debug, Clone)]
pub struct Layer<'a> {
    /// Name used in error messages.
    pub name: &'a str,
    /// Honour OCI whiteout files.
    pub whiteouts: bool,
    /// The limits and the image-wide counts this archive is checked against.
    pub budget: &'a Budget,
}

/// Most header bytes (the 512-byte headers, pax records, GNU long names) the tar parser
/// may read for one entry. Real entries need a few KiB at most: a path and a link
/// target of up to 4 KiB each, and extended attributes (64 KiB at most per value).
pub const MAX_ENTRY_HEADERS: u64 = 1 << 20;

/// Header bytes an archive may use in total: this much, plus
/// [`HEADERS_PER_ENTRY`] for each entry. Bounds the time a hostile archive can make
/// jig spend decompressing metadata that the byte limit does not see.
pub const HEADERS_BASE: u64 = 64 << 20;

/// See [`HEADERS_BASE`]; an entry with a pax header takes about 1.5 KiB.
pub const HEADERS_PER_ENTRY: u64 = 4 << 10;

/// Bytes and entries used: by one archive so far, or (from [`Budget::used`]) by the
/// whole image.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Used {
    /// Bytes of entry contents admitted.
    pub bytes: u64,
    /// Entries admitted.
    pub entries: u64,
}

/// The [`Limits`] of one image and what the image has used of them, over all the
/// archives applied into it.
///
/// The counts live in a shared anonymous mapping, so that processes forked to fill the
/// same image (the Debian bootstrap's extractors) count together; they are updated with
/// atomic compare-and-swap, never past a limit.
pub struct Budget {
    limits: Limits,
    /// `[bytes, entries]`, in memory shared with forked children.
    used: NonNull<[AtomicU64; 2]>,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("limits", &self.limits)
            .field("used", &self.used())
            .finish()
    }
}

impl Budget {
    /// A fresh budget for one image.
    pub fn new(limits: Limits) -> io::Result<Budget> {
        let len = NonZeroUsize::new(std::mem::size_of::<[AtomicU64; 2]>()).expect("not empty");
        // SAFETY: a new anonymous mapping aliases nothing; the kernel zero-fills it,
        // and zero bytes are two valid AtomicU64s, suitably aligned (page-aligned).
        let ptr = unsafe {
            nix::sys::mman::mmap_anonymous(
                None,
                len,
                nix::sys::mman::ProtFlags::PROT_READ | nix::sys::mman::ProtFlags::PROT_WRITE,
                nix::sys::mman::MapFlags::MAP_SHARED,
            )
        }
        .map_err(io::Error::from)?;
        Ok(Budget {
            limits,
            used: ptr.cast(),
        })
    }

    fn counters(&self) -> &[AtomicU64; 2] {
        // SAFETY: the mapping lives as long as self and holds initialized atomics.
        unsafe { self.used.as_ref() }
    }

    /// What the image has used: bytes and entries.
    pub fn used(&self) -> Used {
        let [bytes, entries] = self.counters();
        Used {
            bytes: bytes.load(Ordering::SeqCst),
            entries: entries.load(Ordering::SeqCst),
        }
    }

    /// Admits one entry with `bytes` bytes of contents into an archive that has used
    /// `archive` so far, counting it there and in the image; or refuses it, counting
    /// nothing, with a message naming the limit, its value and the key that raises it.
    pub fn admit(&self, archive: &mut Used, bytes: u64) -> Result<(), String> {
        let l = &self.limits;
        let entries = archive.entries + 1;
        if let Some(max) = l.layer_entries
            && entries > max
        {
            return Err(over(
                "layer_entries",
                &format!("the archive has more than {max} entries"),
            ));
        }
        let layer_bytes = archive.bytes.checked_add(bytes);
        if let Some(max) = l.layer_bytes
            && layer_bytes.is_none_or(|b| b > max)
        {
            return Err(over(
                "layer_bytes",
                &format!(
                    "{} more would take the archive's contents past {}",
                    human(bytes),
                    human(max)
                ),
            ));
        }
        let [image_bytes, image_entries] = self.counters();
        let add = |counter: &AtomicU64, n: u64, max: u64| {
            counter
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                    used.checked_add(n).filter(|&t| t <= max)
                })
                .is_ok()
        };
        if !add(image_entries, 1, l.image_entries) {
            return Err(over(
                "image_entries",
                &format!("the image would have more than {} entries", l.image_entries),
            ));
        }
        if !add(image_bytes, bytes, l.image_bytes) {
            image_entries.fetch_sub(1, Ordering::SeqCst);
            return Err(over(
                "image_bytes",
                &format!(
                    "{} more would take the image's contents past {}",
                    human(bytes),
                    human(l.image_bytes)
                ),
            ));
        }
        archive.entries = entries;
        archive.bytes = layer_bytes.expect("checked above or bounded by the image");
        Ok(())
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in new() with this length and is not used after.
        let _ = unsafe {
            nix::sys::mman::munmap(self.used.cast(), std::mem::size_of::<[AtomicU64; 2]>())
        };
    }
}

/// The refusal for crossing the limit `key`.
fn over(key: &str, what: &str) -> String {
    let config = crate::base::config::path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "jig's config.toml".into());
    format!(
        "refused: {what} (limit {key}; if the image is genuine, raise {key} in the [limits] table of {config})"
    )
}

/// A byte count for people: `512 bytes`, `8 GiB`, `1.5 MiB (1572864 bytes)`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let Some(unit) = (0..UNITS.len()).rev().find(|&u| n >= 1 << (10 * (u + 1))) else {
        return format!("{n} bytes");
    };
    let size = 1u64 << (10 * (unit + 1));
    if n % size == 0 {
        format!("{} {}", n / size, UNITS[unit])
    } else {
        format!("{:.1} {} ({n} bytes)", n as f64 / size as f64, UNITS[unit])
    }
}

/// How far the tar parser may read: shared between the [`Meter`] it reads through and
/// the loop that admits entries.
#[derive(Default)]
struct Allowance {
    /// Bytes read from the archive so far.
    read: Cell<u64>,
    /// Reads past this offset fail.
    cap: Cell<u64>,
    /// A read failed at the cap.
    hit: Cell<bool>,
}

/// The archive stream as the tar parser sees it, cut off at the allowance.
struct Meter<R> {
    inner: R,
    allowance: Rc<Allowance>,
}

impl<R: Read> Read for Meter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let a = &self.allowance;
        let left = a.cap.get().saturating_sub(a.read.get());
        if left == 0 && !buf.is_empty() {
            a.hit.set(true);
            return Err(io::Error::other("more tar headers than jig allows"));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        a.read.set(a.read.get() + n as u64);
        Ok(n)
    }
}

/// Decompresses by magic number: gzip, zstd, xz or plain tar.
pub fn decompress<'r>(mut reader: Box<dyn Read + 'r>) -> io::Result<Box<dyn Read + 'r>> {
    let mut magic = [0u8; 6];
    let mut n = 0;
    while n < magic.len() {
        let m = reader.read(&mut magic[n..])?;
        if m == 0 {
            break;
        }
        n += m;
    }
    let chained: Box<dyn Read + 'r> = Box::new(io::Cursor::new(magic[..n].to_vec()).chain(reader));
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::GzDecoder::new(chained)),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Box::new(zstd::stream::read::Decoder::new(chained)?),
        [0xfd, b'7', b'z', b'X', b'Z', 0x00] => {
            Box::new(liblzma::read::XzDecoder::new_multi_decoder(chained))
        }
        _ => chained,
    })
}

/// Applies a (compressed or plain) tar file onto `target`.
pub fn apply_file(path: &Path, target: &Path, layer: &Layer) -> Result<Unpacked, Error> {
    let err = |reason: String| Error {
        layer: layer.name.to_owned(),
        path: String::new(),
        reason,
    };
    let file = File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
    let reader = decompress(Box::new(io::BufReader::with_capacity(256 * 1024, file)))
        .map_err(|e| err(format!("cannot read: {e}")))?;
    apply(reader, target, layer)
}

/// Applies a plain tar stream onto the existing directory `target`.
pub fn apply(reader: impl Read, target: &Path, layer: &Layer) -> Result<Unpacked, Error> {
    apply_mapped(reader, target, layer, &mut |p| Ok(Some(p)))
}

/// Renames an entry: given its clean relative path, returns the path to write it to,
/// or `None` to skip it, or an error message.
pub type PathMap<'m> = dyn FnMut(PathBuf) -> Result<Option<PathBuf>, String> + 'm;

/// Like [`apply`], with every entry path (and hard link target) passed through `map`
/// first. What `map` returns is checked like an archive path.
pub fn apply_mapped(
    reader: impl Read,
    target: &Path,
    layer: &Layer,
    map: &mut PathMap,
) -> Result<Unpacked, Error> {
    let root = nix::fcntl::open(
        target,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error {
        layer: layer.name.to_owned(),
        path: String::new(),
        reason: format!("cannot open target {}: {e}", target.display()),
    })?;
    let mut ctx = Ctx {
        root,
        layer,
        stats: Unpacked::default(),
        created: HashSet::new(),
        dir_times: Vec::new(),
        map,
    };
    let allowance = Rc::new(Allowance::default());
    allowance.cap.set(MAX_ENTRY_HEADERS);
    let mut archive = tar::Archive::new(Meter {
        inner: reader,
        allowance: allowance.clone(),
    });
    let entries = archive.entries().map_err(|e| ctx.err("", format!("{e}")))?;
    let mut used = Used::default();
    // Archive bytes that were entry data (padded to blocks); the rest is headers.
    let mut data = 0u64;
    let mut last = String::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| {
            if allowance.hit.get() {
                let after = if last.is_empty() {
                    String::new()
                } else {
                    format!(" after {last}")
                };
                ctx.err(
                    "",
                    format!(
                        "refused: the tar headers{after} run past what jig allows ({} for one entry, {} plus {} per entry in all): pax records or long names no real archive has",
                        human(MAX_ENTRY_HEADERS),
                        human(HEADERS_BASE),
                        human(HEADERS_PER_ENTRY)
                    ),
                )
            } else {
                ctx.err("", format!("corrupt archive: {e}"))
            }
        })?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // Admitted before anything is written, from the declared size: the data the
        // parser will read for it (written, or skipped for entries that carry none).
        let size = entry.size();
        layer
            .budget
            .admit(&mut used, size)
            .map_err(|reason| ctx.err(&raw, reason))?;
        let stored = size
            .max(entry.header().entry_size().unwrap_or(0))
            .checked_next_multiple_of(512)
            .ok_or_else(|| ctx.err(&raw, "corrupt archive: entry size overflows".into()))?;
        let start = entry.raw_file_position();
        let headers = start.saturating_sub(data);
        data = data.saturating_add(stored);
        let pool = HEADERS_BASE
            .saturating_add(HEADERS_PER_ENTRY.saturating_mul(used.entries))
            .saturating_sub(headers);
        allowance.cap.set(
            start
                .saturating_add(stored)
                .saturating_add(pool.min(MAX_ENTRY_HEADERS)),
        );
        ctx.entry(&mut entry, &raw)
            .map_err(|reason| ctx.err(&raw, reason))?;
        last = raw;
    }
    // Directory times last: creating entries inside a directory would change them.
    for (rel, mtime) in std::mem::take(&mut ctx.dir_times).into_iter().rev() {
        let t = TimeSpec::new(mtime as i64, 0);
        let _ = utimensat(
            &ctx.root,
            rel.as_path(),
            &t,
            &t,
            UtimensatFlags::NoFollowSymlink,
        );
    }
    Ok(ctx.stats)
}

struct Ctx<'a> {
    root: OwnedFd,
    layer: &'a Layer<'a>,
    stats: Unpacked,
    /// Paths written by this archive: an opaque whiteout keeps these.
    created: HashSet<PathBuf>,
    dir_times: Vec<(PathBuf, u64)>,
    map: &'a mut PathMap<'a>,
}

/// Turns an archive path into a clean relative path, refusing anything that could
/// leave the target.
pub fn clean_path(raw: &[u8]) -> Result<PathBuf, String> {
    let p = Path::new(OsStr::from_bytes(raw));
    if p.is_absolute() {
        return Err("absolute path refused".into());
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err("path with '..' refused".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute path refused".into());
            }
        }
    }
    Ok(out)
}

impl Ctx<'_> {
    /// Cleans an archive path and passes it through the caller's map; `None`: skip.
    fn mapped(&mut self, raw: &[u8]) -> Result<Option<PathBuf>, String> {
        let rel = clean_path(raw)?;
        match (self.map)(rel)? {
            Some(p) => clean_path(p.as_os_str().as_bytes()).map(Some),
            None => Ok(None),
        }
    }

    fn err(&self, path: &str, reason: String) -> Error {
        Error {
            layer: self.layer.name.to_owned(),
            path: path.to_owned(),
            reason,
        }
    }

    /// Opens (creating as needed) the directory `rel` below the root without following
    /// any symlink. A symlink where a directory is expected is an error, not a detour.
    fn dir(&self, rel: &Path) -> Result<OwnedFd, String> {
        let how = || {
            OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS)
        };
        let target = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        match openat2(&self.root, target, how()) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(Errno::ELOOP) => {
                return Err(format!(
                    "refused: parent {} is a symlink (writing through it could escape the image)",
                    rel.display()
                ));
            }
            Err(Errno::ENOTDIR) => {
                return Err(format!("parent {} is not a directory", rel.display()));
            }
            Err(e) => return Err(format!("cannot open parent {}: {e}", rel.display())),
        }
        // Create missing components one at a time, each relative to the last.
        let mut fd = openat2(&self.root, ".", how()).map_err(|e| e.to_string())?;
        for c in rel.components() {
            let name = c.as_os_str();
            match mkdirat(&fd, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(format!("cannot create directory {}: {e}", rel.display())),
            }
            fd = match openat2(&fd, name, how()) {
                Ok(fd) => fd,
                Err(Errno::ELOOP) => {
                    return Err(format!(
                        "refused: parent {} is a symlink (writing through it could escape the image)",
                        rel.display()
                    ));
                }
                Err(e) => return Err(format!("cannot open parent {}: {e}", rel.display())),
            };
        }
        Ok(fd)
    }

    /// Removes whatever is at `name` in `dir` (file, symlink or whole directory).
    fn remove(&self, dir: &OwnedFd, name: &OsStr) -> Result<(), String> {
        match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => Ok(()),
            Err(Errno::EISDIR) => {
                let sub = openat(
                    dir,
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map_err(|e| format!("cannot open {name:?} to remove it: {e}"))?;
                self.empty_dir(&sub, &HashSet::new(), Path::new(""))?;
                unlinkat(dir, name, UnlinkatFlags::RemoveDir)
                    .map_err(|e| format!("cannot remove directory {name:?}: {e}"))
            }
            Err(e) => Err(format!("cannot remove {name:?}: {e}")),
        }
    }

    /// Removes the children of `dir` except paths in `keep` (relative to the root; `rel`
    /// is `dir`'s own path).
    fn empty_dir(&self, dir: &OwnedFd, keep: &HashSet<PathBuf>, rel: &Path) -> Result<(), String> {
        // Make sure we may delete inside it.
        let _ = nix::sys::stat::fchmod(dir, Mode::from_bits_truncate(0o755));
        let d = nix::dir::Dir::openat(
            dir,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| format!("cannot list {}: {e}", rel.display()))?;
        let mut names: Vec<OsString> = Vec::new();
        for e in d.into_iter() {
            let e = e.map_err(|e| format!("cannot list {}: {e}", rel.display()))?;
            let n = OsStr::from_bytes(e.file_name().to_bytes());
            if n != "." && n != ".." {
                names.push(n.to_owned());
            }
        }
        for n in names {
            if !keep.contains(&rel.join(&n)) {
                self.remove(dir, &n)?;
            }
        }
        Ok(())
    }

    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>, raw: &str) -> Result<(), String> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName
        ) {
            return Ok(());
        }
        let Some(rel) = self.mapped(&entry.path_bytes())? else {
            return Ok(());
        };
        let Some(name) = rel.file_name().map(OsStr::to_owned) else {
            // The archive root itself ("./"): nothing to create.
            return Ok(());
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_owned();

        // In every mode: a whiteout of nothing, of the directory itself or of its parent.
        match name.as_bytes() {
            b".wh." => return Err("refused: the whiteout .wh. names nothing".into()),
            b".wh.." => {
                return Err(
                    "refused: the whiteout .wh.. names '.', the directory that holds it".into(),
                );
            }
            b".wh..." => {
                return Err(
                    "refused: the whiteout .wh... names '..', the directory above (outside the image at its top)"
                        .into(),
                );
            }
            _ => {}
        }

        if self.layer.whiteouts {
            let bytes = name.as_bytes();
            if bytes == b".wh..wh..opq" {
                let parent = self.dir(&parent_rel)?;
                self.empty_dir(&parent, &self.created, &parent_rel)?;
                self.stats.whiteouts += 1;
                return Ok(());
            }
            if let Some(victim) = bytes.strip_prefix(b".wh.") {
                let parent = self.dir(&parent_rel)?;
                self.remove(&parent, OsStr::from_bytes(victim))?;
                self.stats.whiteouts += 1;
                return Ok(());
            }
        }

        let header = entry.header();
        let mode = header.mode().map_err(|e| format!("bad mode: {e}"))? & 0o7777;
        let mtime = header.mtime().unwrap_or(0);
        let parent = self.dir(&parent_rel)?;

        // Device nodes: cannot be created unprivileged and have no place in an image.
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            self.stats.skipped_devices += 1;
            return Ok(());
        }

        let existing = fstatat(
            &parent,
            name.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok();
        let existing_is_dir = existing.is_some_and(|st| {
            SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
        });

        match kind {
            tar::EntryType::Directory => {
                // Dirs keep the sticky bit (e.g. /tmp) but never setuid/setgid.
                let mode = (mode & 0o1777) | 0o700;
                if existing.is_some() && !existing_is_dir {
                    self.remove(&parent, &name)?;
                }
                if !existing_is_dir {
                    match mkdirat(&parent, name.as_os_str(), Mode::from_bits_truncate(0o700)) {
                        Ok(()) => {}
                        // Another extractor into the same tree made it meanwhile.
                        Err(Errno::EEXIST)
                            if fstatat(
                                &parent,
                                name.as_os_str(),
                                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                            )
                            .is_ok_and(|st| {
                                SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
                                    == SFlag::S_IFDIR
                            }) => {}
                        Err(e) => return Err(format!("cannot create directory: {e}")),
                    }
                }
                nix::sys::stat::fchmodat(
                    &parent,
                    name.as_os_str(),
                    Mode::from_bits_truncate(mode),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(|e| format!("cannot set mode: {e}"))?;
                self.dir_times.push((rel.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                // Unlink first: writing into an existing file could write through a hard
                // link into another path.
                if existing.is_some() {
                    self.remove(&parent, &name)?;
                }
                let fd = openat(
                    &parent,
                    name.as_os_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| format!("cannot create file: {e}"))?;
                let mut file = File::from(fd);
                io::copy(entry, &mut file).map_err(|e| format!("cannot write file: {e}"))?;
                // Files never keep setuid/setgid/sticky; the owner can always read/write.
                let mode = (mode & 0o777) | 0o600;
                nix::sys::stat::fchmod(file.as_fd(), Mode::from_bits_truncate(mode))
                    .map_err(|e| format!("cannot set mode: {e}"))?;
                let t = TimeSpec::new(mtime as i64, 0);
                let _ = nix::sys::stat::futimens(file.as_fd(), &t, &t);
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| "symlink without a target".to_string())?;
                if existing.is_some() {
                    self.remove(&parent, &name)?;
                }
                // The target is stored verbatim: it is only ever resolved inside the
                // container's root, never by jig on the host.
                symlinkat(OsStr::from_bytes(&target), &parent, name.as_os_str())
                    .map_err(|e| format!("cannot create symlink: {e}"))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| "hard link without a target".to_string())?;
                let target_rel = self
                    .mapped(&target)
                    .map_err(|e| {
                        format!("hard link target {}: {e}", String::from_utf8_lossy(&target))
                    })?
                    .ok_or_else(|| {
                        format!(
                            "hard link target {} is skipped",
                            String::from_utf8_lossy(&target)
                        )
                    })?;
                let (Some(tname), tparent_rel) = (
                    target_rel.file_name(),
                    target_rel.parent().unwrap_or(Path::new("")),
                ) else {
                    return Err("hard link to the archive root refused".into());
                };
                let tparent = self.dir(tparent_rel)?;
                if target_rel == rel {
                    return Ok(());
                }
                if existing.is_some() {
                    self.remove(&parent, &name)?;
                }
                linkat(
                    &tparent,
                    tname,
                    &parent,
                    name.as_os_str(),
                    nix::fcntl::AtFlags::empty(),
                )
                .map_err(|e| format!("cannot create hard link to {}: {e}", target_rel.display()))?;
            }
            tar::EntryType::Fifo => {
                if existing.is_some() {
                    self.remove(&parent, &name)?;
                }
                mknodat(
                    &parent,
                    name.as_os_str(),
                    SFlag::S_IFIFO,
                    Mode::from_bits_truncate((mode & 0o777) | 0o600),
                    0,
                )
                .map_err(|e| format!("cannot create fifo: {e}"))?;
            }
            other => return Err(format!("unsupported entry type {other:?} in {raw}")),
        }
        self.created.insert(rel);
        self.stats.written += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// Builds a tar in memory; entries are written with raw headers so hostile names
    /// (absolute, `..`) can be expressed.
    struct TarBuilder(Vec<u8>);

    impl TarBuilder {
        fn new() -> Self {
            TarBuilder(Vec::new())
        }
        fn header(name: &[u8], kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
            let mut h = tar::Header::new_gnu();
            {
                let gnu = h.as_gnu_mut().unwrap();
                gnu.name[..name.len()].copy_from_slice(name);
            }
            h.set_entry_type(kind);
            h.set_size(size);
            h.set_mode(mode);
            h.set_mtime(1_700_000_000);
            h
        }
        fn push(&mut self, mut h: tar::Header, data: &[u8]) {
            h.set_cksum();
            self.0.extend_from_slice(h.as_bytes());
            self.0.extend_from_slice(data);
            let pad = (512 - data.len() % 512) % 512;
            self.0.extend(std::iter::repeat_n(0, pad));
        }
        fn file(mut self, name: &str, data: &str, mode: u32) -> Self {
            let h = Self::header(
                name.as_bytes(),
                tar::EntryType::Regular,
                data.len() as u64,
                mode,
            );
            self.push(h, data.as_bytes());
            self
        }
        fn dir(mut self, name: &str, mode: u32) -> Self {
            let h = Self::header(name.as_bytes(), tar::EntryType::Directory, 0, mode);
            self.push(h, b"");
            self
        }
        fn link(mut self, name: &str, target: &str, kind: tar::EntryType) -> Self {
            let mut h = Self::header(name.as_bytes(), kind, 0, 0o777);
            h.set_link_name_literal(target.as_bytes()).unwrap();
            self.push(h, b"");
            self
        }
        fn device(mut self, name: &str) -> Self {
            let h = Self::header(name.as_bytes(), tar::EntryType::Char, 0, 0o666);
            self.push(h, b"");
            self
        }
        fn done(mut self) -> Vec<u8> {
            self.0.extend(std::iter::repeat_n(0, 1024));
            self.0
        }
    }

    /// A budget of its own for one test archive (leaked: tests are short-lived).
    fn budget(limits: Limits) -> &'static Budget {
        Box::leak(Box::new(Budget::new(limits).unwrap()))
    }
    fn plain() -> Layer<'static> {
        Layer {
            name: "test-layer",
            whiteouts: false,
            budget: budget(Limits::default()),
        }
    }
    fn oci() -> Layer<'static> {
        Layer {
            whiteouts: true,
            ..plain()
        }
    }

    fn apply_bytes(bytes: &[u8], target: &Path, layer: &Layer) -> Result<Unpacked, Error> {
        apply(bytes, target, layer)
    }

    #[test]
    fn writes_files_dirs_links_and_strips_special_bits() {
        let t = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new()
            .dir("./bin", 0o755)
            .file("./bin/tool", "#!/bin/sh\n", 0o4755)
            .file("etc/conf", "x", 0o000)
            .link("bin/sh", "/bin/busybox", tar::EntryType::Symlink)
            .link("bin/tool2", "bin/tool", tar::EntryType::Link)
            .device("dev/null")
            .file("deep/er/file", "y", 0o644)
            .done();
        let stats = apply_bytes(&tar, t.path(), &plain()).unwrap();
        assert_eq!(stats.skipped_devices, 1);
        let m = fs::metadata(t.path().join("bin/tool")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o755, "setuid stripped");
        assert_eq!(m.nlink(), 2, "hard link kept");
        assert_eq!(
            fs::metadata(t.path().join("etc/conf"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_link(t.path().join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert!(!t.path().join("dev/null").exists());
        assert_eq!(
            fs::read_to_string(t.path().join("deep/er/file")).unwrap(),
            "y"
        );
    }

    fn assert_refused(tar: Vec<u8>, what: &str) {
        let outer = tempfile::tempdir().unwrap();
        let target = outer.path().join("target");
        fs::create_dir(&target).unwrap();
        let err = apply_bytes(&tar, &target, &oci()).unwrap_err();
        assert!(err.to_string().contains("test-layer"), "{err}");
        assert!(err.to_string().contains(what), "{err}");
        // Nothing appeared beside the target.
        let names: Vec<_> = fs::read_dir(outer.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("target")]);
    }

    #[test]
    fn hostile_archives_are_refused() {
        assert_refused(
            TarBuilder::new().file("/abs", "x", 0o644).done(),
            "absolute",
        );
        assert_refused(
            TarBuilder::new().file("../escape", "x", 0o644).done(),
            "'..'",
        );
        assert_refused(
            TarBuilder::new().file("a/../../escape", "x", 0o644).done(),
            "'..'",
        );
        // A symlink to the outside, then a write through it.
        assert_refused(
            TarBuilder::new()
                .link("out", "..", tar::EntryType::Symlink)
                .file("out/escape", "x", 0o644)
                .done(),
            "symlink",
        );
        assert_refused(
            TarBuilder::new()
                .link("out", "/tmp", tar::EntryType::Symlink)
                .file("out/escape", "x", 0o644)
                .done(),
            "symlink",
        );
        assert_refused(
            TarBuilder::new()
                .link("h", "../../etc/passwd", tar::EntryType::Link)
                .done(),
            "'..'",
        );
        assert_refused(
            TarBuilder::new()
                .link("h", "/etc/passwd", tar::EntryType::Link)
                .done(),
            "absolute",
        );
    }

    #[test]
    fn replacing_a_symlink_does_not_write_through_it() {
        let outer = tempfile::tempdir().unwrap();
        let target = outer.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::write(outer.path().join("victim"), "safe").unwrap();
        let tar = TarBuilder::new()
            .link("f", "../victim", tar::EntryType::Symlink)
            .file("f", "overwritten?", 0o644)
            .done();
        apply_bytes(&tar, &target, &oci()).unwrap();
        assert_eq!(
            fs::read_to_string(outer.path().join("victim")).unwrap(),
            "safe"
        );
        assert_eq!(
            fs::read_to_string(target.join("f")).unwrap(),
            "overwritten?"
        );
    }

    #[test]
    fn whiteouts_delete_lower_content_only() {
        let t = tempfile::tempdir().unwrap();
        let lower = TarBuilder::new()
            .file("a/keep", "1", 0o644)
            .file("a/gone", "2", 0o644)
            .file("o/old1", "3", 0o644)
            .file("o/sub/old2", "4", 0o644)
            .done();
        apply_bytes(&lower, t.path(), &oci()).unwrap();
        let upper = TarBuilder::new()
            .file("a/.wh.gone", "", 0o644)
            .file("o/new", "5", 0o644)
            .file("o/.wh..wh..opq", "", 0o644)
            .done();
        let stats = apply_bytes(&upper, t.path(), &oci()).unwrap();
        assert_eq!(stats.whiteouts, 2);
        assert!(t.path().join("a/keep").exists());
        assert!(!t.path().join("a/gone").exists());
        assert!(!t.path().join("o/old1").exists());
        assert!(!t.path().join("o/sub").exists());
        assert_eq!(fs::read_to_string(t.path().join("o/new")).unwrap(), "5");
        assert!(!t.path().join("a/.wh.gone").exists());
    }

    #[test]
    fn without_whiteout_mode_wh_files_are_plain_files() {
        let t = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new().file("a/.wh.x", "", 0o644).done();
        apply_bytes(&tar, t.path(), &plain()).unwrap();
        assert!(t.path().join("a/.wh.x").exists());
    }

    #[test]
    fn file_replaced_by_directory_and_back() {
        let t = tempfile::tempdir().unwrap();
        apply_bytes(
            &TarBuilder::new().file("x", "f", 0o644).done(),
            t.path(),
            &oci(),
        )
        .unwrap();
        apply_bytes(
            &TarBuilder::new()
                .file("x/y", "f", 0o644)
                .dir("x", 0o755)
                .done(),
            t.path(),
            &oci(),
        )
        .unwrap_err();
        let t = tempfile::tempdir().unwrap();
        apply_bytes(
            &TarBuilder::new().file("x", "f", 0o644).done(),
            t.path(),
            &oci(),
        )
        .unwrap();
        apply_bytes(
            &TarBuilder::new()
                .dir("x", 0o755)
                .file("x/y", "f", 0o644)
                .done(),
            t.path(),
            &oci(),
        )
        .unwrap();
        assert!(t.path().join("x/y").exists());
        apply_bytes(
            &TarBuilder::new().file("x", "g", 0o644).done(),
            t.path(),
            &oci(),
        )
        .unwrap();
        assert_eq!(fs::read_to_string(t.path().join("x")).unwrap(), "g");
    }

    #[test]
    fn mapped_paths_are_renamed_skipped_and_still_checked() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("usr/bin", t.path().join("bin")).unwrap();
        let tar = TarBuilder::new()
            .dir("./bin", 0o755)
            .file("./bin/tool", "t", 0o755)
            .link("./bin/tool2", "./bin/tool", tar::EntryType::Link)
            .file("./etc/x", "x", 0o644)
            .done();
        let mut map = |p: PathBuf| -> Result<Option<PathBuf>, String> {
            if p == Path::new("bin") {
                return Ok(None);
            }
            Ok(Some(match p.strip_prefix("bin") {
                Ok(rest) => Path::new("usr/bin").join(rest),
                Err(_) => p,
            }))
        };
        apply_mapped(&tar[..], t.path(), &plain(), &mut map).unwrap();
        assert!(t.path().join("bin").is_symlink(), "link kept");
        assert_eq!(
            fs::read_to_string(t.path().join("usr/bin/tool2")).unwrap(),
            "t"
        );
        assert!(t.path().join("etc/x").exists());
        // Unmapped, a file below bin is refused: bin is a symlinked parent.
        let file_only = TarBuilder::new().file("./bin/tool", "t", 0o755).done();
        let err = apply(&file_only[..], t.path(), &plain()).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        // A map cannot smuggle an escape past the checks.
        let err = apply_mapped(&tar[..], t.path(), &plain(), &mut |_| {
            Ok(Some(PathBuf::from("../out")))
        })
        .unwrap_err();
        assert!(err.to_string().contains("'..'"), "{err}");
    }

    /// A fresh `outer/target` with lower content in `target/a/lower` and a bystander
    /// in `outer/sibling/keep`.
    fn target_with_bystander() -> (tempfile::TempDir, PathBuf) {
        let outer = tempfile::tempdir().unwrap();
        let target = outer.path().join("target");
        fs::create_dir_all(target.join("a")).unwrap();
        fs::write(target.join("a/lower"), "lower").unwrap();
        fs::create_dir(outer.path().join("sibling")).unwrap();
        fs::write(outer.path().join("sibling/keep"), "keep").unwrap();
        (outer, target)
    }

    #[test]
    fn whiteouts_of_nothing_dot_and_dotdot_are_refused_in_every_mode() {
        for name in [
            ".wh..", ".wh...", "a/.wh..", "a/.wh...", ".wh.", "a/.wh.", "./.wh...",
        ] {
            for layer in [oci(), plain()] {
                let (outer, target) = target_with_bystander();
                let tar = TarBuilder::new()
                    .file("a/new", "new", 0o644)
                    .file(name, "", 0o644)
                    .done();
                let err = apply_bytes(&tar, &target, &layer).unwrap_err().to_string();
                let wh = name.rsplit('/').next().unwrap();
                assert!(
                    err.contains("test-layer") && err.contains(name),
                    "{name}: {err}"
                );
                assert!(
                    err.contains(&format!("the whiteout {wh} names")),
                    "{name}: {err}"
                );
                assert_eq!(
                    fs::read_to_string(outer.path().join("sibling/keep")).unwrap(),
                    "keep",
                    "{name}"
                );
                assert_eq!(
                    fs::read_to_string(target.join("a/lower")).unwrap(),
                    "lower",
                    "{name}: lower content kept"
                );
                assert!(target.join("a/new").exists(), "{name}");
                assert!(!target.join(wh).exists() && !target.join("a").join(wh).exists());
            }
        }
        // Names that merely start like them are ordinary whiteouts.
        let (_outer, target) = target_with_bystander();
        fs::write(target.join("a/.x"), "").unwrap();
        let tar = TarBuilder::new()
            .file("a/.wh..x", "", 0o644)
            .file("a/.wh..wh..opq", "", 0o644)
            .done();
        let stats = apply_bytes(&tar, &target, &oci()).unwrap();
        assert_eq!(stats.whiteouts, 2);
        assert!(!target.join("a/.x").exists() && !target.join("a/lower").exists());
        assert!(target.join("a").is_dir(), "opaque keeps the directory");
    }

    /// Ten-byte files `f0`, `f1`, ...
    fn files(n: usize) -> Vec<u8> {
        let mut b = TarBuilder::new();
        for i in 0..n {
            b = b.file(&format!("f{i}"), "0123456789", 0o644);
        }
        b.done()
    }

    fn limited(limits: Limits) -> Layer<'static> {
        Layer {
            budget: budget(limits),
            ..oci()
        }
    }

    #[test]
    fn layer_limits_refuse_the_entry_that_would_cross_them() {
        let cases = [
            (
                Limits {
                    layer_entries: Some(3),
                    ..Limits::default()
                },
                "layer_entries",
                "more than 3 entries",
            ),
            (
                Limits {
                    layer_bytes: Some(35),
                    ..Limits::default()
                },
                "layer_bytes",
                "10 bytes more would take the archive's contents past 35 bytes",
            ),
            (
                Limits {
                    image_entries: 3,
                    ..Limits::default()
                },
                "image_entries",
                "more than 3 entries",
            ),
            (
                Limits {
                    image_bytes: 35,
                    ..Limits::default()
                },
                "image_bytes",
                "past 35 bytes",
            ),
        ];
        for (limits, key, what) in cases {
            let t = tempfile::tempdir().unwrap();
            let layer = limited(limits);
            let err = apply_bytes(&files(5), t.path(), &layer)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("test-layer: f3: refused: "), "{key}: {err}");
            assert!(err.contains(what), "{key}: {err}");
            assert!(
                err.contains(&format!("(limit {key}; "))
                    && err.contains(&format!("raise {key} in the [limits] table of ")),
                "{key}: {err}"
            );
            assert!(t.path().join("f2").exists() && !t.path().join("f3").exists());
            assert_eq!(
                layer.budget.used(),
                Used {
                    bytes: 30,
                    entries: 3
                },
                "{key}: a refused entry is not counted"
            );
        }
    }

    #[test]
    fn image_limits_count_over_every_archive_of_the_image() {
        let layer = limited(Limits {
            image_bytes: 45,
            layer_bytes: Some(30),
            ..Limits::default()
        });
        let t = tempfile::tempdir().unwrap();
        apply_bytes(&files(3), t.path(), &layer).unwrap();
        let err = apply_bytes(&files(3), t.path(), &layer)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test-layer: f1: ") && err.contains("image_bytes"),
            "{err}"
        );
        assert_eq!(layer.budget.used().bytes, 40);
        // Each archive starts its own count.
        let layer = limited(Limits {
            layer_entries: Some(3),
            ..Limits::default()
        });
        for _ in 0..3 {
            apply_bytes(&files(3), t.path(), &layer).unwrap();
        }
        assert_eq!(layer.budget.used().entries, 9);
    }

    #[test]
    fn forked_extractors_share_the_image_count() {
        let budget = Budget::new(Limits::default()).unwrap();
        // SAFETY: the child only does arithmetic on the shared mapping and _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = budget.admit(&mut Used::default(), 7).is_ok();
                // SAFETY: leaves without running the test harness's destructors.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
        budget.admit(&mut Used::default(), 5).unwrap();
        assert_eq!(
            budget.used(),
            Used {
                bytes: 12,
                entries: 2
            }
        );
    }

    /// A reader giving `head`, then `len` bytes of `fill`, then `tail`: archives far
    /// larger than memory or disk, made on the fly.
    fn huge(head: Vec<u8>, fill: u8, len: u64, tail: Vec<u8>) -> impl Read {
        io::Cursor::new(head)
            .chain(io::repeat(fill).take(len))
            .chain(io::Cursor::new(tail))
    }

    /// The raw header for an entry of `kind` that declares `size` bytes of data.
    fn declaring(name: &str, kind: tar::EntryType, size: u64) -> Vec<u8> {
        let mut h = TarBuilder::header(name.as_bytes(), kind, 0, 0o644);
        h.set_size(size);
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    #[test]
    fn a_huge_declared_file_is_refused_before_any_of_it_is_written() {
        let t = tempfile::tempdir().unwrap();
        let layer = limited(Limits {
            layer_bytes: Some(1 << 20),
            ..Limits::default()
        });
        let tb = 1u64 << 40;
        let started = std::time::Instant::now();
        let reader = huge(
            declaring("big", tar::EntryType::Regular, tb),
            0,
            tb,
            vec![0; 1024],
        );
        let err = apply(reader, t.path(), &layer).unwrap_err().to_string();
        assert!(
            err.contains(
                "test-layer: big: refused: 1 TiB more would take the archive's contents past 1 MiB"
            ),
            "{err}"
        );
        assert!(!t.path().join("big").exists());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn the_data_of_entries_jig_does_not_write_counts_too() {
        // A whiteout or a directory "with contents": the parser would read past them.
        for (name, kind) in [
            ("a/.wh.x", tar::EntryType::Regular),
            ("d", tar::EntryType::Directory),
            ("dev/null", tar::EntryType::Char),
        ] {
            let t = tempfile::tempdir().unwrap();
            let layer = limited(Limits {
                image_bytes: 1 << 20,
                ..Limits::default()
            });
            let len = 1u64 << 36;
            let reader = huge(declaring(name, kind, len), 0, len, vec![0; 1024]);
            let err = apply(reader, t.path(), &layer).unwrap_err().to_string();
            assert!(
                err.contains(&format!("{name}: refused: 64 GiB more")),
                "{err}"
            );
            assert!(err.contains("limit image_bytes"), "{err}");
        }
    }

    #[test]
    fn oversized_tar_headers_are_refused_before_they_fill_memory() {
        let file = TarBuilder::new().file("after", "x", 0o644).done();
        for (kind, what) in [
            (tar::EntryType::GNULongName, "long name"),
            (tar::EntryType::XHeader, "pax"),
            (tar::EntryType::GNULongLink, "long link"),
        ] {
            let t = tempfile::tempdir().unwrap();
            let len = 64u64 << 20;
            let pad = (512 - len % 512) % 512;
            let mut tail = vec![0; pad as usize];
            tail.extend_from_slice(&file);
            let reader = huge(declaring("././@LongLink", kind, len), b'a', len, tail);
            let err = apply(reader, t.path(), &oci()).unwrap_err().to_string();
            assert!(
                err.contains("test-layer: refused: the tar headers run past what jig allows (1 MiB for one entry"),
                "{what}: {err}"
            );
        }
        // Real long names and pax records are fine.
        let long = format!("{}file", "dir/".repeat(60));
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, &long, &b"x"[..]).unwrap();
        b.append_pax_extensions([("SCHILY.xattr.user.big", &[b'v'; 60 << 10][..])])
            .unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "xattr", &b"y"[..]).unwrap();
        let t = tempfile::tempdir().unwrap();
        apply(&b.into_inner().unwrap()[..], t.path(), &oci()).unwrap();
        assert!(t.path().join(&long).exists() && t.path().join("xattr").exists());
    }

    #[test]
    fn header_bytes_are_bounded_over_the_whole_archive() {
        // Each entry within its own allowance, together past the archive's.
        let record = {
            let mut r = Vec::new();
            let body = format!(" comment={}\n", "c".repeat(1000 << 10));
            let line = format!("{}{body}", body.len() + 7);
            assert_eq!(
                line.split(' ').next().unwrap().parse::<usize>().unwrap(),
                line.len()
            );
            r.extend_from_slice(line.as_bytes());
            r
        };
        let mut b = TarBuilder::new();
        for i in 0..80 {
            let mut h = TarBuilder::header(b"pax", tar::EntryType::XHeader, 0, 0o644);
            h.set_size(record.len() as u64);
            b.push(h, &record);
            b = b.file(&format!("f{i}"), "", 0o644);
        }
        let t = tempfile::tempdir().unwrap();
        let err = apply_bytes(&b.done(), t.path(), &oci())
            .unwrap_err()
            .to_string();
        // 64 MiB of headers at about 1 MiB each, plus 4 KiB per entry: 65 entries.
        assert!(err.contains("the tar headers after f64 run past"), "{err}");
        assert!(t.path().join("f64").exists() && !t.path().join("f65").exists());
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 bytes");
        assert_eq!(human(1023), "1023 bytes");
        assert_eq!(human(1024), "1 KiB");
        assert_eq!(human(8 << 30), "8 GiB");
        assert_eq!(human(3 << 40), "3 TiB");
        assert_eq!(human(1536 << 10), "1.5 MiB (1572864 bytes)");
        assert_eq!(human(5 << 50), "5120 TiB");
    }

    #[test]
    fn decompress_detects_gzip_zstd_and_xz() {
        let tar = TarBuilder::new().file("f", "data", 0o644).done();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&tar[..], 1).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        io::Write::write_all(&mut xz, &tar).unwrap();
        let xz = xz.finish().unwrap();
        for bytes in [tar.clone(), gz, zst, xz] {
            let t = tempfile::tempdir().unwrap();
            let r = decompress(Box::new(io::Cursor::new(bytes))).unwrap();
            apply(r, t.path(), &plain()).unwrap();
            assert_eq!(fs::read_to_string(t.path().join("f")).unwrap(), "data");
        }
    }
}
