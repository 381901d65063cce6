//! A real terminal: shims run in a tmux pane (a pty), once per identity, with tmux
//! itself running as that identity. Each test has a private tmux server (its socket
//! lives in the test's own directory) that is killed when the test ends or panics.
//!
//! Markers the tests wait for are written split (`RE""ADY`) in commands, so the echo
//! of a typed command line never matches them; only the command's output does.

mod common;

use std::time::{Duration, Instant};

use common::tmux::{TIMEOUT, Tmux};
use common::*;

#[test]
fn the_tools_terminal_is_the_callers_and_no_other() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let t = Tmux::start(
            &env,
            "echo host=$(stat -L -c %t:%T /dev/stdin); \
             $S/sh -c 'echo jig=$(stat -L -c %t:%T /dev/stdin); echo tty=$(tty); \
             echo pts=$(ls /dev/pts); echo via-dev-tty > /dev/tty'; echo DO''NE; sleep 60",
        );
        let screen = t.wait_for("DONE");
        let value = |key: &str| {
            screen
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .unwrap_or_else(|| panic!("{l} no {key} line:\n{screen}"))
                .trim()
                .to_owned()
        };
        // The same device (major:minor) on fd 0 inside and out, and /dev/tty is it.
        let host = value("host=");
        assert!(host.starts_with("88:"), "{l} not a pty outside: {host}");
        assert_eq!(value("jig="), host, "{l} the same terminal inside and out");
        assert!(screen.contains("\nvia-dev-tty"), "{l}\n{screen}");
        // The host's /dev/pts is not there (the launch has its own, holding only its
        // ptmx), so the terminal has no name inside: `tty` says so, as under
        // bubblewrap or flatpak.
        assert_eq!(value("pts="), "ptmx", "{l}");
        assert_eq!(value("tty="), "not a tty", "{l}");
    }
}

#[test]
fn ctrl_c_interrupts_the_tool() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let t = Tmux::start(
            &env,
            // The wrapper catches SIGINT (a caught signal is reset by exec, so the tool
            // still gets the default action) to survive and report the tool's status.
            "trap : INT; $S/sh -c 'echo RE\"\"ADY; exec sleep 100'; echo rc=$?; sleep 60",
        );
        t.wait_for("READY");
        t.send(&["C-c"]);
        let (rc, screen) = t.wait_for_number("rc=");
        assert_eq!(rc, 130, "{l} screen:\n{screen}");

        // The sleep shim itself, typed at an interactive prompt.
        let t2 = Tmux::bash(&env, "tmux2.sock");
        t2.type_line("$S/sleep 100");
        // Interrupt only once the command runs inside its container.
        let pid = wait_for_container_child(&t2);
        let sent = Instant::now();
        t2.send(&["C-c"]);
        // (bash drops the rest of a command list after a SIGINT death, so the status
        // is asked for on its own line.)
        t2.type_line("echo rc=$?");
        let (rc, screen) = t2.wait_for_number("rc=");
        assert_eq!(rc, 130, "{l} screen:\n{screen}");
        assert!(
            sent.elapsed() < Duration::from_secs(3),
            "{l} took {:?}",
            sent.elapsed()
        );
        assert!(proc_state(&pid).is_none(), "{l} the tool still runs");
    }
}

/// Waits until a process below the pane's shell runs inside a container (its mount
/// namespace differs from the shell's). Returns its pid.
fn wait_for_container_child(t: &Tmux) -> String {
    let mut c = t.cmd();
    c.args(["display-message", "-p", "-t", "0", "#{pane_pid}"]);
    let shell_pid = stdout(&run(c)).trim().to_owned();
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/mnt")).ok();
    let shell_ns = ns(&shell_pid).expect("pane shell mount namespace");
    let found = poll(TIMEOUT, || {
        // Breadth-first over descendants (the pane may run `sh -c` around bash).
        let mut queue = vec![shell_pid.clone()];
        while let Some(pid) = queue.pop() {
            if ns(&pid).is_some_and(|n| n != shell_ns) {
                return Some(pid);
            }
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"));
            queue.extend(
                children
                    .unwrap_or_default()
                    .split_whitespace()
                    .map(String::from),
            );
        }
        None
    });
    found.unwrap_or_else(|| {
        panic!(
            "{} no containerized child appeared; screen:\n{}",
            t.env.label(),
            t.screen()
        )
    })
}

/// The state letter of a process (R, S, T, ...) from /proc/PID/stat.
fn proc_state(pid: &str) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

#[test]
fn ctrl_z_suspends_and_fg_resumes() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let t = Tmux::bash(&env, "tmux.sock");
        t.type_line("$S/sh -c 'echo ST\"\"ARTED; sleep 2; echo FIN\"\"ISHED'");
        t.wait_for("STARTED");
        t.send(&["C-z"]);
        let screen = t.wait_for("Stopped");
        assert!(
            !screen.contains("FINISHED"),
            "{l} finished before the stop:\n{screen}"
        );
        assert!(!screen.contains("rc="), "{l}:\n{screen}");
        let pid = wait_for_container_child(&t);
        let state = proc_state(&pid);
        assert_eq!(state, Some('T'), "{l} the job is not stopped");
        t.type_line("fg");
        t.wait_for("FINISHED");
        // $? after fg is the resumed job's exit status.
        t.type_line("echo rc=$?");
        let (rc, screen) = t.wait_for_number("rc=");
        assert_eq!(rc, 0, "{l} resumed job failed:\n{screen}");
    }
}
