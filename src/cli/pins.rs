//! Commands about projects and versions: which recipe and version a name means here
//! (`run`/`exec`/`shell` go through [`entry_for`]), and `pin`, `lock`, `trust`,
//! `which`, plus what `jig install` without names installs.

use std::io::Write;

use anyhow::{Context, Result, bail};

use super::spec::{list_or_none, split_spec};
use crate::base::error::unknown;
use crate::base::paths::Dirs;
use crate::base::suggest;
use crate::image::store::Store;
use crate::install;
use crate::install::index::{Entry, Index};
use crate::launch;
use crate::launch::resolve;
use crate::project;
use crate::recipe;
use crate::repo;

/// The version request for a recipe named on the command line: `@VERSION` if given,
/// else what the project and user pin.
pub(super) fn request_here(name: &str, version: Option<&str>) -> Result<resolve::Request> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let found = project::find(&cwd)?;
    resolve::request(name, version, found.as_ref())
}

/// Finds the installed entry for `[REPO/]NAME[@VERSION]` (the version pinned here when
/// none is given), or installs a recipe (built-in, repository or file) on first use.
pub(super) fn entry_for(dirs: &Dirs, spec: &str, yes: bool) -> Result<(Entry, String)> {
    let (spec_name, version) = split_spec(spec);
    let is_path = recipe::is_path(spec_name);
    // `REPO/NAME` uses an installed recipe only if it came from that place.
    let (place, name) = match spec_name.split_once('/') {
        Some((r, n)) if !is_path => (Some(r), n),
        _ => (None, spec_name),
    };
    let index = Index::read(&dirs.index())?;
    let opts = install::Options {
        yes,
        ..Default::default()
    };
    // A trusted project's own recipe of that name comes first.
    if !is_path && place.is_none() {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        if let Some(found) = project::find(&cwd)? {
            if let Some(own) = found.own_recipe(name)
                && crate::project::trust::is_trusted(dirs, &found)?
            {
                let request = resolve::request(name, version, Some(&found))?;
                let loaded = recipe::load_file(&own)?;
                let one = loaded.at(request.version.as_deref())?;
                if let Some(e) = index.projects.get(&one.hash) {
                    return Ok((e.clone(), one.recipe.version.to_string()));
                }
                let opts = install::Options {
                    yes: true, // approved by `jig trust`
                    project: true,
                    ..Default::default()
                };
                let done = install::install(dirs, &loaded, request.version.as_deref(), &opts)?;
                return Ok((done.entry, done.version));
            }
        }
    }
    let from_place = |tool: &crate::install::index::InstalledTool| {
        let origin = tool
            .versions
            .get(&tool.default)
            .or_else(|| tool.versions.values().next())
            .map(|e| &e.origin);
        match (place, origin) {
            (None, _) => true,
            (Some(p), Some(recipe::Origin::Builtin { .. })) => p == repo::BUILTIN,
            (Some(p), Some(recipe::Origin::Repo { repo, .. })) => p == repo,
            _ => false,
        }
    };
    if !is_path
        && let Some(tool) = index.tools.get(name)
        && from_place(tool)
    {
        let request = request_here(name, version)?;
        let version = match resolve::pick(name, tool, &request) {
            resolve::Pick::Installed(v, e) => return Ok((e.clone(), v.to_owned())),
            resolve::Pick::Missing(v) => v,
            resolve::Pick::Unknown(message) => return Err(unknown(message, [])),
        };
        let origin = launch::entry::recipe_arg(name, Some(tool));
        let loaded = repo::find(dirs, &origin)?;
        eprintln!(
            "jig: installing {name} {version} ({}; first use)",
            request.why
        );
        let done = install::install(dirs, &loaded, Some(&version), &opts)?;
        return Ok((done.entry, done.version));
    }
    let loaded = repo::find(dirs, spec_name)?;
    let request = request_here(loaded.recipe.name.as_str(), version)?;
    let one = loaded.at(request.version.as_deref())?;
    // A recipe that is already installed unchanged is used as is.
    if let Some(e) = index
        .tools
        .get(one.recipe.name.as_str())
        .and_then(|t| t.versions.get(one.recipe.version.as_str()))
        && e.recipe_hash == one.hash
    {
        return Ok((e.clone(), one.recipe.version.to_string()));
    }
    eprintln!(
        "jig: installing {} {} (first use)",
        one.recipe.name, one.recipe.version
    );
    let done = install::install(dirs, &loaded, request.version.as_deref(), &opts)?;
    Ok((done.entry, done.version))
}

/// The recipes `jig install` without arguments installs: every tool the project's
/// jig.toml pins, with its pinned version, from the trusted project's own recipe if it
/// has one (approved by `jig trust`), else from where it was installed before, else by
/// name. Each item: (recipe, version, is a project recipe).
pub(super) fn project_tools(dirs: &Dirs) -> Result<Vec<(recipe::Loaded, Option<String>, bool)>> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let Some(found) = project::find(&cwd)? else {
        return Err(crate::base::error::hinted(
            "name the recipes to install, or run this in a project with a jig.toml",
            "`jig install git npm`, `jig pin git@2.39`",
        ));
    };
    let trusted = crate::project::trust::is_trusted(dirs, &found)?;
    let index = Index::read(&dirs.index())?;
    let mut out = Vec::new();
    for (tool, pin) in &found.file.tools {
        let own = found.own_recipe(tool).filter(|_| trusted);
        let project_recipe = own.is_some();
        let loaded = if let Some(own) = own {
            recipe::load_file(&own)?
        } else {
            let origin = launch::entry::recipe_arg(tool, index.tools.get(tool));
            repo::find(dirs, &origin)?
        };
        loaded.at(pin.version())?;
        out.push((loaded, pin.version().map(str::to_owned), project_recipe));
    }
    if out.is_empty() {
        bail!("{} pins no tools", found.path.display());
    }
    Ok(out)
}

pub(super) fn lock(dirs: &Dirs, upgrade: bool, yes: bool) -> Result<i32> {
    use crate::project::lock::{FORMAT, LockFile};
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let Some(found) = project::find(&cwd)? else {
        return Err(crate::base::error::hinted(
            format!(
                "no jig.toml here or in any parent directory of {}",
                cwd.display()
            ),
            "`jig pin TOOL@VERSION` creates one",
        ));
    };
    let path = found.lock_path();
    // Resolving afresh needs nothing from the old lock: a damaged one is replaced.
    let old = match LockFile::read(&path) {
        Err(e) if upgrade => {
            super::report::print_warning(&e.context("replacing it"));
            None
        }
        other => other?,
    };
    let mut new = LockFile {
        lock_version: FORMAT,
        tools: Default::default(),
    };
    for (loaded, version, project_recipe) in project_tools(dirs)? {
        let opts = install::Options {
            // A project recipe was approved by `jig trust`.
            yes: yes || project_recipe,
            project: project_recipe,
            upgrade,
            force: false,
            push_cache: false,
        };
        let tool = loaded.recipe.name.to_string();
        eprintln!("jig: locking {tool}");
        let done = install::install(dirs, &loaded, version.as_deref(), &opts)?;
        new.tools.insert(
            tool,
            crate::project::lock::entry_of(done.entry.installed(), &done.entry.recipe, &done.base),
        );
    }
    if old.as_ref() == Some(&new) {
        eprintln!("jig: {} is up to date", path.display());
        return Ok(0);
    }
    new.write(&path)?;
    for (tool, l) in &new.tools {
        let before = old.as_ref().and_then(|o| o.tools.get(tool));
        let what = match before {
            None => "added".to_owned(),
            Some(b) if b == l => continue,
            Some(b) if b.version != l.version => format!("{} -> {}", b.version, l.version),
            Some(_) => "re-resolved".to_owned(),
        };
        eprintln!("jig: {tool} {} ({}): {what}", l.version, l.image);
    }
    for tool in old.iter().flat_map(|o| o.tools.keys()) {
        if !new.tools.contains_key(tool) {
            eprintln!("jig: {tool}: removed");
        }
    }
    eprintln!("jig: wrote {}", path.display());
    Ok(0)
}

pub(super) fn trust(dirs: &Dirs, revoke: bool, yes: bool) -> Result<i32> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let Some(found) = project::find(&cwd)? else {
        bail!(
            "no jig.toml here or in any parent directory of {}",
            cwd.display()
        );
    };
    if revoke {
        crate::project::trust::set(dirs, &found, true)?;
        eprintln!("jig: no longer trusting {}", found.path.display());
        return Ok(0);
    }
    let asks = crate::project::trust::asks(&found);
    if !asks.any() {
        eprintln!(
            "jig: {} only pins versions; it needs no trust",
            found.path.display()
        );
        return Ok(0);
    }
    eprintln!("jig: trusting {}, which adds:", found.path.display());
    for l in &asks.lines {
        eprintln!("  {l}");
    }
    // The project's recipes are installed now, so their requests are shown (and
    // approved) here rather than at some later shim call.
    let opts = install::Options {
        yes,
        project: true,
        ..Default::default()
    };
    let loaded = asks
        .recipes
        .iter()
        .map(|r| recipe::load_file(r))
        .collect::<Result<Vec<_>>>()?;
    for l in &loaded {
        let request = request_here(l.recipe.name.as_str(), None)?;
        let done = install::install(dirs, l, request.version.as_deref(), &opts)?;
        eprintln!(
            "jig: installed project recipe {} {} (image {}); shims: {}",
            done.name,
            done.version,
            done.entry.image.short(),
            list_or_none(&done.shims)
        );
    }
    crate::project::trust::set(dirs, &found, false)?;
    eprintln!("jig: trusted {}", found.path.display());
    Ok(0)
}

pub(super) fn pin(dirs: &Dirs, spec: &str, global: bool) -> Result<i32> {
    let Some((tool, version)) = spec
        .rsplit_once('@')
        .filter(|(t, v)| !t.is_empty() && !v.is_empty())
    else {
        return Err(unknown(
            format!("expected TOOL@VERSION, e.g. git@2.39, found '{spec}'"),
            [],
        ));
    };
    let index = Index::read(&dirs.index())?;
    // A shim name stands for the recipe that exports it; `REPO/NAME` for NAME, the key
    // jig.toml uses.
    let name = index.shims.get(tool).map_or(tool, String::as_str);
    // Check the version against what the recipe offers, so a typo is caught now.
    let (name, offered) = match index.tools.get(name) {
        Some(t) => {
            let mut o = t.offered.clone();
            o.extend(t.versions.keys().cloned());
            (name.to_owned(), o)
        }
        None => {
            let r = repo::find(dirs, name)?.recipe;
            (r.name.to_string(), r.offered())
        }
    };
    let name = name.as_str();
    if recipe::select_from(&offered, version).is_none() {
        return Err(recipe::no_version(name, version, None, &offered));
    }
    let path = if global {
        let p = project::global_path().context("cannot find your configuration directory")?;
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        p
    } else {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        project::find_path(&cwd).unwrap_or_else(|| cwd.join(project::FILE))
    };
    project::write_pin(&path, name, version)?;
    eprintln!("jig: pinned {name} = \"{version}\" in {}", path.display());
    Ok(0)
}

/// `jig which TOOL`: what a shim call here would run, and why.
pub(super) fn which(dirs: &Dirs, tool: &str) -> Result<i32> {
    let index = Index::read(&dirs.index())?;
    let (recipe_name, why) = if let Some(r) = index.shims.get(tool) {
        (
            r.clone(),
            format!("shim '{tool}' is exported by recipe '{r}'"),
        )
    } else if index.tools.contains_key(tool)
        || index
            .projects
            .values()
            .any(|e| e.recipe.name.as_str() == tool)
    {
        (tool.to_owned(), format!("'{tool}' is an installed recipe"))
    } else {
        let known = index.shims.keys().chain(index.tools.keys());
        return Err(unknown(
            format!("'{tool}' is neither a shim nor an installed recipe"),
            [
                suggest::did_you_mean(tool, known.map(String::as_str)),
                Some("`jig list` shows what is installed".into()),
            ],
        ));
    };
    let request = request_here(&recipe_name, None)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "tool:    {tool}")?;
    let store = Store::new(dirs.store());
    let cwd = std::env::current_dir().context("reading the current directory")?;
    if let Some(found) = project::find(&cwd)? {
        let asks = crate::project::trust::asks(&found);
        let trusted = asks.any() && crate::project::trust::is_trusted(dirs, &found)?;
        let state = match (asks.any(), trusted) {
            (false, _) => "version pins only",
            (true, true) => "trusted",
            (true, false) => "NOT trusted: its additions are ignored until `jig trust`",
        };
        writeln!(out, "project: {} ({state})", found.path.display())?;
        if let Some(own) = found.own_recipe(&recipe_name).filter(|_| trusted) {
            let one = recipe::load_file(&own)?.at(request.version.as_deref())?;
            let installed = index.projects.contains_key(&one.hash);
            writeln!(
                out,
                "recipe:  {recipe_name} (project recipe {})",
                own.display()
            )?;
            writeln!(out, "version: {} ({})", one.recipe.version, request.why)?;
            writeln!(
                out,
                "image:   {}",
                if installed {
                    index.projects[&one.hash].image.to_string()
                } else {
                    "not installed yet (installed on first use)".to_owned()
                }
            )?;
            writeln!(out, "why:     {why}")?;
            let workspace = crate::launch::workspace::here(&one.recipe.mounts.markers)?;
            writeln!(out, "workspace: {workspace}")?;
            return Ok(0);
        }
    }
    let Some(installed) = index.tools.get(&recipe_name) else {
        writeln!(
            out,
            "recipe:  {recipe_name} (only a project recipe elsewhere)"
        )?;
        return Ok(0);
    };
    // Workspace markers come from the version that runs, else any installed one.
    let mut markers = installed
        .versions
        .values()
        .next()
        .map(|e| e.recipe.mounts.markers.clone())
        .unwrap_or_default();
    match resolve::pick(&recipe_name, installed, &request) {
        resolve::Pick::Installed(version, entry) => {
            markers = entry.recipe.mounts.markers.clone();
            let source = store
                .image(&entry.image)?
                .map(|i| i.meta.source)
                .unwrap_or_else(|| "missing from the store!".into());
            writeln!(out, "recipe:  {recipe_name} ({})", entry.origin)?;
            writeln!(out, "version: {version} ({})", request.why)?;
            writeln!(out, "image:   {} ({source})", entry.image)?;
            writeln!(out, "rootfs:  {}", store.rootfs_of(&entry.image).display())?;
        }
        resolve::Pick::Missing(version) => {
            writeln!(out, "recipe:  {recipe_name}")?;
            writeln!(out, "version: {version} ({})", request.why)?;
            writeln!(out, "image:   not installed yet (installed on first use)")?;
        }
        resolve::Pick::Unknown(message) => {
            writeln!(out, "recipe:  {recipe_name}")?;
            writeln!(out, "version: none: {message}")?;
        }
    }
    writeln!(out, "why:     {why}")?;
    let workspace = crate::launch::workspace::here(&markers)?;
    writeln!(out, "workspace: {workspace}")?;
    writeln!(
        out,
        "contained: {}",
        crate::runtime::landlock::containment()
    )?;
    Ok(0)
}
