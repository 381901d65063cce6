//! The host's local time, as the C library finds it: `/etc/localtime` (usually a
//! symlink into the zone database), the zone `TZ` names, and Debian's
//! `/etc/timezone`. Images carry no zone database (slim Debian images have no tzdata),
//! so without these a tool inside prints UTC where the same tool outside prints local
//! time, and a commit records `+0000` instead of `-0500`.
//!
//! The files are copied into the launch's upper layer at their own paths, not bound:
//! the zone files a launch needs are one or two of a few KB each, and writing them
//! into the tmpfs costs a fraction of a bind and its read-only remount (about 55 µs
//! each, `docs/benchmarks.md`). A tool that switches to yet another zone inside (`TZ=Asia/Tokyo date` in
//! a hook) finds no data for it and gets UTC, as on a host without tzdata; README.md
//! lists that difference.
//!
//! [`probe`] is the I/O (a `readlink` and a read per file, on the hot path); the
//! planner turns its result into files and a link ([`LocalTime::layer`]).

use std::path::{Component, Path, PathBuf};

use crate::runtime::spec::File;

/// The host's zone database, where glibc looks for the zone `TZ` and `/etc/localtime`
/// name (its `TZDIR` default).
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The largest zone file copied (the biggest in tzdata is about 4 KB; this bounds what
/// a launch reads).
const MAX_ZONE_BYTES: u64 = 64 * 1024;

/// What the host has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalTime {
    /// `/etc/localtime`: the symlink's target as written, when it is a symlink that
    /// leads into [`ZONEINFO`] (the target's file is then in `zones`), else the zone
    /// data itself.
    pub localtime: Option<Localtime>,
    /// Zone files of the host's database to copy, by their path there.
    pub zones: Vec<(PathBuf, Vec<u8>)>,
    /// The host's `/etc/timezone` (Debian's zone name, read by some tools).
    pub timezone: Option<Vec<u8>>,
}

/// What `/etc/localtime` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Localtime {
    /// A symlink into the zone database, with its target as written.
    Link(PathBuf),
    /// A file (or a symlink elsewhere): its contents.
    File(Vec<u8>),
}

/// Reads what the host has. `tz` is the caller's `TZ`.
pub fn probe(tz: Option<&std::ffi::OsStr>) -> LocalTime {
    let mut out = LocalTime::default();
    let etc = Path::new("/etc/localtime");
    match std::fs::read_link(etc) {
        Ok(target) => {
            let real = crate::base::paths::normalize(&Path::new("/etc").join(&target));
            if let Some(data) = zone_file(&real) {
                out.localtime = Some(Localtime::Link(target));
                out.zones.push((real, data));
            } else if let Some(data) = read_small(etc) {
                out.localtime = Some(Localtime::File(data));
            }
        }
        // Not a symlink (EINVAL) or not there (ENOENT): the file itself, if any.
        Err(_) => out.localtime = read_small(etc).map(Localtime::File),
    }
    if let Some(path) = tz.and_then(tz_path)
        && !out.zones.iter().any(|(p, _)| *p == path)
        && let Some(data) = zone_file(&path)
    {
        out.zones.push((path, data));
    }
    out.timezone = read_small(Path::new("/etc/timezone"));
    out
}

/// The zone file a `TZ` value names in the zone database: `America/New_York` or
/// `:America/New_York`. None for POSIX rule strings glibc reads without a file
/// (`EST5EDT,M3.2.0,M11.1.0`), for paths outside the database and for `..`.
pub fn tz_path(tz: &std::ffi::OsStr) -> Option<PathBuf> {
    let tz = tz.to_str()?;
    let name = tz.strip_prefix(':').unwrap_or(tz);
    if name.is_empty() || name.contains(',') {
        return None;
    }
    let path = if name.starts_with('/') {
        PathBuf::from(name)
    } else {
        Path::new(ZONEINFO).join(name)
    };
    let plain = path
        .components()
        .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    (plain && path.starts_with(ZONEINFO) && path != Path::new(ZONEINFO)).then_some(path)
}

/// The contents of `path` when it is a zone file of the database: below [`ZONEINFO`],
/// a regular file once symlinks are resolved (Debian links `Etc/UTC` aliases), small.
fn zone_file(path: &Path) -> Option<Vec<u8>> {
    if !path.starts_with(ZONEINFO) {
        return None;
    }
    read_small(path)
}

/// A small regular file's contents (following symlinks); None for anything else.
fn read_small(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let m = f.metadata().ok()?;
    if !m.is_file() || m.len() > MAX_ZONE_BYTES {
        return None;
    }
    let mut data = Vec::with_capacity(m.len() as usize);
    f.take(MAX_ZONE_BYTES).read_to_end(&mut data).ok()?;
    Some(data)
}

impl LocalTime {
    /// The files and the symlink a launch writes into its upper layer: each zone file
    /// at its own path, `/etc/localtime` as the host has it, `/etc/timezone`.
    pub fn layer(&self) -> (Vec<File>, Vec<(PathBuf, PathBuf)>) {
        let file = |dst: &Path, contents: &[u8]| File {
            dst: dst.to_path_buf(),
            contents: contents.to_vec(),
            mode: 0o644,
        };
        let mut files: Vec<File> = self.zones.iter().map(|(p, d)| file(p, d)).collect();
        let mut links = Vec::new();
        match &self.localtime {
            Some(Localtime::Link(target)) => links.push(("/etc/localtime".into(), target.clone())),
            Some(Localtime::File(data)) => files.push(file(Path::new("/etc/localtime"), data)),
            None => {}
        }
        if let Some(t) = &self.timezone {
            files.push(file(Path::new("/etc/timezone"), t));
        }
        (files, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    #[test]
    fn tz_names_a_file_of_the_zone_database_or_nothing() {
        let tz = |s: &str| tz_path(OsStr::new(s));
        let zi = |s: &str| Some(Path::new(ZONEINFO).join(s));
        assert_eq!(tz("America/New_York"), zi("America/New_York"));
        assert_eq!(tz(":Europe/Paris"), zi("Europe/Paris"));
        assert_eq!(tz("UTC"), zi("UTC"));
        assert_eq!(tz("/usr/share/zoneinfo/Asia/Tokyo"), zi("Asia/Tokyo"));
        // Rules glibc reads without a file, paths elsewhere, escapes.
        assert_eq!(tz("EST5EDT,M3.2.0,M11.1.0"), None);
        assert_eq!(tz("/etc/passwd"), None);
        assert_eq!(tz("../../../etc/shadow"), None);
        assert_eq!(tz("America/../../etc"), None);
        assert_eq!(tz(""), None);
        assert_eq!(tz(":"), None);
    }

    #[test]
    fn the_layer_has_the_zone_files_the_link_and_the_zone_name() {
        let lt = LocalTime {
            localtime: Some(Localtime::Link("../usr/share/zoneinfo/Europe/Paris".into())),
            zones: vec![
                ("/usr/share/zoneinfo/Europe/Paris".into(), b"TZif2".to_vec()),
                ("/usr/share/zoneinfo/Asia/Tokyo".into(), b"TZif3".to_vec()),
            ],
            timezone: Some(b"Europe/Paris\n".to_vec()),
        };
        let (files, links) = lt.layer();
        let dsts: Vec<_> = files.iter().map(|f| f.dst.to_str().unwrap()).collect();
        assert_eq!(
            dsts,
            [
                "/usr/share/zoneinfo/Europe/Paris",
                "/usr/share/zoneinfo/Asia/Tokyo",
                "/etc/timezone"
            ]
        );
        assert_eq!(
            links,
            [(
                PathBuf::from("/etc/localtime"),
                PathBuf::from("../usr/share/zoneinfo/Europe/Paris")
            )]
        );
        // A plain /etc/localtime is copied as it is.
        let lt = LocalTime {
            localtime: Some(Localtime::File(b"TZif".to_vec())),
            ..LocalTime::default()
        };
        let (files, links) = lt.layer();
        assert!(links.is_empty());
        assert_eq!(files[0].dst, Path::new("/etc/localtime"));
        assert_eq!(files[0].contents, b"TZif");
        assert_eq!(LocalTime::default().layer(), (vec![], vec![]));
    }

    /// This host's own files, probed for real (whatever they are, the probe agrees
    /// with what the C library would read).
    #[test]
    fn the_probe_reads_this_hosts_local_time() {
        let lt = probe(Some(OsStr::new("UTC")));
        if let Ok(target) = std::fs::read_link("/etc/localtime") {
            let real = std::fs::canonicalize("/etc/localtime").unwrap();
            let data = std::fs::read(&real).unwrap();
            match &lt.localtime {
                Some(Localtime::Link(t)) => {
                    assert_eq!(*t, target);
                    assert!(lt.zones.iter().any(|(_, d)| *d == data));
                }
                Some(Localtime::File(d)) => assert_eq!(*d, data),
                None => panic!("/etc/localtime exists but was not probed"),
            }
        }
        if Path::new("/usr/share/zoneinfo/UTC").exists() {
            let utc = Path::new("/usr/share/zoneinfo/UTC");
            assert!(lt.zones.iter().any(|(p, _)| p == utc), "{lt:?}");
        }
    }
}
