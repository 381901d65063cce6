//! What the Debian builds share: the order dpkg installs packages in, the script that
//! installs them (inside jig's runtime, [`crate::image::build::steps::run_in`]), the
//! policy files dpkg and apt need in a container image, and the clean-up afterwards
//! (slim images drop docs, manuals, locales and apt lists; no build leaves logs or
//! caches that carry timestamps).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use crate::image::source::debian::Deb;
use crate::image::source::progress;
use crate::runtime::spec::{Bind, Node};

/// Where the package cache is visible inside the build container.
pub const DEBS_INSIDE: &str = "/var/cache/jig/debs";

/// Paths dropped from slim images (dpkg path-exclude syntax), with the exceptions kept.
const SLIM_EXCLUDE: &[&str] = &[
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
    "/usr/share/lintian/*",
    "/usr/share/linda/*",
];
const SLIM_INCLUDE: &[&str] = &[
    "/usr/share/doc/*/copyright",
    "/usr/share/locale/locale.alias",
];

/// The file name of a path, for the script.
pub fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// Installs `sets` (in order, each `(what, packages)`) with dpkg inside `root`, one
/// `dpkg --install` per set so the build's display can count each set's packages as
/// dpkg unpacks and configures them, then configures everything and checks that
/// nothing is left half-installed. Both passes use `--force-depends`: dpkg does not
/// order the archives of one call by Pre-Depends (apt would), and the tools the
/// scripts rely on are in place already; the final `dpkg --audit` must come back
/// empty, which proves every package ended up installed and configured.
pub fn install(root: &Path, sets: &[(&str, &[&Deb])], debs_dir: &Path) -> Result<()> {
    let mut total = 0;
    for (what, set) in sets {
        if set.is_empty() {
            continue;
        }
        total += set.len();
        let files: Vec<String> = dependency_order(set)
            .iter()
            .map(|d| format!("{DEBS_INSIDE}/{}", file_name(&d.path)))
            .collect();
        let script = format!(
            "set -e\n\
             dpkg --install --force-depends --force-unsafe-io --force-confnew {}\n",
            files.join(" ")
        );
        progress::counted(
            &format!("installing {} {what} packages", set.len()),
            false,
            &[("Unpacking ", "unpacking"), ("Setting up ", "configuring")],
            set.len() as u64,
        );
        run(root, &script, debs_dir)?;
    }
    progress::counted(
        "configuring",
        true,
        &[("Setting up ", "configuring")],
        total as u64,
    );
    let script = "set -e\n\
                  dpkg --configure -a\n\
                  problems=$(dpkg --audit)\n\
                  if [ -n \"$problems\" ]; then echo \"$problems\"; exit 1; fi\n";
    let done = run(root, script, debs_dir);
    progress::uncounted();
    done
}

/// Runs `script` in `root` as fake root with the package cache `debs_dir` bound
/// read-only where the script expects it.
pub fn run(root: &Path, script: &str, debs_dir: &Path) -> Result<()> {
    let binds = [Bind {
        src: debs_dir.to_owned(),
        dst: DEBS_INSIDE.into(),
        node: Node::Dir,
        readonly: true,
    }];
    crate::image::build::steps::run_in(root, script, &binds)
        .context("dpkg could not install the packages")
}

/// The directory the verified .debs are in.
pub fn debs_dir(debs: &[&Deb]) -> Result<std::path::PathBuf> {
    Ok(debs
        .first()
        .and_then(|d| d.path.parent())
        .context("no packages were resolved")?
        .to_owned())
}

/// Bytes the packages take installed (what the index says), for messages.
pub fn installed_size(debs: &[&Deb]) -> u64 {
    debs.iter().map(|d| d.installed_size).sum()
}

/// Essential packages and everything they depend on come first; the rest after.
pub fn split_essential(debs: &[Deb]) -> (Vec<&Deb>, Vec<&Deb>) {
    let by_name: BTreeMap<&str, &Deb> = debs.iter().map(|d| (d.name.as_str(), d)).collect();
    let mut closure = BTreeSet::new();
    let mut todo: Vec<&str> = debs
        .iter()
        .filter(|d| d.essential)
        .map(|d| d.name.as_str())
        .collect();
    while let Some(name) = todo.pop() {
        if !closure.insert(name) {
            continue;
        }
        if let Some(d) = by_name.get(name) {
            todo.extend(d.depends.iter().map(String::as_str));
        }
    }
    debs.iter().partition(|d| closure.contains(d.name.as_str()))
}

/// Orders packages so that each comes after what it depends on (as far as cycles
/// allow), keeping the input order otherwise.
pub fn dependency_order<'a>(set: &[&'a Deb]) -> Vec<&'a Deb> {
    let by_name: BTreeMap<&str, &'a Deb> = set.iter().map(|d| (d.name.as_str(), *d)).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::with_capacity(set.len());
    fn visit<'a>(
        d: &'a Deb,
        by_name: &BTreeMap<&str, &'a Deb>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<&'a Deb>,
    ) {
        if !done.insert(d.name.clone()) {
            return;
        }
        for dep in &d.depends {
            if let Some(x) = by_name.get(dep.as_str()) {
                visit(x, by_name, done, out);
            }
        }
        out.push(d);
    }
    for d in set {
        visit(d, &by_name, &mut done, &mut out);
    }
    out
}

/// What dpkg needs before its first run, and policy for a container image.
pub fn prepare_dpkg(root: &Path, slim: bool) -> Result<()> {
    let w = |rel: &str, text: &str, mode: u32| -> Result<()> {
        let p = root.join(rel);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(mode))?;
        Ok(())
    };
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "var/lib/dpkg/alternatives",
        "var/cache/jig/debs",
        "etc/apt/apt.conf.d",
        "etc/dpkg/dpkg.cfg.d",
    ] {
        fs::create_dir_all(root.join(d))?;
    }
    w("var/lib/dpkg/status", "", 0o644)?;
    w("var/lib/dpkg/available", "", 0o644)?;
    // No service may start while packages are configured.
    w("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n", 0o755)?;
    // apt drops privileges to _apt, which a single-uid namespace cannot map.
    w(
        "etc/apt/apt.conf.d/00jig",
        "// Written by jig: images run in a single-uid user namespace.\nAPT::Sandbox::User \"root\";\n",
        0o644,
    )?;
    if slim {
        let mut cfg = String::from("# Written by jig: slim image.\n");
        for p in SLIM_EXCLUDE {
            cfg.push_str(&format!("path-exclude={p}\n"));
        }
        for p in SLIM_INCLUDE {
            cfg.push_str(&format!("path-include={p}\n"));
        }
        w("etc/dpkg/dpkg.cfg.d/jig-slim", &cfg, 0o644)?;
    }
    Ok(())
}

/// Removes build-only files and, for slim images, what the excludes describe (the
/// first extraction happened before dpkg knew them).
pub fn finish(root: &Path, slim: bool) -> Result<()> {
    let _ = fs::remove_file(root.join("usr/sbin/policy-rc.d"));
    let _ = fs::remove_dir(root.join("var/cache/jig/debs"));
    let _ = fs::remove_dir(root.join("var/cache/jig"));
    // Logs of the build itself carry timestamps and say nothing about the image;
    // ldconfig's aux-cache records file times and is rebuilt on demand.
    for f in [
        "var/log/dpkg.log",
        "var/log/alternatives.log",
        "var/log/bootstrap.log",
        "var/cache/ldconfig/aux-cache",
    ] {
        let _ = fs::remove_file(root.join(f));
    }
    if !slim {
        return Ok(());
    }
    for dir in [
        "usr/share/man",
        "usr/share/info",
        "usr/share/lintian",
        "usr/share/linda",
    ] {
        empty_dir(&root.join(dir))?;
    }
    // Docs: keep each package's copyright file.
    if let Ok(entries) = fs::read_dir(root.join("usr/share/doc")) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                for f in fs::read_dir(&p)?.flatten() {
                    if f.file_name() != "copyright" {
                        crate::image::store::remove_tree(&f.path())?;
                    }
                }
            }
        }
    }
    if let Ok(entries) = fs::read_dir(root.join("usr/share/locale")) {
        for e in entries.flatten() {
            if e.file_name() != "locale.alias" {
                crate::image::store::remove_tree(&e.path())?;
            }
        }
    }
    for dir in ["var/lib/apt/lists", "var/cache/apt", "var/log/apt"] {
        empty_dir(&root.join(dir))?;
    }
    Ok(())
}

fn empty_dir(dir: &Path) -> Result<()> {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            crate::image::store::remove_tree(&e.path())
                .with_context(|| format!("removing {}", e.path().display()))?;
        }
    }
    Ok(())
}
