//! The paths the user's git configuration names, found at launch: the files git reads
//! its configuration from (`/etc/gitconfig`, `~/.gitconfig`, `~/.config/git/config`,
//! or what `GIT_CONFIG_SYSTEM` / `GIT_CONFIG_GLOBAL` name instead), the files they
//! include (`include.path`, `includeIf.*.path`, whatever the condition: evaluating
//! it would cost more than a read-only bind), and the values of the keys in [`KEYS`]
//! and the credential helpers' stores. Each file is one read; a launch without
//! includes reads two or three small files. Only existing paths are kept.
//!
//! Nothing is judged here: [`crate::launch::plan::git`] decides what is mounted.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::config::{Entry, parse};
use super::model::{By, Named};
use crate::base::paths::normalize;
use crate::launch::host::Host;
use crate::runtime::spec::Node;

/// Which subsections a key counts in.
#[derive(Debug, Clone, Copy)]
enum Sub {
    /// None: `[core] excludesFile`.
    No,
    /// This one: `[gpg "ssh"] allowedSignersFile`.
    Is(&'static str),
    /// Any or none: `[http "https://host/"] sslCert`.
    Any,
}

/// Keys whose value is a path (git's "pathname" type): section, subsection, key
/// (lowercase), and the name git documents.
const KEYS: &[(&str, Sub, &str, &str)] = &[
    ("core", Sub::No, "excludesfile", "core.excludesFile"),
    ("core", Sub::No, "attributesfile", "core.attributesFile"),
    ("core", Sub::No, "hookspath", "core.hooksPath"),
    ("commit", Sub::No, "template", "commit.template"),
    ("init", Sub::No, "templatedir", "init.templateDir"),
    ("mailmap", Sub::No, "file", "mailmap.file"),
    ("blame", Sub::No, "ignorerevsfile", "blame.ignoreRevsFile"),
    (
        "gpg",
        Sub::Is("ssh"),
        "allowedsignersfile",
        "gpg.ssh.allowedSignersFile",
    ),
    (
        "gpg",
        Sub::Is("ssh"),
        "revocationfile",
        "gpg.ssh.revocationFile",
    ),
    ("user", Sub::No, "signingkey", "user.signingKey"),
    ("http", Sub::Any, "sslcainfo", "http.sslCAInfo"),
    ("http", Sub::Any, "sslcapath", "http.sslCAPath"),
    ("http", Sub::Any, "sslcert", "http.sslCert"),
    ("http", Sub::Any, "sslkey", "http.sslKey"),
    ("http", Sub::Any, "cookiefile", "http.cookieFile"),
];

/// The system configuration file, unless `GIT_CONFIG_SYSTEM` names another.
pub const SYSTEM: &str = "/etc/gitconfig";

/// How deep includes are followed (git's own limit).
const MAX_DEPTH: usize = 10;

/// The most bytes read of one configuration file.
const MAX_FILE: u64 = 1 << 20;

/// What configuration files and named paths exist: whether the system file is read
/// (and exists), and the named paths. `known` gives the contents of files already
/// read (the staged `~/.gitconfig`).
pub fn gather(host: &Host, known: &dyn Fn(&Path) -> Option<Vec<u8>>) -> (bool, Vec<Named>) {
    let var = |k: &str| host.var(k).filter(|v| !v.is_empty());
    let mut found = Found {
        host,
        known,
        named: Vec::new(),
        read: Vec::new(),
    };
    let no_system = var("GIT_CONFIG_NOSYSTEM").is_some_and(|v| truthy(v.as_bytes()));
    let mut system = false;
    if !no_system {
        match var("GIT_CONFIG_SYSTEM") {
            Some(p) => found.variable("GIT_CONFIG_SYSTEM", Path::new(p)),
            None => system = found.file(Path::new(SYSTEM), 0),
        }
    }
    match var("GIT_CONFIG_GLOBAL") {
        Some(p) => found.variable("GIT_CONFIG_GLOBAL", Path::new(p)),
        None => {
            for rel in [".gitconfig", ".config/git/config"] {
                found.file(&host.home.join(rel), 0);
            }
        }
    }
    (system, found.named)
}

/// git's boolean for a variable: true unless empty, `0`, `false`, `no` or `off`.
fn truthy(v: &[u8]) -> bool {
    let v = v.to_ascii_lowercase();
    !matches!(&v[..], b"" | b"0" | b"false" | b"no" | b"off")
}

struct Found<'a> {
    host: &'a Host,
    known: &'a dyn Fn(&Path) -> Option<Vec<u8>>,
    named: Vec<Named>,
    /// Files read so far: each once (includes may loop).
    read: Vec<PathBuf>,
}

impl Found<'_> {
    /// A configuration file a variable names: kept as named, and read.
    fn variable(&mut self, var: &str, path: &Path) {
        let path = normalize(&self.host.cwd.join(path));
        self.keep(&path, By::Variable(var.to_owned()));
        self.file(&path, 0);
    }

    /// Reads the configuration file `path` (`depth` includes deep), keeping what it
    /// names. Returns whether it exists.
    fn file(&mut self, path: &Path, depth: usize) -> bool {
        if depth > MAX_DEPTH || self.read.iter().any(|r| r == path) {
            return false;
        }
        self.read.push(path.to_owned());
        let Some(text) = (self.known)(path).or_else(|| read(path)) else {
            return false;
        };
        let dir = path.parent().unwrap_or(Path::new("/")).to_owned();
        for e in parse(&text) {
            self.entry(&e, path, &dir, depth);
        }
        true
    }

    fn entry(&mut self, e: &Entry, file: &Path, dir: &Path, depth: usize) {
        let Some(value) = e.value.as_deref().filter(|v| !v.is_empty()) else {
            return;
        };
        let by = |key: &str| By::Key {
            key: key.to_owned(),
            file: file.to_owned(),
        };
        if e.key == "path" && (e.section == "include" || e.section == "includeif") {
            let key = if e.section == "include" {
                "include.path"
            } else {
                "includeIf.*.path"
            };
            // Relative to the including file's directory.
            if let Some(p) = self.expand(value, Some(dir)) {
                self.keep(&p, by(key));
                self.file(&p, depth + 1);
            }
            return;
        }
        if e.is("credential", "helper") {
            for p in helper_paths(value) {
                if let Some(p) = self.expand(&p, None) {
                    self.keep(&p, by("credential.helper"));
                }
            }
            return;
        }
        let key = KEYS.iter().find(|(section, sub, key, _)| {
            e.section == *section
                && e.key == *key
                && match (sub, e.subsection.as_deref()) {
                    (Sub::No, None) | (Sub::Any, _) => true,
                    (Sub::Is(want), Some(have)) => want.as_bytes() == have,
                    _ => false,
                }
        });
        if let Some((_, _, _, key)) = key
            && let Some(p) = self.expand(value, None)
        {
            self.keep(&p, by(key));
        }
    }

    /// A pathname value made absolute: `~/` is the home directory, `~USER/` only for the
    /// caller; a relative path counts relative to `base` (an include's directory), and
    /// is otherwise not looked at (git takes it relative to the repository, which is
    /// mounted). None for what cannot be resolved here (`%(prefix)/`, another user).
    fn expand(&self, value: &[u8], base: Option<&Path>) -> Option<PathBuf> {
        let path = if let Some(rest) = value.strip_prefix(b"~") {
            let (user, rest) = match rest.iter().position(|&b| b == b'/') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &b""[..]),
            };
            if !user.is_empty() && user != self.host.user.as_bytes() {
                return None;
            }
            self.host.home.join(OsStr::from_bytes(rest))
        } else if value.starts_with(b"/") {
            PathBuf::from(OsStr::from_bytes(value))
        } else if value.starts_with(b"%(") {
            return None;
        } else {
            base?.join(OsStr::from_bytes(value))
        };
        Some(normalize(&path))
    }

    /// Keeps `path` if something is there.
    fn keep(&mut self, path: &Path, by: By) {
        if self.named.iter().any(|n| n.path == path) {
            return;
        }
        let Ok(real) = std::fs::canonicalize(path) else {
            return;
        };
        let Ok(m) = std::fs::metadata(&real) else {
            return;
        };
        let node = if m.is_dir() { Node::Dir } else { Node::File };
        self.named.push(Named {
            path: path.to_owned(),
            real,
            node,
            by,
        });
    }
}

/// The files a credential helper keeps credentials in, when it says: `store --file
/// PATH`, `cache --socket PATH`, and their defaults. (`~/.git-credentials` is a
/// read-write home path of the git recipe already.)
fn helper_paths(value: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(value);
    let mut words = text
        .split_whitespace()
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"'));
    let helper = words.next().unwrap_or_default();
    let helper = helper.strip_prefix("git-credential-").unwrap_or(helper);
    let (option, defaults): (&str, &[&str]) = match helper {
        "store" => ("--file", &[]),
        "cache" => (
            "--socket",
            &[
                "~/.cache/git/credential/socket",
                "~/.git-credential-cache/socket",
            ],
        ),
        _ => return Vec::new(),
    };
    let rest: Vec<&str> = words.collect();
    for (i, w) in rest.iter().enumerate() {
        if let Some(v) = w.strip_prefix(option).and_then(|v| v.strip_prefix('=')) {
            return vec![v.as_bytes().to_vec()];
        }
        if *w == option
            && let Some(v) = rest.get(i + 1)
        {
            return vec![v.as_bytes().to_vec()];
        }
    }
    defaults.iter().map(|d| d.as_bytes().to_vec()).collect()
}

/// The start of a regular file, without blocking on a FIFO.
fn read(path: &Path) -> Option<Vec<u8>> {
    crate::base::paths::read_regular(path, MAX_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(home: &Path, env: &[(&str, &str)]) -> Host {
        Host {
            uid: 1000,
            gid: 1000,
            user: "alice".into(),
            group: None,
            home: home.to_owned(),
            shell: None,
            cwd: home.to_owned(),
            env: env.iter().map(|(k, v)| (k.into(), v.into())).collect(),
        }
    }

    #[test]
    fn named_paths_includes_and_credential_stores_are_found_when_they_exist() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path();
        let w = |rel: &str, text: &str| {
            let p = home.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        w(
            ".gitconfig",
            "[core]\n\texcludesFile = ~/.gitignore_global\n\thooksPath = ~alice/hooks\n\
             [include]\n\tpath = .gitconfig.d/extra\n\
             [includeIf \"gitdir:~/work/\"]\n\tpath = ~/.gitconfig-work\n\
             [credential]\n\thelper = store --file ~/.my-credentials\n\
             [credential \"https://x\"]\n\thelper = cache\n\
             [http \"https://y\"]\n\tsslCert = ~/certs/y.pem\n\
             [gpg \"ssh\"]\n\tallowedSignersFile = ~/.allowed\n\
             [commit]\n\ttemplate = ~/nowhere\n\tother = ~/not-a-path-key\n",
        );
        w(".gitconfig.d/extra", "[commit]\n\ttemplate = ~/.template\n");
        w(".gitconfig-work", "[include]\n\tpath = ~/.gitconfig\n");
        for f in [
            ".gitignore_global",
            ".my-credentials",
            ".cache/git/credential/socket",
            "certs/y.pem",
            ".allowed",
            ".template",
            "not-a-path-key",
        ] {
            w(f, "");
        }
        std::fs::create_dir(home.join("hooks")).unwrap();
        let h = host(home, &[("GIT_CONFIG_NOSYSTEM", "1")]);
        let (system, named) = gather(&h, &|_| None);
        assert!(!system);
        let got: Vec<(String, String)> = named
            .iter()
            .map(|n| {
                let rel = n.path.strip_prefix(home).unwrap().display().to_string();
                let key = match &n.by {
                    By::Key { key, .. } => key.clone(),
                    By::Variable(v) => v.clone(),
                };
                (rel, key)
            })
            .collect();
        let want: Vec<(String, String)> = [
            (".gitignore_global", "core.excludesFile"),
            ("hooks", "core.hooksPath"),
            (".gitconfig.d/extra", "include.path"),
            (".template", "commit.template"),
            (".gitconfig-work", "includeIf.*.path"),
            (".gitconfig", "include.path"),
            (".my-credentials", "credential.helper"),
            (".cache/git/credential/socket", "credential.helper"),
            ("certs/y.pem", "http.sslCert"),
            (".allowed", "gpg.ssh.allowedSignersFile"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
        assert_eq!(named[1].node, Node::Dir);
    }

    #[test]
    fn variables_replace_the_default_files_and_the_system_file_counts_when_read() {
        let t = tempfile::tempdir().unwrap();
        let home = t.path();
        std::fs::write(home.join(".gitconfig"), "[commit]\ntemplate = ~/.t\n").unwrap();
        std::fs::write(home.join(".t"), "").unwrap();
        let global = home.join("other.conf");
        std::fs::write(&global, "[core]\nexcludesFile = ~/.t\n").unwrap();
        let h = host(
            home,
            &[
                ("GIT_CONFIG_GLOBAL", global.to_str().unwrap()),
                ("GIT_CONFIG_NOSYSTEM", "0"),
            ],
        );
        let (system, named) = gather(&h, &|_| None);
        assert_eq!(system, Path::new(SYSTEM).is_file());
        let keys: Vec<_> = named
            .iter()
            .filter(|n| n.path.starts_with(home))
            .map(|n| (n.path.file_name().unwrap().to_owned(), n.by.clone()))
            .collect();
        assert_eq!(
            keys,
            [
                (
                    "other.conf".into(),
                    By::Variable("GIT_CONFIG_GLOBAL".into())
                ),
                (
                    ".t".into(),
                    By::Key {
                        key: "core.excludesFile".into(),
                        file: global.clone()
                    }
                ),
            ]
        );
        // What the launch read already is not read again.
        let h = host(home, &[("GIT_CONFIG_NOSYSTEM", "yes")]);
        let (_, named) = gather(&h, &|p| {
            (p == home.join(".gitconfig")).then(|| b"[core]\nhooksPath = ~/.t\n".to_vec())
        });
        assert_eq!(named.len(), 1);
        assert_eq!(
            named[0].by,
            By::Key {
                key: "core.hooksPath".into(),
                file: home.join(".gitconfig")
            }
        );
    }
}
