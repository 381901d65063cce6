//! Project files: `jig.toml`, which pins tool versions for a directory tree.
//!
//! ```toml
//! [tools]
//! git = "2.39"                 # a plain pin: needs no trust
//! npm = { version = "20", home = [".config/my-npm"], pass = ["NPM_TOKEN"] }
//!
//! [cache]                      # an image cache to look in first: needs trust
//! registry = "registry.example.com/team/jig-cache"
//! ```
//!
//! The nearest `jig.toml` walking up from the current directory is the project file; the
//! user's own `jig.toml` in jig's config directory is the global one. A table entry may
//! widen what its tool sees (more home paths, more variables), and a project may carry
//! its own recipes in `.jig/recipes/`; both take effect only once the user has run
//! `jig trust` there (see [`crate::project::trust`]). A plain version pin never needs trust.
//!
//! Looked up on every shim call, so finding the file costs one `stat` per ancestor and
//! parsing happens only when one exists.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::recipe::{EnvGlob, HomePath};

/// The project file name.
pub const FILE: &str = "jig.toml";
/// The lock file name, beside [`FILE`].
pub const LOCK_FILE: &str = "jig.lock";
/// Where a project keeps its own recipes, relative to its root.
pub const RECIPES_DIR: &str = ".jig/recipes";

/// A parsed `jig.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    /// Recipe name → pin.
    #[serde(default)]
    pub tools: BTreeMap<String, Pin>,
    /// `[cache]`: the project's image cache (needs trust: it widens what jig contacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<ProjectCache>,
}

/// A project's `[cache]`: images are looked up there before a build. Pushing stays
/// the user's choice (`config.toml`, `jig install --push-cache`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectCache {
    /// `HOST[:PORT]/REPO`.
    pub registry: crate::base::config::CacheRepo,
}

/// One `[tools]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pin {
    /// `git = "2.39"`.
    Version(String),
    /// `git = { version = "2.39", home = [...], home_rw = [...], pass = [...] }`.
    Table(PinTable),
}

/// The table form of a pin.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinTable {
    /// The version; absent means the recipe's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Extra home paths bound read-only (needs trust).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub home: Vec<HomePath>,
    /// Extra home paths bound read-write (needs trust).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub home_rw: Vec<HomePath>,
    /// Extra variable patterns passed through (needs trust).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass: Vec<EnvGlob>,
}

impl Pin {
    /// The pinned version, if any.
    pub fn version(&self) -> Option<&str> {
        match self {
            Pin::Version(v) => Some(v),
            Pin::Table(t) => t.version.as_deref(),
        }
    }

    /// The widening part of a table pin, if it asks for anything.
    pub fn widening(&self) -> Option<&PinTable> {
        match self {
            Pin::Table(t) if !(t.home.is_empty() && t.home_rw.is_empty() && t.pass.is_empty()) => {
                Some(t)
            }
            _ => None,
        }
    }
}

impl ProjectFile {
    /// Parses `jig.toml` text; `file` names it in errors (with line and column).
    pub fn parse(text: &str, file: &Path) -> Result<ProjectFile> {
        toml::from_str(text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))
    }
}

/// A `jig.toml` found on disk.
#[derive(Debug, Clone)]
pub struct Found {
    /// The directory holding it (the project root).
    pub dir: PathBuf,
    /// Its path.
    pub path: PathBuf,
    /// Its text, as read (trust is bound to its hash).
    pub text: String,
    /// Its contents.
    pub file: ProjectFile,
}

impl Found {
    /// Reads and parses `path`; `Ok(None)` when it does not exist.
    pub fn read(path: &Path) -> Result<Option<Found>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let file = ProjectFile::parse(&text, path)?;
        Ok(Some(Found {
            dir: path.parent().unwrap_or(Path::new("/")).to_owned(),
            path: path.to_owned(),
            text,
            file,
        }))
    }

    /// The lock file beside this project file.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }

    /// The project's own recipe for `name` (`.jig/recipes/NAME.toml`), if it has one.
    pub fn own_recipe(&self, name: &str) -> Option<PathBuf> {
        let p = self.dir.join(RECIPES_DIR).join(format!("{name}.toml"));
        p.is_file().then_some(p)
    }

    /// The project's own recipe directory, if it has one.
    pub fn recipes_dir(&self) -> Option<PathBuf> {
        let d = self.dir.join(RECIPES_DIR);
        d.is_dir().then_some(d)
    }
}

/// The nearest directory at or above `cwd` holding a `jig.toml`.
pub fn find_path(cwd: &Path) -> Option<PathBuf> {
    cwd.ancestors()
        .map(|d| d.join(FILE))
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| !m.is_dir()))
}

/// The nearest project file at or above `cwd`, parsed.
pub fn find(cwd: &Path) -> Result<Option<Found>> {
    match find_path(cwd) {
        Some(p) => Found::read(&p),
        None => Ok(None),
    }
}

/// The user's global `jig.toml` (beside `config.toml`), whether or not it exists.
pub fn global_path() -> Option<PathBuf> {
    crate::base::config::path().map(|p| p.with_file_name(FILE))
}

/// Sets `tool = "version"` in the `jig.toml` at `path` (creating it), keeping the
/// rest of the file, comments included, as it was.
pub fn write_pin(path: &Path, tool: &str, version: &str) -> Result<()> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    // Validate what is there first, so a broken file is reported, not rewritten.
    ProjectFile::parse(&text, path)?;
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .with_context(|| format!("parsing {}", path.display()))?;
    let tools = doc
        .entry("tools")
        .or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
    let Some(tools) = tools.as_table_like_mut() else {
        anyhow::bail!("{}: `tools` is not a table", path.display());
    };
    match tools.get_mut(tool) {
        Some(item) if item.is_table_like() => {
            let t = item.as_table_like_mut().expect("checked");
            t.insert("version", toml_edit::value(version));
        }
        _ => {
            tools.insert(tool, toml_edit::value(version));
        }
    }
    let tmp = path.with_extension(format!("toml.{}.tmp", std::process::id()));
    std::fs::write(&tmp, doc.to_string()).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pins_and_tables() {
        let f = ProjectFile::parse(
            "[tools]\ngit = \"2.45\"\nnpm = { version = \"20\", pass = [\"NPM_*\"] }\nmake = {}\n",
            Path::new("jig.toml"),
        )
        .unwrap();
        assert_eq!(f.tools["git"].version(), Some("2.45"));
        assert_eq!(f.tools["npm"].version(), Some("20"));
        assert!(f.tools["npm"].widening().is_some());
        assert_eq!(f.tools["make"].version(), None);
        assert!(f.tools["make"].widening().is_none());
        let plain = ProjectFile::parse("[tools]\ngit = \"1\"\n", Path::new("j")).unwrap();
        assert!(plain.tools["git"].widening().is_none());
        assert!(ProjectFile::parse("[tool]\n", Path::new("j")).is_err());
        let bad = format!(
            "{:#}",
            ProjectFile::parse(
                "[tools]\nnpm = { version = \"20\", home = [\"../x\"] }\n",
                Path::new("j")
            )
            .unwrap_err()
        );
        assert!(bad.contains("line 2"), "{bad}");
    }

    #[test]
    fn walks_up_to_the_nearest_file() {
        let t = tempfile::tempdir().unwrap();
        let deep = t.path().join("a/b/c/d/e");
        std::fs::create_dir_all(&deep).unwrap();
        assert!(find(&deep).unwrap().is_none() || find_path(t.path()).is_some());
        std::fs::write(t.path().join("a/jig.toml"), "[tools]\ngit = \"1\"\n").unwrap();
        let found = find(&deep).unwrap().unwrap();
        assert_eq!(found.dir, t.path().join("a"));
        std::fs::write(t.path().join("a/b/c/jig.toml"), "").unwrap();
        assert_eq!(find(&deep).unwrap().unwrap().dir, t.path().join("a/b/c"));
        // A directory named jig.toml is not a project file.
        std::fs::create_dir_all(t.path().join("a/b/c/d/jig.toml")).unwrap();
        assert_eq!(find(&deep).unwrap().unwrap().dir, t.path().join("a/b/c"));
    }

    #[test]
    fn pin_keeps_the_rest_of_the_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("jig.toml");
        write_pin(&p, "git", "2.45").unwrap();
        assert_eq!(
            ProjectFile::parse(&std::fs::read_to_string(&p).unwrap(), &p)
                .unwrap()
                .tools["git"]
                .version(),
            Some("2.45")
        );
        std::fs::write(
            &p,
            "# team pins\n[tools]\ngit = \"1\" # old\nnpm = { version = \"18\", pass = [\"X\"] }\n",
        )
        .unwrap();
        write_pin(&p, "git", "2").unwrap();
        write_pin(&p, "npm", "20").unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("# team pins\n"), "{text}");
        let f = ProjectFile::parse(&text, &p).unwrap();
        assert_eq!(f.tools["git"].version(), Some("2"));
        assert_eq!(f.tools["npm"].version(), Some("20"));
        assert!(f.tools["npm"].widening().is_some());
    }
}
