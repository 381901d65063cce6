//! The image cache: built images kept in a registry repository under the key of what
//! decides them, so each is built once (in CI, say) and pulled everywhere else, the
//! way Nix substituters and BuildKit's registry cache work.
//!
//! A key ([`Facts::key`]) is the sha256 of the host architecture, the resolved
//! recipe's content hash (its source, packages, `slim`, steps, everything) and what
//! the source resolved to: the Debian Packages index and every package's name, version
//! and .deb hash, or the OCI manifest digest, or the busybox binary's hash. The image
//! goes to the tag `jig-<first 32 hex digits of the key>` as one OCI image (the
//! deterministic layers `jig push` writes), its manifest annotated with the full key
//! ([`KEY`]), the image id, i.e. the tree hash ([`IMAGE`]), and the image's metadata
//! ([`META`]: source, source digest, packages, runtime config) and the modes the
//! unpacker does not write ([`MODES`]: set-id bits and the like, which a pull sets
//! back so the tree hash is the built one).
//!
//! An image built on a base that is still in the store (a Debian recipe on its suite's
//! base) goes as two layers: the base's tree, written as the base itself would be, so
//! every recipe of the suite has the same first layer and the registry keeps it once,
//! annotated with the base's id, metadata and modes ([`BASE`], [`BASE_META`],
//! [`BASE_MODES`]); then what the image adds to it (`oci::diff`). A pull whose store
//! has that base starts from a copy of it and downloads the second layer only;
//! otherwise it pulls the first layer as the base image (its tree hash must be the id
//! annotated), then the image on a copy of it, so the next image of the suite finds
//! the base.
//!
//! The cache is hostile input like any registry. A hit must carry the full key it was
//! looked up by, metadata whose source digest and packages are the key's own, and an
//! image id; the layers are pulled with every blob verified, and the tree hash of
//! what was unpacked must be the id the manifest claims, whatever base its first
//! layer names. Any of these failing is an error ([`check`], [`fetch`]), never a
//! quiet rebuild. What no check here can see is
//! a cache that serves, consistently, another tree under a key: outside a locked
//! project (where the install checks the id against `jig.lock`) the cache is trusted
//! as whoever pushes to it.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::base::config::CacheRepo;
use crate::image::reference::Reference;
use crate::image::source::{oci, progress};
use crate::image::store::{Image, ImageId, ImageMeta, PackagePin, Store};
use crate::image::unpack;

/// Manifest annotation: the full cache key.
pub const KEY: &str = "dev.jig.cache.key";
/// Manifest annotation: the image id (`sha256:` tree hash).
pub const IMAGE: &str = "dev.jig.image";
/// Manifest annotation: the image's metadata (`image.toml`'s fields, as JSON).
pub const META: &str = "dev.jig.meta";
/// Manifest annotation: the modes the unpacker does not write (set-id bits, owners
/// without read or write), as a JSON object of path → mode (`oci::modes`).
pub const MODES: &str = "dev.jig.modes";
/// First layer's annotation: the image id of the base whose tree the layer is (the
/// image's second layer is what it adds to that base).
pub const BASE: &str = "dev.jig.base";
/// First layer's annotation: the base's metadata, as [`META`] is the image's.
pub const BASE_META: &str = "dev.jig.base.meta";
/// First layer's annotation: the base's modes, as [`MODES`] are the image's.
pub const BASE_MODES: &str = "dev.jig.base.modes";
/// The prefix of the tags jig writes.
pub const TAG_PREFIX: &str = "jig-";

/// What decides an image, as far as its key is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// `sha256:` of the resolved recipe.
    pub recipe: String,
    /// What the source resolved to: the OCI manifest digest, the Debian Packages
    /// index's `sha256:`, a busybox binary's or rootfs tarball's `sha256:`.
    pub source_digest: String,
    /// Debian: every package, sorted by name.
    pub packages: Vec<PackagePin>,
}

impl Facts {
    /// The cache key: sha256 hex of the architecture and every fact, each field ended
    /// by a NUL so no two fact lists give the same bytes.
    pub fn key(&self) -> String {
        let mut text = String::from("jig-cache-v1\0");
        for f in [
            oci::manifest::host_platform().architecture.as_str(),
            &self.recipe,
            &self.source_digest,
        ] {
            text.push_str(f);
            text.push('\0');
        }
        for p in &self.packages {
            for f in [&p.name, &p.version, &p.sha256] {
                text.push_str(f);
                text.push('\0');
            }
            text.push('\n');
        }
        crate::base::digest::sha256_hex(text.as_bytes())
    }

    /// Whether `meta` (from a cache's annotation) records these sources.
    fn matches(&self, meta: &ImageMeta) -> bool {
        meta.source_digest.as_deref() == Some(self.source_digest.as_str())
            && meta.packages == self.packages
    }
}

/// The tag an image of `key` is kept under.
pub fn tag(key: &str) -> String {
    format!("{TAG_PREFIX}{}", &key[..32.min(key.len())])
}

/// The reference of `tag` in the cache repository `repo`.
pub fn reference(repo: &CacheRepo, tag: &str) -> Result<Reference> {
    Reference::parse(&format!("{repo}:{tag}")).map_err(anyhow::Error::msg)
}

/// Asks the cache for `key`'s tag: `Ok(None)` is a miss; an error means the cache
/// could not answer (unreachable, refused).
pub fn lookup(repo: &CacheRepo, key: &str) -> Result<Option<oci::Tagged>> {
    oci::tagged(&reference(repo, &tag(key))?)
}

/// A hit, checked against the key it was looked up by.
pub struct Hit {
    tagged: oci::Tagged,
    /// The image id the cache claims (checked again after the pull).
    pub image: ImageId,
    /// The metadata the image is recorded with.
    pub meta: ImageMeta,
    /// The modes to set after unpacking.
    modes: BTreeMap<String, u32>,
    /// The base image the first layer is said to be, when there are more layers.
    base: Option<Base>,
}

/// What a hit's first layer says of the base image it is.
struct Base {
    id: ImageId,
    meta: ImageMeta,
    modes: BTreeMap<String, u32>,
}

/// Checks what the cache holds under `facts`' tag: the full key, the image id, and
/// metadata naming the same sources. A mismatch is an error: a tag that is not what
/// its name says is damage or tampering, not a miss.
pub fn check(repo: &CacheRepo, tagged: oci::Tagged, facts: &Facts) -> Result<Hit> {
    let key = facts.key();
    let what = format!("the cache {repo}, tag {}", tag(&key));
    let refused = |why: String| {
        crate::base::error::hinted(
            format!("{what}: {why}"),
            "the cache's copy is damaged or was tampered with; nothing was installed from it",
        )
    };
    let a = &tagged.manifest.annotations;
    match a.get(KEY) {
        Some(k) if *k == key => {}
        Some(k) => return Err(refused(format!("it is the image of key {k}, not {key}"))),
        None => return Err(refused(format!("its manifest names no key ({KEY})"))),
    }
    let image = a
        .get(IMAGE)
        .ok_or_else(|| refused(format!("its manifest names no image ({IMAGE})")))
        .and_then(|i| ImageId::parse(i).map_err(|e| refused(format!("{e:#}"))))?;
    let meta: ImageMeta = a
        .get(META)
        .ok_or_else(|| refused(format!("its manifest has no metadata ({META})")))
        .and_then(|m| {
            serde_json::from_str(m)
                .map_err(|e| refused(format!("its metadata does not parse: {e}")))
        })?;
    if !facts.matches(&meta) {
        return Err(refused(
            "its metadata names other sources than the key (source digest, packages)".into(),
        ));
    }
    if tagged.manifest.layers.is_empty() {
        return Err(refused("its manifest has no layers".into()));
    }
    let modes = modes_of(a.get(MODES)).map_err(|e| refused(format!("its mode list {e}")))?;
    let base = match &tagged.manifest.layers[..] {
        [first, _, ..] => base_of(&first.annotations)
            .map_err(|e| refused(format!("its first layer's base {e}")))?,
        _ => None,
    };
    Ok(Hit {
        tagged,
        image,
        meta,
        modes,
        base,
    })
}

/// A mode list annotation, or none.
fn modes_of(text: Option<&String>) -> Result<BTreeMap<String, u32>> {
    match text {
        None => Ok(BTreeMap::new()),
        Some(m) => serde_json::from_str(m).context("does not parse"),
    }
}

/// The base a first layer's annotations name, if any.
fn base_of(a: &BTreeMap<String, String>) -> Result<Option<Base>> {
    let Some(id) = a.get(BASE) else {
        return Ok(None);
    };
    let meta = a.get(BASE_META).context("has no metadata")?;
    Ok(Some(Base {
        id: ImageId::parse(id)?,
        meta: serde_json::from_str(meta).context("metadata does not parse")?,
        modes: modes_of(a.get(BASE_MODES)).context("mode list")?,
    }))
}

/// The image of a checked hit: from the store when it is there already, else pulled
/// (every blob verified, within `limits`) and committed; its tree hash must be the id
/// the manifest claims.
pub fn fetch(
    repo: &CacheRepo,
    mut hit: Hit,
    store: &Store,
    limits: &unpack::Limits,
) -> Result<Image> {
    if let Some(image) = store.hold(&hit.image)? {
        return Ok(image);
    }
    let claimed = hit.image.clone();
    let had = stored(store)?;
    let image = pull(&mut hit, store, limits, &had)
        .with_context(|| format!("pulling image {} from the cache {repo}", claimed.short()))?;
    if image.id != claimed {
        // Named by what it holds, so harmless in the store; but not the image asked for.
        drop_new(store, &image.id, &had);
        return Err(crate::base::error::hinted(
            format!(
                "the cache {repo} claims image {claimed}, but its layers unpack to {}",
                image.id
            ),
            "the cache's copy is damaged or was tampered with; nothing was installed from it",
        ));
    }
    Ok(image)
}

/// The ids of the images in `store`.
fn stored(store: &Store) -> Result<Vec<ImageId>> {
    Ok(store.images()?.into_iter().map(|i| i.id).collect())
}

/// Removes `id` if a pull made it: an image that was there before stays.
fn drop_new(store: &Store, id: &ImageId, had: &[ImageId]) {
    if !had.contains(id) {
        let _ = store.remove(std::slice::from_ref(id));
    }
}

/// Pulls a hit's layers: onto a copy of its base when the first layer is said to be
/// a base image (pulled first, from that layer, when the store lacks it), else all.
fn pull(hit: &mut Hit, store: &Store, limits: &unpack::Limits, had: &[ImageId]) -> Result<Image> {
    let Some(base) = hit.base.take() else {
        let all = oci::Layers::all(&hit.tagged.manifest);
        return oci::pull_tagged(
            &mut hit.tagged,
            (store, limits),
            all,
            &hit.modes,
            hit.meta.clone(),
        );
    };
    let count = hit.tagged.manifest.layers.len();
    let base = match store.hold(&base.id)? {
        Some(image) => {
            progress::note(&format!(
                "layer 1/{count}: the base image {} is in the store; not downloaded",
                image.id.short()
            ));
            image
        }
        None => pull_base(hit, base, store, limits, had)?,
    };
    let rootfs = store.rootfs_of(&base.id);
    let rest = oci::Layers {
        range: 1..count,
        onto: Some(&rootfs),
    };
    oci::pull_tagged(
        &mut hit.tagged,
        (store, limits),
        rest,
        &hit.modes,
        hit.meta.clone(),
    )
}

/// The base image a hit's first layer is said to be, pulled from that layer alone;
/// it must unpack to the id its annotation names.
fn pull_base(
    hit: &mut Hit,
    base: Base,
    store: &Store,
    limits: &unpack::Limits,
    had: &[ImageId],
) -> Result<Image> {
    let first = oci::Layers {
        range: 0..1,
        onto: None,
    };
    let image = oci::pull_tagged(
        &mut hit.tagged,
        (store, limits),
        first,
        &base.modes,
        base.meta,
    )?;
    if image.id != base.id {
        drop_new(store, &image.id, had);
        return Err(crate::base::error::hinted(
            format!(
                "its first layer is said to be the base image {}, but unpacks to {}",
                base.id, image.id
            ),
            "the cache's copy is damaged or was tampered with; nothing was installed from it",
        ));
    }
    Ok(image)
}

/// The annotations of the first layer of an image built on `base`: its id, metadata
/// and modes.
fn base_annotations(store: &Store, base: &Image) -> Result<BTreeMap<String, String>> {
    let mut meta = base.meta.clone();
    meta.size = 0;
    let modes = oci::modes::collect(&store.rootfs_of(&base.id))?;
    Ok(BTreeMap::from([
        (BASE.to_owned(), base.id.to_string()),
        (BASE_META.to_owned(), serde_json::to_string(&meta)?),
        (BASE_MODES.to_owned(), serde_json::to_string(&modes)?),
    ]))
}

/// Pushes `image` to the cache under the key of `facts`: the tag.
pub fn push(repo: &CacheRepo, store: &Store, image: &Image, facts: &Facts) -> Result<String> {
    let key = facts.key();
    let tag = tag(&key);
    let mut meta = image.meta.clone();
    // The size is the store's count, made again at commit.
    meta.size = 0;
    let modes = oci::modes::collect(&store.rootfs_of(&image.id))?;
    let annotations = BTreeMap::from([
        (
            MODES.to_owned(),
            serde_json::to_string(&modes).context("serializing the mode list")?,
        ),
        (KEY.to_owned(), key),
        (IMAGE.to_owned(), image.id.to_string()),
        (
            META.to_owned(),
            serde_json::to_string(&meta).context("serializing the image metadata")?,
        ),
    ]);
    let reference = reference(repo, &tag)?;
    // Built on a base that is still here: the base's tree, then what the image adds.
    let base = match &image.meta.base {
        Some(b) => store.image(b)?,
        None => None,
    };
    let on = match &base {
        Some(b) => Some(oci::push::OnBase {
            id: &b.id,
            annotations: base_annotations(store, b)?,
        }),
        None => None,
    };
    oci::push::push_stored(
        store,
        &image.id,
        &image.meta.config,
        &format!("jig cache {}", image.meta.source),
        annotations,
        &reference,
        on,
    )?;
    Ok(tag)
}

/// One image a cache holds, as [`list`] reads it from its manifest.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The tag.
    pub tag: String,
    /// The full key, if annotated.
    pub key: Option<String>,
    /// The image id, if annotated.
    pub image: Option<String>,
    /// The image's source, from its metadata.
    pub source: Option<String>,
}

/// The images `repo` holds under jig's tags, sorted by tag.
pub fn list(repo: &CacheRepo) -> Result<Vec<Listed>> {
    let any = reference(repo, "latest")?;
    let mut tags: Vec<String> = oci::tags(&any)?
        .into_iter()
        .filter(|t| t.starts_with(TAG_PREFIX))
        .collect();
    tags.sort();
    let mut out = Vec::new();
    for t in tags {
        let Some(found) = oci::tagged(&reference(repo, &t)?)? else {
            continue;
        };
        let a = &found.manifest.annotations;
        let source = a
            .get(META)
            .and_then(|m| serde_json::from_str::<ImageMeta>(m).ok())
            .map(|m| m.source);
        out.push(Listed {
            key: a.get(KEY).cloned(),
            image: a.get(IMAGE).cloned(),
            source,
            tag: t,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            recipe: "sha256:aa".into(),
            source_digest: "sha256:bb".into(),
            packages: vec![PackagePin {
                name: "git".into(),
                version: "1".into(),
                sha256: "cc".into(),
            }],
        }
    }

    #[test]
    fn every_fact_moves_the_key() {
        let base = facts().key();
        assert_eq!(base.len(), 64);
        assert_eq!(base, facts().key(), "deterministic");
        let mut f = facts();
        f.recipe = "sha256:ab".into();
        assert_ne!(f.key(), base);
        let mut f = facts();
        f.source_digest = "sha256:bc".into();
        assert_ne!(f.key(), base);
        let mut f = facts();
        f.packages[0].sha256 = "cd".into();
        assert_ne!(f.key(), base);
        let mut f = facts();
        f.packages.clear();
        assert_ne!(f.key(), base);
        // Fields cannot slide into each other.
        let mut f = facts();
        f.packages[0].name = "gi".into();
        f.packages[0].version = "t1".into();
        assert_ne!(f.key(), base);
        assert_eq!(tag(&base), format!("jig-{}", &base[..32]));
    }

    #[test]
    fn metadata_must_name_the_keys_sources() {
        let f = facts();
        let mut meta = ImageMeta {
            source: "debian:bookworm".into(),
            source_digest: Some("sha256:bb".into()),
            packages: f.packages.clone(),
            ..ImageMeta::default()
        };
        assert!(f.matches(&meta));
        meta.packages[0].version = "2".into();
        assert!(!f.matches(&meta));
        meta.packages = f.packages.clone();
        meta.source_digest = None;
        assert!(!f.matches(&meta));
    }
}
