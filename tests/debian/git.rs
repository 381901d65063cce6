//! What a git launch sees, against the host's own git of the same version
//! (`/usr/bin/git`, Debian's 2.39): `git config --global` writes the host's
//! `~/.gitconfig` (replaced by rename, or created), the files the configuration names
//! and `/etc/gitconfig` are read, local remotes, other worktrees and a submodule's
//! superproject are there, and commits are signed with the host's gpg-agent and
//! ssh-agent. Outputs are compared byte for byte where git prints the same thing
//! natively.

use super::*;
use std::os::unix::fs::MetadataExt;

/// The recipes these tests use: git at the host's version.
const GIT: &[&str] = &["git@2.39"];

/// jig's git at the host's version (2.39, the bookworm build), as `cmd` for `args`.
fn git_cmd(t: &T, args: &[&str]) -> Command {
    let mut c = t.shim_cmd("git", args);
    c.env("JIG_GIT_VERSION", "2.39");
    c
}

/// The host's git, as this identity, in `dir`, with `HOME` = `home`.
fn host_git(t: &T, dir: &Path, home: &Path, args: &[&str]) -> Output {
    let mut c = t.command("/usr/bin/git");
    c.args(args).current_dir(dir).env("HOME", home);
    run(c)
}

/// jig's git (the shim), as this identity, in `dir`.
fn jig_git(t: &T, dir: &Path, args: &[&str]) -> Output {
    let mut c = git_cmd(t, args);
    c.current_dir(dir);
    run(c)
}

/// Runs `args` through jig's git and the host's in `dir`: stdout, stderr and status
/// must be the same; returns jig's stdout.
fn same(t: &T, dir: &Path, args: &[&str]) -> String {
    let jig = jig_git(t, dir, args);
    let host = host_git(t, dir, &t.home(), args);
    let l = format!("{} git {}", t.label(), args.join(" "));
    assert_eq!(
        (stdout(&jig), stderr(&jig), jig.status.code()),
        (stdout(&host), stderr(&host), host.status.code()),
        "{l}: jig's output (left) differs from the host's git (right)"
    );
    stdout(&jig)
}

/// The host's git in `dir` (home: the test's), which must succeed.
fn host_ok(t: &T, dir: &Path, args: &[&str]) -> String {
    let out = host_git(t, dir, &t.home(), args);
    assert_ok(&out, &format!("{} host git {}", t.label(), args.join(" ")));
    stdout(&out)
}

#[test]
fn git_config_global_replaces_and_creates_the_hosts_gitconfig_as_native_git_does() {
    for t in setups_with(GIT) {
        let l = t.label();
        // Twin homes: the host's git writes its own, jig's git the test's home.
        let twin = t.env.dir().join("twin-home");
        t.env.mkdir(&twin);
        let gitconfig = t.home().join(".gitconfig");
        let steps: &[&[&str]] = &[
            // No ~/.gitconfig yet: created.
            &["config", "--global", "user.name", "Jig Tester"],
            // Then replaced by rename (the bind mount of old answered EBUSY).
            &["config", "--global", "user.email", "jig@example.invalid"],
            &["config", "--global", "--add", "alias.st", "status --short"],
            &["config", "--global", "--unset", "alias.st"],
        ];
        for args in steps {
            let jig = jig_git(&t, &t.project(), args);
            assert_ok(&jig, &format!("{l} jig git {args:?}"));
            assert_eq!(stderr(&jig), "", "{l} {args:?}");
            let host = host_git(&t, &t.project(), &twin, args);
            assert_ok(&host, &format!("{l} host git {args:?}"));
            assert_eq!(
                fs::read_to_string(&gitconfig).ok(),
                fs::read_to_string(twin.join(".gitconfig")).ok(),
                "{l} after {args:?}"
            );
        }
        let m = fs::metadata(&gitconfig).unwrap();
        assert_eq!((m.uid(), m.gid()), (t.env.who.uid, t.env.who.gid), "{l}");
        // Only the declared file came back: no lock or temporary file beside it.
        let mut names: Vec<_> = fs::read_dir(t.home())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, [".gitconfig"], "{l}");
        // What git reads back is what it wrote.
        assert_eq!(
            stdout(&jig_git(
                &t,
                &t.project(),
                &["config", "--global", "user.email"]
            )),
            "jig@example.invalid\n",
            "{l}"
        );
    }
}

#[test]
fn files_the_configuration_names_and_etc_gitconfig_are_read_as_natively() {
    for t in setups_with(GIT) {
        let l = t.label();
        t.env.write(
            &t.home().join(".gitconfig"),
            "[user]\n\tname = Jig Tester\n\temail = jig@example.invalid\n\
             [init]\n\tdefaultBranch = main\n\
             [core]\n\texcludesFile = ~/.gitignore_global\n\
             [include]\n\tpath = .gitconfig.local\n\
             [includeIf \"gitdir:~/\"]\n\tpath = ~/.gitconfig.never\n\
             [commit]\n\ttemplate = ~/.gitmessage\n",
        );
        t.env.write(&t.home().join(".gitignore_global"), "*.log\n");
        t.env.write(
            &t.home().join(".gitconfig.local"),
            "[alias]\n\tlast = log -1 --format=%s\n",
        );
        t.env
            .write(&t.home().join(".gitmessage"), "Subject\n\nBody\n");
        let p = t.project();
        host_ok(&t, &p, &["init", "-q"]);
        t.env.write(&p.join("a.txt"), "a\n");
        t.env.write(&p.join("debug.log"), "noise\n");
        // The ignored file is not untracked: `git add .` would not commit it.
        assert_eq!(same(&t, &p, &["status", "--short"]), "?? a.txt\n", "{l}");
        same(&t, &p, &["check-ignore", "-v", "debug.log"]);
        jig_git(&t, &p, &["add", "."]);
        assert_eq!(
            host_ok(&t, &p, &["diff", "--cached", "--name-only"]),
            "a.txt\n",
            "{l}"
        );
        // Every file git reads its configuration from, the host's /etc/gitconfig too
        // when it has one.
        let list = same(&t, &p, &["config", "--list", "--show-origin"]);
        assert!(list.contains(".gitconfig.local\talias.last="), "{l} {list}");
        if Path::new("/etc/gitconfig").is_file() {
            assert!(list.starts_with("file:/etc/gitconfig\t"), "{l} {list}");
        }
        same(
            &t,
            &p,
            &["config", "--show-origin", "--get", "commit.template"],
        );
        // The commit template (an editor that edits it) and the included alias.
        let mut c = git_cmd(&t, &["commit", "-q"]);
        c.current_dir(&p)
            .env("GIT_EDITOR", "sed -i s/Subject/Edited/");
        assert_ok(&run(c), &format!("{l} git commit with the template"));
        assert_eq!(same(&t, &p, &["last"]), "Edited\n", "{l}");
        assert_eq!(
            host_ok(&t, &p, &["log", "-1", "--format=%b"]),
            "Body\n\n",
            "{l}"
        );
    }
}

/// A bare repository outside the project, with one commit on `main`.
fn bare_remote(t: &T) -> PathBuf {
    let srv = t.env.dir().join("srv");
    t.env.mkdir(&srv);
    let seed = t.env.dir().join("seed");
    host_ok(
        t,
        t.env.dir(),
        &["init", "-q", "-b", "main", seed.to_str().unwrap()],
    );
    host_ok(t, &seed, &["commit", "-q", "--allow-empty", "-m", "first"]);
    let bare = srv.join("x.git");
    host_ok(
        t,
        t.env.dir(),
        &[
            "clone",
            "-q",
            "--bare",
            seed.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    bare
}

fn write_identity(t: &T) {
    t.env.write(
        &t.home().join(".gitconfig"),
        "[user]\n\tname = Jig Tester\n\temail = jig@example.invalid\n[init]\n\tdefaultBranch = main\n",
    );
}

#[test]
fn local_path_remotes_work_after_the_clone() {
    for t in setups_with(GIT) {
        let l = t.label();
        write_identity(&t);
        let bare = bare_remote(&t);
        // Cloning worked before: the URL is an argument.
        let clone = t.project().join("clone");
        let url = format!("file://{}", bare.display());
        assert_ok(
            &jig_git(&t, &t.project(), &["clone", "-q", &url, "clone"]),
            &format!("{l} clone"),
        );
        same(&t, &clone, &["ls-remote", "origin"]);
        same(&t, &clone, &["remote", "show", "origin"]);
        assert_ok(
            &jig_git(&t, &clone, &["fetch", "-q"]),
            &format!("{l} fetch"),
        );
        assert_ok(&jig_git(&t, &clone, &["pull", "-q"]), &format!("{l} pull"));
        t.env.write(&clone.join("b.txt"), "b\n");
        jig_git(&t, &clone, &["add", "b.txt"]);
        assert_ok(&jig_git(&t, &clone, &["commit", "-qm", "second"]), &l);
        let push = jig_git(&t, &clone, &["push", "-q", "origin", "main"]);
        assert_ok(&push, &format!("{l} push"));
        assert_eq!(stderr(&push), "", "{l}");
        assert_eq!(
            host_ok(&t, &bare, &["log", "--format=%s", "main"]),
            "second\nfirst\n",
            "{l}"
        );
        // A plain path remote too.
        host_ok(
            &t,
            &clone,
            &["remote", "add", "plain", bare.to_str().unwrap()],
        );
        same(&t, &clone, &["ls-remote", "--heads", "plain"]);
    }
}

#[test]
fn worktrees_outside_the_workspace_stay_live_and_submodules_see_their_superproject() {
    for t in setups_with(GIT) {
        let l = t.label();
        write_identity(&t);
        let main = t.project().join("main");
        host_ok(&t, &t.project(), &["init", "-q", "main"]);
        host_ok(&t, &main, &["commit", "-q", "--allow-empty", "-m", "first"]);
        let wt = t.env.dir().join("elsewhere/wt");
        host_ok(&t, &main, &["worktree", "add", "-q", wt.to_str().unwrap()]);
        let list = same(&t, &main, &["worktree", "list", "--porcelain"]);
        assert!(!list.contains("prunable"), "{l} {list}");
        same(&t, &wt, &["worktree", "list"]);
        // Nothing to prune: the live worktree keeps its registration.
        assert_eq!(
            same(&t, &main, &["worktree", "prune", "-n", "-v"]),
            "",
            "{l}"
        );
        assert_ok(&jig_git(&t, &main, &["worktree", "prune"]), &l);
        assert!(main.join(".git/worktrees/wt/gitdir").exists(), "{l} pruned");

        // A submodule whose superproject is outside the workspace (the submodule).
        let sub = t.env.dir().join("subsrc");
        host_ok(&t, t.env.dir(), &["init", "-q", sub.to_str().unwrap()]);
        host_ok(&t, &sub, &["commit", "-q", "--allow-empty", "-m", "sub"]);
        host_ok(
            &t,
            &main,
            &[
                "-c",
                "protocol.file.allow=always",
                "submodule",
                "add",
                "-q",
                sub.to_str().unwrap(),
                "lib",
            ],
        );
        let lib = main.join("lib");
        let shown = same(&t, &lib, &["rev-parse", "--show-superproject-working-tree"]);
        assert_eq!(shown, format!("{}\n", main.display()), "{l}");
        same(&t, &lib, &["status", "--short"]);
    }
}

/// Kills the agents a test started, whatever happens to the test.
struct Agents<'a> {
    t: &'a T,
    ssh: Option<u32>,
}

impl Drop for Agents<'_> {
    fn drop(&mut self) {
        let mut c = self.t.command("/usr/bin/gpgconf");
        c.args(["--kill", "gpg-agent"]);
        let _ = c.status();
        if let Some(pid) = self.ssh {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }
}

#[test]
fn commits_are_signed_with_the_hosts_gpg_agent_and_ssh_agent() {
    for t in setups_with(GIT) {
        let l = t.label();
        let mut agents = Agents { t: &t, ssh: None };
        let gnupg = t.home().join(".gnupg");
        t.env.mkdir(&gnupg);
        fs::set_permissions(&gnupg, fs::Permissions::from_mode(0o700)).unwrap();
        let mut c = t.command("/usr/bin/gpg");
        c.args([
            "--batch",
            "--passphrase",
            "",
            "--quick-gen-key",
            "Jig Tester <jig@example.invalid>",
            "ed25519",
            "sign",
            "never",
        ]);
        assert_ok(&run(c), &format!("{l} gpg --quick-gen-key"));
        // The host's agent holds the key; the container gets its restricted socket.
        assert!(gnupg.join("S.gpg-agent.extra").exists(), "{l}");
        write_identity(&t);
        let p = t.project();
        host_ok(&t, &p, &["init", "-q"]);
        t.env.write(&p.join("a.txt"), "a\n");
        host_ok(&t, &p, &["add", "a.txt"]);
        let commit = jig_git(
            &t,
            &p,
            &["-c", "commit.gpgSign=true", "commit", "-qm", "signed"],
        );
        assert_ok(&commit, &format!("{l} git commit -S"));
        // The trust database is checked once natively; then both print the same.
        host_ok(&t, &p, &["log", "--show-signature", "-1"]);
        let shown = same(&t, &p, &["log", "--show-signature", "-1"]);
        assert!(
            shown.contains("Good signature from \"Jig Tester"),
            "{l} {shown}"
        );
        same(&t, &p, &["verify-commit", "HEAD"]);
        // Nothing of the private keys came in.
        let probe = jig_git(&t, &p, &["-c", "alias.x=!ls -a ~/.gnupg", "x"]);
        assert!(
            !stdout(&probe).contains("private-keys"),
            "{l} {}",
            stdout(&probe)
        );

        // ssh signing through the ssh agent: the private key is not on disk at all.
        let ssh = t.home().join(".ssh");
        t.env.mkdir(&ssh);
        let key = ssh.join("id_ed25519");
        let mut c = t.command("/usr/bin/ssh-keygen");
        c.args(["-q", "-t", "ed25519", "-N", "", "-C", "jig", "-f"])
            .arg(&key);
        assert_ok(&run(c), &format!("{l} ssh-keygen"));
        let sock = t.env.dir().join("agent.sock");
        let mut c = t.command("/usr/bin/ssh-agent");
        c.arg("-a").arg(&sock);
        let out = run(c);
        assert_ok(&out, &format!("{l} ssh-agent"));
        agents.ssh = stdout(&out)
            .split("SSH_AGENT_PID=")
            .nth(1)
            .and_then(|s| s.split(';').next())
            .and_then(|s| s.parse().ok());
        let mut c = t.command("/usr/bin/ssh-add");
        c.arg("-q").arg(&key).env("SSH_AUTH_SOCK", &sock);
        assert_ok(&run(c), &format!("{l} ssh-add"));
        fs::remove_file(&key).unwrap();
        let public = fs::read_to_string(ssh.join("id_ed25519.pub")).unwrap();
        // The allowed signers file is named by the configuration, outside ~/.ssh.
        t.env.write(
            &t.home().join(".allowed_signers"),
            format!("jig@example.invalid {public}"),
        );
        let mut conf = fs::read_to_string(t.home().join(".gitconfig")).unwrap();
        conf.push_str(
            "[gpg]\n\tformat = ssh\n[gpg \"ssh\"]\n\tallowedSignersFile = ~/.allowed_signers\n\
             [user]\n\tsigningKey = ~/.ssh/id_ed25519.pub\n",
        );
        t.env.write(&t.home().join(".gitconfig"), conf);
        t.env.write(&p.join("a.txt"), "b\n");
        let mut c = git_cmd(&t, &["commit", "-S", "-qam", "ssh signed"]);
        c.current_dir(&p).env("SSH_AUTH_SOCK", &sock);
        assert_ok(&run(c), &format!("{l} git commit -S (ssh)"));
        let shown = same(&t, &p, &["log", "--show-signature", "-1"]);
        assert!(
            shown.contains("Good \"git\" signature for jig@example.invalid"),
            "{l} {shown}"
        );
        drop(agents);
    }
}
