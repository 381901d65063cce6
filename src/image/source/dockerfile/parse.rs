//! Logical lines to stages of typed instructions. Each instruction's arguments are
//! split by BuildKit's rule for it; flags jig does not support, broken JSON arrays and
//! unknown instructions are errors at their position, and instructions jig ignores
//! leave a note.

use super::instruction::{Command, Instruction, Run, Step, Word};
use super::lines::{self, Logical};
use super::model::{Dockerfile, Error, Note, Pos, Result, Stage};
use super::words::{self, Flag, Token};

/// Every instruction jig knows, for suggestions.
const KNOWN: &[&str] = &[
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

pub(super) fn parse(text: &str, file: &str) -> Result<Dockerfile> {
    let scanned = lines::scan(text, file)?;
    let mut notes = scanned.notes;
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let mut previous: Option<&Logical> = None;
    for logical in &scanned.lines {
        let cx = Cx {
            file,
            l: logical,
            escape: scanned.escape,
        };
        match cx.instruction(&mut notes, previous)? {
            Parsed::From(stage, name_pos) => {
                if let Some(name) = &stage.name {
                    if let Some(first) = stages.iter().find(|s| s.name.as_ref() == Some(name)) {
                        return Err(Error::new(
                            file,
                            name_pos,
                            format!("a second stage named '{name}'"),
                        )
                        .hint(format!("the first is on line {}; rename one", first.line)));
                    }
                }
                stages.push(stage);
            }
            Parsed::Step(Instruction::Arg(decls)) if stages.is_empty() => meta_args.extend(decls),
            Parsed::Step(instruction) => match stages.last_mut() {
                Some(stage) => stage.steps.push(Step {
                    line: logical.line(),
                    instruction,
                }),
                None => {
                    let kw = logical.text.split_whitespace().next().unwrap_or_default();
                    return Err(Error::new(
                        file,
                        logical.pos(0),
                        format!("{} before the first FROM", kw.to_ascii_uppercase()),
                    )
                    .hint("only ARG may come before FROM"));
                }
            },
        }
        previous = Some(logical);
    }
    if stages.is_empty() {
        let line = scanned.lines.last().map_or(1, |l| l.line());
        return Err(
            Error::new(file, Pos { line, col: 1 }, "no FROM instruction")
                .hint("a Dockerfile starts its first stage with FROM IMAGE (or FROM scratch)"),
        );
    }
    Ok(Dockerfile {
        file: file.to_owned(),
        escape: scanned.escape,
        meta_args,
        stages,
        notes,
    })
}

enum Parsed {
    /// A `FROM`, and where its `AS` name is.
    From(Stage, Pos),
    Step(Instruction),
}

/// One logical line being parsed.
pub(super) struct Cx<'a> {
    /// The Dockerfile's name, for errors.
    pub file: &'a str,
    /// The line.
    pub l: &'a Logical,
    /// The escape character in force.
    pub escape: char,
}

impl Cx<'_> {
    pub(super) fn err(&self, offset: usize, message: impl Into<String>) -> Error {
        Error::new(self.file, self.l.pos(offset), message)
    }

    pub(super) fn word(&self, base: usize, tok: &Token) -> Word {
        Word {
            text: tok.text.clone(),
            pos: self.l.pos(base + tok.start),
        }
    }

    fn instruction(&self, notes: &mut Vec<Note>, previous: Option<&Logical>) -> Result<Parsed> {
        let text = self.l.text.as_str();
        let kw_end = text.find(char::is_whitespace).unwrap_or(text.len());
        let kw = text[..kw_end].to_ascii_uppercase();
        let (mut flags, rel) = words::take_flags(&text[kw_end..], self.escape);
        for f in &mut flags {
            f.start += kw_end;
            if let Some(v) = &mut f.value {
                v.start += kw_end;
                v.end += kw_end;
            }
        }
        let at = kw_end + rel;
        let args = text[at..].trim_end();
        let line = self.l.line();
        let ignored = |why: &str| Note::at(line, format!("{kw} has no effect: {why}"));
        let instruction = match kw.as_str() {
            "FROM" => return self.from(&flags, args, at),
            "RUN" => {
                self.run_flags(&flags, notes)?;
                let command = self.command(&kw, args, at)?;
                let heredocs = match command {
                    Command::Shell(_) => self.l.heredocs.clone(),
                    Command::Exec(_) => Vec::new(),
                };
                Instruction::Run(Run { command, heredocs })
            }
            "COPY" | "ADD" => Instruction::Copy(self.copy(kw == "ADD", &flags, args, at, notes)?),
            "ENV" | "LABEL" => {
                self.no_flags(&kw, &flags)?;
                let pairs = self.name_values(&kw, args, at)?;
                match kw.as_str() {
                    "ENV" => Instruction::Env(pairs),
                    _ => Instruction::Label(pairs),
                }
            }
            "ARG" => {
                self.no_flags(&kw, &flags)?;
                Instruction::Arg(self.arg(args, at)?)
            }
            "WORKDIR" | "USER" => {
                self.no_flags(&kw, &flags)?;
                if args.is_empty() {
                    return Err(self.err(0, format!("{kw} needs a value")));
                }
                let word = Word {
                    text: args.to_owned(),
                    pos: self.l.pos(at),
                };
                match kw.as_str() {
                    "WORKDIR" => Instruction::Workdir(word),
                    _ => Instruction::User(word),
                }
            }
            "SHELL" => {
                self.no_flags(&kw, &flags)?;
                match self.command(&kw, args, at)? {
                    Command::Exec(v) if !v.is_empty() => Instruction::Shell(v),
                    _ => {
                        return Err(self
                            .err(at, "SHELL takes a non-empty JSON array")
                            .hint("SHELL [\"/bin/bash\", \"-c\"]"));
                    }
                }
            }
            "CMD" | "ENTRYPOINT" => {
                self.no_flags(&kw, &flags)?;
                let command = self.command(&kw, args, at)?;
                match kw.as_str() {
                    "CMD" => Instruction::Cmd(command),
                    _ => Instruction::Entrypoint(command),
                }
            }
            "EXPOSE" => {
                notes.push(ignored("a tool run by jig shares the host's network"));
                Instruction::Ignored("EXPOSE")
            }
            "VOLUME" => {
                notes.push(ignored("jig mounts what the recipe declares"));
                Instruction::Ignored("VOLUME")
            }
            "HEALTHCHECK" => {
                notes.push(ignored("jig runs tools, not services"));
                Instruction::Ignored("HEALTHCHECK")
            }
            "STOPSIGNAL" => {
                notes.push(ignored(
                    "signals reach the tool as they reach a native process",
                ));
                Instruction::Ignored("STOPSIGNAL")
            }
            "ONBUILD" => {
                notes.push(ignored("jig keeps no triggers for later builds"));
                Instruction::Ignored("ONBUILD")
            }
            "MAINTAINER" => {
                notes.push(Note::at(
                    line,
                    "MAINTAINER is ignored (deprecated); LABEL org.opencontainers.image.authors=... replaces it",
                ));
                Instruction::Ignored("MAINTAINER")
            }
            _ => return Err(self.unknown(&kw, previous)),
        };
        Ok(Parsed::Step(instruction))
    }

    fn unknown(&self, kw: &str, previous: Option<&Logical>) -> Error {
        let e = self.err(0, format!("unknown instruction {kw}"));
        if previous.is_some_and(|p| p.text.contains("<<") && p.heredocs.is_empty()) {
            return e.hint(
                "is this line the body of a here-document? Only RUN, COPY and ADD take one, written <<EOF or <<-EOF",
            );
        }
        match KNOWN.iter().find(|k| distance(k, kw) <= 2) {
            Some(k) => e.hint(format!("did you mean {k}?")),
            None => e.hint(format!("instructions are {}", KNOWN.join(", "))),
        }
    }

    fn from(&self, flags: &[Flag], args: &str, at: usize) -> Result<Parsed> {
        self.known_flags("FROM", flags, &["platform"])?;
        let platform = self.flag_value(flags, "platform")?;
        let toks = words::split_whitespace(args);
        let (base, name) = match toks.as_slice() {
            [base] => (base, None),
            [base, as_, name] if as_.text.eq_ignore_ascii_case("AS") => (base, Some(name)),
            _ => {
                return Err(self
                    .err(0, "FROM takes IMAGE [AS NAME]")
                    .hint("FROM debian:bookworm AS build"));
            }
        };
        let name_pos = name.map_or(self.l.pos(0), |n| self.l.pos(at + n.start));
        let name = match name {
            Some(n) => {
                let lower = n.text.to_ascii_lowercase();
                let mut chars = lower.chars();
                let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
                    && chars
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
                if !valid {
                    return Err(Error::new(
                        self.file,
                        name_pos,
                        format!("invalid stage name '{}'", n.text),
                    )
                    .hint("a stage name starts with a letter and holds letters, digits, '-', '_' and '.'"));
                }
                Some(lower)
            }
            None => None,
        };
        Ok(Parsed::From(
            Stage {
                line: self.l.line(),
                base: self.word(at, base),
                name,
                platform,
                steps: Vec::new(),
            },
            name_pos,
        ))
    }
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}
