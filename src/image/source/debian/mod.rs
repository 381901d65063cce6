//! The Debian archive client: from a suite name to verified .deb files on disk.
//!
//! [`fetch`] follows the archive's chain of trust: `InRelease` is verified against an
//! OpenPGP keyring ([`release`]), its signed SHA256 list vouches for the `Packages`
//! index ([`packages`]), which vouches for every `.deb`. The Essential set plus `apt`
//! and the requested packages is resolved over Depends/Pre-Depends ([`resolve`],
//! with dpkg's [`version`] ordering), and downloaded into a content-addressed cache
//! ([`fetch`](mod@fetch)). [`extract_data`] and [`control_files`] read the .debs
//! ([`deb`]); turning them into an image (dpkg's configure stage inside jig's runtime)
//! is the image builder's job, not this module's.
//!
//! Cache layout (below the directory the caller passes):
//!
//! ```text
//! debs/<sha256>.deb     verified packages, by the sha256 Packages gives
//! indexes/<sha256>      InRelease files and decompressed Packages indexes, by hash
//! ```

pub mod deb;
pub mod deb822;
pub mod fetch;
pub mod packages;
pub mod relation;
pub mod release;
pub mod resolve;

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};

use crate::image::source::progress::Batch;

pub use deb::{control_files, extract_data, merged_usr_skeleton};
pub use fetch::Downloads;

/// The mirror used when a recipe names none.
pub const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
/// Where snapshot archives live; a snapshot URL is `<this>/<timestamp>/`.
pub const SNAPSHOT_SERVICE: &str = "https://snapshot.debian.org/archive/debian";
/// The host keyring used when a recipe names none.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// What a recipe says about its Debian source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    /// Suite or codename (`bookworm`, `stable`, `trixie`, ...).
    pub suite: String,
    /// Mirror base URL; default [`DEFAULT_MIRROR`]. With `snapshot`, the base of the
    /// snapshot service instead (default [`SNAPSHOT_SERVICE`]).
    pub mirror: Option<String>,
    /// Snapshot timestamp (`20240601T000000Z`) for reproducible package sets.
    pub snapshot: Option<String>,
    /// Accept an index whose signature cannot be verified (a warning is printed).
    pub insecure: bool,
    /// Keyring file or directory; default [`DEFAULT_KEYRING`].
    pub keyring: Option<PathBuf>,
    /// Debian architecture; default the host's ([`host_arch`]).
    pub arch: Option<String>,
}

/// Which index a package set came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexInfo {
    /// The suite as asked for.
    pub suite: String,
    /// The index's Codename (e.g. `bookworm` for `stable` at some date).
    pub codename: String,
    /// The base URL the files came from.
    pub mirror: String,
    /// The snapshot timestamp, if any.
    pub snapshot: Option<String>,
    /// The Debian architecture.
    pub arch: String,
    /// sha256 of the InRelease file as downloaded.
    pub inrelease_sha256: String,
    /// sha256 of the (decompressed) Packages index that was resolved against.
    pub packages_sha256: String,
    /// Fingerprint of the key that signed InRelease; `None` when `insecure`.
    pub signer: Option<String>,
}

/// One resolved, downloaded, verified package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deb {
    /// Package name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Architecture (`all` or the target architecture).
    pub arch: String,
    /// sha256 of the .deb.
    pub sha256: String,
    /// Size of the .deb in bytes.
    pub size: u64,
    /// The verified .deb in the cache.
    pub path: PathBuf,
    /// `Essential: yes`.
    pub essential: bool,
    /// `Priority`.
    pub priority: String,
    /// Names of the selected packages satisfying its Depends and Pre-Depends, sorted.
    pub depends: Vec<String>,
    /// The Pre-Depends part of `depends` (must be configured before it is unpacked).
    pub pre_depends: Vec<String>,
    /// `Installed-Size`, in bytes (0 when the index does not say).
    pub installed_size: u64,
}

/// The resolved, downloaded package set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// Where the set came from.
    pub index: IndexInfo,
    /// The packages, sorted by name.
    pub debs: Vec<Deb>,
    /// What had to be downloaded this time (.debs only; zero when all were cached).
    pub downloaded: Downloads,
    /// The names of the suite's base set (Essential + apt, resolved alone from the
    /// same index), when it is part of `debs` exactly (same versions and hashes): an
    /// image can then be this set's image with the rest installed on top. Empty when
    /// the resolution with the extra packages chose differently.
    pub base: Vec<String>,
}

/// The host's Debian architecture name.
pub fn host_arch() -> Result<&'static str> {
    Ok(match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "arm" => "armhf",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64el",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "mips64" if cfg!(target_endian = "little") => "mips64el",
        "loongarch64" => "loong64",
        other => {
            return Err(crate::base::error::hinted(
                format!("no Debian architecture known for this host ({other})"),
                "set the architecture explicitly",
            ));
        }
    })
}

/// The base URL for `spec`, without a trailing slash.
pub fn base_url(spec: &Spec) -> Result<String> {
    let trim = |s: &str| s.trim_end_matches('/').to_owned();
    match &spec.snapshot {
        Some(ts) => {
            let b = ts.as_bytes();
            let ok = b.len() == 16
                && b[8] == b'T'
                && b[15] == b'Z'
                && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
            if !ok {
                return Err(crate::base::error::hinted(
                    format!("snapshot '{ts}' is not a timestamp like 20240601T000000Z"),
                    "see https://snapshot.debian.org for valid timestamps",
                ));
            }
            let service = spec.mirror.as_deref().unwrap_or(SNAPSHOT_SERVICE);
            Ok(format!("{}/{ts}", trim(service)))
        }
        None => Ok(trim(spec.mirror.as_deref().unwrap_or(DEFAULT_MIRROR))),
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A verified index: the signed Release and the Packages text it vouches for.
struct Verified {
    base: String,
    arch: String,
    codename: String,
    inrelease_sha256: String,
    packages_sha256: String,
    packages: String,
    signer: Option<String>,
}

/// The indexes this process has verified, by the spec and cache they were verified
/// for. One install resolves a suite more than once (the image cache's key, then the
/// build; a suite's base image, then the image on it; `jig outdated` once per recipe):
/// the first resolution downloads and verifies the index, and the later ones see that
/// same index, so all of them agree even when the mirror publishes a new one meanwhile.
static VERIFIED: Mutex<Vec<(Spec, PathBuf, Arc<Verified>)>> = Mutex::new(Vec::new());

/// Steps 1 and 2 of [`fetch`]: `InRelease` downloaded and verified, then the Packages
/// index the signed list vouches for (from `cache` when it is there); once per process
/// for each spec and cache ([`VERIFIED`]).
fn verified_index(spec: &Spec, cache: &Path) -> Result<Arc<Verified>> {
    let mut verified = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, _, ix)) = verified.iter().find(|(s, c, _)| s == spec && c == cache) {
        return Ok(Arc::clone(ix));
    }
    let ix = Arc::new(verify_index(spec, cache)?);
    verified.push((spec.clone(), cache.to_owned(), Arc::clone(&ix)));
    Ok(ix)
}

/// [`verified_index`] without the memory: downloads and verifies now.
fn verify_index(spec: &Spec, cache: &Path) -> Result<Verified> {
    let arch = match &spec.arch {
        Some(a) => a.clone(),
        None => host_arch()?.to_owned(),
    };
    if spec.suite.is_empty() || spec.suite.contains(['/', ' ']) {
        bail!("'{}' is not a Debian suite name", spec.suite);
    }
    let base = base_url(spec)?;
    let http = fetch::Http::new();
    let indexes = cache.join("indexes");
    // Partial downloads of killed processes (nobody holds them any more).
    for dir in [&indexes, &cache.join("debs")] {
        let _ = crate::image::store::temp::sweep(dir, |n| n.starts_with(".tmp-"));
    }
    let dists = format!("{base}/dists/{}", spec.suite);

    // 1. InRelease, verified.
    let url = format!("{dists}/InRelease");
    let raw = http.get_bytes(&url)?;
    let inrelease_sha256 = fetch::store_bytes(&indexes, &raw)?;
    let raw = String::from_utf8(raw).map_err(|_| anyhow!("{url} is not text"))?;
    let (text, signer) = if spec.insecure {
        eprintln!(
            "warning: not verifying the signature of {url} (insecure = true); \
             anyone between you and the mirror can choose your packages"
        );
        (release::unverified_text(&raw)?, None)
    } else {
        let keyring = spec
            .keyring
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_KEYRING));
        let at = spec.snapshot.is_none().then(now);
        let (text, fpr) =
            release::verify(&raw, &keyring, at).with_context(|| format!("verifying {url}"))?;
        (text, Some(fpr))
    };
    let rel = release::parse(&text).with_context(|| format!("reading {url}"))?;
    rel.check(&spec.suite, &arch, now(), spec.snapshot.is_some())?;

    // 2. Packages, verified against the signed list.
    let (packages_sha256, packages) = packages_index(&http, &rel, &dists, &arch, &indexes)?;
    Ok(Verified {
        base,
        arch,
        codename: rel.codename.clone(),
        inrelease_sha256,
        packages_sha256,
        packages,
        signer,
    })
}

/// Resolves `apt` and `extra` as [`fetch`] does against the suite's current index,
/// without downloading any .deb: (name, version, sha256 of the .deb) per package,
/// sorted by name. What `jig outdated` compares an installed image's packages with.
pub fn resolve_current(
    spec: &Spec,
    extra: &[String],
    cache: &Path,
) -> Result<Vec<(String, String, String)>> {
    Ok(resolve_with_index(spec, extra, cache)?.1)
}

/// A resolved package set: (name, version, sha256 of the .deb) per package, by name.
pub type Resolved = Vec<(String, String, String)>;

/// [`resolve_current`], with the `sha256:` of the verified Packages index resolved
/// against (what a bootstrapped image records as its source digest): the inputs an
/// image cache key names.
pub fn resolve_with_index(
    spec: &Spec,
    extra: &[String],
    cache: &Path,
) -> Result<(String, Resolved)> {
    let ix = verified_index(spec, cache)?;
    let pkgs = packages::parse(&ix.packages, &ix.arch)
        .with_context(|| format!("reading the Packages index of {}", spec.suite))?;
    let mut requested = vec!["apt".to_string()];
    requested.extend(extra.iter().cloned());
    let resolved = resolve::resolve(&pkgs, &ix.arch, &requested)
        .with_context(|| format!("resolving the packages for {} ({})", spec.suite, ix.arch))?;
    let mut out: Vec<_> = resolved
        .iter()
        .map(|r| {
            (
                r.pkg.name.to_owned(),
                r.pkg.version.to_owned(),
                r.pkg.sha256.to_ascii_lowercase(),
            )
        })
        .collect();
    out.sort();
    Ok((format!("sha256:{}", ix.packages_sha256), out))
}

/// Resolves the Essential packages, `apt` and `extra` (package names, or relations
/// like `git (>= 1:2.39)` or `vim | nano`) with their Depends/Pre-Depends closure,
/// downloads what `cache` lacks and verifies everything against the signed index.
pub fn fetch(spec: &Spec, extra: &[String], cache: &Path) -> Result<Fetched> {
    crate::image::source::progress::status(&format!("resolving debian:{}", spec.suite));
    let ix = verified_index(spec, cache)?;
    let (arch, base) = (ix.arch.clone(), ix.base.clone());
    let http = fetch::Http::new();
    let pkgs = packages::parse(&ix.packages, &arch)
        .with_context(|| format!("reading the Packages index of {}", spec.suite))?;

    // 3. Resolution.
    let mut requested = vec!["apt".to_string()];
    requested.extend(extra.iter().cloned());
    let resolved = resolve::resolve(&pkgs, &arch, &requested).with_context(|| {
        format!(
            "resolving the packages for {} ({arch}) from {base}",
            spec.suite
        )
    })?;
    // The base set alone, from the same index: shared by every image of the suite
    // when the full resolution contains it unchanged.
    let base_set = if extra.is_empty() {
        Vec::new()
    } else {
        let alone = ["apt".to_string()];
        let full: std::collections::BTreeMap<&str, &str> = resolved
            .iter()
            .map(|r| (r.pkg.name, r.pkg.sha256))
            .collect();
        match resolve::resolve(&pkgs, &arch, &alone) {
            Ok(b)
                if b.iter()
                    .all(|r| full.get(r.pkg.name) == Some(&r.pkg.sha256)) =>
            {
                b.iter().map(|r| r.pkg.name.to_owned()).collect()
            }
            _ => Vec::new(),
        }
    };

    // 4. Downloads.
    let debs_dir = cache.join("debs");
    let jobs: Vec<fetch::Job> = resolved
        .iter()
        .map(|r| fetch::Job {
            what: format!("package {} {}", r.pkg.name, r.pkg.version),
            urls: vec![format!("{base}/{}", r.pkg.filename)],
            dest: debs_dir.join(format!("{}.deb", r.pkg.sha256.to_ascii_lowercase())),
            sha256: r.pkg.sha256.to_ascii_lowercase(),
            size: r.pkg.size,
        })
        .collect();
    let downloaded = fetch::download_all(&http, &jobs, "Downloading packages")?;

    let debs = resolved
        .iter()
        .zip(jobs)
        .map(|(r, job)| Deb {
            name: r.pkg.name.to_owned(),
            version: r.pkg.version.to_owned(),
            arch: r.pkg.arch.to_owned(),
            sha256: job.sha256,
            size: r.pkg.size,
            path: job.dest,
            essential: r.pkg.essential,
            priority: r.pkg.priority.to_owned(),
            depends: r.depends.iter().map(|s| s.to_string()).collect(),
            pre_depends: r.pre_depends.iter().map(|s| s.to_string()).collect(),
            installed_size: r.pkg.installed_size,
        })
        .collect();
    Ok(Fetched {
        index: IndexInfo {
            suite: spec.suite.clone(),
            codename: ix.codename.clone(),
            mirror: base,
            snapshot: spec.snapshot.clone(),
            arch,
            inrelease_sha256: ix.inrelease_sha256.clone(),
            packages_sha256: ix.packages_sha256.clone(),
            signer: ix.signer.clone(),
        },
        debs,
        downloaded,
        base: base_set,
    })
}

/// Gets `main/binary-ARCH/Packages` as text: from the cache when the decompressed
/// index is there, else by downloading the compressed file the signed list names,
/// checking its hash, decompressing it and checking the result's hash too. Returns
/// (sha256 of the text, text).
fn packages_index(
    http: &fetch::Http,
    rel: &release::Release,
    dists: &str,
    arch: &str,
    indexes: &Path,
) -> Result<(String, String)> {
    let dir = format!("main/binary-{arch}");
    let plain = rel.sha256.get(&format!("{dir}/Packages"));
    if let Some((sha, size)) = plain {
        let cached = indexes.join(sha);
        if std::fs::metadata(&cached).is_ok_and(|m| m.len() == *size) {
            let text = std::fs::read_to_string(&cached)
                .with_context(|| format!("cannot read {}", cached.display()))?;
            return Ok((sha.clone(), text));
        }
    }
    let (name, (sha, size)) = ["Packages.xz", "Packages.gz", "Packages"]
        .iter()
        .find_map(|n| rel.sha256.get(&format!("{dir}/{n}")).map(|e| (*n, e)))
        .ok_or_else(|| {
            crate::base::error::hinted(
                format!("the signed index lists no {dir}/Packages file"),
                format!("check that the suite has the 'main' component for {arch}"),
            )
        })?;
    let mut urls = Vec::new();
    if rel.by_hash {
        urls.push(format!("{dists}/{dir}/by-hash/SHA256/{sha}"));
    }
    urls.push(format!("{dists}/{dir}/{name}"));
    let job = fetch::Job {
        what: format!("the {dir}/{name} index"),
        urls,
        dest: indexes.join(sha),
        sha256: sha.clone(),
        size: *size,
    };
    if !job.is_cached() {
        fetch::download(
            http,
            &job,
            &Batch::new("Downloading the package index", 1, *size),
        )?;
    }
    // Decompress into the cache under the text's own hash, checked against the signed
    // list when it names the uncompressed file.
    let file = std::fs::File::open(&job.dest)
        .with_context(|| format!("cannot open {}", job.dest.display()))?;
    let mut reader = crate::image::unpack::decompress(Box::new(io::BufReader::new(file)))
        .with_context(|| format!("cannot decompress {name}"))?;
    let mut text = Vec::new();
    reader
        .read_to_end(&mut text)
        .with_context(|| format!("cannot decompress {dists}/{dir}/{name} (corrupt file?)"))?;
    let got = crate::base::digest::hex(&Sha256::digest(&text));
    if let Some((want, _)) = plain {
        if &got != want {
            return Err(crate::base::error::hinted(
                format!(
                    "{dists}/{dir}/{name} decompresses to data whose sha256 {got} is not the \
                 signed {want}"
                ),
                "the mirror may be mid-sync; retry later",
            ));
        }
    }
    let mut tmp = fetch::temp_file(indexes)?;
    tmp.file.write_all(&text)?;
    fetch::persist(tmp, &indexes.join(&got))?;
    // The compressed copy is only needed while the text cannot be found by a signed
    // hash: keep it when the signed list does not name the uncompressed file.
    if name != "Packages" && plain.is_some() {
        let _ = std::fs::remove_file(&job.dest);
    }
    let text =
        String::from_utf8(text).map_err(|_| anyhow!("{dists}/{dir}/{name} is not UTF-8 text"))?;
    Ok((got, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let mut s = Spec {
            suite: "bookworm".into(),
            ..Spec::default()
        };
        assert_eq!(base_url(&s).unwrap(), DEFAULT_MIRROR);
        s.mirror = Some("http://mirror.example/debian/".into());
        assert_eq!(base_url(&s).unwrap(), "http://mirror.example/debian");
        s.mirror = None;
        s.snapshot = Some("20240601T000000Z".into());
        assert_eq!(
            base_url(&s).unwrap(),
            "https://snapshot.debian.org/archive/debian/20240601T000000Z"
        );
        s.snapshot = Some("2024-06-01".into());
        assert!(base_url(&s).is_err());
    }

    /// Network, heavy (~50 MB): the real bookworm + git set resolves, downloads,
    /// verifies and extracts; a second fetch downloads nothing.
    #[test]
    fn network_heavy_fetch_bookworm_with_git() {
        let cache = tempfile::tempdir().unwrap();
        let spec = Spec {
            suite: "bookworm".into(),
            arch: Some("amd64".into()),
            ..Spec::default()
        };
        let extra = vec!["git".to_string()];
        let t = std::time::Instant::now();
        let f = fetch(&spec, &extra, cache.path()).unwrap();
        let cold = t.elapsed();
        let names: Vec<&str> = f.debs.iter().map(|d| d.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, names, "sorted, no duplicates");
        for want in ["dpkg", "apt", "git", "libc6", "base-files", "coreutils"] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        for unwanted in ["git-man-doc", "openssh-client"] {
            assert!(
                !names.contains(&unwanted),
                "{unwanted}: Recommends are skipped"
            );
        }
        assert!(
            (95..=125).contains(&f.debs.len()),
            "{} packages: {names:?}",
            f.debs.len()
        );
        assert_eq!(f.index.codename, "bookworm");
        assert!(f.index.signer.is_some());
        assert_eq!(f.downloaded.files, f.debs.len());
        let total: u64 = f.debs.iter().map(|d| d.size).sum();
        for d in &f.debs {
            assert_eq!(
                std::fs::metadata(&d.path).unwrap().len(),
                d.size,
                "{}",
                d.name
            );
            assert!(d.path.starts_with(cache.path().join("debs")));
        }
        let git = f.debs.iter().find(|d| d.name == "git").unwrap();
        assert!(
            git.depends.iter().any(|d| d == "libc6"),
            "{:?}",
            git.depends
        );

        let t = std::time::Instant::now();
        let again = fetch(&spec, &extra, cache.path()).unwrap();
        let warm = t.elapsed();
        assert_eq!(again.downloaded, Downloads::default(), "no .deb requests");
        assert_eq!(again.debs, f.debs);
        eprintln!(
            "bookworm+git: {} packages, {:.1} MB; cold {cold:?}, warm {warm:?}",
            f.debs.len(),
            total as f64 / 1e6
        );

        // Extraction of real packages into a merged-/usr root.
        let root = tempfile::tempdir().unwrap();
        merged_usr_skeleton(root.path(), "amd64").unwrap();
        let budget =
            crate::image::unpack::Budget::new(crate::image::unpack::Limits::default()).unwrap();
        for name in ["base-files", "coreutils"] {
            let d = f.debs.iter().find(|d| d.name == name).unwrap();
            extract_data(&d.path, root.path(), &budget).unwrap();
            let control = control_files(&d.path).unwrap();
            let text = String::from_utf8_lossy(&control["control"]).into_owned();
            assert!(text.contains(&format!("Package: {name}\n")), "{text}");
            assert!(control.contains_key("md5sums"));
        }
        assert!(root.path().join("usr/bin/ls").is_file());
        assert!(root.path().join("bin/ls").is_file());
        assert!(root.path().join("etc/debian_version").is_file());
        assert!(root.path().join("bin").is_symlink());
        assert!(root.path().join("lib64").is_symlink());
    }

    #[test]
    fn host_arch_is_known() {
        assert!(!host_arch().unwrap().is_empty());
    }
}
