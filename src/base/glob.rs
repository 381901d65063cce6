//! The one glob jig knows: `*` matches any run of characters (environment variable
//! names in `[env] pass`, `LC_*`).

/// Matches `name` against `pattern`, where `*` matches any run of characters.
pub fn matches(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.as_bytes(), name.as_bytes());
    let (mut pi, mut ni) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ni < n.len() {
        if pi < p.len() && p[pi] != b'*' && p[pi] == n[ni] {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            pi += 1;
            mark = ni;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ni = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    #[test]
    fn stars() {
        assert!(super::matches("LC_*", "LC_ALL"));
        assert!(super::matches("*", ""));
        assert!(super::matches("A*B*C", "AxxBC"));
        assert!(!super::matches("LC_*", "LANG"));
        assert!(!super::matches("BB", "BBX"));
    }
}
