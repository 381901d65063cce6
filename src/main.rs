//! jig: run developer tools in fast, daemon-less, ephemeral containers.
//!
//! One multicall binary. Called as `jig`, it is the command-line interface
//! ([`cli`]). Called through a shim — a symlink named after a tool, such as `git` —
//! it runs that tool ([`shim`]): resolve the installed recipe, plan the launch
//! ([`plan`]), and let the runtime ([`runtime`]) enter namespaces and exec the tool in
//! place. ARCHITECTURE.md walks that path.

mod cli;
mod config;
mod doctor;
mod host;
mod install;
mod installed;
mod paths;
mod plan;
mod recipe;
mod runtime;
mod shim;
mod source;
mod store;
mod unpack;

use std::ffi::OsString;

fn main() {
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| OsString::from("jig"));
    let name = shim::tool_name(&argv0);
    let code = if name == "jig" || name.starts_with("jig-") {
        cli::main()
    } else {
        let name = name.to_owned();
        shim::main(&name, argv0, args.collect())
    };
    std::process::exit(code);
}
