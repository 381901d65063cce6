//! Images: the content-addressed store, the checked unpacker, the sources an image
//! comes from (a root filesystem, an OCI registry, Debian packages) and the builds
//! that make one (a Debian bootstrap, `run` steps).
//!
//! Bottom up: [`reference`] (an OCI image reference, a plain value the recipe model
//! uses) → [`store`] and [`unpack`] → [`source`] → [`build`]; [`cache`] keeps built
//! images in a registry by the key of what decides them.

pub mod build;
pub mod cache;
pub mod reference;
pub mod sbom;
pub mod source;
pub mod store;
pub mod unpack;
