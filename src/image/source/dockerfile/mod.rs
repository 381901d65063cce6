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

pub mod dex;
mod forms;
pub mod instruction;
mod lines;
mod model;
pub mod op;
mod parse;
mod pos;
mod resolve;
mod subst;
mod words;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_errors;

pub use model::*;

impl Dockerfile {
    /// Parses a Dockerfile. `file` names it in errors and notes.
    pub fn parse(text: &str, file: &str) -> Result<Dockerfile> {
        parse::parse(text, file)
    }
}
