//! Debian images: from a resolved, verified package set to a configured root
//! filesystem, without debootstrap on the host.
//!
//! [`crate::image::source::debian`] resolves and downloads the packages. This module does what
//! debootstrap's two stages do, in jig's own runtime:
//! 1. extract the data archives of the Essential packages and their dependencies into
//!    a merged-/usr skeleton, which yields a tree where `sh` and `dpkg` run;
//! 2. run `dpkg --install` inside it as fake root ([`crate::image::build::steps::run_in`]), first for
//!    the Essential set and its dependencies, then for everything else in dependency
//!    order, then `dpkg --configure -a`. dpkg unpacks (again, for the Essential set),
//!    runs the maintainer scripts and writes its database, so afterwards `dpkg -l` and
//!    `apt` work in the image. Both passes use `--force-depends`: dpkg does not order
//!    the archives of one call by Pre-Depends (apt would), and the Essential tools the
//!    scripts rely on are in place from step 1; the final `dpkg --audit` must come back
//!    empty, which proves every package ended up installed and configured;
//! 3. optionally slim the result (documentation, manuals, locales, apt lists), keeping
//!    what the recipe names (`slim_keep`: a tool's own manuals, for `git help`).
//!
//! The image is cached under a key made of the signed index and the exact .deb
//! hashes, so rebuilding an unchanged recipe costs one index check and no work.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

use crate::base::digest::sha256_hex;
use crate::image::build::steps;
use crate::image::source::debian::{self, Deb, Fetched, Spec};
use crate::image::store::{DEFAULT_PATH, Image, ImageConfig, ImageMeta, PackagePin, Store};
use crate::runtime::spec::{Bind, Node};

/// Where the package cache is visible inside the build container.
const DEBS_INSIDE: &str = "/var/cache/jig/debs";

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

/// Builds (or finds cached) the Debian image for `spec` with `packages` installed,
/// slimmed when `slim` is given (keeping the paths its globs match). The packages jig
/// extracts itself are held to `limits` (dpkg unpacks the rest).
pub fn image(
    store: &Store,
    spec: &Spec,
    packages: &[String],
    slim: Option<&[String]>,
    limits: &crate::image::unpack::Limits,
) -> Result<Image> {
    let cache = store.root().join("debian");
    let fetched = debian::fetch(spec, packages, &cache)?;
    let key = cache_key(&fetched, slim);
    if let Some(image) = store.cached_build(&key)? {
        eprintln!(
            "jig: debian:{} image is up to date ({})",
            spec.suite,
            image.id.short()
        );
        return Ok(image);
    }
    let started = std::time::Instant::now();
    eprintln!(
        "jig: bootstrapping debian:{} with {} packages",
        spec.suite,
        fetched.debs.len()
    );
    let _lock = store.lock_shared()?;
    let temp = store.temp_image()?;
    let root = temp.rootfs();
    debian::merged_usr_skeleton(&root, &fetched.index.arch)?;
    let (essential, rest) = split_essential(&fetched.debs);
    // Only what dpkg needs to run (the Essential closure) is extracted by jig; dpkg
    // unpacks the rest itself, so no archive is decompressed more than twice.
    let phase = std::time::Instant::now();
    let budget =
        crate::image::unpack::Budget::new(*limits).context("setting up the image's limits")?;
    extract_parallel(&essential, &root, &budget)?;
    eprintln!(
        "jig: extracted {} essential packages in {:.1} s",
        essential.len(),
        phase.elapsed().as_secs_f64()
    );
    prepare_dpkg(&root, slim)?;

    let debs_dir = fetched
        .debs
        .first()
        .and_then(|d| d.path.parent())
        .context("no packages were resolved")?
        .to_owned();
    let binds = [Bind {
        src: debs_dir,
        dst: DEBS_INSIDE.into(),
        node: Node::Dir,
        readonly: true,
    }];
    let mut script = String::from("set -e\n");
    for (what, set) in [("essential", &essential), ("remaining", &rest)] {
        if set.is_empty() {
            continue;
        }
        let files: Vec<String> = dependency_order(set)
            .iter()
            .map(|d| format!("{DEBS_INSIDE}/{}", file_name(&d.path)))
            .collect();
        script.push_str(&format!(
            "echo 'jig: dpkg: installing {} {what} packages'\n\
             dpkg --install --force-depends --force-unsafe-io --force-confnew {}\n",
            set.len(),
            files.join(" ")
        ));
    }
    script.push_str(
        "dpkg --configure -a\n\
         problems=$(dpkg --audit)\n\
         if [ -n \"$problems\" ]; then echo \"$problems\"; exit 1; fi\n",
    );
    let phase = std::time::Instant::now();
    steps::run_in(&root, &script, &binds).context("dpkg could not install the packages")?;
    eprintln!(
        "jig: dpkg finished in {:.1} s",
        phase.elapsed().as_secs_f64()
    );
    finish(&root, slim)?;
    let image = store.commit(
        temp,
        ImageMeta {
            source: format!("debian:{} ({})", spec.suite, fetched.index.mirror),
            source_digest: Some(format!("sha256:{}", fetched.index.packages_sha256)),
            packages: fetched
                .debs
                .iter()
                .map(|d| PackagePin {
                    name: d.name.clone(),
                    version: d.version.clone(),
                    sha256: d.sha256.clone(),
                })
                .collect(),
            config: ImageConfig {
                env: vec![format!("PATH={DEFAULT_PATH}")],
                ..ImageConfig::default()
            },
            ..ImageMeta::default()
        },
    )?;
    store.remember_build(&key, &image.id)?;
    eprintln!(
        "jig: debian:{} image {} built in {:.1} s",
        spec.suite,
        image.id.short(),
        started.elapsed().as_secs_f64()
    );
    Ok(image)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

/// The cache key: the signed package index plus the exact package set and options.
fn cache_key(f: &Fetched, slim: Option<&[String]>) -> String {
    let mut text = format!(
        "jig-debian-v1\0{}\0slim={}\0",
        f.index.packages_sha256,
        slim.is_some()
    );
    // Only when there are any: images without them keep their earlier key.
    for keep in slim.unwrap_or_default() {
        text.push_str(&format!("keep={keep}\0"));
    }
    for d in &f.debs {
        text.push_str(&d.sha256);
        text.push('\0');
    }
    sha256_hex(text.as_bytes())
}

/// Essential packages and everything they depend on come first; the rest after.
/// Extracts `debs` into `root`, spread over the machine's cores by forked processes
/// (xz decompression is the cost; the sets are balanced by .deb size).
///
/// Processes rather than threads: a jig process may go on to enter a user namespace
/// (`jig run` installs on first use), which the kernel allows only while it is
/// single-threaded, and a joined thread can still be leaving the thread group. Order
/// does not matter here: these files only let dpkg run, and dpkg installs the same
/// packages over them. Concurrent extractors share directories, which the unpacker
/// creates race-free, and the image's `budget`, whose counts live in shared memory.
fn extract_parallel(
    debs: &[&Deb],
    root: &Path,
    budget: &crate::image::unpack::Budget,
) -> Result<()> {
    use nix::sys::wait::{WaitStatus, waitpid};
    use nix::unistd::{ForkResult, fork};
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(debs.len().max(1));
    let mut sets: Vec<(u64, Vec<&Deb>)> = vec![(0, Vec::new()); workers];
    let mut by_size: Vec<&Deb> = debs.to_vec();
    by_size.sort_by_key(|d| std::cmp::Reverse(d.size));
    for d in by_size {
        let lightest = sets
            .iter_mut()
            .min_by_key(|(w, _)| *w)
            .expect("workers >= 1");
        lightest.0 += d.size;
        lightest.1.push(d);
    }
    let extract = |set: &[&Deb]| -> Result<()> {
        for deb in set {
            debian::extract_data(&deb.path, root, budget)
                .with_context(|| format!("extracting {} {}", deb.name, deb.version))?;
        }
        Ok(())
    };
    let mut children = Vec::new();
    for (_, set) in &sets[1..] {
        // SAFETY: jig is single-threaded here (see above); the child only extracts
        // files and leaves with _exit, never returning into the caller's state.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                let code = match extract(set) {
                    Ok(()) => 0,
                    Err(e) => {
                        eprintln!("jig: {e:#}");
                        1
                    }
                };
                // SAFETY: _exit skips the destructors and buffered output that belong
                // to the parent's copy of the process.
                unsafe { libc::_exit(code) };
            }
            ForkResult::Parent { child } => children.push(child),
        }
    }
    let mine = extract(&sets[0].1);
    let mut failed = false;
    for child in children {
        failed |= !matches!(waitpid(child, None), Ok(WaitStatus::Exited(_, 0)));
    }
    mine?;
    if failed {
        anyhow::bail!("extracting the essential packages failed (see above)");
    }
    Ok(())
}

fn split_essential(debs: &[Deb]) -> (Vec<&Deb>, Vec<&Deb>) {
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
fn dependency_order<'a>(set: &[&'a Deb]) -> Vec<&'a Deb> {
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
fn prepare_dpkg(root: &Path, slim: Option<&[String]>) -> Result<()> {
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
        let mut cfg = String::from("# Written by jig: slim image.\n");
        for p in SLIM_EXCLUDE {
            cfg.push_str(&format!("path-exclude={p}\n"));
        }
        // dpkg re-creates the directories an included path needs.
        for p in SLIM_INCLUDE
            .iter()
            .copied()
            .chain(keep.iter().map(String::as_str))
        {
            cfg.push_str(&format!("path-include={p}\n"));
        }
        w("etc/dpkg/dpkg.cfg.d/jig-slim", &cfg, 0o644)?;
    }
    Ok(())
}

/// Removes build-only files and, for slim images, what the excludes describe (the
/// first extraction happened before dpkg knew them) except what `slim` keeps.
fn finish(root: &Path, slim: Option<&[String]>) -> Result<()> {
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
        // Only images with globs get a new cache key.
        let f = Fetched {
            index: debian::IndexInfo {
                suite: "s".into(),
                codename: "s".into(),
                mirror: "m".into(),
                snapshot: None,
                arch: "amd64".into(),
                inrelease_sha256: "i".into(),
                packages_sha256: "p".into(),
                signer: None,
            },
            debs: vec![],
            downloaded: Default::default(),
        };
        let none: &[String] = &[];
        assert_eq!(
            cache_key(&f, Some(none)),
            sha256_hex(b"jig-debian-v1\0p\0slim=true\0")
        );
        assert_ne!(
            cache_key(&f, Some(&["/usr/share/man/man*/git*".to_owned()])),
            cache_key(&f, Some(none))
        );
    }
}
