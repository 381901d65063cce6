//! Removing trees the store made.

use std::fs;
use std::io::{self, ErrorKind};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// `rm -rf` that first makes directories writable, since images may contain read-only
/// directories that would otherwise make removal fail. What vanishes meanwhile (a
/// concurrent sweep of the same debris) is not an error.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let gone = |r: io::Result<()>| match r {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        other => other,
    };
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
        Ok(m) if !m.is_dir() => return gone(fs::remove_file(path)),
        Ok(m) => {
            if m.permissions().mode() & 0o700 != 0o700 {
                gone(fs::set_permissions(path, fs::Permissions::from_mode(0o700)))?;
            }
        }
    }
    let entries = match fs::read_dir(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        other => other?,
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            remove_tree(&entry.path())?;
        } else {
            gone(fs::remove_file(entry.path()))?;
        }
    }
    gone(fs::remove_dir(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_directories_are_removed_and_missing_paths_are_fine() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("a/b");
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("f"), "x").unwrap();
        fs::set_permissions(&d, fs::Permissions::from_mode(0o500)).unwrap();
        remove_tree(&t.path().join("a")).unwrap();
        assert!(!t.path().join("a").exists());
        remove_tree(&t.path().join("a")).unwrap();
    }
}
