//! What names and describes an image: its id (the tree hash), the metadata stored
//! beside its root filesystem (`image.toml`) and the runtime configuration it carries.

use std::fmt;

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The sha256 tree hash of an image's root filesystem, in lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ImageId(String);

impl ImageId {
    /// Accepts `sha256:HEX`, a full hex digest, or (with `store`) a unique prefix.
    pub fn parse(s: &str) -> Result<ImageId> {
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("'{s}' is not an image id (expected sha256:<64 hex digits>)");
        }
        Ok(ImageId(hex.to_ascii_lowercase()))
    }

    /// The bare hex digest.
    pub fn hex(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, as `jig images` shows them.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.0)
    }
}

/// Runtime configuration that travels with an image (from an OCI config or a recipe build).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// `KEY=VALUE` entries; recipe env is applied on top.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Default entrypoint, used when a recipe names no command.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entrypoint: Vec<String>,
    /// Default arguments (or command, without an entrypoint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmd: Vec<String>,
}

/// PATH inside an image that does not declare one (the value Docker and Debian use).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `images/<id>/image.toml` records.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageMeta {
    /// Human-readable origin, e.g. `rootfs:/home/me/rootfs` or `oci:docker.io/library/alpine:3.20`.
    pub source: String,
    /// Digest of what the image was made from (OCI manifest digest, tarball sha256), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<String>,
    /// Total size of the regular files in bytes.
    #[serde(default)]
    pub size: u64,
    /// Runtime configuration.
    #[serde(default)]
    pub config: ImageConfig,
    /// The Debian packages a bootstrapped image was made of, sorted by name: what
    /// `jig.lock` records so another machine can check it builds the same set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackagePin>,
    /// The layer digests of a registry image (`sha256:HEX`, manifest order), for its SBOM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<String>,
    /// The image this one was built on (a Debian recipe's suite base), whose tree is
    /// its first layer in an image cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<ImageId>,
}

/// One package of a bootstrapped image.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackagePin {
    /// Package name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// sha256 of the .deb, hex.
    pub sha256: String,
}

/// An image present in the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// Its id (tree hash).
    pub id: ImageId,
    /// Its recorded metadata.
    pub meta: ImageMeta,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_recorded_and_older_metadata_without_it_loads() {
        let old: ImageMeta = toml::from_str("source = \"debian:bookworm\"\nsize = 1\n").unwrap();
        assert_eq!(old.base, None);
        let base = ImageId::parse(&"ab".repeat(32)).unwrap();
        let meta = ImageMeta {
            source: "debian:bookworm".into(),
            base: Some(base.clone()),
            ..ImageMeta::default()
        };
        let text = toml::to_string(&meta).unwrap();
        assert!(
            text.contains(&format!("base = \"{}\"", base.hex())),
            "{text}"
        );
        assert_eq!(toml::from_str::<ImageMeta>(&text).unwrap(), meta);
    }
}
