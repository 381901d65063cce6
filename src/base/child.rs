//! Children that never outlive jig.
//!
//! A killed jig (even by SIGKILL, which no handler sees) must not leave processes
//! behind that keep writing into the store. Every child asks the kernel for a signal
//! when its parent dies (`prctl(PR_SET_PDEATHSIG)`), then checks that the parent is
//! still the one that forked it: had it died between `fork` and `prctl`, the child
//! would already have been re-parented and the request would never fire
//! (PR_SET_PDEATHSIG(2const)). The signal comes when the *thread* that forked dies;
//! jig forks only from its one thread.
//!
//! - [`die_with_parent`]: in a forked child (the Debian extractors);
//! - [`command_dies_with_jig`]: for a program jig runs (host git, the child `jig
//!   install` of a first use);
//! - [`supervise_session`]: for a child whose own descendants must go too (a build
//!   step's shell, dpkg and the maintainer scripts it runs): the child leads a session
//!   and stays behind as a supervisor while a grandchild does the work; when jig dies,
//!   the supervisor's handler kills the whole process group, itself included.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Asks for `sig` when the parent dies and checks that the parent is still `parent`
/// (a pid read before `fork`). Async-signal-safe: for use right after `fork`.
pub fn die_with_parent(parent: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: prctl and getppid take no pointers here.
    unsafe {
        if libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) != 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::getppid() != parent {
            return Err(io::Error::other("jig exited before its child started"));
        }
    }
    Ok(())
}

/// Makes `command`'s process receive `sig` when jig dies (SIGKILL for a helper that
/// has nothing to clean up, SIGTERM for a jig that removes what it started).
pub fn command_dies_with_jig(command: &mut Command, sig: libc::c_int) -> &mut Command {
    // SAFETY: getpid before the fork; the closure runs between fork and exec and calls
    // only async-signal-safe functions.
    let parent = unsafe { libc::getpid() };
    unsafe { command.pre_exec(move || die_with_parent(parent, sig)) }
}

extern "C" fn kill_session_group(_: libc::c_int) {
    // SAFETY: kill(2) is async-signal-safe; 0 names this process's own group, which the
    // supervisor leads, so every descendant that kept the group goes with it.
    unsafe { libc::kill(0, libc::SIGKILL) };
}

/// In a child just forked from `parent` (its pid, read before the fork): starts a
/// session (no controlling terminal; the child leads its process group) and splits in
/// two. The caller's process becomes the supervisor: it waits for the grandchild and
/// exits with its status; if `parent` dies first, a handler kills the process group.
/// In the grandchild this returns `Ok(())`, and the caller goes on with the work.
///
/// Async-signal-safe up to the return (setsid, sigaction, prctl, fork, waitpid).
pub fn supervise_session(parent: libc::pid_t) -> io::Result<()> {
    // setsid(2): a forked child is never a process-group leader, so this succeeds.
    if unsafe { libc::setsid() } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a zeroed sigaction with a handler that only calls kill(2).
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = kill_session_group as extern "C" fn(libc::c_int) as usize;
        libc::sigemptyset(&mut act.sa_mask);
        if libc::sigaction(libc::SIGTERM, &act, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    die_with_parent(parent, libc::SIGTERM)?;
    // SAFETY: the supervisor only waits and exits; the grandchild carries on.
    let worker = unsafe { libc::fork() };
    if worker < 0 {
        return Err(io::Error::last_os_error());
    }
    if worker == 0 {
        // The worker must not keep the supervisor's handler or death signal: it execs
        // soon, and the supervisor outlives it.
        // SAFETY: restoring the default disposition; clearing the death signal.
        unsafe {
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            libc::prctl(libc::PR_SET_PDEATHSIG, 0 as libc::c_ulong, 0, 0, 0);
        }
        return Ok(());
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting for our own child.
        let r = unsafe { libc::waitpid(worker, &mut status, 0) };
        if r == worker {
            break;
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(125) };
        }
    }
    // The worker's status, as it was: its exit code, or its signal re-raised.
    // SAFETY: exiting or killing ourselves with the worker's signal.
    unsafe {
        if libc::WIFSIGNALED(status) {
            let sig = libc::WTERMSIG(status);
            libc::signal(sig, libc::SIG_DFL);
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            libc::kill(libc::getpid(), sig);
        }
        libc::_exit(if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            125
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn a_command_is_killed_when_the_thread_that_started_it_ends() {
        // The death signal follows the thread that forked (jig has only one): started
        // from a thread that then ends, `sleep` must be killed at once.
        let started = std::time::Instant::now();
        let mut child = std::thread::spawn(|| {
            let mut c = Command::new("sleep");
            c.arg("30");
            command_dies_with_jig(&mut c, libc::SIGKILL);
            c.spawn().unwrap()
        })
        .join()
        .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        // Without it, the same command lives on.
        let mut c = std::thread::spawn(|| Command::new("sleep").arg("30").spawn().unwrap())
            .join()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(c.try_wait().unwrap().is_none());
        c.kill().unwrap();
        c.wait().unwrap();
    }
}
