//! Fixtures for the planner's tests: a recipe, a caller, and facts built in memory
//! (no file is read: a plan depends on the facts alone).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use crate::image::store::ImageConfig;
use crate::launch::facts::{Command, Display, Embedded, Facts, Nest, Target};
use crate::launch::host::Host;
use crate::launch::workspace::{Reason, Workspace};
use crate::recipe::{self, Recipe};
use crate::runtime::spec::Plan;

/// A recipe with home paths, a pass glob and set values.
pub fn recipe() -> Recipe {
    recipe::parse(
        r#"
name = "bb"
version = "1"
[image]
from = "rootfs:r"
[tool]
shims = ["sh"]
[mounts]
home = [".bbrc", ".missing"]
home_rw = [".bbcache"]
[env]
pass = ["BB_*"]
set = { BB_MODE = "test", TERM = "dumb-override" }
"#,
        "t.toml",
    )
    .unwrap()
}

/// Alice, uid 1234, with a few variables.
pub fn host(home: &str, cwd: &str) -> Host {
    Host {
        uid: 1234,
        gid: 1235,
        user: "alice".into(),
        group: Some("staff".into()),
        home: home.into(),
        shell: Some("/bin/bash".into()),
        cwd: cwd.into(),
        env: [
            ("TERM", "xterm"),
            ("LC_ALL", "C.UTF-8"),
            ("BB_X", "1"),
            ("SECRET", "no"),
            ("PATH", "/host/bin"),
            ("HOME", "/ignored"),
        ]
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect(),
    }
}

/// The facts of a launch from `cwd`, which is the workspace (no marker), with nothing
/// of the recipe present on the host.
pub fn facts(home: &str, cwd: &str) -> Facts {
    facts_for(host(home, cwd))
}

/// The same for another caller.
pub fn facts_for(host: Host) -> Facts {
    Facts {
        depth: 0,
        embedded: Embedded::default(),
        workspace: Workspace {
            root: host.cwd.clone(),
            why: Reason::NoMarker,
            inherited: None,
            git: None,
        },
        home: BTreeMap::new(),
        home_files: BTreeMap::new(),
        git: None,
        gpg: None,
        from_env: BTreeMap::new(),
        ca_bundle: false,
        args: Vec::new(),
        display: Display::default(),
        editor_shims: Default::default(),
        localtime: Default::default(),
        host,
    }
}

static EMPTY_CONFIG: LazyLock<ImageConfig> = LazyLock::new(ImageConfig::default);

/// The target of a launch of `r` from an image at /store/images/x/rootfs.
pub fn target(r: &Recipe, nest: Option<Nest>) -> Target<'_> {
    Target {
        recipe: r,
        config: &EMPTY_CONFIG,
        lower: vec![PathBuf::from("/store/images/x/rootfs")],
        scratch: PathBuf::from("/store/run"),
        nest,
        jig_dirs: vec![],
    }
}

/// `sh -c true`.
pub fn cmd() -> Command {
    with_args(&["-c", "true"])
}

/// `sh ARGS`.
pub fn with_args(args: &[&str]) -> Command {
    Command {
        program: "sh".into(),
        argv0: "sh".into(),
        args: args.iter().map(OsString::from).collect(),
    }
}

/// The plan's environment as a map.
pub fn env_of(plan: &Plan) -> BTreeMap<String, String> {
    plan.exec
        .env
        .iter()
        .map(|e| {
            let (k, v) = e.to_str().unwrap().split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// The host binds (not /proc, not /dev) as (source, read-only).
pub fn host_binds(plan: &Plan) -> Vec<(PathBuf, bool)> {
    plan.binds
        .iter()
        .filter(|b| !b.src.starts_with("/dev") && !b.src.starts_with("/proc"))
        .map(|b| (b.src.clone(), b.readonly))
        .collect()
}

/// A path as a PathBuf, for comparisons.
pub fn p(s: &str) -> PathBuf {
    Path::new(s).to_owned()
}
