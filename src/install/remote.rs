//! The network half of `jig outdated`: whether what an installed image was made from
//! moved under an unchanged recipe. A Debian-sourced image's package set is resolved
//! again against the mirror's current signed index (no .deb is downloaded) and
//! compared with the packages its metadata records; a registry image's tag is asked
//! for the digest it names now (a HEAD, through the configured mirrors) and compared
//! with the recorded source digest.
//!
//! A recipe that pins what it gets (a Debian `snapshot`, an OCI `@digest`) is not
//! asked about: its source cannot move. `jig upgrade` rebuilds what moved; the image
//! id is the tree's hash, so a rebuild against newer packages or another manifest is
//! a new image and the old one stays until `jig gc`.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::image::store::{ImageMeta, PackagePin, Store};
use crate::recipe::{ImageSpec, Source};

/// What moved under an installed image.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Moved {
    /// Debian packages the current index resolves differently, one per package:
    /// `git 1:2.39.5-0+deb12u1 -> 1:2.39.5-0+deb12u2`.
    pub packages: Vec<String>,
    /// The registry tag and the digest it names now, when that is not the image's.
    pub image: Option<(String, String)>,
}

impl Moved {
    /// Whether anything moved.
    pub fn any(&self) -> bool {
        !self.packages.is_empty() || self.image.is_some()
    }

    /// Why, in a few words: `packages: 2 changed (git A -> B, ...)`, `image: TAG now
    /// DIGEST`.
    pub fn why(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !self.packages.is_empty() {
            const SHOWN: usize = 3;
            let mut list: Vec<&str> = self
                .packages
                .iter()
                .take(SHOWN)
                .map(String::as_str)
                .collect();
            if self.packages.len() > SHOWN {
                list.push("...");
            }
            out.push(format!(
                "packages: {} changed ({})",
                self.packages.len(),
                list.join(", ")
            ));
        }
        if let Some((tag, digest)) = &self.image {
            out.push(format!("image: {tag} now {digest}"));
        }
        out
    }
}

/// Asks the image's source what it names now. `Ok(None)` when the source cannot move
/// (not a Debian suite or a registry tag, or pinned) or the image's metadata records
/// nothing to compare with; an error when the mirror or registry could not answer.
pub fn check(store: &Store, spec: &ImageSpec, meta: &ImageMeta) -> Result<Option<Moved>> {
    match &spec.from {
        Source::Debian(suite) if spec.snapshot.is_none() && !meta.packages.is_empty() => {
            let config = crate::base::config::load()?;
            let debian = crate::image::build::debian_spec(spec, suite.as_str(), &config);
            let extra: Vec<String> = spec
                .packages
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect();
            let cache = store.root().join("debian");
            let now = crate::image::source::debian::resolve_current(&debian, &extra, &cache)?;
            Ok(Some(Moved {
                packages: package_changes(&meta.packages, &now),
                image: None,
            }))
        }
        Source::Oci(reference) if reference.digest.is_none() => {
            let Some(had) = &meta.source_digest else {
                return Ok(None);
            };
            let now = crate::image::source::oci::tag_digest(reference)?;
            Ok(Some(Moved {
                packages: Vec::new(),
                image: (now != *had).then(|| (reference.to_string(), now)),
            }))
        }
        _ => Ok(None),
    }
}

/// How the package set resolved `now` (name, version, .deb sha256) differs from the
/// one an image was built from: `NAME OLD -> NEW` for a new version, `NAME VERSION
/// rebuilt` for another .deb under the same version, `NAME VERSION added` and `NAME
/// VERSION dropped` for a package only one side has. Sorted by name.
pub fn package_changes(installed: &[PackagePin], now: &[(String, String, String)]) -> Vec<String> {
    let had: BTreeMap<&str, &PackagePin> = installed.iter().map(|p| (p.name.as_str(), p)).collect();
    let has: BTreeMap<&str, (&str, &str)> = now
        .iter()
        .map(|(n, v, s)| (n.as_str(), (v.as_str(), s.as_str())))
        .collect();
    let mut out = Vec::new();
    for name in had
        .keys()
        .chain(has.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        match (had.get(name), has.get(name)) {
            (Some(p), Some((v, _))) if p.version != *v => {
                out.push(format!("{name} {} -> {v}", p.version))
            }
            (Some(p), Some((_, s))) if !p.sha256.eq_ignore_ascii_case(s) => {
                out.push(format!("{name} {} rebuilt", p.version))
            }
            (None, Some((v, _))) => out.push(format!("{name} {v} added")),
            (Some(p), None) => out.push(format!("{name} {} dropped", p.version)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(name: &str, version: &str, sha: &str) -> PackagePin {
        PackagePin {
            name: name.into(),
            version: version.into(),
            sha256: sha.into(),
        }
    }

    fn now(name: &str, version: &str, sha: &str) -> (String, String, String) {
        (name.into(), version.into(), sha.into())
    }

    #[test]
    fn an_unchanged_set_has_no_changes() {
        let installed = [
            pin("git", "1:2.39.5-0+deb12u1", "aa"),
            pin("libc6", "2.36-9+deb12u9", "bb"),
        ];
        // The index gives hashes in upper or lower case; the image records lower.
        let current = [
            now("git", "1:2.39.5-0+deb12u1", "AA"),
            now("libc6", "2.36-9+deb12u9", "bb"),
        ];
        assert!(package_changes(&installed, &current).is_empty());
    }

    #[test]
    fn each_kind_of_change_is_named() {
        let installed = [
            pin("git", "1:2.39.5-0+deb12u1", "aa"),
            pin("libc6", "2.36-9+deb12u9", "bb"),
            pin("perl-base", "5.36.0-7+deb12u1", "cc"),
            pin("zlib1g", "1:1.2.13.dfsg-1", "dd"),
        ];
        let current = [
            now("git", "1:2.39.5-0+deb12u2", "a2"),
            now("libc6", "2.36-9+deb12u9", "b2"),
            now("libpcre2-8-0", "10.42-1", "ee"),
            now("zlib1g", "1:1.2.13.dfsg-1", "dd"),
        ];
        assert_eq!(
            package_changes(&installed, &current),
            [
                "git 1:2.39.5-0+deb12u1 -> 1:2.39.5-0+deb12u2",
                "libc6 2.36-9+deb12u9 rebuilt",
                "libpcre2-8-0 10.42-1 added",
                "perl-base 5.36.0-7+deb12u1 dropped",
            ]
        );
    }

    #[test]
    fn why_lists_a_few_packages_and_the_image() {
        let moved = Moved {
            packages: (1..=5).map(|i| format!("p{i} 1 -> 2")).collect(),
            image: Some(("127.0.0.1:5000/t:1".into(), "sha256:ab".into())),
        };
        assert_eq!(
            moved.why(),
            [
                "packages: 5 changed (p1 1 -> 2, p2 1 -> 2, p3 1 -> 2, ...)",
                "image: 127.0.0.1:5000/t:1 now sha256:ab"
            ]
        );
        assert!(!Moved::default().any());
    }
}
