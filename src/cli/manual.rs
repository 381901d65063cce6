//! `jig manual [DIR]`: the manual pages, made from the clap definition by clap_mangen
//! (so they never disagree with `--help`): `jig(1)` with every option and command,
//! then what `--help` has no room for (exit status, environment, files), and with DIR
//! one page per command (`jig-install(1)`, ...). `script/install` writes them to
//! `~/.local/share/man/man1`, where man(1) finds them beside `~/.local/bin`.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use roff::{Roff, bold, roman};

/// What jig's exit statuses mean (README.md's table, in the manual's words).
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "The command, or the tool, succeeded."),
    ("1", "A jig command failed: a build, a download, a refusal."),
    (
        "2",
        "Usage: a bad option or argument, or a recipe, tool, repository or version that \
         does not exist (the closest name is suggested), whatever the command.",
    ),
    (
        "125",
        "jig run, exec, shell or a shim: jig failed before the tool started.",
    ),
    ("126", "The command is in the image but cannot be executed."),
    ("127", "The command is not in the image."),
    (
        "128+N",
        "The tool was killed by signal N: 130 after Ctrl-C (SIGINT), 143 after SIGTERM, \
         129 after SIGHUP. The tool runs as jig's own process, so the shell sees what it \
         would see natively.",
    ),
    ("other", "The tool's own exit status, unchanged."),
];

/// The variables jig reads.
const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "JIG_HOME",
        "jig's data directory (default ~/.local/share/jig): installed recipes, shims, \
         the image store.",
    ),
    (
        "JIG_CONFIG_DIR",
        "where config.toml and the global jig.toml are (default ~/.config/jig, or \
         JIG_HOME when that is set).",
    ),
    (
        "JIG_<TOOL>_VERSION",
        "the version a shim runs, before any jig.toml (JIG_GIT_VERSION=2.45).",
    ),
    (
        "JIG_LOCKED",
        "1: refuse to run or install what the project's jig.lock does not name (--locked).",
    ),
    (
        "JIG_YES",
        "1: approve what recipes ask for without asking (--yes).",
    ),
    (
        "JIG_NO_LAZY",
        "1: a pinned version that is not installed is an error instead of being installed.",
    ),
    ("JIG_DEBUG", "1: print each launch plan."),
    (
        "NO_COLOR",
        "set and not empty: no colour, even on a terminal.",
    ),
    (
        "JIG_COMPLETE",
        "set by the code of jig completions: answer a completion request.",
    ),
];

/// The files jig reads and writes.
const FILES: &[(&str, &str)] = &[
    (
        "~/.local/share/jig/",
        "installed.json (what shims run), shims/, store/ (images by tree hash), \
         approved.json, repos.json.",
    ),
    (
        "~/.config/jig/config.toml",
        "registries, credentials, the Debian keyring, recipe_order, [limits].",
    ),
    ("~/.config/jig/jig.toml", "global version pins."),
    (
        "jig.toml, jig.lock",
        "a project's pins and what they resolved to; .jig/recipes/ its own recipes.",
    ),
];

/// `jig manual [DIR]`: jig(1) on stdout, or every page written into DIR.
pub(super) fn manual(command: clap::Command, dir: Option<&Path>) -> Result<i32> {
    let Some(dir) = dir else {
        let mut out = std::io::stdout().lock();
        out.write_all(&page(command)?)?;
        return Ok(0);
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Every command's page; then jig.1 again with the sections below.
    clap_mangen::generate_to(command.clone(), dir)
        .with_context(|| format!("writing manual pages into {}", dir.display()))?;
    let path = dir.join("jig.1");
    std::fs::write(&path, page(command)?).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("jig: wrote the manual pages into {}", dir.display());
    Ok(0)
}

/// jig(1): clap_mangen's sections, then EXIT STATUS, ENVIRONMENT, FILES and SEE ALSO.
fn page(command: clap::Command) -> Result<Vec<u8>> {
    // `jig help` is --help again; clap_mangen's generate_to leaves it out too.
    let mut command = command.disable_help_subcommand(true);
    command.build();
    let man = clap_mangen::Man::new(command.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    let mut roff = Roff::new();
    for (title, entries) in [
        ("EXIT STATUS", EXIT_STATUS),
        ("ENVIRONMENT", ENVIRONMENT),
        ("FILES", FILES),
    ] {
        roff.control("SH", [title]);
        for (term, what) in entries {
            roff.control("TP", []);
            roff.text([bold(*term)]);
            roff.text([roman(*what)]);
        }
    }
    roff.control("SH", ["SEE ALSO"]);
    let pages: Vec<String> = command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!("jig-{}(1)", s.get_name()))
        .collect();
    roff.text([roman(format!(
        "{}; README.md and ARCHITECTURE.md in jig's source.",
        pages.join(", ")
    ))]);
    roff.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(out)
}
