//! Registry credentials and authentication challenges.
//!
//! Credentials come from jig's `config.toml` first, then from Docker's
//! `~/.docker/config.json` (`$DOCKER_CONFIG/config.json`), whose `auths` map holds
//! base64 `user:password` per registry. Registries answer an unauthenticated request
//! with `401` and a `WWW-Authenticate` challenge: `Basic realm=...` (send the
//! credentials as they are) or `Bearer realm=...,service=...,scope=...` (trade them,
//! or nothing for anonymous access, for a token at the realm). This module parses
//! both; the client performs the exchange.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::base::config::{Config, RegistryAuth};

/// A user name and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or access token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    // Never print the password, even in debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ***)", self.username)
    }
}

impl Credentials {
    /// The `Authorization: Basic ...` header value.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!("Basic {}", STANDARD.encode(raw))
    }

    fn from_auth(entry: &RegistryAuth, origin: &str) -> Result<Option<Credentials>> {
        if let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let bytes = STANDARD
                .decode(encoded.trim())
                .with_context(|| format!("{origin}: \"auth\" is not valid base64"))?;
            let text = String::from_utf8(bytes)
                .with_context(|| format!("{origin}: \"auth\" is not UTF-8 text"))?;
            let Some((u, p)) = text.split_once(':') else {
                bail!("{origin}: \"auth\" must be base64 of user:password");
            };
            return Ok(Some(Credentials {
                username: u.to_owned(),
                password: p.to_owned(),
            }));
        }
        match (&entry.username, &entry.password) {
            (Some(u), Some(p)) => Ok(Some(Credentials {
                username: u.clone(),
                password: p.clone(),
            })),
            _ => Ok(None),
        }
    }
}

/// The names a registry may be filed under in an `auths` map: Docker files Docker Hub
/// under its old index URL, and keys may carry a scheme or a path.
fn key_matches(key: &str, registry: &str) -> bool {
    let bare = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let bare = bare.split('/').next().unwrap_or(bare);
    let hub = ["docker.io", "index.docker.io", "registry-1.docker.io"];
    bare == registry || (hub.contains(&registry) && hub.contains(&bare))
}

#[derive(Deserialize)]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, DockerAuth>,
}

/// An `auths` entry of Docker's file; unlike jig's own config it may hold fields jig
/// does not use (`email`, `identitytoken`), so unknown fields are allowed here.
#[derive(Deserialize)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    dirs::home_dir().map(|h| h.join(".docker").join("config.json"))
}

/// Finds credentials for `registry` (as named in the reference, e.g. `docker.io`).
pub fn lookup(registry: &str, config: &Config) -> Result<Option<Credentials>> {
    for (key, entry) in &config.auths {
        if key_matches(key, registry) {
            let origin = format!("jig config.toml [auths.\"{key}\"]");
            if let Some(c) = Credentials::from_auth(entry, &origin)? {
                return Ok(Some(c));
            }
        }
    }
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(_) => return Ok(None),
    };
    // Docker's file has many other fields (credsStore, HttpHeaders, ...): only
    // `auths` is read, and a file jig cannot parse is reported, not ignored.
    let parsed: DockerConfig =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    for (key, entry) in &parsed.auths {
        if key_matches(key, registry) {
            let origin = format!("{} auths.\"{key}\"", path.display());
            let entry = RegistryAuth {
                username: entry.username.clone(),
                password: entry.password.clone(),
                auth: entry.auth.clone(),
            };
            if let Some(c) = Credentials::from_auth(&entry, &origin)? {
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

/// One parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// Send credentials with HTTP Basic.
    Basic,
    /// Fetch a token from `realm`.
    Bearer {
        /// Token endpoint URL.
        realm: String,
        /// `service` parameter to pass along, if given.
        service: Option<String>,
        /// `scope` parameter to pass along, if given.
        scope: Option<String>,
    },
}

/// Parses a `WWW-Authenticate` header value (`Scheme k="v", k2="v2"`).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

/// `k="v", k2=v2` → map; quoted values may contain commas (scopes do).
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
            value = value.trim().to_owned();
        }
        out.insert(key, value);
    }
    out
}

/// What a token endpoint answers (`token`, or OAuth2's `access_token`).
#[derive(Deserialize)]
pub struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl TokenResponse {
    /// The token, whichever field carries it.
    pub fn into_token(self) -> Option<String> {
        self.token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            c,
            Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull,push".into()),
            }
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn matches_docker_hub_aliases_and_urls() {
        assert!(key_matches("https://index.docker.io/v1/", "docker.io"));
        assert!(key_matches("127.0.0.1:5000", "127.0.0.1:5000"));
        assert!(key_matches("https://ghcr.io", "ghcr.io"));
        assert!(!key_matches("ghcr.io", "docker.io"));
        assert!(!key_matches("127.0.0.1:5001", "127.0.0.1:5000"));
    }

    #[test]
    fn decodes_docker_auth_entries() {
        let e = RegistryAuth {
            auth: Some(STANDARD.encode("user:pa:ss")),
            ..Default::default()
        };
        let c = Credentials::from_auth(&e, "t").unwrap().unwrap();
        assert_eq!(
            (c.username.as_str(), c.password.as_str()),
            ("user", "pa:ss")
        );
        assert_eq!(
            c.basic_header(),
            format!("Basic {}", STANDARD.encode("user:pa:ss"))
        );
        let bad = RegistryAuth {
            auth: Some("!!!".into()),
            ..Default::default()
        };
        assert!(Credentials::from_auth(&bad, "t").is_err());
    }
}
