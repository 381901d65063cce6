//! How the CLI prints failures: as `jig: error: ...` or `jig: warning: ...`, with
//! `caused by:` and `hint:` lines ([`crate::base::error::render`]).

use crate::base::error::{Level, render};

/// Prints an error the way jig prints every failure ([`crate::base::error::render`]).
pub fn print_error(e: &anyhow::Error) {
    eprint!("{}", render("jig", Level::Error, e));
}

/// Prints an error that did not stop the command, as `jig: warning: ...`.
pub(super) fn print_warning(e: &anyhow::Error) {
    eprint!("{}", render("jig", Level::Warning, e));
}
