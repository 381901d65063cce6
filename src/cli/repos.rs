//! `jig repo add|list|update|remove` and `jig search`: recipe repositories and the
//! recipes in them.

use std::io::Write;

use anyhow::Result;

use super::report::print_warning;
use crate::base::paths::Dirs;
use crate::repo;

/// `jig repo add NAME LOCATION [--ref REV]`: registers and pins a repository.
pub(super) fn add(dirs: &Dirs, name: &str, location: &str, rev: Option<&str>) -> Result<i32> {
    eprintln!("jig: adding repository {name} from {location}");
    let added = repo::add(dirs, name, location, rev)?;
    for (path, why) in &added.contents.refused {
        eprintln!("jig: warning: {name}:{path}: {why}");
    }
    eprintln!(
        "jig: added repository {name} ({} {}) pinned at {}: {} recipe(s)",
        added.repo.source.kind(),
        added.repo.source.location(),
        added.repo.pin,
        added.contents.files.len()
    );
    Ok(0)
}

/// `jig repo list`: one tab-separated line per repository on stdout.
pub(super) fn list(dirs: &Dirs) -> Result<i32> {
    let repos = repo::Repos::read(dirs)?;
    let mut out = std::io::stdout().lock();
    for (name, r) in &repos.repos {
        writeln!(
            out,
            "{name}\t{}\t{}\t{}\t{}",
            r.source.kind(),
            r.source.location(),
            r.rev.as_deref().unwrap_or("-"),
            r.pin
        )?;
    }
    Ok(0)
}

/// `jig repo update [NAME]`: moves pins, printing what moved and which recipes changed.
pub(super) fn update(dirs: &Dirs, name: Option<&str>) -> Result<i32> {
    let updated = repo::update(dirs, name)?;
    let mut out = std::io::stdout().lock();
    for u in &updated {
        for (path, why) in &u.refused {
            eprintln!("jig: warning: {}:{path}: {why}", u.name);
        }
        if u.old == u.new {
            writeln!(out, "{}: up to date at {}", u.name, repo::short(&u.new))?;
        } else {
            writeln!(
                out,
                "{}: {}..{}",
                u.name,
                repo::short(&u.old),
                repo::short(&u.new)
            )?;
        }
        for c in &u.changes {
            writeln!(out, "  {c}")?;
        }
    }
    Ok(0)
}

/// `jig repo remove NAME`: unregisters a repository.
pub(super) fn remove(dirs: &Dirs, name: &str) -> Result<i32> {
    let r = repo::remove(dirs, name)?;
    eprintln!(
        "jig: removed repository {name} ({}); recipes installed from it stay installed",
        r.source.location()
    );
    Ok(0)
}

/// `jig search`: tab-separated data on stdout; unreadable recipes as warnings.
pub(super) fn search(dirs: &Dirs, term: Option<&str>) -> Result<i32> {
    let (found, problems) = repo::search(dirs, term)?;
    for p in &problems {
        print_warning(p);
    }
    let mut out = std::io::stdout().lock();
    for f in &found {
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            f.name,
            f.versions.join(","),
            f.source,
            f.description
        )?;
    }
    Ok(0)
}
