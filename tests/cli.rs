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
        let second = text
            .rfind("install pb 1? [y/N]")
            .expect("the second question");
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
        usage_error(
            &env,
            &["install", "gti"],
            &["no recipe named 'gti'", mean_git],
        );
        usage_error(&env, &["run", "gti", "--version"], &[mean_git]);
        usage_error(&env, &["exec", "gti", "--", "true"], &[mean_git]);
        usage_error(&env, &["uninstall", "b"], &["hint: did you mean `bb`?"]);
        usage_error(&env, &["which", "caat"], &["hint: did you mean `cat`?"]);
        usage_error(
            &env,
            &["push", "bbb", "localhost:1/x"],
            &["did you mean `bb`?"],
        );
        usage_error(
            &env,
            &["install", "builtin/gti"],
            &["no built-in recipe named 'gti'", mean_git],
        );
        usage_error(&env, &["install", "team/git"], &["no recipe repository"]);
        // A repository's recipes and the repositories themselves.
        add_team_repository(&env);
        usage_error(
            &env,
            &["install", "team/helo"],
            &["did you mean `team/hello`?"],
        );
        usage_error(&env, &["install", "helo"], &["did you mean `hello`?"]);
        usage_error(&env, &["repo", "remove", "tem"], &["did you mean `team`?"]);
        // Nothing close: no suggestion, the same status.
        let err = usage_error(&env, &["run", "kubectl"], &["no recipe named"]);
        assert!(!err.contains("did you mean"), "{err}");

        // An unknown version lists the offered ones once, for every command.
        let recipe = fixture().recipe.to_str().unwrap();
        let once = "(it offers: 1.35)";
        usage_error(&env, &["install", &format!("{recipe}@9")], &[once]);
        usage_error(
            &env,
            &["run", "bb@9"],
            &["offers no version 9", "it offers: 1.35)"],
        );
        usage_error(&env, &["pin", "bb@9"], &[once]);
        usage_error(&env, &["uninstall", "bb@9"], &["(installed: 1.35)"]);
        // A real failure that is not a usage error keeps its own status.
        assert_code(&env.jig(&["rm", "0000"]), 1, &env.label());
    }
}

/// What a tmux pane shows, with its colours as escape codes (`capture-pane -e`).
fn screen_with_escapes(t: &Tmux) -> String {
    let mut c = t.cmd();
    c.args(["capture-pane", "-e", "-p", "-t", "0"]);
    let out = run(c);
    assert_ok(&out, "tmux capture-pane -e");
    stdout(&out)
}

#[test]
fn list_and_images_align_under_a_header_on_a_terminal_and_are_tab_separated_in_a_pipe() {
    for env in Env::all() {
        let l = env.label();
        env.install();
        let shims = "sh,echo,id,pwd,cat,touch,ls,sleep,env,tty";

        // Through a pipe: one tab-separated line per row, no header.
        let out = env.jig(&["list"]);
        assert_ok(&out, &l);
        let row = format!("bb\t1.35\t{shims}\tbusybox test tool\n");
        assert_eq!(stdout(&out), row, "{l}");
        let out = env.jig(&["images"]);
        assert_ok(&out, &l);
        let text = stdout(&out);
        let fields: Vec<&str> = text.trim_end().split('\t').collect();
        assert_eq!(text.lines().count(), 1, "{l}: {text}");
        assert_eq!(fields.len(), 5, "{l}: {text}");
        assert!(
            fields[0].len() == 12 && fields[2] == "bb@1.35",
            "{l}: {text}"
        );
        assert!(
            fields[3].starts_with("rootfs:") && fields[4] == "-",
            "{l}: {text}"
        );

        // --json: arrays a program can read.
        let out = env.jig(&["list", "--json"]);
        assert_ok(&out, &l);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(list[0]["name"], "bb", "{l}: {list}");
        assert_eq!(list[0]["versions"], serde_json::json!(["1.35"]), "{l}");
        assert_eq!(list[0]["shims"][0], "sh", "{l}");
        assert_eq!(list.as_array().unwrap().len(), 1, "{l}");
        let out = env.jig(&["images", "--json"]);
        assert_ok(&out, &l);
        let images: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = images[0]["id"].as_str().unwrap();
        assert!(id.starts_with("sha256:") && id.len() == 71, "{l}: {images}");
        assert!(id[7..].starts_with(fields[0]), "{l}: {images}");
        assert!(
            images[0]["size"].as_u64().unwrap() > 100_000,
            "{l}: {images}"
        );
        assert_eq!(images[0]["used_by"], serde_json::json!(["bb@1.35"]), "{l}");
        assert!(images[0]["source_digest"].is_null(), "{l}: {images}");

        // On a terminal: a header, aligned columns, colour unless NO_COLOR.
        let jig = fixture().jig.display().to_string();
        let script = format!(
            "{jig} list; {jig} images; NO_COLOR=1 {jig} list; NO_COLOR=1 {jig} images; \
             echo end-of-output; sleep 60"
        );
        let t = Tmux::start(&env, &script);
        let screen = t.wait_for("end-of-output");
        let lines: Vec<&str> = screen.lines().collect();
        let at = |line: &str, word: &str| line.find(word).unwrap_or(usize::MAX);
        for first in [0, 4] {
            let (header, row) = (lines[first], lines[first + 1]);
            assert!(header.starts_with("NAME  "), "{l}: {screen}");
            assert_eq!(at(header, "VERSIONS"), at(row, "1.35"), "{l}: {screen}");
            assert_eq!(at(header, "SHIMS"), at(row, shims), "{l}: {screen}");
            let (header, row) = (lines[first + 2], lines[first + 3]);
            assert!(header.starts_with("IMAGE  "), "{l}: {screen}");
            assert!(row.starts_with(fields[0]), "{l}: {screen}");
            assert_eq!(at(header, "USED BY"), at(row, "bb@1.35"), "{l}: {screen}");
            assert_eq!(at(header, "SOURCE "), at(row, "rootfs:"), "{l}: {screen}");
        }
        let escapes = screen_with_escapes(&t);
        let lines: Vec<&str> = escapes.lines().collect();
        assert!(
            lines[..4].iter().all(|l| l.contains('\x1b')),
            "{l}: {escapes:?}"
        );
        // tmux resets the colours of the line before at the start of the next.
        let styled = |line: &str| {
            let rest = ["\x1b[0m", "\x1b[39m", "\x1b[49m"]
                .iter()
                .fold(line.to_owned(), |l, reset| l.replace(reset, ""));
            rest.contains('\x1b')
        };
        assert!(!lines[4..8].iter().any(|l| styled(l)), "{l}: {escapes:?}");
    }
}

/// Registers a directory repository `team` holding the recipe `hello` (two versions).
fn add_team_repository(env: &Env) {
    let dir = env.dir().join("team-recipes");
    env.mkdir(&dir.join("recipes"));
    env.write(
        &dir.join("recipes/hello.toml"),
        "name = \"hello\"\nversion = \"1\"\ndescription = \"Says hello\"\n\
         [image]\nfrom = \"busybox:/bin/busybox\"\n[tool]\nshims = [\"hello\"]\n\
         [versions.\"2\".image]\nfrom = \"busybox:/bin/busybox\"\n",
    );
    assert_ok(
        &env.jig(&["repo", "add", "team", dir.to_str().unwrap()]),
        &format!("{} repo add", env.label()),
    );
}

/// What bash's completion function for jig offers for the command line `words` (the
/// last word being completed), after sourcing `jig completions bash`.
fn bash_completes(env: &Env, words: &[&str]) -> Vec<String> {
    let jig = fixture().jig.display();
    let script = format!(
        "source <({jig} completions bash) || exit 9\n\
         COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE=\"${{COMP_WORDS[*]}}\"\n\
         _clap_complete_jig jig \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        words = words
            .iter()
            .map(|w| format!("'{w}'"))
            .collect::<Vec<_>>()
            .join(" "),
        cword = words.len() - 1,
    );
    let mut c = env.command("bash");
    c.args(["--norc", "--noprofile", "-c", &script]);
    let out = run(c);
    assert_ok(
        &out,
        &format!("{} bash completion of {words:?}", env.label()),
    );
    // printf prints one empty line for an empty COMPREPLY.
    let text = stdout(&out);
    text.lines()
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn completions_are_sourced_by_a_real_bash_and_complete_recipes_tools_and_versions() {
    for env in Env::all() {
        let l = env.label();
        env.install();
        add_team_repository(&env);

        // Sourced by bash, jig has a completion function.
        let jig = fixture().jig.display();
        let mut c = env.command("bash");
        c.args([
            "--norc",
            "--noprofile",
            "-c",
            &format!("source <({jig} completions bash) && complete -p jig"),
        ]);
        let out = run(c);
        assert_ok(&out, &l);
        assert!(
            stdout(&out).contains("-F _clap_complete_jig jig"),
            "{l}: {}",
            stdout(&out)
        );

        // Recipe names: built-in, a repository's (qualified and bare), versions.
        let got = bash_completes(&env, &["jig", "install", "gi"]);
        assert_eq!(got, ["git", "gitk"], "{l}");
        let got = bash_completes(&env, &["jig", "install", "team/"]);
        assert_eq!(got, ["team/hello"], "{l}");
        let got = bash_completes(&env, &["jig", "install", "hel"]);
        assert_eq!(got, ["hello"], "{l}");
        let got = bash_completes(&env, &["jig", "install", "team/hello@"]);
        assert_eq!(got, ["team/hello@1", "team/hello@2"], "{l}");
        // Installed tools and their versions, shims.
        let got = bash_completes(&env, &["jig", "uninstall", "b"]);
        assert_eq!(got, ["bb"], "{l}");
        let got = bash_completes(&env, &["jig", "uninstall", "bb@"]);
        assert_eq!(got, ["bb@1.35"], "{l}");
        let got = bash_completes(&env, &["jig", "which", "ca"]);
        assert_eq!(got, ["cat"], "{l}");
        let got = bash_completes(&env, &["jig", "run", "b"]);
        assert_eq!(got, ["bb", "busybox"], "{l}");
        let got = bash_completes(&env, &["jig", "repo", "remove", "t"]);
        assert_eq!(got, ["team"], "{l}");
        // Subcommands and options come from the command line's definition.
        let got = bash_completes(&env, &["jig", "comp"]);
        assert_eq!(got, ["completions"], "{l}");
        let got = bash_completes(&env, &["jig", "install", "--lo"]);
        assert_eq!(got, ["--locked"], "{l}");
        let got = bash_completes(&env, &["jig", "list", "--lo"]);
        assert!(got.is_empty(), "{l}: --locked offered for list: {got:?}");

        // The same through Tab in an interactive bash on a terminal.
        let t = Tmux::bash(&env, "complete.sock");
        t.type_line(&format!(
            "PATH={}:$PATH; source <(jig completions bash); echo sourced-$?",
            fixture().jig.parent().unwrap().display()
        ));
        t.wait_for("sourced-0");
        t.send(&["-l", "jig install team/he"]);
        t.send(&["Tab"]);
        t.wait_for("jig install team/hello");

        // zsh and fish get their own code, calling the same jig.
        for (shell, want) in [("zsh", "#compdef jig"), ("fish", "--command jig")] {
            let out = env.jig(&["completions", shell]);
            assert_ok(&out, &l);
            let text = stdout(&out);
            assert!(text.contains(want), "{l} {shell}: {text}");
            assert!(text.contains("JIG_COMPLETE"), "{l} {shell}: {text}");
        }
    }
}

#[test]
fn locked_is_an_option_of_the_commands_it_affects_only() {
    for env in Env::all() {
        let l = env.label();
        let help = |args: &[&str]| {
            let out = env.jig(args);
            assert_ok(&out, &format!("{l} {args:?}"));
            stdout(&out)
        };
        for command in ["install", "run", "exec", "shell", "trust"] {
            assert!(
                help(&[command, "--help"]).contains("--locked"),
                "{l} {command}"
            );
        }
        for command in ["list", "images", "which", "pin", "gc", "search"] {
            assert!(
                !help(&[command, "--help"]).contains("--locked"),
                "{l} {command}"
            );
        }
        assert!(!help(&["--help"]).contains("--locked"), "{l}");
        assert_code(&env.jig(&["list", "--locked"]), 2, &l);
        let err = usage_error(&env, &["--locked", "list"], &["no effect"]);
        assert!(
            err.contains("install, trust, run, exec and shell"),
            "{l}: {err}"
        );
    }
}

#[test]
fn the_manual_pages_render_with_their_sections() {
    assert!(
        std::path::Path::new("/usr/bin/man").exists(),
        "man(1) is needed: run script/deps (it installs Debian's man-db)"
    );
    let env = Env::new(Identity::all().remove(0));
    let dir = env.dir().join("man1");
    let out = env.jig(&["manual", dir.to_str().unwrap()]);
    assert_ok(&out, "jig manual DIR");
    let out = env.jig(&["manual"]);
    assert_ok(&out, "jig manual");
    assert_eq!(out.stdout, fs::read(dir.join("jig.1")).unwrap());
    for page in [
        "jig.1",
        "jig-install.1",
        "jig-repo-add.1",
        "jig-completions.1",
    ] {
        let path = dir.join(page);
        // groff's warnings (-ww) about the page's own markup, no output (-z).
        let mut groff = env.command("groff");
        groff.args(["-man", "-ww", "-z"]).arg(&path);
        let checked = run(groff);
        assert_ok(&checked, page);
        assert_eq!(stderr(&checked), "", "{page}");
        let mut man = env.command("man");
        man.arg("-l")
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("MANPAGER", "cat");
        let shown = run(man);
        assert_ok(&shown, page);
        let text = stdout(&shown);
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"] {
            assert!(text.contains(section), "{page}: no {section}:\n{text}");
        }
    }
    let mut man = env.command("man");
    man.arg("-l")
        .arg(dir.join("jig.1"))
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat");
    let text = stdout(&run(man));
    for want in [
        "SUBCOMMANDS",
        "jig-install(1)",
        "EXIT STATUS",
        "130 after Ctrl-C",
        "ENVIRONMENT",
        "NO_COLOR",
        "FILES",
        "SEE ALSO",
    ] {
        assert!(text.contains(want), "jig.1: no {want}:\n{text}");
    }
    assert!(!text.contains("jig-help"), "{text}");
    let mut man = env.command("man");
    man.arg("-l")
        .arg(dir.join("jig-install.1"))
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat");
    assert!(stdout(&run(man)).contains("--locked"));
}
