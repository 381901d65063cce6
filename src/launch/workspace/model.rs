//! The workspace a launch mounts, as data: its root, why that root, and where a
//! `.git` file in it leads.

use crate::launch::bindable::SYSTEM_TREES;
use std::fmt;
use std::path::{Path, PathBuf};

/// The directory a launch mounts read-write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The root, at its own path; the cwd is inside it.
    pub root: PathBuf,
    /// How it was chosen.
    pub why: Reason,
    /// The enclosing launch's root when the cwd is outside it (a nested launch run
    /// from elsewhere, say a tool's temp directory): mounted as well.
    pub inherited: Option<PathBuf>,
    /// Where the root's `.git` *file* leads, when that is outside the root: a
    /// worktree's repository or a submodule's directory in its superproject (mounted as
    /// well, so git works there), or a target that is refused.
    pub git: Option<GitLink>,
}

impl Workspace {
    /// The directories a launch binds read-write for the workspace: the root and an
    /// inherited root, leaving out `/` and the trees the container has its own of.
    pub fn roots(&self) -> Vec<&Path> {
        [Some(self.root.as_path()), self.inherited.as_deref()]
            .into_iter()
            .flatten()
            .filter(|r| {
                !r.as_os_str().is_empty()
                    && *r != Path::new("/")
                    && !SYSTEM_TREES.iter().any(|d| r.starts_with(d))
            })
            .collect()
    }
}

/// What becomes of the directory a `.git` file names (`gitdir: PATH`).
///
/// The file is the workspace's own, so whoever could write in the workspace (a tool, a
/// downloaded tarball) chose PATH. It is mounted only when it is a real git directory
/// that links back to this `.git` file, which only git outside the workspace writes:
/// a worktree's administrative directory `<repo>/worktrees/<name>` whose `gitdir` file
/// names `<root>/.git` (then `<repo>` is mounted, which holds it), or a submodule's
/// directory below `.git/modules/` of an enclosing repository whose `core.worktree` is
/// the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitLink {
    /// Mounted read-write at its own path.
    Mounted(PathBuf),
    /// Not mounted.
    Refused {
        /// The `gitdir:` target, normalized.
        gitdir: PathBuf,
        /// Reason, as a sentence part ("it is not a git directory (no HEAD)").
        reason: String,
    },
}

/// Says whether a directory outside the workspace may be mounted at all (never the
/// home directory, jig's own directories, ...): `Err` gives the reason.
pub type Guard<'a> = &'a dyn Fn(&Path) -> Result<(), String>;

/// How the workspace root was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `name` was found in the root.
    Marker(String),
    /// No marker between the cwd and the top of the walk: the cwd alone.
    NoMarker,
    /// A marker was found in a directory that is never mounted whole (home without
    /// `workspace_allow_home`, `/`, a system directory): the cwd alone.
    Ignored {
        /// The marker.
        name: String,
        /// Where it was.
        dir: PathBuf,
        /// Reason that directory is not mounted.
        reason: &'static str,
    },
    /// Passed down by the enclosing jig launch.
    Inherited,
}

impl fmt::Display for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.root.display())?;
        match &self.why {
            Reason::Marker(name) => write!(f, "marker {name} at {}", self.root.display())?,
            Reason::NoMarker => f.write_str("no marker: cwd only")?,
            Reason::Ignored { name, dir, reason } => write!(
                f,
                "marker {name} at {} ignored: {reason}; cwd only",
                dir.display()
            )?,
            Reason::Inherited => f.write_str("inherited from the enclosing jig launch")?,
        }
        f.write_str(")")?;
        if let Some(i) = &self.inherited {
            write!(f, " and {} (the enclosing launch's)", i.display())?;
        }
        match &self.git {
            Some(GitLink::Mounted(g)) => write!(f, " and its git directory {}", g.display())?,
            Some(GitLink::Refused { gitdir, reason }) => write!(
                f,
                "; its .git file's gitdir {} is not mounted: {reason}",
                gitdir.display()
            )?,
            None => {}
        }
        Ok(())
    }
}
