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
//! allowance of header bytes per entry ([`meter::MAX_ENTRY_HEADERS`]): it reads pax
//! records and GNU long names into memory, and a hostile archive could otherwise
//! declare gigabytes of them.
//!
//! [`apply_mapped`] lets a caller rename entries before they are written (Debian's
//! merged-/usr moves `bin/...` to `usr/bin/...`); mapped paths go through the same
//! checks as archive paths.
//!
//! The parts: [`apply`](mod@apply) walks an archive, [`entry`] writes each entry below
//! the target, [`whiteout`] applies whiteouts and removes what is in the way,
//! [`budget`] counts against the limits, [`meter`] holds the tar parser to its header
//! allowance, [`decompress`](mod@decompress) picks the decompressor and [`error`] says
//! what failed.

pub mod apply;
pub mod budget;
pub mod decompress;
pub mod entry;
pub mod error;
pub mod meter;
mod whiteout;

pub use crate::base::config::Limits;
pub use apply::{apply, apply_file, apply_mapped};
pub use budget::{Budget, Used, human};
pub use decompress::decompress;
pub use entry::Layer;

#[cfg(test)]
mod testing;
