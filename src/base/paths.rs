//! Where jig keeps its state.
//!
//! With `JIG_HOME` set, everything lives below it (tests and throwaway setups use this).
//! Otherwise jig follows the XDG base directories through the `dirs` crate: the store
//! and installed index under the data dir (`~/.local/share/jig`), shims in
//! `~/.local/share/jig/shims`.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result};

/// The directories jig reads and writes.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Store, installed index and launch scratch directory.
    pub data: PathBuf,
    /// Generated shim symlinks; this is the directory users put first on PATH.
    pub shims: PathBuf,
}

impl Dirs {
    /// Resolves the directories from `JIG_HOME` or the XDG defaults. Creates nothing.
    pub fn from_env() -> Result<Dirs> {
        if let Some(home) = std::env::var_os(crate::base::nest::ENV_HOME).filter(|h| !h.is_empty())
        {
            let home = PathBuf::from(home);
            let home = if home.is_absolute() {
                home
            } else {
                std::env::current_dir()
                    .context("reading the current directory")?
                    .join(home)
            };
            return Ok(Dirs {
                data: home.clone(),
                shims: home.join("shims"),
            });
        }
        let data = dirs::data_dir()
            .context("cannot find a data directory: set HOME, XDG_DATA_HOME or JIG_HOME")?
            .join("jig");
        Ok(Dirs {
            shims: data.join("shims"),
            data,
        })
    }

    /// jig's own directories: data and configuration (`config`, as
    /// [`crate::base::config::dir`] gives it). A tool never gets them mounted through a
    /// `.git` file or a `from_env` variable (nested shims get the data directory
    /// read-only, and the global pins alone, by other means).
    pub fn private(&self, config: Option<&Path>) -> Vec<PathBuf> {
        std::iter::once(self.data.as_path())
            .chain(config)
            .filter(|d| d.is_absolute())
            .map(Path::to_path_buf)
            .collect()
    }

    /// The content-addressed store root.
    pub fn store(&self) -> PathBuf {
        self.data.join("store")
    }

    /// The index of installed recipes that shims read on every call.
    pub fn index(&self) -> PathBuf {
        self.data.join("installed.json")
    }
}

/// Removes `.` and `..` without touching the disk (`/..` is `/`).
pub fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}
