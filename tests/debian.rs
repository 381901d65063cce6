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

// ---------------------------------------------------------------------------------
// The image itself
// ---------------------------------------------------------------------------------

#[test]
fn second_install_is_up_to_date_and_keeps_the_image() {
    for t in setups() {
        let l = t.label();
        let before = t.image_id("git");
        let images_before = fs::read_dir(t.shared.jig_home().join("store/images"))
            .unwrap()
            .count();
        let install = || t.jig(&["install", "git"]);
        let mut out = install();
        assert_ok(&out, &format!("{l} jig install git again"));
        if stderr(&out).contains("bootstrapping") {
            // The mirror published a new package index since the shared build (a
            // point release): that rebuild is legitimate. The next one must not be.
            eprintln!("{l} the Debian index changed since the shared build; installing again");
            out = install();
            assert_ok(&out, &format!("{l} jig install git a third time"));
        }
        let after = t.image_id("git");
        let err = stderr(&out);
        let short = after.strip_prefix("sha256:").unwrap_or(&after)[..12].to_owned();
        // Another test of this file may be installing git in the shared home at the
        // same moment: then this one waits for it and takes what it installed.
        assert!(
            err.contains(&format!("debian:trixie image is up to date ({short})"))
                || err.contains(&format!(
                    "installed meanwhile by the other jig (image {short})"
                )),
            "{l} no up-to-date message: {err}"
        );
        // No rebuild: what proves it is the message and the unchanged image, not a
        // time, which a loaded machine stretches.
        assert!(!err.contains("bootstrapping"), "{l} rebuilt: {err}");
        let images_after = fs::read_dir(t.shared.jig_home().join("store/images"))
            .unwrap()
            .count();
        assert_eq!(images_after, images_before, "{l} a new image appeared");
        assert_eq!(before, after, "{l} the image id changed");
        // The shim still works after the reinstall.
        let out = t.git(&["--version"]);
        assert_ok(&out, &l);
        assert!(stdout(&out).starts_with("git version 2.47."), "{l}");
    }
}

/// Each identity built the git image on its own, from scratch: the trees must be
/// identical (same id), or a lock file could not promise the same image everywhere.
#[test]
fn independent_builds_give_the_same_tree_hash() {
    let ids: Vec<(String, String)> = setups()
        .iter()
        .map(|t| (t.label(), t.image_id("git")))
        .collect();
    if ids.len() < 2 {
        eprintln!("only one identity here: nothing to compare (set JIG_TEST_USER as root)");
        return;
    }
    for (label, id) in &ids[1..] {
        assert_eq!(
            id, &ids[0].1,
            "{label} built another tree than {}",
            ids[0].0
        );
    }
}

/// `jig lock` for the git image records the signed index and every package with its
/// sha256, and the image's tree hash; locking again is byte-identical.
#[test]
fn lock_records_the_debian_package_set() {
    for t in setups() {
        let l = t.label();
        t.env
            .write(&t.project().join("jig.toml"), "[tools]\ngit = \"2.47\"\n");
        let out = t.jig(&["lock"]);
        assert_ok(&out, &format!("{l} jig lock"));
        let lock = fs::read_to_string(t.project().join("jig.lock")).unwrap();
        assert!(lock.contains("source = \"debian:trixie\""), "{l}: {lock}");
        assert!(lock.contains("index = \"sha256:"), "{l}: {lock}");
        assert!(
            lock.contains(&format!("image = \"{}\"", t.image_id("git"))),
            "{l}: {lock}"
        );
        let packages = lock.matches("[[tools.git.packages]]").count();
        assert!(packages > 50, "{l}: only {packages} packages locked");
        assert!(
            lock.contains("name = \"git\"\nversion = \"1:2.47"),
            "{l}: {lock}"
        );
        let shas: Vec<&str> = lock
            .lines()
            .filter_map(|line| line.strip_prefix("sha256 = \""))
            .collect();
        assert_eq!(shas.len(), packages, "{l}");
        assert!(
            shas.iter()
                .all(|s| s.len() == 65 && s[..64].bytes().all(|b| b.is_ascii_hexdigit())),
            "{l}"
        );
        let out = t.jig(&["lock"]);
        assert_ok(&out, &format!("{l} jig lock again"));
        assert!(stderr(&out).contains("up to date"), "{l}: {}", stderr(&out));
        assert_eq!(
            fs::read_to_string(t.project().join("jig.lock")).unwrap(),
            lock
        );
        // Another JIG_HOME (another machine) builds git from the lock, from scratch:
        // the same package set and the same tree.
        let other = t.env.dir().join("second-jig-home");
        // `jig install` without arguments installs what jig.toml pins.
        let mut c = t.jig_cmd(&["--locked", "install"]);
        c.env("JIG_HOME", &other);
        assert_ok(&run(c), &format!("{l} locked install in a second home"));
        let mut c = t.jig_cmd(&["which", "git"]);
        c.env("JIG_HOME", &other);
        let which = stdout(&run(c));
        assert!(
            which.contains(&t.image_id("git")),
            "{l} second home: {which}"
        );
        let mut c = t.jig_cmd(&["lock"]);
        c.env("JIG_HOME", &other);
        assert_ok(&run(c), &format!("{l} lock in the second home"));
        assert_eq!(
            fs::read_to_string(t.project().join("jig.lock")).unwrap(),
            lock
        );
        // The pinned shim agrees with the lock, even in locked mode.
        let mut c = t.shim_cmd("git", &["--version"]);
        c.env("JIG_LOCKED", "1");
        let out = run(c);
        assert_ok(&out, &format!("{l} locked git"));
        assert!(stderr(&out).is_empty(), "{l}: {}", stderr(&out));
    }
}

#[test]
fn apt_and_dpkg_work_in_the_image() {
    for t in setups() {
        let l = t.label();
        let out = t.jig(&["exec", "git", "--", "sh", "-c", "dpkg --audit; dpkg -l git"]);
        assert_ok(&out, &format!("{l} dpkg --audit; dpkg -l git"));
        let text = stdout(&out);
        let row = text
            .lines()
            .find(|r| r.split_whitespace().nth(1) == Some("git"))
            .unwrap_or_else(|| panic!("{l} no git row in dpkg -l: {text}"));
        assert!(row.starts_with("ii "), "{l} git is not installed: {row}");
        assert!(
            text.lines()
                .next()
                .unwrap_or_default()
                .starts_with("Desired="),
            "{l} dpkg --audit printed something: {text}"
        );

        let out = t.jig(&["exec", "git", "--", "apt-get", "check"]);
        assert_ok(&out, &format!("{l} apt-get check"));
        assert!(
            stdout(&out).contains("Reading package lists"),
            "{l} {}",
            stdout(&out)
        );

        // dpkg knows every file of git, and the binary the shim runs is one of them.
        let out = t.jig(&["exec", "git", "--", "dpkg", "-S", "/usr/bin/git"]);
        assert_ok(&out, &format!("{l} dpkg -S"));
        assert_eq!(stdout(&out), "git: /usr/bin/git\n", "{l}");

        // A package that is not installed is reported as such (exit 1).
        let out = t.jig(&["exec", "git", "--", "dpkg", "-s", "nodejs"]);
        assert_code(&out, 1, &format!("{l} dpkg -s nodejs in the git image"));
    }
}

#[test]
fn tools_write_files_as_the_caller_and_tmp_does_not_persist() {
    for t in setups() {
        let l = t.label();
        let marker = format!("jig-dtests-{}-{}", std::process::id(), t.env.who.uid);
        let script = format!(
            "echo inside > made-inside && mkdir -p sub/dir && touch sub/dir/f && \
             echo x > /tmp/{marker} && cat /tmp/{marker} && echo y > /etc/{marker}"
        );
        let out = t.jig(&["exec", "git", "--", "sh", "-c", &script]);
        assert_ok(&out, &format!("{l} writing inside"));
        assert_eq!(stdout(&out), "x\n", "{l}");
        let n = t.assert_owned_tree(&t.project());
        assert_eq!(n, 5, "{l} project, made-inside, sub, sub/dir, sub/dir/f");
        assert_eq!(
            fs::read_to_string(t.project().join("made-inside")).unwrap(),
            "inside\n"
        );

        // Gone at the next launch, and never on the host.
        let out = t.jig(&[
            "exec",
            "git",
            "--",
            "sh",
            "-c",
            &format!("test -e /tmp/{marker} || test -e /etc/{marker}"),
        ]);
        assert_code(&out, 1, &format!("{l} /tmp write survived the launch"));
        assert!(
            !Path::new("/tmp").join(&marker).exists(),
            "{l} /tmp write reached the host"
        );
        let rootfs = PathBuf::from(t.image_id("git").replace("sha256:", ""));
        let image = t.shared.jig_home().join("store/images").join(rootfs);
        assert!(image.join("rootfs/usr/bin/git").exists(), "{l} image path");
        assert!(
            !image.join("rootfs/etc").join(&marker).exists(),
            "{l} the write reached the stored image"
        );
    }
}

/// `jig sbom git` of the real image: every package dpkg installed, with the `.deb`'s
/// sha256 from the bootstrap and licenses from the copyright files, valid against the
/// official schemas in both formats, and the same document twice for one time.
#[test]
fn sbom_of_the_git_image_lists_every_debian_package_and_validates() {
    for t in setups() {
        let l = t.label();
        let dir = t.env.dir().join("sbom");
        t.env.mkdir(&dir);
        let sbom = |format: &str| {
            let mut c = t.jig_cmd(&["sbom", "git", "--format", format]);
            c.env("SOURCE_DATE_EPOCH", "1700000000");
            let out = run(c);
            assert_ok(&out, &format!("{l} jig sbom git --format {format}"));
            out.stdout
        };
        let dpkg = t.jig(&[
            "exec",
            "git",
            "--",
            "dpkg-query",
            "-W",
            "-f",
            "${Package} ${Version}\\n",
        ]);
        assert_ok(&dpkg, &format!("{l} dpkg-query"));
        let packages: Vec<String> = stdout(&dpkg).lines().map(str::to_owned).collect();
        assert!(packages.len() > 100, "{l}: {packages:?}");

        let spdx = sbom("spdx-json");
        assert_eq!(spdx, sbom("spdx-json"), "{l} the document changed");
        let path = dir.join("git.spdx.json");
        fs::write(&path, &spdx).unwrap();
        common::sbom::assert_valid("spdx", &path);
        let doc: serde_json::Value = serde_json::from_slice(&spdx).unwrap();
        let listed = &doc["packages"].as_array().unwrap()[1..];
        let mut names: Vec<String> = listed
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["versionInfo"].as_str().unwrap()
                )
            })
            .collect();
        let mut want = packages.clone();
        names.sort();
        want.sort();
        assert_eq!(
            names, want,
            "{l}: the SBOM lists what dpkg says is installed"
        );
        let git = listed
            .iter()
            .find(|p| p["name"] == "git")
            .expect("git listed");
        let sum = &git["checksums"][0];
        assert_eq!(sum["algorithm"], "SHA256", "{l}: {git}");
        assert_eq!(
            sum["checksumValue"].as_str().unwrap().len(),
            64,
            "{l}: {git}"
        );
        assert!(
            git["sourceInfo"].as_str().unwrap().contains("git"),
            "{l}: {git}"
        );
        let licensed = listed
            .iter()
            .filter(|p| p["licenseDeclared"] != "NOASSERTION")
            .count();
        assert!(licensed > 20, "{l}: only {licensed} licenses read");
        let with_sums = listed.iter().filter(|p| p["checksums"].is_array()).count();
        assert_eq!(with_sums, listed.len(), "{l}: every .deb has its sha256");

        let cdx = sbom("cyclonedx-json");
        let path = dir.join("git.cdx.json");
        fs::write(&path, &cdx).unwrap();
        common::sbom::assert_valid("cyclonedx", &path);
        let doc: serde_json::Value = serde_json::from_slice(&cdx).unwrap();
        let components = doc["components"].as_array().unwrap();
        assert_eq!(components.len(), packages.len(), "{l}");
        let git = components.iter().find(|c| c["name"] == "git").unwrap();
        assert!(
            git["purl"]
                .as_str()
                .unwrap()
                .starts_with("pkg:deb/debian/git@"),
            "{l}: {git}"
        );
        assert_eq!(git["hashes"][0]["alg"], "SHA-256", "{l}: {git}");

        // Not installed at that version: the usage status, the versions it has.
        let out = t.jig(&["sbom", "git@9"]);
        assert_code(&out, 2, &l);
        assert!(
            stderr(&out).contains("is not installed (installed: ") && stderr(&out).contains("2.47"),
            "{l}: {}",
            stderr(&out)
        );
    }
}

// ---------------------------------------------------------------------------------
// npm
// ---------------------------------------------------------------------------------

/// `npm` as a command, with the harness's clean environment.
fn npm(t: &T, args: &[&str]) -> Output {
    let mut c = t.shim_cmd("npm", args);
    c.env("NPM_CONFIG_UPDATE_NOTIFIER", "false")
        .env("NPM_CONFIG_FUND", "false")
        .env("NPM_CONFIG_AUDIT", "false");
    run(c)
}

/// `npm init -y && npm install is-number` in the project, then node loads it from there.
fn npm_install_is_number(t: &T) {
    let l = t.label();
    let out = npm(t, &["init", "-y"]);
    assert_ok(&out, &format!("{l} npm init -y"));
    let out = npm(t, &["install", "is-number"]);
    assert_ok(&out, &format!("{l} npm install is-number"));
    assert!(
        stdout(&out).contains("added 1 package"),
        "{l} {}",
        stdout(&out)
    );

    let module = t.project().join("node_modules/is-number");
    let manifest = fs::read_to_string(module.join("package.json"))
        .unwrap_or_else(|e| panic!("{l} node_modules/is-number/package.json: {e}"));
    assert!(manifest.contains("\"name\": \"is-number\""), "{l}");
    let package = fs::read_to_string(t.project().join("package.json")).unwrap();
    assert!(package.contains("\"is-number\""), "{l} {package}");
    t.assert_owned_tree(&t.project().join("node_modules"));
    t.assert_owned_tree(&t.project().join("package.json"));
    t.assert_owned_tree(&t.project().join("package-lock.json"));

    // Debian ships its own is-number (npm depends on it): resolve must name ours.
    let out = t.shim(
        "node",
        &[
            "-e",
            "console.log(require('is-number')(5)); console.log(require.resolve('is-number'))",
        ],
    );
    assert_ok(&out, &format!("{l} node -e"));
    assert_eq!(
        stdout(&out),
        format!("true\n{}/index.js\n", module.display()),
        "{l}"
    );
}

#[test]
fn npm_installs_into_the_project_with_the_host_cache() {
    for t in setups() {
        let l = t.label();
        let cache = t.home().join(".npm");
        t.env.mkdir(&cache);
        npm_install_is_number(&t);
        // The cache went to the host's ~/.npm, as the caller.
        let cacache = cache.join("_cacache");
        assert!(cacache.is_dir(), "{l} no ~/.npm/_cacache on the host");
        let n = t.assert_owned_tree(&cache);
        assert!(n > 5, "{l} ~/.npm has {n} entries");
        let left: Vec<_> = fs::read_dir(t.home())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [".npm"], "{l} home gained entries");
    }
}

#[test]
fn npm_works_without_a_host_cache() {
    for t in setups() {
        let l = t.label();
        npm_install_is_number(&t);
        // The cache lived in the ephemeral home; nothing reached the host's.
        let left: Vec<_> = fs::read_dir(t.home()).unwrap().collect();
        assert!(left.is_empty(), "{l} home gained entries: {left:?}");
        let out = t.host_sh("test -e \"$HOME/.npm\"");
        assert_code(&out, 1, &format!("{l} ~/.npm appeared"));
    }
}

// ---------------------------------------------------------------------------------
// Workspaces: subdirectories, path arguments, tools calling tools
// ---------------------------------------------------------------------------------

impl T {
    /// `git ARGS` run from `dir`, which must succeed; returns its stdout.
    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut c = self.shim_cmd("git", args);
        c.current_dir(dir);
        let out = run(c);
        assert_ok(
            &out,
            &format!(
                "{} git {} in {}",
                self.label(),
                args.join(" "),
                dir.display()
            ),
        );
        stdout(&out)
    }
}

#[test]
fn git_in_a_subdirectory_works_on_the_whole_repository() {
    for t in setups() {
        let l = t.label();
        t.repo_with_commits(2);
        let sub = t.project().join("sub");
        t.env.mkdir(&sub);
        t.env.write(&sub.join("new.txt"), "new\n");
        t.env.write(&t.project().join("file1.txt"), "changed\n");
        assert_eq!(
            t.git_in(&sub, &["rev-parse", "--show-toplevel"]),
            format!("{}\n", t.project().display()),
            "{l}"
        );
        assert_eq!(t.git_in(&sub, &["log", "--format=%s"]), "c2\nc1\n", "{l}");
        assert_eq!(
            t.git_in(&sub, &["status", "--short", "--untracked-files=all"]),
            " M ../file1.txt\n?? new.txt\n",
            "{l}"
        );
        // Writes into ../.git.
        t.git_in(&sub, &["commit", "-q", "-am", "c3 from sub"]);
        assert_eq!(
            t.git_ok(&["log", "-1", "--format=%s"]),
            "c3 from sub\n",
            "{l}"
        );

        // git -C names another repository outside the workspace: mounted read-write.
        let other = t.env.dir().join("other");
        t.env.mkdir(&other);
        t.git_in(&other, &["init", "-q"]);
        t.env.write(&other.join("o.txt"), "o\n");
        let o = other.to_str().unwrap();
        t.git_in(&sub, &["-C", o, "add", "o.txt"]);
        t.git_in(&sub, &["-C", o, "commit", "-q", "-m", "in other"]);
        assert_eq!(
            t.git_in(&other, &["log", "--format=%s"]),
            "in other\n",
            "{l}"
        );
        t.assert_owned_tree(&other);
    }
}

#[test]
fn npm_in_a_subdirectory_finds_the_package() {
    for t in setups() {
        let l = t.label();
        t.env.write(
            &t.project().join("package.json"),
            r#"{"name": "jig-ws-test", "version": "1.0.0", "scripts": {"test": "echo tests ran in $PWD"}}"#,
        );
        let sub = t.project().join("lib/deep");
        t.env.mkdir(&t.project().join("lib"));
        t.env.mkdir(&sub);
        let mut c = t.shim_cmd("npm", &["pkg", "get", "name"]);
        c.current_dir(&sub);
        let out = run(c);
        assert_ok(&out, &format!("{l} npm pkg get name"));
        assert_eq!(stdout(&out).trim(), "\"jig-ws-test\"", "{l}");
        let mut c = t.shim_cmd("npm", &["test"]);
        c.current_dir(&sub);
        let out = run(c);
        assert_ok(&out, &format!("{l} npm test"));
        assert!(
            stdout(&out).contains(&format!("tests ran in {}", t.project().display())),
            "{l} {}",
            stdout(&out)
        );
    }
}

#[test]
fn npm_installs_a_git_dependency_through_the_git_shim() {
    for t in setups() {
        let l = t.label();
        t.write_gitconfig();
        // A package in a git repository outside the project.
        let dep = t.env.dir().join("dep");
        t.env.mkdir(&dep);
        t.env.write(
            &dep.join("package.json"),
            r#"{"name": "jig-dep", "version": "1.0.0", "main": "index.js"}"#,
        );
        t.env.write(&dep.join("index.js"), "module.exports = 42;\n");
        t.git_in(&dep, &["init", "-q"]);
        t.git_in(&dep, &["add", "."]);
        t.git_in(&dep, &["commit", "-q", "-m", "dep"]);
        t.env.write(
            &t.project().join("package.json"),
            r#"{"name": "app", "version": "1.0.0"}"#,
        );
        // npm's image has no git: npm runs the git shim, a nested container.
        let spec = format!("git+file://{}", dep.display());
        let out = npm(&t, &["install", &spec]);
        assert_ok(&out, &format!("{l} npm install {spec}"));
        let installed = t.project().join("node_modules/jig-dep/index.js");
        assert_eq!(
            fs::read_to_string(&installed).unwrap_or_default(),
            "module.exports = 42;\n",
            "{l} {}",
            stderr(&out)
        );
        let out = t.shim("node", &["-e", "console.log(require('jig-dep'))"]);
        assert_ok(&out, &format!("{l} node"));
        assert_eq!(stdout(&out), "42\n", "{l}");
        t.assert_owned_tree(&t.project().join("node_modules"));
    }
}

/// Inside a container every installed recipe's shim works, from hooks and aliases too:
/// a pre-commit hook calls jq and python3, an alias calls jq, each a nested container
/// of its own recipe. A command that is in no image and no installed recipe gets a
/// message naming the built-in recipe to install.
#[test]
fn hooks_and_aliases_call_other_recipes_through_their_shims() {
    for t in setups_with(&["git", "jq", "python3"]) {
        let l = t.label();
        t.repo_with_commits(1);
        let hook = t.project().join(".git/hooks/pre-commit");
        t.env.write(
            &hook,
            "#!/bin/sh\nset -e\necho '{\"hook\": [1, 2]}' | jq -c .hook\npython3 -c 'import sys; print(\"python\", sys.version_info[0])'\n",
        );
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
        let out = t.git(&["commit", "-q", "--allow-empty", "-m", "hooked"]);
        assert_ok(&out, &format!("{l} a commit through the hook"));
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            text.contains("[1,2]\n") && text.contains("python 3\n"),
            "{l}: {text}"
        );
        assert!(t.git_ok(&["log", "-1", "--format=%s"]) == "hooked\n", "{l}");
        let out = t.git(&["-c", "alias.sum=!jq -n '1 + 41'", "sum"]);
        assert_ok(&out, &format!("{l} an alias calling jq"));
        assert_eq!(stdout(&out), "42\n", "{l}");
        // The image of git has neither; an installed recipe's shim is named, and a
        // built-in that is not installed is named with its install command.
        let out = t.jig(&["exec", "git", "--", "jq", "-n", "1"]);
        assert_code(&out, 127, &format!("{l} jq in git's image"));
        assert!(
            stderr(&out)
                .contains("hint: 'jq' is a shim of another installed recipe: run it as `jq`"),
            "{l}: {}",
            stderr(&out)
        );
        let out = t.jig(&["exec", "git", "--", "shellcheck", "x.sh"]);
        assert_code(&out, 127, &format!("{l} shellcheck in git's image"));
        assert_eq!(
            stderr(&out),
            "jig: shellcheck: error: command not found in the image of recipe git\n  \
             hint: the shellcheck recipe provides 'shellcheck': `jig install shellcheck`\n",
            "{l}"
        );
    }
}

// ---------------------------------------------------------------------------------
// gitk on Xvfb
// ---------------------------------------------------------------------------------

/// An Xvfb server run as the identity, with a cookie file of its own.
struct Xvfb {
    child: Child,
    number: u32,
    /// The cookie file the server trusts (not ~/.Xauthority: the path must be passed).
    auth: PathBuf,
    log: PathBuf,
}

static NEXT_DISPLAY: AtomicU32 = AtomicU32::new(0);

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a cookie file for display `number` as the identity (`xauth add`).
fn write_cookie(env: &Env, file: &Path, number: u32, hex: &str) {
    let mut c = env.command("xauth");
    c.arg("-q")
        .arg("-f")
        .arg(file)
        .args(["add", &format!(":{number}"), ".", hex]);
    assert_ok(&run(c), &format!("{} xauth add", env.label()));
}

impl Xvfb {
    fn start(env: &Env) -> Xvfb {
        let l = env.label();
        let first =
            200 + (std::process::id() * 7 + NEXT_DISPLAY.fetch_add(1, Ordering::SeqCst)) % 600;
        for number in (first..800).chain(200..first).take(40) {
            if Path::new(&format!("/tmp/.X{number}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
            {
                continue;
            }
            let auth = env.dir().join(format!("xauth-{number}"));
            let _ = fs::remove_file(&auth);
            write_cookie(env, &auth, number, &random_hex());
            let log = env.dir().join(format!("xvfb-{number}.log"));
            let mut c = env.command("/usr/bin/Xvfb");
            c.arg(format!(":{number}"))
                // -noreset: the server would reset when its last client leaves (the
                // check below), refusing connections for a moment.
                .args(["-noreset", "-nolisten", "tcp", "-auth"])
                .arg(&auth)
                .stdout(Stdio::null())
                .stderr(File::create(&log).unwrap());
            let child = c.spawn().expect("spawn Xvfb");
            let mut x = Xvfb {
                child,
                number,
                auth,
                log,
            };
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let up = poll(Duration::from_secs(15), || {
                if x.child.try_wait().unwrap().is_some() {
                    return Some(false);
                }
                socket.exists().then_some(true)
            });
            if up == Some(true) && x.windows_as(Some(env)).is_ok() {
                return x;
            }
            eprintln!(
                "{l} Xvfb :{number} did not start: {}",
                fs::read_to_string(&x.log).unwrap_or_default()
            );
            // Drop kills it if it still runs.
        }
        panic!("{l} no Xvfb display could be started");
    }

    fn display(&self) -> String {
        format!(":{}", self.number)
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Xvfb {
    /// `xwininfo -root -tree` as `env` (or as this process) with the server's cookie.
    fn windows_as(&self, env: Option<&Env>) -> Result<String, String> {
        let mut c = match env {
            Some(env) => env.command("xwininfo"),
            None => {
                let mut c = Command::new("xwininfo");
                c.env_clear().env("PATH", "/usr/bin:/bin");
                c
            }
        };
        c.args(["-root", "-tree", "-display", &self.display()])
            .env("XAUTHORITY", &self.auth)
            .stdin(Stdio::null());
        let out = run(c);
        if out.status.success() {
            Ok(stdout(&out))
        } else {
            Err(stderr(&out))
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.auth);
    }
}

/// The title of the first window whose name contains "gitk".
fn gitk_window(tree: &str) -> Option<String> {
    tree.lines().find_map(|line| {
        let start = line.find('"')? + 1;
        let end = start + line[start..].find('"')?;
        let name = &line[start..end];
        name.contains("gitk").then(|| name.to_owned())
    })
}

/// Waits for a child up to `timeout`; kills it when the time is up.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let status = poll(timeout, || child.try_wait().unwrap());
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// The gitk shim as a background process on `x`'s display, with XAUTHORITY = `auth`.
fn spawn_gitk(t: &T, x: &Xvfb, auth: &Path, tag: &str) -> (Child, PathBuf) {
    let log = t.env.dir().join(format!("gitk-{tag}.log"));
    let mut c = t.shim_cmd("gitk", &[]);
    c.env("DISPLAY", x.display())
        .env("XAUTHORITY", auth)
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    (c.spawn().expect("spawn gitk"), log)
}

#[test]
fn gitk_opens_a_window_on_xvfb_and_exits_on_sigterm() {
    for t in setups() {
        let l = t.label();
        t.repo_with_commits(2);
        let mut x = Xvfb::start(&t.env);
        assert_eq!(
            gitk_window(&x.windows_as(Some(&t.env)).unwrap()),
            None,
            "{l} a gitk window before gitk ran"
        );

        let auth = x.auth.clone();
        let (mut gitk, log) = spawn_gitk(&t, &x, &auth, "ok");
        let title = poll(Duration::from_secs(30), || {
            if let Some(status) = gitk.try_wait().unwrap() {
                panic!(
                    "{l} gitk exited with {status:?} before opening a window: {}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            // Tk maps the window titled plain "gitk" first and gitk renames it right
            // after: wait for the final title, which names the repository.
            x.windows_as(Some(&t.env))
                .ok()
                .and_then(|tree| gitk_window(&tree))
                .filter(|title| title.contains("project"))
        });
        let Some(title) = title else {
            let _ = gitk.kill();
            let _ = gitk.wait();
            panic!(
                "{l} no gitk window within 30 s; gitk said: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        };
        // The title names the repository gitk was started in: `project: All files - gitk`.
        assert!(
            title.contains("project") && title.ends_with("gitk"),
            "{l} window title {title:?}"
        );

        // SIGTERM ends gitk itself (the shim is gitk's process: no wrapper in between).
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(
            unsafe { libc::kill(gitk.id() as libc::pid_t, libc::SIGTERM) },
            0
        );
        let status = wait_timeout(&mut gitk, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{l} gitk ignored SIGTERM for 10 s"));
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{l} {status:?}");

        // The server survives its client, and the window is gone.
        assert!(x.alive(), "{l} Xvfb died with gitk");
        let gone = poll(Duration::from_secs(5), || {
            x.windows_as(Some(&t.env))
                .ok()
                .filter(|tree| gitk_window(tree).is_none())
        });
        assert!(gone.is_some(), "{l} the gitk window outlived gitk");
        assert!(x.alive(), "{l} Xvfb died");
    }
}

#[test]
fn gitk_without_the_servers_cookie_cannot_connect() {
    for t in setups() {
        let l = t.label();
        t.repo_with_commits(1);
        let mut x = Xvfb::start(&t.env);
        // The server is up and accepts its cookie.
        x.windows_as(Some(&t.env))
            .unwrap_or_else(|e| panic!("{l} xwininfo with the right cookie: {e}"));

        // A well-formed cookie file for the same display with another cookie, and a
        // cookie file that does not exist.
        let wrong = t.env.dir().join("xauth-wrong");
        write_cookie(&t.env, &wrong, x.number, &random_hex());
        let missing = t.env.dir().join("xauth-missing");
        for (tag, auth) in [("wrong", &wrong), ("missing", &missing)] {
            let (mut gitk, log) = spawn_gitk(&t, &x, auth, tag);
            let status = wait_timeout(&mut gitk, Duration::from_secs(30))
                .unwrap_or_else(|| panic!("{l} gitk with a {tag} cookie ran for 30 s"));
            let err = fs::read_to_string(&log).unwrap_or_default();
            assert!(
                !status.success(),
                "{l} gitk with a {tag} cookie: {status:?}"
            );
            assert!(
                err.contains("couldn't connect to display \":")
                    && (err.contains("Invalid MIT-MAGIC-COOKIE-1 key")
                        || err.contains("Authorization required")),
                "{l} gitk with a {tag} cookie said: {err}"
            );
            let tree = x.windows_as(Some(&t.env)).unwrap();
            assert_eq!(gitk_window(&tree), None, "{l} {tag} cookie: a window");
        }
        assert!(x.alive(), "{l} Xvfb died");
    }
}
