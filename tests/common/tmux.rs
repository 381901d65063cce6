//! A private tmux server (a real pty) for one identity: its socket lives in the test's
//! own directory, and it is killed when the value is dropped (a test ending or
//! panicking).

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::Duration;

use super::{Env, assert_ok, poll, run, stdout};

pub const TIMEOUT: Duration = Duration::from_secs(8);

/// A private tmux server running one session for `env`'s user.
pub struct Tmux<'a> {
    pub env: &'a Env,
    socket: PathBuf,
}

impl<'a> Tmux<'a> {
    /// Starts a detached 100x30 session running `command` (through /bin/sh), with `$S`
    /// set to the shim directory.
    pub fn start(env: &'a Env, command: &str) -> Tmux<'a> {
        Tmux::start_with(env, command, &[])
    }

    /// The same, with more variables for the session (they override `env`'s).
    pub fn start_with(env: &'a Env, command: &str, vars: &[(&str, &OsStr)]) -> Tmux<'a> {
        let t = Tmux {
            env,
            socket: env.dir().join("tmux.sock"),
        };
        let mut c = t.cmd();
        c.args(["new-session", "-d", "-x", "100", "-y", "30", command])
            .env("S", env.shims())
            .envs(vars.iter().copied());
        assert_ok(&run(c), &format!("{} tmux new-session", env.label()));
        t
    }

    pub fn cmd(&self) -> std::process::Command {
        let mut c = self.env.command("tmux");
        c.arg("-S").arg(&self.socket).arg("-f").arg("/dev/null");
        c
    }

    pub fn send(&self, keys: &[&str]) {
        let mut c = self.cmd();
        c.args(["send-keys", "-t", "0"]).args(keys);
        assert_ok(&run(c), "tmux send-keys");
    }

    /// Types a line into the pane and presses Enter.
    pub fn type_line(&self, line: &str) {
        self.send(&["-l", line]);
        self.send(&["Enter"]);
    }

    pub fn screen(&self) -> String {
        let mut c = self.cmd();
        c.args(["capture-pane", "-p", "-t", "0"]);
        let out = run(c);
        assert_ok(&out, "tmux capture-pane");
        stdout(&out)
    }

    /// Waits until the pane shows `key` followed by a number (as `rc=130`) and returns
    /// the number and the screen. A typed `echo rc=$?` does not match.
    pub fn wait_for_number(&self, key: &str) -> (u32, String) {
        let mut last = String::new();
        poll(TIMEOUT, || {
            last = self.screen();
            last.match_indices(key).find_map(|(i, _)| {
                let digits: String = last[i + key.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                Some((digits.parse().ok()?, last.clone()))
            })
        })
        .unwrap_or_else(|| {
            panic!(
                "{} timed out waiting for {key:?} and a number; screen:\n{last}",
                self.env.label()
            )
        })
    }

    /// Starts a session running an interactive bash with job control, at its prompt.
    pub fn bash(env: &'a Env, socket: &str) -> Tmux<'a> {
        let t = Tmux {
            env,
            socket: env.dir().join(socket),
        };
        let mut c = t.cmd();
        c.args([
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "bash --norc --noprofile -i",
        ])
        .env("S", env.shims())
        .env("PS1", "prompt$ ");
        assert_ok(&run(c), &format!("{} tmux new-session bash", env.label()));
        t.wait_for("prompt$");
        t
    }

    /// Waits until the pane shows `text`; returns the screen.
    pub fn wait_for(&self, text: &str) -> String {
        let mut last = String::new();
        poll(TIMEOUT, || {
            last = self.screen();
            last.contains(text).then(|| last.clone())
        })
        .unwrap_or_else(|| {
            panic!(
                "{} timed out waiting for {text:?}; screen:\n{last}",
                self.env.label()
            )
        })
    }
}

impl Drop for Tmux<'_> {
    fn drop(&mut self) {
        let mut c = self.cmd();
        c.arg("kill-server");
        let _ = c.output();
        // The server removes its socket as it exits, after the client has returned: a
        // new server started on the same path before that would be talked to by a
        // client of the dying one ("server exited unexpectedly").
        let _ = poll(Duration::from_secs(5), || {
            (!self.socket.exists()).then_some(())
        });
        let _ = std::fs::remove_file(&self.socket);
    }
}
