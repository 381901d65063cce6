//! The argument forms of instructions: shell and exec commands, flags (and which
//! `RUN` flags jig takes), `COPY`/`ADD` sources, `NAME=VALUE` lists and `ARG`
//! declarations, each split by BuildKit's rule for it.

use super::instruction::{ArgDecl, Command, Copy, Source, Word};
use super::model::{Error, Note, Result};
use super::parse::Cx;
use super::words::{self, Flag, Json};

impl Cx<'_> {
    /// Shell or exec form. A `[` that does not start a valid JSON array of strings is
    /// an error (Docker would run it as a shell command), except `RUN [ test ]`.
    pub(super) fn command(&self, kw: &str, args: &str, at: usize) -> Result<Command> {
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

    pub(super) fn no_flags(&self, kw: &str, flags: &[Flag]) -> Result<()> {
        self.known_flags(kw, flags, &[])
    }

    pub(super) fn known_flags(&self, kw: &str, flags: &[Flag], allowed: &[&str]) -> Result<()> {
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
    pub(super) fn flag_value(&self, flags: &[Flag], name: &str) -> Result<Option<Word>> {
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

    pub(super) fn run_flags(&self, flags: &[Flag], notes: &mut Vec<Note>) -> Result<()> {
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

    pub(super) fn copy(
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
    pub(super) fn name_values(&self, kw: &str, args: &str, at: usize) -> Result<Vec<(Word, Word)>> {
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

    pub(super) fn arg(&self, args: &str, at: usize) -> Result<Vec<ArgDecl>> {
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
pub(super) fn unquote(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && *c != '\'').collect()
}
