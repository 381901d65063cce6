//! A real registry for the tests: Debian's `docker-registry` (distribution 2.8), one per
//! [`Registry`] value, on a loopback port the kernel picks, with its storage in a temp
//! dir, killed when the value is dropped (a test ending or panicking).
//!
//! A test seeds it over the registry's HTTP API, without jig: blobs, manifests, whole
//! images built from [`Layer`]s ([`Registry::push_simple`], [`Registry::push_index`]),
//! and reads back what `jig push` wrote ([`Registry::manifest`], [`Registry::blob`],
//! [`Registry::blob_data`] for the stored file itself).
//!
//! Auth: [`Registry::start_basic_auth`] (htpasswd), or [`Registry::start_token_auth`]
//! with a [`TokenServer`]: distribution's own `auth.token` mode, a throwaway RSA key
//! and self-signed certificate (made with `openssl`) as its trust bundle, and a tiny
//! token server in this process signing the JWTs.

#![allow(dead_code)] // each test file uses a different part of the harness

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// How long a registry may take to serve before the test fails.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// `sha256:HEX` of `bytes`.
pub fn digest(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// An `Authorization` value for HTTP Basic.
pub fn basic_auth(user: &str, pass: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")))
}

// ---------------------------------------------------------------- the registry

/// A running `docker-registry`, killed on drop.
pub struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// `Authorization` for the test's own requests (uploads, reads), if it needs one.
    pub auth: Option<String>,
}

impl Registry {
    /// An anonymous registry: anyone may pull and push.
    pub fn start() -> Registry {
        Registry::start_with("")
    }

    /// A registry whose configuration ends with `extra` (YAML at the top level, such as
    /// an `auth:` section).
    pub fn start_with(extra: &str) -> Registry {
        Registry::serve(tempfile::tempdir().unwrap(), extra)
    }

    /// A registry that wants HTTP Basic credentials (`htpasswd`, realm `jig-test`) for
    /// everything; the test's own requests send `user`'s.
    pub fn start_basic_auth(user: &str, pass: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, pass])
            .output()
            .expect("htpasswd (Debian package apache2-utils)");
        assert!(out.status.success(), "htpasswd failed");
        let htpasswd = dir.path().join("htpasswd");
        fs::write(&htpasswd, out.stdout).unwrap();
        let mut reg = Registry::serve(
            dir,
            &format!(
                "auth:\n  htpasswd:\n    realm: jig-test\n    path: {}\n",
                htpasswd.display()
            ),
        );
        reg.auth = Some(basic_auth(user, pass));
        reg
    }

    /// A registry that trusts the tokens `tokens` signs (service `jig-test`). The test's
    /// own requests send nothing until it sets [`Registry::auth`] (`Bearer` and a token
    /// from [`TokenServer::token`]).
    pub fn start_token_auth(tokens: &TokenServer) -> Registry {
        Registry::start_with(&format!(
            "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: jig-test\n    issuer: {}\n    rootcertbundle: {}\n",
            tokens.port,
            TokenServer::ISSUER,
            tokens.cert().display()
        ))
    }

    /// Starts `docker-registry` with its files in `dir`, on port 0: the kernel picks a
    /// free port and the registry logs it, so parallel tests never race for one. Waits
    /// until it answers HTTP there; panics with its log if it exits or takes too long.
    fn serve(dir: tempfile::TempDir, extra: &str) -> Registry {
        // `info` for the "listening on" line; the access log adds nothing to it.
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n{extra}",
            dir.path().join("data").display()
        );
        let path = dir.path().join("config.yml");
        fs::write(&path, config).unwrap();
        let log = fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry (Debian package docker-registry) must be installed");
        // Built before the wait, so a panic below still kills the child.
        let mut reg = Registry {
            child,
            port: 0,
            dir,
            auth: None,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = reg.child.try_wait().unwrap() {
                panic!(
                    "docker-registry exited ({status}) before serving; its log:\n{}",
                    reg.log()
                );
            }
            if reg.port == 0 {
                reg.port = listening_port(&reg.log()).unwrap_or(0);
            }
            if reg.port != 0 && answers_http(reg.port) {
                return reg;
            }
            if Instant::now() >= deadline {
                panic!(
                    "docker-registry did not serve within {START_TIMEOUT:?}; its log:\n{}",
                    reg.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// What the registry has logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The URL of `path` (`/v2/...`) on the registry.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// An HTTP client that returns every status as a response (not as an error).
    pub fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    /// Sends one request with [`Registry::auth`]; panics unless the status is 2xx.
    /// Returns the status, the `Location` header (or empty) and the body.
    pub fn request(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String, Vec<u8>) {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if let Some(a) = &self.auth {
            req = req.header("authorization", a.as_str());
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = Self::agent()
            .run(req.body(body.to_vec()).unwrap())
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .unwrap_or_else(|e| panic!("{method} {url}: reading the body: {e}"));
        assert!(
            (200..300).contains(&status),
            "{method} {url}: HTTP {status}: {}",
            String::from_utf8_lossy(&body)
        );
        (status, location, body)
    }

    /// Monolithic blob upload: POST to open, PUT with the digest. Returns the digest.
    pub fn upload_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let d = digest(bytes);
        let (_, location, _) = self.request(
            "POST",
            &self.url(&format!("/v2/{repo}/blobs/uploads/")),
            &[],
            b"",
        );
        let location = if location.starts_with("http") {
            location
        } else {
            self.url(&location)
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        self.request(
            "PUT",
            &format!("{location}{sep}digest={d}"),
            &[("content-type", "application/octet-stream")],
            bytes,
        );
        d
    }

    /// Puts `bytes` as the manifest `repo:reference` (a tag or a digest) of
    /// `media_type`. Returns its digest.
    pub fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        self.request(
            "PUT",
            &self.url(&format!("/v2/{repo}/manifests/{reference}")),
            &[("content-type", media_type)],
            bytes,
        );
        digest(bytes)
    }

    /// The manifest `repo:reference` (OCI or Docker, image or index), parsed.
    pub fn manifest(&self, repo: &str, reference: &str) -> Value {
        let accept = [
            OCI_MANIFEST,
            OCI_INDEX,
            DOCKER_MANIFEST,
            DOCKER_MANIFEST_LIST,
        ]
        .join(", ");
        let (_, _, body) = self.request(
            "GET",
            &self.url(&format!("/v2/{repo}/manifests/{reference}")),
            &[("accept", &accept)],
            b"",
        );
        serde_json::from_slice(&body).unwrap()
    }

    /// The blob `digest` of `repo`.
    pub fn blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        self.request("GET", &url, &[], b"").2
    }

    /// The registry's stored file for the blob `digest` (to corrupt it, say).
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// Uploads `layers` and a config for linux/`arch` with [`image_config`]; returns the
    /// manifest's bytes and digest, without tagging anything.
    pub fn upload_image(&self, repo: &str, layers: &[Layer], arch: &str) -> (Vec<u8>, String) {
        self.upload_image_with(repo, layers, arch, image_config())
    }

    /// The same with `config` as the config's `config` object (`Env`, `Cmd`, ...).
    pub fn upload_image_with(
        &self,
        repo: &str,
        layers: &[Layer],
        arch: &str,
        config: Value,
    ) -> (Vec<u8>, String) {
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
        });
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = self.upload_blob(repo, &config);
        let mut descs = Vec::new();
        for l in layers {
            let d = self.upload_blob(repo, &l.blob);
            descs.push(json!({"mediaType": l.media_type, "digest": d, "size": l.blob.len()}));
        }
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len()},
            "layers": descs,
        });
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let d = self.put_manifest(repo, &digest(&bytes), OCI_MANIFEST, &bytes);
        (bytes, d)
    }

    /// A single-platform (linux/amd64) image under `repo:tag`; returns its manifest
    /// digest.
    pub fn push_simple(&self, repo: &str, tag: &str, layers: &[Layer]) -> String {
        let (bytes, _) = self.upload_image(repo, layers, "amd64");
        self.put_manifest(repo, tag, OCI_MANIFEST, &bytes)
    }

    /// A multi-platform index under `repo:tag`, listing in this order: linux/arm64/v8
    /// (an image of the first layer only), linux/amd64 (all of `layers`), and an
    /// attestation entry (platform unknown/unknown) as BuildKit writes them. Returns
    /// the index digest.
    pub fn push_index(&self, repo: &str, tag: &str, layers: &[Layer]) -> String {
        let (amd, amd_digest) = self.upload_image(repo, layers, "amd64");
        let (arm, arm_digest) = self.upload_image(repo, &layers[..1], "arm64");
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {"mediaType": OCI_MANIFEST, "digest": arm_digest, "size": arm.len(),
                 "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
                {"mediaType": OCI_MANIFEST, "digest": amd_digest, "size": amd.len(),
                 "platform": {"architecture": "amd64", "os": "linux"}},
                {"mediaType": OCI_MANIFEST, "digest": arm_digest, "size": arm.len(),
                 "platform": {"architecture": "unknown", "os": "unknown"},
                 "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
            ],
        });
        let bytes = serde_json::to_vec(&index).unwrap();
        self.put_manifest(repo, tag, OCI_INDEX, &bytes)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The port in distribution's `msg="listening on 127.0.0.1:PORT"` log line.
fn listening_port(log: &str) -> Option<u16> {
    let (_, rest) = log.split_once("listening on ")?;
    let addr = rest.split(['"', ' ', '\n']).next()?;
    addr.rsplit(':').next()?.parse().ok()
}

/// True when something answers HTTP on `/v2/` at `port` (200, or 401 with auth).
fn answers_http(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("HTTP/")
}

// ---------------------------------------------------------------- images

/// The config [`Registry::upload_image`] gives every image: `PATH=/bin:/usr/bin`,
/// `FOO=from-image`, `Cmd` `sh -c "echo from-cmd"`, `User` 1000.
pub fn image_config() -> Value {
    json!({
        "Env": ["PATH=/bin:/usr/bin", "FOO=from-image"],
        "Cmd": ["sh", "-c", "echo from-cmd"],
        "User": "1000"
    })
}

/// How a layer's tar is compressed.
#[derive(Clone, Copy, Debug)]
pub enum Comp {
    Plain,
    Gzip,
    Zstd,
}

/// A layer blob with what a manifest and a config need to say about it.
pub struct Layer {
    pub blob: Vec<u8>,
    /// The digest of the uncompressed tar.
    pub diff_id: String,
    pub media_type: &'static str,
}

impl Layer {
    /// The layer of the complete archive `tar`, compressed with `comp` (gzip at its
    /// fast level, zstd at level 1).
    pub fn new(tar: Vec<u8>, comp: Comp) -> Layer {
        let diff_id = digest(&tar);
        let (blob, media_type) = match comp {
            Comp::Plain => (tar, "application/vnd.oci.image.layer.v1.tar"),
            Comp::Gzip => (
                super::tar::gzip(&tar),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            ),
            Comp::Zstd => (
                super::tar::zstd(&tar),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
        };
        Layer {
            blob,
            diff_id,
            media_type,
        }
    }

    /// The blob's digest (the layer descriptor's).
    pub fn digest(&self) -> String {
        digest(&self.blob)
    }
}

// ---------------------------------------------------------------- token auth

/// A token server for distribution's `auth.token` mode, on its own loopback port:
/// checks Basic credentials, grants whatever the scope asks, signs an RS256 JWT with
/// `openssl`. Serves until the test process exits.
pub struct TokenServer {
    port: u16,
    granted: Arc<AtomicUsize>,
    dir: tempfile::TempDir,
}

impl TokenServer {
    /// The issuer the tokens name and the registry expects.
    pub const ISSUER: &'static str = "jig-test-issuer";

    /// Starts a token server that knows one user.
    pub fn start(user: &'static str, pass: &'static str) -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        let st = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=jig-test-token",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(st.success());
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .unwrap()
            .stdout;
        let x5c = STANDARD.encode(der);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let granted = Arc::new(AtomicUsize::new(0));
        let counter = granted.clone();
        let want = basic_auth(user, pass);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap_or_default();
                let mut authorized = false;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':')
                        && k.eq_ignore_ascii_case("authorization")
                        && v.trim() == want
                    {
                        authorized = true;
                    }
                }
                if !authorized {
                    let _ = stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    continue;
                }
                let query = request_line
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or("")
                    .to_owned();
                let scope = query
                    .split(['?', '&'])
                    .find_map(|p| p.strip_prefix("scope="))
                    .map(percent_decode)
                    .unwrap_or_default();
                let token = sign_token(&key, &x5c, &scope, user);
                counter.fetch_add(1, Ordering::SeqCst);
                let body = json!({"token": token}).to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        TokenServer { port, granted, dir }
    }

    /// The certificate the registry trusts the tokens by.
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// How many tokens the server has granted so far.
    pub fn granted(&self) -> usize {
        self.granted.load(Ordering::SeqCst)
    }

    /// Asks the server for a token for `scope` (`repository:NAME:pull,push`).
    pub fn token(&self, scope: &str, user: &str, pass: &str) -> String {
        let url = format!(
            "http://127.0.0.1:{}/token?service=jig-test&scope={scope}",
            self.port
        );
        let mut resp = Registry::agent()
            .get(&url)
            .header("authorization", basic_auth(user, pass))
            .call()
            .unwrap();
        let v: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        v["token"].as_str().unwrap().to_owned()
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn sign_token(key: &Path, x5c: &str, scope: &str, user: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // scope = TYPE:NAME:ACTIONS, space-separated (no ':' in these tests' names).
    let mut access = Vec::new();
    for s in scope.split(' ').filter(|s| !s.is_empty()) {
        let parts: Vec<&str> = s.splitn(3, ':').collect();
        if parts.len() == 3 {
            access.push(json!({"type": parts[0], "name": parts[1],
                "actions": parts[2].split(',').collect::<Vec<_>>()}));
        }
    }
    let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = json!({
        "iss": TokenServer::ISSUER, "sub": user, "aud": "jig-test",
        "exp": now + 600, "nbf": now - 60, "iat": now - 60, "jti": format!("{now}-{}", access.len()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(signing_input.as_bytes())
        .unwrap();
    let mut sig = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut sig).unwrap();
    child.wait().unwrap();
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}
