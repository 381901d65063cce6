//! `jig run`, `exec` and `shell`: a recipe's command, any command or a shell, launched
//! in its image the way a shim launches a tool ([`crate::launch::start`]).

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result};

use super::pins::entry_for;
use crate::base::paths::Dirs;
use crate::image::store::Store;
use crate::install::index::Entry;
use crate::launch;
use crate::launch::facts::Command as Cmd;

/// `jig run RECIPE [ARGS...]`: the recipe's default command ([`default_command`]).
pub(super) fn run(dirs: &Dirs, recipe: &str, args: Vec<OsString>, yes: bool) -> Result<i32> {
    let (entry, _) = entry_for(dirs, recipe, yes)?;
    let (program, argv0, args) = default_command(&entry, args)?;
    Ok(launch(
        dirs,
        &entry,
        Cmd {
            program,
            argv0,
            args,
        },
        false,
    ))
}

/// `jig exec RECIPE -- COMMAND [ARGS...]`, or its launch plan with `dry_run`.
pub(super) fn exec(
    dirs: &Dirs,
    recipe: &str,
    command: Vec<OsString>,
    dry_run: bool,
    yes: bool,
) -> Result<i32> {
    let (entry, _) = entry_for(dirs, recipe, yes)?;
    let mut command = command.into_iter();
    let program = command.next().context("no command given after --")?;
    let argv0 = program.clone();
    Ok(launch(
        dirs,
        &entry,
        Cmd {
            program,
            argv0,
            args: command.collect(),
        },
        dry_run,
    ))
}

/// `jig shell RECIPE`: the caller's shell if the image has it at the same path, else
/// `/bin/sh`.
pub(super) fn shell(dirs: &Dirs, recipe: &str, yes: bool) -> Result<i32> {
    let (entry, _) = entry_for(dirs, recipe, yes)?;
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
        dirs,
        &entry,
        Cmd {
            program: shell.into_os_string(),
            argv0: name,
            args: Vec::new(),
        },
        false,
    ))
}

/// Launches `cmd` in `entry`'s image; the exit status, after reporting a failure (a
/// successful dry run, which printed the plan, is 0).
fn launch(dirs: &Dirs, entry: &Entry, cmd: Cmd, dry_run: bool) -> i32 {
    let tool = cmd.argv0.to_string_lossy().into_owned();
    let e = launch::start(dirs, entry, cmd, dry_run);
    if dry_run && e.code == 0 {
        return 0;
    }
    e.report(&tool)
}

/// What `jig run` executes: the recipe's command, else its first shim, else the
/// image's entrypoint + cmd. User ARGS replace the image's cmd, as with `docker run`;
/// so do they for a first shim named after the image's one-word entrypoint.
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
        // A shim that stands for the image's one-word ENTRYPOINT (a Dockerfile recipe):
        // without arguments, the image's CMD is the default, as with `docker run`.
        let cfg = &entry.config;
        let stands_for_entrypoint = tool.command.is_none()
            && matches!(cfg.entrypoint.as_slice(), [e] if e.rsplit('/').next() == Some(c.as_str()));
        let args = if args.is_empty() && stands_for_entrypoint {
            cfg.cmd.iter().map(OsString::from).collect()
        } else {
            args
        };
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
