//! Reading files of an untrusted root filesystem.
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT)` from a descriptor of the
//! root: symlinks are followed as they would be inside the image (an absolute target
//! starts at the image's root, `..` stops there), so no symlink, however crafted,
//! reaches a file outside it. Only regular files are read (the open does not block on
//! a FIFO), and never more than the caller's cap.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::os::fd::OwnedFd;
use std::path::Path;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2};
use nix::sys::stat::Mode;

/// An open root filesystem.
pub(super) struct Root {
    dir: OwnedFd,
}

/// What reading one file gave.
#[derive(Debug)]
pub(super) enum Read {
    /// The file's content.
    Data(Vec<u8>),
    /// No such file inside the root.
    Missing,
    /// Something other than a regular file (directory, FIFO, device, socket).
    NotRegular,
    /// Larger than the cap.
    TooBig(u64),
    /// Any other failure (permissions, a symlink loop, I/O).
    Failed(io::Error),
}

impl fmt::Display for Read {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Read::Data(d) => write!(f, "{} bytes", d.len()),
            Read::Missing => f.write_str("no such file"),
            Read::NotRegular => f.write_str("not a regular file"),
            Read::TooBig(cap) => write!(f, "larger than {cap} bytes"),
            Read::Failed(e) => write!(f, "{e}"),
        }
    }
}

impl Root {
    /// Opens the root filesystem at `path` (a directory the caller trusts).
    pub(super) fn open(path: &Path) -> Result<Root> {
        let dir = open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("cannot open the root filesystem {}", path.display()))?;
        Ok(Root { dir })
    }

    /// Reads `path` (relative to the root; a leading `/` is allowed) if it resolves,
    /// inside the root, to a regular file of at most `cap` bytes.
    pub(super) fn read(&self, path: &str, cap: u64) -> Read {
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOCTTY | OFlag::O_NONBLOCK)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let fd = match openat2(&self.dir, path.trim_start_matches('/'), how) {
            Ok(fd) => fd,
            Err(Errno::ENOENT | Errno::ENOTDIR) => return Read::Missing,
            Err(e) => return Read::Failed(e.into()),
        };
        let file = File::from(fd);
        let meta = match file.metadata() {
            Ok(m) => m,
            Err(e) => return Read::Failed(e),
        };
        if !meta.file_type().is_file() {
            return Read::NotRegular;
        }
        if meta.len() > cap {
            return Read::TooBig(cap);
        }
        let mut data = Vec::with_capacity(meta.len() as usize);
        // The size may change under us; the cap holds whatever it becomes.
        match file.take(cap + 1).read_to_end(&mut data) {
            Ok(_) if data.len() as u64 > cap => Read::TooBig(cap),
            Ok(_) => Read::Data(data),
            Err(e) => Read::Failed(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn text(r: Read) -> String {
        match r {
            Read::Data(d) => String::from_utf8(d).unwrap(),
            other => panic!("expected data, got {other:?}"),
        }
    }

    #[test]
    fn sbom_reads_stay_inside_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("secret");
        std::fs::write(&outside, "host file").unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/secret"), "image file").unwrap();
        std::fs::write(root.join("etc/big"), vec![b'x'; 100]).unwrap();
        symlink(&outside, root.join("abs")).unwrap();
        symlink("../../../../../../../../secret", root.join("etc/up")).unwrap();
        symlink("secret", root.join("etc/rel")).unwrap();
        symlink("loop", root.join("loop")).unwrap();
        nix::unistd::mkfifo(&root.join("fifo"), Mode::from_bits_truncate(0o644)).unwrap();

        let r = Root::open(&root).unwrap();
        assert_eq!(text(r.read("etc/rel", 64)), "image file");
        assert_eq!(text(r.read("/etc/secret", 64)), "image file");
        // An absolute link to a host path means that path inside the image.
        assert!(matches!(r.read("abs", 64), Read::Missing));
        assert!(matches!(r.read("etc/up", 64), Read::Missing));
        assert!(matches!(r.read("../secret", 64), Read::Missing));
        assert!(matches!(r.read("loop", 64), Read::Failed(_)));
        assert!(matches!(r.read("fifo", 64), Read::NotRegular));
        assert!(matches!(r.read("etc", 64), Read::NotRegular));
        assert!(matches!(r.read("etc/big", 99), Read::TooBig(99)));
        assert_eq!(text(r.read("etc/big", 100)).len(), 100);
        assert!(matches!(r.read("etc/secret/x", 64), Read::Missing));
    }
}
