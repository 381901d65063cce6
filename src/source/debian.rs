//! The Debian archive client: from a suite name to verified .deb files on disk.
//!
//! This part reads the archive's formats and chooses the package set: deb822
//! paragraphs ([`deb822`]), the `Packages` index ([`packages`]), relation fields
//! ([`relation`]), dpkg's version ordering ([`version`]) and the resolver
//! ([`resolve`]). [`extract_data`] and [`control_files`] read the .debs ([`deb`]).

pub mod deb;
pub mod deb822;
pub mod packages;
pub mod relation;
pub mod resolve;
pub mod version;

pub use deb::{control_files, extract_data, merged_usr_skeleton};
