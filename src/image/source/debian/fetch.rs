//! Verified downloads into the content-addressed download cache.
//!
//! Every file the bootstrap downloads has a sha256 known in advance (from the signed
//! index, or from Packages, which the signed index vouches for), so files are stored
//! by that hash: `debs/<sha256>.deb` and `indexes/<sha256>`. A download streams into a
//! temporary file in the same directory while hashing, and is renamed into place only
//! when size and hash match, so the cache never holds a file under a wrong name and a
//! present file is trusted without a new request.
//!
//! HTTP is ureq (blocking, rustls). No ureq timeout that applies to name resolution
//! is set (global, per-call, resolve): with one, ureq resolves on a detached thread,
//! and the caller needs the process single-threaded again once `fetch` returns.
//! Parallel downloads use scoped threads, all joined before returning. Host names are
//! resolved once per [`Http`]: a bootstrap makes ~100 requests to one host, and a
//! resolver that drops an occasional query costs a 5 s retry each time otherwise.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::base::digest::hex;
use crate::image::source::progress::Batch;
use crate::image::store::temp::TempFile;
use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};

/// How many downloads run at once.
const PARALLEL: usize = 4;

/// A blocking HTTP client with jig's settings.
#[derive(Clone)]
pub struct Http {
    agent: ureq::Agent,
}

/// An HTTP failure: a status the server answered, or a transport error.
#[derive(Debug)]
pub enum HttpError {
    /// The server answered with this status.
    Status(u16),
    /// Connection, TLS or protocol failure.
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::Status(s) => write!(f, "HTTP status {s}"),
            HttpError::Transport(e) => f.write_str(e),
        }
    }
}

impl Default for Http {
    fn default() -> Self {
        Self::new()
    }
}

impl Http {
    /// A client with connect/response/read timeouts and a jig user agent.
    pub fn new() -> Http {
        let config = ureq::Agent::config_builder()
            .timeout_connect(Some(Duration::from_secs(20)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_per_read(Some(Duration::from_secs(60)))
            .user_agent(concat!("jig/", env!("CARGO_PKG_VERSION")))
            .build();
        Http {
            agent: ureq::Agent::with_parts(
                config,
                ureq::unversioned::transport::DefaultConnector::new(),
                CachingResolver::default(),
            ),
        }
    }

    /// Opens `url` for reading its body.
    pub fn open(&self, url: &str) -> Result<Box<dyn Read + Send>, HttpError> {
        match self.agent.get(url).call() {
            Ok(resp) => Ok(Box::new(resp.into_body().into_reader())),
            Err(ureq::Error::StatusCode(s)) => Err(HttpError::Status(s)),
            Err(e) => Err(HttpError::Transport(e.to_string())),
        }
    }

    /// Reads a whole (small) body.
    pub fn get_bytes(&self, url: &str) -> Result<Vec<u8>> {
        let mut r = self.open(url).map_err(|e| http_error(url, e))?;
        let mut v = Vec::new();
        r.read_to_end(&mut v).map_err(|e| {
            crate::base::error::hinted(format!("reading {url}: {e}"), "check the network and retry")
        })?;
        Ok(v)
    }
}

/// ureq's resolver, remembering each answer for the life of the agent.
#[derive(Debug, Default)]
struct CachingResolver {
    inner: ureq::unversioned::resolver::DefaultResolver,
    cache: Arc<Mutex<HashMap<String, ureq::unversioned::resolver::ResolvedSocketAddrs>>>,
}

impl ureq::unversioned::resolver::Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map(|a| a.as_str()).unwrap_or("")
        );
        let lock = || self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(addrs) = lock().get(&key) {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        lock().insert(key, addrs.clone());
        Ok(addrs)
    }
}

/// An error for a failed request, with what to try.
pub fn http_error(url: &str, e: HttpError) -> anyhow::Error {
    match e {
        HttpError::Status(404) => crate::base::error::hinted(
            format!("{url}: not found (HTTP 404)"),
            "check the suite name and the mirror URL",
        ),
        HttpError::Status(s) => crate::base::error::hinted(
            format!("{url}: HTTP status {s}"),
            "the mirror may be busy; retry later",
        ),
        HttpError::Transport(t) => crate::base::error::hinted(
            format!("{url}: {t}"),
            "check the network (and http_proxy/https_proxy) and the mirror URL",
        ),
    }
}

/// One file to download: tried from each URL in turn (a 404 moves to the next).
#[derive(Debug, Clone)]
pub struct Job {
    /// What it is, for messages (a package name, "Packages index").
    pub what: String,
    /// Where to get it.
    pub urls: Vec<String>,
    /// Where it goes once verified.
    pub dest: PathBuf,
    /// Expected sha256, lowercase hex.
    pub sha256: String,
    /// Expected size in bytes.
    pub size: u64,
}

impl Job {
    /// Whether the destination already holds the file (same size; the name is the hash
    /// and only verified files are ever renamed there).
    pub fn is_cached(&self) -> bool {
        fs::metadata(&self.dest).is_ok_and(|m| m.is_file() && m.len() == self.size)
    }
}

/// What a batch of downloads did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Downloads {
    /// Files downloaded.
    pub files: usize,
    /// Bytes downloaded.
    pub bytes: u64,
}

/// Downloads the jobs that are not cached yet, up to [`PARALLEL`] at a time, with a
/// progress line on a terminal. Stops at the first failure and returns it.
pub fn download_all(http: &Http, jobs: &[Job], label: &str) -> Result<Downloads> {
    let todo: Vec<&Job> = jobs.iter().filter(|j| !j.is_cached()).collect();
    if todo.is_empty() {
        return Ok(Downloads::default());
    }
    let progress = Batch::new(label, todo.len(), todo.iter().map(|j| j.size).sum());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_error: Mutex<Option<(usize, anyhow::Error)>> = Mutex::new(None);
    let workers = PARALLEL.min(todo.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    if failed.load(Ordering::Relaxed)
                        || crate::base::interrupt::received().is_some()
                    {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = todo.get(i) else { return };
                    if let Err(e) = download(http, job, &progress) {
                        failed.store(true, Ordering::Relaxed);
                        let mut slot = first_error.lock().unwrap_or_else(|p| p.into_inner());
                        // Keep the error of the earliest job, so messages are stable.
                        if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                            *slot = Some((i, e));
                        }
                        return;
                    }
                    progress.file_done();
                }
            });
        }
    });
    progress.finish();
    if let Some((_, e)) = first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(Downloads {
        files: todo.len(),
        bytes: todo.iter().map(|j| j.size).sum(),
    })
}

/// Downloads one job, trying its URLs in order.
pub fn download(http: &Http, job: &Job, progress: &Batch) -> Result<()> {
    let dir = job
        .dest
        .parent()
        .ok_or_else(|| anyhow!("bad cache path {}", job.dest.display()))?;
    fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut last = None;
    for url in &job.urls {
        match http.open(url) {
            Ok(body) => return store_stream(body, job, url, progress),
            Err(HttpError::Status(404)) if job.urls.len() > 1 => {
                last = Some(http_error(url, HttpError::Status(404)));
            }
            Err(e) => {
                return Err(http_error(url, e).context(format!("cannot download {}", job.what)));
            }
        }
    }
    Err(last
        .unwrap_or_else(|| anyhow!("no URL"))
        .context(format!("cannot download {}", job.what)))
}

/// Streams `body` into a temporary file beside `job.dest`, checking size and sha256,
/// then renames it into place. Nothing is left behind on failure.
fn store_stream(mut body: impl Read, job: &Job, url: &str, progress: &Batch) -> Result<()> {
    let dir = job.dest.parent().unwrap_or(Path::new("."));
    let mut tmp = temp_file(dir)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 128 * 1024];
    let mut got: u64 = 0;
    loop {
        crate::base::interrupt::check()?;
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(crate::base::error::hinted(
                    format!("cannot download {} from {url}: {e}", job.what),
                    "check the network and retry",
                ));
            }
        };
        got += n as u64;
        if got > job.size {
            return Err(crate::base::error::hinted(
                format!(
                    "{} from {url} is larger than the {} bytes the index promises",
                    job.what, job.size
                ),
                "the mirror may be mid-sync; retry later or use another mirror",
            ));
        }
        hasher.update(&buf[..n]);
        tmp.file
            .write_all(&buf[..n])
            .with_context(|| format!("cannot write {}", tmp.path().display()))?;
        progress.bytes(n as u64);
    }
    let hash = hex(&hasher.finalize());
    if got != job.size || hash != job.sha256 {
        return Err(crate::base::error::hinted(
            format!(
                "{} from {url} does not match the signed index: got {got} bytes with sha256 {hash}, \
             expected {} bytes with sha256 {}",
                job.what, job.size, job.sha256
            ),
            "the mirror may be mid-sync or tampered with; retry later or use another mirror",
        ));
    }
    persist(tmp, &job.dest)
}

/// Stores `bytes` under `dir/<sha256>` (if not there yet) and returns the hash.
pub fn store_bytes(dir: &Path, bytes: &[u8]) -> Result<String> {
    let hash = hex(&Sha256::digest(bytes));
    let dest = dir.join(&hash);
    if !dest.exists() {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut tmp = temp_file(dir)?;
        tmp.file
            .write_all(bytes)
            .with_context(|| format!("cannot write {}", tmp.path().display()))?;
        persist(tmp, &dest)?;
    }
    Ok(hash)
}

/// A temporary file in the cache directory `dir`, for a download to be renamed into
/// place once verified.
pub fn temp_file(dir: &Path) -> Result<TempFile> {
    TempFile::create(dir, ".tmp-")
        .or_else(|e| Err(e.error).with_context(|| format!("cannot create {}", e.path.display())))
}

/// Flushes `tmp` and renames it to `dest`.
pub fn persist(mut tmp: TempFile, dest: &Path) -> Result<()> {
    tmp.file
        .flush()
        .and_then(|()| tmp.persist(dest))
        .with_context(|| format!("cannot store {}", dest.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_stream_verifies_and_leaves_nothing_on_mismatch() {
        let t = tempfile::tempdir().unwrap();
        let data = b"hello deb";
        let sha = hex(&Sha256::digest(data));
        let job = |sha: &str, size| Job {
            what: "package hello".into(),
            urls: vec!["http://mirror.invalid/hello.deb".into()],
            dest: t.path().join(format!("{sha}.deb")),
            sha256: sha.into(),
            size,
        };
        let good = job(&sha, data.len() as u64);
        store_stream(&data[..], &good, &good.urls[0], &Batch::hidden()).unwrap();
        assert!(good.is_cached());
        assert_eq!(fs::read(&good.dest).unwrap(), data);

        let bad = job(&"0".repeat(64), data.len() as u64);
        let err = store_stream(&data[..], &bad, &bad.urls[0], &Batch::hidden())
            .unwrap_err()
            .to_string();
        assert!(err.contains("package hello"), "{err}");
        assert!(err.contains("http://mirror.invalid/hello.deb"), "{err}");
        let short = job(&sha, 3);
        assert!(store_stream(&data[..], &short, &short.urls[0], &Batch::hidden()).is_err());
        let names: Vec<_> = fs::read_dir(t.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![format!("{sha}.deb")], "no debris, no bad file");
    }

    #[test]
    fn store_bytes_is_content_addressed() {
        let t = tempfile::tempdir().unwrap();
        let h = store_bytes(t.path(), b"x").unwrap();
        assert_eq!(h, hex(&Sha256::digest(b"x")));
        assert_eq!(store_bytes(t.path(), b"x").unwrap(), h);
        assert_eq!(fs::read(t.path().join(&h)).unwrap(), b"x");
    }
}
