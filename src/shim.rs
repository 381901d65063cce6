//! Shim mode: jig invoked through a symlink named after a tool (`git`, `npm`, ...).
//!
//! The hot path. It reads the installed index, picks the recipe that owns the name,
//! builds the launch plan and hands it to the runtime, which execs the tool in place.
//! Nothing else is parsed, hashed or spawned. `jig run`/`exec`/`shell` reuse
//! [`start`] after their own argument handling.

use std::ffi::OsString;
use std::path::Path;

use crate::host::Host;
use crate::installed::{Entry, Index};
use crate::paths::Dirs;
use crate::plan::{self, Command, Files};
use crate::runtime::{self, EXIT_NOT_FOUND, LaunchError};
use crate::store::Store;

/// Deepest nesting of shims calling shims before jig assumes a loop.
pub const MAX_DEPTH: u32 = 8;

/// Prints a launch error the way every jig failure is printed and returns its status.
pub fn report(tool: &str, e: &LaunchError) -> i32 {
    eprintln!("jig: {tool}: {}", e.message);
    if let Some(h) = &e.hint {
        eprintln!("jig: hint: {h}");
    }
    e.code
}

/// Entry point for shim mode. `argv0` is exactly what the caller passed.
pub fn main(name: &str, argv0: OsString, args: Vec<OsString>) -> i32 {
    let e = match run(name, argv0, args) {
        Ok(e) | Err(e) => e,
    };
    report(name, &e)
}

fn run(name: &str, argv0: OsString, args: Vec<OsString>) -> Result<LaunchError, LaunchError> {
    let dirs = Dirs::from_env().map_err(|e| LaunchError::setup(format!("{e:#}")))?;
    let index = Index::read(&dirs.index()).map_err(|e| LaunchError::setup(format!("{e:#}")))?;
    let Some(recipe) = index.shims.get(name) else {
        return Err(LaunchError {
            code: EXIT_NOT_FOUND,
            message: format!("no installed recipe provides '{name}'"),
            hint: Some(format!(
                "this shim in {} is stale: `jig install RECIPE` a recipe that exports '{name}', or delete the shim",
                dirs.shims.display()
            )),
        });
    };
    let Some((_, entry)) = index.default_entry(recipe) else {
        return Err(LaunchError::setup(format!(
            "recipe '{recipe}' owns this shim but has no installed version"
        ))
        .hint(format!("run `jig install {recipe}` again")));
    };
    let program = entry.paths.get(name).map_or(name, String::as_str);
    let cmd = Command {
        program: program.into(),
        argv0,
        args,
    };
    Ok(start(&dirs, entry, cmd, false))
}

/// The recursion depth recorded by an enclosing jig launch, if any.
pub fn depth() -> u32 {
    std::env::var("JIG_DEPTH")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// Launches `cmd` in the image of `entry`. Returns only on failure (or after printing
/// the plan when `dry_run`).
pub fn start(dirs: &Dirs, entry: &Entry, cmd: Command, dry_run: bool) -> LaunchError {
    let depth = depth();
    if depth >= MAX_DEPTH {
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
        Err(e) => return LaunchError::setup(format!("{e:#}")),
    };
    let files = Files::read(&lower, &host, &entry.recipe);
    let target = plan::Target {
        recipe: &entry.recipe,
        config: &entry.config,
        lower: vec![lower],
        scratch: store.run_dir(),
        // Shims inside the container run this same binary (what /proc/self/exe names).
        nest: std::env::current_exe().ok().map(|jig| plan::Nest {
            jig,
            data: dirs.data.clone(),
            shims: dirs.shims.clone(),
        }),
    };
    let tool = tool_name(&cmd.argv0).to_owned();
    let plan = plan::build(&target, &host, &files, cmd, depth);
    for (arg, why) in &plan.skipped {
        eprintln!("jig: {tool}: not mounting {}: {why}", arg.to_string_lossy());
    }
    let recipe = entry.recipe.name.as_str();
    if dry_run || std::env::var_os("JIG_DEBUG").is_some_and(|v| !v.is_empty() && v != "0") {
        eprint!("{}", plan.describe());
        if dry_run {
            return LaunchError {
                code: 0,
                message: String::new(),
                hint: None,
            };
        }
    }
    if let Err(e) = std::fs::create_dir(&plan.scratch)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return LaunchError::setup(format!("cannot create {}: {e}", plan.scratch.display()));
    }
    let mut e = runtime::launch(&plan);
    if e.code == runtime::EXIT_NOT_FOUND {
        // One line, as a shell prints it; the recipe name says where jig looked.
        e.message = format!("{} of recipe {recipe}", e.message);
    }
    e
}

/// How to name this entry's recipe on the command line.
pub fn install_arg(entry: &Entry) -> String {
    match &entry.origin {
        crate::recipe::Origin::File { path } => path.display().to_string(),
        crate::recipe::Origin::Builtin { name } => name.clone(),
    }
}

/// The file name of argv[0], which names the tool in shim mode.
pub fn tool_name(argv0: &OsString) -> &str {
    Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("jig")
}
