//! Package URLs (purl) for Debian packages and OCI images.

use std::fmt::Write as _;

/// `pkg:deb/NAMESPACE/NAME@VERSION?arch=ARCH&distro=CODENAME`, the qualifiers present
/// when known.
pub(super) fn deb(
    namespace: &str,
    name: &str,
    version: &str,
    arch: Option<&str>,
    distro: Option<&str>,
) -> String {
    let mut p = format!(
        "pkg:deb/{}/{}@{}",
        encode(&namespace.to_ascii_lowercase(), b""),
        encode(&name.to_ascii_lowercase(), b""),
        encode(version, b"")
    );
    qualifiers(&mut p, &[("arch", arch), ("distro", distro)]);
    p
}

/// An OCI image reference split as purls name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Reference<'a> {
    /// Everything before the tag or digest: `docker.io/library/debian`.
    pub(super) repository: &'a str,
    /// The last path segment of the repository: `debian`.
    pub(super) name: &'a str,
    /// The tag, if the reference has one.
    pub(super) tag: Option<&'a str>,
}

/// Splits `registry/path/name[:tag][@digest]` (an `oci:` prefix allowed).
pub(super) fn split_reference(reference: &str) -> Reference<'_> {
    let r = reference.strip_prefix("oci:").unwrap_or(reference);
    let r = r.split_once('@').map_or(r, |(before, _)| before);
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match r[slash..].rfind(':') {
        Some(i) => (&r[..slash + i], Some(&r[slash + i + 1..])),
        None => (r, None),
    };
    let name = &repository[repository.rfind('/').map_or(0, |i| i + 1)..];
    Reference {
        repository,
        name,
        tag: tag.filter(|t| !t.is_empty()),
    }
}

/// `pkg:oci/NAME@DIGEST?repository_url=REPOSITORY&tag=TAG`.
pub(super) fn oci(reference: &Reference<'_>, digest: &str) -> String {
    let mut p = format!(
        "pkg:oci/{}@{}",
        encode(&reference.name.to_ascii_lowercase(), b""),
        encode(digest, b"")
    );
    qualifiers(
        &mut p,
        &[
            ("repository_url", Some(reference.repository)),
            ("tag", reference.tag),
        ],
    );
    p
}

/// Appends the present qualifiers (`keys` sorted, as purls require).
fn qualifiers(p: &mut String, pairs: &[(&str, Option<&str>)]) {
    let mut sep = '?';
    for (key, value) in pairs {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            let _ = write!(p, "{sep}{key}={}", encode(v, b"/:"));
            sep = '&';
        }
    }
}

/// Percent-encodes every byte but ASCII letters, digits, `.-_~` and `keep`.
fn encode(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b".-_~".contains(&b) || keep.contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbom_purl_deb() {
        assert_eq!(
            deb(
                "debian",
                "libstdc++6",
                "1:12.2.0-14+deb12u1",
                Some("amd64"),
                Some("bookworm")
            ),
            "pkg:deb/debian/libstdc%2B%2B6@1%3A12.2.0-14%2Bdeb12u1?arch=amd64&distro=bookworm"
        );
        assert_eq!(
            deb("debian", "curl", "7.88", None, None),
            "pkg:deb/debian/curl@7.88"
        );
        assert_eq!(
            deb("debian", "a", "1", None, Some("sid")),
            "pkg:deb/debian/a@1?distro=sid"
        );
    }

    #[test]
    fn sbom_purl_oci() {
        let d = "sha256:244fd47e07d1004f0aed9c156aa09083c82bf8944eceb67c946ff7430510a77b";
        let r = split_reference("docker.io/library/debian:bookworm-slim");
        assert_eq!(r.repository, "docker.io/library/debian");
        assert_eq!((r.name, r.tag), ("debian", Some("bookworm-slim")));
        assert_eq!(
            oci(&r, d),
            "pkg:oci/debian@sha256%3A244fd47e07d1004f0aed9c156aa09083c82bf8944eceb67c946ff7430510a77b\
             ?repository_url=docker.io/library/debian&tag=bookworm-slim"
        );
        let with_digest = format!("oci:localhost:5000/Tools/rg@{d}");
        let r = split_reference(&with_digest);
        assert_eq!(
            r,
            Reference {
                repository: "localhost:5000/Tools/rg",
                name: "rg",
                tag: None
            }
        );
        let both = format!("localhost:5000/x:1.0@{d}");
        let r = split_reference(&both);
        assert_eq!((r.repository, r.tag), ("localhost:5000/x", Some("1.0")));
        assert_eq!(split_reference("alpine").name, "alpine");
        assert_eq!(split_reference("").repository, "");
    }
}
