//! Package relation fields: `Depends`, `Pre-Depends`, `Provides`.
//!
//! A field is a comma-separated list of groups; a group is `|`-separated alternatives;
//! an alternative is `name[:archqual] [(op version)] [[arch list]] [<profiles>]`.
//! Architecture lists (rare outside source packages) are evaluated against the host
//! architecture here, so the resolver only sees alternatives that apply; build
//! profiles only matter for builds and are ignored.

use crate::base::version::Op;

/// One alternative of a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dep<'a> {
    /// Package (or virtual package) name.
    pub name: &'a str,
    /// Architecture qualifier after `:` (`any`, `native`, or an architecture).
    pub arch: Option<&'a str>,
    /// Version constraint.
    pub constraint: Option<(Op, &'a str)>,
}

impl std::fmt::Display for Dep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)?;
        if let Some(a) = self.arch {
            write!(f, ":{a}")?;
        }
        if let Some((op, v)) = self.constraint {
            write!(f, " ({} {v})", op.as_str())?;
        }
        Ok(())
    }
}

/// A group of alternatives: satisfied when any one of them is.
pub type Group<'a> = Vec<Dep<'a>>;

/// Parses a relation field for `host_arch`. Groups whose every alternative is
/// excluded by an architecture list are dropped.
pub fn parse<'a>(field: &'a str, host_arch: &str) -> Result<Vec<Group<'a>>, String> {
    let mut groups = Vec::new();
    for part in field.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue; // tolerate a trailing comma
        }
        let mut group = Vec::new();
        let mut any_alt = false;
        for alt in part.split('|') {
            any_alt = true;
            if let Some(dep) = parse_alt(alt.trim(), host_arch)? {
                group.push(dep);
            }
        }
        if any_alt && !group.is_empty() {
            groups.push(group);
        }
    }
    Ok(groups)
}

/// Parses one alternative; `None` when its architecture list excludes the host.
fn parse_alt<'a>(s: &'a str, host_arch: &str) -> Result<Option<Dep<'a>>, String> {
    let end = s
        .find(|c: char| c.is_whitespace() || matches!(c, '(' | '[' | '<'))
        .unwrap_or(s.len());
    let (full, mut rest) = (&s[..end], s[end..].trim_start());
    let (name, arch) = match full.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (full, None),
    };
    if !valid_name(name) {
        return Err(format!("bad package name '{full}' in relation '{s}'"));
    }
    let mut constraint = None;
    if let Some(r) = rest.strip_prefix('(') {
        let close = r
            .find(')')
            .ok_or_else(|| format!("unclosed '(' in relation '{s}'"))?;
        let inner = r[..close].trim();
        let op_len = inner
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(inner.len());
        let op = Op::parse(&inner[..op_len])
            .ok_or_else(|| format!("bad version operator in relation '{s}'"))?;
        let version = inner[op_len..].trim();
        if version.is_empty() || version.contains(char::is_whitespace) {
            return Err(format!("bad version in relation '{s}'"));
        }
        constraint = Some((op, version));
        rest = r[close + 1..].trim_start();
    }
    let mut applies = true;
    if let Some(r) = rest.strip_prefix('[') {
        let close = r
            .find(']')
            .ok_or_else(|| format!("unclosed '[' in relation '{s}'"))?;
        applies = arch_list_matches(&r[..close], host_arch);
        rest = r[close + 1..].trim_start();
    }
    while let Some(r) = rest.strip_prefix('<') {
        let close = r
            .find('>')
            .ok_or_else(|| format!("unclosed '<' in relation '{s}'"))?;
        rest = r[close + 1..].trim_start();
    }
    if !rest.is_empty() {
        return Err(format!("unexpected '{rest}' in relation '{s}'"));
    }
    Ok(applies.then_some(Dep {
        name,
        arch,
        constraint,
    }))
}

/// `[amd64 arm64]` includes, `[!i386 !armel]` excludes.
fn arch_list_matches(list: &str, host_arch: &str) -> bool {
    let items: Vec<&str> = list.split_whitespace().collect();
    if items.iter().all(|a| a.starts_with('!')) {
        !items.iter().any(|a| &a[1..] == host_arch)
    } else {
        items
            .iter()
            .any(|a| *a == host_arch || *a == "any" || *a == format!("linux-{host_arch}"))
    }
}

/// Debian package names: lowercase letters, digits, `+`, `-`, `.`, starting alphanumeric.
pub fn valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'+' | b'-' | b'.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_groups_alternatives_constraints_and_qualifiers() {
        let g = parse(
            "libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0, perl:any, python3:native (<<3.12),",
            "amd64",
        )
        .unwrap();
        assert_eq!(g.len(), 4);
        assert_eq!(g[0][0].constraint, Some((Op::GreaterEq, "2.34")));
        assert_eq!(g[1].len(), 2);
        assert_eq!(g[1][1].name, "debconf-2.0");
        assert_eq!(g[2][0].arch, Some("any"));
        assert_eq!(g[3][0].name, "python3");
        assert_eq!(g[3][0].constraint, Some((Op::Less, "3.12")));
        assert_eq!(g[3][0].to_string(), "python3:native (<< 3.12)");
    }

    #[test]
    fn arch_lists_and_profiles() {
        let g = parse("a [amd64], b [!amd64], c [i386] | d <!nocheck>", "amd64").unwrap();
        let names: Vec<Vec<&str>> = g
            .iter()
            .map(|g| g.iter().map(|d| d.name).collect())
            .collect();
        assert_eq!(names, vec![vec!["a"], vec!["d"]]);
    }

    #[test]
    fn malformed_relations_are_errors() {
        for bad in ["Foo", "a (>= 1", "a (~ 1)", "a (>= )", "a b", "a [amd64"] {
            assert!(parse(bad, "amd64").is_err(), "{bad:?} accepted");
        }
        assert!(parse("", "amd64").unwrap().is_empty());
    }
}
