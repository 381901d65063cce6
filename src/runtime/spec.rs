//! The launch contract: what a container start does, as plain data.
//!
//! The planner ([`crate::launch::plan`]) makes a [`Plan`]; the executor
//! ([`crate::runtime`]) applies it with a short list of syscalls; image builds
//! ([`crate::image::build`]) use the same [`Bind`]s and [`Node`]s for their own,
//! smaller setup. Nothing here does I/O, so a plan can be printed (`jig exec
//! --dry-run`, `JIG_DEBUG=1`) and compared in tests.
//!
//! Generated files go into the overlay's upper layer before anything is mounted.
//! Binds run in order and their targets are paths inside the container. The order is
//! part of the contract: system binds (/proc, /dev) first, then host paths from
//! shallow to deep, so no mountpoint ever has to be created inside a directory that is
//! bound from the host (that would create it on the host).

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

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

/// A home file the tool may replace by rename or create: its copy is staged in the
/// upper layer (a [`File`] of the plan, or nothing when it is missing), and after the
/// tool exits what it left there is saved to the host path ([`crate::runtime::save`]).
/// A bind mount cannot do this: a mountpoint cannot be renamed over (`EBUSY`), and
/// what a tool creates next to it lands in the ephemeral layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Saved {
    /// The path, inside the container and on the host (the same path).
    pub path: PathBuf,
    /// Its contents and permission bits at launch; None when it did not exist.
    pub before: Option<(Vec<u8>, u32)>,
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

/// A complete launch, as the executor applies it.
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
    /// Home files saved back to the host after the tool exits. When there are any, the
    /// launch forks: the tool runs in the child, and jig waits for it
    /// ([`crate::runtime::supervise`]).
    pub saved: Vec<Saved>,
    /// What confines the tool beyond its mounts, applied right before `execve`.
    pub confine: Confine,
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

/// Device nodes bound from the host into a minimal /dev. `/dev/tty` is the process's
/// controlling terminal, whatever namespace opens it: the caller's own terminal.
pub const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

impl Plan {
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
        for f in &self.saved {
            let _ = writeln!(
                s,
                "saved    {} (staged; what the tool leaves there is saved after it exits)",
                f.path.display()
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
