//! `jig` called by its own name: the command-line interface.
//!
//! Glue only: each subcommand parses its arguments and calls the module that does the
//! work. Output policy: data goes to stdout, progress and diagnostics to stderr,
//! errors as `jig: error: ...` with `caused by:` and `hint:` lines
//! ([`crate::base::error::render`]).
//!
//! This file holds the clap definitions and the dispatch; the commands live beside it
//! by concern: `install` (install, uninstall, reshim, list), `run` (run, exec, shell),
//! `images` (images, rm, gc), `verify` (verify, and the store check of doctor), `registry` (pull, push), `repos` (repo, search),
//! `pins` (which, pin, lock, trust), `activate` and `doctor`.

use std::ffi::OsString;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::base::error::EXIT_JIG_FAILED;
use crate::base::paths::Dirs;

mod activate;
pub mod doctor;
mod images;
mod install;
mod pins;
mod registry;
mod report;
mod repos;
mod run;
mod spec;
mod verify;

pub use report::print_error;

/// Run developer tools in fast, daemon-less, ephemeral containers.
#[derive(Parser, Debug)]
#[command(name = "jig", version, about, long_about = None)]
struct Cli {
    /// Refuse to run or install a tool that does not match the project's jig.lock
    /// (the same as JIG_LOCKED=1).
    #[arg(long, global = true)]
    locked: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Install recipes (built-in or repository names, or paths to .toml files): get
    /// their images, write their shims.
    Install {
        /// Recipe names (`NAME`, `REPO/NAME`) or paths to recipe files, each optionally
        /// with @VERSION. None: every tool the project's jig.toml pins, at its version.
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
    },
    /// Remove an installed recipe (NAME, or one version: NAME@VERSION) and the shims
    /// nothing else exports (images stay until `jig gc`).
    Uninstall {
        /// NAME or NAME@VERSION.
        name: String,
    },
    /// Pin a tool's version in the nearest jig.toml (created in the current directory
    /// when there is none).
    Pin {
        /// TOOL@VERSION.
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
    /// List installed recipes.
    List,
    /// Run a recipe's default command with ARGS.
    Run {
        /// Approve what the recipe asks for if it has to be installed first.
        #[arg(short, long)]
        yes: bool,
        /// Recipe name (optionally NAME@VERSION), built-in name or recipe path.
        recipe: String,
        /// Arguments for the command.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
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
        recipe: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true)]
        command: Vec<OsString>,
    },
    /// Start an interactive shell inside a recipe's image.
    Shell {
        /// Approve what the recipe asks for if it has to be installed first.
        #[arg(short, long)]
        yes: bool,
        /// Recipe name (optionally NAME@VERSION).
        recipe: String,
    },
    /// Show which recipe, version and image a shim runs here, and why.
    Which {
        /// Shim or recipe name.
        tool: String,
    },
    /// List the images in the store.
    Images,
    /// Pull an image from an OCI registry into the store and print its image id.
    Pull {
        /// Image reference, e.g. `alpine:3.20`, `ghcr.io/o/r:tag`, `host:5000/x@sha256:...`.
        reference: String,
    },
    /// Push an installed recipe's image to an OCI registry and print the manifest digest.
    Push {
        /// Installed recipe, NAME or NAME@VERSION.
        recipe: String,
        /// Destination, e.g. `registry.example.com/team/tool:1`.
        reference: String,
    },
    /// Remove images from the store (refused while an installed recipe uses one).
    Rm {
        /// Image ids or unique prefixes.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Remove unused images, unused shared files and leftovers of interrupted work.
    Gc,
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
        name: Option<String>,
    },
    /// Unregister a repository (installed recipes stay installed).
    Remove {
        /// Repository name.
        name: String,
    },
}

/// Runs the CLI and returns the process exit status.
pub fn main(args: Vec<std::ffi::OsString>) -> i32 {
    let cli = Cli::parse_from(args);
    let launches = matches!(
        cli.command,
        Command::Run { .. } | Command::Exec { .. } | Command::Shell { .. }
    );
    match dispatch(cli) {
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
            if launches { EXIT_JIG_FAILED } else { 1 }
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    if cli.locked {
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
        } => install::install(&dirs, &recipes, force, yes, project),
        Command::Uninstall { name } => install::uninstall(&dirs, &name),
        Command::Pin { spec, global } => pins::pin(&dirs, &spec, global),
        Command::Trust { revoke, yes } => pins::trust(&dirs, revoke, yes),
        Command::Lock { upgrade, yes } => pins::lock(&dirs, upgrade, yes),
        Command::Reshim => install::reshim(&dirs),
        Command::List => install::list(&dirs),
        Command::Run { recipe, args, yes } => run::run(&dirs, &recipe, args, yes),
        Command::Exec {
            recipe,
            command,
            dry_run,
            yes,
        } => run::exec(&dirs, &recipe, command, dry_run, yes),
        Command::Shell { recipe, yes } => run::shell(&dirs, &recipe, yes),
        Command::Which { tool } => pins::which(&dirs, &tool),
        Command::Images => images::images(&dirs),
        Command::Pull { reference } => registry::pull(&dirs, &reference),
        Command::Push { recipe, reference } => registry::push(&dirs, &recipe, &reference),
        Command::Rm { ids } => images::rm(&dirs, &ids),
        Command::Gc => images::gc(&dirs),
        Command::Verify { target, repair } => verify::verify(&dirs, target.as_deref(), repair),
        Command::Activate { shell } => activate::activate(&dirs, shell.as_deref()),
        Command::Doctor => Ok(doctor::run(&dirs)),
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
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
