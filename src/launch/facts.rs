//! The facts of one launch: everything the planner needs from the host and the image,
//! gathered before anything is planned, so the planner ([`super::plan`]) does no I/O
//! and its tests need no files.
//!
//! [`gather`] reads the few host files a plan embeds, finds the workspace, and looks at
//! each host path the recipe or the command line may bring in (does it exist, what is
//! it, where does it really lead). [`probe_image`] then looks at the image for the
//! mountpoints of the plan's binds. All of it is a few dozen `lstat`-class calls:
//! this is the hot path of every shim call.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::args::Candidate;
use super::git::GitFacts;
use super::gpg::GpgFacts;
use super::homefiles::HomeFile;
use super::host::Host;
use super::workspace::Workspace;
use crate::image::store::ImageConfig;
use crate::recipe::Recipe;
use crate::runtime::spec::{Node, Plan};

/// The installed tool a launch is for and where its layers are.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The recipe (mounts, env).
    pub recipe: &'a Recipe,
    /// The image's runtime config.
    pub config: &'a ImageConfig,
    /// Read-only layers, top first.
    pub lower: Vec<PathBuf>,
    /// Host directory for the scratch tmpfs.
    pub scratch: PathBuf,
    /// What makes jig's shims work inside (None: they are not offered).
    pub nest: Option<Nest>,
    /// jig's own directories ([`crate::base::paths::Dirs::private`]): never bound through a
    /// `.git` file or a `from_env` variable.
    pub jig_dirs: Vec<PathBuf>,
}

/// jig itself, for shims called inside a container: the binary, jig's data directory
/// and the user's global `jig.toml` are bound read-only at their own paths, the shim
/// directory goes on PATH after the image's own directories, `JIG_HOME` names the data
/// directory and `JIG_CONFIG_DIR` the global pins' directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nest {
    /// The jig executable the shims point at.
    pub jig: PathBuf,
    /// jig's data directory (installed index, shims, store).
    pub data: PathBuf,
    /// The shim directory.
    pub shims: PathBuf,
    /// The directory of the user's global `jig.toml` and of `config.toml`.
    pub config: Option<PathBuf>,
    /// Whether that `jig.toml` (global version pins) exists.
    pub pins: bool,
}

/// What to run: a command name with its arguments, and the argv[0] to show it.
#[derive(Debug, Clone)]
pub struct Command {
    /// Command name or path inside the image.
    pub program: OsString,
    /// argv[0] as the tool will see it (the name the user typed).
    pub argv0: OsString,
    /// Arguments after argv[0].
    pub args: Vec<OsString>,
}

/// The contents of the files a plan embeds: the image's and the host's.
#[derive(Debug, Clone, Default)]
pub struct Embedded {
    /// The image's /etc/passwd, if any.
    pub passwd: Option<Vec<u8>>,
    /// The image's /etc/group, if any.
    pub group: Option<Vec<u8>>,
    /// The host's /etc/resolv.conf.
    pub resolv_conf: Option<Vec<u8>>,
    /// The host's /etc/hosts.
    pub hosts: Option<Vec<u8>>,
    /// Shells that exist in the image, to choose the user's login shell.
    pub shells_present: Vec<PathBuf>,
    /// The host's X cookie file, for recipes with `x11 = true`.
    pub xauthority: Option<Vec<u8>>,
}

/// The display server's sockets, looked at only for recipes that ask for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Display {
    /// `/tmp/.X11-unix` is a directory.
    pub x11_sockets: bool,
    /// The Wayland socket `WAYLAND_DISPLAY` names exists.
    pub wayland_socket: bool,
}

/// A path a `from_env` variable names, and where it really leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvPath {
    /// The variable's value.
    pub path: PathBuf,
    /// Its real path (symlinks resolved) and what is there; None when nothing is.
    pub real: Option<(PathBuf, Node)>,
}

/// A word of the command line that may name a path (see [`super::args`]), and what
/// is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgPath {
    /// The candidate as the command line gave it.
    pub candidate: Candidate,
    /// The real path to bind and its kind: the path itself when it exists, its
    /// directory when a read-write argument names a file to be created. None when
    /// nothing is there, or when the word is inside the workspace as written (not
    /// looked at).
    pub found: Option<(PathBuf, Node)>,
}

/// Everything the planner needs to know about the host and the image.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The caller.
    pub host: Host,
    /// How many jig launches enclose this one.
    pub depth: u32,
    /// Files the plan embeds.
    pub embedded: Embedded,
    /// The workspace the launch mounts.
    pub workspace: Workspace,
    /// The recipe's home paths that exist on the host (relative to `$HOME`), and what
    /// each is. Missing ones are absent: they are skipped, never created.
    pub home: BTreeMap<String, Node>,
    /// The recipe's read-write home paths that are files or missing, for staging.
    pub home_files: BTreeMap<String, HomeFile>,
    /// What git's configuration and repository name (`[mounts] git_config`).
    pub git: Option<GitFacts>,
    /// The GnuPG agent's socket and public keyring (`[mounts] gpg`).
    pub gpg: Option<GpgFacts>,
    /// The recipe's `from_env` variables that are set, by name.
    pub from_env: BTreeMap<String, EnvPath>,
    /// The host CA bundle exists ([`HOST_CA_BUNDLE`]).
    pub ca_bundle: bool,
    /// The command line's path candidates, in order.
    pub args: Vec<ArgPath>,
    /// The display server's sockets.
    pub display: Display,
    /// Absolute editor paths (`EDITOR=/usr/bin/vim`) the image lacks while a shim of
    /// their file name exists: the planner passes the bare name instead.
    pub editor_shims: BTreeSet<String>,
    /// The host's local time and the zone `TZ` names.
    pub localtime: super::localtime::LocalTime,
}

/// The CA bundle Debian, Ubuntu, Alpine and Arch keep (the path `update-ca-certificates`
/// writes, and the one most TLS libraries read by default).
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Variables naming the editor a tool starts (git, crontab, less).
pub const EDITOR_VARS: &[&str] = &["GIT_EDITOR", "VISUAL", "EDITOR"];

/// The command name of an editor variable's value when it is an absolute path of one
/// word (`/usr/bin/vim` → `vim`); None for a bare name or a command line.
pub fn editor_name(value: &str) -> Option<&str> {
    if !value.starts_with('/') || value.contains(char::is_whitespace) {
        return None;
    }
    Path::new(value).file_name()?.to_str()
}

/// What `path` is, following symlinks: a directory or something else; None when it
/// does not exist.
fn kind(path: &Path) -> Option<Node> {
    std::fs::metadata(path)
        .ok()
        .map(|m| if m.is_dir() { Node::Dir } else { Node::File })
}

/// Gathers the facts of launching `cmd` for `target` as `host`, `depth` launches deep.
pub fn gather(target: &Target, host: Host, cmd: &Command, depth: u32) -> Facts {
    let recipe = target.recipe;
    let embedded = embedded(target.lower.first().map(PathBuf::as_path), &host, recipe);
    let workspace = super::workspace::find(
        &host.cwd,
        &host.home,
        &recipe.mounts.markers,
        (depth > 0)
            .then(|| host.var(crate::base::nest::ENV_WORKSPACE))
            .flatten()
            .map(OsString::as_os_str),
        || crate::base::config::load().is_ok_and(|c| c.workspace_allow_home),
        &|p| super::bindable::linked_bindable(p, &host, &target.jig_dirs),
    );
    let home = recipe
        .mounts
        .home
        .iter()
        .chain(&recipe.mounts.home_rw)
        .filter_map(|rel| {
            Some((
                rel.as_str().to_owned(),
                kind(&host.home.join(rel.as_str()))?,
            ))
        })
        .collect();
    let home_files = super::homefiles::gather(&host.home, &recipe.mounts.home_rw);
    let git = recipe
        .mounts
        .git_config
        .then(|| super::git::gather(&host, &workspace, &home_files, &target.jig_dirs));
    let gpg = recipe.mounts.gpg.then(|| super::gpg::gather(&host));
    let from_env = recipe
        .mounts
        .from_env
        .iter()
        .filter_map(|var| {
            let path = PathBuf::from(host.var(var.as_str())?);
            let real = std::fs::canonicalize(&path)
                .ok()
                .and_then(|r| Some((r.clone(), kind(&r)?)));
            Some((var.as_str().to_owned(), EnvPath { path, real }))
        })
        .collect();
    let roots = workspace.roots();
    let args = super::args::candidates(
        &cmd.args,
        &host.cwd,
        recipe.mounts.args,
        &recipe.mounts.args_rw,
    )
    .into_iter()
    .map(|c| {
        // Lexically inside the workspace: nothing to look up (most arguments).
        let found = if roots.iter().any(|r| c.path.starts_with(r)) {
            None
        } else {
            arg_target(&c)
        };
        ArgPath {
            candidate: c,
            found,
        }
    })
    .collect();
    let display = Display {
        x11_sockets: recipe.x11 && Path::new("/tmp/.X11-unix").is_dir(),
        wayland_socket: recipe.wayland
            && super::display::wayland_socket(&host).is_some_and(|s| s.exists()),
    };
    let editor_shims = match (&target.nest, target.lower.as_slice()) {
        (Some(nest), [lower]) => editor_shims(recipe, &host, lower, &nest.shims),
        _ => BTreeSet::new(),
    };
    let localtime = super::localtime::probe(host.var("TZ").map(OsString::as_os_str));
    Facts {
        ca_bundle: recipe.mounts.host_ca && Path::new(HOST_CA_BUNDLE).is_file(),
        host,
        depth,
        embedded,
        workspace,
        home,
        home_files,
        git,
        gpg,
        from_env,
        args,
        display,
        editor_shims,
        localtime,
    }
}

/// What a path argument leads to: the existing path, resolved, or the directory of a
/// file a read-write argument is to create.
fn arg_target(c: &Candidate) -> Option<(PathBuf, Node)> {
    match kind(&c.path) {
        Some(node) => Some((std::fs::canonicalize(&c.path).ok()?, node)),
        // To be created: the directory it goes in, if that exists.
        None if c.rw => {
            let dir = std::fs::canonicalize(c.path.parent()?).ok()?;
            dir.is_dir().then_some((dir, Node::Dir))
        }
        // Nothing there to read (or not a path at all: a branch name, a word).
        None => None,
    }
}

/// Reads the files a plan for `recipe` embeds from the image root and the host.
fn embedded(rootfs: Option<&Path>, host: &Host, recipe: &Recipe) -> Embedded {
    let read = |p: PathBuf| std::fs::read(p).ok();
    let mut shells_present = Vec::new();
    let mut candidates = vec![PathBuf::from("/bin/sh")];
    if let Some(s) = &host.shell {
        candidates.insert(0, s.clone());
    }
    if let Some(rootfs) = rootfs {
        for s in candidates {
            // A shell counts if it exists in the image (possibly as a symlink).
            if let Ok(rel) = s.strip_prefix("/")
                && std::fs::symlink_metadata(rootfs.join(rel)).is_ok()
            {
                shells_present.push(s);
            }
        }
    }
    Embedded {
        passwd: rootfs.and_then(|r| read(r.join("etc/passwd"))),
        group: rootfs.and_then(|r| read(r.join("etc/group"))),
        resolv_conf: read(PathBuf::from("/etc/resolv.conf")),
        hosts: read(PathBuf::from("/etc/hosts")),
        shells_present,
        xauthority: if recipe.x11 {
            read(super::display::xauthority_path(host))
        } else {
            None
        },
    }
}

/// Absolute editor paths, from the host's variables and the recipe's `set`, that the
/// image `lower` lacks while the shim directory has a shim of their file name.
fn editor_shims(recipe: &Recipe, host: &Host, lower: &Path, shims: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for var in EDITOR_VARS {
        let values = host.var(var).and_then(|v| v.to_str()).into_iter().chain(
            recipe
                .env
                .set
                .iter()
                .find(|(k, _)| k.as_str() == *var)
                .map(|(_, v)| v.as_str()),
        );
        for value in values {
            let Some(name) = editor_name(value) else {
                continue;
            };
            let missing = std::fs::symlink_metadata(lower.join(&value[1..])).is_err();
            if missing && std::fs::symlink_metadata(shims.join(name)).is_ok() {
                out.insert(value.to_owned());
            }
        }
    }
    out
}

/// What a path is in the image (the read-only lower layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InImage {
    /// Absent.
    Missing,
    /// A directory, with its permission bits.
    Dir(u32),
    /// A regular file.
    File,
    /// Anything else: a symlink, a device, a socket.
    Other,
}

/// What the image holds on the way to each mountpoint of a plan's binds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes {
    seen: BTreeMap<PathBuf, InImage>,
}

impl Probes {
    /// Probes made elsewhere (tests).
    #[cfg(test)]
    pub fn from_map(seen: BTreeMap<PathBuf, InImage>) -> Probes {
        Probes { seen }
    }

    /// What `path` is in the image. Below a missing path everything is missing; a path
    /// never probed counts as something in the way (the executor resolves it).
    pub fn get(&self, path: &Path) -> InImage {
        if let Some(k) = self.seen.get(path) {
            return *k;
        }
        if path
            .ancestors()
            .skip(1)
            .any(|a| self.seen.get(a) == Some(&InImage::Missing))
        {
            return InImage::Missing;
        }
        InImage::Other
    }
}

/// Looks at the image (a single layer) for every directory on the way to each
/// mountpoint of `plan`'s binds that the launch has not made itself, from the top down
/// to the first one that is missing (everything below it is missing too).
pub fn probe_image(plan: &Plan) -> Probes {
    let mut seen = BTreeMap::new();
    let [lower] = plan.lower.as_slice() else {
        return Probes { seen };
    };
    let made = |p: &Path| {
        plan.dirs.iter().any(|(d, _)| d == p)
            || plan.files.iter().any(|f| f.dst == p)
            || plan.links.iter().any(|(l, _)| l == p)
    };
    for b in &plan.binds {
        if made(&b.dst) {
            continue;
        }
        let chain: Vec<&Path> = b.dst.ancestors().collect();
        for p in chain.into_iter().rev().skip(1) {
            if made(p) {
                continue;
            }
            let k = *seen
                .entry(p.to_path_buf())
                .or_insert_with(|| in_image(lower, p));
            if k == InImage::Missing {
                break;
            }
        }
    }
    Probes { seen }
}

/// What `path` (a path inside the container) is in the image rooted at `lower`.
fn in_image(lower: &Path, path: &Path) -> InImage {
    use std::os::unix::fs::PermissionsExt;
    let host = lower.join(path.strip_prefix("/").unwrap_or(path));
    match std::fs::symlink_metadata(host) {
        Ok(m) if m.is_dir() => InImage::Dir(m.permissions().mode() & 0o7777),
        Ok(m) if m.is_file() => InImage::File,
        Ok(_) => InImage::Other,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => InImage::Missing,
        Err(_) => InImage::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::spec::Bind;

    #[test]
    fn probes_stop_at_the_first_missing_directory_and_skip_what_the_launch_made() {
        let t = tempfile::tempdir().unwrap();
        let lower = t.path();
        std::fs::create_dir_all(lower.join("usr/share")).unwrap();
        std::fs::write(lower.join("usr/share/f"), "").unwrap();
        let bind = |p: &str, node| Bind {
            src: p.into(),
            dst: p.into(),
            node,
            readonly: false,
        };
        let plan = Plan {
            uid: 1,
            gid: 1,
            lower: vec![lower.to_owned()],
            scratch: "/s".into(),
            files: vec![],
            dirs: vec![("/made".into(), 0o755)],
            links: vec![],
            devpts: None,
            binds: vec![
                bind("/usr/share/f", Node::File),
                bind("/work/a/b/c", Node::Dir),
                bind("/made/x", Node::Dir),
            ],
            saved: vec![],
            confine: crate::launch::plan::confine(1, false),
            cwd: "/".into(),
            exec: crate::runtime::spec::Exec {
                program: "x".into(),
                argv: vec![],
                env: vec![],
                search_path: "".into(),
            },
        };
        let p = probe_image(&plan);
        let probed: Vec<_> = p.seen.keys().map(|k| k.to_str().unwrap()).collect();
        assert_eq!(
            probed,
            ["/made/x", "/usr", "/usr/share", "/usr/share/f", "/work"]
        );
        assert_eq!(p.get(Path::new("/usr/share")), InImage::Dir(0o755));
        assert_eq!(p.get(Path::new("/work/a/b")), InImage::Missing);
        assert_eq!(p.get(Path::new("/elsewhere")), InImage::Other);
    }
}
