//! The command line as a user meets it: `jig install` asking every question before it
//! builds, suggestions for unknown names and the exit status they give, `jig list` and
//! `jig images` on a terminal and through a pipe, shell completions in a real bash and
//! the manual page. Once per identity.

mod common;

use std::fs;
use std::path::PathBuf;

use common::tmux::Tmux;
use common::*;

/// A recipe `name` on the fixture's busybox root with one shim, passing `pass`.
fn small_recipe(env: &Env, name: &str, shim: &str, pass: &str) -> PathBuf {
    let text = format!(
        "name = \"{name}\"\nversion = \"1\"\ndescription = \"{name} tool\"\n\
         [image]\nfrom = \"rootfs:{}\"\n[tool]\nshims = [\"{shim}\"]\n\
         [mounts]\nhome = [\".{name}rc\"]\n[env]\npass = [{pass}]\n",
        fixture().rootfs.display()
    );
    let path = env.dir().join(format!("{name}.toml"));
    env.write(&path, text);
    path
}

/// `jig ARGS` in a real terminal (a pty from `script`), answering `answers` on stdin;
/// what the terminal showed is the output's stdout.
fn jig_in_terminal(env: &Env, args: &[&str], answers: &str) -> std::process::Output {
    let cmd = format!("{} {}", fixture().jig.display(), args.join(" "));
    let mut c = env.command("/usr/bin/script");
    c.args(["-qec", &cmd, "/dev/null"]).env_remove("JIG_YES");
    run_with_input(c, answers.as_bytes().to_vec())
}

#[test]
fn install_asks_about_every_recipe_before_it_builds_any() {
    for env in Env::all() {
        let l = env.label();
        let a = small_recipe(&env, "pa", "sh", "\"PA_*\", \"EDITOR\", \"VISUAL\"");
        let b = small_recipe(&env, "pb", "cat", "\"PB_*\"");
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());

        // Declining the second question: nothing is built, not even the first.
        let out = jig_in_terminal(&env, &["install", a, b], "y\nn\n");
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{l}: {text}");
        assert_eq!(text.matches("[y/N]").count(), 2, "{l}: {text}");
        assert!(!text.contains("jig: installing"), "{l}: {text}");
        assert!(!env.shim_path("sh").exists(), "{l} pa was installed");
        assert!(!env.jig_home().join("store/images").exists(), "{l} built");

        let out = jig_in_terminal(&env, &["install", a, b], "y\ny\n");
        let text = stdout(&out);
        assert_ok(&out, &format!("{l} approved: {text}"));
        // Both questions come before the first build.
        let second = text.rfind("install pb 1? [y/N]").expect("the second question");
        let building = text.find("jig: installing pa 1").expect("pa installing");
        assert!(second < building, "{l}: {text}");
        assert!(text.contains("jig: installed pb 1"), "{l}: {text}");
        // The variables a recipe passes are one line of its list.
        assert!(
            text.contains("  environment: PA_*, EDITOR, VISUAL\r\n"),
            "{l}: {text}"
        );
        assert!(env.shim_path("sh").is_symlink() && env.shim_path("cat").is_symlink());
    }
}

/// Asserts `jig ARGS` fails with the usage status (2), and that its stderr has `want`.
fn usage_error(env: &Env, args: &[&str], want: &[&str]) -> String {
    let out = env.jig(args);
    let l = format!("{} jig {}", env.label(), args.join(" "));
    assert_code(&out, 2, &l);
    let err = stderr(&out);
    for w in want {
        assert!(err.contains(w), "{l}: no {w:?} in:\n{err}");
    }
    err
}

#[test]
fn unknown_names_suggest_the_closest_and_exit_2_for_run_and_install_alike() {
    for env in Env::all() {
        env.install();
        let mean_git = "hint: did you mean `git`?";
        usage_error(&env, &["install", "gti"], &["no recipe named 'gti'", mean_git]);
        usage_error(&env, &["run", "gti", "--version"], &[mean_git]);
        usage_error(&env, &["exec", "gti", "--", "true"], &[mean_git]);
        usage_error(&env, &["uninstall", "b"], &["hint: did you mean `bb`?"]);
        usage_error(&env, &["which", "caat"], &["hint: did you mean `cat`?"]);
        usage_error(&env, &["push", "bbb", "localhost:1/x"], &["did you mean `bb`?"]);
        usage_error(
            &env,
            &["install", "builtin/gti"],
            &["no built-in recipe named 'gti'", mean_git],
        );
        usage_error(&env, &["install", "team/git"], &["no recipe repository"]);
        // Nothing close: no suggestion, the same status.
        let err = usage_error(&env, &["run", "kubectl"], &["no recipe named"]);
        assert!(!err.contains("did you mean"), "{err}");

        // An unknown version lists the offered ones once, for every command.
        let recipe = fixture().recipe.to_str().unwrap();
        let once = "(it offers: 1.35)";
        usage_error(&env, &["install", &format!("{recipe}@9")], &[once]);
        usage_error(&env, &["run", "bb@9"], &["offers no version 9", "it offers: 1.35)"]);
        usage_error(&env, &["pin", "bb@9"], &[once]);
        usage_error(&env, &["uninstall", "bb@9"], &["(installed: 1.35)"]);
        // A real failure that is not a usage error keeps its own status.
        assert_code(&env.jig(&["rm", "0000"]), 1, &env.label());
    }
}
