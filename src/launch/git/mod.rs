//! What a git launch needs beyond the workspace (`[mounts] git_config`): the host's
//! `/etc/gitconfig`, the home files the user's configuration names, the local remotes
//! and other worktrees of the workspace's repository, and the superproject of a
//! submodule. This module finds them on the host (facts, all the reading);
//! [`crate::launch::plan::git`] judges and binds them.
//!
//! The parts: `config` reads git's configuration syntax, `named` the paths the
//! configuration names, `repo` what the repository names, `model` the types.

mod config;
mod model;
mod named;
mod repo;

pub use model::*;
pub use named::SYSTEM;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::launch::bindable::linked_bindable;
use crate::launch::homefiles::HomeFile;
use crate::launch::host::Host;
use crate::launch::workspace::{GitLink, Workspace};

/// Gathers the facts of a git launch as `host` in `ws`. `staged` has the home files
/// the launch read already (`~/.gitconfig`); `jig_dirs` are never followed into.
pub fn gather(
    host: &Host,
    ws: &Workspace,
    staged: &BTreeMap<String, HomeFile>,
    jig_dirs: &[PathBuf],
) -> GitFacts {
    let known = |p: &Path| {
        let rel = p.strip_prefix(&host.home).ok()?.to_str()?;
        match staged.get(rel)? {
            HomeFile::File { contents, .. } => Some(contents.clone()),
            HomeFile::Missing { .. } => Some(Vec::new()),
        }
    };
    let (system, named) = named::gather(host, &known);
    let mut facts = GitFacts {
        system,
        named,
        ..GitFacts::default()
    };
    if let Some(repo) = repo::repo(ws) {
        facts.remotes = repo::remotes(&repo, &ws.root);
        facts.worktrees = repo::worktrees(&repo, &ws.root);
        // A submodule's `.git` file leads to its git directory itself; a worktree's to
        // its administrative directory inside the repository.
        if let Some(linked) = &repo.linked
            && Some(&GitLink::Mounted(linked.clone())) == ws.git.as_ref()
        {
            let guard = |p: &Path| linked_bindable(p, host, jig_dirs);
            facts.superproject = repo::superproject(&ws.root, linked, &host.home, &guard);
        }
    }
    facts
}
