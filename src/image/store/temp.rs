//! Temporary files: written under a name of their own in a directory of the store
//! (the directory they end up in, or the store's `tmp/`), and removed on drop unless
//! renamed into place or kept. A file that is only ever renamed into place once
//! complete never shows up half-written under its real name.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// A file being written under a temporary name; removed on drop unless it was
/// [persisted](TempFile::persist) or [kept](TempFile::keep).
#[derive(Debug)]
pub struct TempFile {
    /// The open file, for reading and writing.
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

impl TempFile {
    /// Creates `dir/PREFIX<pid>-<n>` exclusively (the first such name that is free),
    /// for reading and writing.
    pub fn create(dir: &Path, prefix: &str) -> Result<TempFile, CreateError> {
        static N: AtomicU32 = AtomicU32::new(0);
        loop {
            let n = N.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("{prefix}{}-{n}", std::process::id()));
            match File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        file,
                        path,
                        kept: false,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(error) => return Err(CreateError { path, error }),
            }
        }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the file to `dest`. If that fails, the file is removed.
    pub fn persist(mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.kept = true;
        Ok(())
    }

    /// Leaves the file where it is, no longer removed on drop, and returns its path.
    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = fs::remove_file(&self.path);
        }
    }
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
    fn a_temp_file_is_removed_unless_persisted_or_kept() {
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
        let c = TempFile::create(t.path(), "y-").unwrap();
        let kept = c.keep();
        assert!(kept.is_file());
        fs::remove_file(kept).unwrap();
        assert_eq!(names(t.path()), ["done"]);
        assert_eq!(fs::read(t.path().join("done")).unwrap(), b"data");
        // A failed rename removes the file.
        let d = TempFile::create(t.path(), "z-").unwrap();
        assert!(d.persist(&t.path().join("no/such/dir")).is_err());
        assert_eq!(names(t.path()), ["done"]);
    }

    #[test]
    fn creating_in_a_missing_directory_names_the_path() {
        let t = tempfile::tempdir().unwrap();
        let err = TempFile::create(&t.path().join("missing"), "x-").unwrap_err();
        assert!(err.path.starts_with(t.path().join("missing")));
        assert_eq!(err.error.kind(), io::ErrorKind::NotFound);
    }
}
