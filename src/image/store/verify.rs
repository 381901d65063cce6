//! Checking images against their names.
//!
//! An image's id is the tree hash of its root filesystem, so a full check rehashes
//! the tree ([`verify`]): one changed byte, a lost file, a changed mode shows. A quick
//! check ([`Store::found`]) only looks at `image.toml` and `rootfs/`.
//!
//! A damaged shared file ([`super::files`]) damages every image that links to it. Its
//! name in the file store says what its content must be, which tells which stored
//! files are damaged ([`damaged_shared`]) and so which other images are, too; a
//! repair removes those stored files before anything is rebuilt, so the rebuild does
//! not link the damage back in.

use std::collections::{BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::images::{Found, Store};
use super::meta::ImageId;
use super::tree;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The image is what its id says.
    Intact,
    /// It is not: why.
    Damaged(String),
}

/// Checks image `id` fully: complete, and its tree hashes to its id.
pub fn verify(store: &Store, id: &ImageId) -> Verdict {
    match store.found(id) {
        None => Verdict::Damaged(format!("image {} is not in the store", id.short())),
        Some(Found::Damaged(_, why)) => Verdict::Damaged(why),
        Some(Found::Image(_)) => {
            let rootfs = store.rootfs_of(id);
            match tree::hash(&rootfs) {
                Ok(s) if s.hex == id.hex() => Verdict::Intact,
                Ok(s) => Verdict::Damaged(format!(
                    "the files in {} changed: they hash to {}, not to the image's id",
                    rootfs.display(),
                    &s.hex[..12]
                )),
                Err(e) => Verdict::Damaged(format!("cannot read {}: {e}", rootfs.display())),
            }
        }
    }
}

/// Stored shared files that the images `ids` link to and whose content no longer
/// matches their name, and every image of the store linking to one of them.
pub fn damaged_shared(store: &Store, ids: &[ImageId]) -> (Vec<PathBuf>, BTreeSet<ImageId>) {
    // Inode -> stored path, from the file store's listing (a stat each, no reads).
    let mut stored: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for sub in fs::read_dir(store.files_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        for e in fs::read_dir(sub.path()).into_iter().flatten().flatten() {
            if let Ok(m) = e.metadata() {
                stored.insert((m.dev(), m.ino()), e.path());
            }
        }
    }
    let mut bad_inodes = BTreeSet::new();
    let mut bad_paths = Vec::new();
    for id in ids {
        walk_files(&store.rootfs_of(id), &mut |_, m| {
            let key = (m.dev(), m.ino());
            if m.nlink() < 2 || bad_inodes.contains(&key) {
                return;
            }
            let Some(path) = stored.get(&key) else { return };
            let want = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split('.').next())
                .unwrap_or_default();
            if sha256_of(path).is_ok_and(|got| got != want) {
                bad_inodes.insert(key);
                bad_paths.push(path.clone());
            }
        });
    }
    let mut affected = BTreeSet::new();
    if !bad_inodes.is_empty() {
        for image in store.scan().unwrap_or_default() {
            let id = super::images::id_of(&image).clone();
            let mut hit = false;
            walk_files(&store.rootfs_of(&id), &mut |_, m| {
                hit |= bad_inodes.contains(&(m.dev(), m.ino()));
            });
            if hit {
                affected.insert(id);
            }
        }
    }
    (bad_paths, affected)
}

/// Calls `f` for every regular file below `dir` (not following symlinks).
fn walk_files(dir: &Path, f: &mut dyn FnMut(&Path, &fs::Metadata)) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Ok(m) = fs::symlink_metadata(e.path()) else {
            continue;
        };
        if m.is_dir() {
            walk_files(&e.path(), f);
        } else if m.is_file() {
            f(&e.path(), &m);
        }
    }
}

fn sha256_of(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crate::base::digest::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::store::meta::ImageMeta;
    use std::io::{Seek, SeekFrom, Write};

    #[test]
    fn one_changed_byte_is_found_in_every_image_sharing_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let make = |own: &str| {
            let t = store.temp_image().unwrap();
            let f = t.rootfs().join("lib");
            fs::write(&f, "shared library").unwrap();
            fs::File::options()
                .write(true)
                .open(&f)
                .unwrap()
                .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000))
                .unwrap();
            fs::write(t.rootfs().join("own"), own).unwrap();
            store.commit(t, ImageMeta::default()).unwrap()
        };
        let a = make("a");
        let b = make("b");
        let c = {
            let t = store.temp_image().unwrap();
            fs::write(t.rootfs().join("alone"), "x").unwrap();
            store.commit(t, ImageMeta::default()).unwrap()
        };
        assert_eq!(verify(&store, &a.id), Verdict::Intact);
        let mut f = File::options()
            .write(true)
            .open(store.rootfs_of(&a.id).join("lib"))
            .unwrap();
        f.seek(SeekFrom::Start(3)).unwrap();
        f.write_all(b"X").unwrap();
        drop(f);
        for id in [&a.id, &b.id] {
            assert!(matches!(verify(&store, id), Verdict::Damaged(w) if w.contains("changed")));
        }
        assert_eq!(verify(&store, &c.id), Verdict::Intact);
        let (paths, affected) = damaged_shared(&store, std::slice::from_ref(&a.id));
        assert_eq!(paths.len(), 1);
        assert!(paths[0].starts_with(store.files_dir()));
        assert_eq!(affected, [a.id.clone(), b.id.clone()].into());
    }
}
