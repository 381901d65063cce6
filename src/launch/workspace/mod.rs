//! The workspace: which host directory a launch mounts read-write around the cwd.
//!
//! A tool run in `project/src` usually needs the whole project (`git status` reads
//! `../.git`, `npm test` reads `../package.json`). jig therefore mounts the
//! *workspace root*: the nearest ancestor of the cwd holding `jig.toml` or `.git`
//! (a file in worktrees and submodules counts too), else the nearest holding one of
//! the recipe's own `markers` (`package.json` for npm), else the cwd alone.
//!
//! The walk never widens the mount to the home directory, one of its ancestors, `/`
//! or a system directory by accident: a marker there is ignored (the cwd alone is
//! mounted) unless `workspace_allow_home = true` in jig's `config.toml` allows a
//! marker exactly at `$HOME`. The walk stops at `$HOME` when the cwd is inside it.
//!
//! When the root's `.git` is a file (a worktree, a submodule), the git directory it
//! names is mounted too, if it links back to this `.git` file ([`GitLink`]): whoever
//! could write in the workspace chose that name.
//!
//! This runs on every shim call, so it is a handful of `lstat` calls (one per marker
//! per directory level) and reads `config.toml` only in the rare home-marker case; a
//! `.git` file costs a few more `lstat`s and small reads.
//! Inside a jig container the enclosing launch's root is passed down in
//! [`nest::ENV_WORKSPACE`](crate::base::nest::ENV_WORKSPACE), so a nested launch
//! mounts the same workspace.
//!
//! The parts: `model` holds the types ([`Workspace`], [`Reason`], [`GitLink`]),
//! `find` the walk up from the cwd, `gitlink` the judgement of a `.git` file.

mod find;
mod gitlink;
mod model;

pub use find::*;
pub use gitlink::linked_git_dir;
pub use model::*;
