//! Building an image from a Dockerfile, without a daemon: `[image] from =
//! "dockerfile:PATH"`, `jig install PATH/Dockerfile`, `jig build PATH`.
//!
//! The Dockerfile is read by [`crate::image::source::dockerfile`] (parse, resolve,
//! canonical steps); this module runs it: [`build`](mod@build) plans the stages and
//! runs them from the per-instruction cache, [`tree`] reads sources from the build
//! context (beneath it, filtered by [`ignore`], the `.dockerignore` rules) or from an
//! image, [`copy`] turns a `COPY`/`ADD` into a payload and writes it into the image,
//! and [`inroot`] changes an image's tree with every path resolved inside it.

pub mod build;
pub mod copy;
pub mod ignore;
pub mod inroot;
pub mod tree;

pub use build::{Build, build};
