//! `jig cache list|push|pull`: the image cache (`[cache]` of `config.toml`, or a
//! trusted project's) by hand.

use std::io::Write;

use anyhow::{Context, Result};

use super::spec::split_spec;
use super::table::{Cell, Output, Table};
use crate::base::paths::Dirs;
use crate::image::cache;
use crate::image::store::Store;
use crate::install::cache::Cache;
use crate::install::index::Index;

/// The cache commands use here, or an error saying how to configure one.
fn chosen(dirs: &Dirs) -> Result<Cache> {
    Cache::choose(dirs, false)?.ok_or_else(|| {
        crate::base::error::hinted(
            "no image cache is configured",
            format!(
                "set [cache] registry = \"HOST[:PORT]/REPO\" in {}",
                crate::base::config::path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "jig's config.toml".into())
            ),
        )
    })
}

/// `jig cache list`: the images the cache holds under jig's tags (tag, image, source;
/// JSON with `json`).
pub(super) fn list(dirs: &Dirs, json: bool) -> Result<i32> {
    let c = chosen(dirs)?;
    let listed = cache::list(&c.repo).with_context(|| format!("listing the cache {}", c.repo))?;
    let output = Output::detect(json);
    let mut table = Table::new(&["TAG", "IMAGE", "SOURCE"]);
    let mut items = Vec::new();
    for l in &listed {
        let image = l.image.as_deref().unwrap_or("-");
        let shown = match output {
            Output::Terminal { .. } => image
                .strip_prefix("sha256:")
                .map_or(image, |h| &h[..h.len().min(12)]),
            _ => image,
        };
        table.row(vec![
            Cell::name(&l.tag),
            Cell::plain(shown),
            Cell::plain(l.source.as_deref().unwrap_or("-")),
        ]);
        items.push(serde_json::json!({
            "tag": l.tag,
            "key": l.key,
            "image": l.image,
            "source": l.source,
        }));
    }
    let mut out = std::io::stdout().lock();
    if output == Output::Json {
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
    } else {
        table.write(&mut out, output)?;
    }
    Ok(0)
}

/// `jig cache push NAME[@VERSION]`: an installed recipe's image to the cache under its
/// key; the tag on stdout.
pub(super) fn push(dirs: &Dirs, spec: &str) -> Result<i32> {
    let c = chosen(dirs)?;
    let index = Index::read(&dirs.index())?;
    let (name, version, entry) = super::spec::installed(&index, spec)?;
    let store = Store::new(dirs.store());
    let Some(image) = store.hold(&entry.image)? else {
        return Err(crate::base::error::hinted(
            format!("the image of {name} {version} is missing from the store"),
            format!("`jig install {name}@{version}` again"),
        ));
    };
    let Some(facts) =
        crate::install::cache::facts_of(&entry.recipe.image, &entry.recipe_hash, &image.meta)
    else {
        return Err(crate::base::error::hinted(
            format!("{name} {version}: its image source has no cache key"),
            "directory rootfs and Dockerfile sources are not cached",
        ));
    };
    let tag = cache::push(&c.repo, &store, &image, &facts)
        .with_context(|| format!("pushing {name} {version} to the cache {}", c.repo))?;
    eprintln!(
        "jig: pushed {name} {version} to the cache {} as {tag}",
        c.repo
    );
    println!("{}:{tag}", c.repo);
    Ok(0)
}

/// `jig cache pull NAME[@VERSION]`: the image the cache holds for a recipe (at the
/// version, from the project's lock when it names one) into the store, checked as an
/// install checks it; its id on stdout. A miss is an error.
pub(super) fn pull(dirs: &Dirs, spec: &str) -> Result<i32> {
    let c = chosen(dirs)?;
    let (name, version) = split_spec(spec);
    let full = crate::repo::find(dirs, name)?;
    let loaded = full.at(version)?;
    let pinned = crate::install::lock_pin(&loaded)?;
    let store = Store::new(dirs.store());
    let _signals = crate::base::interrupt::Guard::install();
    store.ensure()?;
    store.sweep_tmp()?;
    let image_spec = crate::install::cache::as_built(&loaded.recipe.image, pinned.as_ref());
    let label = format!("{} {}", loaded.recipe.name, loaded.recipe.version);
    let facts = crate::install::cache::facts(
        &store,
        &image_spec,
        &loaded,
        loaded.base_dir(),
        pinned.as_ref(),
    )
    .with_context(|| format!("{label}: resolving its sources"))?
    .ok_or_else(|| anyhow::anyhow!("{label}: its image source has no cache key"))?;
    let key = facts.key();
    let Some(tagged) = cache::lookup(&c.repo, &key)? else {
        return Err(crate::base::error::hinted(
            format!(
                "{label}: not in the cache {} ({})",
                c.repo,
                cache::tag(&key)
            ),
            "`jig cache push` it where it is installed, or `jig install` builds it",
        ));
    };
    let image = crate::install::cache::fetch(&c.repo, &store, tagged, &facts, pinned.as_ref())?;
    eprintln!(
        "jig: pulled {label} from the cache {} as image {}",
        c.repo,
        image.id.short()
    );
    println!("{}", image.id);
    Ok(0)
}
