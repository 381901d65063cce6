//! Triggers nobody approved: `--locked` must not build what the lock does not name.

use super::*;

/// A repository recipe on a busybox image (no host path). Version 1 has one build
/// step; 1.1 differs only in a variable (the same build, so already approved once 1 is);
/// 2 adds a step that leaves a marker in the image and tries the host's workspace
/// through the parent's cwd. Its output (`STEP-42`) differs from its text
/// (`STEP-$((40+2))`), so a listing of the step is not mistaken for the step running.
const TRIG: &str = r#"name = "trig"
version = "1"
description = "trigger test"
[image]
from = "busybox:/bin/busybox"
run = ["echo one > /v1"]
[tool]
shims = ["sh"]
[env]
set = { V = "1" }
[versions."1.1".env]
set = { V = "1.1" }
[versions."2".image]
run = ["echo one > /v1", "echo STEP-$((40+2)); echo pwned > /marker; echo pwned > /proc/$PPID/cwd/marker || true"]
"#;

/// Registers a plain directory holding `recipes/NAME.toml` for each (name, text) as
/// repository `team`.
fn add_repo(env: &Env, files: &[(&str, &str)]) {
    let dir = env.dir().join("team-recipes");
    env.mkdir(&dir);
    env.mkdir(&dir.join("recipes"));
    for (name, text) in files {
        env.write(&dir.join(format!("recipes/{name}.toml")), text);
    }
    let out = env.jig(&["repo", "add", "team", dir.to_str().unwrap()]);
    assert_ok(&out, &format!("{} repo add", env.label()));
}

fn images(env: &Env) -> usize {
    fs::read_dir(env.jig_home().join("store/images"))
        .map(|d| d.count())
        .unwrap_or(0)
}

fn markers_absent(env: &Env, what: &str) {
    for dir in [env.project(), env.dir().to_owned()] {
        assert!(
            !dir.join("marker").exists(),
            "{} {what}: a build step wrote {}",
            env.label(),
            dir.join("marker").display()
        );
    }
}

#[test]
fn locked_mode_refuses_before_building_what_the_lock_does_not_name() {
    for env in Env::all() {
        let l = env.label();
        add_repo(&env, &[("trig", TRIG)]);
        let pins = env.project().join("jig.toml");
        env.write(&pins, "[tools]\ntrig = \"1\"\n");
        assert_ok(&env.jig(&["install", "team/trig"]), &format!("{l} install"));
        assert_ok(&env.jig(&["lock"]), &format!("{l} lock"));
        let before = images(&env);

        // Version 2 is approved (JIG_YES=1) but not locked.
        env.write(&pins, "[tools]\ntrig = \"2\"\n");
        let mut c = env.shim_cmd("sh", &["-c", "echo ran"]);
        c.env("JIG_LOCKED", "1");
        let out = run(c);
        assert_code(&out, 125, &format!("{l} locked shim"));
        let err = stderr(&out);
        assert!(err.contains("jig.lock"), "{l}: {err}");
        assert!(!err.contains("STEP-42"), "{l} built before refusing: {err}");
        assert!(stdout(&out).is_empty(), "{l}");
        assert_eq!(images(&env), before, "{l} locked shim stored an image");

        for args in [
            &["--locked", "install", "team/trig@2"][..],
            &["--locked", "install"][..],
        ] {
            let out = env.jig(args);
            assert_code(&out, 1, &format!("{l} {args:?}"));
            let err = stderr(&out);
            assert!(err.contains("jig.lock"), "{l} {args:?}: {err}");
            assert!(!err.contains("STEP-42"), "{l} {args:?} built: {err}");
            assert_eq!(images(&env), before, "{l} {args:?} stored an image");
        }
        let out = env.jig(&["--locked", "run", "team/trig@2", "-c", "echo ran"]);
        assert_code(&out, 125, &format!("{l} locked run"));
        assert!(!stderr(&out).contains("STEP-42"), "{l}: {}", stderr(&out));
        assert_eq!(images(&env), before, "{l} locked run stored an image");
        markers_absent(&env, "locked");

        // Positive controls: what the lock names runs in locked mode; without locked
        // mode the new pin is built (and the difference reported).
        env.write(&pins, "[tools]\ntrig = \"1\"\n");
        let mut c = env.shim_cmd("sh", &["-c", "echo $V"]);
        c.env("JIG_LOCKED", "1");
        let out = run(c);
        assert_ok(&out, &format!("{l} locked, as locked"));
        assert_eq!(stdout(&out), "1\n", "{l}");
        env.write(&pins, "[tools]\ntrig = \"2\"\n");
        let out = env.shim("sh", &["-c", "cat /marker"]);
        assert_ok(&out, &format!("{l} unlocked"));
        assert_eq!(stdout(&out), "pwned\n", "{l}");
        assert!(stderr(&out).contains("locked 1, resolved 2"), "{l}");
    }
}
