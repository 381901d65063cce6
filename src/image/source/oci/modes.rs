//! Modes the checked unpacker does not write, carried beside an image cache's layer.
//!
//! The unpacker never gives a file set-id or sticky bits, and always gives a file's
//! owner read and write and a directory's owner every right (`unpack::entry`), which
//! is right for images from anywhere. A jig build makes trees with such modes (dpkg
//! sets `passwd` setuid, `/var/mail` setgid); their tree hash counts modes, so an image
//! pulled from the cache would not be the image built. The cache therefore lists
//! those entries and their modes ([`collect`]), and a pull sets them back after the
//! layers are unpacked ([`restore`]), only where the unpacked mode is what the
//! unpacker makes of the listed one, on regular files and directories reached without
//! following a symlink. The launch's overlay is `nosuid` and every tool runs with
//! `no_new_privs`, as for a built image.

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path};

use anyhow::{Context, Result, bail};
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
use nix::sys::stat::{FchmodatFlags, Mode, fchmodat, fstat};

/// Whether the unpacker writes `mode` of a file (`dir` false) or directory as it is.
fn unpacked_as_is(mode: u32, dir: bool) -> bool {
    unpacked(mode, dir) == mode & 0o7777
}

/// The mode the unpacker gives an entry whose archive mode is `mode`.
fn unpacked(mode: u32, dir: bool) -> u32 {
    if dir {
        (mode & 0o1777) | 0o700
    } else {
        (mode & 0o777) | 0o600
    }
}

/// The regular files and directories below `rootfs` whose modes the unpacker would
/// change: relative path → mode (`0o7777` bits).
pub fn collect(rootfs: &Path) -> Result<BTreeMap<String, u32>> {
    let mut out = BTreeMap::new();
    walk(rootfs, "", &mut out)?;
    Ok(out)
}

fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, u32>) -> Result<()> {
    for e in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        let name = e.file_name();
        let Some(name) = name.to_str() else { continue };
        let path = e.path();
        let m = fs::symlink_metadata(&path).with_context(|| format!("{}", path.display()))?;
        let rel = if rel.is_empty() {
            name.to_owned()
        } else {
            format!("{rel}/{name}")
        };
        let ft = m.file_type();
        let mode = m.mode() & 0o7777;
        if (ft.is_file() || ft.is_dir()) && !unpacked_as_is(mode, ft.is_dir()) {
            out.insert(rel.clone(), mode);
        }
        if ft.is_dir() {
            walk(&path, &rel, out)?;
        }
    }
    Ok(())
}

/// Sets the listed modes below `rootfs` (an unpacked temp image): each path relative,
/// of plain components, opened beneath `rootfs` without following a symlink, a
/// regular file or directory whose current mode is what the unpacker makes of the
/// listed one, or the listed one itself (left as it is). Anything else is an error: the list does not describe these layers.
pub fn restore(rootfs: &Path, modes: &BTreeMap<String, u32>) -> Result<()> {
    let root = fs::File::open(rootfs).with_context(|| format!("opening {}", rootfs.display()))?;
    // Deepest first: a directory made read-only keeps nothing below it from changing.
    for (rel, &mode) in modes.iter().rev() {
        let bad = || format!("the cache's mode list names {rel:?}");
        let plain = Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if rel.is_empty() || !plain || mode & !0o7777 != 0 {
            bail!("{}: not a path and mode of this image", bad());
        }
        let how = OpenHow::new()
            .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
        let fd = openat2(&root, Path::new(rel), how)
            .with_context(|| format!("{}: opening it", bad()))?;
        let st = fstat(&fd).with_context(bad)?;
        let kind = st.st_mode & libc::S_IFMT;
        let dir = kind == libc::S_IFDIR;
        if kind != libc::S_IFREG && !dir {
            bail!("{}: not a regular file or directory", bad());
        }
        // Already so: an entry of a local base image the pull started from.
        if st.st_mode & 0o7777 == mode {
            continue;
        }
        if st.st_mode & 0o7777 != unpacked(mode, dir) {
            bail!(
                "{}: its layer gave it mode {:o}, which the unpacker does not make of {mode:o}",
                bad(),
                st.st_mode & 0o7777
            );
        }
        // An O_PATH descriptor cannot be fchmod'ed; its /proc link names the same inode.
        let link = format!("/proc/self/fd/{}", fd.as_raw_fd());
        // (An absolute path: the directory descriptor is not used.)
        fchmodat(
            &root,
            Path::new(&link),
            Mode::from_bits_truncate(mode),
            FchmodatFlags::FollowSymlink,
        )
        .with_context(|| format!("{}: setting its mode", bad()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn what_the_unpacker_changes_is_listed_and_put_back() {
        let t = tempfile::tempdir().unwrap();
        let built = t.path().join("built");
        fs::create_dir_all(built.join("bin")).unwrap();
        fs::create_dir_all(built.join("mail")).unwrap();
        fs::write(built.join("bin/su"), "su").unwrap();
        fs::write(built.join("bin/ls"), "ls").unwrap();
        fs::set_permissions(built.join("bin/su"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::set_permissions(built.join("mail"), fs::Permissions::from_mode(0o2775)).unwrap();
        let modes = collect(&built).unwrap();
        assert_eq!(
            modes,
            BTreeMap::from([("bin/su".into(), 0o4755), ("mail".into(), 0o2775)])
        );
        // As unpacked: stripped.
        fs::set_permissions(built.join("bin/su"), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(built.join("mail"), fs::Permissions::from_mode(0o775)).unwrap();
        restore(&built, &modes).unwrap();
        let mode = |p: &str| fs::metadata(built.join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode("bin/su"), 0o4755);
        assert_eq!(mode("mail"), 0o2775);
        // Not a symlink's target, not outside, not a mode the layer did not give.
        symlink("/etc/passwd", built.join("bin/link")).unwrap();
        for (rel, m) in [
            ("bin/link", 0o4755),
            ("../x", 0o4755),
            ("/etc/passwd", 0o4755),
            ("bin/ls", 0o4700),
            ("bin/ls", 0o10755),
        ] {
            let one = BTreeMap::from([(rel.to_owned(), m)]);
            assert!(restore(&built, &one).is_err(), "{rel} {m:o}");
        }
        assert_eq!(mode("bin/ls"), 0o644);
    }
}
