//! The user's terminal, in a real pty (tmux): a tool cannot push input into it
//! (TIOCSTI), and a build step has no controlling terminal at all.

use common::tmux::Tmux;

use super::*;

/// Whether this kernel still lets a process push input into its own terminal
/// (`dev.tty.legacy_tiocsti`, Linux 6.2+; kernels without the setting always do).
fn legacy_tiocsti() -> bool {
    fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti").map_or(true, |v| v.trim() == "1")
}

#[test]
fn a_tool_cannot_type_into_the_users_shell() {
    for env in Env::all() {
        let l = env.label();
        let dir = shared_tempdir("probe-");
        let rootfs = probe_image(dir.path());
        let recipe = probe_recipe(&env, "prober", &rootfs, "", "");
        assert_ok(&env.jig(&["install", recipe.to_str().unwrap()]), &l);
        let t = Tmux::bash(&env, "tiocsti.sock");
        // What the tool would have the shell run after it exits. Split so that only
        // its output, never the text, contains the marker.
        let inject = "echo INJ''ECTED\n";
        t.type_line(&format!(
            "$S/probe tiocsti '{}'; echo TRIED-IN''SIDE",
            inject.trim_end()
        ));
        let screen = t.wait_for("TRIED-INSIDE");
        assert!(screen.contains("tiocsti errno=1"), "{l}\n{screen}");
        assert!(screen.contains("tiocsti-high errno=1"), "{l}\n{screen}");
        assert!(screen.contains("tioclinux errno=1"), "{l}\n{screen}");
        // Other terminal ioctls still work.
        assert!(screen.contains("tiocgwinsz ok"), "{l}\n{screen}");
        // Positive control: the same program outside jig does type into the shell, on
        // kernels that allow it at all.
        if legacy_tiocsti() {
            t.type_line(&format!("{} tiocsti 'echo NAT''IVE'", probe().display()));
            // The pushed characters end with no newline: press Enter for them.
            t.wait_for("tiocsti ok");
            t.send(&["Enter"]);
            t.wait_for("\nNATIVE");
        } else {
            eprintln!("{l} dev.tty.legacy_tiocsti = 0: no native control possible");
        }
        // Nothing the tool pushed ever ran.
        t.type_line("echo EN''D");
        let screen = t.wait_for("\nEND");
        assert!(!screen.contains("INJECTED"), "{l}\n{screen}");
    }
}

#[test]
fn a_build_step_has_no_controlling_terminal() {
    for env in Env::all() {
        let l = env.label();
        let dir = shared_tempdir("probe-");
        let rootfs = probe_image(dir.path());
        let recipe = probe_recipe(
            &env,
            "prober",
            &rootfs,
            "run = ['/probe ctty; /probe tiocsti x']",
            "",
        );
        let t = Tmux::bash(&env, "ctty.sock");
        t.type_line(&format!(
            "JIG_YES=1 {} install -v {}; echo INSTALL-rc=$?",
            fixture().jig.display(),
            recipe.display()
        ));
        let (rc, screen) = t.wait_for_number("INSTALL-rc=");
        assert_eq!(rc, 0, "{l}\n{screen}");
        assert!(screen.contains("open-tty errno=6"), "{l}\n{screen}");
        assert!(!screen.contains("tiocsti ok"), "{l}\n{screen}");
        // Positive control: the installed tool, run in the same terminal, has it.
        t.type_line("$S/probe ctty; echo DO''NE");
        let screen = t.wait_for("DONE");
        assert!(screen.contains("open-tty ok"), "{l}\n{screen}");
    }
}
