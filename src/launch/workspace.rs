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
//! [`nest::ENV_WORKSPACE`], so a nested launch mounts the same workspace.

use super::bindable::{SYSTEM, SYSTEM_TREES};
use crate::base::nest;
use crate::base::paths::normalize;
use std::ffi::OsStr;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use crate::recipe::Marker;

/// Markers every recipe uses, before its own.
pub const MARKERS: &[&str] = &["jig.toml", ".git"];

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

/// The workspace a launch of a recipe with `markers` would mount from here (`jig
/// which`).
pub fn here(markers: &[Marker]) -> anyhow::Result<Workspace> {
    let host = crate::launch::host::Host::probe()?;
    let inherited = (nest::depth() > 0)
        .then(|| host.var(nest::ENV_WORKSPACE))
        .flatten();
    let jig_dirs =
        crate::base::paths::Dirs::from_env()?.private(crate::base::config::dir().as_deref());
    Ok(find(
        &host.cwd,
        &host.home,
        markers,
        inherited.map(|v| v.as_os_str()),
        || crate::base::config::load().is_ok_and(|c| c.workspace_allow_home),
        &|p| super::bindable::linked_bindable(p, &host, &jig_dirs),
    ))
}

/// Finds the workspace of `cwd`. `inherited` is [`nest::ENV_WORKSPACE`] of an enclosing
/// launch (only honoured inside one); `allow_home` is asked, once, whether a marker
/// at `home` itself may make home the root; `guard` judges a git directory a `.git`
/// file leads to outside the root (see [`GitLink`]).
pub fn find(
    cwd: &Path,
    home: &Path,
    markers: &[Marker],
    inherited: Option<&OsStr>,
    allow_home: impl FnOnce() -> bool,
    guard: Guard,
) -> Workspace {
    let inherited = inherited
        .map(PathBuf::from)
        .filter(|p| p.is_absolute() && normal(p) && mountable_root(p, home).is_ok());
    if let Some(root) = &inherited
        && cwd.starts_with(root)
    {
        return Workspace {
            root: root.clone(),
            why: Reason::Inherited,
            inherited: None,
            git: linked_git_dir(root, guard),
        };
    }
    let mut ws = walk(cwd, home, markers, allow_home, guard);
    ws.inherited = inherited;
    ws
}

fn walk(
    cwd: &Path,
    home: &Path,
    markers: &[Marker],
    allow_home: impl FnOnce() -> bool,
    guard: Guard,
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
                Ok(()) if strong.is_some() => return rooted(dir, name, guard),
                Ok(()) => weak = Some((dir.to_owned(), name.to_owned())),
                Err(reason) => {
                    ignored.get_or_insert(Reason::Ignored {
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
        return rooted(&dir, &name, guard);
    }
    Workspace {
        root: cwd.to_owned(),
        why: ignored.unwrap_or(Reason::NoMarker),
        inherited: None,
        git: None,
    }
}

fn rooted(dir: &Path, name: &str, guard: Guard) -> Workspace {
    Workspace {
        root: dir.to_owned(),
        why: Reason::Marker(name.to_owned()),
        inherited: None,
        git: (name == ".git")
            .then(|| linked_git_dir(dir, guard))
            .flatten(),
    }
}

/// Where a `.git` *file* in `root` leads, judged by [`judge`]. One `lstat` when `.git`
/// is a directory (the common case); a few `lstat`s and small reads otherwise.
fn linked_git_dir(root: &Path, guard: Guard) -> Option<GitLink> {
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
        let find = |cwd: &Path, markers: &[Marker]| {
            find(cwd, &home, markers, None, || panic!(), &|_| Ok(()))
        };

        // Nothing: the cwd alone.
        assert_eq!(find(&sub, &[]).root, sub);
        assert_eq!(find(&sub, &[]).why, Reason::NoMarker);
        // A recipe marker alone.
        fs::write(pkg.join("package.json"), "{}").unwrap();
        let ws = find(&sub, &m(&["package.json"]));
        assert_eq!(
            (ws.root, ws.why),
            (pkg.clone(), Reason::Marker("package.json".into()))
        );
        // Other recipes do not see it.
        assert_eq!(find(&sub, &[]).root, sub);
        // A repository above it wins; a .git *file* (worktree, submodule) counts.
        fs::write(repo.join(".git"), "gitdir: /elsewhere\n").unwrap();
        let ws = find(&sub, &m(&["package.json"]));
        assert_eq!(
            (ws.root, ws.why),
            (repo.clone(), Reason::Marker(".git".into()))
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
        let ws = find(&cwd, &home, &[], None, || false, &|_| Ok(()));
        assert_eq!(ws.root, cwd);
        assert!(
            matches!(&ws.why, Reason::Ignored { dir, .. } if *dir == home),
            "{ws}"
        );
        assert!(ws.to_string().contains("ignored"), "{ws}");
        let ws = find(&cwd, &home, &[], None, || true, &|_| Ok(()));
        assert_eq!(ws.root, home);
        // Run in home itself, home is the cwd: mounted as before.
        assert_eq!(
            find(&home, &home, &[], None, || false, &|_| Ok(())).root,
            home
        );
    }

    #[test]
    fn the_walk_stops_at_home() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let cwd = home.join("p");
        fs::create_dir_all(&cwd).unwrap();
        // A marker above home is never reached.
        fs::write(t.path().join("jig.toml"), "").unwrap();
        let ws = find(&cwd, &home, &[], None, || panic!("not asked"), &|_| Ok(()));
        assert_eq!((ws.root, ws.why), (cwd, Reason::NoMarker));
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
        // The layout `git worktree add` and `git submodule add` make, on disk.
        let t = tempfile::tempdir().unwrap();
        let main = t.path().join("main");
        let admin = main.join(".git/worktrees/wt");
        fs::create_dir_all(&admin).unwrap();
        fs::create_dir(main.join(".git/objects")).unwrap();
        fs::write(main.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        fs::write(admin.join("HEAD"), "ref: refs/heads/wt\n").unwrap();
        fs::write(admin.join("commondir"), "../..\n").unwrap();
        let wt = t.path().join("wt");
        fs::write(
            admin.join("gitdir"),
            format!("{}\n", wt.join(".git").display()),
        )
        .unwrap();
        fs::create_dir_all(wt.join("src")).unwrap();
        fs::write(wt.join(".git"), format!("gitdir: {}\n", admin.display())).unwrap();
        let none = Path::new("/nonexistent");
        let ws = find(&wt.join("src"), none, &[], None, || false, &|_| Ok(()));
        assert_eq!(ws.root, wt);
        assert_eq!(ws.git, Some(GitLink::Mounted(main.join(".git"))));
        assert!(ws.to_string().ends_with(&format!(
            " and its git directory {}",
            main.join(".git").display()
        )));
        // The guard has the last word.
        let ws = find(&wt, none, &[], None, || false, &|_| Err("no".into()));
        assert!(
            matches!(&ws.git, Some(GitLink::Refused { gitdir, reason }) if *gitdir == admin && reason == "no"),
            "{ws:?}"
        );
        assert!(ws.to_string().contains("is not mounted: no"), "{ws}");
        // A submodule: a relative gitdir without commondir.
        let sub = main.join("lib");
        let modules = main.join(".git/modules/lib");
        fs::create_dir_all(modules.join("objects")).unwrap();
        fs::write(modules.join("HEAD"), "0123\n").unwrap();
        fs::write(
            modules.join("config"),
            "[core]\n\tworktree = ../../../lib\n",
        )
        .unwrap();
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join(".git"), "gitdir: ../.git/modules/lib\n").unwrap();
        let ws = find(&sub, none, &[], None, || false, &|_| Ok(()));
        assert_eq!(ws.git, Some(GitLink::Mounted(modules)));
        // A plain repository: nothing extra, and nothing asked.
        let ws = find(&main, none, &[], None, || false, &|_| panic!("not asked"));
        assert_eq!(ws.git, None);
    }

    /// A file system in memory for [`judge`]: directories, files, and symlinked paths
    /// (a path and what it really is).
    #[derive(Default)]
    struct Fake {
        dirs: Vec<PathBuf>,
        files: Vec<(PathBuf, String)>,
        links: Vec<(PathBuf, PathBuf)>,
    }

    impl Fake {
        fn dir(mut self, p: &str) -> Fake {
            self.dirs.push(p.into());
            self
        }
        fn file(mut self, p: &str, text: &str) -> Fake {
            self.files.push((p.into(), text.into()));
            self
        }
        fn link(mut self, p: &str, real: &str) -> Fake {
            self.links.push((p.into(), real.into()));
            self
        }
        /// A repository's git directory at `dir`.
        fn repo(self, dir: &str) -> Fake {
            self.file(&format!("{dir}/HEAD"), "ref: refs/heads/main\n")
                .dir(&format!("{dir}/objects"))
        }
        /// A worktree's administrative directory at `admin`, linking back to `back`.
        fn admin(self, admin: &str, back: &str) -> Fake {
            self.file(&format!("{admin}/HEAD"), "ref: refs/heads/wt\n")
                .file(&format!("{admin}/commondir"), "../..\n")
                .file(&format!("{admin}/gitdir"), &format!("{back}\n"))
        }
    }

    impl Look for Fake {
        fn exists(&self, p: &Path) -> bool {
            self.dirs.iter().any(|d| d.starts_with(p))
                || self.files.iter().any(|(f, _)| f.starts_with(p))
        }
        fn read(&self, p: &Path) -> Option<String> {
            self.files
                .iter()
                .find(|(f, _)| f == p)
                .map(|(_, t)| t.clone())
        }
        fn real(&self, p: &Path) -> Option<PathBuf> {
            if let Some((_, real)) = self.links.iter().find(|(l, _)| l == p) {
                return Some(real.clone());
            }
            self.exists(p).then(|| p.to_owned())
        }
    }

    fn judged(fs: &Fake, root: &str, dot_git: &str) -> Result<Option<PathBuf>, String> {
        judged_with(fs, root, dot_git, &|_| Ok(()))
    }

    fn judged_with(
        fs: &Fake,
        root: &str,
        dot_git: &str,
        guard: Guard,
    ) -> Result<Option<PathBuf>, String> {
        match judge(Path::new(root), dot_git, fs, guard) {
            None => Ok(None),
            Some(GitLink::Mounted(d)) => Ok(Some(d)),
            Some(GitLink::Refused { reason, .. }) => Err(reason),
        }
    }

    fn refused(r: Result<Option<PathBuf>, String>, part: &str) {
        match r {
            Err(reason) => assert!(reason.contains(part), "{reason:?} lacks {part:?}"),
            other => panic!("{other:?}: not refused ({part})"),
        }
    }

    #[test]
    fn a_worktree_is_mounted_only_when_it_links_back() {
        let fs = Fake::default()
            .repo("/w/main/.git")
            .admin("/w/main/.git/worktrees/wt", "/w/wt/.git")
            .admin("/w/main/.git/worktrees/rel", "../../../../rel/.git");
        let main = Some(PathBuf::from("/w/main/.git"));
        assert_eq!(
            judged(&fs, "/w/wt", "gitdir: /w/main/.git/worktrees/wt\n"),
            Ok(main.clone())
        );
        // Relative, both ways (worktree.useRelativePaths).
        assert_eq!(
            judged(&fs, "/w/rel", "gitdir: ../main/.git/worktrees/rel"),
            Ok(main)
        );
        // Another worktree's: its back-link names that one.
        refused(
            judged(&fs, "/w/evil", "gitdir: /w/main/.git/worktrees/wt"),
            "it belongs to the worktree at /w/wt, not this one",
        );
        // Without a back-link, or with a commondir that is not its repository.
        let fs = fs
            .file("/w/main/.git/worktrees/bare/HEAD", "x")
            .file("/w/main/.git/worktrees/bare/commondir", "../..")
            .file("/w/fake/HEAD", "x")
            .file("/w/fake/commondir", "/w/main/.git")
            .file("/w/fake/gitdir", "/w/evil/.git");
        refused(
            judged(&fs, "/w/evil", "gitdir: /w/main/.git/worktrees/bare"),
            "no gitdir file",
        );
        refused(
            judged(&fs, "/w/evil", "gitdir: /w/fake"),
            "it is not in the worktrees directory of /w/main/.git",
        );
        // A repository that is no git directory.
        let fs = Fake::default()
            .file("/w/main/.git/HEAD", "x")
            .admin("/w/main/.git/worktrees/wt", "/w/wt/.git");
        refused(
            judged(&fs, "/w/wt", "gitdir: /w/main/.git/worktrees/wt"),
            "/w/main/.git is not a git directory",
        );
    }

    #[test]
    fn a_git_directory_inside_the_workspace_never_leads_out() {
        // Everything below the root, the tool may have written.
        let fs = Fake::default()
            .repo("/w/main/.git")
            .repo("/w/p/.inner")
            .admin("/w/p/.wt", "/w/p/.git")
            .file("/w/p/.wt/commondir", "/w/main/.git")
            .repo("/w/p/.x")
            .admin("/w/p/.x/worktrees/n", "/w/p/.git")
            .repo("/w/p/x")
            .admin("/w/p/x/worktrees/n", "/w/p/.git");
        assert_eq!(judged(&fs, "/w/p", "gitdir: .inner"), Ok(None));
        refused(
            judged(&fs, "/w/p", "gitdir: .wt"),
            "not in the worktrees directory",
        );
        assert_eq!(judged(&fs, "/w/p", "gitdir: .x/worktrees/n"), Ok(None));
        // A root inside the repository it names: the back-link is the workspace's.
        refused(
            judged(&fs, "/w/p/x/worktrees", "gitdir: n"),
            "it is inside the workspace, and /w/p/x outside it",
        );
        // Not a gitdir line: nothing.
        assert_eq!(judged(&fs, "/w/p", "ref: x\n"), Ok(None));
    }

    #[test]
    fn a_submodule_is_mounted_only_below_an_enclosing_repository_and_linked_back() {
        let wt = |w: &str| format!("[core]\n\tbare = false\n\tworktree = {w}\n");
        let fs = Fake::default()
            .repo("/w/super/.git/modules/lib")
            .file("/w/super/.git/modules/lib/config", &wt("../../../lib"))
            .repo("/w/super/.git/modules/a/modules/b")
            .file(
                "/w/super/.git/modules/a/modules/b/config",
                &wt("../../../../../a/b"),
            )
            .repo("/w/super/.git/modules/none")
            .file(
                "/w/super/.git/modules/none/config",
                "[core]\n\tbare = false\n",
            )
            .repo("/w/fake")
            .file("/w/fake/config", &wt("../evil"));
        assert_eq!(
            judged(&fs, "/w/super/lib", "gitdir: ../.git/modules/lib\n"),
            Ok(Some("/w/super/.git/modules/lib".into()))
        );
        assert_eq!(
            judged(
                &fs,
                "/w/super/a/b",
                "gitdir: ../../.git/modules/a/modules/b"
            ),
            Ok(Some("/w/super/.git/modules/a/modules/b".into()))
        );
        refused(
            judged(&fs, "/w/super/evil", "gitdir: ../.git/modules/lib"),
            "it is the git directory of the submodule at /w/super/lib",
        );
        refused(
            judged(&fs, "/w/super/none", "gitdir: ../.git/modules/none"),
            "no core.worktree",
        );
        // Its core.worktree names the root, but nothing encloses it.
        refused(
            judged(&fs, "/w/evil", "gitdir: /w/fake"),
            "neither a worktree's nor a submodule's",
        );
        // A repository elsewhere is not "enclosing".
        refused(
            judged(&fs, "/elsewhere/lib", "gitdir: /w/super/.git/modules/lib"),
            "neither a worktree's nor a submodule's",
        );
    }

    #[test]
    fn other_targets_are_refused_with_the_reason() {
        let fs = Fake::default()
            .file("/home/me/.ssh/authorized_keys", "key")
            .file("/w/half/HEAD", "x")
            .repo("/w/real")
            .link("/w/link", "/w/real");
        refused(
            judged(&fs, "/w/p", "gitdir: /home/me/.ssh"),
            "it is not a git directory (no HEAD)",
        );
        refused(
            judged(&fs, "/w/p", "gitdir: /w/half"),
            "no objects, no commondir",
        );
        refused(
            judged(&fs, "/w/p", "gitdir: /w/missing"),
            "it does not exist",
        );
        refused(
            judged(&fs, "/w/p", "gitdir: /w/link"),
            "it leads through a symlink to /w/real",
        );
        // The guard is asked before anything is read there.
        let guard: Guard = &|p| {
            if p.starts_with("/home/me") {
                Err("it is private".into())
            } else {
                Ok(())
            }
        };
        let nothing = Fake::default();
        refused(
            judged_with(&nothing, "/w/p", "gitdir: /home/me/x", guard),
            "it is private",
        );
        // And about the repository of a worktree, too.
        let fs = Fake::default()
            .repo("/home/me/.git")
            .admin("/home/me/.git/worktrees/wt", "/w/wt/.git");
        let guard: Guard = &|p| {
            if p == Path::new("/home/me/.git") {
                Err("it is private".into())
            } else {
                Ok(())
            }
        };
        refused(
            judged_with(&fs, "/w/wt", "gitdir: /home/me/.git/worktrees/wt", guard),
            "it is private",
        );
    }

    #[test]
    fn core_worktree_is_read_as_git_writes_it() {
        assert_eq!(
            core_worktree("[core]\n\tworktree = ../../../lib\n").as_deref(),
            Some("../../../lib")
        );
        assert_eq!(
            core_worktree("[Core]\nWorkTree=a ; c\n").as_deref(),
            Some("a")
        );
        assert_eq!(core_worktree("[core] worktree = a\n").as_deref(), Some("a"));
        assert_eq!(
            core_worktree("[core]\nworktree = \"a b \" # c\n").as_deref(),
            Some("a b ")
        );
        assert_eq!(
            core_worktree("[core]\nworktree = a\\\"b\n").as_deref(),
            Some("a\"b")
        );
        assert_eq!(
            core_worktree("[core]\nworktree = a\n[core]\nworktree = b\n").as_deref(),
            Some("b")
        );
        for none in [
            "",
            "[core]\nbare = false\n",
            "[core \"x\"]\nworktree = a\n",
            "[remote \"origin\"]\nworktree = a\n",
            "worktree = a\n",
            "[core]\nworktree =\n",
        ] {
            assert_eq!(core_worktree(none), None, "{none:?}");
        }
    }

    #[test]
    fn nested_launches_inherit_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("w");
        let cwd = root.join("a/b");
        fs::create_dir_all(&cwd).unwrap();
        let home = Path::new("/nonexistent-home");
        let ws = find(&cwd, home, &[], Some(root.as_os_str()), || false, &|_| {
            Ok(())
        });
        assert_eq!((ws.root, ws.why), (root.clone(), Reason::Inherited));
        // From outside it, the cwd's own workspace plus the inherited one.
        let other = t.path().join("tmpdir");
        fs::create_dir(&other).unwrap();
        let ws = find(&other, home, &[], Some(root.as_os_str()), || false, &|_| {
            Ok(())
        });
        assert_eq!(ws.root, other);
        assert_eq!(ws.inherited, Some(root));
        // Never an unsafe one.
        for bad in ["/", "/etc", "relative", "/x/../etc"] {
            let ws = find(
                &cwd,
                home,
                &[],
                Some(OsStr::new(bad)),
                || false,
                &|_| Ok(()),
            );
            assert_ne!(ws.why, Reason::Inherited, "{bad}");
            assert_eq!(ws.inherited, None, "{bad}");
        }
    }
}
