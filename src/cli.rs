//! `jig` called by its own name: the command-line interface.
//!
//! Glue only: each subcommand parses its arguments and calls the module that does the
//! work. Output policy: data goes to stdout, progress and diagnostics to stderr,
//! errors as `error: ...` followed by `hint: ...` lines.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use crate::installed::{Entry, Index};
use crate::paths::Dirs;
use crate::plan::Command as Cmd;
use crate::recipe;
use crate::runtime::EXIT_JIG_FAILED;
use crate::source::oci::{self, Reference};
use crate::store::Store;
use crate::{doctor, install, project, repo, resolve, shim};

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
pub fn main() -> i32 {
    let cli = Cli::parse();
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

/// Prints an error chain: `error: top`, then `  caused by: ...`, and `hint:` lines
/// that messages carry after a newline.
pub fn print_error(e: &anyhow::Error) {
    print_chain("error", e);
}

/// Prints an error chain that did not stop the command, as `jig: warning: ...`.
fn print_warning(e: &anyhow::Error) {
    print_chain("jig: warning", e);
}

fn print_chain(label: &str, e: &anyhow::Error) {
    let mut out = std::io::stderr().lock();
    let mut hints = Vec::new();
    for (i, cause) in e.chain().enumerate() {
        let text = cause.to_string();
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        if i == 0 {
            let _ = writeln!(out, "{label}: {first}");
        } else {
            let _ = writeln!(out, "  caused by: {first}");
        }
        for l in lines {
            if l.starts_with("hint:") {
                hints.push(l.to_owned());
            } else {
                let _ = writeln!(out, "  {l}");
            }
        }
    }
    for h in hints {
        let _ = writeln!(out, "{h}");
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
            let host_shell = crate::host::Host::probe()?.shell.unwrap_or_default();
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
    let e = shim::start(dirs, entry, cmd, dry_run);
    if dry_run && e.code == 0 {
        return 0;
    }
    shim::report(&tool, &e)
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

/// Splits `NAME@VERSION` (or `path/to/recipe.toml@VERSION`) into its parts. A spec
/// naming an existing file is a path, whatever it contains.
fn split_spec(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('@') {
        Some((n, v)) if !n.is_empty() && !v.is_empty() && !v.contains('/') => {
            if std::path::Path::new(spec).is_file() {
                (spec, None)
            } else {
                (n, Some(v))
            }
        }
        _ => (spec, None),
    }
}

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The version request for a recipe named on the command line: `@VERSION` if given,
/// else what the project and user pin.
fn request_here(name: &str, version: Option<&str>) -> Result<resolve::Request> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let found = project::find(&cwd)?;
    resolve::request(name, version, found.as_ref())
}

/// Finds the installed entry for `[REPO/]NAME[@VERSION]` (the version pinned here when
/// none is given), or installs a recipe (built-in, repository or file) on first use.
fn entry_for(dirs: &Dirs, spec: &str, yes: bool) -> Result<(Entry, String)> {
    let (spec_name, version) = split_spec(spec);
    let is_path = recipe::is_path(spec_name);
    // `REPO/NAME` uses an installed recipe only if it came from that place.
    let (place, name) = match spec_name.split_once('/') {
        Some((r, n)) if !is_path => (Some(r), n),
        _ => (None, spec_name),
    };
    let index = Index::read(&dirs.index())?;
    let opts = install::Options {
        yes,
        ..Default::default()
    };
    // A trusted project's own recipe of that name comes first.
    if !is_path && place.is_none() {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        if let Some(found) = project::find(&cwd)? {
            let own = found
                .dir
                .join(project::RECIPES_DIR)
                .join(format!("{name}.toml"));
            if own.is_file() && crate::trust::is_trusted(dirs, &found)? {
                let request = resolve::request(name, version, Some(&found))?;
                let loaded = recipe::load_file(&own)?;
                let one = loaded.at(request.version.as_deref())?;
                if let Some(e) = index.projects.get(&one.hash) {
                    return Ok((e.clone(), one.recipe.version.to_string()));
                }
                let opts = install::Options {
                    yes: true, // approved by `jig trust`
                    project: true,
                    ..Default::default()
                };
                let done = install::install(dirs, &loaded, request.version.as_deref(), &opts)?;
                return Ok((done.entry, done.version));
            }
        }
    }
    let from_place = |tool: &crate::installed::Tool| {
        let origin = tool
            .versions
            .get(&tool.default)
            .or_else(|| tool.versions.values().next())
            .map(|e| &e.origin);
        match (place, origin) {
            (None, _) => true,
            (Some(p), Some(recipe::Origin::Builtin { .. })) => p == repo::BUILTIN,
            (Some(p), Some(recipe::Origin::Repo { repo, .. })) => p == repo,
            _ => false,
        }
    };
    if !is_path
        && let Some(tool) = index.tools.get(name)
        && from_place(tool)
    {
        let request = request_here(name, version)?;
        let version = match resolve::pick(name, tool, &request) {
            resolve::Pick::Installed(v, e) => return Ok((e.clone(), v.to_owned())),
            resolve::Pick::Missing(v) => v,
            resolve::Pick::Unknown(message) => bail!(message),
        };
        let origin = tool
            .versions
            .values()
            .next()
            .map_or_else(|| name.to_owned(), shim::install_arg);
        let loaded = repo::find(dirs, &origin)?;
        eprintln!(
            "jig: installing {name} {version} ({}; first use)",
            request.why
        );
        let done = install::install(dirs, &loaded, Some(&version), &opts)?;
        return Ok((done.entry, done.version));
    }
    let loaded = repo::find(dirs, spec_name)?;
    let request = request_here(loaded.recipe.name.as_str(), version)?;
    let one = loaded.at(request.version.as_deref())?;
    // A recipe that is already installed unchanged is used as is.
    if let Some(e) = index
        .tools
        .get(one.recipe.name.as_str())
        .and_then(|t| t.versions.get(one.recipe.version.as_str()))
        && e.recipe_hash == one.hash
    {
        return Ok((e.clone(), one.recipe.version.to_string()));
    }
    eprintln!(
        "jig: installing {} {} (first use)",
        one.recipe.name, one.recipe.version
    );
    let done = install::install(dirs, &loaded, request.version.as_deref(), &opts)?;
    Ok((done.entry, done.version))
}

/// The recipes `jig install` without arguments installs: every tool the project's
/// jig.toml pins, with its pinned version, from the trusted project's own recipe if it
/// has one (approved by `jig trust`), else from where it was installed before, else by
/// name. Each item: (recipe, version, is a project recipe).
fn project_tools(dirs: &Dirs) -> Result<Vec<(recipe::Loaded, Option<String>, bool)>> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let Some(found) = project::find(&cwd)? else {
        bail!(
            "name the recipes to install, or run this in a project with a jig.toml\nhint: `jig install git npm`, `jig pin git@2.39`"
        );
    };
    let trusted = crate::trust::is_trusted(dirs, &found)?;
    let index = Index::read(&dirs.index())?;
    let mut out = Vec::new();
    for (tool, pin) in &found.file.tools {
        let own = found
            .dir
            .join(project::RECIPES_DIR)
            .join(format!("{tool}.toml"));
        let project_recipe = trusted && own.is_file();
        let loaded = if project_recipe {
            recipe::load_file(&own)?
        } else {
            let origin = index
                .tools
                .get(tool)
                .and_then(|t| t.versions.values().next())
                .map_or_else(|| tool.clone(), shim::install_arg);
            repo::find(dirs, &origin)?
        };
        loaded.at(pin.version())?;
        out.push((loaded, pin.version().map(str::to_owned), project_recipe));
    }
    if out.is_empty() {
        bail!("{} pins no tools", found.path.display());
    }
    Ok(out)
}

fn lock(dirs: &Dirs, upgrade: bool, yes: bool) -> Result<i32> {
    use crate::lock::{FORMAT, LockFile};
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let Some(found) = project::find(&cwd)? else {
        bail!(
            "no jig.toml here or in any parent directory of {}\nhint: `jig pin TOOL@VERSION` creates one",
            cwd.display()
        );
    };
    let path = found.lock_path();
    let old = LockFile::read(&path)?;
    let mut new = LockFile {
        lock_version: FORMAT,
        tools: Default::default(),
    };
    for (loaded, version, project_recipe) in project_tools(dirs)? {
        let opts = install::Options {
            // A project recipe was approved by `jig trust`.
            yes: yes || project_recipe,
            project: project_recipe,
            upgrade,
            force: false,
        };
        let tool = loaded.recipe.name.to_string();
        eprintln!("jig: locking {tool}");
        let done = install::install(dirs, &loaded, version.as_deref(), &opts)?;
        new.tools.insert(
            tool,
            crate::lock::entry_of(&done.entry, &done.entry.recipe, &done.base),
        );
    }
    if old.as_ref() == Some(&new) {
        eprintln!("jig: {} is up to date", path.display());
        return Ok(0);
    }
    new.write(&path)?;
    for (tool, l) in &new.tools {
        let before = old.as_ref().and_then(|o| o.tools.get(tool));
        let what = match before {
            None => "added".to_owned(),
            Some(b) if b == l => continue,
            Some(b) if b.version != l.version => format!("{} -> {}", b.version, l.version),
            Some(_) => "re-resolved".to_owned(),
        };
        eprintln!("jig: {tool} {} ({}): {what}", l.version, l.image);
    }
    for tool in old.iter().flat_map(|o| o.tools.keys()) {
        if !new.tools.contains_key(tool) {
            eprintln!("jig: {tool}: removed");
        }
    }
    eprintln!("jig: wrote {}", path.display());
    Ok(0)
}

fn trust(dirs: &Dirs, revoke: bool, yes: bool) -> Result<i32> {
    let cwd = std::env::current_dir().context("reading the current directory")?;
    let Some(found) = project::find(&cwd)? else {
        bail!(
            "no jig.toml here or in any parent directory of {}",
            cwd.display()
        );
    };
    if revoke {
        crate::trust::set(dirs, &found, true)?;
        eprintln!("jig: no longer trusting {}", found.path.display());
        return Ok(0);
    }
    let asks = crate::trust::asks(&found);
    if !asks.any() {
        eprintln!(
            "jig: {} only pins versions; it needs no trust",
            found.path.display()
        );
        return Ok(0);
    }
    eprintln!("jig: trusting {}, which adds:", found.path.display());
    for l in &asks.lines {
        eprintln!("  {l}");
    }
    // The project's recipes are installed now, so their requests are shown (and
    // approved) here rather than at some later shim call.
    let opts = install::Options {
        yes,
        project: true,
        ..Default::default()
    };
    let loaded = asks
        .recipes
        .iter()
        .map(|r| recipe::load_file(r))
        .collect::<Result<Vec<_>>>()?;
    for l in &loaded {
        let request = request_here(l.recipe.name.as_str(), None)?;
        let done = install::install(dirs, l, request.version.as_deref(), &opts)?;
        eprintln!(
            "jig: installed project recipe {} {} (image {}); shims: {}",
            done.name,
            done.version,
            done.entry.image.short(),
            list_or_none(&done.shims)
        );
    }
    crate::trust::set(dirs, &found, false)?;
    eprintln!("jig: trusted {}", found.path.display());
    Ok(0)
}

fn pin(dirs: &Dirs, spec: &str, global: bool) -> Result<i32> {
    let Some((tool, version)) = spec
        .rsplit_once('@')
        .filter(|(t, v)| !t.is_empty() && !v.is_empty())
    else {
        bail!("expected TOOL@VERSION, e.g. git@2.39, found '{spec}'");
    };
    let index = Index::read(&dirs.index())?;
    // A shim name stands for the recipe that exports it; `REPO/NAME` for NAME, the key
    // jig.toml uses.
    let name = index.shims.get(tool).map_or(tool, String::as_str);
    // Check the version against what the recipe offers, so a typo is caught now.
    let (name, offered) = match index.tools.get(name) {
        Some(t) => {
            let mut o = t.offered.clone();
            o.extend(t.versions.keys().cloned());
            (name.to_owned(), o)
        }
        None => {
            let r = repo::find(dirs, name)?.recipe;
            (r.name.to_string(), r.offered())
        }
    };
    let name = name.as_str();
    if recipe::select_from(&offered, version).is_none() {
        bail!(
            "recipe '{name}' offers no version {version} (it offers: {})",
            offered.join(", ")
        );
    }
    let path = if global {
        let p = project::global_path().context("cannot find your configuration directory")?;
        if let Some(d) = p.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
        }
        p
    } else {
        let cwd = std::env::current_dir().context("reading the current directory")?;
        project::find_path(&cwd).unwrap_or_else(|| cwd.join(project::FILE))
    };
    project::write_pin(&path, name, version)?;
    eprintln!("jig: pinned {name} = \"{version}\" in {}", path.display());
    Ok(0)
}

fn which(dirs: &Dirs, tool: &str) -> Result<i32> {
    let index = Index::read(&dirs.index())?;
    let (recipe_name, why) = if let Some(r) = index.shims.get(tool) {
        (
            r.clone(),
            format!("shim '{tool}' is exported by recipe '{r}'"),
        )
    } else if index.tools.contains_key(tool)
        || index
            .projects
            .values()
            .any(|e| e.recipe.name.as_str() == tool)
    {
        (tool.to_owned(), format!("'{tool}' is an installed recipe"))
    } else {
        bail!(
            "'{tool}' is neither a shim nor an installed recipe\nhint: `jig list` shows what is installed"
        );
    };
    let request = request_here(&recipe_name, None)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "tool:    {tool}")?;
    let store = Store::new(dirs.store());
    let cwd = std::env::current_dir().context("reading the current directory")?;
    if let Some(found) = project::find(&cwd)? {
        let asks = crate::trust::asks(&found);
        let trusted = asks.any() && crate::trust::is_trusted(dirs, &found)?;
        let state = match (asks.any(), trusted) {
            (false, _) => "version pins only",
            (true, true) => "trusted",
            (true, false) => "NOT trusted: its additions are ignored until `jig trust`",
        };
        writeln!(out, "project: {} ({state})", found.path.display())?;
        let own = found
            .dir
            .join(project::RECIPES_DIR)
            .join(format!("{recipe_name}.toml"));
        if trusted && own.is_file() {
            let one = recipe::load_file(&own)?.at(request.version.as_deref())?;
            let installed = index.projects.contains_key(&one.hash);
            writeln!(
                out,
                "recipe:  {recipe_name} (project recipe {})",
                own.display()
            )?;
            writeln!(out, "version: {} ({})", one.recipe.version, request.why)?;
            writeln!(
                out,
                "image:   {}",
                if installed {
                    index.projects[&one.hash].image.to_string()
                } else {
                    "not installed yet (installed on first use)".to_owned()
                }
            )?;
            writeln!(out, "why:     {why}")?;
            let workspace = crate::workspace::here(&one.recipe.mounts.markers)?;
            writeln!(out, "workspace: {workspace}")?;
            return Ok(0);
        }
    }
    let Some(installed) = index.tools.get(&recipe_name) else {
        writeln!(
            out,
            "recipe:  {recipe_name} (only a project recipe elsewhere)"
        )?;
        return Ok(0);
    };
    // Workspace markers come from the version that runs, else any installed one.
    let mut markers = installed
        .versions
        .values()
        .next()
        .map(|e| e.recipe.mounts.markers.clone())
        .unwrap_or_default();
    match resolve::pick(&recipe_name, installed, &request) {
        resolve::Pick::Installed(version, entry) => {
            markers = entry.recipe.mounts.markers.clone();
            let source = store
                .image(&entry.image)?
                .map(|i| i.meta.source)
                .unwrap_or_else(|| "missing from the store!".into());
            writeln!(out, "recipe:  {recipe_name} ({})", entry.origin)?;
            writeln!(out, "version: {version} ({})", request.why)?;
            writeln!(out, "image:   {} ({source})", entry.image)?;
            writeln!(out, "rootfs:  {}", store.rootfs_of(&entry.image).display())?;
        }
        resolve::Pick::Missing(version) => {
            writeln!(out, "recipe:  {recipe_name}")?;
            writeln!(out, "version: {version} ({})", request.why)?;
            writeln!(out, "image:   not installed yet (installed on first use)")?;
        }
        resolve::Pick::Unknown(message) => {
            writeln!(out, "recipe:  {recipe_name}")?;
            writeln!(out, "version: none: {message}")?;
        }
    }
    writeln!(out, "why:     {why}")?;
    let workspace = crate::workspace::here(&markers)?;
    writeln!(out, "workspace: {workspace}")?;
    Ok(0)
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
    let image = oci::pull(&reference, &store).with_context(|| format!("pulling {reference}"))?;
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
        bail!(
            "'{name}' is not installed\nhint: `jig install` it first; `jig list` shows what is installed"
        );
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
    let pushed = oci::push::push(&store, entry, &label, &reference)
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
            bail!(
                "image {} is used by {}\nhint: `jig uninstall` those first",
                image.id.short(),
                by.join(", ")
            );
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
            include_str!("../shims/activate.sh").replace("@SHIMS@", &quote(shims, false))
        }
        "fish" => include_str!("../shims/activate.fish").replace("@SHIMS@", &quote(shims, true)),
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
