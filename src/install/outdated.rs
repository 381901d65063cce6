//! What `jig outdated` and `jig upgrade` look at: each installed version's recipe read
//! again from where it came from (the built-in recipe of this jig, the repository at
//! its current pin, the recipe file), compared with what was installed by content hash
//! and by default version.
//!
//! A recipe whose hash changed has a new build (a built-in recipe updated with jig, a
//! repository pin moved by `jig repo update`, an edited file); a recipe whose default
//! version is above the installed default has a newer version. Nothing is downloaded:
//! a Debian index or a registry tag that moved under an unchanged recipe is not seen
//! here (`jig lock --upgrade` resolves those afresh).

use anyhow::Result;

use crate::base::paths::Dirs;
use crate::install::index::{Entry, Index};
use crate::recipe::{Loaded, Origin};

/// One installed version with something newer.
#[derive(Debug, Clone, PartialEq)]
pub struct Outdated {
    /// Recipe name.
    pub name: String,
    /// The installed version.
    pub version: String,
    /// The version to move to: the recipe's new default, or the same version rebuilt.
    pub target: String,
    /// The recipe at `version` differs from the installed one (a new build).
    pub changed: bool,
    /// How to name the recipe to load it again (`builtin/git`, `team/tool`, a path).
    pub spec: String,
}

impl Outdated {
    /// Why, in a few words: `new version 2.40`, `recipe changed`.
    pub fn why(&self) -> String {
        match (self.target != self.version, self.changed) {
            (true, true) => format!("new version {}; recipe changed", self.target),
            (true, false) => format!("new version {}", self.target),
            _ => "recipe changed".to_owned(),
        }
    }
}

/// How to load `origin` again: a built-in recipe by `builtin/NAME`, so a repository
/// recipe of the same name never stands in for it.
pub fn spec_of(origin: &Origin) -> String {
    match origin {
        Origin::Builtin { name } => format!("builtin/{name}"),
        other => other.arg(),
    }
}

/// Compares one installed version with `loaded`, its recipe as it is now; `default`
/// tells whether it is the tool's default version (only that one moves to a new
/// version).
pub fn compare(
    name: &str,
    version: &str,
    entry: &Entry,
    default: bool,
    loaded: &Loaded,
) -> Option<Outdated> {
    // A version the recipe no longer offers has no new build, only (if it is the
    // default) a new version.
    let changed = loaded
        .at(Some(version))
        .is_ok_and(|now| now.recipe.version.as_str() == version && now.hash != entry.recipe_hash);
    let newest = loaded.recipe.version.to_string();
    let newer =
        default && crate::base::version::compare(&newest, version) == std::cmp::Ordering::Greater;
    (changed || newer).then(|| Outdated {
        name: name.to_owned(),
        version: version.to_owned(),
        target: if newer { newest } else { version.to_owned() },
        changed,
        spec: spec_of(&entry.origin),
    })
}

/// Every installed version (project recipes aside) with a newer version or build, and
/// a warning for each whose recipe cannot be read now.
pub fn find(dirs: &Dirs) -> Result<(Vec<Outdated>, Vec<String>)> {
    let index = Index::read(&dirs.index())?;
    let mut found = Vec::new();
    let mut warnings = Vec::new();
    for (name, tool) in &index.tools {
        for (version, entry) in &tool.versions {
            let spec = spec_of(&entry.origin);
            match crate::repo::find(dirs, &spec) {
                Ok(loaded) => found.extend(compare(
                    name,
                    version,
                    entry,
                    *version == tool.default,
                    &loaded,
                )),
                Err(e) => warnings.push(format!(
                    "{name} {version}: cannot read its recipe ({spec}): {e:#}"
                )),
            }
        }
    }
    Ok((found, warnings))
}
