//! The binds of a launch: /proc and the device nodes first, then every host path that
//! comes in, each at its own path, shallow to deep: the workspace, a linked git
//! directory, the recipe's home paths, the CA bundle, `from_env` paths, the display's
//! sockets, path arguments, and jig itself for nested shims.
//!
//! Paths something other than the recipe names (a `.git` file, a variable, an
//! argument) are judged by [`crate::launch::bindable`]; a refusal is reported, not an
//! error: the tool runs without that path.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::base::nest;
use crate::launch::bindable::{arg_bindable, from_env_bindable};
use crate::launch::facts::{ArgPath, EnvPath, Facts, HOST_CA_BUNDLE, Target};
use crate::launch::host::Host;
use crate::launch::workspace::GitLink;
use crate::runtime::spec::{Bind, DEVICES, Node};

/// Variables that name a CA bundle for one tool or library; passed with `host_ca` when
/// they point at [`HOST_CA_BUNDLE`], which is then visible at the same path.
const CA_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "NODE_EXTRA_CA_CERTS",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
];

/// The binds of a launch and what goes with them.
#[derive(Debug, Default)]
pub struct Binds {
    /// In the order they are applied.
    pub binds: Vec<Bind>,
    /// Paths not mounted, with the reason.
    pub skipped: Vec<(OsString, String)>,
    /// Variables that say where things are (`JIG_WORKSPACE`, `JIG_HOME`, CA bundles).
    pub env: Vec<(String, String)>,
}

/// A host path to bind at its own path: (path, node, read-only).
type HostPath = (PathBuf, Node, bool);

/// Plans the binds of launching `target` on `facts`, with the display's `session`
/// binds.
pub fn plan(target: &Target, facts: &Facts, session: Vec<Bind>) -> Binds {
    let (recipe, host) = (target.recipe, &facts.host);
    let mut out = Binds {
        binds: system(),
        ..Binds::default()
    };
    let mut user: Vec<HostPath> = Vec::new();
    let roots = facts.workspace.roots();
    for root in &roots {
        user.push((root.to_path_buf(), Node::Dir, false));
    }
    match &facts.workspace.git {
        Some(GitLink::Mounted(git)) if !roots.iter().any(|r| git.starts_with(r)) => {
            user.push((git.clone(), Node::Dir, false));
        }
        Some(GitLink::Refused { gitdir, reason }) => {
            let what = format!(
                "{} (the gitdir of {})",
                gitdir.display(),
                facts.workspace.root.join(".git").display()
            );
            out.skipped.push((what.into(), reason.clone()));
        }
        _ => {}
    }
    // A missing home path is skipped, never created: creating it would leave an empty
    // directory where the user expects a file (whalebrew #38).
    let home_paths = recipe
        .mounts
        .home
        .iter()
        .map(|p| (p, true))
        .chain(recipe.mounts.home_rw.iter().map(|p| (p, false)));
    for (rel, readonly) in home_paths {
        if super::staged::takes(recipe, facts, rel.as_str()) {
            continue;
        }
        if let Some(node) = facts.home.get(rel.as_str()) {
            user.push((host.home.join(rel.as_str()), *node, readonly));
        }
    }
    if recipe.mounts.host_ca && facts.ca_bundle {
        user.push((HOST_CA_BUNDLE.into(), Node::File, true));
        for var in CA_VARS {
            if let Some(v) = host.var(var).filter(|v| *v == HOST_CA_BUNDLE) {
                out.env
                    .push((var.to_string(), v.to_string_lossy().into_owned()));
            }
        }
    }
    for var in &recipe.mounts.from_env {
        let Some(named) = facts.from_env.get(var.as_str()) else {
            continue;
        };
        match from_env(named, host, &target.jig_dirs) {
            Ok(Some(node)) => user.push((named.path.clone(), node, false)),
            Ok(None) => {}
            Err(why) => out
                .skipped
                .push((format!("${var} ({})", named.path.display()).into(), why)),
        }
    }
    for b in session {
        user.push((b.src, b.node, b.readonly));
    }
    out.skipped
        .extend(args(&facts.args, &roots, host, &mut user));
    if let Some(nest) = &target.nest {
        // Read-only: a tool may run jig's shims, never change what is installed. The
        // data directory is bound alone: below it on the host side is this launch's
        // own scratch mount. A nested launch mounts its scratch tmpfs on the
        // (read-only) store/run directory, which needs no write access.
        for (path, node) in [(&nest.jig, Node::File), (&nest.data, Node::DirAlone)] {
            // jig installed in its data directory (`script/install` puts it in
            // DATA/bin) is covered by the data directory's bind: one bind and one
            // remount less on every launch.
            if node == Node::File && path.starts_with(&nest.data) {
                continue;
            }
            if path.is_absolute() && !user.iter().any(|(p, _, _)| p == path) {
                user.push((path.clone(), node, true));
            }
        }
        out.env
            .push((nest::ENV_HOME.to_owned(), nest.data.display().to_string()));
        // Without them a nested shim would look for the global pins in JIG_HOME, and
        // could pick another version than the same shim outside. The file alone is
        // bound: `config.toml` beside it may hold registry credentials, and a nested
        // launch, which never installs, needs none of it.
        if let Some(config) = nest.config.as_ref().filter(|c| c.is_absolute()) {
            let pins = config.join(crate::project::FILE);
            if nest.pins
                && !pins.starts_with(&nest.data)
                && !user.iter().any(|(p, _, _)| *p == pins)
            {
                user.push((pins, Node::File, true));
            }
            out.env.push((
                nest::ENV_CONFIG_DIR.to_owned(),
                config.display().to_string(),
            ));
        }
    }
    if let Some(root) = roots.first() {
        out.env
            .push((nest::ENV_WORKSPACE.to_owned(), root.display().to_string()));
    }
    user.sort_by_key(|(p, _, _)| p.components().count());
    out.binds
        .extend(user.into_iter().map(|(src, node, readonly)| Bind {
            dst: src.clone(),
            src,
            node,
            readonly,
        }));
    out
}

/// /proc and the device nodes of the minimal /dev. Without a pid namespace a fresh
/// procfs cannot be mounted; the host's is the right view anyway, since the tool is an
/// ordinary host process. mknod is not allowed in a user namespace: the host's device
/// nodes are bound. Not the host's /dev/pts: every terminal of the user is in it, and a
/// tool could read from and write into all of them; the launch mounts its own.
fn system() -> Vec<Bind> {
    let bind = |p: String, node| Bind {
        src: p.clone().into(),
        dst: p.into(),
        node,
        readonly: false,
    };
    let mut binds = vec![bind("/proc".into(), Node::Dir)];
    for dev in DEVICES {
        binds.push(bind(format!("/dev/{dev}"), Node::File));
    }
    binds
}

/// Judges a `from_env` path as named and as the kernel will resolve it (a symlink must
/// not lead the bind where the name itself may not go): `Ok(Some(node))` to bind it,
/// `Ok(None)` when nothing is there, `Err(reason)` when refused.
fn from_env(named: &EnvPath, host: &Host, jig_dirs: &[PathBuf]) -> Result<Option<Node>, String> {
    from_env_bindable(&named.path, host, jig_dirs)?;
    match &named.real {
        Some((real, node)) if *real != named.path => {
            from_env_bindable(real, host, jig_dirs)
                .map_err(|why| format!("it leads to {}: {why}", real.display()))?;
            Ok(Some(*node))
        }
        Some((_, node)) => Ok(Some(*node)),
        None => Ok(None),
    }
}

/// Adds binds for the paths the command line names (`[mounts] args`) to `user`, and
/// returns the arguments refused, with the reason. A path is bound at its real
/// location (symlinks resolved) when it exists, or its parent directory when it is to
/// be created by a read-write argument; paths inside the workspace or inside another
/// bind at least as writable are skipped.
fn args(
    args: &[ArgPath],
    roots: &[&Path],
    host: &Host,
    user: &mut Vec<HostPath>,
) -> Vec<(OsString, String)> {
    let mut skipped = Vec::new();
    let mut found: Vec<HostPath> = Vec::new();
    let inside = |p: &Path| roots.iter().any(|r| p.starts_with(r));
    for a in args {
        let Some((real, node)) = &a.found else {
            continue;
        };
        if inside(real) {
            continue;
        }
        if let Err(reason) = arg_bindable(real, host) {
            // A file to be created is looked for as its directory: say so.
            let reason = if a.candidate.path.parent() == Some(real.as_path()) {
                format!(
                    "it does not exist, and its directory {} is not mounted: {reason}",
                    real.display()
                )
            } else {
                reason
            };
            skipped.push((a.candidate.word.clone(), reason));
            continue;
        }
        let rw = a.candidate.rw;
        match found.iter_mut().find(|(p, _, _)| p == real) {
            Some(f) => f.2 &= !rw,
            None => found.push((real.clone(), *node, !rw)),
        }
    }
    // Shallow first, so a deeper path is dropped when a kept one covers it.
    found.sort_by_key(|(p, _, _)| p.components().count());
    let mut kept: Vec<HostPath> = Vec::new();
    for (path, node, readonly) in found {
        let covered = user
            .iter()
            .chain(kept.iter())
            .any(|(p, _, ro)| path.starts_with(p) && (!*ro || readonly));
        if !covered {
            kept.push((path, node, readonly));
        }
    }
    user.extend(kept);
    skipped
}

#[cfg(test)]
#[path = "binds_tests.rs"]
mod tests;
