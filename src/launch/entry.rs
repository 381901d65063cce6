//! Which installed entry a shim call runs: the project's own recipe when a trusted
//! project has one, else the user's recipe at the version resolved for here
//! ([`super::resolve`]); a version not installed yet is installed by a child `jig
//! install` on first use, which asks as any install does.

use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;

use super::locked::check_lock_before_install;
use super::resolve::{self, Pick};
use crate::base::error::LaunchError;
use crate::base::nest;
use crate::base::paths::Dirs;
use crate::install;
use crate::install::index::{Entry, Index, InstalledTool, Lazy};
use crate::project;
use crate::project::trust;
use crate::recipe;

/// The installed entry of the user's own recipe `recipe` for `request`, installed on
/// first use.
pub fn global_entry(
    dirs: &Dirs,
    index: &Lazy,
    recipe: &str,
    request: &resolve::Request,
    project: Option<&project::Found>,
) -> Result<Entry, LaunchError> {
    let Some(tool) = index.tool(recipe)? else {
        let hint = if index.has_project_recipe(recipe) {
            "it is a project recipe: run it inside its (trusted) project".to_owned()
        } else {
            format!("run `jig install {recipe}` again")
        };
        return Err(LaunchError::setup(format!(
            "recipe '{recipe}' owns this shim but is not installed"
        ))
        .hint(hint));
    };
    match resolve::pick(recipe, &tool, request) {
        Pick::Installed(_, e) => Ok(e.clone()),
        Pick::Missing(version) => {
            let arg = recipe_arg(recipe, Some(&tool));
            let spec = format!("{arg}@{version}");
            let lazy = FirstUse {
                dirs,
                recipe,
                version: &version,
                spec: &spec,
                project_recipe: false,
                request,
                project,
            };
            lazy_install(&lazy)?;
            let index = Index::read(&dirs.index())?;
            index
                .tools
                .get(recipe)
                .and_then(|t| t.versions.get(&version))
                .cloned()
                .ok_or_else(|| {
                    LaunchError::setup(format!(
                        "{recipe} {version} is still not installed after installing it"
                    ))
                })
        }
        Pick::Unknown(message) => Err(LaunchError::setup(message)),
    }
}

/// Whether the project asks for trust for a launch of `recipe` and has it; says so on
/// stderr when it asks and does not have it. Only what this launch would use asks:
/// the recipe's own widening pin, or the project's own recipe of that name. The rest
/// of the file (another tool's widening, a `[cache]`) changes nothing here and is said
/// where it applies (that tool's launches, installs), so that a shim stays as quiet as
/// the native tool.
pub fn trusted(dirs: &Dirs, found: &project::Found, recipe: &str) -> anyhow::Result<bool> {
    let widened = (found.file.tools.get(recipe)).is_some_and(|p| p.widening().is_some());
    if !widened && found.own_recipe(recipe).is_none() {
        return Ok(false);
    }
    let asks = trust::asks(found);
    if !asks.any() {
        return Ok(false);
    }
    if trust::is_trusted(dirs, found)? {
        return Ok(true);
    }
    eprintln!(
        "jig: {} asks for more than version pins ({}); ignoring that until you run `jig trust` in {}",
        found.path.display(),
        asks.lines.join("; "),
        found.dir.display()
    );
    Ok(false)
}

/// The trusted project's own recipe for `recipe`, if it has one, installed on first use.
pub fn project_recipe(
    dirs: &Dirs,
    index: &Lazy,
    found: &project::Found,
    recipe: &str,
    request: &resolve::Request,
) -> Result<Option<Entry>, LaunchError> {
    let Some(path) = found.own_recipe(recipe) else {
        return Ok(None);
    };
    let one = recipe::load_file(&path).and_then(|l| l.at(request.version.as_deref()))?;
    if let Some(e) = index.project(&one.hash)? {
        return Ok(Some(e));
    }
    let spec = format!("{}@{}", path.display(), one.recipe.version);
    lazy_install(&FirstUse {
        dirs,
        recipe,
        version: one.recipe.version.as_str(),
        spec: &spec,
        project_recipe: true,
        request,
        project: Some(found),
    })?;
    let index = Index::read(&dirs.index())?;
    match index.projects.get(&one.hash) {
        Some(e) => Ok(Some(e.clone())),
        None => Err(LaunchError::setup(format!(
            "{} is still not installed after installing it",
            path.display()
        ))),
    }
}

/// A version to install on first use.
struct FirstUse<'a> {
    /// The installation the shim belongs to.
    dirs: &'a Dirs,
    /// The recipe's name.
    recipe: &'a str,
    /// The version.
    version: &'a str,
    /// What `jig install` is given: `[REPO/]NAME@VERSION` or `PATH@VERSION`.
    spec: &'a str,
    /// A trusted project's own recipe (approved by `jig trust`).
    project_recipe: bool,
    /// Why this version.
    request: &'a resolve::Request,
    /// The project around the cwd, whose lock applies.
    project: Option<&'a project::Found>,
}

/// Installs a version a pin asks for on first use (in a child `jig install`, so this
/// process stays single-threaded for the launch), or, with `JIG_NO_LAZY=1`, says what
/// to install. In locked mode a version the project's lock does not name is refused
/// first.
///
/// A pin approves nothing: the child is not given `--yes` (except for a trusted
/// project's own recipe, approved by `jig trust`), so it asks on the terminal this
/// process inherited when the version asks for more than the installed one or builds
/// what the user never approved (`crate::install::approved`), and without a terminal it stops
/// before downloading or building, naming the `jig install` to run. `JIG_YES=1` in
/// the environment still approves. Only this path pays for those checks.
fn lazy_install(lazy: &FirstUse) -> Result<(), LaunchError> {
    let &FirstUse {
        dirs,
        recipe,
        version,
        spec,
        project_recipe,
        request,
        project,
    } = lazy;
    if let Some(found) = project {
        check_lock_before_install(found, recipe, version)?;
    }
    let install_hint = || {
        if project_recipe {
            "run `jig trust` in the project, which installs its recipes".to_owned()
        } else {
            format!("run `jig install {spec}`")
        }
    };
    if nest::depth() > 0 {
        // Inside a launch jig's data directory is bound read-only.
        return Err(LaunchError::setup(format!(
            "{spec} ({}) is not installed, and a tool running in a jig container cannot install it",
            request.why
        ))
        .hint(format!("{} outside the container", install_hint())));
    }
    if crate::base::nest::flag(crate::base::nest::ENV_NO_LAZY) {
        return Err(LaunchError::setup(format!(
            "{spec} ({}) is not installed, and JIG_NO_LAZY forbids installing it now",
            request.why
        ))
        .hint(install_hint()));
    }
    eprintln!(
        "jig: {recipe}: {spec} ({}) is not installed yet; installing it",
        request.why
    );
    let mut args = vec!["install"];
    if project_recipe {
        // The user approved the project's recipes with `jig trust`.
        args.extend(["--project", "--yes"]);
    }
    args.push(spec);
    let status = install::jig_exe()
        .and_then(|exe| {
            // The child's stdout is our stderr: this process's stdout belongs to the tool.
            let stderr = std::io::stderr().as_fd().try_clone_to_owned()?;
            let mut child = std::process::Command::new(exe);
            // If this process dies, the install stops and cleans up (SIGTERM).
            crate::base::child::command_dies_with_jig(&mut child, libc::SIGTERM);
            child.arg0("jig").args(&args).stdout(stderr);
            // Into the installation this shim belongs to, which the child would not
            // find from a changed `HOME`; the configuration stays where it was.
            if std::env::var_os(nest::ENV_HOME).is_none_or(|h| h.is_empty()) {
                if std::env::var_os(nest::ENV_CONFIG_DIR).is_none_or(|h| h.is_empty())
                    && let Some(config) = crate::base::config::dir()
                {
                    child.env(nest::ENV_CONFIG_DIR, config);
                }
                child.env(nest::ENV_HOME, &dirs.data);
            }
            child.status().map_err(anyhow::Error::from)
        })
        .map_err(|e| LaunchError::setup(format!("cannot run jig install: {e:#}")))?;
    if !status.success() {
        return Err(LaunchError::setup(format!("installing {spec} failed"))
            .hint(format!("see above, then run `jig install {spec}`")));
    }
    Ok(())
}

/// How to name this entry's recipe on the command line.
pub fn install_arg(entry: &Entry) -> String {
    entry.origin.arg()
}

/// How to name the installed recipe `name` on the command line to install another
/// version of it: where its installed versions came from, else the bare name.
pub fn recipe_arg(name: &str, tool: Option<&InstalledTool>) -> String {
    tool.and_then(|t| t.versions.values().next())
        .map_or_else(|| name.to_owned(), install_arg)
}
