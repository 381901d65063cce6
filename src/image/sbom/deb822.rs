//! A tolerant reader of deb822 text (dpkg's status file, machine-readable copyright
//! files): paragraphs separated by blank lines, each a list of `Name: value` fields
//! whose values continue on lines starting with a space or a tab.
//!
//! It only reads, and never fails: a line that is neither a field nor a continuation
//! is skipped, as are `#` comment lines. Field names compare case-insensitively.

/// One paragraph: its fields in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Paragraph {
    fields: Vec<(String, String)>,
}

impl Paragraph {
    /// The value of the first field called `name`: its first line trimmed, then each
    /// continuation line trimmed on its own line (a lone `.` standing for an empty one).
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits `text` into its paragraphs.
pub(super) fn parse(text: &str) -> Vec<Paragraph> {
    let mut paragraphs = Vec::new();
    let mut current = Paragraph::default();
    // Whether the last line was a field (or its continuation) a continuation may extend.
    let mut open = false;
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.fields.is_empty() {
                paragraphs.push(std::mem::take(&mut current));
            }
            open = false;
        } else if line.starts_with([' ', '\t']) {
            if open {
                let value = &mut current.fields.last_mut().expect("open field").1;
                let line = line.trim();
                value.push('\n');
                value.push_str(if line == "." { "" } else { line });
            }
        } else if line.starts_with('#') {
            // A comment; it does not end the field before it.
        } else if let Some((name, value)) = line.split_once(':') {
            let name = name.trim();
            open = !name.is_empty() && !name.contains(char::is_whitespace);
            if open {
                current
                    .fields
                    .push((name.to_owned(), value.trim().to_owned()));
            }
        } else {
            open = false;
        }
    }
    if !current.fields.is_empty() {
        paragraphs.push(current);
    }
    paragraphs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbom_deb822_paragraphs_fields_and_continuations() {
        let text = "Package: a\nversion:  1.0 \nDescription: short\n long\n .\n\tmore\n\n\n\
                    # comment\nPackage: b\n# inside\n  continued\nbad line\n  orphan\n: no name\n\
                    two words: x\nStatus: ok\n \n";
        let p = parse(text);
        assert_eq!(p.len(), 2, "{p:?}");
        assert_eq!(p[0].get("package"), Some("a"));
        assert_eq!(p[0].get("Version"), Some("1.0"));
        assert_eq!(p[0].get("Description"), Some("short\nlong\n\nmore"));
        assert_eq!(p[1].get("Package"), Some("b\ncontinued"));
        assert_eq!(p[1].get("Status"), Some("ok"));
        assert_eq!(p[1].get("two words"), None);
        assert_eq!(p[1].get(""), None);
    }

    #[test]
    fn sbom_deb822_tolerates_garbage() {
        assert!(parse("").is_empty());
        assert!(parse("\n\n \t\n").is_empty());
        let p = parse("\u{0}\u{1}:\u{2}\n\u{fffd}x: y\r\n z\r\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].get("\u{fffd}x"), Some("y\nz"));
    }
}
