//! `jig sbom NAME[@VERSION] [--format spdx-json|cyclonedx-json]`: the software bill of
//! materials of an installed tool's image ([`crate::image::sbom`]), on stdout.
//!
//! The subject is the installed index entry (the tool, its version, the image id,
//! what the recipe pulled) and the image's `image.toml` (its source, the `.deb` pins of
//! a Debian bootstrap, the layer digests of a registry image). The creation time is
//! `SOURCE_DATE_EPOCH` when set (a reproducible document), else now.

use std::io::Write;

use anyhow::{Context, Result};
use clap::ValueEnum;

use super::spec::installed;
use crate::base::paths::Dirs;
use crate::image::sbom::{self, Format, Oci, Pin, Subject};
use crate::image::store::Store;
use crate::install::index::Index;
use crate::recipe::Source;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum SbomFormat {
    /// SPDX 2.3, JSON.
    #[value(name = "spdx-json")]
    Spdx,
    /// CycloneDX 1.5, JSON.
    #[value(name = "cyclonedx-json")]
    CycloneDx,
}

/// `jig sbom NAME[@VERSION]`: the document on stdout.
pub(super) fn sbom(dirs: &Dirs, spec: &str, format: SbomFormat) -> Result<i32> {
    let index = Index::read(&dirs.index())?;
    let (name, version, entry) = installed(&index, spec)?;
    let store = Store::new(dirs.store());
    let Some(image) = store.image(&entry.image)? else {
        return Err(crate::base::error::hinted(
            format!(
                "{name} {version}: its image {} is not in the store",
                entry.image
            ),
            format!("`jig install --force {name}@{version}` makes it again"),
        ));
    };
    let meta = image.meta;
    let oci = match &entry.recipe.image.from {
        Source::Oci(reference) => Some(Oci {
            reference: reference.to_string(),
            manifest_digest: meta.source_digest.clone().unwrap_or_default(),
            layers: meta.layers.clone(),
        }),
        _ => None,
    };
    let subject = Subject {
        name,
        version,
        image_id: entry.image.to_string(),
        source: meta.source,
        source_digest: meta.source_digest,
        packages: meta
            .packages
            .into_iter()
            .map(|p| Pin {
                name: p.name,
                version: p.version,
                sha256: p.sha256,
            })
            .collect(),
        oci,
    };
    let format = match format {
        SbomFormat::Spdx => Format::SpdxJson,
        SbomFormat::CycloneDx => Format::CycloneDxJson,
    };
    let rootfs = store.rootfs_of(&entry.image);
    let text = sbom::generate(&subject, &rootfs, format, created()?)
        .with_context(|| format!("describing {}", rootfs.display()))?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    Ok(0)
}

/// The document's creation time: `SOURCE_DATE_EPOCH` if set, else now.
fn created() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v} is not a number of seconds")),
        _ => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .context("the clock is before 1970")?
            .as_secs()),
    }
}
