//! Fake root for image builds: a seccomp filter that makes ownership and identity
//! changes succeed without acting.
//!
//! Builds run as uid 0 inside a user namespace that maps only that one id (the
//! caller's). Package managers then try to `chown` files to `_apt`, `man` or `root:shadow`
//! and to drop privileges with `setgroups`/`setresuid`; the kernel refuses those ids
//! (EINVAL: unmapped), and dpkg and apt abort. This filter answers 0 for those calls
//! instead, so files simply stay owned by the caller (who is root inside) — the same
//! trade charliecloud's `--seccomp` mode makes. `mknod` also "succeeds" and creates
//! nothing: images get their devices from the runtime at launch.
//!
//! The alternative, a subordinate id range through the setuid `newuidmap`, keeps real
//! owners but needs /etc/subuid entries that many machines do not have; jig images are
//! run by one user anyway, so owners would be squashed at launch.
//!
//! The filter also turns the `fsync` family into no-ops: a build writes into a temp
//! directory that is thrown away unless the build completes, and the store makes the
//! finished image durable as a whole (`rename`), so per-file syncs only cost time.
//!
//! A second filter refuses what a build step, root with every capability in the
//! build's user namespace, could use to reach past its root: the whole mount API
//! (`mount`, `umount2`, `pivot_root`, `move_mount`, `open_tree`, `fsopen`, `fsmount`,
//! `fsconfig`, `fspick`, `mount_setattr`) and `setns`, plus `unshare`/`clone` with
//! namespace flags (EPERM), and `clone3`, whose flags a filter cannot read (ENOSYS,
//! which makes glibc fall back to `clone`). The host's tree is detached from the
//! build's namespace anyway ([`super::mount::pivot_detach`]); this second wall also
//! keeps the step from unmounting or remounting what jig bound in (the read-only
//! package cache, resolv.conf). dpkg, apt and the maintainer scripts of the images
//! jig builds need none of these calls.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// System calls turned into successful no-ops.
fn faked_syscalls() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_fchown,
        libc::SYS_fchownat,
        libc::SYS_setuid,
        libc::SYS_setgid,
        libc::SYS_setreuid,
        libc::SYS_setregid,
        libc::SYS_setresuid,
        libc::SYS_setresgid,
        libc::SYS_setgroups,
        libc::SYS_setfsuid,
        libc::SYS_setfsgid,
        libc::SYS_mknodat,
        // A build's output is discarded if the build does not finish, so durability
        // inside it buys nothing; dpkg alone fsyncs its database after every package.
        libc::SYS_fsync,
        libc::SYS_fdatasync,
        libc::SYS_sync,
        libc::SYS_syncfs,
        libc::SYS_sync_file_range,
    ];
    // The legacy variants exist only on some architectures.
    #[cfg(target_arch = "x86_64")]
    v.extend([libc::SYS_chown, libc::SYS_lchown, libc::SYS_mknod]);
    v
}

/// System calls refused outright (EPERM).
fn refused_syscalls() -> Vec<i64> {
    let mut v = vec![
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_fsopen,
        libc::SYS_fsmount,
        libc::SYS_fsconfig,
        libc::SYS_fspick,
        libc::SYS_mount_setattr,
        libc::SYS_setns,
    ];
    // open_tree_attr (Linux 6.15) is not named by the libc crate yet.
    v.push(467);
    v
}

/// The `CLONE_NEW*` flags (linux/sched.h).
const NAMESPACE_FLAGS: [u64; 8] = [
    0x0002_0000, // CLONE_NEWNS
    0x0200_0000, // CLONE_NEWCGROUP
    0x0400_0000, // CLONE_NEWUTS
    0x0800_0000, // CLONE_NEWIPC
    0x1000_0000, // CLONE_NEWUSER
    0x2000_0000, // CLONE_NEWPID
    0x4000_0000, // CLONE_NEWNET
    0x0000_0080, // CLONE_NEWTIME
];

/// The three filters of a build step, to install in this order: fake root (Errno 0),
/// refusals (EPERM), `clone3` (ENOSYS).
pub struct Filters(Vec<BpfProgram>);

/// Compiles the filters for the running architecture.
pub fn filters() -> Result<Filters, String> {
    let arch = if cfg!(target_arch = "x86_64") {
        TargetArch::x86_64
    } else if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else {
        return Err("fake-root builds are supported on x86_64 and aarch64 only".into());
    };
    let compile = |rules: BTreeMap<i64, Vec<SeccompRule>>, action| -> Result<BpfProgram, String> {
        SeccompFilter::new(rules, SeccompAction::Allow, action, arch)
            .map_err(|e| format!("cannot build the seccomp filter: {e}"))?
            .try_into()
            .map_err(|e: seccompiler::BackendError| {
                format!("cannot compile the seccomp filter: {e}")
            })
    };
    let plain = |calls: Vec<i64>| calls.into_iter().map(|s| (s, Vec::new())).collect();
    let mut refused: BTreeMap<i64, Vec<SeccompRule>> = plain(refused_syscalls());
    // unshare(flags) and clone(flags, ...): the flags are the first argument on both
    // architectures. One rule per flag: the call is refused when any is set.
    let with_namespace_flag = || -> Result<Vec<SeccompRule>, String> {
        NAMESPACE_FLAGS
            .iter()
            .map(|&f| {
                SeccompCondition::new(0, SeccompCmpArgLen::Qword, SeccompCmpOp::MaskedEq(f), f)
                    .and_then(|c| SeccompRule::new(vec![c]))
                    .map_err(|e| format!("cannot build the seccomp filter: {e}"))
            })
            .collect()
    };
    refused.insert(libc::SYS_unshare, with_namespace_flag()?);
    refused.insert(libc::SYS_clone, with_namespace_flag()?);
    Ok(Filters(vec![
        compile(plain(faked_syscalls()), SeccompAction::Errno(0))?,
        compile(refused, SeccompAction::Errno(libc::EPERM as u32))?,
        compile(
            plain(vec![libc::SYS_clone3]),
            SeccompAction::Errno(libc::ENOSYS as u32),
        )?,
    ]))
}

/// Installs the filters on the calling thread (no_new_privs must be set).
pub fn apply(f: &Filters) -> Result<(), String> {
    for prog in &f.0 {
        seccompiler::apply_filter(prog)
            .map_err(|e| format!("cannot install the seccomp filter: {e}"))?;
    }
    Ok(())
}
