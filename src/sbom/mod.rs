//! Software bills of materials for jig images: SPDX 2.3 JSON and CycloneDX 1.5 JSON.
//!
//! An SBOM describes one installed tool's image ([`Subject`]: the tool's name and
//! version, the image id, where the image came from, the `.deb` pins and, for an image
//! made from a registry, the OCI base) together with what its root filesystem says:
//!
//! - every Debian package dpkg lists as installed in `/var/lib/dpkg/status`, with its
//!   architecture and source package;
//! - its declared license, read from `/usr/share/doc/PKG/copyright` when that file is
//!   in the machine-readable (DEP-5) format and mapped to an SPDX expression
//!   (`license.rs`); anything else is NOASSERTION;
//! - the `.deb`'s sha256 from the pins, joined by package name and version.
//!
//! The root filesystem is untrusted: it was written by package maintainer scripts or
//! registry layers. It is only read, every path is resolved inside it (a symlink, even
//! an absolute one, never leads out of it: `rootfs.rs`), only regular files are read
//! and each read is capped. Unparsable content gives fewer facts, not an error; only
//! a dpkg status file that is there but cannot be read (not a regular file, over
//! 64 MiB, unreadable) fails, rather than pass for an image without packages.
//!
//! Packages are sorted, so that what is made of them is deterministic.

// `jig sbom` wires this module into the CLI; until then nothing else calls it.
#![allow(dead_code)]

mod deb822;
mod dpkg;
mod license;
mod purl;
mod rootfs;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result, bail};

pub use dpkg::Distro;
pub use license::Declared;

/// Largest copyright file read; a larger one gives NOASSERTION.
const COPYRIGHT_CAP: u64 = 4 << 20;
/// Largest dpkg status file read; a larger one is an error.
const STATUS_CAP: u64 = 64 << 20;

/// What an SBOM is about: the image an installed tool runs in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// The tool's name (the recipe's), e.g. `ripgrep`.
    pub name: String,
    /// The tool's version, e.g. `14.1.0`.
    pub version: String,
    /// The image id: the sha256 tree hash of its root filesystem (hex, `sha256:` optional).
    pub image_id: String,
    /// Where the image came from, as `image.toml` records it, e.g.
    /// `debian:bookworm (http://deb.debian.org/debian)` or `oci:docker.io/library/alpine:3.20`.
    pub source: String,
    /// Digest of what the image was made from, if any (`sha256:HEX`).
    pub source_digest: Option<String>,
    /// The `.deb`s the image was bootstrapped from.
    pub packages: Vec<Pin>,
    /// The registry image it was made from, if any.
    pub oci: Option<Oci>,
}

/// One `.deb` an image was bootstrapped from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pin {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// sha256 of the `.deb`, hex.
    pub sha256: String,
}

/// The registry image an image was made from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Oci {
    /// The reference as given, e.g. `docker.io/library/debian:bookworm-slim`.
    pub reference: String,
    /// The manifest's digest, `sha256:HEX`.
    pub manifest_digest: String,
    /// The layers' digests, in manifest order.
    pub layers: Vec<String>,
}

/// An SBOM document format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SPDX 2.3, JSON serialization.
    SpdxJson,
    /// CycloneDX 1.5, JSON serialization.
    CycloneDxJson,
}

impl Format {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [Format; 2] = [Format::SpdxJson, Format::CycloneDxJson];

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::SpdxJson => "spdx-json",
            Format::CycloneDxJson => "cyclonedx-json",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Format> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .with_context(|| format!("unknown SBOM format '{s}' (spdx-json, cyclonedx-json)"))
    }
}

/// A Debian package installed in the image, as the SBOM lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Package {
    /// Package name.
    pub name: String,
    /// Version, epoch included.
    pub version: String,
    /// Debian architecture (`amd64`, `all`), when dpkg records a valid one.
    pub arch: Option<String>,
    /// Source package name (the package's own when dpkg records none).
    pub source: String,
    /// Source package version (the package's own unless `Source:` names another).
    pub source_version: String,
    /// sha256 of the `.deb` (hex), when the subject pins exactly this name and version.
    pub sha256: Option<String>,
    /// The license declared by a machine-readable copyright file; `None` is NOASSERTION.
    pub license: Option<Declared>,
}

/// What the root filesystem says about an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// The installed Debian packages, sorted by name, architecture, version.
    pub packages: Vec<Package>,
    /// The distribution, for package URLs.
    pub distro: Distro,
}

/// Reads the installed packages and their licenses from `rootfs` (an image's root
/// filesystem) and joins the subject's `.deb` pins to them.
pub fn inventory(rootfs: &Path, subject: &Subject) -> Result<Inventory> {
    let root = rootfs::Root::open(rootfs)?;
    let status = match root.read(dpkg::STATUS, STATUS_CAP) {
        rootfs::Read::Data(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        rootfs::Read::Missing => String::new(),
        other => bail!("cannot read {}/{}: {other}", rootfs.display(), dpkg::STATUS),
    };
    let installed = dpkg::parse_status(&status);
    let mut twins: HashMap<(&str, &str), usize> = HashMap::new();
    for i in &installed {
        *twins.entry((&i.name, &i.version)).or_default() += 1;
    }
    let mut licenses: HashMap<&str, Option<Declared>> = HashMap::new();
    let mut packages = Vec::with_capacity(installed.len());
    for i in &installed {
        let license = licenses
            .entry(&i.name)
            .or_insert_with(|| {
                match root.read(
                    &format!("usr/share/doc/{}/copyright", i.name),
                    COPYRIGHT_CAP,
                ) {
                    rootfs::Read::Data(bytes) => {
                        license::from_copyright(&String::from_utf8_lossy(&bytes))
                    }
                    _ => None,
                }
            })
            .clone();
        // A pin names no architecture: two installed architectures of one version
        // cannot tell which .deb was whose.
        let sha256 = if twins[&(i.name.as_str(), i.version.as_str())] == 1 {
            pinned_sha256(subject, &i.name, &i.version)
        } else {
            None
        };
        packages.push(Package {
            name: i.name.clone(),
            version: i.version.clone(),
            arch: i.arch.clone(),
            source: i.source.clone(),
            source_version: i.source_version.clone(),
            sha256,
            license,
        });
    }
    Ok(Inventory {
        packages,
        distro: dpkg::distro(&root, &subject.source),
    })
}

/// The sha256 the subject pins for `name` at `version`, when it pins exactly one
/// well-formed digest for them.
fn pinned_sha256(subject: &Subject, name: &str, version: &str) -> Option<String> {
    let mut found = subject
        .packages
        .iter()
        .filter(|p| p.name == name && p.version == version)
        .map(|p| p.sha256.to_ascii_lowercase());
    let first = found.next()?;
    if found.any(|other| other != first) || !is_hex(&first, 64) {
        return None;
    }
    Some(first)
}

/// The image id's bare lowercase hex.
fn image_hex(id: &str) -> Result<&str> {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    if !is_hex(hex, 64) || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        bail!("'{id}' is not an image id (expected 64 lowercase hex digits)");
    }
    Ok(hex)
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sbom_inputs_are_checked() {
        assert_eq!("spdx-json".parse::<Format>().unwrap(), Format::SpdxJson);
        assert_eq!(
            "cyclonedx-json".parse::<Format>().unwrap(),
            Format::CycloneDxJson
        );
        assert!("spdx".parse::<Format>().is_err());
        let hex = "0a".repeat(32);
        assert_eq!(image_hex(&format!("sha256:{hex}")).unwrap(), hex);
        assert!(image_hex(&hex.to_ascii_uppercase()).is_err());
        assert!(image_hex("sha256:abc").is_err());
    }

    #[test]
    fn sbom_conflicting_pins_give_no_checksum() {
        let pin = |sha256: &str| Pin {
            name: "a".into(),
            version: "1".into(),
            sha256: sha256.into(),
        };
        let mut s = Subject {
            packages: vec![pin(&"1".repeat(64)), pin(&"1".repeat(64))],
            ..Subject::default()
        };
        assert_eq!(pinned_sha256(&s, "a", "1"), Some("1".repeat(64)));
        assert_eq!(pinned_sha256(&s, "a", "2"), None);
        s.packages.push(pin(&"2".repeat(64)));
        assert_eq!(pinned_sha256(&s, "a", "1"), None);
    }
}
