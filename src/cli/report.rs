//! How the CLI prints failures: as `jig: error: ...` or `jig: warning: ...`, with
//! `caused by:` and `hint:` lines ([`crate::base::error::render`]). On a terminal that
//! allows colour (not with `NO_COLOR`: anstream decides, as for tables), the labels are
//! coloured; the words stay the same.

use std::io::IsTerminal;

use anstyle::{AnsiColor, Style};

use crate::base::error::{Level, render};

/// Prints an error the way jig prints every failure ([`crate::base::error::render`]).
pub fn print_error(e: &anyhow::Error) {
    eprint!("{}", paint(render("jig", Level::Error, e)));
}

/// Prints an error that did not stop the command, as `jig: warning: ...`.
pub(super) fn print_warning(e: &anyhow::Error) {
    eprint!("{}", paint(render("jig", Level::Warning, e)));
}

/// `text` with its labels coloured, if stderr is a terminal that allows colour.
fn paint(text: String) -> String {
    let stderr = std::io::stderr();
    if !stderr.is_terminal()
        || anstream::AutoStream::choice(&stderr) != anstream::ColorChoice::Always
    {
        return text;
    }
    colour_labels(&text)
}

/// The labels of a rendered report coloured: `error:` red, `warning:` yellow, `hint:`
/// green, each bold.
fn colour_labels(text: &str) -> String {
    let styled = |label: &str, colour: AnsiColor| {
        let s = Style::new().bold().fg_color(Some(colour.into()));
        format!("{s}{label}{s:#}")
    };
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let line = if let Some(rest) = line.strip_prefix("jig: error:") {
            format!("jig: {}{rest}", styled("error:", AnsiColor::Red))
        } else if let Some(rest) = line.strip_prefix("jig: warning:") {
            format!("jig: {}{rest}", styled("warning:", AnsiColor::Yellow))
        } else if let Some(rest) = line.strip_prefix("  hint:") {
            format!("  {}{rest}", styled("hint:", AnsiColor::Green))
        } else {
            line.to_owned()
        };
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_labels_are_coloured() {
        let text =
            "jig: error: no recipe named 'gti'\n  caused by: x\n  hint: did you mean `git`?\n";
        let painted = colour_labels(text);
        assert_eq!(
            painted,
            "jig: \x1b[1m\x1b[31merror:\x1b[0m no recipe named 'gti'\n  caused by: x\n  \
             \x1b[1m\x1b[32mhint:\x1b[0m did you mean `git`?\n"
        );
    }
}
