//! `jig search`: the recipes of every place, in lookup order, whose name or description
//! contains a term.

use anyhow::Result;

use super::find::{Place, order};
use super::parse::{parse, versions};
use super::pinned::contents;
use super::registry::{BUILTIN, Repos, short};
use crate::base::paths::Dirs;
use crate::recipe;

/// One line of `jig search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// `NAME` for a built-in recipe, `REPO/NAME` for a repository's.
    pub name: String,
    /// Versions offered, default first.
    pub versions: Vec<String>,
    /// `builtin`, or the repository and its pin.
    pub source: String,
    /// The recipe's description.
    pub description: String,
}

/// Recipes of every place, in lookup order, whose name or description contains `term`
/// (case-insensitive; everything when `None`). Recipes or repositories that cannot be
/// read do not stop the search: they are returned as problems.
pub fn search(dirs: &Dirs, term: Option<&str>) -> Result<(Vec<SearchHit>, Vec<anyhow::Error>)> {
    let repos = Repos::read(dirs)?;
    let places = order(&crate::base::config::load()?.recipe_order, &repos);
    let term = term.map(str::to_lowercase);
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for place in places {
        match place {
            Place::Builtin => {
                for (name, _) in recipe::BUILTIN {
                    let r = recipe::load(name)?.recipe;
                    if matches(term.as_deref(), name, &r.description) {
                        found.push(SearchHit {
                            name: (*name).to_owned(),
                            versions: versions(&r),
                            source: BUILTIN.into(),
                            description: r.description,
                        });
                    }
                }
            }
            Place::Repo(repo) => {
                let registered = repos.get(&repo)?;
                let c = match contents(dirs, &repo, registered) {
                    Ok(c) => c,
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                };
                for (path, why) in &c.refused {
                    problems.push(anyhow::anyhow!("{repo}:{path}: {why}"));
                }
                for image in &c.dex {
                    match super::dex::from_repo(&repo, image) {
                        Ok((r, _)) => {
                            let qualified = format!("{repo}/{}", r.name);
                            if matches(term.as_deref(), &qualified, &r.description) {
                                found.push(SearchHit {
                                    name: qualified,
                                    versions: versions(&r),
                                    source: format!("{repo}@{}", short(&registered.pin)),
                                    description: r.description,
                                });
                            }
                        }
                        Err(e) => problems.push(e),
                    }
                }
                for file in &c.files {
                    let r = match parse(&repo, file) {
                        Ok(r) => r,
                        Err(e) => {
                            problems.push(e);
                            continue;
                        }
                    };
                    let qualified = format!("{repo}/{}", r.name);
                    if matches(term.as_deref(), &qualified, &r.description) {
                        found.push(SearchHit {
                            name: qualified,
                            versions: versions(&r),
                            source: format!("{repo}@{}", short(&registered.pin)),
                            description: r.description,
                        });
                    }
                }
            }
        }
    }
    Ok((found, problems))
}

/// Whether `name` or `description` contains `term` (already lowercase), ignoring case;
/// no term matches everything.
fn matches(term: Option<&str>, name: &str, description: &str) -> bool {
    term.is_none_or(|t| name.to_lowercase().contains(t) || description.to_lowercase().contains(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_match_names_or_descriptions_in_any_case() {
        assert!(matches(None, "anything", ""));
        assert!(matches(Some("rip"), "team/RIPgrep", ""));
        assert!(matches(Some("search"), "rg", "Fast SEARCH tool"));
        assert!(!matches(Some("rg"), "fd", "find files"));
    }
}
