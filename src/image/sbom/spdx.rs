//! SPDX 2.3, JSON serialization.
//!
//! The document DESCRIBES one package, the image (purpose CONTAINER, named after the
//! tool), which CONTAINS every Debian package (its `.deb`'s sha256 as a checksum, its
//! purl as an external reference, its source package as `sourceInfo`, the copyright
//! file's license as `licenseDeclared`; nothing here was concluded by analysis, so
//! `licenseConcluded` is NOASSERTION). An image made from a registry image is
//! DESCENDANT_OF that base (purpose CONTAINER, its manifest digest as a checksum),
//! which CONTAINS its layers (purpose ARCHIVE, each blob's digest as a checksum). Each
//! `LicenseRef-` used is defined in `hasExtractedLicensingInfos`.

use std::collections::{BTreeMap, HashSet};

use anyhow::Result;
use serde::Serialize;

use super::model::{Inventory, Subject, idstring, split_digest};
use super::purl;

const NOASSERTION: &str = "NOASSERTION";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    spdx_version: &'static str,
    data_license: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo,
    packages: Vec<Package>,
    relationships: Vec<Relationship>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<Extracted>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreationInfo {
    created: String,
    creators: Vec<String>,
    license_list_version: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Package {
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum>,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_package_purpose: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

impl Package {
    fn new(spdx_id: String, name: String, purpose: Option<&'static str>) -> Package {
        Package {
            spdx_id,
            name,
            version_info: None,
            download_location: NOASSERTION,
            files_analyzed: false,
            checksums: Vec::new(),
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.to_owned(),
            copyright_text: NOASSERTION,
            source_info: None,
            external_refs: Vec::new(),
            primary_package_purpose: purpose,
            comment: None,
        }
    }

    fn checksum(mut self, digest: &str) -> Package {
        if let Some((algorithm, hex)) = split_digest(digest) {
            self.checksums.push(Checksum {
                algorithm: algorithm.spdx(),
                checksum_value: hex,
            });
        }
        self
    }

    fn purl(mut self, locator: String) -> Package {
        self.external_refs.push(ExternalRef {
            reference_category: "PACKAGE-MANAGER",
            reference_type: "purl",
            reference_locator: locator,
        });
        self
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum {
    algorithm: &'static str,
    checksum_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

fn rel(from: &str, kind: &'static str, to: &str) -> Relationship {
    Relationship {
        spdx_element_id: from.to_owned(),
        relationship_type: kind,
        related_spdx_element: to.to_owned(),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Extracted {
    license_id: String,
    name: String,
    extracted_text: String,
}

const DOCUMENT: &str = "SPDXRef-DOCUMENT";
const IMAGE: &str = "SPDXRef-Image";
const BASE: &str = "SPDXRef-Base";

/// The SPDX document, pretty-printed.
pub(super) fn document(
    subject: &Subject,
    image: &str,
    inventory: &Inventory,
    uuid: &str,
    created: &str,
) -> Result<String> {
    let mut packages = Vec::new();
    let mut relationships = vec![rel(DOCUMENT, "DESCRIBES", IMAGE)];

    let mut top = Package::new(IMAGE.to_owned(), subject.name.clone(), Some("CONTAINER"));
    top.version_info = Some(subject.version.clone());
    top.source_info = Some(match &subject.source_digest {
        Some(d) => format!("jig image made from {} ({d})", subject.source),
        None => format!("jig image made from {}", subject.source),
    });
    top.comment = Some(format!(
        "jig image sha256:{image}: the sha256 tree hash of its root filesystem"
    ));
    packages.push(top);

    if let Some(oci) = &subject.oci {
        let reference = purl::split_reference(&oci.reference);
        let mut base = Package::new(
            BASE.to_owned(),
            reference.repository.to_owned(),
            Some("CONTAINER"),
        )
        .checksum(&oci.manifest_digest);
        base.version_info = Some(reference.tag.unwrap_or(&oci.manifest_digest).to_owned());
        base.comment = Some(format!(
            "OCI image {}, manifest {}",
            oci.reference, oci.manifest_digest
        ));
        if split_digest(&oci.manifest_digest).is_some() {
            base = base.purl(purl::oci(&reference, &oci.manifest_digest));
        }
        packages.push(base);
        relationships.push(rel(IMAGE, "DESCENDANT_OF", BASE));
        for (i, layer) in oci.layers.iter().enumerate() {
            let id = format!("SPDXRef-Layer-{i}");
            let name = format!("{} layer {i}", reference.repository);
            let mut p = Package::new(id.clone(), name, Some("ARCHIVE")).checksum(layer);
            p.comment = Some(format!("layer {i}: blob {layer}"));
            packages.push(p);
            relationships.push(rel(BASE, "CONTAINS", &id));
        }
    }

    let distro = &inventory.distro;
    let mut used: HashSet<String> = HashSet::new();
    let mut refs: BTreeMap<&str, &str> = BTreeMap::new();
    for p in &inventory.packages {
        let arch = p.arch.as_deref();
        let base = format!(
            "SPDXRef-deb-{}-{}",
            idstring(&p.name),
            arch.unwrap_or("none")
        );
        let mut id = base.clone();
        let mut n = 2;
        while !used.insert(id.clone()) {
            id = format!("{base}-{n}");
            n += 1;
        }
        let locator = purl::deb(
            &distro.namespace,
            &p.name,
            &p.version,
            arch,
            distro.codename.as_deref(),
        );
        // A .deb may hold a library, programs or data: no single purpose fits.
        let mut pkg = Package::new(id.clone(), p.name.clone(), None).purl(locator);
        if let Some(sha) = &p.sha256 {
            pkg = pkg.checksum(&format!("sha256:{sha}"));
        }
        pkg.version_info = Some(p.version.clone());
        pkg.source_info = Some(format!(
            "built from Debian source package {} {}",
            p.source, p.source_version
        ));
        if let Some(l) = &p.license {
            pkg.license_declared = l.expression.clone();
            for (id, name) in &l.refs {
                refs.entry(id).or_insert(name);
            }
        }
        packages.push(pkg);
        relationships.push(rel(IMAGE, "CONTAINS", &id));
    }

    let extracted = refs
        .into_iter()
        .map(|(id, name)| Extracted {
            license_id: id.to_owned(),
            name: name.to_owned(),
            extracted_text: format!(
                "The license Debian copyright files call \"{name}\", which has no SPDX \
                 identifier; its text is in /usr/share/doc/PACKAGE/copyright of each \
                 package declaring it."
            ),
        })
        .collect();

    let list = spdx::license_version();
    let doc = Document {
        spdx_id: DOCUMENT,
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        name: format!(
            "{} {} (jig image sha256:{image})",
            subject.name, subject.version
        ),
        document_namespace: format!(
            "https://spdx.org/spdxdocs/jig-{}-{}-{uuid}",
            idstring(&subject.name),
            idstring(&subject.version)
        ),
        creation_info: CreationInfo {
            created: created.to_owned(),
            creators: vec![format!("Tool: jig-{}", env!("CARGO_PKG_VERSION"))],
            // The SPDX list version is MAJOR.MINOR.
            license_list_version: list.split('.').take(2).collect::<Vec<_>>().join("."),
        },
        packages,
        relationships,
        has_extracted_licensing_infos: extracted,
    };
    Ok(serde_json::to_string_pretty(&doc)?)
}
