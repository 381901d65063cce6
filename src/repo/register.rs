//! `jig repo add` and `jig repo remove`: checking what the user gave, fetching or
//! snapshotting a new repository into a work directory that becomes its data
//! directory only when complete, and registering (or unregistering) it.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::contents::Contents;
use super::dir;
use super::git::Git;
use super::pinned::git_contents;
use super::registry::{BUILTIN, Location, Repo, Repos, lock, repos_dir, sweep, write_atomic};
use crate::base::paths::Dirs;
use crate::recipe::Name;

/// Checks a repository name: a recipe name (so `repos/NAME` stays inside `repos/`)
/// other than `builtin`.
pub fn check_name(name: &str) -> Result<()> {
    Name::new(name).map_err(|e| anyhow::anyhow!("repository {e}"))?;
    if name == BUILTIN {
        bail!("'{BUILTIN}' names jig's built-in recipes; choose another repository name");
    }
    Ok(())
}

/// Checks `--ref`: a branch, tag or commit name git cannot take for an option or a
/// refspec.
pub fn check_rev(rev: &str) -> Result<()> {
    let bad = rev.is_empty()
        || rev.starts_with('-')
        || rev.starts_with('/')
        || rev.ends_with('/')
        || rev.ends_with(".lock")
        || rev.contains("..")
        || rev.contains("@{")
        || rev.contains("//")
        || rev
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || ":^~?*[\\".contains(c));
    if bad {
        bail!("invalid --ref '{rev}': expected a branch, tag or commit name");
    }
    Ok(())
}

/// Checks a URL or path given to `repo add`: nothing git could take for an option.
fn check_location(location: &str) -> Result<()> {
    if location.is_empty() || location.starts_with('-') {
        bail!("invalid repository location '{location}': it must not start with '-'");
    }
    if location.chars().any(char::is_control) {
        bail!("invalid repository location: control characters");
    }
    Ok(())
}

/// Decides what `repo add` was given: a URL, a local git repository or a directory.
fn classify(location: &str) -> Result<Location> {
    check_location(location)?;
    if location.contains("://") {
        return Ok(Location::Git(location.to_owned()));
    }
    let path = Path::new(location);
    if path.exists() {
        let abs =
            std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
        let is_git = abs.join(".git").exists()
            || (abs.join("HEAD").is_file() && abs.join("objects").is_dir());
        if is_git {
            let s = abs.to_str().context("the repository path is not UTF-8")?;
            return Ok(Location::Git(s.to_owned()));
        }
        if !abs.join("recipes").is_dir() {
            return Err(crate::base::error::hinted(
                format!("{} has no recipes/ directory", abs.display()),
                "a recipe repository holds recipes/NAME.toml files",
            ));
        }
        return Ok(Location::Dir(abs));
    }
    // scp-like `[user@]host:path`, as git understands it.
    if let Some((host, _)) = location.split_once(':')
        && !host.is_empty()
        && !host.contains('/')
    {
        return Ok(Location::Git(location.to_owned()));
    }
    bail!("{location}: no such directory, and not a git URL")
}

/// What `repo add` did.
#[derive(Debug)]
pub struct Added {
    /// The registration written.
    pub repo: Repo,
    /// Its recipes at the pin, and the files refused.
    pub contents: Contents,
}

/// Registers repository `name` at `location` (URL or path), following `rev`, pinned to
/// what that names now. Nothing is registered unless everything succeeded.
pub fn add(dirs: &Dirs, name: &str, location: &str, rev: Option<&str>) -> Result<Added> {
    check_name(name)?;
    if let Some(r) = rev {
        check_rev(r)?;
    }
    let source = classify(location)?;
    if rev.is_some() && matches!(source, Location::Dir(_)) {
        bail!("--ref applies to git repositories; {location} is a plain directory");
    }
    let _lock = lock(dirs)?;
    let mut repos = Repos::read(dirs)?;
    if let Some(r) = repos.repos.get(name) {
        return Err(crate::base::error::hinted(
            format!(
                "a repository named '{name}' already exists ({})",
                r.source.location()
            ),
            format!(
                "`jig repo update {name}` moves its pin; `jig repo remove {name}` first to change its source"
            ),
        ));
    }
    sweep(dirs);
    let root = repos_dir(dirs);
    let work = root.join(format!(".tmp-{name}-{}", std::process::id()));
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let filled = fill(dirs, &work, &source, rev);
    let (pin, contents) = match filled {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&work);
            return Err(e);
        }
    };
    // A directory left by a crash between this rename and the index write (or by a
    // remove) is not registered: replace it.
    let dest = root.join(name);
    if dest.exists() {
        fs::remove_dir_all(&dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    fs::rename(&work, &dest).with_context(|| format!("creating {}", dest.display()))?;
    let repo = Repo {
        source,
        rev: rev.map(str::to_owned),
        pin,
    };
    repos.repos.insert(name.to_owned(), repo.clone());
    repos.write(dirs)?;
    Ok(Added { repo, contents })
}

/// Fetches or snapshots `source` into the work directory `work`; returns the pin.
fn fill(
    dirs: &Dirs,
    work: &Path,
    source: &Location,
    rev: Option<&str>,
) -> Result<(String, Contents)> {
    match source {
        Location::Git(url) => {
            let git = Git::find(&dirs.shims)?;
            let gd = work.join("git");
            git.init_bare(&gd)?;
            let commit = git
                .fetch(&gd, url, rev)
                .with_context(|| format!("fetching {} from {url}", rev.unwrap_or("HEAD")))?;
            git.set_ref(&gd, "refs/jig/pinned", &commit)?;
            let contents = git_contents(&git, &gd, &commit)?;
            Ok((commit, contents))
        }
        Location::Dir(path) => {
            let snap = dir::read(path)?;
            let pin = snap.pin();
            let hex = pin.trim_start_matches("sha256:");
            let text = serde_json::to_string(&snap).context("serializing a snapshot")?;
            write_atomic(
                &work.join("snapshots").join(format!("{hex}.json")),
                text.as_bytes(),
            )?;
            Ok((pin, snap.contents()))
        }
    }
}

/// Unregisters `name` and deletes its fetched data. Recipes installed from it stay
/// installed.
pub fn remove(dirs: &Dirs, name: &str) -> Result<Repo> {
    let _lock = lock(dirs)?;
    let mut repos = Repos::read(dirs)?;
    repos.get(name)?;
    let repo = repos.repos.remove(name).expect("checked above");
    repos.write(dirs)?;
    let dir = repos_dir(dirs).join(name);
    if let Err(e) = fs::remove_dir_all(&dir)
        && e.kind() != ErrorKind::NotFound
    {
        return Err(e).with_context(|| format!("removing {}", dir.display()));
    }
    Ok(repo)
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn names_and_refs_that_could_escape_or_inject_are_refused() {
        for bad in ["", "../x", "a/b", "-rf", ".hidden", "builtin", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        check_name("my-repo.1").unwrap();
        for bad in [
            "-x",
            "--upload-pack=evil",
            "a:b",
            "a..b",
            "a b",
            "x^",
            "@{1}",
            "",
        ] {
            assert!(check_rev(bad).is_err(), "{bad}");
        }
        for good in ["main", "v1.2", "release/1", &"a".repeat(40)] {
            check_rev(good).unwrap();
        }
        assert!(check_location("-oProxyCommand=x").is_err());
        assert!(check_location("--upload-pack=x").is_err());
        assert!(classify("--upload-pack=x").is_err());
        assert!(matches!(classify("https://h/r.git"), Ok(Location::Git(_))));
        assert!(matches!(classify("git@host:r.git"), Ok(Location::Git(_))));
        assert!(classify("no/such/dir").is_err());
    }

    #[test]
    fn a_directory_is_added_pinned_to_its_content_and_removed() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(&t);
        let src = t.path().join("src");
        assert!(
            add(&d, "r", src.to_str().unwrap(), None).is_err(),
            "missing"
        );
        fs::create_dir_all(src.join("recipes")).unwrap();
        fs::write(src.join("recipes/t.toml"), recipe_text("t", "1")).unwrap();
        let added = add(&d, "r", src.to_str().unwrap(), None).unwrap();
        assert!(added.repo.pin.starts_with("sha256:"));
        assert_eq!(added.contents.files.len(), 1);
        let err = add(&d, "r", src.to_str().unwrap(), None).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        let err = add(&d, "s", src.to_str().unwrap(), Some("main")).unwrap_err();
        assert!(err.to_string().contains("--ref applies to git"), "{err}");
        assert_eq!(Repos::read(&d).unwrap().repos["r"], added.repo);
        assert!(repos_dir(&d).join("r/snapshots").is_dir());
        assert_eq!(remove(&d, "r").unwrap(), added.repo);
        assert!(Repos::read(&d).unwrap().repos.is_empty());
        assert!(!repos_dir(&d).join("r").exists());
        assert!(remove(&d, "r").is_err());
    }
}
