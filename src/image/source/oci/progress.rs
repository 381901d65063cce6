//! Download progress on stderr: one line per layer, redrawn in place, showing bytes,
//! total and rate. Only when stderr is a terminal; otherwise nothing at all is
//! written, so logs and pipes stay clean.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Progress of one download.
pub struct Progress {
    enabled: bool,
    label: String,
    total: u64,
    done: u64,
    start: Instant,
    last_draw: Instant,
}

/// How often a line is redrawn at most.
const REDRAW: Duration = Duration::from_millis(100);

impl Progress {
    /// Starts reporting `label` (e.g. `layer 2/3 sha256:abcd1234`) of `total` bytes.
    pub fn new(label: String, total: u64) -> Progress {
        let now = Instant::now();
        // The first line appears after one redraw interval, so quick layers and the
        // first few bytes do not print a meaningless rate.
        Progress {
            enabled: std::io::stderr().is_terminal(),
            label,
            total,
            done: 0,
            start: now,
            last_draw: now,
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
        let now = Instant::now();
        if now - self.last_draw >= REDRAW {
            self.last_draw = now;
            self.draw(false);
        }
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self) {
        if self.enabled {
            self.draw(true);
        }
    }

    fn draw(&self, last: bool) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-3);
        let rate = self.done as f64 / secs;
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K{}: {} / {}  {}/s{}",
            self.label,
            human(self.done as f64),
            human(self.total as f64),
            human(rate),
            if last { "\n" } else { "" }
        );
        let _ = err.flush();
    }
}

fn human(v: f64) -> String {
    const UNITS: &[&str] = &["B", "KiB", "MiB", "GiB"];
    let (mut v, mut u) = (v, 0);
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}
