//! Tar archives for the tests, written header by header (GNU format).
//!
//! Names and link targets are written verbatim, so an archive can hold what the `tar`
//! crate's safe API refuses to write: `../x`, `/abs`, whiteouts of `.` or `..`. Names
//! and targets of 100 bytes or more get a GNU long-name (`L`) or long-link (`K`) entry
//! before them. Every entry the builder writes has mtime [`MTIME`] and uid, gid and
//! owner names left empty, so the same calls give the same bytes (and digests) on
//! every run and host. [`Tar::tree`] is the exception: it copies a directory as the
//! `tar` crate does, with the files' own modes, owners and mtimes.
//!
//! The builder writes into any [`Write`]: a `Vec<u8>` ([`Tar::new`]), or, for archives
//! too big to hold in memory, a compressor ([`Tar::to`], with [`Tar::zeros`] entries).
//! An archive is complete once [`Tar::finish`] wrote its end blocks; until then more
//! entries can be added, to a clone too (a base image shared by several archives).
//!
//! The module re-exports the `tar` crate: in a test file that glob-imports `common`,
//! `tar::EntryType` and `tar::Archive` still mean the crate's.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::Write;
use std::path::Path;

pub use ::tar::*;

/// The modification time of every entry the builder writes itself.
pub const MTIME: u64 = 1_700_000_000;

/// The end of an archive: two zero blocks.
pub const END: [u8; 1024] = [0; 1024];

/// An archive being written into `W`.
#[derive(Clone, Default)]
pub struct Tar<W: Write = Vec<u8>> {
    out: W,
}

impl Tar {
    /// An empty archive in memory.
    pub fn new() -> Tar {
        Tar::default()
    }

    /// A minimal busybox root for images: `bin/busybox` (the host's static busybox,
    /// 0755), relative links `bin/{sh,echo,cat,ls,env,id} -> busybox`, `etc/passwd`
    /// with root, and an empty `tmp/`. Open: add entries, then [`Tar::finish`].
    pub fn busybox() -> Tar {
        let bb = std::fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
        let mut t = Tar::new()
            .dir("bin/")
            .file_mode("bin/busybox", 0o755, &bb)
            .dir("etc/")
            .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
            .dir("tmp/");
        for applet in ["sh", "echo", "cat", "ls", "env", "id"] {
            t = t.symlink(&format!("bin/{applet}"), "busybox");
        }
        t
    }

    /// The entries written so far (no end blocks).
    pub fn bytes(&self) -> &[u8] {
        &self.out
    }

    /// The complete archive, gzip-compressed.
    pub fn gzip(self) -> Vec<u8> {
        gzip(&self.finish())
    }

    /// The complete archive, zstd-compressed.
    pub fn zstd(self) -> Vec<u8> {
        zstd(&self.finish())
    }
}

impl<W: Write> Tar<W> {
    /// An archive written into `out` as entries are added.
    pub fn to(out: W) -> Tar<W> {
        Tar { out }
    }

    /// An entry of any kind: `name` and `link` verbatim, `data` as its contents.
    pub fn entry(self, name: &str, kind: EntryType, mode: u32, link: &str, data: &[u8]) -> Self {
        self.header(name, kind, mode, link, data.len() as u64)
            .raw(data)
            .pad(data.len() as u64)
    }

    /// A directory, 0755. Write `name` with a trailing `/`, as tar does.
    pub fn dir(self, name: &str) -> Self {
        self.entry(name, EntryType::Directory, 0o755, "", b"")
    }

    /// A regular file, 0644.
    pub fn file(self, name: &str, data: &[u8]) -> Self {
        self.file_mode(name, 0o644, data)
    }

    /// A regular file with `mode`.
    pub fn file_mode(self, name: &str, mode: u32, data: &[u8]) -> Self {
        self.entry(name, EntryType::Regular, mode, "", data)
    }

    /// A symbolic link `name -> target`, 0777.
    pub fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, EntryType::Symlink, 0o777, target, b"")
    }

    /// A hard link `name` to the earlier entry `target`, 0644.
    pub fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(name, EntryType::Link, 0o644, target, b"")
    }

    /// The OCI whiteout deleting `path` of a lower layer: an empty file `.wh.NAME`
    /// beside it (`etc/gone` gives `etc/.wh.gone`; `etc/..` gives `etc/.wh...`).
    pub fn whiteout(self, path: &str) -> Self {
        let name = match path.rsplit_once('/') {
            Some((dir, base)) => format!("{dir}/.wh.{base}"),
            None => format!(".wh.{path}"),
        };
        self.file(&name, b"")
    }

    /// The OCI opaque marker `DIR/.wh..wh..opq`: `dir` hides what lower layers put in it.
    pub fn opaque(self, dir: &str) -> Self {
        self.file(&format!("{}/.wh..wh..opq", dir.trim_end_matches('/')), b"")
    }

    /// A regular file of `size` zero bytes, 0644, streamed (never held in memory).
    pub fn zeros(self, name: &str, size: u64) -> Self {
        let mut t = self.header(name, EntryType::Regular, 0o644, "", size);
        write_zeros(&mut t.out, size);
        t.pad(size)
    }

    /// The directory `root` and everything below it as entries `./…`, with the files'
    /// own modes, owners and mtimes, symlinks kept as links (the `tar` crate's
    /// `append_dir_all`; entries in directory order).
    pub fn tree(self, root: &Path) -> Self {
        let mut b = ::tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        b.append_dir_all(".", root)
            .unwrap_or_else(|e| panic!("tar {}: {e}", root.display()));
        // Taken before the builder is dropped: its drop writes the end blocks.
        let entries = std::mem::take(b.get_mut());
        self.raw(&entries)
    }

    /// `bytes` as they are: entries made elsewhere, or a deliberately broken archive.
    pub fn raw(mut self, bytes: &[u8]) -> Self {
        self.out.write_all(bytes).expect("write the archive");
        self
    }

    /// Writes the end blocks; returns the writer.
    pub fn finish(self) -> W {
        self.raw(&END).out
    }

    /// The writer, without end blocks (entries may follow from elsewhere).
    pub fn into_inner(self) -> W {
        self.out
    }

    /// A GNU header for `name` (long names and links get their `L`/`K` entries first).
    fn header(mut self, name: &str, kind: EntryType, mode: u32, link: &str, size: u64) -> Self {
        if name.len() >= 100 {
            self = self.long(EntryType::GNULongName, name);
        }
        if link.len() >= 100 {
            self = self.long(EntryType::GNULongLink, link);
        }
        let mut h = Header::new_gnu();
        let gnu = h.as_gnu_mut().unwrap();
        let short = &name.as_bytes()[..name.len().min(99)];
        gnu.name[..short.len()].copy_from_slice(short);
        let short = &link.as_bytes()[..link.len().min(99)];
        gnu.linkname[..short.len()].copy_from_slice(short);
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_mtime(MTIME);
        h.set_cksum();
        self.raw(h.as_bytes())
    }

    /// A GNU long-name or long-link entry: its data is the name, NUL-terminated.
    fn long(self, kind: EntryType, name: &str) -> Self {
        let mut data = name.as_bytes().to_vec();
        data.push(0);
        self.entry("././@LongLink", kind, 0o644, "", &data)
    }

    /// Zeros up to the next 512-byte block after `size` bytes of data.
    fn pad(self, size: u64) -> Self {
        let n = (512 - size % 512) % 512;
        self.raw(&[0; 512][..n as usize])
    }
}

/// Writes `n` zero bytes, 1 MiB at a time (a bomb's contents, junk after an archive).
pub fn write_zeros(w: &mut (impl Write + ?Sized), mut n: u64) {
    let chunk = vec![0u8; 1 << 20];
    while n > 0 {
        let k = n.min(chunk.len() as u64) as usize;
        w.write_all(&chunk[..k]).expect("write zeros");
        n -= k as u64;
    }
}

/// `bytes` gzip-compressed (fast level: the tests' archives are small).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// `bytes` zstd-compressed (level 1).
pub fn zstd(bytes: &[u8]) -> Vec<u8> {
    ::zstd::encode_all(bytes, 1).unwrap()
}

/// Pseudo-random bytes (xorshift), incompressible and reproducible.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}
