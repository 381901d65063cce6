//! Recipes: TOML files that describe a tool image and how to run it.
//!
//! A recipe is data. Nothing in it is ever evaluated or shell-interpreted on the host;
//! values are validated while they are deserialized, so every mistake is reported with
//! the file, line and column it sits at (the `toml` crate attaches the span).
//!
//! Built-in recipes live in the repository's `recipes/` directory and are embedded in
//! the binary; others come from recipe repositories ([`crate::repo`]) or are given by
//! path. [`model`] holds the types, [`values`] the checked values inside them,
//! [`load`] the reading.

pub mod load;
pub mod model;
pub mod values;

pub use load::*;
pub use model::*;
pub use values::*;

#[cfg(test)]
mod tests;
