//! How the listing commands (`jig list`, `jig images`) print their rows: on a terminal,
//! aligned columns under a header; through a pipe or into a file, one line per row of
//! tab-separated fields and no header, for `cut` and `awk`; with `--json`, a JSON array
//! (the command serializes it).
//!
//! Colour only on a terminal, and never when `NO_COLOR` is set (or `TERM=dumb`, or
//! `CLICOLOR=0`): the decision is anstream's, the crate clap's own help uses. Columns
//! are aligned by tabwriter (elastic tabstops, display widths, escape codes not
//! counted). Fields come from recipes and registries, which may be hostile: control
//! characters in them (an escape sequence, a tab, a newline) are printed as escapes,
//! so a field can neither rewrite the terminal nor break the tab-separated format.

use std::io::{self, IsTerminal, Write};

use anstyle::Style;

/// Where the rows go and how they look there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Output {
    /// A terminal: a header, aligned columns, `colour` when allowed.
    Terminal { colour: bool },
    /// A pipe or a file: tab-separated fields, no header.
    Plain,
    /// `--json`.
    Json,
}

impl Output {
    /// The output for stdout: JSON when asked, else by whether stdout is a terminal.
    pub(super) fn detect(json: bool) -> Output {
        let stdout = io::stdout();
        if json {
            Output::Json
        } else if stdout.is_terminal() {
            let colour = anstream::AutoStream::choice(&stdout) == anstream::ColorChoice::Always;
            Output::Terminal { colour }
        } else {
            Output::Plain
        }
    }
}

/// Rows under a header, printed as [`Output`] says.
#[derive(Debug)]
pub(super) struct Table {
    header: &'static [&'static str],
    rows: Vec<Vec<Cell>>,
}

/// One field and how it is shown on a colour terminal.
#[derive(Debug)]
pub(super) struct Cell {
    text: String,
    style: Style,
}

impl Cell {
    /// A field shown as it is.
    pub(super) fn plain(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: Style::new(),
        }
    }

    /// A field of less interest (`-`, a digest), dimmed on a colour terminal.
    pub(super) fn dim(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: Style::new().dimmed(),
        }
    }

    /// A field that names the row, bold on a colour terminal.
    pub(super) fn name(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            style: Style::new().bold(),
        }
    }
}

impl Table {
    /// An empty table with these column names.
    pub(super) fn new(header: &'static [&'static str]) -> Table {
        Table {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds a row (as many cells as the header has names).
    pub(super) fn row(&mut self, cells: Vec<Cell>) {
        debug_assert_eq!(cells.len(), self.header.len());
        self.rows.push(cells);
    }

    /// Writes the table to `out` for `output` (not [`Output::Json`]).
    pub(super) fn write(&self, out: &mut dyn Write, output: Output) -> io::Result<()> {
        match output {
            Output::Terminal { colour } => {
                // Two spaces between columns; escape codes take no width.
                let mut tw = tabwriter::TabWriter::new(Vec::new())
                    .padding(2)
                    .ansi(colour);
                let bold = Style::new().bold().underline();
                let header: Vec<Cell> = self
                    .header
                    .iter()
                    .map(|h| Cell {
                        text: (*h).to_owned(),
                        style: bold,
                    })
                    .collect();
                for row in std::iter::once(&header).chain(&self.rows) {
                    let line: Vec<String> = row
                        .iter()
                        .map(|c| match colour {
                            true => format!("{}{}{:#}", c.style, printable(&c.text), c.style),
                            false => printable(&c.text),
                        })
                        .collect();
                    writeln!(tw, "{}", line.join("\t"))?;
                }
                tw.flush()?;
                let text = tw
                    .into_inner()
                    .map_err(|e| io::Error::other(e.to_string()))?;
                // The last column is padded too: trailing blanks help nobody.
                for line in String::from_utf8_lossy(&text).lines() {
                    writeln!(out, "{}", line.trim_end())?;
                }
                Ok(())
            }
            Output::Plain | Output::Json => {
                for row in &self.rows {
                    let line: Vec<String> = row.iter().map(|c| printable(&c.text)).collect();
                    writeln!(out, "{}", line.join("\t"))?;
                }
                Ok(())
            }
        }
    }
}

/// `text` with control characters (tabs and newlines too) spelled as escapes.
fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| match c.is_control() {
            true => c.escape_default().to_string(),
            false => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Table {
        let mut t = Table::new(&["NAME", "VERSIONS", "DESCRIPTION"]);
        t.row(vec![
            Cell::name("git"),
            Cell::plain("2.39"),
            Cell::plain("Git"),
        ]);
        t.row(vec![
            Cell::name("python3"),
            Cell::dim("3.11,3.12"),
            Cell::plain("a\tb\x1b[2Jc"),
        ]);
        t
    }

    fn written(output: Output) -> String {
        let mut out = Vec::new();
        table().write(&mut out, output).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn terminals_get_a_header_and_aligned_columns() {
        assert_eq!(
            written(Output::Terminal { colour: false }),
            "NAME     VERSIONS   DESCRIPTION\n\
             git      2.39       Git\n\
             python3  3.11,3.12  a\\tb\\u{1b}[2Jc\n"
        );
    }

    #[test]
    fn colour_does_not_move_the_columns() {
        let text = written(Output::Terminal { colour: true });
        let plain: String = {
            let mut out = String::new();
            let mut skip = false;
            for c in text.chars() {
                match c {
                    '\x1b' => skip = true,
                    'm' if skip => skip = false,
                    _ if skip => {}
                    _ => out.push(c),
                }
            }
            out
        };
        assert_eq!(plain, written(Output::Terminal { colour: false }));
        assert!(text.contains("\x1b[1m"), "{text:?}");
    }

    #[test]
    fn pipes_get_tab_separated_fields_without_a_header() {
        assert_eq!(
            written(Output::Plain),
            "git\t2.39\tGit\npython3\t3.11,3.12\ta\\tb\\u{1b}[2Jc\n"
        );
    }
}
