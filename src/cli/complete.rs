//! Shell completion: `jig completions bash|zsh|fish` prints the code a shell sources,
//! and that code asks jig itself for the candidates of each word as it is typed
//! (`JIG_COMPLETE=bash jig -- jig install gi`), so recipe names, installed tools,
//! versions and repositories are completed from what exists now.
//!
//! Built on clap_complete's dynamic completion (`unstable-dynamic`: `CompleteEnv` and
//! `ArgValueCompleter`), which works with the clap of Cargo.lock (4.6): the options and
//! subcommands come from the clap definition, the values from the completers below.
//! Static scripts (`clap_complete::generate`) know the options but cannot name a recipe
//! or a version without hand-written shell code per shell calling back into jig, which
//! is what the dynamic engine already is. The feature is outside clap's semver
//! promise, so Cargo.toml pins clap_complete exactly; the shell code and the binary
//! always match because the shell code is printed by the binary it calls (users source
//! `jig completions SHELL` at shell start).
//!
//! A completer never fails: a store or repository it cannot read gives no candidates.

use std::ffi::{OsStr, OsString};
use std::io::Write;

use anyhow::Result;
use clap::ValueEnum;
use clap_complete::engine::{CompletionCandidate, PathCompleter, ValueCompleter};
use clap_complete::env::{Bash, EnvCompleter, Fish, Zsh};

use crate::base::paths::Dirs;
use crate::image::store::Store;
use crate::install::index::Index;
use crate::recipe;

/// The variable that makes `jig` answer a completion request instead of running.
pub(super) const VAR: &str = "JIG_COMPLETE";

/// The shells `jig completions` writes code for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum Shell {
    /// bash 4.4 or later (`source <(jig completions bash)` in ~/.bashrc).
    Bash,
    /// zsh (`source <(jig completions zsh)` in ~/.zshrc, after compinit).
    Zsh,
    /// fish (`jig completions fish | source` in config.fish).
    Fish,
}

/// Answers a completion request if `JIG_COMPLETE` asks for one: the candidates (or,
/// with no words, the registration code) on stdout. `None` when this is an ordinary
/// run. `command` is jig's clap definition.
pub(super) fn answer(args: &[OsString], command: fn() -> clap::Command) -> Option<i32> {
    std::env::var_os(VAR)?;
    let cwd = std::env::current_dir().ok();
    // The arguments are the C main's (`std::env::args_os` is empty on musl).
    let done = clap_complete::CompleteEnv::with_factory(command)
        .var(VAR)
        .try_complete(args.iter().cloned(), cwd.as_deref());
    match done {
        Ok(true) => Some(0),
        Ok(false) => None,
        Err(e) => Some({
            let _ = e.print();
            e.exit_code()
        }),
    }
}

/// `jig completions SHELL`: the code that registers jig's completion in SHELL.
/// `argv0` is how jig was called: the code calls jig back the same way (an absolute
/// path when it was called by one).
pub(super) fn completions(shell: Shell, argv0: &OsStr) -> Result<i32> {
    let path = std::path::Path::new(argv0);
    let completer = if path.components().count() > 1 {
        std::path::absolute(path)?
    } else {
        path.to_owned()
    };
    let completer = completer.to_string_lossy();
    let shell: &dyn EnvCompleter = match shell {
        Shell::Bash => &Bash,
        Shell::Zsh => &Zsh,
        Shell::Fish => &Fish,
    };
    let mut out = std::io::stdout().lock();
    shell.write_registration(VAR, "jig", "jig", &completer, &mut out)?;
    out.flush()?;
    Ok(0)
}

/// Candidates among `names` starting with `current`, each with its description.
fn matching<'a>(
    current: &OsStr,
    names: impl IntoIterator<Item = (String, Option<&'a str>)>,
) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    let mut seen = std::collections::BTreeSet::new();
    names
        .into_iter()
        .filter(|(n, _)| n.starts_with(current.as_ref()) && seen.insert(n.clone()))
        .map(|(n, help)| CompletionCandidate::new(n).help(help.map(|h| h.to_owned().into())))
        .collect()
}

fn index() -> Option<(Dirs, Index)> {
    let dirs = Dirs::from_env().ok()?;
    let index = Index::read(&dirs.index()).ok()?;
    Some((dirs, index))
}

/// `NAME@VERSION` candidates for the `NAME@` part of `current`, from `versions`.
fn versioned(
    current: &OsStr,
    versions: impl FnOnce(&str) -> Vec<String>,
) -> Option<Vec<CompletionCandidate>> {
    let text = current.to_str()?;
    let (name, _) = text.rsplit_once('@')?;
    let all = versions(name)
        .into_iter()
        .map(|v| (format!("{name}@{v}"), None));
    Some(matching(current, all))
}

/// Every recipe a bare or qualified name can install: the built-in ones, each
/// repository's as `REPO/NAME` and by its bare name; after `NAME@`, its versions; a
/// word that looks like a path completes as a file.
fn recipe_names(current: &OsStr) -> Vec<CompletionCandidate> {
    let text = current.to_string_lossy();
    if recipe::is_path(&text) || text.starts_with('.') || text.starts_with('/') {
        return PathCompleter::file().complete(current);
    }
    let Ok(dirs) = Dirs::from_env() else {
        return Vec::new();
    };
    let hits = crate::repo::search(&dirs, None)
        .map(|(hits, _)| hits)
        .unwrap_or_default();
    if let Some(v) = versioned(current, |name| {
        hits.iter()
            .find(|h| h.name == name || h.name.rsplit_once('/').is_some_and(|(_, n)| n == name))
            .map(|h| h.versions.clone())
            .unwrap_or_default()
    }) {
        return v;
    }
    let mut names = Vec::new();
    for h in &hits {
        names.push((h.name.clone(), Some(h.description.as_str())));
    }
    for h in &hits {
        if let Some((_, bare)) = h.name.split_once('/') {
            names.push((bare.to_owned(), Some(h.description.as_str())));
        }
    }
    matching(current, names)
}

/// Candidates for `jig install`: recipes ([`recipe_names`]).
pub(super) fn recipes(current: &OsStr) -> Vec<CompletionCandidate> {
    recipe_names(current)
}

/// Candidates for commands about installed tools (`uninstall`, `push`, `sbom`): the
/// installed recipes; after `NAME@`, its installed versions.
pub(super) fn installed(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some((_, index)) = index() else {
        return Vec::new();
    };
    if let Some(v) = versioned(current, |name| {
        index
            .tools
            .get(name)
            .map(|t| t.versions.keys().cloned().collect())
            .unwrap_or_default()
    }) {
        return v;
    }
    let names = index.tools.iter().map(|(name, tool)| {
        let help = tool
            .versions
            .get(&tool.default)
            .or_else(|| tool.versions.values().next())
            .map(|e| e.recipe.description.as_str());
        (name.clone(), help)
    });
    matching(current, names)
}

/// Candidates for `run`, `exec` and `shell`: installed recipes (and their installed
/// versions after `NAME@`) first, then every recipe that can be installed.
pub(super) fn runnable(current: &OsStr) -> Vec<CompletionCandidate> {
    let mut out = installed(current);
    for c in recipe_names(current) {
        if !out.iter().any(|o| o.get_value() == c.get_value()) {
            out.push(c);
        }
    }
    out
}

/// Candidates for `jig which`: shims and installed recipes.
pub(super) fn tools(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some((_, index)) = index() else {
        return Vec::new();
    };
    let shims = index.shims.keys().map(|s| (s.clone(), None));
    let tools = index.tools.keys().map(|t| (t.clone(), None));
    matching(current, shims.chain(tools))
}

/// Candidates for `jig pin TOOL@VERSION`: a shim or installed recipe followed by `@`,
/// then the versions its recipe offers.
pub(super) fn pins(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some((_, index)) = index() else {
        return Vec::new();
    };
    if let Some(v) = versioned(current, |name| {
        let name = index.shims.get(name).map_or(name, String::as_str);
        index
            .tools
            .get(name)
            .map(|t| {
                let mut all = t.offered.clone();
                all.extend(t.versions.keys().cloned());
                all
            })
            .unwrap_or_default()
    }) {
        return v;
    }
    let names = index.shims.keys().chain(index.tools.keys());
    matching(current, names.map(|n| (format!("{n}@"), None)))
}

/// Candidates for `jig repo update|remove`: the registered repositories.
pub(super) fn repos(current: &OsStr) -> Vec<CompletionCandidate> {
    let Ok(dirs) = Dirs::from_env() else {
        return Vec::new();
    };
    let repos = crate::repo::Repos::read(&dirs).unwrap_or_default();
    matching(current, repos.repos.keys().map(|r| (r.clone(), None)))
}

/// Candidates for `jig rm`: the short ids of the stored images.
pub(super) fn images(current: &OsStr) -> Vec<CompletionCandidate> {
    let Ok(dirs) = Dirs::from_env() else {
        return Vec::new();
    };
    let images = Store::new(dirs.store()).images().unwrap_or_default();
    let ids = images
        .iter()
        .map(|i| (i.id.short().to_owned(), Some(i.meta.source.as_str())));
    matching(current, ids)
}
