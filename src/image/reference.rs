//! Image references in Docker's grammar, normalized the way Docker normalizes them.
//!
//! `alpine` means `docker.io/library/alpine:latest`; the first path component is a
//! registry only if it looks like a host (has a `.` or `:`, is `localhost`, or has an
//! upper-case letter), otherwise the reference is on Docker Hub. Docker Hub's API lives
//! at `registry-1.docker.io`, which is where requests for `docker.io` go. A reference
//! may carry a tag, a digest, or both; with a digest the digest alone decides what is
//! fetched, and with neither the tag is `latest`.

use std::fmt;

/// The registry name Docker Hub references normalize to.
pub const DOCKER_HUB: &str = "docker.io";
/// Where Docker Hub's distribution API actually answers.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A parsed and normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry as named (`docker.io`, `ghcr.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`library/alpine`, `o/r`).
    pub repository: String,
    /// Tag, if given (or `latest` when neither tag nor digest was given).
    pub tag: Option<String>,
    /// `sha256:<hex>` digest, if given.
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `s`, e.g. `alpine`, `ghcr.io/o/r:1`, `localhost:5000/x@sha256:...`.
    pub fn parse(s: &str) -> Result<Reference, String> {
        let bad = |why: &str| Err(format!("invalid image reference \"{s}\": {why}"));
        if s.is_empty() {
            return bad("it is empty");
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (s, None),
        };
        if let Some(d) = digest {
            let hex = d.strip_prefix("sha256:");
            let ok = hex.is_some_and(|h| {
                h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            });
            if !ok {
                return bad("the digest must be sha256: followed by 64 lowercase hex digits");
            }
        }
        // The tag follows the last ':' that comes after the last '/', so a registry
        // port ("host:5000/repo") is never mistaken for a tag.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && (t.as_bytes()[0].is_ascii_alphanumeric() || t.as_bytes()[0] == b'_')
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !ok {
                return bad(
                    "a tag is 1-128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
                );
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first, path)
            }
            _ => (DOCKER_HUB, name),
        };
        if registry.is_empty() || registry.contains(|c: char| c.is_whitespace() || c == '@') {
            return bad("the registry name is not a host name");
        }
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        if repository.len() > 255 {
            return bad("the repository name is longer than 255 characters");
        }
        for component in repository.split('/') {
            if !valid_component(component) {
                return bad(&format!(
                    "\"{component}\" is not a valid repository path component (lowercase letters and digits, separated by '.', '_', '__' or '-')"
                ));
            }
        }
        let tag = match (tag, digest) {
            (None, None) => Some("latest".to_owned()),
            (t, _) => t.map(str::to_owned),
        };
        Ok(Reference {
            registry: registry.to_owned(),
            repository,
            tag,
            digest: digest.map(str::to_owned),
        })
    }

    /// The `host[:port]` requests go to.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// What the manifest request names: the digest when there is one, else the tag.
    pub fn manifest_ref(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`, written out by hand.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(norm("alpine"), "docker.io/library/alpine:latest");
        assert_eq!(norm("alpine:3.20"), "docker.io/library/alpine:3.20");
        assert_eq!(norm("library/alpine"), "docker.io/library/alpine:latest");
        assert_eq!(norm("someone/tool:1"), "docker.io/someone/tool:1");
        assert_eq!(
            norm("docker.io/library/node:20-alpine"),
            "docker.io/library/node:20-alpine"
        );
        assert_eq!(norm("index.docker.io/x"), "docker.io/library/x:latest");
        assert_eq!(norm("ghcr.io/o/r:tag"), "ghcr.io/o/r:tag");
        assert_eq!(norm("localhost/x"), "localhost/x:latest");
        assert_eq!(norm("127.0.0.1:5000/bb:1"), "127.0.0.1:5000/bb:1");
        assert_eq!(norm("127.0.0.1:5000/bb"), "127.0.0.1:5000/bb:latest");
        assert_eq!(
            norm(&format!("alpine@{D}")),
            format!("docker.io/library/alpine@{D}")
        );
        assert_eq!(norm(&format!("h:1/a/b:t@{D}")), format!("h:1/a/b:t@{D}"));
    }

    #[test]
    fn api_host_and_manifest_ref() {
        let r = Reference::parse("alpine").unwrap();
        assert_eq!(r.api_host(), "registry-1.docker.io");
        assert_eq!(r.manifest_ref(), "latest");
        let r = Reference::parse(&format!("h:1/a:t@{D}")).unwrap();
        assert_eq!(r.api_host(), "h:1");
        assert_eq!(r.manifest_ref(), D);
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "Alpine",
            "a//b",
            "a:",
            "a:-x",
            "a@sha256:123",
            "a@md5:0123",
            "a__-b",
            "-a",
            "h:1/a/",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad}");
        }
        assert!(Reference::parse("a__b").is_ok());
        assert!(Reference::parse("a---b.c_d").is_ok());
    }
}
