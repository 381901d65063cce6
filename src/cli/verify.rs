//! `jig verify [NAME|ID] [--repair]`: images checked against their ids, and what is
//! damaged rebuilt or pulled again; and the quick store check `jig doctor` runs.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::base::paths::Dirs;
use crate::image::store::verify::{self, Verdict};
use crate::image::store::{Found, ImageId, Store};
use crate::install::index::{Entry, Index};

/// An installed entry: (recipe, version, project recipe?, entry).
type Installed = (String, String, bool, Entry);

fn installed(index: &Index) -> Vec<Installed> {
    let mut out = Vec::new();
    for (name, tool) in &index.tools {
        for (version, e) in &tool.versions {
            out.push((name.clone(), version.clone(), false, e.clone()));
        }
    }
    for e in index.projects.values() {
        let (n, v) = (e.recipe.name.to_string(), e.recipe.version.to_string());
        out.push((n, v, true, e.clone()));
    }
    out
}

/// `jig verify`: checks every image (or recipe NAME's, or image ID), one line each on
/// stdout; with `repair`, rebuilds what installed recipes need and removes the rest.
pub(super) fn verify(dirs: &Dirs, target: Option<&str>, repair: bool) -> Result<i32> {
    let store = Store::new(dirs.store());
    let index = Index::read(&dirs.index())?;
    let all = installed(&index);
    let mut users: BTreeMap<ImageId, Vec<String>> = BTreeMap::new();
    for (n, v, _, e) in &all {
        users
            .entry(e.image.clone())
            .or_default()
            .push(format!("{n}@{v}"));
    }
    let ids: Vec<ImageId> = match target {
        None => {
            let mut ids: Vec<ImageId> = store
                .scan()?
                .iter()
                .map(|f| crate::image::store::images::id_of(f).clone())
                .collect();
            ids.extend(users.keys().cloned());
            ids.sort();
            ids.dedup();
            ids
        }
        Some(t) => {
            let of_recipe: Vec<ImageId> = all
                .iter()
                .filter(|(n, ..)| n == t)
                .map(|(.., e)| e.image.clone())
                .collect();
            if !of_recipe.is_empty() {
                of_recipe
            } else {
                match store.find(t) {
                    Ok(f) => vec![crate::image::store::images::id_of(&f).clone()],
                    Err(e) => {
                        return Err(e.context(format!("no installed recipe or image named '{t}'")));
                    }
                }
            }
        }
    };
    let mut damaged = Vec::new();
    for id in &ids {
        let by = users.get(id).map_or("-".to_owned(), |u| u.join(","));
        match verify::verify(&store, id) {
            Verdict::Intact => println!("ok\t{}\t{by}", id.short()),
            Verdict::Damaged(why) => {
                println!("DAMAGED\t{}\t{by}\t{why}", id.short());
                damaged.push(id.clone());
            }
        }
    }
    if damaged.is_empty() {
        eprintln!("jig: {} image(s) verified, none damaged", ids.len());
        return Ok(0);
    }
    if !repair {
        let what = target.map_or(String::new(), |t| format!(" {t}"));
        return Err(crate::base::error::hinted(
            format!("{} damaged image(s)", damaged.len()),
            format!(
                "`jig verify --repair{what}` rebuilds or pulls again what installed recipes use, and removes the rest"
            ),
        ));
    }
    repair_images(dirs, &store, &all, damaged)
}

/// Removes the damaged images (and the damaged shared files, with every image linking
/// to one), then installs again the recipes that used them.
fn repair_images(
    dirs: &Dirs,
    store: &Store,
    all: &[Installed],
    damaged: Vec<ImageId>,
) -> Result<i32> {
    let removed = {
        let _lock = store.lock_exclusive()?;
        let present: Vec<ImageId> = damaged
            .iter()
            .filter(|id| store.found(id).is_some())
            .cloned()
            .collect();
        let (bad_files, affected) = verify::damaged_shared(store, &present);
        for f in &bad_files {
            std::fs::remove_file(f)?;
        }
        let mut doomed = present;
        for id in affected {
            if !doomed.contains(&id) {
                eprintln!(
                    "jig: image {} shares a damaged file; rebuilding it too",
                    id.short()
                );
                doomed.push(id);
            }
        }
        let (removed, in_use) = store.remove(&doomed)?;
        if let Some((id, pid)) = in_use.first() {
            return Err(crate::base::error::hinted(
                format!(
                    "image {} is damaged, and a running tool (pid {pid}) uses it",
                    id.short()
                ),
                "run `jig verify --repair` again once that tool has exited",
            ));
        }
        let mut gone = removed;
        // Images an entry names but the store lacks altogether.
        gone.extend(damaged.into_iter().filter(|id| store.found(id).is_none()));
        gone
    };
    let mut failed = 0;
    for (name, version, project, entry) in all {
        if !removed.contains(&entry.image) {
            continue;
        }
        eprintln!("jig: rebuilding {name} {version}");
        match crate::install::reinstall(dirs, entry, *project) {
            Ok(done) if done.entry.image == entry.image => {
                eprintln!(
                    "jig: repaired {name} {version} (image {})",
                    done.entry.image.short()
                );
            }
            Ok(done) => eprintln!(
                "jig: rebuilt {name} {version} as image {} (was {}): its recipe or sources changed since",
                done.entry.image.short(),
                entry.image.short()
            ),
            Err(e) => {
                failed += 1;
                super::report::print_error(&e.context(format!("repairing {name} {version}")));
            }
        }
    }
    let used: Vec<&ImageId> = all.iter().map(|(.., e)| &e.image).collect();
    for id in removed.iter().filter(|id| !used.contains(id)) {
        eprintln!(
            "jig: removed damaged image {}: no installed recipe uses it",
            id.short()
        );
    }
    Ok(if failed == 0 { 0 } else { 1 })
}

/// The quick store check of `jig doctor` (no hashing): (fine?, what, how to fix), one
/// per finding.
pub(super) fn quick_check(dirs: &Dirs) -> Vec<(bool, String, String)> {
    let mut out = Vec::new();
    let store = Store::new(dirs.store());
    let index = match Index::read(&dirs.index()) {
        Ok(i) => Some(i),
        Err(e) => {
            let hints = crate::base::error::hints(&e).join("\n");
            out.push((false, format!("{e:#}"), hints));
            None
        }
    };
    let scanned = store.scan().unwrap_or_default();
    let used = index.as_ref().map(Index::images_in_use).unwrap_or_default();
    let (mut good, mut bad) = (0, 0);
    for f in &scanned {
        match f {
            Found::Image(_) => good += 1,
            Found::Damaged(id, why) => {
                bad += 1;
                let by = match used.get(id) {
                    Some(users) => format!(" (used by {})", users.join(", ")),
                    None => String::new(),
                };
                out.push((
                    false,
                    format!("store: image {}{by} is damaged: {why}", id.short()),
                    "`jig verify --repair` rebuilds what installed recipes use, and removes the rest".into(),
                ));
            }
        }
    }
    if let Some(index) = &index {
        for (name, version, _, e) in installed(index) {
            if store.found(&e.image).is_none() {
                out.push((
                    false,
                    format!(
                        "store: {name} {version}: its image {} is missing from the store",
                        e.image.short()
                    ),
                    "`jig verify --repair` rebuilds it".into(),
                ));
            }
        }
    }
    for (file, what) in [
        (dirs.data.join("repos.json"), "recipe repositories"),
        (dirs.data.join("approved.json"), "approved builds"),
        (dirs.data.join("trusted.json"), "trusted projects"),
    ] {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Err(e) = serde_json::from_str::<serde_json::Value>(&text)
        {
            out.push((
                false,
                format!("store: {} ({what}) is damaged: {e}", file.display()),
                format!(
                    "move it away (`mv {0} {0}.damaged`); jig then starts that list afresh",
                    file.display()
                ),
            ));
        }
    }
    let leftovers = std::fs::read_dir(store.tmp_dir()).map_or(0, |d| d.count());
    if bad == 0 && out.is_empty() {
        out.push((
            true,
            format!(
                "store: {good} image(s), none damaged; {leftovers} entr{} in tmp/ (work in progress or leftovers the next import removes)",
                if leftovers == 1 { "y" } else { "ies" }
            ),
            String::new(),
        ));
    }
    out
}
