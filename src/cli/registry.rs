//! `jig pull` and `jig push`: images from and to OCI registries.

use anyhow::{Context, Result};

use crate::base::paths::Dirs;
use crate::image::source::oci::{self, Reference};
use crate::image::store::Store;
use crate::install::index::Index;

/// `jig pull REFERENCE`: the image into the store; its id on stdout.
pub(super) fn pull(dirs: &Dirs, reference: &str) -> Result<i32> {
    let reference = Reference::parse(reference).map_err(anyhow::Error::msg)?;
    let store = Store::new(dirs.store());
    let limits = crate::base::config::load()?.limits;
    // Stopped by SIGINT/SIGTERM/SIGHUP, the pull removes what it half made (exit 130,
    // 143, 129); what killed pulls left goes first.
    let _signals = crate::base::interrupt::Guard::install();
    store.ensure()?;
    store.sweep_tmp()?;
    let what = format!("the image {reference}");
    let image = oci::pull(&reference, &store, &limits)
        .map_err(|e| crate::image::store::space::explain(e, &store.tmp_dir(), &what, None))
        .with_context(|| format!("pulling {reference}"))?;
    eprintln!(
        "jig: pulled {reference} ({}) as image {}",
        image.meta.source_digest.as_deref().unwrap_or("-"),
        image.id.short()
    );
    println!("{}", image.id);
    Ok(0)
}

/// `jig push NAME[@VERSION] REFERENCE`: an installed recipe's image to a registry;
/// `REFERENCE@DIGEST` on stdout.
pub(super) fn push(dirs: &Dirs, spec: &str, reference: &str) -> Result<i32> {
    let reference = Reference::parse(reference).map_err(anyhow::Error::msg)?;
    let index = Index::read(&dirs.index())?;
    let (name, version, entry) = super::spec::installed(&index, spec)?;
    let label = format!("{name}@{version}");
    let store = Store::new(dirs.store());
    let what = oci::push::Pushing {
        image: &entry.image,
        recipe: &entry.recipe,
        config: &entry.config,
    };
    let pushed = oci::push::push(&store, &what, &label, &reference)
        .with_context(|| format!("pushing {label} to {reference}"))?;
    eprintln!("jig: pushed {label} to {}", pushed.reference);
    println!("{}@{}", pushed.reference, pushed.digest);
    Ok(0)
}
