//! `jig activate`: the shell code that puts the shim directory first on PATH, and the
//! note `jig install` prints when it is not there.

use anyhow::{Context, Result, bail};

use crate::base::paths::Dirs;

/// Quotes a string for POSIX sh and fish alike (single quotes; `'` spelled `'\''`
/// for sh, `\'` inside quotes for fish).
fn quote(s: &str, fish: bool) -> String {
    if fish {
        format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `jig activate [SHELL]`: the code for SHELL (default: from `$SHELL`) on stdout.
pub(super) fn activate(dirs: &Dirs, shell: Option<&str>) -> Result<i32> {
    let shell = match shell {
        Some(s) => s.to_owned(),
        None => std::env::var("SHELL")
            .ok()
            .and_then(|s| s.rsplit('/').next().map(str::to_owned))
            .unwrap_or_else(|| "sh".into()),
    };
    let shims = dirs
        .shims
        .to_str()
        .context("the shim directory path is not UTF-8")?;
    let text = match shell.as_str() {
        "bash" | "zsh" | "sh" | "dash" | "ksh" => {
            include_str!("../../shims/activate.sh").replace("@SHIMS@", &quote(shims, false))
        }
        "fish" => include_str!("../../shims/activate.fish").replace("@SHIMS@", &quote(shims, true)),
        other => bail!("unsupported shell '{other}'; expected bash, zsh, sh or fish"),
    };
    print!("{text}");
    Ok(0)
}

/// Notes on stderr that the shim directory is not on PATH, and how to put it there.
pub(super) fn warn_if_not_on_path(dirs: &Dirs) {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d == dirs.shims));
    if !on_path {
        eprintln!(
            "jig: note: {} is not on PATH; add `eval \"$(jig activate)\"` to your shell's rc file",
            dirs.shims.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("/a b/it's", false), "'/a b/it'\\''s'");
        assert_eq!(quote("/a b/it's", true), "'/a b/it\\'s'");
    }
}
