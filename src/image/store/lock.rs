//! `flock(2)` locks: the store's lock file, and the locks that say an entry of the
//! store (a temp directory, a lease, a build in flight) belongs to a live process.
//!
//! flock rather than fcntl locks: a flock belongs to the open file description, so
//! it is not dropped when other code closes another fd of the same file, forked
//! children that inherit the fd keep it held, and the kernel drops it when the last
//! holder dies: a crash never leaves anything locked. Two opens of one file by the
//! same process conflict like two processes do, so a process sees its own entries as
//! taken too.

use std::fs::File;
use std::io::{self, ErrorKind};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

use anyhow::{Context, Result};

/// A held `flock(2)`; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct StoreLock {
    _file: File,
}

/// Opens (creating it) and `flock(2)`s the file at `path`, shared or exclusive,
/// waiting as long as it takes; the lock lasts as long as the returned value. A
/// caught SIGINT/SIGTERM/SIGHUP ends the wait ([`crate::base::interrupt`]).
pub fn lock_file(path: &Path, exclusive: bool) -> Result<StoreLock> {
    let file = open_lock_file(path)?;
    wait(&file, exclusive).with_context(|| format!("locking {}", path.display()))?;
    Ok(StoreLock { _file: file })
}

/// Opens (creating it, never following a symlink) a file to lock.
pub fn open_lock_file(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))
}

/// Takes the lock on `fd` if nobody holds a conflicting one: `Ok(false)` when it is
/// taken (by another process, or through another open file of this one).
pub fn try_lock(fd: impl AsFd, exclusive: bool) -> io::Result<bool> {
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    } | libc::LOCK_NB;
    loop {
        // SAFETY: flock on an fd the caller owns.
        if unsafe { libc::flock(fd.as_fd().as_raw_fd(), op) } == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// Waits for the lock on `fd`. Interrupted by a caught signal, returns that error.
pub fn wait(fd: impl AsFd, exclusive: bool) -> io::Result<()> {
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    loop {
        // SAFETY: flock on an fd the caller owns.
        if unsafe { libc::flock(fd.as_fd().as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != ErrorKind::Interrupted {
            return Err(err);
        }
        crate::base::interrupt::check_io()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_open_file_conflicts_even_in_the_same_process() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("l");
        let held = lock_file(&p, true).unwrap();
        let other = open_lock_file(&p).unwrap();
        assert!(!try_lock(&other, false).unwrap());
        drop(held);
        assert!(try_lock(&other, false).unwrap());
        let third = open_lock_file(&p).unwrap();
        assert!(try_lock(&third, false).unwrap(), "shared locks share");
        assert!(
            !try_lock(&third, true).unwrap(),
            "not exclusive beside another"
        );
        std::os::unix::fs::symlink(&p, t.path().join("link")).unwrap();
        assert!(
            open_lock_file(&t.path().join("link")).is_err(),
            "no symlinks"
        );
    }
}
