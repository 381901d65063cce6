//! The binds of `[mounts] git_config` ([`crate::launch::git`]), each at its own path:
//!
//! - the host's `/etc/gitconfig`, read-only;
//! - what the user's configuration names (`core.excludesFile`, includes, hooks,
//!   templates, credential stores, ...), read-only, when it is a file or directory
//!   below the home directory that [`config_named_bindable`] allows (a `GIT_CONFIG_*`
//!   variable's file is judged like any variable's path instead);
//! - local remotes (repositories, read-write so `git push` works; bundles read-only)
//!   and the other worktrees of the repository, read-write, as far as
//!   [`linked_bindable`] allows;
//! - a submodule's superproject, read-only.
//!
//! What is inside the workspace or another bind already is left out. Refusals are
//! reported (`not mounting WHAT: REASON`); a missing path is not: git tolerates it.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::launch::bindable::{config_named_bindable, from_env_bindable, linked_bindable};
use crate::launch::facts::{Facts, Target};
use crate::launch::git::{By, GitFacts, SYSTEM};
use crate::launch::workspace::GitLink;
use crate::runtime::spec::{Bind, Node};

/// What git's configuration adds to a plan.
#[derive(Debug, Default)]
pub struct GitBinds {
    /// Host paths, each at its own path.
    pub binds: Vec<Bind>,
    /// Paths not mounted, with the reason.
    pub skipped: Vec<(OsString, String)>,
}

/// The git binds of launching `target` on `facts`.
pub fn plan(target: &Target, facts: &Facts) -> GitBinds {
    let mut out = GitBinds::default();
    let Some(git) = &facts.git else {
        return out;
    };
    let (host, jig_dirs) = (&facts.host, target.jig_dirs.as_slice());
    // Already there: the workspace and the recipe's existing home directories.
    let mut covered: Vec<PathBuf> = facts
        .workspace
        .roots()
        .iter()
        .map(|r| r.to_path_buf())
        .collect();
    for (rel, node) in &facts.home {
        if *node == Node::Dir {
            covered.push(host.home.join(rel));
        }
    }
    // A recipe's own home path (bound or staged), or inside one of the above.
    let known = covered.clone();
    let there = |p: &Path| {
        known.iter().any(|c| p.starts_with(c))
            || p.strip_prefix(&host.home)
                .ok()
                .and_then(Path::to_str)
                .is_some_and(|rel| {
                    facts.home_files.contains_key(rel) || facts.home.contains_key(rel)
                })
    };
    let mut add = |out: &mut GitBinds, path: &Path, node: Node, readonly: bool| {
        if covered.iter().any(|c| path.starts_with(c)) || out.binds.iter().any(|b| b.src == path) {
            return;
        }
        out.binds.push(Bind {
            src: path.to_owned(),
            dst: path.to_owned(),
            node,
            readonly,
        });
        if node != Node::File {
            covered.push(path.to_owned());
        }
    };
    if git.system {
        add(&mut out, Path::new(SYSTEM), Node::File, true);
    }
    for n in &git.named {
        if there(&n.path) {
            continue;
        }
        let judged = match &n.by {
            By::Variable(_) => from_env_bindable(&n.path, host, jig_dirs)
                .and_then(|()| from_env_bindable(&n.real, host, jig_dirs)),
            By::Key { .. } => config_named_bindable(&n.path, host, jig_dirs).and_then(|()| {
                config_named_bindable(&n.real, host, jig_dirs)
                    .map_err(|why| format!("it leads to {}: {why}", n.real.display()))
            }),
        };
        match judged {
            Ok(()) => add(&mut out, &n.path, n.node, true),
            Err(why) => out.skipped.push((what(&n.path, &n.by).into(), why)),
        }
    }
    repository(git, facts, jig_dirs, &mut out, &mut add);
    out
}

/// The remotes, worktrees and superproject of the workspace's repository.
fn repository(
    git: &GitFacts,
    facts: &Facts,
    jig_dirs: &[PathBuf],
    out: &mut GitBinds,
    add: &mut impl FnMut(&mut GitBinds, &Path, Node, bool),
) {
    let host = &facts.host;
    for r in &git.remotes {
        let shown = || format!("{} (remote {})", r.url, r.name);
        match &r.found {
            Ok((real, node, readonly)) => match linked_bindable(real, host, jig_dirs) {
                Ok(()) => add(out, real, *node, *readonly),
                Err(why) => out.skipped.push((shown().into(), why)),
            },
            Err(why) => out.skipped.push((shown().into(), why.clone())),
        }
    }
    for w in &git.worktrees {
        let shown = || format!("{} (a worktree of this repository)", w.dir.display());
        if let Err(why) = &w.linked {
            out.skipped.push((shown().into(), why.clone()));
            continue;
        }
        match linked_bindable(&w.dir, host, jig_dirs) {
            Ok(()) => add(out, &w.dir, Node::Dir, false),
            Err(why) => {
                // Its .git file alone, read-only, still tells git the worktree lives:
                // git marks a worktree prunable when that file is gone.
                out.skipped.push((shown().into(), why));
                if linked_bindable(&w.dot_git, host, jig_dirs).is_ok() {
                    add(out, &w.dot_git, Node::File, true);
                }
            }
        }
    }
    if let Some(s) = &git.superproject {
        let shown = || format!("{} (the superproject)", s.root.display());
        match linked_bindable(&s.root, host, jig_dirs) {
            Ok(()) => {
                add(out, &s.root, Node::Dir, true);
                if let Some(GitLink::Mounted(dir)) = &s.git {
                    add(out, dir, Node::Dir, true);
                }
            }
            Err(why) => out.skipped.push((shown().into(), why)),
        }
    }
}

/// A named path for messages: `~/x (core.excludesFile in ~/.gitconfig)`.
fn what(path: &Path, by: &By) -> String {
    match by {
        By::Variable(v) => format!("{} (${v})", path.display()),
        By::Key { key, file } => format!("{} ({key} in {})", path.display(), file.display()),
    }
}

#[cfg(test)]
#[path = "git_tests.rs"]
mod tests;
