//! Registry images: `oci:REF` pulls an image from an OCI / Docker registry.
//!
//! A pull resolves the reference to a manifest (through an index when the image is
//! multi-platform), reads the image config, and applies the layers bottom-up into a
//! temp image with the checked unpacker. Each layer is streamed once: the download is
//! hashed and written to the blob cache while it is decompressed, hashed again
//! (against the config's `diff_ids`) and unpacked. Only when every digest matched is
//! the temp image committed; any failure drops it, so nothing half-made or unverified
//! ever becomes an image. Blobs already in the cache are not downloaded again. The
//! layers are held to the `[limits]` of `config.toml` as they stream, each layer on
//! its own and the image over all of them; past a layer's end-of-archive marker only
//! [`MAX_TRAILER`] bytes of padding are hashed.
//!
//! Submodules: [`reference`] (names), [`client`] (HTTP + auth), [`auth`]
//! (credentials, challenges), [`manifest`] (documents), [`blobs`] (the cache),
//! [`push`] (the other direction), [`diff`] (what an image adds to its base, an image
//! cache's second layer), [`modes`] (what an image cache carries beside its
//! layers); progress on stderr is a
//! [`Transfer`](super::progress::Transfer) per layer.

pub mod auth;
pub mod blobs;
pub mod client;
pub mod diff;
pub mod manifest;
pub mod modes;
pub mod push;

use std::fs::File;
use std::io::{self, Read};

use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};

use crate::base::digest::hex;
pub use crate::image::reference::Reference;
use crate::image::source::progress::Transfer;
use crate::image::store::{Image, ImageConfig, ImageMeta, Store};
use crate::image::unpack;
use blobs::{BlobWriter, Blobs};
use client::Client;
use manifest::{Descriptor, Document, ImageConfigFile, ImageManifest};

/// Largest config blob jig reads into memory.
const MAX_CONFIG: u64 = 16 * 1024 * 1024;

/// Most bytes a decompressed layer may have after its tar's end-of-archive blocks. Tar
/// writers pad to a record (10 KiB for GNU tar, nothing for Go's archive/tar); more
/// than this is a decompression bomb hiding where no entry is counted.
pub const MAX_TRAILER: u64 = 16 << 20;

/// Pulls `reference` into `store` (or finds it there) within `limits`, and returns the
/// image.
pub fn pull(reference: &Reference, store: &Store, limits: &unpack::Limits) -> Result<Image> {
    // A digest names immutable content: if it was pulled before, no network at all.
    if let Some(d) = &reference.digest
        && let Some(image) = stored_with_digest(store, d)?
    {
        return Ok(image);
    }
    // Mirrors first, in order, then the registry: the first that names a manifest is
    // used for the whole pull. A mirror is trusted no more than the registry: what it
    // sends is verified the same way, and a digest reference pins the content.
    let mut clients = client::pull_clients(reference)?.into_iter().peekable();
    let (mut client, found) = loop {
        let mut client = clients.next().expect("the registry itself is always tried");
        match resolve(&mut client, reference, store) {
            Ok(found) => break (client, found),
            Err(e) if clients.peek().is_some() => {
                eprintln!("jig: {}: {e:#}; trying the next", client.name());
            }
            Err(e) => return Err(e),
        }
    };
    let (manifest, digest) = match found {
        Found::Stored(image) => return Ok(image),
        Found::Manifest(m, d) => (m, d),
    };

    let source = format!("oci:{reference}");
    let keep = |_: &std::path::Path| Ok(());
    let all = Layers::all(&manifest);
    pull_manifest(
        &mut client,
        reference,
        &manifest,
        (store, limits),
        all,
        keep,
        |run| ImageMeta {
            source,
            source_digest: Some(digest),
            config: ImageConfig {
                env: run.env.unwrap_or_default(),
                entrypoint: run.entrypoint.unwrap_or_default(),
                cmd: run.cmd.unwrap_or_default(),
            },
            layers: manifest.layers.iter().map(|l| l.digest.clone()).collect(),
            ..ImageMeta::default()
        },
    )
}

/// Which layers of a manifest a pull applies, and onto what.
pub struct Layers<'a> {
    /// The manifest's layers applied, by index (all of them for a plain pull).
    pub range: std::ops::Range<usize>,
    /// A stored tree the pull starts from (a copy, `store::files::clone_tree`)
    /// instead of nothing: what the layers before `range` are known to make.
    pub onto: Option<&'a std::path::Path>,
}

impl Layers<'_> {
    /// Every layer of `manifest`, from nothing.
    pub fn all(manifest: &ImageManifest) -> Layers<'static> {
        Layers {
            range: 0..manifest.layers.len(),
            onto: None,
        }
    }
}

/// Downloads (or finds in the blob cache) the config and the `layers` of `manifest`,
/// every blob verified while it streams, unpacks them into a temp image within
/// `limits` and commits it with the metadata `meta` makes of the image config's run
/// section, after `fixup` had its say on the unpacked root.
fn pull_manifest(
    client: &mut Client,
    reference: &Reference,
    manifest: &ImageManifest,
    (store, limits): (&Store, &unpack::Limits),
    layers: Layers,
    fixup: impl FnOnce(&std::path::Path) -> Result<()>,
    meta: impl FnOnce(manifest::RunConfig) -> ImageMeta,
) -> Result<Image> {
    let _lock = store.lock_shared()?;
    let blobs = Blobs::new(store)?;
    blobs.sweep_stale();
    let config = fetch_config(client, &blobs, manifest)?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        bail!(
            "{reference}: the manifest lists {} layers but the config {} diff_ids",
            manifest.layers.len(),
            diff_ids.len()
        );
    }
    let host = manifest::host_platform();
    if !config.architecture.is_empty() && config.architecture != host.architecture {
        return Err(crate::base::error::hinted(
            format!(
                "{reference} is built for {}/{}, this machine is {host}",
                config.os, config.architecture
            ),
            format!("pull a tag or digest made for {host}"),
        ));
    }

    let temp = store.temp_image()?;
    if let Some(onto) = layers.onto {
        crate::image::store::files::clone_tree(onto, &temp.rootfs())?;
    }
    let budget = unpack::Budget::new(*limits).context("setting up the image's limits")?;
    let count = manifest.layers.len();
    for (i, (layer, diff_id)) in manifest.layers.iter().zip(diff_ids).enumerate() {
        if !layers.range.contains(&i) {
            continue;
        }
        let name = format!("layer {}/{count} {}", i + 1, short(&layer.digest));
        let target = temp.rootfs();
        apply_layer(client, &blobs, layer, diff_id, &target, &budget, &name)?;
    }
    fixup(&temp.rootfs())?;
    store.commit(temp, meta(config.config.unwrap_or_default()))
}

/// An image manifest a registry holds under a tag, as [`tagged`] found it.
pub struct Tagged {
    client: Client,
    reference: Reference,
    /// The manifest.
    pub manifest: ImageManifest,
}

/// The image manifest `reference` (a tag) names at its registry itself (mirrors are
/// not asked), or `Ok(None)` when the registry has no such tag. An index is refused:
/// what jig pushes under its own tags is one image manifest.
pub fn tagged(reference: &Reference) -> Result<Option<Tagged>> {
    let mut client = Client::new(reference, false)?;
    let tag = reference.manifest_ref();
    let url = client.url(&format!("manifests/{tag}"));
    let resp = client.request(
        ureq::http::Method::HEAD,
        &url,
        &[("accept", manifest::ACCEPT)],
        client::Body::Empty,
    )?;
    if resp.status() == 404 {
        return Ok(None);
    }
    let (body, content_type) = client.manifest(tag)?;
    let manifest = match manifest::parse(&body, content_type.as_deref())
        .with_context(|| format!("reading the manifest of {reference}"))?
    {
        Document::Image(m) => m,
        Document::Index(_) => bail!("{reference} names an index, not one image manifest"),
    };
    Ok(Some(Tagged {
        client,
        reference: reference.clone(),
        manifest,
    }))
}

/// Pulls the `layers` of what [`tagged`] found into `store`, as [`pull`] does (every
/// blob verified, within `limits`), sets the `modes` the unpacker does not write
/// ([`modes::restore`]) and records `meta` as its metadata.
pub fn pull_tagged(
    tagged: &mut Tagged,
    (store, limits): (&Store, &unpack::Limits),
    layers: Layers,
    modes: &std::collections::BTreeMap<String, u32>,
    meta: ImageMeta,
) -> Result<Image> {
    let Tagged {
        ref mut client,
        ref reference,
        ref manifest,
        ..
    } = *tagged;
    let restore = |root: &std::path::Path| modes::restore(root, modes);
    pull_manifest(
        client,
        reference,
        manifest,
        (store, limits),
        layers,
        restore,
        |_| meta,
    )
}

/// The tags of `reference`'s repository (`GET /v2/<name>/tags/list`, every page).
pub fn tags(reference: &Reference) -> Result<Vec<String>> {
    let mut client = Client::new(reference, false)?;
    let mut url = client.url("tags/list?n=1000");
    let mut out = Vec::new();
    for _ in 0..100 {
        let mut resp = client.request(ureq::http::Method::GET, &url, &[], client::Body::Empty)?;
        if resp.status() == 404 {
            // distribution answers 404 for a repository nothing was pushed to yet.
            return Ok(out);
        }
        client.check(&mut resp, "the tag list")?;
        let next = resp
            .headers()
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(|l| l.split(';').next())
            .map(|l| {
                l.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            });
        let body = resp
            .body_mut()
            .with_config()
            .limit(8 << 20)
            .read_to_vec()
            .context("reading the tag list")?;
        #[derive(serde::Deserialize)]
        struct List {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let list: List = serde_json::from_slice(&body).context("the tag list is not valid JSON")?;
        out.extend(list.tags.unwrap_or_default());
        match next {
            Some(n) if n.starts_with('/') => url = format!("{}{n}", client.origin()),
            _ => return Ok(out),
        }
    }
    bail!("{reference}: the tag list has more than 100 pages")
}

/// The digest of the manifest `reference`'s tag names now, asked of its mirrors in
/// order and then its registry (as [`pull`] does): a HEAD, or a GET hashed here when
/// the registry does not say. Nothing is stored. What `jig outdated` compares an
/// installed image's source digest with.
pub fn tag_digest(reference: &Reference) -> Result<String> {
    let mut clients = client::pull_clients(reference)?.into_iter().peekable();
    loop {
        let mut client = clients.next().expect("the registry itself is always tried");
        let asked = client
            .manifest_digest(reference.manifest_ref())
            .and_then(|d| match d {
                Some(d) => Ok(d),
                None => client
                    .manifest(reference.manifest_ref())
                    .map(|(body, _)| crate::base::digest::sha256_digest(&body)),
            });
        match asked {
            Ok(d) => return Ok(d),
            Err(e) if clients.peek().is_some() => {
                eprintln!("jig: {}: {e:#}; trying the next", client.name());
            }
            Err(e) => return Err(e),
        }
    }
}

/// What a registry (or mirror) said a reference names.
enum Found {
    /// An image already stored from the manifest the tag names now.
    Stored(Image),
    /// The image manifest to pull, and the digest of the manifest the reference named.
    Manifest(ImageManifest, String),
}

/// Resolves `reference` at `client`'s registry to an image manifest (through an index
/// for this platform), or to an image already stored from that manifest.
fn resolve(client: &mut Client, reference: &Reference, store: &Store) -> Result<Found> {
    if reference.digest.is_none() {
        // A HEAD tells which digest the tag points at now, without a full manifest
        // fetch (Docker Hub counts GETs against its pull limit, not HEADs).
        if let Some(d) = client.manifest_digest(reference.manifest_ref())?
            && let Some(image) = stored_with_digest(store, &d)?
        {
            return Ok(Found::Stored(image));
        }
    }
    let (body, content_type) = client.manifest(reference.manifest_ref())?;
    let digest = crate::base::digest::sha256_digest(&body);
    if let Some(want) = &reference.digest
        && *want != digest
    {
        return Err(crate::base::error::hinted(
            format!(
                "{} sent a manifest whose digest is {digest}, not the requested {want}",
                client.name()
            ),
            "the registry is broken or tampered with; nothing was stored",
        ));
    }
    let manifest = match manifest::parse(&body, content_type.as_deref())
        .with_context(|| format!("reading the manifest of {reference}"))?
    {
        Document::Image(m) => m,
        Document::Index(entries) => {
            let chosen = manifest::select(&entries, &manifest::host_platform())
                .with_context(|| format!("choosing a platform of {reference}"))?;
            let (body, ct) = client.manifest(&chosen.digest)?;
            verify_bytes(&body, &chosen.digest, "platform manifest")?;
            match manifest::parse(&body, ct.as_deref())? {
                Document::Image(m) => m,
                Document::Index(_) => bail!(
                    "{reference}: the index entry {} is another index; jig reads one level",
                    chosen.digest
                ),
            }
        }
    };
    Ok(Found::Manifest(manifest, digest))
}

/// An image in the store pulled from manifest `digest`, if any.
fn stored_with_digest(store: &Store, digest: &str) -> Result<Option<Image>> {
    Ok(store.images()?.into_iter().find(|i| {
        i.meta.source.starts_with("oci:") && i.meta.source_digest.as_deref() == Some(digest)
    }))
}

fn short(digest: &str) -> String {
    digest.chars().take(7 + 12).collect()
}

fn verify_bytes(bytes: &[u8], digest: &str, what: &str) -> Result<()> {
    let got = crate::base::digest::sha256_digest(bytes);
    if got != digest {
        return Err(crate::base::error::hinted(
            format!("the {what} {digest} is corrupt: its content hashes to {got}"),
            "the registry's copy is damaged or was tampered with; nothing was stored",
        ));
    }
    Ok(())
}

/// Downloads (or reads from the cache) and parses the image config.
fn fetch_config(
    client: &mut Client,
    blobs: &Blobs,
    manifest: &ImageManifest,
) -> Result<ImageConfigFile> {
    let desc = &manifest.config;
    if desc.size > MAX_CONFIG {
        bail!(
            "the image config is {} bytes; jig refuses configs over {MAX_CONFIG}",
            desc.size
        );
    }
    let path = blobs.path(&desc.digest)?;
    if !blobs.has(&desc.digest) {
        let mut writer = blobs.writer(&desc.digest, desc.size)?;
        let mut body = client.blob(&desc.digest)?.take(desc.size + 1);
        io::copy(&mut body, &mut writer)
            .with_context(|| format!("downloading config {}", desc.digest))?;
        writer.finish(blobs)?;
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_slice(&bytes).context("the image config is not valid JSON")
}

/// Reads a layer from the network (teeing it into a [`BlobWriter`]) or the cache,
/// counting progress.
struct LayerSource {
    inner: Box<dyn Read>,
    writer: Option<BlobWriter>,
    progress: Transfer,
}

impl Read for LayerSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        crate::base::interrupt::check_io()?;
        let n = self.inner.read(buf)?;
        if let Some(w) = &mut self.writer {
            io::Write::write_all(w, &buf[..n])?;
            self.progress.add(n);
        }
        Ok(n)
    }
}

/// Hashes what is read through it (the decompressed layer, for its diff_id).
struct HashReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

fn apply_layer(
    client: &mut Client,
    blobs: &Blobs,
    layer: &Descriptor,
    diff_id: &str,
    target: &std::path::Path,
    budget: &unpack::Budget,
    name: &str,
) -> Result<()> {
    blobs::digest_hex(&layer.digest)?;
    let mt = layer.media_type.as_str();
    if mt.contains("nondistributable") || mt.contains("foreign") {
        bail!("{name}: layer type {mt} points outside the registry; jig does not fetch those");
    }
    let progress = Transfer::new(name.to_owned(), layer.size);
    let mut source = if blobs.has(&layer.digest) {
        progress.note("already present");
        let path = blobs.path(&layer.digest)?;
        let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
        LayerSource {
            inner: Box::new(io::BufReader::with_capacity(256 * 1024, file)),
            writer: None,
            progress,
        }
    } else {
        // One byte more than declared is read so an oversized blob is noticed.
        let body = client.blob(&layer.digest)?.take(layer.size + 1);
        LayerSource {
            inner: Box::new(body),
            writer: Some(blobs.writer(&layer.digest, layer.size)?),
            progress,
        }
    };
    let diff_hash = {
        let decompressed = unpack::decompress(Box::new(&mut source))
            .map_err(|e| anyhow!("{name}: cannot read the layer: {e}"))?;
        let mut diff = HashReader {
            inner: decompressed,
            hasher: Sha256::new(),
        };
        let unpacked = unpack::apply(
            &mut diff,
            target,
            &unpack::Layer {
                name,
                whiteouts: true,
                budget,
            },
        );
        // A digest mismatch explains a failed unpack better than the unpack error. The
        // rest of the download is verified, but not decompressed: after a refusal it
        // may be a bomb.
        if let Err(e) = unpacked {
            drop(diff);
            check_download(&mut source, blobs, name)?;
            return Err(e.into());
        }
        // Hash (and download) to the very end even past the tar's end-of-archive
        // blocks, so every byte of the blob is verified; but only so much of it.
        let trailer = io::copy(&mut (&mut diff).take(MAX_TRAILER + 1), &mut io::sink())
            .map_err(|e| anyhow!("{name}: cannot read the layer: {e}"))?;
        if trailer > MAX_TRAILER {
            drop(diff);
            check_download(&mut source, blobs, name)?;
            bail!(
                "{name}: refused: more than {} of data after the end of the layer's archive (a decompression bomb?)",
                unpack::human(MAX_TRAILER)
            );
        }
        format!("sha256:{}", hex(&diff.hasher.finalize()))
    };
    check_download(&mut source, blobs, name)?;
    if diff_hash != diff_id {
        return Err(crate::base::error::hinted(
            format!(
                "{name}: the uncompressed layer hashes to {diff_hash}, but the image config says {diff_id}"
            ),
            "the image is inconsistent or was tampered with; nothing was stored",
        ));
    }
    Ok(())
}

/// Reads what is left of a download and verifies it into the cache.
fn check_download(source: &mut LayerSource, blobs: &Blobs, name: &str) -> Result<()> {
    if source.writer.is_none() {
        return Ok(());
    }
    let rest = io::copy(source, &mut io::sink());
    source.progress.finish();
    rest.with_context(|| format!("{name}: downloading"))?;
    let writer = source.writer.take().expect("writer");
    writer.finish(blobs)?;
    Ok(())
}
