//! Damaged state, one case per test: each error names the file and its hint works (the
//! test follows it); damage to one image never blocks commands about another; `jig
//! verify` finds one changed byte.

use std::fs;
use std::path::PathBuf;

use super::common::*;
use super::{recipe, rootfs_with, store};

/// Installs recipes `a` and `b` (distinct images, shims `a` and `b`); returns their
/// recipe files.
fn two(env: &Env) -> (PathBuf, PathBuf) {
    let l = env.label();
    let mk = |n: &str| {
        let root = rootfs_with(&env.dir().join(format!("{n}-root")), n, &[n]);
        let r = recipe(env, n, &root, "", &[n], "");
        assert_ok(&env.jig(&["install", r.to_str().unwrap()]), &l);
        r
    };
    (mk("a"), mk("b"))
}

/// The image directory of installed recipe `name`.
fn image_dir(env: &Env, name: &str) -> PathBuf {
    let id = env.image_id(name);
    store(env)
        .join("images")
        .join(id.strip_prefix("sha256:").unwrap())
}

/// The text of the first `hint:` line of `err`.
fn hint(err: &str) -> String {
    err.lines()
        .find_map(|l| l.trim().strip_prefix("hint: "))
        .unwrap_or_else(|| panic!("no hint in: {err}"))
        .to_owned()
}

/// The first command in backquotes of a hint.
fn quoted(hint: &str) -> String {
    hint.split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no command in: {hint}"))
        .to_owned()
}

/// Runs a shell command a hint names (`mv A B`, `rm A`), as the env's user.
fn follow(env: &Env, command: &str) {
    let out = run({
        let mut c = env.command("/bin/sh");
        c.args(["-c", command]);
        c
    });
    assert_ok(
        &out,
        &format!("{} following the hint `{command}`", env.label()),
    );
}

#[test]
fn a_garbled_image_toml_blocks_nothing_else_and_the_install_rebuilds_it() {
    for env in Env::all() {
        let l = env.label();
        let (a, _) = two(&env);
        let dir = image_dir(&env, "a");
        fs::write(dir.join("image.toml"), "source = [not toml").unwrap();
        let out = env.jig(&["images"]);
        assert_ok(&out, &format!("{l} images"));
        assert!(
            stdout(&out).contains("b@1"),
            "{l} b is listed: {}",
            stdout(&out)
        );
        let err = stderr(&out);
        assert!(
            err.contains(&dir.join("image.toml").display().to_string()),
            "{l} {err}"
        );
        assert!(err.contains("damaged"), "{l} {err}");
        assert_eq!(quoted(&hint(&err)), "jig verify --repair a", "{l} {err}");
        assert_ok(&env.jig(&["gc"]), &l);
        assert_eq!(stdout(&env.shim("b", &[])), "b\n", "{l}");
        // The hint works.
        let out = env.jig(&["verify", "--repair", "a"]);
        assert_ok(&out, &format!("{l} verify --repair"));
        assert_eq!(stdout(&env.shim("a", &[])), "a\n", "{l}");
        // So does installing it again, the other way out.
        fs::write(dir.join("image.toml"), "garbled = [").unwrap();
        assert_ok(&env.jig(&["install", a.to_str().unwrap()]), &l);
        assert_ok(&env.jig(&["verify", "a"]), &l);
    }
}

#[test]
fn a_deleted_image_toml_is_not_leaked_and_a_used_one_is_repaired() {
    for env in Env::all() {
        let l = env.label();
        two(&env);
        let a = image_dir(&env, "a");
        let b = image_dir(&env, "b");
        assert_ok(&env.jig(&["uninstall", "b"]), &l);
        fs::remove_file(b.join("image.toml")).unwrap();
        fs::remove_file(a.join("image.toml")).unwrap();
        let out = env.jig(&["gc"]);
        assert_ok(&out, &l);
        assert!(
            !b.exists(),
            "{l} an unused incomplete image is removed, not leaked"
        );
        assert!(a.exists(), "{l} a used one stays");
        let err = stderr(&out);
        assert!(err.contains("image.toml is missing"), "{l} {err}");
        let fix = quoted(&hint(&err));
        let words: Vec<&str> = fix.split_whitespace().collect();
        assert_ok(&env.jig(&words[1..]), &format!("{l} {fix}"));
        assert_eq!(stdout(&env.shim("a", &[])), "a\n", "{l}");
    }
}

#[test]
fn a_deleted_rootfs_is_rebuilt_by_install_force() {
    for env in Env::all() {
        let l = env.label();
        let (a, _) = two(&env);
        let dir = image_dir(&env, "a");
        fs::remove_dir_all(dir.join("rootfs")).unwrap();
        let out = env.shim("a", &[]);
        assert_code(&out, 125, &format!("{l} the shim without a rootfs"));
        assert!(
            stderr(&out).contains("missing from the store"),
            "{l} {}",
            stderr(&out)
        );
        // `jig doctor`'s quick store check finds it (its exit status is about the
        // machine too, so only its lines are looked at).
        let said = stdout(&env.jig(&["doctor"]));
        let rootfs = dir.join("rootfs").display().to_string();
        assert!(
            said.lines().any(|x| x.starts_with("FAIL  store: image ")
                && x.ends_with(&format!("is damaged: {rootfs} is missing"))),
            "{l} {said}"
        );
        assert!(
            said.contains("`jig verify --repair` rebuilds"),
            "{l} {said}"
        );
        assert_ok(&env.jig(&["install", "--force", a.to_str().unwrap()]), &l);
        let out = env.shim("a", &[]);
        assert_ok(&out, &format!("{l} the shim after install --force"));
        assert_eq!(stdout(&out), "a\n", "{l}");
        let said = stdout(&env.jig(&["doctor"]));
        assert!(
            said.contains("ok    store: 2 image(s), none damaged"),
            "{l} {said}"
        );
    }
}

#[test]
fn verify_finds_one_changed_byte_and_repair_rebuilds_the_image() {
    for env in Env::all() {
        let l = env.label();
        two(&env);
        assert_ok(&env.jig(&["verify"]), &format!("{l} intact"));
        let marker = image_dir(&env, "a").join("rootfs/marker");
        let mut bytes = fs::read(&marker).unwrap();
        bytes[0] ^= 1;
        fs::write(&marker, bytes).unwrap();
        let out = env.jig(&["verify"]);
        assert_code(&out, 1, &l);
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.iter().filter(|x| x.starts_with("DAMAGED")).count(),
            1,
            "{l} {lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|x| x.starts_with("DAMAGED") && x.contains("a@1")),
            "{l}"
        );
        assert!(
            lines
                .iter()
                .any(|x| x.starts_with("ok") && x.contains("b@1")),
            "{l}"
        );
        let fix = quoted(&hint(&stderr(&out)));
        assert_eq!(fix, "jig verify --repair", "{l}");
        let out = env.jig(&["verify", "--repair"]);
        assert_ok(&out, &format!("{l} repair"));
        assert!(
            stderr(&out).contains("repaired a 1"),
            "{l} {}",
            stderr(&out)
        );
        assert_ok(&env.jig(&["verify"]), &format!("{l} after the repair"));
        assert_eq!(stdout(&env.shim("a", &[])), "a\n", "{l}");
    }
}

#[test]
fn a_garbled_installed_json_is_named_and_its_hint_works() {
    for env in Env::all() {
        let l = env.label();
        let (a, b) = two(&env);
        let index = env.jig_home().join("installed.json");
        fs::write(&index, "{\"shims\": {\"a\": ").unwrap();
        for args in [vec!["list"], vec!["install", a.to_str().unwrap()]] {
            let out = env.jig(&args);
            assert_code(&out, 1, &format!("{l} {args:?}"));
            let err = stderr(&out);
            assert!(
                err.contains(&format!("{} is damaged", index.display())),
                "{l} {err}"
            );
        }
        let out = env.shim("a", &[]);
        assert!(stderr(&out).contains("installed.json is damaged"), "{l}");
        follow(&env, &quoted(&hint(&stderr(&env.jig(&["list"])))));
        for r in [&a, &b] {
            assert_ok(&env.jig(&["install", r.to_str().unwrap()]), &l);
        }
        assert_eq!(stdout(&env.shim("a", &[])), "a\n", "{l}");
    }
}

#[test]
fn a_garbled_jig_lock_is_named_and_lock_upgrade_rewrites_it() {
    for env in Env::all() {
        let l = env.label();
        env.install();
        env.write(&env.project().join("jig.toml"), "[tools]\nbb = \"1.35\"\n");
        assert_ok(&env.jig(&["lock"]), &l);
        let lock = env.project().join("jig.lock");
        fs::write(&lock, "lock_version = 1\n[tools.bb\nversion = ").unwrap();
        let out = env.jig(&["lock"]);
        assert_code(&out, 1, &l);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{} is damaged", lock.display())),
            "{l} {err}"
        );
        let fix = quoted(&hint(&err));
        assert_eq!(fix, "jig lock --upgrade", "{l}");
        assert_ok(&env.jig(&["lock", "--upgrade"]), &format!("{l} the hint"));
        assert_ok(&env.jig(&["lock"]), &l);
        assert_ok(&env.sh("true"), &l);
    }
}

#[test]
fn a_garbled_repos_json_blocks_no_built_in_recipe_and_its_hint_works() {
    for env in Env::all() {
        let l = env.label();
        let repos = env.jig_home().join("repos.json");
        fs::create_dir_all(env.jig_home()).unwrap();
        env.own(&env.jig_home());
        env.write(&repos, "{\"repos\": {");
        let out = env.jig(&["install", "busybox"]);
        assert_ok(&out, &format!("{l} a built-in recipe"));
        assert!(
            stderr(&out).contains("repos.json is damaged"),
            "{l} {}",
            stderr(&out)
        );
        let out = env.jig(&["repo", "list"]);
        assert_code(&out, 1, &l);
        let err = stderr(&out);
        follow(&env, &quoted(&hint(&err)));
        let dir = env.dir().join("team");
        env.mkdir(&dir.join("recipes"));
        env.write(
            &dir.join("recipes/bbx.toml"),
            "name = \"bbx\"\nversion = \"1\"\n[image]\nfrom = \"busybox:/bin/busybox\"\n[tool]\nshims = [\"uname\"]\n",
        );
        assert_ok(
            &env.jig(&["repo", "add", "team", dir.to_str().unwrap()]),
            &l,
        );
        assert_ok(&env.jig(&["install", "--force", "team/bbx"]), &l);
        assert_ok(&env.jig(&["repo", "list"]), &l);
    }
}

#[test]
fn a_garbled_approved_json_and_trusted_json_are_named_and_their_hints_work() {
    for env in Env::all() {
        let l = env.label();
        env.install();
        let approved = env.jig_home().join("approved.json");
        env.write(&approved, "[");
        let out = env.jig(&["install", fixture().recipe.to_str().unwrap()]);
        assert_code(&out, 1, &l);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{} is damaged", approved.display())),
            "{l} {err}"
        );
        follow(&env, &quoted(&hint(&err)));
        assert_ok(
            &env.jig(&["install", fixture().recipe.to_str().unwrap()]),
            &l,
        );

        let trusted = env.jig_home().join("trusted.json");
        env.write(
            &env.project().join("jig.toml"),
            "[tools]\nbb = { version = \"1.35\", pass = [\"X\"] }\n",
        );
        env.write(&trusted, "{");
        let out = env.jig(&["trust", "--yes"]);
        assert_code(&out, 1, &l);
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{} is damaged", trusted.display())),
            "{l} {err}"
        );
        follow(&env, &quoted(&hint(&err)));
        assert_ok(&env.jig(&["trust", "--yes"]), &l);
    }
}

#[test]
fn garbled_build_cache_lease_and_lock_files_break_nothing() {
    for env in Env::all() {
        let l = env.label();
        let root = rootfs_with(&env.dir().join("s-root"), "s", &["s"]);
        let r = recipe(
            &env,
            "s",
            &root,
            "run = [\"echo step > /step\"]",
            &["s"],
            "",
        );
        let r = r.to_str().unwrap();
        assert_ok(&env.jig(&["install", r]), &l);
        let s = store(&env);
        for dir in ["builds", "leases", "locks"] {
            fs::create_dir_all(s.join(dir)).unwrap();
            env.own(&s.join(dir));
            for e in fs::read_dir(s.join(dir)).unwrap().flatten() {
                fs::write(e.path(), b"\0\xffnot what jig wrote").unwrap();
            }
            env.write(&s.join(dir).join("zz-garbage"), b"\0\xff");
        }
        assert_ok(&env.jig(&["install", r]), &format!("{l} install"));
        assert_ok(&env.jig(&["gc"]), &format!("{l} gc"));
        assert_ok(&env.jig(&["verify"]), &format!("{l} verify"));
        assert_eq!(stdout(&env.shim("s", &[])), "s\n", "{l}");
    }
}
