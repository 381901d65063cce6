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

mod args;
mod bootstrap;
mod build;
mod cli;
mod config;
mod display;
mod doctor;
mod host;
mod install;
mod installed;
mod lock;
mod paths;
mod permissions;
mod plan;
mod project;
mod recipe;
mod repo;
mod resolve;
mod runtime;
mod shim;
mod source;
mod store;
mod trust;
mod unpack;
mod workspace;

/// The process entry point, called by the C runtime. glibc hands argv to Rust's std
/// through an init-array hook, so `std::env::args_os` works as usual.
#[cfg(not(test))]
#[unsafe(no_mangle)]
pub extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    use std::ffi::OsString;
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("jig"));
    let name = shim::tool_name(&argv0);
    let code = if name == "jig" || name.starts_with("jig-") {
        cli::main()
    } else {
        let name = name.to_owned();
        shim::main(&name, argv0, args.collect())
    };
    // Flush stdout explicitly: returning from main runs exit(3), not Rust's runtime.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    code
}
