//! What a git launch may bring in beyond the workspace, as facts: found on the host by
//! [`super::gather`], judged and bound by [`crate::launch::plan::git`].

use std::path::PathBuf;

use crate::launch::workspace::GitLink;
use crate::runtime::spec::Node;

/// The facts of `[mounts] git_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitFacts {
    /// The host's `/etc/gitconfig` exists (and `GIT_CONFIG_NOSYSTEM` is not set).
    pub system: bool,
    /// Existing paths that git's configuration (or a `GIT_CONFIG_*` variable) names.
    pub named: Vec<Named>,
    /// Local remotes of the workspace's repository.
    pub remotes: Vec<Remote>,
    /// The repository's other worktrees.
    pub worktrees: Vec<Worktree>,
    /// The superproject of a submodule workspace.
    pub superproject: Option<Superproject>,
}

/// Who names a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum By {
    /// A variable of the caller's environment (`GIT_CONFIG_GLOBAL`).
    Variable(String),
    /// A key of a configuration file (`core.excludesFile`, in `~/.gitconfig`).
    Key {
        /// The key, as git documents it.
        key: String,
        /// The file it is in.
        file: PathBuf,
    },
}

/// An existing path git's configuration names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The path as named (`~` expanded, made absolute, normalized).
    pub path: PathBuf,
    /// Its real path (symlinks resolved): what a bind of it shows.
    pub real: PathBuf,
    /// What is there.
    pub node: Node,
    /// Who names it.
    pub by: By,
}

/// A remote whose URL is a local path (`/srv/x.git`, `../x`, `file:///srv/x.git`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The remote's name.
    pub name: String,
    /// Its URL as configured.
    pub url: String,
    /// The real path to bind, what it is, and read-only (a bundle file); or why not.
    pub found: Result<(PathBuf, Node, bool), String>,
}

/// Another worktree registered in the repository (`<repo>/worktrees/NAME/gitdir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worktree {
    /// Its directory.
    pub dir: PathBuf,
    /// Its `.git` file, which `gitdir` names.
    pub dot_git: PathBuf,
    /// Whether that `.git` file links back to the registration (git wrote both), or
    /// why not.
    pub linked: Result<(), String>,
}

/// The repository that holds the workspace as a submodule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Superproject {
    /// Its working tree.
    pub root: PathBuf,
    /// Its git directory when that is elsewhere (a nested submodule's).
    pub git: Option<GitLink>,
}
