//! `jig.lock`: what exactly each tool of a project resolved to.
//!
//! For every tool in the project's `jig.toml`, the lock records the version, the
//! resolved recipe's content hash, what the image was made from (the OCI manifest
//! digest; the Debian index hash and every package's name, version and sha256) and the
//! resulting image's tree hash. The file is deterministic: sorted, no timestamps, no
//! local paths; the same inputs give the same bytes.
//!
//! Installing inside a locked project builds from the lock: an OCI image is pulled by
//! its locked digest, a Debian package set must match the locked one, and the result
//! must have the locked tree hash. A shim compares the installed tool against the lock:
//! a difference is reported, or, with `--locked` / `JIG_LOCKED=1`, refused.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::ErrorKind;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::image::store::{ImageId, ImageMeta, PackagePin};
use crate::recipe::{Recipe, Source};

/// The lock format version this jig writes.
pub const FORMAT: u32 = 1;

/// A whole `jig.lock`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockFile {
    /// Format version ([`FORMAT`]).
    pub lock_version: u32,
    /// Recipe name → what it resolved to.
    #[serde(default)]
    pub tools: BTreeMap<String, Locked>,
}

/// One locked tool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Locked {
    /// The resolved version.
    pub version: String,
    /// `sha256:` of the resolved recipe ([`Recipe::content_hash`]).
    pub recipe: String,
    /// The image source kind and name, without local paths (`oci:REF`,
    /// `debian:SUITE`, `rootfs`, `busybox`).
    pub source: String,
    /// The tree hash of the tool's image.
    pub image: String,
    /// OCI: the manifest digest that was pulled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// Debian: sha256 of the Packages index resolved against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    /// Debian: the snapshot timestamp, if the recipe names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// Debian: every package, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackagePin>,
}

/// A lock file that does not parse: named, with the command that writes it afresh.
fn damaged(path: &Path, e: toml::de::Error) -> anyhow::Error {
    let dir = path.parent().unwrap_or(Path::new("."));
    crate::base::error::damaged(
        path,
        format!("{e}").replace('\n', " "),
        format!(
            "`jig lock --upgrade` in {} writes it afresh from jig.toml",
            dir.display()
        ),
    )
}

impl LockFile {
    /// Reads a lock file; `Ok(None)` when there is none.
    pub fn read(path: &Path) -> Result<Option<LockFile>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        parse(&text, path).map(Some)
    }

    /// The file's text: a header line and the sorted tables.
    pub fn to_text(&self) -> Result<String> {
        let body = toml::to_string(self).context("serializing the lock")?;
        Ok(format!(
            "# jig.lock: written by `jig lock` from jig.toml; commit it, do not edit it.\n{body}"
        ))
    }

    /// Writes the file atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        let tmp = path.with_extension(format!("lock.{}.tmp", std::process::id()));
        std::fs::write(&tmp, self.to_text()?)
            .with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
    }
}

/// What is installed for a tool, as far as its lock entry is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Installed<'a> {
    /// The version installed.
    pub version: &'a str,
    /// sha256 of the recipe text it was installed from, hex.
    pub recipe_hash: &'a str,
    /// The image id.
    pub image: &'a ImageId,
}

/// The lock entry for a tool installed as `entry`, whose image's base was `base`.
pub fn entry_of(entry: Installed, recipe: &Recipe, base: &ImageMeta) -> Locked {
    let (source, digest, index, snapshot, packages) = match &recipe.image.from {
        Source::Oci(r) => (
            format!("oci:{r}"),
            base.source_digest.clone(),
            None,
            None,
            Vec::new(),
        ),
        Source::Debian(suite) => (
            format!("debian:{suite}"),
            None,
            base.source_digest.clone(),
            recipe.image.snapshot.as_ref().map(|s| s.to_string()),
            base.packages.clone(),
        ),
        Source::Rootfs(_) => ("rootfs".into(), None, None, None, Vec::new()),
        Source::Busybox(_) => ("busybox".into(), None, None, None, Vec::new()),
        // No local path in the lock: the tree hash is what a rebuild must reproduce.
        Source::Dockerfile(_) => ("dockerfile".into(), None, None, None, Vec::new()),
    };
    Locked {
        version: entry.version.to_owned(),
        recipe: crate::base::digest::prefixed(entry.recipe_hash),
        source,
        image: entry.image.to_string(),
        digest,
        index,
        snapshot,
        packages,
    }
}

/// What a shim compares with the installed entry: a tool's locked version, recipe hash
/// and image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// [`Locked::version`].
    pub version: String,
    /// [`Locked::recipe`].
    pub recipe: String,
    /// [`Locked::image`].
    pub image: String,
}

impl std::convert::From<&Locked> for Summary {
    fn from(l: &Locked) -> Summary {
        Summary {
            version: l.version.clone(),
            recipe: l.recipe.clone(),
            image: l.image.clone(),
        }
    }
}

/// Parses the text of the lock file at `path`, refusing another format.
fn parse(text: &str, path: &Path) -> Result<LockFile> {
    let lock: LockFile = toml::from_str(text).map_err(|e| damaged(path, e))?;
    if lock.lock_version != FORMAT {
        return Err(crate::base::error::hinted(
            format!(
                "{}: lock format {} is not the {FORMAT} this jig reads",
                path.display(),
                lock.lock_version
            ),
            "run `jig lock` to rewrite it",
        ));
    }
    Ok(lock)
}

/// The summary of `tool` in the lock text read from `path`; `Ok(None)` when the lock
/// has no entry for it.
///
/// On the shim path, and a Debian tool's entry lists every package: parsing the whole
/// TOML document of a project with a few such tools costs more than the rest of a
/// launch's user-space work. jig writes the lock in one canonical form, so the tool's
/// three lines are found by scanning for its table header and reading `key = "value"`
/// lines up to the next table. Text in any other form (a hand edit, another writer) is
/// parsed in full instead, with the usual errors.
pub fn summary(text: &str, path: &Path, tool: &str) -> Result<Option<Summary>> {
    if let Some(s) = scan(text, tool) {
        return Ok(Some(s));
    }
    Ok(parse(text, path)?.tools.get(tool).map(Summary::from))
}

/// The canonical-form fast path of [`summary`]; `None` when the text is not in that
/// form or has no table for `tool`.
fn scan(text: &str, tool: &str) -> Option<Summary> {
    let mut lines = text.lines();
    // The format line comes before any table.
    lines
        .by_ref()
        .take_while(|l| !l.starts_with('['))
        .find(|l| *l == format!("lock_version = {FORMAT}"))?;
    let plain = format!("[tools.{tool}]");
    let quoted = format!("[tools.\"{tool}\"]");
    let mut lines = text.lines().skip_while(|l| *l != plain && *l != quoted);
    lines.next()?;
    let (mut version, mut recipe, mut image) = (None, None, None);
    for line in lines.take_while(|l| !l.starts_with('[')) {
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let slot = match key {
            "version" => &mut version,
            "recipe" => &mut recipe,
            "image" => &mut image,
            _ => continue,
        };
        let inner = value.strip_prefix('"')?.strip_suffix('"')?;
        if inner.contains(['"', '\\']) {
            return None;
        }
        *slot = Some(inner.to_owned());
    }
    Some(Summary {
        version: version?,
        recipe: recipe?,
        image: image?,
    })
}

/// How an installed entry differs from its lock entry, one line per difference; empty
/// when it matches.
pub fn differences(locked: &Summary, entry: Installed) -> Vec<String> {
    let version = entry.version;
    let mut out = Vec::new();
    if locked.version != version {
        out.push(format!(
            "version: locked {}, resolved {version}",
            locked.version
        ));
        return out;
    }
    let recipe = crate::base::digest::prefixed(entry.recipe_hash);
    if locked.recipe != recipe {
        out.push(format!(
            "recipe: locked {}, installed {}",
            short(&locked.recipe),
            short(&recipe)
        ));
    }
    let image = entry.image.to_string();
    if locked.image != image {
        out.push(format!(
            "image: locked {}, installed {}",
            short(&locked.image),
            short(&image)
        ));
    }
    out
}

/// How a Debian package set differs from a locked one (at most a few lines).
pub fn package_differences(locked: &[PackagePin], got: &[PackagePin]) -> Vec<String> {
    let want: BTreeMap<&str, &PackagePin> = locked.iter().map(|p| (p.name.as_str(), p)).collect();
    let have: BTreeMap<&str, &PackagePin> = got.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut out = Vec::new();
    for (name, w) in &want {
        match have.get(name) {
            None => out.push(format!(
                "{name} {} is locked but was not resolved",
                w.version
            )),
            Some(h) if h.version != w.version => out.push(format!(
                "{name}: locked {}, resolved {}",
                w.version, h.version
            )),
            Some(h) if h.sha256 != w.sha256 => {
                out.push(format!("{name} {}: the .deb's sha256 differs", w.version))
            }
            _ => {}
        }
    }
    for (name, h) in &have {
        if !want.contains_key(name) {
            out.push(format!(
                "{name} {} was resolved but is not locked",
                h.version
            ));
        }
    }
    out
}

/// Whether `JIG_LOCKED` asks for locked mode.
pub fn locked_from_env() -> bool {
    crate::base::nest::flag(crate::base::nest::ENV_LOCKED)
}

/// `sha256:0123456789ab` from a full digest, for messages.
fn short(d: &str) -> String {
    let hex = d.strip_prefix("sha256:").unwrap_or(d);
    format!("sha256:{}", &hex[..hex.len().min(12)])
}

/// A one-paragraph report of lock differences for `tool`.
pub fn report(tool: &str, lock: &Path, diffs: &[String]) -> String {
    let mut s = format!("{tool} does not match {}:", lock.display());
    for d in diffs {
        let _ = write!(s, "\n  {d}");
    }
    s
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

    #[test]
    fn text_is_deterministic_and_round_trips() {
        let mut tools = BTreeMap::new();
        for name in ["zz", "aa"] {
            tools.insert(
                name.to_owned(),
                Locked {
                    version: "1".into(),
                    recipe: "sha256:00".into(),
                    source: "debian:bookworm".into(),
                    image: "sha256:11".into(),
                    digest: None,
                    index: Some("sha256:22".into()),
                    snapshot: None,
                    packages: vec![pin("a", "1", "aa"), pin("b", "2", "bb")],
                },
            );
        }
        let lock = LockFile {
            lock_version: FORMAT,
            tools,
        };
        let text = lock.to_text().unwrap();
        assert_eq!(text, lock.clone().to_text().unwrap());
        assert!(text.find("[tools.aa]").unwrap() < text.find("[tools.zz]").unwrap());
        let again: LockFile = toml::from_str(&text).unwrap();
        assert_eq!(again, lock);
    }

    #[test]
    fn the_line_scan_agrees_with_the_parser() {
        let mut tools = BTreeMap::new();
        for (name, packages) in [("git", 3), ("py3.11", 0), ("jq", 2)] {
            tools.insert(
                name.to_owned(),
                Locked {
                    version: format!("{name}-v"),
                    recipe: format!("sha256:{name}"),
                    source: "debian:bookworm".into(),
                    image: format!("sha256:img-{name}"),
                    digest: None,
                    index: Some("sha256:22".into()),
                    snapshot: None,
                    packages: (0..packages)
                        .map(|i| pin(&format!("p{i}"), "1", "aa"))
                        .collect(),
                },
            );
        }
        let lock = LockFile {
            lock_version: FORMAT,
            tools,
        };
        let text = lock.to_text().unwrap();
        for name in ["git", "py3.11", "jq"] {
            let fast = scan(&text, name).unwrap_or_else(|| panic!("{name}: {text}"));
            assert_eq!(fast, Summary::from(&lock.tools[name]));
        }
        assert_eq!(scan(&text, "npm"), None);
        let p = Path::new("jig.lock");
        assert_eq!(summary(&text, p, "npm").unwrap(), None);
        // Another form (inline tables, other spacing): the full parse decides.
        let edited = "lock_version = 1\ntools.jq = { version = \"1\", recipe = \"r\", source = \"s\", image = \"i\" }\n";
        assert_eq!(scan(edited, "jq"), None);
        assert_eq!(summary(edited, p, "jq").unwrap().unwrap().image, "i");
        assert!(summary("lock_version = 2\n", p, "jq").is_err());
        assert!(summary("garbage = [", p, "jq").is_err());
    }

    #[test]
    fn package_set_differences_are_named() {
        let locked = [pin("a", "1", "x"), pin("b", "2", "y"), pin("c", "3", "z")];
        let got = [pin("a", "1", "x"), pin("b", "2.1", "y"), pin("d", "4", "w")];
        let d = package_differences(&locked, &got);
        assert_eq!(
            d,
            [
                "b: locked 2, resolved 2.1",
                "c 3 is locked but was not resolved",
                "d 4 was resolved but is not locked"
            ]
        );
        assert!(package_differences(&locked, &locked).is_empty());
    }
}
