//! `.git` redirection. A `.git` *file* in the workspace root names a git directory
//! (`gitdir: PATH`) that a launch mounts read-write beside the workspace. A tool (or a
//! downloaded tarball) writes such a file naming `~/.ssh`, jig's own directories or
//! `$XDG_RUNTIME_DIR`; the next launch must not mount them. Only a real worktree's or
//! submodule's git directory that links back to this `.git` file is mounted, and those
//! keep working (the positive controls, made by the host's git). `[mounts] from_env`
//! paths are held to the same lines.

use super::*;

use std::os::unix::net::UnixListener;
use std::process::Output;
use std::sync::OnceLock;

/// What every attack tries to add.
const LINE: &str = "ssh-ed25519 AAAAC3Nza attacker@evil\n";

/// Installs a probe recipe named `name` with the extra TOML `rest` (tables after
/// `[tool]`).
fn install(env: &Env, name: &str, rest: &str) {
    static IMAGE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, rootfs) = IMAGE.get_or_init(|| {
        let dir = shared_tempdir("gitdir-");
        let rootfs = probe_image(dir.path());
        (dir, rootfs)
    });
    let recipe = probe_recipe(env, name, rootfs, "", rest);
    let out = env.jig(&["install", recipe.to_str().unwrap()]);
    assert_ok(&out, &format!("{} jig install {name}", env.label()));
}

/// Runs the host's git as the environment's user in `dir`.
fn git(env: &Env, dir: &Path, args: &[&str]) {
    let mut c = env.command("/usr/bin/git");
    c.args([
        "-c",
        "user.name=jig",
        "-c",
        "user.email=jig@example.invalid",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "protocol.file.allow=always",
    ])
    .args(args)
    .current_dir(dir);
    let out = run(c);
    assert_ok(&out, &format!("{} git {args:?}", env.label()));
}

/// A repository `NAME` in the environment's directory with one commit.
fn repository(env: &Env, name: &str) -> PathBuf {
    let repo = env.dir().join(name);
    git(env, env.dir(), &["init", "-q", name]);
    git(
        env,
        &repo,
        &["commit", "-q", "--allow-empty", "-m", "first"],
    );
    repo
}

/// `probe append VICTIM LINE`, run from `dir`.
fn append_from(env: &Env, dir: &Path, victim: &Path) -> Output {
    let mut c = env.shim_cmd("probe", &["append", victim.to_str().unwrap(), LINE]);
    c.current_dir(dir);
    run(c)
}

/// Asserts that the probe ran (the tool still starts) without writing: its first line
/// reports the `open`.
fn assert_ran_unwritten(out: &Output, l: &str) {
    assert!(
        stdout(out).starts_with("open "),
        "{l}: {}\n{}",
        stdout(out),
        stderr(out)
    );
    assert!(!stdout(out).contains("write ok"), "{l}: {}", stdout(out));
}

/// Asserts that stderr has a line starting `prefix` that gives `reason`.
fn assert_refused(out: &Output, prefix: &str, reason: &str, l: &str) {
    let err = stderr(out);
    assert!(
        err.lines()
            .any(|line| line.starts_with(prefix) && line.contains(reason)),
        "{l}: no line {prefix:?}...{reason:?} in {err}"
    );
}

/// Points the project's `.git` file at `target` and appends to `victim` from the
/// project: the tool runs, `victim` is unchanged on the host, and stderr says why
/// `target` was not mounted.
fn attack(env: &Env, target: &Path, victim: &Path, reason: &str) {
    let dot_git = env.project().join(".git");
    env.write(&dot_git, format!("gitdir: {}\n", target.display()));
    attack_from(env, &env.project(), target, victim, reason);
}

/// As [`attack`], with the `.git` file already in `dir`.
fn attack_from(env: &Env, dir: &Path, target: &Path, victim: &Path, reason: &str) {
    let l = format!("{} gitdir {}", env.label(), target.display());
    let before = fs::read_to_string(victim).ok();
    let out = append_from(env, dir, victim);
    assert_ran_unwritten(&out, &l);
    assert_eq!(
        fs::read_to_string(victim).ok(),
        before,
        "{l}: {} changed",
        victim.display()
    );
    let prefix = format!(
        "jig: probe: not mounting {} (the gitdir of {}): ",
        target.display(),
        dir.join(".git").display()
    );
    assert_refused(&out, &prefix, reason, &l);
}

/// The positive controls: a real worktree and a real submodule (made by the host's
/// git) still get their git directories mounted read-write.
fn controls(env: &Env) {
    let l = env.label();
    let main = env.dir().join("main");
    if !main.exists() {
        repository(env, "main");
        git(env, &main, &["worktree", "add", "-q", "../wt"]);
        let sub = repository(env, "subsrc");
        let superproject = repository(env, "super");
        git(
            env,
            &superproject,
            &["submodule", "add", "-q", sub.to_str().unwrap(), "lib"],
        );
    }
    for (dir, git_dir) in [
        (env.dir().join("wt"), main.join(".git")),
        (
            env.dir().join("super/lib"),
            env.dir().join("super/.git/modules/lib"),
        ),
    ] {
        let victim = git_dir.join("description");
        let before = fs::read_to_string(&victim).unwrap();
        let out = append_from(env, &dir, &victim);
        assert_ok(&out, &l);
        assert!(
            stdout(&out).contains("write ok"),
            "{l} {}: {}",
            dir.display(),
            stdout(&out)
        );
        assert!(
            !stderr(&out).contains("not mounting"),
            "{l}: {}",
            stderr(&out)
        );
        assert_eq!(
            fs::read_to_string(&victim).unwrap(),
            format!("{before}{LINE}"),
            "{l} {}",
            victim.display()
        );
    }
}

#[test]
fn a_git_file_naming_the_ssh_directory_mounts_nothing() {
    for env in Env::all() {
        install(&env, "gitdir", "");
        let ssh = env.home().join(".ssh");
        env.mkdir(&ssh);
        let keys = ssh.join("authorized_keys");
        env.write(&keys, "ssh-ed25519 AAAAC3Nzb me@laptop\n");
        attack(&env, &ssh, &keys, "it is not a git directory (no HEAD)");
        // Relative, as a tarball would carry it.
        let relative = Path::new("../home/.ssh");
        env.write(
            &env.project().join(".git"),
            format!("gitdir: {}\n", relative.display()),
        );
        attack_from(
            &env,
            &env.project(),
            &ssh,
            &keys,
            "it is not a git directory",
        );
        controls(&env);
    }
}

#[test]
fn a_git_file_naming_jig_s_own_directories_mounts_nothing() {
    for env in Env::all() {
        install(&env, "gitdir", "");
        let index = env.jig_home().join("installed.json");
        attack(&env, &env.jig_home(), &index, "it is jig's own directory");
        // A separate configuration directory, and a directory holding the data one.
        let config = env.dir().join("config");
        env.mkdir(&config);
        env.write(&config.join("config.toml"), "# registry credentials\n");
        let dot_git = env.project().join(".git");
        env.write(&dot_git, format!("gitdir: {}\n", config.display()));
        let mut c = env.shim_cmd(
            "probe",
            &["append", config.join("config.toml").to_str().unwrap(), LINE],
        );
        c.env("JIG_CONFIG_DIR", &config);
        let out = run(c);
        assert_ran_unwritten(&out, &env.label());
        assert_eq!(
            fs::read_to_string(config.join("config.toml")).unwrap(),
            "# registry credentials\n",
            "{}",
            env.label()
        );
        let prefix = format!("jig: probe: not mounting {} ", config.display());
        assert_refused(&out, &prefix, "it is jig's own directory", &env.label());
        let store = env.jig_home().join("store");
        attack(&env, &store, &index, "is inside jig's directory");
        controls(&env);
    }
}

#[test]
fn a_git_file_naming_the_runtime_directory_mounts_nothing() {
    for env in Env::all() {
        install(&env, "gitdir", "");
        let runtime = env.dir().join("run");
        env.mkdir(&runtime);
        let gnupg = runtime.join("gnupg");
        env.mkdir(&gnupg);
        let victim = runtime.join("agent.env");
        env.write(&victim, "SSH_AUTH_SOCK=/run/agent\n");
        let secret = gnupg.join("sshcontrol");
        env.write(&secret, "# keys\n");
        let dot_git = env.project().join(".git");
        for (target, victim, reason) in [
            (&runtime, &victim, "it is $XDG_RUNTIME_DIR"),
            (&gnupg, &secret, "is inside $XDG_RUNTIME_DIR"),
        ] {
            env.write(&dot_git, format!("gitdir: {}\n", target.display()));
            let l = format!("{} {}", env.label(), target.display());
            let before = fs::read_to_string(victim).unwrap();
            let mut c = env.shim_cmd("probe", &["append", victim.to_str().unwrap(), LINE]);
            c.env("XDG_RUNTIME_DIR", &runtime);
            let out = run(c);
            assert_ran_unwritten(&out, &l);
            assert_eq!(fs::read_to_string(victim).unwrap(), before, "{l}");
            let prefix = format!("jig: probe: not mounting {} ", target.display());
            assert_refused(&out, &prefix, reason, &l);
        }
        controls(&env);
    }
}

#[test]
fn a_git_file_naming_a_plain_directory_mounts_nothing() {
    for env in Env::all() {
        install(&env, "gitdir", "");
        let plain = env.dir().join("plain");
        env.mkdir(&plain);
        let notes = plain.join("notes.txt");
        env.write(&notes, "notes\n");
        attack(&env, &plain, &notes, "it is not a git directory (no HEAD)");
        // Directories arguments may not name either, with the same reasons.
        let ssh = env.home().join(".ssh");
        env.mkdir(&ssh);
        let keys = ssh.join("authorized_keys");
        env.write(&keys, "ssh-ed25519 AAAAC3Nzb me@laptop\n");
        attack(&env, &env.home(), &keys, "it is the whole home directory");
        attack(&env, env.dir(), &keys, "holds the home directory");
        controls(&env);
    }
}

#[test]
fn a_fake_git_directory_that_does_not_link_back_mounts_nothing() {
    for env in Env::all() {
        install(&env, "gitdir", "");
        controls(&env);
        // HEAD and objects, but nobody's worktree or submodule.
        let fake = env.dir().join("fake");
        env.mkdir(&fake.join("objects"));
        env.write(&fake.join("HEAD"), "ref: refs/heads/main\n");
        env.write(&fake.join("config"), "[core]\n\tworktree = ../project\n");
        attack(
            &env,
            &fake,
            &fake.join("config"),
            "neither a worktree's nor a submodule's git directory",
        );
        // Another worktree's git directory: its back-link names that worktree.
        let main = env.dir().join("main");
        let admin = main.join(".git/worktrees/wt");
        let reason = format!(
            "it belongs to the worktree at {}, not this one",
            env.dir().join("wt").display()
        );
        attack(&env, &admin, &main.join(".git/config"), &reason);
        // A git directory inside the workspace whose commondir leads out of it.
        let inner = env.project().join(".evil");
        env.mkdir(&inner);
        env.write(&inner.join("HEAD"), "ref: refs/heads/main\n");
        env.write(
            &inner.join("commondir"),
            format!("{}\n", main.join(".git").display()),
        );
        env.write(
            &inner.join("gitdir"),
            format!("{}\n", env.project().join(".git").display()),
        );
        attack(
            &env,
            &inner,
            &main.join(".git/config"),
            "it is not in the worktrees directory of",
        );
        // A submodule's git directory claimed by another directory of the superproject.
        let superproject = env.dir().join("super");
        let evil = superproject.join("evil");
        env.mkdir(&evil);
        env.write(&evil.join(".git"), "gitdir: ../.git/modules/lib\n");
        let modules = superproject.join(".git/modules/lib");
        let reason = format!(
            "it is the git directory of the submodule at {}",
            superproject.join("lib").display()
        );
        attack_from(&env, &evil, &modules, &modules.join("config"), &reason);
    }
}

#[test]
fn from_env_refuses_home_jig_and_the_runtime_directory() {
    for env in Env::all() {
        install(&env, "fromenv", "[mounts]\nfrom_env = [\"X\"]\n");
        let runtime = env.dir().join("run");
        env.mkdir(&runtime);
        let agent = runtime.join("agent.env");
        env.write(&agent, "SSH_AUTH_SOCK=/run/agent\n");
        let profile = env.home().join(".profile");
        env.write(&profile, "PATH=$HOME/bin:$PATH\n");
        let notes = env.dir().join("notes.txt");
        env.write(&notes, "notes\n");
        let index = env.jig_home().join("installed.json");
        for (x, victim, reason) in [
            (
                env.dir().to_owned(),
                notes.clone(),
                "holds the home directory",
            ),
            (env.jig_home(), index.clone(), "it is jig's own directory"),
            (
                env.jig_home().join("store"),
                index.clone(),
                "is inside jig's directory",
            ),
            (runtime.clone(), agent.clone(), "it is $XDG_RUNTIME_DIR"),
            (
                env.home(),
                profile.clone(),
                "it is the whole home directory",
            ),
        ] {
            let l = format!("{} X={}", env.label(), x.display());
            let before = fs::read_to_string(&victim).unwrap();
            let mut c = env.shim_cmd("probe", &["append", victim.to_str().unwrap(), LINE]);
            c.env("X", &x).env("XDG_RUNTIME_DIR", &runtime);
            let out = run(c);
            // The probe ran; in the ephemeral home or overlay a write may succeed, on
            // the host nothing changed.
            assert!(stdout(&out).starts_with("open "), "{l}: {}", stderr(&out));
            assert_eq!(fs::read_to_string(&victim).unwrap(), before, "{l}");
            let prefix = format!("jig: probe: not mounting $X ({}): ", x.display());
            assert_refused(&out, &prefix, reason, &l);
        }
        // A socket inside the runtime directory (an agent's) is still bound.
        let sock = runtime.join("agent.sock");
        let _listener = UnixListener::bind(&sock).unwrap();
        env.own(&sock);
        let l = format!("{} X={}", env.label(), sock.display());
        let mut c = env.shim_cmd(
            "sh",
            &[
                "-c",
                "test -S \"$0\" && echo socket",
                sock.to_str().unwrap(),
            ],
        );
        c.env("X", &sock).env("XDG_RUNTIME_DIR", &runtime);
        let out = run(c);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "socket\n", "{l}");
        assert!(
            !stderr(&out).contains("not mounting"),
            "{l} {}",
            stderr(&out)
        );
    }
}
