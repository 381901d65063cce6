//! Attacks on jig's containment, each beside a positive control: the same recipe still
//! runs and does its normal work, so a refusal proves the wall, not a broken tool.
//! SECURITY.md lists what each test shows. Every attack runs once per identity (root
//! and the unprivileged test user, see `common`).
//!
//! Most attacks are made by `probe` (tests/containment/probe.c), a small static program
//! compiled once per test process and put into a busybox image.

mod common;

#[path = "containment/build.rs"]
mod build;
#[path = "containment/cache.rs"]
mod cache;
#[path = "containment/dockerfile.rs"]
mod dockerfile;
#[path = "containment/gitconfig.rs"]
mod gitconfig;
#[path = "containment/gitdir.rs"]
mod gitdir;
#[path = "containment/launch.rs"]
mod launch;
#[path = "containment/sbom.rs"]
mod sbom;
#[path = "containment/shared.rs"]
mod shared;
#[path = "containment/terminal.rs"]
mod terminal;
#[path = "containment/triggers.rs"]
mod triggers;
#[path = "containment/unpack.rs"]
mod unpack;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// The probe, compiled statically into the fixture's base directory on first use.
pub fn probe() -> &'static Path {
    static PROBE: OnceLock<PathBuf> = OnceLock::new();
    PROBE.get_or_init(|| {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/containment/probe.c");
        let out = fixture().base.join("probe");
        let status = Command::new("cc")
            .args(["-static", "-O2", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .expect("cc (gcc) compiles the probe");
        assert!(status.success(), "compiling {}", src.display());
        out
    })
}

/// A busybox image with the probe at `/bin/probe` (and `/probe`), in a directory every
/// identity can read.
pub fn probe_image(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    build_busybox_rootfs(&root);
    fs::copy(probe(), root.join("bin/probe")).unwrap();
    std::os::unix::fs::symlink("bin/probe", root.join("probe")).unwrap();
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(&root)
        .status();
    root
}

/// Writes a recipe named `name` on `rootfs` that exports the shims `probe` and `sh`,
/// with the extra TOML `image` (lines of the `[image]` table) and `rest` (tables after
/// it), and returns its path.
pub fn probe_recipe(env: &Env, name: &str, rootfs: &Path, image: &str, rest: &str) -> PathBuf {
    let text = format!(
        "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:{}\"\n{image}\n[tool]\nshims = [\"probe\", \"sh\"]\n{rest}\n",
        rootfs.display()
    );
    let path = env.dir().join(format!("{name}.toml"));
    env.write(&path, text);
    path
}
