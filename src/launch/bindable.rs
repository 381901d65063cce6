//! Which host paths a launch may mount when something other than the recipe names
//! them: a path argument, a `.git` file's `gitdir:`, a repository's remote or
//! worktree, a path in git's configuration, a `from_env` variable. Plain
//! rules over paths, no I/O: the planner and the workspace finder ask them about
//! facts gathered before.
//!
//! Never mounted this way: `/`, system directories and what holds the home directory
//! (the whole home would come with them), anything below /proc, /sys or /dev (the
//! container has its own), and for `.git` files, git's configuration and variables,
//! jig's own directories and the session's runtime directory. What git's configuration
//! names must be below the home directory, outside the GnuPG home.

use std::path::Path;
use std::path::PathBuf;

use super::host::Host;
use crate::base::paths::normalize;

/// Directories that are never a workspace root (nor, as a whole, a path argument's
/// mount): the root, system directories, and the parents of home directories.
pub const SYSTEM: &[&str] = &[
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys",
    "/usr", "/var", "/tmp", "/home", "/root",
];

/// Trees nothing is ever bound from: the container has its own.
pub const SYSTEM_TREES: &[&str] = &["/proc", "/sys", "/dev"];

/// Whether a path an argument names may be bound: not the root, a system directory,
/// anything below /proc, /sys or /dev, the home directory or a directory holding it.
pub fn arg_bindable(path: &Path, host: &Host) -> Result<(), String> {
    if SYSTEM.iter().any(|s| path == Path::new(s)) {
        return Err(format!("{} is a system directory", path.display()));
    }
    if SYSTEM_TREES.iter().any(|s| path.starts_with(s)) {
        return Err(format!("{} is below /proc, /sys or /dev", path.display()));
    }
    if host.home.starts_with(path) {
        return Err(if host.home == path {
            "it is the whole home directory".to_owned()
        } else {
            format!("{} holds the home directory", path.display())
        });
    }
    Ok(())
}

/// Whether a directory a `.git` file leads to may be bound (see
/// [`super::workspace::GitLink`]): nothing an argument may not name, nor jig's own
/// directories `jig_dirs` or the session's runtime directory (`$XDG_RUNTIME_DIR`),
/// anything inside them or holding them.
pub fn linked_bindable(path: &Path, host: &Host, jig_dirs: &[PathBuf]) -> Result<(), String> {
    arg_bindable(path, host)?;
    private_clear(path, host, jig_dirs, false)
}

/// Whether a path that git's configuration names (`core.excludesFile`, an include) may
/// be bound, read-only: a file or directory below the home directory (the
/// configuration is the user's, but a contained git may write `~/.gitconfig`, so what
/// it names must not widen a launch beyond the user's own files), outside the GnuPG
/// home directory (`$GNUPGHOME` or `~/.gnupg`: private keys), and nothing a `.git`
/// file may not name.
pub fn config_named_bindable(path: &Path, host: &Host, jig_dirs: &[PathBuf]) -> Result<(), String> {
    if !path.starts_with(&host.home) || path == host.home {
        linked_bindable(path, host, jig_dirs)?;
        return Err("it is outside the home directory".to_owned());
    }
    let gnupg = host
        .var("GNUPGHOME")
        .filter(|v| !v.is_empty())
        .map(|v| normalize(&host.home.join(v)))
        .unwrap_or_else(|| host.home.join(".gnupg"));
    if path.starts_with(&gnupg) {
        return Err(format!(
            "{} is inside the GnuPG home directory {}",
            path.display(),
            gnupg.display()
        ));
    }
    linked_bindable(path, host, jig_dirs)
}

/// Whether a path named by a `from_env` variable may be bound: absolute, normalized,
/// nothing an argument may not name, nor jig's own directories `jig_dirs`, anything
/// inside or holding them, nor the runtime directory (`$XDG_RUNTIME_DIR`) or a
/// directory holding it. A socket inside the runtime directory (ssh-agent's,
/// gpg-agent's) is what `from_env` is for.
pub fn from_env_bindable(path: &Path, host: &Host, jig_dirs: &[PathBuf]) -> Result<(), String> {
    let normal = path.components().all(|c| {
        matches!(
            c,
            std::path::Component::RootDir | std::path::Component::Normal(_)
        )
    });
    if !path.is_absolute() || !normal {
        return Err("it is not an absolute path without . or ..".to_owned());
    }
    arg_bindable(path, host)?;
    private_clear(path, host, jig_dirs, true)
}

/// `Err` when `path` is one of jig's own directories `jig_dirs` or the runtime
/// directory, holds one, or lies inside one (inside the runtime directory only
/// counts unless `runtime_inside_ok`). Lexical: the paths are compared as given.
fn private_clear(
    path: &Path,
    host: &Host,
    jig_dirs: &[PathBuf],
    runtime_inside_ok: bool,
) -> Result<(), String> {
    let shown = path.display();
    for dir in jig_dirs.iter().filter(|d| d.is_absolute()) {
        let dir = normalize(dir);
        if path == dir {
            return Err("it is jig's own directory".to_owned());
        }
        if path.starts_with(&dir) {
            return Err(format!(
                "{shown} is inside jig's directory {}",
                dir.display()
            ));
        }
        if dir.starts_with(path) {
            return Err(format!("{shown} holds jig's directory {}", dir.display()));
        }
    }
    let runtime = host
        .var("XDG_RUNTIME_DIR")
        .map(Path::new)
        .filter(|r| r.is_absolute())
        .map(normalize)
        .filter(|r| r != Path::new("/"));
    if let Some(run) = runtime {
        if path == run {
            return Err("it is $XDG_RUNTIME_DIR".to_owned());
        }
        if run.starts_with(path) {
            return Err(format!(
                "{shown} holds $XDG_RUNTIME_DIR ({})",
                run.display()
            ));
        }
        if !runtime_inside_ok && path.starts_with(&run) {
            return Err(format!(
                "{shown} is inside $XDG_RUNTIME_DIR ({})",
                run.display()
            ));
        }
    }
    Ok(())
}
