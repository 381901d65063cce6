//! Building the container root and switching into it.
//!
//! Every target path is resolved inside the new root with `openat2(RESOLVE_IN_ROOT)`,
//! and the mount goes onto the resulting fd through `/proc/self/fd/N`. An absolute
//! symlink in the image (say `/home -> /host/home`) therefore resolves to a path in the
//! image, never to one on the host.

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, mkdirat};
use nix::sys::statvfs::{FsFlags, statvfs};
use nix::unistd::{chdir, chroot};

use super::LaunchError;
use crate::plan::{Bind, File, Node};

/// The new root while it is being assembled.
pub struct Root {
    path: PathBuf,
    fd: OwnedFd,
}

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
    let upper_dir = scratch.join("upper");
    for (d, mode) in upper.dirs {
        make_upper_dir(&upper_dir, d, *mode)?;
    }
    for f in upper.files {
        write_upper(&upper_dir, f)?;
    }
    for (link, target) in upper.links {
        let made =
            in_upper(&upper_dir, link).and_then(|path| std::os::unix::fs::symlink(target, path));
        made.map_err(|e| LaunchError::setup(format!("cannot create {}: {e}", link.display())))?;
    }
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
    let fd = nix::fcntl::open(
        &root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| fail(format_args!("cannot open {}", root.display()), e))?;
    Ok(Root { path: root, fd })
}

/// Places `dst` (a path inside the container) in the upper directory, creating its
/// parents (0755), and returns the host path. The upper directory is a fresh tmpfs
/// directory only this process sees, so plain path operations are safe here.
fn in_upper(upper: &Path, dst: &Path) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let path = upper.join(rel(dst));
    if let Some(parent) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(parent)?;
    }
    Ok(path)
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

fn make_upper_dir(upper: &Path, dir: &Path, mode: u32) -> Result<(), LaunchError> {
    use std::os::unix::fs::PermissionsExt;
    let made = in_upper(upper, dir).and_then(|path| {
        match std::fs::create_dir(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        // Set explicitly: the umask must not decide, and /tmp needs its sticky bit.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
    });
    made.map_err(|e| LaunchError::setup(format!("cannot create {}: {e}", dir.display())))
}

fn write_upper(upper: &Path, f: &File) -> Result<(), LaunchError> {
    use std::os::unix::fs::OpenOptionsExt;
    let written = in_upper(upper, &f.dst).and_then(|path| {
        std::fs::File::options()
            .write(true)
            .create_new(true)
            .mode(f.mode)
            .open(&path)
            .and_then(|mut file| file.write_all(&f.contents))
    });
    written.map_err(|e| LaunchError::setup(format!("cannot write {}: {e}", f.dst.display())))
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
        let fd = nix::fcntl::open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| fail(format_args!("cannot open {}", dir.display()), e))?;
        Ok(Root {
            path: dir.to_owned(),
            fd,
        })
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

fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Applies one bind mount to the root being assembled.
pub fn bind(root: &Root, b: &Bind) -> Result<(), LaunchError> {
    let target = root.open(&b.dst, Some(b.node))?;
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
        fd_path(&target).as_str(),
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
        // A bind mount is made read-only by a second mount call. In a user namespace
        // the flags the source mount has locked (nosuid, nodev, noexec, atime) must be
        // repeated or the kernel answers EPERM.
        let locked = locked_flags(&b.src);
        let mounted = root.open(&b.dst, None)?;
        mount(
            None::<&str>,
            fd_path(&mounted).as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | locked,
            None::<&str>,
        )
        .map_err(|e| fail(format_args!("cannot make {} read-only", b.dst.display()), e))?;
    }
    Ok(())
}

/// Mount flags of the mount holding `path` that a user namespace may not clear.
fn locked_flags(path: &Path) -> MsFlags {
    let Ok(st) = statvfs(path) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}

/// Makes the assembled root the process root and enters `cwd`.
///
/// switch_root(8) style: move the new root's mount on top of `/`, then chroot into
/// it. The host's tree stays underneath, covered: no path from the new root leads to
/// it (even `..` at `/` and an escaped chroot resolve through the covering mount).
/// `pivot_root` + `umount2(MNT_DETACH)` would detach it instead, but the detach waits
/// for an RCU grace period, which costs 0.1–2 ms per launch; the covered tree is
/// dropped with the namespace when the tool exits.
pub fn pivot(root: Root, cwd: &Path) -> Result<(), LaunchError> {
    chdir(&root.path).map_err(|e| fail(format_args!("cannot enter {}", root.path.display()), e))?;
    drop(root.fd);
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
