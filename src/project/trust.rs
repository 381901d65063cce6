//! Trust in a project's `jig.toml`.
//!
//! A plain version pin only chooses among versions of recipes the user installed, so it
//! needs nothing. A project file that widens what a tool sees (more home paths, more
//! variables) or a project that brings its own recipes (`.jig/recipes/`) could expose
//! the user's files to whoever wrote the project: jig ignores those parts, saying so,
//! until the user runs `jig trust` in the project. Trust is bound to a hash of the
//! project file and every project recipe, so any edit needs trust again.
//!
//! The trusted hashes live in `trusted.json` in jig's data directory, keyed by the
//! project file's path.

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

use crate::base::digest::hex;
use crate::base::paths::Dirs;
use crate::project::Found;

/// What a project asks for beyond version pins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Asks {
    /// Human-readable lines, one per widening or project recipe.
    pub lines: Vec<String>,
    /// The project's recipe files (`.jig/recipes/*.toml`), sorted.
    pub recipes: Vec<PathBuf>,
}

impl Asks {
    /// Whether there is anything to trust.
    pub fn any(&self) -> bool {
        !self.lines.is_empty()
    }
}

/// Lists what `found` asks for beyond version pins.
pub fn asks(found: &Found) -> Asks {
    let mut out = Asks::default();
    for (tool, pin) in &found.file.tools {
        let Some(w) = pin.widening() else { continue };
        for p in &w.home {
            out.lines.push(format!("{tool}: read ~/{p}"));
        }
        for p in &w.home_rw {
            out.lines.push(format!("{tool}: read and write ~/{p}"));
        }
        for g in &w.pass {
            out.lines.push(format!("{tool}: environment {g}"));
        }
    }
    if let Some(c) = &found.file.cache {
        out.lines.push(format!(
            "images from the cache registry {} (fetched before building)",
            c.registry
        ));
    }
    out.recipes = project_recipes(found);
    for r in &out.recipes {
        out.lines.push(format!(
            "its own recipe {}",
            r.strip_prefix(&found.dir).unwrap_or(r).display()
        ));
    }
    out
}

/// The `.jig/recipes/*.toml` files of a project (regular files only), sorted.
pub fn project_recipes(found: &Found) -> Vec<PathBuf> {
    let Some(dir) = found.recipes_dir() else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// The hash trust is bound to: the project file's text and every project recipe's
/// name and contents.
pub fn fingerprint(found: &Found) -> Result<String> {
    let mut h = Sha256::new();
    h.update(b"jig.toml\0");
    h.update(found.text.as_bytes());
    for r in project_recipes(found) {
        let text = std::fs::read(&r).with_context(|| format!("reading {}", r.display()))?;
        h.update(b"\0");
        h.update(r.file_name().unwrap_or_default().as_encoded_bytes());
        h.update(b"\0");
        h.update((text.len() as u64).to_le_bytes());
        h.update(&text);
    }
    Ok(hex(&h.finalize()))
}

fn db_path(dirs: &Dirs) -> PathBuf {
    dirs.data.join("trusted.json")
}

fn read_db(path: &Path) -> Result<BTreeMap<PathBuf, String>> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| {
            crate::base::error::damaged(
                path,
                e,
                format!(
                    "remove it (`rm {}`) and run `jig trust` again in the projects you trust",
                    path.display()
                ),
            )
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Whether the user trusts `found` as it is now.
pub fn is_trusted(dirs: &Dirs, found: &Found) -> Result<bool> {
    let db = read_db(&db_path(dirs))?;
    Ok(db.get(&found.path) == Some(&fingerprint(found)?))
}

/// Records trust in `found` as it is now (`revoke` forgets it instead).
pub fn set(dirs: &Dirs, found: &Found, revoke: bool) -> Result<()> {
    let path = db_path(dirs);
    std::fs::create_dir_all(&dirs.data)
        .with_context(|| format!("creating {}", dirs.data.display()))?;
    // Under the store lock: two `jig trust` runs must not lose each other's entry.
    let store = crate::image::store::Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let mut db = read_db(&path)?;
    if revoke {
        db.remove(&found.path);
    } else {
        db.insert(found.path.clone(), fingerprint(found)?);
    }
    let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, serde_json::to_string_pretty(&db)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("replacing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_follows_the_content() {
        let t = tempfile::tempdir().unwrap();
        let dirs = Dirs {
            data: t.path().join("data"),
            shims: t.path().join("shims"),
        };
        let proj = t.path().join("p");
        std::fs::create_dir_all(proj.join(".jig/recipes")).unwrap();
        let file = proj.join("jig.toml");
        std::fs::write(&file, "[tools]\nbb = { pass = [\"X\"] }\n").unwrap();
        let found = Found::read(&file).unwrap().unwrap();
        let a = asks(&found);
        assert_eq!(a.lines, ["bb: environment X"]);
        assert!(!is_trusted(&dirs, &found).unwrap());
        set(&dirs, &found, false).unwrap();
        assert!(is_trusted(&dirs, &found).unwrap());
        // A new project recipe changes the fingerprint.
        std::fs::write(proj.join(".jig/recipes/x.toml"), "name = \"x\"").unwrap();
        assert_eq!(asks(&found).recipes.len(), 1);
        assert!(!is_trusted(&dirs, &found).unwrap());
        set(&dirs, &found, false).unwrap();
        assert!(is_trusted(&dirs, &found).unwrap());
        // So does an edit of the file.
        std::fs::write(&file, "[tools]\nbb = { pass = [\"Y\"] }\n").unwrap();
        let edited = Found::read(&file).unwrap().unwrap();
        assert!(!is_trusted(&dirs, &edited).unwrap());
        // A cache widens what jig contacts: it is listed.
        std::fs::write(&file, "[cache]\nregistry = \"r.example.com/c\"\n").unwrap();
        let cached = Found::read(&file).unwrap().unwrap();
        assert!(cached.file.cache.is_some());
        assert!(asks(&cached).lines[0].contains("cache registry r.example.com/c"));
        set(&dirs, &edited, true).unwrap();
        assert!(!is_trusted(&dirs, &found).unwrap());
    }
}
