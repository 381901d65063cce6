//! The terminal filter: a seccomp program every launch and every build installs, which
//! fails `ioctl(fd, TIOCSTI, ...)` and `ioctl(fd, TIOCLINUX, ...)` with EPERM.
//!
//! TIOCSTI pushes a byte into a terminal's input queue as if the user had typed it: a
//! tool that does it on the user's terminal gets a command of its choice run by the
//! user's shell right after it exits (CVE-2017-5226 in bubblewrap). TIOCLINUX can do the
//! same on a virtual console (paste the selection). Both are refused; every other
//! ioctl, and so job control, window sizes and terminal modes, is untouched. The kernel
//! setting `dev.tty.legacy_tiocsti = 0` (Linux 6.2+) would close TIOCSTI for the whole
//! system; most distributions still ship 1, so jig does not rely on it.
//!
//! The program is a constant: nothing is compiled per launch. It compares only the low
//! 32 bits of the request, as the kernel does (`unsigned int cmd`): flatpak's filter
//! compared all 64 and `TIOCSTI | 1 << 32` went through (CVE-2019-10063). Compat
//! system calls of another ABI on the same kernel (i386 on x86_64, arm on aarch64)
//! number `ioctl` differently and are matched by their own number; x32 too.
//!
//! seccomp(2) needs no_new_privs (or CAP_SYS_ADMIN), which [`super::exec`] sets first.

use libc::sock_filter;

const LD_W_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ_K: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const RET_K: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

/// Offsets in `struct seccomp_data` (linux/seccomp.h): `nr`, `arch`, and the low 32
/// bits of `args[1]` (little-endian: the low word comes first).
const NR: u32 = 0;
const ARCH: u32 = 4;
const ARG1_LOW: u32 = 24;

const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
const EPERM: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;

/// The request numbers (asm-generic/ioctls.h; the same on x86 and arm).
pub const TIOCSTI: u32 = 0x5412;
/// See [`TIOCSTI`].
pub const TIOCLINUX: u32 = 0x541C;

/// (audit arch, ioctl number) pairs: the native ABI and its compat ABIs.
#[cfg(target_arch = "x86_64")]
const ABIS: [(u32, u32); 3] = [
    (0xC000_003E, 16),                // AUDIT_ARCH_X86_64, ioctl
    (0xC000_003E, 0x4000_0000 | 514), // x32: __X32_SYSCALL_BIT | compat ioctl
    (0x4000_0003, 54),                // AUDIT_ARCH_I386, ioctl
];
#[cfg(target_arch = "aarch64")]
const ABIS: [(u32, u32); 3] = [
    (0xC000_00B7, 29), // AUDIT_ARCH_AARCH64, ioctl
    (0xC000_00B7, 29), // (no second native ABI; kept for a fixed program length)
    (0x4000_0028, 54), // AUDIT_ARCH_ARM, ioctl
];

const fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jeq(k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: JEQ_K,
        jt,
        jf,
        k,
    }
}

/// Program length: see [`PROGRAM`].
const LEN: usize = 14;

/// The filter. A jump's offsets count the instructions after it.
///
/// ```text
///  0  ld  arch
///  1  jeq native arch     ? 2 : 5
///  2  ld  nr
///  3  jeq native ioctl    ? 9 : 4
///  4  jeq second ioctl    ? 9 : 8
///  5  jeq compat arch     ? 6 : 8
///  6  ld  nr
///  7  jeq compat ioctl    ? 9 : 8
///  8  ret ALLOW
///  9  ld  args[1], low 32 bits
/// 10  jeq TIOCSTI         ? 13 : 11
/// 11  jeq TIOCLINUX       ? 13 : 12
/// 12  ret ALLOW
/// 13  ret ERRNO(EPERM)
/// ```
pub static PROGRAM: [sock_filter; LEN] = [
    /* 0 */ stmt(LD_W_ABS, ARCH),
    /* 1 */ jeq(ABIS[0].0, 0, 3),
    /* 2 */ stmt(LD_W_ABS, NR),
    /* 3 */ jeq(ABIS[0].1, 5, 0),
    /* 4 */ jeq(ABIS[1].1, 4, 3),
    /* 5 */ jeq(ABIS[2].0, 0, 2),
    /* 6 */ stmt(LD_W_ABS, NR),
    /* 7 */ jeq(ABIS[2].1, 1, 0),
    /* 8 */ stmt(RET_K, ALLOW),
    /* 9 */ stmt(LD_W_ABS, ARG1_LOW),
    /* 10 */ jeq(TIOCSTI, 2, 0),
    /* 11 */ jeq(TIOCLINUX, 1, 0),
    /* 12 */ stmt(RET_K, ALLOW),
    /* 13 */ stmt(RET_K, EPERM),
];

/// Installs [`PROGRAM`] on the calling thread; inherited by children and kept across
/// execve. `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: a filter must not switch on the
/// speculative-store-bypass mitigation for the tool (kernels with
/// `spec_store_bypass_disable=seccomp` do that by default), which would make it slower
/// than the same program outside.
pub fn install() -> Result<(), std::io::Error> {
    let prog = libc::sock_fprog {
        len: LEN as u16,
        filter: PROGRAM.as_ptr().cast_mut(),
    };
    // SAFETY: seccomp(2) reads `prog`, which points at a static program of `len`
    // instructions; the kernel copies it.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on one system call the way the kernel's BPF interpreter does,
    /// for the three kinds of instruction it uses.
    fn verdict(arch: u32, nr: u32, arg1: u64) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_ne_bytes());
        data[4..8].copy_from_slice(&arch.to_ne_bytes());
        data[24..32].copy_from_slice(&arg1.to_ne_bytes());
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = PROGRAM[pc];
            match i.code {
                LD_W_ABS => {
                    let k = i.k as usize;
                    acc = u32::from_ne_bytes(data[k..k + 4].try_into().unwrap());
                    pc += 1;
                }
                JEQ_K => pc += 1 + usize::from(if acc == i.k { i.jt } else { i.jf }),
                RET_K => return i.k,
                other => panic!("unexpected instruction {other:#x}"),
            }
        }
    }

    #[test]
    fn tiocsti_and_tioclinux_fail_on_every_abi_and_nothing_else_does() {
        for (arch, ioctl) in ABIS {
            for request in [TIOCSTI, TIOCLINUX] {
                assert_eq!(verdict(arch, ioctl, request.into()), EPERM);
                // The kernel reads `unsigned int cmd`: bits above 32 are ignored there,
                // so they must be ignored here (CVE-2019-10063).
                assert_eq!(verdict(arch, ioctl, u64::from(request) | 1 << 32), EPERM);
            }
            // Job control and window sizes stay.
            for request in [0x5410 /* TIOCSPGRP */, 0x5413 /* TIOCGWINSZ */] {
                assert_eq!(verdict(arch, ioctl, request), ALLOW);
            }
            // Another system call with TIOCSTI's number as its argument.
            assert_eq!(verdict(arch, 1, TIOCSTI.into()), ALLOW);
        }
        // An unknown ABI is left alone (the kernel has no ioctl number for it here).
        assert_eq!(verdict(0x1234, 16, TIOCSTI.into()), ALLOW);
    }

    #[test]
    fn every_jump_lands_inside_the_program() {
        for (pc, i) in PROGRAM.iter().enumerate() {
            if i.code == JEQ_K {
                assert!(pc + 1 + usize::from(i.jt.max(i.jf)) < LEN, "{pc}");
            }
        }
        assert_eq!(PROGRAM[LEN - 1].code, RET_K);
    }
}
