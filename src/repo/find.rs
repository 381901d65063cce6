//! Finding a recipe by name: a path is a recipe file, `REPO/NAME` one repository's
//! recipe, and a bare `NAME` the first match in the lookup order (`recipe_order` of
//! config.toml, the built-in recipes, then every other repository).

use std::path::Path;

use anyhow::{Result, bail};

use crate::base::error::unknown;
use crate::base::suggest::{closest, did_you_mean};

use super::parse::parse;
use super::pinned::contents;
use super::registry::{BUILTIN, Repos, short};
use crate::base::paths::Dirs;
use crate::recipe::{self, Loaded, Name, Origin};

/// Loads recipe `name` from repository `repo` at the repository's pinned commit.
pub fn load(dirs: &Dirs, repo: &str, name: &str) -> Result<Loaded> {
    let repos = Repos::read(dirs)?;
    let registered = repos.get(repo)?;
    let contents = contents(dirs, repo, registered)?;
    let origin = Origin::Repo {
        repo: repo.to_owned(),
        commit: registered.pin.clone(),
        name: name.to_owned(),
    };
    if !contents.files.iter().any(|f| f.stem == name)
        && let Some(image) = contents.dex.iter().find(|d| d.name == name)
    {
        let (recipe, notes) = super::dex::from_repo(repo, image)?;
        for n in notes {
            eprintln!("jig: {repo}: {n}");
        }
        let mut text = image.tree.clone();
        for (f, t) in &image.dockerfiles {
            text.push_str(&format!("\0{f}\0{t}"));
        }
        return Ok(Loaded {
            recipe,
            origin,
            hash: crate::base::digest::sha256_hex(text.as_bytes()),
        });
    }
    let Some(file) = contents.files.iter().find(|f| f.stem == name) else {
        if let Some((path, why)) = contents
            .refused
            .iter()
            .find(|(p, _)| p == &format!("recipes/{name}.toml"))
        {
            bail!("{repo}:{path}: {why}");
        }
        let stems = contents.files.iter().map(|f| f.stem.as_str());
        return Err(unknown(
            format!(
                "repository '{repo}' has no recipe '{name}' (at {})",
                short(&registered.pin)
            ),
            [
                closest(name, stems).map(|c| format!("did you mean `{repo}/{c}`?")),
                Some(format!(
                    "`jig search {name}` lists recipes from all repositories"
                )),
            ],
        ));
    };
    let recipe = parse(repo, file)?;
    Ok(Loaded {
        recipe,
        origin,
        hash: crate::base::digest::sha256_hex(file.text.as_bytes()),
    })
}

/// A place recipes are looked up in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The recipes built into jig.
    Builtin,
    /// A registered repository.
    Repo(String),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Builtin => f.write_str("built-in recipes"),
            Place::Repo(r) => write!(f, "repository '{r}'"),
        }
    }
}

/// The order a bare `NAME` is looked up in: the configured `recipe_order` first (names
/// not registered are skipped), then the built-in recipes, then every other repository
/// by name.
pub fn order(configured: &[String], repos: &Repos) -> Vec<Place> {
    let mut out = Vec::new();
    let push = |p: Place, out: &mut Vec<Place>| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for name in configured {
        if name == BUILTIN {
            push(Place::Builtin, &mut out);
        } else if repos.repos.contains_key(name) {
            push(Place::Repo(name.clone()), &mut out);
        }
    }
    push(Place::Builtin, &mut out);
    for name in repos.repos.keys() {
        push(Place::Repo(name.clone()), &mut out);
    }
    out
}

/// Finds the recipe a command-line argument names: a path (see
/// [`recipe::is_path`]) is a file; `REPO/NAME` is that repository's recipe
/// (`builtin/NAME` a built-in one); a bare `NAME` is the first match in [`order`].
pub fn find(dirs: &Dirs, spec: &str) -> Result<Loaded> {
    if recipe::is_dockerfile(spec) {
        return super::dex::load_file(Path::new(spec));
    }
    if recipe::is_path(spec) {
        return recipe::load_file(Path::new(spec));
    }
    if let Some((repo, name)) = spec.split_once('/') {
        Name::new(name).map_err(|e| unknown(e, []))?;
        if repo == BUILTIN {
            return recipe::load(name);
        }
        return load(dirs, repo, name);
    }
    Name::new(spec).map_err(|e| {
        unknown(
            e,
            [Some(format!(
                "give a path (./{spec}.toml) to use a recipe file"
            ))],
        )
    })?;
    let configured = crate::base::config::load()?.recipe_order;
    let repos = match Repos::read(dirs) {
        Ok(r) => r,
        // A damaged repos.json leaves the built-in recipes usable, when they come
        // first anyway (no configured order puts a repository before them).
        Err(e)
            if configured.first().is_none_or(|f| f == BUILTIN)
                && recipe::BUILTIN.iter().any(|(n, _)| *n == spec) =>
        {
            let e = e.context(format!("using the built-in recipe {spec}"));
            eprint!(
                "{}",
                crate::base::error::render("jig", crate::base::error::Level::Warning, &e)
            );
            return recipe::load(spec);
        }
        Err(e) => return Err(e),
    };
    let places = order(&configured, &repos);
    // Every name looked at, in lookup order, for a suggestion.
    let mut names: Vec<String> = Vec::new();
    for place in &places {
        match place {
            Place::Builtin => {
                if recipe::BUILTIN.iter().any(|(n, _)| *n == spec) {
                    return recipe::load(spec);
                }
                names.extend(recipe::BUILTIN.iter().map(|(n, _)| n.to_string()));
            }
            Place::Repo(r) => {
                let c = contents(dirs, r, repos.get(r)?)?;
                if c.files.iter().any(|f| f.stem == spec) || c.dex.iter().any(|d| d.name == spec) {
                    return load(dirs, r, spec);
                }
                names.extend(c.files.iter().map(|f| f.stem.clone()));
            }
        }
    }
    let looked: Vec<String> = places.iter().map(|p| p.to_string()).collect();
    Err(unknown(
        format!(
            "no recipe named '{spec}' (looked in: {})",
            looked.join(", ")
        ),
        [
            did_you_mean(spec, names.iter().map(String::as_str)),
            Some(format!(
                "`jig search {spec}` lists recipes from all repositories; `jig repo add` adds one; give a path (./{spec}.toml) to use a recipe file"
            )),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::super::registry::{Location, Repo};
    use super::*;

    #[test]
    fn lookup_order() {
        let mut repos = Repos::default();
        for n in ["b", "a"] {
            repos.repos.insert(
                n.into(),
                Repo {
                    source: Location::Dir("/x".into()),
                    rev: None,
                    pin: "sha256:0".into(),
                },
            );
        }
        let r = |n: &str| Place::Repo(n.into());
        assert_eq!(order(&[], &repos), [Place::Builtin, r("a"), r("b")]);
        let cfg = ["b".to_owned(), "gone".to_owned(), BUILTIN.to_owned()];
        assert_eq!(order(&cfg, &repos), [r("b"), Place::Builtin, r("a")]);
    }

    #[test]
    fn places_are_named_for_messages() {
        assert_eq!(Place::Builtin.to_string(), "built-in recipes");
        assert_eq!(Place::Repo("r".into()).to_string(), "repository 'r'");
    }
}
