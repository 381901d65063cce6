//! Loading recipes: the built-in ones, files on disk, and where each came from.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::model::{Recipe, validate};
use crate::base::digest::sha256_hex;

/// Where a recipe was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Origin {
    /// Embedded in the jig binary.
    Builtin {
        /// Recipe name.
        name: String,
    },
    /// A file on disk (absolute path).
    File {
        /// Absolute path of the recipe file.
        path: PathBuf,
    },
    /// `recipes/NAME.toml` of a recipe repository (`jig repo add`).
    Repo {
        /// Repository name.
        repo: String,
        /// The pin it was read at: a git commit or a directory's `sha256:` content hash.
        commit: String,
        /// Recipe name.
        name: String,
    },
}

impl Origin {
    /// How to name this recipe on the command line: the file's path, the built-in
    /// name, or `REPO/NAME`.
    pub fn arg(&self) -> String {
        match self {
            Origin::File { path } => path.display().to_string(),
            Origin::Builtin { name } => name.clone(),
            Origin::Repo { repo, name, .. } => format!("{repo}/{name}"),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin { name } => write!(f, "built-in recipe {name}"),
            Origin::File { path } => write!(f, "{}", path.display()),
            Origin::Repo { repo, commit, name } => write!(
                f,
                "recipe {name} of repository {repo} at {}",
                crate::base::digest::short(commit)
            ),
        }
    }
}

/// A recipe together with where it came from and the hash of its text.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The recipe.
    pub recipe: Recipe,
    /// Its origin.
    pub origin: Origin,
    /// sha256 of the recipe text, hex.
    pub hash: String,
}

impl Loaded {
    /// This recipe resolved for one version: the default with `None`, else the version
    /// `request` selects ([`Recipe::select`]). The result's `hash` is the resolved
    /// recipe's [`Recipe::content_hash`].
    pub fn at(&self, request: Option<&str>) -> Result<Loaded> {
        let version = match request {
            Some(r) => self.recipe.select(r)?,
            None => self.recipe.version.to_string(),
        };
        let recipe = self.recipe.for_version(&version)?;
        Ok(Loaded {
            hash: recipe.content_hash(),
            recipe,
            origin: self.origin.clone(),
        })
    }

    /// Directory that relative paths in the recipe are resolved against.
    pub fn base_dir(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File { path } => path.parent(),
            // Repository recipes may not name host paths (see `repo::parse`).
            Origin::Builtin { .. } | Origin::Repo { .. } => None,
        }
    }
}

/// Built-in recipes, embedded at compile time from `recipes/`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("busybox", include_str!("../../recipes/busybox.toml")),
    ("curl", include_str!("../../recipes/curl.toml")),
    ("git", include_str!("../../recipes/git.toml")),
    ("gitk", include_str!("../../recipes/gitk.toml")),
    ("jq", include_str!("../../recipes/jq.toml")),
    ("make", include_str!("../../recipes/make.toml")),
    ("npm", include_str!("../../recipes/npm.toml")),
    ("python3", include_str!("../../recipes/python3.toml")),
    ("shellcheck", include_str!("../../recipes/shellcheck.toml")),
    ("vim", include_str!("../../recipes/vim.toml")),
];

/// Parses recipe text; `file` names it in error messages.
pub fn parse(text: &str, file: &str) -> Result<Recipe> {
    let recipe: Recipe = toml::from_str(text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    validate(&recipe).with_context(|| format!("{file}: invalid recipe"))?;
    for v in recipe.versions.keys() {
        if v == &recipe.version {
            bail!(
                "{file}: [versions.\"{v}\"] repeats the default version; put its settings at the top level"
            );
        }
        recipe
            .for_version(v.as_str())
            .with_context(|| format!("{file}: invalid recipe"))?;
    }
    Ok(recipe)
}

/// True if a recipe argument names a file: it ends in `.toml`, starts with `/`, `./`
/// or `../`, or names a Dockerfile ([`is_dockerfile`]). Anything else is a name
/// (`NAME`, or `REPO/NAME` for a repository's recipe; see `repo::find`).
pub fn is_path(spec: &str) -> bool {
    spec.ends_with(".toml")
        || spec.starts_with('/')
        || spec.starts_with("./")
        || spec.starts_with("../")
        || is_dockerfile(spec)
}

/// True if a path's file name is a Dockerfile's: `Dockerfile`, `Dockerfile-TAG`,
/// `Dockerfile.SUFFIX`, `NAME.Dockerfile` or `NAME.dockerfile`.
pub fn is_dockerfile(spec: &str) -> bool {
    let name = spec.rsplit('/').next().unwrap_or(spec);
    name == "Dockerfile"
        || name.starts_with("Dockerfile-")
        || name.starts_with("Dockerfile.")
        || name.ends_with(".Dockerfile")
        || name.ends_with(".dockerfile")
}

/// The built-in recipes one of whose shims is `command` (`jq` → `jq`, `cc` → `make`),
/// by name: what to install when a command is missing. Parses every built-in recipe,
/// so it is for failures, not for launches.
pub fn builtins_providing(command: &str) -> Vec<&'static str> {
    BUILTIN
        .iter()
        .filter(|(name, _)| {
            load(name).is_ok_and(|l| l.recipe.tool.shims.iter().any(|s| s.as_str() == command))
        })
        .map(|(name, _)| *name)
        .collect()
}

/// Loads a built-in recipe by name or a recipe file by path (see [`is_path`]).
/// Repository recipes are found by `repo::find`.
pub fn load(name_or_path: &str) -> Result<Loaded> {
    if is_path(name_or_path) {
        return load_file(Path::new(name_or_path));
    }
    let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) else {
        let names: Vec<_> = BUILTIN.iter().map(|(n, _)| *n).collect();
        return Err(crate::base::error::unknown(
            format!(
                "no built-in recipe named '{name_or_path}'; built-in recipes are: {}",
                names.join(", ")
            ),
            [
                crate::base::suggest::did_you_mean(name_or_path, names.iter().copied()),
                Some(format!(
                    "give a path (./{name_or_path}.toml) to use a recipe file"
                )),
            ],
        ));
    };
    let recipe = parse(text, &format!("recipes/{name_or_path}.toml"))?;
    Ok(Loaded {
        recipe,
        origin: Origin::Builtin {
            name: name_or_path.to_owned(),
        },
        hash: sha256_hex(text.as_bytes()),
    })
}

/// Loads a recipe file.
pub fn load_file(path: &Path) -> Result<Loaded> {
    let abs = std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let text = std::fs::read_to_string(&abs)
        .with_context(|| format!("reading recipe {}", path.display()))?;
    let recipe = parse(&text, &path.display().to_string())?;
    Ok(Loaded {
        recipe,
        origin: Origin::File { path: abs },
        hash: sha256_hex(text.as_bytes()),
    })
}
