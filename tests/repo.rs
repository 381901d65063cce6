//! Recipe repositories: a git repository made here is added, pinned, searched, used,
//! updated and removed; lookup order between built-in and repository recipes; a plain
//! directory pinned by content; hostile names, refs and files refused. Once per
//! identity.

mod common;

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use common::*;

/// A repository recipe: a busybox image (no host path), `sh` as its shim, and a
/// variable that shows which text of the recipe was installed.
fn recipe(name: &str, version: &str, greeting: &str) -> String {
    format!(
        r#"name = "{name}"
version = "{version}"
description = "Greets with {greeting}"
[image]
from = "busybox:/bin/busybox"
[tool]
shims = ["sh"]
[env]
set = {{ GREETING = "{greeting}" }}
"#
    )
}

/// Runs the host's git as the environment's user in `dir`.
fn git(env: &Env, dir: &Path, args: &[&str]) -> String {
    let mut c = env.command("git");
    c.arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=jig test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args([
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args);
    let out = run(c);
    assert_ok(&out, &format!("{} git {args:?}", env.label()));
    stdout(&out).trim().to_owned()
}

/// A git repository owned by the environment's user, with `files` under `recipes/`
/// committed; returns its path.
fn source_repo(env: &Env, name: &str, files: &[(&str, String)]) -> PathBuf {
    let dir = env.dir().join(name);
    env.mkdir(&dir);
    env.mkdir(&dir.join("recipes"));
    git(env, &dir, &["init", "-q"]);
    commit(env, &dir, files, &[], "first");
    dir
}

/// Writes `files`, deletes `gone`, commits everything; returns the new commit.
fn commit(env: &Env, dir: &Path, files: &[(&str, String)], gone: &[&str], msg: &str) -> String {
    for (file, text) in files {
        env.write(&dir.join("recipes").join(file), text);
    }
    for file in gone {
        std::fs::remove_file(dir.join("recipes").join(file)).unwrap();
    }
    git(env, dir, &["add", "-A"]);
    git(env, dir, &["commit", "-q", "-m", msg]);
    git(env, dir, &["rev-parse", "HEAD"])
}

fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.jig(args);
    assert_ok(&out, &format!("{} jig {args:?}", env.label()));
    stdout(&out)
}

fn fails(env: &Env, args: &[&str]) -> String {
    let out = env.jig(args);
    assert_code(&out, 1, &format!("{} jig {args:?}", env.label()));
    stderr(&out)
}

/// `jig ARGS` naming a repository or recipe that does not exist: the usage status, 2.
fn unknown(env: &Env, args: &[&str]) -> String {
    let out = env.jig(args);
    assert_code(&out, 2, &format!("{} jig {args:?}", env.label()));
    stderr(&out)
}

#[test]
fn git_repository_is_pinned_until_updated() {
    for env in Env::all() {
        let l = env.label();
        let src = source_repo(
            &env,
            "team-recipes",
            &[
                ("hello.toml", recipe("hello", "1.0", "one")),
                (
                    "old.toml",
                    recipe("old", "0.1", "old").replace("[\"sh\"]", "[\"cat\"]")
                        + "[versions.\"0.2\"]\ndescription = \"newer\"\n",
                ),
            ],
        );
        let c1 = git(&env, &src, &["rev-parse", "HEAD"]);
        let src_str = src.to_str().unwrap();

        ok(&env, &["repo", "add", "team", src_str]);
        assert_eq!(
            ok(&env, &["repo", "list"]),
            format!("team\tgit\t{src_str}\t-\t{c1}\n"),
            "{l}"
        );
        let found = ok(&env, &["search", "GREETS WITH ONE"]);
        assert_eq!(
            found,
            format!("team/hello\t1.0\tteam@{}\tGreets with one\n", &c1[..12]),
            "{l}"
        );
        let all = ok(&env, &["search"]);
        assert!(all.lines().any(|x| x.starts_with("git\t")), "{l} {all}");
        assert!(all.contains("team/old\t0.1,0.2\t"), "{l} {all}");
        assert_eq!(ok(&env, &["search", "no-such-thing"]), "", "{l}");

        // Installed from the repository, and its shim runs.
        ok(&env, &["install", "team/hello"]);
        let out = env.sh("echo $GREETING");
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "one\n", "{l}");
        ok(&env, &["install", "team/old@0.2"]);
        let out = ok(
            &env,
            &["exec", "team/old@0.2", "--", "sh", "-c", "echo $GREETING"],
        );
        assert_eq!(out, "old\n", "{l}");
        // A shim asked for a version not installed installs it from the repository.
        let mut c = env.shim_cmd("cat", &["/etc/group"]);
        c.env("JIG_OLD_VERSION", "0.1");
        let out = run(c);
        assert_ok(&out, &l);
        assert!(stderr(&out).contains("installing"), "{l} {}", stderr(&out));
        ok(&env, &["uninstall", "old"]);
        let which = ok(&env, &["which", "sh"]);
        assert!(
            which.contains(&format!("repository team at {}", &c1[..12])),
            "{l} {which}"
        );

        // A new commit upstream: nothing moves until `repo update`.
        let c2 = commit(
            &env,
            &src,
            &[
                ("hello.toml", recipe("hello", "1.1", "two")),
                ("extra.toml", recipe("extra", "2.0", "extra")),
            ],
            &["old.toml"],
            "second",
        );
        assert_ne!(c1, c2);
        assert!(ok(&env, &["repo", "list"]).contains(&c1), "{l}");
        assert!(
            ok(&env, &["search", "hello"]).contains("team/hello\t1.0\t"),
            "{l}"
        );
        ok(&env, &["install", "team/hello"]);
        assert_eq!(stdout(&env.sh("echo $GREETING")), "one\n", "{l}");

        let report = ok(&env, &["repo", "update", "team"]);
        assert_eq!(
            report,
            format!(
                "team: {}..{}\n  added    extra 2.0\n  changed  hello 1.0 -> 1.1\n  removed  old 0.1,0.2\n",
                &c1[..12],
                &c2[..12]
            ),
            "{l}"
        );
        assert!(ok(&env, &["repo", "list"]).contains(&c2), "{l}");
        assert_eq!(
            ok(&env, &["repo", "update"]),
            format!("team: up to date at {}\n", &c2[..12]),
            "{l}"
        );
        ok(&env, &["install", "team/hello"]);
        assert_eq!(stdout(&env.sh("echo $GREETING")), "two\n", "{l}");
        let err = unknown(&env, &["install", "team/old"]);
        assert!(
            err.contains("no recipe 'old'") && err.contains("jig search"),
            "{l} {err}"
        );

        // A ref that is a full commit stays; a branch ref follows its branch.
        ok(&env, &["repo", "add", "fixed", src_str, "--ref", &c1]);
        ok(&env, &["repo", "add", "branch", src_str, "--ref", "main"]);
        let c3 = commit(
            &env,
            &src,
            &[("hello.toml", recipe("hello", "1.2", "three"))],
            &[],
            "third",
        );
        let report = ok(&env, &["repo", "update"]);
        assert!(
            report.contains(&format!("fixed: up to date at {}", &c1[..12])),
            "{l} {report}"
        );
        assert!(
            report.contains(&format!("branch: {}..{}", &c2[..12], &c3[..12])),
            "{l} {report}"
        );
        assert!(report.contains("changed  hello 1.1 -> 1.2"), "{l} {report}");

        // A `git` shim (jig itself, here running a busybox image without git) and another
        // link to jig, both first on PATH: repo commands skip them for the host's git.
        let fake = recipe("fakegit", "1", "fake").replace("[\"sh\"]", "[\"git\"]");
        commit(&env, &src, &[("fakegit.toml", fake)], &[], "fake git");
        ok(&env, &["repo", "update", "branch"]);
        ok(&env, &["install", "branch/fakegit"]);
        assert!(env.shim_path("git").is_symlink(), "{l}");
        let links = env.dir().join("links");
        env.mkdir(&links);
        symlink(&fixture().jig, links.join("git")).unwrap();
        env.own(&links.join("git"));
        let path = format!(
            "{}:{}:/usr/bin:/bin",
            links.display(),
            env.shims().display()
        );
        let c4 = commit(
            &env,
            &src,
            &[("hello.toml", recipe("hello", "1.3", "four"))],
            &[],
            "fourth",
        );
        let mut c = env.jig_cmd(&["repo", "update", "branch"]);
        c.env("PATH", &path);
        let out = run(c);
        assert_ok(&out, &l);
        assert!(stdout(&out).contains(&c4[..12]), "{l} {}", stdout(&out));

        // Removal unregisters and deletes the fetched data; the installed tool stays.
        ok(&env, &["repo", "remove", "team"]);
        let list = ok(&env, &["repo", "list"]);
        assert!(!list.contains("team\t"), "{l} {list}");
        assert!(!env.jig_home().join("repos/team").exists(), "{l}");
        assert_eq!(stdout(&env.sh("echo $GREETING")), "two\n", "{l}");
        unknown(&env, &["repo", "remove", "team"]);
        let err = unknown(&env, &["install", "team/hello"]);
        assert!(
            err.contains("no recipe repository named 'team'"),
            "{l} {err}"
        );
    }
}

#[test]
fn builtin_wins_unless_qualified_or_ordered() {
    for env in Env::all() {
        let l = env.label();
        // Same name as the built-in `busybox` recipe (version "host").
        let text = recipe("busybox", "9.9", "repo").replace("[\"sh\"]", "[\"busybox\"]");
        let src = source_repo(&env, "src", &[("busybox.toml", text)]);
        ok(&env, &["repo", "add", "team", src.to_str().unwrap()]);

        let found = ok(&env, &["search", "busybox"]);
        let names: Vec<_> = found
            .lines()
            .map(|x| x.split('\t').next().unwrap())
            .collect();
        assert_eq!(names, ["busybox", "team/busybox"], "{l} {found}");

        ok(&env, &["install", "busybox"]);
        assert!(ok(&env, &["list"]).starts_with("busybox\thost\t"), "{l}");
        ok(&env, &["install", "team/busybox"]);
        assert!(
            ok(&env, &["list"]).starts_with("busybox\t9.9,host\t"),
            "{l}"
        );
        assert!(
            ok(&env, &["which", "busybox"]).contains("repository team"),
            "{l}"
        );
        ok(&env, &["install", "builtin/busybox"]);
        assert!(ok(&env, &["which", "busybox"]).contains("built-in"), "{l}");

        // The configured order puts the repository first.
        env.mkdir(&env.jig_home());
        env.write(
            &env.jig_home().join("config.toml"),
            "recipe_order = [\"team\", \"builtin\"]\n",
        );
        ok(&env, &["install", "busybox"]);
        assert!(
            ok(&env, &["which", "busybox"]).contains("repository team"),
            "{l}"
        );
        let found = ok(&env, &["search", "busybox"]);
        assert!(found.starts_with("team/busybox\t"), "{l} {found}");
        // `REPO/NAME` runs what is installed from that repository.
        let out = env.jig(&["exec", "team/busybox", "--", "sh", "-c", "echo $GREETING"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "repo\n", "{l}");

        let out = env.jig(&["run", "nosuch"]);
        assert_code(&out, 2, &l);
        let err = stderr(&out);
        assert!(
            err.contains("looked in: repository 'team', built-in recipes")
                && err.contains("jig search nosuch"),
            "{l} {err}"
        );
    }
}

#[test]
fn local_directory_is_pinned_by_content() {
    for env in Env::all() {
        let l = env.label();
        let dir = env.dir().join("plain");
        env.mkdir(&dir);
        env.mkdir(&dir.join("recipes"));
        let file = dir.join("recipes/tool.toml");
        env.write(&file, recipe("tool", "1", "first"));
        ok(&env, &["repo", "add", "plain", dir.to_str().unwrap()]);
        let list = ok(&env, &["repo", "list"]);
        let fields: Vec<_> = list.trim_end().split('\t').collect();
        assert_eq!(
            fields[..4],
            ["plain", "dir", dir.to_str().unwrap(), "-"],
            "{l}"
        );
        assert!(fields[4].starts_with("sha256:"), "{l} {list}");

        env.write(&file, recipe("tool", "2", "second"));
        assert_eq!(ok(&env, &["repo", "list"]), list, "{l}");
        let out = env.jig(&["exec", "tool", "--", "sh", "-c", "echo $GREETING"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "first\n", "{l}");

        let report = ok(&env, &["repo", "update", "plain"]);
        assert!(report.contains("changed  tool 1 -> 2"), "{l} {report}");
        assert_ne!(ok(&env, &["repo", "list"]), list, "{l}");
        // What is installed stays until installed again.
        let out = env.jig(&["exec", "plain/tool", "--", "sh", "-c", "echo $GREETING"]);
        assert_eq!(stdout(&out), "first\n", "{l} {}", stderr(&out));
        ok(&env, &["install", "plain/tool"]);
        let out = env.jig(&["exec", "plain/tool", "--", "sh", "-c", "echo $GREETING"]);
        assert_eq!(stdout(&out), "second\n", "{l} {}", stderr(&out));

        // --ref means nothing to a directory.
        let err = fails(
            &env,
            &["repo", "add", "x", dir.to_str().unwrap(), "--ref", "main"],
        );
        assert!(err.contains("--ref"), "{l} {err}");
    }
}

#[test]
fn hostile_names_refs_and_files_are_refused() {
    for env in Env::all() {
        let l = env.label();
        let secret = env.dir().join("secret.toml");
        env.write(&secret, recipe("secret", "1", "secret"));
        let broken = "name = \"broken\"\nversion = 1\n".to_owned();
        let wrong = recipe("other", "1", "wrong");
        let host = recipe("host", "1", "host").replace("busybox:/bin/busybox", "rootfs:/");
        let src = source_repo(
            &env,
            "src",
            &[
                ("good.toml", recipe("good", "1", "good")),
                ("broken.toml", broken),
                ("wrong.toml", wrong),
                ("host.toml", host),
            ],
        );
        symlink(&secret, src.join("recipes/leak.toml")).unwrap();
        env.own(&src.join("recipes/leak.toml"));
        git(&env, &src, &["add", "-A"]);
        git(&env, &src, &["commit", "-q", "-m", "link"]);
        let src_str = src.to_str().unwrap();

        // Option injection through the location or the ref.
        let pwned = env.dir().join("pwned");
        let upload = format!("--upload-pack=touch {}", pwned.display());
        let err = fails(&env, &["repo", "add", "evil", "--", &upload]);
        assert!(err.contains("must not start with '-'"), "{l} {err}");
        let err = fails(
            &env,
            &["repo", "add", "evil", src_str, "--ref=--upload-pack=x"],
        );
        assert!(err.contains("invalid --ref"), "{l} {err}");
        for name in ["../up", "builtin", "a/b"] {
            fails(&env, &["repo", "add", name, src_str]);
        }
        assert!(!pwned.exists(), "{l}");
        assert_eq!(ok(&env, &["repo", "list"]), "", "{l}");

        // Bad files are reported with where they are; the good recipe still shows.
        let out = env.jig(&["repo", "add", "team", src_str]);
        assert_ok(&out, &l);
        assert!(
            stderr(&out).contains("team:recipes/leak.toml: a symlink"),
            "{l}"
        );
        let out = env.jig(&["search"]);
        assert_ok(&out, &l);
        let (found, err) = (stdout(&out), stderr(&out));
        let team: Vec<_> = found.lines().filter(|x| x.starts_with("team/")).collect();
        assert_eq!(team.len(), 1, "{l} {found}");
        assert!(team[0].starts_with("team/good\t1\t"), "{l} {found}");
        assert!(
            err.contains("team:recipes/broken.toml") && err.contains("line 2, column 11"),
            "{l} {err}"
        );
        assert!(
            err.contains("team:recipes/wrong.toml") && err.contains("file name"),
            "{l} {err}"
        );
        assert!(
            err.contains("team:recipes/host.toml") && err.contains("rootfs:"),
            "{l} {err}"
        );
        assert!(
            err.contains("team:recipes/leak.toml: a symlink"),
            "{l} {err}"
        );
        let err = fails(&env, &["install", "team/leak"]);
        assert!(err.contains("symlink"), "{l} {err}");
        let err = fails(&env, &["install", "team/host"]);
        assert!(err.contains("rootfs:"), "{l} {err}");
    }
}

/// `jig outdated` sees a repository recipe change only once `jig repo update` moved
/// the pin; `jig upgrade` rebuilds it, moves to a new version unless a project pin
/// holds the old one (`install::upgrade_rebuilds_an_edited_recipe_file` shows the old
/// image kept until `jig gc`).
#[test]
fn outdated_and_upgrade_follow_the_repository_pin() {
    for env in Env::all() {
        let l = env.label();
        let src = source_repo(
            &env,
            "up-recipes",
            &[("greet.toml", recipe("greet", "1.0", "one"))],
        );
        ok(&env, &["repo", "add", "team", src.to_str().unwrap()]);
        ok(&env, &["install", "team/greet"]);
        let greeting = || stdout(&env.sh("echo $GREETING"));
        assert_eq!(greeting(), "one\n", "{l}");
        assert_eq!(ok(&env, &["outdated"]), "", "{l} fresh install");

        // A new commit is not seen before the pin moves.
        commit(
            &env,
            &src,
            &[("greet.toml", recipe("greet", "1.0", "two"))],
            &[],
            "two",
        );
        assert_eq!(ok(&env, &["outdated"]), "", "{l} pin not moved");
        ok(&env, &["repo", "update", "team"]);
        assert_eq!(
            ok(&env, &["outdated"]),
            "greet\t1.0\t1.0\trecipe changed\n",
            "{l}"
        );
        let out = env.jig(&["upgrade", "gret"]);
        assert_code(&out, 2, &format!("{l} unknown name"));
        assert!(
            stderr(&out).contains("greet"),
            "{l} suggestion: {}",
            stderr(&out)
        );
        ok(&env, &["upgrade", "greet"]);
        assert_eq!(greeting(), "two\n", "{l} upgraded");
        assert_eq!(ok(&env, &["outdated"]), "", "{l} after the upgrade");

        // A new version: a project pin holds the old one, and says so.
        commit(
            &env,
            &src,
            &[("greet.toml", recipe("greet", "1.1", "three"))],
            &[],
            "1.1",
        );
        ok(&env, &["repo", "update", "team"]);
        assert_eq!(
            ok(&env, &["outdated"]),
            "greet\t1.0\t1.1\tnew version 1.1\n",
            "{l}"
        );
        env.write(
            &env.project().join("jig.toml"),
            "[tools]\ngreet = \"1.0\"\n",
        );
        let out = env.jig(&["upgrade"]);
        assert_ok(&out, &format!("{l} pinned upgrade"));
        assert!(
            stderr(&out).contains("greet stays at 1.0 (pinned by"),
            "{l} {}",
            stderr(&out)
        );
        assert_eq!(greeting(), "two\n", "{l} still at the pin");
        std::fs::remove_file(env.project().join("jig.toml")).unwrap();
        ok(&env, &["upgrade"]);
        assert_eq!(greeting(), "three\n", "{l} moved to 1.1");
        let list = ok(&env, &["list"]);
        assert!(list.starts_with("greet\t1.1\t"), "{l} {list}");
        assert_eq!(ok(&env, &["outdated"]), "", "{l} at 1.1");
    }
}
