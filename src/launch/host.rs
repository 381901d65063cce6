//! What a launch needs to know about the calling user and process, read once before
//! any namespace is entered (after `unshare` the host's view is partly gone).

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result};

/// The caller's identity, directories and environment.
#[derive(Debug, Clone)]
pub struct Host {
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Login name (from the passwd database, else `$USER`, else `uid<N>`).
    pub user: String,
    /// Primary group name, if the group database has one.
    pub group: Option<String>,
    /// Home directory (`$HOME`, else the passwd entry).
    pub home: PathBuf,
    /// Login shell from the passwd database.
    pub shell: Option<PathBuf>,
    /// Physical current directory.
    pub cwd: PathBuf,
    /// The process environment.
    pub env: Vec<(OsString, OsString)>,
}

impl Host {
    /// Reads the host state of the current process.
    pub fn probe() -> Result<Host> {
        let uid = nix::unistd::getuid();
        let gid = nix::unistd::getgid();
        let env: Vec<(OsString, OsString)> = std::env::vars_os().collect();
        let var = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        // /etc/passwd and /etc/group first: reading them costs microseconds, while the
        // NSS machinery behind getpwuid(3) (nsswitch.conf, nscd probes, modules) costs
        // a noticeable part of a launch. NSS remains the fallback for directory users.
        let pw = files_entry("/etc/passwd", uid.as_raw()).or_else(|| {
            nix::unistd::User::from_uid(uid)
                .ok()
                .flatten()
                .map(|u| Entry {
                    name: u.name,
                    home: u.dir.into_os_string().into_string().unwrap_or_default(),
                    shell: u.shell.into_os_string().into_string().unwrap_or_default(),
                })
        });
        let user = pw
            .as_ref()
            .map(|p| p.name.clone())
            .or_else(|| var("USER").and_then(|u| u.into_string().ok()))
            .unwrap_or_else(|| format!("uid{uid}"));
        let group = files_entry("/etc/group", gid.as_raw())
            .map(|g| g.name)
            .or_else(|| {
                nix::unistd::Group::from_gid(gid)
                    .ok()
                    .flatten()
                    .map(|g| g.name)
            });
        let home = var("HOME")
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(|| pw.as_ref().map(|p| PathBuf::from(&p.home)))
            .unwrap_or_else(|| PathBuf::from("/"));
        let cwd = std::env::current_dir().context(
            "cannot read the current directory (was it removed?); cd somewhere that exists",
        )?;
        Ok(Host {
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            user,
            group,
            home,
            shell: pw
                .map(|p| PathBuf::from(p.shell))
                .filter(|s| s.is_absolute()),
            cwd,
            env,
        })
    }

    /// The value of an environment variable.
    pub fn var(&self, key: &str) -> Option<&OsString> {
        self.env.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// Refuses a relative `$HOME`: jig mounts the recipe's home paths at their own place,
/// and "relative to the current directory" names none (a tool would find `~/.gitconfig`
/// somewhere else in every directory).
pub fn check_home() -> Result<(), crate::base::error::LaunchError> {
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() && !std::path::Path::new(&h).is_absolute() => {
            Err(crate::base::error::LaunchError::setup(format!(
                "HOME is a relative path ({}); jig needs to know where your home directory is",
                h.to_string_lossy()
            ))
            .hint("set HOME to an absolute path, e.g. HOME=\"$PWD/home\""))
        }
        _ => Ok(()),
    }
}

/// The fields of a passwd (or group) line jig uses.
struct Entry {
    name: String,
    home: String,
    shell: String,
}

/// Finds the line whose third field is `id` in a passwd- or group-format file.
fn files_entry(path: &str, id: u32) -> Option<Entry> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_entry(&text, id)
}

fn parse_entry(text: &str, id: u32) -> Option<Entry> {
    let id = id.to_string();
    text.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 3 && f[2] == id && !f[0].starts_with('+') && !f[0].starts_with('-')).then(
            || Entry {
                name: f[0].to_owned(),
                home: f.get(5).copied().unwrap_or_default().to_owned(),
                shell: f.get(6).copied().unwrap_or_default().to_owned(),
            },
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_and_group_lines() {
        let pw = "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000:Alice:/home/alice:/bin/zsh\n";
        let e = parse_entry(pw, 1000).unwrap();
        assert_eq!(
            (e.name.as_str(), e.home.as_str(), e.shell.as_str()),
            ("alice", "/home/alice", "/bin/zsh")
        );
        assert!(parse_entry(pw, 5).is_none());
        let e = parse_entry("staff:x:50:alice,bob\n", 50).unwrap();
        assert_eq!(e.name, "staff");
    }
}
