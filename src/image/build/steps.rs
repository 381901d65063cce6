//! Image builds: recipe `run` steps executed inside jig's runtime as fake root.
//!
//! Each step starts from a stored image, runs `/bin/sh -c STEP` in a read-write copy of
//! it and stores the result as a new image. Results are cached under the key
//! sha256(previous image id, step text), so editing one step rebuilds from that step
//! on and an unchanged recipe costs nothing.
//!
//! A step runs in a forked child (the CLI may have done network I/O before; the child
//! is single-threaded by construction, as `unshare(CLONE_NEWUSER)` requires). The
//! child starts a session of its own, maps the caller to uid 0, mounts a minimal /dev,
//! binds /proc and the host's resolv.conf, makes the rootfs the namespace's root with
//! the host's tree detached, installs the terminal and fake-root seccomp filters
//! ([`crate::runtime::fakeroot`]) and the Landlock scopes, and execs the shell (see
//! [`child`]). The network is shared. Output goes to the build's log and display
//! ([`progress::output`]: on stderr only with `-v`); on failure the error names the
//! step, its first error line and the log (or repeats its last lines).

use std::ffi::CString;
use std::fs::{self, File};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, Result, bail};
use nix::sys::wait::WaitStatus;
use nix::unistd::{ForkResult, fork};

use crate::base::digest::sha256_hex;
use crate::image::build::output;
use crate::image::source::progress;
use crate::image::store::files::clone_tree;
use crate::image::store::{Image, ImageMeta, Store, flight};
use crate::runtime::spec::{Bind, Node};
use crate::runtime::{exec, fakeroot, mount, userns};

/// Tools that honour it (shadow's pwconv, Python's byte-compiler, ...) write this time
/// instead of the clock's, so the same inputs build the same tree on any day and any
/// machine. The value is arbitrary but fixed: 2023-11-14T22:13:20Z.
const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH=1700000000";

/// Runs `steps` on top of `base`, reusing cached results. Returns the final image.
pub fn run_steps(store: &Store, base: Image, steps: &[String]) -> Result<Image> {
    let mut image = base;
    for (i, step) in steps.iter().enumerate() {
        let key = sha256_hex(format!("jig-build-v1\0run\0{}\0{step}", image.id).as_bytes());
        if let Some(cached) = store.cached_build(&key)? {
            progress::phase(&format!(
                "step {} of {} cached: {}",
                i + 1,
                steps.len(),
                one_line(step)
            ));
            image = cached;
            continue;
        }
        // One build of a step at a time; who waited finds it built.
        let flight = flight::take(&store.locks_dir(), &key, &format!("step {}", i + 1))?;
        if flight.waited
            && let Some(cached) = store.cached_build(&key)?
        {
            image = cached;
            continue;
        }
        progress::phase(&format!(
            "running step {} of {}: {}",
            i + 1,
            steps.len(),
            one_line(step)
        ));
        let temp = store.temp_image()?;
        // A copy (times kept, so unchanged files are shared again at commit).
        clone_tree(&store.rootfs_of(&image.id), &temp.rootfs())?;
        run_in(&temp.rootfs(), step, &[])
            .with_context(|| format!("build step {} failed: {}", i + 1, one_line(step)))?;
        let meta = ImageMeta {
            source: format!("{} + run[{}]", image.meta.source, i),
            ..image.meta.clone()
        };
        let next = store.commit(temp, meta)?;
        store.remember_build(&key, &next.id)?;
        image = next;
    }
    Ok(image)
}

fn one_line(step: &str) -> String {
    let first = step.lines().next().unwrap_or_default();
    if first.len() < step.trim_end().len() {
        format!("{first} ...")
    } else {
        first.to_owned()
    }
}

/// Runs `/bin/sh -c script` inside `rootfs` (modified in place) as fake root, with
/// `extra` binds on top of /proc, a minimal /dev and /etc/resolv.conf.
pub fn run_in(rootfs: &Path, script: &str, extra: &[Bind]) -> Result<()> {
    let mut env: Vec<String> = [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME=/root",
        "USER=root",
        "LOGNAME=root",
        "LC_ALL=C.UTF-8",
        "DEBIAN_FRONTEND=noninteractive",
        "DEBCONF_NONINTERACTIVE_SEEN=true",
        SOURCE_DATE_EPOCH,
    ]
    .map(String::from)
    .to_vec();
    if let Ok(term) = std::env::var("TERM") {
        env.push(format!("TERM={term}"));
    }
    let argv = ["/bin/sh".to_owned(), "-c".to_owned(), script.to_owned()];
    let cmd = Command {
        argv: &argv,
        env: &env,
        cwd: "/",
    };
    run_command(rootfs, &cmd, extra)
}

/// What a build step executes: `argv` (`argv[0]` searched in the `PATH` of `env`
/// unless it holds a `/`), with exactly `env`, in `cwd` (a directory of the image).
pub struct Command<'a> {
    /// The program and its arguments.
    pub argv: &'a [String],
    /// `NAME=VALUE` entries: the whole environment.
    pub env: &'a [String],
    /// The working directory inside the image; it must exist.
    pub cwd: &'a str,
}

/// The fixed `SOURCE_DATE_EPOCH=...` entry every build step gets by default.
pub fn source_date_epoch() -> &'static str {
    SOURCE_DATE_EPOCH
}

/// Runs `cmd` inside `rootfs` (modified in place) as fake root, with `extra` binds on
/// top of /proc, a minimal /dev and /etc/resolv.conf.
pub fn run_command(rootfs: &Path, cmd: &Command, extra: &[Bind]) -> Result<()> {
    let filters = fakeroot::filters().map_err(anyhow::Error::msg)?;
    // /proc and /dev must be directories to mount on; images made by other tools
    // sometimes have symlinks there (debootstrap's first stage leaves /proc -> /proc).
    for d in ["proc", "dev"] {
        let p = rootfs.join(d);
        match fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                fs::remove_file(&p).with_context(|| format!("replacing {}", p.display()))?;
                fs::create_dir(&p)?;
            }
            Err(_) => fs::create_dir(&p).with_context(|| format!("creating {}", p.display()))?,
        }
    }
    let mut binds = vec![Bind {
        src: "/proc".into(),
        dst: "/proc".into(),
        node: Node::Dir,
        readonly: false,
    }];
    // The host's resolver config, unless the image has a symlink there (it would be
    // resolved inside the image and may lead nowhere).
    let image_resolv = fs::symlink_metadata(rootfs.join("etc/resolv.conf"));
    if Path::new("/etc/resolv.conf").exists() && !image_resolv.is_ok_and(|m| m.is_symlink()) {
        binds.push(Bind {
            src: "/etc/resolv.conf".into(),
            dst: "/etc/resolv.conf".into(),
            node: Node::File,
            readonly: true,
        });
    }
    binds.extend_from_slice(extra);
    let cstrings = |v: &[String]| -> Result<Vec<CString>> {
        v.iter()
            .map(|s| CString::new(s.as_str()).context("the step contains a NUL byte"))
            .collect()
    };
    let argv = cstrings(cmd.argv)?;
    let env = cstrings(cmd.env)?;
    let Some(program) = cmd.argv.first() else {
        bail!("the step names no program");
    };
    // execve(2) takes a path: argv[0] as given, or each PATH entry of the step's own
    // environment in turn (execvp would search jig's PATH instead).
    let candidates: Vec<CString> = if program.contains('/') {
        vec![CString::new(program.as_str())?]
    } else {
        let path = cmd
            .env
            .iter()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(crate::image::store::DEFAULT_PATH);
        path.split(':')
            .filter(|d| !d.is_empty())
            .filter_map(|d| CString::new(format!("{}/{program}", d.trim_end_matches('/'))).ok())
            .collect()
    };
    let cwd = CString::new(cmd.cwd).context("the working directory contains a NUL byte")?;
    let (read, write) = nix::unistd::pipe().context("pipe")?;
    let devnull = File::open("/dev/null").context("opening /dev/null")?;
    let parent = nix::unistd::getpid().as_raw();

    // SAFETY: the child only makes syscalls, allocates (jig has no other threads, so
    // no lock can be held by a thread that does not exist in the child) and exits.
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            drop(read);
            let exec = Exec {
                candidates: &candidates,
                argv: &argv,
                env: &env,
                cwd: &cwd,
            };
            // A session of its own, this process staying behind as its supervisor,
            // which kills the whole process group (dpkg and its scripts too) when jig
            // dies ([`crate::base::child::supervise_session`]); a grandchild goes on.
            let code = match crate::base::child::supervise_session(parent) {
                Ok(()) => child(rootfs, &binds, &filters, &exec, &write, &devnull),
                Err(e) => {
                    eprintln!("jig: cannot start a session for the build step: {e}");
                    125
                }
            };
            // SAFETY: leave without running the parent's exit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(write);
            let out = output::stream(read, child);
            match output::wait(child)? {
                WaitStatus::Exited(_, 0) => {}
                status => {
                    let why = match status {
                        WaitStatus::Exited(_, c) => format!("exit status {c}"),
                        WaitStatus::Signaled(_, s, _) => format!("killed by {s}"),
                        other => format!("{other:?}"),
                    };
                    bail!("{why}{}", out.report());
                }
            }
            make_owner_accessible(rootfs)
        }
    }
}

/// What the child executes, prepared before the fork.
struct Exec<'a> {
    /// Paths to try for argv[0], in order.
    candidates: &'a [CString],
    argv: &'a [CString],
    env: &'a [CString],
    cwd: &'a CString,
}

/// The forked child: namespaces, mounts, filters, exec. Returns an exit code on
/// failure.
///
/// The step runs as root with every capability in its user namespace, so what it can
/// reach is decided here, in this order:
/// 1. (before this function) `setsid`: a session of its own, without a controlling
///    terminal, so it can reach no terminal of the user (stdin is /dev/null, stdout
///    and stderr the log pipe), supervised so that it dies with jig.
/// 2. The namespaces, the caller mapped to uid 0.
/// 3. The image's tree as the root, a minimal /dev (not the host's), /proc, the binds.
/// 4. `pivot_root` and a detach of the host's tree: nothing of it is left in the
///    namespace to unmount one's way back to.
/// 5. no_new_privs, the terminal filter, the fake-root filters (which also refuse the
///    mount API, setns and new namespaces) and the Landlock scopes (no signals or
///    abstract sockets outside the step).
fn child(
    rootfs: &Path,
    binds: &[Bind],
    filters: &fakeroot::Filters,
    exec: &Exec,
    out: &OwnedFd,
    devnull: &File,
) -> i32 {
    // Output of the step (and of our own errors) goes to the pipe; stdin is empty so a
    // step that asks a question fails instead of hanging.
    // SAFETY: dup2 on fds we own.
    unsafe {
        libc::dup2(devnull.as_raw_fd(), 0);
        libc::dup2(out.as_raw_fd(), 1);
        libc::dup2(out.as_raw_fd(), 2);
    }
    let fail = |msg: String| {
        eprintln!("jig: {msg}");
        125
    };
    let failed = |e: crate::base::error::LaunchError| {
        eprint!(
            "{}",
            crate::base::error::render("jig", crate::base::error::Level::Error, &e.error)
        );
        125
    };
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    if let Err(e) = userns::enter_as(0, 0, uid, gid) {
        return failed(e);
    }
    let mut root = match mount::Root::at(rootfs) {
        Ok(r) => r,
        Err(e) => return failed(e),
    };
    if let Err(e) = mount::minimal_dev(&mut root, crate::runtime::spec::DEVICES) {
        return failed(e);
    }
    for b in binds {
        if let Err(e) = mount::bind(&mut root, b) {
            return failed(e);
        }
    }
    if let Err(e) = mount::pivot_detach(root) {
        return failed(e);
    }
    let confine = crate::runtime::spec::Confine {
        drop_caps: Vec::new(),
        scope_signals: true,
        scope_abstract_sockets: true,
    };
    if let Err(e) = exec::confine_self(&confine) {
        return failed(e);
    }
    // chdir(2) after the pivot: the directory is looked up in the image's tree only.
    if let Err(e) = nix::unistd::chdir(exec.cwd.as_c_str()) {
        return fail(format!(
            "cannot enter {} in the image: {e}",
            exec.cwd.to_string_lossy()
        ));
    }
    if let Err(e) = fakeroot::apply(filters) {
        return fail(e);
    }
    let mut last = nix::errno::Errno::ENOENT;
    for path in exec.candidates {
        let e = nix::unistd::execve(path, exec.argv, exec.env).unwrap_err();
        // Not there (or not a directory on the way): the next PATH entry; anything
        // else (not executable, a bad interpreter) is the answer.
        if !matches!(e, nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR) {
            last = e;
            break;
        }
    }
    let program = exec.argv.first().map(|a| a.to_string_lossy().into_owned());
    fail(format!(
        "cannot run {} in the image: {last}",
        program.unwrap_or_default()
    ))
}

/// After a step: every file readable and writable by its owner, every directory
/// traversable, so jig can hash, copy and delete what the step made (a package may
/// install e.g. a mode-0000 file).
fn make_owner_accessible(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path)?;
        let mode = meta.mode() & 0o7777;
        if meta.is_dir() {
            if mode & 0o700 != 0o700 {
                fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o700))?;
            }
            make_owner_accessible(&path)?;
        } else if meta.is_file() && mode & 0o600 != 0o600 {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode | 0o600))?;
        }
    }
    Ok(())
}
