//! The bottom layer: small modules that depend on nothing else in jig. Everything
//! above may use them; they use only std and crates.

pub mod alloc;
pub mod child;
pub mod config;
pub mod digest;
pub mod error;
pub mod glob;
pub mod interrupt;
pub mod nest;
pub mod paths;
pub mod suggest;
pub mod version;
