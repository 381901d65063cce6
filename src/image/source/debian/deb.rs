//! Reading `.deb` files: the `ar` container, the control archive and the data archive.
//!
//! A .deb is an `ar` archive (`!<arch>\n`, then members each behind a 60-byte header:
//! name, mtime, uid, gid, mode, decimal size, "`\n"; data padded to an even offset)
//! holding `debian-binary` ("2.0\n"), `control.tar[.xz|.zst|.gz]` and
//! `data.tar[.xz|.zst|.gz]`. The data archive is applied with the checked tar applier
//! of [`crate::image::unpack`], with entry paths moved for merged-/usr: Debian (bookworm on)
//! keeps `/bin`, `/sbin`, `/lib*` as symlinks into `/usr`, while packages still ship
//! files under the old paths, and the applier rightly refuses to write through a
//! symlinked parent, so `bin/ls` is written as `usr/bin/ls`.

use std::collections::{BTreeMap, HashMap};
use std::ffi::{OsStr, OsString};
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

use crate::image::unpack;

/// Largest control member read into memory (md5sums of big packages reach ~1 MB).
const MAX_CONTROL_MEMBER: u64 = 64 << 20;

/// One member of an `ar` archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its name (without GNU ar's trailing `/`).
    pub name: String,
    /// Offset of its data in the file.
    pub offset: u64,
    /// Size of its data.
    pub size: u64,
}

/// Lists the members of the `ar` archive `file`.
pub fn members(file: &mut File) -> Result<Vec<Member>> {
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(0))?;
    let mut magic = [0u8; 8];
    file.read_exact(&mut magic)
        .map_err(|_| anyhow!("not a .deb: too short for an ar archive"))?;
    if &magic != b"!<arch>\n" {
        bail!("not a .deb: no ar archive signature");
    }
    let mut out = Vec::new();
    let mut pos = 8u64;
    while pos < len {
        let mut h = [0u8; 60];
        file.seek(SeekFrom::Start(pos))?;
        file.read_exact(&mut h)
            .map_err(|_| anyhow!("corrupt .deb: truncated ar header at offset {pos}"))?;
        if &h[58..60] != b"`\n" {
            bail!("corrupt .deb: bad ar header at offset {pos}");
        }
        let field = |r: std::ops::Range<usize>| {
            std::str::from_utf8(&h[r])
                .map(str::trim_end)
                .map_err(|_| anyhow!("corrupt .deb: non-text ar header at offset {pos}"))
        };
        let name = field(0..16)?;
        let name = name.strip_suffix('/').unwrap_or(name).to_owned();
        let size: u64 = field(48..58)?
            .parse()
            .map_err(|_| anyhow!("corrupt .deb: bad member size at offset {pos}"))?;
        let offset = pos + 60;
        if offset.checked_add(size).is_none_or(|end| end > len) {
            bail!("corrupt .deb: member '{name}' runs past the end of the file");
        }
        out.push(Member { name, offset, size });
        pos = offset + size + (size & 1);
    }
    match out.first() {
        Some(m) if m.name == "debian-binary" => {
            let mut v = vec![0u8; m.size.min(16) as usize];
            file.seek(SeekFrom::Start(m.offset))?;
            file.read_exact(&mut v)?;
            if !v.starts_with(b"2.") {
                bail!(
                    "unsupported .deb format version '{}'",
                    String::from_utf8_lossy(&v).trim()
                );
            }
        }
        _ => bail!("not a .deb: the first member is not debian-binary"),
    }
    Ok(out)
}

/// Opens the decompressed tar stream of the member named `stem` or `stem.{xz,zst,gz}`.
fn open_tar(deb: &Path, stem: &str) -> Result<Box<dyn Read>> {
    let mut file = File::open(deb).with_context(|| format!("cannot open {}", deb.display()))?;
    let list = members(&mut file).with_context(|| format!("reading {}", deb.display()))?;
    let m = list
        .iter()
        .find(|m| m.name == stem || m.name.starts_with(&format!("{stem}.")))
        .ok_or_else(|| anyhow!("{}: no {stem} member", deb.display()))?;
    let ext = m.name.strip_prefix(stem).unwrap_or("");
    if !matches!(ext, "" | ".xz" | ".zst" | ".gz") {
        bail!(
            "{}: {} is compressed in a way jig does not read (xz, zstd, gzip)",
            deb.display(),
            m.name
        );
    }
    file.seek(SeekFrom::Start(m.offset))?;
    let raw = BufReader::with_capacity(256 * 1024, file.take(m.size));
    unpack::decompress(Box::new(raw))
        .with_context(|| format!("{}: cannot read {}", deb.display(), m.name))
}

/// The control archive's files (`control`, `postinst`, `md5sums`, `conffiles`, ...)
/// by name.
pub fn control_files(deb: &Path) -> Result<BTreeMap<String, Vec<u8>>> {
    let reader = open_tar(deb, "control.tar")?;
    let mut archive = tar::Archive::new(reader);
    let mut out = BTreeMap::new();
    let bad = |e: io::Error| anyhow!("{}: corrupt control archive: {e}", deb.display());
    for entry in archive.entries().map_err(bad)? {
        let entry = entry.map_err(bad)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().map_err(bad)?.into_owned();
        let mut parts = path
            .components()
            .filter(|c| !matches!(c, Component::CurDir));
        let (Some(Component::Normal(name)), None) = (parts.next(), parts.next()) else {
            continue; // not a top-level file
        };
        let name = name.to_string_lossy().into_owned();
        if entry.size() > MAX_CONTROL_MEMBER {
            bail!("{}: control member {name} is too large", deb.display());
        }
        let mut data = Vec::with_capacity(entry.size() as usize);
        entry
            .take(MAX_CONTROL_MEMBER)
            .read_to_end(&mut data)
            .map_err(bad)?;
        out.insert(name, data);
    }
    if !out.contains_key("control") {
        bail!("{}: the control archive has no control file", deb.display());
    }
    Ok(out)
}

/// Top-level directories that merged-/usr turns into links into `/usr`.
fn aliased(name: &OsStr) -> bool {
    matches!(
        name.as_bytes(),
        b"bin" | b"sbin" | b"lib" | b"lib32" | b"lib64" | b"libx32" | b"libo32"
    )
}

/// The `lib*` links Debian's merged-/usr has on `arch` besides `bin`, `sbin`, `lib`:
/// those holding the dynamic linker's path.
fn arch_lib_links(arch: &str) -> &'static [&'static str] {
    match arch {
        "amd64" | "ppc64el" | "mips64el" | "loong64" | "sparc64" => &["lib64"],
        _ => &[],
    }
}

/// Creates `usr/DIR` and the link `DIR -> usr/DIR` unless it is already there.
/// Returns whether `DIR` is such a link (false: a real directory, left alone).
fn ensure_link(rootfs: &Path, name: &OsStr) -> Result<bool> {
    let link = rootfs.join(name);
    let want = Path::new("usr").join(name);
    match fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => Ok(fs::read_link(&link)? == want),
        Ok(_) => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(rootfs.join(&want))
                .with_context(|| format!("cannot create {}", rootfs.join(&want).display()))?;
            std::os::unix::fs::symlink(&want, &link)
                .with_context(|| format!("cannot create {}", link.display()))?;
            Ok(true)
        }
        Err(e) => Err(e).with_context(|| format!("cannot inspect {}", link.display())),
    }
}

/// Prepares an empty root for merged-/usr: `usr/bin`, `usr/sbin`, `usr/lib` (and
/// `usr/lib64` where the architecture's dynamic linker lives there, e.g. amd64) and
/// the links `bin -> usr/bin` etc. Fails if one of them is a real directory.
pub fn merged_usr_skeleton(rootfs: &Path, arch: &str) -> Result<()> {
    for name in ["bin", "sbin", "lib"].iter().chain(arch_lib_links(arch)) {
        if !ensure_link(rootfs, OsStr::new(name))? {
            bail!(
                "{} is not a link to usr/{name}; merged-/usr needs a fresh root",
                rootfs.join(name).display()
            );
        }
    }
    Ok(())
}

/// Extracts the data archive of `deb` into `rootfs`, moving `bin/...`, `sbin/...`
/// and `lib*/...` to `usr/...` where those are merged-/usr links (links missing for
/// an aliased directory are created first, as a merged-/usr system would have them).
/// The archive is one layer of the image `budget` counts.
pub fn extract_data(deb: &Path, rootfs: &Path, budget: &unpack::Budget) -> Result<()> {
    let reader = open_tar(deb, "data.tar")?;
    let name = deb
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut linked: HashMap<OsString, bool> = HashMap::new();
    let mut failure: Option<anyhow::Error> = None;
    let mut map = |p: PathBuf| -> Result<Option<PathBuf>, String> {
        let mut comps = p.components();
        let Some(Component::Normal(first)) = comps.next() else {
            return Ok(Some(p));
        };
        if !aliased(first) {
            return Ok(Some(p));
        }
        let is_link = match linked.get(first) {
            Some(v) => *v,
            None => match ensure_link(rootfs, first) {
                Ok(v) => *linked.entry(first.to_owned()).or_insert(v),
                Err(e) => {
                    let msg = format!("{e:#}");
                    failure = Some(e);
                    return Err(msg);
                }
            },
        };
        if !is_link {
            return Ok(Some(p));
        }
        if comps.as_path().as_os_str().is_empty() {
            return Ok(None); // the directory itself: the link stands for it
        }
        Ok(Some(Path::new("usr").join(&p)))
    };
    let layer = unpack::Layer {
        name: &name,
        whiteouts: false,
        budget,
    };
    let result = unpack::apply_mapped(reader, rootfs, &layer, &mut map);
    if let Some(e) = failure {
        return Err(e);
    }
    result.map_err(|e| anyhow!("extracting {}: {e}", deb.display()))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// Builds a tar with files (`name`, contents) and symlinks (`name`, `-> target`).
    fn tar_of(entries: &[(&str, &str)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o755);
            if let Some(target) = data.strip_prefix("-> ") {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, name, target).unwrap();
            } else if name.ends_with('/') {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, name, &[][..]).unwrap();
            } else {
                h.set_size(data.len() as u64);
                b.append_data(&mut h, name, data.as_bytes()).unwrap();
            }
        }
        b.into_inner().unwrap()
    }

    /// An ar archive of `(name, data)` members.
    pub(crate) fn ar_of(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut out = b"!<arch>\n".to_vec();
        for (name, data) in members {
            writeln!(
                out,
                "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`",
                name,
                0,
                0,
                0,
                100644,
                data.len()
            )
            .unwrap();
            out.extend_from_slice(data);
            if data.len() % 2 == 1 {
                out.push(b'\n');
            }
        }
        out
    }

    fn sample_deb(dir: &Path) -> PathBuf {
        let control = tar_of(&[
            ("./", ""),
            ("./control", "Package: t\nVersion: 1\n"),
            ("./postinst", "#!/bin/sh\n"),
        ]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&control).unwrap();
        let data = tar_of(&[
            ("./", ""),
            ("./bin/", ""),
            ("./bin/t", "tool"),
            ("./lib32/", ""),
            ("./lib32/libt.so", "lib"),
            ("./usr/share/doc/t/copyright", "c"),
            ("./usr/bin/t2", "-> /bin/t"),
        ]);
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&data).unwrap();
        let deb = ar_of(&[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.gz", gz.finish().unwrap()),
            ("data.tar.xz", xz.finish().unwrap()),
        ]);
        let path = dir.join("t_1_amd64.deb");
        fs::write(&path, deb).unwrap();
        path
    }

    #[test]
    fn reads_control_members() {
        let t = tempfile::tempdir().unwrap();
        let deb = sample_deb(t.path());
        let c = control_files(&deb).unwrap();
        assert_eq!(c.keys().collect::<Vec<_>>(), ["control", "postinst"]);
        assert_eq!(c["control"], b"Package: t\nVersion: 1\n");
    }

    #[test]
    fn extracts_into_merged_usr() {
        let t = tempfile::tempdir().unwrap();
        let deb = sample_deb(t.path());
        let root = t.path().join("root");
        fs::create_dir(&root).unwrap();
        merged_usr_skeleton(&root, "amd64").unwrap();
        merged_usr_skeleton(&root, "amd64").unwrap(); // idempotent
        let budget = unpack::Budget::new(unpack::Limits::default()).unwrap();
        extract_data(&deb, &root, &budget).unwrap();
        assert!(root.join("bin").is_symlink());
        assert!(root.join("lib64").is_symlink());
        assert_eq!(fs::read_to_string(root.join("usr/bin/t")).unwrap(), "tool");
        assert_eq!(fs::read_to_string(root.join("bin/t")).unwrap(), "tool");
        assert!(root.join("lib32").is_symlink(), "created when first used");
        assert!(root.join("usr/lib32/libt.so").exists());
        assert!(root.join("usr/share/doc/t/copyright").exists());
        assert_eq!(
            fs::read_link(root.join("usr/bin/t2")).unwrap(),
            Path::new("/bin/t")
        );
    }

    #[test]
    fn skeleton_refuses_a_real_directory() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir(t.path().join("bin")).unwrap();
        let err = merged_usr_skeleton(t.path(), "arm64").unwrap_err();
        assert!(err.to_string().contains("fresh root"), "{err}");
    }

    #[test]
    fn malformed_archives_are_errors() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("x.deb");
        let good = fs::read(sample_deb(t.path())).unwrap();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"hello".to_vec(), "too short"),
            (b"!<arch>\nxx".to_vec(), "truncated"),
            (good[..good.len() - 10].to_vec(), "past the end"),
            (
                ar_of(&[("control.tar", vec![])]),
                "first member is not debian-binary",
            ),
            (
                ar_of(&[("debian-binary", b"3.0\n".to_vec())]),
                "format version",
            ),
            (
                ar_of(&[("debian-binary", b"2.0\n".to_vec())]),
                "no data.tar member",
            ),
            (
                ar_of(&[
                    ("debian-binary", b"2.0\n".to_vec()),
                    ("data.tar.bz2", vec![1]),
                ]),
                "compressed",
            ),
        ];
        for (bytes, want) in cases {
            fs::write(&p, &bytes).unwrap();
            let budget = unpack::Budget::new(unpack::Limits::default()).unwrap();
            let err = format!("{:#}", extract_data(&p, t.path(), &budget).unwrap_err());
            assert!(err.contains(want), "{want:?} not in {err:?}");
        }
    }
}
