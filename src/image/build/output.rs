//! A build child's output and end: its lines handed to the build's display and log
//! ([`progress::output`]: on stderr only with `-v`), the last ones and the first error
//! kept for the report, and its exit awaited; a caught
//! SIGINT/SIGTERM/SIGHUP kills the child's whole process group (it leads a session of
//! its own, [`crate::base::child::supervise_session`]) instead of waiting for it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read};
use std::os::fd::OwnedFd;

use anyhow::{Context, Result};
use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;

use crate::image::source::progress;

/// How many trailing output lines a failure report repeats.
pub const TAIL_LINES: usize = 25;

/// What a child printed, as kept for a failure report.
#[derive(Debug, Default)]
pub struct Output {
    /// The last [`TAIL_LINES`] lines.
    pub tail: VecDeque<String>,
    /// The first line that reports an error (dpkg's, apt's, a full disk), with the
    /// indented line that says why: what went wrong first, before the cascade of
    /// "dependency problems" that follows it.
    pub first_error: Option<String>,
}

impl Output {
    /// `; first error: ...` when one was seen, else `; last output: ...`; then the
    /// build log's path when there is one.
    pub fn report(&self) -> String {
        let mut s = match &self.first_error {
            Some(first) => format!("; first error: {first}"),
            None => format!(
                "; last output:\n{}",
                self.tail.iter().cloned().collect::<Vec<_>>().join("\n")
            ),
        };
        if let Some(log) = progress::log_path() {
            s.push_str(&format!("\nthe whole log: {}", log.display()));
        }
        s
    }

    /// One line of the child's: to the display and log as it is; kept with its
    /// control characters neutralised, since the report goes to the user's terminal.
    fn line(&mut self, raw: String) {
        progress::output(&raw);
        let line = progress::printable(&raw);
        match &mut self.first_error {
            // dpkg says why on the next, indented line.
            Some(first) if !first.contains('\n') && line.starts_with(' ') => {
                first.push('\n');
                first.push_str(&line);
            }
            None if is_error(&line) => self.first_error = Some(line.trim().to_owned()),
            _ => {}
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }
}

/// Whether a line of a build's output reports an error of its own (not one of dpkg's
/// routine warnings, [`progress::is_error_line`]).
fn is_error(line: &str) -> bool {
    progress::is_error_line(line) || line.contains("No space left on device")
}

/// Copies `read` (the child's stdout and stderr) to our stderr until it closes.
pub fn stream(read: OwnedFd, child: Pid) -> Output {
    let mut out = Output::default();
    let mut file = File::from(read);
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    let mut killed = false;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                pending.extend_from_slice(&buf[..n]);
                while let Some(i) = pending.iter().position(|&b| b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
                    out.line(text);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                if !killed && crate::base::interrupt::received().is_some() {
                    // Everything the step started goes; the pipe then closes.
                    let _ = killpg(child, Signal::SIGKILL);
                    killed = true;
                }
            }
            Err(_) => break,
        }
    }
    if !pending.is_empty() {
        out.line(String::from_utf8_lossy(&pending).into_owned());
    }
    out
}

/// Waits for `child`; on a caught signal, kills its process group first. Returns the
/// interruption as the error once the child is gone.
pub fn wait(child: Pid) -> Result<WaitStatus> {
    loop {
        match waitpid(child, None) {
            Ok(status) => {
                crate::base::interrupt::check()?;
                return Ok(status);
            }
            Err(nix::errno::Errno::EINTR) => {
                if crate::base::interrupt::received().is_some() {
                    let _ = killpg(child, Signal::SIGKILL);
                }
            }
            Err(e) => return Err(e).context("waiting for the build step"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_error_is_kept_with_its_reason_and_not_the_cascade() {
        let mut out = Output::default();
        for l in [
            "Unpacking libc6 ...",
            "dpkg: error processing archive /var/cache/jig/debs/x.deb (--install):",
            " cannot copy extracted data for './usr/bin/x' to '/usr/bin/x.dpkg-new': failed to write (No space left on device)",
            "dpkg: dependency problems prevent configuration of git:",
            " git depends on libc6; however:",
        ] {
            out.line(l.to_owned());
        }
        let first = out.first_error.clone().unwrap();
        assert!(
            first.starts_with("dpkg: error processing archive"),
            "{first}"
        );
        assert!(first.ends_with("(No space left on device)"), "{first}");
        assert!(!first.contains("dependency problems"));
        assert!(
            out.report()
                .starts_with("; first error: dpkg: error processing")
        );
        assert_eq!(out.tail.len(), 5);
        assert_eq!(out.tail[0], "Unpacking libc6 ...");
    }
}
