//! A Debian recipe's packages installed on top of its suite's configured base: a copy
//! of the base image (times kept, so the files dpkg leaves alone are shared with the
//! base again at commit), the build-only policy file put back, `dpkg --install` of
//! the packages the base lacks in dependency order, `dpkg --configure -a`, the audit,
//! and the same clean-up as a full bootstrap. The image records the base's id
//! (`ImageMeta::base`), so an image cache can push the base's tree as a layer of its own.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use anyhow::{Context, Result};

use crate::image::build::dpkg;
use crate::image::source::debian::Deb;
use crate::image::store::files::clone_tree;
use crate::image::store::{Image, ImageMeta, Store};

/// Builds the image of `base` plus `top` (packages the base lacks).
pub fn on_top(
    store: &Store,
    base: &Image,
    top: &[&Deb],
    slim: Option<&[String]>,
    mut meta: ImageMeta,
) -> Result<Image> {
    meta.base = Some(base.id.clone());
    let temp = store.temp_image()?;
    let root = temp.rootfs();
    clone_tree(&store.rootfs_of(&base.id), &root)?;
    // What the base's clean-up removed and dpkg needs back while it works: no service
    // may start, and the package cache's mountpoint.
    let policy = root.join("usr/sbin/policy-rc.d");
    fs::write(&policy, "#!/bin/sh\nexit 101\n")
        .with_context(|| format!("writing {}", policy.display()))?;
    fs::set_permissions(&policy, fs::Permissions::from_mode(0o755))?;
    fs::create_dir_all(root.join(dpkg::DEBS_INSIDE.trim_start_matches('/')))?;
    // The recipe's own `slim_keep` globs, which the base was built without.
    if let Some(keep) = slim {
        dpkg::slim_config(&root, keep)?;
    }
    dpkg::install(&root, &[("added", top)], &dpkg::debs_dir(top)?)?;
    dpkg::finish(&root, slim)?;
    store.commit(temp, meta)
}
