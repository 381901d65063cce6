//! The tree hash that names images.
//!
//! A deterministic sha256 over a directory tree: entries in byte order of their paths,
//! each recorded as its kind, path, permission bits and content (sha256 of a file's
//! bytes, a symlink's target). Owners and timestamps are left out on purpose: the same
//! image unpacked by two users on two machines hashes the same.

use crate::base::digest::hex;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Result of hashing a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeSummary {
    /// sha256 of the canonical listing, lowercase hex.
    pub hex: String,
    /// Sum of regular file sizes in bytes.
    pub size: u64,
}

/// What [`hash_with`] calls for each regular file: its path, metadata and content
/// hash (hex).
pub type OnFile<'a> = dyn FnMut(&Path, &fs::Metadata, &str) + 'a;

/// Hashes the tree below `root` (not following symlinks).
pub fn hash(root: &Path) -> io::Result<TreeSummary> {
    hash_with(root, &mut |_, _, _| {})
}

/// Hashes the tree below `root`, calling `on_file` for every regular file once it is
/// hashed (the store shares it with other images then: the file is read only once).
/// Stops with an error when SIGINT/SIGTERM/SIGHUP was caught.
pub fn hash_with(root: &Path, on_file: &mut OnFile) -> io::Result<TreeSummary> {
    let mut listing = Sha256::new();
    let mut size = 0;
    let mut buf = vec![0u8; 256 * 1024];
    walk(root, b"", &mut listing, &mut size, &mut buf, on_file)?;
    Ok(TreeSummary {
        hex: hex(&listing.finalize()),
        size,
    })
}

fn walk(
    dir: &Path,
    rel: &[u8],
    listing: &mut Sha256,
    size: &mut u64,
    buf: &mut [u8],
    on_file: &mut OnFile,
) -> io::Result<()> {
    crate::base::interrupt::check_io()?;
    let mut names: Vec<_> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let path = dir.join(&name);
        let mut child = rel.to_vec();
        child.push(b'/');
        child.extend_from_slice(name.as_bytes());
        let meta = fs::symlink_metadata(&path)?;
        let ft = meta.file_type();
        let mode = meta.mode() & 0o7777;
        let (kind, content) = if ft.is_dir() {
            ('d', String::new())
        } else if ft.is_symlink() {
            let target = fs::read_link(&path)?;
            ('l', hex(target.as_os_str().as_bytes()))
        } else if ft.is_file() {
            *size += meta.len();
            let sha = file_sha256(&path, buf)?;
            on_file(&path, &meta, &sha);
            ('f', sha)
        } else if ft.is_fifo() {
            ('p', String::new())
        } else {
            // Devices and sockets never enter the store; be loud if one did.
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected special file {}", path.display()),
            ));
        };
        listing.update([kind as u8, 0]);
        listing.update(&child);
        listing.update(format!("\0{mode:o}\0{content}\n").as_bytes());
        if ft.is_dir() {
            walk(&path, &child, listing, size, buf, on_file)?;
        }
    }
    Ok(())
}

fn file_sha256(path: &Path, buf: &mut [u8]) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    loop {
        let n = f.read(buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn sample(root: &Path) {
        fs::create_dir_all(root.join("a/b")).unwrap();
        fs::write(root.join("a/b/f"), "hello").unwrap();
        symlink("b/f", root.join("a/l")).unwrap();
    }

    #[test]
    fn same_tree_same_hash_and_any_change_differs() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        sample(d1.path());
        sample(d2.path());
        let h1 = hash(d1.path()).unwrap();
        assert_eq!(h1, hash(d2.path()).unwrap());
        assert_eq!(h1.size, 5);

        fs::write(d2.path().join("a/b/f"), "hellp").unwrap();
        assert_ne!(h1, hash(d2.path()).unwrap());
        fs::write(d2.path().join("a/b/f"), "hello").unwrap();
        fs::set_permissions(d2.path().join("a/b/f"), fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(h1.hex, hash(d2.path()).unwrap().hex);
        fs::set_permissions(d2.path().join("a/b/f"), fs::Permissions::from_mode(0o644)).unwrap();
        fs::remove_file(d2.path().join("a/l")).unwrap();
        symlink("b/g", d2.path().join("a/l")).unwrap();
        assert_ne!(h1.hex, hash(d2.path()).unwrap().hex);
    }
}
