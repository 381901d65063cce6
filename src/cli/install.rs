//! `jig install`, `uninstall`, `reshim` and `list`: the installed recipes and their
//! shims.

use std::io::Write;

use anyhow::Result;

use super::activate::warn_if_not_on_path;
use super::pins::project_tools;
use super::spec::{list_or_none, split_spec};
use super::table::{Cell, Output, Table};
use crate::base::paths::Dirs;
use crate::install::index::Index;
use crate::repo;

/// `jig install [RECIPE...]`: the recipes named (none: every tool the project's
/// jig.toml pins), all parsed and asked about before any is built.
pub(super) fn install(
    dirs: &Dirs,
    recipes: &[String],
    force: bool,
    yes: bool,
    project: bool,
    push_cache: bool,
) -> Result<i32> {
    // Parse every recipe before building any, so a typo fails fast.
    let loaded = if recipes.is_empty() {
        project_tools(dirs)?
    } else {
        recipes
            .iter()
            .map(|r| {
                let (name, version) = split_spec(r);
                let l = repo::find(dirs, name)?;
                l.at(version)?;
                Ok((l, version.map(str::to_owned), project))
            })
            .collect::<Result<Vec<_>>>()?
    };
    // Every question before the first build, so the user can walk away once they
    // are answered; a refusal stops everything before anything is downloaded.
    let mut ready = Vec::with_capacity(loaded.len());
    for (loaded, version, project) in &loaded {
        let opts = crate::install::Options {
            force,
            yes: yes || *project && recipes.is_empty(),
            project: *project,
            upgrade: false,
            push_cache,
        };
        let r = crate::install::prepare(dirs, loaded, version.as_deref(), &opts)?;
        ready.push((r, opts));
    }
    for (ready, opts) in ready {
        let (name, version) = ready.what();
        eprintln!("jig: installing {name} {version}");
        let done = crate::install::finish(dirs, ready, &opts)?;
        eprintln!(
            "jig: installed {} {} (image {}); shims: {}",
            done.name,
            done.version,
            done.entry.image.short(),
            done.shims.join(", ")
        );
    }
    warn_if_not_on_path(dirs);
    Ok(0)
}

/// `jig uninstall NAME[@VERSION]`.
pub(super) fn uninstall(dirs: &Dirs, spec: &str) -> Result<i32> {
    let (name, version) = split_spec(spec);
    let shims = crate::install::uninstall(dirs, name, version)?;
    let what = version.map_or(name.to_owned(), |v| format!("{name} {v}"));
    eprintln!(
        "jig: uninstalled {what}; removed shims: {}",
        if shims.is_empty() {
            "none".to_owned()
        } else {
            shims.join(", ")
        }
    );
    Ok(0)
}

/// `jig reshim`: the shim directory made to match the index.
pub(super) fn reshim(dirs: &Dirs) -> Result<i32> {
    let (created, removed) = crate::install::reshim(dirs)?;
    eprintln!(
        "jig: shims created: {}; removed: {}",
        list_or_none(&created),
        list_or_none(&removed)
    );
    Ok(0)
}

/// `jig list`: the installed recipes on stdout, one row each: name, versions, shims
/// and description ([`Output`]: aligned under a header on a terminal, tab-separated
/// through a pipe, or a JSON array with `json`).
pub(super) fn list(dirs: &Dirs, json: bool) -> Result<i32> {
    let index = Index::read(&dirs.index())?;
    let output = Output::detect(json);
    let mut table = Table::new(&["NAME", "VERSIONS", "SHIMS", "DESCRIPTION"]);
    let mut items = Vec::new();
    for (name, tool) in &index.tools {
        let versions: Vec<_> = tool.versions.keys().cloned().collect();
        // The default version's entry, else any installed one (a user may have
        // installed only NAME@OTHER).
        let Some(e) = index
            .default_entry(name)
            .map(|(_, e)| e)
            .or_else(|| tool.versions.values().next())
        else {
            continue;
        };
        let shims: Vec<_> = e.recipe.tool.shims.iter().map(|s| s.to_string()).collect();
        table.row(vec![
            Cell::name(name),
            Cell::plain(versions.join(",")),
            Cell::plain(shims.join(",")),
            Cell::plain(&e.recipe.description),
        ]);
        items.push(serde_json::json!({
            "name": name,
            "default": tool.default,
            "versions": versions,
            "shims": shims,
            "description": e.recipe.description,
            "origin": e.origin.to_string(),
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
