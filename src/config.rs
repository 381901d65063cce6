//! jig's own user configuration file, `config.toml`.
//!
//! It lives in `$JIG_CONFIG_DIR/config.toml` when `JIG_CONFIG_DIR` is set, else in
//! `$JIG_HOME/config.toml` when `JIG_HOME` is set, else in the XDG config directory
//! (`~/.config/jig/config.toml`). The user's global `jig.toml` sits beside it; a launch
//! shows that file alone to the tool and names its directory in `JIG_CONFIG_DIR`, so
//! the shims a tool calls read the same pins. Only things that cannot live in a recipe
//! go here: which registries may be spoken to over plain HTTP, registry credentials,
//! which OpenPGP keyring verifies Debian indexes, the order recipe names are looked up
//! in, and whether `$HOME` may be a workspace. A missing file is an empty configuration.
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
//! ```

use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;

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

/// The variable naming the directory of `config.toml` and the global `jig.toml`.
pub const ENV_CONFIG_DIR: &str = "JIG_CONFIG_DIR";

/// The directory of `config.toml` and the global `jig.toml` (whether or not it exists).
pub fn dir() -> Option<PathBuf> {
    [ENV_CONFIG_DIR, "JIG_HOME"]
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
    }
}
