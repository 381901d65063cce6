//! A launch that saves home files ([`Plan::saved`](super::spec::Plan::saved)) starts
//! the tool in a child ([`spawn`]), and the parent, which keeps jig's pid (the process the
//! user's shell started and waits for), waits for it, saves the files
//! ([`super::save`]) and then ends as the tool ended: the same exit status, or the same
//! signal raised on itself.
//!
//! Why the tool is the child and not the other way round: the shell must not learn
//! that the command ended before its files are on the host (`git config --global a.b
//! c && cat ~/.gitconfig`), and nothing can delay the exit notification of a process
//! that exits. Why only the child enters the namespaces: the parent stays in the
//! host's user namespace, where the tool, in a child user namespace, can neither ptrace it nor open
//! its `/proc` files (ptrace(2) needs `CAP_SYS_PTRACE` in the parent's namespace), and
//! where it sees the host's files to write.
//!
//! The child sends the parent its overlay's upper directory over a socket pair
//! (`SCM_RIGHTS`) as soon as it is filled. The parent reads it only after the child
//! has exited: a descriptor in flight keeps the launch's tmpfs alive after its mount
//! namespace is gone.
//!
//! Signals: the terminal's (Ctrl-C, Ctrl-Z, a hangup, a resize) reach the whole
//! foreground process group, the tool included, so the parent ignores those; what
//! another process sends to the parent's pid (`kill`, `timeout`) it passes on to the
//! tool. When the tool stops, the parent stops itself with the same signal, so the
//! shell sees the job stop, and continues the tool when it is continued itself. The
//! parent closes its copies of stdin and stdout (a reader sees the end of a pipe when
//! the tool closes it) and keeps stderr for what it has to report.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, SigmaskHow, Signal};
use nix::sys::socket::{AddressFamily, SockFlag, SockType};
use nix::sys::stat::Mode;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::spec::Saved;
use crate::base::error::LaunchError;

/// Signals a process may send to the parent's pid that the tool should get.
const FORWARDED: [Signal; 8] = [
    Signal::SIGHUP,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGTERM,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGALRM,
    Signal::SIGWINCH,
];

/// Stop signals: forwarded when a process sends them, mirrored when the tool stops.
const STOPS: [Signal; 3] = [Signal::SIGTSTP, Signal::SIGTTIN, Signal::SIGTTOU];

/// The tool's pid, for the signal handler; 0 once it is reaped (its pid may be reused).
static CHILD: AtomicI32 = AtomicI32::new(0);

/// The child's end of the launch: where it sends the upper directory.
pub struct Child {
    sock: RawFd,
}

impl Child {
    /// Sends the overlay's upper directory `upper` (a host path in the launch's own
    /// mount namespace) to the parent. Without it nothing could be saved, so failing
    /// to send fails the launch.
    pub fn send_upper(&self, upper: &Path) -> Result<(), LaunchError> {
        let fail = |e: Errno| {
            LaunchError::setup(format!(
                "cannot pass {} to the saving process: {e}",
                upper.display()
            ))
        };
        let dir = nix::fcntl::open(
            upper,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(fail)?;
        pass_fd(self.sock, dir.as_raw_fd()).map_err(fail)?;
        Ok(())
    }
}

/// The child's stack: the launch's setup runs on it (mount options, paths, the exec's
/// search), well within this.
const STACK: usize = 1 << 20;

/// Starts the tool in a child that `clone` creates in new user and mount namespaces
/// ([`userns::FLAGS`]) and that runs `inside` (the rest of the launch, ending in
/// `execve`); this process waits for it, saves `saved` (reporting as `jig: TOOL: ...`)
/// and exits as the child did. Returns only when the launch failed before the tool
/// started, with the child's error; nothing was saved then.
///
/// The child shares this process's memory until it execs (`CLONE_VM | CLONE_VFORK`,
/// as posix_spawn(3) does), which costs neither a copy of the page tables nor the
/// copy-on-write faults a fork costs on both sides (about 0.5 ms per launch, measured
/// in docs/benchmarks.md). That is sound because this process is suspended meanwhile
/// (`CLONE_VFORK`) and single-threaded, and because the child only borrows: what it
/// allocates stays allocated, what it reports it leaves in `failed`, and it ends with
/// the `exit` system call (the clone trampoline's), never running exit handlers or
/// flushing buffers that are this process's too. The namespaces come from `clone`
/// itself, since `unshare(CLONE_NEWUSER)` refuses a process whose memory is shared.
pub fn spawn(
    saved: &[Saved],
    tool: &str,
    inside: &mut dyn FnMut(&Child) -> LaunchError,
) -> LaunchError {
    let (ours, theirs) = match nix::sys::socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    ) {
        Ok(pair) => pair,
        Err(e) => return LaunchError::setup(format!("cannot create a socket pair: {e}")),
    };
    let mut stack = match Stack::new() {
        Ok(s) => s,
        Err(e) => return LaunchError::setup(format!("cannot map a stack for the tool: {e}")),
    };
    // Blocked across the clone, so none arrives before the parent's handlers are in
    // place; each side restores the caller's mask.
    let mut caught = SigSet::empty();
    for s in FORWARDED.iter().chain(&STOPS) {
        caught.add(*s);
    }
    let old = match caught.thread_swap_mask(SigmaskHow::SIG_BLOCK) {
        Ok(old) => old,
        Err(e) => return LaunchError::setup(format!("cannot block signals: {e}")),
    };
    let parent = nix::unistd::getpid();
    let child_end = Child {
        sock: theirs.as_raw_fd(),
    };
    let mut failed: Option<LaunchError> = None;
    let cloned = {
        let failed = &mut failed;
        let child = Box::new(|| -> isize {
            let _ = old.thread_set_mask();
            // The tool dies with the parent, as a native tool killed by its user does.
            // SAFETY: prctl with integer arguments.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
            if nix::unistd::getppid() != parent {
                return 125;
            }
            *failed = Some(inside(&child_end));
            125
        });
        // SAFETY: see the function's docs: this process is single-threaded and
        // suspended until the child execs or exits; the child runs on its own stack,
        // touches only what it borrows and ends with exit(2).
        unsafe {
            nix::sched::clone(
                child,
                stack.as_mut(),
                super::userns::FLAGS | CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK,
                Some(libc::SIGCHLD),
            )
        }
    };
    drop(stack);
    drop(theirs);
    let child = match cloned {
        Ok(child) => child,
        Err(e) => {
            let _ = old.thread_set_mask();
            return super::userns::cannot_create(e);
        }
    };
    if let Some(e) = failed {
        // The child exited before the tool started: reap it and report as a launch
        // that does not save would.
        let _ = nix::sys::wait::waitpid(child, None);
        let _ = old.thread_set_mask();
        return e;
    }
    wait_and_save(child, ours, old, saved, tool)
}

/// An anonymous mapping for the child's stack, with an inaccessible page below it so
/// that an overflow faults instead of writing over other memory.
struct Stack {
    base: std::ptr::NonNull<libc::c_void>,
}

impl Stack {
    const GUARD: usize = 4096;

    fn new() -> Result<Stack, Errno> {
        use nix::sys::mman::{MapFlags, ProtFlags};
        let len = std::num::NonZeroUsize::new(STACK + Self::GUARD).expect("non-zero");
        // SAFETY: a fresh anonymous mapping, owned by the Stack and unmapped on drop.
        let base = unsafe {
            nix::sys::mman::mmap_anonymous(
                None,
                len,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_STACK | MapFlags::MAP_NORESERVE,
            )?
        };
        // SAFETY: the lowest page of the mapping just made.
        if let Err(e) = unsafe { nix::sys::mman::mprotect(base, Self::GUARD, ProtFlags::PROT_NONE) }
        {
            // SAFETY: unmapping what was just mapped.
            let _ = unsafe { nix::sys::mman::munmap(base, STACK + Self::GUARD) };
            return Err(e);
        }
        Ok(Stack { base })
    }

    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: the STACK bytes above the guard page are mapped read-write and owned
        // by this Stack.
        unsafe {
            std::slice::from_raw_parts_mut(self.base.as_ptr().cast::<u8>().add(Self::GUARD), STACK)
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; the child no longer runs on it (it has
        // exec'd or exited when clone returns, CLONE_VFORK).
        let _ = unsafe { nix::sys::mman::munmap(self.base, STACK + Self::GUARD) };
    }
}

/// The parent's part: never returns.
fn wait_and_save(child: Pid, sock: OwnedFd, old: SigSet, saved: &[Saved], tool: &str) -> ! {
    CHILD.store(child.as_raw(), Ordering::Relaxed);
    for s in FORWARDED.iter().chain(&STOPS) {
        handle(*s);
    }
    // A report to a closed pipe must fail, not kill the process before it saves.
    // SAFETY: setting a disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let _ = old.thread_set_mask();
    close_all_but(sock.as_raw_fd());
    let end = wait(child);
    // Nothing to pass on or mirror any more: a report written from a background job
    // stops this process as it would any other (a caught SIGTTOU would make the
    // terminal answer every retry of the write with another one).
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    for s in FORWARDED.iter().chain(&STOPS) {
        // SAFETY: restoring the default action.
        let _ = unsafe { nix::sys::signal::sigaction(*s, &dfl) };
    }
    if let Some(upper) = receive(&sock) {
        for w in super::save::all(&upper, saved) {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "jig: {tool}: {w}");
        }
    }
    finish(end)
}

/// Passes on signals another process sent (`si_code` <= 0: `kill`, `sigqueue`,
/// `tgkill`); the kernel's and the terminal's (`SI_KERNEL`) reached the tool's process
/// group, the tool included.
extern "C" fn forward(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; kill(2) is
    // async-signal-safe.
    unsafe {
        let child = CHILD.load(Ordering::Relaxed);
        if child > 0 && !info.is_null() && (*info).si_code <= 0 {
            libc::kill(child, sig);
        }
    }
}

fn handle(s: Signal) {
    let action = SigAction::new(
        SigHandler::SigAction(forward),
        SaFlags::SA_SIGINFO | SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler only calls kill(2).
    let _ = unsafe { nix::sys::signal::sigaction(s, &action) };
}

/// Closes stdin, stdout and every descriptor above stderr but `keep`.
fn close_all_but(keep: RawFd) {
    // SAFETY: close_range(2) on descriptors this process owns and no longer uses.
    unsafe {
        libc::close(0);
        libc::close(1);
        if keep > 3 {
            libc::syscall(libc::SYS_close_range, 3u32, (keep - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (keep + 1) as u32, u32::MAX, 0u32);
    }
}

/// How the tool ended.
enum End {
    Code(i32),
    Signal(Signal),
}

/// Waits for the tool, stopping and continuing along with it.
fn wait(child: Pid) -> End {
    loop {
        let status = nix::sys::wait::waitpid(child, Some(WaitPidFlag::WUNTRACED));
        if let Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) = status {
            CHILD.store(0, Ordering::Relaxed);
        }
        match status {
            Ok(WaitStatus::Exited(_, code)) => return End::Code(code),
            Ok(WaitStatus::Signaled(_, s, _)) => return End::Signal(s),
            Ok(WaitStatus::Stopped(_, s)) => {
                stop_like(s);
                let _ = nix::sys::signal::kill(child, Signal::SIGCONT);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return End::Code(crate::base::error::EXIT_JIG_FAILED),
        }
    }
}

/// Stops this process with `s`, the signal that stopped the tool, until continued.
fn stop_like(s: Signal) {
    let dfl = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
    // SAFETY: restoring the default action; SIGSTOP has no other.
    if s != Signal::SIGSTOP {
        let _ = unsafe { nix::sys::signal::sigaction(s, &dfl) };
    }
    let _ = nix::sys::signal::raise(s);
    if s != Signal::SIGSTOP {
        handle(s);
    }
}

/// Control-message space for one descriptor, aligned as `cmsghdr` needs (nix's own
/// buffer is a byte vector, which jig's arena allocator need not align).
#[repr(C, align(8))]
struct Cmsg([u8; 32]);

/// Sends the descriptor `fd` over the socket `sock` (`SCM_RIGHTS`, sendmsg(2)).
fn pass_fd(sock: RawFd, fd: RawFd) -> Result<(), Errno> {
    let mut byte = *b"u";
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = Cmsg([0; 32]);
    // SAFETY: the header and control buffer are valid and sized by CMSG_SPACE; the
    // CMSG_* macros stay inside it.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.0.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<RawFd>() as u32) as _;
        let c = libc::CMSG_FIRSTHDR(&msg);
        (*c).cmsg_level = libc::SOL_SOCKET;
        (*c).cmsg_type = libc::SCM_RIGHTS;
        (*c).cmsg_len = libc::CMSG_LEN(size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        if libc::sendmsg(sock, &msg, 0) < 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

/// The upper directory the child sent, if it got that far.
fn receive(sock: &OwnedFd) -> Option<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut space = Cmsg([0; 32]);
    // SAFETY: as in `pass_fd`; the kernel fills at most msg_controllen bytes, and a
    // descriptor it installed is ours to own.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = space.0.as_mut_ptr().cast();
        msg.msg_controllen = space.0.len() as _;
        let flags = libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC;
        if libc::recvmsg(sock.as_raw_fd(), &mut msg, flags) < 1 {
            return None;
        }
        let c = libc::CMSG_FIRSTHDR(&msg);
        if c.is_null() || (*c).cmsg_level != libc::SOL_SOCKET || (*c).cmsg_type != libc::SCM_RIGHTS
        {
            return None;
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>());
        Some(OwnedFd::from_raw_fd(fd))
    }
}

/// Ends this process as the tool ended.
fn finish(end: End) -> ! {
    match end {
        End::Code(code) => std::process::exit(code),
        End::Signal(s) => {
            // The tool wrote its core dump already, if it made one.
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: setrlimit with a valid struct; the default action, then the
            // signal, unblocked, ends the process.
            unsafe {
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                libc::signal(s as libc::c_int, libc::SIG_DFL);
            }
            let mut set = SigSet::empty();
            set.add(s);
            let _ = set.thread_unblock();
            let _ = nix::sys::signal::raise(s);
            std::process::exit(128 + s as i32)
        }
    }
}
