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

/// What dpkg needs before its first run, and policy for a container image; for a
/// slim image (`slim`: the recipe's `slim_keep` globs) what dpkg leaves out.
pub fn prepare_dpkg(root: &Path, slim: Option<&[String]>) -> Result<()> {
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
    if let Some(keep) = slim {
        slim_config(root, keep)?;
    }
    Ok(())
}

/// dpkg's configuration of a slim image: docs, manuals, locales left out, but for the
/// copyright files and what `keep` (the recipe's `slim_keep` globs) names. dpkg
/// re-creates the directories an included path needs. Written again on top of a
/// cached base, whose own configuration had no recipe's globs.
pub fn slim_config(root: &Path, keep: &[String]) -> Result<()> {
    let mut cfg = String::from("# Written by jig: slim image.\n");
    for p in SLIM_EXCLUDE {
        cfg.push_str(&format!("path-exclude={p}\n"));
    }
    for p in SLIM_INCLUDE
        .iter()
        .copied()
        .chain(keep.iter().map(String::as_str))
    {
        cfg.push_str(&format!("path-include={p}\n"));
    }
    let p = root.join("etc/dpkg/dpkg.cfg.d/jig-slim");
    fs::create_dir_all(root.join("etc/dpkg/dpkg.cfg.d"))?;
    fs::write(&p, cfg).with_context(|| format!("writing {}", p.display()))?;
    fs::set_permissions(&p, fs::Permissions::from_mode(0o644))?;
    Ok(())
}

/// Removes build-only files and, for slim images, what the excludes describe (the
/// first extraction happened before dpkg knew them) except what `slim` keeps.
pub fn finish(root: &Path, slim: Option<&[String]>) -> Result<()> {
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
    let Some(keep) = slim else {
        return Ok(());
    };
    // The same rule dpkg applied: excluded unless an include glob matches. Without
    // `slim_keep` globs this removes exactly what jig always removed, so the tree
    // hashes (and the locks that record them) of earlier slim images still hold.
    let kept = |p: &Path| {
        let inside = Path::new("/").join(p.strip_prefix(root).unwrap_or(p));
        let inside = inside.to_string_lossy();
        keep.iter().any(|k| crate::base::glob::matches(k, &inside))
    };
    for dir in [
        "usr/share/man",
        "usr/share/info",
        "usr/share/lintian",
        "usr/share/linda",
    ] {
        prune(&root.join(dir), &kept)?;
    }
    // Docs: keep each package's copyright file.
    if let Ok(entries) = fs::read_dir(root.join("usr/share/doc")) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() && !p.is_symlink() {
                for f in fs::read_dir(&p)?.flatten() {
                    if f.file_name() != "copyright" && !kept(&f.path()) {
                        crate::image::store::remove_tree(&f.path())?;
                    }
                }
            }
        }
    }
    if let Ok(entries) = fs::read_dir(root.join("usr/share/locale")) {
        for e in entries.flatten() {
            if e.file_name() != "locale.alias" && !kept(&e.path()) {
                crate::image::store::remove_tree(&e.path())?;
            }
        }
    }
    for dir in ["var/lib/apt/lists", "var/cache/apt", "var/log/apt"] {
        empty_dir(&root.join(dir))?;
    }
    // man-db's directories for formatted pages: without them man formats each page
    // when asked, as it does for every user but root outside. Saving one would make
    // root inside chown it to the `man` user, whom a single-uid namespace cannot map
    // ("man: can't chown ...: Invalid argument"). Its index stays.
    if let Ok(entries) = fs::read_dir(root.join("var/cache/man")) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                crate::image::store::remove_tree(&e.path())?;
            }
        }
    }
    Ok(())
}

/// Removes everything below `dir` that `kept` does not keep, and the directories left
/// empty by that (all of it when nothing is kept).
fn prune(dir: &Path, kept: &dyn Fn(&Path) -> bool) -> Result<()> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let path = e.path();
        if kept(&path) {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            // As remove_tree does: a directory without u+rwx could not be emptied.
            let mode = e.metadata().map(|m| m.permissions().mode()).unwrap_or(0);
            if mode & 0o700 != 0o700 {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o700))?;
            }
            prune(&path, kept)?;
            // Left in place only when something below it was kept.
            let _ = fs::remove_dir(&path);
        } else {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A root with manuals, docs and locales as the first extraction leaves them.
    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        for f in [
            "usr/share/man/man1/git-log.1.gz",
            "usr/share/man/man1/ls.1.gz",
            "usr/share/man/man7/gitrevisions.7.gz",
            "usr/share/man/de/man1/git-log.1.gz",
            "usr/share/man/fr/man1/ls.1.gz",
            "usr/share/info/dir",
            "usr/share/doc/git/copyright",
            "usr/share/doc/git/changelog.gz",
            "var/cache/man/index.db",
            "var/cache/man/cat1/git-log.1.gz",
            "usr/share/locale/locale.alias",
            "usr/share/locale/de/LC_MESSAGES/git.mo",
            "usr/bin/git",
        ] {
            let p = t.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, f).unwrap();
        }
        t
    }

    fn files(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut todo = vec![root.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in fs::read_dir(&d).unwrap().flatten() {
                if e.file_type().unwrap().is_dir() {
                    todo.push(e.path());
                } else {
                    let rel = e.path().strip_prefix(root).unwrap().to_owned();
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn slim_keeps_copyrights_and_the_recipes_globs_and_nothing_else() {
        let t = tree();
        finish(t.path(), Some(&["/usr/share/man/man*/git*".to_owned()])).unwrap();
        assert_eq!(
            files(t.path()),
            [
                "usr/bin/git",
                "usr/share/doc/git/copyright",
                "usr/share/locale/locale.alias",
                "usr/share/man/man1/git-log.1.gz",
                "usr/share/man/man7/gitrevisions.7.gz",
                "var/cache/man/index.db",
            ]
        );
        // Directories nothing was kept in are gone too.
        assert!(!t.path().join("usr/share/man/fr").exists());
        assert!(t.path().join("usr/share/man").is_dir());
    }

    #[test]
    fn slim_without_globs_empties_the_manuals_as_before() {
        let t = tree();
        finish(t.path(), Some(&[])).unwrap();
        assert_eq!(
            files(t.path()),
            [
                "usr/bin/git",
                "usr/share/doc/git/copyright",
                "usr/share/locale/locale.alias",
                "var/cache/man/index.db",
            ]
        );
        assert_eq!(
            fs::read_dir(t.path().join("usr/share/man"))
                .unwrap()
                .count(),
            0
        );
        // Not slim: nothing goes.
        let t = tree();
        finish(t.path(), None).unwrap();
        assert_eq!(files(t.path()).len(), 13);
    }

    #[test]
    fn the_dpkg_configuration_includes_the_globs() {
        let t = tempfile::tempdir().unwrap();
        prepare_dpkg(t.path(), Some(&["/usr/share/man/man*/git*".to_owned()])).unwrap();
        let cfg = fs::read_to_string(t.path().join("etc/dpkg/dpkg.cfg.d/jig-slim")).unwrap();
        assert!(cfg.contains("path-exclude=/usr/share/man/*\n"), "{cfg}");
        assert!(
            cfg.contains("path-include=/usr/share/man/man*/git*\n"),
            "{cfg}"
        );
    }
}
