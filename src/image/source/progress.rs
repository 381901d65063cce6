//! What an image build shows on stderr, drawn with indicatif: on a terminal one live
//! line per image (phase, counts or bytes, elapsed time); through a pipe a few plain
//! lines per image ([`PLAIN_LINES`] at most); with `-v` every phase and the raw output
//! of dpkg and the build steps, as they come. The raw output always goes to the
//! build's log file ([`Build::begin`]), whose path a failure names.
//!
//! One build is shown at a time, so its state is a process-wide session that the
//! sources and build steps report to ([`phase`], [`counted`], [`output`], [`Batch`],
//! [`Transfer`]); without a session they draw a bar of their own (`jig pull`).
//!
//! No steady tick: indicatif would draw from a thread of its own, and a jig process
//! that builds on first use goes on to `unshare(CLONE_NEWUSER)`, which the kernel
//! refuses to a multi-threaded process. The bar is redrawn when something happens
//! (a line of output, a chunk of a download), at most 20 times a second (indicatif's
//! own rate limit), and its elapsed time moves with it.

use std::fs::{self, File};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Plain lines (phases) one image prints at most without a terminal; its last line
/// (built, or the error) comes on top.
pub const PLAIN_LINES: usize = 8;

static VERBOSE: AtomicBool = AtomicBool::new(false);
static SESSION: Mutex<Option<Session>> = Mutex::new(None);

/// Makes every build stream its raw output and phases to stderr (`-v`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

fn session() -> MutexGuard<'static, Option<Session>> {
    SESSION.lock().unwrap_or_else(|p| p.into_inner())
}

/// One image's build as shown: its bar (hidden off a terminal and with `-v`), its
/// log file, how many plain lines it printed, and the output prefixes that count.
struct Session {
    label: String,
    bar: ProgressBar,
    /// The bar is drawn (stderr is a terminal and not `-v`).
    live: bool,
    log: Option<(PathBuf, File)>,
    plain: usize,
    started: Instant,
    /// Output lines starting with `.0` advance the count `.1` (`configuring 3/40`).
    watch: Vec<(&'static str, &'static str, u64, u64)>,
}

impl Session {
    /// Shows `text` as the phase: the bar's message, or a plain line while the budget
    /// lasts (every phase with `-v`).
    fn phase(&mut self, text: &str) {
        if self.live {
            self.bar.set_style(style("{prefix}{msg}  {elapsed}"));
            self.bar.set_message(text.to_owned());
        } else if verbose() || self.plain < PLAIN_LINES {
            self.plain += 1;
            eprintln!("jig: {}: {text}", self.label);
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar())
}

/// The bar drawn on stderr when it is a terminal (and not `-v`), else a hidden one.
fn new_bar(label: &str) -> (ProgressBar, bool) {
    let live = !verbose() && std::io::stderr().is_terminal();
    let target = if live {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    // Styled while still hidden: a bar drawn with indicatif's default style would show
    // an empty gauge first.
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    bar.set_style(style("{prefix}{msg}  {elapsed}"));
    bar.set_prefix(if label.is_empty() {
        "jig: ".to_owned()
    } else {
        format!("jig: {label}: ")
    });
    bar.set_draw_target(target);
    (bar, live)
}

/// The display of one image's build, from [`Build::begin`] to drop.
pub struct Build {
    /// Whether this guard opened the session (a build inside a build reports to the
    /// outer one).
    owner: bool,
}

impl Build {
    /// Starts showing the build of `label` (`git 2.39`), its raw output kept in `log`
    /// (replaced; a log that cannot be written is skipped, the build goes on).
    pub fn begin(label: &str, log: &Path) -> Build {
        let mut s = session();
        if s.is_some() {
            return Build { owner: false };
        }
        let file = log
            .parent()
            .map_or(Ok(()), fs::create_dir_all)
            .and_then(|()| File::create(log))
            .ok()
            .map(|f| (log.to_owned(), f));
        let (bar, live) = new_bar(label);
        *s = Some(Session {
            label: label.to_owned(),
            bar,
            live,
            log: file,
            plain: 0,
            started: Instant::now(),
            watch: Vec::new(),
        });
        Build { owner: true }
    }

    /// Ends the display with one line: `jig: LABEL: WHAT in S s`.
    pub fn done(self, what: &str) {
        if let Some(s) = session().as_ref().filter(|_| self.owner) {
            s.bar.finish_and_clear();
            eprintln!(
                "jig: {}: {what} in {:.1} s",
                s.label,
                s.started.elapsed().as_secs_f64()
            );
        }
    }
}

impl Drop for Build {
    fn drop(&mut self) {
        if self.owner
            && let Some(s) = session().take()
        {
            s.bar.finish_and_clear();
        }
    }
}

/// The current build's log file, if it has one.
pub fn log_path() -> Option<PathBuf> {
    session()
        .as_ref()
        .and_then(|s| s.log.as_ref().map(|(p, _)| p.clone()))
}

/// Reports a phase of the current build (`resolving packages`); without one, prints
/// `jig: TEXT` as before.
pub fn phase(text: &str) {
    match session().as_mut() {
        Some(s) => s.phase(text),
        None => eprintln!("jig: {text}"),
    }
}

/// Reports a passing state of the current build on the bar only (`resolving`), or
/// with `-v`: through a pipe it is not worth one of the image's few lines.
pub fn status(text: &str) {
    match session().as_mut() {
        Some(s) if s.live || verbose() => s.phase(text),
        Some(_) => {}
        None if verbose() => eprintln!("jig: {text}"),
        None => {}
    }
}

/// A line that is always printed (a warning, a note), above the bar.
pub fn note(text: &str) {
    match session().as_ref() {
        Some(s) => s.bar.suspend(|| eprintln!("jig: {}: {text}", s.label)),
        None => eprintln!("jig: {text}"),
    }
}

/// Starts a counted phase (a plain line unless `quiet`): output lines that start with one of `watch`'s prefixes
/// advance its count, shown as `LABEL K/TOTAL` (`configuring 12/140`).
pub fn counted(text: &str, quiet: bool, watch: &[(&'static str, &'static str)], total: u64) {
    if let Some(s) = session().as_mut() {
        if !quiet || s.live || verbose() {
            s.phase(text);
        }
        s.watch = watch.iter().map(|&(p, l)| (p, l, 0, total)).collect();
    }
}

/// Ends the counted phase.
pub fn uncounted() {
    if let Some(s) = session().as_mut() {
        s.watch.clear();
    }
}

/// One line of raw build output: into the log, to stderr with `-v`, and counted when
/// the phase watches for it.
pub fn output(line: &str) {
    let mut guard = session();
    let Some(s) = guard.as_mut() else {
        eprintln!("  | {line}");
        return;
    };
    if let Some((_, f)) = &mut s.log {
        let _ = writeln!(f, "{line}");
    }
    if verbose() {
        eprintln!("  | {line}");
    }
    if let Some(w) = s.watch.iter_mut().find(|w| line.starts_with(w.0)) {
        w.2 += 1;
        let text = format!("{} {}/{}", w.1, w.2.min(w.3), w.3);
        if s.live {
            s.bar.set_message(text);
        }
    }
}

/// Whether `line` of build output reports an error worth showing first, rather than
/// one of the warnings dpkg and maintainer scripts print on every bootstrap.
pub fn is_error_line(line: &str) -> bool {
    let l = line.trim();
    const NOISE: &[&str] = &[
        "dpkg: warning:",
        "ignoring pre-dependency problem",
        "Use of uninitialized value",
        "debconf: ",
        "update-alternatives: warning:",
        "perl: warning:",
        "locale: Cannot set",
    ];
    // dpkg's progress lines name packages, and package names hold such words
    // (libgpg-error0, libnotfound...).
    const PROGRESS: &[&str] = &[
        "Setting up ",
        "Unpacking ",
        "Preparing to unpack ",
        "Selecting previously unselected ",
        "Processing triggers for ",
    ];
    if l.is_empty()
        || NOISE.iter().any(|n| l.contains(n))
        || PROGRESS.iter().any(|p| l.starts_with(p))
    {
        return false;
    }
    let lower = l.to_ascii_lowercase();
    l.starts_with("E: ")
        || [
            "error",
            "not found",
            "no such file",
            "permission denied",
            "cannot ",
            "can't ",
            "failed",
            "fatal",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// `line` with every control character (C0 but tab, DEL, C1) shown as `?`: a line of a
/// build's output repeated in an error must not drive the user's terminal.
pub fn printable(line: &str) -> String {
    line.chars()
        .map(|c| {
            if (c.is_control() && c != '\t') || ('\u{80}'..='\u{9f}').contains(&c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// Progress of a batch of downloads made by several threads (the Debian archive's
/// packages): `LABEL F/N, BYTES/TOTAL`; the current build's bar, or a bar of its own.
pub struct Batch {
    bar: ProgressBar,
    label: String,
    files: std::sync::atomic::AtomicUsize,
    total_files: usize,
    own: bool,
}

impl Batch {
    /// A progress display for `files` files totalling `bytes`.
    pub fn new(label: &str, files: usize, bytes: u64) -> Batch {
        let (bar, own) = match session().as_mut() {
            Some(s) => {
                s.phase(&format!("{} ({files} files)", label.to_lowercase()));
                (s.bar.clone(), false)
            }
            None => (new_bar("").0, true),
        };
        bar.set_style(style(
            "{prefix}{msg}, {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}  {elapsed}",
        ));
        bar.set_length(bytes);
        bar.set_position(0);
        let b = Batch {
            bar,
            label: label.to_lowercase(),
            files: 0.into(),
            total_files: files,
            own,
        };
        b.bar.set_message(b.message(0));
        b
    }

    /// A display that never draws.
    #[cfg(test)]
    pub fn hidden() -> Batch {
        Batch {
            bar: ProgressBar::hidden(),
            label: String::new(),
            files: 0.into(),
            total_files: 0,
            own: true,
        }
    }

    fn message(&self, done: usize) -> String {
        format!("{} {done}/{}", self.label, self.total_files)
    }

    /// `n` more bytes arrived.
    pub fn bytes(&self, n: u64) {
        self.bar.inc(n);
    }

    /// One more file is complete.
    pub fn file_done(&self) {
        let done = self.files.fetch_add(1, Ordering::Relaxed) + 1;
        self.bar.set_message(self.message(done));
    }

    /// Clears a bar of its own (the build's goes on to its next phase).
    pub fn finish(&self) {
        if self.own {
            self.bar.finish_and_clear();
        }
    }
}

/// Progress of one download (a registry layer): `LABEL BYTES/TOTAL RATE`.
pub struct Transfer {
    bar: ProgressBar,
    label: String,
    own: bool,
}

impl Transfer {
    /// Starts reporting `label` (e.g. `layer 2/3 sha256:abcd1234`) of `total` bytes.
    pub fn new(label: String, total: u64) -> Transfer {
        let (bar, own) = match session().as_mut() {
            Some(s) => {
                // A layer is not worth one of the image's few plain lines.
                if s.live || verbose() {
                    s.phase(&label);
                }
                (s.bar.clone(), false)
            }
            None => (new_bar("").0, true),
        };
        bar.set_style(style(
            "{prefix}{msg} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec}  {elapsed}",
        ));
        bar.set_message(label.clone());
        bar.set_length(total);
        bar.set_position(0);
        Transfer { bar, label, own }
    }

    /// Notes something about this item ("already present"), on the bar only.
    pub fn note(&self, text: &str) {
        self.bar.set_message(format!("{}: {text}", self.label));
    }

    /// Counts `n` more bytes.
    pub fn add(&mut self, n: usize) {
        self.bar.inc(n as u64);
    }

    /// Ends a bar of its own, leaving its last state on a terminal.
    pub fn finish(&mut self) {
        if self.own {
            self.bar.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_noise_is_not_the_first_error() {
        for noise in [
            "dpkg: warning: ignoring pre-dependency problem!",
            "Use of uninitialized value $val in substitution (s///) at /usr/bin/x line 3.",
            "debconf: unable to initialize frontend: Dialog",
            "perl: warning: Setting locale failed.",
            "Setting up git (1:2.39.5-0+deb12u2) ...",
            "Setting up libgpg-error0:amd64 (1.46-1) ...",
            "Unpacking libgpg-error0:amd64 (1.46-1) ...",
            "",
        ] {
            assert!(!is_error_line(noise), "{noise}");
        }
        for error in [
            "E: Unable to locate package nope",
            "sh: 1: nope: not found",
            "make: *** [all] Error 2",
            "cp: cannot stat 'x': No such file or directory",
        ] {
            assert!(is_error_line(error), "{error}");
        }
    }

    #[test]
    fn repeated_output_cannot_drive_the_terminal() {
        assert_eq!(
            printable("\x1b]0;pwned\x07E: x\tok\u{9b}2J"),
            "?]0;pwned?E: x\tok?2J"
        );
    }

    #[test]
    fn hidden_batches_count_without_drawing() {
        let b = Batch::hidden();
        b.bytes(10);
        b.file_done();
        assert_eq!(b.bar.position(), 10);
        assert_eq!(b.files.load(Ordering::Relaxed), 1);
        b.finish();
    }
}
