//! `jig build PATH`: an image built from a Dockerfile (or a recipe) and its id printed,
//! nothing installed: for CI and for recipe authors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::spec::split_spec;
use crate::base::paths::Dirs;
use crate::image::build::{dockerfile, steps};
use crate::image::store::Store;
use crate::repo;

/// `jig build PATH [--build-arg NAME=VALUE]... [--target STAGE]`: PATH is a Dockerfile, a directory
/// holding one, or a recipe (a file or a name, `@VERSION` allowed).
pub(super) fn build(
    dirs: &Dirs,
    path: &str,
    build_args: &[String],
    target: Option<&str>,
) -> Result<i32> {
    let mut args = BTreeMap::new();
    for a in build_args {
        let Some((k, v)) = a.split_once('=') else {
            bail!("--build-arg {a}: expected NAME=VALUE");
        };
        args.insert(k.to_owned(), v.to_owned());
    }
    let store = Store::new(dirs.store());
    let config = crate::base::config::load()?;
    let as_dir = Path::new(path).join("Dockerfile");
    let dockerfile: Option<PathBuf> = if Path::new(path).is_dir() {
        Some(as_dir)
    } else if crate::recipe::is_dockerfile(path) {
        Some(PathBuf::from(path))
    } else {
        None
    };
    // The build's display; its raw output goes to store/logs/build.log.
    let shown =
        crate::image::source::progress::Build::begin(path, &store.root().join("logs/build.log"));
    let image = match dockerfile {
        Some(file) => {
            let context = file.parent().map(Path::to_owned).unwrap_or_default();
            let context = if context.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                context
            };
            let name = file.display().to_string();
            let b = dockerfile::Build {
                dockerfile: &file,
                name: &name,
                context: &context,
                args: &args,
                target,
            };
            dockerfile::build(&store, &b, &config.limits)?.image
        }
        None => {
            if !args.is_empty() || target.is_some() {
                bail!("--build-arg and --target apply to Dockerfiles; a recipe sets [image] args");
            }
            let (name, version) = split_spec(path);
            let loaded = repo::find(dirs, name)?.at(version)?;
            let recipe = &loaded.recipe;
            let context = repo::context::for_build(dirs, &loaded)?;
            let base_dir = context.as_deref().or(loaded.base_dir());
            let base = crate::image::build::realize(&recipe.image, base_dir, &store)
                .with_context(|| format!("building {} {}", recipe.name, recipe.version))?;
            steps::run_steps(&store, base, &recipe.image.run)?
        }
    };
    shown.done(&format!("image {}", image.id.short()));
    println!("{}", image.id);
    Ok(0)
}
