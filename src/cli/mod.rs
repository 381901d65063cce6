//! `jig` called by its own name: the command-line interface.
//!
//! Glue only: each subcommand parses its arguments and calls the module that does the
//! work. Output policy: data goes to stdout, progress and diagnostics to stderr,
//! errors as `jig: error: ...` with `caused by:` and `hint:` lines
//! ([`crate::base::error::render`]).
//!
//! This file holds the clap definitions and the dispatch; the commands live beside it
//! by concern: `install` (install, uninstall, reshim, list), `run` (run, exec, shell),
//! `images` (images, rm, gc), `cache` (the image cache), `verify` (verify, and the
//! store check of doctor), `registry` (pull, push), `build`, `repos` (repo, search),
//! `pins` (which, pin, lock, trust), `upgrade` (outdated, upgrade), `sbom`, `activate`,
//! `doctor`, `complete` (completions and the completers of argument values), `manual`
//! (the man pages), and `table` (how listings print).

use std::ffi::OsString;

use anyhow::Result;
use clap::{Args, CommandFactory, Parser, Subcommand};
use clap_complete::engine::ArgValueCompleter;

use crate::base::error::{EXIT_JIG_FAILED, EXIT_USAGE, is_usage};
use crate::base::paths::Dirs;

mod activate;
mod build;
mod cache;
mod complete;
pub mod doctor;
mod images;
mod install;
mod manual;
mod pins;
mod registry;
mod report;
mod repos;
mod run;
mod sbom;
mod spec;
mod table;
mod upgrade;
mod verify;

pub use report::print_error;

/// Run developer tools in fast, daemon-less, ephemeral containers.
#[derive(Parser, Debug)]
#[command(name = "jig", version, about, long_about = None)]
struct Cli {
    /// `jig --locked COMMAND`, as before the flag moved to the commands it affects.
    #[arg(long, hide = true)]
    locked: bool,
    /// Show every build phase and the raw output of dpkg and build steps as they come
    /// (otherwise it goes to the build's log in the store).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

/// `--locked`, on the commands where it has an effect.
#[derive(Args, Debug, Clone, Copy, Default)]
struct Locked {
    /// Refuse to run or install a tool that does not match the project's jig.lock
    /// (the same as JIG_LOCKED=1).
    #[arg(long)]
    locked: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Install recipes (built-in or repository names, or paths to .toml files or
    /// Dockerfiles): get their images, write their shims.
    Install {
        /// Recipe names (`NAME`, `REPO/NAME`) or paths to recipe files, each optionally
        /// with @VERSION. None: every tool the project's jig.toml pins, at its version.
        #[arg(add = ArgValueCompleter::new(complete::recipes))]
        recipes: Vec<String>,
        /// Take over shim names that another recipe owns.
        #[arg(long)]
        force: bool,
        /// Approve what the recipes ask for (home paths, variables, sockets) without asking.
        #[arg(short, long)]
        yes: bool,
        /// Install as a project recipe (used by shims in trusted projects).
        #[arg(long, hide = true)]
        project: bool,
        /// Push what is built to the image cache (`[cache]` of config.toml).
        #[arg(long)]
        push_cache: bool,
        #[command(flatten)]
        lock: Locked,
    },
    /// Trust the jig.toml of this project (and its .jig/recipes/) as it is now, so
    /// what it adds beyond version pins takes effect; installs the project's recipes.
    Trust {
        /// Forget the trust instead.
        #[arg(long)]
        revoke: bool,
        /// Approve the project's recipes' requests without asking.
        #[arg(short, long)]
        yes: bool,
        #[command(flatten)]
        lock: Locked,
    },
    /// Remove an installed recipe (NAME, or one version: NAME@VERSION) and the shims
    /// nothing else exports (images stay until `jig gc`).
    Uninstall {
        /// NAME or NAME@VERSION.
        #[arg(add = ArgValueCompleter::new(complete::installed))]
        name: String,
    },
    /// Pin a tool's version in the nearest jig.toml (created in the current directory
    /// when there is none).
    Pin {
        /// TOOL@VERSION.
        #[arg(add = ArgValueCompleter::new(complete::pins))]
        spec: String,
        /// Pin it in your global jig.toml instead.
        #[arg(long)]
        global: bool,
    },
    /// Recreate the shims of every installed recipe and remove stale ones.
    Reshim,
    /// Write jig.lock beside the project's jig.toml: each tool's version, recipe hash,
    /// source digests and image tree hash. Installs what is missing.
    Lock {
        /// Resolve every tool afresh (new tag digests, new Debian packages) instead of
        /// keeping what the lock has.
        #[arg(long)]
        upgrade: bool,
        /// Approve what the recipes ask for without asking.
        #[arg(short, long)]
        yes: bool,
    },
    /// List installed versions whose recipe has a newer version or a new build (a
    /// built-in recipe updated with jig, a repository pin moved by `jig repo update`,
    /// an edited recipe file), or whose source moved (newer Debian packages in the
    /// mirror's index, a registry tag naming another image).
    Outdated {
        /// Print a JSON array instead.
        #[arg(long)]
        json: bool,
        /// Do not ask mirrors or registries (recipes only).
        #[arg(long)]
        offline: bool,
    },
    /// Install what `jig outdated` lists (NAME only, if given); a pinned version stays
    /// at its pin. Old images stay in the store until `jig gc`.
    Upgrade {
        /// An installed recipe.
        #[arg(add = ArgValueCompleter::new(complete::installed))]
        name: Option<String>,
        /// Approve what the new recipes ask for without asking.
        #[arg(short, long)]
        yes: bool,
        /// Do not ask mirrors or registries (recipes only).
        #[arg(long)]
        offline: bool,
    },
    /// List installed recipes: name, versions, shims, description (aligned under a
    /// header on a terminal, tab-separated without one through a pipe).
    List {
        /// Print a JSON array instead.
        #[arg(long)]
        json: bool,
    },
    /// Run a recipe's default command with ARGS.
    Run {
        /// Approve what the recipe asks for if it has to be installed first.
        #[arg(short, long)]
        yes: bool,
        /// Recipe name (optionally NAME@VERSION), built-in name or recipe path.
        #[arg(add = ArgValueCompleter::new(complete::runnable))]
        recipe: String,
        /// Arguments for the command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
        #[command(flatten)]
        lock: Locked,
    },
    /// Run any command inside a recipe's image.
    Exec {
        /// Print the launch plan instead of running.
        #[arg(long)]
        dry_run: bool,
        /// Approve what the recipe asks for if it has to be installed first.
        #[arg(short, long)]
        yes: bool,
        /// Recipe name (optionally NAME@VERSION), built-in name or recipe path.
        #[arg(add = ArgValueCompleter::new(complete::runnable))]
        recipe: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
        #[command(flatten)]
        lock: Locked,
    },
    /// Start an interactive shell inside a recipe's image.
    Shell {
        /// Approve what the recipe asks for if it has to be installed first.
        #[arg(short, long)]
        yes: bool,
        /// Recipe name (optionally NAME@VERSION).
        #[arg(add = ArgValueCompleter::new(complete::runnable))]
        recipe: String,
        #[command(flatten)]
        lock: Locked,
    },
    /// Show which recipe, version and image a shim runs here, and why.
    Which {
        /// Shim or recipe name.
        #[arg(add = ArgValueCompleter::new(complete::tools))]
        tool: String,
    },
    /// List the images in the store: id, size, the recipes using it, source, source
    /// digest (aligned under a header on a terminal, tab-separated through a pipe).
    Images {
        /// Print a JSON array instead.
        #[arg(long)]
        json: bool,
    },
    /// Build a Dockerfile (or a directory holding one, or a recipe) into the store and
    /// print the image id, without installing anything.
    Build {
        /// A Dockerfile, a directory with a Dockerfile, or a recipe (`NAME[@V]`, a path).
        path: String,
        /// A build argument for the Dockerfile's ARGs.
        #[arg(long = "build-arg", value_name = "NAME=VALUE")]
        build_args: Vec<String>,
        /// The stage of a Dockerfile to build (default: the last).
        #[arg(long)]
        target: Option<String>,
    },
    /// Pull an image from an OCI registry into the store and print its image id.
    Pull {
        /// Image reference, e.g. `alpine:3.20`, `ghcr.io/o/r:tag`, `host:5000/x@sha256:...`.
        reference: String,
    },
    /// The image cache (`[cache]` of config.toml, or a trusted project's): images
    /// kept in a registry by the key of what decides them.
    Cache {
        #[command(subcommand)]
        command: CacheCommand,
    },
    /// Push an installed recipe's image to an OCI registry and print the manifest digest.
    Push {
        /// Installed recipe, NAME or NAME@VERSION.
        #[arg(add = ArgValueCompleter::new(complete::installed))]
        recipe: String,
        /// Destination, e.g. `registry.example.com/team/tool:1`.
        reference: String,
    },
    /// Remove images from the store (refused while an installed recipe uses one).
    Rm {
        /// Image ids or unique prefixes.
        #[arg(required = true, add = ArgValueCompleter::new(complete::images))]
        ids: Vec<String>,
    },
    /// Remove unused images, unused shared files and leftovers of interrupted work.
    Gc,
    /// Print the software bill of materials of an installed tool's image: every
    /// Debian package (version, architecture, source, .deb sha256, license) and, for a
    /// registry image, its digest and layers.
    Sbom {
        /// Installed recipe, NAME or NAME@VERSION.
        #[arg(add = ArgValueCompleter::new(complete::installed))]
        recipe: String,
        /// The document format.
        #[arg(long, value_enum, default_value = "spdx-json")]
        format: sbom::SbomFormat,
    },
    /// Check images against their ids (every image, the images of recipe NAME, or
    /// image ID); with --repair, rebuild or pull again what is damaged.
    Verify {
        /// Recipe name or image id (prefix); default: every image.
        target: Option<String>,
        /// Rebuild or pull again the damaged images installed recipes use, and remove
        /// the damaged ones nothing uses.
        #[arg(long)]
        repair: bool,
    },
    /// Print the shell code that puts the shim directory first on PATH.
    Activate {
        /// bash, zsh, sh or fish (default: from $SHELL).
        shell: Option<String>,
    },
    /// Check that this machine can run jig (user namespaces, overlayfs, PATH).
    Doctor,
    /// Print the shell code that completes jig's commands, options, recipe names,
    /// installed tools and versions (bash: `source <(jig completions bash)` in
    /// ~/.bashrc; zsh: the same in ~/.zshrc; fish: `jig completions fish | source`).
    Completions {
        /// The shell.
        shell: complete::Shell,
    },
    /// Write jig's manual pages: jig(1) on stdout, or every page (jig-install(1), ...)
    /// into DIR.
    Manual {
        /// A directory such as ~/.local/share/man/man1.
        dir: Option<std::path::PathBuf>,
    },
    /// Manage shared recipe repositories (git repositories or directories of
    /// `recipes/NAME.toml`), each pinned to a commit.
    Repo {
        #[command(subcommand)]
        command: RepoCommand,
    },
    /// List recipes of jig and of every repository: name, versions, source, description.
    Search {
        /// Case-insensitive text to find in names and descriptions (default: list all).
        term: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
enum CacheCommand {
    /// List the images the cache holds: tag, image id, source.
    List {
        /// Print a JSON array instead.
        #[arg(long)]
        json: bool,
    },
    /// Push an installed recipe's image to the cache under its key; prints the reference.
    Push {
        /// Installed recipe, NAME or NAME@VERSION.
        #[arg(add = ArgValueCompleter::new(complete::installed))]
        recipe: String,
    },
    /// Pull the image the cache holds for a recipe into the store (checked as an
    /// install checks it, without installing); prints the image id.
    Pull {
        /// Recipe, NAME or NAME@VERSION (as for `jig install`).
        #[arg(add = ArgValueCompleter::new(complete::recipes))]
        recipe: String,
    },
}

#[derive(Subcommand, Debug)]
enum RepoCommand {
    /// Register a repository and pin it to the commit its ref names now.
    Add {
        /// Name used in `REPO/NAME` and `recipe_order`.
        name: String,
        /// Git URL, local git repository or local directory.
        location: String,
        /// Branch, tag or commit to follow (default: the remote's default branch).
        #[arg(long = "ref", value_name = "REV")]
        rev: Option<String>,
    },
    /// List repositories: name, kind, location, ref, pinned commit or content hash.
    List,
    /// Move pins to what the refs name now and show which recipes changed.
    Update {
        /// Repository (default: all).
        #[arg(add = ArgValueCompleter::new(complete::repos))]
        name: Option<String>,
    },
    /// Unregister a repository (installed recipes stay installed).
    Remove {
        /// Repository name.
        #[arg(add = ArgValueCompleter::new(complete::repos))]
        name: String,
    },
}

/// Runs the CLI and returns the process exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    if let Some(code) = complete::answer(&args, Cli::command) {
        return code;
    }
    let argv0 = args.first().cloned().unwrap_or_else(|| "jig".into());
    let cli = Cli::parse_from(args);
    let launches = matches!(
        cli.command,
        Command::Run { .. } | Command::Exec { .. } | Command::Shell { .. }
    );
    match dispatch(cli, &argv0) {
        Ok(code) => code,
        Err(e) => {
            // Stopped by SIGINT/SIGTERM/SIGHUP: what was being made is gone already
            // (removed on the way up); exit as a shell reports a command the signal
            // killed.
            if let Some(sig) = crate::base::interrupt::received() {
                eprintln!(
                    "jig: {}; nothing half-made was left behind",
                    crate::base::interrupt::Interrupted(sig)
                );
                return crate::base::interrupt::exit_code(sig);
            }
            print_error(&e);
            if is_usage(&e) {
                EXIT_USAGE
            } else if launches {
                EXIT_JIG_FAILED
            } else {
                1
            }
        }
    }
}

/// The `--locked` of the command, if it has one; `None` for commands it does not affect.
fn locked_flag(command: &Command) -> Option<bool> {
    match command {
        Command::Install { lock, .. }
        | Command::Trust { lock, .. }
        | Command::Run { lock, .. }
        | Command::Exec { lock, .. }
        | Command::Shell { lock, .. } => Some(lock.locked),
        _ => None,
    }
}

fn dispatch(cli: Cli, argv0: &std::ffi::OsStr) -> Result<i32> {
    crate::image::source::progress::set_verbose(cli.verbose);
    let locked = match locked_flag(&cli.command) {
        Some(flag) => flag || cli.locked,
        None if cli.locked => {
            return Err(crate::base::error::unknown(
                "--locked has no effect on this command",
                [Some(
                    "it applies to install, trust, run, exec and shell (or set JIG_LOCKED=1)"
                        .into(),
                )],
            ));
        }
        None => false,
    };
    if locked {
        // SAFETY: jig is single-threaded here; the variable carries --locked to the
        // checks below and to child jig processes.
        unsafe { std::env::set_var("JIG_LOCKED", "1") };
    }
    let dirs = Dirs::from_env()?;
    match cli.command {
        Command::Install {
            recipes,
            force,
            yes,
            project,
            push_cache,
            lock: _,
        } => install::install(&dirs, &recipes, force, yes, project, push_cache),
        Command::Uninstall { name } => install::uninstall(&dirs, &name),
        Command::Pin { spec, global } => pins::pin(&dirs, &spec, global),
        Command::Trust { revoke, yes, .. } => pins::trust(&dirs, revoke, yes),
        Command::Lock { upgrade, yes } => pins::lock(&dirs, upgrade, yes),
        Command::Reshim => install::reshim(&dirs),
        Command::List { json } => install::list(&dirs, json),
        Command::Outdated { json, offline } => upgrade::outdated(&dirs, json, offline),
        Command::Upgrade { name, yes, offline } => {
            upgrade::upgrade(&dirs, name.as_deref(), yes, offline)
        }
        Command::Run {
            recipe, args, yes, ..
        } => run::run(&dirs, &recipe, args, yes),
        Command::Exec {
            recipe,
            command,
            dry_run,
            yes,
            ..
        } => run::exec(&dirs, &recipe, command, dry_run, yes),
        Command::Shell { recipe, yes, .. } => run::shell(&dirs, &recipe, yes),
        Command::Which { tool } => pins::which(&dirs, &tool),
        Command::Images { json } => images::images(&dirs, json),
        Command::Build {
            path,
            build_args,
            target,
        } => build::build(&dirs, &path, &build_args, target.as_deref()),
        Command::Pull { reference } => registry::pull(&dirs, &reference),
        Command::Push { recipe, reference } => registry::push(&dirs, &recipe, &reference),
        Command::Cache { command } => match command {
            CacheCommand::List { json } => cache::list(&dirs, json),
            CacheCommand::Push { recipe } => cache::push(&dirs, &recipe),
            CacheCommand::Pull { recipe } => cache::pull(&dirs, &recipe),
        },
        Command::Rm { ids } => images::rm(&dirs, &ids),
        Command::Gc => images::gc(&dirs),
        Command::Sbom { recipe, format } => sbom::sbom(&dirs, &recipe, format),
        Command::Verify { target, repair } => verify::verify(&dirs, target.as_deref(), repair),
        Command::Activate { shell } => activate::activate(&dirs, shell.as_deref()),
        Command::Doctor => Ok(doctor::run(&dirs)),
        Command::Completions { shell } => complete::completions(shell, argv0),
        Command::Manual { dir } => manual::manual(Cli::command(), dir.as_deref()),
        Command::Repo { command } => match command {
            RepoCommand::Add {
                name,
                location,
                rev,
            } => repos::add(&dirs, &name, &location, rev.as_deref()),
            RepoCommand::List => repos::list(&dirs),
            RepoCommand::Update { name } => repos::update(&dirs, name.as_deref()),
            RepoCommand::Remove { name } => repos::remove(&dirs, &name),
        },
        Command::Search { term } => repos::search(&dirs, term.as_deref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
