//! jig: run developer tools in fast, daemon-less, ephemeral containers.
//!
//! One multicall binary. Called as `jig`, it is the command-line interface
//! ([`cli`]). Called through a shim — a symlink named after a tool, such as `git` —
//! it runs that tool ([`shim`]): resolve the installed recipe, plan the launch
//! ([`plan`]), and let the runtime ([`runtime`]) enter namespaces and exec the tool in
//! place. ARCHITECTURE.md walks that path.
//!
//! `#![no_main]`: jig defines the C `main` itself instead of letting Rust's runtime
//! wrap it. That runtime would set SIGPIPE to "ignore", a disposition execve(2) keeps,
//! so every tool jig starts would inherit it (`yes | head` inside would print "Broken
//! pipe" instead of exiting quietly as it does natively). It also skips the runtime's
//! stack-guard probing, which reads /proc/self/maps on every start.

#![cfg_attr(not(test), no_main)]
// The unit-test build has the test harness's main instead, so the CLI looks unused.
#![cfg_attr(test, allow(dead_code))]

mod base;
mod cli;
mod image;
mod install;
mod launch;
mod project;
mod recipe;
mod repo;
mod runtime;
mod shim;

#[global_allocator]
static ALLOCATOR: base::alloc::Arena<{ base::alloc::ARENA }> = base::alloc::Arena::new();

/// The process entry point, called by the C runtime with the process's arguments.
/// They are taken from `argv` here rather than from `std::env::args_os`, which is
/// filled only by Rust's own runtime or, on glibc, by an init-array hook (musl has
/// none).
///
/// # Safety
/// `argv` must hold `argc` valid NUL-terminated strings, as the C runtime guarantees.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn main(
    argc: std::ffi::c_int,
    argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    use std::ffi::{CStr, OsString};
    use std::os::unix::ffi::OsStrExt;
    let count = usize::try_from(argc).unwrap_or(0);
    let mut args: Vec<OsString> = (0..count)
        // SAFETY: the C runtime passes `argc` valid NUL-terminated strings in `argv`.
        .map(|i| unsafe { CStr::from_ptr(*argv.add(i)) })
        .map(|a| std::ffi::OsStr::from_bytes(a.to_bytes()).to_owned())
        .collect();
    if args.is_empty() {
        args.push(OsString::from("jig"));
    }
    let name = launch::tool_name(&args[0]);
    let code = if name == "jig" || name.starts_with("jig-") {
        cli::main(args)
    } else {
        let name = name.to_owned();
        let argv0 = args.remove(0);
        shim::main(&name, argv0, args)
    };
    // Flush stdout explicitly: returning from main runs exit(3), not Rust's runtime.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    code
}
