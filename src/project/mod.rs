//! A project's own files: `jig.toml` (version pins, widening, recipes: [`pins`]),
//! `jig.lock` (what the pins resolved to: [`lock`]) and the user's trust in them
//! ([`trust`]).

pub mod lock;
pub mod pins;
pub mod trust;

pub use pins::*;
