//! Logical lines to stages of typed instructions. Each instruction's arguments are
//! split by BuildKit's rule for it; flags jig does not support, broken JSON arrays and
//! unknown instructions are errors at their position, and instructions jig ignores
//! leave a note.

use super::instruction::{ArgDecl, Command, Copy, Instruction, Run, Source, Step, Word};
use super::lines::{self, Logical};
use super::words::{self, Flag, Json, Token};
use super::{Dockerfile, Error, Note, Pos, Result, Stage};

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

struct Cx<'a> {
    file: &'a str,
    l: &'a Logical,
    escape: char,
}

impl Cx<'_> {
    fn err(&self, offset: usize, message: impl Into<String>) -> Error {
        Error::new(self.file, self.l.pos(offset), message)
    }

    fn word(&self, base: usize, tok: &Token) -> Word {
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

    /// Shell or exec form. A `[` that does not start a valid JSON array of strings is
    /// an error (Docker would run it as a shell command), except `RUN [ test ]`.
    fn command(&self, kw: &str, args: &str, at: usize) -> Result<Command> {
        match words::json_array(args) {
            Json::Array(v) => Ok(Command::Exec(v)),
            Json::No if args.is_empty() => Err(self.err(0, format!("{kw} needs a command"))),
            Json::No => Ok(Command::Shell(args.to_owned())),
            Json::Bad(_) if kw == "RUN" && args[1..].starts_with(char::is_whitespace) => {
                Ok(Command::Shell(args.to_owned()))
            }
            Json::Bad(why) => Err(self
                .err(at, format!("{kw}: not a JSON array of strings ({why})"))
                .hint(format!(
                    "the exec form is a JSON array of double-quoted strings: {kw} [\"cmd\", \"arg\"]; without the brackets it is the shell form"
                ))),
        }
    }

    fn no_flags(&self, kw: &str, flags: &[Flag]) -> Result<()> {
        self.known_flags(kw, flags, &[])
    }

    fn known_flags(&self, kw: &str, flags: &[Flag], allowed: &[&str]) -> Result<()> {
        for (i, f) in flags.iter().enumerate() {
            if !allowed.contains(&f.name.as_str()) {
                let takes = match allowed {
                    [] => format!("{kw} takes no flags"),
                    _ => format!("{kw} takes --{}", allowed.join(", --")),
                };
                return Err(self
                    .err(
                        f.start,
                        format!("{kw} --{} is not supported by jig", f.name),
                    )
                    .hint(takes));
            }
            if flags[..i].iter().any(|g| g.name == f.name) {
                return Err(self.err(f.start, format!("--{} given twice", f.name)));
            }
        }
        Ok(())
    }

    /// The value of a `--name=value` flag, if given; the flag without a value is an
    /// error.
    fn flag_value(&self, flags: &[Flag], name: &str) -> Result<Option<Word>> {
        let Some(f) = flags.iter().find(|f| f.name == name) else {
            return Ok(None);
        };
        match &f.value {
            Some(v) if !v.text.is_empty() => Ok(Some(self.word(0, v))),
            _ => Err(self
                .err(f.start, format!("--{name} needs a value"))
                .hint(format!("--{name}=VALUE"))),
        }
    }

    fn run_flags(&self, flags: &[Flag], notes: &mut Vec<Note>) -> Result<()> {
        self.known_flags("RUN", flags, &["mount", "network", "security"])?;
        for f in flags {
            let value = f
                .value
                .as_ref()
                .map(|v| unquote(&v.text))
                .unwrap_or_default();
            let at = f.value.as_ref().map_or(f.start, |v| v.start);
            match (f.name.as_str(), value.as_str()) {
                ("mount", _) => self.mount(&value, at, notes)?,
                ("network", "default" | "host") | ("security", "sandbox") => {}
                ("network", "none") => {
                    return Err(self
                        .err(at, "RUN --network=none is not supported: jig runs build steps with the host's network")
                        .hint("remove the flag"));
                }
                ("security", "insecure") => {
                    return Err(self
                        .err(at, "RUN --security=insecure is not supported: build steps run under jig's fake-root filters")
                        .hint("remove the flag"));
                }
                (name, value) => {
                    return Err(self.err(at, format!("RUN --{name}={value} is not supported")));
                }
            }
        }
        Ok(())
    }

    /// `--mount`: a cache or tmpfs mount is accepted (the step's files stay in the
    /// image), others are refused.
    fn mount(&self, value: &str, at: usize, notes: &mut Vec<Note>) -> Result<()> {
        let field = |keys: &[&str]| {
            value.split(',').find_map(|kv| {
                let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                keys.contains(&k.trim()).then(|| v.trim().to_owned())
            })
        };
        let kind = field(&["type"]).unwrap_or_else(|| "bind".into());
        let target = field(&["target", "dst", "destination"]).unwrap_or_default();
        match kind.as_str() {
            "cache" | "tmpfs" => {
                notes.push(Note::at(
                    self.l.line(),
                    format!("RUN --mount=type={kind}: jig mounts nothing there; what the step writes to {target} stays in the image"),
                ));
                Ok(())
            }
            "bind" => Err(self
                .err(at, "RUN --mount=type=bind is not supported")
                .hint("COPY what the step needs in an earlier instruction")),
            "secret" | "ssh" => Err(self
                .err(
                    at,
                    format!(
                        "RUN --mount=type={kind} is not supported: jig gives build steps no secrets"
                    ),
                )
                .hint(
                    "remove the mount; a tool's credentials reach it at run time, from the recipe",
                )),
            other => Err(self.err(at, format!("unknown mount type '{other}'"))),
        }
    }

    fn copy(
        &self,
        add: bool,
        flags: &[Flag],
        args: &str,
        at: usize,
        notes: &mut Vec<Note>,
    ) -> Result<Copy> {
        let kw = if add { "ADD" } else { "COPY" };
        let allowed: &[&str] = if add {
            &["chown", "chmod", "checksum", "link"]
        } else {
            &["from", "chown", "chmod", "link"]
        };
        self.known_flags(kw, flags, allowed)?;
        let line = self.l.line();
        if flags.iter().any(|f| f.name == "chown") {
            notes.push(Note::at(
                line,
                format!("{kw} --chown has no effect: every file of a jig image belongs to the user who runs it"),
            ));
        }
        if flags.iter().any(|f| f.name == "link") {
            notes.push(Note::at(
                line,
                format!("{kw} --link is ignored: jig copies into the step's image either way"),
            ));
        }
        let from = self.flag_value(flags, "from")?;
        let chmod = self.flag_value(flags, "chmod")?;
        let checksum = self.flag_value(flags, "checksum")?;
        let mut items: Vec<Source> = match words::json_array(args) {
            Json::Array(v) => v
                .into_iter()
                .map(|text| {
                    Source::Path(Word {
                        text,
                        pos: self.l.pos(at),
                    })
                })
                .collect(),
            // `COPY [a-z]* /dst` is a pattern, not broken JSON.
            Json::No | Json::Bad(_) => {
                let mut items = Vec::new();
                let mut skip_to = 0;
                for tok in words::split_whitespace(args) {
                    if tok.start < skip_to {
                        continue; // the delimiter of a `<< EOF`
                    }
                    let word = self.word(at, &tok);
                    match self.l.heredocs.iter().find(|h| h.pos == word.pos) {
                        Some(h) => {
                            skip_to = tok.start + h.marker.len();
                            items.push(Source::Heredoc(h.clone()));
                        }
                        None => items.push(Source::Path(word)),
                    }
                }
                items
            }
        };
        let dest = match items.pop() {
            Some(Source::Path(dest)) if !items.is_empty() => dest,
            Some(Source::Heredoc(h)) => {
                return Err(Error::new(
                    self.file,
                    h.pos,
                    format!("{kw} needs a destination after {}", h.marker),
                )
                .hint(format!("{kw} {} /path/to/file", h.marker)));
            }
            _ => {
                return Err(self
                    .err(0, format!("{kw} needs a source and a destination"))
                    .hint(format!("{kw} SRC... DEST")));
            }
        };
        Ok(Copy {
            add,
            from,
            chmod,
            checksum,
            sources: items,
            dest,
        })
    }

    /// `NAME=VALUE ...`, or the legacy `NAME VALUE...` (one pair).
    fn name_values(&self, kw: &str, args: &str, at: usize) -> Result<Vec<(Word, Word)>> {
        let toks = words::split_words(args, self.escape);
        let Some(first) = toks.first() else {
            return Err(self.err(0, format!("{kw} needs NAME=VALUE")));
        };
        if !first.text.contains('=') {
            let rest = args[first.end..].trim_start();
            if rest.is_empty() {
                return Err(self
                    .err(at, format!("{kw} {} needs a value", first.text))
                    .hint(format!("{kw} {}=VALUE", first.text)));
            }
            let value = Word {
                text: rest.to_owned(),
                pos: self.l.pos(at + args.len() - rest.len()),
            };
            return Ok(vec![(self.word(at, first), value)]);
        }
        let mut pairs = Vec::with_capacity(toks.len());
        for tok in &toks {
            let Some((name, value)) = tok.text.split_once('=') else {
                return Err(self
                    .err(
                        at + tok.start,
                        format!("{kw}: '{}' is not NAME=VALUE", tok.text),
                    )
                    .hint("quote a value holding spaces: NAME=\"a b\""));
            };
            if name.is_empty() {
                return Err(self.err(at + tok.start, format!("{kw}: a blank name")));
            }
            let value_at = at + tok.start + name.len() + 1;
            pairs.push((
                Word {
                    text: name.to_owned(),
                    pos: self.l.pos(at + tok.start),
                },
                Word {
                    text: value.to_owned(),
                    pos: self.l.pos(value_at),
                },
            ));
        }
        Ok(pairs)
    }

    fn arg(&self, args: &str, at: usize) -> Result<Vec<ArgDecl>> {
        let toks = words::split_words(args, self.escape);
        if toks.is_empty() {
            return Err(self
                .err(0, "ARG needs a name")
                .hint("ARG NAME or ARG NAME=DEFAULT"));
        }
        toks.iter()
            .map(|tok| {
                let pos = self.l.pos(at + tok.start);
                let (name, default) = match tok.text.split_once('=') {
                    Some((name, value)) => {
                        let default = Word {
                            text: value.to_owned(),
                            pos: self.l.pos(at + tok.start + name.len() + 1),
                        };
                        (name, Some(default))
                    }
                    None => (tok.text.as_str(), None),
                };
                if name.is_empty() {
                    return Err(Error::new(self.file, pos, "ARG: a blank name"));
                }
                Ok(ArgDecl {
                    name: name.to_owned(),
                    default,
                    pos,
                })
            })
            .collect()
    }
}

/// A flag value without its quotes (flags jig only inspects).
fn unquote(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && *c != '\'').collect()
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
