//! A small reader of git's configuration syntax (git-config(1), "CONFIGURATION FILE"),
//! enough to find the values that name paths: sections `[name]`, `[name "sub"]` and
//! the old `[name.sub]`, `key = value` and bare boolean keys, a key after a header on
//! the same line, comments (`#`, `;`), quotes, the escapes `\n \t \b \" \\`, a
//! backslash before the end of the line continuing the value, blanks inside a value
//! turned into spaces as git turns them, trailing blanks dropped. What git would reject
//! is skipped line by line; nothing here fails.
//!
//! Written here rather than taken from gitoxide's `gix-config`: that crate brings a
//! dozen more (its `gix-*` helpers, `winnow`, `bstr`) into a binary that reads two or
//! three small files on every launch of the git recipe, for a handful of keys.

/// One variable of a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Section name, lowercase.
    pub section: String,
    /// Subsection, as written (`[remote "origin"]`); lowercase in the old
    /// `[section.sub]` form, as git has it.
    pub subsection: Option<Vec<u8>>,
    /// Key, lowercase.
    pub key: String,
    /// The value; None for a bare key (`[core] bare`), which means true.
    pub value: Option<Vec<u8>>,
}

impl Entry {
    /// Whether this is `section.key` (any subsection), names compared without case.
    pub fn is(&self, section: &str, key: &str) -> bool {
        self.section.eq_ignore_ascii_case(section) && self.key.eq_ignore_ascii_case(key)
    }
}

/// The variables of configuration text `text`, in order.
pub fn parse(text: &[u8]) -> Vec<Entry> {
    let mut r = Reader { s: text, i: 0 };
    let mut out = Vec::new();
    let mut section = String::new();
    let mut subsection = None;
    loop {
        r.blanks();
        match r.peek() {
            None => break,
            Some(b'\n') => r.i += 1,
            Some(b'#' | b';') => r.line(),
            Some(b'[') => {
                r.i += 1;
                match r.header() {
                    Some((s, sub)) => (section, subsection) = (s, sub),
                    None => {
                        section.clear();
                        r.line();
                    }
                }
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let key = r.name();
                r.blanks();
                let value = match r.peek() {
                    None | Some(b'\n' | b'\r' | b'#' | b';') => None,
                    Some(b'=') => {
                        r.i += 1;
                        Some(r.value())
                    }
                    Some(_) => {
                        r.line();
                        continue;
                    }
                };
                if !section.is_empty() {
                    out.push(Entry {
                        section: section.clone(),
                        subsection: subsection.clone(),
                        key,
                        value,
                    });
                }
                if r.peek() != Some(b'\n') {
                    r.line();
                }
            }
            Some(_) => r.line(),
        }
    }
    out
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.i += 1;
        Some(c)
    }

    /// Skips spaces and tabs.
    fn blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Skips to the start of the next line.
    fn line(&mut self) {
        while let Some(c) = self.next() {
            if c == b'\n' {
                break;
            }
        }
    }

    /// A key name, lowercase: letters, digits and `-`.
    fn name(&mut self) -> String {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'-') {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).to_ascii_lowercase()
    }

    /// After `[`: the section and subsection, up to and including `]`.
    fn header(&mut self) -> Option<(String, Option<Vec<u8>>)> {
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == b'-' || c == b'.')
        {
            self.i += 1;
        }
        let name = String::from_utf8_lossy(&self.s[start..self.i]).to_ascii_lowercase();
        if name.is_empty() {
            return None;
        }
        match self.next()? {
            b']' => Some(match name.split_once('.') {
                Some((s, sub)) => (s.to_owned(), Some(sub.as_bytes().to_vec())),
                None => (name, None),
            }),
            b' ' | b'\t' => {
                self.blanks();
                if self.next()? != b'"' || name.contains('.') {
                    return None;
                }
                let mut sub = Vec::new();
                loop {
                    match self.next()? {
                        b'\n' => return None,
                        b'"' => break,
                        b'\\' => sub.push(self.next().filter(|&c| c != b'\n')?),
                        c => sub.push(c),
                    }
                }
                (self.next()? == b']').then_some((name, Some(sub)))
            }
            _ => None,
        }
    }

    /// After `=`: the value, up to the end of its (last) line, which is not consumed.
    fn value(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut quoted = false;
        // Blanks seen since the last character kept: written as spaces before the
        // next one, dropped at the end (git's rule).
        let mut pending = 0usize;
        self.blanks();
        while let Some(c) = self.peek() {
            match c {
                b'\n' => break,
                b'\r' if self.s.get(self.i + 1) == Some(&b'\n') => {
                    self.i += 1;
                    continue;
                }
                b' ' | b'\t' if !quoted => {
                    if !out.is_empty() {
                        pending += 1;
                    }
                    self.i += 1;
                    continue;
                }
                b'#' | b';' if !quoted => break,
                _ => {}
            }
            self.i += 1;
            let kept = match c {
                b'"' => {
                    quoted = !quoted;
                    None
                }
                b'\\' => match self.next() {
                    // A continuation: the value goes on on the next line.
                    Some(b'\n') => None,
                    Some(b'\r') if self.peek() == Some(b'\n') => {
                        self.i += 1;
                        None
                    }
                    Some(b'n') => Some(b'\n'),
                    Some(b't') => Some(b'\t'),
                    Some(b'b') => {
                        out.pop();
                        None
                    }
                    Some(other) => Some(other),
                    None => None,
                },
                c => Some(c),
            };
            if kept.is_some() || c == b'"' {
                out.extend(std::iter::repeat_n(b' ', pending));
                pending = 0;
            }
            out.extend(kept);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(String, Option<String>, String, Option<String>)> {
        parse(text.as_bytes())
            .into_iter()
            .map(|e| {
                let s = |v: Option<Vec<u8>>| v.map(|v| String::from_utf8(v).unwrap());
                (e.section, s(e.subsection), e.key, s(e.value))
            })
            .collect()
    }

    fn one(text: &str) -> String {
        let e = parse(text.as_bytes());
        assert_eq!(e.len(), 1, "{text:?}: {e:?}");
        String::from_utf8(e[0].value.clone().unwrap()).unwrap()
    }

    #[test]
    fn sections_subsections_and_keys() {
        let got = entries(
            "# comment\n[Core]\n\tExcludesFile = ~/.gitignore_global\n  bare\n\
             [remote \"Origin\"] url = /srv/x.git\n[includeIf \"gitdir:~/w/\"]\npath=w.inc\n\
             [old.Sub]\nkey = v ; comment\n[bad\nlost = 1\n",
        );
        let t = |a: &str, b: Option<&str>, c: &str, d: Option<&str>| {
            (
                a.to_owned(),
                b.map(str::to_owned),
                c.to_owned(),
                d.map(str::to_owned),
            )
        };
        assert_eq!(
            got,
            [
                t("core", None, "excludesfile", Some("~/.gitignore_global")),
                t("core", None, "bare", None),
                t("remote", Some("Origin"), "url", Some("/srv/x.git")),
                t("includeif", Some("gitdir:~/w/"), "path", Some("w.inc")),
                t("old", Some("sub"), "key", Some("v")),
            ]
        );
    }

    #[test]
    fn values_as_git_reads_them() {
        assert_eq!(
            one("[a]\nb = \"  quoted # not a comment \"\n"),
            "  quoted # not a comment "
        );
        assert_eq!(one("[a]\nb = one\t two   # c\n"), "one  two");
        assert_eq!(one("[a]\nb = x\\\n  y\n"), "x  y");
        assert_eq!(one("[a]\nb = a\\tb\\\\c\\\"d\\n\n"), "a\tb\\c\"d\n");
        assert_eq!(one("[a]\r\nb = crlf\r\n"), "crlf");
        assert_eq!(one("[a]\nb = \"x\"\"y\"\n"), "xy");
        assert_eq!(one("[a]\nb =\n"), "");
    }

    #[test]
    fn broken_lines_are_skipped_not_fatal() {
        let got = entries("[a]\n= x\n!bad\nk = 1\n[\"x\"]\nlost = 2\n[s \"unterminated]\nz = 3\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].2, "k");
    }
}
