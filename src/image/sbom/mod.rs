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

// `jig sbom` wires this module into the CLI; until then nothing else calls it.
#![allow(dead_code)]

mod cyclonedx;
mod deb822;
mod dpkg;
mod license;
mod purl;
mod rootfs;
mod spdx;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

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

/// A digest algorithm an SBOM can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    fn spdx(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    fn cyclonedx(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512 => "SHA-512",
        }
    }
}

/// Splits an OCI digest (`sha256:HEX`, `sha512:HEX`) into its algorithm and lowercase
/// hex; `None` for any other algorithm or a malformed digest.
fn split_digest(digest: &str) -> Option<(Algorithm, String)> {
    let (algorithm, hex) = digest.split_once(':')?;
    let (algorithm, len) = match algorithm {
        "sha256" => (Algorithm::Sha256, 64),
        "sha512" => (Algorithm::Sha512, 128),
        _ => return None,
    };
    is_hex(hex, len).then(|| (algorithm, hex.to_ascii_lowercase()))
}

/// A UUID (RFC 9562 version 8: custom, here the first 128 bits of a sha256) naming
/// one document: the same subject, format and time give the same UUID.
fn document_uuid(subject: &Subject, image: &str, format: Format, created: u64) -> String {
    let mut h = Sha256::new();
    for part in [
        "jig-sbom-v1",
        image,
        &subject.name,
        &subject.version,
        format.name(),
        &created.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    let mut b: [u8; 16] = h.finalize()[..16].try_into().expect("16 of 32 bytes");
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// `secs` since the Unix epoch as an RFC 3339 UTC time, `YYYY-MM-DDThh:mm:ssZ`.
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil, for days since 1970-01-01.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// `s` reduced to the characters SPDX identifiers allow (`[A-Za-z0-9.-]`), others
/// replaced by `-`.
fn idstring(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
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
