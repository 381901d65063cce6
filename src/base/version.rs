//! Debian version numbers and their ordering, as dpkg defines them.
//!
//! A version is `[epoch:]upstream[-revision]`. Versions compare by epoch (a number),
//! then upstream, then revision, where each string compares in alternating runs of
//! non-digits (character by character: `~` sorts before everything, even the end of
//! the string; letters sort before other characters) and digits (as numbers). This is
//! dpkg's `verrevcmp`, rewritten from the algorithm in deb-version(7).

use std::cmp::Ordering;

/// A parsed version; borrows the text it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    /// The epoch (0 when absent).
    pub epoch: u64,
    /// The upstream part.
    pub upstream: &'a str,
    /// The Debian revision ("" when absent, which compares like "0").
    pub revision: &'a str,
}

impl<'a> Version<'a> {
    /// Parses a version, refusing empty strings, whitespace and a non-numeric epoch.
    pub fn parse(s: &'a str) -> Result<Version<'a>, String> {
        if s.is_empty() {
            return Err("empty version".into());
        }
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(format!("version '{s}' contains whitespace"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                let epoch = e
                    .parse::<u64>()
                    .map_err(|_| format!("version '{s}' has a non-numeric epoch"))?;
                (epoch, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(format!("version '{s}' has an empty upstream part"));
        }
        Ok(Version {
            epoch,
            upstream,
            revision,
        })
    }
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(self.upstream, other.upstream))
            .then_with(|| verrevcmp(self.revision, other.revision))
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two version strings. Unparsable versions sort by plain string order after
/// all valid ones, so sorting never panics on bad input.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (Version::parse(a), Version::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// The weight of one character in a non-digit run: `~` < end < letters < others.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        // Non-digit run, character by character.
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run, as a number of any length: skip leading zeros, then the longer
        // run is larger, else the first differing digit decides.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// A version relation operator as written in Depends and Provides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<<`
    Less,
    /// `<=` (and the obsolete `<`)
    LessEq,
    /// `=`
    Eq,
    /// `>=` (and the obsolete `>`)
    GreaterEq,
    /// `>>`
    Greater,
}

impl Op {
    /// Parses an operator token.
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "<<" => Op::Less,
            "<=" | "<" => Op::LessEq,
            "=" => Op::Eq,
            ">=" | ">" => Op::GreaterEq,
            ">>" => Op::Greater,
            _ => return None,
        })
    }

    /// The operator as dpkg writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Less => "<<",
            Op::LessEq => "<=",
            Op::Eq => "=",
            Op::GreaterEq => ">=",
            Op::Greater => ">>",
        }
    }

    /// Whether `have OP want` holds.
    pub fn holds(self, have: &str, want: &str) -> bool {
        let c = compare(have, want);
        match self {
            Op::Less => c == Ordering::Less,
            Op::LessEq => c != Ordering::Greater,
            Op::Eq => c == Ordering::Equal,
            Op::GreaterEq => c != Ordering::Less,
            Op::Greater => c == Ordering::Greater,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::{Equal as E, Greater as G, Less as L};

    #[test]
    fn comparison_table() {
        // (a, b, a compared to b); cases from deb-version(7) and dpkg's own tests.
        let table = [
            ("1.0", "1.0", E),
            ("1.0", "1.1", L),
            ("1.10", "1.9", G),
            ("1.0", "1.0-0", E),
            ("1.0-1", "1.0", G),
            ("1:1.0", "2.0", G),
            ("0:1.0", "1.0", E),
            ("1.0~rc1", "1.0", L),
            ("1.0~~", "1.0~", L),
            ("1.0~~a", "1.0~~", G),
            ("1.0~", "1.0", L),
            ("1.0", "1.0+b1", L),
            ("1.0a", "1.0", G),
            ("1.0a", "1.0+", L),
            ("1.0.", "1.0+", G),
            ("1.001", "1.1", E),
            ("1.0-1", "1.0-1.1", L),
            ("2.36-9+deb12u4", "2.36-9+deb12u10", L),
            ("2.36-9+deb12u4", "2.36", G),
            ("1:2.39.2-1.1", "1:2.39.5-0+deb12u1", L),
            ("9.1-1", "10.0-1", L),
            ("1.2.3-4-5", "1.2.3-4-4", G),
            ("a", "b", L),
            ("1.0-1~bpo1", "1.0-1", L),
            ("00", "0", E),
        ];
        for (a, b, want) in table {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    #[test]
    fn parse_splits_epoch_upstream_revision() {
        let v = Version::parse("2:1.2-3-4").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), (2, "1.2-3", "4"));
        let v = Version::parse("1.0").unwrap();
        assert_eq!((v.epoch, v.upstream, v.revision), (0, "1.0", ""));
        for bad in ["", "x:1", "1 0", ":1", "1:-2"] {
            assert!(Version::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn operators() {
        assert!(Op::parse(">=").unwrap().holds("2.36-9", "2.34"));
        assert!(!Op::parse("<<").unwrap().holds("2.36", "2.36"));
        assert!(Op::parse("<<").unwrap().holds("2.36~", "2.36"));
        assert!(Op::parse("=").unwrap().holds("1.0-0", "1.0"));
        assert!(Op::parse(">>").unwrap().holds("1:0", "9"));
        assert!(
            Op::parse("<").unwrap().holds("1", "1"),
            "obsolete < means <="
        );
        assert_eq!(Op::parse("=>"), None);
    }
}
