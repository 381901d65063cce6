//! Manifests, indexes and image configs: the JSON documents of the distribution spec.
//!
//! A tag or digest names either an index (OCI image index or Docker manifest list:
//! one manifest per platform) or an image manifest (OCI or Docker schema 2: one config
//! blob plus layer blobs). Both vocabularies carry the same fields, so one set of
//! types reads both; the media type decides which kind a document is. From an index
//! jig picks the entry for linux and the host's architecture (and variant), skipping
//! the `unknown/unknown` entries that hold build attestations.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI gzip'ed tar layer.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The `Accept` header of manifest requests: every kind jig reads.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// A content descriptor: what a manifest says about a blob or another manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// Media type of the referenced content.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// Platform (index entries only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An index entry's platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture in Go's naming (`amd64`, `arm64`).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// CPU variant (`v7`, `v8`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The superset of index and manifest fields, as read from the wire.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    #[serde(default)]
    schema_version: Option<u32>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// A parsed manifest document.
#[derive(Debug, Clone)]
// One value per manifest read, never stored in bulk: boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Document {
    /// An index / manifest list.
    Index(Vec<Descriptor>),
    /// An image manifest.
    Image(ImageManifest),
}

/// An image manifest: config + layers, in application order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type.
    pub media_type: String,
    /// The config blob.
    pub config: Descriptor,
    /// Layer blobs, bottom first.
    pub layers: Vec<Descriptor>,
    /// Free-form annotations of the manifest itself (a cache image's key and id).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Parses a manifest body. `content_type` is the response's `Content-Type`; the body's
/// own `mediaType` and its shape decide when the header is missing or generic.
pub fn parse(body: &[u8], content_type: Option<&str>) -> Result<Document> {
    let raw: Raw = serde_json::from_slice(body).context("the manifest is not valid JSON")?;
    let header = content_type
        .map(|c| c.split(';').next().unwrap_or(c).trim())
        .filter(|c| !c.is_empty() && *c != "application/json");
    let media = header
        .map(str::to_owned)
        .or(raw.media_type.clone())
        .unwrap_or_default();
    if raw.schema_version == Some(1) || media.contains("manifest.v1+prettyjws") {
        return Err(crate::base::error::hinted(
            "this is a Docker schema 1 manifest, which jig does not read",
            "push the image again with a current Docker or other tool (schema 2 / OCI)",
        ));
    }
    let is_index =
        media == OCI_INDEX || media == DOCKER_LIST || (media.is_empty() && raw.manifests.is_some());
    if is_index {
        return Ok(Document::Index(raw.manifests.unwrap_or_default()));
    }
    let is_image = media == OCI_MANIFEST || media == DOCKER_MANIFEST || media.is_empty();
    match (is_image, raw.config, raw.layers) {
        (true, Some(config), Some(layers)) => Ok(Document::Image(ImageManifest {
            schema_version: 2,
            media_type: if media.is_empty() {
                OCI_MANIFEST.into()
            } else {
                media
            },
            config,
            layers,
            annotations: raw.annotations,
        })),
        (true, _, _) => bail!("the image manifest has no config or no layers"),
        (false, _, _) => Err(crate::base::error::hinted(
            format!("unsupported manifest media type \"{media}\""),
            "jig reads OCI and Docker schema 2 images",
        )),
    }
}

/// The host platform in OCI terms.
pub fn host_platform() -> Platform {
    let (architecture, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        "powerpc64" => ("ppc64le", None),
        "riscv64" => ("riscv64", None),
        other => (other, None),
    };
    Platform {
        architecture: architecture.into(),
        os: "linux".into(),
        variant: variant.map(str::to_owned),
    }
}

/// True for index entries that are not runnable images (build attestations).
fn is_attestation(d: &Descriptor) -> bool {
    d.platform
        .as_ref()
        .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown")
        || d.annotations
            .get("vnd.docker.reference.type")
            .map(String::as_str)
            == Some("attestation-manifest")
}

/// Picks the index entry for `want`: same os and architecture; among those, the same
/// variant, else one without a variant, else the first. Errors list what is offered.
pub fn select<'a>(entries: &'a [Descriptor], want: &Platform) -> Result<&'a Descriptor> {
    let candidates: Vec<&Descriptor> = entries
        .iter()
        .filter(|d| !is_attestation(d))
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.os == want.os && p.architecture == want.architecture)
        })
        .collect();
    let variant = |d: &&Descriptor| d.platform.as_ref().and_then(|p| p.variant.clone());
    let chosen = candidates
        .iter()
        .find(|d| variant(d).is_some() && variant(d) == want.variant)
        .or_else(|| candidates.iter().find(|d| variant(d).is_none()))
        .or_else(|| candidates.first());
    if let Some(d) = chosen {
        return Ok(d);
    }
    let offered: Vec<String> = entries
        .iter()
        .filter(|d| !is_attestation(d))
        .map(|d| {
            d.platform
                .as_ref()
                .map_or_else(|| "(no platform)".to_owned(), Platform::to_string)
        })
        .collect();
    Err(crate::base::error::hinted(
        format!(
            "the image has no variant for {want}; it offers: {}",
            if offered.is_empty() {
                "nothing".to_owned()
            } else {
                offered.join(", ")
            }
        ),
        format!("pick an image built for {want}"),
    ))
}

/// The parts of an image config jig uses (OCI and Docker share the format).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageConfigFile {
    /// Architecture the image was built for.
    #[serde(default)]
    pub architecture: String,
    /// Operating system.
    #[serde(default)]
    pub os: String,
    /// Runtime defaults.
    #[serde(default)]
    pub config: Option<RunConfig>,
    /// Uncompressed layer digests.
    pub rootfs: RootFs,
    /// Build history (informational).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<History>,
}

/// `config` in an image config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    /// `KEY=VALUE` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// Entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Default command or arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Ignored by jig: tools always run as the host user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// `rootfs` in an image config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "type")]
    pub kind: String,
    /// sha256 of each layer's uncompressed tar, bottom first.
    pub diff_ids: Vec<String>,
}

/// One `history` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// When (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// What made the layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True for history entries that made no layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_layer: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>, digest: &str) -> Descriptor {
        Descriptor {
            media_type: OCI_MANIFEST.into(),
            digest: digest.into(),
            size: 1,
            platform: Some(Platform {
                architecture: arch.into(),
                os: os.into(),
                variant: variant.map(str::to_owned),
            }),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn selects_host_platform_and_skips_attestations() {
        let amd = Platform {
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
        };
        let arm = Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            variant: Some("v8".into()),
        };
        let idx = vec![
            entry("unknown", "unknown", None, "att"),
            entry("linux", "arm64", None, "arm-plain"),
            entry("linux", "arm64", Some("v8"), "arm-v8"),
            entry("linux", "amd64", None, "amd"),
        ];
        assert_eq!(select(&idx, &amd).unwrap().digest, "amd");
        assert_eq!(select(&idx, &arm).unwrap().digest, "arm-v8");
        let err = select(&idx[..3], &amd).unwrap_err().to_string();
        assert!(
            err.contains("linux/arm64/v8") && err.contains("linux/arm64,"),
            "{err}"
        );
        assert!(!err.contains("unknown"), "{err}");
    }

    #[test]
    fn parses_each_kind() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            parse(index, Some(DOCKER_LIST)).unwrap(),
            Document::Index(_)
        ));
        assert!(matches!(parse(index, None).unwrap(), Document::Index(_)));
        let m = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{"mediaType":"x","digest":"sha256:a","size":1},"layers":[]}"#;
        let Document::Image(im) = parse(m, Some("application/json")).unwrap() else {
            panic!()
        };
        assert_eq!(im.media_type, DOCKER_MANIFEST);
        let v1 = br#"{"schemaVersion":1,"name":"x"}"#;
        assert!(
            parse(v1, None)
                .unwrap_err()
                .to_string()
                .contains("schema 1")
        );
    }
}
