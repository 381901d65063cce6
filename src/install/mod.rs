//! Installing and uninstalling recipes: realize the image, record the entry in the
//! installed index, and keep the shim directory in step with the index.

pub mod approved;
pub mod cache;
pub mod index;
pub mod outdated;
pub mod permissions;
pub mod remote;
pub mod shims;

pub use shims::{jig_exe, reshim, uninstall, write_shims};

use anyhow::{Result, bail};

use crate::base::paths::Dirs;
use crate::image::build::steps;
use crate::image::store::ImageMeta;
use crate::image::store::Store;
use crate::image::store::{flight, space};
use crate::install::index::{Entry, Index, InstalledTool};
use crate::project::lock;
use crate::recipe::Loaded;

/// What an install did.
#[derive(Debug)]
pub struct Done {
    /// Recipe name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// The entry recorded.
    pub entry: Entry,
    /// Shims created or kept.
    pub shims: Vec<String>,
    /// What the image was made from (the base image's metadata, before build steps).
    pub base: ImageMeta,
}

/// How to install.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Take over shim names that another recipe owns.
    pub force: bool,
    /// Approve the recipe's requests without asking.
    pub yes: bool,
    /// Install as a project recipe (kept by content hash, see [`Index::projects`]).
    pub project: bool,
    /// Ignore the project's `jig.lock` and resolve afresh (`jig lock --upgrade`).
    pub upgrade: bool,
    /// Push what is built to the image cache (`--push-cache`), whatever `config.toml`
    /// says.
    pub push_cache: bool,
}

/// An install the user approved (or that asks nothing new), not started yet: made by
/// [`prepare`], carried out by [`finish`].
#[derive(Debug)]
pub struct Ready<'a> {
    /// The recipe with all its versions.
    full: &'a Loaded,
    /// The recipe resolved for the version installed.
    loaded: Loaded,
    /// The lock entry the install must reproduce, if any.
    pinned: Option<lock::Locked>,
}

impl Ready<'_> {
    /// The recipe's name and the version to install.
    pub fn what(&self) -> (&str, &str) {
        (
            self.loaded.recipe.name.as_str(),
            self.loaded.recipe.version.as_str(),
        )
    }
}

/// Installs one version of a loaded recipe (`request` as in [`Loaded::at`]; `None` for
/// its default): asks the user to approve what it requests, builds or imports its
/// image, records it and writes its shims. The recipe's default version stays the one
/// shims run when nothing pins another. [`prepare`] then [`finish`].
pub fn install(dirs: &Dirs, full: &Loaded, request: Option<&str>, opts: &Options) -> Result<Done> {
    let ready = prepare(dirs, full, request, opts)?;
    finish(dirs, ready, opts)
}

/// The part of [`install`] that needs the user: the lock check, then what the recipe
/// asks for and how its image is built, and the question. Nothing is downloaded or
/// built yet, so `jig install a b c` prepares every recipe before it finishes any, and
/// the user answers every question before the first build starts.
pub fn prepare<'a>(
    dirs: &Dirs,
    full: &'a Loaded,
    request: Option<&str>,
    opts: &Options,
) -> Result<Ready<'a>> {
    let loaded = full.at(request)?;
    let recipe = &loaded.recipe;
    let name = recipe.name.to_string();
    let version = recipe.version.to_string();
    // Before asking anything: in locked mode an install the lock does not name stops
    // here, before a download or a build step.
    let pinned = if opts.upgrade {
        None
    } else {
        lock_pin(&loaded)?
    };
    // What the user approved for this recipe before: this version's, else the
    // default's, else any installed version's.
    let index = Index::read(&dirs.index())?;
    let before = index.tools.get(&name).and_then(|t| {
        t.versions
            .get(&version)
            .or_else(|| t.versions.get(&t.default))
            .or_else(|| t.versions.values().next())
    });
    let before = before.map(|e| permissions::of(&e.recipe));
    let command = command(&loaded, opts.project);
    let ask = permissions::Ask {
        recipe,
        before: before.as_ref(),
        build_approved: approved::is_approved(dirs, &loaded)?,
        command: &command,
    };
    permissions::confirm(&ask, opts.yes)?;
    Ok(Ready {
        full,
        loaded,
        pinned,
    })
}

/// The rest of [`install`], after [`prepare`]: the image, the index entry, the shims.
pub fn finish(dirs: &Dirs, ready: Ready, opts: &Options) -> Result<Done> {
    let Ready {
        full,
        loaded,
        pinned,
    } = ready;
    let recipe = &loaded.recipe;
    let name = recipe.name.to_string();
    let version = recipe.version.to_string();
    // From here on SIGINT, SIGTERM and SIGHUP stop the install cleanly (exit 130, 143,
    // 129), removing what was half made; at the prompt above they simply end jig.
    let _signals = crate::base::interrupt::Guard::install();
    let mut spec = recipe.image.clone();
    if let (Some(p), crate::recipe::Source::Oci(r)) = (&pinned, &spec.from)
        && let Some(d) = &p.digest
        && r.digest.is_none()
    {
        // Built from the lock: the image the lock names, wherever the tag points now.
        let mut r = r.clone();
        r.digest = Some(d.clone());
        spec.from = crate::recipe::Source::Oci(r);
    }
    let store = Store::new(dirs.store());
    // A repository's Dockerfile is built from its directory at the pin.
    let context = crate::repo::context::for_build(dirs, &loaded)?;
    let base_dir = context.as_deref().or(loaded.base_dir());
    // One build of this image at a time: concurrent installs (32 first uses of one
    // pinned tool) wait for the first and then use what it made.
    let flight = flight::take(
        &store.locks_dir(),
        &approved::key(&spec, base_dir),
        &format!("{name} {version}"),
    )?;
    // What killed installs left, even when everything is cached this time.
    store.sweep_tmp()?;
    if flight.waited
        && !opts.upgrade
        && let Some(done) = installed_meanwhile(dirs, &store, &loaded, opts)?
    {
        eprintln!(
            "jig: {name} {version} was installed meanwhile by the other jig (image {})",
            done.entry.image.short()
        );
        return Ok(done);
    }
    // The build's display and log (store/logs/NAME@VERSION.log), until the image is made.
    let shown = crate::image::source::progress::Build::begin(
        &format!("{name} {version}"),
        &store
            .root()
            .join("logs")
            .join(format!("{}@{version}.log", name.replace('/', "+"))),
    );
    let what = format!("the image of {name} {version}");
    // The image cache first, when there is one: a hit is the image, checked.
    let cache = cache::Cache::choose(dirs, opts.push_cache)?;
    let cached = match &cache {
        Some(c) => {
            let facts = cache::facts(&store, &spec, &loaded, base_dir, pinned.as_ref());
            cache::lookup(c, &store, facts, pinned.as_ref())
                .map_err(|e| space::explain(e, &store.tmp_dir(), &what, None))?
        }
        None => None,
    };
    let (base_meta, image) = match cached {
        // A cached image carries its base's metadata (steps keep it).
        Some(image) => (image.meta.clone(), image),
        None => {
            let built = build(&store, &spec, &loaded, base_dir, pinned.as_ref())
                .map_err(|e| space::explain(e, &store.tmp_dir(), &what, None))?;
            if let Some(c) = cache.as_ref().filter(|c| c.push) {
                cache::push_built(c, &store, &spec, &loaded.hash, &built.1);
            }
            built
        }
    };
    shown.done(&format!("image {}", image.id.short()));
    if let Some(p) = &pinned
        && p.image != image.id.to_string()
    {
        let msg = format!(
            "{name} {version}: built image {} but jig.lock has {}",
            image.id, p.image
        );
        if lock::locked_from_env() {
            return Err(crate::base::error::hinted(
                msg.to_string(),
                "the build is not reproducible from the lock here; `jig lock --upgrade` accepts the new image",
            ));
        }
        eprintln!("jig: warning: {msg}");
    }
    let paths = shims::command_paths(&store.rootfs_of(&image.id), recipe, &image.meta.config);
    let entry = Entry {
        image: image.id.clone(),
        recipe_hash: loaded.hash.clone(),
        origin: loaded.origin.clone(),
        config: image.meta.config.clone(),
        recipe: recipe.clone(),
        paths,
    };
    let shims: Vec<String> = recipe.tool.shims.iter().map(|s| s.to_string()).collect();

    // The last point to stop without a trace; after it the index says installed.
    crate::base::interrupt::check()?;
    let _lock = store.lock_exclusive()?;
    let mut index = Index::read(&dirs.index())?;
    for s in &shims {
        if let Some(owner) = index.shims.get(s)
            && owner != &name
            && !opts.force
        {
            return Err(crate::base::error::hinted(
                format!("shim '{s}' already belongs to recipe '{owner}'"),
                format!("`jig uninstall {owner}` first, or pass --force to move '{s}' to '{name}'"),
            ));
        }
    }
    // Approved above (asked, --yes, or nothing new to approve): later installs of the
    // same build need no new approval.
    approved::record(dirs, &loaded)?;
    if opts.project {
        index.projects.insert(loaded.hash.clone(), entry.clone());
        for s in &shims {
            index.shims.entry(s.clone()).or_insert_with(|| name.clone());
        }
        write_shims(dirs, &mut index)?;
        index.write(&dirs.index())?;
        return Ok(Done {
            name,
            version,
            entry,
            shims,
            base: base_meta,
        });
    }
    let tool = index
        .tools
        .entry(name.clone())
        .or_insert_with(|| InstalledTool {
            default: full.recipe.version.to_string(),
            offered: Vec::new(),
            versions: Default::default(),
        });
    tool.default = full.recipe.version.to_string();
    tool.offered = full.recipe.offered();
    tool.versions.insert(version.clone(), entry.clone());
    for s in &shims {
        index.shims.insert(s.clone(), name.clone());
    }
    write_shims(dirs, &mut index)?;
    index.write(&dirs.index())?;
    Ok(Done {
        name,
        version,
        entry,
        shims,
        base: base_meta,
    })
}

/// Realizes the image of `loaded` (`spec`, its `[image]` as built) and runs its
/// build steps: (the base image's metadata, the final image, leased to this process).
/// An image found stored (not committed here) is leased once found; if `gc` removed it
/// in between, it is made once more.
fn build(
    store: &Store,
    spec: &crate::recipe::ImageSpec,
    loaded: &Loaded,
    base_dir: Option<&std::path::Path>,
    pinned: Option<&lock::Locked>,
) -> Result<(ImageMeta, crate::image::store::Image)> {
    let recipe = &loaded.recipe;
    let (name, version) = (recipe.name.as_str(), recipe.version.as_str());
    for _ in 0..2 {
        let base = crate::image::build::realize(spec, base_dir, store)?;
        if let Some(p) = pinned
            && !p.packages.is_empty()
        {
            let diffs = lock::package_differences(&p.packages, &base.meta.packages);
            if !diffs.is_empty() {
                return Err(crate::base::error::hinted(
                    format!(
                        "{name} {version}: the Debian packages resolved now differ from jig.lock:\n  {}",
                        diffs
                            .iter()
                            .take(12)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("\n  ")
                    ),
                    "pin `snapshot` in the recipe to rebuild the locked set later, or run `jig lock --upgrade` to accept the new one",
                ));
            }
        }
        let base_meta = base.meta.clone();
        let image = steps::run_steps(store, base, &recipe.image.run)?;
        // Leased from here on. The metadata stays the build's: a Dockerfile's
        // ENTRYPOINT, CMD and ENV are not in the image.toml of its last step's tree.
        if store.hold(&image.id)?.is_some() {
            return Ok((base_meta, image));
        }
    }
    bail!(
        "{name} {version}: its image was removed from the store (by `jig gc`?) twice while installing; run the install again"
    )
}

/// After waiting for another jig that built the same image: the entry it installed for
/// this very recipe, if it did, as this install's result.
fn installed_meanwhile(
    dirs: &Dirs,
    store: &Store,
    loaded: &Loaded,
    opts: &Options,
) -> Result<Option<Done>> {
    let index = Index::read(&dirs.index())?;
    let recipe = &loaded.recipe;
    let (name, version) = (recipe.name.to_string(), recipe.version.to_string());
    let entry = if opts.project {
        index.projects.get(&loaded.hash)
    } else {
        index
            .tools
            .get(&name)
            .and_then(|t| t.versions.get(&version))
            .filter(|e| e.recipe_hash == loaded.hash)
    };
    let Some(entry) = entry.cloned() else {
        return Ok(None);
    };
    let Some(image) = store.hold(&entry.image)? else {
        return Ok(None);
    };
    let shims = recipe.tool.shims.iter().map(|s| s.to_string()).collect();
    Ok(Some(Done {
        name,
        version,
        entry,
        shims,
        base: image.meta,
    }))
}

/// Installs an installed entry again from where its recipe came from (its image was
/// damaged or lost): the same recipe at the same version, approved as before.
pub fn reinstall(dirs: &Dirs, entry: &Entry, project: bool) -> Result<Done> {
    let loaded = crate::repo::find(dirs, &entry.origin.arg())?;
    let opts = Options {
        project,
        ..Options::default()
    };
    install(dirs, &loaded, Some(entry.recipe.version.as_str()), &opts)
}

/// The command that installs `loaded` (resolved for one version), for messages: `jig
/// install [REPO/]NAME@VERSION` or `jig install PATH@VERSION`; `jig trust` for a
/// project's own recipe.
fn command(loaded: &Loaded, project: bool) -> String {
    if project {
        return "jig trust".to_owned();
    }
    format!(
        "jig install {}@{}",
        loaded.origin.arg(),
        loaded.recipe.version
    )
}

/// The lock entry an install in the current directory must reproduce: the project's
/// `jig.lock` entry for this recipe and version, if its recipe hash matches. A lock made
/// from another recipe text is stale: reported, or refused in locked mode. Locked mode
/// also refuses a tool of the project (one its `jig.toml` lists or its lock names) that
/// the lock does not name at this version: it builds and downloads nothing else.
pub fn lock_pin(loaded: &Loaded) -> Result<Option<lock::Locked>> {
    let Ok(cwd) = std::env::current_dir() else {
        return Ok(None);
    };
    let Some(found) = crate::project::find(&cwd)? else {
        return Ok(None);
    };
    let path = found.lock_path();
    let file = lock::LockFile::read(&path)?;
    let name = loaded.recipe.name.as_str();
    let version = loaded.recipe.version.as_str();
    let entry = file.as_ref().and_then(|f| f.tools.get(name));
    let Some(locked) = entry.filter(|l| l.version == version) else {
        if lock::locked_from_env() && (entry.is_some() || found.file.tools.contains_key(name)) {
            let why = match (&file, entry) {
                (None, _) => format!("{} does not exist", path.display()),
                (Some(_), None) => format!("{} has no entry for {name}", path.display()),
                (Some(_), Some(l)) => {
                    format!(
                        "{} locks {name} {}, not {version}",
                        path.display(),
                        l.version
                    )
                }
            };
            return Err(crate::base::error::hinted(
                format!("locked mode: not installing {name} {version}: {why}"),
                "without --locked (JIG_LOCKED), `jig lock` in the project installs and locks what jig.toml pins",
            ));
        }
        return Ok(None);
    };
    if locked.recipe != crate::base::digest::prefixed(&loaded.hash) {
        let msg = format!(
            "{name} {}: the recipe differs from the one {} was made from",
            locked.version,
            path.display()
        );
        if lock::locked_from_env() {
            return Err(crate::base::error::hinted(
                msg.to_string(),
                "run `jig lock` to lock the new recipe",
            ));
        }
        eprintln!("jig: warning: {msg}; building without the lock (run `jig lock`)");
        return Ok(None);
    }
    Ok(Some(locked.clone()))
}
