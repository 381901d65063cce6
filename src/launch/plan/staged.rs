//! Read-write home files, staged: a copy in the upper layer (a plain file the tool can
//! rename over, next to which it can create its lock and temporary files), saved back
//! to the host after the tool exits ([`crate::runtime::save`]). A missing one is
//! watched the same way, so a tool can create it.
//!
//! A bind mount would keep writes on the host but refuses what tools do to save a
//! file: git, npm and ssh-keygen write a new file beside it and rename it over, and a
//! mountpoint cannot be renamed over (`EBUSY`). Binding the directory instead would
//! give the tool the whole home directory to write in. Staging keeps the writes to
//! the declared paths: only they are saved.
//!
//! Not staged, bound as before: a path inside the workspace (the workspace bind has it
//! read-write already), a path below another declared home directory that exists (its
//! directory is then a host bind, where nothing can be staged; such a file is bound
//! in place, writable but not replaceable), directories, sockets, large files.

use std::path::{Path, PathBuf};

use crate::launch::facts::Facts;
use crate::launch::homefiles::HomeFile;
use crate::recipe::Recipe;
use crate::runtime::spec::{File, Node, Saved};

/// What staging adds to a plan.
#[derive(Debug, Default)]
pub struct Staged {
    /// The copies, for the upper layer.
    pub files: Vec<File>,
    /// Directories of missing files the tool may create, for the upper layer.
    pub dirs: Vec<(PathBuf, u32)>,
    /// What the runtime saves after the tool exits.
    pub saved: Vec<Saved>,
}

/// Whether the home path `rel` is handled here, so it is not bound.
pub fn takes(recipe: &Recipe, facts: &Facts, rel: &str) -> bool {
    decide(recipe, facts, rel).is_some()
}

/// What to do with `rel`: stage it (Some(true)), leave it to the workspace (Some(false)),
/// or None: bind it as any home path.
fn decide(recipe: &Recipe, facts: &Facts, rel: &str) -> Option<bool> {
    facts.home_files.get(rel)?;
    if !recipe.mounts.home_rw.iter().any(|p| p.as_str() == rel) {
        return None;
    }
    let path = facts.host.home.join(rel);
    if facts.workspace.roots().iter().any(|r| path.starts_with(r)) {
        return Some(false);
    }
    let under_bound_dir = recipe
        .mounts
        .home
        .iter()
        .chain(&recipe.mounts.home_rw)
        .any(|other| {
            let other = other.as_str();
            other != rel
                && Path::new(rel).starts_with(other)
                && facts.home.get(other) == Some(&Node::Dir)
        });
    (!under_bound_dir).then_some(true)
}

/// The staged files of a launch of `recipe` on `facts`.
pub fn plan(recipe: &Recipe, facts: &Facts) -> Staged {
    let mut out = Staged::default();
    for (rel, file) in &facts.home_files {
        if decide(recipe, facts, rel) != Some(true) {
            continue;
        }
        let path = facts.host.home.join(rel);
        match file {
            HomeFile::File { contents, mode } => {
                out.files.push(File {
                    dst: path.clone(),
                    contents: contents.clone(),
                    mode: *mode,
                });
                out.saved.push(Saved {
                    path,
                    before: Some((contents.clone(), *mode)),
                });
            }
            HomeFile::Missing { parent_mode } => {
                // The home directory is in every launch; a deeper directory is made so
                // the tool can create the file in it.
                if let Some(parent) = path.parent().filter(|p| *p != facts.host.home) {
                    out.dirs.push((parent.to_owned(), *parent_mode));
                }
                out.saved.push(Saved { path, before: None });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::plan::testing::*;

    fn recipe_rw(home: &[&str], rw: &[&str]) -> Recipe {
        let list = |l: &[&str]| {
            l.iter()
                .map(|p| format!("\"{p}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        crate::recipe::parse(
            &format!(
                "name = \"t\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:r\"\n[tool]\nshims = [\"t\"]\n[mounts]\nhome = [{}]\nhome_rw = [{}]\n",
                list(home),
                list(rw)
            ),
            "t.toml",
        )
        .unwrap()
    }

    #[test]
    fn files_and_missing_paths_are_staged_and_saved_instead_of_bound() {
        let r = recipe_rw(&[".ssh"], &[".conf", ".config/tool/rc", ".ssh/known_hosts"]);
        let mut f = facts("/home/alice", "/work/p");
        let file = HomeFile::File {
            contents: b"a = 1\n".to_vec(),
            mode: 0o600,
        };
        f.home.insert(".conf".into(), Node::File);
        f.home_files.insert(".conf".into(), file.clone());
        f.home_files.insert(
            ".config/tool/rc".into(),
            HomeFile::Missing { parent_mode: 0o700 },
        );
        // Below ~/.ssh, a host bind: bound in place.
        f.home.insert(".ssh".into(), Node::Dir);
        f.home.insert(".ssh/known_hosts".into(), Node::File);
        f.home_files.insert(".ssh/known_hosts".into(), file);
        let launch = crate::launch::plan::build(&target(&r, None), &f, cmd());
        let plan = &launch.plan;
        let saved: Vec<_> = plan.saved.iter().map(|s| s.path.clone()).collect();
        assert_eq!(
            saved,
            [p("/home/alice/.conf"), p("/home/alice/.config/tool/rc")]
        );
        let staged = plan
            .files
            .iter()
            .find(|f| f.dst == p("/home/alice/.conf"))
            .unwrap();
        assert_eq!(
            (staged.contents.as_slice(), staged.mode),
            (&b"a = 1\n"[..], 0o600)
        );
        assert!(plan.dirs.contains(&(p("/home/alice/.config/tool"), 0o700)));
        assert_eq!(
            host_binds(plan),
            [
                (p("/work/p"), false),
                (p("/home/alice/.ssh"), true),
                (p("/home/alice/.ssh/known_hosts"), false),
            ]
        );
        assert!(launch.describe().contains("saved    /home/alice/.conf"));
    }

    #[test]
    fn a_home_file_inside_the_workspace_is_neither_staged_nor_bound() {
        let r = recipe_rw(&[], &[".conf"]);
        let mut f = facts("/home/alice", "/home/alice");
        f.home.insert(".conf".into(), Node::File);
        f.home_files.insert(
            ".conf".into(),
            HomeFile::File {
                contents: vec![],
                mode: 0o644,
            },
        );
        let plan = crate::launch::plan::build(&target(&r, None), &f, cmd()).plan;
        assert!(plan.saved.is_empty());
        assert_eq!(host_binds(&plan), [(p("/home/alice"), false)]);
    }
}
