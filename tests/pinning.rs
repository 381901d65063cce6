//! Versions, pins, lock files, trust and the install prompt, through the real binary
//! and the busybox fixture image. Once per identity.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;

/// A recipe offering versions 1 (default), 2 and 2.5 of the fixture image; each sets `V`.
fn versioned_recipe(env: &Env) -> PathBuf {
    versioned_recipe_of(env, &fixture().rootfs)
}

/// Installs the versioned recipe and returns its file.
fn install_versioned(env: &Env) -> PathBuf {
    let recipe = versioned_recipe(env);
    assert_ok(
        &env.jig(&["install", recipe.to_str().unwrap()]),
        &format!("{} install", env.label()),
    );
    recipe
}

/// The same recipe of the image at `rootfs`.
fn versioned_recipe_of(env: &Env, rootfs: &Path) -> PathBuf {
    let text = format!(
        r#"name = "bbv"
version = "1"
description = "versioned busybox"
[image]
from = "rootfs:{}"
[tool]
shims = ["sh"]
[mounts]
home = [".bbrc"]
[env]
set = {{ V = "1" }}
[versions."2".env]
set = {{ V = "2" }}
[versions."2.5".env]
set = {{ V = "2.5" }}
"#,
        rootfs.display()
    );
    let path = env.dir().join("bbv.toml");
    env.write(&path, text);
    path
}

/// `sh -c 'echo $V'` in `dir`, with extra environment.
fn v_in(env: &Env, dir: &Path, vars: &[(&str, &str)]) -> std::process::Output {
    let mut c = env.command(env.shim_path("sh"));
    c.args(["-c", "echo $V"]).current_dir(dir);
    for (k, v) in vars {
        c.env(k, v);
    }
    run(c)
}

fn installed_image(env: &Env, dir: &Path, tool: &str) -> String {
    let mut c = env.jig_cmd(&["which", tool]);
    c.current_dir(dir);
    let out = run(c);
    assert_ok(&out, "jig which");
    stdout(&out)
        .lines()
        .find_map(|l| l.strip_prefix("image:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn precedence_walk_up_lazy_install_and_which() {
    for env in Env::all() {
        let l = env.label();
        install_versioned(&env);
        let deep = env.project().join("a/b/c/d/e");
        env.mkdir(&env.project().join("a/b/c/d"));
        for d in ["a", "a/b", "a/b/c", "a/b/c/d", "a/b/c/d/e"] {
            env.mkdir(&env.project().join(d));
        }

        // Nothing pins it: the recipe's default.
        let out = v_in(&env, &deep, &[]);
        assert_ok(&out, &format!("{l} default"));
        assert_eq!(stdout(&out).trim(), "1", "{l}");

        // The user's global jig.toml.
        env.write(&env.jig_home().join("jig.toml"), "[tools]\nbbv = \"2.5\"\n");
        // A pin nobody installed yet, with JIG_NO_LAZY: an error saying what to install.
        let out = v_in(&env, &deep, &[("JIG_NO_LAZY", "1")]);
        assert_code(&out, 125, &format!("{l} no lazy"));
        assert!(
            stderr(&out).contains("jig install") && stderr(&out).contains("@2.5"),
            "{l}: {}",
            stderr(&out)
        );
        // Without it, installed on first use (progress on stderr), then run.
        let out = v_in(&env, &deep, &[]);
        assert_ok(&out, &format!("{l} lazy global"));
        assert_eq!(stdout(&out).trim(), "2.5", "{l}");
        assert!(
            stderr(&out).contains("not installed yet; installing it"),
            "{l}: {}",
            stderr(&out)
        );

        // A project file five directories up beats the global one; `2` is exact.
        env.write(&env.project().join("jig.toml"), "[tools]\nbbv = \"2\"\n");
        let out = v_in(&env, &deep, &[]);
        assert_ok(&out, &format!("{l} project"));
        assert_eq!(stdout(&out).trim(), "2", "{l}");
        let mut which = env.jig_cmd(&["which", "sh"]);
        which.current_dir(&deep);
        let out = run(which);
        assert_ok(&out, &format!("{l} which"));
        let text = stdout(&out);
        assert!(
            text.contains(&format!(
                "version: 2 (pinned by {})",
                env.project().join("jig.toml").display()
            )),
            "{l}: {text}"
        );
        assert!(text.contains("recipe:  bbv"), "{l}: {text}");

        // The variable beats the project file.
        let out = v_in(&env, &deep, &[("JIG_BBV_VERSION", "1")]);
        assert_eq!(stdout(&out).trim(), "1", "{l} env: {}", stderr(&out));
        let mut which = env.jig_cmd(&["which", "bbv"]);
        which.current_dir(&deep).env("JIG_BBV_VERSION", "1");
        assert!(
            stdout(&run(which)).contains("version: 1 (set by $JIG_BBV_VERSION)"),
            "{l}"
        );
        // Outside the project, the global pin again; a prefix picks the highest match.
        let out = v_in(&env, &env.home(), &[("JIG_BBV_VERSION", "")]);
        assert_eq!(stdout(&out).trim(), "2.5", "{l}");
        env.write(&env.project().join("jig.toml"), "[tools]\nbbv = \"2.\"\n");
        let out = v_in(&env, &deep, &[]);
        assert_code(&out, 125, &format!("{l} bad pin"));
        assert!(
            stderr(&out).contains("offers no version 2.") && stderr(&out).contains("1, 2, 2.5"),
            "{l}: {}",
            stderr(&out)
        );

        // `jig pin` rewrites the nearest file and checks the version.
        let mut pin = env.jig_cmd(&["pin", "bbv@9"]);
        pin.current_dir(&deep);
        assert_code(&run(pin), 2, &format!("{l} pin unknown version"));
        let mut pin = env.jig_cmd(&["pin", "sh@2"]);
        pin.current_dir(&deep);
        assert_ok(&run(pin), &format!("{l} pin"));
        assert_eq!(
            fs::read_to_string(env.project().join("jig.toml")).unwrap(),
            "[tools]\nbbv = \"2\"\n",
            "{l}"
        );
        assert_eq!(stdout(&v_in(&env, &deep, &[])).trim(), "2", "{l}");
        // In a directory without any jig.toml above, `pin` creates one there.
        let elsewhere = env.dir().join("elsewhere");
        env.mkdir(&elsewhere);
        let mut pin = env.jig_cmd(&["pin", "bbv@2.5"]);
        pin.current_dir(&elsewhere);
        assert_ok(&run(pin), &format!("{l} pin new"));
        assert!(elsewhere.join("jig.toml").is_file(), "{l}");

        // `jig install` without arguments needs a project.
        let mut c = env.jig_cmd(&["install"]);
        c.current_dir(env.home());
        let out = run(c);
        assert_code(&out, 1, &format!("{l} install without a project"));
        assert!(stderr(&out).contains("jig.toml"), "{l}: {}", stderr(&out));

        // `jig run NAME@VERSION` and `jig exec NAME@VERSION`.
        let out = env.jig(&["run", "bbv@1", "-c", "echo $V"]);
        assert_eq!(stdout(&out).trim(), "1", "{l} run@: {}", stderr(&out));
        let out = env.jig(&["exec", "bbv@2.5", "--", "sh", "-c", "echo $V"]);
        assert_eq!(stdout(&out).trim(), "2.5", "{l} exec@: {}", stderr(&out));
        let out = env.jig(&["list"]);
        assert!(
            stdout(&out).contains("bbv\t1,2,2.5\t"),
            "{l}: {}",
            stdout(&out)
        );

        // One version goes; the shim stays while others remain; then all of it.
        assert_ok(
            &env.jig(&["uninstall", "bbv@2.5"]),
            &format!("{l} uninstall @"),
        );
        let out = env.jig(&["list"]);
        assert!(stdout(&out).contains("bbv\t1,2\t"), "{l}: {}", stdout(&out));
        assert!(env.shim_path("sh").is_symlink(), "{l}");
        assert_code(
            &env.jig(&["uninstall", "bbv@9"]),
            2,
            &format!("{l} uninstall unknown"),
        );
        assert_ok(&env.jig(&["uninstall", "bbv"]), &format!("{l} uninstall"));
        assert!(!env.shim_path("sh").exists(), "{l} shim removed");
        assert!(stdout(&env.jig(&["list"])).is_empty(), "{l}");
    }
}

/// Without `JIG_HOME`, the data (XDG data directory) and the global pins (XDG config
/// directory) live apart; a shim a tool calls must still read the same pins.
#[test]
fn nested_shims_read_the_callers_global_pins() {
    // An image that can run the jig under test (a debug build is dynamically linked).
    let image = shared_tempdir("nestable-");
    let rootfs = image_with(&image.path().join("rootfs"), &[]);
    for env in Env::all() {
        let l = env.label();
        let recipe = versioned_recipe_of(&env, &rootfs);
        let xdg = |args: &[&str]| {
            let mut c = env.jig_cmd(args);
            c.env_remove("JIG_HOME");
            run(c)
        };
        for v in ["1", "2.5"] {
            let spec = format!("{}@{v}", recipe.display());
            assert_ok(&xdg(&["install", &spec]), &format!("{l} install {v}"));
        }
        let config = env.home().join(".config/jig");
        env.mkdir(&env.home().join(".config"));
        env.mkdir(&config);
        env.write(&config.join("jig.toml"), "[tools]\nbbv = \"2.5\"\n");
        // Registry credentials would live here: not for the tools to read.
        env.write(&config.join("config.toml"), "insecure_registries = []\n");
        let shims = env.home().join(".local/share/jig/shims");
        let script = format!(
            "echo $V; {}/sh -c 'echo $V $JIG_DEPTH'; echo x >>$JIG_CONFIG_DIR/jig.toml || echo read-only; ls $JIG_CONFIG_DIR",
            shims.display()
        );
        let mut c = env.command(shims.join("sh"));
        c.args(["-c", &script]).env_remove("JIG_HOME");
        let out = run(c);
        assert_ok(&out, &format!("{l} nested"));
        assert_eq!(
            stdout(&out),
            "2.5\n2.5 2\nread-only\njig.toml\n",
            "{l}: {}",
            stderr(&out)
        );

        // A version nobody installed cannot be installed from inside: a clear error.
        let script = format!("JIG_BBV_VERSION=2 {}/sh -c 'echo $V'", shims.display());
        let mut c = env.command(shims.join("sh"));
        c.args(["-c", &script]).env_remove("JIG_HOME");
        let out = run(c);
        assert_code(&out, 125, &format!("{l} nested install"));
        assert!(
            stderr(&out).contains("cannot install it")
                && stderr(&out).contains("outside the container"),
            "{l}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn lock_round_trip_and_locked_mode() {
    for env in Env::all() {
        let l = env.label();
        let recipe = versioned_recipe(&env);
        let proj = env.project();
        env.write(&proj.join("jig.toml"), "[tools]\nbbv = \"2\"\n");
        let mut c = env.jig_cmd(&["install", recipe.to_str().unwrap()]);
        c.current_dir(env.dir());
        assert_ok(&run(c), &format!("{l} install"));
        assert_ok(&env.jig(&["lock"]), &format!("{l} lock"));
        let lock = fs::read_to_string(proj.join("jig.lock")).unwrap();
        assert!(lock.contains("[tools.bbv]\nversion = \"2\""), "{l}: {lock}");
        assert!(
            !lock.contains(env.dir().to_str().unwrap()),
            "{l} local path: {lock}"
        );
        let image = installed_image(&env, &proj, "bbv");
        assert!(
            lock.contains(&format!("image = \"{image}\"")),
            "{l}: {lock}"
        );
        // Locking again changes nothing, byte for byte.
        assert_ok(&env.jig(&["lock"]), &format!("{l} relock"));
        assert_eq!(
            fs::read_to_string(proj.join("jig.lock")).unwrap(),
            lock,
            "{l}"
        );

        // A second machine: another JIG_HOME, installing from the lock.
        let other = env.dir().join("other-jig-home");
        let mut c = env.jig_cmd(&["--locked", "install", &format!("{}@2", recipe.display())]);
        c.env("JIG_HOME", &other);
        assert_ok(&run(c), &format!("{l} locked install elsewhere"));
        let mut c = env.jig_cmd(&["lock"]);
        c.env("JIG_HOME", &other);
        let out = run(c);
        assert_ok(&out, &format!("{l} lock elsewhere"));
        assert!(
            stderr(&out).contains("is up to date"),
            "{l}: {}",
            stderr(&out)
        );
        assert_eq!(
            fs::read_to_string(proj.join("jig.lock")).unwrap(),
            lock,
            "{l}"
        );
        let mut c = env.jig_cmd(&["which", "bbv"]);
        c.env("JIG_HOME", &other);
        assert!(stdout(&run(c)).contains(&image), "{l} same tree hash");

        // The pin moves without a new lock: reported, or refused when locked.
        env.write(&proj.join("jig.toml"), "[tools]\nbbv = \"2.5\"\n");
        let out = v_in(&env, &proj, &[]);
        assert_ok(&out, &format!("{l} stale lock"));
        assert_eq!(stdout(&out).trim(), "2.5", "{l}");
        assert!(
            stderr(&out).contains("version: locked 2, resolved 2.5"),
            "{l}: {}",
            stderr(&out)
        );
        let out = v_in(&env, &proj, &[("JIG_LOCKED", "1")]);
        assert_code(&out, 125, &format!("{l} locked"));
        assert!(
            stderr(&out).contains("does not match")
                && stderr(&out).contains("locked 2, resolved 2.5"),
            "{l}: {}",
            stderr(&out)
        );
        assert!(stdout(&out).is_empty(), "{l} the tool did not run");

        // The recipe changes under the lock: its hash is named.
        env.write(&proj.join("jig.toml"), "[tools]\nbbv = \"2\"\n");
        let text = fs::read_to_string(&recipe)
            .unwrap()
            .replace("set = { V = \"2\" }", "set = { V = \"2\", W = \"w\" }");
        env.write(&recipe, text);
        let out = env.jig(&["--locked", "install", &format!("{}@2", recipe.display())]);
        assert_code(&out, 1, &format!("{l} locked install of a changed recipe"));
        assert!(
            stderr(&out).contains("recipe differs"),
            "{l}: {}",
            stderr(&out)
        );
        let mut c = env.jig_cmd(&["install", &format!("{}@2", recipe.display())]);
        c.current_dir(env.dir());
        assert_ok(&run(c), &format!("{l} reinstall"));
        let out = v_in(&env, &proj, &[("JIG_LOCKED", "1")]);
        assert_code(&out, 125, &format!("{l} locked, recipe changed"));
        assert!(
            stderr(&out).contains("recipe: locked sha256:"),
            "{l}: {}",
            stderr(&out)
        );
        // `jig lock` takes the new recipe; then the locked run works.
        assert_ok(&env.jig(&["lock"]), &format!("{l} lock new recipe"));
        assert_ne!(
            fs::read_to_string(proj.join("jig.lock")).unwrap(),
            lock,
            "{l}"
        );
        let out = v_in(&env, &proj, &[("JIG_LOCKED", "1")]);
        assert_ok(&out, &format!("{l} locked after relock"));
        assert_eq!(stdout(&out).trim(), "2", "{l}");
    }
}

/// An untrusted project's asks that do not touch a launch (another tool's widening,
/// an image cache) leave its shims as quiet as the native tool; its own widening is
/// said (the control).
#[test]
fn a_shim_is_told_only_of_untrusted_asks_that_concern_it() {
    for env in Env::all() {
        let l = env.label();
        install_versioned(&env);
        let file = env.project().join("jig.toml");
        let sh = |env: &Env| {
            let mut c = env.command(env.shim_path("sh"));
            c.args(["-c", "echo V=$V"]);
            run(c)
        };
        env.write(
            &file,
            "[tools]\nbbv = \"1\"\nnpm = { version = \"20\", home = [\".npmrc\"] }\n\
             [cache]\nregistry = \"127.0.0.1:1/cache\"\n",
        );
        let out = sh(&env);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out).trim(), "V=1", "{l}");
        assert!(stderr(&out).is_empty(), "{l}: {}", stderr(&out));
        // Control: the same file widening this tool asks, and says what else it holds.
        env.write(
            &file,
            "[tools]\nbbv = { version = \"1\", pass = [\"SECRET\"] }\n\
             npm = { version = \"20\", home = [\".npmrc\"] }\n\
             [cache]\nregistry = \"127.0.0.1:1/cache\"\n",
        );
        let out = sh(&env);
        assert_ok(&out, &l);
        let err = stderr(&out);
        assert!(err.contains("jig trust"), "{l}: {err}");
        assert!(
            err.contains("cache registry 127.0.0.1:1/cache"),
            "{l}: {err}"
        );
    }
}

#[test]
fn widening_and_project_recipes_need_trust() {
    for env in Env::all() {
        let l = env.label();
        let recipe = install_versioned(&env);
        let proj = env.project();
        let file = proj.join("jig.toml");
        env.write(
            &file,
            "[tools]\nbbv = { version = \"1\", pass = [\"SECRET\"] }\n",
        );
        let secret = |env: &Env| {
            let mut c = env.command(env.shim_path("sh"));
            c.args(["-c", "echo V=$V S=$SECRET"]).env("SECRET", "s3");
            run(c)
        };
        let out = secret(&env);
        assert_ok(&out, &format!("{l} untrusted"));
        assert_eq!(stdout(&out).trim(), "V=1 S=", "{l} the widening is ignored");
        assert!(
            stderr(&out).contains("jig trust") && stderr(&out).contains("environment SECRET"),
            "{l}: {}",
            stderr(&out)
        );
        assert_ok(&env.jig(&["trust"]), &format!("{l} trust"));
        let out = secret(&env);
        assert_eq!(
            stdout(&out).trim(),
            "V=1 S=s3",
            "{l} trusted: {}",
            stderr(&out)
        );
        assert!(stderr(&out).is_empty(), "{l}: {}", stderr(&out));
        // An edit needs trust again.
        env.write(
            &file,
            "[tools]\nbbv = { version = \"1\", pass = [\"SECRET\", \"X\"] }\n",
        );
        let out = secret(&env);
        assert_eq!(stdout(&out).trim(), "V=1 S=", "{l} edited");

        // Revoked trust: ignored again.
        assert_ok(&env.jig(&["trust"]), &format!("{l} trust again"));
        assert_eq!(stdout(&secret(&env)).trim(), "V=1 S=s3", "{l} retrusted");
        assert_ok(&env.jig(&["trust", "--revoke"]), &format!("{l} revoke"));
        assert_eq!(stdout(&secret(&env)).trim(), "V=1 S=", "{l} revoked");

        // A project's own recipe for the same name wins once trusted.
        let own = proj.join(".jig/recipes");
        env.mkdir(&proj.join(".jig"));
        env.mkdir(&own);
        let text = fs::read_to_string(&recipe)
            .unwrap()
            .replace("set = { V = \"1\" }", "set = { V = \"project\" }");
        env.write(&own.join("bbv.toml"), text);
        env.write(&file, "[tools]\nbbv = \"1\"\n");
        let out = secret(&env);
        assert!(stdout(&out).starts_with("V=1 "), "{l}: {}", stdout(&out));
        assert!(
            stderr(&out).contains("its own recipe"),
            "{l}: {}",
            stderr(&out)
        );
        assert_ok(&env.jig(&["trust"]), &format!("{l} trust recipes"));
        let out = secret(&env);
        assert!(
            stdout(&out).starts_with("V=project "),
            "{l}: {} {}",
            stdout(&out),
            stderr(&out)
        );
        // `jig run` and `jig which` inside the project agree with the shim.
        let out = env.jig(&["run", "bbv", "-c", "echo $V"]);
        assert_eq!(stdout(&out).trim(), "project", "{l} run: {}", stderr(&out));
        let which = stdout(&env.jig(&["which", "sh"]));
        assert!(
            which.contains("project recipe") && which.contains("(trusted)"),
            "{l}: {which}"
        );
        // Outside the project, the user's own recipe.
        let mut c = env.command(env.shim_path("sh"));
        c.args(["-c", "echo $V"]).current_dir(env.home());
        assert_eq!(stdout(&run(c)).trim(), "1", "{l}");
    }
}

/// `jig install` in a real terminal (a pty from `script`), answering on stdin.
fn install_in_terminal(env: &Env, recipe: &Path, answer: &str) -> std::process::Output {
    let cmd = format!("{} install {}", fixture().jig.display(), recipe.display());
    let mut c = env.command("/usr/bin/script");
    c.args(["-qec", &cmd, "/dev/null"]).env_remove("JIG_YES");
    run_with_input(c, answer.as_bytes().to_vec())
}

#[test]
fn install_asks_before_installing() {
    for env in Env::all() {
        let l = env.label();
        let recipe = versioned_recipe(&env);
        // No terminal, no --yes: nothing is installed.
        let mut c = env.jig_cmd(&["install", recipe.to_str().unwrap()]);
        c.env_remove("JIG_YES");
        let out = run(c);
        assert_code(&out, 1, &format!("{l} no terminal"));
        assert!(
            stderr(&out).contains("read ~/.bbrc"),
            "{l}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("--yes"), "{l}: {}", stderr(&out));
        assert!(!env.shim_path("sh").exists(), "{l}");

        let out = install_in_terminal(&env, &recipe, "n\n");
        let text = stdout(&out);
        assert!(
            text.contains("read ~/.bbrc") && text.contains("[y/N]"),
            "{l}: {text}"
        );
        assert!(!env.shim_path("sh").exists(), "{l} declined");

        let out = install_in_terminal(&env, &recipe, "y\n");
        assert_ok(&out, &format!("{l} approved"));
        assert!(
            env.shim_path("sh").exists(),
            "{l} approved: {}",
            stdout(&out)
        );

        // Unchanged requests are not asked again.
        let mut c = env.jig_cmd(&["install", recipe.to_str().unwrap()]);
        c.env_remove("JIG_YES");
        assert_ok(&run(c), &format!("{l} reinstall unchanged"));

        // Changed requests: the difference is shown and asked about.
        let text = fs::read_to_string(&recipe).unwrap().replace(
            "home = [\".bbrc\"]",
            "home = [\".bbrc\"]\nhome_rw = [\".ssh\"]",
        );
        env.write(&recipe, text);
        let out = install_in_terminal(&env, &recipe, "n\n");
        let text = stdout(&out);
        assert!(
            text.contains("+ read and write ~/.ssh") && text.contains("[y/N]"),
            "{l}: {text}"
        );
        let mut c = env.jig_cmd(&["exec", "bbv", "--", "sh", "-c", "echo ok"]);
        c.env_remove("JIG_YES");
        // Declined: the installed recipe still has the old requests.
        let index = fs::read_to_string(env.jig_home().join("installed.json")).unwrap();
        assert!(!index.contains(".ssh"), "{l}: {index}");
        assert_ok(&run(c), &format!("{l} still runs"));
    }
}

#[test]
fn reshim_restores_missing_and_removes_stale_shims() {
    for env in Env::all() {
        let l = env.label();
        env.install();
        fs::remove_file(env.shim_path("cat")).unwrap();
        std::os::unix::fs::symlink(&fixture().jig, env.shim_path("stale")).unwrap();
        let out = env.jig(&["reshim"]);
        assert_ok(&out, &format!("{l} reshim"));
        assert!(env.shim_path("cat").is_symlink(), "{l}");
        assert!(!env.shim_path("stale").exists(), "{l}: {}", stderr(&out));
        assert_ok(&env.shim("cat", &["/etc/passwd"]), &format!("{l} cat"));
    }
}
