//! OCI whiteouts, and removing what is in an entry's way.
//!
//! In an OCI layer `.wh.NAME` deletes NAME from the layers below and `.wh..wh..opq`
//! empties its directory of lower content (what the same archive wrote stays). The
//! names `.wh.`, `.wh..` and `.wh...` are refused in every mode. Removal works below an
//! open directory fd, never following a symlink.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, unlinkat};

/// What a whiteout entry asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Whiteout<'n> {
    /// `.wh..wh..opq`: empty the directory of lower content.
    Opaque,
    /// `.wh.NAME`: delete NAME.
    Remove(&'n OsStr),
}

/// Reads the file name of an entry as a whiteout when `honour` (OCI layers) is set;
/// `None`: an ordinary name. `.wh.`, `.wh..` and `.wh...` are refused in every mode:
/// as whiteouts they would name nothing, the directory itself or its parent (at the
/// top, the directory holding the image), and kept as plain files they turn into that
/// attack wherever the tree is made into a layer again.
pub(super) fn classify(name: &OsStr, honour: bool) -> Result<Option<Whiteout<'_>>, String> {
    match name.as_bytes() {
        b".wh." => return Err("refused: the whiteout .wh. names nothing".into()),
        b".wh.." => {
            return Err(
                "refused: the whiteout .wh.. names '.', the directory that holds it".into(),
            );
        }
        b".wh..." => {
            return Err(
                "refused: the whiteout .wh... names '..', the directory above (outside the image at its top)"
                    .into(),
            );
        }
        _ => {}
    }
    if !honour {
        return Ok(None);
    }
    let bytes = name.as_bytes();
    if bytes == b".wh..wh..opq" {
        return Ok(Some(Whiteout::Opaque));
    }
    Ok(bytes
        .strip_prefix(b".wh.")
        .map(|victim| Whiteout::Remove(OsStr::from_bytes(victim))))
}

/// Removes whatever is at `name` in `dir` (file, symlink or whole directory).
pub(super) fn remove(dir: &OwnedFd, name: &OsStr) -> Result<(), String> {
    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(Errno::EISDIR) => {
            let sub = openat(
                dir,
                name,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| format!("cannot open {name:?} to remove it: {e}"))?;
            empty_dir(&sub, &HashSet::new(), Path::new(""))?;
            unlinkat(dir, name, UnlinkatFlags::RemoveDir)
                .map_err(|e| format!("cannot remove directory {name:?}: {e}"))
        }
        Err(e) => Err(format!("cannot remove {name:?}: {e}")),
    }
}

/// Removes the children of `dir` except paths in `keep` (relative to the root; `rel`
/// is `dir`'s own path).
pub(super) fn empty_dir(dir: &OwnedFd, keep: &HashSet<PathBuf>, rel: &Path) -> Result<(), String> {
    // Make sure we may delete inside it.
    let _ = nix::sys::stat::fchmod(dir, Mode::from_bits_truncate(0o755));
    let d = nix::dir::Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| format!("cannot list {}: {e}", rel.display()))?;
    let mut names: Vec<OsString> = Vec::new();
    for e in d.into_iter() {
        let e = e.map_err(|e| format!("cannot list {}: {e}", rel.display()))?;
        let n = OsStr::from_bytes(e.file_name().to_bytes());
        if n != "." && n != ".." {
            names.push(n.to_owned());
        }
    }
    for n in names {
        if !keep.contains(&rel.join(&n)) {
            remove(dir, &n)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use std::fs;

    #[test]
    fn whiteout_names() {
        fn c(n: &str, honour: bool) -> Result<Option<Whiteout<'_>>, String> {
            classify(OsStr::new(n), honour)
        }
        assert_eq!(c(".wh..wh..opq", true), Ok(Some(Whiteout::Opaque)));
        assert_eq!(
            c(".wh.x", true),
            Ok(Some(Whiteout::Remove(OsStr::new("x"))))
        );
        assert_eq!(
            c(".wh..x", true),
            Ok(Some(Whiteout::Remove(OsStr::new(".x"))))
        );
        assert_eq!(c(".wh.x", false), Ok(None));
        assert_eq!(c("x.wh.", true), Ok(None));
        for bad in [".wh.", ".wh..", ".wh..."] {
            for honour in [true, false] {
                let err = c(bad, honour).unwrap_err();
                assert!(err.contains(&format!("the whiteout {bad} names")), "{err}");
            }
        }
    }

    #[test]
    fn remove_takes_files_links_and_whole_trees() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("d/sub")).unwrap();
        fs::write(t.path().join("d/sub/f"), "").unwrap();
        fs::write(t.path().join("f"), "").unwrap();
        fs::write(t.path().join("outside"), "").unwrap();
        std::os::unix::fs::symlink(t.path().join("outside"), t.path().join("l")).unwrap();
        let dir = nix::fcntl::open(
            t.path(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .unwrap();
        for name in ["d", "f", "l", "missing"] {
            remove(&dir, OsStr::new(name)).unwrap();
        }
        let left: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            [OsString::from("outside")],
            "the link, not its target"
        );
    }

    #[test]
    fn whiteouts_delete_lower_content_only() {
        let t = tempfile::tempdir().unwrap();
        let lower = TarBuilder::new()
            .file("a/keep", "1", 0o644)
            .file("a/gone", "2", 0o644)
            .file("o/old1", "3", 0o644)
            .file("o/sub/old2", "4", 0o644)
            .done();
        apply_bytes(&lower, t.path(), &oci()).unwrap();
        let upper = TarBuilder::new()
            .file("a/.wh.gone", "", 0o644)
            .file("o/new", "5", 0o644)
            .file("o/.wh..wh..opq", "", 0o644)
            .done();
        let stats = apply_bytes(&upper, t.path(), &oci()).unwrap();
        assert_eq!(stats.whiteouts, 2);
        assert!(t.path().join("a/keep").exists());
        assert!(!t.path().join("a/gone").exists());
        assert!(!t.path().join("o/old1").exists());
        assert!(!t.path().join("o/sub").exists());
        assert_eq!(fs::read_to_string(t.path().join("o/new")).unwrap(), "5");
        assert!(!t.path().join("a/.wh.gone").exists());
    }

    #[test]
    fn without_whiteout_mode_wh_files_are_plain_files() {
        let t = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new().file("a/.wh.x", "", 0o644).done();
        apply_bytes(&tar, t.path(), &plain()).unwrap();
        assert!(t.path().join("a/.wh.x").exists());
    }

    /// A fresh `outer/target` with lower content in `target/a/lower` and a bystander
    /// in `outer/sibling/keep`.
    fn target_with_bystander() -> (tempfile::TempDir, PathBuf) {
        let outer = tempfile::tempdir().unwrap();
        let target = outer.path().join("target");
        fs::create_dir_all(target.join("a")).unwrap();
        fs::write(target.join("a/lower"), "lower").unwrap();
        fs::create_dir(outer.path().join("sibling")).unwrap();
        fs::write(outer.path().join("sibling/keep"), "keep").unwrap();
        (outer, target)
    }

    #[test]
    fn whiteouts_of_nothing_dot_and_dotdot_are_refused_in_every_mode() {
        for name in [
            ".wh..", ".wh...", "a/.wh..", "a/.wh...", ".wh.", "a/.wh.", "./.wh...",
        ] {
            for layer in [oci(), plain()] {
                let (outer, target) = target_with_bystander();
                let tar = TarBuilder::new()
                    .file("a/new", "new", 0o644)
                    .file(name, "", 0o644)
                    .done();
                let err = apply_bytes(&tar, &target, &layer).unwrap_err().to_string();
                let wh = name.rsplit('/').next().unwrap();
                assert!(
                    err.contains("test-layer") && err.contains(name),
                    "{name}: {err}"
                );
                assert!(
                    err.contains(&format!("the whiteout {wh} names")),
                    "{name}: {err}"
                );
                assert_eq!(
                    fs::read_to_string(outer.path().join("sibling/keep")).unwrap(),
                    "keep",
                    "{name}"
                );
                assert_eq!(
                    fs::read_to_string(target.join("a/lower")).unwrap(),
                    "lower",
                    "{name}: lower content kept"
                );
                assert!(target.join("a/new").exists(), "{name}");
                assert!(!target.join(wh).exists() && !target.join("a").join(wh).exists());
            }
        }
        // Names that merely start like them are ordinary whiteouts.
        let (_outer, target) = target_with_bystander();
        fs::write(target.join("a/.x"), "").unwrap();
        let tar = TarBuilder::new()
            .file("a/.wh..x", "", 0o644)
            .file("a/.wh..wh..opq", "", 0o644)
            .done();
        let stats = apply_bytes(&tar, &target, &oci()).unwrap();
        assert_eq!(stats.whiteouts, 2);
        assert!(!target.join("a/.x").exists() && !target.join("a/lower").exists());
        assert!(target.join("a").is_dir(), "opaque keeps the directory");
    }
}
