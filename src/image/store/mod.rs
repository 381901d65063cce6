//! The content-addressed image store.
//!
//! Layout below the store root (`$JIG_HOME/store` or `~/.local/share/jig/store`):
//!
//! ```text
//! images/<id>/rootfs/      an image's root filesystem; <id> = sha256 tree hash (hex)
//! images/<id>/image.toml   where it came from and its runtime config (env, cmd)
//! files/sha256/<aa>/<name> regular files shared by the images (hard links)
//! blobs/sha256/<hex>       downloaded registry blobs, by content hash
//! builds/<key>             build cache: step or bootstrap key -> image id
//! leases/<pid>-<n>         images live processes just made or found (flock-held)
//! locks/<key>              one lock per build in flight (single flight)
//! tmp/                     work in progress, each entry flock-held by its writer
//! trash/                   images being removed
//! run/                     empty directory the runtime mounts its scratch tmpfs on
//! lock                     flock(2) file: shared to commit or lease, exclusive for gc
//! ```
//!
//! Every image is built in `tmp/` and appears in `images/` by a single `rename(2)`, so
//! a crash at any point leaves either a complete image or debris in `tmp/`, which the
//! next import removes (its owner's lock is gone). Images are never modified once
//! committed: the runtime mounts them as the read-only lower layer of an overlay.
//!
//! The parts: [`meta`] (ids, metadata), [`images`] (commit, find, list, remove),
//! [`tree`] (the tree hash), [`files`] (sharing files across images), [`temp`] (owned
//! temp files and directories, and sweeping what dead processes left), [`lock`]
//! (flock), [`lease`] and [`inuse`] (what `gc` must keep), [`flight`] (one build per
//! key), [`gc`], [`verify`] (checking images against their ids), [`space`] (what a
//! full disk means), [`remove`].

pub mod files;
pub mod flight;
pub mod gc;
pub mod images;
pub mod inuse;
pub mod lease;
pub mod lock;
pub mod meta;
pub mod remove;
pub mod space;
pub mod temp;
pub mod tree;
pub mod verify;

pub use images::{Found, Store};
pub use lock::{StoreLock, lock_file};
pub use meta::{DEFAULT_PATH, Image, ImageConfig, ImageId, ImageMeta, PackagePin};
pub use remove::remove_tree;
