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
//! This runs on every shim call, so it is a handful of `lstat` calls (one per marker
//! per directory level) and reads `config.toml` only in the rare home-marker case.
//! Inside a jig container the enclosing launch's root is passed down in
//! [`ENV_WORKSPACE`], so a nested launch mounts the same workspace.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

/// Markers every recipe uses, before its own.
pub const MARKERS: &[&str] = &["jig.toml", ".git"];

/// Variable through which a launch tells nested launches its workspace root.
pub const ENV_WORKSPACE: &str = "JIG_WORKSPACE";

/// Directories that are never a workspace root (nor, as a whole, a path argument's
/// mount): the root, system directories, and the parents of home directories.
pub const SYSTEM: &[&str] = &[
    "/", "/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/run", "/sbin", "/sys",
    "/usr", "/var", "/tmp", "/home", "/root",
];

/// Trees nothing is ever bound from: the container has its own.
pub const SYSTEM_TREES: &[&str] = &["/proc", "/sys", "/dev"];

/// A file name whose presence marks a workspace root (`package.json`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Marker(String);

impl Marker {
    /// Validates a marker: one plain file name.
    pub fn new(s: &str) -> Result<Marker, String> {
        let p = Path::new(s);
        let mut c = p.components();
        match (c.next(), c.next()) {
            (Some(Component::Normal(_)), None) if !s.contains('/') => Ok(Marker(s.to_owned())),
            _ => Err(format!(
                "invalid marker \"{s}\": expected a file name such as \"package.json\""
            )),
        }
    }
    /// The file name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Marker {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Marker, D::Error> {
        let s = String::deserialize(d)?;
        Marker::new(&s).map_err(serde::de::Error::custom)
    }
}

/// The directory a launch mounts read-write, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    /// The root, at its own path; the cwd is inside it.
    pub root: PathBuf,
    /// How it was chosen.
    pub why: Why,
    /// The enclosing launch's root when the cwd is outside it (a nested launch run
    /// from elsewhere, say a tool's temp directory): mounted as well.
    pub inherited: Option<PathBuf>,
    /// The repository's directory when the root's `.git` is a file pointing outside
    /// it: a worktree's main repository, a submodule's directory in its superproject.
    /// Mounted as well, so git works there.
    pub git_dir: Option<PathBuf>,
}

/// How the workspace root was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
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
        /// Why that directory is not mounted.
        reason: &'static str,
    },
    /// Passed down by the enclosing jig launch.
    Inherited,
}

impl fmt::Display for Workspace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.root.display())?;
        match &self.why {
            Why::Marker(name) => write!(f, "marker {name} at {}", self.root.display())?,
            Why::NoMarker => f.write_str("no marker: cwd only")?,
            Why::Ignored { name, dir, reason } => write!(
                f,
                "marker {name} at {} ignored: {reason}; cwd only",
                dir.display()
            )?,
            Why::Inherited => f.write_str("inherited from the enclosing jig launch")?,
        }
        f.write_str(")")?;
        if let Some(i) = &self.inherited {
            write!(f, " and {} (the enclosing launch's)", i.display())?;
        }
        if let Some(g) = &self.git_dir {
            write!(f, " and its git directory {}", g.display())?;
        }
        Ok(())
    }
}

/// The workspace a launch of a recipe with `markers` would mount from here (`jig
/// which`).
pub fn here(markers: &[Marker]) -> anyhow::Result<Workspace> {
    let host = crate::host::Host::probe()?;
    let inherited = (crate::shim::depth() > 0)
        .then(|| host.var(ENV_WORKSPACE))
        .flatten();
    Ok(find(
        &host.cwd,
        &host.home,
        markers,
        inherited.map(|v| v.as_os_str()),
        || crate::config::load().is_ok_and(|c| c.workspace_allow_home),
    ))
}

/// Finds the workspace of `cwd`. `inherited` is [`ENV_WORKSPACE`] of an enclosing
/// launch (only honoured inside one); `allow_home` is asked, once, whether a marker
/// at `home` itself may make home the root.
pub fn find(
    cwd: &Path,
    home: &Path,
    markers: &[Marker],
    inherited: Option<&OsStr>,
    allow_home: impl FnOnce() -> bool,
) -> Workspace {
    let inherited = inherited
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && normal(p) && mountable_root(p, home).is_ok());
    if let Some(root) = &inherited
        && cwd.starts_with(root)
    {
        return Workspace {
            root: root.clone(),
            why: Why::Inherited,
            inherited: None,
            git_dir: linked_git_dir(root),
        };
    }
    let mut ws = walk(cwd, home, markers, allow_home);
    ws.inherited = inherited;
    ws
}

fn walk(
    cwd: &Path,
    home: &Path,
    markers: &[Marker],
    allow_home: impl FnOnce() -> bool,
) -> Workspace {
    let in_home = home != Path::new("/") && cwd.starts_with(home);
    // The nearest recipe marker, kept while looking further up for jig.toml or .git:
    // in a monorepo the repository, not the nearest package.json, is the workspace.
    let mut weak: Option<(PathBuf, String)> = None;
    let mut ignored = None;
    let mut allow_home = Some(allow_home);
    for dir in cwd.ancestors() {
        let strong = MARKERS.iter().copied().find(|m| exists(&dir.join(m)));
        let found = strong.or_else(|| {
            if weak.is_some() {
                return None;
            }
            markers
                .iter()
                .map(Marker::as_str)
                .find(|m| exists(&dir.join(m)))
        });
        if let Some(name) = found {
            let verdict = if dir == home && dir != cwd {
                if allow_home.take().is_some_and(|f| f()) {
                    Ok(())
                } else {
                    Err(
                        "the home directory (set workspace_allow_home = true in config.toml to mount it)",
                    )
                }
            } else if dir == cwd {
                Ok(())
            } else {
                mountable_root(dir, home)
            };
            match verdict {
                Ok(()) if strong.is_some() => return rooted(dir, name),
                Ok(()) => weak = Some((dir.to_owned(), name.to_owned())),
                Err(reason) => {
                    ignored.get_or_insert(Why::Ignored {
                        name: name.to_owned(),
                        dir: dir.to_owned(),
                        reason,
                    });
                    // Nothing above an ignored directory is mounted either.
                    break;
                }
            }
        }
        if in_home && dir == home {
            break;
        }
    }
    if let Some((dir, name)) = weak {
        return rooted(&dir, &name);
    }
    Workspace {
        root: cwd.to_owned(),
        why: ignored.unwrap_or(Why::NoMarker),
        inherited: None,
        git_dir: None,
    }
}

fn rooted(dir: &Path, name: &str) -> Workspace {
    Workspace {
        root: dir.to_owned(),
        why: Why::Marker(name.to_owned()),
        inherited: None,
        git_dir: (name == ".git").then(|| linked_git_dir(dir)).flatten(),
    }
}

/// Where a `.git` *file* in `root` leads (`gitdir: PATH`), when that is outside
/// `root`: for a worktree the repository's own git directory (its `commondir`), for a
/// submodule its directory in the superproject. One `lstat` when `.git` is a directory.
fn linked_git_dir(root: &Path) -> Option<PathBuf> {
    let dot_git = root.join(".git");
    if !std::fs::symlink_metadata(&dot_git).ok()?.is_file() {
        return None;
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let gitdir = text.lines().next()?.strip_prefix("gitdir:")?.trim();
    let gitdir = crate::args::normalize(&root.join(gitdir));
    let dir = match std::fs::read_to_string(gitdir.join("commondir")) {
        Ok(common) => crate::args::normalize(&gitdir.join(common.trim())),
        Err(_) => gitdir,
    };
    (!dir.starts_with(root)).then_some(dir)
}

/// Whether `dir` may be mounted whole as a workspace root (the cwd itself always is).
fn mountable_root(dir: &Path, home: &Path) -> Result<(), &'static str> {
    if dir == Path::new("/") {
        return Err("the root directory");
    }
    if SYSTEM.iter().any(|s| dir == Path::new(s)) || SYSTEM_TREES.iter().any(|s| dir.starts_with(s))
    {
        return Err("a system directory");
    }
    if home.starts_with(dir) && home != dir {
        return Err("it contains the home directory");
    }
    Ok(())
}

/// An absolute path without `.` or `..` components.
fn normal(p: &Path) -> bool {
    p.components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
}

/// One `lstat`: a `.git` file (worktree, submodule) or a dangling symlink counts.
fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn m(names: &[&str]) -> Vec<Marker> {
        names.iter().map(|n| Marker::new(n).unwrap()).collect()
    }

    #[test]
    fn marker_names_are_plain_file_names() {
        assert!(Marker::new("package.json").is_ok());
        for bad in ["", "a/b", "..", ".", "/x"] {
            assert!(Marker::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nearest_git_or_jig_toml_wins_over_recipe_markers() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let repo = home.join("src/repo");
        let pkg = repo.join("packages/a");
        let sub = pkg.join("lib");
        fs::create_dir_all(&sub).unwrap();
        let find = |cwd: &Path, markers: &[Marker]| find(cwd, &home, markers, None, || panic!());

        // Nothing: the cwd alone.
        assert_eq!(find(&sub, &[]).root, sub);
        assert_eq!(find(&sub, &[]).why, Why::NoMarker);
        // A recipe marker alone.
        fs::write(pkg.join("package.json"), "{}").unwrap();
        let ws = find(&sub, &m(&["package.json"]));
        assert_eq!(
            (ws.root, ws.why),
            (pkg.clone(), Why::Marker("package.json".into()))
        );
        // Other recipes do not see it.
        assert_eq!(find(&sub, &[]).root, sub);
        // A repository above it wins; a .git *file* (worktree, submodule) counts.
        fs::write(repo.join(".git"), "gitdir: /elsewhere\n").unwrap();
        let ws = find(&sub, &m(&["package.json"]));
        assert_eq!(
            (ws.root, ws.why),
            (repo.clone(), Why::Marker(".git".into()))
        );
        // jig.toml nearer than .git wins.
        fs::write(pkg.join("jig.toml"), "").unwrap();
        assert_eq!(find(&sub, &[]).root, pkg);
        // The cwd itself may be the root.
        assert_eq!(find(&pkg, &[]).root, pkg);
    }

    #[test]
    fn a_marker_at_home_does_not_widen_unless_allowed() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let cwd = home.join("notes/2024");
        fs::create_dir_all(&cwd).unwrap();
        fs::create_dir(home.join(".git")).unwrap();
        let ws = find(&cwd, &home, &[], None, || false);
        assert_eq!(ws.root, cwd);
        assert!(
            matches!(&ws.why, Why::Ignored { dir, .. } if *dir == home),
            "{ws}"
        );
        assert!(ws.to_string().contains("ignored"), "{ws}");
        let ws = find(&cwd, &home, &[], None, || true);
        assert_eq!(ws.root, home);
        // Run in home itself, home is the cwd: mounted as before.
        assert_eq!(find(&home, &home, &[], None, || false).root, home);
    }

    #[test]
    fn the_walk_stops_at_home() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let cwd = home.join("p");
        fs::create_dir_all(&cwd).unwrap();
        // A marker above home is never reached.
        fs::write(t.path().join("jig.toml"), "").unwrap();
        let ws = find(&cwd, &home, &[], None, || panic!("not asked"));
        assert_eq!((ws.root, ws.why), (cwd, Why::NoMarker));
    }

    #[test]
    fn roots_that_contain_home_or_are_system_dirs_are_refused() {
        let home = Path::new("/home/alice");
        assert!(mountable_root(Path::new("/"), home).is_err());
        assert!(mountable_root(Path::new("/home"), home).is_err());
        assert!(mountable_root(Path::new("/tmp"), home).is_err());
        assert!(mountable_root(Path::new("/proc/1"), home).is_err());
        assert!(mountable_root(Path::new("/srv/x"), Path::new("/srv/x/me")).is_err());
        assert!(mountable_root(Path::new("/srv/x"), home).is_ok());
        assert!(mountable_root(Path::new("/tmp/x"), home).is_ok());
    }

    #[test]
    fn a_worktree_brings_its_repository() {
        let t = tempfile::tempdir().unwrap();
        let main = t.path().join("main");
        let admin = main.join(".git/worktrees/wt");
        fs::create_dir_all(&admin).unwrap();
        fs::write(admin.join("commondir"), "../..\n").unwrap();
        let wt = t.path().join("wt");
        fs::create_dir_all(wt.join("src")).unwrap();
        fs::write(wt.join(".git"), format!("gitdir: {}\n", admin.display())).unwrap();
        let ws = find(
            &wt.join("src"),
            Path::new("/nonexistent"),
            &[],
            None,
            || false,
        );
        assert_eq!(ws.root, wt);
        assert_eq!(ws.git_dir, Some(main.join(".git")));
        // A submodule: a relative gitdir without commondir.
        let sub = main.join("lib");
        fs::create_dir_all(main.join(".git/modules/lib")).unwrap();
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join(".git"), "gitdir: ../.git/modules/lib\n").unwrap();
        let ws = find(&sub, Path::new("/nonexistent"), &[], None, || false);
        assert_eq!(ws.git_dir, Some(main.join(".git/modules/lib")));
        // A plain repository: nothing extra.
        assert_eq!(
            find(&main, Path::new("/x"), &[], None, || false).git_dir,
            None
        );
    }

    #[test]
    fn nested_launches_inherit_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("w");
        let cwd = root.join("a/b");
        fs::create_dir_all(&cwd).unwrap();
        let home = Path::new("/nonexistent-home");
        let ws = find(&cwd, home, &[], Some(root.as_os_str()), || false);
        assert_eq!((ws.root, ws.why), (root.clone(), Why::Inherited));
        // From outside it, the cwd's own workspace plus the inherited one.
        let other = t.path().join("tmpdir");
        fs::create_dir(&other).unwrap();
        let ws = find(&other, home, &[], Some(root.as_os_str()), || false);
        assert_eq!(ws.root, other);
        assert_eq!(ws.inherited, Some(root));
        // Never an unsafe one.
        for bad in ["/", "/etc", "relative", "/x/../etc"] {
            let ws = find(&cwd, home, &[], Some(OsStr::new(bad)), || false);
            assert_ne!(ws.why, Why::Inherited, "{bad}");
            assert_eq!(ws.inherited, None, "{bad}");
        }
    }
}
