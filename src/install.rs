//! Installing and uninstalling recipes: realize the image, record the entry in the
//! installed index, and keep the shim directory in step with the index.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use std::collections::BTreeMap;

use crate::installed::{Entry, Index, Tool};
use crate::paths::Dirs;
use crate::recipe::Loaded;
use crate::recipe::Recipe;
use crate::store::Store;
use crate::store::{DEFAULT_PATH, ImageConfig};
use crate::{build, source};

/// What an install did.
#[derive(Debug)]
pub struct Installed {
    /// Recipe name.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// The entry recorded.
    pub entry: Entry,
    /// Shims created or kept.
    pub shims: Vec<String>,
}

/// Installs a loaded recipe: builds or imports its image and writes its shims.
/// `force` lets it take over shim names owned by another recipe.
pub fn install(dirs: &Dirs, loaded: &Loaded, force: bool) -> Result<Installed> {
    let recipe = &loaded.recipe;
    let store = Store::new(dirs.store());
    let base = source::realize(&recipe.image, loaded.base_dir(), &store)?;
    let image = build::run_steps(&store, base, &recipe.image.run)?;
    let name = recipe.name.to_string();
    let version = recipe.version.to_string();
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
            && !force
        {
            bail!(
                "shim '{s}' already belongs to recipe '{owner}'\nhint: `jig uninstall {owner}` first, or pass --force to move '{s}' to '{name}'"
            );
        }
    }
    // Shims this recipe no longer exports go away.
    let stale: Vec<String> = index
        .shims
        .iter()
        .filter(|(s, owner)| **owner == name && !shims.contains(s))
        .map(|(s, _)| s.clone())
        .collect();
    for s in &stale {
        index.shims.remove(s);
        remove_shim(&dirs.shims, s)?;
    }
    let tool = index.tools.entry(name.clone()).or_insert_with(|| Tool {
        default: version.clone(),
        versions: Default::default(),
    });
    tool.default = version.clone();
    tool.versions.insert(version.clone(), entry.clone());
    for s in &shims {
        index.shims.insert(s.clone(), name.clone());
    }
    fs::create_dir_all(&dirs.shims)
        .with_context(|| format!("creating {}", dirs.shims.display()))?;
    let exe = jig_exe()?;
    for s in &shims {
        write_shim(&dirs.shims, s, &exe)?;
    }
    index.write(&dirs.index())?;
    Ok(Installed {
        name,
        version,
        entry,
        shims,
    })
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

/// Removes a recipe (all versions) and its shims. Images stay until `jig gc`.
pub fn uninstall(dirs: &Dirs, name: &str) -> Result<Vec<String>> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let mut index = Index::read(&dirs.index())?;
    if index.tools.remove(name).is_none() {
        let names: Vec<_> = index.tools.keys().cloned().collect();
        bail!(
            "'{name}' is not installed (installed: {})",
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        );
    }
    let shims: Vec<String> = index
        .shims
        .iter()
        .filter(|(_, owner)| *owner == name)
        .map(|(s, _)| s.clone())
        .collect();
    for s in &shims {
        index.shims.remove(s);
        remove_shim(&dirs.shims, s)?;
    }
    index.write(&dirs.index())?;
    Ok(shims)
}

/// The jig binary shims should point at.
pub fn jig_exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the jig executable (/proc/self/exe)")
}

/// Creates or updates the symlink `dir/name -> exe` atomically.
fn write_shim(dir: &Path, name: &str, exe: &Path) -> Result<()> {
    let path = dir.join(name);
    match fs::symlink_metadata(&path) {
        Ok(m) if !m.file_type().is_symlink() => bail!(
            "{} exists and is not a jig shim; move it away and install again",
            path.display()
        ),
        Ok(_) if fs::read_link(&path).is_ok_and(|t| t == exe) => return Ok(()),
        _ => {}
    }
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let _ = fs::remove_file(&tmp);
    symlink(exe, &tmp).with_context(|| format!("creating {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("creating shim {}", path.display()))
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
