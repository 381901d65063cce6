//! What an SBOM is about and what it lists ([`Subject`], [`Inventory`]), and the
//! small pieces of digest, time and identifier formatting both writers share.

use std::fmt;
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use super::dpkg::Distro;
use super::license::Declared;

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

/// The image id's bare lowercase hex.
pub fn image_hex(id: &str) -> Result<&str> {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    if !is_hex(hex, 64) || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        bail!("'{id}' is not an image id (expected 64 lowercase hex digits)");
    }
    Ok(hex)
}

pub fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A digest algorithm an SBOM can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn spdx(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    pub fn cyclonedx(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha512 => "SHA-512",
        }
    }
}

/// Splits an OCI digest (`sha256:HEX`, `sha512:HEX`) into its algorithm and lowercase
/// hex; `None` for any other algorithm or a malformed digest.
pub fn split_digest(digest: &str) -> Option<(Algorithm, String)> {
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
pub fn document_uuid(subject: &Subject, image: &str, format: Format, created: u64) -> String {
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
pub fn rfc3339(secs: u64) -> String {
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
pub fn idstring(s: &str) -> String {
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
