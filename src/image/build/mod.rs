//! Image builds: a recipe's `[image]` table made into an image in the store, from
//! its source ([`realize`]), through a Debian bootstrap ([`bootstrap`]) and `run`
//! steps ([`steps`]).

pub mod bootstrap;
pub mod dockerfile;
pub mod dpkg;
pub mod layer;
pub mod output;
pub mod steps;

use crate::image::source::{debian, oci, rootfs};

use std::path::Path;

use anyhow::{Context, Result};

use crate::image::store::{Image, Store};
use crate::recipe::{ImageSpec, Source};

/// The Debian source `[image]` names (`from = "debian:SUITE"`, `mirror`, `snapshot`,
/// `insecure`), with the keyring of jig's `config`.
pub fn debian_spec(
    spec: &ImageSpec,
    suite: &str,
    config: &crate::base::config::Config,
) -> debian::Spec {
    debian::Spec {
        suite: suite.to_owned(),
        mirror: spec.mirror.as_ref().map(|m| m.as_str().to_owned()),
        snapshot: spec.snapshot.as_ref().map(|s| s.as_str().to_owned()),
        insecure: spec.insecure,
        keyring: config.debian_keyring.clone(),
        arch: None,
    }
}

/// Produces the base image for `[image]`, importing, fetching or bootstrapping it as
/// needed (`run` steps are applied afterwards by [`crate::image::build::steps`]). `base` is the
/// directory relative paths are resolved against (the recipe file's directory).
///
/// jig's `config.toml` is read here, once: its `[limits]` bound what every source
/// unpacks, and the Debian keyring comes from it too.
pub fn realize(spec: &ImageSpec, base: Option<&Path>, store: &Store) -> Result<Image> {
    let config = crate::base::config::load()?;
    let limits = &config.limits;
    match &spec.from {
        Source::Rootfs(path) => {
            let path = match base {
                Some(b) if path.is_relative() => b.join(path),
                _ => path.clone(),
            };
            rootfs::import(&path, store, limits)
                .with_context(|| format!("importing root filesystem {}", path.display()))
        }
        Source::Debian(suite) => {
            let debian = debian_spec(spec, suite.as_str(), &config);
            let packages: Vec<String> = spec
                .packages
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect();
            let keep: Vec<String> = spec
                .slim_keep
                .iter()
                .map(|k| k.as_str().to_owned())
                .collect();
            let slim = spec.slim.then_some(keep.as_slice());
            crate::image::build::bootstrap::image(store, &debian, &packages, slim, limits)
                .with_context(|| format!("building the debian:{suite} image"))
        }
        Source::Busybox(binary) => rootfs::busybox(binary, store)
            .with_context(|| format!("making a busybox image from {}", binary.display())),
        Source::Oci(reference) => {
            oci::pull(reference, store, limits).with_context(|| format!("pulling {reference}"))
        }
        Source::Dockerfile(path) => {
            let Some(base) = base else {
                return Err(crate::base::error::hinted(
                    format!(
                        "dockerfile:{path}: this recipe has no directory to find the Dockerfile in"
                    ),
                    "install the recipe from its file, or a Dockerfile by its path",
                ));
            };
            let file = base.join(path.as_str());
            let context = match &spec.context {
                Some(c) => base.join(c.as_str()),
                None => file
                    .parent()
                    .map(Path::to_owned)
                    .unwrap_or_else(|| base.to_owned()),
            };
            let args = spec
                .args
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect();
            let b = crate::image::build::dockerfile::Build {
                dockerfile: &file,
                name: path.as_str(),
                context: &context,
                args: &args,
                target: None,
            };
            Ok(crate::image::build::dockerfile::build(store, &b, limits)?.image)
        }
    }
}
