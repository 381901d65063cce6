//! Recipe repositories that are plain local directories (not git repositories).
//!
//! Such a repository has no commits, so jig pins it by content: at `add` and `update`
//! it copies the regular `recipes/*.toml` files into a snapshot named by their hash,
//! and recipes are read from that snapshot until the next `update`. The directory is
//! untrusted: `recipes/` and the files in it are opened without following symlinks.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{Context, Result};
use nix::fcntl::{OFlag, open, openat};
use nix::sys::stat::{Mode, SFlag, fstat};
use serde::{Deserialize, Serialize};

use super::contents::{Contents, RecipeFile};

/// A snapshot of a directory's recipes, stored as JSON in jig's data directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Snapshot {
    /// File name (`NAME.toml`) → text.
    pub files: BTreeMap<String, String>,
    /// File name → why it was not taken.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refused: BTreeMap<String, String>,
}

impl Snapshot {
    /// The pin of this content: `sha256:` and the hash of every file name and text.
    pub fn pin(&self) -> String {
        let mut bytes = Vec::new();
        for (name, text) in &self.files {
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(text.len().to_string().as_bytes());
            bytes.push(0);
            bytes.extend_from_slice(text.as_bytes());
        }
        crate::base::digest::sha256_digest(&bytes)
    }

    /// The recipes as repository contents.
    pub fn contents(&self) -> Contents {
        Contents {
            files: self
                .files
                .iter()
                .map(|(file, text)| RecipeFile {
                    stem: file.trim_end_matches(".toml").to_owned(),
                    path: format!("recipes/{file}"),
                    text: text.clone(),
                })
                .collect(),
            refused: self
                .refused
                .iter()
                .map(|(file, why)| (format!("recipes/{file}"), why.clone()))
                .collect(),
            dex: Vec::new(),
        }
    }
}

/// Reads `root/recipes/*.toml` into a snapshot. `root` itself is the path the user
/// gave; below it nothing is followed through a symlink.
pub fn read(root: &Path) -> Result<Snapshot> {
    let recipes = root.join("recipes");
    let dir = open(
        &recipes,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| {
        format!(
            "opening {} (it must be a directory, not a symlink)",
            recipes.display()
        )
    })?;
    let listing = nix::dir::Dir::from_fd(
        dir.try_clone()
            .with_context(|| format!("reading {}", recipes.display()))?,
    )
    .with_context(|| format!("reading {}", recipes.display()))?;
    let mut names = Vec::new();
    for entry in listing.into_iter() {
        let entry = entry.with_context(|| format!("reading {}", recipes.display()))?;
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        if name.ends_with(".toml") {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let mut snap = Snapshot::default();
    for name in names {
        match read_file(&dir, &name) {
            Ok(text) => {
                snap.files.insert(name, text);
            }
            Err(why) => {
                snap.refused.insert(name, why);
            }
        }
    }
    Ok(snap)
}

/// Reads one regular file of the directory `dir` without following a symlink.
fn read_file(dir: &impl AsFd, name: &str) -> Result<String, String> {
    let fd = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        nix::errno::Errno::ELOOP => {
            "a symlink (refused: repository files must be regular files)".to_owned()
        }
        e => format!("cannot open: {e}"),
    })?;
    let st = fstat(&fd).map_err(|e| format!("cannot stat: {e}"))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err("not a regular file".into());
    }
    let mut text = String::new();
    std::fs::File::from(fd)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read: {e}"))?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "jig-repo-dir-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(d.join("recipes")).unwrap();
        d
    }

    #[test]
    fn takes_regular_toml_files_and_refuses_symlinks() {
        let d = tempdir();
        std::fs::write(d.join("recipes/a.toml"), "A").unwrap();
        std::fs::write(d.join("recipes/notes.txt"), "x").unwrap();
        std::fs::write(d.join("secret"), "S").unwrap();
        symlink(d.join("secret"), d.join("recipes/s.toml")).unwrap();
        std::fs::create_dir(d.join("recipes/d.toml")).unwrap();
        let snap = read(&d).unwrap();
        assert_eq!(snap.files.keys().collect::<Vec<_>>(), ["a.toml"]);
        assert!(snap.refused["s.toml"].contains("symlink"), "{snap:?}");
        assert!(snap.refused["d.toml"].contains("regular"), "{snap:?}");
        let pin = snap.pin();
        assert!(pin.starts_with("sha256:") && pin.len() == 71, "{pin}");

        std::fs::write(d.join("recipes/a.toml"), "B").unwrap();
        assert_ne!(read(&d).unwrap().pin(), pin);

        // recipes/ itself a symlink: refused.
        std::fs::remove_dir_all(d.join("recipes")).unwrap();
        std::fs::create_dir(d.join("elsewhere")).unwrap();
        symlink(d.join("elsewhere"), d.join("recipes")).unwrap();
        assert!(read(&d).is_err());
        std::fs::remove_dir_all(&d).unwrap();
    }
}
