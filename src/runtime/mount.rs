//! Building the container root and switching into it.
//!
//! Mount targets are reached in one of two ways:
//! - A target this launch created itself in the upper layer (the /dev nodes, /proc,
//!   mountpoints the plan placed there), with every directory above it also created
//!   there and no earlier bind above it, is addressed by its path relative to the new
//!   root (the process's working directory while it is assembled). No image entry can
//!   be on that path: an upper directory hides whatever the image has at its place.
//! - Any other target is resolved inside the new root with `openat2(RESOLVE_IN_ROOT)`,
//!   and the mount goes onto the resulting fd through `/proc/self/fd/N`. An absolute
//!   symlink in the image (say `/home -> /host/home`) therefore resolves to a path in
//!   the image, never to one on the host.
//!
//! The first way is the common one and costs one path walk in the dentry cache; the
//! second costs an `openat2`, a walk through /proc and a `close` per mount.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::{chdir, chroot};

use crate::base::error::LaunchError;
use crate::runtime::readonly;
use crate::runtime::spec::{Bind, File, Node};

/// The new root while it is being assembled. The process's working directory is the
/// root, so relative paths name paths inside it.
pub struct Root {
    fd: OwnedFd,
    /// Paths (inside the container) this launch created in the upper layer.
    made: Made,
    /// Targets bound so far.
    bound: Vec<PathBuf>,
}

/// Paths made in the upper layer: a set, since every entry and bind looks its
/// parents up in it (a list's comparisons were a visible part of a launch).
type Made = HashSet<PathBuf>;

fn fail(what: impl std::fmt::Display, e: Errno) -> LaunchError {
    LaunchError::setup(format!("{what}: {e}"))
}

/// Mounts the scratch tmpfs on `scratch` and the overlay root inside it. `lower` lists
/// the read-only layers, top first.
///
/// No `MS_PRIVATE` remount of `/` first: the mount namespace belongs to a new user
/// namespace, so it is "less privileged" and the kernel has already turned every
/// shared mount into a slave (mount_namespaces(7)). Nothing propagates back to the
/// host, and pivot_root(2)'s "no shared parent" rule holds. That saves a recursive
/// walk over every host mount on each launch.
pub fn root(lower: &[PathBuf], scratch: &Path, upper: &Upper) -> Result<Root, LaunchError> {
    // All per-launch state (overlay upper and work dirs) lives in this tmpfs, so it
    // vanishes with the mount namespace when the tool exits.
    mount(
        Some("tmpfs"),
        scratch,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0700"),
    )
    .map_err(|e| {
        fail(
            format_args!("cannot mount scratch tmpfs on {}", scratch.display()),
            e,
        )
    })?;
    for d in ["upper", "work", "root"] {
        std::fs::create_dir(scratch.join(d)).map_err(|e| {
            LaunchError::setup(format!("cannot create {}/{d}: {e}", scratch.display()))
        })?;
    }
    // Generated files go straight into the upper directory while it is a plain tmpfs
    // directory that only this process can see: no symlink can be in the way, and the
    // overlay shows them without a copy-up.
    let made = fill_upper(&scratch.join("upper"), upper)?;
    let root = scratch.join("root");
    let mut opts = Vec::new();
    opts.extend_from_slice(b"lowerdir=");
    for (i, l) in lower.iter().enumerate() {
        if i > 0 {
            opts.push(b':');
        }
        escape_overlay_path(&mut opts, l);
    }
    opts.extend_from_slice(b",upperdir=");
    escape_overlay_path(&mut opts, &scratch.join("upper"));
    opts.extend_from_slice(b",workdir=");
    escape_overlay_path(&mut opts, &scratch.join("work"));
    // userxattr: inside a user namespace overlayfs must keep its bookkeeping in user.*
    // xattrs (trusted.* needs host privilege). Kernels before 5.11 lack the option.
    let with_userxattr = [&opts[..], b",userxattr"].concat();
    let overlay = |data: &[u8]| {
        mount(
            Some("overlay"),
            &root,
            Some("overlay"),
            MsFlags::MS_NOSUID,
            Some(OsStr::from_bytes(data)),
        )
    };
    overlay(&with_userxattr)
        .or_else(|_| overlay(&opts))
        .map_err(|e| {
            fail(
                format_args!(
                    "cannot mount the image {} as an overlay",
                    lower.last().map(|p| p.display().to_string()).unwrap_or_default()
                ),
                e,
            )
            .hint("jig needs overlayfs in user namespaces (Linux 5.11 or later); `jig doctor` checks it")
        })?;
    Root::enter(&root, made)
}

/// What goes into the upper directory before the overlay is mounted.
pub struct Upper<'a> {
    /// Directories and their exact modes (created first, parents 0755).
    pub dirs: &'a [(PathBuf, u32)],
    /// Files with contents.
    pub files: &'a [File],
    /// Symlinks as (path, target).
    pub links: &'a [(PathBuf, PathBuf)],
}

/// Creates the directories, files and symlinks of `upper` in the directory `dir`,
/// each parent once, and returns the container paths created. Every operation is
/// relative to one directory fd (no walk from `/` per entry), and the umask is 0 while
/// it runs so the modes are exact (/tmp needs its sticky bit); the tool gets the
/// caller's umask back.
fn fill_upper(dir: &Path, upper: &Upper) -> Result<Made, LaunchError> {
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(format_args!("cannot open {}", dir.display()), e))?;
    let umask = nix::sys::stat::umask(Mode::empty());
    let mut fill = Fill {
        fd,
        made: Made::new(),
    };
    let filled = fill.all(upper);
    nix::sys::stat::umask(umask);
    filled.map(|()| fill.made)
}

struct Fill {
    fd: OwnedFd,
    made: Made,
}

impl Fill {
    fn all(&mut self, upper: &Upper) -> Result<(), LaunchError> {
        for (d, mode) in upper.dirs {
            self.dir(d, *mode)
                .map_err(|e| fail(format_args!("cannot create {}", d.display()), e))?;
        }
        for f in upper.files {
            self.file(f)
                .map_err(|e| fail(format_args!("cannot write {}", f.dst.display()), e))?;
        }
        for (link, target) in upper.links {
            self.parents(link)
                .and_then(|()| nix::unistd::symlinkat(target, &self.fd, rel(link)))
                .map_err(|e| fail(format_args!("cannot create {}", link.display()), e))?;
            // Not recorded in `made`: a link is no place to mount on.
        }
        Ok(())
    }

    /// Creates the missing directories above `dst` (0755).
    fn parents(&mut self, dst: &Path) -> Result<(), Errno> {
        let Some(parent) = dst.parent() else {
            return Ok(());
        };
        if parent == Path::new("/") || self.made.contains(parent) {
            return Ok(());
        }
        self.dir(parent, 0o755)
    }

    fn dir(&mut self, dst: &Path, mode: u32) -> Result<(), Errno> {
        self.parents(dst)?;
        let mode = Mode::from_bits_truncate(mode);
        match mkdirat(&self.fd, rel(dst), mode) {
            Ok(()) => {}
            // Made earlier as a parent of another entry: set the mode asked for now.
            Err(Errno::EEXIST) => nix::sys::stat::fchmodat(
                &self.fd,
                rel(dst),
                mode,
                nix::sys::stat::FchmodatFlags::FollowSymlink,
            )?,
            Err(e) => return Err(e),
        }
        if !self.made.contains(dst) {
            self.made.insert(dst.to_owned());
        }
        Ok(())
    }

    fn file(&mut self, f: &File) -> Result<(), Errno> {
        self.parents(&f.dst)?;
        let fd = openat(
            &self.fd,
            rel(&f.dst),
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(f.mode),
        )?;
        std::fs::File::from(fd)
            .write_all(&f.contents)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
        self.made.insert(f.dst.clone());
        Ok(())
    }
}

impl Root {
    /// Uses the directory `dir` itself, read-write, as the new root (image builds, whose
    /// changes must land in `dir`). It is bound onto itself so it is a mount that can
    /// be moved over `/`.
    pub fn at(dir: &Path) -> Result<Root, LaunchError> {
        mount(
            Some(dir),
            dir,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| fail(format_args!("cannot bind {} onto itself", dir.display()), e))?;
        // Nothing in an image being built was made by jig: every target is resolved
        // in-root.
        Root::enter(dir, Made::new())
    }

    /// Opens the root mounted at `dir` and makes it the working directory.
    fn enter(dir: &Path, made: Made) -> Result<Root, LaunchError> {
        let fd = nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| fail(format_args!("cannot open {}", dir.display()), e))?;
        nix::unistd::fchdir(&fd)
            .map_err(|e| fail(format_args!("cannot enter {}", dir.display()), e))?;
        Ok(Root {
            fd,
            made,
            bound: Vec::new(),
        })
    }

    /// `dst` as a path relative to the root, if this launch created it and everything
    /// above it in the upper layer and no bind so far covers it: then nothing from the
    /// image or the host can be on the way.
    fn made_here<'p>(&self, dst: &'p Path) -> Option<&'p Path> {
        let made = self.made.contains(dst);
        let covered = self.bound.iter().any(|b| dst.starts_with(b));
        (made && !covered && dst.is_absolute()).then(|| rel(dst))
    }
}

/// Overlay options are comma-separated and lowerdir is colon-separated: escape both.
fn escape_overlay_path(out: &mut Vec<u8>, p: &Path) {
    for &b in p.as_os_str().as_bytes() {
        if matches!(b, b',' | b':' | b'\\') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

fn rel(p: &Path) -> &Path {
    p.strip_prefix("/").unwrap_or(p)
}

fn in_root() -> OpenHow {
    OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT)
}

impl Root {
    /// Opens `dst` (a path inside the container) without leaving the root, creating it
    /// as `node` (and missing parents as directories) if it does not exist.
    ///
    /// The common case, an existing mountpoint, costs one `openat2`. A missing node
    /// costs a create in its (recursively opened) parent plus one open.
    fn open(&self, dst: &Path, create: Option<Node>) -> Result<OwnedFd, LaunchError> {
        let r = rel(dst);
        let target = if r.as_os_str().is_empty() {
            Path::new(".")
        } else {
            r
        };
        match openat2(&self.fd, target, in_root()) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) if create.is_some() => {}
            Err(e) => {
                return Err(fail(
                    format_args!("cannot open {} in the container", dst.display()),
                    e,
                ));
            }
        }
        let (Some(name), Some(parent)) = (r.file_name(), dst.parent()) else {
            return Err(LaunchError::setup(format!(
                "cannot create {}",
                dst.display()
            )));
        };
        let dir = self.open(parent, Some(Node::Dir))?;
        let made = if create == Some(Node::File) {
            openat(
                &dir,
                name,
                OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_WRONLY
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            )
            .map(drop)
        } else {
            mkdirat(&dir, name, Mode::from_bits_truncate(0o755))
        };
        match made {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => {
                return Err(fail(
                    format_args!(
                        "cannot create mountpoint {} in the container",
                        dst.display()
                    ),
                    e,
                ));
            }
        }
        // Reopen through the same in-root resolution: if something raced us into
        // placing a symlink there, it still cannot lead out of the root.
        openat2(&self.fd, target, in_root()).map_err(|e| {
            fail(
                format_args!("cannot open {} in the container", dst.display()),
                e,
            )
        })
    }
}

/// Where a mount goes: a path relative to the root, or an fd resolved in-root.
enum Target<'p> {
    Here(&'p Path),
    Fd(OwnedFd),
}

impl Target<'_> {
    /// The path to hand to mount(2).
    fn path(&self) -> PathBuf {
        match self {
            Target::Here(p) => p.to_path_buf(),
            Target::Fd(fd) => format!("/proc/self/fd/{}", fd.as_raw_fd()).into(),
        }
    }
}

impl Root {
    fn target<'p>(&self, dst: &'p Path, create: Option<Node>) -> Result<Target<'p>, LaunchError> {
        match self.made_here(dst) {
            Some(here) => Ok(Target::Here(here)),
            None => self.open(dst, create).map(Target::Fd),
        }
    }
}

/// Applies one bind mount to the root being assembled.
pub fn bind(root: &mut Root, b: &Bind) -> Result<(), LaunchError> {
    // Sources are host paths; a relative one would be looked up in the new root.
    if !b.src.is_absolute() {
        return Err(LaunchError::setup(format!(
            "cannot bind {}: not an absolute path",
            b.src.display()
        )));
    }
    let target = root.target(&b.dst, Some(b.node))?;
    // Directories are bound recursively: a non-recursive bind of a tree with mounts
    // below it (like /proc) is refused in a user namespace, since it would uncover
    // what those mounts hide. A file has nothing below it.
    // `DirAlone` is bound without what is mounted below it: jig's data directory,
    // below which this launch's own scratch tmpfs and overlay are mounted.
    let rec = match b.node {
        Node::Dir => MsFlags::MS_REC,
        Node::DirAlone | Node::File => MsFlags::empty(),
    };
    mount(
        Some(b.src.as_path()),
        &target.path(),
        None::<&str>,
        MsFlags::MS_BIND | rec,
        None::<&str>,
    )
    .map_err(|e| {
        fail(
            format_args!("cannot bind {} to {}", b.src.display(), b.dst.display()),
            e,
        )
    })?;
    if b.readonly {
        // A relative path now leads to the new mount; an fd still refers to the
        // covered mountpoint, so making it read-only needs a fresh one.
        let mounted = match target {
            Target::Here(_) => target,
            Target::Fd(_) => Target::Fd(root.open(&b.dst, None)?),
        };
        let set = match &mounted {
            Target::Here(rel) => readonly::set(None, rel),
            Target::Fd(fd) => readonly::set(Some(fd.as_fd()), Path::new("")),
        };
        if set.is_err() {
            // Before Linux 5.12, a bind mount is made read-only by a second mount call.
            readonly::remount(&b.src, &mounted.path())
                .map_err(|e| fail(format_args!("cannot make {} read-only", b.dst.display()), e))?;
        }
    }
    root.bound.push(b.dst.clone());
    Ok(())
}

/// Mounts a new devpts instance on `dst`, a directory inside the root: the ptys the
/// tool opens through `/dev/ptmx` (a link to this instance's `ptmx`) appear in it, and
/// no terminal of the host does. devpts may be mounted in a user namespace
/// (`FS_USERNS_MOUNT`); every mount is a new instance since Linux 4.7, and
/// `newinstance` says so to older kernels. `ptmxmode=0666` opens the instance's own
/// `ptmx` node to everyone, as the host's `/dev/ptmx` is; new slaves get mode 0620 and
/// the caller's group (the host's `tty` group is not mapped).
pub fn devpts(root: &mut Root, dst: &Path) -> Result<(), LaunchError> {
    let target = root.target(dst, Some(Node::Dir))?;
    mount(
        Some("devpts"),
        &target.path(),
        Some("devpts"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )
    .map_err(|e| fail(format_args!("cannot mount devpts on {}", dst.display()), e))?;
    root.bound.push(dst.to_owned());
    Ok(())
}

/// A minimal `/dev` for an image build: a tmpfs with the host's `devices` bound onto
/// files in it, a devpts instance on `pts` (apt runs dpkg on a pty), `shm`, and the
/// `fd`/`stdin`/`stdout`/`stderr`/`ptmx` links. Nothing else of the host's `/dev`,
/// whatever the image has there stays covered, and the build's tree is not changed.
pub fn minimal_dev(root: &mut Root, devices: &[&str]) -> Result<(), LaunchError> {
    let dev = Path::new("/dev");
    let target = root.target(dev, Some(Node::Dir))?;
    mount(
        Some("tmpfs"),
        &target.path(),
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("mode=0755"),
    )
    .map_err(|e| fail("cannot mount a tmpfs on /dev", e))?;
    root.bound.push(dev.to_owned());
    drop(target);
    // The fresh tmpfs: nothing in it can be a symlink yet.
    let fd = root.open(dev, None)?;
    let at = |what: &str, e: Errno| fail(format_args!("cannot create /dev/{what}"), e);
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
    ] {
        nix::unistd::symlinkat(to, &fd, link).map_err(|e| at(link, e))?;
    }
    for d in ["pts", "shm"] {
        mkdirat(&fd, d, Mode::from_bits_truncate(0o755)).map_err(|e| at(d, e))?;
    }
    nix::sys::stat::fchmodat(
        &fd,
        "shm",
        Mode::from_bits_truncate(0o1777),
        nix::sys::stat::FchmodatFlags::NoFollowSymlink,
    )
    .map_err(|e| at("shm", e))?;
    drop(fd);
    for name in devices {
        let p = PathBuf::from(format!("/dev/{name}"));
        bind(
            root,
            &Bind {
                src: p.clone(),
                dst: p,
                node: Node::File,
                readonly: false,
            },
        )?;
    }
    devpts(root, Path::new("/dev/pts"))
}

/// Makes the assembled root the process root and enters `cwd`.
///
/// switch_root(8) style: move the new root's mount on top of `/`, then chroot into
/// it. The host's tree stays underneath, covered: no path from the new root leads to
/// it (even `..` at `/` and an escaped chroot resolve through the covering mount).
/// `pivot_root` + `umount2(MNT_DETACH)` would detach it instead, but the detach waits
/// for an RCU grace period, which costs 0.1–2 ms per launch; the covered tree is
/// dropped with the namespace when the tool exits.
///
/// That is safe only for a process without capabilities in the launch's user
/// namespace: with `CAP_SYS_ADMIN` it could `umount2("/")` and `setns` into its own
/// mount namespace, whose root would be the host's `/` again. Builds run steps as
/// root with capabilities and use [`pivot_detach`]; a tool launched by root runs
/// without `CAP_SYS_ADMIN` (`Confine::drop_caps`).
pub fn pivot(root: Root, cwd: &Path) -> Result<(), LaunchError> {
    // The working directory is the new root already (`Root::enter`).
    drop(root);
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(|e| fail("cannot move the new root onto /", e))?;
    chroot(".").map_err(|e| fail("chroot failed", e))?;
    chdir(cwd).map_err(|e| {
        fail(
            format_args!("cannot enter the working directory {}", cwd.display()),
            e,
        )
    })?;
    Ok(())
}

/// Makes the assembled root the root of the mount namespace and removes the host's
/// tree from the namespace altogether, as bubblewrap and runc do: `pivot_root(".",
/// ".")` stacks the old root on top of the new one, and `umount2(".", MNT_DETACH)`
/// detaches it (with every host mount below it). Afterwards no mount of the namespace
/// leads to the host, so even a process with every capability in it (a build step
/// runs as root) finds nothing by unmounting or by `setns` into the namespace.
///
/// The detach waits for an RCU grace period (0.1–2 ms), nothing next to a build.
pub fn pivot_detach(root: Root) -> Result<(), LaunchError> {
    // The working directory is the new root already (`Root::enter`).
    drop(root);
    nix::unistd::pivot_root(".", ".").map_err(|e| fail("pivot_root failed", e))?;
    nix::mount::umount2(".", nix::mount::MntFlags::MNT_DETACH)
        .map_err(|e| fail("cannot detach the host's root", e))?;
    chdir("/").map_err(|e| fail("cannot enter the new root", e))?;
    Ok(())
}
