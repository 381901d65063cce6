//! Recipes: TOML files that describe a tool image and how to run it.
//!
//! A recipe is data. Nothing in it is ever evaluated or shell-interpreted on the host;
//! values are validated while they are deserialized, so every mistake is reported with
//! the file, line and column it sits at (the `toml` crate attaches the span).
//!
//! Built-in recipes live in the repository's `recipes/` directory and are embedded in
//! the binary; others come from recipe repositories (`crate::repo`) or are given by
//! path.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Deserializer, Serialize};
use sha2::{Digest, Sha256};

use crate::image::store::tree::hex;

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
        select_from(&offered, request).with_context(|| {
            format!(
                "recipe '{}' offers no version {request} (it offers: {})",
                self.name,
                offered.join(", ")
            )
        })
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
            bail!(
                "recipe '{}' offers no version {version} (it offers: {})",
                self.name,
                self.offered().join(", ")
            );
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
    /// `debian:SUITE`, `oci:REFERENCE` or `busybox:/path/to/busybox`.
    pub from: From,
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
    /// Shell steps run in order inside the image, as fake root, with the network; each
    /// result is cached.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run: Vec<String>,
}

/// The image source named by `[image] from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// A local root filesystem: a directory or a tarball.
    Rootfs(PathBuf),
    /// An image made on the spot from a static busybox binary on the host.
    Busybox(PathBuf),
    /// An image in an OCI / Docker registry (`oci:alpine:3.20`, `oci:host:5000/x@sha256:...`).
    Oci(crate::image::reference::Reference),
    /// A Debian suite bootstrapped by jig itself.
    Debian(Name),
}

impl fmt::Display for From {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            From::Rootfs(p) => write!(f, "rootfs:{}", p.display()),
            From::Busybox(p) => write!(f, "busybox:{}", p.display()),
            From::Oci(r) => write!(f, "oci:{r}"),
            From::Debian(s) => write!(f, "debian:{s}"),
        }
    }
}

impl std::str::FromStr for From {
    type Err = String;
    fn from_str(s: &str) -> Result<From, String> {
        let (scheme, rest) = s.split_once(':').ok_or_else(|| {
            format!("expected SCHEME:VALUE such as \"rootfs:./rootfs\", found \"{s}\"")
        })?;
        match scheme {
            "rootfs" if !rest.is_empty() => Ok(From::Rootfs(PathBuf::from(rest))),
            "rootfs" => Err("rootfs: needs a path, e.g. \"rootfs:./rootfs\"".into()),
            "busybox" if rest.starts_with('/') => Ok(From::Busybox(PathBuf::from(rest))),
            "busybox" => {
                Err("busybox: needs an absolute path, e.g. \"busybox:/bin/busybox\"".into())
            }
            "oci" => crate::image::reference::Reference::parse(rest).map(From::Oci),
            "debian" => Name::new(rest).map(From::Debian).map_err(|_| {
                format!("debian: needs a suite name such as \"debian:bookworm\", found \"{rest}\"")
            }),
            _ => Err(format!(
                "unknown image source \"{scheme}:\"; expected one of: rootfs:, debian:, oci:, busybox:"
            )),
        }
    }
}

impl Serialize for From {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for From {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<From, D::Error> {
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
    /// `src/workspace.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<crate::launch::workspace::Marker>,
    /// Mount the existing paths the arguments name, outside the workspace: `true` or
    /// `"ro"` read-only, `"rw"` read-write (see `src/args.rs`).
    #[serde(default, skip_serializing_if = "crate::launch::args::ArgMode::is_off")]
    pub args: crate::launch::args::ArgMode,
    /// Options whose values are mounted read-write (the parent directory when the path
    /// does not exist yet), with `args = "ro"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args_rw: Vec<crate::launch::args::OptName>,
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

/// Defines a validated string newtype whose check runs during deserialization, so a bad
/// value is reported at its line and column.
macro_rules! checked_string {
    ($(#[$doc:meta])* $ty:ident, $check:path) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $ty(String);

        impl $ty {
            /// Validates `s`.
            pub fn new(s: &str) -> Result<$ty, String> {
                $check(s).map(|()| $ty(s.to_owned()))
            }
            /// The string value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let s = String::deserialize(d)?;
                $ty::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_string!(
    /// A recipe, version or shim name: `[A-Za-z0-9][A-Za-z0-9._+-]*`, at most 64 bytes.
    Name,
    check_name
);
checked_string!(
    /// A path relative to `$HOME` without `..`.
    HomePath,
    check_home_path
);
checked_string!(
    /// A Debian package name.
    PackageName,
    check_package_name
);
checked_string!(
    /// An http(s) URL.
    Url,
    check_url
);
checked_string!(
    /// A snapshot.debian.org timestamp, `YYYYMMDDTHHMMSSZ`.
    Snapshot,
    check_snapshot
);
checked_string!(
    /// An environment variable name.
    EnvName,
    check_env_name
);
checked_string!(
    /// An environment variable name pattern with `*` wildcards.
    EnvGlob,
    check_env_glob
);

fn check_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid name \"{s}\": expected letters, digits, '.', '_', '+' or '-', starting with a letter or digit"
        ))
    }
}

fn check_home_path(s: &str) -> Result<(), String> {
    let p = Path::new(s);
    if s.is_empty() || p.is_absolute() {
        return Err(format!(
            "invalid home path \"{s}\": expected a path relative to $HOME, e.g. \".gitconfig\""
        ));
    }
    if p.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(format!(
            "invalid home path \"{s}\": '.' and '..' components are not allowed"
        ));
    }
    Ok(())
}

fn check_package_name(s: &str) -> Result<(), String> {
    let ok = s.len() >= 2
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid package name \"{s}\": expected lowercase letters, digits, '+', '-' and '.'"
        ))
    }
}

fn check_url(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("invalid URL \"{s}\": expected http:// or https://"))?;
    if rest.is_empty() || rest.contains(char::is_whitespace) {
        return Err(format!("invalid URL \"{s}\""));
    }
    Ok(())
}

fn check_snapshot(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid snapshot \"{s}\": expected a timestamp like 20240601T000000Z"
        ))
    }
}

fn check_env_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && !s.as_bytes()[0].is_ascii_digit()
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid environment variable name \"{s}\": expected letters, digits and '_'"
        ))
    }
}

fn check_env_glob(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'*');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid environment pattern \"{s}\": expected letters, digits, '_' and '*'"
        ))
    }
}

/// Where a recipe was read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Origin {
    /// Embedded in the jig binary.
    Builtin {
        /// Recipe name.
        name: String,
    },
    /// A file on disk (absolute path).
    File {
        /// Absolute path of the recipe file.
        path: PathBuf,
    },
    /// `recipes/NAME.toml` of a recipe repository (`jig repo add`).
    Repo {
        /// Repository name.
        repo: String,
        /// The pin it was read at: a git commit or a directory's `sha256:` content hash.
        commit: String,
        /// Recipe name.
        name: String,
    },
}

impl Origin {
    /// How to name this recipe on the command line: the file's path, the built-in
    /// name, or `REPO/NAME`.
    pub fn arg(&self) -> String {
        match self {
            Origin::File { path } => path.display().to_string(),
            Origin::Builtin { name } => name.clone(),
            Origin::Repo { repo, name, .. } => format!("{repo}/{name}"),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin { name } => write!(f, "built-in recipe {name}"),
            Origin::File { path } => write!(f, "{}", path.display()),
            Origin::Repo { repo, commit, name } => write!(
                f,
                "recipe {name} of repository {repo} at {}",
                crate::repo::short(commit)
            ),
        }
    }
}

/// A recipe together with where it came from and the hash of its text.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The recipe.
    pub recipe: Recipe,
    /// Its origin.
    pub origin: Origin,
    /// sha256 of the recipe text, hex.
    pub hash: String,
}

impl Loaded {
    /// This recipe resolved for one version: the default with `None`, else the version
    /// `request` selects ([`Recipe::select`]). The result's `hash` is the resolved
    /// recipe's [`Recipe::content_hash`].
    pub fn at(&self, request: Option<&str>) -> Result<Loaded> {
        let version = match request {
            Some(r) => self.recipe.select(r)?,
            None => self.recipe.version.to_string(),
        };
        let recipe = self.recipe.for_version(&version)?;
        Ok(Loaded {
            hash: recipe.content_hash(),
            recipe,
            origin: self.origin.clone(),
        })
    }

    /// Directory that relative paths in the recipe are resolved against.
    pub fn base_dir(&self) -> Option<&Path> {
        match &self.origin {
            Origin::File { path } => path.parent(),
            // Repository recipes may not name host paths (see `repo::parse`).
            Origin::Builtin { .. } | Origin::Repo { .. } => None,
        }
    }
}

/// Built-in recipes, embedded at compile time from `recipes/`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("busybox", include_str!("../../recipes/busybox.toml")),
    ("curl", include_str!("../../recipes/curl.toml")),
    ("git", include_str!("../../recipes/git.toml")),
    ("gitk", include_str!("../../recipes/gitk.toml")),
    ("jq", include_str!("../../recipes/jq.toml")),
    ("make", include_str!("../../recipes/make.toml")),
    ("npm", include_str!("../../recipes/npm.toml")),
    ("python3", include_str!("../../recipes/python3.toml")),
    ("shellcheck", include_str!("../../recipes/shellcheck.toml")),
    ("vim", include_str!("../../recipes/vim.toml")),
];

/// Parses recipe text; `file` names it in error messages.
pub fn parse(text: &str, file: &str) -> Result<Recipe> {
    let recipe: Recipe = toml::from_str(text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    validate(&recipe).with_context(|| format!("{file}: invalid recipe"))?;
    for v in recipe.versions.keys() {
        if v == &recipe.version {
            bail!(
                "{file}: [versions.\"{v}\"] repeats the default version; put its settings at the top level"
            );
        }
        recipe
            .for_version(v.as_str())
            .with_context(|| format!("{file}: invalid recipe"))?;
    }
    Ok(recipe)
}

/// Checks that need the whole recipe.
fn validate(r: &Recipe) -> Result<()> {
    let img = &r.image;
    if !matches!(img.from, From::Debian(_))
        && (img.mirror.is_some()
            || img.snapshot.is_some()
            || img.insecure
            || !img.packages.is_empty())
    {
        bail!(
            "[image] mirror, snapshot, insecure and packages apply to from = \"debian:SUITE\" only\nhint: for other images install packages with a run step"
        );
    }
    // An OCI image carries its own entrypoint/cmd, which `jig run` falls back to.
    if r.tool.shims.is_empty() && r.tool.command.is_none() && !matches!(img.from, From::Oci(_)) {
        bail!("[tool] needs at least one entry in shims, or a command");
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

/// True if a recipe argument names a file: it ends in `.toml` or starts with `/`, `./`
/// or `../`. Anything else is a name (`NAME`, or `REPO/NAME` for a repository's
/// recipe; see `repo::find`).
pub fn is_path(spec: &str) -> bool {
    spec.ends_with(".toml")
        || spec.starts_with('/')
        || spec.starts_with("./")
        || spec.starts_with("../")
}

/// Loads a built-in recipe by name or a recipe file by path (see [`is_path`]).
/// Repository recipes are found by `repo::find`.
pub fn load(name_or_path: &str) -> Result<Loaded> {
    if is_path(name_or_path) {
        return load_file(Path::new(name_or_path));
    }
    let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) else {
        let names: Vec<_> = BUILTIN.iter().map(|(n, _)| *n).collect();
        bail!(
            "no built-in recipe named '{name_or_path}'; built-in recipes are: {}\nhint: give a path (./{name_or_path}.toml) to use a recipe file",
            names.join(", ")
        );
    };
    let recipe = parse(text, &format!("recipes/{name_or_path}.toml"))?;
    Ok(Loaded {
        recipe,
        origin: Origin::Builtin {
            name: name_or_path.to_owned(),
        },
        hash: sha256_hex(text.as_bytes()),
    })
}

/// Loads a recipe file.
pub fn load_file(path: &Path) -> Result<Loaded> {
    let abs = std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let text = std::fs::read_to_string(&abs)
        .with_context(|| format!("reading recipe {}", path.display()))?;
    let recipe = parse(&text, &path.display().to_string())?;
    Ok(Loaded {
        recipe,
        origin: Origin::File { path: abs },
        hash: sha256_hex(text.as_bytes()),
    })
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

/// sha256 of bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Matches `name` against a glob where `*` matches any run of characters.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ni;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const BB: &str = r#"
name = "bb"
version = "1.35"
description = "busybox test tool"

[image]
from = "rootfs:rootfs"

[tool]
shims = ["sh", "echo", "id", "pwd", "cat", "touch", "ls", "sleep", "env", "tty"]

[mounts]
home = [".bbrc"]
home_rw = [".bbcache"]

[env]
pass = ["BB_*"]
set = { BB_MODE = "test" }
"#;

    #[test]
    fn parses_the_documented_form() {
        let r = parse(BB, "bb.toml").unwrap();
        assert_eq!(r.name.as_str(), "bb");
        assert_eq!(r.image.from, From::Rootfs("rootfs".into()));
        assert_eq!(r.tool.shims.len(), 10);
        assert_eq!(r.mounts.home_rw[0].as_str(), ".bbcache");
        assert_eq!(r.env.set.values().next().unwrap(), "test");
    }

    #[test]
    fn round_trips_through_toml() {
        let r = parse(BB, "bb.toml").unwrap();
        let again: Recipe = toml::from_str(&toml::to_string(&r).unwrap()).unwrap();
        assert_eq!(r, again);
    }

    #[test]
    fn unknown_key_is_an_error_with_position() {
        let text = BB.replace("[mounts]", "[mounts]\nhomee = [\"x\"]");
        let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
        assert!(err.contains("bb.toml"), "{err}");
        assert!(err.contains("line 13, column 1"), "{err}");
        assert!(err.contains("unknown field `homee`"), "{err}");
    }

    #[test]
    fn bad_values_are_reported_where_they_are() {
        let text = BB.replace("\".bbrc\"", "\"../.ssh\"");
        let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
        assert!(err.contains("line 13"), "{err}");
        assert!(err.contains("'..'"), "{err}");

        let text = BB.replace("rootfs:rootfs", "docker:x");
        let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
        assert!(
            err.contains("line 7") && err.contains("unknown image source"),
            "{err}"
        );

        let text = BB.replace("\"echo\"", "\"ec/ho\"");
        let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
        assert!(
            err.contains("line 10") && err.contains("invalid name"),
            "{err}"
        );

        let text = BB.replace("name = \"bb\"\n", "");
        let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
        assert!(err.contains("missing field `name`"), "{err}");
    }

    #[test]
    fn only_oci_recipes_may_omit_the_tool() {
        let oci = "name = \"a\"\nversion = \"1\"\n[image]\nfrom = \"oci:alpine:3.20\"\n";
        let r = parse(oci, "a.toml").unwrap();
        assert!(r.tool.shims.is_empty() && r.tool.command.is_none());
        let rootfs = oci.replace("oci:alpine:3.20", "rootfs:r");
        let err = format!("{:#}", parse(&rootfs, "a.toml").unwrap_err());
        assert!(err.contains("needs at least one entry in shims"), "{err}");
    }

    #[test]
    fn duplicate_shim_is_rejected() {
        let text = BB.replace("\"echo\", \"id\"", "\"echo\", \"echo\"");
        assert!(parse(&text, "bb.toml").is_err());
    }

    const BBV: &str = r#"
name = "bbv"
version = "1"
[image]
from = "rootfs:v1"
[tool]
shims = ["cat"]
[mounts]
home = [".bbrc"]
[versions."2".image]
from = "rootfs:v2"
[versions."2.10"]
description = "two-ten"
[versions."2.10".mounts]
home_rw = [".cache"]
[versions."2.9".tool]
shims = ["cat", "ls"]
"#;

    #[test]
    fn versions_override_top_level_keys() {
        let r = parse(BBV, "bbv.toml").unwrap();
        assert_eq!(r.offered(), ["1", "2", "2.9", "2.10"]);
        let v1 = r.for_version("1").unwrap();
        assert!(v1.versions.is_empty());
        assert_eq!(v1.image.from, From::Rootfs("v1".into()));
        let v2 = r.for_version("2").unwrap();
        assert_eq!(v2.version.as_str(), "2");
        assert_eq!(v2.image.from, From::Rootfs("v2".into()));
        assert_eq!(v2.tool, v1.tool);
        // Keys of a table not named in the override stay.
        let v210 = r.for_version("2.10").unwrap();
        assert_eq!(v210.image.from, From::Rootfs("v1".into()));
        assert_eq!(v210.mounts.home, v1.mounts.home);
        assert_eq!(v210.mounts.home_rw[0].as_str(), ".cache");
        assert_eq!(v210.description, "two-ten");
        assert_eq!(r.for_version("2.9").unwrap().tool.shims.len(), 2);
        assert_ne!(v1.content_hash(), v2.content_hash());
        let err = format!("{:#}", r.for_version("3").unwrap_err());
        assert!(err.contains("offers: 1, 2, 2.9, 2.10"), "{err}");
    }

    #[test]
    fn version_requests_pick_exact_then_highest_prefix() {
        let r = parse(BBV, "bbv.toml").unwrap();
        assert_eq!(r.select("2").unwrap(), "2");
        assert_eq!(r.select("2.9").unwrap(), "2.9");
        let text = BBV.replace("[versions.\"2\".image]", "[versions.\"3\".image]");
        let r = parse(&text, "bbv.toml").unwrap();
        assert_eq!(r.select("2").unwrap(), "2.10");
        assert!(r.select("4").is_err());
    }

    #[test]
    fn bad_version_tables_are_errors() {
        let text = BBV.replace("from = \"rootfs:v2\"", "form = \"rootfs:v2\"");
        let err = format!("{:#}", parse(&text, "bbv.toml").unwrap_err());
        assert!(
            err.contains("[versions.\"2\"]") && err.contains("form"),
            "{err}"
        );
        let text = BBV.replace("[versions.\"2\".image]", "[versions.\"1\".image]");
        assert!(parse(&text, "bbv.toml").is_err());
        let text = BBV.replace("description = \"two-ten\"", "descr = 1");
        let err = format!("{:#}", parse(&text, "bbv.toml").unwrap_err());
        assert!(err.contains("line 13") && err.contains("descr"), "{err}");
    }

    #[test]
    fn globs() {
        assert!(glob_match("BB_*", "BB_X"));
        assert!(glob_match("BB_*", "BB_"));
        assert!(!glob_match("BB_*", "XBB_X"));
        assert!(glob_match("*_TOKEN", "GH_TOKEN"));
        assert!(glob_match("LC_*", "LC_ALL"));
        assert!(glob_match("A*B*C", "AxxBxxC"));
        assert!(!glob_match("A*B*C", "AxxBxx"));
        assert!(glob_match("TERM", "TERM"));
        assert!(!glob_match("TERM", "TERMX"));
    }

    #[test]
    fn paths_and_names() {
        for p in ["./x.toml", "x.toml", "dir/x.toml", "/abs/x", "./x", "../x"] {
            assert!(is_path(p), "{p}");
        }
        for n in ["git", "repo/git", "git@1.0", "repo/git@1.0"] {
            assert!(!is_path(n), "{n}");
        }
        let e = format!("{:#}", load("repo/git").unwrap_err());
        assert!(e.contains("no built-in recipe"), "{e}");
    }

    #[test]
    fn origins_keep_their_json_form() {
        let b = Origin::Builtin { name: "git".into() };
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            r#"{"kind":"builtin","name":"git"}"#
        );
        let r = Origin::Repo {
            repo: "r".into(),
            commit: "c".into(),
            name: "t".into(),
        };
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            json,
            r#"{"kind":"repo","repo":"r","commit":"c","name":"t"}"#
        );
        assert_eq!(serde_json::from_str::<Origin>(&json).unwrap(), r);
    }

    #[test]
    fn builtin_recipes_parse() {
        for (name, _) in BUILTIN {
            let l = load(name).unwrap();
            assert_eq!(l.recipe.name.as_str(), *name);
        }
    }
}
