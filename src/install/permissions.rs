//! What a recipe asks to see of the host, and what building its image runs, shown
//! before it is installed.
//!
//! A recipe is data, but it still decides which of the user's files, variables and
//! sockets a tool can reach, which host commands its shims stand in for, and what runs
//! while its image is made. `jig install` lists those requests and asks before
//! installing; reinstalling a recipe whose requests changed shows the difference and
//! asks again; an unchanged set is not asked about twice. The build (image source,
//! Debian mirror, snapshot, `insecure`, packages, `run` steps) is asked about too,
//! unless the user approved the same build before (`crate::install::approved`). `--yes` (or
//! `JIG_YES=1`) answers for scripts. Without a terminal and without `--yes`,
//! installing stops: a prompt nobody can answer must not turn into a silent "yes".

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};

use crate::recipe::{ImageSpec, Recipe, Source};

/// One thing a recipe asks for, in words a user can judge.
pub type Request = String;

/// Host commands that see what their user types for the host (passwords, passphrases,
/// keys). A shim of that name, with jig's shim directory first on PATH (`jig
/// activate`), runs a recipe's image instead, which then sees it.
pub const SENSITIVE: &[&str] = &[
    "sudo", "su", "doas", "pkexec", "ssh", "scp", "sftp", "ssh-add", "gpg", "gpg2", "passwd",
];

/// The most characters of a listed value (a build step, the package list) shown.
const SHOWN: usize = 100;

/// Everything `recipe` asks for, sorted.
pub fn of(recipe: &Recipe) -> BTreeSet<Request> {
    let m = &recipe.mounts;
    let mut out = BTreeSet::new();
    out.insert("network: shared with the host (always)".to_owned());
    for p in &m.home {
        out.insert(format!("read ~/{p}"));
    }
    for p in &m.home_rw {
        out.insert(format!("read and write ~/{p}"));
    }
    for v in &m.from_env {
        out.insert(format!("read and write the path in ${v} (e.g. a socket)"));
    }
    match m.args {
        crate::recipe::ArgMode::Off => {}
        crate::recipe::ArgMode::Ro => {
            out.insert("read paths named on its command line".to_owned());
        }
        crate::recipe::ArgMode::Rw => {
            out.insert("read and write paths named on its command line".to_owned());
        }
    }
    for o in &m.args_rw {
        out.insert(format!("read and write the path given to {}", o.as_str()));
    }
    if m.host_ca {
        out.insert("read the host's CA certificates".to_owned());
    }
    if m.git_config {
        out.insert(
            "read /etc/gitconfig and the home files git's configuration names; read and write \
             the local remotes and worktrees of the repository"
                .to_owned(),
        );
    }
    if m.gpg {
        out.insert(
            "use the GnuPG agent (its restricted socket: sign and decrypt, never export keys); \
             read the public keyring"
                .to_owned(),
        );
    }
    // The variables on one line: a recipe may pass many, and each is a small ask.
    if !recipe.env.pass.is_empty() {
        let globs: Vec<String> = recipe.env.pass.iter().map(|g| g.to_string()).collect();
        out.insert(format!("environment: {}", globs.join(", ")));
    }
    if recipe.x11 {
        out.insert("X11 display: socket and cookie".to_owned());
    }
    if recipe.wayland {
        out.insert("Wayland display socket".to_owned());
    }
    // A new shim of such a name is a change worth asking about, like a new path.
    for s in shadowing(recipe) {
        out.insert(format!("stand in for the host's {s} (a shim named {s})"));
    }
    out
}

/// The recipe's shims named like a [`SENSITIVE`] host command.
pub fn shadowing(recipe: &Recipe) -> Vec<&str> {
    recipe
        .tool
        .shims
        .iter()
        .map(|s| s.as_str())
        .filter(|s| SENSITIVE.contains(s))
        .collect()
}

/// What building an image from `image` runs, one line each: the source; for Debian
/// the mirror, snapshot, signature checking and packages; then every `run` step (its
/// first line, cut at [`SHOWN`] characters).
pub fn build_lines(image: &ImageSpec) -> Vec<String> {
    let mut out = vec![format!("image: {}", image.from)];
    if matches!(image.from, Source::Debian(_)) {
        match &image.mirror {
            Some(m) => out.push(format!("mirror: {m}")),
            None => out.push(format!(
                "mirror: {} (the default)",
                crate::image::source::debian::DEFAULT_MIRROR
            )),
        }
        if let Some(s) = &image.snapshot {
            out.push(format!("snapshot: {s}"));
        }
        if image.insecure {
            out.push(
                "insecure: the archive's signature is NOT checked; whoever serves the mirror chooses the packages"
                    .to_owned(),
            );
        }
        if !image.packages.is_empty() {
            let names: Vec<&str> = image.packages.iter().map(|p| p.as_str()).collect();
            let all = names.join(", ");
            let shown = abbreviate(&all);
            if shown == all {
                out.push(format!("packages: {all}"));
            } else {
                out.push(format!("packages ({} in all): {shown}", names.len()));
            }
        }
    }
    if matches!(image.from, Source::Dockerfile(_)) {
        if let Some(c) = &image.context {
            out.push(format!("context: {c}"));
        }
        for (k, v) in &image.args {
            out.push(format!("build argument: {k}={}", abbreviate(v)));
        }
        if let Some(d) = &image.context_digest {
            out.push(format!("content: {d}"));
        }
        out.push("every RUN of the Dockerfile runs as fake root, with the network".to_owned());
    }
    for step in &image.run {
        out.push(format!("run: {}", abbreviate(step)));
    }
    out
}

/// The first line of `text`, at most [`SHOWN`] characters, with ` ...` when anything
/// was left out.
fn abbreviate(text: &str) -> String {
    let text = text.trim();
    let first = text.lines().next().unwrap_or_default();
    let mut shown: String = first.chars().take(SHOWN).collect();
    if shown.len() < text.len() {
        shown.push_str(" ...");
    }
    shown
}

/// `line` with control characters spelled as escapes: an escape sequence in a recipe
/// could otherwise rewrite what the prompt shows on a terminal.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Whether the user said yes through `JIG_YES`.
pub fn yes_from_env() -> bool {
    crate::base::nest::flag(crate::base::nest::ENV_YES)
}

/// What an install asks the user to approve.
#[derive(Debug)]
pub struct Ask<'a> {
    /// The recipe, resolved for the version being installed.
    pub recipe: &'a Recipe,
    /// What an installed version of it asked for when the user approved it, if any.
    pub before: Option<&'a BTreeSet<Request>>,
    /// Whether the user approved the same build before, or it is a built-in recipe's
    /// (`crate::install::approved`).
    pub build_approved: bool,
    /// The command that installs it, named when nobody can answer.
    pub command: &'a str,
}

/// Returns at once when the recipe asks for what it asked for before and its build is
/// approved. Otherwise shows on stderr what it asks for (or, with `before`, what
/// changed), its build when that is new (or on a first install), and a warning about
/// shims named like security-sensitive host commands, and asks. Returns when the answer
/// is yes; errors otherwise.
pub fn confirm(ask: &Ask, yes: bool) -> Result<()> {
    let recipe = ask.recipe;
    let now = of(recipe);
    if ask.before == Some(&now) && ask.build_approved {
        return Ok(());
    }
    let who = format!("{} {}", recipe.name, recipe.version);
    let mut lines = Vec::new();
    match ask.before {
        None => {
            lines.push(format!("jig: {who} asks for:"));
            lines.extend(now.iter().map(|r| format!("  {r}")));
        }
        Some(old) if old != &now => {
            lines.push(format!(
                "jig: {who} asks for something different than before:"
            ));
            lines.extend(now.difference(old).map(|r| format!("  + {r}")));
            lines.extend(old.difference(&now).map(|r| format!("  - {r}")));
        }
        Some(_) => {}
    }
    if !ask.build_approved {
        lines.push(format!(
            "jig: {who} builds its image from what you have not approved before:"
        ));
    } else if ask.before.is_none() {
        lines.push(format!("jig: {who} builds its image from:"));
    }
    if !ask.build_approved || ask.before.is_none() {
        lines.extend(build_lines(&recipe.image).iter().map(|l| format!("  {l}")));
    }
    let shadowing = shadowing(recipe);
    if !shadowing.is_empty() {
        lines.push(format!(
            "jig: warning: the shims {} are named like security-sensitive host commands: with jig's shim directory first on PATH, typing them runs this recipe's image, which sees what you type into them (passwords, passphrases)",
            shadowing.join(", ")
        ));
    }
    let mut err = std::io::stderr().lock();
    for l in &lines {
        writeln!(err, "{}", printable(l))?;
    }
    if yes || yes_from_env() {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(crate::base::error::hinted(
            format!("installing {who} needs your approval of the above"),
            format!(
                "run `{}` in a terminal to answer, or pass --yes (JIG_YES=1) to approve",
                ask.command
            ),
        ));
    }
    write!(err, "jig: install {who}? [y/N] ")?;
    err.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        bail!("not installing {who}: not approved")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_everything_that_reaches_the_host() {
        let r = crate::recipe::parse(
            "name = \"t\"\nversion = \"1\"\nx11 = true\n[image]\nfrom = \"rootfs:r\"\n[tool]\nshims = [\"t\"]\n[mounts]\nhome = [\".a\"]\nhome_rw = [\".b\"]\nfrom_env = [\"SSH_AUTH_SOCK\"]\n[env]\npass = [\"GIT_*\", \"SSH_*\", \"EDITOR\"]\n",
            "t.toml",
        )
        .unwrap();
        let all: Vec<_> = of(&r).into_iter().collect();
        assert_eq!(
            all,
            [
                "X11 display: socket and cookie",
                "environment: GIT_*, SSH_*, EDITOR",
                "network: shared with the host (always)",
                "read and write the path in $SSH_AUTH_SOCK (e.g. a socket)",
                "read and write ~/.b",
                "read ~/.a",
            ]
        );
    }

    #[test]
    fn shims_named_like_sensitive_commands_are_requests() {
        let r = crate::recipe::parse(
            "name = \"t\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:r\"\n[tool]\nshims = [\"t\", \"sudo\", \"ssh\"]\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(shadowing(&r), ["sudo", "ssh"]);
        let all = of(&r);
        assert!(all.contains("stand in for the host's sudo (a shim named sudo)"));
        assert!(!all.iter().any(|x| x.contains("host's t ")));
    }

    #[test]
    fn the_build_is_listed_line_by_line_and_cut_short() {
        let long = "x".repeat(300);
        let text = format!(
            "name = \"t\"\nversion = \"1\"\n[image]\nfrom = \"debian:bookworm\"\ninsecure = true\nsnapshot = \"20240601T000000Z\"\npackages = [\"git\", \"less\"]\nrun = [\"echo a\", \"echo {long}\", \"echo b\\necho c\"]\n[tool]\nshims = [\"t\"]\n"
        );
        let r = crate::recipe::parse(&text, "t.toml").unwrap();
        let lines = build_lines(&r.image);
        assert_eq!(lines[0], "image: debian:bookworm");
        assert_eq!(
            lines[1],
            "mirror: http://deb.debian.org/debian (the default)"
        );
        assert_eq!(lines[2], "snapshot: 20240601T000000Z");
        assert!(lines[3].starts_with("insecure: "), "{lines:?}");
        assert_eq!(lines[4], "packages: git, less");
        assert_eq!(lines[5], "run: echo a");
        assert!(
            lines[6].ends_with("x ...") && lines[6].len() < 120,
            "{lines:?}"
        );
        assert_eq!(lines[7], "run: echo b ...");
        assert_eq!(lines.len(), 8);
        assert_eq!(printable("a\u{1b}[2Kb\rc"), "a\\u{1b}[2Kb\\rc");
    }
}
