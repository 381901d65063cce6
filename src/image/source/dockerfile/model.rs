//! The parsed model: a [`Dockerfile`] of [`Stage`]s, positions, errors and notes.

use std::fmt;

use super::instruction::{ArgDecl, Step, Word};
pub use super::pos::Pos;

/// Something in a Dockerfile jig refuses: where, what, and what to do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The Dockerfile's name as given to [`Dockerfile::parse`].
    pub file: String,
    /// Where the offending text starts.
    pub pos: Pos,
    /// What is wrong, in one line.
    pub message: String,
    /// What to write instead, when there is something to say.
    pub hint: Option<String>,
}

impl Error {
    pub(crate) fn new(file: &str, pos: Pos, message: impl Into<String>) -> Error {
        Error {
            file: file.to_owned(),
            pos,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }
}

/// `FILE:LINE:COL: message`; the hint goes with it as data ([`Error::into_anyhow`]).
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Pos { line, col } = self.pos;
        write!(f, "{}:{line}:{col}: {}", self.file, self.message)
    }
}

impl Error {
    /// The error as jig reports errors, its hint attached.
    pub fn into_anyhow(self) -> anyhow::Error {
        match self.hint.clone() {
            Some(h) => crate::base::error::hinted(self, h),
            None => anyhow::Error::new(self),
        }
    }

    /// The message and, on a line of its own, the hint (`hint: ...`): for tests.
    #[cfg(test)]
    pub fn with_hint_line(&self) -> String {
        match &self.hint {
            Some(h) => format!("{self}\nhint: {h}"),
            None => self.to_string(),
        }
    }
}

impl std::error::Error for Error {}

/// The result of parsing or resolving a Dockerfile.
pub type Result<T> = std::result::Result<T, Error>;

/// A warning: something jig accepted but does not do as Docker would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The line it is about; `None` for the build as a whole (an unused build arg).
    pub line: Option<usize>,
    /// What jig does instead, in one line.
    pub message: String,
}

impl Note {
    pub(crate) fn at(line: usize, message: impl Into<String>) -> Note {
        Note {
            line: Some(line),
            message: message.into(),
        }
    }
}

/// `line N: message`, or the message alone.
impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// A parsed Dockerfile: the `ARG`s before the first `FROM`, then the stages.
#[derive(Debug, Clone, PartialEq)]
pub struct Dockerfile {
    /// The name errors and notes are reported under.
    pub file: String,
    /// The escape character: `\`, or `` ` `` after `# escape=``.
    pub escape: char,
    /// `ARG`s before the first `FROM`: usable in `FROM` lines, and in a stage that
    /// declares them again.
    pub meta_args: Vec<ArgDecl>,
    /// The stages, in order; there is at least one.
    pub stages: Vec<Stage>,
    /// Warnings about what jig accepts but ignores.
    pub notes: Vec<Note>,
}

/// One stage: `FROM image [AS name]` and the instructions up to the next `FROM`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    /// The line of its `FROM`.
    pub line: usize,
    /// The base as written: an image reference, `scratch`, or an earlier stage's name,
    /// before substitution.
    pub base: Word,
    /// `AS name`, lowercased as Docker does.
    pub name: Option<String>,
    /// `--platform=...` as written; [`Dockerfile::resolve`] accepts only this
    /// machine's platform.
    pub platform: Option<Word>,
    /// The instructions of the stage.
    pub steps: Vec<Step>,
}
