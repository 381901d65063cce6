//! What dpkg's database and `/etc/os-release` say about an image.

use super::deb822;
use super::rootfs::{Read, Root};

/// dpkg's status file, relative to the root.
pub(super) const STATUS: &str = "var/lib/dpkg/status";

/// Largest os-release file read.
const OS_RELEASE_CAP: u64 = 64 << 10;

/// The package states in which a package's files are (at least partly) on disk.
const PRESENT: [&str; 6] = [
    "installed",
    "half-configured",
    "unpacked",
    "half-installed",
    "triggers-awaited",
    "triggers-pending",
];

/// One package from the status file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Installed {
    pub(super) name: String,
    pub(super) version: String,
    pub(super) arch: Option<String>,
    pub(super) source: String,
    pub(super) source_version: String,
}

/// The packages of a dpkg status file whose files are on disk (not those removed down
/// to their configuration files), sorted by name, architecture, version, without
/// duplicates. An entry whose name or version Debian could not have written is left
/// out, since it names no package anyone could look up.
pub(super) fn parse_status(text: &str) -> Vec<Installed> {
    let mut out: Vec<Installed> = deb822::parse(text)
        .iter()
        .filter_map(|p| {
            let state = p.get("Status")?.split_whitespace().nth(2)?;
            if !PRESENT.contains(&state) {
                return None;
            }
            let name = p.get("Package").filter(|n| valid_name(n))?;
            let version = p.get("Version").filter(|v| valid_version(v))?;
            let arch = p
                .get("Architecture")
                .filter(|a| valid_arch(a))
                .map(str::to_owned);
            let (source, source_version) = match p.get("Source").map(parse_source) {
                Some(Some((s, v))) => (s, v.unwrap_or(version)),
                _ => (name, version),
            };
            Some(Installed {
                name: name.to_owned(),
                version: version.to_owned(),
                arch,
                source: source.to_owned(),
                source_version: source_version.to_owned(),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.name, &a.arch, &a.version).cmp(&(&b.name, &b.arch, &b.version)));
    out.dedup_by(|a, b| (&a.name, &a.arch, &a.version) == (&b.name, &b.arch, &b.version));
    out
}

/// `Source: NAME` or `Source: NAME (VERSION)`; `None` when malformed.
fn parse_source(value: &str) -> Option<(&str, Option<&str>)> {
    let (name, rest) = match value.split_once(char::is_whitespace) {
        Some((n, r)) => (n, r.trim()),
        None => (value, ""),
    };
    if !valid_name(name) {
        return None;
    }
    if rest.is_empty() {
        return Some((name, None));
    }
    let version = rest.strip_prefix('(')?.strip_suffix(')')?.trim();
    valid_version(version).then_some((name, Some(version)))
}

/// A Debian package name: `[a-z0-9][a-z0-9+.-]+` (Debian Policy 5.6.1).
pub(super) fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    (2..=128).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+.-".contains(c))
}

/// A Debian version's characters (`[epoch:]upstream[-revision]`, Policy 5.6.12).
fn valid_version(s: &str) -> bool {
    (1..=256).contains(&s.len())
        && s.as_bytes()[0].is_ascii_digit()
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".+~:-".contains(&c))
}

/// A Debian architecture name (`amd64`, `all`, `musl-linux-arm64`).
fn valid_arch(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// The distribution an image's packages come from, as package URLs name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    /// The purl namespace: os-release's `ID` (`debian`, `ubuntu`), `debian` if unknown.
    pub namespace: String,
    /// The release's codename (`bookworm`), when os-release or the image source tells.
    pub codename: Option<String>,
}

/// Reads the image's os-release; `source` is the subject's origin, whose `debian:SUITE`
/// names the release when os-release does not.
pub(super) fn distro(root: &Root, source: &str) -> Distro {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .into_iter()
        .find_map(|p| match root.read(p, OS_RELEASE_CAP) {
            Read::Data(d) => Some(String::from_utf8_lossy(&d).into_owned()),
            _ => None,
        })
        .unwrap_or_default();
    let field = |key: &str| {
        text.lines().find_map(|l| {
            let v = l.trim().strip_prefix(key)?.strip_prefix('=')?.trim();
            let v = v.trim_matches(|c| c == '"' || c == '\'');
            let ok = (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
            ok.then(|| v.to_owned())
        })
    };
    let suite = source
        .strip_prefix("debian:")
        .and_then(|s| s.split_whitespace().next())
        .filter(|s| valid_arch(s))
        .map(str::to_owned);
    Distro {
        namespace: field("ID").unwrap_or_else(|| "debian".to_owned()),
        codename: field("VERSION_CODENAME").or(suite),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS_TEXT: &str = "\
Package: zlib1g
Status: install ok installed
Architecture: amd64
Source: zlib
Version: 1:1.2.13.dfsg-1

Package: libfoo1
Status: install ok installed
Architecture: amd64
Source: foo (1.2-3)
Version: 1.2-3+b1

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: base-files
Status: install ok unpacked
Architecture: weird/arch
Version: 12.4

Package: ../../etc
Status: install ok installed
Version: 1.0

Package: badver
Status: install ok installed
Version: 1.0 ; rm -rf

Package: badsource
Status: install ok installed
Architecture: all
Source: foo (oops
Version: 2.0

Package: zlib1g
Status: install ok installed
Architecture: amd64
Version: 1:1.2.13.dfsg-1
";

    #[test]
    fn sbom_dpkg_status_lists_what_is_on_disk() {
        let got = parse_status(STATUS_TEXT);
        let names: Vec<_> = got.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["badsource", "base-files", "libfoo1", "zlib1g"]);
        let foo = &got[2];
        assert_eq!(
            (foo.source.as_str(), foo.source_version.as_str()),
            ("foo", "1.2-3")
        );
        assert_eq!(foo.version, "1.2-3+b1");
        assert_eq!(got[3].source, "zlib");
        assert_eq!(got[3].source_version, "1:1.2.13.dfsg-1");
        assert_eq!(got[1].arch, None);
        // A malformed Source falls back to the package itself.
        assert_eq!(
            (got[0].source.as_str(), got[0].source_version.as_str()),
            ("badsource", "2.0")
        );
        assert_eq!(got[0].arch.as_deref(), Some("all"));
    }

    #[test]
    fn sbom_dpkg_distro_from_os_release_or_source() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("usr/lib")).unwrap();
        let root = Root::open(tmp.path()).unwrap();
        let none = distro(&root, "debian:trixie (http://deb.debian.org/debian)");
        assert_eq!(none.namespace, "debian");
        assert_eq!(none.codename.as_deref(), Some("trixie"));
        assert_eq!(distro(&root, "oci:x").codename, None);
        std::fs::write(
            tmp.path().join("usr/lib/os-release"),
            "NAME=\"Ubuntu\"\nID=ubuntu\nVERSION_CODENAME=\"noble\"\n",
        )
        .unwrap();
        let d = distro(&root, "debian:trixie");
        assert_eq!(d.namespace, "ubuntu");
        assert_eq!(d.codename.as_deref(), Some("noble"));
        std::fs::write(tmp.path().join("usr/lib/os-release"), "ID=\"Bad Id\"\n").unwrap();
        assert_eq!(distro(&root, "").namespace, "debian");
    }
}
