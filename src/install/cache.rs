//! The image cache at install time (`[cache]` of `config.toml`, or a trusted
//! project's): which cache an install uses, the facts its key is made of, the lookup
//! before a build and the push after one. The registry side is
//! [`crate::image::cache`].
//!
//! The facts come from the project's `jig.lock` entry when there is one (so a machine
//! without the Debian mirror, or the origin registry, still finds its images), else
//! from the sources as they resolve now: the Debian suite's signed index and package
//! set (no .deb downloaded), the digest an OCI tag names, a busybox binary's or
//! rootfs tarball's hash. A directory rootfs and a Dockerfile have no key: they build.
//!
//! A miss, an unreachable cache or a source that cannot be resolved builds as before,
//! with one line saying so; a hit that fails a check (its key, its metadata, a blob,
//! its tree hash, the lock's tree hash) is an error.

use std::path::Path;

use anyhow::{Context, Result};

use crate::base::config::CacheRepo;
use crate::base::paths::Dirs;
use crate::image::cache::{self, Facts};
use crate::image::source::progress;
use crate::image::store::{Image, ImageMeta, PackagePin, Store};
use crate::project::lock::Locked;
use crate::recipe::{ImageSpec, Loaded, Source};

/// The cache an install uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    /// Where.
    pub repo: CacheRepo,
    /// Push what this install builds.
    pub push: bool,
}

impl Cache {
    /// The cache of an install in the current directory: a trusted project's `[cache]`
    /// (an untrusted one is ignored, saying so), else `config.toml`'s; `push_flag`
    /// (`--push-cache`) pushes whatever the config says. A project's cache is only
    /// pushed to when it is also the config's, or with the flag.
    pub fn choose(dirs: &Dirs, push_flag: bool) -> Result<Option<Cache>> {
        let config = crate::base::config::load()?.cache;
        let project = std::env::current_dir()
            .ok()
            .map(|cwd| crate::project::find(&cwd))
            .transpose()?
            .flatten();
        if let Some(found) = &project
            && let Some(pc) = &found.file.cache
        {
            if crate::project::trust::is_trusted(dirs, found)? {
                let push = push_flag
                    || config
                        .as_ref()
                        .is_some_and(|c| c.push && c.registry == pc.registry);
                return Ok(Some(Cache {
                    repo: pc.registry.clone(),
                    push,
                }));
            }
            progress::note(&format!(
                "ignoring the cache {} that {} names until you run `jig trust` in {}",
                pc.registry,
                found.path.display(),
                found.dir.display()
            ));
        }
        match config {
            Some(c) => Ok(Some(Cache {
                repo: c.registry,
                push: c.push || push_flag,
            })),
            None if push_flag => Err(crate::base::error::hinted(
                "--push-cache: no image cache is configured",
                format!(
                    "set [cache] registry = \"HOST[:PORT]/REPO\" in {}",
                    crate::base::config::path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "jig's config.toml".into())
                ),
            )),
            None => Ok(None),
        }
    }
}

/// The facts of the image `loaded` builds from `spec` (its `[image]` as built: a
/// locked OCI digest already in its reference): from `pinned` when it names the
/// sources, else resolved now. `Ok(None)`: a source without a key.
pub fn facts(
    store: &Store,
    spec: &ImageSpec,
    loaded: &Loaded,
    base_dir: Option<&Path>,
    pinned: Option<&Locked>,
) -> Result<Option<Facts>> {
    let recipe = crate::base::digest::prefixed(&loaded.hash);
    let (source_digest, packages) = match &spec.from {
        Source::Debian(suite) => match pinned {
            Some(p) if p.index.is_some() && !p.packages.is_empty() => {
                (p.index.clone().expect("checked"), p.packages.clone())
            }
            _ => {
                let config = crate::base::config::load()?;
                let debian = crate::image::build::debian_spec(spec, suite.as_str(), &config);
                let extra: Vec<String> = spec
                    .packages
                    .iter()
                    .map(|p| p.as_str().to_owned())
                    .collect();
                let (index, set) = crate::image::source::debian::resolve_with_index(
                    &debian,
                    &extra,
                    &store.root().join("debian"),
                )?;
                let pins = set
                    .into_iter()
                    .map(|(name, version, sha256)| PackagePin {
                        name,
                        version,
                        sha256,
                    })
                    .collect();
                (index, pins)
            }
        },
        Source::Oci(r) => match (&r.digest, pinned.and_then(|p| p.digest.as_ref())) {
            (Some(d), _) | (None, Some(d)) => (d.clone(), Vec::new()),
            (None, None) => (crate::image::source::oci::tag_digest(r)?, Vec::new()),
        },
        Source::Busybox(path) => (file_digest(path)?, Vec::new()),
        Source::Rootfs(path) => {
            let path = match base_dir {
                Some(b) if path.is_relative() => b.join(path),
                _ => path.clone(),
            };
            if path.is_dir() {
                return Ok(None);
            }
            (file_digest(&path)?, Vec::new())
        }
        Source::Dockerfile(_) => return Ok(None),
    };
    Ok(Some(Facts {
        recipe,
        source_digest,
        packages,
    }))
}

/// The facts of an image already made from a recipe whose resolved content hash is
/// `recipe_hash` (hex): what its metadata records. `None` for a source without a key.
pub fn facts_of(spec: &ImageSpec, recipe_hash: &str, meta: &ImageMeta) -> Option<Facts> {
    if matches!(spec.from, Source::Dockerfile(_)) {
        return None;
    }
    Some(Facts {
        recipe: crate::base::digest::prefixed(recipe_hash),
        source_digest: meta.source_digest.clone()?,
        packages: meta.packages.clone(),
    })
}

fn file_digest(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(crate::base::digest::sha256_digest(&bytes))
}

/// Before a build: the image `facts` name, from the cache, or `Ok(None)` to build
/// (one line says why). In a locked project the claimed image must be the locked
/// one before anything is downloaded.
pub fn lookup(
    cache: &Cache,
    store: &Store,
    facts: Result<Option<Facts>>,
    pinned: Option<&Locked>,
) -> Result<Option<Image>> {
    let repo = &cache.repo;
    // A stop asked for while the sources resolved or the cache was asked is a stop,
    // not a reason to build.
    let stop = || crate::base::interrupt::check().map_err(anyhow::Error::from);
    stop()?;
    let facts = match facts {
        Ok(Some(f)) => f,
        Ok(None) => {
            progress::note(&format!(
                "not looked up in the cache {repo}: this source has no cache key; building"
            ));
            return Ok(None);
        }
        Err(e) => {
            progress::note(&format!(
                "not looked up in the cache {repo}: its sources do not resolve ({e:#}); building"
            ));
            return Ok(None);
        }
    };
    let key = facts.key();
    let asked = cache::lookup(repo, &key);
    stop()?;
    let tagged = match asked {
        Ok(Some(t)) => t,
        Ok(None) => {
            progress::note(&format!(
                "not in the cache {repo} ({}); building",
                cache::tag(&key)
            ));
            return Ok(None);
        }
        Err(e) => {
            progress::note(&format!(
                "the cache {repo} did not answer ({e:#}); building"
            ));
            return Ok(None);
        }
    };
    let image = fetch(repo, store, tagged, &facts, pinned)?;
    progress::note(&format!("image {} from the cache {repo}", image.id.short()));
    Ok(Some(image))
}

/// What the cache holds under `facts`' tag, checked ([`cache::check`]), compared with
/// the lock's tree hash in a locked project before anything is downloaded, and
/// fetched ([`cache::fetch`]).
pub fn fetch(
    repo: &CacheRepo,
    store: &Store,
    tagged: crate::image::source::oci::Tagged,
    facts: &Facts,
    pinned: Option<&Locked>,
) -> Result<Image> {
    let hit = cache::check(repo, tagged, facts)?;
    if let Some(p) = pinned
        && p.image != hit.image.to_string()
    {
        return Err(crate::base::error::hinted(
            format!(
                "the cache {repo} holds image {} for this key, but jig.lock has {}",
                hit.image, p.image
            ),
            "the image was built differently where it was pushed; `jig lock --upgrade` accepts the new one",
        ));
    }
    let limits = crate::base::config::load()?.limits;
    cache::fetch(repo, hit, store, &limits)
}

/// `spec` as an install builds it with the lock entry `pinned`: an OCI tag at the
/// locked digest.
pub fn as_built(spec: &ImageSpec, pinned: Option<&Locked>) -> ImageSpec {
    let mut spec = spec.clone();
    if let (Some(p), Source::Oci(r)) = (pinned, &spec.from)
        && let Some(d) = &p.digest
        && r.digest.is_none()
    {
        let mut r = r.clone();
        r.digest = Some(d.clone());
        spec.from = Source::Oci(r);
    }
    spec
}

/// After a build with `push`: the image to the cache under the key its own metadata
/// gives. A failure is a warning: the install itself succeeded.
pub fn push_built(
    cache: &Cache,
    store: &Store,
    spec: &ImageSpec,
    recipe_hash: &str,
    image: &Image,
) {
    let repo = &cache.repo;
    let Some(facts) = facts_of(spec, recipe_hash, &image.meta) else {
        progress::note(&format!(
            "not pushed to the cache {repo}: this source has no cache key"
        ));
        return;
    };
    match cache::push(repo, store, image, &facts) {
        Ok(tag) => progress::note(&format!("pushed to the cache {repo} as {tag}")),
        Err(e) => progress::note(&format!("warning: not pushed to the cache {repo}: {e:#}")),
    }
}
