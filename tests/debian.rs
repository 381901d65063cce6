//! The built-in Debian recipes for real: git, npm and gitk images bootstrapped from the
//! Debian mirror, npm talking to the npm registry, gitk drawing on an Xvfb display.
//! Every test runs once per identity (see `common`), with the images of
//! `common::debian` (built once, shared by every test process).
//!
//! The npm tests reach the real npm registry. On a host behind a TLS-inspecting proxy
//! they pass only because the `npm` recipe trusts the host's CA bundle (`host_ca`):
//! the image's own bundle does not know the proxy's authority.

mod common;

#[path = "debian/git.rs"]
mod git;
#[path = "debian/gitk.rs"]
mod gitk;
#[path = "debian/image.rs"]
mod image;
#[path = "debian/npm.rs"]
mod npm;
#[path = "debian/workspace.rs"]
mod workspace;

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::debian::*;
use common::*;

/// The recipes this file's tests use, installed once in the shared `JIG_HOME`.
const TOOLS: &[&str] = &["git", "npm", "gitk", "vim"];

/// One fresh environment per identity, with [`TOOLS`] installed.
fn setups() -> Vec<T> {
    setups_with(TOOLS)
}

// ---------------------------------------------------------------------------------
// git
// ---------------------------------------------------------------------------------

#[test]
fn git_commits_as_the_gitconfig_user_and_leaves_files_owned_by_the_caller() {
    for t in setups() {
        let l = t.label();
        t.write_gitconfig();
        let out = t.git(&["init"]);
        assert_ok(&out, &format!("{l} git init"));
        assert!(
            stdout(&out).contains(&format!(
                "Initialized empty Git repository in {}/.git/",
                t.project().display()
            )),
            "{l} {}",
            stdout(&out)
        );
        // init.defaultBranch from ~/.gitconfig was read.
        assert_eq!(t.git_ok(&["symbolic-ref", "HEAD"]), "refs/heads/trunk\n");

        t.env.write(&t.project().join("hello.txt"), "hello\n");
        t.git_ok(&["add", "hello.txt"]);
        t.git_ok(&["commit", "-m", "first commit"]);
        assert_eq!(
            t.git_ok(&["log", "--format=%an <%ae>|%cn <%ce>|%s"]),
            "Jig Tester <jig-tester@example.invalid>|Jig Tester <jig-tester@example.invalid>|first commit\n",
            "{l}"
        );

        // A file git itself writes into the work tree.
        fs::remove_file(t.project().join("hello.txt")).unwrap();
        t.git_ok(&["checkout", "--", "hello.txt"]);
        assert_eq!(
            fs::read_to_string(t.project().join("hello.txt")).unwrap(),
            "hello\n",
            "{l}"
        );
        t.git_ok(&["branch", "side"]);

        // Everything in .git and the work tree is the caller's.
        let n = t.assert_owned_tree(&t.project());
        assert!(n > 20, "{l} only {n} entries in the project");
        for p in [
            ".git/HEAD",
            ".git/index",
            ".git/refs/heads/side",
            "hello.txt",
        ] {
            assert!(t.project().join(p).exists(), "{l} {p} missing");
        }

        // git status, clean and dirty.
        let status = t.git_ok(&["status"]);
        assert!(
            status.contains("On branch trunk")
                && status.contains("nothing to commit, working tree clean"),
            "{l} {status}"
        );
        t.env.write(&t.project().join("hello.txt"), "changed\n");
        t.env.write(&t.project().join("new.txt"), "new\n");
        assert_eq!(
            t.git_ok(&["status", "--porcelain"]),
            " M hello.txt\n?? new.txt\n",
            "{l}"
        );
        let status = t.git_ok(&["status"]);
        assert!(status.contains("modified:   hello.txt"), "{l} {status}");
    }
}

#[test]
fn git_log_pipes_into_host_commands_without_escape_codes() {
    for t in setups() {
        let l = t.label();
        t.repo_with_commits(3);

        // A host shell finds git through the shim directory and pipes it on.
        let out = t.host_sh("command -v git; git log --oneline | wc -l");
        assert_ok(&out, &format!("{l} host pipeline"));
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().map(str::trim).collect();
        let shim = t.shared.shims().join("git");
        assert_eq!(lines, [shim.to_str().unwrap(), "3"], "{l} {text}");
        let out = t.host_sh("git log --format=%s | sort -r | tr '\\n' ,");
        assert_ok(&out, &format!("{l} host pipeline"));
        assert_eq!(stdout(&out), "c3,c2,c1,", "{l}");

        // Not a terminal: no pager, no colours, even with TERM set and the defaults.
        for args in [
            &["log"][..],
            &["log", "--oneline", "--decorate", "--graph"],
            &["branch", "-a"],
            &["show", "--stat"],
        ] {
            let out = t.git(args);
            assert_ok(&out, &format!("{l} git {args:?}"));
            let text = stdout(&out);
            assert!(!text.is_empty(), "{l} git {args:?} printed nothing");
            assert!(
                !text.contains('\x1b'),
                "{l} git {args:?} wrote escape codes into a pipe: {text:?}"
            );
        }
        assert!(
            t.git_ok(&["log"]).contains("Author: Jig Tester"),
            "{l} git log"
        );
        // The check above can see escape codes when git does write them.
        assert!(
            t.git_ok(&["log", "--oneline", "--color=always"])
                .contains('\x1b'),
            "{l} --color=always wrote no escape codes"
        );
    }
}

#[test]
fn git_failures_return_gits_own_exit_codes() {
    for t in setups() {
        let l = t.label();
        t.write_gitconfig();

        // Outside a repository.
        let out = t.git(&["status"]);
        assert_code(&out, 128, &format!("{l} git status outside a repo"));
        assert!(
            stderr(&out).contains("not a git repository"),
            "{l} {}",
            stderr(&out)
        );

        t.repo_with_commits(1);
        let out = t.git(&["rev-parse", "--verify", "nosuchref"]);
        assert_code(&out, 128, &format!("{l} git rev-parse --verify nosuchref"));
        assert_eq!(
            stderr(&out),
            "fatal: Needed a single revision\n",
            "{l} stderr"
        );
        assert_eq!(stdout(&out), "", "{l} stdout");

        let out = t.git(&["rev-parse", "--verify", "--quiet", "nosuchref"]);
        assert_code(&out, 1, &format!("{l} git rev-parse --verify --quiet"));

        t.env.write(&t.project().join("file1.txt"), "changed\n");
        let out = t.git(&["diff", "--exit-code", "--quiet"]);
        assert_code(&out, 1, &format!("{l} git diff --exit-code with a change"));

        let out = t.git(&["nosuchcommand"]);
        assert_code(&out, 1, &format!("{l} git nosuchcommand"));
        assert!(
            stderr(&out).contains("'nosuchcommand' is not a git command"),
            "{l} {}",
            stderr(&out)
        );

        // Through a host shell too.
        let out = t.host_sh("git rev-parse --verify nosuchref 2>/dev/null; echo rc=$?");
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "rc=128\n", "{l}");
    }
}

/// An sshd on a free loopback port, run as the identity, letting in the identity's
/// own user with the key `~/.ssh/id_ed25519`.
struct Sshd {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Sshd {
    fn start(t: &T, dir: &Path, user_key: &Path) -> Sshd {
        let l = t.label();
        let keygen = |path: &Path| {
            let mut c = t.command("/usr/bin/ssh-keygen");
            c.args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(path);
            assert_ok(&run(c), &format!("{l} ssh-keygen {}", path.display()));
        };
        keygen(&dir.join("hostkey"));
        keygen(user_key);
        let pubkey = fs::read_to_string(user_key.with_extension("pub")).unwrap();
        t.env.write(&dir.join("authorized_keys"), pubkey);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .unwrap()
            .port();
        let config = dir.join("sshd_config");
        t.env.write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\n\
                 AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\nPidFile none\n",
                d = dir.display()
            ),
        );
        if t.env.who.uid == 0 {
            // sshd run as root wants its privilege separation directory.
            fs::create_dir_all("/run/sshd").unwrap();
        }
        let log = dir.join("sshd.log");
        let mut c = t.command("/usr/sbin/sshd");
        c.args(["-D", "-e", "-f"])
            .arg(&config)
            .stderr(File::create(&log).unwrap());
        let child = c
            .spawn()
            .expect("/usr/sbin/sshd (Debian: openssh-server) is needed");
        let mut sshd = Sshd { child, port, log };
        let up = poll(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        if up.is_none() {
            let _ = sshd.child.kill();
            panic!("{l} sshd did not listen: {}", sshd.log_text());
        }
        sshd
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn git_over_ssh_uses_the_users_key_and_config_and_records_the_host_key() {
    for t in setups() {
        let l = t.label();
        t.write_gitconfig();
        let srv = t.env.dir().join("sshd");
        t.env.mkdir(&srv);
        let ssh = t.home().join(".ssh");
        t.env.mkdir(&ssh);
        fs::set_permissions(&ssh, fs::Permissions::from_mode(0o700)).unwrap();
        let sshd = Sshd::start(&t, &srv, &ssh.join("id_ed25519"));
        // What a user has: a host alias in ~/.ssh/config, and a known_hosts file.
        t.env.write(
            &ssh.join("config"),
            format!(
                "Host testhost\n  HostName 127.0.0.1\n  Port {}\n  User {}\n  \
                 StrictHostKeyChecking accept-new\n",
                sshd.port, t.env.who.name
            ),
        );
        let known_hosts = ssh.join("known_hosts");
        t.env.write(&known_hosts, "");
        // The remote, made with the host's git (which sshd runs for git-upload-pack).
        let remote = srv.join("remote.git");
        let mut c = t.command("/usr/bin/git");
        c.args(["init", "-q", "--bare"]).arg(&remote);
        assert_ok(&run(c), &format!("{l} git init --bare"));

        let url = format!("testhost:{}", remote.display());
        let out = t.git(&["clone", "-q", &url, "work"]);
        assert_ok(
            &out,
            &format!("{l} git clone over ssh: {}", sshd.log_text()),
        );
        // A new host's key, accepted as ~/.ssh/config says, is kept for next time
        // (under a hashed name: Debian's ssh_config sets HashKnownHosts).
        let known = fs::read_to_string(&known_hosts).unwrap();
        let host_key = fs::read_to_string(srv.join("hostkey.pub")).unwrap();
        let host_key = host_key
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            known.lines().count() == 1 && known.trim_end().ends_with(&host_key),
            "{l} known_hosts: {known:?}; git said: {}",
            stderr(&out)
        );

        let work = t.project().join("work");
        let git_in = |args: &[&str]| {
            let mut c = t.shim_cmd("git", args);
            c.current_dir(&work);
            let out = run(c);
            assert_ok(&out, &format!("{l} git {}", args.join(" ")));
            out
        };
        t.env.write(&work.join("a.txt"), "over ssh\n");
        git_in(&["add", "a.txt"]);
        git_in(&["commit", "-q", "-m", "pushed over ssh"]);
        let out = git_in(&["push", "-q", "origin", "HEAD"]);
        // The second connection found the key it recorded: no new warning.
        assert!(!stderr(&out).contains("Warning"), "{l}: {}", stderr(&out));
        let mut c = t.command("/usr/bin/git");
        c.arg("--git-dir")
            .arg(&remote)
            .args(["log", "--format=%s %an"]);
        let out = run(c);
        assert_ok(&out, &format!("{l} git log in the remote"));
        assert_eq!(stdout(&out), "pushed over ssh Jig Tester\n", "{l}");
    }
}

/// `git commit` without `-m`, in a terminal, through the editor the image provides:
/// Debian's `editor` (nano) when `EDITOR` is unset, vi when it names vi; and with
/// `EDITOR=vim`, which the git image lacks, the vim recipe's shim in a nested container.
#[test]
fn git_commit_opens_an_editor_in_the_terminal() {
    use common::tmux::Tmux;
    for t in setups() {
        let l = t.label();
        t.repo_with_commits(1);
        // So `EDITOR=vim` can only be the vim recipe's shim.
        let rootfs = t
            .shared
            .jig_home()
            .join("store/images")
            .join(t.image_id("git").trim_start_matches("sha256:"))
            .join("rootfs");
        // (Links in the image point into the image: look at them, not through them.)
        let has = |p: &str| fs::symlink_metadata(rootfs.join(p)).is_ok();
        assert!(has("usr/bin/vi"), "{l} {}", rootfs.display());
        assert!(!has("usr/bin/vim"), "{l}");
        let path = format!("{}:/usr/bin:/bin", t.shared.shims().display());
        for editor in ["", "vi", "vim"] {
            let command = format!(
                "cd {} && git commit -q --allow-empty; echo rc=$?; sleep 30",
                t.project().display()
            );
            let mut vars = vec![
                ("JIG_HOME", t.shared.jig_home().into_os_string()),
                ("PATH", path.clone().into()),
            ];
            if !editor.is_empty() {
                vars.push(("EDITOR", editor.into()));
            }
            let vars: Vec<(&str, &std::ffi::OsStr)> =
                vars.iter().map(|(k, v)| (*k, v.as_os_str())).collect();
            let tmux = Tmux::start_with(&t.env, &command, &vars);
            let message = if editor.is_empty() {
                tmux.wait_for("GNU nano");
                tmux.send(&["-l", "from nano"]);
                tmux.send(&["C-x"]);
                tmux.wait_for("Save modified buffer");
                tmux.send(&["y"]);
                // nano 8 (trixie) asks "Write to File", nano 7 "File Name to Write".
                tmux.wait_for("Write to File");
                tmux.send(&["Enter"]);
                "from nano".to_owned()
            } else {
                tmux.wait_for("COMMIT_EDITMSG");
                tmux.send(&["i"]);
                tmux.send(&["-l", &format!("from {editor}")]);
                tmux.send(&["Escape"]);
                tmux.send(&["-l", ":wq"]);
                tmux.send(&["Enter"]);
                format!("from {editor}")
            };
            let (rc, screen) = tmux.wait_for_number("rc=");
            assert_eq!(rc, 0, "{l} EDITOR={editor:?}: {screen}");
            drop(tmux);
            assert_eq!(
                t.git_ok(&["log", "-1", "--format=%s"]),
                format!("{message}\n"),
                "{l} EDITOR={editor:?}"
            );
        }
    }
}
