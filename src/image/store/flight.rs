//! Single flight: one build per image key at a time, however many jig processes want
//! it. The first takes an exclusive `flock(2)` on `locks/<key>` and builds; the others
//! say on stderr that they wait, wait for the lock, and then find the result in the
//! cache (32 first uses of a Debian tool at once make one bootstrap, not 32).
//!
//! The file records the holder's pid, for the waiting message only: it is hostile
//! input, read as at most 20 bytes of digits. `gc` removes lock files nobody holds; a
//! taker checks after locking that the name still leads to the file it locked
//! (otherwise two processes could each hold "the" lock, one on a removed file).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result};

use super::lock::{open_lock_file, try_lock, wait};

/// A build in flight, held until dropped.
#[derive(Debug)]
pub struct Flight {
    _file: File,
    /// Whether another process held it first (and so probably built it).
    pub waited: bool,
}

/// Takes the flight lock `key` (a hex digest) in `dir`, waiting behind another jig
/// building `what` if there is one, and saying so.
pub fn take(dir: &Path, key: &str, what: &str) -> Result<Flight> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(key);
    let mut waited = false;
    loop {
        let mut file = open_lock_file(&path)?;
        if !try_lock(&file, true).with_context(|| format!("locking {}", path.display()))? {
            let mut pid = String::new();
            let _ = (&file).take(20).read_to_string(&mut pid);
            let by = match pid.trim().parse::<u32>() {
                Ok(p) => format!("another jig (pid {p})"),
                Err(_) => "another jig".to_owned(),
            };
            eprintln!("jig: waiting for {by}, which is building {what}");
            wait(&file, true).with_context(|| format!("waiting for {}", path.display()))?;
            waited = true;
        }
        let same = std::fs::symlink_metadata(&path)
            .is_ok_and(|m| file.metadata().is_ok_and(|o| o.ino() == m.ino()));
        if !same {
            continue;
        }
        let _ = file.set_len(0);
        let _ = file.seek(SeekFrom::Start(0));
        let _ = write!(file, "{}", std::process::id());
        return Ok(Flight {
            _file: file,
            waited,
        });
    }
}

/// Removes the lock files of `dir` nobody holds.
pub fn sweep(dir: &Path) -> usize {
    super::temp::sweep(dir, |_| true).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_and_a_garbled_lock_file_is_harmless() {
        let t = tempfile::tempdir().unwrap();
        let first = take(t.path(), "k", "x").unwrap();
        assert!(!first.waited);
        let other = open_lock_file(&t.path().join("k")).unwrap();
        assert!(!try_lock(&other, true).unwrap(), "held");
        drop(first);
        std::fs::write(t.path().join("k"), "\u{0}garbage that is not a pid").unwrap();
        let again = take(t.path(), "k", "x").unwrap();
        assert!(!again.waited);
        assert_eq!(sweep(t.path()), 0, "held: kept");
        drop(again);
        drop(other);
        assert_eq!(sweep(t.path()), 1);
    }
}
