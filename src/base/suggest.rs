//! "Did you mean ...?": the known name closest to one the user typed (`gti` → `git`).
//!
//! Closeness is the optimal-string-alignment distance of `strsim` (the crate clap uses
//! for its own suggestions): insertions, deletions, substitutions and swaps of two
//! neighbours count one each, so a typo of one or two keys finds its name, and a word
//! that merely shares a letter with every name finds nothing.

/// The candidate closest to `typed` (case-insensitive), if it is close enough: at most
/// one edit for names of up to four characters, two for longer ones, and never the
/// word itself (`GIT` does find `git`). Ties go to the candidate listed first.
pub fn closest<'a>(typed: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = typed.to_lowercase();
    let allowed = if lower.chars().count() <= 4 { 1 } else { 2 };
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        let d = strsim::osa_distance(&lower, &c.to_lowercase());
        if c == typed || d > allowed {
            continue;
        }
        if best.is_none_or(|(b, _)| d < b) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The hint for `typed` among `candidates`: ``did you mean `NAME`?``, if one is close.
pub fn did_you_mean<'a>(
    typed: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    closest(typed, candidates).map(|c| format!("did you mean `{c}`?"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &[
        "busybox", "curl", "git", "gitk", "jq", "make", "npm", "python3",
    ];

    #[test]
    fn typos_find_their_name() {
        let find = |t: &str| closest(t, NAMES.iter().copied());
        assert_eq!(find("gti"), Some("git"));
        assert_eq!(find("GIT"), Some("git"));
        assert_eq!(find("gtik"), Some("gitk"));
        assert_eq!(find("nmp"), Some("npm"));
        assert_eq!(find("pyhton3"), Some("python3"));
        assert_eq!(find("python"), Some("python3"));
        assert_eq!(find("jx"), Some("jq"));
        assert_eq!(find("busybx"), Some("busybox"));
    }

    #[test]
    fn unrelated_words_and_exact_names_find_nothing() {
        let find = |t: &str| closest(t, NAMES.iter().copied());
        assert_eq!(closest("git", ["git"]), None);
        assert_eq!(find("xyz"), None);
        assert_eq!(find("kubectl"), None);
        assert_eq!(find("ab"), None);
        assert_eq!(closest("gti", []), None);
        assert_eq!(
            did_you_mean("crul", NAMES.iter().copied()).as_deref(),
            Some("did you mean `curl`?")
        );
    }
}
