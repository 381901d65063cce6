//! Build steps (`[image] run`): run as fake root inside the image, cached per step,
//! failures reported with the step and its output. Once per identity.

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;

/// A recipe on the fixture rootfs with the given `run` steps (TOML literal strings).
fn recipe_with_steps(env: &Env, steps: &[&str]) -> PathBuf {
    let run = steps
        .iter()
        .map(|s| format!("'''{s}'''"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = RECIPE.replace(
        "from = \"rootfs:rootfs\"",
        &format!(
            "from = \"rootfs:{}\"\nrun = [{run}]",
            fixture().rootfs.display()
        ),
    );
    let path = env.dir().join("steps.toml");
    env.write(&path, text);
    path
}

fn images(env: &Env) -> usize {
    fs::read_dir(env.jig_home().join("store/images"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn steps_run_as_fake_root_and_are_cached() {
    for env in Env::all() {
        let l = env.label();
        let step1 = "id -u > /built-uid; echo x > /owned; chown 1234:4321 /owned && echo chown-ok; mknod /dev-node c 1 3 && echo mknod-ok";
        let step2 = "echo two > /two";
        let recipe = recipe_with_steps(&env, &[step1, step2]);
        let out = env.jig(&["install", recipe.to_str().unwrap()]);
        assert_ok(&out, &format!("{l} first build"));
        let err = stderr(&out);
        assert!(
            err.contains("running step 1 of 2: ") && err.contains("running step 2 of 2: "),
            "{l} {err}"
        );
        // Step output goes to the build's log, not to stderr (that takes -v).
        assert!(!err.contains("| chown-ok"), "{l} {err}");
        let log = fs::read_to_string(env.jig_home().join("store/logs/bb@1.35.log")).unwrap();
        assert!(
            log.contains("chown-ok\n") && log.contains("mknod-ok\n"),
            "{l} {log}"
        );

        // Inside the step the caller was root; the results are in the image.
        let out = env.shim("cat", &["/built-uid", "/two"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "0\ntwo\n", "{l}");
        // The faked mknod made nothing.
        let out = env.shim("ls", &["/dev-node"]);
        assert_code(&out, 1, &format!("{l} mknod must not create a node"));
        let first = env.image_id("cat");

        // Same recipe again: both steps come from the cache.
        let out = env.jig(&["install", recipe.to_str().unwrap()]);
        assert_ok(&out, &l);
        let err = stderr(&out);
        assert!(
            err.contains("step 1 of 2 cached:") && err.contains("step 2 of 2 cached:"),
            "{l} {err}"
        );
        let log = fs::read_to_string(env.jig_home().join("store/logs/bb@1.35.log")).unwrap();
        assert!(!log.contains("chown-ok"), "{l} step 1 ran again: {log}");
        assert_eq!(env.image_id("cat"), first, "{l}");

        // Editing the second step rebuilds from there only.
        let recipe = recipe_with_steps(&env, &[step1, "echo changed > /two"]);
        let out = env.jig(&["install", recipe.to_str().unwrap()]);
        assert_ok(&out, &l);
        let err = stderr(&out);
        assert!(
            err.contains("step 1 of 2 cached:") && err.contains("running step 2 of 2: "),
            "{l} {err}"
        );
        assert_eq!(stdout(&env.shim("cat", &["/two"])), "changed\n", "{l}");
        assert_ne!(env.image_id("cat"), first, "{l}");
    }
}

#[test]
fn failing_step_names_the_step_shows_its_output_and_stores_nothing() {
    for env in Env::all() {
        let l = env.label();
        let recipe = recipe_with_steps(
            &env,
            &[
                "echo fine > /a",
                "echo about to fail; echo the-last-words >&2; exit 3",
            ],
        );
        let out = env.jig(&["install", recipe.to_str().unwrap()]);
        assert_code(&out, 1, &l);
        let err = stderr(&out);
        assert!(err.contains("build step 2 failed"), "{l} {err}");
        assert!(err.contains("exit status 3"), "{l} {err}");
        // The tail is repeated in the error itself, after the streamed output.
        let after = err.split("build step 2 failed").nth(1).unwrap_or_default();
        assert!(after.contains("the-last-words"), "{l} {err}");
        // Step 1's image is kept (cached), nothing half-built, no shims.
        assert_eq!(images(&env), 2, "{l} base image + step 1");
        let tmp = env.jig_home().join("store/tmp");
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "{l} tmp debris");
        assert!(!env.shims().exists(), "{l} shims written");
    }
}

/// A failing step's error gives its first error line (not dpkg-style warnings before
/// it) and the path of the whole log; `-v` streams the raw output instead.
#[test]
fn failing_step_names_its_first_error_and_the_log_and_verbose_streams() {
    for env in Env::all() {
        let l = env.label();
        let recipe = recipe_with_steps(
            &env,
            &[
                "echo step-output-$((40 + 2)); echo 'dpkg: warning: ignoring pre-dependency problem!'; nosuchtool --now; echo still-going; exit 4",
            ],
        );
        let out = env.jig(&["install", recipe.to_str().unwrap()]);
        assert_code(&out, 1, &l);
        let err = stderr(&out);
        let log = env.jig_home().join("store/logs/bb@1.35.log");
        let first = err.split("first error: ").nth(1).unwrap_or_default();
        assert!(
            first
                .lines()
                .next()
                .unwrap_or_default()
                .ends_with("sh: nosuchtool: not found"),
            "{l} {err}"
        );
        assert!(
            err.contains(&format!("the whole log: {}", log.display())),
            "{l} {err}"
        );
        // The step's text is in the error; what it printed is not.
        assert!(!err.contains("step-output-42"), "{l} {err}");
        let text = fs::read_to_string(&log).unwrap();
        assert!(
            text.contains("step-output-42\n") && text.contains("still-going\n"),
            "{l} {text}"
        );

        let out = env.jig(&["-v", "install", recipe.to_str().unwrap()]);
        assert_code(&out, 1, &format!("{l} -v"));
        let err = stderr(&out);
        assert!(err.contains("  | step-output-42\n"), "{l} -v {err}");
        assert!(err.contains("  | still-going\n"), "{l} -v {err}");

        // A first error line that carries a terminal escape is repeated without it
        // (positive control: the escape is really printed, as -v shows).
        let recipe = recipe_with_steps(&env, &["printf 'E: \\033]0;title\\007boom\\n'; exit 5"]);
        let out = env.jig(&["install", recipe.to_str().unwrap()]);
        assert_code(&out, 1, &format!("{l} escape"));
        let err = stderr(&out);
        assert!(
            err.contains("first error: E: ?]0;title?boom"),
            "{l} {err:?}"
        );
        assert!(!err.contains('\x1b'), "{l} {err:?}");
        let out = env.jig(&["-v", "install", recipe.to_str().unwrap()]);
        assert!(
            stderr(&out).contains("  | E: \x1b]0;title\x07boom"),
            "{l} -v control"
        );
    }
}
