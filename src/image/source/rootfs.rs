//! Local root filesystems: `rootfs:DIR`, `rootfs:FILE.tar[.gz|.zst]` and `busybox:BINARY`.
//!
//! A directory is copied (never used in place: the store must own an immutable copy),
//! a tarball is unpacked with the same checked unpacker registry layers use. Both are
//! sanitized the same way: no device nodes, no setuid/setgid bits, owner-writable; both
//! are held to the `[limits]` of `config.toml` while they are written. A tarball is one
//! flat tree, not a layer: whiteout names in it are plain files (which `jig push`
//! refuses), except the three that can only be an attack (see [`crate::image::unpack`]).

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use crate::base::error::Hint;
use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};

use crate::base::digest::hex;
use crate::image::store::{Image, ImageMeta, Store};
use crate::image::unpack;

/// Imports a directory or tarball at `path` into the store, within `limits`.
pub fn import(path: &Path, store: &Store, limits: &unpack::Limits) -> Result<Image> {
    let path = std::path::absolute(path)?;
    let meta =
        fs::metadata(&path).with_context(|| format!("{} is not readable", path.display()))?;
    let _lock = store.lock_shared()?;
    let temp = store.temp_image()?;
    let budget = unpack::Budget::new(*limits).context("setting up the image's limits")?;
    let source_digest = if meta.is_dir() {
        copy_tree(&path, &temp.rootfs(), Some(&budget))?;
        None
    } else {
        let digest = file_sha256(&path)?;
        let name = path.display().to_string();
        unpack::apply_file(
            &path,
            &temp.rootfs(),
            &unpack::Layer {
                name: &name,
                whiteouts: false,
                budget: &budget,
            },
        )?;
        Some(format!("sha256:{digest}"))
    };
    store.commit(
        temp,
        ImageMeta {
            source: format!("rootfs:{}", path.display()),
            source_digest,
            ..ImageMeta::default()
        },
    )
}

/// Applets linked in a `busybox:` image. Busybox prints "applet not found" for any
/// its build lacks, which is the same answer a native busybox gives.
const APPLETS: &[&str] = &[
    "sh",
    "ash",
    "awk",
    "basename",
    "cat",
    "chmod",
    "cp",
    "cut",
    "date",
    "dd",
    "df",
    "diff",
    "dirname",
    "du",
    "echo",
    "env",
    "expr",
    "false",
    "find",
    "grep",
    "head",
    "hostname",
    "id",
    "kill",
    "less",
    "ln",
    "ls",
    "mkdir",
    "mktemp",
    "mv",
    "nproc",
    "printf",
    "ps",
    "pwd",
    "readlink",
    "realpath",
    "rm",
    "rmdir",
    "sed",
    "seq",
    "sha256sum",
    "sleep",
    "sort",
    "stat",
    "tail",
    "tar",
    "tee",
    "test",
    "touch",
    "tr",
    "true",
    "tty",
    "uname",
    "uniq",
    "vi",
    "wc",
    "which",
    "whoami",
    "xargs",
    "yes",
];

/// Makes an image holding the static busybox at `binary` and its applet links.
pub fn busybox(binary: &Path, store: &Store) -> Result<Image> {
    let bytes = fs::read(binary)
        .with_context(|| format!("reading {}", binary.display()))
        .hint("on Debian or Ubuntu, `apt install busybox-static` provides it")?;
    if needs_interpreter(&bytes)? {
        bail!(
            "{} is dynamically linked; a busybox: image needs a static busybox (Debian: busybox-static)",
            binary.display()
        );
    }
    let _lock = store.lock_shared()?;
    let temp = store.temp_image()?;
    let root = temp.rootfs();
    for d in ["bin", "etc", "root", "tmp", "usr/bin", "var"] {
        fs::create_dir_all(root.join(d))?;
    }
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777))?;
    fs::write(root.join("bin/busybox"), &bytes)?;
    fs::set_permissions(root.join("bin/busybox"), fs::Permissions::from_mode(0o755))?;
    for applet in APPLETS {
        symlink("busybox", root.join("bin").join(applet))?;
    }
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")?;
    fs::write(root.join("etc/group"), "root:x:0:\n")?;
    store.commit(
        temp,
        ImageMeta {
            source: format!("busybox:{}", binary.display()),
            source_digest: Some(crate::base::digest::sha256_digest(&bytes)),
            ..ImageMeta::default()
        },
    )
}

/// True if the ELF file has a PT_INTERP program header (needs a dynamic loader).
fn needs_interpreter(elf: &[u8]) -> Result<bool> {
    if elf.len() < 64 || &elf[..4] != b"\x7fELF" || elf[4] != 2 || elf[5] != 1 {
        bail!("not a 64-bit little-endian ELF executable");
    }
    let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().expect("8 bytes")) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        let Some(ph) = elf.get(o..o + 4) else {
            bail!("truncated ELF program headers");
        };
        if u32::from_le_bytes(ph.try_into().expect("4 bytes")) == 3 {
            return Ok(true);
        }
    }
    Ok(false)
}

fn file_sha256(path: &Path) -> Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

/// Copies a directory tree without following symlinks, sanitizing as the unpacker does;
/// with a `budget`, every entry is admitted (as one archive) before it is copied.
pub fn copy_tree(src: &Path, dst: &Path, budget: Option<&unpack::Budget>) -> Result<()> {
    let mut links = HashMap::new();
    let mut budget = budget.map(|b| (b, unpack::Used::default()));
    copy_dir(src, dst, Path::new(""), dst, &mut links, &mut budget)
}

fn copy_dir(
    src: &Path,
    dst: &Path,
    rel: &Path,
    root: &Path,
    links: &mut HashMap<(u64, u64), std::path::PathBuf>,
    budget: &mut Option<(&unpack::Budget, unpack::Used)>,
) -> Result<()> {
    let entries = fs::read_dir(src).with_context(|| format!("reading {}", src.display()))?;
    for entry in entries {
        crate::base::interrupt::check()?;
        let entry = entry.with_context(|| format!("reading {}", src.display()))?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let rel = rel.join(entry.file_name());
        let meta = fs::symlink_metadata(&from).with_context(|| format!("{}", from.display()))?;
        let ft = meta.file_type();
        let mode = meta.mode() & 0o7777;
        if let Some((budget, used)) = budget {
            // A second name of a hard-linked file copies nothing.
            let linked = meta.nlink() > 1 && links.contains_key(&(meta.dev(), meta.ino()));
            let bytes = if ft.is_file() && !linked {
                meta.len()
            } else {
                0
            };
            budget
                .admit(used, bytes)
                .map_err(|reason| anyhow!("{}: {reason}", from.display()))?;
        }
        if ft.is_dir() {
            fs::create_dir(&to).with_context(|| format!("creating {}", to.display()))?;
            copy_dir(&from, &to, &rel, root, links, budget)?;
            fs::set_permissions(&to, fs::Permissions::from_mode((mode & 0o1777) | 0o700))?;
        } else if ft.is_symlink() {
            symlink(fs::read_link(&from)?, &to)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = links.get(&key) {
                    fs::hard_link(root.join(first), &to)?;
                    continue;
                }
                links.insert(key, rel.clone());
            }
            copy_file(&from, &to).with_context(|| format!("copying {}", from.display()))?;
            fs::set_permissions(&to, fs::Permissions::from_mode((mode & 0o777) | 0o600))?;
        } else if ft.is_fifo() {
            nix::unistd::mkfifo(
                &to,
                nix::sys::stat::Mode::from_bits_truncate((mode & 0o777) | 0o600),
            )?;
        }
        // Devices and sockets are skipped: they cannot be made unprivileged and do not
        // belong in an image (the runtime provides /dev).
    }
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> io::Result<()> {
    let mut src = File::open(from)?;
    let mut dst = File::options().write(true).create_new(true).open(to)?;
    io::copy(&mut src, &mut dst)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_import_sanitizes_and_keeps_links() {
        let src = tempfile::tempdir().unwrap();
        let d = src.path();
        fs::create_dir_all(d.join("bin")).unwrap();
        fs::write(d.join("bin/a"), "a").unwrap();
        fs::set_permissions(d.join("bin/a"), fs::Permissions::from_mode(0o4755)).unwrap();
        fs::hard_link(d.join("bin/a"), d.join("bin/b")).unwrap();
        symlink("a", d.join("bin/c")).unwrap();
        let store_dir = tempfile::tempdir().unwrap();
        let store = Store::new(store_dir.path().to_path_buf());
        let limits = unpack::Limits::default();
        let image = import(d, &store, &limits).unwrap();
        let r = store.rootfs_of(&image.id);
        assert_eq!(
            fs::metadata(r.join("bin/a")).unwrap().mode() & 0o7777,
            0o755
        );
        assert_eq!(
            fs::metadata(r.join("bin/a")).unwrap().ino(),
            fs::metadata(r.join("bin/b")).unwrap().ino()
        );
        assert_eq!(fs::read_link(r.join("bin/c")).unwrap(), Path::new("a"));
        // Importing again gives the same image.
        assert_eq!(import(d, &store, &limits).unwrap().id, image.id);
    }

    #[test]
    fn directory_import_is_held_to_the_limits() {
        let src = tempfile::tempdir().unwrap();
        let d = src.path();
        fs::create_dir(d.join("sub")).unwrap();
        fs::write(d.join("sub/a"), "0123456789").unwrap();
        fs::hard_link(d.join("sub/a"), d.join("sub/b")).unwrap();
        fs::write(d.join("c"), "0123456789").unwrap();
        let store_dir = tempfile::tempdir().unwrap();
        let store = Store::new(store_dir.path().to_path_buf());
        let limits = unpack::Limits {
            layer_entries: Some(3),
            ..unpack::Limits::default()
        };
        let err = format!("{:#}", import(d, &store, &limits).unwrap_err());
        assert!(err.contains("limit layer_entries"), "{err}");
        // A hard link's second name copies no bytes: 20, not 30.
        let limits = unpack::Limits {
            image_bytes: 20,
            ..unpack::Limits::default()
        };
        import(d, &store, &limits).unwrap();
        let limits = unpack::Limits {
            image_bytes: 19,
            ..unpack::Limits::default()
        };
        let err = format!("{:#}", import(d, &store, &limits).unwrap_err());
        assert!(err.contains("limit image_bytes"), "{err}");
        assert_eq!(
            fs::read_dir(store_dir.path().join("tmp")).unwrap().count(),
            0
        );
    }

    #[test]
    fn elf_interpreter_detection() {
        let host_sh = fs::read("/bin/sh").unwrap();
        assert!(needs_interpreter(&host_sh).unwrap());
        assert!(needs_interpreter(b"#!/bin/sh\n").is_err());
    }
}
