//! The recipe model: what a recipe says, as types. Every value is validated while it
//! is deserialized ([`super::values`]), so a mistake is reported with the file, line
//! and column it sits at.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Deserializer, Serialize};

use super::values::{
    ArgMode, EnvGlob, EnvName, HomePath, KeepGlob, Marker, Name, OptName, PackageName, RelPath,
    Snapshot, Url,
};
use crate::base::digest::sha256_hex;
use crate::image::reference::Reference;

/// A parsed, validated recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// Recipe name (`[a-z0-9][a-z0-9._-]*`); also its key in `jig.toml`.
    pub name: Name,
    /// Default version offered by this recipe.
    pub version: Name,
    /// One line shown by `jig list`.
    #[serde(default)]
    pub description: String,
    /// Give the tool the X11 display (socket, DISPLAY, a matching cookie).
    #[serde(default, skip_serializing_if = "is_false")]
    pub x11: bool,
    /// Give the tool the Wayland socket (XDG_RUNTIME_DIR, WAYLAND_DISPLAY).
    #[serde(default, skip_serializing_if = "is_false")]
    pub wayland: bool,
    /// Where the root filesystem comes from.
    pub image: ImageSpec,
    /// What the recipe exports (optional for `oci:` images, whose entrypoint and
    /// command are the default).
    #[serde(default)]
    pub tool: Tool,
    /// Host paths made visible inside.
    #[serde(default)]
    pub mounts: Mounts,
    /// Environment handling.
    #[serde(default)]
    pub env: EnvSpec,
    /// Further versions this recipe offers. Each `[versions."V"]` table overrides keys
    /// of the top-level tables for version V (`[versions."2".image] from = ...` replaces
    /// `from` and keeps the other `[image]` keys). Resolved recipes (see
    /// [`Recipe::for_version`]) have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub versions: BTreeMap<Name, Override>,
}

/// One `[versions."V"]` table: what differs from the top level for version V.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    /// Replaces `description`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Replaces `x11`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x11: Option<bool>,
    /// Replaces `wayland`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wayland: Option<bool>,
    /// Keys replacing those of `[image]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<toml::Table>,
    /// Keys replacing those of `[tool]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<toml::Table>,
    /// Keys replacing those of `[mounts]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mounts: Option<toml::Table>,
    /// Keys replacing those of `[env]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<toml::Table>,
}

impl Recipe {
    /// The versions this recipe offers, the default first, the others in version order.
    pub fn offered(&self) -> Vec<String> {
        let mut others: Vec<String> = self.versions.keys().map(|v| v.to_string()).collect();
        others.sort_by(|a, b| crate::base::version::compare(a, b));
        let mut all = vec![self.version.to_string()];
        all.extend(others);
        all
    }

    /// Picks the offered version a request names: the exact version, else the highest
    /// offered version that starts with `REQUEST.` (`20` picks `20.11` over `20.9`).
    pub fn select(&self, request: &str) -> Result<String> {
        let offered = self.offered();
        select_from(&offered, request)
            .ok_or_else(|| no_version(self.name.as_str(), request, None, &offered))
    }

    /// The recipe as it applies to `version` (one of [`Recipe::offered`]): overrides
    /// merged in, `version` set, no `versions` table left.
    pub fn for_version(&self, version: &str) -> Result<Recipe> {
        let mut base = self.clone();
        let overrides = std::mem::take(&mut base.versions);
        if version == self.version.as_str() {
            return Ok(base);
        }
        let Some(ov) = overrides
            .iter()
            .find(|(v, _)| v.as_str() == version)
            .map(|(_, o)| o)
        else {
            return Err(no_version(
                self.name.as_str(),
                version,
                None,
                &self.offered(),
            ));
        };
        let mut value = toml::Table::try_from(&base).context("serializing the recipe")?;
        value.insert("version".into(), version.into());
        let scalars = [
            ("description", ov.description.clone().map(toml::Value::from)),
            ("x11", ov.x11.map(toml::Value::from)),
            ("wayland", ov.wayland.map(toml::Value::from)),
        ];
        for (key, v) in scalars {
            if let Some(v) = v {
                value.insert(key.into(), v);
            }
        }
        for (key, table) in [
            ("image", &ov.image),
            ("tool", &ov.tool),
            ("mounts", &ov.mounts),
            ("env", &ov.env),
        ] {
            let Some(table) = table else { continue };
            let slot = value
                .entry(key)
                .or_insert_with(|| toml::Value::Table(Default::default()));
            if let toml::Value::Table(t) = slot {
                for (k, v) in table {
                    t.insert(k.clone(), v.clone());
                }
            }
        }
        let recipe: Recipe = toml::Value::Table(value)
            .try_into()
            .map_err(|e| anyhow::anyhow!("[versions.\"{version}\"]: {e}"))?;
        validate(&recipe).with_context(|| format!("[versions.\"{version}\"]"))?;
        Ok(recipe)
    }

    /// sha256 of the resolved recipe's canonical form: what `jig.lock` and the
    /// installed index record, independent of comments, formatting and the other
    /// versions in the file.
    pub fn content_hash(&self) -> String {
        let json = serde_json::to_vec(self).expect("a recipe always serializes");
        sha256_hex(&json)
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `[image]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// `rootfs:PATH` (directory or .tar/.tar.gz/.tar.zst, relative to the recipe file),
    /// `debian:SUITE`, `oci:REFERENCE`, `busybox:/path/to/busybox` or
    /// `dockerfile:PATH` (relative to the recipe file).
    pub from: Source,
    /// The build context of a `dockerfile:` image, relative to the recipe file; default:
    /// the Dockerfile's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<RelPath>,
    /// Build arguments of a `dockerfile:` image (`--build-arg NAME=VALUE`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub args: BTreeMap<EnvName, String>,
    /// The content the recipe was made from, for recipes jig derives from a
    /// repository's Dockerfile (`git-tree:OID` of its directory at the pin): part of
    /// what an approval of the build covers, and checked when the context is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_digest: Option<String>,
    /// Debian mirror URL (`debian:` only; default http://deb.debian.org/debian).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Url>,
    /// snapshot.debian.org timestamp such as `20240601T000000Z` (`debian:` only), for
    /// rebuilding exactly the same packages later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Snapshot>,
    /// Accept an index whose signature cannot be verified (`debian:` only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Packages installed with the image's package manager (`debian:` only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageName>,
    /// Drop documentation, manual pages, locales and apt lists from the image.
    #[serde(default, skip_serializing_if = "is_false")]
    pub slim: bool,
    /// What a slim image keeps all the same (`debian:` only): globs such as
    /// `/usr/share/man/man*/git*`, so a tool's own manuals stay for `git help`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slim_keep: Vec<KeepGlob>,
    /// Shell steps run in order inside the image, as fake root, with the network; each
    /// result is cached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run: Vec<String>,
}

/// The image source named by `[image] from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A local root filesystem: a directory or a tarball.
    Rootfs(PathBuf),
    /// An image made on the spot from a static busybox binary on the host.
    Busybox(PathBuf),
    /// An image in an OCI / Docker registry (`oci:alpine:3.20`, `oci:host:5000/x@sha256:...`).
    Oci(Reference),
    /// A Debian suite bootstrapped by jig itself.
    Debian(Name),
    /// An image built from a Dockerfile (a path relative to the recipe file).
    Dockerfile(RelPath),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Rootfs(p) => write!(f, "rootfs:{}", p.display()),
            Source::Busybox(p) => write!(f, "busybox:{}", p.display()),
            Source::Oci(r) => write!(f, "oci:{r}"),
            Source::Debian(s) => write!(f, "debian:{s}"),
            Source::Dockerfile(p) => write!(f, "dockerfile:{p}"),
        }
    }
}

impl std::str::FromStr for Source {
    type Err = String;
    fn from_str(s: &str) -> Result<Source, String> {
        let (scheme, rest) = s.split_once(':').ok_or_else(|| {
            format!("expected SCHEME:VALUE such as \"rootfs:./rootfs\", found \"{s}\"")
        })?;
        match scheme {
            "rootfs" if !rest.is_empty() => Ok(Source::Rootfs(PathBuf::from(rest))),
            "rootfs" => Err("rootfs: needs a path, e.g. \"rootfs:./rootfs\"".into()),
            "busybox" if rest.starts_with('/') => Ok(Source::Busybox(PathBuf::from(rest))),
            "busybox" => {
                Err("busybox: needs an absolute path, e.g. \"busybox:/bin/busybox\"".into())
            }
            "oci" => Reference::parse(rest).map(Source::Oci),
            "debian" => Name::new(rest).map(Source::Debian).map_err(|_| {
                format!("debian: needs a suite name such as \"debian:bookworm\", found \"{rest}\"")
            }),
            "dockerfile" => RelPath::new(rest)
                .map(Source::Dockerfile)
                .map_err(|e| format!("dockerfile: {e}")),
            _ => Err(format!(
                "unknown image source \"{scheme}:\"; expected one of: rootfs:, debian:, oci:, busybox:, dockerfile:"
            )),
        }
    }
}

impl Serialize for Source {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Source, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `[tool]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// Commands exported as shims; each runs the same-named command inside the image.
    #[serde(default)]
    pub shims: Vec<Name>,
    /// What `jig run NAME` runs; default: the first shim, else the image's entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
}

/// `[mounts]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mounts {
    /// Paths relative to `$HOME`, bound read-only when they exist on the host.
    #[serde(default)]
    pub home: Vec<HomePath>,
    /// Paths relative to `$HOME`, bound read-write when they exist on the host.
    #[serde(default)]
    pub home_rw: Vec<HomePath>,
    /// Variables naming a host path (a socket such as `SSH_AUTH_SOCK`) that is bound
    /// read-write at the same path when it exists. System directories and the home
    /// directory itself are never bound this way.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub from_env: Vec<EnvName>,
    /// Trust the host's certificate authorities: the host's CA bundle is bound
    /// read-only over the image's, so TLS through a company proxy works inside as it
    /// does outside, and variables pointing at that bundle (SSL_CERT_FILE,
    /// NODE_EXTRA_CA_CERTS, ...) are passed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub host_ca: bool,
    /// File names marking a workspace root besides `jig.toml` and `.git` (see
    /// `src/launch/workspace/`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<Marker>,
    /// Mount the existing paths the arguments name, outside the workspace: `true` or
    /// `"ro"` read-only, `"rw"` read-write (see `src/args.rs`).
    #[serde(default, skip_serializing_if = "ArgMode::is_off")]
    pub args: ArgMode,
    /// Options whose values are mounted read-write (the parent directory when the path
    /// does not exist yet), with `args = "ro"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args_rw: Vec<OptName>,
    /// Mount what git's configuration names (see `src/launch/git/`): the host's
    /// `/etc/gitconfig` and the home files the user's configuration names (excludes,
    /// attributes, includes, templates, hooks, credential stores), read-only; the local
    /// remotes and the other worktrees of the workspace's repository, read-write; a
    /// submodule's superproject, read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub git_config: bool,
    /// Reach the host's GnuPG agent (its restricted socket) and public keyring,
    /// read-only, so `gpg` signs and verifies with the user's keys without seeing them
    /// (see `src/launch/gpg.rs`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub gpg: bool,
}

/// `[env]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSpec {
    /// Glob patterns (`*` wildcard) of host variables passed through.
    #[serde(default)]
    pub pass: Vec<EnvGlob>,
    /// Variables set inside, overriding passed and image values.
    #[serde(default)]
    pub set: BTreeMap<EnvName, String>,
}

/// The version of `offered` that `request` names: itself, else the highest one that
/// starts with `REQUEST.` (`20` picks `20.11` over `20.9`).
pub fn select_from(offered: &[String], request: &str) -> Option<String> {
    if offered.iter().any(|v| v == request) {
        return Some(request.to_owned());
    }
    let prefix = format!("{request}.");
    offered
        .iter()
        .filter(|v| v.starts_with(&prefix))
        .max_by(|a, b| crate::base::version::compare(a, b))
        .cloned()
}

/// The versions of `offered` once each, in version order, for messages: `1, 2, 2.10`.
pub fn offered_list(offered: &[String]) -> String {
    let mut all: Vec<&str> = offered.iter().map(String::as_str).collect();
    all.sort_by(|a, b| crate::base::version::compare(a, b));
    all.dedup();
    all.join(", ")
}

/// The usage error for a request of recipe `name` that no version of `offered`
/// matches; `why` says where the request came from (`set by $JIG_GIT_VERSION`).
pub fn no_version(
    name: &str,
    request: &str,
    why: Option<&str>,
    offered: &[String],
) -> anyhow::Error {
    let why = why.map(|w| format!("{w}; ")).unwrap_or_default();
    crate::base::error::unknown(
        format!(
            "recipe '{name}' offers no version {request} ({why}it offers: {})",
            offered_list(offered)
        ),
        [],
    )
}

/// Checks that need the whole recipe.
pub fn validate(r: &Recipe) -> Result<()> {
    let img = &r.image;
    if !matches!(img.from, Source::Debian(_))
        && (img.mirror.is_some()
            || img.snapshot.is_some()
            || img.insecure
            || !img.packages.is_empty()
            || !img.slim_keep.is_empty())
    {
        return Err(crate::base::error::hinted(
            "[image] mirror, snapshot, insecure, packages and slim_keep apply to from = \"debian:SUITE\" only",
            "for other images install packages with a run step",
        ));
    }
    let dockerfile = matches!(img.from, Source::Dockerfile(_));
    if !dockerfile
        && (img.context.is_some() || !img.args.is_empty() || img.context_digest.is_some())
    {
        return Err(crate::base::error::hinted(
            "[image] context, args and context_digest apply to from = \"dockerfile:PATH\" only",
            "build arguments of other images have no meaning; remove them",
        ));
    }
    // An OCI image (and a Dockerfile's) carries its own entrypoint/cmd, which `jig run`
    // falls back to.
    if r.tool.shims.is_empty()
        && r.tool.command.is_none()
        && !matches!(img.from, Source::Oci(_) | Source::Dockerfile(_))
    {
        bail!("[tool] needs at least one entry in shims, or a command");
    }
    if !img.slim && !img.slim_keep.is_empty() {
        bail!("[image] slim_keep needs slim = true");
    }
    if r.mounts.args.is_off() && !r.mounts.args_rw.is_empty() {
        bail!("[mounts] args_rw needs args = \"ro\" (or \"rw\")");
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &r.tool.shims {
        if s.as_str() == "jig" {
            bail!("[tool] shims: \"jig\" is jig's own name and cannot be a shim");
        }
        if !seen.insert(s.as_str()) {
            bail!("[tool] shims: \"{s}\" is listed twice");
        }
    }
    Ok(())
}
