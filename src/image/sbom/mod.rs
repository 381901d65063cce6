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
//! The output is deterministic: packages are sorted, the creation time is an argument
//! and the SPDX document namespace and CycloneDX serial number are derived from the
//! image id, the tool, the format and that time.

mod cyclonedx;
mod deb822;
mod dpkg;
mod license;
pub mod model;
mod purl;
mod rootfs;
mod spdx;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Result, bail};

pub use license::Declared;
pub use model::*;

/// Largest copyright file read; a larger one gives NOASSERTION.
const COPYRIGHT_CAP: u64 = 4 << 20;
/// Largest dpkg status file read; a larger one is an error.
const STATUS_CAP: u64 = 64 << 20;

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

/// Writes the SBOM of `subject` in `format`, from what [`inventory`] read.
/// `created` is the creation time in seconds since the Unix epoch.
pub fn render(
    subject: &Subject,
    inventory: &Inventory,
    format: Format,
    created: u64,
) -> Result<String> {
    let image = image_hex(&subject.image_id)?;
    let uuid = document_uuid(subject, image, format, created);
    let time = rfc3339(created);
    let mut text = match format {
        Format::SpdxJson => spdx::document(subject, image, inventory, &uuid, &time),
        Format::CycloneDxJson => cyclonedx::document(subject, image, inventory, &uuid, &time),
    }?;
    text.push('\n');
    Ok(text)
}

/// Reads `rootfs` and writes the SBOM of `subject` in `format` ([`inventory`] then
/// [`render`]).
pub fn generate(subject: &Subject, rootfs: &Path, format: Format, created: u64) -> Result<String> {
    let inventory = inventory(rootfs, subject)?;
    render(subject, &inventory, format, created)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn sbom_times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_107_542_399), "2100-02-28T23:59:59Z");
    }

    #[test]
    fn sbom_document_uuids_are_stable_and_distinct() {
        let s = Subject {
            name: "rg".into(),
            version: "14".into(),
            ..Subject::default()
        };
        let a = document_uuid(&s, "ab", Format::SpdxJson, 1);
        assert_eq!(a, document_uuid(&s, "ab", Format::SpdxJson, 1));
        assert_ne!(a, document_uuid(&s, "ab", Format::CycloneDxJson, 1));
        assert_ne!(a, document_uuid(&s, "ac", Format::SpdxJson, 1));
        assert_ne!(a, document_uuid(&s, "ab", Format::SpdxJson, 2));
        let groups: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "8");
        assert!("89ab".contains(&a[19..20]));
    }

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
        assert_eq!(
            split_digest(&format!("sha256:{}", "A".repeat(64))),
            Some((Algorithm::Sha256, "a".repeat(64)))
        );
        assert_eq!(split_digest("md5:00"), None);
        assert_eq!(split_digest("sha256:xyz"), None);
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
