//! Image sources: turning a recipe's `[image] from` into an image in the store.
//!
//! Each source kind lives in its own module and ends the same way: it fills a
//! [`TempImage`](crate::store::TempImage) and commits it, so the store stays the only
//! place that decides image ids and makes images appear atomically.

pub mod oci;
// Not called from the CLI yet: the image builder that uses it lands separately.
#[allow(dead_code, unused_imports)]
pub mod debian;
pub mod rootfs;

use std::path::Path;

use anyhow::{Context, Result};

use crate::recipe::From;
use crate::store::{Image, Store};

/// Produces the image for `from`, importing or fetching it as needed. `base` is the
/// directory relative paths are resolved against (the recipe file's directory).
pub fn realize(from: &From, base: Option<&Path>, store: &Store) -> Result<Image> {
    match from {
        From::Rootfs(path) => {
            let path = match base {
                Some(b) if path.is_relative() => b.join(path),
                _ => path.clone(),
            };
            rootfs::import(&path, store)
                .with_context(|| format!("importing root filesystem {}", path.display()))
        }
        From::Busybox(binary) => rootfs::busybox(binary, store)
            .with_context(|| format!("making a busybox image from {}", binary.display())),
        From::Oci(reference) => {
            oci::pull(reference, store).with_context(|| format!("pulling {reference}"))
        }
    }
}
