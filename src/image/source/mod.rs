//! Image sources: each fills a temporary image in the store and commits it, so the
//! store stays the only place that decides image ids and makes images appear
//! atomically.

// Parts of the archive client (control archive reader, some index fields) are not
// used by the bootstrap yet.
#[allow(dead_code, unused_imports)]
pub mod debian;
pub mod dockerfile;
pub mod oci;
pub mod progress;
pub mod rootfs;
