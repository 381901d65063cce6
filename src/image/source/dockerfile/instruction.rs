//! The instruction model: what each Dockerfile instruction says, as written.
//!
//! Values Docker substitutes variables in are kept as [`Word`]s (quotes, escapes and
//! `$` references still in) with their position, so that [`super::Dockerfile::resolve`]
//! can substitute them and report a bad `${...}` where it is. Shell text and exec
//! arrays are plain strings: Docker never substitutes in them (the shell does).

use super::pos::Pos;

/// Dockerfile text as written, before substitution, and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The text, quotes and escapes included.
    pub text: String,
    /// Where it starts.
    pub pos: Pos,
}

/// An instruction of a stage, with the line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The line of the instruction's keyword.
    pub line: usize,
    /// What it says.
    pub instruction: Instruction,
}

/// One Dockerfile instruction (`FROM` starts a [`super::Stage`] instead).
#[derive(Debug, Clone, PartialEq)]
pub enum Instruction {
    /// `RUN`: a command run in the image being built.
    Run(Run),
    /// `COPY` or `ADD` (see [`Copy::add`]).
    Copy(Copy),
    /// `ENV a=b c=d`, or the legacy `ENV a b c` (one variable, value `b c`).
    Env(Vec<(Word, Word)>),
    /// `ARG name[=default] ...`.
    Arg(Vec<ArgDecl>),
    /// `WORKDIR path`.
    Workdir(Word),
    /// `USER user[:group]`.
    User(Word),
    /// `SHELL ["exe", "arg", ...]`: the shell of later shell-form instructions.
    Shell(Vec<String>),
    /// `LABEL k=v ...` (or the legacy `LABEL k v`).
    Label(Vec<(Word, Word)>),
    /// `ENTRYPOINT`, shell or exec form.
    Entrypoint(Command),
    /// `CMD`, shell or exec form.
    Cmd(Command),
    /// An instruction jig accepts and ignores (`EXPOSE`, `VOLUME`, `HEALTHCHECK`,
    /// `STOPSIGNAL`, `ONBUILD`, `MAINTAINER`); the parse left a note saying why.
    Ignored(&'static str),
}

/// A command in shell form (`RUN make all`) or exec form (`RUN ["make", "all"]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// The text given to the shell: continuations joined, comment lines dropped,
    /// heredoc markers (`<<EOF`) still in.
    Shell(String),
    /// The JSON array, decoded.
    Exec(Vec<String>),
}

/// `RUN`.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The command.
    pub command: Command,
    /// The heredocs the shell text names, in order.
    pub heredocs: Vec<Heredoc>,
}

/// A here-document (`<<EOF` ... `EOF`) of a `RUN`, `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heredoc {
    /// The marker as written (`<<EOF`, `<<-"EOF"`).
    pub marker: String,
    /// The delimiter, quotes removed (`EOF`); also the file name of a `COPY <<EOF`.
    pub name: String,
    /// The lines between the marker's line and the delimiter, each ending in `\n`,
    /// as written (leading tabs kept even for `<<-`; see [`Heredoc::text`]).
    pub content: String,
    /// False if the delimiter was quoted (`<<'EOF'`): no substitution in the body.
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from the body's lines.
    pub chomp: bool,
    /// Where the marker is.
    pub pos: Pos,
    /// The line the body starts on.
    pub body_line: usize,
}

impl Heredoc {
    /// The body with `<<-`'s leading tabs stripped.
    pub fn text(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq)]
pub struct Copy {
    /// `ADD` (URLs and archives allowed as sources) rather than `COPY`.
    pub add: bool,
    /// `--from=stage|index|image` (`COPY` only).
    pub from: Option<Word>,
    /// `--chmod=MODE`.
    pub chmod: Option<Word>,
    /// `--checksum=sha256:...` (`ADD` of URLs only).
    pub checksum: Option<Word>,
    /// What to copy; at least one.
    pub sources: Vec<Source>,
    /// Where to.
    pub dest: Word,
}

/// A source of `COPY`/`ADD`.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A path in the build context (or the `--from` stage), or a URL for `ADD`.
    Path(Word),
    /// A heredoc written to a file named after its delimiter.
    Heredoc(Heredoc),
}

/// One name of an `ARG` instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDecl {
    /// The variable's name.
    pub name: String,
    /// `=default`, as written.
    pub default: Option<Word>,
    /// Where the declaration is.
    pub pos: Pos,
}
