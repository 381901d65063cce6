//! The judgement of a `.git` *file* in the workspace root (a worktree, a submodule):
//! whether the git directory it names is mounted too ([`GitLink`]). The file-system
//! questions go through [`Look`], so unit tests answer them from memory.

use super::model::{GitLink, Guard};
use crate::base::paths::normalize;
use std::path::{Path, PathBuf};

/// Where a `.git` *file* in `root` leads, judged by [`judge`]. One `lstat` when `.git`
/// is a directory (the common case); a few `lstat`s and small reads otherwise.
pub fn linked_git_dir(root: &Path, guard: Guard) -> Option<GitLink> {
    let dot_git = root.join(".git");
    if !std::fs::symlink_metadata(&dot_git).ok()?.is_file() {
        return None;
    }
    let text = Disk.read(&dot_git)?;
    judge(root, &text, &Disk, guard)
}

/// The file-system questions [`judge`] asks: [`Disk`] answers them in a launch, a map
/// in unit tests.
trait Look {
    /// Whether `p` exists (`lstat`: a dangling symlink counts).
    fn exists(&self, p: &Path) -> bool;
    /// The start of `p`'s text, if it is a regular file.
    fn read(&self, p: &Path) -> Option<String>;
    /// `p` with every symlink resolved, if it exists.
    fn real(&self, p: &Path) -> Option<PathBuf>;
}

/// The host's file system.
struct Disk;

impl Look for Disk {
    fn exists(&self, p: &Path) -> bool {
        exists(p)
    }
    fn read(&self, p: &Path) -> Option<String> {
        use std::io::Read;
        use std::os::unix::fs::OpenOptionsExt;
        // Non-blocking and checked to be a regular file: a FIFO planted in the
        // workspace must not hang the launch, nor a huge file slow it down.
        let f = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(p)
            .ok()?;
        if !f.metadata().ok()?.is_file() {
            return None;
        }
        let mut text = String::new();
        f.take(4096).read_to_string(&mut text).ok()?;
        Some(text)
    }
    fn real(&self, p: &Path) -> Option<PathBuf> {
        std::fs::canonicalize(p).ok()
    }
}

/// Judges the `.git` file of `root` whose text is `dot_git` (see [`GitLink`]). None
/// when there is nothing to mount: no `gitdir:` line, or a target inside the root
/// that leads nowhere else. `guard` is asked about the target when it is outside the
/// root, before anything in it is read, and about the directory to mount.
fn judge(root: &Path, dot_git: &str, look: &impl Look, guard: Guard) -> Option<GitLink> {
    let gitdir = dot_git.lines().next()?.strip_prefix("gitdir:")?.trim();
    let gitdir = normalize(&root.join(gitdir));
    match link(root, &gitdir, look, guard) {
        Ok(dir) => dir.map(GitLink::Mounted),
        Err(reason) => Some(GitLink::Refused { gitdir, reason }),
    }
}

/// The directory to mount for the git directory `gitdir` of the worktree or submodule
/// checked out at `root`, None when that is inside `root`, or why it is refused.
fn link(
    root: &Path,
    gitdir: &Path,
    look: &impl Look,
    guard: Guard,
) -> Result<Option<PathBuf>, String> {
    // Everything is decided on this path: it must be the real one, or what is mounted
    // (the kernel follows symlinks) would not be what was checked.
    let real = || match look.real(gitdir) {
        None => Err("it does not exist".to_owned()),
        Some(real) if real != gitdir => {
            Err(format!("it leads through a symlink to {}", real.display()))
        }
        Some(_) => Ok(()),
    };
    let outside = !gitdir.starts_with(root);
    if outside {
        guard(gitdir)?;
        real()?;
    }
    let commondir = look.read(&gitdir.join("commondir"));
    if !outside {
        // Inside the workspace: already mounted, unless it says it is a worktree of a
        // repository elsewhere.
        if commondir.is_none() {
            return Ok(None);
        }
        real()?;
    }
    if !look.exists(&gitdir.join("HEAD")) {
        return Err("it is not a git directory (no HEAD)".to_owned());
    }
    let dir = match commondir {
        Some(common) => worktree_repository(root, gitdir, &common, look)?,
        None if look.exists(&gitdir.join("objects")) => {
            submodule(root, gitdir, look)?;
            gitdir.to_owned()
        }
        None => return Err("it is not a git directory (no objects, no commondir)".to_owned()),
    };
    if dir.starts_with(root) {
        return Ok(None);
    }
    guard(&dir)?;
    Ok(Some(dir))
}

/// The repository of the worktree at `root` whose administrative directory is
/// `admin` (with `commondir` text `common`), when `admin` is where git keeps it and
/// links back to `root`.
fn worktree_repository(
    root: &Path,
    admin: &Path,
    common: &str,
    look: &impl Look,
) -> Result<PathBuf, String> {
    let repo = normalize(&admin.join(common.trim()));
    // `git worktree add` makes it `<repo>/worktrees/<name>`: inside the repository,
    // the one directory mounted.
    if admin.parent() != Some(repo.join("worktrees").as_path()) {
        return Err(format!(
            "it is not in the worktrees directory of {}",
            repo.display()
        ));
    }
    if repo.starts_with(root) {
        return Ok(repo);
    }
    // The back-link proves something only when git wrote it, outside the workspace:
    // anything inside it, the tool may have written.
    if admin.starts_with(root) {
        return Err(format!(
            "it is inside the workspace, and {} outside it",
            repo.display()
        ));
    }
    let Some(back) = look.read(&admin.join("gitdir")) else {
        return Err("it names no worktree (no gitdir file)".to_owned());
    };
    // Absolute, or relative to the administrative directory (worktree.useRelativePaths).
    let back = normalize(&admin.join(back.trim()));
    if back != root.join(".git") {
        let other = back.parent().unwrap_or(&back);
        return Err(format!(
            "it belongs to the worktree at {}, not this one",
            other.display()
        ));
    }
    if !look.exists(&repo.join("HEAD")) || !look.exists(&repo.join("objects")) {
        return Err(format!("{} is not a git directory", repo.display()));
    }
    Ok(repo)
}

/// Whether `gitdir` is the git directory of a submodule checked out at `root`: below
/// `.git/modules/` of a repository enclosing `root`, with `core.worktree` naming it.
fn submodule(root: &Path, gitdir: &Path, look: &impl Look) -> Result<(), String> {
    let enclosed = root.ancestors().skip(1).any(|a| {
        let modules = a.join(".git/modules");
        gitdir.starts_with(&modules) && gitdir != modules
    });
    if !enclosed {
        return Err(
            "it is neither a worktree's nor a submodule's git directory (below .git/modules of an enclosing repository)"
                .to_owned(),
        );
    }
    let config = look.read(&gitdir.join("config")).unwrap_or_default();
    let Some(worktree) = core_worktree(&config) else {
        return Err("its config names no core.worktree".to_owned());
    };
    let worktree = normalize(&gitdir.join(worktree));
    if worktree != root {
        return Err(format!(
            "it is the git directory of the submodule at {}",
            worktree.display()
        ));
    }
    Ok(())
}

/// `core.worktree` in git configuration text (the last one wins, as in git). Enough
/// of the syntax for what git writes: sections, `key = value`, quotes, comments.
fn core_worktree(config: &str) -> Option<String> {
    let mut in_core = false;
    let mut found = None;
    for line in config.lines() {
        let mut line = line.trim();
        if let Some(rest) = line.strip_prefix('[') {
            let Some((section, after)) = rest.split_once(']') else {
                in_core = false;
                continue;
            };
            in_core = section.trim().eq_ignore_ascii_case("core");
            line = after.trim();
        }
        if !in_core {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("worktree") {
            found = Some(config_value(value));
        }
    }
    found.filter(|v| !v.is_empty())
}

/// A git configuration value: quotes removed, `\\` `\"` unescaped, a comment cut off.
fn config_value(raw: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    // Blanks up to here were quoted or escaped: they stay.
    let mut kept = 0;
    let mut chars = raw.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => {
                out.extend(chars.next());
                kept = out.len();
            }
            '#' | ';' if !quoted => break,
            c => {
                out.push(c);
                if quoted {
                    kept = out.len();
                }
            }
        }
    }
    let end = out.trim_end().len().max(kept);
    out.truncate(end);
    out
}

/// One `lstat`: a `.git` file (worktree, submodule) or a dangling symlink counts.
pub(super) fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

#[cfg(test)]
#[path = "gitlink_tests.rs"]
mod tests;
