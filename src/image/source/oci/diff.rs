//! What an image adds to the base it was built on, as the second layer of an image
//! cache's copy ([`super::push`]): the entries the base lacks or has otherwise, the
//! directories whose mode or time changed and every directory on the way to a change
//! (so a pull sets their times back), and a whiteout (`.wh.NAME`) for each entry of
//! the base the image lacks.
//!
//! An entry is unchanged when the layer would write it the same: same kind, mode and
//! modification second, and for a regular file the same bytes (one store inode for
//! both, which is what sharing files across images makes of every file a build left
//! alone, or equal content), for a symlink the same target. Owners and nanoseconds
//! are what no layer carries.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use anyhow::{Context, Result};

/// The difference of an image's tree from its base's.
#[derive(Debug, Default)]
pub struct Diff {
    /// Paths the layer writes, relative: `true` with everything below (the base has
    /// nothing of it), `false` a directory whose entries are looked up here again.
    pub paths: HashMap<String, bool>,
    /// Per directory (relative, `""` the root): the names of the base's entries the
    /// image lacks, sorted.
    pub gone: HashMap<String, Vec<String>>,
}

impl Diff {
    /// The difference of the tree `image` from the tree `base`.
    pub fn between(image: &Path, base: &Path) -> Result<Diff> {
        let mut diff = Diff::default();
        diff.walk(image, base, "")
            .with_context(|| format!("comparing {} with {}", image.display(), base.display()))?;
        Ok(diff)
    }

    /// Records what differs below `image` (a directory the base has, as `base`);
    /// true when anything does.
    fn walk(&mut self, image: &Path, base: &Path, rel: &str) -> io::Result<bool> {
        crate::base::interrupt::check_io()?;
        let ours = names(image)?;
        let mut gone: Vec<String> = names(base)?
            .into_iter()
            .filter(|n| ours.binary_search(n).is_err())
            .filter_map(|n| n.into_string().ok())
            .collect();
        gone.sort();
        let mut changed = !gone.is_empty();
        if changed {
            self.gone.insert(rel.to_owned(), gone);
        }
        for name in ours {
            let Some(name) = name.to_str() else {
                // Refused by the layer writer with its own message.
                self.paths.insert(join(rel, &name.to_string_lossy()), true);
                changed = true;
                continue;
            };
            let (p, q) = (image.join(name), base.join(name));
            let rel = join(rel, name);
            let m = fs::symlink_metadata(&p)?;
            let differs = match fs::symlink_metadata(&q) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => Some(true),
                Err(e) => return Err(e),
                Ok(b) if m.is_dir() && b.is_dir() => {
                    let below = self.walk(&p, &q, &rel)?;
                    (below || !same_meta(&m, &b)).then_some(false)
                }
                Ok(b) => (!same_entry(&p, &m, &q, &b)?).then_some(true),
            };
            if let Some(whole) = differs {
                self.paths.insert(rel, whole);
                changed = true;
            }
        }
        Ok(changed)
    }
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_owned()
    } else {
        format!("{rel}/{name}")
    }
}

/// The names in `dir`, in byte order.
fn names(dir: &Path) -> io::Result<Vec<std::ffi::OsString>> {
    let mut names: Vec<_> = fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Same kind, permission bits and modification second: what a layer header records.
fn same_meta(a: &fs::Metadata, b: &fs::Metadata) -> bool {
    a.file_type() == b.file_type()
        && a.mode() & 0o7777 == b.mode() & 0o7777
        && a.mtime().max(0) == b.mtime().max(0)
}

/// Whether the entry `p` would be written as `q` is.
fn same_entry(p: &Path, a: &fs::Metadata, q: &Path, b: &fs::Metadata) -> io::Result<bool> {
    if !same_meta(a, b) {
        return Ok(false);
    }
    let ft = a.file_type();
    if ft.is_symlink() {
        return Ok(fs::read_link(p)? == fs::read_link(q)?);
    }
    if !ft.is_file() {
        return Ok(true);
    }
    if (a.dev(), a.ino()) == (b.dev(), b.ino()) {
        return Ok(true);
    }
    Ok(a.len() == b.len() && same_bytes(p, q)?)
}

fn same_bytes(p: &Path, q: &Path) -> io::Result<bool> {
    let (mut f, mut g) = (File::open(p)?, File::open(q)?);
    let (mut x, mut y) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = read_full(&mut f, &mut x)?;
        let m = read_full(&mut g, &mut y)?;
        if n != m || x[..n] != y[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn added_changed_and_removed_entries_and_the_directories_on_their_way() {
        let t = tempfile::tempdir().unwrap();
        let (base, image) = (t.path().join("base"), t.path().join("image"));
        for root in [&base, &image] {
            fs::create_dir_all(root.join("usr/bin")).unwrap();
            fs::create_dir_all(root.join("etc/keep")).unwrap();
            fs::write(root.join("usr/bin/same"), "same").unwrap();
            fs::write(root.join("etc/keep/same"), "same").unwrap();
            symlink("same", root.join("usr/bin/link")).unwrap();
        }
        fs::write(base.join("usr/bin/gone"), "x").unwrap();
        fs::create_dir_all(base.join("var/gone/deep")).unwrap();
        fs::write(image.join("usr/bin/new"), "new").unwrap();
        fs::write(base.join("etc/changed"), "old").unwrap();
        fs::write(image.join("etc/changed"), "new").unwrap();
        fs::write(base.join("etc/mode"), "m").unwrap();
        fs::write(image.join("etc/mode"), "m").unwrap();
        fs::set_permissions(image.join("etc/mode"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::create_dir_all(image.join("opt/tool/lib")).unwrap();
        // The same times everywhere but where the test changes them.
        let stamp = |root: &Path| {
            for rel in [
                "usr/bin/same",
                "etc/keep/same",
                "etc/mode",
                "etc/keep",
                "usr/bin",
            ] {
                let f = File::open(root.join(rel)).unwrap();
                f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000))
                    .unwrap();
            }
        };
        stamp(&base);
        stamp(&image);
        let mut d = Diff::between(&image, &base).unwrap();
        let mut paths: Vec<_> = d.paths.drain().collect();
        paths.sort();
        let want: Vec<(String, bool)> = [
            ("etc", false),
            ("etc/changed", true),
            ("etc/mode", true),
            ("opt", true),
            ("usr", false),
            ("usr/bin", false),
            ("usr/bin/new", true),
        ]
        .iter()
        .map(|(p, w)| (p.to_string(), *w))
        .collect();
        assert_eq!(paths, want);
        assert_eq!(d.gone.get("").unwrap(), &vec!["var".to_owned()]);
        assert_eq!(d.gone.get("usr/bin").unwrap(), &vec!["gone".to_owned()]);
        assert_eq!(d.gone.len(), 2);

        // The same tree: nothing at all.
        let d = Diff::between(&base, &base).unwrap();
        assert!(d.paths.is_empty() && d.gone.is_empty());
    }
}
