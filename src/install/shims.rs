//! The shim directory and the index beside it: a shim (a symlink to jig) for every
//! command an installed version exports, found once in its image; uninstalling and
//! `jig reshim`.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::base::paths::Dirs;
use crate::image::store::{DEFAULT_PATH, ImageConfig, Store};
use crate::install::index::Index;
use crate::recipe::Recipe;

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
pub fn command_paths(
    rootfs: &Path,
    recipe: &Recipe,
    config: &ImageConfig,
) -> BTreeMap<String, String> {
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
