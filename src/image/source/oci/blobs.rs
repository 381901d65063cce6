//! The blob cache: registry blobs stored once by digest, shared by every image.
//!
//! `blobs/sha256/<hex>` under the store root holds verified content only. A blob is
//! written to `tmp/blob-<pid>-<n>` while its sha256 and size are checked, and renamed
//! into place only when both match, so an interrupted or corrupt download never counts
//! as a blob: the next pull simply starts that blob again. Temp files left by a process
//! that died (nobody holds their lock) are removed by the next pull (or `jig gc`).

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::base::digest::hex;
use crate::image::store::Store;
use crate::image::store::temp::TempFile;

/// Handle on the blob cache of a store.
pub struct Blobs {
    dir: PathBuf,
    tmp: PathBuf,
}

/// The hex part of a `sha256:<hex>` digest, refusing anything else (a digest becomes a
/// file name, so it must not carry path characters).
pub fn digest_hex(digest: &str) -> Result<&str> {
    let hex = digest.strip_prefix("sha256:").unwrap_or("");
    if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        bail!("unsupported or malformed digest \"{digest}\" (jig accepts sha256 only)");
    }
    Ok(hex)
}

impl Blobs {
    /// The cache of `store` (created if missing).
    pub fn new(store: &Store) -> Result<Blobs> {
        store.ensure()?;
        Ok(Blobs {
            dir: store.root().join("blobs").join("sha256"),
            tmp: store.root().join("tmp"),
        })
    }

    /// Where blob `digest` is (or would be) stored.
    pub fn path(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.dir.join(digest_hex(digest)?))
    }

    /// True if the blob is present (it was verified before it was stored).
    pub fn has(&self, digest: &str) -> bool {
        self.path(digest).is_ok_and(|p| p.is_file())
    }

    /// A new temp file under the store's `tmp/`, removed on drop unless adopted.
    pub fn temp(&self) -> Result<TempFile> {
        TempFile::create(&self.tmp, "blob-")
            .or_else(|e| Err(e.error).with_context(|| format!("creating {}", e.path.display())))
    }

    /// A writer for blob `digest` of `size` bytes that verifies before storing.
    pub fn writer(&self, digest: &str, size: u64) -> Result<BlobWriter> {
        Ok(BlobWriter {
            temp: self.temp()?,
            hasher: Sha256::new(),
            written: 0,
            digest: digest.to_owned(),
            size,
        })
    }

    /// Moves a finished temp file into place as blob `digest` (already verified by the
    /// caller). An identical blob stored meanwhile wins; ours is dropped.
    pub fn adopt(&self, temp: TempFile, digest: &str) -> Result<PathBuf> {
        let dest = self.path(digest)?;
        temp.file.sync_all().context("flushing a downloaded blob")?;
        let from = temp.path().to_owned();
        // Renamed while still held, so no sweep can take it first.
        temp.persist(&dest)
            .with_context(|| format!("moving {} to {}", from.display(), dest.display()))?;
        Ok(dest)
    }

    /// Removes `tmp/blob-*` files nobody holds (interrupted pulls; see
    /// [`crate::image::store::temp`]).
    pub fn sweep_stale(&self) {
        let _ = crate::image::store::temp::sweep(&self.tmp, |n| n.starts_with("blob-"));
    }
}

/// Writes a blob to a temp file while hashing it; [`BlobWriter::finish`] stores it if
/// digest and size match.
pub struct BlobWriter {
    temp: TempFile,
    hasher: Sha256,
    written: u64,
    digest: String,
    size: u64,
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > self.size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "blob {} is larger than the {} bytes its manifest declares",
                    self.digest, self.size
                ),
            ));
        }
        let n = self.temp.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.temp.file.flush()
    }
}

impl BlobWriter {
    /// Verifies size and sha256 and moves the blob into the cache.
    pub fn finish(self, blobs: &Blobs) -> Result<PathBuf> {
        if self.written != self.size {
            return Err(crate::base::error::hinted(
                format!(
                    "blob {} is {} bytes, but its manifest declares {}",
                    self.digest, self.written, self.size
                ),
                "the registry sent a truncated or wrong blob; try again",
            ));
        }
        let got = format!("sha256:{}", hex(&self.hasher.finalize()));
        if got != self.digest {
            return Err(crate::base::error::hinted(
                format!(
                    "blob {} is corrupt: its content hashes to {got}",
                    self.digest
                ),
                "the registry's copy is damaged or was tampered with; nothing was stored",
            ));
        }
        blobs.adopt(self.temp, &self.digest)
    }
}
