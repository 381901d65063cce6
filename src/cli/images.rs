//! `jig images`, `rm` and `gc`: the images in the store, and removing them.

use std::io::Write;

use anyhow::Result;

use super::table::{Cell, Output, Table};
use crate::base::paths::Dirs;
use crate::image::store::Store;
use crate::install::index::Index;

/// `jig images`: the store's images and who uses them, on stdout: id, size, the
/// recipes using it, its source and the source's digest ([`Output`]: aligned under a
/// header on a terminal, with short ids; tab-separated through a pipe; a JSON array
/// with `json`, with full ids and sizes in bytes).
pub(super) fn images(dirs: &Dirs, json: bool) -> Result<i32> {
    let store = Store::new(dirs.store());
    let used = Index::read(&dirs.index())?.images_in_use();
    let output = Output::detect(json);
    let mut table = Table::new(&["IMAGE", "SIZE", "USED BY", "SOURCE", "SOURCE DIGEST"]);
    let mut items = Vec::new();
    for image in store.images()? {
        let by = used.get(&image.id).cloned().unwrap_or_default();
        let digest = image.meta.source_digest.as_deref();
        let shown = match (output, digest) {
            (_, None) => "-",
            // sha256: and 12 digits are enough to tell images apart on a screen.
            (Output::Terminal { .. }, Some(d)) => &d[..d.len().min(19)],
            (_, Some(d)) => d,
        };
        table.row(vec![
            Cell::name(image.id.short()),
            Cell::plain(human_size(image.meta.size)),
            match by.is_empty() {
                true => Cell::dim("-"),
                false => Cell::plain(by.join(",")),
            },
            Cell::plain(&image.meta.source),
            Cell::dim(shown),
        ]);
        items.push(serde_json::json!({
            "id": image.id.to_string(),
            "size": image.meta.size,
            "used_by": by,
            "source": image.meta.source,
            "source_digest": digest,
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

/// `jig rm ID...`: removes images no installed recipe uses, printing each id.
pub(super) fn rm(dirs: &Dirs, ids: &[String]) -> Result<i32> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let used = Index::read(&dirs.index())?.images_in_use();
    for id in ids {
        let image = store.find(id)?;
        if let Some(by) = used.get(&image.id) {
            return Err(crate::base::error::hinted(
                format!("image {} is used by {}", image.id.short(), by.join(", ")),
                "`jig uninstall` those first",
            ));
        }
        store.remove(&image.id)?;
        println!("{}", image.id);
    }
    Ok(0)
}

/// `jig gc`: removes unused images and leftovers of interrupted imports.
pub(super) fn gc(dirs: &Dirs) -> Result<i32> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let used = Index::read(&dirs.index())?.images_in_use();
    let mut freed = 0;
    let mut removed = 0;
    for image in store.images()? {
        if !used.contains_key(&image.id) {
            store.remove(&image.id)?;
            freed += image.meta.size;
            removed += 1;
        }
    }
    let debris = store.sweep_tmp()?;
    eprintln!(
        "jig: removed {removed} unused image(s) ({}) and {debris} leftover temp dir(s)",
        human_size(freed)
    );
    Ok(0)
}

/// A byte count in binary units, one decimal (`1.5 KiB`), whole bytes below 1 KiB.
fn human_size(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
    }
}
