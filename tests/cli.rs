//! The command line as a user meets it: suggestions for unknown names and the exit
//! status they give. Once per identity.

mod common;

use common::*;

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
