//! `jig` called by its own name: the command-line interface.
//!
//! Glue only: each subcommand parses its arguments and calls the module that does the
//! work. Output policy: data goes to stdout, progress and diagnostics to stderr,
//! errors as `jig: error: ...` with `caused by:` and `hint:` lines
//! ([`crate::base::error::render`]).

use crate::base::error::{Level, render};
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::base::error::EXIT_JIG_FAILED;
use crate::base::paths::Dirs;
use crate::image::source::oci::{self, Reference};
use crate::image::store::Store;
use crate::install;
use crate::install::index::{Entry, Index};
use crate::launch;
use crate::launch::facts::Command as Cmd;
use crate::repo;

pub mod doctor;
mod pins;
mod spec;

use pins::{entry_for, lock, pin, project_tools, trust, which};
use spec::{list_or_none, split_spec};

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
    /// Remove unused images and leftovers of interrupted imports.
    Gc,
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
            print_error(&e);
            if launches { EXIT_JIG_FAILED } else { 1 }
        }
    }
}

/// Prints an error the way jig prints every failure ([`crate::base::error::render`]).
pub fn print_error(e: &anyhow::Error) {
    eprint!("{}", render("jig", Level::Error, e));
}

/// Prints an error that did not stop the command, as `jig: warning: ...`.
fn print_warning(e: &anyhow::Error) {
    eprint!("{}", render("jig", Level::Warning, e));
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
        } => {
            // Parse every recipe before building any, so a typo fails fast.
            let loaded = if recipes.is_empty() {
                project_tools(&dirs)?
            } else {
                recipes
                    .iter()
                    .map(|r| {
                        let (name, version) = split_spec(r);
                        let l = repo::find(&dirs, name)?;
                        l.at(version)?;
                        Ok((l, version.map(str::to_owned), project))
                    })
                    .collect::<Result<Vec<_>>>()?
            };
            for (loaded, version, project) in &loaded {
                let opts = install::Options {
                    force,
                    yes: yes || *project && recipes.is_empty(),
                    project: *project,
                    upgrade: false,
                };
                let version = version.as_deref();
                let v = loaded.at(version)?.recipe.version;
                eprintln!("jig: installing {} {v}", loaded.recipe.name);
                let done = install::install(&dirs, loaded, version, &opts)?;
                eprintln!(
                    "jig: installed {} {} (image {}); shims: {}",
                    done.name,
                    done.version,
                    done.entry.image.short(),
                    done.shims.join(", ")
                );
            }
            warn_if_not_on_path(&dirs);
            Ok(0)
        }
        Command::Uninstall { name } => {
            let (name, version) = split_spec(&name);
            let shims = install::uninstall(&dirs, name, version)?;
            let what = version.map_or(name.to_owned(), |v| format!("{name} {v}"));
            eprintln!(
                "jig: uninstalled {what}; removed shims: {}",
                if shims.is_empty() {
                    "none".to_owned()
                } else {
                    shims.join(", ")
                }
            );
            Ok(0)
        }
        Command::Pin { spec, global } => pin(&dirs, &spec, global),
        Command::Trust { revoke, yes } => trust(&dirs, revoke, yes),
        Command::Lock { upgrade, yes } => lock(&dirs, upgrade, yes),
        Command::Reshim => {
            let (created, removed) = install::reshim(&dirs)?;
            eprintln!(
                "jig: shims created: {}; removed: {}",
                list_or_none(&created),
                list_or_none(&removed)
            );
            Ok(0)
        }
        Command::List => {
            let index = Index::read(&dirs.index())?;
            let mut out = std::io::stdout().lock();
            for (name, tool) in &index.tools {
                let versions: Vec<_> = tool.versions.keys().cloned().collect();
                // The default version's entry, else any installed one (a user may have
                // installed only NAME@OTHER).
                let Some(e) = index
                    .default_entry(name)
                    .map(|(_, e)| e)
                    .or_else(|| tool.versions.values().next())
                else {
                    continue;
                };
                let shims: Vec<_> = e.recipe.tool.shims.iter().map(|s| s.to_string()).collect();
                writeln!(
                    out,
                    "{name}\t{}\t{}\t{}",
                    versions.join(","),
                    shims.join(","),
                    e.recipe.description
                )?;
            }
            Ok(0)
        }
        Command::Run { recipe, args, yes } => {
            let (entry, _) = entry_for(&dirs, &recipe, yes)?;
            let (program, argv0, args) = default_command(&entry, args)?;
            Ok(launch(
                &dirs,
                &entry,
                Cmd {
                    program,
                    argv0,
                    args,
                },
                false,
            ))
        }
        Command::Exec {
            recipe,
            command,
            dry_run,
            yes,
        } => {
            let (entry, _) = entry_for(&dirs, &recipe, yes)?;
            let mut command = command.into_iter();
            let program = command.next().context("no command given after --")?;
            let argv0 = program.clone();
            Ok(launch(
                &dirs,
                &entry,
                Cmd {
                    program,
                    argv0,
                    args: command.collect(),
                },
                dry_run,
            ))
        }
        Command::Shell { recipe, yes } => {
            let (entry, _) = entry_for(&dirs, &recipe, yes)?;
            let store = Store::new(dirs.store());
            let rootfs = store.rootfs_of(&entry.image);
            let host_shell = crate::launch::host::Host::probe()?
                .shell
                .unwrap_or_default();
            let shell = match host_shell.strip_prefix("/") {
                Ok(rel) if !rel.as_os_str().is_empty() && rootfs.join(rel).exists() => host_shell,
                _ => PathBuf::from("/bin/sh"),
            };
            let name = shell.file_name().unwrap_or_default().to_owned();
            Ok(launch(
                &dirs,
                &entry,
                Cmd {
                    program: shell.into_os_string(),
                    argv0: name,
                    args: Vec::new(),
                },
                false,
            ))
        }
        Command::Which { tool } => which(&dirs, &tool),
        Command::Images => images(&dirs),
        Command::Pull { reference } => pull(&dirs, &reference),
        Command::Push { recipe, reference } => push(&dirs, &recipe, &reference),
        Command::Rm { ids } => rm(&dirs, &ids),
        Command::Gc => gc(&dirs),
        Command::Activate { shell } => activate(&dirs, shell.as_deref()),
        Command::Doctor => Ok(doctor::run(&dirs)),
        Command::Repo { command } => repo_command(&dirs, command),
        Command::Search { term } => search(&dirs, term.as_deref()),
    }
}

fn repo_command(dirs: &Dirs, command: RepoCommand) -> Result<i32> {
    match command {
        RepoCommand::Add {
            name,
            location,
            rev,
        } => {
            eprintln!("jig: adding repository {name} from {location}");
            let added = repo::add(dirs, &name, &location, rev.as_deref())?;
            for (path, why) in &added.contents.refused {
                eprintln!("jig: warning: {name}:{path}: {why}");
            }
            eprintln!(
                "jig: added repository {name} ({} {}) pinned at {}: {} recipe(s)",
                added.repo.source.kind(),
                added.repo.source.location(),
                added.repo.pin,
                added.contents.files.len()
            );
            Ok(0)
        }
        RepoCommand::List => {
            let repos = repo::Repos::read(dirs)?;
            let mut out = std::io::stdout().lock();
            for (name, r) in &repos.repos {
                writeln!(
                    out,
                    "{name}\t{}\t{}\t{}\t{}",
                    r.source.kind(),
                    r.source.location(),
                    r.rev.as_deref().unwrap_or("-"),
                    r.pin
                )?;
            }
            Ok(0)
        }
        RepoCommand::Update { name } => {
            let updated = repo::update(dirs, name.as_deref())?;
            let mut out = std::io::stdout().lock();
            for u in &updated {
                for (path, why) in &u.refused {
                    eprintln!("jig: warning: {}:{path}: {why}", u.name);
                }
                if u.old == u.new {
                    writeln!(out, "{}: up to date at {}", u.name, repo::short(&u.new))?;
                } else {
                    writeln!(
                        out,
                        "{}: {}..{}",
                        u.name,
                        repo::short(&u.old),
                        repo::short(&u.new)
                    )?;
                }
                for c in &u.changes {
                    writeln!(out, "  {c}")?;
                }
            }
            Ok(0)
        }
        RepoCommand::Remove { name } => {
            let r = repo::remove(dirs, &name)?;
            eprintln!(
                "jig: removed repository {name} ({}); recipes installed from it stay installed",
                r.source.location()
            );
            Ok(0)
        }
    }
}

/// `jig search`: tab-separated data on stdout; unreadable recipes as warnings.
fn search(dirs: &Dirs, term: Option<&str>) -> Result<i32> {
    let (found, problems) = repo::search(dirs, term)?;
    for p in &problems {
        print_warning(p);
    }
    let mut out = std::io::stdout().lock();
    for f in &found {
        writeln!(
            out,
            "{}\t{}\t{}\t{}",
            f.name,
            f.versions.join(","),
            f.source,
            f.description
        )?;
    }
    Ok(0)
}

fn launch(dirs: &Dirs, entry: &Entry, cmd: Cmd, dry_run: bool) -> i32 {
    let tool = cmd.argv0.to_string_lossy().into_owned();
    let e = launch::start(dirs, entry, cmd, dry_run);
    if dry_run && e.code == 0 {
        return 0;
    }
    e.report(&tool)
}

/// What `jig run` executes: the recipe's command, else its first shim, else the
/// image's entrypoint + cmd. User ARGS replace the image's cmd, as with `docker run`.
fn default_command(
    entry: &Entry,
    args: Vec<OsString>,
) -> Result<(OsString, OsString, Vec<OsString>)> {
    let tool = &entry.recipe.tool;
    let named = tool
        .command
        .clone()
        .or_else(|| tool.shims.first().map(|s| s.to_string()));
    if let Some(c) = named {
        return Ok((c.clone().into(), c.into(), args));
    }
    let cfg = &entry.config;
    let mut line: Vec<OsString> = cfg.entrypoint.iter().map(OsString::from).collect();
    if args.is_empty() {
        line.extend(cfg.cmd.iter().map(OsString::from));
    } else {
        line.extend(args);
    }
    let mut it = line.into_iter();
    let program = it.next().with_context(|| {
        format!(
            "recipe '{}' names no command and its image has none",
            entry.recipe.name
        )
    })?;
    Ok((program.clone(), program, it.collect()))
}

fn images(dirs: &Dirs) -> Result<i32> {
    let store = Store::new(dirs.store());
    let used = Index::read(&dirs.index())?.images_in_use();
    let mut out = std::io::stdout().lock();
    writeln!(out, "IMAGE\tSIZE\tUSED BY\tSOURCE\tSOURCE DIGEST")?;
    for image in store.images()? {
        let by = used
            .get(&image.id)
            .map(|v| v.join(","))
            .unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{}\t{}\t{by}\t{}\t{}",
            image.id.short(),
            human_size(image.meta.size),
            image.meta.source,
            image.meta.source_digest.as_deref().unwrap_or("-")
        )?;
    }
    Ok(0)
}

fn pull(dirs: &Dirs, reference: &str) -> Result<i32> {
    let reference = Reference::parse(reference).map_err(anyhow::Error::msg)?;
    let store = Store::new(dirs.store());
    let limits = crate::base::config::load()?.limits;
    let image =
        oci::pull(&reference, &store, &limits).with_context(|| format!("pulling {reference}"))?;
    eprintln!(
        "jig: pulled {reference} ({}) as image {}",
        image.meta.source_digest.as_deref().unwrap_or("-"),
        image.id.short()
    );
    println!("{}", image.id);
    Ok(0)
}

fn push(dirs: &Dirs, spec: &str, reference: &str) -> Result<i32> {
    let reference = Reference::parse(reference).map_err(anyhow::Error::msg)?;
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let index = Index::read(&dirs.index())?;
    let Some(tool) = index.tools.get(name) else {
        return Err(crate::base::error::hinted(
            format!("'{name}' is not installed"),
            "`jig install` it first; `jig list` shows what is installed",
        ));
    };
    let version = version.unwrap_or(&tool.default);
    let Some(entry) = tool.versions.get(version) else {
        let have: Vec<_> = tool.versions.keys().cloned().collect();
        bail!(
            "version {version} of '{name}' is not installed (installed: {})",
            have.join(", ")
        );
    };
    let label = format!("{name}@{version}");
    let store = Store::new(dirs.store());
    let what = oci::push::Pushing {
        image: &entry.image,
        recipe: &entry.recipe,
        config: &entry.config,
    };
    let pushed = oci::push::push(&store, &what, &label, &reference)
        .with_context(|| format!("pushing {label} to {reference}"))?;
    eprintln!("jig: pushed {label} to {}", pushed.reference);
    println!("{}@{}", pushed.reference, pushed.digest);
    Ok(0)
}

fn rm(dirs: &Dirs, ids: &[String]) -> Result<i32> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let used = Index::read(&dirs.index())?.images_in_use();
    for id in ids {
        let image = store.find(id)?;
        if let Some(by) = used.get(&image.id) {
            return Err(crate::base::error::hinted(
                format!("image {} is used by {}", image.id.short(), by.join(", ")),
                "`jig uninstall` those first",
            ));
        }
        store.remove(&image.id)?;
        println!("{}", image.id);
    }
    Ok(0)
}

fn gc(dirs: &Dirs) -> Result<i32> {
    let store = Store::new(dirs.store());
    let _lock = store.lock_exclusive()?;
    let used = Index::read(&dirs.index())?.images_in_use();
    let mut freed = 0;
    let mut removed = 0;
    for image in store.images()? {
        if !used.contains_key(&image.id) {
            store.remove(&image.id)?;
            freed += image.meta.size;
            removed += 1;
        }
    }
    let debris = store.sweep_tmp()?;
    eprintln!(
        "jig: removed {removed} unused image(s) ({}) and {debris} leftover temp dir(s)",
        human_size(freed)
    );
    Ok(0)
}

fn human_size(bytes: u64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Quotes a string for POSIX sh and fish alike (single quotes; `'` spelled `'\''`
/// for sh, `\'` inside quotes for fish).
fn quote(s: &str, fish: bool) -> String {
    if fish {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn activate(dirs: &Dirs, shell: Option<&str>) -> Result<i32> {
    let shell = match shell {
        Some(s) => s.to_owned(),
        None => std::env::var("SHELL")
            .ok()
            .and_then(|s| s.rsplit('/').next().map(str::to_owned))
            .unwrap_or_else(|| "sh".into()),
    };
    let shims = dirs
        .shims
        .to_str()
        .context("the shim directory path is not UTF-8")?;
    let text = match shell.as_str() {
        "bash" | "zsh" | "sh" | "dash" | "ksh" => {
            include_str!("../../shims/activate.sh").replace("@SHIMS@", &quote(shims, false))
        }
        "fish" => include_str!("../../shims/activate.fish").replace("@SHIMS@", &quote(shims, true)),
        other => bail!("unsupported shell '{other}'; expected bash, zsh, sh or fish"),
    };
    print!("{text}");
    Ok(0)
}

fn warn_if_not_on_path(dirs: &Dirs) {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d == dirs.shims));
    if !on_path {
        eprintln!(
            "jig: note: {} is not on PATH; add `eval \"$(jig activate)\"` to your shell's rc file",
            dirs.shims.display()
        );
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

    #[test]
    fn quoting() {
        assert_eq!(quote("/a b/it's", false), "'/a b/it'\\''s'");
        assert_eq!(quote("/a b/it's", true), "'/a b/it\\'s'");
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
    }
}
