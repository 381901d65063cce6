//! The executor: applies a [`Plan`] to the current process and execs the tool in place.
//!
//! This is the whole container runtime. There is no daemon, no helper process and no
//! fork on the default path: the calling process itself enters a user and mount
//! namespace, builds the root, pivots into it and calls `execve`. (A plan that saves
//! home files starts the tool in a child instead, [`supervise`], and jig waits to
//! save what it left, [`save`].) The tool therefore
//! keeps jig's pid, its parent (the user's shell), its process group, its controlling
//! terminal and fds 0–2, so job control, Ctrl-C/Ctrl-Z, pipes and exit statuses are
//! exactly those of a native binary.
//!
//! The sequence, each step in its own module:
//! 1. [`userns::enter`]: `unshare(CLONE_NEWUSER | CLONE_NEWNS)`, map uid/gid to themselves
//!    (a launch that saves home files: [`supervise::spawn`] clones a child into the
//!    namespaces, which maps its ids and goes on with step 2).
//! 2. [`mount::root`]: scratch tmpfs; the skeleton (mountpoints, /tmp, /dev links) and
//!    generated files (passwd, group, resolv.conf, hosts) in its upper directory; the
//!    overlay of the image under it.
//! 3. [`mount::devpts`]: the launch's own /dev/pts.
//! 4. [`mount::bind`] for every bind of the plan: /proc, /dev nodes, cwd, home paths.
//! 5. [`mount::pivot`]: move the new root over `/` and chroot into it.
//! 6. [`exec::exec`]: `PR_SET_NO_NEW_PRIVS`, the bounding set of a root tool, the
//!    terminal filter ([`seccomp`]), the Landlock scopes ([`landlock`]), search PATH,
//!    `execve`.
//!
//! The process must be single-threaded at step 1 (the kernel refuses `CLONE_NEWUSER`
//! otherwise), so nothing before a launch may leave a thread running.

pub mod exec;
pub mod fakeroot;
pub mod landlock;
pub mod mount;
pub mod readonly;
pub mod save;
pub mod seccomp;
pub mod spec;
pub mod supervise;
pub mod userns;

use spec::Plan;

use crate::base::error::LaunchError;

/// Applies `plan` and executes the tool. Returns only if something failed; the
/// process is then inside its namespaces and should just report and exit.
pub fn launch(plan: &Plan) -> LaunchError {
    // Build argv/envp before entering the namespaces so a bad byte (NUL) is reported
    // as a jig error rather than half-way through the setup.
    let prepared = match exec::Prepared::new(&plan.exec) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if plan.saved.is_empty() {
        if let Err(e) = userns::enter(plan.uid, plan.gid) {
            return e;
        }
        return inside(plan, &prepared, None);
    }
    let tool = plan.exec.argv.first().map(std::path::Path::new);
    let tool = tool
        .and_then(|t| t.file_name())
        .map(|t| t.to_string_lossy().into_owned())
        .unwrap_or_default();
    // The child is cloned into the namespaces: only the id maps are left to write.
    supervise::spawn(&plan.saved, &tool, &mut |saver| {
        if let Err(e) = userns::map(plan.uid, plan.gid, plan.uid, plan.gid) {
            return e;
        }
        inside(plan, &prepared, Some(saver))
    })
}

/// Steps 2 to 6, in the new namespaces; `saver` is where a launch that saves home
/// files sends its upper directory.
fn inside(plan: &Plan, prepared: &exec::Prepared, saver: Option<&supervise::Child>) -> LaunchError {
    let upper = mount::Upper {
        dirs: &plan.dirs,
        files: &plan.files,
        links: &plan.links,
    };
    let mut root = match mount::root(&plan.lower, &plan.scratch, &upper) {
        Ok(r) => r,
        Err(e) => return e,
    };
    if let Some(saver) = saver
        && let Err(e) = saver.send_upper(&plan.scratch.join("upper"))
    {
        return e;
    }
    if let Some(pts) = &plan.devpts
        && let Err(e) = mount::devpts(&mut root, pts)
    {
        return e;
    }
    for b in &plan.binds {
        if let Err(e) = mount::bind(&mut root, b) {
            return e;
        }
    }
    if let Err(e) = mount::pivot(root, &plan.cwd) {
        return e;
    }
    exec::exec(prepared, &plan.confine)
}
