//! Path arguments: which words of a command line name host paths a recipe wants
//! mounted (`[mounts] args`).
//!
//! This module only reads the words; [`crate::launch::plan`] decides what to bind. The rules,
//! documented for users in README.md:
//!
//! - Every argument after `argv[0]` is looked at. After a bare `--`, every word is an
//!   operand.
//! - `--name=VALUE` gives VALUE, as a value of option `--name`.
//! - `-xVALUE` where VALUE starts with `/` or `.` gives VALUE, as a value of `-x`.
//! - A word starting with `-` otherwise is an option (or a bundle of flags, `-xzf`,
//!   whose last letter names the option): the next word, if it is not an option too,
//!   is its value.
//! - Any other word is a candidate; `file://` URLs (no host, or `localhost`) name
//!   their path (`git+file://` too), other URLs (`scheme://`) are skipped.
//! - A candidate is made absolute against the cwd and normalized lexically (`..`
//!   removed). Relative words that stay inside the workspace (`status`, `src/x.c`)
//!   therefore cost nothing: only paths outside it are looked up on disk.
//!
//! A candidate is read-write when the recipe says `args = "rw"`, or when it is the
//! value of an option listed in `args_rw` (curl's `-o`); otherwise read-only.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::recipe::{ArgMode, OptName};

/// One word that may name a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The path as the user wrote it (for messages).
    pub word: OsString,
    /// Absolute and lexically normalized.
    pub path: PathBuf,
    /// Mount read-write.
    pub rw: bool,
}

/// The candidates among `args`, in order. `cwd` makes relative words absolute.
pub fn candidates(
    args: &[OsString],
    cwd: &Path,
    mode: ArgMode,
    rw_opts: &[OptName],
) -> Vec<Candidate> {
    let mut out = Vec::new();
    if mode.is_off() {
        return out;
    }
    let is_rw = |opt: Option<&[u8]>| {
        mode == ArgMode::Rw
            || opt.is_some_and(|o| rw_opts.iter().any(|r| r.as_str().as_bytes() == o))
    };
    let mut push = |value: &[u8], opt: Option<&[u8]>| {
        if let Some(path) = path_of(value, cwd) {
            out.push(Candidate {
                word: OsStr::from_bytes(value).to_owned(),
                path,
                rw: is_rw(opt),
            });
        }
    };
    let mut pending: Option<Vec<u8>> = None;
    let mut operands = false;
    for arg in args {
        let w = arg.as_bytes();
        if operands || !w.starts_with(b"-") || w == b"-" {
            push(w, pending.take().as_deref());
            continue;
        }
        pending = None;
        if w == b"--" {
            operands = true;
        } else if let Some(long) = w.strip_prefix(b"--") {
            match long.iter().position(|&b| b == b'=') {
                Some(eq) => push(&long[eq + 1..], Some(&w[..eq + 2])),
                None => pending = Some(w.to_vec()),
            }
        } else if w.len() > 2 && matches!(w[2], b'/' | b'.') {
            push(&w[2..], Some(&w[..2]));
        } else {
            // `-x` or a bundle of flags (`-xzf`): the last letter may take a value.
            pending = Some(vec![b'-', w[w.len() - 1]]);
        }
    }
    out
}

/// The absolute, normalized path a word names, if it can name one.
fn path_of(word: &[u8], cwd: &Path) -> Option<PathBuf> {
    if word.is_empty() {
        return None;
    }
    let url = word.strip_prefix(b"git+").unwrap_or(word);
    let word = if let Some(rest) = url.strip_prefix(b"file://") {
        // file:///path or file://localhost/path; another host is not a local path.
        let rest = rest.strip_prefix(b"localhost").unwrap_or(rest);
        if !rest.starts_with(b"/") {
            return None;
        }
        rest
    } else if word.windows(3).any(|w| w == b"://") {
        return None;
    } else {
        word
    };
    Some(crate::base::paths::normalize(
        &cwd.join(OsStr::from_bytes(word)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn words(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    fn cands(args: &[&str], mode: ArgMode, rw: &[&str]) -> Vec<(String, bool)> {
        let rw: Vec<_> = rw.iter().map(|o| OptName::new(o).unwrap()).collect();
        candidates(&words(args), Path::new("/w/p"), mode, &rw)
            .into_iter()
            .map(|c| (c.path.display().to_string(), c.rw))
            .collect()
    }

    #[test]
    fn off_looks_at_nothing() {
        assert!(cands(&["/etc/passwd"], ArgMode::Off, &[]).is_empty());
    }

    #[test]
    fn plain_words_are_made_absolute_and_normalized() {
        let c = cands(&["status", "../a", "/x/./y/../z", "-"], ArgMode::Ro, &[]);
        assert_eq!(
            c,
            [
                ("/w/p/status".into(), false),
                ("/w/a".into(), false),
                ("/x/z".into(), false),
                ("/w/p/-".into(), false),
            ]
        );
        assert_eq!(
            crate::base::paths::normalize(Path::new("/../..")),
            Path::new("/")
        );
    }

    #[test]
    fn attached_and_separate_option_values() {
        let c = cands(
            &[
                "-o/tmp/x",
                "--output=/tmp/y",
                "-o",
                "/tmp/z",
                "-C",
                "../other",
                "-la",
                "--config=./c.json",
                "-xzf",
                "/a.tgz",
                "-v",
            ],
            ArgMode::Ro,
            &["-o", "--output", "-C"],
        );
        assert_eq!(
            c,
            [
                ("/tmp/x".into(), true),
                ("/tmp/y".into(), true),
                ("/tmp/z".into(), true),
                ("/w/other".into(), true),
                ("/w/p/c.json".into(), false),
                ("/a.tgz".into(), false),
            ]
        );
    }

    #[test]
    fn options_without_a_path_value_give_nothing() {
        // `-n5` is a flag with a value that is not a path; `--depth=1` too, but the
        // value is still a candidate (inside the workspace, so free).
        let c = cands(&["-n5", "--depth=1", "-ffoo"], ArgMode::Ro, &[]);
        assert_eq!(c, [("/w/p/1".into(), false)]);
    }

    #[test]
    fn after_double_dash_everything_is_an_operand() {
        let c = cands(&["--", "-o/tmp/x", "--x=/y"], ArgMode::Ro, &["-o"]);
        assert_eq!(
            c,
            [
                ("/w/p/-o/tmp/x".into(), false),
                ("/w/p/--x=/y".into(), false)
            ]
        );
    }

    #[test]
    fn rw_mode_makes_everything_writable() {
        let c = cands(&["-C", "/other", "x"], ArgMode::Rw, &[]);
        assert_eq!(c, [("/other".into(), true), ("/w/p/x".into(), true)]);
    }

    #[test]
    fn urls() {
        let c = cands(
            &[
                "https://example.com/x",
                "file:///srv/repo",
                "git+file:///srv/r2",
                "file://localhost/srv/r3",
                "file://host/srv/r4",
            ],
            ArgMode::Ro,
            &[],
        );
        assert_eq!(
            c,
            [
                ("/srv/repo".into(), false),
                ("/srv/r2".into(), false),
                ("/srv/r3".into(), false)
            ]
        );
    }

    #[test]
    fn names_and_modes_validate() {
        assert!(OptName::new("-o").is_ok());
        assert!(OptName::new("--output-dir").is_ok());
        for bad in ["o", "-", "--", "-oo", "--a=b", "--a b"] {
            assert!(OptName::new(bad).is_err(), "{bad}");
        }
        #[derive(Deserialize)]
        struct T {
            a: ArgMode,
        }
        let p = |s: &str| toml::from_str::<T>(s).map(|t| t.a);
        assert_eq!(p("a = true").unwrap(), ArgMode::Ro);
        assert_eq!(p("a = false").unwrap(), ArgMode::Off);
        assert_eq!(p("a = \"rw\"").unwrap(), ArgMode::Rw);
        assert!(p("a = \"yes\"").is_err());
    }
}
