//! The host's GnuPG for `[mounts] gpg` ([`crate::launch::gpg`]): the home directory is
//! an ephemeral 0700 directory (gpg refuses a group- or world-accessible one) with the
//! public files bound read-only, the trust database copied in (writable, ephemeral),
//! and the agent's restricted socket is bound where gpg
//! connects (`S.gpg-agent`). Nothing is mounted without the restricted socket: the
//! full one would hand the tool every command of the agent.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::launch::bindable::from_env_bindable;
use crate::launch::facts::Facts;
use crate::launch::gpg::{AGENT, EXTRA, TRUSTDB};
use crate::runtime::spec::{Bind, File, Node};

/// What GnuPG adds to a plan.
#[derive(Debug, Default)]
pub struct Gpg {
    /// The public files, read-only, each at its own path.
    pub binds: Vec<Bind>,
    /// The agent's socket (source and target differ), bound after every other bind.
    pub sockets: Vec<Bind>,
    /// Directories gpg needs private (0700).
    pub dirs: Vec<(PathBuf, u32)>,
    /// The trust database's ephemeral copy.
    pub files: Vec<File>,
    /// `GNUPGHOME`, when the caller set it.
    pub env: Vec<(String, String)>,
    /// Paths not mounted, with the reason.
    pub skipped: Vec<(OsString, String)>,
}

/// GnuPG's part of a launch on `facts`, which `jig_dirs` judge.
pub fn plan(facts: &Facts, jig_dirs: &[PathBuf]) -> Gpg {
    let mut out = Gpg::default();
    let Some(g) = &facts.gpg else {
        return out;
    };
    let host = &facts.host;
    if g.from_var {
        if let Err(why) = from_env_bindable(&g.home, host, jig_dirs) {
            out.skipped
                .push((format!("$GNUPGHOME ({})", g.home.display()).into(), why));
            return out;
        }
        out.env
            .push(("GNUPGHOME".to_owned(), g.home.display().to_string()));
    }
    let nothing = g.files.is_empty() && g.trustdb.is_none() && !g.extra;
    let inside = facts
        .workspace
        .roots()
        .iter()
        .any(|r| g.home.starts_with(r));
    if nothing || inside {
        return out;
    }
    out.dirs.push((g.home.clone(), 0o700));
    if g.socket_dir != g.home {
        if let Some(run_user) = g.socket_dir.parent() {
            out.dirs.push((run_user.to_owned(), 0o700));
        }
        out.dirs.push((g.socket_dir.clone(), 0o700));
    }
    if let Some(trustdb) = &g.trustdb {
        out.files.push(File {
            dst: g.home.join(TRUSTDB),
            contents: trustdb.clone(),
            mode: 0o600,
        });
    }
    for f in &g.files {
        out.binds.push(Bind {
            src: f.clone(),
            dst: f.clone(),
            node: Node::File,
            readonly: true,
        });
    }
    if g.extra {
        out.sockets.push(Bind {
            src: g.socket_dir.join(EXTRA),
            dst: g.socket_dir.join(AGENT),
            node: Node::File,
            readonly: false,
        });
    } else if g.full {
        out.skipped.push((
            g.socket_dir.join(AGENT).into_os_string(),
            format!(
                "gpg-agent offers no restricted socket ({EXTRA}); the full one is not \
                 passed on"
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::gpg::GpgFacts;
    use crate::launch::plan::testing::*;

    #[test]
    fn public_files_read_only_and_the_restricted_socket_as_the_agent() {
        let mut f = facts("/home/alice", "/w/p");
        f.gpg = Some(GpgFacts {
            home: p("/home/alice/.gnupg"),
            from_var: false,
            files: vec![p("/home/alice/.gnupg/pubring.kbx")],
            trustdb: Some(b"db".to_vec()),
            socket_dir: p("/run/user/1234/gnupg"),
            extra: true,
            full: true,
        });
        let g = plan(&f, &[]);
        assert_eq!(
            g.binds,
            [Bind {
                src: p("/home/alice/.gnupg/pubring.kbx"),
                dst: p("/home/alice/.gnupg/pubring.kbx"),
                node: Node::File,
                readonly: true
            }]
        );
        assert_eq!(
            g.sockets[0].src,
            p("/run/user/1234/gnupg/S.gpg-agent.extra")
        );
        assert_eq!(g.sockets[0].dst, p("/run/user/1234/gnupg/S.gpg-agent"));
        assert_eq!(
            g.dirs,
            [
                (p("/home/alice/.gnupg"), 0o700),
                (p("/run/user/1234"), 0o700),
                (p("/run/user/1234/gnupg"), 0o700)
            ]
        );
        // Without the restricted socket, the full one is not passed on.
        let mut no_extra = f.clone();
        if let Some(g) = no_extra.gpg.as_mut() {
            g.extra = false;
        }
        let g = plan(&no_extra, &[]);
        assert!(g.sockets.is_empty());
        assert_eq!(g.skipped.len(), 1);
        // A GNUPGHOME that may not be bound brings nothing.
        let mut bad = f.clone();
        if let Some(g) = bad.gpg.as_mut() {
            g.home = p("/home/alice");
            g.from_var = true;
        }
        let g = plan(&bad, &[]);
        assert!(g.binds.is_empty() && g.sockets.is_empty() && g.env.is_empty());
        assert!(
            g.skipped[0].1.contains("whole home directory"),
            "{:?}",
            g.skipped
        );
    }
}
