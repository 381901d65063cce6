//! `jig outdated` and `jig upgrade`: installed versions whose recipe has a newer
//! version or a new build, or whose source moved ([`crate::install::outdated`]),
//! listed or installed.

use std::io::Write;

use anyhow::Result;

use super::pins::request_here;
use super::table::{Cell, Output, Table};
use crate::base::paths::Dirs;
use crate::install::outdated::{self, Outdated};
use crate::launch::resolve::Chosen;
use crate::repo;

/// `jig outdated [--json]`: one row per installed version with something newer: name,
/// installed version, the version an upgrade moves to, why. Exit 0 either way; a
/// source that could not be asked is a warning (`--offline` asks none).
pub(super) fn outdated(dirs: &Dirs, json: bool, offline: bool) -> Result<i32> {
    let (found, warnings) = outdated::find(dirs, offline)?;
    for w in &warnings {
        eprintln!("jig: warning: {w}");
    }
    let output = Output::detect(json);
    let mut out = std::io::stdout().lock();
    if output == Output::Json {
        let items: Vec<_> = found
            .iter()
            .map(|o| {
                serde_json::json!({
                    "name": o.name,
                    "installed": o.version,
                    "target": o.target,
                    "recipe_changed": o.changed,
                    "recipe": o.spec,
                    "packages": o.moved.packages,
                    "image": o.moved.image.as_ref().map(|(tag, digest)| {
                        serde_json::json!({ "tag": tag, "digest": digest })
                    }),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
        return Ok(0);
    }
    if found.is_empty() {
        eprintln!("jig: every installed tool is up to date");
        return Ok(0);
    }
    let mut table = Table::new(&["NAME", "INSTALLED", "UPGRADE", "WHY"]);
    for o in &found {
        table.row(vec![
            Cell::name(&o.name),
            Cell::plain(&o.version),
            Cell::plain(&o.target),
            Cell::plain(o.why()),
        ]);
    }
    table.write(&mut out, output)?;
    Ok(0)
}

/// `jig upgrade [NAME] [--yes]`: installs what `jig outdated` lists (for NAME only,
/// if given). A version pinned here (project, global `jig.toml` or variable) stays at
/// its pin and is only rebuilt when its recipe changed; a version the project's
/// `jig.lock` names keeps its locked image when only its source moved (`jig lock
/// --upgrade` moves it). The old version's entry is replaced, so its image stays in
/// the store until `jig gc`.
pub(super) fn upgrade(dirs: &Dirs, name: Option<&str>, yes: bool, offline: bool) -> Result<i32> {
    let (found, warnings) = outdated::find(dirs, offline)?;
    for w in &warnings {
        eprintln!("jig: warning: {w}");
    }
    if let Some(n) = name {
        let index = crate::install::index::Index::read(&dirs.index())?;
        if !index.tools.contains_key(n) {
            let names: Vec<&str> = index.tools.keys().map(String::as_str).collect();
            return Err(crate::base::error::unknown(
                format!("'{n}' is not installed"),
                [crate::base::suggest::did_you_mean(n, names.iter().copied())],
            ));
        }
    }
    let todo: Vec<&Outdated> = found
        .iter()
        .filter(|o| name.is_none_or(|n| n == o.name))
        .collect();
    if todo.is_empty() {
        eprintln!(
            "jig: {} up to date",
            name.map_or("every installed tool is".to_owned(), |n| format!("{n} is"))
        );
        return Ok(0);
    }
    let mut moved = 0;
    for o in todo {
        let mut target = o.target.clone();
        let request = request_here(&o.name, None)?;
        if !matches!(request.why, Chosen::Default)
            && let Some(pin) = &request.version
            && target != o.version
            && !pin_selects(dirs, o, pin, &target)
        {
            eprintln!(
                "jig: {} stays at {} ({}); {} is available",
                o.name, o.version, request.why, o.target
            );
            if !o.changed {
                continue;
            }
            target = o.version.clone();
        }
        let loaded = repo::find(dirs, &o.spec)?;
        if !o.changed
            && target == o.version
            && crate::install::lock_pin(&loaded.at(Some(&target))?)?.is_some()
        {
            eprintln!(
                "jig: {} {} stays at its jig.lock entry; `jig lock --upgrade` moves it ({})",
                o.name,
                o.version,
                o.moved.why().join("; ")
            );
            continue;
        }
        let opts = crate::install::Options {
            yes,
            ..Default::default()
        };
        let ready = crate::install::prepare(dirs, &loaded, Some(&target), &opts)?;
        let done = crate::install::finish(dirs, ready, &opts)?;
        if target != o.version {
            crate::install::uninstall(dirs, &o.name, Some(&o.version))?;
        }
        eprintln!(
            "jig: upgraded {} {} -> {} (image {}); the old image stays until `jig gc`",
            o.name,
            o.version,
            done.version,
            done.entry.image.short()
        );
        moved += 1;
    }
    if moved == 0 {
        eprintln!("jig: nothing upgraded");
    }
    Ok(0)
}

/// Whether the pin `pin` of `o`'s tool selects `target` (a pin `2` moves on to `2.40`).
fn pin_selects(dirs: &Dirs, o: &Outdated, pin: &str, target: &str) -> bool {
    repo::find(dirs, &o.spec)
        .and_then(|l| l.recipe.select(pin))
        .is_ok_and(|v| v == target)
}
