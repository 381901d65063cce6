//! The launch plan: everything a container start does, as plain data.
//!
//! [`build`] turns a recipe, its image and the host state into a [`Plan`]: the mounts
//! and files that make up the container's root, the working directory, the argv and
//! environment. Nothing here touches a namespace, so plans are unit-tested directly;
//! [`crate::runtime`] applies a plan with a short list of syscalls.
//!
//! Generated files go into the overlay's upper layer before anything is mounted.
//! Binds run in order and their targets are paths inside the container. The order is
//! part of the design: system binds (/proc, /dev) first, then host paths from shallow
//! to deep, so no mountpoint ever has to be created inside a directory that is bound
//! from the host (that would create it on the host).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use crate::image::store::ImageConfig;
use crate::launch::host::Host;
use crate::launch::workspace::{GitLink, Workspace};
use crate::recipe::{Recipe, glob_match};

/// What kind of node a bind mount needs as its mountpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A directory, bound with the mounts below it.
    Dir,
    /// A directory bound alone, without the mounts below it.
    DirAlone,
    /// A file (regular file, device, socket: anything but a directory).
    File,
}

/// A host path bound into the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// Host path.
    pub src: PathBuf,
    /// Path inside the container.
    pub dst: PathBuf,
    /// Node type of the mountpoint.
    pub node: Node,
    /// Remount read-only after binding.
    pub readonly: bool,
}

/// A file placed in the container's ephemeral layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Path inside the container.
    pub dst: PathBuf,
    /// File contents.
    pub contents: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// The program to execute, after the root is in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    /// Command name (searched in `search_path`) or a path inside the image.
    pub program: OsString,
    /// Full argv, argv[0] included.
    pub argv: Vec<OsString>,
    /// `KEY=VALUE` entries, sorted by key.
    pub env: Vec<OsString>,
    /// Colon-separated directories searched for `program` when it has no `/`.
    pub search_path: OsString,
}

/// A complete launch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Host uid, mapped to itself.
    pub uid: u32,
    /// Host gid, mapped to itself.
    pub gid: u32,
    /// Read-only lower layers, top first (the image's rootfs).
    pub lower: Vec<PathBuf>,
    /// Host directory the per-launch scratch tmpfs (overlay upper/work) is mounted on.
    pub scratch: PathBuf,
    /// Generated files (passwd, group, resolv.conf, hosts). They are written into the
    /// overlay's upper directory before the overlay is mounted: plain tmpfs writes, no
    /// copy-up.
    pub files: Vec<File>,
    /// Directories created in the ephemeral layer the same way, with their modes: the
    /// mountpoints and directories every container has (/proc, /dev, /dev/pts,
    /// /dev/shm, /tmp) and the user's home, so `cd ~` works and tools can keep caches
    /// there for the length of the run.
    pub dirs: Vec<(PathBuf, u32)>,
    /// Symlinks created in the ephemeral layer (`/dev/fd`, `/dev/stdin`, ...), as
    /// (path, target).
    pub links: Vec<(PathBuf, PathBuf)>,
    /// Where the launch's own devpts instance is mounted, before the binds: the ptys a
    /// tool opens (`/dev/ptmx` links to its `ptmx`) live there, and the host's
    /// terminals are not in it. The caller's terminal stays the tool's fds 0-2 and
    /// `/dev/tty`.
    pub devpts: Option<PathBuf>,
    /// Bind mounts, applied in order after the overlay is mounted.
    pub binds: Vec<Bind>,
    /// What confines the tool beyond its mounts, applied right before `execve`.
    pub confine: Confine,
    /// The workspace mounted read-write around the cwd.
    pub workspace: Workspace,
    /// Arguments that named a path jig would not mount, with the reason (printed as
    /// `jig: NAME: not mounting ARG: REASON`).
    pub skipped: Vec<(OsString, String)>,
    /// Working directory inside (the host cwd, same path).
    pub cwd: PathBuf,
    /// What to execute.
    pub exec: Exec,
}

/// Restrictions on the tool's process itself, beyond what its mount namespace shows.
/// The terminal filter ([`crate::runtime::seccomp`]) is not listed: every launch has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confine {
    /// Capabilities removed from the bounding set, so a tool that runs as uid 0 (the
    /// caller is root) does not keep them across `execve`: with `CAP_SYS_ADMIN` it
    /// could unmount the container's root or remount a read-only bind read-write.
    pub drop_caps: Vec<u32>,
    /// Landlock scopes: no signals to processes outside the tool's domain...
    pub scope_signals: bool,
    /// ...and no connections to abstract unix sockets made outside it.
    pub scope_abstract_sockets: bool,
}

/// `CAP_SYS_ADMIN` and `CAP_SYS_CHROOT` (linux/capability.h): the capabilities behind
/// mount, umount2, pivot_root and setns(CLONE_NEWNS).
pub const ROOT_DROPPED_CAPS: [u32; 2] = [21, 18];

impl Confine {
    /// The confinement of a launch for `uid` (the caller's uid, which the tool keeps).
    /// An X11 tool keeps abstract sockets: libxcb connects to the X server's abstract
    /// socket first and gives up, without trying the bound socket path, when that
    /// fails with anything but "not there".
    pub fn for_launch(uid: u32, x11: bool) -> Confine {
        Confine {
            drop_caps: if uid == 0 {
                ROOT_DROPPED_CAPS.to_vec()
            } else {
                Vec::new()
            },
            scope_signals: true,
            scope_abstract_sockets: !x11,
        }
    }
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

/// Inputs to [`build`] that come from files: the image and host files the plan embeds.
#[derive(Debug, Clone, Default)]
pub struct Files {
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

impl Files {
    /// Reads the files a plan for `recipe` needs from the image root and the host.
    pub fn read(rootfs: &Path, host: &Host, recipe: &Recipe) -> Files {
        let read = |p: PathBuf| std::fs::read(p).ok();
        let mut shells_present = Vec::new();
        let mut candidates = vec![PathBuf::from("/bin/sh")];
        if let Some(s) = &host.shell {
            candidates.insert(0, s.clone());
        }
        for s in candidates {
            // A shell counts if it exists in the image (possibly as a symlink).
            if let Ok(rel) = s.strip_prefix("/")
                && std::fs::symlink_metadata(rootfs.join(rel)).is_ok()
            {
                shells_present.push(s);
            }
        }
        Files {
            passwd: read(rootfs.join("etc/passwd")),
            group: read(rootfs.join("etc/group")),
            resolv_conf: read(PathBuf::from("/etc/resolv.conf")),
            hosts: read(PathBuf::from("/etc/hosts")),
            shells_present,
            xauthority: if recipe.x11 {
                read(crate::launch::display::xauthority_path(host))
            } else {
                None
            },
        }
    }
}

/// Host variables every tool receives, as a native one would.
pub const DEFAULT_PASS: &[&str] = &[
    "TERM",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    "NO_COLOR",
];

/// Variables jig sets itself; a `pass` glob never copies these from the host.
const RESERVED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    "JIG_DEPTH",
    "JIG_HOME",
    crate::base::config::ENV_CONFIG_DIR,
    crate::launch::workspace::ENV_WORKSPACE,
];

/// Paths under which the cwd is never bound (the container has its own).
const SYSTEM_DIRS: &[&str] = &["/proc", "/sys", "/dev"];

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

/// Builds the launch plan. `depth` is the number of jig launches around this one.
pub fn build(target: &Target, host: &Host, image: &Files, cmd: Command, depth: u32) -> Plan {
    let recipe = target.recipe;
    let mut binds = system_binds();
    let mut files = Vec::new();

    // Identity: the image's users plus the caller, same name, ids and home.
    let shell = image
        .shells_present
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/bin/sh"));
    files.push(File {
        dst: "/etc/passwd".into(),
        contents: passwd(image.passwd.as_deref(), host, &shell),
        mode: 0o644,
    });
    files.push(File {
        dst: "/etc/group".into(),
        contents: group(image.group.as_deref(), host),
        mode: 0o644,
    });
    // Copied rather than bound: a few bytes written into the ephemeral layer cost less
    // than a bind plus a read-only remount, and the tool cannot change the host's.
    for (dst, contents) in [
        ("/etc/resolv.conf", &image.resolv_conf),
        ("/etc/hosts", &image.hosts),
    ] {
        if let Some(c) = contents {
            files.push(File {
                dst: dst.into(),
                contents: c.clone(),
                mode: 0o644,
            });
        }
    }

    // The skeleton every container has: mountpoints for /proc and the device nodes,
    // /dev/pts, /dev/shm, /tmp and the /dev/fd links. Made in the upper layer at each
    // launch (a few tmpfs operations) rather than kept as an extra overlay layer, which
    // every path lookup in the container would have to pass through.
    let mut dirs: Vec<(PathBuf, u32)> = [
        ("/proc", 0o755),
        ("/dev", 0o755),
        ("/dev/pts", 0o755),
        ("/dev/shm", 0o1777),
        ("/tmp", 0o1777),
    ]
    .iter()
    .map(|(p, m)| (PathBuf::from(p), *m))
    .collect();
    for dev in DEVICES {
        files.push(File {
            dst: format!("/dev/{dev}").into(),
            contents: Vec::new(),
            mode: 0o644,
        });
    }
    let links = [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ]
    .iter()
    .map(|(p, t)| (PathBuf::from(p), PathBuf::from(t)))
    .collect();
    let mut session = crate::launch::display::Session::default();
    for s in [
        recipe
            .x11
            .then(|| crate::launch::display::x11(host, image.xauthority.as_deref())),
        recipe
            .wayland
            .then(|| crate::launch::display::wayland(host)),
    ]
    .into_iter()
    .flatten()
    {
        session.binds.extend(s.binds);
        session.files.extend(s.files);
        session.dirs.extend(s.dirs);
        session.env.extend(s.env);
    }
    files.extend(session.files);
    dirs.extend(session.dirs.into_iter().map(|d| (d, 0o700)));
    if host.home.is_absolute() && host.home != Path::new("/") && !host.cwd.starts_with(&host.home) {
        dirs.push((host.home.clone(), 0o700));
    }

    // Host binds, shallow to deep (see the module docs for why).
    let mut user: Vec<(PathBuf, Node, bool)> = Vec::new();
    let workspace = crate::launch::workspace::find(
        &host.cwd,
        &host.home,
        &recipe.mounts.markers,
        (depth > 0)
            .then(|| host.var(crate::launch::workspace::ENV_WORKSPACE))
            .flatten()
            .map(OsString::as_os_str),
        || crate::base::config::load().is_ok_and(|c| c.workspace_allow_home),
        &|p| linked_bindable(p, host, &target.jig_dirs),
    );
    let roots: Vec<&Path> = [
        Some(workspace.root.as_path()),
        workspace.inherited.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|r| {
        !r.as_os_str().is_empty()
            && *r != Path::new("/")
            && !SYSTEM_DIRS.iter().any(|d| r.starts_with(d))
    })
    .collect();
    for root in &roots {
        user.push((root.to_path_buf(), Node::Dir, false));
    }
    let mut skipped = Vec::new();
    match &workspace.git {
        Some(GitLink::Mounted(git)) if !roots.iter().any(|r| git.starts_with(r)) => {
            user.push((git.clone(), Node::Dir, false));
        }
        Some(GitLink::Refused { gitdir, reason }) => {
            let what = format!(
                "{} (the gitdir of {})",
                gitdir.display(),
                workspace.root.join(".git").display()
            );
            skipped.push((what.into(), reason.clone()));
        }
        _ => {}
    }
    let home_paths = recipe
        .mounts
        .home
        .iter()
        .map(|p| (p, true))
        .chain(recipe.mounts.home_rw.iter().map(|p| (p, false)));
    for (rel, readonly) in home_paths {
        let src = host.home.join(rel.as_str());
        // A missing host path is skipped, never created: creating it would leave an
        // empty directory where the user expects a file (whalebrew #38).
        let Ok(meta) = std::fs::metadata(&src) else {
            continue;
        };
        let node = if meta.is_dir() { Node::Dir } else { Node::File };
        user.push((src, node, readonly));
    }
    let mut ca_vars = Vec::new();
    if recipe.mounts.host_ca && Path::new(HOST_CA_BUNDLE).is_file() {
        user.push((HOST_CA_BUNDLE.into(), Node::File, true));
        for var in CA_VARS {
            if let Some(v) = host.var(var).filter(|v| *v == HOST_CA_BUNDLE) {
                ca_vars.push((var.to_string(), v.to_string_lossy().into_owned()));
            }
        }
    }
    for var in &recipe.mounts.from_env {
        let Some(path) = host.var(var.as_str()).map(PathBuf::from) else {
            continue;
        };
        // Judged as named and as the kernel will resolve it: a symlink must not lead
        // the bind where the name itself may not go.
        let judged = from_env_bindable(&path, host, &target.jig_dirs).and_then(|()| {
            match std::fs::canonicalize(&path) {
                Ok(real) if real != path => {
                    match from_env_bindable(&real, host, &target.jig_dirs) {
                        Ok(()) => Ok(Some(real)),
                        Err(why) => Err(format!("it leads to {}: {why}", real.display())),
                    }
                }
                Ok(real) => Ok(Some(real)),
                // Missing: nothing to bind, as for a missing home path.
                Err(_) => Ok(None),
            }
        });
        match judged {
            Ok(Some(real)) => {
                if let Ok(meta) = std::fs::metadata(&real) {
                    let node = if meta.is_dir() { Node::Dir } else { Node::File };
                    user.push((path, node, false));
                }
            }
            Ok(None) => {}
            Err(why) => skipped.push((format!("${var} ({})", path.display()).into(), why)),
        }
    }
    for b in session.binds {
        user.push((b.src, b.node, b.readonly));
    }
    let candidates = crate::launch::args::candidates(
        &cmd.args,
        &host.cwd,
        recipe.mounts.args,
        &recipe.mounts.args_rw,
    );
    skipped.extend(arg_binds(candidates, &roots, host, &mut user));
    let mut nest_env = Vec::new();
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
        nest_env.push(("JIG_HOME".to_owned(), nest.data.display().to_string()));
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
            let dir = config.display().to_string();
            nest_env.push((crate::base::config::ENV_CONFIG_DIR.to_owned(), dir));
        }
    }
    user.sort_by_key(|(p, _, _)| p.components().count());
    for (src, node, readonly) in user {
        binds.push(Bind {
            dst: src.clone(),
            src,
            node,
            readonly,
        });
    }

    session.env.extend(ca_vars);
    session.env.extend(nest_env);
    if let Some(root) = roots.first() {
        session.env.push((
            crate::launch::workspace::ENV_WORKSPACE.to_owned(),
            root.display().to_string(),
        ));
    }
    let mut env = environment(recipe, target.config, host, &shell, &session.env, depth);
    // The command itself is searched in the image only; what it runs may also find
    // jig's shims, after every directory of the image (the image's binaries win).
    let search_path = env
        .iter()
        .find_map(|e| e.as_bytes().strip_prefix(b"PATH="))
        .map(|p| OsStr::from_bytes(p).to_owned())
        .unwrap_or_default();
    if let Some(nest) = &target.nest {
        if let Some(path) = env.iter_mut().find(|e| e.as_bytes().starts_with(b"PATH=")) {
            path.push(":");
            path.push(&nest.shims);
        }
        if let Some(lower) = target.lower.first() {
            for e in env.iter_mut() {
                if let Some(v) = editor_via_shim(e, lower, &nest.shims) {
                    *e = v;
                }
            }
        }
    }
    let mut argv = vec![cmd.argv0];
    argv.extend(cmd.args);
    Plan {
        uid: host.uid,
        gid: host.gid,
        lower: target.lower.clone(),
        scratch: target.scratch.clone(),
        files,
        dirs,
        links,
        devpts: Some("/dev/pts".into()),
        binds,
        confine: Confine::for_launch(host.uid, recipe.x11),
        workspace,
        skipped,
        cwd: host.cwd.clone(),
        exec: Exec {
            program: cmd.program,
            argv,
            env,
            search_path,
        },
    }
}

/// Device nodes bound from the host into the minimal /dev. `/dev/tty` is the process's
/// controlling terminal, whatever namespace opens it: the caller's own terminal.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// The CA bundle Debian, Ubuntu, Alpine and Arch keep (the path `update-ca-certificates`
/// writes, and the one most TLS libraries read by default).
pub const HOST_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

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

/// Variables naming the editor a tool starts (git, crontab, less).
const EDITOR_VARS: &[&str] = &["GIT_EDITOR", "VISUAL", "EDITOR"];

/// `EDITOR=/usr/bin/vim` names a host path. When the image lacks it but an installed
/// recipe has a shim of that name, the variable becomes the bare name (`vim`), which
/// the tool's PATH search finds (the image's first, then the shim). Otherwise it is
/// left alone and the tool reports it (git: "cannot run /usr/bin/vim").
fn editor_via_shim(entry: &OsStr, lower: &Path, shims: &Path) -> Option<OsString> {
    let (key, value) = entry.to_str()?.split_once('=')?;
    if !EDITOR_VARS.contains(&key) || !value.starts_with('/') || value.contains(char::is_whitespace)
    {
        return None;
    }
    let name = Path::new(value).file_name()?;
    let missing = std::fs::symlink_metadata(lower.join(&value[1..])).is_err();
    (missing && std::fs::symlink_metadata(shims.join(name)).is_ok())
        .then(|| format!("{key}={}", name.to_string_lossy()).into())
}

/// Adds binds for the paths `candidates` name (`[mounts] args`) to `user`, and returns
/// the arguments refused, with the reason. A path is bound at its real location
/// (symlinks resolved) when it exists, or its parent directory when it is to be
/// created by a read-write argument; paths inside the workspace or inside another bind
/// at least as writable are skipped.
fn arg_binds(
    candidates: Vec<crate::launch::args::Candidate>,
    roots: &[&Path],
    host: &Host,
    user: &mut Vec<(PathBuf, Node, bool)>,
) -> Vec<(OsString, String)> {
    let mut skipped = Vec::new();
    let mut found: Vec<(PathBuf, Node, bool)> = Vec::new();
    let inside = |p: &Path| roots.iter().any(|r| p.starts_with(r));
    for c in candidates {
        // Lexically inside the workspace: nothing to look up (most arguments).
        if inside(&c.path) {
            continue;
        }
        let (real, node) = match std::fs::metadata(&c.path) {
            Ok(meta) => {
                let node = if meta.is_dir() { Node::Dir } else { Node::File };
                match std::fs::canonicalize(&c.path) {
                    Ok(real) => (real, node),
                    Err(_) => continue,
                }
            }
            // To be created: the directory it goes in, if that exists.
            Err(_) if c.rw => match c.path.parent().map(std::fs::canonicalize) {
                Some(Ok(dir)) if dir.is_dir() => (dir, Node::Dir),
                _ => continue,
            },
            // Nothing there to read (or not a path at all: a branch name, a word).
            Err(_) => continue,
        };
        if inside(&real) {
            continue;
        }
        if let Err(reason) = arg_bindable(&real, host) {
            skipped.push((c.word, reason));
            continue;
        }
        match found.iter_mut().find(|(p, _, _)| *p == real) {
            Some(f) => f.2 &= !c.rw,
            None => found.push((real, node, !c.rw)),
        }
    }
    // Shallow first, so a deeper path is dropped when a kept one covers it.
    found.sort_by_key(|(p, _, _)| p.components().count());
    let mut kept: Vec<(PathBuf, Node, bool)> = Vec::new();
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

/// Whether a path an argument names may be bound: not the root, a system directory,
/// anything below /proc, /sys or /dev, the home directory or a directory holding it.
fn arg_bindable(path: &Path, host: &Host) -> Result<(), String> {
    use crate::launch::workspace::{SYSTEM, SYSTEM_TREES};
    if SYSTEM.iter().any(|s| path == Path::new(s)) {
        return Err(format!("{} is a system directory", path.display()));
    }
    if SYSTEM_TREES.iter().any(|s| path.starts_with(s)) {
        return Err(format!("{} is below /proc, /sys or /dev", path.display()));
    }
    if host.home.starts_with(path) {
        return Err(if host.home == path {
            "it is the whole home directory".to_owned()
        } else {
            format!("{} holds the home directory", path.display())
        });
    }
    Ok(())
}

/// Whether a directory a `.git` file leads to may be bound (see
/// [`crate::launch::workspace::GitLink`]): nothing an argument may not name, nor jig's own
/// directories `jig_dirs` or the session's runtime directory (`$XDG_RUNTIME_DIR`),
/// anything inside them or holding them.
pub fn linked_bindable(path: &Path, host: &Host, jig_dirs: &[PathBuf]) -> Result<(), String> {
    arg_bindable(path, host)?;
    private_clear(path, host, jig_dirs, false)
}

/// Whether a path named by a `from_env` variable may be bound: absolute, normalized,
/// nothing an argument may not name, nor jig's own directories `jig_dirs`, anything
/// inside or holding them, nor the runtime directory (`$XDG_RUNTIME_DIR`) or a
/// directory holding it. A socket inside the runtime directory (ssh-agent's,
/// gpg-agent's) is what `from_env` is for.
fn from_env_bindable(path: &Path, host: &Host, jig_dirs: &[PathBuf]) -> Result<(), String> {
    let normal = path.components().all(|c| {
        matches!(
            c,
            std::path::Component::RootDir | std::path::Component::Normal(_)
        )
    });
    if !path.is_absolute() || !normal {
        return Err("it is not an absolute path without . or ..".to_owned());
    }
    arg_bindable(path, host)?;
    private_clear(path, host, jig_dirs, true)
}

/// `Err` when `path` is one of jig's own directories `jig_dirs` or the runtime
/// directory, holds one, or lies inside one (inside the runtime directory only
/// counts unless `runtime_inside_ok`). Lexical: the paths are compared as given.
fn private_clear(
    path: &Path,
    host: &Host,
    jig_dirs: &[PathBuf],
    runtime_inside_ok: bool,
) -> Result<(), String> {
    let shown = path.display();
    for dir in jig_dirs.iter().filter(|d| d.is_absolute()) {
        let dir = crate::launch::args::normalize(dir);
        if path == dir {
            return Err("it is jig's own directory".to_owned());
        }
        if path.starts_with(&dir) {
            return Err(format!(
                "{shown} is inside jig's directory {}",
                dir.display()
            ));
        }
        if dir.starts_with(path) {
            return Err(format!("{shown} holds jig's directory {}", dir.display()));
        }
    }
    let runtime = host
        .var("XDG_RUNTIME_DIR")
        .map(Path::new)
        .filter(|r| r.is_absolute())
        .map(crate::launch::args::normalize)
        .filter(|r| r != Path::new("/"));
    if let Some(run) = runtime {
        if path == run {
            return Err("it is $XDG_RUNTIME_DIR".to_owned());
        }
        if run.starts_with(path) {
            return Err(format!(
                "{shown} holds $XDG_RUNTIME_DIR ({})",
                run.display()
            ));
        }
        if !runtime_inside_ok && path.starts_with(&run) {
            return Err(format!(
                "{shown} is inside $XDG_RUNTIME_DIR ({})",
                run.display()
            ));
        }
    }
    Ok(())
}

/// /proc and the device binds of the minimal /dev.
///
/// /tmp and /dev/shm need no mount of their own: they are directories of the overlay,
/// whose upper layer is the launch's tmpfs, so what a tool writes there is as
/// ephemeral (and as fast) as on a dedicated tmpfs, at the cost of no extra mount.
fn system_binds() -> Vec<Bind> {
    let bind = |p: String, node| Bind {
        src: p.clone().into(),
        dst: p.into(),
        node,
        readonly: false,
    };
    // Without a pid namespace a fresh procfs cannot be mounted; the host's is the
    // right view anyway, since the tool is an ordinary host process.
    let mut binds = vec![bind("/proc".into(), Node::Dir)];
    // mknod is not allowed in a user namespace: bind the host's device nodes.
    for dev in DEVICES {
        binds.push(bind(format!("/dev/{dev}"), Node::File));
    }
    // Not the host's /dev/pts: every terminal of the user is in it, and a tool could
    // read from and write into all of them. The launch mounts its own instance there.
    binds
}

/// The image's passwd plus a line for the caller (replacing any entry with the same
/// name or uid, so `id -un` and `~` agree with the host).
fn passwd(image: Option<&[u8]>, host: &Host, shell: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for line in image.unwrap_or_default().split(|&b| b == b'\n') {
        let mut fields = line.split(|&b| b == b':');
        let (name, _, uid) = (fields.next(), fields.next(), fields.next());
        if line.is_empty()
            || name == Some(host.user.as_bytes())
            || uid == Some(host.uid.to_string().as_bytes())
        {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    let mut me = String::new();
    let _ = writeln!(
        me,
        "{}:x:{}:{}:{}:{}:{}",
        host.user,
        host.uid,
        host.gid,
        host.user,
        host.home.display(),
        shell.display()
    );
    out.extend_from_slice(me.as_bytes());
    out
}

/// The image's group file plus the caller's primary group.
fn group(image: Option<&[u8]>, host: &Host) -> Vec<u8> {
    let name = host.group.clone().unwrap_or_else(|| host.user.clone());
    let mut out = Vec::new();
    for line in image.unwrap_or_default().split(|&b| b == b'\n') {
        let mut fields = line.split(|&b| b == b':');
        let (gname, _, gid) = (fields.next(), fields.next(), fields.next());
        if line.is_empty()
            || gname == Some(name.as_bytes())
            || gid == Some(host.gid.to_string().as_bytes())
        {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("{name}:x:{}:{}\n", host.gid, host.user).as_bytes());
    out
}

/// Image env, then passed host variables, then jig's identity variables, then the
/// recipe's `set` values (each layer overriding the one before).
fn environment(
    recipe: &Recipe,
    config: &ImageConfig,
    host: &Host,
    shell: &Path,
    session: &[(String, String)],
    depth: u32,
) -> Vec<OsString> {
    let mut env: BTreeMap<OsString, OsString> = BTreeMap::new();
    for e in &config.env {
        if let Some((k, v)) = e.split_once('=') {
            env.insert(k.into(), v.into());
        }
    }
    env.entry("PATH".into())
        .or_insert_with(|| crate::image::store::DEFAULT_PATH.into());
    let patterns: Vec<&str> = DEFAULT_PASS
        .iter()
        .copied()
        .chain(recipe.env.pass.iter().map(|g| g.as_str()))
        .collect();
    for (k, v) in &host.env {
        let Some(name) = k.to_str() else { continue };
        if RESERVED.contains(&name) {
            continue;
        }
        if patterns.iter().any(|p| glob_match(p, name)) {
            env.insert(k.clone(), v.clone());
        }
    }
    env.insert("HOME".into(), host.home.clone().into_os_string());
    env.insert("USER".into(), host.user.clone().into());
    env.insert("LOGNAME".into(), host.user.clone().into());
    env.insert("SHELL".into(), shell.to_owned().into_os_string());
    env.insert("PWD".into(), host.cwd.clone().into_os_string());
    env.insert("JIG_DEPTH".into(), (depth + 1).to_string().into());
    for (k, v) in session {
        env.insert(k.into(), v.into());
    }
    for (k, v) in &recipe.env.set {
        env.insert(k.as_str().into(), v.into());
    }
    env.iter()
        .map(|(k, v)| {
            let mut b = k.clone().into_vec();
            b.push(b'=');
            b.extend_from_slice(v.as_bytes());
            OsString::from_vec(b)
        })
        .collect()
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

impl Plan {
    /// Places the mountpoints of the host binds (workspace, home paths, jig's data
    /// directory, ...) in the ephemeral layer next to the skeleton, where the image
    /// allows it, so the executor mounts onto directories it created itself instead of
    /// resolving each target in the image and creating it through the overlay.
    ///
    /// A bind qualifies when every component of its target is, in the image, missing or
    /// a directory (a file for a file's target), and no earlier bind covers it. The
    /// directories that exist in the image are recreated with their modes; the overlay
    /// merges them with the image's, so the container sees the same tree either way.
    /// Any other bind (an image symlink on the way, say `/home -> var/home`) keeps its
    /// target for the executor to resolve inside the image.
    pub fn premake_mountpoints(&mut self, in_image: impl Fn(&Path) -> InImage) {
        let mut earlier: Vec<&Path> = Vec::new();
        let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
        let mut files: Vec<File> = Vec::new();
        for b in &self.binds {
            let covered = earlier.iter().any(|e| b.dst.starts_with(e));
            earlier.push(&b.dst);
            // Whether `p` is already a directory, or another node, of the upper layer.
            let made_dir = |p: &Path| self.dirs.iter().chain(&dirs).any(|(d, _)| d == p);
            let made_other = |p: &Path| {
                self.files.iter().chain(&files).any(|f| f.dst == p)
                    || self.links.iter().any(|(l, _)| l == p)
            };
            if covered || !b.dst.is_absolute() || made_dir(&b.dst) || made_other(&b.dst) {
                continue;
            }
            let mut new_dirs = Vec::new();
            let mut missing = false;
            let mut ok = true;
            let ancestors: Vec<&Path> = b.dst.ancestors().skip(1).collect();
            for a in ancestors.into_iter().rev().skip(1) {
                if made_dir(a) {
                    continue;
                }
                if made_other(a) {
                    ok = false;
                    break;
                }
                let mode = if missing {
                    0o755
                } else {
                    match in_image(a) {
                        InImage::Missing => {
                            missing = true;
                            0o755
                        }
                        InImage::Dir(mode) => mode,
                        InImage::File | InImage::Other => {
                            ok = false;
                            break;
                        }
                    }
                };
                new_dirs.push((a.to_path_buf(), mode));
            }
            if !ok {
                continue;
            }
            let last = if missing {
                InImage::Missing
            } else {
                in_image(&b.dst)
            };
            match (b.node, last) {
                (Node::Dir | Node::DirAlone, InImage::Missing) => {
                    new_dirs.push((b.dst.clone(), 0o755));
                }
                (Node::Dir | Node::DirAlone, InImage::Dir(mode)) => {
                    new_dirs.push((b.dst.clone(), mode));
                }
                (Node::File, InImage::Missing | InImage::File) => files.push(File {
                    dst: b.dst.clone(),
                    contents: Vec::new(),
                    mode: 0o644,
                }),
                _ => continue,
            }
            dirs.extend(new_dirs);
        }
        self.dirs.extend(dirs);
        self.files.extend(files);
    }

    /// A readable rendering of the plan (`JIG_DEBUG=1`, `--dry-run`).
    pub fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "uid/gid: {}/{} (mapped to themselves)",
            self.uid, self.gid
        );
        let _ = writeln!(
            s,
            "root:    overlay of {} (read-only) + tmpfs (ephemeral)",
            self.lower
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(" over ")
        );
        for (d, mode) in &self.dirs {
            let _ = writeln!(s, "dir      {} (mode {mode:o}, ephemeral)", d.display());
        }
        for (l, t) in &self.links {
            let _ = writeln!(s, "symlink  {} -> {}", l.display(), t.display());
        }
        for f in &self.files {
            let _ = writeln!(
                s,
                "file     {} ({} bytes)",
                f.dst.display(),
                f.contents.len()
            );
        }
        if let Some(p) = &self.devpts {
            let _ = writeln!(s, "devpts   {} (a new instance)", p.display());
        }
        for b in &self.binds {
            let _ = writeln!(
                s,
                "bind     {} -> {} ({})",
                b.src.display(),
                b.dst.display(),
                if b.readonly { "ro" } else { "rw" }
            );
        }
        let c = &self.confine;
        let _ = writeln!(
            s,
            "confine: ioctl TIOCSTI/TIOCLINUX refused; landlock scopes: {}{}",
            match (c.scope_signals, c.scope_abstract_sockets) {
                (true, true) => "signals, abstract sockets",
                (true, false) => "signals",
                (false, true) => "abstract sockets",
                (false, false) => "none",
            },
            if c.drop_caps.is_empty() {
                String::new()
            } else {
                format!("; bounding set without caps {:?}", c.drop_caps)
            }
        );
        let _ = writeln!(s, "workspace: {}", self.workspace);
        for (arg, why) in &self.skipped {
            let _ = writeln!(s, "skipped  {}: {why}", arg.to_string_lossy());
        }
        let _ = writeln!(s, "cwd:     {}", self.cwd.display());
        let _ = writeln!(
            s,
            "exec:    {:?} argv={:?}",
            self.exec.program, self.exec.argv
        );
        for e in &self.exec.env {
            let _ = writeln!(s, "env:     {}", e.to_string_lossy());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recipe;

    fn recipe() -> Recipe {
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

    fn host(home: &Path, cwd: &Path) -> Host {
        Host {
            uid: 1234,
            gid: 1235,
            user: "alice".into(),
            group: Some("staff".into()),
            home: home.to_owned(),
            shell: Some("/bin/bash".into()),
            cwd: cwd.to_owned(),
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

    fn cmd() -> Command {
        Command {
            program: "sh".into(),
            argv0: "sh".into(),
            args: vec!["-c".into(), "true".into()],
        }
    }

    fn plan_for(home: &Path, cwd: &Path, files: &Files) -> Plan {
        let recipe = recipe();
        let target = Target {
            recipe: &recipe,
            config: &ImageConfig::default(),
            lower: vec![PathBuf::from("/store/images/x/rootfs")],
            scratch: PathBuf::from("/store/run"),
            nest: None,
            jig_dirs: vec![],
        };
        build(&target, &host(home, cwd), files, cmd(), 0)
    }

    fn env_of(plan: &Plan) -> BTreeMap<String, String> {
        plan.exec
            .env
            .iter()
            .map(|e| {
                let (k, v) = e.to_str().unwrap().split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    #[test]
    fn environment_layers() {
        let home = tempfile::tempdir().unwrap();
        let plan = plan_for(home.path(), Path::new("/work/p"), &Files::default());
        let env = env_of(&plan);
        assert_eq!(env["TERM"], "dumb-override", "recipe set wins");
        assert_eq!(env["LC_ALL"], "C.UTF-8");
        assert_eq!(env["BB_X"], "1");
        assert_eq!(env["BB_MODE"], "test");
        assert!(!env.contains_key("SECRET"));
        assert_eq!(
            env["PATH"],
            crate::image::store::DEFAULT_PATH,
            "PATH is the image's"
        );
        assert_eq!(env["HOME"], home.path().to_str().unwrap());
        assert_eq!(env["USER"], "alice");
        assert_eq!(env["PWD"], "/work/p");
        assert_eq!(
            plan.exec.search_path,
            OsString::from(crate::image::store::DEFAULT_PATH)
        );
        assert_eq!(
            plan.exec.argv,
            vec![OsString::from("sh"), "-c".into(), "true".into()]
        );
    }

    #[test]
    fn image_path_is_used() {
        let home = tempfile::tempdir().unwrap();
        let config = ImageConfig {
            env: vec!["PATH=/opt/x/bin:/bin".into(), "FOO=bar".into()],
            ..Default::default()
        };
        let recipe = recipe();
        let target = Target {
            recipe: &recipe,
            config: &config,
            lower: vec![PathBuf::from("/r")],
            scratch: PathBuf::from("/s"),
            nest: None,
            jig_dirs: vec![],
        };
        let plan = build(
            &target,
            &host(home.path(), Path::new("/w")),
            &Files::default(),
            cmd(),
            2,
        );
        let env = env_of(&plan);
        assert_eq!(env["PATH"], "/opt/x/bin:/bin");
        assert_eq!(env["FOO"], "bar");
        assert_eq!(env["JIG_DEPTH"], "3");
    }

    fn premade(plan: &Plan, path: &str) -> Option<u32> {
        let p = Path::new(path);
        plan.dirs
            .iter()
            .find(|(d, _)| d == p)
            .map(|(_, m)| *m)
            .or_else(|| plan.files.iter().find(|f| f.dst == p).map(|f| f.mode))
    }

    #[test]
    fn mountpoints_are_premade_where_the_image_has_directories_or_nothing() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".bbrc"), "x").unwrap();
        std::fs::create_dir(home.path().join(".bbcache")).unwrap();
        let mut plan = plan_for(home.path(), Path::new("/work/p"), &Files::default());
        let before = plan.files.len();
        plan.premake_mountpoints(|p| match p.to_str().unwrap() {
            "/work" => InImage::Dir(0o750),
            _ => InImage::Missing,
        });
        // The image's /work keeps its mode; the missing cwd is a plain directory.
        assert_eq!(premade(&plan, "/work"), Some(0o750));
        assert_eq!(premade(&plan, "/work/p"), Some(0o755));
        // Home paths: the file's mountpoint is an empty file, the directory's a
        // directory, below the ephemeral home the plan already has.
        let home = home.path().to_str().unwrap();
        assert_eq!(premade(&plan, &format!("{home}/.bbrc")), Some(0o644));
        assert_eq!(premade(&plan, &format!("{home}/.bbcache")), Some(0o755));
        // The skeleton is not made twice.
        assert_eq!(plan.files.len(), before + 1);
        let dirs: Vec<_> = plan.dirs.iter().map(|(d, _)| d).collect();
        let mut unique = dirs.clone();
        unique.dedup();
        assert_eq!(dirs, unique);
        // Parents come before their children.
        let at = |p: &str| dirs.iter().position(|d| *d == Path::new(p)).unwrap();
        assert!(at("/work") < at("/work/p"));
    }

    #[test]
    fn mountpoints_behind_image_symlinks_or_earlier_binds_are_left_to_the_executor() {
        let home = tempfile::tempdir().unwrap();
        let mut plan = plan_for(home.path(), Path::new("/work/p"), &Files::default());
        let bind = |p: &str, node| Bind {
            src: p.into(),
            dst: p.into(),
            node,
            readonly: false,
        };
        plan.binds = vec![
            bind("/work/p", Node::Dir),
            bind("/work/p/inner", Node::Dir),
            bind("/srv/data", Node::Dir),
            bind("/opt/conf", Node::File),
            bind("/etc/tool.conf", Node::File),
        ];
        plan.premake_mountpoints(|p| match p.to_str().unwrap() {
            "/srv" => InImage::Other,
            "/opt" => InImage::Dir(0o755),
            "/opt/conf" => InImage::Dir(0o755),
            "/etc" => InImage::Dir(0o755),
            "/etc/tool.conf" => InImage::File,
            _ => InImage::Missing,
        });
        assert_eq!(premade(&plan, "/work/p"), Some(0o755));
        // Below an earlier bind: that is the host's directory, not the image's.
        assert_eq!(premade(&plan, "/work/p/inner"), None);
        // /srv is a symlink in the image: resolved inside the image at launch.
        assert_eq!(premade(&plan, "/srv"), None);
        assert_eq!(premade(&plan, "/srv/data"), None);
        // A file bind where the image has a directory stays an error for the executor.
        assert_eq!(premade(&plan, "/opt/conf"), None);
        assert_eq!(premade(&plan, "/opt"), None);
        // A file over the image's file.
        assert_eq!(premade(&plan, "/etc/tool.conf"), Some(0o644));
    }

    #[test]
    fn binds_cwd_and_existing_home_paths_only() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join(".bbrc"), "x").unwrap();
        std::fs::create_dir(home.path().join(".bbcache")).unwrap();
        let plan = plan_for(home.path(), Path::new("/work/p"), &Files::default());
        let binds: Vec<_> = plan
            .binds
            .iter()
            .filter(|b| !b.src.starts_with("/dev") && !b.src.starts_with("/proc"))
            .map(|b| {
                assert_eq!(b.src, b.dst);
                (b.src.clone(), b.node, b.readonly)
            })
            .collect();
        assert!(binds.contains(&(PathBuf::from("/work/p"), Node::Dir, false)));
        assert!(binds.contains(&(home.path().join(".bbrc"), Node::File, true)));
        assert!(binds.contains(&(home.path().join(".bbcache"), Node::Dir, false)));
        assert!(!binds.iter().any(|b| b.0.ends_with(".missing")));
        // Shallow before deep.
        let depths: Vec<_> = binds.iter().map(|b| b.0.components().count()).collect();
        assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{binds:?}");
    }

    #[test]
    fn root_drops_mount_capabilities_and_x11_keeps_abstract_sockets() {
        let user = Confine::for_launch(1000, false);
        assert!(user.drop_caps.is_empty());
        assert!(user.scope_signals && user.scope_abstract_sockets);
        let root = Confine::for_launch(0, false);
        assert_eq!(root.drop_caps, [21, 18]);
        let x11 = Confine::for_launch(1000, true);
        assert!(x11.scope_signals && !x11.scope_abstract_sockets);
    }

    #[test]
    fn system_binds_come_before_host_binds() {
        let home = tempfile::tempdir().unwrap();
        let plan = plan_for(home.path(), Path::new("/tmp/project"), &Files::default());
        let pos = |p: &str| {
            plan.binds
                .iter()
                .position(|b| b.dst == Path::new(p))
                .unwrap()
        };
        assert!(pos("/proc") < pos("/tmp/project"));
        assert!(pos("/dev/tty") < pos("/tmp/project"));
        // The host's terminals are not bound: the launch has its own devpts, which
        // /dev/ptmx leads to.
        assert!(!plan.binds.iter().any(|b| b.src.starts_with("/dev/pts")));
        assert!(!plan.binds.iter().any(|b| b.src == Path::new("/dev/ptmx")));
        assert_eq!(plan.devpts.as_deref(), Some(Path::new("/dev/pts")));
        assert!(
            plan.links
                .contains(&("/dev/ptmx".into(), "pts/ptmx".into()))
        );
        assert!(plan.files.iter().any(|f| f.dst == Path::new("/etc/passwd")));
        assert!(
            plan.dirs.contains(&(home.path().to_owned(), 0o700)),
            "an ephemeral home"
        );
        assert!(plan.dirs.contains(&(PathBuf::from("/tmp"), 0o1777)));
        assert!(
            plan.links
                .contains(&("/dev/fd".into(), "/proc/self/fd".into()))
        );
        // Every device bind has its mountpoint in the ephemeral layer.
        for b in plan
            .binds
            .iter()
            .filter(|b| b.dst.starts_with("/dev/") && b.node == Node::File)
        {
            assert!(plan.files.iter().any(|f| f.dst == b.dst), "{b:?}");
        }
    }

    #[test]
    fn root_and_system_cwds_are_not_bound() {
        let home = tempfile::tempdir().unwrap();
        for cwd in ["/", "/proc/self", "/dev"] {
            let plan = plan_for(home.path(), Path::new(cwd), &Files::default());
            assert!(!plan.binds.iter().any(|b| b.src == Path::new(cwd)), "{cwd}");
            assert_eq!(plan.cwd, Path::new(cwd));
        }
    }

    #[test]
    fn x11_recipe_gets_display_and_a_wild_cookie() {
        let home = tempfile::tempdir().unwrap();
        let mut r = recipe();
        r.x11 = true;
        let mut h = host(home.path(), Path::new("/w"));
        h.env.push(("DISPLAY".into(), ":7".into()));
        let cookie = [0x01u8, 0x00, 0, 1, b'h', 0, 1, b'7', 0, 1, b'N', 0, 1, b'D'];
        let files = Files {
            xauthority: Some(cookie.to_vec()),
            ..Default::default()
        };
        let target = Target {
            recipe: &r,
            config: &ImageConfig::default(),
            lower: vec![],
            scratch: PathBuf::from("/s"),
            nest: None,
            jig_dirs: vec![],
        };
        let plan = build(&target, &h, &files, cmd(), 0);
        let env = env_of(&plan);
        assert_eq!(env["DISPLAY"], ":7");
        assert_eq!(env["XAUTHORITY"], crate::launch::display::XAUTH_INSIDE);
        let f = plan
            .files
            .iter()
            .find(|f| f.dst == Path::new(crate::launch::display::XAUTH_INSIDE))
            .unwrap();
        assert_eq!(&f.contents[..2], &[0xff, 0xff]);
        // Without x11 = true nothing of the display leaks in.
        let plain = recipe();
        let target = Target {
            recipe: &plain,
            ..target
        };
        let plan = build(&target, &h, &files, cmd(), 0);
        assert!(!env_of(&plan).contains_key("DISPLAY"));
        assert!(
            plan.files
                .iter()
                .all(|f| f.dst != Path::new(crate::launch::display::XAUTH_INSIDE))
        );
    }

    #[test]
    fn paths_named_by_variables_are_bound_unless_dangerous() {
        let home = tempfile::tempdir().unwrap();
        let sock = home.path().join("agent.sock");
        std::fs::write(&sock, "").unwrap();
        let mut r = recipe();
        r.mounts.from_env = vec![
            recipe::EnvName::new("SSH_AUTH_SOCK").unwrap(),
            recipe::EnvName::new("EVIL").unwrap(),
            recipe::EnvName::new("UNSET").unwrap(),
        ];
        let mut h = host(home.path(), Path::new("/w"));
        h.env.push(("SSH_AUTH_SOCK".into(), sock.clone().into()));
        h.env.push(("EVIL".into(), "/etc".into()));
        let target = Target {
            recipe: &r,
            config: &ImageConfig::default(),
            lower: vec![],
            scratch: PathBuf::from("/s"),
            nest: None,
            jig_dirs: vec![],
        };
        let plan = build(&target, &h, &Files::default(), cmd(), 0);
        assert!(plan.binds.iter().any(|b| b.src == sock && !b.readonly));
        assert!(!plan.binds.iter().any(|b| b.src == Path::new("/etc")));
        assert!(from_env_bindable(home.path(), &h, &[]).is_err());
        assert!(from_env_bindable(Path::new("/usr/../etc/x"), &h, &[]).is_err());
        // Refusals are reported; a missing path is skipped quietly.
        assert_eq!(
            plan.skipped,
            vec![(
                OsString::from("$EVIL (/etc)"),
                "/etc is a system directory".to_owned()
            )]
        );
    }

    #[test]
    fn variables_never_name_jig_s_directories_the_runtime_directory_or_home() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("u/me");
        let jig = home.join(".local/share/jig");
        let run = t.path().join("run/user/1");
        for d in [&jig, &run] {
            std::fs::create_dir_all(d).unwrap();
        }
        let sock = run.join("agent.sock");
        std::fs::write(&sock, "").unwrap();
        let to_home = t.path().join("to-home");
        std::os::unix::fs::symlink(&home, &to_home).unwrap();
        let mut h = host(&home, Path::new("/w"));
        h.env.push(("XDG_RUNTIME_DIR".into(), run.clone().into()));
        let dirs = [jig.clone()];
        let ok = |p: &Path| from_env_bindable(p, &h, &dirs);
        assert_eq!(ok(&sock), Ok(()));
        assert_eq!(ok(&run.join("gnupg/S.gpg-agent")), Ok(()));
        assert_eq!(ok(Path::new("/srv/x")), Ok(()));
        for (bad, reason) in [
            (home.clone(), "it is the whole home directory".to_owned()),
            (
                t.path().join("u"),
                format!("{} holds the home directory", t.path().join("u").display()),
            ),
            (jig.clone(), "it is jig's own directory".to_owned()),
            (
                jig.join("store"),
                format!(
                    "{} is inside jig's directory {}",
                    jig.join("store").display(),
                    jig.display()
                ),
            ),
            (run.clone(), "it is $XDG_RUNTIME_DIR".to_owned()),
            (
                t.path().join("run"),
                format!(
                    "{} holds $XDG_RUNTIME_DIR ({})",
                    t.path().join("run").display(),
                    run.display()
                ),
            ),
            (
                "/proc/1/root".into(),
                "/proc/1/root is below /proc, /sys or /dev".to_owned(),
            ),
            ("/run".into(), "/run is a system directory".to_owned()),
            (
                "rel/x".into(),
                "it is not an absolute path without . or ..".to_owned(),
            ),
        ] {
            assert_eq!(ok(&bad), Err(reason), "{}", bad.display());
        }
        // A git directory may not be inside the runtime directory either.
        assert!(linked_bindable(&run.join("x"), &h, &dirs).is_err());
        assert!(linked_bindable(&jig.join("repos/r/git"), &h, &dirs).is_err());
        assert_eq!(linked_bindable(&home.join("src/r/.git"), &h, &dirs), Ok(()));

        // In a plan: what the variable names and where a symlink leads both count.
        let mut r = recipe();
        r.mounts.from_env = ["SOCK", "JIGDIR", "LINK"]
            .iter()
            .map(|v| recipe::EnvName::new(v).unwrap())
            .collect();
        h.env.push(("SOCK".into(), sock.clone().into()));
        h.env.push(("JIGDIR".into(), jig.clone().into()));
        h.env.push(("LINK".into(), to_home.clone().into()));
        let target = Target {
            jig_dirs: dirs.to_vec(),
            ..target_with(&r, None)
        };
        let plan = build(&target, &h, &Files::default(), cmd(), 0);
        let bound: Vec<_> = host_binds(&plan).into_iter().map(|(p, _)| p).collect();
        assert!(bound.contains(&sock), "{bound:?}");
        assert!(
            !bound.contains(&jig) && !bound.contains(&to_home),
            "{bound:?}"
        );
        let skipped: Vec<_> = plan
            .skipped
            .iter()
            .map(|(w, _)| w.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            skipped,
            [
                format!("$JIGDIR ({})", jig.display()),
                format!("$LINK ({})", to_home.display())
            ]
        );
        assert_eq!(
            plan.skipped[1].1,
            format!(
                "it leads to {}: it is the whole home directory",
                home.display()
            )
        );
    }

    #[test]
    fn a_refused_git_link_is_reported_and_not_bound() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("p");
        let ssh = t.path().join("home/.ssh");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&ssh).unwrap();
        std::fs::write(root.join(".git"), format!("gitdir: {}\n", ssh.display())).unwrap();
        let r = recipe();
        let plan = build(
            &target_with(&r, None),
            &host(&t.path().join("home"), &root),
            &Files::default(),
            cmd(),
            0,
        );
        assert!(!plan.binds.iter().any(|b| b.src == ssh), "{:?}", plan.binds);
        assert_eq!(
            plan.skipped,
            vec![(
                OsString::from(format!(
                    "{} (the gitdir of {})",
                    ssh.display(),
                    root.join(".git").display()
                )),
                "it is not a git directory (no HEAD)".to_owned()
            )]
        );
        assert_eq!(plan.workspace.root, root);
    }

    #[test]
    fn host_ca_binds_the_bundle_and_passes_variables_naming_it() {
        let home = tempfile::tempdir().unwrap();
        let mut r = recipe();
        r.mounts.host_ca = true;
        let mut h = host(home.path(), Path::new("/w"));
        h.env.push(("SSL_CERT_FILE".into(), HOST_CA_BUNDLE.into()));
        h.env
            .push(("NODE_EXTRA_CA_CERTS".into(), "/elsewhere.pem".into()));
        let target = Target {
            recipe: &r,
            config: &ImageConfig::default(),
            lower: vec![],
            scratch: PathBuf::from("/s"),
            nest: None,
            jig_dirs: vec![],
        };
        let plan = build(&target, &h, &Files::default(), cmd(), 0);
        let env = env_of(&plan);
        let bound = plan
            .binds
            .iter()
            .any(|b| b.src == Path::new(HOST_CA_BUNDLE) && b.readonly && b.node == Node::File);
        assert_eq!(bound, Path::new(HOST_CA_BUNDLE).is_file());
        assert_eq!(env.contains_key("SSL_CERT_FILE"), bound);
        assert!(!env.contains_key("NODE_EXTRA_CA_CERTS"), "points elsewhere");
        // Off by default.
        let plain = recipe();
        let plan = build(
            &Target {
                recipe: &plain,
                ..target
            },
            &h,
            &Files::default(),
            cmd(),
            0,
        );
        assert!(
            !plan
                .binds
                .iter()
                .any(|b| b.src == Path::new(HOST_CA_BUNDLE))
        );
        assert!(!env_of(&plan).contains_key("SSL_CERT_FILE"));
    }

    fn target_with<'a>(r: &'a Recipe, nest: Option<Nest>) -> Target<'a> {
        Target {
            recipe: r,
            config: &EMPTY_CONFIG,
            lower: vec![],
            scratch: PathBuf::from("/s"),
            nest,
            jig_dirs: vec![],
        }
    }

    static EMPTY_CONFIG: std::sync::LazyLock<ImageConfig> =
        std::sync::LazyLock::new(ImageConfig::default);

    fn with_args(args: &[&str]) -> Command {
        Command {
            program: "t".into(),
            argv0: "t".into(),
            args: args.iter().map(OsString::from).collect(),
        }
    }

    fn host_binds(plan: &Plan) -> Vec<(PathBuf, bool)> {
        plan.binds
            .iter()
            .filter(|b| !b.src.starts_with("/dev") && !b.src.starts_with("/proc"))
            .map(|b| (b.src.clone(), b.readonly))
            .collect()
    }

    #[test]
    fn the_workspace_root_is_bound_instead_of_the_cwd() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        let cwd = root.join("src/deep");
        std::fs::create_dir_all(&cwd).unwrap();
        std::fs::create_dir(root.join(".git")).unwrap();
        let r = recipe();
        let plan = build(
            &target_with(&r, None),
            &host(&t.path().join("home"), &cwd),
            &Files::default(),
            cmd(),
            0,
        );
        assert!(host_binds(&plan).contains(&(root.clone(), false)));
        assert!(!host_binds(&plan).iter().any(|(p, _)| *p == cwd));
        assert_eq!(plan.cwd, cwd);
        assert_eq!(plan.workspace.root, root);
        assert_eq!(env_of(&plan)["JIG_WORKSPACE"], root.to_str().unwrap());
        assert!(
            plan.describe().contains("marker .git at"),
            "{}",
            plan.describe()
        );
    }

    #[test]
    fn argument_paths_outside_the_workspace_are_bound_as_the_recipe_says() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path().join("home");
        let cwd = t.path().join("p");
        let out = t.path().join("out");
        let data = t.path().join("data.json");
        for d in [&home, &cwd, &out] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&data, "{}").unwrap();
        std::fs::write(cwd.join("in.txt"), "").unwrap();
        std::os::unix::fs::symlink(&data, cwd.join("link")).unwrap();
        let mut r = recipe();
        r.mounts.args = crate::launch::args::ArgMode::Ro;
        r.mounts.args_rw = vec![crate::launch::args::OptName::new("-o").unwrap()];
        let h = host(&home, &cwd);
        let plan = build(
            &target_with(&r, None),
            &h,
            &Files::default(),
            with_args(&[
                "../data.json",
                "in.txt",
                "-o../out/new.bin",
                "--x=/etc",
                "/proc/self/status",
                home.to_str().unwrap(),
                "/nonexistent/x",
                "../data.json",
            ]),
            0,
        );
        let binds = host_binds(&plan);
        assert!(binds.contains(&(data.clone(), true)), "{binds:?}");
        assert!(
            binds.contains(&(out.clone(), false)),
            "parent, rw: {binds:?}"
        );
        assert_eq!(binds.iter().filter(|(p, _)| *p == data).count(), 1);
        assert!(!binds.iter().any(|(p, _)| p.ends_with("in.txt")));
        let skipped: Vec<_> = plan
            .skipped
            .iter()
            .map(|(a, _)| a.to_str().unwrap())
            .collect();
        assert_eq!(
            skipped,
            ["/etc", "/proc/self/status", home.to_str().unwrap()]
        );
        // Shallow to deep still.
        let depths: Vec<_> = binds.iter().map(|b| b.0.components().count()).collect();
        assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{binds:?}");

        // A path covered by a read-write one is not bound again; a symlink is bound
        // at its target.
        let plan = build(
            &target_with(&r, None),
            &h,
            &Files::default(),
            with_args(&[
                "-o",
                t.path().join("out").to_str().unwrap(),
                "-o../out/a",
                "link",
            ]),
            0,
        );
        let binds = host_binds(&plan);
        assert_eq!(binds.iter().filter(|(p, _)| p.starts_with(&out)).count(), 1);
        // `link` is inside the workspace lexically: not looked up.
        assert!(!binds.contains(&(data.clone(), true)), "{binds:?}");

        // Off: nothing.
        let plain = recipe();
        let plan = build(
            &target_with(&plain, None),
            &h,
            &Files::default(),
            with_args(&["../data.json", "/etc"]),
            0,
        );
        assert!(!host_binds(&plan).iter().any(|(p, _)| *p == data));
        assert!(plan.skipped.is_empty());
    }

    #[test]
    fn jig_inside_its_data_directory_needs_no_bind_of_its_own() {
        let r = recipe();
        let nest = Nest {
            jig: "/var/lib/me/jig/bin/jig".into(),
            data: "/var/lib/me/jig".into(),
            shims: "/var/lib/me/jig/shims".into(),
            // JIG_HOME set: the global pins are in the data directory.
            config: Some("/var/lib/me/jig".into()),
            pins: true,
        };
        let t = tempfile::tempdir().unwrap();
        let cwd = t.path().join("w");
        std::fs::create_dir_all(&cwd).unwrap();
        let plan = build(
            &target_with(&r, Some(nest)),
            &host(t.path(), &cwd),
            &Files::default(),
            cmd(),
            0,
        );
        let jig: Vec<_> = plan
            .binds
            .iter()
            .filter(|b| b.dst.starts_with("/var/lib/me"))
            .map(|b| (b.dst.to_str().unwrap(), b.readonly))
            .collect();
        assert_eq!(jig, [("/var/lib/me/jig", true)]);
        assert_eq!(env_of(&plan)["JIG_CONFIG_DIR"], "/var/lib/me/jig");
    }

    /// The plan of a launch offering nested shims: jig outside its data directory,
    /// the configuration in `~/.config/jig`, with or without global pins.
    fn nested_plan(r: &Recipe, home: &Path, pins: bool) -> Plan {
        let nest = Nest {
            jig: "/opt/jig/bin/jig".into(),
            data: "/var/lib/me/jig".into(),
            shims: "/var/lib/me/jig/shims".into(),
            config: Some("/home/me/.config/jig".into()),
            pins,
        };
        build(
            &target_with(r, Some(nest)),
            &host(home, Path::new("/w")),
            &Files::default(),
            cmd(),
            0,
        )
    }

    #[test]
    fn nest_binds_jig_read_only_and_puts_shims_last_on_path() {
        let home = tempfile::tempdir().unwrap();
        let r = recipe();
        let plan = nested_plan(&r, home.path(), true);
        let b = |p: &str| plan.binds.iter().find(|b| b.src == Path::new(p)).unwrap();
        assert!(b("/opt/jig/bin/jig").readonly && b("/opt/jig/bin/jig").node == Node::File);
        assert!(b("/var/lib/me/jig").readonly && b("/var/lib/me/jig").node == Node::DirAlone);
        let pins = b("/home/me/.config/jig/jig.toml");
        assert!(pins.readonly && pins.node == Node::File);
        let env = env_of(&plan);
        assert_eq!(env["JIG_CONFIG_DIR"], "/home/me/.config/jig");
        assert_eq!(
            env["PATH"],
            format!(
                "{}:/var/lib/me/jig/shims",
                crate::image::store::DEFAULT_PATH
            )
        );
        assert_eq!(env["JIG_HOME"], "/var/lib/me/jig");
        // The command itself is looked for in the image only.
        assert_eq!(
            plan.exec.search_path,
            OsString::from(crate::image::store::DEFAULT_PATH)
        );
    }

    #[test]
    fn nest_names_the_config_directory_even_without_global_pins() {
        let home = tempfile::tempdir().unwrap();
        let r = recipe();
        let plan = nested_plan(&r, home.path(), false);
        assert!(!plan.binds.iter().any(|b| b.src.starts_with("/home/me")));
        assert_eq!(env_of(&plan)["JIG_CONFIG_DIR"], "/home/me/.config/jig");
    }

    #[test]
    fn a_host_editor_path_becomes_the_shim_name_when_the_image_lacks_it() {
        let t = tempfile::tempdir().unwrap();
        let (lower, shims) = (t.path().join("rootfs"), t.path().join("shims"));
        std::fs::create_dir_all(lower.join("usr/bin")).unwrap();
        std::fs::create_dir(&shims).unwrap();
        std::fs::write(lower.join("usr/bin/nano"), "").unwrap();
        std::fs::write(shims.join("vim"), "").unwrap();
        std::fs::write(shims.join("nano"), "").unwrap();
        let f = |e: &str| editor_via_shim(OsStr::new(e), &lower, &shims);
        assert_eq!(f("EDITOR=/usr/bin/vim"), Some("EDITOR=vim".into()));
        assert_eq!(
            f("GIT_EDITOR=/opt/vim/bin/vim"),
            Some("GIT_EDITOR=vim".into())
        );
        // In the image: unchanged. No shim: unchanged (the tool reports it).
        assert_eq!(f("VISUAL=/usr/bin/nano"), None);
        assert_eq!(f("EDITOR=/usr/bin/emacs"), None);
        assert_eq!(f("EDITOR=vim"), None);
        assert_eq!(f("EDITOR=/usr/bin/vim -n"), None);
        assert_eq!(f("PAGER=/usr/bin/vim"), None);
    }

    #[test]
    fn passwd_and_group_get_the_caller() {
        let home = Path::new("/home/alice");
        let files = Files {
            passwd: Some(b"root:x:0:0:root:/root:/bin/sh\nalice:x:99:99::/nope:/bin/false\nbob:x:1234:1:::\n".to_vec()),
            group: Some(b"root:x:0:\nstaff:x:50:\n".to_vec()),
            shells_present: vec!["/bin/sh".into()],
            ..Default::default()
        };
        let h = host(home, Path::new("/w"));
        let pw =
            String::from_utf8(passwd(files.passwd.as_deref(), &h, Path::new("/bin/sh"))).unwrap();
        assert_eq!(
            pw,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1234:1235:alice:/home/alice:/bin/sh\n"
        );
        let gr = String::from_utf8(group(files.group.as_deref(), &h)).unwrap();
        assert_eq!(gr, "root:x:0:\nstaff:x:1235:alice\n");
    }
}
