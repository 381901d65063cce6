//! Fixtures for the unpacker's tests: tar archives built in memory (hostile ones
//! too), test layers with budgets of their own, and huge archives made on the fly.

use std::io::{self, Read};
use std::path::Path;

use super::apply::apply;
use super::budget::Budget;
use super::entry::{Layer, Unpacked};
use super::error::Error;
use crate::base::config::Limits;

/// Builds a tar in memory; entries are written with raw headers so hostile names
/// (absolute, `..`) can be expressed.
pub struct TarBuilder(Vec<u8>);

impl TarBuilder {
    /// An empty archive.
    pub fn new() -> Self {
        TarBuilder(Vec::new())
    }
    /// A GNU header with the raw `name` (nothing is checked or cleaned).
    pub fn header(name: &[u8], kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
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
    /// Appends a header (checksummed here) and its data, padded to a block.
    pub fn push(&mut self, mut h: tar::Header, data: &[u8]) {
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        let pad = (512 - data.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0, pad));
    }
    /// Appends a regular file.
    pub fn file(mut self, name: &str, data: &str, mode: u32) -> Self {
        let h = Self::header(
            name.as_bytes(),
            tar::EntryType::Regular,
            data.len() as u64,
            mode,
        );
        self.push(h, data.as_bytes());
        self
    }
    /// Appends a directory.
    pub fn dir(mut self, name: &str, mode: u32) -> Self {
        let h = Self::header(name.as_bytes(), tar::EntryType::Directory, 0, mode);
        self.push(h, b"");
        self
    }
    /// Appends a symlink or hard link (`kind`) to `target`.
    pub fn link(mut self, name: &str, target: &str, kind: tar::EntryType) -> Self {
        let mut h = Self::header(name.as_bytes(), kind, 0, 0o777);
        h.set_link_name_literal(target.as_bytes()).unwrap();
        self.push(h, b"");
        self
    }
    /// Appends a character device.
    pub fn device(mut self, name: &str) -> Self {
        let h = Self::header(name.as_bytes(), tar::EntryType::Char, 0, 0o666);
        self.push(h, b"");
        self
    }
    /// Ends the archive: the bytes of the tar.
    pub fn done(mut self) -> Vec<u8> {
        self.0.extend(std::iter::repeat_n(0, 1024));
        self.0
    }
}

/// A budget of its own for one test archive (leaked: tests are short-lived).
pub fn budget(limits: Limits) -> &'static Budget {
    Box::leak(Box::new(Budget::new(limits).unwrap()))
}

/// A plain (non-OCI) layer named `test-layer`, with the default limits.
pub fn plain() -> Layer<'static> {
    Layer {
        name: "test-layer",
        whiteouts: false,
        budget: budget(Limits::default()),
    }
}

/// [`plain`] with whiteouts honoured.
pub fn oci() -> Layer<'static> {
    Layer {
        whiteouts: true,
        ..plain()
    }
}

/// Applies an in-memory archive.
pub fn apply_bytes(bytes: &[u8], target: &Path, layer: &Layer) -> Result<Unpacked, Error> {
    apply(bytes, target, layer)
}

/// Ten-byte files `f0`, `f1`, ...
pub fn files(n: usize) -> Vec<u8> {
    let mut b = TarBuilder::new();
    for i in 0..n {
        b = b.file(&format!("f{i}"), "0123456789", 0o644);
    }
    b.done()
}

/// An OCI layer held to `limits`.
pub fn limited(limits: Limits) -> Layer<'static> {
    Layer {
        budget: budget(limits),
        ..oci()
    }
}

/// A reader giving `head`, then `len` bytes of `fill`, then `tail`: archives far
/// larger than memory or disk, made on the fly.
pub fn huge(head: Vec<u8>, fill: u8, len: u64, tail: Vec<u8>) -> impl Read {
    io::Cursor::new(head)
        .chain(io::repeat(fill).take(len))
        .chain(io::Cursor::new(tail))
}

/// The raw header for an entry of `kind` that declares `size` bytes of data.
pub fn declaring(name: &str, kind: tar::EntryType, size: u64) -> Vec<u8> {
    let mut h = TarBuilder::header(name.as_bytes(), kind, 0, 0o644);
    h.set_size(size);
    h.set_cksum();
    h.as_bytes().to_vec()
}
