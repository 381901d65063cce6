//! The image builds the user approved (`approved.json`, beside the installed index).
//!
//! Making an image runs code chosen by the recipe: `[image] run` steps as fake root
//! with the network, the maintainer scripts of whatever packages a Debian mirror
//! serves, the layers of an OCI image. So what a build is made of (its [`key`]: the
//! whole `[image]` table, from the source, mirror, snapshot, `insecure` and packages
//! to every `run` step) is approved like what a tool may reach (`crate::install::permissions`):
//!
//! - an install the user approves (at the prompt, with `--yes` or `JIG_YES=1`, or
//!   through `jig trust` for a project's recipes) records its build here;
//! - an install whose build has a recorded key, or the key of some version of a
//!   built-in recipe (compiled into jig, so approved with jig itself), needs no new
//!   approval for it, whichever recipe or version it comes from;
//! - any other build is listed and asked about, and without a terminal (and without
//!   `--yes`) the install stops before anything is downloaded or run.
//!
//! This is what keeps a plain version pin from being a trigger: a project's
//! `jig.toml` (or one a tool writes into its workspace) may pin a version that is not
//! installed, and the next shim call installs it in a child `jig install`. A version
//! that builds exactly what an approved one did installs silently; one with other
//! steps or another source asks, or fails naming the `jig install` to run.
//!
//! Only installs read this file; a launch never does. Approvals are kept when a recipe
//! is uninstalled: they are about content, not about what is installed.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::paths::Dirs;
use crate::recipe::{self, ImageSpec, Loaded, Origin, Source};

/// `approved.json`: build key → the recipe and version it was first approved for
/// (for people reading the file).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Approved {
    #[serde(default)]
    builds: BTreeMap<String, String>,
}

fn path(dirs: &Dirs) -> PathBuf {
    dirs.data.join("approved.json")
}

fn read(path: &Path) -> Result<Approved> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| {
            crate::base::error::damaged(
                path,
                e,
                format!(
                    "remove it (`rm {}`): installs then ask again before building what they build",
                    path.display()
                ),
            )
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Approved::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The key of a build: sha256 of the `[image]` table with a relative `rootfs:` path
/// made absolute against `base_dir` (the recipe file's directory), so the same text in
/// two places is two sources.
pub fn key(image: &ImageSpec, base_dir: Option<&Path>) -> String {
    let mut image = image.clone();
    if let (Source::Rootfs(p), Some(dir)) = (&image.from, base_dir)
        && p.is_relative()
    {
        image.from = Source::Rootfs(dir.join(p));
    }
    let json = serde_json::to_string(&image).expect("an image spec always serializes");
    crate::base::digest::sha256_hex(format!("jig-build-approval-v1\0{json}").as_bytes())
}

/// The key of `loaded`'s build (`loaded` resolved for one version).
fn key_of(loaded: &Loaded) -> String {
    key(&loaded.recipe.image, loaded.base_dir())
}

/// Whether some version of a built-in recipe makes the build `wanted` names.
fn builtin(wanted: &str) -> bool {
    recipe::BUILTIN.iter().any(|(name, _)| {
        recipe::load(name).is_ok_and(|l| {
            l.recipe.offered().iter().any(|v| {
                l.recipe
                    .for_version(v)
                    .is_ok_and(|r| key(&r.image, None) == wanted)
            })
        })
    })
}

/// Whether the build of `loaded` (resolved for one version) is approved: it is a
/// built-in recipe's, or the user approved an install with the same build before.
pub fn is_approved(dirs: &Dirs, loaded: &Loaded) -> Result<bool> {
    if matches!(loaded.origin, Origin::Builtin { .. }) {
        return Ok(true);
    }
    let key = key_of(loaded);
    Ok(read(&path(dirs))?.builds.contains_key(&key) || builtin(&key))
}

/// Records the build of `loaded` as approved. The caller holds the store's exclusive
/// lock (as for writing the installed index), which serializes writers.
pub fn record(dirs: &Dirs, loaded: &Loaded) -> Result<()> {
    if matches!(loaded.origin, Origin::Builtin { .. }) {
        return Ok(());
    }
    let path = path(dirs);
    let mut approved = read(&path)?;
    let key = key_of(loaded);
    if approved.builds.contains_key(&key) {
        return Ok(());
    }
    let r = &loaded.recipe;
    approved
        .builds
        .insert(key, format!("{} {} ({})", r.name, r.version, loaded.origin));
    let text = serde_json::to_string_pretty(&approved).context("serializing approved.json")?;
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(text: &str, origin: Origin) -> Loaded {
        let recipe = recipe::parse(text, "t.toml").unwrap();
        Loaded {
            hash: recipe.content_hash(),
            recipe,
            origin,
        }
    }

    const T: &str = "name = \"t\"\nversion = \"1\"\n[image]\nfrom = \"busybox:/bin/busybox\"\nrun = [\"echo one\"]\n[tool]\nshims = [\"t\"]\n[env]\nset = { V = \"1\" }\n[versions.\"1.1\".env]\nset = { V = \"2\" }\n[versions.\"2\".image]\nrun = [\"echo one\", \"echo two\"]\n[versions.\"3\".image]\nfrom = \"oci:alpine:3.20\"\nrun = [\"echo one\"]\n";

    #[test]
    fn approval_follows_the_build_not_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs {
            data: dir.path().to_owned(),
            shims: dir.path().join("shims"),
        };
        let origin = Origin::Repo {
            repo: "team".into(),
            commit: "c".into(),
            name: "t".into(),
        };
        let full = loaded(T, origin);
        let at = |v: &str| full.at(Some(v)).unwrap();
        for v in ["1", "1.1", "2", "3"] {
            assert!(!is_approved(&dirs, &at(v)).unwrap(), "{v}");
        }
        record(&dirs, &at("1")).unwrap();
        // 1.1 differs from 1 only in a variable: the same build.
        assert!(is_approved(&dirs, &at("1")).unwrap());
        assert!(is_approved(&dirs, &at("1.1")).unwrap());
        // Another step, or another source with the same steps, is another build.
        assert!(!is_approved(&dirs, &at("2")).unwrap());
        assert!(!is_approved(&dirs, &at("3")).unwrap());
        record(&dirs, &at("2")).unwrap();
        assert!(is_approved(&dirs, &at("2")).unwrap());
        let text = fs::read_to_string(dir.path().join("approved.json")).unwrap();
        assert!(
            text.contains("t 2 (recipe t of repository team at c)"),
            "{text}"
        );

        // A built-in recipe's build is approved wherever it appears.
        let like_busybox = "name = \"t\"\nversion = \"1\"\n[image]\nfrom = \"busybox:/bin/busybox\"\n[tool]\nshims = [\"t\"]\n";
        let origin = Origin::File {
            path: "/somewhere/t.toml".into(),
        };
        assert!(is_approved(&dirs, &loaded(like_busybox, origin)).unwrap());
    }

    #[test]
    fn relative_rootfs_paths_are_sources_of_their_own() {
        let r = recipe::parse(
            "name = \"t\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:r\"\n[tool]\nshims = [\"t\"]\n",
            "t.toml",
        )
        .unwrap();
        let a = key(&r.image, Some(Path::new("/a")));
        assert_ne!(a, key(&r.image, Some(Path::new("/b"))));
        assert_eq!(a, key(&r.image, Some(Path::new("/a"))));
    }
}
