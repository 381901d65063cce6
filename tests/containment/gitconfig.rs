//! What a git launch brings in besides the workspace is chosen by files a tool can
//! write: a staged read-write home file (`~/.gitconfig`, saved back after the tool
//! exits), the paths `~/.gitconfig` names (`[mounts] git_config`), the repository's
//! `.git/config` (remotes) and `.git/worktrees/*/gitdir`. The attacks: create or
//! replace other home files next to the staged one, leave a symlink or a directory
//! to be saved, name `~/.ssh`, the GnuPG home, system or jig's directories as a
//! remote, an include or a worktree. Beside them, the controls: a renamed-over and a
//! created `~/.gitconfig` are saved, a real remote and a real worktree are writable,
//! a named excludes file is readable.

use super::*;

use std::process::Output;
use std::sync::OnceLock;

const LINE: &str = "ssh-ed25519 AAAAC3Nza attacker@evil\n";

/// Installs the probe recipe `gitconf`: `~/.gitconfig` read-write, `git_config`.
fn install(env: &Env) {
    static IMAGE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, rootfs) = IMAGE.get_or_init(|| {
        let dir = shared_tempdir("gitconf-");
        let rootfs = probe_image(dir.path());
        (dir, rootfs)
    });
    let rest = "[mounts]\nhome_rw = [\".gitconfig\"]\ngit_config = true\n";
    let recipe = probe_recipe(env, "gitconf", rootfs, "", rest);
    let out = env.jig(&["install", recipe.to_str().unwrap()]);
    assert_ok(&out, &format!("{} jig install gitconf", env.label()));
}

/// The host's git as the environment's user in `dir`.
fn git(env: &Env, dir: &Path, args: &[&str]) {
    let mut c = env.command("/usr/bin/git");
    c.args([
        "-c",
        "user.name=jig",
        "-c",
        "user.email=jig@example.invalid",
        "-c",
        "init.defaultBranch=main",
    ])
    .args(args)
    .current_dir(dir);
    assert_ok(&run(c), &format!("{} git {args:?}", env.label()));
}

/// `sh -c SCRIPT` through the recipe, in `dir`.
fn sh(env: &Env, dir: &Path, script: &str) -> Output {
    let mut c = env.shim_cmd("sh", &["-c", script]);
    c.current_dir(dir);
    run(c)
}

/// `probe append VICTIM LINE` through the recipe, in `dir`.
fn append(env: &Env, dir: &Path, victim: &Path) -> Output {
    let mut c = env.shim_cmd("probe", &["append", victim.to_str().unwrap(), LINE]);
    c.current_dir(dir);
    run(c)
}

/// The probe ran and did not write.
fn assert_unwritten(out: &Output, l: &str) {
    assert!(
        stdout(out).starts_with("open "),
        "{l}: {}\n{}",
        stdout(out),
        stderr(out)
    );
    assert!(!stdout(out).contains("write ok"), "{l}: {}", stdout(out));
}

/// stderr has `jig: probe: not mounting WHAT...REASON` (or `jig: sh: ...`).
fn assert_said(out: &Output, start: &str, reason: &str, l: &str) {
    let err = stderr(out);
    assert!(
        err.lines()
            .any(|x| x.starts_with(start) && x.contains(reason)),
        "{l}: no line {start:?}...{reason:?} in {err}"
    );
}

fn home_names(env: &Env) -> Vec<String> {
    let mut n: Vec<_> = fs::read_dir(env.home())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    n.sort();
    n
}

#[test]
fn a_staged_home_file_saves_itself_and_nothing_beside_it() {
    for env in Env::all() {
        let l = env.label();
        install(&env);
        let conf = env.home().join(".gitconfig");
        env.write(&conf, "[user]\n\tname = me\n");
        // Control: replaced by rename, as git saves it.
        let out = sh(
            &env,
            &env.project(),
            "printf '[user]\\n\\tname = new\\n' > ~/.gitconfig.lock && mv ~/.gitconfig.lock ~/.gitconfig \
             && echo evil > ~/.bashrc && mkdir ~/.config && echo evil > ~/.config/autostart \
             && ln -s /etc/passwd ~/.profile",
        );
        assert_ok(&out, &l);
        assert_eq!(
            fs::read_to_string(&conf).unwrap(),
            "[user]\n\tname = new\n",
            "{l}"
        );
        assert_eq!(
            home_names(&env),
            [".gitconfig"],
            "{l}: more than the declared file"
        );
        // Control: created when it was missing.
        fs::remove_file(&conf).unwrap();
        assert_ok(&sh(&env, &env.project(), "echo made > ~/.gitconfig"), &l);
        assert_eq!(fs::read_to_string(&conf).unwrap(), "made\n", "{l}");
        // A symlink or a directory left in its place is not saved.
        let prefix = format!("jig: sh: not saving {}: ", conf.display());
        let out = sh(
            &env,
            &env.project(),
            "rm ~/.gitconfig && ln -s /etc/shadow ~/.gitconfig",
        );
        assert_said(&out, &prefix, "symlink", &l);
        let out = sh(
            &env,
            &env.project(),
            "rm ~/.gitconfig && mkdir ~/.gitconfig",
        );
        assert_said(&out, &prefix, "directory", &l);
        assert_eq!(fs::read_to_string(&conf).unwrap(), "made\n", "{l}");
        assert!(fs::symlink_metadata(&conf).unwrap().is_file(), "{l}");
        // A change made on the host while the tool runs wins over the tool's.
        let mut c = env.shim_cmd(
            "sh",
            &[
                "-c",
                "echo tool > ~/.gitconfig; touch ready; while [ ! -e go ]; do sleep 0.05; done",
            ],
        );
        c.current_dir(env.project())
            .stderr(std::process::Stdio::piped());
        let child = c.spawn().unwrap();
        let ready = env.project().join("ready");
        assert!(
            poll(std::time::Duration::from_secs(20), || ready
                .exists()
                .then_some(()))
            .is_some(),
            "{l}: the tool did not start"
        );
        env.write(&conf, "host\n");
        env.write(&env.project().join("go"), "");
        let out = child.wait_with_output().unwrap();
        assert_said(&out, &prefix, "changed on the host", &l);
        assert_eq!(fs::read_to_string(&conf).unwrap(), "host\n", "{l}");
    }
}

#[test]
fn a_hostile_repository_config_names_no_home_system_or_jig_directory_as_a_remote() {
    for env in Env::all() {
        let l = env.label();
        install(&env);
        let ssh = env.home().join(".ssh");
        env.mkdir(&ssh);
        let keys = ssh.join("authorized_keys");
        env.write(&keys, "ssh-ed25519 AAAAC3Nzb me@laptop\n");
        git(&env, &env.project(), &["init", "-q"]);
        // A real repository in jig's own directory (a recipe repository's clone).
        let jig_repo = env.jig_home().join("repos/evil/git");
        git(
            &env,
            env.dir(),
            &["init", "-q", "--bare", jig_repo.to_str().unwrap()],
        );
        // Control: a real remote outside the workspace.
        let good = env.dir().join("srv/good.git");
        git(
            &env,
            env.dir(),
            &["init", "-q", "--bare", good.to_str().unwrap()],
        );
        let config = env.project().join(".git/config");
        let mut text = fs::read_to_string(&config).unwrap();
        text.push_str(&format!(
            "[remote \"a\"]\n\turl = file://{ssh}\n[remote \"b\"]\n\turl = x\n\tpushurl = {home}\n\
             [remote \"c\"]\n\turl = /etc\n[remote \"d\"]\n\turl = {jig}\n[remote \"good\"]\n\turl = {good}\n",
            ssh = ssh.display(),
            home = env.home().display(),
            jig = jig_repo.display(),
            good = good.display(),
        ));
        env.write(&config, text);
        let out = append(&env, &env.project(), &keys);
        assert_unwritten(&out, &l);
        assert_eq!(
            fs::read_to_string(&keys).unwrap(),
            "ssh-ed25519 AAAAC3Nzb me@laptop\n",
            "{l}"
        );
        let not = |what: String| format!("jig: probe: not mounting {what}: ");
        assert_said(
            &out,
            &not(format!("file://{} (remote a)", ssh.display())),
            "not a git repository",
            &l,
        );
        assert_said(
            &out,
            &not(format!("{} (remote b)", env.home().display())),
            "not a git repository",
            &l,
        );
        assert_said(
            &out,
            &not("/etc (remote c)".into()),
            "not a git repository",
            &l,
        );
        assert_said(
            &out,
            &not(format!("{} (remote d)", jig_repo.display())),
            "inside jig's directory",
            &l,
        );
        let out = append(&env, &env.project(), &good.join("description"));
        assert!(
            stdout(&out).contains("write ok"),
            "{l}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}

#[test]
fn a_hostile_gitconfig_names_home_paths_read_only_and_never_the_gnupg_home() {
    for env in Env::all() {
        let l = env.label();
        install(&env);
        let ssh = env.home().join(".ssh");
        env.mkdir(&ssh);
        let keys = ssh.join("authorized_keys");
        env.write(&keys, "ssh-ed25519 AAAAC3Nzb me@laptop\n");
        let gnupg = env.home().join(".gnupg");
        env.mkdir(&gnupg.join("private-keys-v1.d"));
        env.write(&gnupg.join("private-keys-v1.d/k.key"), "secret\n");
        env.write(&env.home().join(".gitignore_global"), "*.log\n");
        env.write(
            &env.home().join(".gitconfig"),
            format!(
                "[includeIf \"gitdir:/\"]\n\tpath = ~/.ssh\n[include]\n\tpath = ~/.gnupg/private-keys-v1.d\n\
                 [core]\n\thooksPath = /etc\n\texcludesFile = ~/.gitignore_global\n\
                 [commit]\n\ttemplate = {}\n",
                env.jig_home().join("installed.json").display()
            ),
        );
        let out = append(&env, &env.project(), &keys);
        assert_unwritten(&out, &l);
        assert!(stdout(&out).contains("Read-only"), "{l}: {}", stdout(&out));
        assert_eq!(
            fs::read_to_string(&keys).unwrap(),
            "ssh-ed25519 AAAAC3Nzb me@laptop\n",
            "{l}"
        );
        let from = format!(
            "(include.path in {})",
            env.home().join(".gitconfig").display()
        );
        assert_said(
            &out,
            &format!(
                "jig: probe: not mounting {} {from}: ",
                gnupg.join("private-keys-v1.d").display()
            ),
            "GnuPG home directory",
            &l,
        );
        assert_said(
            &out,
            "jig: probe: not mounting /etc (core.hooksPath in ",
            "system directory",
            &l,
        );
        assert_said(
            &out,
            &format!(
                "jig: probe: not mounting {} (commit.template in ",
                env.jig_home().join("installed.json").display()
            ),
            "inside jig's directory",
            &l,
        );
        // Control: the named excludes file is there to read.
        let out = sh(
            &env,
            &env.project(),
            "cat ~/.gitignore_global; cat ~/.gnupg/private-keys-v1.d/k.key",
        );
        assert!(stdout(&out).starts_with("*.log\n"), "{l}: {}", stdout(&out));
        assert!(!stdout(&out).contains("secret"), "{l}");
    }
}

#[test]
fn a_planted_worktree_registration_mounts_nothing() {
    for env in Env::all() {
        let l = env.label();
        install(&env);
        git(&env, &env.project(), &["init", "-q"]);
        git(
            &env,
            &env.project(),
            &["commit", "-q", "--allow-empty", "-m", "first"],
        );
        // Control: a real worktree outside the workspace, made by the host's git.
        let wt = env.dir().join("wt");
        git(
            &env,
            &env.project(),
            &["worktree", "add", "-q", wt.to_str().unwrap()],
        );
        // The attack: a registration naming a directory whose .git does not link back.
        let victim_dir = env.home().join("notes");
        env.mkdir(&victim_dir);
        env.write(&victim_dir.join(".git"), "gitdir: /nowhere\n");
        let victim = victim_dir.join("todo.txt");
        env.write(&victim, "mine\n");
        let admin = env.project().join(".git/worktrees/evil");
        env.mkdir(&admin);
        env.write(
            &admin.join("gitdir"),
            format!("{}\n", victim_dir.join(".git").display()),
        );
        let out = append(&env, &env.project(), &victim);
        assert_unwritten(&out, &l);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "mine\n", "{l}");
        assert_said(
            &out,
            &format!(
                "jig: probe: not mounting {} (a worktree of this repository): ",
                victim_dir.display()
            ),
            "does not name",
            &l,
        );
        let out = append(&env, &env.project(), &wt.join("new.txt"));
        assert!(
            stdout(&out).contains("write ok"),
            "{l}: {}{}",
            stdout(&out),
            stderr(&out)
        );
    }
}
