//! Splitting an instruction's arguments: words with their quotes kept (as BuildKit's
//! `parseWords`), whitespace-separated lists, `--flag[=value]` prefixes and JSON
//! arrays. Offsets are byte offsets into the text given, for positions.

/// A piece of an instruction's text and the byte offset it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    /// Byte offset of the word's first character.
    pub start: usize,
    /// Byte offset just past the word's last character.
    pub end: usize,
    /// The word as written (quotes kept).
    pub text: String,
}

/// Splits at whitespace outside quotes, keeping quotes and escapes in the words (the
/// substitution removes them later). An escape character outside single quotes keeps
/// the next character with it, so `a\ b` is one word; one at the very end is dropped.
pub(super) fn split_words(s: &str, escape: char) -> Vec<Token> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut start = None;
    let mut quote = None;
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        match quote {
            None if c.is_whitespace() => {
                if let Some(start) = start.take() {
                    out.push(Token {
                        start,
                        end: i,
                        text: std::mem::take(&mut word),
                    });
                }
                continue;
            }
            None if c == '\'' || c == '"' => quote = Some(c),
            Some(q) if c == q => quote = None,
            _ => {}
        }
        start.get_or_insert(i);
        if c == escape && quote != Some('\'') {
            if let Some((_, next)) = chars.next() {
                word.push(c);
                word.push(next);
            }
            continue;
        }
        word.push(c);
    }
    if let Some(start) = start {
        out.push(Token {
            start,
            end: s.len(),
            text: word,
        });
    }
    out
}

/// Splits at runs of whitespace, nothing else (BuildKit's rule for `FROM`, and for
/// `COPY`, `ADD` and `VOLUME` outside the JSON form).
pub(super) fn split_whitespace(s: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(st)) => {
                out.push(Token {
                    start: st,
                    end: i,
                    text: s[st..i].to_owned(),
                });
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push(Token {
            start: st,
            end: s.len(),
            text: s[st..].to_owned(),
        });
    }
    out
}

/// A `--name` or `--name=value` before an instruction's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Flag {
    /// Byte offset of the leading `--`.
    pub start: usize,
    /// The name, without `--`.
    pub name: String,
    /// The value after `=`, as written (quotes kept), and its byte offset.
    pub value: Option<Token>,
}

/// Takes the `--flag` words at the start of `s`; returns them and the byte offset
/// where the arguments begin. A lone `--` ends the flags.
pub(super) fn take_flags(s: &str, escape: char) -> (Vec<Flag>, usize) {
    let mut flags = Vec::new();
    let mut at = 0;
    loop {
        let rest = &s[at..];
        let skipped = rest.len() - rest.trim_start().len();
        let word_start = at + skipped;
        let rest = &s[word_start..];
        if !rest.starts_with("--") {
            return (flags, word_start);
        }
        let Some(tok) = split_words(rest, escape).into_iter().next() else {
            return (flags, word_start);
        };
        let end = word_start + tok.end;
        if tok.text == "--" {
            return (flags, end);
        }
        let body = &tok.text[2..];
        let (name, value) = match body.split_once('=') {
            Some((name, value)) => (
                name,
                Some(Token {
                    start: word_start + 2 + name.len() + 1,
                    end,
                    text: value.to_owned(),
                }),
            ),
            None => (body, None),
        };
        flags.push(Flag {
            start: word_start,
            name: name.to_owned(),
            value,
        });
        at = end;
    }
}

/// What a `[`-leading argument text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Json {
    /// Not an attempt at a JSON array.
    No,
    /// A JSON array of strings.
    Array(Vec<String>),
    /// An attempt that failed: why.
    Bad(String),
}

/// Reads `s` as a JSON array of strings if it starts with `[`.
pub(super) fn json_array(s: &str) -> Json {
    let s = s.trim();
    if !s.starts_with('[') {
        return Json::No;
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(s) {
        Ok(values) => {
            let mut out = Vec::with_capacity(values.len());
            for v in values {
                match v {
                    serde_json::Value::String(s) => out.push(s),
                    other => return Json::Bad(format!("{other} is not a string")),
                }
            }
            Json::Array(out)
        }
        Err(e) => Json::Bad(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: &[Token]) -> Vec<&str> {
        tokens.iter().map(|t| t.text.as_str()).collect()
    }

    #[test]
    fn words_keep_quotes_and_escapes() {
        let w = split_words(r#"a=1 b="two words" c='x y'  d=\ e"#, '\\');
        assert_eq!(texts(&w), ["a=1", r#"b="two words""#, "c='x y'", r"d=\ e"]);
        assert_eq!(w[1].start, 4);
        let w = split_words("a=`  b c", '`');
        assert_eq!(texts(&w), ["a=` ", "b", "c"]);
        assert_eq!(texts(&split_words(r#"x="" y"#, '\\')), [r#"x="""#, "y"]);
    }

    #[test]
    fn flags_come_first_and_keep_offsets() {
        let s = "--from=builder --chmod=755  --link src dst";
        let (flags, args) = take_flags(s, '\\');
        assert_eq!(flags.len(), 3);
        assert_eq!(flags[0].name, "from");
        assert_eq!(flags[0].value.as_ref().unwrap().text, "builder");
        assert_eq!(flags[0].value.as_ref().unwrap().start, 7);
        assert_eq!(flags[2].name, "link");
        assert_eq!(flags[2].value, None);
        assert_eq!(&s[args..], "src dst");
        let (flags, args) = take_flags("-- --weird /x", '\\');
        assert!(flags.is_empty());
        assert_eq!(args, 2);
        let (flags, _) = take_flags(r#"--mount="type=cache,target=/a b" x"#, '\\');
        assert_eq!(
            flags[0].value.as_ref().unwrap().text,
            r#""type=cache,target=/a b""#
        );
    }

    #[test]
    fn json_arrays() {
        assert_eq!(
            json_array(r#" ["a", "b\u0041"] "#),
            Json::Array(vec!["a".into(), "bA".into()])
        );
        assert_eq!(json_array("echo [x]"), Json::No);
        assert!(matches!(json_array(r#"["a", ]"#), Json::Bad(_)));
        assert!(matches!(json_array("['a']"), Json::Bad(_)));
        assert_eq!(json_array("[1]"), Json::Bad("1 is not a string".into()));
    }

    #[test]
    fn whitespace_lists() {
        let w = split_whitespace("  a\tb   c ");
        assert_eq!(texts(&w), ["a", "b", "c"]);
        assert_eq!(w[1].start, 4);
    }
}
