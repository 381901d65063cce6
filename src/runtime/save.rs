//! Saving home files after the tool exits ([`Saved`]): what the tool left at each
//! staged path in the overlay's upper directory goes to the host path, the way the
//! tool itself writes it (a new file renamed over the old one, so a reader never sees
//! half of it), when it changed.
//!
//! The upper directory is the tool's, so what is found there is judged like any
//! input: opened without following a symlink, without blocking, only a regular file
//! is saved (its permission bits without set-id bits), and at most [`MAX`] bytes of
//! it. The host side is the user's: a path that is a symlink there (a dotfiles
//! checkout) gets its target replaced, as git does; a file that changed on the host
//! while the tool ran is left alone, and the tool's version is reported as not saved.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{SFlag, fstat};

use super::spec::Saved;

/// The most bytes a saved file may have.
pub const MAX: u64 = 16 << 20;

/// What a path holds: contents and permission bits, or nothing.
type State = Option<(Vec<u8>, u32)>;

/// Saves each of `saved` from `upper`, the launch's upper directory; returns what could
/// not be saved, one sentence each.
pub fn all(upper: &OwnedFd, saved: &[Saved]) -> Vec<String> {
    saved
        .iter()
        .filter_map(|s| {
            one(upper, s)
                .err()
                .map(|why| format!("not saving {}: {why}", s.path.display()))
        })
        .collect()
}

fn one(upper: &OwnedFd, s: &Saved) -> Result<(), String> {
    let after = staged(upper, &s.path)?;
    if after == s.before {
        return Ok(());
    }
    if host_state(&s.path)? != s.before {
        return Err(
            "it changed on the host while the tool ran; the tool's version is dropped".to_owned(),
        );
    }
    match after {
        None => std::fs::remove_file(&s.path).map_err(|e| format!("cannot remove it: {e}")),
        Some((contents, mode)) => replace(&s.path, &contents, mode),
    }
}

/// What the tool left at `path` in the upper directory.
fn staged(upper: &OwnedFd, path: &Path) -> Result<State, String> {
    let rel = path.strip_prefix("/").unwrap_or(path);
    // openat2(2) with RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS: no component may be a
    // symlink, not only the last. This process is in the host's mount namespace, so
    // a directory the tool replaced by a symlink (`~` -> `/etc`) would otherwise lead
    // to a host file, whose contents would then be saved where the tool can read them.
    let how = OpenHow::new()
        .flags(OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
        .resolve(
            ResolveFlag::RESOLVE_BENEATH
                | ResolveFlag::RESOLVE_NO_SYMLINKS
                | ResolveFlag::RESOLVE_NO_MAGICLINKS
                | ResolveFlag::RESOLVE_NO_XDEV,
        );
    let fd = match nix::fcntl::openat2(upper, rel, how) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(None),
        Err(Errno::ELOOP) => return Err("the tool left a symlink there".to_owned()),
        Err(e) => return Err(format!("cannot read what the tool left there: {e}")),
    };
    let st = fstat(&fd).map_err(|e| format!("cannot read what the tool left there: {e}"))?;
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    match kind {
        SFlag::S_IFREG => {}
        // An overlay whiteout: the tool removed a file the image had there.
        SFlag::S_IFCHR if st.st_rdev == 0 => return Ok(None),
        SFlag::S_IFDIR => {
            return Err("the tool made a directory there (only files are saved)".to_owned());
        }
        _ => return Err("the tool left something other than a file there".to_owned()),
    }
    let mut contents = Vec::new();
    std::fs::File::from(fd)
        .take(MAX + 1)
        .read_to_end(&mut contents)
        .map_err(|e| format!("cannot read what the tool left there: {e}"))?;
    if contents.len() as u64 > MAX {
        return Err(format!(
            "the tool's version is larger than {} MiB",
            MAX >> 20
        ));
    }
    Ok(Some((contents, st.st_mode & 0o1777)))
}

/// What the host has at `path` now, following symlinks.
fn host_state(path: &Path) -> Result<State, String> {
    match std::fs::read(path) {
        Ok(contents) => {
            let mode = std::fs::metadata(path)
                .map_err(|e| format!("cannot read it: {e}"))?
                .permissions()
                .mode();
            Ok(Some((contents, mode & 0o1777)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

/// Writes `contents` with `mode` to a new file beside `path` (beside its target, when
/// `path` is a symlink) and renames it over.
fn replace(path: &Path, contents: &[u8], mode: u32) -> Result<(), String> {
    let target: PathBuf = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
            .map_err(|e| format!("it is a symlink that leads nowhere ({e})"))?,
        _ => path.to_owned(),
    };
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Err("it has no directory".to_owned());
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".jig-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(contents)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        drop(f);
        std::fs::rename(&tmp, &target)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot write {}: {e}", target.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_fd(p: &Path) -> OwnedFd {
        nix::fcntl::open(
            p,
            OFlag::O_PATH | OFlag::O_DIRECTORY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap()
    }

    /// A host directory and an "upper" directory that mirrors its path below it.
    fn setup() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let host = t.path().join("home");
        std::fs::create_dir(&host).unwrap();
        let upper = t.path().join("upper");
        std::fs::create_dir_all(upper.join(host.strip_prefix("/").unwrap())).unwrap();
        (t, host, upper)
    }

    fn in_upper(upper: &Path, p: &Path) -> PathBuf {
        upper.join(p.strip_prefix("/").unwrap())
    }

    #[test]
    fn a_replaced_or_created_file_is_saved_and_an_unchanged_one_left_alone() {
        let (_t, host, upper) = setup();
        let conf = host.join(".conf");
        std::fs::write(&conf, "old\n").unwrap();
        std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o600)).unwrap();
        let created = host.join(".new");
        let same = host.join(".same");
        std::fs::write(&same, "same\n").unwrap();
        std::fs::write(in_upper(&upper, &conf), "new\n").unwrap();
        std::fs::set_permissions(
            in_upper(&upper, &conf),
            std::fs::Permissions::from_mode(0o640),
        )
        .unwrap();
        std::fs::write(in_upper(&upper, &created), "made\n").unwrap();
        std::fs::write(in_upper(&upper, &same), "same\n").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        let saved = [
            Saved {
                path: conf.clone(),
                before: Some((b"old\n".to_vec(), 0o600)),
            },
            Saved {
                path: created.clone(),
                before: None,
            },
            Saved {
                path: same.clone(),
                before: Some((b"same\n".to_vec(), mode(&same))),
            },
        ];
        let same_ino = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&same).unwrap());
        assert_eq!(all(&dir_fd(&upper), &saved), Vec::<String>::new());
        assert_eq!(std::fs::read_to_string(&conf).unwrap(), "new\n");
        assert_eq!(mode(&conf), 0o640);
        assert_eq!(std::fs::read_to_string(&created).unwrap(), "made\n");
        let after = std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&same).unwrap());
        assert_eq!(after, same_ino, "an unchanged file is not rewritten");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&host)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }

    #[test]
    fn a_symlinked_host_file_keeps_its_link_and_gets_its_target_replaced() {
        let (_t, host, upper) = setup();
        let dotfiles = host.join("dotfiles");
        std::fs::create_dir(&dotfiles).unwrap();
        std::fs::write(dotfiles.join("conf"), "old\n").unwrap();
        let link = host.join(".conf");
        std::os::unix::fs::symlink("dotfiles/conf", &link).unwrap();
        let mode = std::fs::metadata(&link).unwrap().permissions().mode() & 0o1777;
        std::fs::write(in_upper(&upper, &link), "new\n").unwrap();
        std::fs::set_permissions(
            in_upper(&upper, &link),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
        let saved = [Saved {
            path: link.clone(),
            before: Some((b"old\n".to_vec(), mode)),
        }];
        assert!(all(&dir_fd(&upper), &saved).is_empty());
        assert!(std::fs::symlink_metadata(&link).unwrap().is_symlink());
        assert_eq!(
            std::fs::read_to_string(dotfiles.join("conf")).unwrap(),
            "new\n"
        );
    }

    #[test]
    fn a_symlinked_directory_on_the_way_is_not_followed() {
        let (t, host, upper) = setup();
        // The tool replaced its home by a symlink to a directory holding a secret.
        let secret = t.path().join("secret");
        std::fs::create_dir(&secret).unwrap();
        std::fs::write(secret.join(".a"), "secret\n").unwrap();
        let home = in_upper(&upper, &host);
        std::fs::remove_dir(&home).unwrap();
        std::os::unix::fs::symlink(&secret, &home).unwrap();
        let a = host.join(".a");
        let saved = [Saved {
            path: a.clone(),
            before: None,
        }];
        let w = all(&dir_fd(&upper), &saved);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].contains("symlink"), "{w:?}");
        assert!(!a.exists());
        // The control: the same file in a real directory is saved.
        std::fs::remove_file(&home).unwrap();
        std::fs::create_dir(&home).unwrap();
        std::fs::write(home.join(".a"), "mine\n").unwrap();
        assert!(all(&dir_fd(&upper), &saved).is_empty());
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "mine\n");
    }

    #[test]
    fn symlinks_directories_and_host_changes_are_refused() {
        let (_t, host, upper) = setup();
        let a = host.join(".a");
        let b = host.join(".b");
        let c = host.join(".c");
        std::os::unix::fs::symlink("/etc/passwd", in_upper(&upper, &a)).unwrap();
        std::fs::create_dir(in_upper(&upper, &b)).unwrap();
        std::fs::write(&c, "changed outside\n").unwrap();
        std::fs::write(in_upper(&upper, &c), "the tool's\n").unwrap();
        let saved = [
            Saved {
                path: a.clone(),
                before: None,
            },
            Saved {
                path: b.clone(),
                before: None,
            },
            Saved {
                path: c.clone(),
                before: Some((b"at launch\n".to_vec(), 0o644)),
            },
        ];
        let w = all(&dir_fd(&upper), &saved);
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(w[0].contains("symlink"), "{w:?}");
        assert!(w[1].contains("directory"), "{w:?}");
        assert!(w[2].contains("changed on the host"), "{w:?}");
        assert!(!a.exists() && !b.exists());
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "changed outside\n");
    }

    #[test]
    fn a_file_the_tool_removed_is_removed() {
        let (_t, host, upper) = setup();
        let a = host.join(".a");
        std::fs::write(&a, "x").unwrap();
        let mode = std::fs::metadata(&a).unwrap().permissions().mode() & 0o1777;
        let saved = [Saved {
            path: a.clone(),
            before: Some((b"x".to_vec(), mode)),
        }];
        assert!(all(&dir_fd(&upper), &saved).is_empty());
        assert!(!a.exists());
    }
}
