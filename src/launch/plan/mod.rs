//! The planner: the facts of one launch ([`super::facts`]) become its [`Plan`] (the
//! contract the runtime applies, [`crate::runtime::spec`]), with no I/O. Each concern
//! has its module, in the order a plan is put together:
//!
//! - [`mountpoints`]: the skeleton every container has (/proc, /dev, /tmp) and,
//!   after the image was probed, the mountpoints of the binds in the upper layer;
//! - [`identity`]: the caller as a user of the image (passwd, group, shell);
//! - [`binds`]: the host paths that come in, shallow to deep;
//! - [`env`]: the environment and the command.
//!
//! Generated files go into the overlay's upper layer before anything is mounted.
//! Binds run in order and their targets are paths inside the container: system binds
//! (/proc, /dev) first, then host paths from shallow to deep, so no mountpoint ever has
//! to be created inside a directory bound from the host (that would create it there).

pub mod binds;
pub mod env;
pub mod git;
pub mod gpg;
pub mod identity;
pub mod mountpoints;
pub mod staged;
#[cfg(test)]
mod testing;

use std::ffi::OsString;
use std::fmt::Write as _;

use super::display;
use super::facts::{Command, Facts, Target};
use super::workspace::Workspace;
use crate::runtime::spec::{Confine, Plan};

/// A planned launch: the plan, and what the planner decided on the way, for the user.
#[derive(Debug, Clone)]
pub struct Launch {
    /// What the runtime applies.
    pub plan: Plan,
    /// The workspace mounted read-write around the cwd.
    pub workspace: Workspace,
    /// Paths that would have come in but are not mounted, with the reason (printed as
    /// `jig: NAME: not mounting WHAT: REASON`).
    pub skipped: Vec<(OsString, String)>,
}

/// Plans launching `cmd` for `target` on `facts`.
pub fn build(target: &Target, facts: &Facts, cmd: Command) -> Launch {
    let host = &facts.host;
    let recipe = target.recipe;
    let shell = identity::shell(&facts.embedded);
    let mut layer = mountpoints::skeleton(host);
    layer
        .files
        .extend(identity::files(&facts.embedded, host, &shell));
    // The host's local time, copied (see `localtime`).
    let (zone_files, zone_links) = facts.localtime.layer();
    layer.files.extend(zone_files);
    layer.links.extend(zone_links);
    let session = session(target, facts);
    layer.files.extend(session.files);
    layer
        .dirs
        .extend(session.dirs.into_iter().map(|d| (d, 0o700)));
    let staged = staged::plan(recipe, facts);
    layer.dirs.extend(staged.dirs);
    layer.files.extend(staged.files);
    // Host paths beyond the recipe's own list, bound with the display's.
    let mut extra = session.binds;
    let git = git::plan(target, facts);
    let gpg = gpg::plan(facts, &target.jig_dirs);
    extra.extend(git.binds);
    extra.extend(gpg.binds);
    layer.dirs.extend(gpg.dirs);
    layer.files.extend(gpg.files);
    let mut binds = binds::plan(target, facts, extra);
    binds.binds.extend(gpg.sockets);
    binds.skipped.extend(git.skipped);
    binds.skipped.extend(gpg.skipped);
    let mut vars = session.env;
    vars.extend(binds.env);
    vars.extend(gpg.env);
    let exec = env::exec(target, facts, &shell, &vars, cmd);
    Launch {
        plan: Plan {
            uid: host.uid,
            gid: host.gid,
            lower: target.lower.clone(),
            scratch: target.scratch.clone(),
            files: layer.files,
            dirs: layer.dirs,
            links: layer.links,
            devpts: Some("/dev/pts".into()),
            binds: binds.binds,
            saved: staged.saved,
            confine: confine(host.uid, recipe.x11),
            cwd: host.cwd.clone(),
            exec,
        },
        workspace: facts.workspace.clone(),
        skipped: binds.skipped,
    }
}

/// The graphical session a recipe asks for (`x11`, `wayland`).
fn session(target: &Target, facts: &Facts) -> display::Session {
    let (recipe, host) = (target.recipe, &facts.host);
    let mut out = display::Session::default();
    for s in [
        recipe.x11.then(|| {
            display::x11(
                host,
                facts.embedded.xauthority.as_deref(),
                facts.display.x11_sockets,
            )
        }),
        recipe
            .wayland
            .then(|| display::wayland(host, facts.display.wayland_socket)),
    ]
    .into_iter()
    .flatten()
    {
        out.binds.extend(s.binds);
        out.files.extend(s.files);
        out.dirs.extend(s.dirs);
        out.env.extend(s.env);
    }
    out
}

/// `CAP_SYS_ADMIN` and `CAP_SYS_CHROOT` (linux/capability.h): the capabilities behind
/// mount, umount2, pivot_root and setns(CLONE_NEWNS).
pub const ROOT_DROPPED_CAPS: [u32; 2] = [21, 18];

/// The confinement of a launch for `uid` (the caller's uid, which the tool keeps): a
/// uid-0 tool keeps its bounding set across `execve`, so it loses the capabilities
/// that could undo its mounts. An X11 tool keeps abstract sockets: libxcb connects to
/// the X server's abstract socket first and gives up, without trying the bound socket
/// path, when that fails with anything but "not there".
pub fn confine(uid: u32, x11: bool) -> Confine {
    Confine {
        drop_caps: if uid == 0 {
            ROOT_DROPPED_CAPS.to_vec()
        } else {
            Vec::new()
        },
        scope_signals: true,
        scope_abstract_sockets: !x11,
    }
}

impl Launch {
    /// A readable rendering of the launch (`JIG_DEBUG=1`, `--dry-run`).
    pub fn describe(&self) -> String {
        let mut s = self.plan.describe();
        let _ = writeln!(s, "workspace: {}", self.workspace);
        for (what, why) in &self.skipped {
            let _ = writeln!(s, "skipped  {}: {why}", what.to_string_lossy());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::testing::*;
    use super::*;

    #[test]
    fn root_drops_mount_capabilities_and_x11_keeps_abstract_sockets() {
        let user = confine(1000, false);
        assert!(user.drop_caps.is_empty());
        assert!(user.scope_signals && user.scope_abstract_sockets);
        let root = confine(0, false);
        assert_eq!(root.drop_caps, [21, 18]);
        let x11 = confine(1000, true);
        assert!(x11.scope_signals && !x11.scope_abstract_sockets);
    }

    #[test]
    fn a_plan_puts_the_pieces_together_in_order() {
        let r = recipe();
        let launch = build(&target(&r, None), &facts("/home/alice", "/w/p"), cmd());
        let plan = &launch.plan;
        assert_eq!((plan.uid, plan.gid), (1234, 1235));
        assert!(
            plan.files
                .iter()
                .any(|f| f.dst.to_str() == Some("/etc/passwd"))
        );
        assert_eq!(
            plan.devpts.as_deref(),
            Some(std::path::Path::new("/dev/pts"))
        );
        assert_eq!(plan.cwd.to_str(), Some("/w/p"));
        let text = launch.describe();
        assert!(text.contains("workspace: /w/p"), "{text}");
        assert!(text.contains("devpts   /dev/pts"), "{text}");
    }
}
