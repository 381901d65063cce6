//! Writing one archive entry below the target, and what an apply is given and
//! reports: every path is cleaned ([`clean_path`]) and every parent directory opened
//! beneath the target's root without following symlinks; modes are sanitized, device
//! nodes skipped and whiteouts handed to [`super::whiteout`].

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat, openat2};
use nix::sys::stat::{Mode, SFlag, UtimensatFlags, fstatat, mkdirat, mknodat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{linkat, symlinkat};

use super::budget::Budget;
use super::error::Error;
use super::whiteout::{self, Whiteout};

/// Counts of what an apply did, for messages and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// Entries written.
    pub written: u64,
    /// Device nodes skipped.
    pub skipped_devices: u64,
    /// Whiteouts applied.
    pub whiteouts: u64,
}

/// Options for applying one archive.
#[derive(Debug, Clone)]
pub struct Layer<'a> {
    /// Name used in error messages.
    pub name: &'a str,
    /// Honour OCI whiteout files.
    pub whiteouts: bool,
    /// The limits and the image-wide counts this archive is checked against.
    pub budget: &'a Budget,
}

/// Renames an entry: given its clean relative path, returns the path to write it to,
/// or `None` to skip it, or an error message.
pub type PathMap<'m> = dyn FnMut(PathBuf) -> Result<Option<PathBuf>, String> + 'm;

/// The state of one apply: the target's root, what was written, and the directory
/// times to set at the end.
pub(super) struct Ctx<'a> {
    root: OwnedFd,
    layer: &'a Layer<'a>,
    stats: Unpacked,
    /// Paths written by this archive: an opaque whiteout keeps these.
    created: HashSet<PathBuf>,
    dir_times: Vec<(PathBuf, u64)>,
    map: &'a mut PathMap<'a>,
}

/// Turns an archive path into a clean relative path, refusing anything that could
/// leave the target.
pub fn clean_path(raw: &[u8]) -> Result<PathBuf, String> {
    let p = Path::new(OsStr::from_bytes(raw));
    if p.is_absolute() {
        return Err("absolute path refused".into());
    }
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            Component::ParentDir => return Err("path with '..' refused".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute path refused".into());
            }
        }
    }
    Ok(out)
}

impl<'a> Ctx<'a> {
    /// Opens the existing directory `target` for applying an archive into it.
    pub(super) fn new(
        target: &Path,
        layer: &'a Layer<'a>,
        map: &'a mut PathMap<'a>,
    ) -> Result<Ctx<'a>, Error> {
        let root = nix::fcntl::open(
            target,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error {
            layer: layer.name.to_owned(),
            path: String::new(),
            reason: format!("cannot open target {}: {e}", target.display()),
        })?;
        Ok(Ctx {
            root,
            layer,
            stats: Unpacked::default(),
            created: HashSet::new(),
            dir_times: Vec::new(),
            map,
        })
    }

    /// Sets the times of the directories written, and returns the counts. Called last:
    /// creating entries inside a directory would change them.
    pub(super) fn finish(self) -> Unpacked {
        for (rel, mtime) in self.dir_times.into_iter().rev() {
            let t = TimeSpec::new(mtime as i64, 0);
            let _ = utimensat(
                &self.root,
                rel.as_path(),
                &t,
                &t,
                UtimensatFlags::NoFollowSymlink,
            );
        }
        self.stats
    }

    /// Cleans an archive path and passes it through the caller's map; `None`: skip.
    fn mapped(&mut self, raw: &[u8]) -> Result<Option<PathBuf>, String> {
        let rel = clean_path(raw)?;
        match (self.map)(rel)? {
            Some(p) => clean_path(p.as_os_str().as_bytes()).map(Some),
            None => Ok(None),
        }
    }

    /// The error for entry `path` (empty: the archive as a whole).
    pub(super) fn err(&self, path: &str, reason: String) -> Error {
        Error {
            layer: self.layer.name.to_owned(),
            path: path.to_owned(),
            reason,
        }
    }

    /// Opens (creating as needed) the directory `rel` below the root without following
    /// any symlink. A symlink where a directory is expected is an error, not a detour.
    fn dir(&self, rel: &Path) -> Result<OwnedFd, String> {
        let how = || {
            OpenHow::new()
                .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
                .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS)
        };
        let target = if rel.as_os_str().is_empty() {
            Path::new(".")
        } else {
            rel
        };
        match openat2(&self.root, target, how()) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT) => {}
            Err(Errno::ELOOP) => {
                return Err(format!(
                    "refused: parent {} is a symlink (writing through it could escape the image)",
                    rel.display()
                ));
            }
            Err(Errno::ENOTDIR) => {
                return Err(format!("parent {} is not a directory", rel.display()));
            }
            Err(e) => return Err(format!("cannot open parent {}: {e}", rel.display())),
        }
        // Create missing components one at a time, each relative to the last.
        let mut fd = openat2(&self.root, ".", how()).map_err(|e| e.to_string())?;
        for c in rel.components() {
            let name = c.as_os_str();
            match mkdirat(&fd, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(format!("cannot create directory {}: {e}", rel.display())),
            }
            fd = match openat2(&fd, name, how()) {
                Ok(fd) => fd,
                Err(Errno::ELOOP) => {
                    return Err(format!(
                        "refused: parent {} is a symlink (writing through it could escape the image)",
                        rel.display()
                    ));
                }
                Err(e) => return Err(format!("cannot open parent {}: {e}", rel.display())),
            };
        }
        Ok(fd)
    }

    /// Writes one entry (`raw`: its path as the archive spells it), applies it as a
    /// whiteout, or skips it; or says why not.
    pub(super) fn entry<R: Read>(
        &mut self,
        entry: &mut tar::Entry<R>,
        raw: &str,
    ) -> Result<(), String> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader | tar::EntryType::GNULongName
        ) {
            return Ok(());
        }
        let Some(rel) = self.mapped(&entry.path_bytes())? else {
            return Ok(());
        };
        let Some(name) = rel.file_name().map(OsStr::to_owned) else {
            // The archive root itself ("./"): nothing to create.
            return Ok(());
        };
        let parent_rel = rel.parent().unwrap_or(Path::new("")).to_owned();

        match whiteout::classify(&name, self.layer.whiteouts)? {
            Some(Whiteout::Opaque) => {
                let parent = self.dir(&parent_rel)?;
                whiteout::empty_dir(&parent, &self.created, &parent_rel)?;
                self.stats.whiteouts += 1;
                return Ok(());
            }
            Some(Whiteout::Remove(victim)) => {
                let parent = self.dir(&parent_rel)?;
                whiteout::remove(&parent, victim)?;
                self.stats.whiteouts += 1;
                return Ok(());
            }
            None => {}
        }

        let header = entry.header();
        let mode = header.mode().map_err(|e| format!("bad mode: {e}"))? & 0o7777;
        let mtime = header.mtime().unwrap_or(0);
        let parent = self.dir(&parent_rel)?;

        // Device nodes: cannot be created unprivileged and have no place in an image.
        if matches!(kind, tar::EntryType::Char | tar::EntryType::Block) {
            self.stats.skipped_devices += 1;
            return Ok(());
        }

        let existing = fstatat(
            &parent,
            name.as_os_str(),
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .ok();
        let existing_is_dir = existing.is_some_and(|st| {
            SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR
        });

        match kind {
            tar::EntryType::Directory => {
                // Dirs keep the sticky bit (e.g. /tmp) but never setuid/setgid.
                let mode = (mode & 0o1777) | 0o700;
                if existing.is_some() && !existing_is_dir {
                    whiteout::remove(&parent, &name)?;
                }
                if !existing_is_dir {
                    match mkdirat(&parent, name.as_os_str(), Mode::from_bits_truncate(0o700)) {
                        Ok(()) => {}
                        // Another extractor into the same tree made it meanwhile.
                        Err(Errno::EEXIST)
                            if fstatat(
                                &parent,
                                name.as_os_str(),
                                nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
                            )
                            .is_ok_and(|st| {
                                SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
                                    == SFlag::S_IFDIR
                            }) => {}
                        Err(e) => return Err(format!("cannot create directory: {e}")),
                    }
                }
                nix::sys::stat::fchmodat(
                    &parent,
                    name.as_os_str(),
                    Mode::from_bits_truncate(mode),
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(|e| format!("cannot set mode: {e}"))?;
                self.dir_times.push((rel.clone(), mtime));
            }
            tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse => {
                // Unlink first: writing into an existing file could write through a hard
                // link into another path.
                if existing.is_some() {
                    whiteout::remove(&parent, &name)?;
                }
                let fd = openat(
                    &parent,
                    name.as_os_str(),
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )
                .map_err(|e| format!("cannot create file: {e}"))?;
                let mut file = File::from(fd);
                io::copy(entry, &mut file).map_err(|e| format!("cannot write file: {e}"))?;
                // Files never keep setuid/setgid/sticky; the owner can always read/write.
                let mode = (mode & 0o777) | 0o600;
                nix::sys::stat::fchmod(file.as_fd(), Mode::from_bits_truncate(mode))
                    .map_err(|e| format!("cannot set mode: {e}"))?;
                let t = TimeSpec::new(mtime as i64, 0);
                let _ = nix::sys::stat::futimens(file.as_fd(), &t, &t);
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| "symlink without a target".to_string())?;
                if existing.is_some() {
                    whiteout::remove(&parent, &name)?;
                }
                // The target is stored verbatim: it is only ever resolved inside the
                // container's root, never by jig on the host.
                symlinkat(OsStr::from_bytes(&target), &parent, name.as_os_str())
                    .map_err(|e| format!("cannot create symlink: {e}"))?;
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .ok_or_else(|| "hard link without a target".to_string())?;
                let target_rel = self
                    .mapped(&target)
                    .map_err(|e| {
                        format!("hard link target {}: {e}", String::from_utf8_lossy(&target))
                    })?
                    .ok_or_else(|| {
                        format!(
                            "hard link target {} is skipped",
                            String::from_utf8_lossy(&target)
                        )
                    })?;
                let (Some(tname), tparent_rel) = (
                    target_rel.file_name(),
                    target_rel.parent().unwrap_or(Path::new("")),
                ) else {
                    return Err("hard link to the archive root refused".into());
                };
                let tparent = self.dir(tparent_rel)?;
                if target_rel == rel {
                    return Ok(());
                }
                if existing.is_some() {
                    whiteout::remove(&parent, &name)?;
                }
                linkat(
                    &tparent,
                    tname,
                    &parent,
                    name.as_os_str(),
                    nix::fcntl::AtFlags::empty(),
                )
                .map_err(|e| format!("cannot create hard link to {}: {e}", target_rel.display()))?;
            }
            tar::EntryType::Fifo => {
                if existing.is_some() {
                    whiteout::remove(&parent, &name)?;
                }
                mknodat(
                    &parent,
                    name.as_os_str(),
                    SFlag::S_IFIFO,
                    Mode::from_bits_truncate((mode & 0o777) | 0o600),
                    0,
                )
                .map_err(|e| format!("cannot create fifo: {e}"))?;
            }
            other => return Err(format!("unsupported entry type {other:?} in {raw}")),
        }
        self.created.insert(rel);
        self.stats.written += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use std::ffi::OsString;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn clean_paths_are_relative_without_dots() {
        assert_eq!(clean_path(b"./a//b/./c").unwrap(), Path::new("a/b/c"));
        assert_eq!(clean_path(b"./").unwrap(), Path::new(""));
        assert!(clean_path(b"/etc").unwrap_err().contains("absolute"));
        assert!(clean_path(b"a/../b").unwrap_err().contains("'..'"));
    }

    #[test]
    fn writes_files_dirs_links_and_strips_special_bits() {
        let t = tempfile::tempdir().unwrap();
        let tar = TarBuilder::new()
            .dir("./bin", 0o755)
            .file("./bin/tool", "#!/bin/sh\n", 0o4755)
            .file("etc/conf", "x", 0o000)
            .link("bin/sh", "/bin/busybox", tar::EntryType::Symlink)
            .link("bin/tool2", "bin/tool", tar::EntryType::Link)
            .device("dev/null")
            .file("deep/er/file", "y", 0o644)
            .done();
        let stats = apply_bytes(&tar, t.path(), &plain()).unwrap();
        assert_eq!(stats.skipped_devices, 1);
        let m = fs::metadata(t.path().join("bin/tool")).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o755, "setuid stripped");
        assert_eq!(m.nlink(), 2, "hard link kept");
        assert_eq!(
            fs::metadata(t.path().join("etc/conf"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
        assert_eq!(
            fs::read_link(t.path().join("bin/sh")).unwrap(),
            Path::new("/bin/busybox")
        );
        assert!(!t.path().join("dev/null").exists());
        assert_eq!(
            fs::read_to_string(t.path().join("deep/er/file")).unwrap(),
            "y"
        );
    }

    fn assert_refused(tar: Vec<u8>, what: &str) {
        let outer = tempfile::tempdir().unwrap();
        let target = outer.path().join("target");
        fs::create_dir(&target).unwrap();
        let err = apply_bytes(&tar, &target, &oci()).unwrap_err();
        assert!(err.to_string().contains("test-layer"), "{err}");
        assert!(err.to_string().contains(what), "{err}");
        // Nothing appeared beside the target.
        let names: Vec<_> = fs::read_dir(outer.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![OsString::from("target")]);
    }

    #[test]
    fn hostile_archives_are_refused() {
        assert_refused(
            TarBuilder::new().file("/abs", "x", 0o644).done(),
            "absolute",
        );
        assert_refused(
            TarBuilder::new().file("../escape", "x", 0o644).done(),
            "'..'",
        );
        assert_refused(
            TarBuilder::new().file("a/../../escape", "x", 0o644).done(),
            "'..'",
        );
        // A symlink to the outside, then a write through it.
        assert_refused(
            TarBuilder::new()
                .link("out", "..", tar::EntryType::Symlink)
                .file("out/escape", "x", 0o644)
                .done(),
            "symlink",
        );
        assert_refused(
            TarBuilder::new()
                .link("out", "/tmp", tar::EntryType::Symlink)
                .file("out/escape", "x", 0o644)
                .done(),
            "symlink",
        );
        assert_refused(
            TarBuilder::new()
                .link("h", "../../etc/passwd", tar::EntryType::Link)
                .done(),
            "'..'",
        );
        assert_refused(
            TarBuilder::new()
                .link("h", "/etc/passwd", tar::EntryType::Link)
                .done(),
            "absolute",
        );
    }

    #[test]
    fn replacing_a_symlink_does_not_write_through_it() {
        let outer = tempfile::tempdir().unwrap();
        let target = outer.path().join("target");
        fs::create_dir(&target).unwrap();
        fs::write(outer.path().join("victim"), "safe").unwrap();
        let tar = TarBuilder::new()
            .link("f", "../victim", tar::EntryType::Symlink)
            .file("f", "overwritten?", 0o644)
            .done();
        apply_bytes(&tar, &target, &oci()).unwrap();
        assert_eq!(
            fs::read_to_string(outer.path().join("victim")).unwrap(),
            "safe"
        );
        assert_eq!(
            fs::read_to_string(target.join("f")).unwrap(),
            "overwritten?"
        );
    }

    #[test]
    fn file_replaced_by_directory_and_back() {
        let t = tempfile::tempdir().unwrap();
        apply_bytes(
            &TarBuilder::new().file("x", "f", 0o644).done(),
            t.path(),
            &oci(),
        )
        .unwrap();
        apply_bytes(
            &TarBuilder::new()
                .file("x/y", "f", 0o644)
                .dir("x", 0o755)
                .done(),
            t.path(),
            &oci(),
        )
        .unwrap_err();
        let t = tempfile::tempdir().unwrap();
        apply_bytes(
            &TarBuilder::new().file("x", "f", 0o644).done(),
            t.path(),
            &oci(),
        )
        .unwrap();
        apply_bytes(
            &TarBuilder::new()
                .dir("x", 0o755)
                .file("x/y", "f", 0o644)
                .done(),
            t.path(),
            &oci(),
        )
        .unwrap();
        assert!(t.path().join("x/y").exists());
        apply_bytes(
            &TarBuilder::new().file("x", "g", 0o644).done(),
            t.path(),
            &oci(),
        )
        .unwrap();
        assert_eq!(fs::read_to_string(t.path().join("x")).unwrap(), "g");
    }
}
