//! Installing and uninstalling recipes: realize the image, record the entry in the
//! installed index, and keep the shim directory in step with the index.

pub mod approved;
pub mod index;
pub mod outdated;
pub mod permissions;
pub mod remote;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use std::collections::BTreeMap;

use crate::base::paths::Dirs;
use crate::image::build::steps;
use crate::image::store::ImageMeta;
use crate::image::store::Store;
use crate::image::store::{DEFAULT_PATH, ImageConfig};
use crate::install::index::{Entry, Index, InstalledTool};
use crate::project::lock;
use crate::recipe::Loaded;
use crate::recipe::Recipe;

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
    // The build's display and log (store/logs/NAME@VERSION.log), until the image is made.
    let shown = crate::image::source::progress::Build::begin(
        &format!("{name} {version}"),
        &store
            .root()
            .join("logs")
            .join(format!("{}@{version}.log", name.replace('/', "+"))),
    );
    let base = crate::image::build::realize(&spec, base_dir, &store)?;
    if let Some(p) = &pinned
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
    let image = steps::run_steps(&store, base, &recipe.image.run)?;
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
    let paths = command_paths(&store.rootfs_of(&image.id), recipe, &image.meta.config);
    let entry = Entry {
        image: image.id.clone(),
        recipe_hash: loaded.hash.clone(),
        origin: loaded.origin.clone(),
        config: image.meta.config.clone(),
        recipe: recipe.clone(),
        paths,
    };
    let shims: Vec<String> = recipe.tool.shims.iter().map(|s| s.to_string()).collect();

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

/// Makes the shim directory match the index: a shim for every command some installed
/// version of a recipe exports, none for anything else. Index entries for shims that no
/// installed version exports any more are dropped. Returns (created, removed) names.
pub fn write_shims(dirs: &Dirs, index: &mut Index) -> Result<(Vec<String>, Vec<String>)> {
    let mut wanted: BTreeMap<String, String> = BTreeMap::new();
    let known = |o: &String| {
        index.tools.contains_key(o) || index.projects.values().any(|e| e.recipe.name.as_str() == o)
    };
    let entries = index
        .tools
        .values()
        .flat_map(|t| t.versions.values())
        .chain(index.projects.values());
    for entry in entries {
        for s in &entry.recipe.tool.shims {
            // The recipe the index already names keeps a shim it shares with another.
            let owner = match index.shims.get(s.as_str()) {
                Some(o) if known(o) => o.clone(),
                _ => entry.recipe.name.to_string(),
            };
            wanted.insert(s.to_string(), owner);
        }
    }
    let mut removed: Vec<String> = index
        .shims
        .keys()
        .filter(|s| !wanted.contains_key(*s))
        .cloned()
        .collect();
    for s in &removed {
        remove_shim(&dirs.shims, s)?;
    }
    fs::create_dir_all(&dirs.shims)
        .with_context(|| format!("creating {}", dirs.shims.display()))?;
    let exe = jig_exe()?;
    let mut created = Vec::new();
    for s in wanted.keys() {
        if write_shim(&dirs.shims, s, &exe)? {
            created.push(s.clone());
        }
    }
    // Stale shims left behind by earlier versions of jig or by hand: symlinks to jig
    // in the shim directory that nothing exports.
    if let Ok(rd) = fs::read_dir(&dirs.shims) {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if !n.starts_with('.')
                && !wanted.contains_key(&n)
                && fs::read_link(e.path()).is_ok_and(|t| t == exe)
            {
                remove_shim(&dirs.shims, &n)?;
                if !removed.contains(&n) {
                    removed.push(n);
                }
            }
        }
    }
    index.shims = wanted;
    Ok((created, removed))
}

/// Finds, inside the image, the executable each shim (and the recipe's command) names,
/// searching the PATH a launch would use. Paths are resolved with
/// `openat2(RESOLVE_IN_ROOT)`, so the image's symlinks are followed inside the image.
fn command_paths(rootfs: &Path, recipe: &Recipe, config: &ImageConfig) -> BTreeMap<String, String> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
    use nix::sys::stat::{Mode, SFlag, fstat};
    let Ok(root) = nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return BTreeMap::new();
    };
    let search = recipe
        .env
        .set
        .iter()
        .find(|(k, _)| k.as_str() == "PATH")
        .map(|(_, v)| v.clone())
        .or_else(|| {
            config
                .env
                .iter()
                .find_map(|e| e.strip_prefix("PATH=").map(str::to_owned))
        })
        .unwrap_or_else(|| DEFAULT_PATH.to_owned());
    let names = recipe
        .tool
        .shims
        .iter()
        .map(|s| s.to_string())
        .chain(recipe.tool.command.clone());
    let mut out = BTreeMap::new();
    for name in names {
        if name.contains('/') {
            continue;
        }
        for dir in search.split(':').filter(|d| d.starts_with('/')) {
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            let how = OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_IN_ROOT);
            let Ok(fd) = openat2(&root, path.trim_start_matches('/'), how) else {
                continue;
            };
            let executable = fstat(&fd).is_ok_and(|st| {
                SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFREG
                    && st.st_mode & 0o111 != 0
            });
            if executable {
                out.insert(name, path);
                break;
            }
        }
    }
    out
}

/// Removes a recipe (all versions, or one with `version`) and the shims nothing else
/// exports any more. Images stay until `jig gc`. Returns the removed shims.
pub fn uninstall(dirs: &Dirs, name: &str, version: Option<&str>) -> Result<Vec<String>> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let mut index = Index::read(&dirs.index())?;
    let Some(tool) = index.tools.get_mut(name) else {
        let names: Vec<&str> = index.tools.keys().map(String::as_str).collect();
        return Err(crate::base::error::unknown(
            format!(
                "'{name}' is not installed (installed: {})",
                if names.is_empty() {
                    "none".into()
                } else {
                    names.join(", ")
                }
            ),
            [crate::base::suggest::did_you_mean(
                name,
                names.iter().copied(),
            )],
        ));
    };
    match version {
        Some(v) => {
            if tool.versions.remove(v).is_none() {
                let have: Vec<_> = tool.versions.keys().cloned().collect();
                return Err(crate::base::error::unknown(
                    format!(
                        "version {v} of '{name}' is not installed (installed: {})",
                        crate::recipe::offered_list(&have)
                    ),
                    [],
                ));
            }
            if tool.versions.is_empty() {
                index.tools.remove(name);
            }
        }
        None => {
            index.tools.remove(name);
        }
    }
    let (_, removed) = write_shims(dirs, &mut index)?;
    index.write(&dirs.index())?;
    Ok(removed)
}

/// Regenerates every shim from the installed index (`jig reshim`).
pub fn reshim(dirs: &Dirs) -> Result<(Vec<String>, Vec<String>)> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let mut index = Index::read(&dirs.index())?;
    let changed = write_shims(dirs, &mut index)?;
    index.write(&dirs.index())?;
    Ok(changed)
}

/// The jig binary shims should point at.
pub fn jig_exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the jig executable (/proc/self/exe)")
}

/// Creates or updates the symlink `dir/name -> exe` atomically; true when it changed.
fn write_shim(dir: &Path, name: &str, exe: &Path) -> Result<bool> {
    let path = dir.join(name);
    match fs::symlink_metadata(&path) {
        Ok(m) if !m.file_type().is_symlink() => bail!(
            "{} exists and is not a jig shim; move it away and install again",
            path.display()
        ),
        Ok(_) if fs::read_link(&path).is_ok_and(|t| t == exe) => return Ok(false),
        _ => {}
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    symlink(exe, &tmp).with_context(|| format!("creating {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("creating shim {}", path.display()))?;
    Ok(true)
}

/// Removes the shim `dir/name` if it is a symlink (never a user's own file).
fn remove_shim(dir: &Path, name: &str) -> Result<()> {
    let path = dir.join(name);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => {
            fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("checking {}", path.display())),
    }
}
