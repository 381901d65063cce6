//! Temporary files and directories: written under a name of their own in a directory
//! of the store (the directory they end up in, or the store's `tmp/`), and removed on
//! drop unless renamed into place or kept. A file that is only ever renamed into place
//! once complete never shows up half-written under its real name.
//!
//! Each one is owned: its writer holds an `flock(2)` on it for as long as it works on
//! it (forked helpers share the lock), and the kernel drops that lock when the writer
//! dies, however it dies. [`sweep`] removes what nobody holds: the leftovers of killed
//! processes, told apart from live work without trusting pids (which get reused).
//!
//! The order matters against a sweep running at the same time: a new entry is created,
//! then locked, then checked to still have a name (`fstat` link count); a sweeper locks
//! an entry before removing it and checks that the name still leads to the file it
//! locked. Either the sweeper wins and the writer retries with a new name, or the
//! writer wins and the sweeper leaves it alone.

use std::fs::{self, File};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::lock::try_lock;
use super::remove::remove_tree;

static N: AtomicU32 = AtomicU32::new(0);

/// A file being written under a temporary name; removed on drop unless it was
/// [persisted](TempFile::persist).
#[derive(Debug)]
pub struct TempFile {
    /// The open file, for reading and writing (it holds the ownership lock).
    pub file: File,
    path: PathBuf,
    kept: bool,
}

/// A temporary file that could not be created: the path tried, and why.
#[derive(Debug)]
pub struct CreateError {
    /// The path tried.
    pub path: PathBuf,
    /// What creating it failed with.
    pub error: io::Error,
}

/// True when the open file still has a name (a sweep did not remove it meanwhile).
fn linked(fd: impl AsFd) -> io::Result<bool> {
    Ok(nix::sys::stat::fstat(fd.as_fd())
        .map_err(io::Error::from)?
        .st_nlink
        > 0)
}

impl TempFile {
    /// Creates `dir/PREFIX<pid>-<n>` exclusively (the first such name that is free),
    /// for reading and writing, and takes its ownership lock.
    pub fn create(dir: &Path, prefix: &str) -> Result<TempFile, CreateError> {
        loop {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{prefix}{}-{n}", std::process::id()));
            let file = match File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(&path)
            {
                Ok(file) => file,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(CreateError { path, error }),
            };
            let owned = try_lock(&file, true).and_then(|got| Ok(got && linked(&file)?));
            match owned {
                Ok(true) => {
                    return Ok(TempFile {
                        file,
                        path,
                        kept: false,
                    });
                }
                // A sweep took it between the create and the lock: another name.
                Ok(false) => continue,
                Err(error) => return Err(CreateError { path, error }),
            }
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to `dest` (while still holding it). If that fails, the file
    /// is removed.
    pub fn persist(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A directory this process owns (see the module docs) while the value lives.
#[derive(Debug)]
pub struct OwnedDir {
    /// The directory.
    pub path: PathBuf,
    _fd: OwnedFd,
}

/// Creates `dir/PREFIX<pid>-<n>`, a directory owned by this process.
pub fn owned_dir(dir: &Path, prefix: &str) -> io::Result<OwnedDir> {
    loop {
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{prefix}{}-{n}", std::process::id()));
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
        let fd: OwnedFd = match File::options()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => f.into(),
            // Swept already.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        if try_lock(&fd, true)? && linked(&fd)? {
            return Ok(OwnedDir { path, _fd: fd });
        }
    }
}

/// Removes the entries of `dir` that `wanted` accepts (by file name) and that no
/// process owns; returns how many. Entries that cannot be opened to check (a symlink,
/// a socket) are debris too.
pub fn sweep(dir: &Path, wanted: impl Fn(&str) -> bool) -> io::Result<usize> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(&wanted) {
            continue;
        }
        let path = entry.path();
        // O_NONBLOCK: a fifo must not make the open wait for a writer.
        let file = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path);
        let _held = match file {
            Ok(f) => {
                if !try_lock(&f, true)? {
                    continue;
                }
                // The name must still lead to what was locked.
                let same = fs::symlink_metadata(&path)
                    .is_ok_and(|m| f.metadata().is_ok_and(|o| o.ino() == m.ino()));
                if !same {
                    continue;
                }
                Some(f)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(_) => None,
        };
        remove_tree(&path)?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Seek, Write};

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_temp_file_is_removed_unless_persisted() {
        let t = tempfile::tempdir().unwrap();
        let mut a = TempFile::create(t.path(), "x-").unwrap();
        let b = TempFile::create(t.path(), "x-").unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            name.starts_with(&format!("x-{}-", std::process::id())),
            "{name}"
        );
        a.file.write_all(b"data").unwrap();
        a.file.rewind().unwrap();
        let mut back = String::new();
        a.file.read_to_string(&mut back).unwrap();
        assert_eq!(back, "data", "readable too");
        drop(b);
        a.persist(&t.path().join("done")).unwrap();
        assert_eq!(names(t.path()), ["done"]);
        assert_eq!(fs::read(t.path().join("done")).unwrap(), b"data");
        // A failed rename removes the file.
        let d = TempFile::create(t.path(), "z-").unwrap();
        assert!(d.persist(&t.path().join("no/such/dir")).is_err());
        assert_eq!(names(t.path()), ["done"]);
    }

    #[test]
    fn a_sweep_removes_only_what_nobody_holds() {
        let t = tempfile::tempdir().unwrap();
        let held = TempFile::create(t.path(), "x-").unwrap();
        let dir = owned_dir(t.path(), "d-").unwrap();
        fs::write(dir.path.join("inside"), "x").unwrap();
        // Left by a dead process: nobody holds them.
        fs::write(t.path().join("x-1-1"), "old").unwrap();
        fs::create_dir_all(t.path().join("d-1-1/sub")).unwrap();
        fs::write(t.path().join("other"), "not ours").unwrap();
        let n = sweep(t.path(), |n| n.starts_with("x-") || n.starts_with("d-")).unwrap();
        assert_eq!(n, 2);
        let mut left = names(t.path());
        left.sort();
        let mut want = vec![
            held.path()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned(),
            dir.path.file_name().unwrap().to_str().unwrap().to_owned(),
            "other".to_owned(),
        ];
        want.sort();
        assert_eq!(left, want);
        // Once its owner lets go of the directory (as a dead process would, without
        // removing it: here its ownership alone is dropped), it is debris too.
        let OwnedDir { path, _fd } = dir;
        drop(_fd);
        assert_eq!(sweep(t.path(), |n| n != "other").unwrap(), 1);
        assert!(!path.exists());
        assert!(held.path().exists(), "still held");
    }

    #[test]
    fn creating_in_a_missing_directory_names_the_path() {
        let t = tempfile::tempdir().unwrap();
        let err = TempFile::create(&t.path().join("missing"), "x-").unwrap_err();
        assert!(err.path.starts_with(t.path().join("missing")));
        assert_eq!(err.error.kind(), io::ErrorKind::NotFound);
    }
}
