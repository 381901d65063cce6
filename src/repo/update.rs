//! `jig repo update`: moving a repository's pin to what its source and ref name now,
//! and what changed between the two pins.

use std::collections::BTreeMap;
use std::fs;

use anyhow::{Context, Result};

use super::contents::{Contents, RecipeFile};
use super::dir;
use super::git::{self, Git};
use super::parse::{parse, versions};
use super::pinned::{contents, git_contents};
use super::registry::{Location, Repos, git_dir, lock, snapshot_path, write_atomic};
use crate::base::paths::Dirs;

/// How one recipe differs between two pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New recipe, with its versions.
    Added(String, Vec<String>),
    /// Recipe gone, with the versions it had.
    Removed(String, Vec<String>),
    /// Recipe text changed: versions before and after.
    Changed(String, Vec<String>, Vec<String>),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(n, v) => write!(f, "added    {n} {}", v.join(",")),
            Change::Removed(n, v) => write!(f, "removed  {n} {}", v.join(",")),
            Change::Changed(n, old, new) if old == new => {
                write!(f, "changed  {n} {} (same versions)", new.join(","))
            }
            Change::Changed(n, old, new) => {
                write!(f, "changed  {n} {} -> {}", old.join(","), new.join(","))
            }
        }
    }
}

/// Compares a repository's recipes at two pins.
pub fn diff(repo: &str, old: &Contents, new: &Contents) -> Vec<Change> {
    let versions_of = |f: &RecipeFile| {
        parse(repo, f)
            .map(|r| versions(&r))
            .unwrap_or_else(|_| vec!["(unreadable)".into()])
    };
    let (old_all, new_all) = (old, new);
    let old: BTreeMap<&str, &RecipeFile> = old.files.iter().map(|f| (f.stem.as_str(), f)).collect();
    let new: BTreeMap<&str, &RecipeFile> = new.files.iter().map(|f| (f.stem.as_str(), f)).collect();
    let mut changes = Vec::new();
    for (name, f) in &new {
        match old.get(name) {
            None => changes.push(Change::Added((*name).into(), versions_of(f))),
            Some(o) if o.text != f.text => changes.push(Change::Changed(
                (*name).into(),
                versions_of(o),
                versions_of(f),
            )),
            Some(_) => {}
        }
    }
    for (name, f) in &old {
        if !new.contains_key(name) {
            changes.push(Change::Removed((*name).into(), versions_of(f)));
        }
    }
    // A dex image changes when its directory's tree does.
    let dex_versions = |d: &super::contents::DexImage| {
        super::dex::from_repo(repo, d)
            .map(|(r, _)| versions(&r))
            .unwrap_or_else(|_| vec!["(unreadable)".into()])
    };
    let old_dex: BTreeMap<&str, _> = old_all.dex.iter().map(|d| (d.name.as_str(), d)).collect();
    let new_dex: BTreeMap<&str, _> = new_all.dex.iter().map(|d| (d.name.as_str(), d)).collect();
    for (name, d) in &new_dex {
        match old_dex.get(name) {
            None => changes.push(Change::Added((*name).into(), dex_versions(d))),
            Some(o) if o.tree != d.tree => changes.push(Change::Changed(
                (*name).into(),
                dex_versions(o),
                dex_versions(d),
            )),
            Some(_) => {}
        }
    }
    for (name, d) in &old_dex {
        if !new_dex.contains_key(name) {
            changes.push(Change::Removed((*name).into(), dex_versions(d)));
        }
    }
    changes.sort_by(|a, b| change_name(a).cmp(change_name(b)));
    changes
}

/// The recipe a change is about.
fn change_name(c: &Change) -> &str {
    match c {
        Change::Added(n, _) | Change::Removed(n, _) | Change::Changed(n, _, _) => n,
    }
}

/// What `repo update` did to one repository.
#[derive(Debug)]
pub struct Updated {
    /// Repository name.
    pub name: String,
    /// Pin before.
    pub old: String,
    /// Pin after (equal to `old` when nothing moved).
    pub new: String,
    /// Recipe changes between the two.
    pub changes: Vec<Change>,
    /// Files refused at the new pin.
    pub refused: Vec<(String, String)>,
}

/// Moves the pin of `name` (every repository when `None`) to what its source and ref
/// name now. A ref that is a full commit id stays where it is.
pub fn update(dirs: &Dirs, name: Option<&str>) -> Result<Vec<Updated>> {
    let _lock = lock(dirs)?;
    let mut repos = Repos::read(dirs)?;
    let names: Vec<String> = match name {
        Some(n) => {
            repos.get(n)?;
            vec![n.to_owned()]
        }
        None => repos.repos.keys().cloned().collect(),
    };
    let mut out = Vec::new();
    for name in names {
        let repo = repos.repos[&name].clone();
        // Data lost from jig's directory is fetched again; the report then lists every
        // recipe as added.
        let old = contents(dirs, &name, &repo).unwrap_or_default();
        let (pin, new) = match &repo.source {
            Location::Git(url) => {
                let git = Git::find(&dirs.shims)?;
                let gd = git_dir(dirs, &name);
                if !gd.join("objects").is_dir() {
                    let _ = fs::remove_dir_all(&gd);
                    git.init_bare(&gd)?;
                }
                let commit = match repo.rev.as_deref() {
                    Some(r) if git::is_full_commit(r) && git.commit_of(&gd, r).is_ok() => {
                        repo.pin.clone()
                    }
                    rev => git.fetch(&gd, url, rev).with_context(|| {
                        format!(
                            "updating '{name}': fetching {} from {url}",
                            rev.unwrap_or("HEAD")
                        )
                    })?,
                };
                let new = git_contents(&git, &gd, &commit)?;
                (commit, new)
            }
            Location::Dir(path) => {
                let snap = dir::read(path).with_context(|| format!("updating '{name}'"))?;
                let pin = snap.pin();
                let text = serde_json::to_string(&snap).context("serializing a snapshot")?;
                write_atomic(&snapshot_path(dirs, &name, &pin), text.as_bytes())?;
                (pin, snap.contents())
            }
        };
        let changes = diff(&name, &old, &new);
        let moved = pin != repo.pin;
        if moved {
            repos.repos.get_mut(&name).expect("listed above").pin = pin.clone();
            repos.write(dirs)?;
        }
        // Only now that the index names the new pin may the old one's data go.
        match &repo.source {
            Location::Git(_) => {
                let git = Git::find(&dirs.shims)?;
                git.set_ref(&git_dir(dirs, &name), "refs/jig/pinned", &pin)?;
            }
            Location::Dir(_) if moved => {
                let _ = fs::remove_file(snapshot_path(dirs, &name, &repo.pin));
            }
            Location::Dir(_) => {}
        }
        out.push(Updated {
            name,
            old: repo.pin,
            new: pin,
            changes,
            refused: new.refused,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::register::add;
    use super::super::testing::*;
    use super::*;

    #[test]
    fn diff_reports_added_removed_and_version_changes() {
        let old = Contents {
            files: vec![
                file("a", &recipe_text("a", "1")),
                file("b", &recipe_text("b", "1")),
                file("c", &recipe_text("c", "1")),
            ],
            refused: vec![],
            dex: vec![],
        };
        let new = Contents {
            files: vec![
                file("b", &recipe_text("b", "2")),
                file("c", &recipe_text("c", "1")),
                file("d", &recipe_text("d", "3")),
            ],
            refused: vec![],
            dex: vec![],
        };
        let d = diff("r", &old, &new);
        assert_eq!(
            d,
            [
                Change::Removed("a".into(), vec!["1".into()]),
                Change::Changed("b".into(), vec!["1".into()], vec!["2".into()]),
                Change::Added("d".into(), vec!["3".into()]),
            ]
        );
        assert_eq!(d[1].to_string(), "changed  b 1 -> 2");
    }

    #[test]
    fn a_directory_repository_moves_to_its_new_content() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(&t);
        let src = t.path().join("src");
        fs::create_dir_all(src.join("recipes")).unwrap();
        fs::write(src.join("recipes/t.toml"), recipe_text("t", "1")).unwrap();
        let old = add(&d, "r", src.to_str().unwrap(), None).unwrap().repo.pin;
        let same = update(&d, Some("r")).unwrap();
        assert_eq!((same[0].old.as_str(), same[0].new.as_str()), (&*old, &*old));
        assert!(same[0].changes.is_empty());
        fs::write(src.join("recipes/t.toml"), recipe_text("t", "2")).unwrap();
        let moved = update(&d, None).unwrap();
        assert_ne!(moved[0].new, old);
        assert_eq!(
            moved[0].changes,
            [Change::Changed(
                "t".into(),
                vec!["1".into()],
                vec!["2".into()]
            )]
        );
        assert_eq!(Repos::read(&d).unwrap().repos["r"].pin, moved[0].new);
        assert!(
            !snapshot_path(&d, "r", &old).exists(),
            "the old snapshot goes"
        );
        assert!(update(&d, Some("nope")).is_err());
    }
}
