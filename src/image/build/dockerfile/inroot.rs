//! Changing an image's tree from the host without leaving it: every path is resolved
//! inside the image with `openat2(RESOLVE_IN_ROOT)`, so an image's symlink (`/bin ->
//! usr/bin`, or a hostile `/var/log -> /home`) is followed as a container would
//! follow it, within the image, and never to a host path.

use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{Mode, mkdirat};
use nix::unistd::UnlinkatFlags;

fn open_root(rootfs: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        rootfs,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening {}", rootfs.display()))
}

fn dir_how() -> OpenHow {
    OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT)
}

/// Opens the directory `path` (absolute, in the image at `rootfs`), making what is
/// missing (mode 0755); every component is resolved inside the image.
pub fn mkdir_in_root(rootfs: &Path, path: &str) -> Result<OwnedFd> {
    let root = open_root(rootfs)?;
    let how = dir_how;
    let mut dir = openat2(&root, ".", how())?;
    let mut sofar = String::new();
    for part in path.split('/').filter(|p| !p.is_empty() && *p != ".") {
        if part == ".." {
            bail!("{path}: '..' in a destination is not supported");
        }
        sofar.push('/');
        sofar.push_str(part);
        let rel = sofar.trim_start_matches('/');
        dir = match openat2(&root, rel, how()) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => {
                // mkdirat(2) below the parent as resolved in the image, then open what
                // was made the same way (a racing symlink would be resolved inside too).
                match mkdirat(&dir, part, Mode::from_bits_truncate(0o755)) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => bail!("creating {sofar} in the image: {e}"),
                }
                openat2(&root, rel, how())
                    .with_context(|| format!("opening {sofar} in the image"))?
            }
            Err(Errno::ENOTDIR) => bail!("{sofar} is not a directory in the image"),
            Err(e) => bail!("opening {sofar} in the image: {e}"),
        };
    }
    Ok(dir)
}

/// Whether `path` (absolute) is a directory in the image at `rootfs`, resolved inside it.
pub fn is_dir_in_root(rootfs: &Path, path: &str) -> bool {
    let Ok(root) = open_root(rootfs) else {
        return false;
    };
    let rel = path.trim_start_matches('/');
    openat2(&root, if rel.is_empty() { "." } else { rel }, dir_how()).is_ok()
}

/// Removes the file `path` (absolute, in the image at `rootfs`) if it is there; its
/// directory is resolved inside the image, the file itself is not followed.
pub fn remove_in_root(rootfs: &Path, path: &str) -> Result<()> {
    let root = open_root(rootfs)?;
    let rel = path.trim_start_matches('/');
    let (parent, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let dir = match openat2(
        &root,
        if parent.is_empty() { "." } else { parent },
        dir_how(),
    ) {
        Ok(d) => d,
        Err(Errno::ENOENT | Errno::ENOTDIR) => return Ok(()),
        Err(e) => bail!("opening /{parent} in the image: {e}"),
    };
    match nix::unistd::unlinkat(&dir, name, UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT | Errno::EISDIR | Errno::ENOTDIR) => Ok(()),
        Err(e) => bail!("removing {path} in the image: {e}"),
    }
}

/// Writes an executable file `path` (absolute, at the top of the image at `rootfs`)
/// holding `body`; it must not exist (a symlink there is not followed).
pub fn write_new_in_root(rootfs: &Path, name: &str, body: &[u8]) -> Result<()> {
    use std::io::Write;
    let root = nix::fcntl::open(
        rootfs,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening {}", rootfs.display()))?;
    let fd = nix::fcntl::openat(
        &root,
        name,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o755),
    )
    .with_context(|| format!("creating /{name} in the image"))?;
    std::fs::File::from(fd)
        .write_all(body)
        .with_context(|| format!("writing /{name} in the image"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_stay_inside_the_image() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
        std::os::unix::fs::symlink("/", root.join("up")).unwrap();
        mkdir_in_root(&root, "/bin/sub").unwrap();
        assert!(
            root.join("usr/bin/sub").is_dir(),
            "bin -> usr/bin is followed"
        );
        // An absolute symlink is resolved inside the image: /up/x is /x there.
        mkdir_in_root(&root, "/up/made-here").unwrap();
        assert!(root.join("made-here").is_dir());
        assert!(!Path::new("/made-here").exists());
        assert!(is_dir_in_root(&root, "/up/usr"));
        assert!(!is_dir_in_root(&root, "/nothing"));
    }

    #[test]
    fn removal_does_not_follow_the_image_out() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("var")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("dpkg.log"), "host").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("var/log")).unwrap();
        remove_in_root(&root, "/var/log/dpkg.log").unwrap();
        assert!(outside.join("dpkg.log").exists(), "the host file stays");
        write_new_in_root(&root, ".script", b"#!/bin/sh\n").unwrap();
        assert!(write_new_in_root(&root, ".script", b"again").is_err());
    }
}
