//! The meter on the tar parser: how many header bytes (512-byte headers, pax records,
//! GNU long names) it may read, per entry and over the whole archive. The parser reads
//! those into memory, and a hostile archive could otherwise declare gigabytes of them.

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

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

/// How far the tar parser may read: shared between the [`Meter`] it reads through and
/// the loop that admits entries.
pub(super) struct Allowance {
    /// Bytes read from the archive so far.
    read: Cell<u64>,
    /// Reads past this offset fail.
    cap: Cell<u64>,
    /// A read failed at the cap.
    hit: Cell<bool>,
    /// Archive bytes that were entry data (padded to blocks); the rest is headers.
    data: Cell<u64>,
}

impl Allowance {
    /// The allowance of a new archive: the headers of its first entry.
    pub(super) fn new() -> Rc<Allowance> {
        Rc::new(Allowance {
            read: Cell::new(0),
            cap: Cell::new(MAX_ENTRY_HEADERS),
            hit: Cell::new(false),
            data: Cell::new(0),
        })
    }

    /// Whether a read failed at the cap (rather than for a reason of its own).
    pub(super) fn hit(&self) -> bool {
        self.hit.get()
    }

    /// Moves the cap past an admitted entry whose data starts at archive offset `start`
    /// and takes `stored` bytes there, to the end of the next entry's headers: what is
    /// left of the archive's pool ([`HEADERS_BASE`], plus [`HEADERS_PER_ENTRY`] for each
    /// of the `entries` admitted, less the header bytes read), at most
    /// [`MAX_ENTRY_HEADERS`].
    pub(super) fn next_entry(&self, start: u64, stored: u64, entries: u64) {
        let headers = start.saturating_sub(self.data.get());
        self.data.set(self.data.get().saturating_add(stored));
        let pool = HEADERS_BASE
            .saturating_add(HEADERS_PER_ENTRY.saturating_mul(entries))
            .saturating_sub(headers);
        self.cap.set(
            start
                .saturating_add(stored)
                .saturating_add(pool.min(MAX_ENTRY_HEADERS)),
        );
    }
}

/// The archive stream as the tar parser sees it, cut off at the allowance.
pub(super) struct Meter<R> {
    inner: R,
    allowance: Rc<Allowance>,
}

impl<R> Meter<R> {
    /// `inner`, read no further than `allowance` lets the parser.
    pub(super) fn new(inner: R, allowance: Rc<Allowance>) -> Meter<R> {
        Meter { inner, allowance }
    }
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

#[cfg(test)]
mod tests {
    use super::super::apply::apply;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn the_meter_stops_reads_at_the_cap() {
        let allowance = Allowance::new();
        let mut meter = Meter::new(io::repeat(0).take(3 << 20), allowance.clone());
        let mut read = Vec::new();
        let err = meter.read_to_end(&mut read).unwrap_err();
        assert!(err.to_string().contains("more tar headers"), "{err}");
        assert!(allowance.hit());
        assert_eq!(read.len() as u64, MAX_ENTRY_HEADERS);
        // An entry with 1 MiB of data and headers of 512 bytes: its data, then the next
        // entry's headers.
        allowance.next_entry(512, 1 << 20, 1);
        assert_eq!(allowance.cap.get(), 512 + (1 << 20) + MAX_ENTRY_HEADERS);
        // Headers that used up all of the pool but 100 bytes.
        let start = (1 << 20) + HEADERS_BASE + 2 * HEADERS_PER_ENTRY - 100;
        allowance.next_entry(start, 0, 2);
        assert_eq!(allowance.cap.get(), start + 100);
        allowance.next_entry(start + 200, 0, 2);
        assert_eq!(allowance.cap.get(), start + 200, "none left");
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
}
