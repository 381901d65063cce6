//! The installed index (`installed.json`): which recipes are installed, at which
//! versions, from which image, and which shim names they own.
//!
//! This small file is all a shim reads to find its tool, so it holds the resolved
//! recipe and the image's runtime config: the hot path never parses recipe files,
//! never reads image metadata and never hashes anything. Writers (install, uninstall)
//! hold the store's exclusive lock and replace the file with an atomic rename.
//!
//! JSON rather than TOML: it is read on every shim call, and serde_json parses it in
//! a small fraction of the time the TOML parser needs. A shim reads it as [`Lazy`]:
//! only the shim table and the one recipe it runs are parsed, so a launch costs the
//! same with two recipes installed or fifty.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::image::store::{ImageConfig, ImageId};
use crate::recipe::{Origin, Recipe};

/// The whole index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Shim name → recipe name.
    #[serde(default)]
    pub shims: BTreeMap<String, String>,
    /// Recipe name → installed versions.
    #[serde(default)]
    pub tools: BTreeMap<String, InstalledTool>,
    /// Installed project recipes (`.jig/recipes/` of trusted projects), by the resolved
    /// recipe's content hash: a project's `git` never replaces the user's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub projects: BTreeMap<String, Entry>,
}

/// Reads and parses the index file at `path` as `T`; a missing file is `T::default()`.
fn parse<T: serde::de::DeserializeOwned + Default>(path: &Path) -> Result<T> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| damaged(path, e)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn damaged(path: &Path, e: serde_json::Error) -> anyhow::Error {
    crate::base::error::damaged(
        path,
        e,
        format!(
            "move it away (`mv {0} {0}.damaged`), then `jig install` your recipes again: their images and build caches are still in the store and are used again",
            path.display()
        ),
    )
}

/// The index as a shim reads it: the shim table parsed, each recipe's versions and
/// each project recipe kept as raw JSON until asked for.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lazy {
    /// Shim name → recipe name.
    #[serde(default)]
    pub shims: BTreeMap<String, String>,
    #[serde(default)]
    tools: BTreeMap<String, Box<serde_json::value::RawValue>>,
    #[serde(default)]
    projects: BTreeMap<String, Box<serde_json::value::RawValue>>,
    #[serde(skip)]
    path: std::path::PathBuf,
}

impl Lazy {
    /// Reads the index at `path`; a missing file is an empty index.
    pub fn read(path: &Path) -> Result<Lazy> {
        let mut lazy: Lazy = parse(path)?;
        lazy.path = path.to_owned();
        Ok(lazy)
    }

    /// The installed versions of the recipe `name`.
    pub fn tool(&self, name: &str) -> Result<Option<InstalledTool>> {
        self.parse(self.tools.get(name).map(AsRef::as_ref))
    }

    /// The installed project recipe whose resolved content hash is `hash`.
    pub fn project(&self, hash: &str) -> Result<Option<Entry>> {
        self.parse(self.projects.get(hash).map(AsRef::as_ref))
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        raw: Option<&serde_json::value::RawValue>,
    ) -> Result<Option<T>> {
        raw.map(|raw| serde_json::from_str(raw.get()).map_err(|e| damaged(&self.path, e)))
            .transpose()
    }

    /// Whether some installed project recipe is named `name`.
    pub fn has_project_recipe(&self, name: &str) -> bool {
        self.projects.values().any(|raw| {
            serde_json::from_str::<Entry>(raw.get()).is_ok_and(|e| e.recipe.name.as_str() == name)
        })
    }
}

/// One installed recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstalledTool {
    /// The recipe's default version: what shims run when nothing pins another.
    pub default: String,
    /// Every version the recipe offered when it was last installed, so a pin such as
    /// `20` can be matched to `20.11` (and installed on first use) without reading the
    /// recipe.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offered: Vec<String>,
    /// Installed versions.
    pub versions: BTreeMap<String, Entry>,
}

/// One installed version of a recipe: everything a launch needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// The image this version runs.
    pub image: ImageId,
    /// sha256 of the recipe text it was installed from.
    pub recipe_hash: String,
    /// Where the recipe came from.
    pub origin: Origin,
    /// The image's runtime config (env, entrypoint, cmd).
    #[serde(default)]
    pub config: ImageConfig,
    /// The recipe itself.
    pub recipe: Recipe,
    /// Where each shim's command lives in the image, found once at install time so a
    /// launch execs it directly instead of probing every PATH directory through the
    /// overlay (each miss is a lookup in every layer). Commands not found are absent;
    /// they are searched for at launch like any other.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub paths: BTreeMap<String, String>,
}

impl Entry {
    /// This entry as its project's lock compares it.
    pub fn installed(&self) -> crate::project::lock::Installed<'_> {
        crate::project::lock::Installed {
            version: self.recipe.version.as_str(),
            recipe_hash: &self.recipe_hash,
            image: &self.image,
        }
    }
}

impl Index {
    /// Reads the index; a missing file is an empty index.
    pub fn read(path: &Path) -> Result<Index> {
        parse(path)
    }

    /// Writes the index atomically (temp file + rename).
    pub fn write(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("serializing the installed index")?;
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
        fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
    }

    /// The default installed entry of a recipe.
    pub fn default_entry(&self, recipe: &str) -> Option<(&str, &Entry)> {
        let tool = self.tools.get(recipe)?;
        tool.versions
            .get_key_value(&tool.default)
            .map(|(v, e)| (v.as_str(), e))
    }

    /// Every image id some installed version uses.
    pub fn images_in_use(&self) -> BTreeMap<ImageId, Vec<String>> {
        let mut used: BTreeMap<ImageId, Vec<String>> = BTreeMap::new();
        for (name, tool) in &self.tools {
            for (version, entry) in &tool.versions {
                used.entry(entry.image.clone())
                    .or_default()
                    .push(format!("{name}@{version}"));
            }
        }
        for entry in self.projects.values() {
            used.entry(entry.image.clone()).or_default().push(format!(
                "{}@{} ({})",
                entry.recipe.name, entry.recipe.version, entry.origin
            ));
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str) -> Entry {
        let text = format!(
            "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:r\"\n[tool]\nshims = [\"{name}\"]\n"
        );
        Entry {
            image: ImageId::parse(&"ab".repeat(32)).unwrap(),
            recipe_hash: "0".repeat(64),
            origin: Origin::Builtin { name: name.into() },
            config: ImageConfig::default(),
            recipe: crate::recipe::parse(&text, "t.toml").unwrap(),
            paths: BTreeMap::new(),
        }
    }

    #[test]
    fn a_lazy_read_parses_only_what_is_asked_for_and_agrees_with_the_full_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("installed.json");
        let mut index = Index::default();
        for name in ["a", "b"] {
            index.shims.insert(name.into(), name.into());
            index.tools.insert(
                name.into(),
                InstalledTool {
                    default: "1".into(),
                    offered: vec!["1".into()],
                    versions: [("1".to_owned(), entry(name))].into(),
                },
            );
        }
        index.projects.insert("h".repeat(64), entry("p"));
        index.write(&path).unwrap();

        let lazy = Lazy::read(&path).unwrap();
        assert_eq!(lazy.shims, index.shims);
        assert_eq!(lazy.tool("a").unwrap().as_ref(), index.tools.get("a"));
        assert_eq!(lazy.tool("zz").unwrap(), None);
        assert_eq!(lazy.project(&"h".repeat(64)).unwrap(), Some(entry("p")));
        assert!(lazy.has_project_recipe("p"));
        assert!(!lazy.has_project_recipe("a"));

        // Damage inside one recipe's entry surfaces when that recipe is asked for.
        let text = fs::read_to_string(&path).unwrap();
        fs::write(
            &path,
            text.replacen("\"default\": \"1\"", "\"default\": 1", 1),
        )
        .unwrap();
        let lazy = Lazy::read(&path).unwrap();
        let err = format!("{:#}", lazy.tool("a").unwrap_err());
        assert!(err.contains("is damaged"), "{err}");
        assert!(Index::read(&path).is_err());

        // A missing index is an empty one.
        let none = Lazy::read(&dir.path().join("nothing.json")).unwrap();
        assert!(none.shims.is_empty());
    }
}
