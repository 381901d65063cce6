//! The shim path: jig invoked through a symlink named after a tool (`git`, `npm`).
//!
//! The hot path, read top-down: [`main`] reads the installed index and finds the
//! recipe that owns the name; [`entry`] picks the installed entry that runs here (the
//! version resolved for the cwd, installed on first use); [`locked`] holds it against
//! the project's `jig.lock`; [`start`] gathers the launch's facts ([`facts`]), plans
//! it ([`plan`], no I/O) and hands the plan to the runtime, which execs the tool in
//! place. Nothing else is parsed, hashed or spawned. `jig run`/`exec`/`shell` reuse
//! [`start`] after their own argument handling.

pub mod args;
pub mod bindable;
pub mod display;
pub mod entry;
pub mod facts;
pub mod git;
pub mod gpg;
pub mod homefiles;
pub mod host;
pub mod localtime;
pub mod locked;
pub mod plan;
pub mod resolve;
pub mod workspace;

use std::ffi::OsString;

use crate::base::error::{EXIT_NOT_FOUND, LaunchError};
use crate::base::nest;
use crate::base::paths::Dirs;
use crate::image::store::Store;
use crate::install::index::{Entry, Lazy};
use crate::project;
use crate::runtime;
use facts::Command;
use host::Host;

/// Entry point for shim mode. `argv0` is exactly what the caller passed.
pub fn main(name: &str, argv0: OsString, args: Vec<OsString>) -> i32 {
    let e = match run(name, argv0, args) {
        Ok(e) | Err(e) => e,
    };
    e.report(name)
}

fn run(name: &str, argv0: OsString, args: Vec<OsString>) -> Result<LaunchError, LaunchError> {
    host::check_home()?;
    let dirs = Dirs::for_shim(name, &argv0)?;
    let index = Lazy::read(&dirs.index())?;
    let Some(recipe) = index.shims.get(name) else {
        let install = match crate::recipe::builtins_providing(name).first() {
            Some(r) => format!("`jig install {r}` (the built-in recipe that exports '{name}')"),
            None => format!("`jig install RECIPE` a recipe that exports '{name}'"),
        };
        return Err(LaunchError::new(
            EXIT_NOT_FOUND,
            format!("no installed recipe provides '{name}'"),
        )
        .hint(format!(
            "this shim in {} is stale: {install}, or run `jig reshim`",
            dirs.shims.display()
        )));
    };
    let cwd = std::env::current_dir()
        .map_err(|e| LaunchError::setup(format!("cannot read the current directory: {e}")))?;
    let project = project::find(&cwd)?;
    let request = resolve::request(recipe, None, project.as_ref())?;
    let trusted = match &project {
        Some(found) => entry::trusted(&dirs, found, recipe)?,
        None => false,
    };
    let from_project = match &project {
        Some(found) if trusted => entry::project_recipe(&dirs, &index, found, recipe, &request)?,
        _ => None,
    };
    let mut entry = match from_project {
        Some(e) => e,
        None => entry::global_entry(&dirs, &index, recipe, &request, project.as_ref())?,
    };
    if let Some(found) = &project {
        locked::check_lock(found, recipe, &entry)?;
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
            entry::install_arg(entry)
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
        let e = LaunchError::new(e.code, format!("{e} of recipe {recipe}"));
        return match elsewhere(&plan.exec.program, recipe, &dirs.shims) {
            Some(hint) => e.hint(hint),
            None => e,
        };
    }
    e
}

/// Where a command that is not in the image of `recipe` is to be found: a built-in
/// recipe that exports it, to install, or to run when its shim is there.
fn elsewhere(program: &std::ffi::OsStr, recipe: &str, shims: &std::path::Path) -> Option<String> {
    let name = program.to_str().filter(|p| !p.contains('/'))?;
    let providers: Vec<&str> = crate::recipe::builtins_providing(name)
        .into_iter()
        .filter(|r| *r != recipe)
        .collect();
    let first = providers.first()?;
    // The data directory is visible here (read-only) when nested shims are offered.
    Some(if std::fs::symlink_metadata(shims.join(name)).is_ok() {
        format!(
            "'{name}' is a shim of another installed recipe: run it as `{name}`, or `jig exec {first} -- {name}`"
        )
    } else {
        format!(
            "the {} recipe provides '{name}': `jig install {first}`",
            providers.join(" or ")
        )
    })
}

/// The file name of argv[0], which names the tool in shim mode.
pub fn tool_name(argv0: &OsString) -> &str {
    std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("jig")
}
