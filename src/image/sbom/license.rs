//! Declared licenses: machine-readable copyright files (DEP-5, Debian's
//! `copyright-format/1.0`) turned into SPDX license expressions.
//!
//! The `License:` field of the header and of each `Files:` paragraph names the
//! licenses that apply, in Debian's syntax: short names joined by `and` / `or`, commas
//! for the loosest grouping (`A or B, and C` is `(A OR B) AND C`), `NAME with KEYWORDS
//! exception` for an exception. The package's declared license is the conjunction of
//! the distinct expressions found. A short name becomes its SPDX identifier where one
//! exists (`GPL-2+` → `GPL-2.0-or-later`, `Expat` → `MIT`, `BSD-3-clause` →
//! `BSD-3-Clause`), otherwise a `LicenseRef-` built from it (`public-domain` →
//! `LicenseRef-public-domain`). The result is checked by the `spdx` crate's strict
//! parser; a file that is not DEP-5, or whose result does not parse, declares nothing
//! (NOASSERTION).

use std::collections::BTreeMap;

use super::deb822::{self, Paragraph};

/// More distinct license expressions than this in one file declare nothing: no honest
/// copyright file has that many, and the SBOM should not carry a hostile one's.
const MAX_CONJUNCTS: usize = 64;
/// Longest `LicenseRef-` idstring made from a Debian name.
const MAX_REF: usize = 64;

/// A package's declared license, from its machine-readable copyright file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Declared {
    /// The SPDX license expression, e.g. `GPL-2.0-or-later AND MIT`.
    pub expression: String,
    /// The `LicenseRef-` identifiers the expression uses, each with the Debian license
    /// name it stands for.
    pub refs: BTreeMap<String, String>,
}

/// Short names whose SPDX form no general rule finds (keys lowercase).
const NAMES: &[(&str, &[&str])] = &[
    ("expat", &["MIT"]),
    // Debian's common-licenses/Artistic is Perl's Artistic License.
    ("artistic", &["Artistic-1.0-Perl"]),
    ("perl", &["Artistic-1.0-Perl", "GPL-1.0-or-later"]),
    // An unversioned GPL or LGPL lets the recipient choose any version.
    ("gpl", &["GPL-1.0-or-later"]),
    ("gpl+", &["GPL-1.0-or-later"]),
    ("lgpl", &["LGPL-2.0-or-later"]),
    ("lgpl+", &["LGPL-2.0-or-later"]),
    ("cc0", &["CC0-1.0"]),
    ("python-cnri", &["CNRI-Python"]),
    ("zope-1.1", &["ZPL-1.1"]),
    ("zope-2.0", &["ZPL-2.0"]),
    ("zope-2.1", &["ZPL-2.1"]),
];

/// A license expression under construction.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expr {
    Term(String),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

impl Expr {
    /// `items` joined by AND (`and`) or OR, flattening nested joins of the same kind.
    fn join(and: bool, items: Vec<Expr>) -> Expr {
        let mut flat = Vec::with_capacity(items.len());
        for e in items {
            match e {
                Expr::And(v) if and => flat.extend(v),
                Expr::Or(v) if !and => flat.extend(v),
                e => flat.push(e),
            }
        }
        match (flat.len(), and) {
            (1, _) => flat.pop().expect("one item"),
            (_, true) => Expr::And(flat),
            (_, false) => Expr::Or(flat),
        }
    }

    /// SPDX text; compound parts are parenthesized unless `top`.
    fn render(&self, top: bool) -> String {
        let (items, op) = match self {
            Expr::Term(t) => return t.clone(),
            Expr::And(v) => (v, " AND "),
            Expr::Or(v) => (v, " OR "),
        };
        let inner: Vec<String> = items.iter().map(|e| e.render(false)).collect();
        let s = inner.join(op);
        if top { s } else { format!("({s})") }
    }

    fn conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::And(v) => v,
            e => vec![e],
        }
    }
}

/// The declared license of a copyright file; `None` (NOASSERTION) unless it is DEP-5
/// and names at least one license.
pub(super) fn from_copyright(text: &str) -> Option<Declared> {
    let paragraphs = deb822::parse(text);
    if !is_dep5(paragraphs.first()?) {
        return None;
    }
    let mut refs = BTreeMap::new();
    // Rendered conjunct -> conjunct; the map sorts and deduplicates them.
    let mut conjuncts: BTreeMap<String, Expr> = BTreeMap::new();
    for (i, p) in paragraphs.iter().enumerate() {
        // After the header, License fields outside Files paragraphs give license texts.
        if i > 0 && p.get("Files").is_none() {
            continue;
        }
        let Some(first) = p.get("License").and_then(|v| v.lines().next()) else {
            continue;
        };
        if first.trim().is_empty() {
            continue;
        }
        for c in parse_line(first, &mut refs).conjuncts() {
            conjuncts.insert(c.render(false), c);
        }
        if conjuncts.len() > MAX_CONJUNCTS {
            return None;
        }
    }
    let expression = match conjuncts.len() {
        0 => return None,
        1 => conjuncts.into_values().next().expect("one").render(true),
        _ => conjuncts.into_keys().collect::<Vec<_>>().join(" AND "),
    };
    spdx::Expression::parse(&expression).ok()?;
    refs.retain(|id, _| expression.contains(id.as_str()));
    Some(Declared { expression, refs })
}

fn is_dep5(header: &Paragraph) -> bool {
    header
        .get("Format")
        .or_else(|| header.get("Format-Specification"))
        .is_some_and(|f| f.contains("copyright-format/1.0") || f.contains("deps/dep5"))
}

/// One `License:` first line; a line that is not in Debian's syntax becomes a single
/// `LicenseRef-` made from the whole of it.
fn parse_line(line: &str, refs: &mut BTreeMap<String, String>) -> Expr {
    let mut mine = BTreeMap::new();
    match parse_structured(line, &mut mine) {
        Some(e) => {
            for (id, name) in mine {
                refs.entry(id).or_insert(name);
            }
            e
        }
        None => Expr::Term(license_ref(line.trim(), refs)),
    }
}

fn parse_structured(line: &str, refs: &mut BTreeMap<String, String>) -> Option<Expr> {
    let mut acc: Option<Expr> = None;
    for segment in line.split(',') {
        let mut words: Vec<&str> = segment.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        // A segment after a comma starts with its operator; a bare comma means and.
        let mut and = true;
        if acc.is_some() && (is_word(words[0], "and") || is_word(words[0], "or")) {
            and = is_word(words[0], "and");
            words.remove(0);
        }
        let seg = parse_segment(&words, refs)?;
        acc = Some(match acc {
            None => seg,
            Some(prev) => Expr::join(and, vec![prev, seg]),
        });
    }
    acc
}

/// `TERM (and|or TERM)*`, `and` binding tighter than `or` (as in SPDX).
fn parse_segment(words: &[&str], refs: &mut BTreeMap<String, String>) -> Option<Expr> {
    let mut ors = Vec::new();
    let mut ands = Vec::new();
    let mut i = 0;
    loop {
        let name = *words.get(i)?;
        if ["and", "or", "with"].iter().any(|w| is_word(name, w)) {
            return None;
        }
        i += 1;
        let mut exception = None;
        if words.get(i).is_some_and(|w| is_word(w, "with")) {
            i += 1;
            let start = i;
            while i < words.len()
                && !["and", "or", "exception"]
                    .iter()
                    .any(|w| is_word(words[i], w))
            {
                i += 1;
            }
            if i == start {
                return None;
            }
            exception = Some(words[start..i].join(" "));
            if words.get(i).is_some_and(|w| is_word(w, "exception")) {
                i += 1;
            }
        }
        ands.push(term(name, exception.as_deref(), refs));
        match words.get(i) {
            None => break,
            Some(w) if is_word(w, "and") => {}
            Some(w) if is_word(w, "or") => ors.push(Expr::join(true, std::mem::take(&mut ands))),
            // Two names in a row: not Debian's syntax.
            Some(_) => return None,
        }
        i += 1;
    }
    ors.push(Expr::join(true, ands));
    Some(Expr::join(false, ors))
}

fn is_word(w: &str, keyword: &str) -> bool {
    w.eq_ignore_ascii_case(keyword)
}

/// One short name, with the keywords of its exception if any.
fn term(name: &str, exception: Option<&str>, refs: &mut BTreeMap<String, String>) -> Expr {
    let known = known(name);
    match (known, exception) {
        (Some(e), None) => e,
        (Some(Expr::Term(id)), Some(kw)) => match exception_id(kw, &id) {
            Some(exc) => Expr::Term(format!("{id} WITH {exc}")),
            None => Expr::Term(license_ref(&format!("{name} with {kw} exception"), refs)),
        },
        (_, Some(kw)) => Expr::Term(license_ref(&format!("{name} with {kw} exception"), refs)),
        (None, None) => Expr::Term(license_ref(name, refs)),
    }
}

/// The SPDX form of a Debian short name, if it has one.
fn known(name: &str) -> Option<Expr> {
    let lower = name.to_ascii_lowercase();
    if let Some((_, ids)) = NAMES.iter().find(|(k, _)| *k == lower) {
        let terms = ids.iter().map(|id| Expr::Term((*id).to_owned())).collect();
        return Some(Expr::join(false, terms));
    }
    if let Some(id) = gnu(&lower) {
        return Some(Expr::Term(id));
    }
    // An SPDX identifier in any case; a trailing `+` is SPDX's "or later" too.
    let (base, plus) = match name.strip_suffix('+') {
        Some(b) => (b, true),
        None => (name, false),
    };
    let with_minor = format!("{base}.0");
    let candidates = [base, with_minor.as_str()];
    // `Apache-2` means Apache-2.0, `CC-BY-SA-3` CC-BY-SA-3.0.
    let tail_is_major = base
        .rsplit_once('-')
        .is_some_and(|(_, v)| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()));
    let n = if tail_is_major { 2 } else { 1 };
    let id = candidates[..n].iter().find_map(|c| spdx_license(c))?;
    if plus && id.is_gnu() {
        return None;
    }
    Some(Expr::Term(format!(
        "{}{}",
        id.name,
        if plus { "+" } else { "" }
    )))
}

/// A current (not deprecated) SPDX license identifier matching `name` in any case.
fn spdx_license(name: &str) -> Option<spdx::LicenseId> {
    let found = spdx::identifiers::LICENSES
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(name))?;
    spdx::license_id(found.name).filter(|id| !id.is_deprecated())
}

/// GNU licenses in Debian's (`GPL-2+`, `LGPL-2.1`, `GFDL-NIV-1.3+`) or SPDX's older
/// forms (`GPL-2.0+`, `GPL-2.0`) as the current SPDX `-only` / `-or-later` ids.
fn gnu(lower: &str) -> Option<String> {
    let families = [
        ("gfdl-niv-", "GFDL-", "-no-invariants"),
        ("gfdl-", "GFDL-", ""),
        ("agpl-", "AGPL-", ""),
        ("lgpl-", "LGPL-", ""),
        ("gpl-", "GPL-", ""),
    ];
    let (rest, prefix, infix) = families
        .iter()
        .find_map(|(p, spdx, infix)| Some((lower.strip_prefix(p)?, *spdx, *infix)))?;
    let (version, later) = if let Some(v) = rest.strip_suffix('+') {
        (v, true)
    } else if let Some(v) = rest.strip_suffix("-or-later") {
        (v, true)
    } else {
        (rest.strip_suffix("-only").unwrap_or(rest), false)
    };
    let mut parts = version.split('.');
    let major = parts.next()?;
    let minor = parts.next().unwrap_or("0");
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if parts.next().is_some() || !numeric(major) || !numeric(minor) {
        return None;
    }
    let suffix = if later { "or-later" } else { "only" };
    let id = spdx::license_id(&format!("{prefix}{major}.{minor}{infix}-{suffix}"))?;
    (!id.is_deprecated()).then(|| id.name.to_owned())
}

/// The SPDX exception for Debian's `with KEYWORDS exception` on license `id`.
fn exception_id(keywords: &str, id: &str) -> Option<&'static str> {
    let lower = keywords.to_ascii_lowercase();
    // `with Bison-exception` says "exception" once, inside the keyword.
    let k = lower
        .strip_suffix("-exception")
        .or_else(|| lower.strip_suffix(" exception"))
        .unwrap_or(&lower);
    let v3 = id.starts_with("GPL-3") || id.starts_with("LGPL-3") || id.starts_with("AGPL-3");
    let named = match k {
        "classpath" => Some("Classpath-exception-2.0"),
        "font" => Some("Font-exception-2.0"),
        "bison" => Some("Bison-exception-2.2"),
        "libtool" => Some("Libtool-exception"),
        "llvm" => Some("LLVM-exception"),
        "ocaml" | "ocaml linking" => Some("OCaml-LGPL-linking-exception"),
        "autoconf" if v3 => Some("Autoconf-exception-3.0"),
        "autoconf" => Some("Autoconf-exception-2.0"),
        "gcc" | "gcc runtime library" if v3 => Some("GCC-exception-3.1"),
        "gcc" | "gcc runtime library" => Some("GCC-exception-2.0"),
        _ => None,
    };
    if named.is_some() {
        return named;
    }
    let dashed = format!("{k}-exception");
    spdx::identifiers::EXCEPTIONS
        .iter()
        .find(|e| e.name.eq_ignore_ascii_case(k) || e.name.eq_ignore_ascii_case(&dashed))
        .and_then(|e| spdx::exception_id(e.name))
        .filter(|e| !e.is_deprecated())
        .map(|e| e.name)
}

/// A `LicenseRef-` for a Debian license name, recorded in `refs`.
fn license_ref(name: &str, refs: &mut BTreeMap<String, String>) -> String {
    let mut idstring = String::new();
    for c in name.chars() {
        match c {
            c if c.is_ascii_alphanumeric() || c == '.' => idstring.push(c),
            '+' => idstring.push_str("plus"),
            _ if !idstring.ends_with('-') => idstring.push('-'),
            _ => {}
        }
    }
    idstring.truncate(MAX_REF);
    let idstring = idstring.trim_matches('-');
    let id = if idstring.is_empty() {
        "LicenseRef-unknown".to_owned()
    } else {
        format!("LicenseRef-{idstring}")
    };
    let shown: String = name.chars().take(128).collect();
    refs.entry(id.clone()).or_insert(shown);
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep5(licenses: &[&str]) -> String {
        let mut s = String::from(
            "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
             Upstream-Name: x\n\n",
        );
        for l in licenses {
            s.push_str(&format!("Files: *\nCopyright: someone\nLicense: {l}\n\n"));
        }
        s.push_str("License: GPL-2+\n This program is free software.\n .\n More.\n");
        s
    }

    fn expr(licenses: &[&str]) -> Option<String> {
        from_copyright(&dep5(licenses)).map(|d| d.expression)
    }

    #[test]
    fn sbom_license_debian_names_map_to_spdx() {
        for (debian, spdx) in [
            ("GPL-2+", "GPL-2.0-or-later"),
            ("GPL-2", "GPL-2.0-only"),
            ("GPL-3.0+", "GPL-3.0-or-later"),
            ("GPL-2.0-or-later", "GPL-2.0-or-later"),
            ("LGPL-2.1+", "LGPL-2.1-or-later"),
            ("LGPL-2", "LGPL-2.0-only"),
            ("AGPL-3", "AGPL-3.0-only"),
            ("GFDL-NIV-1.3+", "GFDL-1.3-no-invariants-or-later"),
            ("GPL", "GPL-1.0-or-later"),
            ("Expat", "MIT"),
            ("MIT", "MIT"),
            ("BSD-3-clause", "BSD-3-Clause"),
            ("bsd-2-CLAUSE", "BSD-2-Clause"),
            ("Apache-2.0", "Apache-2.0"),
            ("Apache-2", "Apache-2.0"),
            ("zlib", "Zlib"),
            ("ISC", "ISC"),
            ("MPL-1.1+", "MPL-1.1+"),
            ("CC0", "CC0-1.0"),
            ("Artistic", "Artistic-1.0-Perl"),
            ("Perl", "Artistic-1.0-Perl OR GPL-1.0-or-later"),
            ("public-domain", "LicenseRef-public-domain"),
            (
                "GPL-2+ with OpenSSL exception",
                "LicenseRef-GPL-2plus-with-OpenSSL-exception",
            ),
            (
                "GPL-3+ with GCC exception",
                "GPL-3.0-or-later WITH GCC-exception-3.1",
            ),
            (
                "GPL-2+ with Autoconf exception",
                "GPL-2.0-or-later WITH Autoconf-exception-2.0",
            ),
            (
                "GPL-2 with Classpath exception",
                "GPL-2.0-only WITH Classpath-exception-2.0",
            ),
            (
                "Apache-2.0 with LLVM exception",
                "Apache-2.0 WITH LLVM-exception",
            ),
            (
                "GPL-3+ WITH BISON-EXCEPTION",
                "GPL-3.0-or-later WITH Bison-exception-2.2",
            ),
            (
                "GPL-2 with Linux-syscall-note exception",
                "GPL-2.0-only WITH Linux-syscall-note",
            ),
        ] {
            assert_eq!(expr(&[debian]).as_deref(), Some(spdx), "{debian}");
        }
    }

    #[test]
    fn sbom_license_expressions_keep_their_structure() {
        assert_eq!(
            expr(&["GPL-2+ or Artistic-2.0, and BSD-3-clause"]).as_deref(),
            Some("(GPL-2.0-or-later OR Artistic-2.0) AND BSD-3-Clause")
        );
        assert_eq!(
            expr(&["MIT or Apache-2.0 and ISC"]).as_deref(),
            Some("MIT OR (Apache-2.0 AND ISC)")
        );
        // Distinct paragraphs are all declared, sorted, once each.
        assert_eq!(
            expr(&[
                "GPL-2+",
                "Expat",
                "GPL-2+ and BSD-3-clause",
                "public-domain"
            ])
            .as_deref(),
            Some("BSD-3-Clause AND GPL-2.0-or-later AND LicenseRef-public-domain AND MIT")
        );
        let d = from_copyright(&dep5(&["public-domain or MIT", "same as Perl itself"])).unwrap();
        assert_eq!(
            d.expression,
            "(LicenseRef-public-domain OR MIT) AND LicenseRef-same-as-Perl-itself"
        );
        let refs: Vec<_> = d
            .refs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            refs,
            [
                ("LicenseRef-public-domain", "public-domain"),
                ("LicenseRef-same-as-Perl-itself", "same as Perl itself")
            ]
        );
    }

    #[test]
    fn sbom_license_header_license_counts_and_texts_do_not() {
        let text = "Format: http://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
                    License: Apache-2.0\n\nFiles: *\nCopyright: x\nLicense: MIT\n\n\
                    License: Zlib\n text\n";
        assert_eq!(
            from_copyright(text).unwrap().expression,
            "Apache-2.0 AND MIT"
        );
    }

    #[test]
    fn sbom_license_noassertion_for_anything_else() {
        assert_eq!(
            from_copyright("This package was debianized by...\nLicense: MIT\n"),
            None
        );
        assert_eq!(from_copyright(""), None);
        // DEP-5 without any License gives nothing either.
        assert_eq!(
            from_copyright("Format: copyright-format/1.0\n\nFiles: *\n"),
            None
        );
        let many: Vec<String> = (0..100).map(|i| format!("Custom-{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(expr(&many), None);
        // Garbage names still make valid LicenseRefs.
        let d = expr(&["\u{1}\u{fffd}((", "----", "a'b\"c)"]).unwrap();
        assert_eq!(d, "LicenseRef-a-b-c AND LicenseRef-unknown");
        let long = "x".repeat(500);
        assert_eq!(
            expr(&[&long]).unwrap(),
            format!("LicenseRef-{}", "x".repeat(MAX_REF))
        );
    }
}
