//! Building an image from a Dockerfile, without a daemon: `[image] from =
//! "dockerfile:PATH"`, `jig install PATH/Dockerfile`, `jig build PATH`.
//!
//! The Dockerfile is read by [`crate::image::source::dockerfile`] (parse, resolve,
//! canonical steps); this module runs it: [`plan`] gives every step its chained cache
//! key, [`build`](mod@build) runs the stages from their last cached step, [`tree`] reads sources from the build
//! context (beneath it, filtered by [`ignore`], the `.dockerignore` rules) or from an
//! image, [`copy`] turns a `COPY`/`ADD` into a payload and writes it into the image,
//! and [`inroot`] changes an image's tree with every path resolved inside it.

pub mod build;
pub mod copy;
pub mod ignore;
pub mod inroot;
pub mod plan;
pub mod tree;

pub use build::{Build, build};
