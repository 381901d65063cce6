//! Files shared across images: `files/sha256/<aa>/<name>`, each regular file stored
//! once and hard-linked into every image that holds the same file.
//!
//! Reproducible builds make most files of two Debian images identical (libc, apt,
//! perl, ...), byte for byte and in their metadata. A hard link shares the inode, so
//! only files whose content *and* metadata match may share one: the name is the
//! content's sha256 followed by mode, owner, group and modification time
//! (`<sha256>.<mode>.<uid>.<gid>.<secs>.<nanos>`), and the shared file is the very
//! inode an image had. Tree hashes (content and mode) are unchanged by sharing.
//!
//! When an image is committed, each of its regular files (the tree hash reads them
//! anyway) is either linked into this store as the first copy, or replaced by a link
//! to the stored copy (a link beside it, renamed over it: the image never lacks the
//! file). A stored file nothing else links to (link count 1) belongs to no image any
//! more, and `gc` removes it: no reference counting to get wrong.
//!
//! Containment: an image's files are never written after commit. A launch mounts the
//! image as the read-only lower layer of an overlay, and a tool writing to a file
//! there gets a copy in its upper layer (copy-up) while the shared inode stays as it
//! was; build steps and the Debian layering work on copies ([`clone_tree`]). The name
//! of a stored file says what its content must be, so `jig verify` can tell a damaged
//! one, which damages every image linking to it.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Sharing files while one image is committed.
pub struct Sharing {
    dir: PathBuf,
    /// Off after a failure that would repeat for every file (another file system).
    enabled: bool,
    /// Original inode of the image (dev, ino) -> the stored file it now is, or `None`
    /// when it stays unshared. Every name of one inode gets the same answer, so hard
    /// links inside the image stay links.
    done: HashMap<(u64, u64), Option<PathBuf>>,
    /// Stored inodes this image uses, and for which original inode: two different
    /// files of one image never become one (a build working on a copy could otherwise
    /// write through one name into the other).
    claimed: HashMap<(u64, u64), (u64, u64)>,
    /// The directories a link was renamed into, with their modification times from
    /// before: put back by [`Sharing::finish`], so sharing changes no time.
    touched: HashMap<PathBuf, libc::timespec>,
    /// Files now shared with an earlier image.
    pub linked: u64,
    /// Their bytes.
    pub saved: u64,
}

/// The name a file is stored under, and the subdirectory (its first two hex digits).
pub fn name_of(meta: &fs::Metadata, sha256: &str) -> (String, String) {
    (
        sha256[..2].to_owned(),
        format!(
            "{sha256}.{:o}.{}.{}.{}.{}",
            meta.mode() & 0o7777,
            meta.uid(),
            meta.gid(),
            meta.mtime(),
            meta.mtime_nsec()
        ),
    )
}

fn same_file(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.is_file()
        && a.len() == b.len()
        && a.mode() == b.mode()
        && a.uid() == b.uid()
        && a.gid() == b.gid()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
}

impl Sharing {
    /// Sharing into the file store at `dir` (`files/sha256`).
    pub fn new(dir: PathBuf) -> Sharing {
        Sharing {
            dir,
            enabled: true,
            done: HashMap::new(),
            claimed: HashMap::new(),
            touched: HashMap::new(),
            linked: 0,
            saved: 0,
        }
    }

    /// Shares the regular file `path` (already hashed as `sha256`, with metadata
    /// `meta`) with the images before it, or makes it the stored copy. Failures only
    /// leave the file unshared.
    pub fn offer(&mut self, path: &Path, meta: &fs::Metadata, sha256: &str) {
        // An empty file has no data to share, and would gather links by the thousand.
        if !self.enabled || meta.len() == 0 || sha256.len() != 64 {
            return;
        }
        let original = (meta.dev(), meta.ino());
        if let Some(decided) = self.done.get(&original) {
            if let Some(stored) = decided.clone() {
                self.replace(path, &stored, meta);
            }
            return;
        }
        let (sub, name) = name_of(meta, sha256);
        let dir = self.dir.join(sub);
        let stored = dir.join(name);
        let mut made = fs::hard_link(path, &stored);
        if made
            .as_ref()
            .is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
        {
            made = fs::create_dir_all(&dir).and_then(|()| fs::hard_link(path, &stored));
        }
        match made {
            Ok(()) => {
                // This very inode is the stored copy now.
                self.claimed.insert(original, original);
                self.done.insert(original, Some(stored));
                return;
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                // EXDEV (the store's tmp/ on another file system) or EPERM (a file
                // system without hard links) would fail for every file.
                if matches!(e.raw_os_error(), Some(libc::EXDEV | libc::EPERM)) {
                    self.enabled = false;
                }
                self.done.insert(original, None);
                return;
            }
        }
        // Stored already: the same file (metadata; the content is in the name), and
        // not another file of this image?
        let usable = fs::symlink_metadata(&stored).is_ok_and(|have| {
            let inode = (have.dev(), have.ino());
            same_file(&have, meta) && self.claimed.get(&inode).is_none_or(|o| *o == original)
        });
        if !usable {
            self.done.insert(original, None);
            return;
        }
        if let Ok(have) = fs::symlink_metadata(&stored) {
            self.claimed.insert((have.dev(), have.ino()), original);
        }
        self.replace(path, &stored, meta);
        self.done.insert(original, Some(stored));
    }

    /// Replaces `path` by a link to `stored` (a link beside it, renamed over it: the
    /// image never lacks the file).
    fn replace(&mut self, path: &Path, stored: &Path, meta: &fs::Metadata) {
        if fs::symlink_metadata(stored)
            .is_ok_and(|s| s.ino() == meta.ino() && s.dev() == meta.dev())
        {
            return;
        }
        let Some(parent) = path.parent() else { return };
        if !self.touched.contains_key(parent) {
            let Ok(m) = fs::symlink_metadata(parent) else {
                return;
            };
            self.touched.insert(parent.to_owned(), times(&m)[1]);
        }
        let beside = parent.join(format!(".jig-share.{}", std::process::id()));
        let _ = fs::remove_file(&beside);
        // EMLINK (more links than the file system allows) and the like leave this
        // image its own copy.
        if fs::hard_link(stored, &beside).is_err() {
            return;
        }
        if fs::rename(&beside, path).is_ok() {
            self.linked += 1;
            self.saved += meta.len();
        } else {
            let _ = fs::remove_file(&beside);
        }
    }

    /// Puts back the modification times of the directories links were renamed into
    /// (as everything here, a failure only leaves a time as sharing made it).
    pub fn finish(&mut self) {
        for (dir, mtime) in self.touched.drain() {
            let _ = utimens(&dir, mtime);
        }
    }
}

/// Removes the stored files no image links to any more; returns (files, bytes).
pub fn sweep_unreferenced(dir: &Path) -> io::Result<(u64, u64)> {
    let (mut files, mut bytes) = (0, 0);
    let subs = match fs::read_dir(dir) {
        Ok(s) => s,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
        Err(e) => return Err(e),
    };
    for sub in subs.flatten() {
        let Ok(entries) = fs::read_dir(sub.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(m) = e.metadata() else { continue };
            if m.nlink() <= 1 {
                fs::remove_file(e.path())?;
                files += 1;
                bytes += m.len();
            }
        }
        let _ = fs::remove_dir(sub.path());
    }
    Ok((files, bytes))
}

/// Copies a stored image's tree `src` into the new directory `dst` for a build to
/// change: regular files are copied (cloned, sharing blocks, where the file system
/// can; `copy_file_range` otherwise), never linked, so nothing written later reaches
/// the stored files. Modes and modification times (of directories too) are kept, so files the build leaves
/// alone are shared with `src` again when the result is committed; hard links inside
/// the tree stay hard links.
pub fn clone_tree(src: &Path, dst: &Path) -> Result<()> {
    let mut links = HashMap::new();
    clone_dir(src, dst, &mut links)
        .with_context(|| format!("copying the image {} to {}", src.display(), dst.display()))
}

fn clone_dir(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> io::Result<()> {
    crate::base::interrupt::check_io()?;
    let mut dirs = Vec::new();
    for entry in fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let meta = fs::symlink_metadata(&from)?;
        let ft = meta.file_type();
        let with = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", to.display()));
        if ft.is_dir() {
            fs::create_dir(&to).map_err(with)?;
            clone_dir(&from, &to, links)?;
            dirs.push((to, meta));
        } else if ft.is_symlink() {
            symlink(fs::read_link(&from)?, &to).map_err(with)?;
        } else if ft.is_file() {
            // Two names of one inode in a stored image are a hard link of the image
            // itself (sharing never merges two files of one image, see `Sharing`).
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = links.get(&key) {
                    fs::hard_link(first, &to).map_err(with)?;
                    continue;
                }
                links.insert(key, to.clone());
            }
            copy_file(&from, &to, &meta).map_err(with)?;
        } else if ft.is_fifo() {
            nix::unistd::mkfifo(
                &to,
                nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o777),
            )
            .map_err(|e| with(e.into()))?;
        }
    }
    // Directory modes and times last (a read-only directory is filled first, and
    // filling a directory moves its time).
    for (to, meta) in dirs {
        fs::set_permissions(&to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        utimens(&to, times(&meta)[1])?;
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path, meta: &fs::Metadata) -> io::Result<()> {
    let src = File::open(from)?;
    let dst = File::options().write(true).create_new(true).open(to)?;
    // FICLONE: share the blocks (btrfs, xfs, bcachefs); writes later unshare them.
    // SAFETY: ioctl with two fds we own.
    let cloned = unsafe { libc::ioctl(dst.as_raw_fd(), libc::FICLONE, src.as_raw_fd()) } == 0;
    if !cloned {
        let mut left = meta.len();
        while left > 0 {
            // SAFETY: copy_file_range on two fds we own, from their current offsets.
            let n = unsafe {
                libc::copy_file_range(
                    src.as_raw_fd(),
                    std::ptr::null_mut(),
                    dst.as_raw_fd(),
                    std::ptr::null_mut(),
                    left.min(1 << 30) as usize,
                    0,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    crate::base::interrupt::check_io()?;
                    continue;
                }
                // Across file systems of another kind, or where the call is missing:
                // a plain copy of what is left.
                if left == meta.len()
                    && matches!(
                        e.raw_os_error(),
                        Some(libc::EXDEV | libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                    )
                {
                    io::copy(&mut &src, &mut &dst)?;
                    break;
                }
                return Err(e);
            }
            if n == 0 {
                break;
            }
            left -= n as u64;
        }
    }
    dst.set_permissions(fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    set_mtime_fd(&dst, meta)
}

fn times(meta: &fs::Metadata) -> [libc::timespec; 2] {
    let t = libc::timespec {
        tv_sec: meta.mtime(),
        tv_nsec: meta.mtime_nsec(),
    };
    [t, t]
}

/// Sets the modification time of `path` (not following a symlink), leaving its
/// access time.
fn utimens(path: &Path, mtime: libc::timespec) -> io::Result<()> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes())?;
    let omit = libc::timespec {
        tv_sec: 0,
        tv_nsec: libc::UTIME_OMIT,
    };
    let t = [omit, mtime];
    // SAFETY: utimensat with a NUL-terminated path and two valid timespecs.
    let done = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            t.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if done != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn set_mtime_fd(f: &File, meta: &fs::Metadata) -> io::Result<()> {
    // SAFETY: futimens with an fd we own and two valid timespecs.
    if unsafe { libc::futimens(f.as_raw_fd(), times(meta).as_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
