//! dex's image labels (`org.dockerland.dex.*`), read from the final stage as raw
//! strings and split at spaces. Nothing is evaluated: dex runs label values through a
//! shell (`$(git rev-parse --show-toplevel)`), jig never does, so a value that needs
//! one is flagged for the caller to refuse. Mapping the values to recipe fields is the
//! caller's business.

use std::collections::BTreeMap;

use super::op::Resolved;

/// The prefix of dex's labels.
pub const PREFIX: &str = "org.dockerland.dex.";

/// One label's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DexValue {
    /// The value as the image holds it (after Docker's substitution).
    pub raw: String,
    /// The value split at whitespace (dex's lists: `docker_volumes`, `docker_envars`,
    /// `docker_devices`, `docker_flags`, ...).
    pub words: Vec<String>,
    /// The value holds `$(`, a backtick, `${` or `$NAME`: dex would have a shell
    /// expand it, which jig does not do.
    pub needs_shell: bool,
}

impl DexValue {
    fn new(raw: &str) -> DexValue {
        DexValue {
            raw: raw.to_owned(),
            words: raw.split_whitespace().map(str::to_owned).collect(),
            needs_shell: needs_shell(raw),
        }
    }
}

/// dex's labels of an image; a field is `None` when the label is absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DexLabels {
    /// `api`: the label format (`v1`).
    pub api: Option<DexValue>,
    /// `docker_envars`: host variables passed in (globs; dex's default `LANG TZ`).
    pub docker_envars: Option<DexValue>,
    /// `docker_volumes`: `host:container[:ro|rw]` binds.
    pub docker_volumes: Option<DexValue>,
    /// `docker_home`: the home directory (`~` for the real one).
    pub docker_home: Option<DexValue>,
    /// `docker_workspace`: where the working directory is mounted.
    pub docker_workspace: Option<DexValue>,
    /// `host_paths`: `ro`/`rw` to mount `$HOME` and `$PWD` at their own paths.
    pub host_paths: Option<DexValue>,
    /// `host_users`: pass the host's users and groups.
    pub host_users: Option<DexValue>,
    /// `window`: X11 (socket, DISPLAY, cookie).
    pub window: Option<DexValue>,
    /// `docker_devices`: devices passed in.
    pub docker_devices: Option<DexValue>,
    /// `docker_groups`: supplementary groups.
    pub docker_groups: Option<DexValue>,
    /// `docker_flags`: raw `docker run` flags.
    pub docker_flags: Option<DexValue>,
    /// `host_docker`: the host's Docker socket.
    pub host_docker: Option<DexValue>,
    /// Any other `org.dockerland.dex.*` label, by its name without the prefix.
    pub other: BTreeMap<String, DexValue>,
}

impl DexLabels {
    /// Reads dex's labels out of an image's labels.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> DexLabels {
        let mut out = DexLabels::default();
        for (key, value) in labels {
            let Some(name) = key.strip_prefix(PREFIX) else {
                continue;
            };
            let v = Some(DexValue::new(value));
            match name {
                "api" => out.api = v,
                "docker_envars" => out.docker_envars = v,
                "docker_volumes" => out.docker_volumes = v,
                "docker_home" => out.docker_home = v,
                "docker_workspace" => out.docker_workspace = v,
                "host_paths" => out.host_paths = v,
                "host_users" => out.host_users = v,
                "window" => out.window = v,
                "docker_devices" => out.docker_devices = v,
                "docker_groups" => out.docker_groups = v,
                "docker_flags" => out.docker_flags = v,
                "host_docker" => out.host_docker = v,
                _ => {
                    out.other.insert(name.to_owned(), DexValue::new(value));
                }
            }
        }
        out
    }

    /// Every label present, by name without the prefix.
    pub fn all(&self) -> Vec<(&str, &DexValue)> {
        let named = [
            ("api", &self.api),
            ("docker_envars", &self.docker_envars),
            ("docker_volumes", &self.docker_volumes),
            ("docker_home", &self.docker_home),
            ("docker_workspace", &self.docker_workspace),
            ("host_paths", &self.host_paths),
            ("host_users", &self.host_users),
            ("window", &self.window),
            ("docker_devices", &self.docker_devices),
            ("docker_groups", &self.docker_groups),
            ("docker_flags", &self.docker_flags),
            ("host_docker", &self.host_docker),
        ];
        let mut out: Vec<_> = named
            .into_iter()
            .filter_map(|(n, v)| Some((n, v.as_ref()?)))
            .collect();
        out.extend(self.other.iter().map(|(n, v)| (n.as_str(), v)));
        out
    }

    /// The labels whose values need a shell, by name: what the caller refuses.
    pub fn needing_shell(&self) -> Vec<&str> {
        self.all()
            .into_iter()
            .filter(|(_, v)| v.needs_shell)
            .map(|(n, _)| n)
            .collect()
    }

    /// No dex label at all: not a dex image.
    pub fn is_empty(&self) -> bool {
        self.all().is_empty()
    }
}

impl Resolved {
    /// dex's labels of the final stage.
    pub fn dex_labels(&self) -> DexLabels {
        DexLabels::from_labels(&self.last().labels)
    }
}

/// `$(`, `` ` ``, `${` or `$NAME`: text a shell would expand.
fn needs_shell(v: &str) -> bool {
    let b = v.as_bytes();
    b.contains(&b'`')
        || b.windows(2).any(|w| {
            w[0] == b'$'
                && (w[1] == b'(' || w[1] == b'{' || w[1] == b'_' || w[1].is_ascii_alphanumeric())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_needing_a_shell_are_flagged() {
        for v in [
            "$(git rev-parse --show-toplevel):/src",
            "`pwd`:/src",
            "${HOME}/.ssh",
            "$HOME/x",
            "cost $5",
        ] {
            assert!(needs_shell(v), "{v}");
        }
        for v in ["~", "/tmp/vol:/tmp/ro:ro", "TEST_* TZ LANG", "a$", "$ x"] {
            assert!(!needs_shell(v), "{v}");
        }
    }

    #[test]
    fn labels_are_split_and_sorted_out() {
        let mut labels = BTreeMap::new();
        labels.insert(format!("{PREFIX}api"), "v1".to_owned());
        labels.insert(
            format!("{PREFIX}docker_volumes"),
            "/a:/b  /c:/d:ro".to_owned(),
        );
        labels.insert(format!("{PREFIX}expose_rootfs"), "true".to_owned());
        labels.insert("maintainer".to_owned(), "someone".to_owned());
        let dex = DexLabels::from_labels(&labels);
        assert_eq!(dex.api.as_ref().unwrap().raw, "v1");
        assert_eq!(
            dex.docker_volumes.as_ref().unwrap().words,
            ["/a:/b", "/c:/d:ro"]
        );
        assert_eq!(dex.other["expose_rootfs"].raw, "true");
        assert_eq!(dex.all().len(), 3);
        assert!(dex.needing_shell().is_empty());
        assert!(DexLabels::from_labels(&BTreeMap::new()).is_empty());
    }
}
