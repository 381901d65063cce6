//! Which version of a tool runs here, and why.
//!
//! Precedence, highest first: a version on the command line (`jig run git@2.45`), the
//! `JIG_<TOOL>_VERSION` variable, the nearest `jig.toml` walking up from the current
//! directory, the user's global `jig.toml`, and finally the recipe's default version.
//! A level that does not mention the tool is skipped. The result is a *request*
//! ("20"), which [`crate::recipe::select_from`] turns into an offered version ("20.11").

use std::fmt;
use std::path::PathBuf;

use anyhow::Result;

use crate::install::index::{Entry, InstalledTool};
use crate::project::{self, Found};
use crate::recipe::select_from;

/// Where a version request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chosen {
    /// `NAME@VERSION` on the command line.
    Cli,
    /// The named environment variable.
    Env(String),
    /// A project `jig.toml`.
    Project(PathBuf),
    /// The user's global `jig.toml`.
    Global(PathBuf),
    /// Nothing pins it: the recipe's default version.
    Default,
}

impl fmt::Display for Chosen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Chosen::Cli => f.write_str("given on the command line"),
            Chosen::Env(v) => write!(f, "set by ${v}"),
            Chosen::Project(p) => write!(f, "pinned by {}", p.display()),
            Chosen::Global(p) => write!(f, "pinned by the global {}", p.display()),
            Chosen::Default => f.write_str("the recipe's default version"),
        }
    }
}

/// A resolved version request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The requested version, `None` for the recipe's default.
    pub version: Option<String>,
    /// Where it came from.
    pub why: Chosen,
}

/// The variable that pins `tool`: `JIG_<TOOL>_VERSION`, the recipe name upper-cased
/// with every character other than a letter or digit turned into `_`.
pub fn env_var(tool: &str) -> String {
    let mut v = String::from("JIG_");
    v.extend(tool.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    v.push_str("_VERSION");
    v
}

/// Resolves the version request for `tool`. `project` is the nearest project file, if
/// any; the global file is read only when nothing before it pins the tool.
pub fn request(tool: &str, cli: Option<&str>, project: Option<&Found>) -> Result<Request> {
    request_with(tool, cli, project, &|k| std::env::var(k).ok(), global)
}

fn global() -> Result<Option<Found>> {
    match project::global_path() {
        Some(p) => Found::read(&p),
        None => Ok(None),
    }
}

/// [`request`] with the environment and the global file supplied (for tests).
fn request_with(
    tool: &str,
    cli: Option<&str>,
    project: Option<&Found>,
    env: &dyn Fn(&str) -> Option<String>,
    global: fn() -> Result<Option<Found>>,
) -> Result<Request> {
    if let Some(v) = cli {
        return Ok(Request {
            version: Some(v.to_owned()),
            why: Chosen::Cli,
        });
    }
    let var = env_var(tool);
    if let Some(v) = env(&var).filter(|v| !v.is_empty()) {
        return Ok(Request {
            version: Some(v),
            why: Chosen::Env(var),
        });
    }
    if let Some(found) = project
        && let Some(v) = found.file.tools.get(tool).and_then(|p| p.version())
    {
        return Ok(Request {
            version: Some(v.to_owned()),
            why: Chosen::Project(found.path.clone()),
        });
    }
    if let Some(found) = global()?
        && let Some(v) = found.file.tools.get(tool).and_then(|p| p.version())
    {
        return Ok(Request {
            version: Some(v.to_owned()),
            why: Chosen::Global(found.path),
        });
    }
    Ok(Request {
        version: None,
        why: Chosen::Default,
    })
}

/// What a request finds among a recipe's installed versions.
#[derive(Debug)]
pub enum Pick<'a> {
    /// An installed version.
    Installed(&'a str, &'a Entry),
    /// An offered version that is not installed yet.
    Missing(String),
    /// Nothing the recipe offers matches; the message says what it does offer.
    Unknown(String),
}

/// Matches `request` against the installed versions of `tool` (named `name`), then
/// against the versions its recipe offered.
pub fn pick<'a>(name: &str, tool: &'a InstalledTool, request: &Request) -> Pick<'a> {
    let installed = |v: &str| tool.versions.get_key_value(v).map(|(v, e)| (v.as_str(), e));
    let Some(want) = request.version.as_deref() else {
        return match installed(&tool.default) {
            Some((v, e)) => Pick::Installed(v, e),
            None => Pick::Missing(tool.default.clone()),
        };
    };
    if let Some((v, e)) = installed(want) {
        return Pick::Installed(v, e);
    }
    let mut offered = tool.offered.clone();
    offered.extend(tool.versions.keys().cloned());
    match select_from(&offered, want) {
        Some(v) => match installed(&v) {
            Some((v, e)) => Pick::Installed(v, e),
            None => Pick::Missing(v),
        },
        None => Pick::Unknown(format!(
            "recipe '{name}' offers no version {want} ({}; it offers: {})",
            request.why,
            crate::recipe::offered_list(&offered)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::ProjectFile;
    use std::path::Path;

    fn found(text: &str, path: &str) -> Found {
        Found {
            dir: Path::new(path).parent().unwrap().to_owned(),
            path: path.into(),
            text: text.into(),
            file: ProjectFile::parse(text, Path::new(path)).unwrap(),
        }
    }

    fn no_global() -> Result<Option<Found>> {
        Ok(None)
    }

    fn some_global() -> Result<Option<Found>> {
        Ok(Some(found(
            "[tools]\ngit = \"g\"\nnode-js = \"n\"\n",
            "/cfg/jig.toml",
        )))
    }

    #[test]
    fn variable_names() {
        assert_eq!(env_var("git"), "JIG_GIT_VERSION");
        assert_eq!(env_var("node-js"), "JIG_NODE_JS_VERSION");
        assert_eq!(env_var("py3.11"), "JIG_PY3_11_VERSION");
    }

    #[test]
    fn precedence() {
        let proj = found("[tools]\ngit = \"p\"\n", "/w/jig.toml");
        let env_git = |k: &str| (k == "JIG_GIT_VERSION").then(|| "e".to_owned());
        let no_env = |_: &str| None;
        let r = |cli, project, env: &dyn Fn(&str) -> Option<String>, global| {
            request_with("git", cli, project, env, global).unwrap()
        };
        assert_eq!(
            r(Some("c"), Some(&proj), &env_git, some_global).why,
            Chosen::Cli
        );
        let e = r(None, Some(&proj), &env_git, some_global);
        assert_eq!(
            (e.version.as_deref(), e.why),
            (Some("e"), Chosen::Env("JIG_GIT_VERSION".into()))
        );
        let p = r(None, Some(&proj), &no_env, some_global);
        assert_eq!(
            (p.version.as_deref(), p.why),
            (Some("p"), Chosen::Project("/w/jig.toml".into()))
        );
        let g = r(None, None, &no_env, some_global);
        assert_eq!(
            (g.version.as_deref(), g.why),
            (Some("g"), Chosen::Global("/cfg/jig.toml".into()))
        );
        let d = r(None, None, &no_env, no_global);
        assert_eq!((d.version, d.why), (None, Chosen::Default));
        // A project file that does not mention the tool falls through to the global one.
        let other = found("[tools]\nnpm = \"1\"\n", "/w/jig.toml");
        assert_eq!(
            r(None, Some(&other), &no_env, some_global).why,
            Chosen::Global("/cfg/jig.toml".into())
        );
        // An empty variable does not pin.
        let empty = |_: &str| Some(String::new());
        assert_eq!(
            r(None, Some(&proj), &empty, no_global).why,
            Chosen::Project("/w/jig.toml".into())
        );
    }
}
