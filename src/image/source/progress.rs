//! Download progress on stderr: one line, redrawn in place at most every 100 ms, and
//! only when stderr is a terminal; otherwise nothing at all is written, so logs and
//! pipes stay clean.
//!
//! [`Batch`] counts the files and bytes of a batch of downloads made by several
//! threads (the Debian archive's packages) and clears its line at the end; [`Transfer`]
//! counts the bytes of one download (a registry layer) and leaves its last state on
//! the screen. Both draw through [`Line`], which decides when a redraw is due.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often a line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);

/// When a progress line started and when it was last drawn.
struct Line {
    start: Instant,
    drawn: Option<Instant>,
}

impl Line {
    /// A line starting now. With `wait`, the first draw is due one redraw interval from
    /// now, so quick downloads and the first few bytes print no meaningless rate.
    fn new(wait: bool) -> Line {
        let start = Instant::now();
        Line {
            start,
            drawn: wait.then_some(start),
        }
    }

    /// If a redraw is due, marks the line drawn and returns the seconds since the start.
    fn due(&mut self) -> Option<f64> {
        let now = Instant::now();
        if self.drawn.is_some_and(|d| now - d < REDRAW) {
            return None;
        }
        self.drawn = Some(now);
        Some((now - self.start).as_secs_f64().max(1e-3))
    }

    /// Seconds since the start.
    fn elapsed(&self) -> f64 {
        self.start.elapsed().as_secs_f64().max(1e-3)
    }

    /// Writes `text` over the current line of stderr.
    fn draw(text: fmt::Arguments) {
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r\x1b[K{text}");
        let _ = err.flush();
    }
}

/// Progress of a batch of downloads: `LABEL FILES/TOTAL, MB/TOTAL MB, RATE MB/s`.
/// Shared by the threads downloading.
pub struct Batch {
    enabled: bool,
    label: String,
    total_files: usize,
    total_bytes: u64,
    state: Mutex<BatchState>,
}

struct BatchState {
    files: usize,
    bytes: u64,
    line: Line,
}

impl Batch {
    /// A progress line for `files` files totalling `bytes`.
    pub fn new(label: &str, files: usize, bytes: u64) -> Batch {
        Batch {
            enabled: io::stderr().is_terminal(),
            label: label.to_owned(),
            total_files: files,
            total_bytes: bytes,
            state: Mutex::new(BatchState {
                files: 0,
                bytes: 0,
                line: Line::new(false),
            }),
        }
    }

    /// A progress line that never draws.
    #[cfg(test)]
    pub fn hidden() -> Batch {
        let mut p = Batch::new("", 0, 0);
        p.enabled = false;
        p
    }

    fn update(&self, f: impl FnOnce(&mut BatchState)) {
        if !self.enabled {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
        let Some(secs) = s.line.due() else {
            return;
        };
        let mb = |b: u64| b as f64 / 1e6;
        Line::draw(format_args!(
            "{} {}/{}, {:.1}/{:.1} MB, {:.1} MB/s",
            self.label,
            s.files,
            self.total_files,
            mb(s.bytes),
            mb(self.total_bytes),
            mb(s.bytes) / secs
        ));
    }

    /// `n` more bytes arrived.
    pub fn bytes(&self, n: u64) {
        self.update(|s| s.bytes += n);
    }

    /// One more file is complete.
    pub fn file_done(&self) {
        self.update(|s| s.files += 1);
    }

    /// Clears the line.
    pub fn finish(&self) {
        let drawn = self
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .line
            .drawn
            .is_some();
        if self.enabled && drawn {
            Line::draw(format_args!(""));
        }
    }
}

/// Progress of one download: `LABEL: DONE / TOTAL  RATE/s`, in binary units.
pub struct Transfer {
    enabled: bool,
    label: String,
    total: u64,
    done: u64,
    line: Line,
}

impl Transfer {
    /// Starts reporting `label` (e.g. `layer 2/3 sha256:abcd1234`) of `total` bytes.
    pub fn new(label: String, total: u64) -> Transfer {
        Transfer {
            enabled: io::stderr().is_terminal(),
            label,
            total,
            done: 0,
            line: Line::new(true),
        }
    }

    /// Prints a one-off note for this item (e.g. "already present"), terminal only.
    pub fn note(&self, text: &str) {
        if self.enabled {
            eprintln!("{}: {text}", self.label);
        }
    }

    /// Counts `n` more bytes.
    pub fn add(&mut self, n: usize) {
        self.done += n as u64;
        if !self.enabled {
            return;
        }
        if let Some(secs) = self.line.due() {
            self.draw(secs, false);
        }
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        if self.enabled {
            self.draw(self.line.elapsed(), true);
        }
    }

    fn draw(&self, secs: f64, last: bool) {
        let rate = self.done as f64 / secs;
        Line::draw(format_args!(
            "{}: {} / {}  {}/s{}",
            self.label,
            human(self.done as f64),
            human(self.total as f64),
            human(rate),
            if last { "\n" } else { "" }
        ));
    }
}

/// A byte count (or rate) in binary units, one decimal: `1.5 MiB`.
fn human(v: f64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB"];
    let (mut v, mut u) = (v, 0);
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redraws_are_due_at_most_every_interval() {
        let mut now = Line::new(false);
        assert!(now.due().is_some(), "at once");
        assert!(now.due().is_none(), "not again so soon");
        let mut later = Line::new(true);
        assert!(later.due().is_none(), "one interval after the start");
        later.drawn = Some(Instant::now() - REDRAW);
        assert!(later.due().is_some_and(|secs| secs >= 1e-3));
    }

    #[test]
    fn binary_units() {
        assert_eq!(human(0.0), "0.0 B");
        assert_eq!(human(1536.0), "1.5 KiB");
        assert_eq!(human(3.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0), "3072.0 GiB");
    }

    #[test]
    fn hidden_and_off_terminal_lines_draw_nothing() {
        let b = Batch::hidden();
        b.bytes(10);
        b.file_done();
        b.finish();
        assert!(b.state.lock().unwrap().line.drawn.is_none());
    }
}
