//! What a Debian image build shows: a few plain lines through a pipe, one live line on
//! a terminal (a real pty, tmux), and dpkg's output kept in the build's log instead of
//! on the screen. Once per identity; two bootstraps of Debian's Essential set each
//! (the second one reuses the downloaded packages, its `slim` differs so it builds).
//! The first recipe, edited, is also the Debian case of `jig outdated`/`jig upgrade`.

mod common;

use std::fs;
use std::time::Duration;

use common::tmux::Tmux;
use common::*;

/// A recipe `NAME` 1.0 of Debian bookworm's Essential set.
fn debian_recipe(env: &Env, name: &str, slim: bool) -> std::path::PathBuf {
    let path = env.dir().join(format!("{name}.toml"));
    env.write(
        &path,
        format!(
            "name = \"{name}\"\nversion = \"1.0\"\ndescription = \"Debian essentials\"\n\
             [image]\nfrom = \"debian:bookworm\"\npackages = []\nslim = {slim}\n\
             [tool]\nshims = [\"{name}-sh\"]\ncommand = \"sh\"\n"
        ),
    );
    path
}

/// Lines dpkg prints for every package, which must stay off the screen.
fn dpkg_wall(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| {
            l.contains("Setting up ") || l.contains("Unpacking ") || l.contains("dpkg: warning")
        })
        .collect()
}

#[test]
fn debian_builds_print_a_few_lines_through_a_pipe_and_a_live_line_on_a_terminal() {
    for env in Env::all() {
        let l = env.label();

        // Through a pipe: at most 10 lines for the image, none of dpkg's.
        let recipe = debian_recipe(&env, "essentials", false);
        let out = env.jig(&["install", recipe.to_str().unwrap()]);
        assert_ok(&out, &format!("{l} install through a pipe"));
        let err = stderr(&out);
        let image_lines: Vec<&str> = err
            .lines()
            .filter(|line| line.starts_with("jig: essentials 1.0"))
            .collect();
        assert!(
            (3..=10).contains(&image_lines.len()),
            "{l} {} lines for the image: {err}",
            image_lines.len()
        );
        assert!(err.contains("installing "), "{l} phases: {err}");
        assert!(
            dpkg_wall(&err).is_empty(),
            "{l} dpkg output on stderr: {err}"
        );
        let log = fs::read_to_string(env.jig_home().join("store/logs/essentials@1.0.log")).unwrap();
        assert!(
            dpkg_wall(&log).len() > 50,
            "{l} dpkg's output is in the log: {log}"
        );

        // The recipe edited: outdated, and an upgrade reuses the bootstrap's cached
        // image (same package set) instead of building it again.
        let text = fs::read_to_string(&recipe).unwrap() + "[env]\nset = { EDITED = \"1\" }\n";
        env.write(&recipe, text);
        let out = env.jig(&["outdated"]);
        assert_ok(&out, &format!("{l} outdated"));
        assert_eq!(
            stdout(&out),
            "essentials\t1.0\t1.0\trecipe changed\n",
            "{l}"
        );
        let out = env.jig(&["upgrade", "essentials"]);
        assert_ok(&out, &format!("{l} upgrade"));
        let err = stderr(&out);
        assert!(err.contains("image is up to date"), "{l} {err}");
        assert!(!err.contains("bootstrapping"), "{l} {err}");
        assert_eq!(stdout(&env.jig(&["outdated"])), "", "{l} upgraded");

        // On a terminal: a live line with the phase's count, and no wall afterwards.
        let recipe = debian_recipe(&env, "slim-essentials", true);
        let jig = fixture().jig.display().to_string();
        let t = Tmux::start(
            &env,
            &format!(
                "{jig} install {} 2>&1; echo rc=$?; sleep 600",
                recipe.display()
            ),
        );
        let counted = poll(Duration::from_secs(600), || {
            let screen = t.screen();
            if screen.contains("rc=") {
                return Some(Err(screen));
            }
            screen
                .lines()
                .find(|line| {
                    line.starts_with("jig: slim-essentials 1.0: ")
                        && (line.contains("unpacking ") || line.contains("configuring "))
                        && line.contains('/')
                })
                .map(|line| Ok(line.to_owned()))
        });
        let line = match counted {
            Some(Ok(line)) => line,
            other => panic!("{l} no live count while dpkg ran: {other:?}"),
        };
        // The elapsed time, as indicatif shows it (`12s`).
        assert!(
            line.trim_end().ends_with('s')
                && line.trim_end()[..line.trim_end().len() - 1]
                    .ends_with(|c: char| c.is_ascii_digit()),
            "{l} elapsed time: {line:?}"
        );
        let (rc, screen) = {
            let mut last = String::new();
            let found = poll(Duration::from_secs(600), || {
                last = t.screen();
                last.contains("rc=").then(|| last.clone())
            });
            let screen = found.unwrap_or_else(|| panic!("{l} no rc: {last}"));
            let rc = screen
                .split("rc=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or_default()
                .to_owned();
            (rc, screen)
        };
        assert_eq!(rc, "0", "{l} install on a terminal: {screen}");
        assert!(dpkg_wall(&screen).is_empty(), "{l} dpkg wall: {screen}");
        assert!(
            screen.contains("jig: slim-essentials 1.0: image "),
            "{l} the last line: {screen}"
        );
    }
}
