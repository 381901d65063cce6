//! A repository's recipe files as recipes: parsed, and checked for what a shared
//! recipe may not do (be named apart from its file, read host paths, skip the Debian
//! signature check).

use anyhow::{Result, bail};

use super::contents::RecipeFile;
use crate::recipe::{self, Name, Recipe};

/// Parses a repository's recipe file. The recipe must be named after its file, must
/// not take its image from a host path, and must not accept an unsigned Debian index
/// (`insecure`), in any of its versions.
pub fn parse(repo: &str, file: &RecipeFile) -> Result<Recipe> {
    let label = format!("{repo}:{}", file.path);
    Name::new(&file.stem)
        .map_err(|e| anyhow::anyhow!("{label}: the file name is not a recipe name: {e}"))?;
    let r = recipe::parse(&file.text, &label)?;
    if r.name.as_str() != file.stem {
        bail!(
            "{label}: name = \"{}\" does not match the file name; a repository recipe is named after its file",
            r.name
        );
    }
    let any = |test: fn(&Recipe) -> bool| {
        test(&r)
            || r.offered()
                .iter()
                .any(|v| r.for_version(v).is_ok_and(|one| test(&one)))
    };
    if any(|r| matches!(r.image.from, recipe::Source::Rootfs(_))) {
        return Err(crate::base::error::hinted(
            format!(
                "{label}: rootfs: images cannot come from a repository (they would read host paths)"
            ),
            "use oci:, debian: or busybox: images in shared recipes",
        ));
    }
    if any(|r| matches!(r.image.from, recipe::Source::Dockerfile(_))) {
        return Err(crate::base::error::hinted(
            format!(
                "{label}: dockerfile: images cannot come from a repository's recipes/ (they would read host paths)"
            ),
            "share a Dockerfile as dex-images/NAME/Dockerfile in the repository instead",
        ));
    }
    // Without the signature check whoever serves the mirror (or sits on the way to an
    // http one) chooses the packages whose maintainer scripts the build runs.
    if any(|r| r.image.insecure) {
        return Err(crate::base::error::hinted(
            format!(
                "{label}: recipe '{}' sets insecure = true: a repository recipe cannot turn off the check of the Debian archive's signature",
                r.name
            ),
            format!(
                "remove `insecure` (a mirror that serves the signed InRelease needs none); to use such a mirror anyway, copy the recipe into a file of your own and install that path (`jig install ./{}.toml`)",
                r.name
            ),
        ));
    }
    Ok(r)
}

/// The versions a recipe offers, default first.
pub fn versions(r: &Recipe) -> Vec<String> {
    r.offered()
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    #[test]
    fn repository_recipes_are_named_after_their_file_and_use_no_host_paths() {
        parse("r", &file("t", &recipe_text("t", "1"))).unwrap();
        let err = format!(
            "{:#}",
            parse("r", &file("u", &recipe_text("t", "1"))).unwrap_err()
        );
        assert!(
            err.contains("r:recipes/u.toml") && err.contains("file name"),
            "{err}"
        );
        let text = recipe_text("t", "1").replace("busybox:/bin/busybox", "rootfs:/home");
        let err = format!("{:#}", parse("r", &file("t", &text)).unwrap_err());
        assert!(err.contains("rootfs:"), "{err}");
        let text = format!(
            "{}[versions.\"2\".image]\nfrom = \"rootfs:/\"\n",
            recipe_text("t", "1")
        );
        let err = format!("{:#}", parse("r", &file("t", &text)).unwrap_err());
        assert!(err.contains("rootfs:"), "{err}");
        let deb = recipe_text("t", "1").replace("busybox:/bin/busybox", "debian:bookworm");
        parse("r", &file("t", &deb)).unwrap();
        for text in [
            deb.replace("[tool]", "insecure = true\n[tool]"),
            format!("{deb}[versions.\"2\".image]\ninsecure = true\n"),
        ] {
            let err = format!("{:#}", parse("r", &file("t", &text)).unwrap_err());
            assert!(
                err.contains("r:recipes/t.toml") && err.contains("insecure = true"),
                "{err}"
            );
        }
        let text = recipe_text("t", "1").replace("version", "versio");
        let err = format!("{:#}", parse("r", &file("t", &text)).unwrap_err());
        assert!(
            err.contains("r:recipes/t.toml") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn versions_are_offered_default_first() {
        let text = format!("{}[versions.\"2\"]\n", recipe_text("t", "1"));
        let r = parse("r", &file("t", &text)).unwrap();
        assert_eq!(versions(&r), ["1", "2"]);
    }
}
