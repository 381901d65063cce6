//! What `jig outdated` and `jig upgrade` look at: each installed version's recipe read
//! again from where it came from (the built-in recipe of this jig, the repository at
//! its current pin, the recipe file), compared with what was installed by content hash
//! and by default version.
//!
//! A recipe whose hash changed has a new build (a built-in recipe updated with jig, a
//! repository pin moved by `jig repo update`, an edited file); a recipe whose default
//! version is above the installed default has a newer version. Unless offline, an
//! installed version whose recipe did not move is also checked against its source
//! ([`crate::install::remote`]): newer Debian packages in the mirror's index, a
//! registry tag that names another image now. A source that cannot be asked is one
//! warning for that version, never a failure of the whole command.

use anyhow::Result;

use crate::base::paths::Dirs;
use crate::image::store::Store;
use crate::install::index::{Entry, Index};
use crate::install::remote::Moved;
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
    /// What moved under the unchanged recipe (packages, the registry tag).
    pub moved: Moved,
}

impl Outdated {
    /// Why, in a few words: `new version 2.40`, `recipe changed`.
    pub fn why(&self) -> String {
        let mut why = Vec::new();
        if self.target != self.version {
            why.push(format!("new version {}", self.target));
        }
        if self.changed {
            why.push("recipe changed".to_owned());
        }
        why.extend(self.moved.why());
        why.join("; ")
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
        moved: Moved::default(),
    })
}

/// Every installed version (project recipes aside) with a newer version or build, and
/// a warning for each whose recipe cannot be read now or whose source could not be
/// asked. `offline` skips the sources (no network at all).
pub fn find(dirs: &Dirs, offline: bool) -> Result<(Vec<Outdated>, Vec<String>)> {
    let index = Index::read(&dirs.index())?;
    let store = Store::new(dirs.store());
    let mut found = Vec::new();
    let mut warnings = Vec::new();
    for (name, tool) in &index.tools {
        for (version, entry) in &tool.versions {
            let spec = spec_of(&entry.origin);
            let loaded = match crate::repo::find(dirs, &spec) {
                Ok(loaded) => loaded,
                Err(e) => {
                    warnings.push(format!(
                        "{name} {version}: cannot read its recipe ({spec}): {e:#}"
                    ));
                    continue;
                }
            };
            let default = *version == tool.default;
            if let Some(o) = compare(name, version, entry, default, &loaded) {
                // Rebuilt or replaced anyway: its source need not be asked.
                found.push(o);
                continue;
            }
            if offline {
                continue;
            }
            match moved(&store, entry) {
                Ok(Some(moved)) if moved.any() => found.push(Outdated {
                    name: name.clone(),
                    version: version.clone(),
                    target: version.clone(),
                    changed: false,
                    spec,
                    moved,
                }),
                Ok(_) => {}
                Err(e) => warnings.push(format!(
                    "{name} {version}: could not check its image source ({}): {}",
                    entry.recipe.image.from,
                    format!("{e:#}").replace('\n', " ")
                )),
            }
        }
    }
    Ok((found, warnings))
}

/// What moved under `entry`'s image, from the metadata the store records for it.
fn moved(store: &Store, entry: &Entry) -> Result<Option<Moved>> {
    let Some(image) = store.image(&entry.image)? else {
        return Ok(None);
    };
    crate::install::remote::check(store, &entry.recipe.image, &image.meta)
}
