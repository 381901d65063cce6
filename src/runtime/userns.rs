//! Entering the user and mount namespaces.
//!
//! See user_namespaces(7). One `unshare` creates both: the new mount namespace is
//! owned by the new user namespace, in which the caller holds every capability, so the
//! mounts that follow need no privilege on the host. The single-line id maps make the
//! caller's uid and gid mean the same inside as outside: files the tool creates in the
//! project belong to the user, and `id` prints the user's ids.

use std::fs;

use nix::errno::Errno;
use nix::sched::{CloneFlags, unshare};

use crate::base::error::LaunchError;

/// Creates the namespaces and maps the caller's uid and gid to themselves.
pub fn enter(uid: u32, gid: u32) -> Result<(), LaunchError> {
    enter_as(uid, gid, uid, gid)
}

/// Creates the namespaces and maps the caller's `uid`/`gid` (outside) to `inner_uid` /
/// `inner_gid` (inside). Builds use 0/0: root inside, the caller outside.
pub fn enter_as(inner_uid: u32, inner_gid: u32, uid: u32, gid: u32) -> Result<(), LaunchError> {
    // unshare(2): CLONE_NEWUSER fails with EINVAL in a multi-threaded process.
    unshare(FLAGS).map_err(cannot_create)?;
    map(inner_uid, inner_gid, uid, gid)
}

/// The namespaces a launch or build lives in: a user namespace and a mount namespace
/// it owns.
pub const FLAGS: CloneFlags = CloneFlags::CLONE_NEWUSER.union(CloneFlags::CLONE_NEWNS);

/// The error for `unshare` or `clone` refusing [`FLAGS`].
pub fn cannot_create(e: Errno) -> LaunchError {
    let err = LaunchError::setup(format!("cannot create a user namespace: {e}"));
    match e {
        Errno::EPERM | Errno::ENOSPC | Errno::EACCES => err.hint(
            "unprivileged user namespaces are disabled or exhausted here; `jig doctor` shows which setting to change",
        ),
        Errno::EINVAL => err.hint("jig was multi-threaded at unshare time; this is a bug in jig"),
        _ => err,
    }
}

/// Maps `uid`/`gid` (outside) to `inner_uid`/`inner_gid` in the user namespace the
/// process has just entered, by unshare or by being cloned into it.
pub fn map(inner_uid: u32, inner_gid: u32, uid: u32, gid: u32) -> Result<(), LaunchError> {
    // uid_map first; setgroups must be denied before an unprivileged process may write
    // gid_map (user_namespaces(7), "The /proc/[pid]/setgroups file").
    write_map("/proc/self/uid_map", &format!("{inner_uid} {uid} 1\n"))?;
    write_map("/proc/self/setgroups", "deny\n")?;
    write_map("/proc/self/gid_map", &format!("{inner_gid} {gid} 1\n"))?;
    Ok(())
}

fn write_map(path: &str, contents: &str) -> Result<(), LaunchError> {
    fs::write(path, contents).map_err(|e| {
        LaunchError::setup(format!("cannot write {path}: {e}")).hint(
            "the kernel created the user namespace but refused the id map; on Ubuntu this is \
             the AppArmor user-namespace restriction: `jig doctor` shows the fix",
        )
    })
}
