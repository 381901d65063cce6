//! Making a bind mount read-only: mount_setattr(2) where the kernel has it (5.12), a
//! remount that repeats the source mount's locked flags before that.

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sys::statvfs::{FsFlags, statvfs};

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `MOUNT_ATTR_RDONLY` (linux/mount.h).
const MOUNT_ATTR_RDONLY: u64 = 1;

/// Makes the mount at `path` (relative to the working directory), or at `fd` itself
/// when given (`path` then empty), read-only with mount_setattr(2) (Linux 5.12): one
/// call that changes that flag alone, where a remount needs statfs(2) first to
/// repeat the flags the source mount has locked.
pub fn set(fd: Option<BorrowedFd>, path: &Path) -> Result<(), Errno> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let (dirfd, flags) = match fd {
        None => (libc::AT_FDCWD, 0),
        Some(fd) => (fd.as_raw_fd(), libc::AT_EMPTY_PATH),
    };
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)?;
    // SAFETY: a valid path, a struct of the size passed; the kernel only reads them.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags as libc::c_uint,
            &attr as *const MountAttr,
            size_of::<MountAttr>(),
        )
    };
    Errno::result(r).map(drop)
}

/// statvfs(3)'s relatime bit (linux/statfs.h), which musl's headers do not name.
const ST_RELATIME: FsFlags = FsFlags::from_bits_retain(0x1000);

/// Makes the bind mount at `target` (a bind of `src`) read-only by remounting it, as
/// kernels before 5.12 need. In a user namespace the flags the source mount has
/// locked (nosuid, nodev, noexec, atime) must be repeated or the kernel answers EPERM.
pub fn remount(src: &Path, target: &Path) -> Result<(), Errno> {
    mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_BIND | MsFlags::MS_RDONLY | locked_flags(src),
        None::<&str>,
    )
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
        (ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(fs) {
            out |= ms;
        }
    }
    out
}
