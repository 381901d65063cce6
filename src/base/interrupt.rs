//! Stopping cleanly on SIGINT, SIGTERM and SIGHUP while jig makes an image.
//!
//! Installs, pulls and builds hold a [`Guard`]: while it lives, those signals only
//! record themselves in a flag (the handler does nothing else, which is all a signal
//! handler may safely do), and the work checks the flag between steps ([`check`]):
//! per archive entry, per downloaded chunk, per copied file, while waiting for a child
//! or a lock. The error that check returns travels up like any other, so every temp
//! directory and file is removed by its destructor on the way, and the CLI then exits
//! with 128 + the signal's number (130, 143, 129), as a shell reports a command the
//! signal killed.
//!
//! No thread is started: jig must be single-threaded when it later enters a user
//! namespace. The handler is installed without `SA_RESTART`, so a blocking system
//! call (a read from a child's pipe, `waitpid`, `flock`) returns `EINTR` and the
//! code around it looks at the flag. A signal the caller ignores (`nohup`) stays
//! ignored. When the guard is dropped the previous dispositions come back, so a tool
//! that jig then launches gets the usual ones.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicI32, Ordering};

/// The signals a guard catches.
const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The last signal caught since the process started (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    // An atomic store is async-signal-safe; nothing else happens here.
    RECEIVED.store(sig, Ordering::SeqCst);
}

/// While alive, SIGINT, SIGTERM and SIGHUP set the flag [`check`] reads instead of
/// killing the process.
pub struct Guard {
    old: Vec<(libc::c_int, libc::sigaction)>,
}

impl Guard {
    /// Installs the handler for the three signals (except those the caller ignores).
    pub fn install() -> Guard {
        let mut old = Vec::new();
        for sig in SIGNALS {
            // SAFETY: sigaction with a zeroed, then filled, struct; the handler only
            // stores into an atomic.
            unsafe {
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, std::ptr::null(), &mut prev) != 0 {
                    continue;
                }
                if prev.sa_sigaction == libc::SIG_IGN {
                    continue;
                }
                let mut act: libc::sigaction = std::mem::zeroed();
                act.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                // No SA_RESTART: blocking calls return EINTR so the flag is seen.
                act.sa_flags = 0;
                libc::sigemptyset(&mut act.sa_mask);
                if libc::sigaction(sig, &act, std::ptr::null_mut()) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        Guard { old }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        for (sig, prev) in self.old.drain(..).rev() {
            // SAFETY: restores the disposition saved in `install`.
            unsafe { libc::sigaction(sig, &prev, std::ptr::null_mut()) };
        }
    }
}

/// The signal caught, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

/// The exit status for a run stopped by `sig`: 128 + its number.
pub fn exit_code(sig: i32) -> i32 {
    128 + sig
}

/// The error of work stopped by a signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupted(pub i32);

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted by {}", name(self.0))
    }
}

impl std::error::Error for Interrupted {}

/// `SIGINT`, `SIGTERM`, `SIGHUP` or `signal N`.
pub fn name(sig: i32) -> String {
    match sig {
        libc::SIGINT => "SIGINT".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGHUP => "SIGHUP".into(),
        n => format!("signal {n}"),
    }
}

/// `Err` once a signal was caught: the place to stop.
pub fn check() -> Result<(), Interrupted> {
    match received() {
        Some(s) => Err(Interrupted(s)),
        None => Ok(()),
    }
}

/// [`check`] as an `io::Result`, for code that speaks io errors. Not of kind
/// `ErrorKind::Interrupted`: std's readers and `io::copy` retry those.
pub fn check_io() -> io::Result<()> {
    check().map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disposition(sig: libc::c_int) -> usize {
        // SAFETY: reads the current disposition only.
        unsafe {
            let mut a: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut a);
            a.sa_sigaction
        }
    }

    /// In a forked child: the flag is process-wide, and other tests of this process
    /// check it while they unpack.
    #[test]
    fn a_caught_signal_is_recorded_and_the_old_disposition_comes_back() {
        // SAFETY: the child only makes the checks below and leaves with _exit.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let before = disposition(libc::SIGHUP);
                let ok = {
                    let _g = Guard::install();
                    let clean = check() == Ok(());
                    // SAFETY: raising a signal whose handler only stores a flag.
                    unsafe { libc::raise(libc::SIGHUP) };
                    clean && check() == Err(Interrupted(libc::SIGHUP))
                };
                let restored = disposition(libc::SIGHUP) == before;
                // SAFETY: leave the forked test process without unwinding.
                unsafe { libc::_exit(if ok && restored { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
        assert_eq!(exit_code(libc::SIGHUP), 129);
        assert_eq!(
            Interrupted(libc::SIGINT).to_string(),
            "interrupted by SIGINT"
        );
    }
}
