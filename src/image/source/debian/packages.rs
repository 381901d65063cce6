//! The `Packages` index: one stanza per binary package in a suite's component.
//!
//! Only the fields the bootstrap needs are kept, borrowed from the (decompressed,
//! sha256-verified) index text. Missing mandatory fields, a bad size or hash, or a
//! malformed relation field are errors naming the package and the line, never panics.

use anyhow::{Result, anyhow, bail};

use super::deb822;
use super::relation::{self, Group};
use crate::base::version::Version;

/// One binary package from the index.
#[derive(Debug, Clone)]
pub struct Package<'a> {
    /// `Package`.
    pub name: &'a str,
    /// `Version`.
    pub version: &'a str,
    /// `Architecture` (`all` or a Debian architecture).
    pub arch: &'a str,
    /// `Essential: yes`.
    pub essential: bool,
    /// `Priority` (`required`, `important`, ...; empty when absent).
    pub priority: &'a str,
    /// `Depends`, parsed.
    pub depends: Vec<Group<'a>>,
    /// `Pre-Depends`, parsed.
    pub pre_depends: Vec<Group<'a>>,
    /// `Provides`, parsed: names with an optional `=` version.
    pub provides: Vec<(&'a str, Option<&'a str>)>,
    /// `Filename`, relative to the mirror root.
    pub filename: &'a str,
    /// `SHA256` of the .deb, lowercase hex.
    pub sha256: &'a str,
    /// `Size` of the .deb in bytes.
    pub size: u64,
    /// `Multi-Arch` (`same`, `foreign`, `allowed`, or empty).
    pub multi_arch: &'a str,
    /// `Installed-Size` in bytes (the field counts KiB; 0 when absent or garbled: it
    /// only sizes messages).
    pub installed_size: u64,
}

/// Parses a whole Packages file, keeping only stanzas for `host_arch` and `all`.
pub fn parse<'a>(text: &'a str, host_arch: &str) -> Result<Vec<Package<'a>>> {
    let mut out = Vec::new();
    for para in deb822::paragraphs(text) {
        let para = para.map_err(|e| anyhow!("malformed Packages index: {e}"))?;
        let pkg = package(&para, host_arch).map_err(|e| {
            let name = para.get("Package").unwrap_or("?");
            anyhow!(
                "malformed Packages index: stanza of '{name}' at line {}: {e}",
                para.line
            )
        })?;
        if pkg.arch == host_arch || pkg.arch == "all" {
            out.push(pkg);
        }
    }
    Ok(out)
}

fn package<'a>(p: &deb822::Paragraph<'a>, host_arch: &str) -> Result<Package<'a>> {
    let need = |f: &str| p.get(f).ok_or_else(|| anyhow!("no {f} field"));
    let name = need("Package")?;
    if !relation::valid_name(name) {
        bail!("bad package name '{name}'");
    }
    let version = need("Version")?;
    Version::parse(version).map_err(|e| anyhow!("{e}"))?;
    let sha256 = need("SHA256")?;
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("SHA256 '{sha256}' is not 64 hex digits");
    }
    let size = need("Size")?;
    let size = size
        .parse::<u64>()
        .map_err(|_| anyhow!("Size '{size}' is not a number"))?;
    let filename = need("Filename")?;
    if filename.starts_with('/') || filename.split('/').any(|c| c == "..") {
        bail!("Filename '{filename}' leaves the mirror");
    }
    let rel = |f: &str| relation::parse(p.get(f).unwrap_or(""), host_arch);
    let depends = rel("Depends").map_err(|e| anyhow!("Depends: {e}"))?;
    let pre_depends = rel("Pre-Depends").map_err(|e| anyhow!("Pre-Depends: {e}"))?;
    let mut provides = Vec::new();
    for group in rel("Provides").map_err(|e| anyhow!("Provides: {e}"))? {
        for d in group {
            match d.constraint {
                None => provides.push((d.name, None)),
                Some((crate::base::version::Op::Eq, v)) => provides.push((d.name, Some(v))),
                Some(_) => bail!("Provides: only '=' versions are allowed ('{d}')"),
            }
        }
    }
    Ok(Package {
        name,
        version,
        arch: need("Architecture")?,
        essential: p
            .get("Essential")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        priority: p.get("Priority").unwrap_or(""),
        depends,
        pre_depends,
        provides,
        filename,
        sha256,
        size,
        multi_arch: p.get("Multi-Arch").unwrap_or(""),
        installed_size: p
            .get("Installed-Size")
            .and_then(|k| k.trim().parse::<u64>().ok())
            .map_or(0, |k| k.saturating_mul(1024)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn stanza(extra: &str) -> String {
        format!(
            "Package: dash\nVersion: 0.5.12-2\nArchitecture: amd64\nFilename: pool/main/d/dash/dash_0.5.12-2_amd64.deb\nSize: 93672\nSHA256: {SHA}\n{extra}"
        )
    }

    #[test]
    fn parses_a_stanza() {
        let text = stanza(
            "Essential: yes\nPriority: required\nPre-Depends: libc6 (>= 2.34)\nDepends: debianutils (>= 5.6-0.1)\nProvides: sh, dash-shell (= 1)\nMulti-Arch: foreign\nDescription: POSIX shell\n more text\n",
        );
        let pkgs = parse(&text, "amd64").unwrap();
        assert_eq!(pkgs.len(), 1);
        let p = &pkgs[0];
        assert_eq!((p.name, p.version, p.arch), ("dash", "0.5.12-2", "amd64"));
        assert!(p.essential);
        assert_eq!(p.priority, "required");
        assert_eq!(p.size, 93672);
        assert_eq!(p.pre_depends[0][0].name, "libc6");
        assert_eq!(p.depends[0][0].name, "debianutils");
        assert_eq!(p.provides, vec![("sh", None), ("dash-shell", Some("1"))]);
        assert_eq!(p.multi_arch, "foreign");
    }

    #[test]
    fn other_architectures_are_skipped() {
        let text = stanza("").replace("amd64", "arm64");
        assert!(parse(&text, "amd64").unwrap().is_empty());
    }

    #[test]
    fn malformed_stanzas_are_clear_errors() {
        let cases = [
            (stanza("").replace("Size: 93672", "Size: big"), "Size"),
            (stanza("").replace(SHA, "abc"), "SHA256"),
            (
                stanza("").replace("Version: 0.5.12-2\n", ""),
                "no Version field",
            ),
            (stanza("Depends: libc6 (>= \n"), "Depends"),
            (stanza("Provides: x (>= 1)\n"), "Provides"),
            (
                stanza("").replace("pool/main", "../../etc/main"),
                "leaves the mirror",
            ),
            (stanza("garbage line\n"), "line 7"),
        ];
        for (text, want) in cases {
            let err = parse(&text, "amd64").unwrap_err().to_string();
            assert!(err.contains(want), "{want:?} not in {err:?}");
            assert!(err.contains("Packages index"), "{err}");
        }
    }
}
