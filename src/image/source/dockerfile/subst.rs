//! Variable substitution as Docker does it (BuildKit's `shell/lex.go`, `ProcessWord`):
//! quotes and escapes are removed, `$VAR` and `${VAR}` replaced, and the `${VAR...}`
//! forms `:-` `-` `:+` `+` `:?` `?` applied. Nothing is ever run: `$(...)` and
//! backticks stay text. An unset variable expands to nothing; the caller is told its
//! name so it can warn. Pattern forms (`${VAR#x}`, `${VAR%x}`, `${VAR/x/y}`) are
//! refused rather than half done.

/// The text after substitution, and the unset variables it named plainly (`$X`,
/// `${X}`; not `${X:-...}`, whose author expected it to be unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Expanded {
    /// The result.
    pub text: String,
    /// The unset variables named, each once.
    pub unset: Vec<String>,
}

/// A substitution jig cannot do: at which character of the text, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct SubstError {
    /// Character offset in the text.
    pub at: usize,
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: Option<String>,
}

/// How the text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// An instruction's argument: quotes and escapes are syntax.
    Word,
    /// A heredoc body: quotes are text; `\` escapes only `$`, `` ` ``, `\` and a
    /// newline, as in a shell heredoc.
    Heredoc,
}

/// Substitutes the variables `vars` knows in `text`.
pub(super) fn expand(
    text: &str,
    escape: char,
    mode: Mode,
    vars: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, SubstError> {
    let mut lx = Lexer {
        chars: text.chars().collect(),
        i: 0,
        escape: if mode == Mode::Heredoc { '\\' } else { escape },
        mode,
        vars,
        unset: Vec::new(),
    };
    let text = lx.until(None, 0)?;
    Ok(Expanded {
        text,
        unset: lx.unset,
    })
}

struct Lexer<'a> {
    chars: Vec<char>,
    i: usize,
    escape: char,
    mode: Mode,
    vars: &'a dyn Fn(&str) -> Option<String>,
    unset: Vec<String>,
}

const SPECIAL: &str = "@*#?-$!0";

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.i += c.is_some() as usize;
        c
    }

    fn error(&self, at: usize, message: impl Into<String>) -> SubstError {
        SubstError {
            at,
            message: message.into(),
            hint: None,
        }
    }

    /// Reads up to `stop` (consumed) or the end; a missing `stop` is reported at
    /// `open`, the `$` of the `${` it closes.
    fn until(&mut self, stop: Option<char>, open: usize) -> Result<String, SubstError> {
        let mut out = String::new();
        let word = self.mode == Mode::Word;
        loop {
            let Some(c) = self.peek() else {
                return match stop {
                    None => Ok(out),
                    Some(_) => Err(self.error(open, "missing '}'")),
                };
            };
            if Some(c) == stop {
                self.i += 1;
                return Ok(out);
            }
            match c {
                '\'' if word => out.push_str(&self.single_quoted()?),
                '"' if word => out.push_str(&self.double_quoted()?),
                '$' => out.push_str(&self.dollar()?),
                c if c == self.escape => {
                    self.i += 1;
                    match (self.mode, self.next()) {
                        (_, None) => {}
                        (Mode::Word, Some(n)) => out.push(n),
                        (Mode::Heredoc, Some('\n')) => {}
                        (Mode::Heredoc, Some(n)) if "$`\\".contains(n) => out.push(n),
                        (Mode::Heredoc, Some(n)) => {
                            out.push('\\');
                            out.push(n);
                        }
                    }
                }
                c => {
                    self.i += 1;
                    out.push(c);
                }
            }
        }
    }

    fn single_quoted(&mut self) -> Result<String, SubstError> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => return Err(self.error(start, "unterminated single quote")),
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quoted(&mut self) -> Result<String, SubstError> {
        let start = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.error(start, "unterminated double quote")),
                Some('"') => {
                    self.i += 1;
                    return Ok(out);
                }
                Some('$') => out.push_str(&self.dollar()?),
                Some(c) => {
                    self.i += 1;
                    if c == self.escape {
                        match self.peek() {
                            None => continue,
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                self.i += 1;
                                out.push(n);
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    out.push(c);
                }
            }
        }
    }

    fn lookup(&mut self, name: &str, note_unset: bool) -> Option<String> {
        let value = (self.vars)(name);
        if value.is_none() && note_unset && !self.unset.iter().any(|n| n == name) {
            self.unset.push(name.to_owned());
        }
        value
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(c) = self.peek().filter(char::is_ascii_digit) {
                    name.push(c);
                    self.i += 1;
                }
            }
            Some(c) if SPECIAL.contains(c) => {
                name.push(c);
                self.i += 1;
            }
            _ => {
                while let Some(c) = self.peek().filter(|&c| c.is_alphanumeric() || c == '_') {
                    name.push(c);
                    self.i += 1;
                }
            }
        }
        name
    }

    fn dollar(&mut self) -> Result<String, SubstError> {
        let start = self.i;
        self.i += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            let plain = !name.starts_with(|c: char| c.is_ascii_digit() || SPECIAL.contains(c));
            return Ok(self.lookup(&name, plain).unwrap_or_default());
        }
        self.i += 1;
        let bad = |lx: &Self, what: &str| {
            let mut e = lx.error(start, what);
            e.hint = Some(
                "jig substitutes $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alternative} and ${VAR:?message} (also without the colon)".into(),
            );
            e
        };
        match self.peek() {
            None => return Err(self.error(start, "missing '}'")),
            Some('{' | '}' | ':') => return Err(bad(self, "bad substitution")),
            Some('#') if self.chars.get(self.i + 1).is_some_and(|c| *c != '}') => {
                return Err(bad(self, "${#VAR} (length) is not supported"));
            }
            _ => {}
        }
        let name = self.name();
        if name.is_empty() {
            return Err(bad(self, "bad substitution"));
        }
        let (colon, op) = match self.next() {
            None => return Err(self.error(start, "missing '}'")),
            Some('}') => return Ok(self.lookup(&name, true).unwrap_or_default()),
            Some(':') => (true, self.next()),
            Some(c) => (false, Some(c)),
        };
        match op {
            Some('-' | '+' | '?') => {}
            Some(c @ ('#' | '%' | '/' | '^' | ',')) => {
                return Err(bad(
                    self,
                    format!("${{{name}{c}...}} (patterns) is not supported").as_str(),
                ));
            }
            None => return Err(self.error(start, "missing '}'")),
            Some(_) => return Err(bad(self, "bad substitution")),
        }
        let word = self.until(Some('}'), start)?;
        let value = self.lookup(&name, false);
        // With the colon, an empty value counts as unset.
        let set = match &value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        match op {
            Some('-') => Ok(if set { value.unwrap_or_default() } else { word }),
            Some('+') => Ok(if set { word } else { String::new() }),
            _ if set => Ok(value.unwrap_or_default()),
            _ => {
                let why = if word.is_empty() {
                    "it is not set".to_owned()
                } else {
                    word
                };
                Err(SubstError {
                    at: start,
                    message: format!("{name}: {why}"),
                    hint: Some(format!("pass a value with a build argument {name}=...")),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "A" => Some("a".into()),
            "EMPTY" => Some(String::new()),
            "SP" => Some("x y".into()),
            _ => None,
        }
    }

    fn ex(text: &str) -> String {
        expand(text, '\\', Mode::Word, &vars).unwrap().text
    }

    fn err(text: &str) -> SubstError {
        expand(text, '\\', Mode::Word, &vars).unwrap_err()
    }

    #[test]
    fn plain_references() {
        assert_eq!(ex("$A/${A}/$A_x/${SP}"), "a/a//x y");
        assert_eq!(ex("$ $1 $@ a$"), "$   a$");
        assert_eq!(ex("$(git rev-parse) `id`"), "$(git rev-parse) `id`");
        let e = expand("$NOPE ${NOPE} ${NOPE:-d} $1", '\\', Mode::Word, &vars).unwrap();
        assert_eq!(e.text, "  d ");
        assert_eq!(e.unset, ["NOPE"]);
    }

    #[test]
    fn modifiers() {
        assert_eq!(
            ex("${A:-d} ${EMPTY:-d} ${NOPE:-d} ${EMPTY-d} ${NOPE-d}"),
            "a d d  d"
        );
        assert_eq!(ex("${A:+x} ${EMPTY:+x} ${NOPE:+x} ${EMPTY+x}"), "x   x");
        assert_eq!(ex("${NOPE:-${A}-$A}"), "a-a");
        assert_eq!(ex("${A:?must}"), "a");
        let e = err("x ${NOPE:?give it}");
        assert_eq!((e.at, e.message.as_str()), (2, "NOPE: give it"));
        assert_eq!(err("${EMPTY:?}").message, "EMPTY: it is not set");
        assert_eq!(ex("${EMPTY?}"), "");
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(
            ex(r#""$A b" '$A b' \$A \"x\" a\ b"#),
            r#"a b $A b $A "x" a b"#
        );
        assert_eq!(ex(r#""\a \$ \" \\""#), r#"\a $ " \"#);
        assert_eq!(ex(r"end\"), "end");
        assert_eq!(
            expand("`$A ``", '`', Mode::Word, &vars).unwrap().text,
            "$A `"
        );
        assert_eq!(
            expand("say \"$A\" '\\$A' \\\\ \\x", '\\', Mode::Heredoc, &vars)
                .unwrap()
                .text,
            "say \"a\" '$A' \\ \\x"
        );
    }

    #[test]
    fn refusals() {
        assert_eq!(err("ab ${A").message, "missing '}'");
        assert_eq!(err("x ${A:-x").message, "missing '}'");
        assert_eq!(err("x ${A:-x").at, 2);
        assert_eq!(err("${}").message, "bad substitution");
        assert_eq!(err("${:-x}").message, "bad substitution");
        let e = err("v=${A#prefix}");
        assert_eq!(e.at, 2);
        assert!(e.message.contains("patterns"), "{e:?}");
        assert!(e.hint.unwrap().contains("${VAR:-default}"));
        assert!(err("${#A}").message.contains("length"));
        assert!(err("${A:1}").message.contains("bad substitution"));
        assert_eq!(err("'open").message, "unterminated single quote");
        assert_eq!(err("x \"open").at, 2);
    }
}
