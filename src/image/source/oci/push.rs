//! Pushing an installed recipe's image to a registry as a standard OCI image.
//!
//! The image's root filesystem becomes one gzip'ed tar layer, written
//! deterministically (entries in byte order, fixed mtimes, uid/gid 0, no user or group
//! names) so the same image always gives the same layer digest. The config carries the
//! layer's diff_id, the env and command the installed recipe runs with, and a history
//! entry saying where it came from; an OCI manifest ties config and layer together.
//! Blobs the registry already has are not uploaded again. An image cache's copy
//! ([`push_stored`]) keeps the files' modification times (to the second, which is
//! what the unpacker restores), so an image pulled from the cache looks like the one
//! built: Python's `.pyc` files, make and `ls -l` read them. An image built on a base
//! ([`OnBase`]) goes as two layers there: the base's tree, packed once per base
//! (`blobs/packed/`), and what the image adds to it ([`super::diff`]).

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use super::blobs::Blobs;
use super::client::{Body, Client};
use super::diff::Diff;
use super::manifest::{
    self, Descriptor, History, ImageConfigFile, ImageManifest, RootFs, RunConfig,
};
use crate::base::digest::hex;
use crate::image::reference::Reference;
use crate::image::store::{DEFAULT_PATH, ImageConfig, ImageId, Store};
use crate::recipe::Recipe;

/// The timestamp every entry and the config carry (the epoch: nothing about the
/// build machine or time leaks into the digest).
const EPOCH: &str = "1970-01-01T00:00:00Z";

/// What a push produced.
#[derive(Debug)]
pub struct Pushed {
    /// Digest of the uploaded manifest.
    pub digest: String,
    /// The reference it was pushed to, with its tag.
    pub reference: Reference,
}

/// What is pushed: an image of the store and the recipe that runs it (its
/// environment and command go into the image's config).
pub struct Pushing<'a> {
    /// The image.
    pub image: &'a ImageId,
    /// The resolved recipe installed with it.
    pub recipe: &'a Recipe,
    /// The image's runtime config.
    pub config: &'a ImageConfig,
}

/// Pushes `what` (recipe `label`, e.g. `bb@1`) to `reference`.
pub fn push(store: &Store, what: &Pushing, label: &str, reference: &Reference) -> Result<Pushed> {
    let entry = what;
    if reference.digest.is_some() {
        return Err(crate::base::error::hinted(
            format!("cannot push to a digest reference ({reference})"),
            "push to a tag; jig prints the digest afterwards",
        ));
    }
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let rootfs = store.rootfs_of(entry.image);
    if !rootfs.is_dir() {
        return Err(crate::base::error::hinted(
            format!(
                "the image {} of {label} is missing from the store",
                entry.image.short()
            ),
            "`jig install` the recipe again",
        ));
    }
    let make = |diff_ids: Vec<String>| image_config(entry, label, diff_ids);
    let layers = [Part::Whole(&rootfs, BTreeMap::new())];
    upload(
        store,
        &layers,
        label,
        make,
        BTreeMap::new(),
        reference,
        tag,
        false,
    )
}

/// The image a pushed image was built on: its tree is the first layer (as it would be
/// pushed itself, so every image on it shares that layer's digest), with
/// `annotations` on that layer's descriptor; the image's difference from it
/// ([`super::diff`]) is the second.
pub struct OnBase<'a> {
    /// The base image, in the store.
    pub id: &'a ImageId,
    /// The first layer's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Pushes image `id` as it is stored (its runtime config `config` as recorded, the
/// history line `created_by`) to `reference`'s tag, with `annotations` on the
/// manifest, as one layer or, `on` a base, two: what an image cache holds.
pub fn push_stored(
    store: &Store,
    id: &ImageId,
    config: &ImageConfig,
    created_by: &str,
    annotations: BTreeMap<String, String>,
    reference: &Reference,
    on: Option<OnBase>,
) -> Result<Pushed> {
    let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
    let rootfs = store.rootfs_of(id);
    if !rootfs.is_dir() {
        bail!("the image {} is missing from the store", id.short());
    }
    let base = on.as_ref().map(|b| (b.id, store.rootfs_of(b.id)));
    if let Some((b, root)) = &base
        && !root.is_dir()
    {
        bail!("the base image {} is missing from the store", b.short());
    }
    let layers = match (on, &base) {
        (Some(on), Some((_, root))) => {
            vec![
                Part::Base(on.id, root, on.annotations),
                Part::Diff(&rootfs, root),
            ]
        }
        _ => vec![Part::Whole(&rootfs, BTreeMap::new())],
    };
    let mut history: Vec<History> = base
        .iter()
        .map(|(b, _)| History {
            created: Some(EPOCH.into()),
            created_by: Some(format!("jig base image {b}")),
            comment: None,
            empty_layer: None,
        })
        .collect();
    history.push(History {
        created: Some(EPOCH.into()),
        created_by: Some(created_by.to_owned()),
        comment: Some(format!("jig image {id}")),
        empty_layer: None,
    });
    let make = |diff_ids: Vec<String>| {
        let host = manifest::host_platform();
        ImageConfigFile {
            architecture: host.architecture,
            os: host.os,
            config: Some(RunConfig {
                env: Some(config.env.clone()).filter(|v| !v.is_empty()),
                entrypoint: Some(config.entrypoint.clone()).filter(|v| !v.is_empty()),
                cmd: Some(config.cmd.clone()).filter(|v| !v.is_empty()),
                user: None,
            }),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids,
            },
            history,
        }
    };
    upload(
        store,
        &layers,
        id.short(),
        make,
        annotations,
        reference,
        tag,
        true,
    )
}

/// What one layer is made of: a tree (with the layer's descriptor annotations), a
/// stored image's tree (packed once: [`packed`]), or a tree's difference from
/// another.
enum Part<'a> {
    Whole(&'a Path, BTreeMap<String, String>),
    Base(&'a ImageId, &'a Path, BTreeMap<String, String>),
    Diff(&'a Path, &'a Path),
}

/// What [`packed`] remembers of the layer of an image's tree.
#[derive(serde::Serialize, serde::Deserialize)]
struct Packed {
    digest: String,
    size: u64,
    diff_id: String,
    /// The tree's root directory (device, inode, time), which a new copy of the
    /// image under the same id would not have.
    tree: String,
}

/// The layer (with times) of the tree `root` of the stored image `id`, packed again
/// only when the blob cache lacks it: `blobs/packed/<id>` names the blob, so every
/// image pushed on one base packs that base once.
fn packed(store: &Store, blobs: &Blobs, id: &ImageId, root: &Path) -> Result<LayerBlob> {
    let memo = store.root().join("blobs/packed").join(id.hex());
    let m = fs::metadata(root).with_context(|| format!("{}", root.display()))?;
    let tree = format!("{}:{}:{}.{}", m.dev(), m.ino(), m.mtime(), m.mtime_nsec());
    let known = fs::read(&memo)
        .ok()
        .and_then(|b| serde_json::from_slice::<Packed>(&b).ok())
        .filter(|p| p.tree == tree && blobs.has(&p.digest));
    if let Some(p) = known {
        return Ok(LayerBlob {
            digest: p.digest,
            size: p.size,
            diff_id: p.diff_id,
        });
    }
    let layer = write_layer(root, None, blobs, true)?;
    let note = Packed {
        digest: layer.digest.clone(),
        size: layer.size,
        diff_id: layer.diff_id.clone(),
        tree,
    };
    // Only a shortcut: without it the next push packs the tree again.
    if let (Some(dir), Ok(text)) = (memo.parent(), serde_json::to_vec(&note)) {
        let _ = fs::create_dir_all(dir).and_then(|()| fs::write(&memo, text));
    }
    Ok(layer)
}

/// Packs each of `parts` as a layer (with the files' modification times, to the
/// second, when `times`; else the epoch), makes the config of their diff_ids with
/// `make`, and uploads layers, config and manifest (with `annotations`) under `tag`,
/// skipping blobs the registry has.
#[allow(clippy::too_many_arguments)]
fn upload(
    store: &Store,
    parts: &[Part],
    label: &str,
    make: impl FnOnce(Vec<String>) -> ImageConfigFile,
    annotations: BTreeMap<String, String>,
    reference: &Reference,
    tag: String,
    times: bool,
) -> Result<Pushed> {
    let _lock = store.lock_shared()?;
    let blobs = Blobs::new(store)?;

    let mut layers = Vec::new();
    for part in parts {
        let (layer, notes) = match part {
            Part::Whole(root, notes) => (write_layer(root, None, &blobs, times), notes.clone()),
            Part::Base(id, root, notes) => (packed(store, &blobs, id, root), notes.clone()),
            Part::Diff(root, base) => {
                let diff = Diff::between(root, base)?;
                (
                    write_layer(root, Some(&diff), &blobs, times),
                    BTreeMap::new(),
                )
            }
        };
        layers.push((layer.with_context(|| format!("packing {label}"))?, notes));
    }
    let config = make(layers.iter().map(|(l, _)| l.diff_id.clone()).collect());
    let config_bytes = serde_json::to_vec(&config).context("serializing the image config")?;
    let config_digest = crate::base::digest::sha256_digest(&config_bytes);
    let image = ImageManifest {
        schema_version: 2,
        media_type: manifest::OCI_MANIFEST.into(),
        config: Descriptor {
            media_type: manifest::OCI_CONFIG.into(),
            digest: config_digest.clone(),
            size: config_bytes.len() as u64,
            platform: None,
            annotations: Default::default(),
        },
        layers: layers
            .iter()
            .map(|(layer, notes)| Descriptor {
                media_type: manifest::OCI_LAYER_GZIP.into(),
                digest: layer.digest.clone(),
                size: layer.size,
                platform: None,
                annotations: notes.clone(),
            })
            .collect(),
        annotations,
    };
    let manifest_bytes = serde_json::to_vec(&image).context("serializing the manifest")?;

    let mut client = Client::new(reference, true)?;
    for (layer, _) in &layers {
        if !client.has_blob(&layer.digest)? {
            let file = File::open(blobs.path(&layer.digest)?).context("opening the layer blob")?;
            client.upload_blob(&layer.digest, Body::File(&file))?;
        }
    }
    if !client.has_blob(&config_digest)? {
        client.upload_blob(&config_digest, Body::Bytes(&config_bytes))?;
    }
    client.put_manifest(&tag, manifest::OCI_MANIFEST, &manifest_bytes)?;
    Ok(Pushed {
        digest: crate::base::digest::sha256_digest(&manifest_bytes),
        reference: Reference {
            tag: Some(tag),
            ..reference.clone()
        },
    })
}

/// The config: the environment and command the installed recipe runs with.
fn image_config(entry: &Pushing, label: &str, diff_ids: Vec<String>) -> ImageConfigFile {
    let recipe = entry.recipe;
    let mut env: Vec<String> = entry.config.env.clone();
    for (k, v) in &recipe.env.set {
        env.retain(|e| e.split('=').next() != Some(k.as_str()));
        env.push(format!("{k}={v}"));
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }
    let named = recipe
        .tool
        .command
        .clone()
        .or_else(|| recipe.tool.shims.first().map(|s| s.to_string()));
    let (entrypoint, cmd) = match named {
        Some(c) => (None, Some(vec![c])),
        None => (
            Some(entry.config.entrypoint.clone()).filter(|v| !v.is_empty()),
            Some(entry.config.cmd.clone()).filter(|v| !v.is_empty()),
        ),
    };
    let host = manifest::host_platform();
    ImageConfigFile {
        architecture: host.architecture,
        os: host.os,
        config: Some(RunConfig {
            env: Some(env),
            entrypoint,
            cmd,
            user: None,
        }),
        rootfs: RootFs {
            kind: "layers".into(),
            diff_ids,
        },
        history: vec![History {
            created: Some(EPOCH.into()),
            created_by: Some(format!("jig push {label}")),
            comment: Some(format!("jig image {}", entry.image)),
            empty_layer: None,
        }],
    }
}

/// A layer written into the blob cache.
struct LayerBlob {
    digest: String,
    size: u64,
    diff_id: String,
}

/// Counts and hashes bytes on their way to `inner`.
struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `rootfs` (or only what `diff` names of it) as a deterministic tar.gz into
/// the blob cache: entries in byte order, owners 0, and times of the epoch, or
/// (`times`) the entries' own seconds.
fn write_layer(
    rootfs: &Path,
    diff: Option<&Diff>,
    blobs: &Blobs,
    times: bool,
) -> Result<LayerBlob> {
    let temp = blobs.temp()?;
    let file = temp
        .file
        .try_clone()
        .context("opening the layer temp file")?;
    let compressed = HashWriter {
        inner: BufWriter::with_capacity(256 * 1024, file),
        hasher: Sha256::new(),
        count: 0,
    };
    // The gzip header's mtime stays 0 and its name empty: the bytes depend on the
    // content alone.
    let gz = flate2::GzBuilder::new().write(compressed, flate2::Compression::default());
    let plain = HashWriter {
        inner: gz,
        hasher: Sha256::new(),
        count: 0,
    };
    let mut builder = tar::Builder::new(plain);
    let mut links = HashMap::new();
    add_dir(&mut builder, rootfs, "", &mut links, times, diff)?;
    let plain = builder.into_inner().context("finishing the layer tar")?;
    let diff_id = format!("sha256:{}", hex(&plain.hasher.finalize()));
    let mut compressed = plain.inner.finish().context("finishing the layer gzip")?;
    compressed.flush()?;
    let size = compressed.count;
    let digest = format!("sha256:{}", hex(&compressed.hasher.finalize()));
    if blobs.has(&digest) {
        return Ok(LayerBlob {
            digest,
            size,
            diff_id,
        });
    }
    blobs.adopt(temp, &digest)?;
    Ok(LayerBlob {
        digest,
        size,
        diff_id,
    })
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(mtime);
    h.set_uid(0);
    h.set_gid(0);
    h
}

/// Adds the entries below `dir` (at `rel` in the layer): all of them, or with a
/// `diff` its whiteouts here and the entries it names.
fn add_dir<W: Write>(
    b: &mut tar::Builder<W>,
    dir: &Path,
    rel: &str,
    links: &mut HashMap<(u64, u64), String>,
    times: bool,
    diff: Option<&Diff>,
) -> Result<()> {
    for gone in diff.and_then(|d| d.gone.get(rel)).into_iter().flatten() {
        let path = if rel.is_empty() {
            format!(".wh.{gone}")
        } else {
            format!("{rel}/.wh.{gone}")
        };
        let mut h = header(tar::EntryType::Regular, 0o644, 0, 0);
        b.append_data(&mut h, &path, io::empty())
            .with_context(|| format!("adding {path} to the layer"))?;
    }
    let mut names: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let Some(name_str) = name.to_str() else {
            bail!(
                "{}: file names that are not UTF-8 are not supported in pushed images",
                dir.join(&name).display()
            );
        };
        if name_str.starts_with(".wh.") {
            bail!(
                "{}: a file named .wh.* would be read as a whiteout by every puller",
                dir.join(&name).display()
            );
        }
        let path = dir.join(&name);
        let rel_path = if rel.is_empty() {
            name_str.to_owned()
        } else {
            format!("{rel}/{name_str}")
        };
        // With a diff: only what it names, and below a new entry everything.
        let below = match diff.map(|d| d.paths.get(&rel_path)) {
            None => None,
            Some(None) => continue,
            Some(Some(true)) => None,
            Some(Some(false)) => diff,
        };
        let meta = fs::symlink_metadata(&path).with_context(|| format!("{}", path.display()))?;
        let ft = meta.file_type();
        let mode = meta.mode() & 0o7777;
        // Times before the epoch (or unset) are the epoch.
        let mtime = if times { meta.mtime().max(0) as u64 } else { 0 };
        let ctx = || format!("adding {rel_path} to the layer");
        if ft.is_dir() {
            let mut h = header(tar::EntryType::Directory, mode, 0, mtime);
            b.append_data(&mut h, format!("{rel_path}/"), io::empty())
                .with_context(ctx)?;
            add_dir(b, &path, &rel_path, links, times, below)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&path).with_context(ctx)?;
            let mut h = header(tar::EntryType::Symlink, 0o777, 0, mtime);
            b.append_link(&mut h, &rel_path, &target)
                .with_context(ctx)?;
        } else if ft.is_file() {
            if meta.nlink() > 1 {
                let key = (meta.dev(), meta.ino());
                if let Some(first) = links.get(&key) {
                    let mut h = header(tar::EntryType::Link, mode, 0, mtime);
                    b.append_link(&mut h, &rel_path, first).with_context(ctx)?;
                    continue;
                }
                links.insert(key, rel_path.clone());
            }
            let file = File::open(&path).with_context(ctx)?;
            let mut h = header(tar::EntryType::Regular, mode, meta.len(), mtime);
            b.append_data(&mut h, &rel_path, file).with_context(ctx)?;
        } else if ft.is_fifo() {
            let mut h = header(tar::EntryType::Fifo, mode, 0, mtime);
            b.append_data(&mut h, &rel_path, io::empty())
                .with_context(ctx)?;
        }
        // Sockets and devices never enter the store, so there is nothing else.
    }
    Ok(())
}
