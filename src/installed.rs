//! The installed index (`installed.json`): which recipes are installed, at which
//! versions, from which image, and which shim names they own.
//!
//! This small file is all a shim reads to find its tool, so it holds the resolved
//! recipe and the image's runtime config: the hot path never parses recipe files,
//! never reads image metadata and never hashes anything. Writers (install, uninstall)
//! hold the store's exclusive lock and replace the file with an atomic rename.
//!
//! JSON rather than TOML: it is read on every shim call, and serde_json parses it in
//! a small fraction of the time the TOML parser needs.

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::recipe::{Origin, Recipe};
use crate::store::{ImageConfig, ImageId};

/// The whole index.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Index {
    /// Shim name → recipe name.
    #[serde(default)]
    pub shims: BTreeMap<String, String>,
    /// Recipe name → installed versions.
    #[serde(default)]
    pub tools: BTreeMap<String, Tool>,
    /// Installed project recipes (`.jig/recipes/` of trusted projects), by the resolved
    /// recipe's content hash: a project's `git` never replaces the user's own.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub projects: BTreeMap<String, Entry>,
}

/// One installed recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
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

impl Index {
    /// Reads the index; a missing file is an empty index.
    pub fn read(path: &Path) -> Result<Index> {
        match fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is damaged; reinstall your recipes or remove the file",
                    path.display()
                )
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
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
