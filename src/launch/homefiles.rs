//! The recipe's read-write home paths that may be files (`[mounts] home_rw`), looked at
//! for staging ([`crate::runtime::spec::Saved`]): a regular file's contents and mode,
//! or a missing path whose directory exists (the tool may create it). A directory, a
//! socket, a file larger than [`MAX_STAGED`] is bound as before and is not here.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::recipe::HomePath;

/// The largest file staged; a larger one is bound in place.
pub const MAX_STAGED: u64 = 1 << 20;

/// A read-write home path as a launch stages it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeFile {
    /// A regular file (symlinks followed): its contents and permission bits.
    File {
        /// What it holds.
        contents: Vec<u8>,
        /// Permission bits without set-id bits.
        mode: u32,
    },
    /// Nothing is there, and its directory exists (with these permission bits).
    Missing {
        /// The directory's permission bits.
        parent_mode: u32,
    },
}

/// Looks at each of `home_rw` below `home`: one `open` + `fstat` + `read` for a file,
/// an `lstat`-class call or two otherwise.
pub fn gather(home: &Path, home_rw: &[HomePath]) -> BTreeMap<String, HomeFile> {
    let mut out = BTreeMap::new();
    if !home.is_absolute() || home == Path::new("/") {
        return out;
    }
    for rel in home_rw {
        let path = home.join(rel.as_str());
        if let Some(f) = look(&path) {
            out.insert(rel.as_str().to_owned(), f);
        }
    }
    out
}

fn look(path: &Path) -> Option<HomeFile> {
    // Non-blocking: a FIFO at the path must not hang the launch.
    match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(f) => {
            let m = f.metadata().ok()?;
            if !m.is_file() || m.len() > MAX_STAGED {
                return None;
            }
            let mut contents = Vec::with_capacity(m.len() as usize);
            f.take(MAX_STAGED + 1).read_to_end(&mut contents).ok()?;
            if contents.len() as u64 > MAX_STAGED {
                return None;
            }
            Some(HomeFile::File {
                contents,
                mode: m.permissions().mode() & 0o1777,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // A dangling symlink is not "missing": creating it would write elsewhere.
            if std::fs::symlink_metadata(path).is_ok() {
                return None;
            }
            let parent = std::fs::metadata(path.parent()?).ok()?;
            parent.is_dir().then(|| HomeFile::Missing {
                parent_mode: parent.permissions().mode() & 0o7777,
            })
        }
        // A directory opens too (and is bound); anything unreadable is bound as well.
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_missing_paths_need_their_directory_and_the_rest_is_left_out() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path();
        std::fs::write(home.join(".conf"), "x = 1\n").unwrap();
        std::fs::set_permissions(home.join(".conf"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::fs::create_dir(home.join(".dir")).unwrap();
        std::os::unix::fs::symlink("nowhere", home.join(".dangling")).unwrap();
        let rw: Vec<HomePath> = [".conf", ".dir", ".new", ".dangling", ".none/x"]
            .iter()
            .map(|p| HomePath::new(p).unwrap())
            .collect();
        let got = gather(home, &rw);
        assert_eq!(
            got.get(".conf"),
            Some(&HomeFile::File {
                contents: b"x = 1\n".to_vec(),
                mode: 0o640
            })
        );
        assert!(matches!(got.get(".new"), Some(HomeFile::Missing { .. })));
        assert_eq!(got.len(), 2, "{got:?}");
    }
}
