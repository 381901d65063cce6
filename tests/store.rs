//! The image store under load and faults: `gc` beside installs, first runs and running
//! tools; `kill -9` at many points of an install, a build and a pull; concurrent first
//! uses; damaged state files; `jig verify`; a full disk; a Debian build killed while
//! it extracts and while dpkg runs. Once per identity (see `common`).

mod common;

#[path = "store/damage.rs"]
mod damage;
#[path = "store/debian.rs"]
mod debian;
#[path = "store/faults.rs"]
mod faults;
#[path = "store/gc.rs"]
mod gc;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// A copy of the fixture's busybox root in `dir` with `/marker` holding `marker` and an
/// executable `/bin/NAME` for each of `commands` (a script printing the marker), which
/// every identity can read.
pub fn rootfs_with(dir: &Path, marker: &str, commands: &[&str]) -> PathBuf {
    let root = dir.to_owned();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&fixture().rootfs)
        .arg(&root)
        .status()
        .unwrap();
    assert!(cp.success());
    fs::write(root.join("marker"), format!("{marker}\n")).unwrap();
    for c in commands {
        let p = root.join("bin").join(c);
        fs::write(&p, "#!/bin/sh\ncat /marker\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(&root)
        .status();
    root
}

/// Writes `NAME.toml` (version 1) into the env's directory: an image from `rootfs`
/// with the extra `[image]` lines `image`, exporting `shims`, then `rest`.
pub fn recipe(
    env: &Env,
    name: &str,
    rootfs: &Path,
    image: &str,
    shims: &[&str],
    rest: &str,
) -> PathBuf {
    let shims: Vec<String> = shims.iter().map(|s| format!("\"{s}\"")).collect();
    let text = format!(
        "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:{}\"\n{image}\n[tool]\nshims = [{}]\n{rest}\n",
        rootfs.display(),
        shims.join(", ")
    );
    let path = env.dir().join(format!("{name}.toml"));
    env.write(&path, text);
    path
}

/// The store of an environment.
pub fn store(env: &Env) -> PathBuf {
    env.jig_home().join("store")
}

/// The names in `store/tmp`.
pub fn tmp_entries(env: &Env) -> Vec<String> {
    fs::read_dir(store(env).join("tmp"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Processes started for `env` by a jig: those with its `JIG_HOME` in their
/// environment (jig and the children it forks), or `mark` in their command line
/// (what a build step runs, with an environment of its own).
pub fn processes_of(env: &Env, mark: &str) -> Vec<String> {
    let home = format!("JIG_HOME={}", env.jig_home().display());
    let mut out = Vec::new();
    for p in fs::read_dir("/proc").unwrap().flatten() {
        let name = p.file_name().to_string_lossy().into_owned();
        if name.parse::<u32>().is_err() || name == std::process::id().to_string() {
            continue;
        }
        let stat = fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        if stat.contains(") Z ") {
            continue;
        }
        let environ = fs::read(p.path().join("environ")).unwrap_or_default();
        let cmdline = fs::read(p.path().join("cmdline")).unwrap_or_default();
        let has = |hay: &[u8], needle: &[u8]| {
            !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
        };
        let in_env = environ.split(|&b| b == 0).any(|v| v == home.as_bytes());
        if in_env || has(&cmdline, mark.as_bytes()) {
            out.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            ));
        }
    }
    out
}

/// (pid, session id) of every process.
fn sessions() -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    for p in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = p.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = fs::read_to_string(p.path().join("stat")).unwrap_or_default();
        // After the command name in parentheses: state ppid pgrp session ...
        let Some(rest) = stat.rsplit_once(") ").map(|(_, r)| r) else {
            continue;
        };
        if rest.starts_with('Z') {
            continue;
        }
        if let Some(sid) = rest.split(' ').nth(3).and_then(|s| s.parse().ok()) {
            out.push((pid, sid));
        }
    }
    out
}

/// The sessions jig's build children of `env` lead now (a build step's supervisor
/// is a forked jig that starts a session; what the step runs stays in it, with an
/// environment of its own).
pub fn build_sessions(env: &Env) -> Vec<u32> {
    let mine: Vec<u32> = processes_of(env, "")
        .iter()
        .filter_map(|p| p.split(':').next()?.parse().ok())
        .collect();
    sessions()
        .into_iter()
        .filter(|(pid, sid)| pid == sid && mine.contains(pid))
        .map(|(pid, _)| pid)
        .collect()
}

/// Waits up to 5 s for every process of `env` (see [`processes_of`]) and of the
/// sessions `led` to be gone.
pub fn assert_no_process_left(env: &Env, mark: &str, led: &[u32], what: &str) {
    let left = || {
        let mut p = processes_of(env, mark);
        for (pid, sid) in sessions() {
            if led.contains(&sid) {
                p.push(format!("{pid} (in build session {sid})"));
            }
        }
        p
    };
    let gone = poll(Duration::from_secs(5), || left().is_empty().then_some(()));
    assert!(
        gone.is_some(),
        "{} {what}: processes outlived the killed jig: {:?}",
        env.label(),
        left()
    );
}

/// A unique marker for command lines.
pub fn mark(tag: &str) -> String {
    format!(
        "jig-store-test-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    )
}
