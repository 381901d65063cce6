//! `.dockerignore`: the files of a build context that `COPY` and `ADD` do not see,
//! with Docker's rules (moby/patternmatcher, `dockerignore.ReadAll`):
//!
//! - one pattern per line; a line starting with `#` is a comment; blank lines are
//!   skipped; a leading `!` makes the pattern an exception (it includes again);
//! - patterns are cleaned like paths (`./a//b/` is `a/b`) and a leading `/` is dropped:
//!   they are relative to the context's root;
//! - `*` matches any run of characters but `/`, `?` one character but `/`, `[...]` a
//!   class (`[^...]` or `[!...]` negated, `a-z` ranges), `\` escapes the next
//!   character, and a `**` segment any number of directories (none included);
//! - a path is excluded when the last pattern matching it, or one of its parent
//!   directories, is not an exception.
//!
//! Written here rather than with `globset`: Docker's grammar is Go's `filepath.Match`
//! plus `**`, and globset reads `{a,b}` as alternatives where Docker sees a literal
//! brace; the whole grammar is the hundred lines below.

/// The parsed `.dockerignore` of a context.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ignore {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    /// The pattern's segments (split at `/`).
    segments: Vec<String>,
    /// `!pattern`: matching paths are included again.
    exception: bool,
}

impl Ignore {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Ignore {
        let mut rules = Vec::new();
        for line in text.lines() {
            if line.starts_with('#') {
                continue;
            }
            let mut p = line.trim();
            let exception = p.starts_with('!');
            if exception {
                p = p[1..].trim();
            }
            let segments: Vec<String> = clean(p);
            if segments.is_empty() {
                continue;
            }
            rules.push(Rule {
                segments,
                exception,
            });
        }
        Ignore { rules }
    }

    /// Whether some pattern is an exception: an excluded directory may then still hold
    /// included files, so it must be walked.
    pub fn has_exceptions(&self) -> bool {
        self.rules.iter().any(|r| r.exception)
    }

    /// Whether `path` (relative to the context, `/`-separated, no `.` or `..`) is
    /// excluded.
    pub fn excluded(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut out = false;
        for rule in &self.rules {
            // The path itself or one of its parents.
            let hit = (1..=parts.len()).any(|n| match_segments(&rule.segments, &parts[..n]));
            if hit {
                out = !rule.exception;
            }
        }
        out
    }
}

/// A pattern cleaned like Go's `filepath.Clean`, split at `/`, without a leading `/`.
fn clean(p: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s.to_owned()),
        }
    }
    out
}

/// Matches pattern segments against path segments; `**` takes zero or more of them.
fn match_segments(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((p, prest)) => {
                component(first.as_bytes(), p.as_bytes()) && match_segments(rest, prest)
            }
            None => false,
        },
    }
}

/// `filepath.Match` for one path component (no `/` on either side).
pub fn component(pat: &[u8], name: &[u8]) -> bool {
    match pat.first() {
        None => name.is_empty(),
        Some(b'*') => (0..=name.len()).any(|i| component(&pat[1..], &name[i..])),
        Some(b'?') => !name.is_empty() && component(&pat[1..], &name[1..]),
        Some(b'[') => {
            let Some((&c, rest)) = name.split_first() else {
                return false;
            };
            match class(&pat[1..], c) {
                Some((true, after)) => component(after, rest),
                _ => false,
            }
        }
        Some(b'\\') if pat.len() > 1 => {
            name.first() == Some(&pat[1]) && component(&pat[2..], &name[1..])
        }
        Some(&p) => name.first() == Some(&p) && component(&pat[1..], &name[1..]),
    }
}

/// Matches `c` against the class starting after `[`: whether it matched, and the
/// pattern after the closing `]`. `None` for a class without its `]` (matches nothing).
fn class(pat: &[u8], c: u8) -> Option<(bool, &[u8])> {
    let (negated, mut i) = match pat.first() {
        Some(b'^' | b'!') => (true, 1),
        _ => (false, 0),
    };
    let mut hit = false;
    let mut first = true;
    loop {
        let &lo = pat.get(i)?;
        if lo == b']' && !first {
            return Some((hit != negated, &pat[i + 1..]));
        }
        first = false;
        let lo = if lo == b'\\' {
            i += 1;
            *pat.get(i)?
        } else {
            lo
        };
        i += 1;
        if pat.get(i) == Some(&b'-') && pat.get(i + 1).is_some_and(|&h| h != b']') {
            let mut hi = pat[i + 1];
            i += 2;
            if hi == b'\\' {
                hi = *pat.get(i)?;
                i += 1;
            }
            hit |= lo <= c && c <= hi;
        } else {
            hit |= lo == c;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_match_like_filepath_match() {
        for (p, n) in [
            ("*", "abc"),
            ("a*c", "abbbc"),
            ("a?c", "abc"),
            ("[a-c]x", "bx"),
            ("[^a-c]x", "dx"),
            ("[!a]x", "bx"),
            ("\\*", "*"),
            ("{a,b}", "{a,b}"),
            ("*.md", ".md"),
        ] {
            assert!(component(p.as_bytes(), n.as_bytes()), "{p} ~ {n}");
        }
        for (p, n) in [
            ("a*c", "abd"),
            ("?", ""),
            ("[a-c]", "d"),
            ("[^a]", "a"),
            ("[ab", "a"),
            ("\\*", "a"),
        ] {
            assert!(!component(p.as_bytes(), n.as_bytes()), "{p} !~ {n}");
        }
    }

    #[test]
    fn rules_follow_docker() {
        let ig = Ignore::parse(
            "# comment\n\n*.log\n/build/\n**/secret.txt\ndocs\n!docs/keep.md\n  ./tmp//x  \n",
        );
        assert!(ig.has_exceptions());
        for p in [
            "a.log",
            "build",
            "build/out.bin",
            "secret.txt",
            "a/b/secret.txt",
            "docs/x.md",
            "tmp/x",
            "tmp/x/y",
        ] {
            assert!(ig.excluded(p), "{p}");
        }
        for p in [
            "a/a.log",
            "src/main.rs",
            "docs/keep.md",
            "tmp",
            "# comment",
            "secret.txt.bak",
        ] {
            assert!(!ig.excluded(p), "{p}");
        }
        // The last matching rule wins.
        let ig = Ignore::parse("!a\na\n");
        assert!(ig.excluded("a"));
        let ig = Ignore::parse("*\n!keep\n");
        assert!(!ig.excluded("keep") && ig.excluded("other") && ig.excluded("d/keep"));
        assert_eq!(Ignore::parse("# only\n\n"), Ignore::default());
    }
}
