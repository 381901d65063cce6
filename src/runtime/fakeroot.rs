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

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};

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

/// Compiles the filter for the running architecture.
pub fn filter() -> Result<BpfProgram, String> {
    let arch = if cfg!(target_arch = "x86_64") {
        TargetArch::x86_64
    } else if cfg!(target_arch = "aarch64") {
        TargetArch::aarch64
    } else {
        return Err("fake-root builds are supported on x86_64 and aarch64 only".into());
    };
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> = faked_syscalls()
        .into_iter()
        .map(|s| (s, Vec::new()))
        .collect();
    let filter = SeccompFilter::new(rules, SeccompAction::Allow, SeccompAction::Errno(0), arch)
        .map_err(|e| format!("cannot build the seccomp filter: {e}"))?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| format!("cannot compile the seccomp filter: {e}"))
}

/// Installs the filter on the calling thread (it also sets no_new_privs).
pub fn apply(prog: &BpfProgram) -> Result<(), String> {
    seccompiler::apply_filter(prog).map_err(|e| format!("cannot install the seccomp filter: {e}"))
}
