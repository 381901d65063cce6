//! Shim mode's entry: jig called through a symlink named after a tool (`git`, `npm`).
//! Everything else of the shim path is in [`crate::launch`].

use std::ffi::OsString;

/// Entry point for shim mode. `argv0` is exactly what the caller passed.
pub fn main(name: &str, argv0: OsString, args: Vec<OsString>) -> i32 {
    crate::launch::main(name, argv0, args)
}
