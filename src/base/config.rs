//! jig's own user configuration file, `config.toml`.
//!
//! It lives in `$JIG_CONFIG_DIR/config.toml` when `JIG_CONFIG_DIR` is set, else in
//! `$JIG_HOME/config.toml` when `JIG_HOME` is set, else in the XDG config directory
//! (`~/.config/jig/config.toml`). The user's global `jig.toml` sits beside it; a launch
//! shows that file alone to the tool and names its directory in `JIG_CONFIG_DIR`, so
//! the shims a tool calls read the same pins. Only things that cannot live in a recipe
//! go here: which registries may be spoken to over plain HTTP, registry credentials,
//! the image cache,
//! which OpenPGP keyring verifies Debian indexes, the order recipe names are looked up
//! in, whether `$HOME` may be a workspace, and how much unpacking may write. A missing
//! file is an empty configuration.
//!
//! ```toml
//! insecure_registries = ["registry.lan:5000"]
//! debian_keyring = "/etc/jig/debian-archive-keyring.gpg"   # default: the host's
//! recipe_order = ["myrepo", "builtin"]   # where a bare NAME is looked up first
//! workspace_allow_home = false  # true: a .git or jig.toml in $HOME may mount all of it
//!
//! [auths."ghcr.io"]
//! username = "me"
//! password = "token"        # or: auth = "<base64 of user:password>"
//!
//! [registry_mirrors]        # pulls from a registry try these first, in order
//! "docker.io" = ["https://mirror.example.com", "http://127.0.0.1:5000"]
//!
//! [cache]                   # a registry repository shared as an image cache
//! registry = "registry.example.com/team/jig-cache"
//! push = false              # true: every image built here goes to the cache too
//!
//! [limits]                  # what unpacking may write (see [`Limits`]; the defaults)
//! image_bytes = "8GiB"      # file contents, all layers together (or a number of bytes)
//! image_entries = 1000000   # files, directories, links, whiteouts
//! # layer_bytes = "1GiB"    # the same for one layer or archive; unset: the image's
//! # layer_entries = 100000
//! ```
//!
//! The file is read where images are made (install, pull, build) and by the commands
//! that need one of its keys; a launch reads it only when a workspace marker sits
//! directly in `$HOME` (`workspace_allow_home` decides then).

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Deserializer, Serialize};

/// The parsed configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Registries (`host` or `host:port`) reached over plain HTTP.
    #[serde(default)]
    pub insecure_registries: Vec<String>,
    /// Credentials per registry host.
    #[serde(default)]
    pub auths: BTreeMap<String, RegistryAuth>,
    /// Keyring (binary or armored OpenPGP) that Debian `InRelease` files must be
    /// signed with; default `/usr/share/keyrings/debian-archive-keyring.gpg`.
    #[serde(default)]
    pub debian_keyring: Option<PathBuf>,
    /// Where a bare recipe `NAME` is looked up first: repository names and `builtin`
    /// (the recipes built into jig). Places not listed follow: built-in, then the other
    /// repositories by name.
    #[serde(default)]
    pub recipe_order: Vec<String>,
    /// Let a `jig.toml` or `.git` directly in `$HOME` make the whole home directory a
    /// launch's workspace (off: such a marker is ignored and the cwd alone is mounted).
    #[serde(default)]
    pub workspace_allow_home: bool,
    /// `[limits]`: how much one image and one of its archives may write.
    #[serde(default)]
    pub limits: Limits,
    /// `[registry_mirrors]`: registry name (`docker.io`, `ghcr.io`, `host:port`) → the
    /// mirrors its pulls try first, in order; the registry itself is the fallback.
    #[serde(default)]
    pub registry_mirrors: BTreeMap<String, Vec<Mirror>>,
    /// `[cache]`: a registry repository that holds built images by their cache key,
    /// looked up before a build and (with `push`) written after one.
    #[serde(default)]
    pub cache: Option<Cache>,
}

/// `[cache]`: a registry repository used as a shared image cache.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// `HOST[:PORT]/REPO`: where cached images live (no tag, no digest).
    pub registry: CacheRepo,
    /// Push every image this machine builds to the cache.
    #[serde(default)]
    pub push: bool,
}

/// A cache repository, `HOST[:PORT]/REPO`: a registry host (with a dot, a port or
/// `localhost`, so it is never read as a Docker Hub name) and a repository path, no
/// tag or digest (jig names the tags).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct CacheRepo(String);

impl CacheRepo {
    /// Checks `s` is `HOST[:PORT]/REPO`.
    pub fn parse(s: &str) -> Result<CacheRepo, String> {
        let bad = || {
            format!(
                "invalid cache registry \"{s}\": expected HOST[:PORT]/REPO, e.g. \"registry.example.com/team/jig-cache\""
            )
        };
        let (host, repo) = s.split_once('/').ok_or_else(bad)?;
        let host_ok = (host.contains('.') || host.contains(':') || host == "localhost")
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        let repo_ok = !repo.is_empty()
            && !repo.starts_with('/')
            && !repo.ends_with('/')
            && !repo.contains("//")
            && repo
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-._/".contains(&b));
        if !host_ok || !repo_ok {
            return Err(bad());
        }
        Ok(CacheRepo(s.to_owned()))
    }
}

impl std::fmt::Display for CacheRepo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for CacheRepo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<CacheRepo, D::Error> {
        let s = String::deserialize(d)?;
        CacheRepo::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A registry mirror: `http://` or `https://` and a `host[:port]`, nothing after it
/// (a mirror serves the registry's own `/v2/` paths, as Docker's registry-mirrors do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// Speak plain HTTP (the URL said `http://`).
    pub http: bool,
    /// `host[:port]`.
    pub host: String,
}

impl Mirror {
    /// Parses `http(s)://host[:port][/]`.
    pub fn parse(s: &str) -> Result<Mirror, String> {
        let bad = || {
            format!(
                "invalid mirror \"{s}\": expected http://HOST[:PORT] or https://HOST[:PORT], e.g. \"https://mirror.example.com\""
            )
        };
        let (http, rest) = match (s.strip_prefix("http://"), s.strip_prefix("https://")) {
            (Some(r), _) => (true, r),
            (_, Some(r)) => (false, r),
            _ => return Err(bad()),
        };
        let host = rest.strip_suffix('/').unwrap_or(rest);
        let ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if !ok {
            return Err(bad());
        }
        Ok(Mirror {
            http,
            host: host.to_owned(),
        })
    }
}

impl<'de> Deserialize<'de> for Mirror {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mirror, D::Error> {
        let s = String::deserialize(d)?;
        Mirror::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// Default for [`Limits::image_bytes`]: 8 GiB of file contents. A Debian image with
/// node and npm holds about 500 MB, big toolchain images (a JDK with an Android SDK,
/// texlive-full) 2 to 5 GB; 8 GiB leaves room above those while a decompression bomb
/// stops long before it fills a disk.
pub const DEFAULT_IMAGE_BYTES: u64 = 8 << 30;

/// Default for [`Limits::image_entries`]: one million. The node image has about 40,000
/// entries, texlive-full about 200,000; a million empty files is an attack on the
/// inode table, not a tool.
pub const DEFAULT_IMAGE_ENTRIES: u64 = 1_000_000;

/// `[limits]`: what unpacking may write, checked entry by entry while an archive
/// streams, so a hostile or broken image (a small layer that inflates to terabytes,
/// millions of empty files) is refused before the entry that would cross a limit is
/// written, not after the disk is full.
///
/// Bytes are the sizes of the entries' contents as the archives declare them (regular
/// files; any data another kind of entry carries is read and counted too), summed as
/// written: content a later layer deletes still counted when it was written. Entries are
/// the archive's members: files, directories, links, whiteouts, skipped device nodes.
/// A local `rootfs:DIR` is counted the same way while it is copied.
///
/// The layer limits default to the image limits: a flattened image (a rootfs tarball,
/// the one layer `jig push` writes) is a single archive holding the whole tree, so a
/// smaller per-layer default would refuse images jig itself pushes. Set them to bound
/// every single archive (each OCI layer, each `.deb`'s data) more tightly than the
/// image.
///
/// Sizes are written as a number of bytes or a string with a binary unit: `"512MiB"`,
/// `"8GiB"` (also `K`, `M`, `G`, `T`). Every limit is at least 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Bytes of file contents one image may hold, over all its layers.
    #[serde(deserialize_with = "de_bytes")]
    pub image_bytes: u64,
    /// Entries one image may hold, over all its layers.
    #[serde(deserialize_with = "de_count")]
    pub image_entries: u64,
    /// Bytes of file contents one layer or archive may hold; `None`: as the image.
    #[serde(deserialize_with = "de_opt_bytes")]
    pub layer_bytes: Option<u64>,
    /// Entries one layer or archive may hold; `None`: as the image.
    #[serde(deserialize_with = "de_opt_count")]
    pub layer_entries: Option<u64>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            image_bytes: DEFAULT_IMAGE_BYTES,
            image_entries: DEFAULT_IMAGE_ENTRIES,
            layer_bytes: None,
            layer_entries: None,
        }
    }
}

/// Parses a size: digits, optionally followed by a binary unit (`K`/`KiB`, `M`/`MiB`,
/// `G`/`GiB`, `T`/`TiB`, or `B`), with or without a space between.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let bad =
        || format!("invalid size {text:?}: write a number of bytes or e.g. \"512MiB\", \"8GiB\"");
    let n: u64 = number.parse().map_err(|_| bad())?;
    let shift = match unit.trim_start() {
        "" | "B" => 0,
        "K" | "KiB" => 10,
        "M" | "MiB" => 20,
        "G" | "GiB" => 30,
        "T" | "TiB" => 40,
        _ => return Err(bad()),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

/// A positive limit: zero would refuse every image (there is no "unlimited"; a large
/// number is).
fn positive(n: u64) -> Result<u64, String> {
    if n == 0 {
        Err("a limit must be at least 1 (for no practical limit, write a large number)".into())
    } else {
        Ok(n)
    }
}

/// Reads a limit: a positive integer, or (`sizes`) a size string too.
struct LimitVisitor {
    sizes: bool,
}

impl serde::de::Visitor<'_> for LimitVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        if self.sizes {
            f.write_str("a number of bytes or a size such as \"8GiB\"")
        } else {
            f.write_str("a whole number")
        }
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
        let v = u64::try_from(v).map_err(|_| E::custom("a limit cannot be negative"))?;
        self.visit_u64(v)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
        positive(v).map_err(E::custom)
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
        if !self.sizes {
            return Err(E::invalid_type(serde::de::Unexpected::Str(v), &self));
        }
        parse_size(v).and_then(positive).map_err(E::custom)
    }
}

fn de_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(LimitVisitor { sizes: true })
}

fn de_count<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(LimitVisitor { sizes: false })
}

fn de_opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    de_bytes(d).map(Some)
}

fn de_opt_count<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    de_count(d).map(Some)
}

/// Credentials for one registry: `username` + `password`, or `auth` as Docker stores it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryAuth {
    /// User name.
    #[serde(default)]
    pub username: Option<String>,
    /// Password or access token.
    #[serde(default)]
    pub password: Option<String>,
    /// base64 of `user:password` (the `~/.docker/config.json` form).
    #[serde(default)]
    pub auth: Option<String>,
}

/// The directory of `config.toml` and the global `jig.toml` (whether or not it exists).
pub fn dir() -> Option<PathBuf> {
    [
        crate::base::nest::ENV_CONFIG_DIR,
        crate::base::nest::ENV_HOME,
    ]
    .iter()
    .find_map(|v| std::env::var_os(v).filter(|d| !d.is_empty()))
    .map(PathBuf::from)
    .or_else(|| dirs::config_dir().map(|d| d.join("jig")))
    // Relative to the cwd now, not to wherever a nested launch starts.
    .map(|d| std::path::absolute(&d).unwrap_or(d))
}

/// Where the configuration file is (whether or not it exists).
pub fn path() -> Option<PathBuf> {
    dir().map(|d| d.join("config.toml"))
}

/// Reads the configuration; a missing file gives the defaults.
pub fn load() -> Result<Config> {
    let Some(path) = path() else {
        return Ok(Config::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Config::default()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_form() {
        let c: Config = toml::from_str(
            r#"
insecure_registries = ["registry.lan:5000"]
recipe_order = ["team", "builtin"]
[auths."ghcr.io"]
username = "me"
password = "pw"
[auths."x:1"]
auth = "dTpw"
"#,
        )
        .unwrap();
        assert_eq!(c.insecure_registries, ["registry.lan:5000"]);
        assert_eq!(c.auths["ghcr.io"].username.as_deref(), Some("me"));
        assert_eq!(c.auths["x:1"].auth.as_deref(), Some("dTpw"));
        assert_eq!(c.recipe_order, ["team", "builtin"]);
        assert!(toml::from_str::<Config>("insecure = []").is_err());
        assert_eq!(c.limits, Limits::default());
    }

    #[test]
    fn limits_take_sizes_and_counts_and_refuse_nonsense() {
        let c: Config = toml::from_str(
            r#"
[limits]
image_bytes = "16GiB"
image_entries = 2000000
layer_bytes = 1048576
layer_entries = 50
"#,
        )
        .unwrap();
        assert_eq!(
            c.limits,
            Limits {
                image_bytes: 16 << 30,
                image_entries: 2_000_000,
                layer_bytes: Some(1 << 20),
                layer_entries: Some(50),
            }
        );
        let partial: Config = toml::from_str("[limits]\nlayer_bytes = \"512 MiB\"").unwrap();
        assert_eq!(partial.limits.layer_bytes, Some(512 << 20));
        assert_eq!(partial.limits.image_bytes, DEFAULT_IMAGE_BYTES);
        assert_eq!(partial.limits.image_entries, DEFAULT_IMAGE_ENTRIES);
        assert_eq!(partial.limits.layer_entries, None);
        for (text, why) in [
            ("image_bytes = 0", "at least 1"),
            ("image_bytes = -5", "negative"),
            ("image_bytes = \"8GB\"", "invalid size"),
            ("image_bytes = \"lots\"", "invalid size"),
            ("image_bytes = \"99999999999T\"", "too large"),
            ("image_bytes = 1.5", "a number of bytes"),
            ("layer_entries = 0", "at least 1"),
            ("layer_entries = \"10\"", "a whole number"),
            ("image_entries = -1", "negative"),
            ("image_entries = 1.0", "a whole number"),
            ("layer_size = 5", "unknown field"),
        ] {
            let err = toml::from_str::<Config>(&format!("[limits]\n{text}"))
                .unwrap_err()
                .to_string();
            assert!(err.contains(why), "{text}: {err}");
            assert!(err.contains("line 2"), "{text}: names the line: {err}");
        }
    }

    #[test]
    fn mirrors_are_urls_of_hosts() {
        let c: Config = toml::from_str(
            "[registry_mirrors]\n\"docker.io\" = [\"http://127.0.0.1:5000\", \"https://m.example.com/\"]\n",
        )
        .unwrap();
        assert_eq!(
            c.registry_mirrors["docker.io"],
            [
                Mirror {
                    http: true,
                    host: "127.0.0.1:5000".into()
                },
                Mirror {
                    http: false,
                    host: "m.example.com".into()
                }
            ]
        );
        for bad in [
            "ftp://x",
            "m.example.com",
            "https://",
            "https://x/v2/",
            "http://a b",
        ] {
            let err = toml::from_str::<Config>(&format!("[registry_mirrors]\nr = [\"{bad}\"]"))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("invalid mirror") && err.contains("line 2"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn a_cache_is_a_host_and_a_repository() {
        let c: Config =
            toml::from_str("[cache]\nregistry = \"127.0.0.1:5000/team/cache\"\npush = true\n")
                .unwrap();
        let cache = c.cache.unwrap();
        assert_eq!(cache.registry.to_string(), "127.0.0.1:5000/team/cache");
        assert!(cache.push);
        for bad in [
            "cache",
            "team/cache",
            "r.example.com/",
            "r.example.com/Cache",
            "r.example.com/c:tag",
            "r.example.com/c@sha256:00",
            "https://r.example.com/c",
        ] {
            let err = toml::from_str::<Config>(&format!("[cache]\nregistry = \"{bad}\""))
                .unwrap_err()
                .to_string();
            assert!(err.contains("invalid cache registry"), "{bad}: {err}");
        }
        assert!(toml::from_str::<Config>("[cache]\nregistry = \"a.b/c\"\npull = 1").is_err());
    }

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert_eq!(parse_size("10B"), Ok(10));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4 KiB"), Ok(4096));
        assert_eq!(parse_size("3M"), Ok(3 << 20));
        assert_eq!(parse_size("8GiB"), Ok(8 << 30));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        for bad in ["", "G", "1.5G", "1 gib", "-1", "1e9", "8 GB"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }
}
