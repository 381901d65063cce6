//! Leases: images a live process has just made or found and is about to use, which
//! `gc` must keep although no installed recipe references them yet (containerd's
//! leases, Nix's temporary roots).
//!
//! A process has one lease file per store, `leases/<pid>-<n>`, created on its first
//! lease and held with an exclusive `flock(2)` until the process exits; it lists one
//! image id per line. The kernel drops the lock when the process dies, however it dies,
//! so a lease never outlives its holder: `gc` keeps the ids of every lease file it
//! cannot lock, and removes the files it can (their holders are gone). Leases are
//! added under the store's shared lock and read under its exclusive one, so an image
//! is leased in the same critical section that commits or finds it.
//!
//! The file is hostile input like every state file: `gc` reads at most
//! [`MAX_LEASE_BYTES`] of it and ignores lines that are not image ids, so a garbled
//! lease protects nothing and breaks nothing.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::lock::try_lock;
use super::meta::ImageId;
use super::temp::TempFile;

/// How much of a lease file `gc` reads.
pub const MAX_LEASE_BYTES: u64 = 1 << 20;

/// This process's lease files, one per lease directory, and what each lists.
static HELD: Mutex<Vec<(PathBuf, TempFile, BTreeSet<ImageId>)>> = Mutex::new(Vec::new());

/// Leases `id` for the rest of this process's life. The caller holds the store's
/// shared lock and has just seen the image complete.
pub fn add(dir: &Path, id: &ImageId) -> Result<()> {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    let i = match held.iter().position(|(d, ..)| d == dir) {
        Some(i) => i,
        None => {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            // TempFile: created exclusively and locked before anyone can see it
            // unlocked; never removed on drop (kept below), the lock lasting until exit.
            let file = TempFile::create(dir, "")
                .map_err(|e| anyhow::Error::new(e.error))
                .with_context(|| format!("creating a lease in {}", dir.display()))?;
            held.push((dir.to_owned(), file, BTreeSet::new()));
            held.len() - 1
        }
    };
    let (_, file, ids) = &mut held[i];
    if ids.insert(id.clone()) {
        // One write(2) per line on an O_APPEND-less fd we alone write: a reader sees
        // whole lines or none of the last one.
        file.file
            .write_all(format!("{}\n", id.hex()).as_bytes())
            .with_context(|| format!("writing {}", file.path().display()))?;
    }
    Ok(())
}

/// The ids leased by live processes (this one included) in `dir`; lease files of dead
/// processes are removed. The caller holds the store's exclusive lock.
pub fn held(dir: &Path) -> Result<BTreeSet<ImageId>> {
    let mut out = BTreeSet::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(file) = File::open(&path) else {
            // Not a readable file (hostile or broken): no lease.
            let _ = super::remove::remove_tree(&path);
            continue;
        };
        match try_lock(&file, true) {
            Ok(true) => {
                // Its holder is gone.
                let _ = fs::remove_file(&path);
            }
            Ok(false) => {
                let mut text = String::new();
                let _ = (&file).take(MAX_LEASE_BYTES).read_to_string(&mut text);
                out.extend(text.lines().filter_map(|l| ImageId::parse(l.trim()).ok()));
            }
            Err(_) => {}
        }
    }
    // Our own leases, should our own file have been removed by hand.
    let mine = HELD.lock().unwrap_or_else(|p| p.into_inner());
    for (d, _, ids) in mine.iter() {
        if d == dir {
            out.extend(ids.iter().cloned());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_lease_is_kept_a_dead_one_removed_and_garbage_ignored() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("leases");
        let a = ImageId::parse(&"a".repeat(64)).unwrap();
        add(&dir, &a).unwrap();
        add(&dir, &a).unwrap();
        // A dead process's lease (nobody holds it) and a garbled one held by "someone".
        fs::write(dir.join("1-1"), format!("{}\n", "b".repeat(64))).unwrap();
        let garbled = dir.join("2-2");
        fs::write(&garbled, "\0\0not an id\nsha256:zz\n").unwrap();
        let holder = File::open(&garbled).unwrap();
        assert!(try_lock(&holder, true).unwrap());
        let ids = held(&dir).unwrap();
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), [a]);
        assert!(!dir.join("1-1").exists(), "stale lease removed");
        assert!(garbled.exists(), "a held lease stays");
        let mine: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert_eq!(mine.len(), 2);
    }
}
