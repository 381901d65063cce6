//! Landlock scopes: the tool's process and everything it starts form a Landlock domain
//! that may not signal processes outside it and may not connect to abstract unix
//! sockets created outside it (Landlock ABI 6, Linux 6.12).
//!
//! Without them a tool could `kill` every process of the user (the editor, the shell)
//! and talk to every abstract socket on the host (an X server's `@/tmp/.X11-unix/X0`,
//! a listener of the user's): a user namespace separates neither, and jig keeps the
//! host's pid and network namespaces so the tool stays an ordinary process. The tool's
//! own children are inside the domain and stay signalable; signals *to* the tool (the
//! shell's job control, Ctrl-C from the terminal) are not affected.
//!
//! The domain is made right before `execve` (it survives exec) and stacks: a nested
//! launch makes a domain inside the enclosing one. No file-system rights are handled:
//! a Landlock domain that handles any forbids mount(2) in every namespace, which a
//! nested launch needs to build its own root.

use landlock::{
    CompatLevel, Compatible, Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

/// What the kernel enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enforced {
    /// Every scope asked for.
    Fully,
    /// Landlock is missing, disabled, or older than ABI 6: nothing.
    No,
}

/// Restricts the calling thread (and its future children) to the scopes asked for.
/// no_new_privs must be set already ([`super::exec`] does).
pub fn restrict(signals: bool, abstract_sockets: bool) -> Result<Enforced, String> {
    let mut scopes = landlock::BitFlags::<Scope>::empty();
    if signals {
        scopes |= Scope::Signal;
    }
    if abstract_sockets {
        scopes |= Scope::AbstractUnixSocket;
    }
    if scopes.is_empty() {
        return Ok(Enforced::Fully);
    }
    let status = Ruleset::default()
        // Best effort: an older kernel gets the tool unscoped (`jig doctor` and `jig
        // which` say so), never a launch that fails.
        .set_compatibility(CompatLevel::BestEffort)
        .scope(scopes)
        .and_then(|r| r.create())
        .and_then(|r| r.no_new_privs(false).restrict_self())
        .map_err(|e| format!("cannot restrict the tool with Landlock: {e}"))?;
    Ok(match status.ruleset {
        RulesetStatus::FullyEnforced => Enforced::Fully,
        RulesetStatus::PartiallyEnforced | RulesetStatus::NotEnforced => Enforced::No,
    })
}

/// The Landlock ABI version of the running kernel (0: none), for `jig doctor` and
/// `jig which`.
pub fn abi() -> i32 {
    // SAFETY: landlock_create_ruleset(2) with LANDLOCK_CREATE_RULESET_VERSION and no
    // attributes only returns the version.
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    i32::try_from(v).unwrap_or(0).max(0)
}

/// The first ABI with both scopes.
pub const SCOPES_ABI: i32 = 6;

/// What a launch contains on this kernel, in a line (`jig which`).
pub fn containment() -> String {
    let abi = abi();
    if abi >= SCOPES_ABI {
        format!(
            "files outside the workspace and declared mounts, other terminals, terminal \
             input (TIOCSTI), signals and abstract sockets outside the container (Landlock ABI {abi})"
        )
    } else {
        format!(
            "files outside the workspace and declared mounts, other terminals, terminal \
             input (TIOCSTI); NOT signals to your other processes nor abstract unix sockets: \
             that needs Landlock ABI {SCOPES_ABI} (Linux 6.12), this kernel has {}",
            if abi == 0 {
                "none".to_owned()
            } else {
                format!("ABI {abi}")
            }
        )
    }
}
