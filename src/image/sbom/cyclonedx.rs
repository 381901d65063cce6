//! CycloneDX 1.5, JSON serialization.
//!
//! `metadata.component` is the image (type `container`, named after the tool). The
//! components are the registry image it was made from, if any (type `container`, its
//! manifest digest as a hash, its layers as nested `file` components with their blob
//! digests), and every Debian package (type `library`, purl as `bom-ref`, the `.deb`'s
//! sha256 as a hash, the declared license as an SPDX expression, the source package as
//! properties). A package without a machine-readable license has no `licenses`.

use anyhow::Result;
use serde::Serialize;

use super::model::{Inventory, Subject, split_digest};
use super::purl;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom {
    #[serde(rename = "$schema")]
    schema: &'static str,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata,
    components: Vec<Component>,
}

#[derive(Serialize)]
struct Metadata {
    timestamp: String,
    tools: Tools,
    component: Component,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize)]
struct Component {
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hashes: Vec<Hash>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<License>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    components: Vec<Component>,
}

impl Component {
    fn new(kind: &'static str, name: String) -> Component {
        Component {
            bom_ref: None,
            kind,
            name,
            version: None,
            description: None,
            hashes: Vec::new(),
            licenses: Vec::new(),
            purl: None,
            properties: Vec::new(),
            components: Vec::new(),
        }
    }

    fn hash(mut self, digest: &str) -> Component {
        if let Some((algorithm, hex)) = split_digest(digest) {
            self.hashes.push(Hash {
                alg: algorithm.cyclonedx(),
                content: hex,
            });
        }
        self
    }

    fn property(mut self, name: &'static str, value: &str) -> Component {
        self.properties.push(Property {
            name,
            value: value.to_owned(),
        });
        self
    }
}

#[derive(Serialize)]
struct Hash {
    alg: &'static str,
    content: String,
}

#[derive(Serialize)]
struct License {
    expression: String,
}

#[derive(Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

/// The CycloneDX BOM, pretty-printed.
pub(super) fn document(
    subject: &Subject,
    image: &str,
    inventory: &Inventory,
    uuid: &str,
    created: &str,
) -> Result<String> {
    let mut top = Component::new("container", subject.name.clone())
        .property("jig:image:id", &format!("sha256:{image}"))
        .property("jig:image:source", &subject.source);
    if let Some(d) = &subject.source_digest {
        top = top.property("jig:image:source-digest", d);
    }
    top.bom_ref = Some(format!("jig-image:sha256:{image}"));
    top.version = Some(subject.version.clone());
    top.description = Some(format!("jig image of {} {}", subject.name, subject.version));

    let mut components = Vec::new();
    if let Some(oci) = &subject.oci {
        let reference = purl::split_reference(&oci.reference);
        let mut base = Component::new("container", reference.repository.to_owned())
            .hash(&oci.manifest_digest)
            .property("jig:oci:reference", &oci.reference)
            .property("jig:oci:manifest-digest", &oci.manifest_digest);
        base.version = Some(reference.tag.unwrap_or(&oci.manifest_digest).to_owned());
        base.bom_ref = Some(format!("oci-base:{}", oci.manifest_digest));
        if split_digest(&oci.manifest_digest).is_some() {
            base.purl = Some(purl::oci(&reference, &oci.manifest_digest));
        }
        for (i, layer) in oci.layers.iter().enumerate() {
            let mut l = Component::new("file", format!("layer {i}"))
                .hash(layer)
                .property("jig:oci:layer-digest", layer);
            l.bom_ref = Some(format!("oci-layer:{i}:{layer}"));
            base.components.push(l);
        }
        components.push(base);
    }

    let distro = &inventory.distro;
    for p in &inventory.packages {
        let locator = purl::deb(
            &distro.namespace,
            &p.name,
            &p.version,
            p.arch.as_deref(),
            distro.codename.as_deref(),
        );
        let mut c = Component::new("library", p.name.clone())
            .property("jig:deb:source", &p.source)
            .property("jig:deb:source-version", &p.source_version);
        if let Some(sha) = &p.sha256 {
            c = c.hash(&format!("sha256:{sha}"));
        }
        if let Some(l) = &p.license {
            c.licenses.push(License {
                expression: l.expression.clone(),
            });
        }
        c.version = Some(p.version.clone());
        c.bom_ref = Some(locator.clone());
        c.purl = Some(locator);
        components.push(c);
    }

    let mut jig = Component::new("application", "jig".to_owned());
    jig.version = Some(env!("CARGO_PKG_VERSION").to_owned());
    let bom = Bom {
        schema: "http://cyclonedx.org/schema/bom-1.5.schema.json",
        bom_format: "CycloneDX",
        spec_version: "1.5",
        serial_number: format!("urn:uuid:{uuid}"),
        version: 1,
        metadata: Metadata {
            timestamp: created.to_owned(),
            tools: Tools {
                components: vec![jig],
            },
            component: top,
        },
        components,
    };
    Ok(serde_json::to_string_pretty(&bom)?)
}
