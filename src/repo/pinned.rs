//! A registered repository's recipe files at its pin: read from the bare git
//! repository at the pinned commit, or from the snapshot a directory's pin names.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

use super::contents::{Contents, DexImage, RecipeFile};
use super::dir;
use super::git::Git;
use super::registry::{Location, Repo, git_dir, short, snapshot_path};
use crate::base::error::Hint;
use crate::base::paths::Dirs;

/// The recipe files of a git repository at `commit`.
pub(super) fn git_contents(git: &Git, gd: &Path, commit: &str) -> Result<Contents> {
    let mut contents = Contents::default();
    let mut wanted = Vec::new();
    for e in git.ls_tree(gd, commit, "recipes")? {
        let Some(file) = e.path.strip_prefix("recipes/") else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".toml") else {
            continue;
        };
        if !e.is_regular() {
            let why = if e.mode == "120000" {
                "a symlink (refused: repository files must be regular files)"
            } else {
                "not a regular file"
            };
            contents.refused.push((e.path.clone(), why.into()));
            continue;
        }
        wanted.push((stem.to_owned(), e));
    }
    let oids: Vec<&str> = wanted.iter().map(|(_, e)| e.oid.as_str()).collect();
    let blobs = git.read_blobs(gd, &oids)?;
    for ((stem, e), blob) in wanted.into_iter().zip(blobs) {
        match String::from_utf8(blob) {
            Ok(text) => contents.files.push(RecipeFile {
                stem,
                path: e.path,
                text,
            }),
            Err(_) => contents.refused.push((e.path, "not UTF-8 text".into())),
        }
    }
    dex_images(git, gd, commit, &mut contents)?;
    Ok(contents)
}

/// The images of a dex layout: each directory `dex-images/NAME/` with a `Dockerfile`
/// or `Dockerfile-TAG` (regular files; a symlink is refused like a recipe's).
fn dex_images(git: &Git, gd: &Path, commit: &str, contents: &mut Contents) -> Result<()> {
    for dir in git.ls_tree(gd, commit, "dex-images")? {
        let Some(name) = dir.path.strip_prefix("dex-images/") else {
            continue;
        };
        if dir.mode != "040000" {
            continue;
        }
        let mut wanted = Vec::new();
        for e in git.ls_tree(gd, commit, &dir.path)? {
            let file = e.path.rsplit('/').next().unwrap_or_default().to_owned();
            if file != "Dockerfile" && !file.starts_with("Dockerfile-") {
                continue;
            }
            if !e.is_regular() {
                contents.refused.push((
                    e.path.clone(),
                    "not a regular file (refused: Dockerfiles must be regular files)".into(),
                ));
                continue;
            }
            wanted.push((file, e));
        }
        if wanted.is_empty() {
            continue;
        }
        let oids: Vec<&str> = wanted.iter().map(|(_, e)| e.oid.as_str()).collect();
        let blobs = git.read_blobs(gd, &oids)?;
        let mut dockerfiles = Vec::new();
        for ((file, e), blob) in wanted.into_iter().zip(blobs) {
            match String::from_utf8(blob) {
                Ok(text) => dockerfiles.push((file, text)),
                Err(_) => contents.refused.push((e.path, "not UTF-8 text".into())),
            }
        }
        contents.dex.push(DexImage {
            name: name.to_owned(),
            tree: dir.oid.clone(),
            dockerfiles,
        });
    }
    Ok(())
}

/// The recipe files of a registered repository at its pin.
pub fn contents(dirs: &Dirs, name: &str, repo: &Repo) -> Result<Contents> {
    let read = || -> Result<Contents> {
        match &repo.source {
            Location::Git(_) => {
                let git = Git::find(&dirs.shims)?;
                git_contents(&git, &git_dir(dirs, name), &repo.pin)
            }
            Location::Dir(_) => {
                let path = snapshot_path(dirs, name, &repo.pin);
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let snap: dir::Snapshot = serde_json::from_str(&text)
                    .with_context(|| format!("{} is damaged", path.display()))?;
                Ok(snap.contents())
            }
        }
    };
    read()
        .with_context(|| format!("reading repository '{name}' at {}", short(&repo.pin)))
        .with_hint(|| format!("`jig repo update {name}` fetches it again"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::dirs;
    use super::*;

    #[test]
    fn a_directory_repository_is_read_from_its_snapshot() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(&t);
        let mut snap = dir::Snapshot::default();
        snap.files.insert("t.toml".into(), "text".into());
        snap.refused.insert("l.toml".into(), "a symlink".into());
        let pin = snap.pin();
        let repo = Repo {
            source: Location::Dir("/nowhere".into()),
            rev: None,
            pin: pin.clone(),
        };
        let err = format!("{:#}", contents(&d, "r", &repo).unwrap_err());
        assert!(
            err.contains(&format!("reading repository 'r' at {}", short(&pin))),
            "{err}"
        );
        let path = snapshot_path(&d, "r", &pin);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, serde_json::to_string(&snap).unwrap()).unwrap();
        assert_eq!(contents(&d, "r", &repo).unwrap(), snap.contents());
    }
}
