//! Where `COPY` and `ADD` read from: the build context (a host directory, held to
//! what lies beneath it and filtered by `.dockerignore`) or an image of the store (a
//! `--from` stage or image, whose symlinks are resolved inside it, as a container
//! would see them).
//!
//! Every path is opened relative to the tree's root fd with `openat2(2)`: the context
//! with `RESOLVE_BENEATH`, so neither `..` nor a symlink (absolute or relative) can
//! lead out of it, an image with `RESOLVE_IN_ROOT`. A source is checked lexically
//! first (`../../etc/passwd` is refused before anything is opened); below a source
//! directory nothing is followed: symlinks are copied as symlinks, and special files
//! are left out.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat, openat2, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};

use super::ignore::{self, Ignore};

/// A tree sources are read from.
pub struct Tree {
    root: OwnedFd,
    /// The context (beneath, with `.dockerignore`) rather than an image (in root).
    context: bool,
    ignore: Ignore,
    /// How messages name it: `the build context`, `stage 0`, ...
    pub name: String,
}

/// What one entry of a source is.
pub enum Kind {
    /// A directory and its entries, in name order.
    Dir(Vec<Entry>),
    /// A regular file, open for reading, and its size.
    File(File, u64),
    /// A symlink and its target.
    Symlink(String),
}

/// A file, directory or symlink found below a source.
pub struct Entry {
    /// Its name (the last component).
    pub name: String,
    /// Permission bits.
    pub mode: u32,
    /// What it is.
    pub kind: Kind,
}

/// A source path resolved in a tree.
pub struct Found {
    /// The path relative to the tree's root, as matched (wildcards expanded).
    pub rel: String,
    /// The entry (a source that is a symlink is followed, within the tree).
    pub entry: Entry,
}

impl Tree {
    /// The build context at `dir`, with its `.dockerignore` (a regular file, not
    /// followed through a symlink).
    pub fn context(dir: &Path) -> Result<Tree> {
        let root = open(
            dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("opening the build context {}", dir.display()))?;
        let ignore = match openat(
            &root,
            ".dockerignore",
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => {
                if kind_of(&fstat(&fd)?) != SFlag::S_IFREG {
                    bail!("{}/.dockerignore is not a regular file", dir.display());
                }
                let mut text = String::new();
                File::from(fd)
                    .read_to_string(&mut text)
                    .with_context(|| format!("reading {}/.dockerignore", dir.display()))?;
                Ignore::parse(&text)
            }
            Err(Errno::ENOENT) => Ignore::default(),
            Err(Errno::ELOOP) => bail!(
                "{}/.dockerignore is a symlink; jig reads it only as a regular file",
                dir.display()
            ),
            Err(e) => bail!("opening {}/.dockerignore: {e}", dir.display()),
        };
        Ok(Tree {
            root,
            context: true,
            ignore,
            name: "the build context".into(),
        })
    }

    /// The root filesystem of an image at `rootfs`, known as `name`.
    pub fn image(rootfs: &Path, name: String) -> Result<Tree> {
        let root = open(
            rootfs,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("opening {}", rootfs.display()))?;
        Ok(Tree {
            root,
            context: false,
            ignore: Ignore::default(),
            name,
        })
    }

    /// Resolves `source` (wildcards in any component expand to the matching names, in
    /// order): every match with its entries. `what` names the instruction in errors.
    pub fn find(&self, source: &str, what: &str) -> Result<Vec<Found>> {
        let parts = lexical(source).map_err(|why| {
            crate::base::error::hinted(
                format!("{what}: {source} {why}"),
                "COPY and ADD read only what is inside the build context; move the file there",
            )
        })?;
        let mut matches = vec![String::new()];
        for part in &parts {
            let mut next = Vec::new();
            for prefix in matches {
                if !has_wildcard(part) {
                    next.push(join(&prefix, &unescape(part)));
                    continue;
                }
                let dir = self.open(&prefix, what)?;
                for name in list(&dir)? {
                    if ignore::component(part.as_bytes(), name.as_bytes()) {
                        next.push(join(&prefix, &name));
                    }
                }
            }
            matches = next;
        }
        matches.retain(|m| !self.ignore.excluded(m));
        if matches.is_empty() {
            bail!("{what}: nothing in {} matches {source}", self.name);
        }
        let mut out = Vec::new();
        for rel in matches {
            let fd = self.open(&rel, what)?;
            let st = fstat(&fd)?;
            let entry = self.entry(fd, &st, leaf(&rel), &rel)?;
            out.push(Found { rel, entry });
        }
        Ok(out)
    }

    /// Opens `rel` (clean, relative) inside the tree, following symlinks only within it.
    fn open(&self, rel: &str, what: &str) -> Result<OwnedFd> {
        let resolve = if self.context {
            ResolveFlag::RESOLVE_BENEATH
        } else {
            ResolveFlag::RESOLVE_IN_ROOT
        };
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_NOCTTY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC)
            .resolve(resolve);
        let path = if rel.is_empty() { "." } else { rel };
        match openat2(&self.root, path, how) {
            Ok(fd) => Ok(fd),
            Err(Errno::EXDEV) => Err(crate::base::error::hinted(
                format!(
                    "{what}: {rel} leads out of {} through a symlink; refused",
                    self.name
                ),
                "COPY and ADD read only what is inside the build context; copy the file there instead of linking to it",
            )),
            Err(Errno::ENOENT | Errno::ENOTDIR) => {
                bail!("{what}: {rel} is not in {}", self.name)
            }
            Err(e) => bail!("{what}: opening {rel} in {}: {e}", self.name),
        }
    }

    /// The entry `fd` (already open) as copied: a directory with everything below it
    /// that `.dockerignore` keeps, a file, or a symlink.
    fn entry(&self, fd: OwnedFd, st: &FileStat, name: &str, rel: &str) -> Result<Entry> {
        let mode = st.st_mode & 0o7777;
        let kind = match kind_of(st) {
            SFlag::S_IFDIR => Kind::Dir(self.children(&fd, rel)?),
            SFlag::S_IFREG => Kind::File(File::from(fd), st.st_size as u64),
            _ => bail!("{rel} in {} is not a file or a directory", self.name),
        };
        Ok(Entry {
            name: name.to_owned(),
            mode,
            kind,
        })
    }

    /// The entries of the directory `dir` (at `rel`), nothing followed.
    fn children(&self, dir: &OwnedFd, rel: &str) -> Result<Vec<Entry>> {
        let mut out = Vec::new();
        for name in list(dir)? {
            let path = join(rel, &name);
            let excluded = self.ignore.excluded(&path);
            let st = fstatat(dir, name.as_str(), nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW)
                .with_context(|| format!("reading {path} in {}", self.name))?;
            let mode = st.st_mode & 0o7777;
            let kind = match kind_of(&st) {
                SFlag::S_IFDIR if !excluded || self.ignore.has_exceptions() => {
                    let fd = openat(
                        dir,
                        name.as_str(),
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .with_context(|| format!("opening {path} in {}", self.name))?;
                    let below = self.children(&fd, &path)?;
                    // An excluded directory is kept only for what an exception keeps.
                    if excluded && below.is_empty() {
                        continue;
                    }
                    Kind::Dir(below)
                }
                _ if excluded => continue,
                SFlag::S_IFREG => {
                    let fd = openat(
                        dir,
                        name.as_str(),
                        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    )
                    .with_context(|| format!("opening {path} in {}", self.name))?;
                    Kind::File(File::from(fd), st.st_size as u64)
                }
                SFlag::S_IFLNK => {
                    let target = readlinkat(dir, name.as_str())
                        .with_context(|| format!("reading the symlink {path}"))?;
                    Kind::Symlink(target.to_string_lossy().into_owned())
                }
                // Devices, sockets and fifos do not belong in an image.
                _ => continue,
            };
            out.push(Entry { name, mode, kind });
        }
        Ok(out)
    }
}

fn kind_of(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT
}

/// The names in the directory `dir`, sorted, without `.` and `..`.
fn list(dir: &impl AsFd) -> Result<Vec<String>> {
    let fd = openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("opening a directory")?;
    let listing = nix::dir::Dir::from_fd(fd).context("reading a directory")?;
    let mut names = Vec::new();
    for e in listing.into_iter() {
        let e = e.context("reading a directory")?;
        let Ok(n) = e.file_name().to_str() else {
            bail!("a file name in the tree is not UTF-8");
        };
        if n != "." && n != ".." {
            names.push(n.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// The components of `source` relative to the tree's root: a leading `/` is the
/// root, `.` is dropped, `..` goes up and may not leave the root.
pub fn lexical(source: &str) -> Result<Vec<String>, &'static str> {
    let mut out: Vec<String> = Vec::new();
    for part in source.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.pop().is_none() {
                    return Err("leads out of the build context (..); refused");
                }
            }
            p => out.push(p.to_owned()),
        }
    }
    Ok(out)
}

fn has_wildcard(part: &str) -> bool {
    part.contains(['*', '?', '['])
}

fn unescape(part: &str) -> String {
    let mut out = String::new();
    let mut chars = part.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

/// The last component of `rel` (empty for the root).
fn leaf(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn sources_stay_in_the_context() {
        assert_eq!(lexical("/a/./b/../c").unwrap(), ["a", "c"]);
        assert!(lexical("../../etc/passwd").is_err());
        assert!(lexical("a/../../b").is_err());
        let t = tempfile::tempdir().unwrap();
        let ctx = t.path().join("ctx");
        std::fs::create_dir_all(ctx.join("d/e")).unwrap();
        std::fs::write(ctx.join("d/f.txt"), "f").unwrap();
        std::fs::write(ctx.join("d/e/g.log"), "g").unwrap();
        std::fs::write(ctx.join(".dockerignore"), "**/*.log\n").unwrap();
        std::fs::write(t.path().join("secret"), "s").unwrap();
        symlink(t.path().join("secret"), ctx.join("out")).unwrap();
        symlink("../secret", ctx.join("up")).unwrap();
        symlink("d/f.txt", ctx.join("in")).unwrap();
        symlink("/etc", ctx.join("etc")).unwrap();
        let tree = Tree::context(&ctx).unwrap();
        for bad in ["out", "up", "etc/passwd"] {
            let err = format!("{:#}", tree.find(bad, "COPY").err().expect(bad));
            assert!(
                err.contains("leads out of the build context"),
                "{bad}: {err}"
            );
        }
        let err = format!("{:#}", tree.find("../secret", "COPY").err().unwrap());
        assert!(err.contains("leads out"), "{err}");
        // A symlink that stays inside is followed.
        let found = tree.find("in", "COPY").unwrap();
        assert!(matches!(found[0].entry.kind, Kind::File(_, 1)));
        // Wildcards, and .dockerignore below a directory.
        let found = tree.find("d/*.txt", "COPY").unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].rel, "d/f.txt");
        let found = tree.find("d", "COPY").unwrap();
        let Kind::Dir(entries) = &found[0].entry.kind else {
            panic!("a directory")
        };
        let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["e", "f.txt"]);
        assert!(matches!(&entries[0].kind, Kind::Dir(v) if v.is_empty()));
        let err = format!("{:#}", tree.find("d/e/g.log", "COPY").err().unwrap());
        assert!(
            err.contains("nothing in the build context matches"),
            "{err}"
        );
    }
}
