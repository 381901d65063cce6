//! Dockerfiles: the parser, the instruction model and variable substitution, so that
//! jig can build an image from a Dockerfile written for Docker or dex.
//!
//! Three steps, each plain data in and out, no I/O:
//! - [`Dockerfile::parse`] reads the text into stages of typed
//!   [`Instruction`](instruction::Instruction)s, with
//!   [`Note`]s for what jig accepts but ignores. Every refusal is an [`Error`] carrying
//!   the file, line and column, and a hint.
//! - [`Dockerfile::resolve`] substitutes build arguments and `ENV` values as Docker does
//!   and yields [`Resolved`](op::Resolved) stages of [`Op`](op::Op)s: what a build
//!   runs, each with a stable [`Op::canonical`](op::Op::canonical) text for its cache
//!   key.
//! - [`Resolved::dex_labels`](op::Resolved::dex_labels) reads dex's
//!   `org.dockerland.dex.*` labels into [`DexLabels`](dex::DexLabels) without
//!   evaluating them.
//!
//! # Why a parser of jig's own
//!
//! Three crates parse Dockerfiles. `dockerfile-parser` (0.9, a pest grammar, HPE) has
//! no heredocs and no `escape` directive, and pulls in pest, regex and snafu.
//! `dockerfile-parser-rs` (3.x) knows heredocs only under the literal delimiter `EOF`,
//! has no `escape` directive and no positions, and its library depends on clap.
//! `parse-dockerfile` (taiki-e, 0.1.9, maintained) is the best of them: escape
//! directive, JSON forms, spans, errors with line and column. But it finds heredocs
//! only right after `RUN` (`RUN python3 <<EOF` and `RUN cat <<A >a && cat <<B >b`,
//! both in Docker's reference, fail as "unknown instruction"), keeps the `\r` of CRLF
//! files in heredoc bodies, returns shell text with the continuations and comment
//! lines still in, leaves `ENV`, `LABEL` and `ARG` unsplit, and has no substitution.
//! It would save the line scanner (`lines.rs`, an eighth of this module) and none of
//! what jig needs beyond it: word splitting, Docker's substitution and scoping rules,
//! the stage model, the refusals with hints.
//!
//! So jig follows BuildKit (moby/buildkit `frontend/dockerfile/parser`, `shell/lex.go`)
//! rule by rule, with serde_json for the JSON forms; on BuildKit's parser test corpus
//! it splits every instruction it accepts the same way. It is stricter where Docker
//! silently guesses: a broken JSON array (`CMD ['sh']`) is an error, not a shell
//! command. It departs from BuildKit where BuildKit breaks scripts or the shell
//! disagrees: heredoc bodies of a CRLF file lose their `\r`; a heredoc delimiter ends
//! at a shell operator (`<<EOF>file`); a backslash in the delimiter (`<<\EOF`) turns
//! expansion off.
//!
//! The files: `lines.rs` (directives, continuations, comments, heredoc bodies),
//! `words.rs` (word splitting, flags, JSON arrays), `parse.rs`, `forms.rs` and
//! `instruction.rs` (the model), `subst.rs` (`$VAR`, `${VAR:-word}`, ...), `resolve.rs`
//! and `op.rs` (scopes and the resolved steps), `dex.rs` (dex's labels).

// Wired up by the Dockerfile build; until then nothing in the crate calls it.
#![allow(dead_code)]

pub mod dex;
mod forms;
pub mod instruction;
mod lines;
pub mod op;
mod parse;
mod resolve;
mod subst;
mod words;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;

use std::fmt;

use instruction::{ArgDecl, Step, Word};

/// A place in a Dockerfile: 1-based line and column (the column counts characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// Line number, from 1.
    pub line: usize,
    /// Column, from 1, in characters.
    pub col: usize,
}

impl Pos {
    /// The position `chars` characters further on the same line.
    pub fn advance(self, chars: usize) -> Pos {
        Pos {
            line: self.line,
            col: self.col + chars,
        }
    }
}

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

impl Dockerfile {
    /// Parses a Dockerfile. `file` names it in errors and notes.
    pub fn parse(text: &str, file: &str) -> Result<Dockerfile> {
        parse::parse(text, file)
    }
}
