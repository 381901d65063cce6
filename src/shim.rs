//! Shim mode's entry: jig called through a symlink named after a tool (`git`, `npm`).
//! Everything else of the shim path is in [`crate::launch`].

use std::ffi::OsString;
use std::path::Path;

/// Entry point for shim mode. `argv0` is exactly what the caller passed.
pub fn main(name: &str, argv0: OsString, args: Vec<OsString>) -> i32 {
    crate::launch::main(name, argv0, args)
}

/// The file name of argv[0], which names the tool in shim mode.
pub fn tool_name(argv0: &OsString) -> &str {
    Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("jig")
}
