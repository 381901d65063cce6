//! The walk up from the cwd to the workspace root: the nearest marker, never a
//! directory that must not be mounted whole, or the root an enclosing launch passed
//! down.

use super::gitlink::{exists, linked_git_dir};
use super::model::{Guard, Reason, Workspace};
use crate::base::nest;
use crate::launch::bindable::{SYSTEM, SYSTEM_TREES};
use crate::recipe::Marker;
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// Markers every recipe uses, before its own.
pub const MARKERS: &[&str] = &["jig.toml", ".git"];

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
        &|p| crate::launch::bindable::linked_bindable(p, &host, &jig_dirs),
    ))
}

/// Finds the workspace of `cwd`. `inherited` is [`nest::ENV_WORKSPACE`] of an enclosing
/// launch (only honoured inside one); `allow_home` is asked, once, whether a marker
/// at `home` itself may make home the root; `guard` judges a git directory a `.git`
/// file leads to outside the root (see [`GitLink`](super::GitLink)).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::workspace::GitLink;
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
