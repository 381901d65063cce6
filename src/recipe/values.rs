//! The checked values of a recipe: names, home paths, package names, URLs, variable
//! names and globs, workspace markers, and how path arguments are mounted. Each is
//! validated in its constructor, which its `Deserialize` calls.

use std::fmt;
use std::path::{Component, Path};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
    /// A relative path without `..` that stays where it is put (a Dockerfile and its
    /// context, relative to the recipe file).
    RelPath,
    check_rel_path
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
    /// A path a slim image keeps: an absolute path below one of the directories slim
    /// empties, with `*` wildcards (a dpkg `path-include` glob).
    KeepGlob,
    check_keep_glob
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

fn check_rel_path(s: &str) -> Result<(), String> {
    let p = Path::new(s);
    if s.is_empty() || p.is_absolute() {
        return Err(format!(
            "invalid path \"{s}\": expected a path relative to the recipe file, e.g. \"Dockerfile\""
        ));
    }
    if p.components().any(|c| matches!(c, Component::ParentDir)) {
        return Err(format!(
            "invalid path \"{s}\": '..' is not allowed; put the recipe beside or above what it builds"
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

/// The directories `slim = true` empties (see `image::build::bootstrap`), below which a
/// [`KeepGlob`] may keep paths.
pub const SLIM_DIRS: &[&str] = &[
    "/usr/share/doc/",
    "/usr/share/man/",
    "/usr/share/info/",
    "/usr/share/locale/",
];

fn check_keep_glob(s: &str) -> Result<(), String> {
    // The glob goes into a dpkg configuration file and is matched by jig as well: only
    // characters both read the same way (no `?`, `[`, backslashes, whitespace or
    // newlines).
    let chars = s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._+-*".contains(&b));
    let below = SLIM_DIRS
        .iter()
        .any(|d| s.len() > d.len() && s.starts_with(d));
    if !chars || !below || s.split('/').any(|c| c == "..") {
        return Err(format!(
            "invalid slim_keep path \"{s}\": expected an absolute path below {} with '*' \
             wildcards, e.g. \"/usr/share/man/man*/git*\"",
            SLIM_DIRS.join(", ")
        ));
    }
    Ok(())
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

/// `[mounts] args`: whether the paths arguments name are mounted, and how.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ArgMode {
    /// Not mounted (the default).
    #[default]
    Off,
    /// Mounted read-only (`true` or `"ro"`), except values of `args_rw` options.
    Ro,
    /// Mounted read-write (`"rw"`).
    Rw,
}

impl ArgMode {
    /// Whether argument paths are mounted at all.
    pub fn is_off(&self) -> bool {
        *self == ArgMode::Off
    }
}

impl Serialize for ArgMode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match self {
            ArgMode::Off => "off",
            ArgMode::Ro => "ro",
            ArgMode::Rw => "rw",
        })
    }
}

impl<'de> Deserialize<'de> for ArgMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ArgMode, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(false) => Ok(ArgMode::Off),
            Raw::Bool(true) => Ok(ArgMode::Ro),
            Raw::Str(s) => match s.as_str() {
                "off" => Ok(ArgMode::Off),
                "ro" => Ok(ArgMode::Ro),
                "rw" => Ok(ArgMode::Rw),
                _ => Err(serde::de::Error::custom(format!(
                    "invalid args mode \"{s}\": expected true, false, \"ro\", \"rw\" or \"off\""
                ))),
            },
        }
    }
}

/// An option whose value is mounted read-write (`-o`, `--output`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct OptName(String);

impl OptName {
    /// Validates an option name: `-x` or `--name`.
    pub fn new(s: &str) -> Result<OptName, String> {
        let b = s.as_bytes();
        let ok = match b {
            [b'-', b'-', rest @ ..] => {
                !rest.is_empty()
                    && rest
                        .iter()
                        .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
            }
            [b'-', c] => c.is_ascii_alphanumeric(),
            _ => false,
        };
        if ok {
            Ok(OptName(s.to_owned()))
        } else {
            Err(format!(
                "invalid option \"{s}\": expected \"-x\" or \"--name\""
            ))
        }
    }
    /// The option as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for OptName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OptName, D::Error> {
        let s = String::deserialize(d)?;
        OptName::new(&s).map_err(serde::de::Error::custom)
    }
}

/// A file name whose presence marks a workspace root (`package.json`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Marker(String);

impl Marker {
    /// Validates a marker: one plain file name.
    pub fn new(s: &str) -> Result<Marker, String> {
        let p = Path::new(s);
        let mut c = p.components();
        match (c.next(), c.next()) {
            (Some(Component::Normal(_)), None) if !s.contains('/') => Ok(Marker(s.to_owned())),
            _ => Err(format!(
                "invalid marker \"{s}\": expected a file name such as \"package.json\""
            )),
        }
    }
    /// The file name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Marker {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Marker, D::Error> {
        let s = String::deserialize(d)?;
        Marker::new(&s).map_err(serde::de::Error::custom)
    }
}
