//! Small pieces of command-line wording: `NAME@VERSION` arguments, the installed
//! entry one names, and name lists.

use anyhow::Result;

use crate::base::error::unknown;
use crate::base::suggest::did_you_mean;
use crate::install::index::{Entry, Index};

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

/// The installed entry `NAME[@VERSION]` names (`NAME` a recipe, or a shim standing for
/// its recipe; no version: the recipe's default, else its only installed version; a
/// version: that one, or the highest installed one it is a prefix of), with the
/// recipe's name and the version. Unknown names and versions are usage errors.
pub fn installed<'a>(index: &'a Index, spec: &str) -> Result<(String, String, &'a Entry)> {
    let (name, version) = split_spec(spec);
    let name = match index.tools.contains_key(name) {
        true => name,
        false => index.shims.get(name).map_or(name, String::as_str),
    };
    let Some(tool) = index.tools.get(name) else {
        let known = index.tools.keys().chain(index.shims.keys());
        return Err(unknown(
            format!("'{name}' is not installed"),
            [
                did_you_mean(name, known.map(String::as_str)),
                Some("`jig install` it first; `jig list` shows what is installed".into()),
            ],
        ));
    };
    let have: Vec<String> = tool.versions.keys().cloned().collect();
    let version = match version {
        Some(v) => crate::recipe::select_from(&have, v),
        None if tool.versions.contains_key(&tool.default) => Some(tool.default.clone()),
        None if have.len() == 1 => have.first().cloned(),
        None => None,
    };
    let Some((version, entry)) = version.and_then(|v| tool.versions.get_key_value(&v)) else {
        let asked = split_spec(spec).1.unwrap_or(&tool.default);
        return Err(unknown(
            format!(
                "version {asked} of '{name}' is not installed (installed: {})",
                crate::recipe::offered_list(&have)
            ),
            [Some(format!("`jig install {name}@{asked}` installs it"))],
        ));
    };
    Ok((name.to_owned(), version.clone(), entry))
}
