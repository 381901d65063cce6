//! The build context of a dex repository's image: `dex-images/NAME/` at the pinned
//! commit, written out of the bare repository into a directory of its own for the
//! build, and removed afterwards.
//!
//! The tree is the repository's, so it is untrusted: every path must be plain
//! components (no `..`, no `.git`), files are created exclusively and never through a
//! symlink, symlinks are written as symlinks (the build reads the context beneath its
//! root, so one leading out is refused there), and the tree must be the one the recipe
//! names (`context_digest`).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, symlink};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context as _, Result, bail};

use super::git::Git;
use super::registry::{Repos, git_dir, repos_dir};
use crate::base::paths::Dirs;
use crate::recipe::{Loaded, Origin, Source};

/// A directory holding a repository's files for one build, removed when dropped; it
/// dereferences to its path (the recipe's paths are relative to it).
#[derive(Debug)]
pub struct Extracted {
    dir: PathBuf,
}

impl std::ops::Deref for Extracted {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Extracted {
    fn drop(&mut self) {
        let _ = crate::image::store::remove_tree(&self.dir);
    }
}

/// For a repository recipe built from a Dockerfile, its context written out at the
/// pin; `None` for every other recipe (a file recipe's directory is its own).
pub fn for_build(dirs: &Dirs, loaded: &Loaded) -> Result<Option<Extracted>> {
    let (Origin::Repo { repo, commit, .. }, Source::Dockerfile(_)) =
        (&loaded.origin, &loaded.recipe.image.from)
    else {
        return Ok(None);
    };
    let image = &loaded.recipe.image;
    let Some(context) = &image.context else {
        bail!("a repository's Dockerfile recipe names no context");
    };
    let context = context.as_str();
    let repos = Repos::read(dirs)?;
    repos.get(repo)?;
    let git = Git::find(&dirs.shims)?;
    let gd = git_dir(dirs, repo);
    // The tree the recipe was made from: the context at the pin.
    let parent = context.rsplit_once('/').map_or("", |(p, _)| p);
    let tree = git
        .ls_tree(&gd, commit, parent)?
        .into_iter()
        .find(|e| e.path == context && e.mode == "040000")
        .with_context(|| format!("{repo}: {context} is not a directory at {commit}"))?;
    let want = image.context_digest.as_deref().unwrap_or_default();
    if want != format!("git-tree:{}", tree.oid) {
        bail!(
            "{repo}: {context} at {commit} is tree {}, not the {want} the recipe was made from",
            tree.oid
        );
    }
    static N: AtomicU32 = AtomicU32::new(0);
    let base = repos_dir(dirs).join(repo).join("contexts");
    fs::create_dir_all(&base).with_context(|| format!("creating {}", base.display()))?;
    let dir = base.join(format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = crate::image::store::remove_tree(&dir);
    fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let out = Extracted { dir };
    let entries = git.ls_tree_recursive(&gd, commit, context)?;
    let wanted: Vec<_> = entries
        .iter()
        .filter(|e| e.is_regular() || e.mode == "120000")
        .collect();
    let oids: Vec<&str> = wanted.iter().map(|e| e.oid.as_str()).collect();
    let blobs = git.read_blobs(&gd, &oids)?;
    fs::create_dir_all(out.dir.join(context))?;
    for (e, blob) in wanted.into_iter().zip(blobs) {
        let rel = Path::new(&e.path);
        let plain = rel
            .components()
            .all(|c| matches!(c, Component::Normal(n) if n != ".git"));
        if !plain {
            bail!("{repo}: {} is not a plain path; refused", e.path);
        }
        let path = out.dir.join(rel);
        let parent_dir = path.parent().expect("below the directory");
        make_dirs(&out.dir, parent_dir)?;
        if e.mode == "120000" {
            let target = String::from_utf8(blob).with_context(|| {
                format!("{repo}: {}: a symlink target that is not UTF-8", e.path)
            })?;
            symlink(target, &path).with_context(|| format!("writing {}", path.display()))?;
            continue;
        }
        let mode = if e.mode == "100755" { 0o755 } else { 0o644 };
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        f.write_all(&blob)?;
    }
    Ok(Some(out))
}

/// Makes the directories from `root` down to `dir`, refusing a symlink on the way (a
/// hostile tree could list a link and then a file below it).
fn make_dirs(root: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(root).expect("below the root");
    let mut at = root.to_owned();
    for c in rel.components() {
        at.push(c);
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!(
                "{} is not a directory in the repository's tree; refused",
                at.display()
            ),
            Err(_) => fs::create_dir(&at).with_context(|| format!("creating {}", at.display()))?,
        }
    }
    Ok(())
}
