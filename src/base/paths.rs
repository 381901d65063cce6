//! Where jig keeps its state.
//!
//! With `JIG_HOME` set, everything lives below it (tests and throwaway setups use this).
//! Otherwise jig follows the XDG base directories through the `dirs` crate: the store
//! and installed index under the data dir (`~/.local/share/jig`), shims in
//! `~/.local/share/jig/shims`.
//!
//! A shim does not look at `$HOME` or `$XDG_DATA_HOME` ([`Dirs::for_shim`]): it belongs
//! to the installation it was started from, the data directory its `shims/` directory
//! is in. Test suites and CI run tools with a `HOME` of their own
//! (`HOME=$(mktemp -d) git init`), and the shim must still find what is installed.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
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

    /// The installation the shim `name`, started as `argv0`, belongs to: `JIG_HOME` when
    /// set, else the data directory holding the shim that ran, else the one holding
    /// jig's own binary (`DATA/bin/jig`, where `script/install` puts it), else the XDG
    /// default of [`Dirs::from_env`].
    ///
    /// The shim that ran is `argv0` when it has a slash (`~/.local/share/jig/shims/git`,
    /// no system call); for a bare name (a PATH search, as shells do), the first
    /// directory of `PATH` with an entry of that name is what the shell ran: one
    /// `readlink` per directory until then, one in all when the shim directory comes
    /// first (`jig activate`). Either way it counts only as a symlink in a directory
    /// named `shims`. The binary's own place costs a `readlink` of `/proc/self/exe`
    /// and an `lstat` of the shim there.
    pub fn for_shim(name: &str, argv0: &OsStr) -> Result<Dirs> {
        if std::env::var_os(crate::base::nest::ENV_HOME).is_some_and(|h| !h.is_empty()) {
            return Dirs::from_env();
        }
        let ran = if argv0.as_bytes().contains(&b'/') {
            Some(std::path::absolute(Path::new(argv0)).unwrap_or_else(|_| argv0.into()))
        } else {
            std::env::var_os("PATH").and_then(|path| first_on_path(&path, name))
        };
        if let Some(shim) = ran
            && let Some(dirs) = Dirs::of_shim(&shim)
        {
            return Ok(dirs);
        }
        if let Ok(exe) = std::fs::read_link("/proc/self/exe")
            && let Some(bin) = exe
                .parent()
                .filter(|b| b.file_name() == Some(OsStr::new("bin")))
            && let Some(data) = bin.parent()
            && std::fs::symlink_metadata(data.join("shims").join(name)).is_ok()
        {
            return Ok(Dirs {
                data: data.to_path_buf(),
                shims: data.join("shims"),
            });
        }
        Dirs::from_env()
    }

    /// The installation of the shim at `shim`: the directory above its `shims/`.
    fn of_shim(shim: &Path) -> Option<Dirs> {
        let shims = shim.parent()?;
        if shims.file_name()? != "shims" {
            return None;
        }
        let data = shims.parent()?;
        Some(Dirs {
            data: data.to_path_buf(),
            shims: shims.to_path_buf(),
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

/// The first `DIR/name` of the colon-separated `path` that exists, when it is a
/// symlink (what a shell's PATH search for `name` ran, if it ran a shim). A `readlink`
/// answers both: EINVAL for anything else that exists, ENOENT for nothing.
fn first_on_path(path: &OsStr, name: &str) -> Option<PathBuf> {
    for dir in path.as_bytes().split(|&b| b == b':') {
        // An empty entry is the current directory, as in sh.
        let dir = if dir.is_empty() { b".".as_slice() } else { dir };
        let candidate = Path::new(OsStr::from_bytes(dir)).join(name);
        match std::fs::read_link(&candidate) {
            Ok(_) => return std::path::absolute(&candidate).ok(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTDIR | libc::EACCES)) => continue,
            // Something else is there (a file: EINVAL): the shell ran that, not a shim.
            Err(_) => return None,
        }
    }
    None
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

/// The first `max` bytes of the regular file at `path` (symlinks followed), or `None`
/// when it is missing, unreadable or not a regular file. Opened with `O_NONBLOCK`, so a
/// FIFO planted where a file is expected cannot make the caller wait for a writer.
pub fn read_regular(path: &Path, max: u64) -> Option<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() {
        return None;
    }
    // Room for the whole file and the read that finds its end: `take` hides the size
    // from read_to_end, which would otherwise start at 32 bytes and read several times.
    let mut out = Vec::with_capacity(meta.len().min(max) as usize + 1);
    f.take(max).read_to_end(&mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shim_is_the_first_entry_of_its_name_on_path_when_that_is_a_symlink() {
        let t = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            t.path().join("a"),
            t.path().join("x/shims"),
            t.path().join("c"),
        );
        for d in [&a, &b, &c] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::os::unix::fs::symlink("/opt/jig/bin/jig", b.join("git")).unwrap();
        std::fs::write(c.join("git"), "").unwrap();
        let path = |dirs: &[&Path]| {
            let v: Vec<_> = dirs.iter().map(|d| d.as_os_str().to_owned()).collect();
            v.join(OsStr::new(":"))
        };
        // Skips directories without it (and ones that are not directories).
        let missing = t.path().join("none");
        let found = first_on_path(&path(&[&a, &missing, &b, &c]), "git").unwrap();
        assert_eq!(found, b.join("git"));
        assert_eq!(
            Dirs::of_shim(&found).map(|d| (d.data, d.shims)),
            Some((t.path().join("x"), b.clone()))
        );
        // A program of that name first: the shell ran that, not a shim.
        assert_eq!(first_on_path(&path(&[&c, &b]), "git"), None);
        assert_eq!(first_on_path(&path(&[&a]), "git"), None);
        // A symlink in a directory that is not a shim directory belongs to nobody.
        assert!(Dirs::of_shim(Path::new("/usr/local/bin/git")).is_none());
    }
}
