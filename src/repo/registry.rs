//! The registry of recipe repositories: `repos.json` (name -> source, ref, pin), the
//! lock that serializes its writers, and where each repository's fetched data lives
//! under jig's data directory.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::base::paths::Dirs;

/// The name `REPO/NAME` and `recipe_order` use for the recipes built into jig.
pub const BUILTIN: &str = "builtin";

/// The registered repositories (`repos.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repos {
    /// Repository name → registration.
    #[serde(default)]
    pub repos: BTreeMap<String, Repo>,
}

/// One registered repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repo {
    /// Where its recipes come from.
    pub source: Location,
    /// The branch, tag or commit followed (`None`: the remote's default branch).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    /// The pinned commit (git) or `sha256:HEX` content hash (directory).
    pub pin: String,
}

/// Where a repository's recipes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// A git URL, or the absolute path of a local git repository.
    Git(String),
    /// A local directory that is not a git repository (absolute path).
    Dir(PathBuf),
}

impl Location {
    /// `git` or `dir`.
    pub fn kind(&self) -> &'static str {
        match self {
            Location::Git(_) => "git",
            Location::Dir(_) => "dir",
        }
    }

    /// The URL or path.
    pub fn location(&self) -> String {
        match self {
            Location::Git(u) => u.clone(),
            Location::Dir(p) => p.display().to_string(),
        }
    }
}

impl Repos {
    /// Reads `repos.json`; a missing file means no repositories.
    pub fn read(dirs: &Dirs) -> Result<Repos> {
        let path = index_path(dirs);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| {
                crate::base::error::damaged(
                    &path,
                    e,
                    format!(
                        "move it away (`mv {0} {0}.damaged`) and `jig repo add` your repositories again; built-in recipes work meanwhile",
                        path.display()
                    ),
                )
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Repos::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Replaces `repos.json` (by rename: readers see the old or the new index).
    pub(super) fn write(&self, dirs: &Dirs) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("serializing repos.json")?;
        write_atomic(&index_path(dirs), text.as_bytes())
    }

    /// The registration of `name`, or an error listing the repositories there are.
    pub fn get(&self, name: &str) -> Result<&Repo> {
        self.repos.get(name).ok_or_else(|| {
            let have: Vec<_> = self.repos.keys().map(String::as_str).collect();
            crate::base::error::unknown(
                format!(
                    "no recipe repository named '{name}' (repositories: {})",
                    if have.is_empty() {
                        "none".into()
                    } else {
                        have.join(", ")
                    }
                ),
                [
                    crate::base::suggest::did_you_mean(name, have.iter().copied()),
                    Some(format!("`jig repo add {name} URL|PATH` adds one")),
                ],
            )
        })
    }
}

/// `repos.json`.
pub(super) fn index_path(dirs: &Dirs) -> PathBuf {
    dirs.data.join("repos.json")
}

/// `repos/`: the fetched data, one directory per repository.
pub(super) fn repos_dir(dirs: &Dirs) -> PathBuf {
    dirs.data.join("repos")
}

/// The bare git repository of `name`.
pub(super) fn git_dir(dirs: &Dirs, name: &str) -> PathBuf {
    repos_dir(dirs).join(name).join("git")
}

/// The snapshot of directory repository `name` at `pin`.
pub(super) fn snapshot_path(dirs: &Dirs, name: &str, pin: &str) -> PathBuf {
    let hex = pin.strip_prefix("sha256:").unwrap_or(pin);
    repos_dir(dirs)
        .join(name)
        .join("snapshots")
        .join(format!("{hex}.json"))
}

/// The first characters of a pin, for messages (`sha256:` kept for content hashes).
pub fn short(pin: &str) -> &str {
    let n = if pin.starts_with("sha256:") { 19 } else { 12 };
    &pin[..pin.len().min(n)]
}

/// Writes a file by temp file + rename, so readers see the old or the new text.
pub(super) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().context("a path without a parent")?;
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// The lock that serializes `repo add/update/remove` between jig processes; readers
/// need none (every file they read is replaced by rename, and pinned git objects stay).
pub(super) fn lock(dirs: &Dirs) -> Result<crate::image::store::StoreLock> {
    fs::create_dir_all(&dirs.data).with_context(|| format!("creating {}", dirs.data.display()))?;
    crate::image::store::lock_file(&dirs.data.join("repos.lock"), true)
}

/// Removes work directories of interrupted `add`s. Called with the lock held, when no
/// other process can be filling one.
pub(super) fn sweep(dirs: &Dirs) {
    let Ok(entries) = fs::read_dir(repos_dir(dirs)) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::dirs;
    use super::*;

    #[test]
    fn the_index_is_read_as_written_and_missing_means_empty() {
        let t = tempfile::tempdir().unwrap();
        let d = dirs(&t);
        assert_eq!(Repos::read(&d).unwrap(), Repos::default());
        let mut repos = Repos::default();
        repos.repos.insert(
            "r".into(),
            Repo {
                source: Location::Git("https://h/r.git".into()),
                rev: Some("main".into()),
                pin: "a".repeat(40),
            },
        );
        repos.write(&d).unwrap();
        assert_eq!(Repos::read(&d).unwrap(), repos);
        let text = fs::read_to_string(index_path(&d)).unwrap();
        assert!(text.contains("\"ref\": \"main\""), "{text}");
        let err = format!("{:#}", repos.get("nope").unwrap_err());
        assert!(err.contains("no recipe repository named 'nope' (repositories: r)"));
        fs::write(index_path(&d), "{").unwrap();
        let err = format!("{:#}", Repos::read(&d).unwrap_err());
        assert!(err.contains("is damaged"), "{err}");
    }

    #[test]
    fn where_a_repository_keeps_its_data() {
        let d = Dirs {
            data: "/d".into(),
            shims: "/s".into(),
        };
        assert_eq!(git_dir(&d, "r"), Path::new("/d/repos/r/git"));
        assert_eq!(
            snapshot_path(&d, "r", "sha256:ab"),
            Path::new("/d/repos/r/snapshots/ab.json")
        );
    }

    #[test]
    fn short_pins() {
        assert_eq!(short(&"a".repeat(40)), "aaaaaaaaaaaa");
        assert_eq!(
            short(&format!("sha256:{}", "b".repeat(64))),
            "sha256:bbbbbbbbbbbb"
        );
    }
}
