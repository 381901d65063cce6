//! The deb822 control-file format shared by Release and Packages files.
//!
//! A file is a series of paragraphs separated by blank lines; a paragraph is a series
//! of `Name: value` fields, and a line starting with a space or tab continues the
//! previous field. Parsing borrows from the text (a Packages file is ~50 MB, so fields
//! are never copied), tracks line numbers for messages, and refuses malformed lines
//! instead of guessing.

/// One paragraph: its fields in order, borrowed from the file's text.
#[derive(Debug, Clone, Default)]
pub struct Paragraph<'a> {
    /// Line number (1-based) of the paragraph's first field.
    pub line: usize,
    /// `(name, value)`; the value is trimmed and, for multi-line fields, keeps its
    /// continuation lines (with their leading whitespace) after the first newline.
    pub fields: Vec<(&'a str, &'a str)>,
}

impl<'a> Paragraph<'a> {
    /// The value of field `name` (field names compare case-insensitively).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// A malformed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub reason: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// Iterates over the paragraphs of `text`. Lines may end in `\n` or `\r\n`.
pub fn paragraphs(text: &str) -> Paragraphs<'_> {
    Paragraphs {
        text,
        pos: 0,
        line: 0,
        failed: false,
    }
}

/// Iterator returned by [`paragraphs`]; stops after the first error.
pub struct Paragraphs<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
    failed: bool,
}

impl<'a> Paragraphs<'a> {
    /// The next line (without its line ending) and its start offset.
    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        let rest = &self.text[start..];
        let (line, advance) = match rest.find('\n') {
            Some(n) => (&rest[..n], n + 1),
            None => (rest, rest.len()),
        };
        self.pos += advance;
        self.line += 1;
        Some((start, line.strip_suffix('\r').unwrap_or(line)))
    }

    fn fail(&mut self, reason: String) -> Option<Result<Paragraph<'a>, ParseError>> {
        self.failed = true;
        Some(Err(ParseError {
            line: self.line,
            reason,
        }))
    }
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = Result<Paragraph<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let mut para = Paragraph::default();
        // Current field: name, value start offset, value end offset.
        let mut open: Option<(&'a str, usize, usize)> = None;
        while let Some((start, line)) = self.next_line() {
            if line.trim().is_empty() {
                if para.line == 0 {
                    continue; // blank lines before a paragraph
                }
                break;
            }
            if line.starts_with('#') && open.is_none() && para.line == 0 {
                continue; // comment before a paragraph
            }
            if line.starts_with([' ', '\t']) {
                match open.as_mut() {
                    Some((_, _, end)) => *end = start + line.len(),
                    None => {
                        return self.fail("continuation line without a field before it".into());
                    }
                }
                continue;
            }
            let Some(colon) = line.find(':') else {
                return self.fail(format!("expected 'Name: value', found '{}'", clip(line)));
            };
            let name = &line[..colon];
            if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
                return self.fail(format!("bad field name '{}'", clip(name)));
            }
            if let Some((n, s, e)) = open.take() {
                para.fields.push((n, self.text[s..e].trim()));
            }
            if para.line == 0 {
                para.line = self.line;
            }
            let vstart = start + colon + 1;
            open = Some((name, vstart, start + line.len()));
        }
        if let Some((n, s, e)) = open.take() {
            para.fields.push((n, self.text[s..e].trim()));
        }
        if para.fields.is_empty() {
            None
        } else {
            Some(Ok(para))
        }
    }
}

/// The first 60 characters of a line, for messages.
fn clip(s: &str) -> String {
    s.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_continuations_and_crlf() {
        let text = "\n# comment\nPackage: a\nVersion: 1.0\nDescription: short\n long line\n .\n\n\r\nPackage: b\r\nDepends: x,\r\n y\r\n";
        let ps: Vec<_> = paragraphs(text).collect::<Result<_, _>>().unwrap();
        assert_eq!(ps.len(), 2);
        assert_eq!(ps[0].line, 3);
        assert_eq!(ps[0].get("package"), Some("a"));
        assert_eq!(ps[0].get("Description"), Some("short\n long line\n ."));
        assert_eq!(ps[1].get("Depends"), Some("x,\r\n y"));
        assert_eq!(ps[1].get("Version"), None);
    }

    #[test]
    fn malformed_lines_are_errors_with_line_numbers() {
        let err = paragraphs("Package: a\nno colon here\n")
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("no colon here"), "{err}");
        let err = paragraphs(" orphan\n")
            .collect::<Result<Vec<_>, _>>()
            .unwrap_err();
        assert_eq!(err.line, 1);
        assert!(paragraphs("").next().is_none());
        assert!(paragraphs("\n\n  \n").next().is_none());
    }
}
