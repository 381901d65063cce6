//! Triggers nobody approved: a plain version pin (or a `jig.toml` a tool writes into
//! its workspace) must not make the next shim call build another version's image with
//! steps or from a source the user never approved; `--locked` must not build what the
//! lock does not name; the install prompt shows what a build runs; repository recipes
//! cannot turn off Debian signature checks.

use super::*;

/// Whether a build of `trig` printed `what`: build steps' output goes to the build's
/// log in the store (the terminal shows phases only).
fn step_logged(env: &Env, what: &str) -> bool {
    let logs = env.jig_home().join("store/logs");
    fs::read_dir(&logs).is_ok_and(|d| {
        d.flatten()
            .any(|e| fs::read_to_string(e.path()).is_ok_and(|t| t.contains(what)))
    })
}

/// A repository recipe on a busybox image (no host path). Version 1 has one build
/// step; 1.1 differs only in a variable (the same build, so already approved once 1 is);
/// 2 adds a step that leaves a marker in the image and tries the host's workspace
/// through the parent's cwd; 3 has another step. Their output (`STEP-42`) differs
/// from their text (`STEP-$((40+2))`), so a listing of a step is not mistaken for the
/// step running.
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
[versions."3".image]
run = ["echo STEP-$((40+3)); echo three > /marker"]
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

/// The command with nothing to approve it: no `JIG_YES`, stdin not a terminal.
fn unapproved(mut c: Command) -> Command {
    c.env_remove("JIG_YES");
    c
}

/// `sh -c SCRIPT` through the shim in a terminal (a pty from `script`), answering
/// `answer` to whatever it asks; everything it prints is on stdout.
fn shim_in_terminal(env: &Env, script: &str, answer: &str) -> std::process::Output {
    let cmd = format!("{} -c '{script}'", env.shim_path("sh").display());
    let mut c = unapproved(env.command("/usr/bin/script"));
    c.args(["-qec", &cmd, "/dev/null"]);
    run_with_input(c, answer.as_bytes().to_vec())
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
fn a_pin_does_not_build_steps_nobody_approved() {
    for env in Env::all() {
        let l = env.label();
        add_repo(&env, &[("trig", TRIG)]);
        assert_ok(
            &env.jig(&["install", "team/trig"]),
            &format!("{l} install 1"),
        );
        let before = images(&env);
        let pins = env.project().join("jig.toml");
        env.write(&pins, "[tools]\ntrig = \"2\"\n");

        // The attack: no terminal, nothing approves, the pin names new build steps.
        let out = run(unapproved(
            env.shim_cmd("sh", &["-c", "cat /marker; echo ran"]),
        ));
        assert_code(&out, 125, &format!("{l} unapproved build"));
        let err = stderr(&out);
        assert!(err.contains("jig install team/trig@2"), "{l}: {err}");
        assert!(
            !err.contains("STEP-42") && !step_logged(&env, "STEP-42"),
            "{l} the step ran: {err}"
        );
        assert!(
            stdout(&out).is_empty(),
            "{l} the tool ran: {}",
            stdout(&out)
        );
        // What it would have run is shown.
        assert!(err.contains("echo pwned > /marker"), "{l}: {err}");
        assert_eq!(images(&env), before, "{l} a new image was stored");
        markers_absent(&env, "refused");
        let index = fs::read_to_string(env.jig_home().join("installed.json")).unwrap();
        assert!(!index.contains("/marker"), "{l} version 2 was installed");

        // The same through `jig run` (an install in the same process).
        let out = run(unapproved(env.jig_cmd(&[
            "run",
            "team/trig",
            "-c",
            "echo ran",
        ])));
        assert_code(&out, 125, &format!("{l} unapproved build via jig run"));
        assert!(
            !stderr(&out).contains("STEP-42") && !step_logged(&env, "STEP-42"),
            "{l}: {}",
            stderr(&out)
        );
        assert_eq!(images(&env), before, "{l} jig run stored an image");

        // On a terminal the shim asks, with the prompt `jig install` shows; "n" keeps
        // everything as it was.
        let out = shim_in_terminal(&env, "cat /marker; echo ran", "n\n");
        let text = stdout(&out);
        assert!(text.contains("[y/N]"), "{l}: {text}");
        assert!(text.contains("echo pwned > /marker"), "{l}: {text}");
        assert!(
            !text.contains("STEP-42") && !text.contains("ran"),
            "{l}: {text}"
        );
        assert_eq!(images(&env), before, "{l} declined, yet stored an image");

        // Positive control: approved for a script, the same call builds and runs.
        let out = env.shim("sh", &["-c", "cat /marker; echo ran"]);
        assert_ok(&out, &format!("{l} approved build"));
        assert_eq!(stdout(&out), "pwned\nran\n", "{l}");
        // The step's output went to the build's log (a lazy install shows phases only).
        let log = fs::read_to_string(env.jig_home().join("store/logs/trig@2.log"))
            .unwrap_or_else(|e| panic!("{l} the build log: {e}"));
        assert!(log.contains("STEP-42"), "{l}: {log}");
        assert!(images(&env) > before, "{l}");

        // Positive control on a terminal: "y" builds and runs.
        env.write(&pins, "[tools]\ntrig = \"3\"\n");
        let out = shim_in_terminal(&env, "cat /marker", "y\n");
        let text = stdout(&out);
        assert!(text.contains("[y/N]"), "{l}: {text}");
        assert!(step_logged(&env, "STEP-43"), "{l}: {text}");
        assert!(text.contains("three"), "{l}: {text}");

        // A version whose build was approved (1.1 builds exactly what 1 did) still
        // installs on first use, unasked.
        env.write(&pins, "[tools]\ntrig = \"1.1\"\n");
        let out = run(unapproved(env.shim_cmd("sh", &["-c", "echo $V"])));
        assert_ok(&out, &format!("{l} approved build, new version"));
        assert_eq!(stdout(&out), "1.1\n", "{l}");
        let err = stderr(&out);
        assert!(err.contains("installing it"), "{l}: {err}");
        assert!(!err.contains("approv"), "{l} asked: {err}");
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
        assert!(
            !err.contains("STEP-42") && !step_logged(&env, "STEP-42"),
            "{l} built before refusing: {err}"
        );
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
        assert!(
            !stderr(&out).contains("STEP-42") && !step_logged(&env, "STEP-42"),
            "{l}: {}",
            stderr(&out)
        );
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

#[test]
fn the_prompt_shows_build_steps_mirror_insecure_and_shadowing_shims() {
    for env in Env::all() {
        let l = env.label();
        let long = format!("echo {}", "x".repeat(300));
        let text = format!(
            r#"name = "loud"
version = "1"
[image]
from = "debian:bookworm"
mirror = "http://127.0.0.1:9/debian"
insecure = true
packages = ["curl"]
run = ["echo first-step", '''{long}''', '''echo multi
echo second-line-of-a-step''']
[tool]
shims = ["sudo", "ssh", "loud"]
"#
        );
        let path = env.dir().join("loud.toml");
        env.write(&path, text);
        let out = run(unapproved(
            env.jig_cmd(&["install", path.to_str().unwrap()]),
        ));
        assert_code(&out, 1, &format!("{l} install without approval"));
        let err = stderr(&out);
        assert!(err.contains("run: echo first-step"), "{l}: {err}");
        let line = err
            .lines()
            .find(|x| x.contains("echo xxxxx"))
            .unwrap_or_else(|| panic!("{l} the long step is not listed: {err}"));
        assert!(line.len() < 150 && line.contains("..."), "{l}: {line}");
        assert!(err.contains("run: echo multi ..."), "{l}: {err}");
        assert!(!err.contains("second-line-of-a-step"), "{l}: {err}");
        assert!(
            err.contains("mirror: http://127.0.0.1:9/debian"),
            "{l}: {err}"
        );
        assert!(err.contains("insecure"), "{l}: {err}");
        assert!(err.contains("packages: curl"), "{l}: {err}");
        let warning = err
            .lines()
            .find(|x| x.contains("warning"))
            .unwrap_or_else(|| panic!("{l} no warning: {err}"));
        assert!(
            warning.contains("sudo") && warning.contains("ssh") && !warning.contains("loud"),
            "{l}: {warning}"
        );
        assert!(
            err.contains(&format!("jig install {}@1", path.display())),
            "{l}: {err}"
        );
        assert_eq!(images(&env), 0, "{l} something was fetched or built");
        assert!(!env.shim_path("sudo").exists(), "{l}");

        // A new version that only adds a shim shadowing `sudo` asks again.
        let text = format!("{TRIG}[versions.\"1.2\".tool]\nshims = [\"sh\", \"sudo\"]\n");
        add_repo(&env, &[("trig", &text)]);
        assert_ok(
            &env.jig(&["install", "team/trig"]),
            &format!("{l} install 1"),
        );
        let mut c = unapproved(env.jig_cmd(&["exec", "team/trig", "--", "true"]));
        c.env("JIG_TRIG_VERSION", "1.2");
        let out = run(c);
        assert_code(&out, 125, &format!("{l} new sudo shim"));
        let err = stderr(&out);
        assert!(
            err.contains("sudo") && err.contains("warning"),
            "{l}: {err}"
        );
        assert!(!env.shim_path("sudo").exists(), "{l} sudo shim written");
        // Positive control: approved, it is installed (with its warning).
        let mut c = env.jig_cmd(&["exec", "team/trig", "--", "true"]);
        c.env("JIG_TRIG_VERSION", "1.2");
        let out = run(c);
        assert_ok(&out, &format!("{l} approved sudo shim"));
        assert!(env.shim_path("sudo").is_symlink(), "{l}");
    }
}

/// A Debian recipe `name` with extra `[image]` lines and tables after `[tool]`. The
/// mirror is a closed port: nothing here may get as far as downloading.
fn deb(name: &str, image: &str, rest: &str) -> String {
    format!(
        "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"debian:bookworm\"\nmirror = \"http://127.0.0.1:9/debian\"\n{image}\n[tool]\nshims = [\"{name}\"]\n{rest}"
    )
}

#[test]
fn repository_recipes_cannot_turn_off_signature_checks() {
    for env in Env::all() {
        let l = env.label();
        let later = "[versions.\"2\".image]\ninsecure = true\n";
        add_repo(
            &env,
            &[
                ("deb", &deb("deb", "", "")),
                ("insec", &deb("insec", "insecure = true", "")),
                ("later", &deb("later", "", later)),
            ],
        );
        for name in ["insec", "later"] {
            let out = env.jig(&["install", &format!("team/{name}")]);
            assert_code(&out, 1, &format!("{l} install team/{name}"));
            let err = stderr(&out);
            assert!(
                err.contains(&format!("team:recipes/{name}.toml"))
                    && err.contains("insecure")
                    && err.contains("hint:"),
                "{l}: {err}"
            );
        }
        let out = env.jig(&["search"]);
        assert_ok(&out, &l);
        let err = stderr(&out);
        assert!(
            err.contains("team:recipes/insec.toml") && err.contains("team:recipes/later.toml"),
            "{l}: {err}"
        );
        // Positive control: the same repository's recipe without it is offered.
        assert!(
            stdout(&out).contains("team/deb\t1\t"),
            "{l}: {}",
            stdout(&out)
        );
        assert_eq!(images(&env), 0, "{l}");

        // A recipe file of the user's own may still use it: it is taken, and the
        // install goes on to ask about it.
        let own = env.dir().join("insec.toml");
        env.write(&own, deb("insec", "insecure = true", ""));
        let out = run(unapproved(env.jig_cmd(&["install", own.to_str().unwrap()])));
        assert_code(&out, 1, &format!("{l} own insecure recipe"));
        let err = stderr(&out);
        assert!(
            err.contains("insecure") && err.contains("needs your approval"),
            "{l}: {err}"
        );
        assert!(!err.contains("repository"), "{l}: {err}");
    }
}
