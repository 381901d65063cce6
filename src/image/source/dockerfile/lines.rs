//! From text to logical lines, by BuildKit's rules: a byte-order mark and CRLF endings
//! dropped; parser directives (`# escape=`` `, `# syntax=...`) read at the top only;
//! blank and comment lines skipped; continuations (the escape character last on a
//! line) joined, with the comment and blank lines inside them dropped and the
//! indentation of continued lines kept; and the bodies of heredocs taken from the
//! lines after a `RUN`, `COPY` or `ADD` that names them. Each logical line keeps a map
//! from its text back to file positions.

use super::instruction::Heredoc;
use super::model::{Error, Note, Pos};
use super::words::{self, Json};

/// One instruction's text, joined from its physical lines.
#[derive(Debug)]
pub(super) struct Logical {
    /// The joined text, leading whitespace of the first line removed.
    pub text: String,
    /// Where each piece of `text` came from, in order.
    segs: Vec<Seg>,
    /// The heredocs the line names, bodies read.
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug)]
struct Seg {
    /// Byte offset in the joined text.
    offset: usize,
    /// Where that byte is in the file.
    pos: Pos,
}

impl Logical {
    /// The line the instruction starts on.
    pub fn line(&self) -> usize {
        self.segs[0].pos.line
    }

    /// The file position of byte `offset` of [`Logical::text`].
    pub fn pos(&self, offset: usize) -> Pos {
        let seg = self
            .segs
            .iter()
            .rev()
            .find(|s| s.offset <= offset)
            .unwrap_or(&self.segs[0]);
        let end = offset.min(self.text.len());
        let chars = self
            .text
            .get(seg.offset..end)
            .map_or(0, |t| t.chars().count());
        seg.pos.advance(chars)
    }

    fn push(&mut self, piece: &str, pos: Pos) {
        self.segs.push(Seg {
            offset: self.text.len(),
            pos,
        });
        self.text.push_str(piece);
    }
}

/// A scanned Dockerfile.
#[derive(Debug)]
pub(super) struct Lines {
    /// The escape character in force.
    pub escape: char,
    /// The instructions' lines.
    pub lines: Vec<Logical>,
    /// Notes about ignored directives.
    pub notes: Vec<Note>,
}

/// Scans `text` into logical lines.
pub(super) fn scan(text: &str, file: &str) -> Result<Lines, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let phys: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut escape = '\\';
    let mut notes = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let mut n = 0;
    while let Some((key, value, col)) = phys.get(n).and_then(|l| directive(l)) {
        let key = key.to_ascii_lowercase();
        if !["escape", "syntax", "check"].contains(&key.as_str()) {
            break;
        }
        let pos = Pos { line: n + 1, col };
        if seen.contains(&key) {
            return Err(Error::new(file, pos, format!("a second {key} directive"))
                .hint("each parser directive may appear once, at the top"));
        }
        match key.as_str() {
            "escape" => {
                escape = match value {
                    "\\" => '\\',
                    "`" => '`',
                    _ => {
                        return Err(Error::new(
                            file,
                            pos,
                            format!("invalid escape character '{value}'"),
                        )
                        .hint("the escape directive takes \\ or `"));
                    }
                }
            }
            "syntax" => notes.push(Note::at(
                n + 1,
                format!(
                    "the syntax directive ({value}) is ignored: jig reads the Dockerfile itself"
                ),
            )),
            _ => notes.push(Note::at(
                n + 1,
                "the check directive is ignored: jig runs no Dockerfile checks",
            )),
        }
        seen.push(key);
        n += 1;
    }

    let mut lines = Vec::new();
    while n < phys.len() {
        let line = phys[n];
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            n += 1;
            continue;
        }
        let mut logical = Logical {
            text: String::new(),
            segs: Vec::new(),
            heredocs: Vec::new(),
        };
        let (piece, mut more) = continued(trimmed, escape);
        logical.push(piece, position(n + 1, line, line.len() - trimmed.len()));
        n += 1;
        while more && n < phys.len() {
            let line = phys[n];
            n += 1;
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            let (piece, m) = continued(line, escape);
            logical.push(piece, Pos { line: n, col: 1 });
            more = m;
        }
        if heredocs_allowed(&logical.text, escape) {
            let toks = words::split_words(&logical.text, escape);
            for (i, tok) in toks.iter().enumerate() {
                // `<< EOF`: BuildKit reads the word after a lone `<<` as its delimiter.
                let lone = tok.text.trim_start_matches(|c: char| c.is_ascii_digit()) == "<<";
                let word = match toks.get(i + 1) {
                    Some(next) if lone => &logical.text[tok.start..next.end],
                    _ => tok.text.as_str(),
                };
                let Some(m) = marker(word) else { continue };
                let pos = logical.pos(tok.start);
                let body_line = n + 1;
                let mut content = String::new();
                let mut ended = false;
                while n < phys.len() {
                    let l = phys[n];
                    n += 1;
                    let candidate = if m.chomp {
                        l.trim_start_matches('\t')
                    } else {
                        l
                    };
                    if candidate == m.name {
                        ended = true;
                        break;
                    }
                    content.push_str(l);
                    content.push('\n');
                }
                if !ended {
                    return Err(Error::new(
                        file,
                        pos,
                        format!("here-document {} has no end", m.marker),
                    )
                    .hint(format!(
                        "end it with a line holding only {} (after the instruction's last line)",
                        m.name
                    )));
                }
                logical.heredocs.push(Heredoc {
                    marker: m.marker,
                    name: m.name,
                    content,
                    expand: m.expand,
                    chomp: m.chomp,
                    pos,
                    body_line,
                });
            }
        }
        lines.push(logical);
    }
    Ok(Lines {
        escape,
        lines,
        notes,
    })
}

/// `# key=value` at the top of the file: the key, the value and the value's column.
fn directive(line: &str) -> Option<(&str, &str, usize)> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let key_len = rest
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(rest.len(), |(i, _)| i);
    if key_len == 0 {
        return None;
    }
    let (key, rest) = rest.split_at(key_len);
    let value = rest.trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    let offset = line.len() - line.trim_start_matches(|c| c != '=').len() + 1;
    let value_start = offset + (line[offset..].len() - line[offset..].trim_start().len());
    Some((key, value, line[..value_start].chars().count() + 1))
}

/// Position of byte `byte` of a physical line.
fn position(line: usize, text: &str, byte: usize) -> Pos {
    Pos {
        line,
        col: text[..byte].chars().count() + 1,
    }
}

/// Splits off a trailing continuation: the escape character last on the line (spaces
/// and tabs may follow it), unless it is itself escaped.
fn continued(line: &str, escape: char) -> (&str, bool) {
    let t = line.trim_end_matches([' ', '\t']);
    if let Some(before) = t.strip_suffix(escape) {
        if !before.ends_with(escape) {
            return (before, true);
        }
    }
    (line, false)
}

/// Whether the instruction may name heredocs: `RUN`, `COPY`, `ADD` (also behind
/// `ONBUILD`), outside the JSON form.
fn heredocs_allowed(text: &str, escape: char) -> bool {
    let (kw, rest) = keyword(text);
    let (kw, rest) = if kw.eq_ignore_ascii_case("ONBUILD") {
        keyword(rest)
    } else {
        (kw, rest)
    };
    if !["RUN", "COPY", "ADD"]
        .iter()
        .any(|k| kw.eq_ignore_ascii_case(k))
    {
        return false;
    }
    let (_, args) = words::take_flags(rest, escape);
    !matches!(words::json_array(&rest[args..]), Json::Array(_))
}

fn keyword(text: &str) -> (&str, &str) {
    let t = text.trim_start();
    t.split_at(t.find(char::is_whitespace).unwrap_or(t.len()))
}

/// A heredoc marker word: `[n]<<[-]DELIM`.
#[derive(Debug, PartialEq, Eq)]
struct Marker {
    marker: String,
    name: String,
    expand: bool,
    chomp: bool,
}

/// Reads a word as a heredoc marker (`<< EOF` too, joined by the caller). The
/// delimiter ends at a shell operator, as in the shell; any quoting in it (`'EOF'`,
/// `"EOF"`, `\EOF`) turns expansion off.
fn marker(word: &str) -> Option<Marker> {
    let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let rest = after_fd.strip_prefix("<<")?;
    let (chomp, rest) = match rest.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, rest.trim_start()),
    };
    let mut name = String::new();
    let mut quoted = false;
    let mut quote = None;
    let mut end = rest.len();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some('"') if c == '\\' => {
                if let Some((_, n)) = chars.next() {
                    name.push(n);
                }
            }
            Some(_) => name.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                quoted = true;
            }
            None if c == '\\' => {
                quoted = true;
                if let Some((_, n)) = chars.next() {
                    name.push(n);
                }
            }
            None if "<>|;&()".contains(c) => {
                end = i;
                break;
            }
            None => name.push(c),
        }
    }
    if name.is_empty() || rest.starts_with('<') {
        return None;
    }
    Some(Marker {
        marker: word[..word.len() - rest.len() + end].to_owned(),
        name,
        expand: !quoted,
        chomp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers() {
        let m = marker("<<EOF").unwrap();
        assert_eq!((m.name.as_str(), m.expand, m.chomp), ("EOF", true, false));
        let m = marker("<<-'EOT'").unwrap();
        assert_eq!((m.name.as_str(), m.expand, m.chomp), ("EOT", false, true));
        let m = marker("3<<\"A B\"").unwrap();
        assert_eq!((m.name.as_str(), m.expand), ("A B", false));
        let m = marker("<<EOF>/etc/x").unwrap();
        assert_eq!((m.name.as_str(), m.marker.as_str()), ("EOF", "<<EOF"));
        let m = marker("<<  'EOF'").unwrap();
        assert_eq!(
            (m.name.as_str(), m.marker.as_str(), m.expand),
            ("EOF", "<<  'EOF'", false)
        );
        assert_eq!(marker("<<<here"), None);
        assert_eq!(marker("<<"), None);
        assert_eq!(marker("a<<EOF"), None);
        assert_eq!(marker("\"<<EOF\""), None);
    }

    #[test]
    fn directives() {
        assert_eq!(directive("# escape=`"), Some(("escape", "`", 10)));
        assert_eq!(
            directive("#syntax = docker/dockerfile:1 "),
            Some(("syntax", "docker/dockerfile:1", 11))
        );
        assert_eq!(directive("# just a comment"), None);
        assert_eq!(directive("FROM x"), None);
    }

    #[test]
    fn continuations_and_positions() {
        let text = "FROM x\n  RUN a \\\n# note\n\n    b \\  \n c\nCMD [\"x\"]\n";
        let lines = scan(text, "Dockerfile").unwrap();
        assert_eq!(lines.lines.len(), 3);
        let run = &lines.lines[1];
        assert_eq!(run.text, "RUN a     b  c");
        assert_eq!(run.line(), 2);
        assert_eq!(run.pos(0), Pos { line: 2, col: 3 });
        assert_eq!(run.pos(10), Pos { line: 5, col: 5 });
        assert_eq!(run.pos(13), Pos { line: 6, col: 2 });
        assert_eq!(lines.lines[2].line(), 7);
        // An escaped escape is no continuation.
        assert_eq!(continued(r"echo \\", '\\'), (r"echo \\", false));
        assert_eq!(continued("a `", '`'), ("a ", true));
    }

    #[test]
    fn heredoc_bodies_follow_the_whole_instruction() {
        let text =
            "FROM x\nRUN <<A cat >/a && \\\n  <<-B cat >/b\nx\r\nA\n\ty\n\tB\nRUN [\"<<C\"]\n";
        let lines = scan(text, "Dockerfile").unwrap();
        let run = &lines.lines[1];
        assert_eq!(run.heredocs.len(), 2);
        assert_eq!(run.heredocs[0].content, "x\n");
        assert_eq!(run.heredocs[0].body_line, 4);
        assert_eq!(run.heredocs[1].content, "\ty\n");
        assert_eq!(run.heredocs[1].text(), "y\n");
        assert_eq!(run.heredocs[1].pos, Pos { line: 3, col: 3 });
        assert!(
            lines.lines[2].heredocs.is_empty(),
            "no heredocs in the JSON form"
        );
    }
}
