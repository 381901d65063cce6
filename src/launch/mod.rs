//! Shim mode: jig invoked through a symlink named after a tool (`git`, `npm`, ...).
//!
//! The hot path. It reads the installed index, picks the recipe that owns the name,
//! builds the launch plan and hands it to the runtime, which execs the tool in place.
//! Nothing else is parsed, hashed or spawned. `jig run`/`exec`/`shell` reuse
//! [`start`] after their own argument handling.

pub mod args;
pub mod bindable;
pub mod display;
pub mod facts;
pub mod host;
pub mod plan;
pub mod resolve;
pub mod workspace;

use crate::base::nest;
use std::ffi::OsString;

use crate::launch::host::Host;
use std::os::fd::AsFd;
use std::os::unix::process::CommandExt;

use crate::base::error::{EXIT_NOT_FOUND, LaunchError};
use crate::base::paths::Dirs;
use crate::image::store::Store;
use crate::install;
use crate::install::index::{Entry, Index, Lazy};
use crate::project;
use crate::project::lock;
use crate::project::trust;
use crate::recipe;
use crate::runtime;
use facts::Command;
use resolve::Pick;

/// Entry point for shim mode. `argv0` is exactly what the caller passed.
pub fn main(name: &str, argv0: OsString, args: Vec<OsString>) -> i32 {
    let e = match run(name, argv0, args) {
        Ok(e) | Err(e) => e,
    };
    e.report(name)
}

fn run(name: &str, argv0: OsString, args: Vec<OsString>) -> Result<LaunchError, LaunchError> {
    let dirs = Dirs::from_env()?;
    let index = Lazy::read(&dirs.index())?;
    let Some(recipe) = index.shims.get(name) else {
        return Err(LaunchError::new(
            EXIT_NOT_FOUND,
            format!("no installed recipe provides '{name}'"),
        )
        .hint(format!(
            "this shim in {} is stale: `jig install RECIPE` a recipe that exports '{name}', or run `jig reshim`",
            dirs.shims.display()
        )));
    };
    let cwd = std::env::current_dir()
        .map_err(|e| LaunchError::setup(format!("cannot read the current directory: {e}")))?;
    let project = project::find(&cwd)?;
    let request = resolve::request(recipe, None, project.as_ref())?;
    let trusted = match &project {
        Some(found) => trusted(&dirs, found)?,
        None => false,
    };
    let from_project = match &project {
        Some(found) if trusted => project_recipe(&dirs, &index, found, recipe, &request)?,
        _ => None,
    };
    let mut entry = match from_project {
        Some(e) => e,
        None => global_entry(&dirs, &index, recipe, &request, project.as_ref())?,
    };
    if let Some(found) = &project {
        check_lock(found, recipe, &entry)?;
    }
    if trusted
        && let Some(found) = &project
        && let Some(w) = found.file.tools.get(recipe).and_then(|p| p.widening())
    {
        let m = &mut entry.recipe.mounts;
        m.home.extend(w.home.iter().cloned());
        m.home_rw.extend(w.home_rw.iter().cloned());
        entry.recipe.env.pass.extend(w.pass.iter().cloned());
    }
    let entry = &entry;
    let program = entry.paths.get(name).map_or(name, String::as_str);
    let cmd = Command {
        program: program.into(),
        argv0,
        args,
    };
    Ok(start(&dirs, entry, cmd, false))
}

/// The installed entry of the user's own recipe `recipe` for `request`, installed on
/// first use.
fn global_entry(
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

/// The project's `jig.lock` (path and text) when the project's `jig.toml` lists
/// `recipe`; `None` when it does not, or when there is no lock outside locked mode.
fn lock_text(
    found: &project::Found,
    recipe: &str,
    locked_mode: bool,
) -> Result<Option<(std::path::PathBuf, String)>, LaunchError> {
    if !found.file.tools.contains_key(recipe) {
        return Ok(None);
    }
    let path = found.lock_path();
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some((path, t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && locked_mode => {
            Err(LaunchError::setup(format!(
                "JIG_LOCKED is set but {} does not exist",
                path.display()
            ))
            .hint("run `jig lock` in the project and commit jig.lock"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LaunchError::setup(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Compares the entry about to run with the project's `jig.lock`, for tools the
/// project's `jig.toml` lists: a difference is a warning, or an error in locked mode.
fn check_lock(found: &project::Found, recipe: &str, entry: &Entry) -> Result<(), LaunchError> {
    let locked_mode = lock::locked_from_env();
    let Some((path, text)) = lock_text(found, recipe, locked_mode)? else {
        return Ok(());
    };
    let diffs = match lock::summary(&text, &path, recipe) {
        Ok(Some(l)) => lock::differences(&l, entry.installed()),
        Ok(None) => vec!["the lock has no entry for it".to_owned()],
        Err(e) => return Err(e.into()),
    };
    if diffs.is_empty() {
        return Ok(());
    }
    let report = lock::report(recipe, &path, &diffs);
    if locked_mode {
        return Err(LaunchError::setup(report).hint(format!(
            "`jig install --locked {recipe}@{}` in the project builds what the lock names; `jig lock` locks what is installed",
            entry.recipe.version
        )));
    }
    let warning = crate::base::error::hinted(report, "run `jig lock` to update the lock");
    eprint!(
        "{}",
        crate::base::error::render("jig", crate::base::error::Level::Warning, &warning)
    );
    Ok(())
}

/// In locked mode, refuses to install a version of a project tool that the lock does
/// not name, before anything is downloaded or built. (After the install,
/// [`check_lock`] compares the result with the lock as for any launch.)
fn check_lock_before_install(
    found: &project::Found,
    recipe: &str,
    version: &str,
) -> Result<(), LaunchError> {
    if !lock::locked_from_env() {
        return Ok(());
    }
    let Some((path, text)) = lock_text(found, recipe, true)? else {
        return Ok(());
    };
    let diff = match lock::summary(&text, &path, recipe) {
        Ok(Some(l)) if l.version == version => return Ok(()),
        Ok(Some(l)) => format!("version: locked {}, resolved {version}", l.version),
        Ok(None) => "the lock has no entry for it".to_owned(),
        Err(e) => return Err(e.into()),
    };
    Err(LaunchError::setup(format!(
        "not installing {recipe} {version} in locked mode: {}",
        lock::report(recipe, &path, &[diff])
    ))
    .hint("without JIG_LOCKED (--locked), `jig lock` in the project installs and locks what jig.toml pins"))
}

/// Whether the project asks for trust and has it; says so on stderr when it asks and
/// does not have it.
fn trusted(dirs: &Dirs, found: &project::Found) -> anyhow::Result<bool> {
    if !found.file.widens() && found.recipes_dir().is_none() {
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
fn project_recipe(
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
            std::process::Command::new(exe)
                .arg0("jig")
                .args(&args)
                .stdout(stderr)
                .status()
                .map_err(anyhow::Error::from)
        })
        .map_err(|e| LaunchError::setup(format!("cannot run jig install: {e:#}")))?;
    if !status.success() {
        return Err(LaunchError::setup(format!("installing {spec} failed"))
            .hint(format!("see above, then run `jig install {spec}`")));
    }
    Ok(())
}

/// Launches `cmd` in the image of `entry`. Returns only on failure (or after printing
/// the plan when `dry_run`).
pub fn start(dirs: &Dirs, entry: &Entry, cmd: Command, dry_run: bool) -> LaunchError {
    let depth = nest::depth();
    if depth >= nest::MAX_DEPTH {
        return LaunchError::setup(format!(
            "{depth} nested jig launches: a shim is calling itself"
        ))
        .hint("check that the recipe's image really contains the command its shims name");
    }
    let store = Store::new(dirs.store());
    let lower = store.rootfs_of(&entry.image);
    if !lower.is_dir() {
        return LaunchError::setup(format!(
            "image {} of recipe '{}' is missing from the store",
            entry.image.short(),
            entry.recipe.name
        ))
        .hint(format!(
            "run `jig install {}` to rebuild it",
            install_arg(entry)
        ));
    }
    let host = match Host::probe() {
        Ok(h) => h,
        Err(e) => return e.into(),
    };
    let config = crate::base::config::dir();
    let target = facts::Target {
        recipe: &entry.recipe,
        config: &entry.config,
        lower: vec![lower],
        scratch: store.run_dir(),
        // Shims inside the container run this same binary (what /proc/self/exe names).
        nest: std::env::current_exe().ok().map(|jig| {
            let config = config.clone();
            let pins = config
                .as_ref()
                .is_some_and(|d| d.join(crate::project::FILE).is_file());
            facts::Nest {
                jig,
                data: dirs.data.clone(),
                shims: dirs.shims.clone(),
                config,
                pins,
            }
        }),
        jig_dirs: dirs.private(config.as_deref()),
    };
    let tool = tool_name(&cmd.argv0).to_owned();
    // Facts first (all the reading), then the plan (none), then the image's side of
    // the binds' mountpoints (reading) and their place in the upper layer (none).
    let facts = facts::gather(&target, host, &cmd, depth);
    let launch = plan::build(&target, &facts, cmd);
    let probes = facts::probe_image(&launch.plan);
    let mut launch = launch;
    plan::mountpoints::premake(&mut launch.plan, &probes);
    for (arg, why) in &launch.skipped {
        eprintln!("jig: {tool}: not mounting {}: {why}", arg.to_string_lossy());
    }
    let recipe = entry.recipe.name.as_str();
    if dry_run || crate::base::nest::flag(crate::base::nest::ENV_DEBUG) {
        eprint!("{}", launch.describe());
        if dry_run {
            return LaunchError::new(0, "dry run");
        }
    }
    let plan = launch.plan;
    if let Err(e) = std::fs::create_dir(&plan.scratch)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return LaunchError::setup(format!("cannot create {}: {e}", plan.scratch.display()));
    }
    let e = runtime::launch(&plan);
    if e.code == EXIT_NOT_FOUND {
        // One line, as a shell prints it; the recipe name says where jig looked.
        return LaunchError::new(e.code, format!("{e} of recipe {recipe}"));
    }
    e
}

/// How to name this entry's recipe on the command line.
pub fn install_arg(entry: &Entry) -> String {
    entry.origin.arg()
}

/// How to name the installed recipe `name` on the command line to install another
/// version of it: where its installed versions came from, else the bare name.
pub fn recipe_arg(name: &str, tool: Option<&crate::install::index::InstalledTool>) -> String {
    tool.and_then(|t| t.versions.values().next())
        .map_or_else(|| name.to_owned(), install_arg)
}

/// The file name of argv[0], which names the tool in shim mode.
pub fn tool_name(argv0: &OsString) -> &str {
    std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("jig")
}
