//! Small pieces of command-line wording: `NAME@VERSION` arguments and name lists.

/// Splits `NAME@VERSION` (or `path/to/recipe.toml@VERSION`) into its parts. A spec
/// naming an existing file is a path, whatever it contains.
pub fn split_spec(spec: &str) -> (&str, Option<&str>) {
    match spec.rsplit_once('@') {
        Some((n, v)) if !n.is_empty() && !v.is_empty() && !v.contains('/') => {
            if std::path::Path::new(spec).is_file() {
                (spec, None)
            } else {
                (n, Some(v))
            }
        }
        _ => (spec, None),
    }
}

/// The names joined with commas, or `none`.
pub fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
