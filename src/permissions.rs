//! What a recipe asks to see of the host, shown before it is installed.
//!
//! A recipe is data, but it still decides which of the user's files, variables and
//! sockets a tool can reach. `jig install` lists those requests and asks before
//! installing; reinstalling a recipe whose requests changed shows the difference and
//! asks again; an unchanged set is not asked about twice. `--yes` (or `JIG_YES=1`)
//! answers for scripts. Without a terminal and without `--yes`, installing stops: a
//! prompt nobody can answer must not turn into a silent "yes".

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Result, bail};

use crate::recipe::Recipe;

/// One thing a recipe asks for, in words a user can judge.
pub type Request = String;

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
        crate::args::ArgMode::Off => {}
        crate::args::ArgMode::Ro => {
            out.insert("read paths named on its command line".to_owned());
        }
        crate::args::ArgMode::Rw => {
            out.insert("read and write paths named on its command line".to_owned());
        }
    }
    for o in &m.args_rw {
        out.insert(format!("read and write the path given to {}", o.as_str()));
    }
    if m.host_ca {
        out.insert("read the host's CA certificates".to_owned());
    }
    for g in &recipe.env.pass {
        out.insert(format!("environment: {g}"));
    }
    if recipe.x11 {
        out.insert("X11 display: socket and cookie".to_owned());
    }
    if recipe.wayland {
        out.insert("Wayland display socket".to_owned());
    }
    out
}

/// Whether the user said yes through `JIG_YES`.
pub fn yes_from_env() -> bool {
    std::env::var_os("JIG_YES").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Shows what `recipe` asks for (or, with `before`, what changed) on stderr and asks.
/// Returns when the answer is yes; errors otherwise.
pub fn confirm(recipe: &Recipe, before: Option<&BTreeSet<Request>>, yes: bool) -> Result<()> {
    let now = of(recipe);
    if before == Some(&now) {
        return Ok(());
    }
    let who = format!("{} {}", recipe.name, recipe.version);
    let mut err = std::io::stderr().lock();
    match before {
        None => {
            writeln!(err, "jig: {who} asks for:")?;
            for r in &now {
                writeln!(err, "  {r}")?;
            }
        }
        Some(old) => {
            writeln!(err, "jig: {who} asks for something different than before:")?;
            for r in now.difference(old) {
                writeln!(err, "  + {r}")?;
            }
            for r in old.difference(&now) {
                writeln!(err, "  - {r}")?;
            }
        }
    }
    if yes || yes_from_env() {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "installing {who} needs your approval of the above\nhint: run it in a terminal to answer, or pass --yes (JIG_YES=1) to approve"
        );
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
            "name = \"t\"\nversion = \"1\"\nx11 = true\n[image]\nfrom = \"rootfs:r\"\n[tool]\nshims = [\"t\"]\n[mounts]\nhome = [\".a\"]\nhome_rw = [\".b\"]\nfrom_env = [\"SSH_AUTH_SOCK\"]\n[env]\npass = [\"GIT_*\"]\n",
            "t.toml",
        )
        .unwrap();
        let all: Vec<_> = of(&r).into_iter().collect();
        assert_eq!(
            all,
            [
                "X11 display: socket and cookie",
                "environment: GIT_*",
                "network: shared with the host (always)",
                "read and write the path in $SSH_AUTH_SOCK (e.g. a socket)",
                "read and write ~/.b",
                "read ~/.a",
            ]
        );
    }
}
