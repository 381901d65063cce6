//! Errors as jig reports them: a chain of causes (anyhow's), hints as data attached
//! anywhere in the chain, and one renderer for the CLI and the shim path:
//!
//! ```text
//! jig: error: cannot pull registry.example/tool:1
//!   caused by: registry.example requires a login
//!   hint: add credentials for registry.example to ~/.docker/config.json
//! ```
//!
//! A hint says what the user can do; it is attached with [`Hint::hint`] (or made with
//! [`hinted`]), never written into a message. [`LaunchError`] is the same thing with
//! the exit status a failed launch reports. An error made with [`usage`] is the user's
//! command line naming something that does not exist (a recipe, a tool, a version):
//! the CLI exits [`EXIT_USAGE`] for it, as for a bad option, whichever command it was.

use std::fmt;

/// An error with a hint: displays as the error itself, and its causes are the error's.
#[derive(Debug)]
pub struct Hinted {
    error: anyhow::Error,
    hint: String,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.error, f)
    }
}

impl std::error::Error for Hinted {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// The error for a state file jig cannot read as it wrote it: names the file and the
/// first line of why (`cause`), with `hint` saying what makes jig work again.
pub fn damaged(
    path: &std::path::Path,
    cause: impl fmt::Display,
    hint: impl fmt::Display,
) -> anyhow::Error {
    let cause = cause.to_string();
    let first = cause.lines().next().unwrap_or_default();
    hinted(format!("{} is damaged: {first}", path.display()), hint)
}

/// A new error, `message`, with `hint`.
pub fn hinted(message: impl fmt::Display, hint: impl fmt::Display) -> anyhow::Error {
    with_hint(anyhow::anyhow!("{message}"), hint.to_string())
}

fn with_hint(error: anyhow::Error, hint: String) -> anyhow::Error {
    anyhow::Error::new(Hinted { error, hint })
}

/// Attaching a hint to the error of a `Result`.
pub trait Hint<T> {
    /// Attaches `hint` to the error, if any.
    fn hint(self, hint: impl fmt::Display) -> anyhow::Result<T>;
    /// Attaches the hint `f` makes to the error, if any.
    fn with_hint<H: fmt::Display>(self, f: impl FnOnce() -> H) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> Hint<T> for Result<T, E> {
    fn hint(self, hint: impl fmt::Display) -> anyhow::Result<T> {
        self.map_err(|e| with_hint(e.into(), hint.to_string()))
    }
    fn with_hint<H: fmt::Display>(self, f: impl FnOnce() -> H) -> anyhow::Result<T> {
        self.map_err(|e| with_hint(e.into(), f().to_string()))
    }
}

/// A command line naming something that does not exist: displays as the error itself,
/// and its causes and hints are the error's ([`usage`], [`is_usage`]).
#[derive(Debug)]
pub struct Usage {
    error: anyhow::Error,
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.error, f)
    }
}

impl std::error::Error for Usage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

/// Marks `error` as a usage error: the CLI exits [`EXIT_USAGE`] for it.
pub fn usage(error: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(Usage { error })
}

/// A usage error saying `message`, with the hints that are given, in this order (a
/// "did you mean" first, then what else to do).
pub fn unknown(
    message: impl fmt::Display,
    hints: impl IntoIterator<Item = Option<String>>,
) -> anyhow::Error {
    let hints: Vec<String> = hints.into_iter().flatten().collect();
    let mut error = anyhow::anyhow!("{message}");
    // The outermost hint is printed first.
    for h in hints.into_iter().rev() {
        error = with_hint(error, h);
    }
    usage(error)
}

/// Whether `e`, or an error anywhere in its chain, was made with [`usage`].
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| match c.downcast_ref::<Hinted>() {
        Some(h) => is_usage(&h.error),
        None => c.is::<Usage>(),
    })
}

/// The hints anywhere in `e`'s chain, outermost first.
pub fn hints(e: &anyhow::Error) -> Vec<&str> {
    let mut out = Vec::new();
    for c in e.chain() {
        // A wrapper displays as the error it wraps, so the chain skips that error:
        // its hints are looked for inside.
        if let Some(h) = c.downcast_ref::<Hinted>() {
            out.push(h.hint.as_str());
            out.extend(inner_hints(&h.error));
        } else if let Some(u) = c.downcast_ref::<Usage>() {
            out.extend(inner_hints(&u.error));
        }
    }
    out
}

/// The hints of `e` itself when it is a wrapper ([`Hinted`], [`Usage`]), not of its
/// causes, which are the next links of the outer chain.
fn inner_hints(e: &anyhow::Error) -> Vec<&str> {
    // The error object itself (`dyn Error`'s downcast), not anyhow's, which also sees
    // through a context to the error it wraps: that one is the chain's next link.
    let itself: &(dyn std::error::Error + 'static) = &**e;
    if let Some(h) = itself.downcast_ref::<Hinted>() {
        let mut out = vec![h.hint.as_str()];
        out.extend(inner_hints(&h.error));
        out
    } else if let Some(u) = itself.downcast_ref::<Usage>() {
        inner_hints(&u.error)
    } else {
        Vec::new()
    }
}

/// What kind of report a chain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The command failed.
    Error,
    /// The command goes on.
    Warning,
}

/// Renders `e` the way jig prints every failure, `who` naming the speaker (`jig`, or
/// `jig: git` for a shim): `WHO: error: MESSAGE`, then `  caused by: CAUSE` for each
/// cause and `  hint: HINT` for each hint. Lines of a multi-line message are indented
/// under it.
pub fn render(who: &str, level: Level, e: &anyhow::Error) -> String {
    let label = match level {
        Level::Error => "error",
        Level::Warning => "warning",
    };
    let mut out = String::new();
    for (i, cause) in e.chain().enumerate() {
        let text = cause.to_string();
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default();
        if i == 0 {
            out.push_str(&format!("{who}: {label}: {first}\n"));
        } else {
            out.push_str(&format!("  caused by: {first}\n"));
        }
        for l in lines {
            out.push_str(&format!("    {l}\n"));
        }
    }
    for h in hints(e) {
        out.push_str(&format!("  hint: {h}\n"));
    }
    out
}

/// Why a launch did not reach the tool, with the exit status to report: 125 when jig
/// failed, 126 when the command cannot be executed, 127 when it is not in the image.
#[derive(Debug)]
pub struct LaunchError {
    /// 125, 126 or 127 (0 after a dry run, which reaches no tool on purpose).
    pub code: i32,
    /// What happened, with its causes and hints.
    pub error: anyhow::Error,
}

/// Exit status of a usage error: a bad option (clap's), or a recipe, tool or version
/// that does not exist ([`usage`]).
pub const EXIT_USAGE: i32 = 2;
/// Exit status when jig fails before the tool starts.
pub const EXIT_JIG_FAILED: i32 = 125;
/// Exit status when the command exists but cannot be executed.
pub const EXIT_NOT_EXECUTABLE: i32 = 126;
/// Exit status when the command does not exist in the image.
pub const EXIT_NOT_FOUND: i32 = 127;

impl LaunchError {
    /// A setup failure (exit 125) saying `message`.
    pub fn setup(message: impl fmt::Display) -> LaunchError {
        LaunchError::new(EXIT_JIG_FAILED, message)
    }

    /// A failure with exit status `code` saying `message`.
    pub fn new(code: i32, message: impl fmt::Display) -> LaunchError {
        LaunchError {
            code,
            error: anyhow::anyhow!("{message}"),
        }
    }

    /// Attaches a hint.
    pub fn hint(self, hint: impl fmt::Display) -> LaunchError {
        LaunchError {
            code: self.code,
            error: with_hint(self.error, hint.to_string()),
        }
    }

    /// Prints the error for the tool `tool` (`jig: TOOL: error: ...`) and returns the
    /// exit status.
    pub fn report(&self, tool: &str) -> i32 {
        if self.code != 0 {
            eprint!(
                "{}",
                render(&format!("jig: {tool}"), Level::Error, &self.error)
            );
        }
        self.code
    }
}

impl From<anyhow::Error> for LaunchError {
    fn from(error: anyhow::Error) -> LaunchError {
        LaunchError {
            code: EXIT_JIG_FAILED,
            error,
        }
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.error, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn hints_are_found_anywhere_in_the_chain_and_printed_last() {
        let inner: anyhow::Result<()> =
            Err(hinted("no such repository", "`jig repo add` adds one"));
        let e = inner
            .context("reading recipes")
            .hint("or give a path")
            .unwrap_err();
        assert_eq!(e.to_string(), "reading recipes");
        assert_eq!(hints(&e), ["or give a path", "`jig repo add` adds one"]);
        assert_eq!(
            render("jig", Level::Error, &e),
            "jig: error: reading recipes\n  caused by: no such repository\n  \
             hint: or give a path\n  hint: `jig repo add` adds one\n"
        );
    }

    #[test]
    fn usage_errors_are_found_through_hints_and_context_and_keep_every_hint() {
        let e = unknown(
            "no recipe named 'gti'",
            [
                Some("did you mean `git`?".into()),
                None,
                Some("`jig search`".into()),
            ],
        );
        assert!(is_usage(&e));
        assert_eq!(hints(&e), ["did you mean `git`?", "`jig search`"]);
        let e = Err::<(), _>(e)
            .context("installing")
            .hint("outer")
            .unwrap_err();
        assert!(is_usage(&e));
        assert_eq!(
            render("jig", Level::Error, &e),
            "jig: error: installing\n  caused by: no recipe named 'gti'\n  \
             hint: outer\n  hint: did you mean `git`?\n  hint: `jig search`\n"
        );
        assert!(!is_usage(&hinted("x", "y")));
        assert!(!is_usage(&anyhow::anyhow!("x").context("y")));
    }

    #[test]
    fn launch_errors_carry_their_status_and_render_the_same_way() {
        let e = LaunchError::setup("cannot create a user namespace")
            .hint("`jig doctor` shows which setting to change");
        assert_eq!(e.code, 125);
        assert_eq!(
            render("jig: git", Level::Error, &e.error),
            "jig: git: error: cannot create a user namespace\n  \
             hint: `jig doctor` shows which setting to change\n"
        );
        let from: LaunchError = anyhow::anyhow!("x").into();
        assert_eq!(from.code, EXIT_JIG_FAILED);
        let multi = anyhow::anyhow!("the lock differs:\n  image: a, b");
        assert_eq!(
            render("jig", Level::Warning, &multi),
            "jig: warning: the lock differs:\n      image: a, b\n"
        );
    }
}
