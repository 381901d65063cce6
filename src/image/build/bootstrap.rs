//! Debian images: from a resolved, verified package set to a configured root
//! filesystem, without debootstrap on the host.
//!
//! [`crate::image::source::debian`] resolves and downloads the packages. This module does what
//! debootstrap's two stages do, in jig's own runtime:
//! 1. extract the data archives of the Essential packages and their dependencies into
//!    a merged-/usr skeleton, which yields a tree where `sh` and `dpkg` run;
//! 2. run `dpkg --install` inside it as fake root ([`crate::image::build::dpkg`]), first
//!    for the Essential set and its dependencies, then for everything else in
//!    dependency order, then `dpkg --configure -a`. dpkg unpacks (again, for the
//!    Essential set), runs the maintainer scripts and writes its database, so
//!    afterwards `dpkg -l` and `apt` work in the image;
//! 3. optionally slim the result (documentation, manuals, locales, apt lists).
//!
//! Every recipe of a suite starts from the same configured base (Essential + apt),
//! so that base is built once, cached under a key made of its exact .deb hashes, and
//! a recipe's own packages are installed on top of a copy of it
//! ([`crate::image::build::layer`]); the base and the result are both plain images,
//! and sharing files across images ([`crate::image::store::files`]) keeps the copies
//! cheap on disk. Two builds of the same set, anywhere, still give the same tree: the
//! base is the same, and so is what dpkg does on top of it. When the resolution with
//! the recipe's packages picks other versions for the base's packages (which Debian's
//! own dependencies rarely make happen), the image is built from scratch instead.
//!
//! The image is cached under a key made of the signed index and the exact .deb
//! hashes, so rebuilding an unchanged recipe costs one index check and no work. One
//! build per key runs at a time ([`crate::image::store::flight`]).

use std::path::Path;

use anyhow::{Context, Result};

use crate::base::digest::sha256_hex;
use crate::image::build::dpkg;
use crate::image::build::layer;
use crate::image::source::debian::{self, Deb, Fetched, Spec};
use crate::image::source::progress;
use crate::image::store::{
    DEFAULT_PATH, Image, ImageConfig, ImageMeta, PackagePin, Store, flight, space,
};

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
    let all: Vec<&Deb> = fetched.debs.iter().collect();
    let key = cache_key(&fetched, slim);
    let up_to_date = |image: &Image| {
        progress::phase(&format!(
            "debian:{} image is up to date ({})",
            spec.suite,
            image.id.short()
        ));
    };
    if let Some(image) = store.cached_build(&key)? {
        up_to_date(&image);
        return Ok(image);
    }
    let what = format!("debian:{} with {} packages", spec.suite, all.len());
    let flight = flight::take(&store.locks_dir(), &key, &what)?;
    if flight.waited
        && let Some(image) = store.cached_build(&key)?
    {
        up_to_date(&image);
        return Ok(image);
    }
    let started = std::time::Instant::now();
    let meta = meta_of(spec, &fetched, &all);
    let (base, top): (Vec<&Deb>, Vec<&Deb>) =
        all.iter().partition(|d| fetched.base.contains(&d.name));
    let image = if fetched.base.is_empty() || top.is_empty() {
        build_full(store, spec, &all, slim, limits, meta)?
    } else {
        // The base is every recipe's: slimmed without any recipe's globs.
        let base_slim = slim.map(|_| &[] as &[String]);
        let base_image = base_of(store, spec, &fetched, &base, base_slim, limits)?;
        progress::phase(&format!(
            "installing {} packages on the debian:{} base ({})",
            top.len(),
            spec.suite,
            base_image.id.short()
        ));
        let need = dpkg::installed_size(&top) + base_image.meta.size;
        layer::on_top(store, &base_image, &top, slim, meta)
            .map_err(|e| space::explain(e, &store.tmp_dir(), &what, Some(need)))?
    };
    store.remember_build(&key, &image.id)?;
    progress::phase(&format!(
        "debian:{} image {} built in {:.1} s",
        spec.suite,
        image.id.short(),
        started.elapsed().as_secs_f64()
    ));
    Ok(image)
}

/// The metadata of an image of `debs` from `fetched`'s index.
fn meta_of(spec: &Spec, fetched: &Fetched, debs: &[&Deb]) -> ImageMeta {
    ImageMeta {
        source: format!("debian:{} ({})", spec.suite, fetched.index.mirror),
        source_digest: Some(format!("sha256:{}", fetched.index.packages_sha256)),
        packages: debs
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
    }
}

/// The suite's configured base (`base`: Essential + apt), cached by its exact .debs.
fn base_of(
    store: &Store,
    spec: &Spec,
    fetched: &Fetched,
    base: &[&Deb],
    slim: Option<&[String]>,
    limits: &crate::image::unpack::Limits,
) -> Result<Image> {
    let mut text = format!(
        "jig-debian-base-v1\0{}\0slim={}\0",
        fetched.index.arch,
        slim.is_some()
    );
    for d in base {
        text.push_str(&d.sha256);
        text.push('\0');
    }
    let key = sha256_hex(text.as_bytes());
    if let Some(image) = store.cached_build(&key)? {
        return Ok(image);
    }
    let what = format!("the debian:{} base", spec.suite);
    let flight = flight::take(&store.locks_dir(), &key, &what)?;
    if flight.waited
        && let Some(image) = store.cached_build(&key)?
    {
        return Ok(image);
    }
    let mut meta = meta_of(spec, fetched, base);
    meta.source = format!("debian:{} base ({})", spec.suite, fetched.index.mirror);
    let image = build_full(store, spec, base, slim, limits, meta)?;
    store.remember_build(&key, &image.id)?;
    Ok(image)
}

/// Bootstraps `debs` from nothing: extraction of the Essential closure, then dpkg.
fn build_full(
    store: &Store,
    spec: &Spec,
    debs: &[&Deb],
    slim: Option<&[String]>,
    limits: &crate::image::unpack::Limits,
    meta: ImageMeta,
) -> Result<Image> {
    progress::phase(&format!(
        "bootstrapping debian:{} with {} packages",
        spec.suite,
        debs.len()
    ));
    let what = format!("the debian:{} image", spec.suite);
    let need = dpkg::installed_size(debs);
    let explain = |e| space::explain(e, &store.tmp_dir(), &what, Some(need));
    let temp = store.temp_image().map_err(explain)?;
    let root = temp.rootfs();
    let arch = &debs.first().context("no packages were resolved")?.arch;
    let arch = if arch == "all" {
        debian::host_arch()?
    } else {
        arch.as_str()
    };
    debian::merged_usr_skeleton(&root, arch)?;
    let owned: Vec<Deb> = debs.iter().map(|d| (*d).clone()).collect();
    let (essential, rest) = dpkg::split_essential(&owned);
    // Only what dpkg needs to run (the Essential closure) is extracted by jig; dpkg
    // unpacks the rest itself, so no archive is decompressed more than twice.
    progress::status(&format!(
        "extracting {} essential packages",
        essential.len()
    ));
    let budget =
        crate::image::unpack::Budget::new(*limits).context("setting up the image's limits")?;
    extract_parallel(&essential, &root, &budget).map_err(explain)?;
    dpkg::prepare_dpkg(&root, slim)?;
    let sets: [(&str, &[&Deb]); 2] = [("essential", &essential), ("remaining", &rest)];
    dpkg::install(&root, &sets, &dpkg::debs_dir(debs)?).map_err(explain)?;
    dpkg::finish(&root, slim)?;
    store.commit(temp, meta).map_err(explain)
}

/// The cache key: the signed package index plus the exact package set and options
/// (v2: built on the suite's cached base).
fn cache_key(f: &Fetched, slim: Option<&[String]>) -> String {
    let mut text = format!(
        "jig-debian-v2\0{}\0slim={}\0",
        f.index.packages_sha256,
        slim.is_some()
    );
    // Only when there are any: images without them keep their key.
    for keep in slim.unwrap_or_default() {
        text.push_str(&format!("keep={keep}\0"));
    }
    for d in &f.debs {
        text.push_str(&d.sha256);
        text.push('\0');
    }
    sha256_hex(text.as_bytes())
}

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
    let parent = nix::unistd::getpid().as_raw();
    for (_, set) in &sets[1..] {
        // SAFETY: jig is single-threaded here (see above); the child only extracts
        // files and leaves with _exit, never returning into the caller's state.
        match unsafe { fork() }.context("fork")? {
            ForkResult::Child => {
                // A killed jig takes its extractors with it.
                let code = match crate::base::child::die_with_parent(parent, libc::SIGKILL)
                    .map_err(anyhow::Error::from)
                    .and_then(|()| extract(set))
                {
                    Ok(()) => 0,
                    // A full disk, told to the parent by the status (28: ENOSPC).
                    Err(e) if space::is_full(&e) => {
                        eprintln!("jig: {e:#}");
                        FULL
                    }
                    // Stopped by a signal: the parent says so.
                    Err(_) if crate::base::interrupt::received().is_some() => 1,
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
    let (mut failed, mut full) = (false, false);
    for child in children {
        let status = loop {
            match waitpid(child, None) {
                Err(nix::errno::Errno::EINTR) => {
                    // A caught signal: the children see the same flag and stop at
                    // their next entry; a SIGTERM sent to jig alone reaches them not.
                    if crate::base::interrupt::received().is_some() {
                        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
                    }
                }
                other => break other,
            }
        };
        full |= matches!(status, Ok(WaitStatus::Exited(_, FULL)));
        failed |= !matches!(status, Ok(WaitStatus::Exited(_, 0)));
    }
    crate::base::interrupt::check()?;
    mine?;
    if full {
        return Err(std::io::Error::from_raw_os_error(libc::ENOSPC))
            .context("extracting the essential packages (see above)");
    }
    if failed {
        anyhow::bail!("extracting the essential packages failed (see above)");
    }
    Ok(())
}

/// The exit status of an extractor that found the disk full.
const FULL: i32 = libc::ENOSPC;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_with_keep_globs_get_a_new_cache_key() {
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
            base: Default::default(),
            downloaded: Default::default(),
        };
        let none: &[String] = &[];
        assert_eq!(
            cache_key(&f, Some(none)),
            sha256_hex(b"jig-debian-v2\0p\0slim=true\0")
        );
        assert_ne!(
            cache_key(&f, Some(&["/usr/share/man/man*/git*".to_owned()])),
            cache_key(&f, Some(none))
        );
    }
}
