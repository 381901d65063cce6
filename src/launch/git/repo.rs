//! What the workspace's repository names outside the workspace: local remotes (from
//! its `config`), its other worktrees (`worktrees/*/gitdir`), and, for a submodule,
//! the superproject around it. All of it is in files a tool inside the workspace may
//! have written, so each is checked for what git itself writes before the planner
//! may mount it: a remote must be a git repository (or a bundle file), a worktree's
//! `.git` file must link back to its registration, a superproject's git directory must
//! hold the workspace's as a module.
//!
//! A launch in a repository reads its `config` (one small read) and tries to open
//! `worktrees/` (one failed `open` without worktrees).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::config::parse;
use super::model::{Remote, Superproject, Worktree};
use crate::base::paths::normalize;
use crate::launch::workspace::{GitLink, Guard, Workspace, linked_git_dir};
use crate::runtime::spec::Node;

/// The most worktrees looked at.
const MAX_WORKTREES: usize = 64;

/// The repository's git directories: the common one (config, worktrees) and, for a
/// worktree or submodule, where the `.git` file leads.
pub struct Repo {
    /// The directory holding `config`, `objects`, `worktrees`.
    pub common: PathBuf,
    /// The workspace's own `gitdir:` target, when `.git` is a file.
    pub linked: Option<PathBuf>,
}

/// The repository of `ws`, if its root has a `.git`.
pub fn repo(ws: &Workspace) -> Option<Repo> {
    let dot_git = ws.root.join(".git");
    let m = std::fs::symlink_metadata(&dot_git).ok()?;
    if m.is_dir() {
        return Some(Repo {
            common: dot_git,
            linked: None,
        });
    }
    let Some(GitLink::Mounted(common)) = &ws.git else {
        return None;
    };
    let text = read(&dot_git)?;
    let target = text.lines().next()?.strip_prefix("gitdir:")?.trim();
    Some(Repo {
        common: common.clone(),
        linked: Some(normalize(&ws.root.join(target))),
    })
}

/// The remotes of `repo` whose URL is a local path, resolved from the worktree at
/// `root`, with what is there.
pub fn remotes(repo: &Repo, root: &Path) -> Vec<Remote> {
    let Some(text) = read_bytes(&repo.common.join("config")) else {
        return Vec::new();
    };
    let mut out: Vec<Remote> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for e in parse(&text) {
        if e.section != "remote" || !(e.key == "url" || e.key == "pushurl") {
            continue;
        }
        let (Some(name), Some(url)) = (&e.subsection, &e.value) else {
            continue;
        };
        let Some(path) = local_path(url, root) else {
            continue;
        };
        // Nothing there: nothing to mount (git says so itself).
        let Ok(real) = std::fs::canonicalize(&path) else {
            continue;
        };
        if seen.contains(&real) {
            continue;
        }
        let found = judge(&real);
        seen.push(real);
        out.push(Remote {
            name: String::from_utf8_lossy(name).into_owned(),
            url: String::from_utf8_lossy(url).into_owned(),
            found,
        });
    }
    out
}

/// The local path a remote URL names: an absolute or relative path (relative to the
/// worktree, where git runs), or a `file://` URL; None for URLs of other schemes and
/// scp-like `host:path`.
fn local_path(url: &[u8], root: &Path) -> Option<PathBuf> {
    let path: &[u8] = if let Some(rest) = url.strip_prefix(b"file://") {
        let rest = rest.strip_prefix(b"localhost").unwrap_or(rest);
        if !rest.starts_with(b"/") {
            return None;
        }
        rest
    } else if url.windows(3).any(|w| w == b"://") {
        return None;
    } else {
        // git's rule: a colon before the first slash makes it `host:path` (ssh).
        let colon = url.iter().position(|&b| b == b':');
        let slash = url.iter().position(|&b| b == b'/');
        if colon.is_some_and(|c| slash.is_none_or(|s| c < s)) || url.starts_with(b"~") {
            return None;
        }
        url
    };
    if path.is_empty() {
        return None;
    }
    Some(normalize(&root.join(OsStr::from_bytes(path))))
}

/// What a remote's real path is: a repository directory (bound read-write, so push
/// works), a bundle file (read-only), or refused.
fn judge(real: &Path) -> Result<(PathBuf, Node, bool), String> {
    let m = std::fs::metadata(real).map_err(|e| format!("cannot look at it: {e}"))?;
    if m.is_dir() {
        let bare = real.join("HEAD").is_file() && real.join("objects").is_dir();
        if bare || std::fs::symlink_metadata(real.join(".git")).is_ok() {
            return Ok((real.to_owned(), Node::Dir, false));
        }
        return Err("it is not a git repository".to_owned());
    }
    let head = read_bytes_max(real, 16).unwrap_or_default();
    if head.starts_with(b"# v2 git bundle\n") || head.starts_with(b"# v3 git bundle\n") {
        return Ok((real.to_owned(), Node::File, true));
    }
    Err("it is neither a git repository nor a bundle".to_owned())
}

/// The other worktrees registered in `repo`, with whether each links back.
pub fn worktrees(repo: &Repo, root: &Path) -> Vec<Worktree> {
    let Ok(entries) = std::fs::read_dir(repo.common.join("worktrees")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten().take(MAX_WORKTREES) {
        let admin = e.path();
        let Some(text) = read(&admin.join("gitdir")) else {
            continue;
        };
        // Absolute, or relative to the administrative directory (worktree.useRelativePaths).
        let dot_git = normalize(&admin.join(text.trim()));
        let Some(dir) = dot_git.parent().map(Path::to_owned) else {
            continue;
        };
        if dir == root || std::fs::symlink_metadata(&dot_git).is_err() {
            // This workspace, or a worktree that is gone (git calls it prunable too).
            continue;
        }
        let linked = match read(&dot_git) {
            None => Err(format!("{} is not a .git file", dot_git.display())),
            Some(t) => {
                let back = t
                    .lines()
                    .next()
                    .and_then(|l| l.strip_prefix("gitdir:"))
                    .map(|g| normalize(&dir.join(g.trim())));
                if back.as_deref() == Some(admin.as_path()) {
                    Ok(())
                } else {
                    Err(format!("its .git file does not name {}", admin.display()))
                }
            }
        };
        out.push(Worktree {
            dir,
            dot_git,
            linked,
        });
    }
    out
}

/// The superproject of the submodule checked out at `root` whose git directory is
/// `gitdir`: the nearest directory above with a `.git` whose git directory holds
/// `gitdir` below `modules/`. Stops at the home directory.
pub fn superproject(root: &Path, gitdir: &Path, home: &Path, guard: Guard) -> Option<Superproject> {
    let above = root.ancestors().skip(1).find(|a| {
        std::fs::symlink_metadata(a.join(".git")).is_ok() || *a == home || *a == Path::new("/")
    })?;
    let dot_git = above.join(".git");
    let m = std::fs::symlink_metadata(&dot_git).ok()?;
    let (common, git) = if m.is_dir() {
        (dot_git, None)
    } else {
        match linked_git_dir(above, guard) {
            Some(GitLink::Mounted(dir)) => (dir.clone(), Some(GitLink::Mounted(dir))),
            _ => return None,
        }
    };
    gitdir
        .starts_with(common.join("modules"))
        .then(|| Superproject {
            root: above.to_owned(),
            git,
        })
}

fn read(path: &Path) -> Option<String> {
    read_bytes(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn read_bytes(path: &Path) -> Option<Vec<u8>> {
    read_bytes_max(path, 1 << 20)
}

/// The start of a regular file (at most `max` bytes), without blocking on a FIFO.
fn read_bytes_max(path: &Path, max: u64) -> Option<Vec<u8>> {
    crate::base::paths::read_regular(path, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_urls() {
        let root = Path::new("/w/p");
        let l = |u: &str| local_path(u.as_bytes(), root).map(|p| p.display().to_string());
        assert_eq!(l("/srv/x.git").as_deref(), Some("/srv/x.git"));
        assert_eq!(l("../other").as_deref(), Some("/w/other"));
        assert_eq!(l("file:///srv/y").as_deref(), Some("/srv/y"));
        assert_eq!(l("file://localhost/srv/z").as_deref(), Some("/srv/z"));
        for remote in [
            "https://example.com/x.git",
            "git@host:x.git",
            "host:/x",
            "ssh://host/x",
            "file://host/x",
            "~/x",
            "",
        ] {
            assert_eq!(l(remote), None, "{remote}");
        }
    }

    #[test]
    fn remotes_must_be_repositories_or_bundles() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path();
        std::fs::create_dir_all(d.join("bare.git/objects")).unwrap();
        std::fs::write(d.join("bare.git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::create_dir_all(d.join("work/.git")).unwrap();
        std::fs::create_dir_all(d.join("secrets")).unwrap();
        std::fs::write(d.join("b.bundle"), "# v2 git bundle\nabc\n").unwrap();
        std::fs::write(d.join("key"), "-----BEGIN\n").unwrap();
        assert_eq!(judge(&d.join("bare.git")).unwrap().1, Node::Dir);
        assert!(!judge(&d.join("work")).unwrap().2);
        assert_eq!(
            judge(&d.join("b.bundle")).unwrap(),
            (d.join("b.bundle"), Node::File, true)
        );
        assert!(judge(&d.join("secrets")).is_err());
        assert!(judge(&d.join("key")).is_err());
    }
}
