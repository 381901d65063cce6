//! `jig images`, `rm` and `gc`: the images in the store, and removing them.

use std::io::Write;

use anyhow::Result;

use super::table::{Cell, Output, Table};
use crate::base::paths::Dirs;
use crate::image::store::{Found, ImageId, Store};
use crate::install::index::Index;

/// `jig images`: the store's images and who uses them, on stdout: id, size, the
/// recipes using it, its source and the source's digest ([`Output`]: aligned under a
/// header on a terminal, with short ids; tab-separated through a pipe; a JSON array
/// with `json`, with full ids and sizes in bytes). Damaged images are named on
/// stderr with what repairs them.
pub(super) fn images(dirs: &Dirs, json: bool) -> Result<i32> {
    let store = Store::new(dirs.store());
    let used = Index::read(&dirs.index())?.images_in_use();
    let output = Output::detect(json);
    let mut table = Table::new(&["IMAGE", "SIZE", "USED BY", "SOURCE", "SOURCE DIGEST"]);
    let mut items = Vec::new();
    for found in store.scan()? {
        let image = match found {
            Found::Image(i) => i,
            Found::Damaged(id, why) => {
                warn_damaged(&id, &why, used.get(&id));
                continue;
            }
        };
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

/// A warning naming a damaged image, what is wrong, and what repairs it.
pub(super) fn warn_damaged(id: &ImageId, why: &str, users: Option<&Vec<String>>) {
    let (whose, hint) = match users {
        Some(by) => (
            format!(", used by {}", by.join(", ")),
            format!(
                "`jig verify --repair {}` rebuilds it",
                by.first().and_then(|u| u.split('@').next()).unwrap_or("")
            ),
        ),
        None => (
            String::new(),
            format!(
                "no installed recipe uses it: `jig rm {}` or `jig gc` removes it",
                id.short()
            ),
        ),
    };
    let e = crate::base::error::hinted(
        format!("image {} is damaged{whose}: {why}", id.short()),
        hint,
    );
    eprint!(
        "{}",
        crate::base::error::render("jig", crate::base::error::Level::Warning, &e)
    );
}

/// `jig rm ID...`: removes images (damaged ones too) no installed recipe, live
/// process or running tool uses, printing each id.
pub(super) fn rm(dirs: &Dirs, ids: &[String]) -> Result<i32> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let used = Index::read(&dirs.index())?.images_in_use();
    let leased = crate::image::store::lease::held(&store.leases_dir())?;
    let mut doomed = Vec::new();
    for id in ids {
        let found = store.find(id)?;
        let id = crate::image::store::images::id_of(&found).clone();
        if let Some(by) = used.get(&id) {
            return Err(crate::base::error::hinted(
                format!("image {} is used by {}", id.short(), by.join(", ")),
                "`jig uninstall` those first",
            ));
        }
        if leased.contains(&id) {
            return Err(crate::base::error::hinted(
                format!(
                    "image {} was just made by a jig that is still running",
                    id.short()
                ),
                "wait for that install, pull or build to finish",
            ));
        }
        doomed.push(id);
    }
    let (removed, in_use) = store.remove(&doomed)?;
    for id in &removed {
        println!("{id}");
    }
    let _ = crate::image::store::files::sweep_unreferenced(&store.files_dir());
    if let Some((id, pid)) = in_use.first() {
        return Err(crate::base::error::hinted(
            format!(
                "image {} is in use by a running tool (pid {pid})",
                id.short()
            ),
            "remove it once that tool has exited",
        ));
    }
    Ok(0)
}

/// `jig gc`: removes images nothing uses and the leftovers of interrupted work.
pub(super) fn gc(dirs: &Dirs) -> Result<i32> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let used = Index::read(&dirs.index())?.images_in_use();
    let keep = used.keys().cloned().collect();
    let report = store.collect(&keep)?;
    for (id, pid) in &report.in_use {
        eprintln!(
            "jig: kept image {}: a running tool (pid {pid}) uses it",
            id.short()
        );
    }
    for found in store.scan()? {
        if let Found::Damaged(id, why) = found {
            warn_damaged(&id, &why, used.get(&id));
        }
    }
    let freed: u64 = report.removed.iter().map(|(_, s)| s).sum();
    eprintln!(
        "jig: removed {} unused image(s) ({}), {} unused shared file(s) ({}) and {} leftover(s) of interrupted work",
        report.removed.len(),
        human_size(freed),
        report.files.0,
        human_size(report.files.1),
        report.debris
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
