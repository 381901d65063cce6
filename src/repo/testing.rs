//! Fixtures for the repository tests: recipe files in memory, and jig's directories
//! in a temporary directory.

use super::contents::RecipeFile;
use crate::base::paths::Dirs;

/// `recipes/STEM.toml` with `text`.
pub fn file(stem: &str, text: &str) -> RecipeFile {
    RecipeFile {
        stem: stem.into(),
        path: format!("recipes/{stem}.toml"),
        text: text.into(),
    }
}

/// A valid recipe `name` at `version`.
pub fn recipe_text(name: &str, version: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"{version}\"\ndescription = \"d\"\n[image]\nfrom = \"busybox:/bin/busybox\"\n[tool]\nshims = [\"x{name}\"]\n"
    )
}

/// jig's data and shim directories below `t`.
pub fn dirs(t: &tempfile::TempDir) -> Dirs {
    Dirs {
        data: t.path().join("data"),
        shims: t.path().join("shims"),
    }
}
