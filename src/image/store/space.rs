//! What a full disk means for an image being made.
//!
//! `ENOSPC` reaches jig as "No space left on device (os error 28)", from wherever the
//! write was: an archive entry, a copied file, dpkg inside a build. [`explain`] turns
//! any error whose chain says so into one that names the file system that filled up,
//! what was being made there, how much it needs and how much is free, keeping the
//! original chain (with the path that failed) as its causes.

use std::path::Path;

use crate::base::error::Hint;

/// Whether `err` comes from a full file system (or an exhausted quota), by the io
/// error in its chain or, for what a child process printed, by the message.
pub fn is_full(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::raw_os_error)
            .is_some_and(|e| e == libc::ENOSPC || e == libc::EDQUOT)
            || {
                let text = c.to_string();
                text.contains("No space left on device") || text.contains("Disk quota exceeded")
            }
    })
}

/// Free bytes for an unprivileged writer on the file system holding `dir` (or its
/// nearest existing ancestor).
pub fn free_bytes(dir: &Path) -> Option<u64> {
    let mut p = Some(dir);
    while let Some(d) = p {
        if let Ok(st) = nix::sys::statvfs::statvfs(d) {
            return Some(st.blocks_available() * st.fragment_size());
        }
        p = d.parent();
    }
    None
}

/// If `err` is a full disk, an error saying that `what` was being written below `dir`,
/// how much it needs (`need`, when known) and how much is free there; `err` unchanged
/// otherwise.
pub fn explain(err: anyhow::Error, dir: &Path, what: &str, need: Option<u64>) -> anyhow::Error {
    let explained = err.chain().any(|c| {
        c.to_string()
            .starts_with("no space left on the file system holding")
    });
    if explained || !is_full(&err) {
        return err;
    }
    let human = crate::image::unpack::human;
    let free = free_bytes(dir).map_or_else(|| "unknown".to_owned(), human);
    let need = need.map_or_else(String::new, |n| format!(", which needs about {}", human(n)));
    let message = format!(
        "no space left on the file system holding {} while writing {what}{need}; {free} are free there",
        dir.display()
    );
    Err::<(), _>(err.context(message))
        .hint(
            "free space there (`jig gc` removes unused images and leftovers), or set JIG_HOME to a directory on a larger file system",
        )
        .unwrap_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_named_with_the_place_and_the_need() {
        let full = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOSPC))
            .context("writing /x/y");
        let err = explain(
            full,
            Path::new("/"),
            "the debian:bookworm image",
            Some(5 << 20),
        );
        let text = format!("{err:#}");
        assert!(
            text.contains("no space left on the file system holding /"),
            "{text}"
        );
        assert!(text.contains("needs about 5 MiB"), "{text}");
        assert!(text.contains("writing /x/y"), "{text}");
        assert!(!crate::base::error::hints(&err).is_empty());
        // From a child's output.
        let dpkg = anyhow::anyhow!("dpkg: error: failed to write (No space left on device)");
        assert!(is_full(&dpkg));
        let other = anyhow::anyhow!("permission denied");
        assert_eq!(
            explain(other, Path::new("/"), "x", None).to_string(),
            "permission denied"
        );
    }
}
