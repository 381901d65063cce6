//! Registry pull and push against a real registry: Debian's `docker-registry`
//! (distribution 2.8), started per test on a free loopback port with its storage in a
//! temp dir and killed when the test ends. Test images are built here (busybox-based,
//! several layers, whiteouts, a zstd layer, a multi-platform index) and uploaded with
//! the registry's HTTP API or with `jig push`.
//!
//! The Bearer test runs the registry with distribution's own `auth.token` mode: a
//! throwaway RSA key and self-signed certificate (made with `openssl`) form the trust
//! bundle, and a tiny token server in this process signs the JWTs.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use sha2::{Digest, Sha256};

const JIG: &str = env!("CARGO_BIN_EXE_jig");
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn digest(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    let hex: String = h.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

// ---------------------------------------------------------------- the registry

/// A running `docker-registry`, killed on drop.
struct Registry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// `Authorization` the test's own uploads use.
    auth: Option<String>,
}

impl Registry {
    /// Starts a registry; `auth_yaml` is an `auth:` section (or empty).
    fn start(auth_yaml: &str) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth_yaml}",
            dir.path().join("data").display()
        );
        let path = dir.path().join("config.yml");
        fs::write(&path, config).unwrap();
        let log = fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry (Debian package docker-registry) must be installed");
        let reg = Registry {
            child,
            port,
            dir,
            auth: None,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // Any HTTP answer on /v2/ (200, or 401 with auth) means it is serving.
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
                let _ = s.write_all(b"GET /v2/ HTTP/1.0\r\n\r\n");
                let mut line = String::new();
                if BufReader::new(s).read_line(&mut line).is_ok() && line.starts_with("HTTP/") {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "registry did not start: {}",
                fs::read_to_string(reg.dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        reg
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .new_agent()
    }

    fn send(&self, method: &str, url: &str, ctype: Option<&str>, body: &[u8]) -> (u16, String) {
        let mut req = ureq::http::Request::builder().method(method).uri(url);
        if let Some(a) = &self.auth {
            req = req.header("authorization", a.as_str());
        }
        if let Some(c) = ctype {
            req = req.header("content-type", c);
        }
        let mut resp = Self::agent().run(req.body(body.to_vec()).unwrap()).unwrap();
        let location = resp
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        assert!(status < 300, "{method} {url}: HTTP {status}: {text}");
        (status, location)
    }

    /// Monolithic blob upload: POST to open, PUT with the digest.
    fn upload_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let d = digest(bytes);
        let (_, location) = self.send(
            "POST",
            &self.url(&format!("/v2/{repo}/blobs/uploads/")),
            None,
            b"",
        );
        let location = if location.starts_with("http") {
            location
        } else {
            self.url(&location)
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        self.send(
            "PUT",
            &format!("{location}{sep}digest={d}"),
            Some("application/octet-stream"),
            bytes,
        );
        d
    }

    fn put_manifest(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) -> String {
        self.send(
            "PUT",
            &self.url(&format!("/v2/{repo}/manifests/{reference}")),
            Some(media_type),
            bytes,
        );
        digest(bytes)
    }

    /// The registry's stored file for a blob.
    fn blob_data(&self, d: &str) -> PathBuf {
        let hex = d.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("data/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- images

/// A tar built with raw headers, so hostile names can be written too.
#[derive(Default)]
struct Tar(Vec<u8>);

impl Tar {
    fn entry(
        mut self,
        name: &str,
        kind: tar::EntryType,
        mode: u32,
        link: &str,
        data: &[u8],
    ) -> Self {
        let mut h = tar::Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_mtime(1_700_000_000);
        if !link.is_empty() {
            h.set_link_name_literal(link.as_bytes()).unwrap();
        }
        h.set_cksum();
        self.0.extend_from_slice(h.as_bytes());
        self.0.extend_from_slice(data);
        self.0
            .extend(std::iter::repeat_n(0, (512 - data.len() % 512) % 512));
        self
    }
    fn file(self, name: &str, data: &[u8]) -> Self {
        self.entry(name, tar::EntryType::Regular, 0o644, "", data)
    }
    fn exe(self, name: &str, data: &[u8]) -> Self {
        self.entry(name, tar::EntryType::Regular, 0o755, "", data)
    }
    fn dir(self, name: &str) -> Self {
        self.entry(name, tar::EntryType::Directory, 0o755, "", b"")
    }
    fn symlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Symlink, 0o777, target, b"")
    }
    fn hardlink(self, name: &str, target: &str) -> Self {
        self.entry(name, tar::EntryType::Link, 0o644, target, b"")
    }
    fn done(mut self) -> Vec<u8> {
        self.0.extend(std::iter::repeat_n(0, 1024));
        self.0
    }
}

#[derive(Clone, Copy)]
enum Comp {
    Plain,
    Gzip,
    Zstd,
}

/// A layer blob with what a manifest and config need to say about it.
struct Layer {
    blob: Vec<u8>,
    diff_id: String,
    media_type: &'static str,
}

fn layer(tar: Vec<u8>, comp: Comp) -> Layer {
    let diff_id = digest(&tar);
    let (blob, media_type) = match comp {
        Comp::Plain => (tar, "application/vnd.oci.image.layer.v1.tar"),
        Comp::Gzip => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            (
                gz.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        Comp::Zstd => (
            zstd::encode_all(&tar[..], 1).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
    };
    Layer {
        blob,
        diff_id,
        media_type,
    }
}

fn busybox_tar() -> Tar {
    let bb = fs::read("/bin/busybox").expect("/bin/busybox (busybox-static)");
    let mut t = Tar::default()
        .dir("bin/")
        .exe("bin/busybox", &bb)
        .dir("etc/")
        .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        .dir("tmp/");
    for applet in ["sh", "echo", "cat", "ls", "env", "id"] {
        t = t.symlink(&format!("bin/{applet}"), "busybox");
    }
    t
}

/// Uploads layers + a config for `arch`; returns (manifest bytes, digest) without
/// tagging anything.
fn upload_image(reg: &Registry, repo: &str, layers: &[Layer], arch: &str) -> (Vec<u8>, String) {
    let config = json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/bin:/usr/bin", "FOO=from-image"],
            "Cmd": ["sh", "-c", "echo from-cmd"],
            "User": "1000"
        },
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>()},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_digest = reg.upload_blob(repo, &config);
    let mut descs = Vec::new();
    for l in layers {
        let d = reg.upload_blob(repo, &l.blob);
        descs.push(json!({"mediaType": l.media_type, "digest": d, "size": l.blob.len()}));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": descs,
    });
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let d = reg.put_manifest(repo, &digest(&bytes), OCI_MANIFEST, &bytes);
    (bytes, d)
}

/// A single-platform image under `repo:tag`; returns its manifest digest.
fn push_simple(reg: &Registry, repo: &str, tag: &str, layers: &[Layer]) -> String {
    let (bytes, _) = upload_image(reg, repo, layers, "amd64");
    reg.put_manifest(repo, tag, OCI_MANIFEST, &bytes)
}

/// The three-layer test image: busybox (gzip), additions in zstd, whiteouts (gzip).
fn layered_image() -> Vec<Layer> {
    let base = layer(busybox_tar().done(), Comp::Gzip);
    let mid = layer(
        Tar::default()
            .file("etc/hello", b"hello\n")
            .file("etc/gone", b"to be deleted\n")
            .file("opq/old", b"lower\n")
            .dir("opq/sub/")
            .file("opq/sub/old2", b"lower\n")
            .done(),
        Comp::Zstd,
    );
    let top = layer(
        Tar::default()
            .file("etc/.wh.gone", b"")
            .file("opq/.wh..wh..opq", b"")
            .file("opq/new", b"upper\n")
            .done(),
        Comp::Gzip,
    );
    vec![base, mid, top]
}

/// Pushes the layered image for amd64 and a fake arm64, plus an attestation entry,
/// as an index tagged `repo:tag`. Returns the index digest.
fn push_index(reg: &Registry, repo: &str, tag: &str) -> String {
    let layers = layered_image();
    let (amd, amd_digest) = upload_image(reg, repo, &layers, "amd64");
    let (arm, arm_digest) = upload_image(reg, repo, &layers[..1], "arm64");
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
    reg.put_manifest(repo, tag, OCI_INDEX, &bytes)
}

// ---------------------------------------------------------------- running jig

/// A throwaway JIG_HOME and HOME.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("home")).unwrap();
        fs::create_dir(dir.path().join("jig")).unwrap();
        Env { dir }
    }
    fn jig_home(&self) -> PathBuf {
        self.dir.path().join("jig")
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn cmd(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("JIG_HOME", self.jig_home())
            .env("HOME", self.home())
            .env("JIG_YES", "1")
            .env_remove("DOCKER_CONFIG")
            .env_remove("XDG_CONFIG_HOME")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }
    fn jig(&self, args: &[&str]) -> Output {
        self.cmd(JIG).args(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.jig(args);
        assert!(
            out.status.success(),
            "jig {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
    fn fails(&self, args: &[&str]) -> String {
        let out = self.jig(args);
        assert!(!out.status.success(), "jig {args:?} should fail");
        String::from_utf8(out.stderr).unwrap()
    }
    fn store(&self) -> PathBuf {
        self.jig_home().join("store")
    }
    fn rootfs(&self, id: &str) -> PathBuf {
        let hex = id.trim().strip_prefix("sha256:").unwrap();
        self.store().join("images").join(hex).join("rootfs")
    }
    fn image_count(&self) -> usize {
        fs::read_dir(self.store().join("images"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
    fn docker_login(&self, host: &str, user: &str, pass: &str) {
        let dir = self.home().join(".docker");
        fs::create_dir_all(&dir).unwrap();
        let auth = STANDARD.encode(format!("{user}:{pass}"));
        let cfg = json!({"auths": {host: {"auth": auth}}, "credsStore": "none-used"});
        fs::write(dir.join("config.json"), serde_json::to_vec(&cfg).unwrap()).unwrap();
    }
    fn recipe(&self, name: &str, from: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{name}.toml"));
        fs::write(
            &path,
            format!(
                "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"{from}\"\n[tool]\nshims = [\"sh\"]\n"
            ),
        )
        .unwrap();
        path
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn pull_by_tag_and_digest_then_install_and_run_a_shim() {
    let reg = Registry::start("");
    let index_digest = push_index(&reg, "bb", "1");
    let env = Env::new();
    let reference = format!("{}/bb:1", reg.host());

    let id = env.ok(&["pull", &reference]);
    let root = env.rootfs(&id);
    assert_eq!(
        fs::read_to_string(root.join("etc/hello")).unwrap(),
        "hello\n"
    );
    assert!(!root.join("etc/gone").exists(), "whiteout applied");
    assert!(!root.join("etc/.wh.gone").exists());
    assert!(
        !root.join("opq/old").exists() && !root.join("opq/sub").exists(),
        "opaque dir"
    );
    assert_eq!(fs::read_to_string(root.join("opq/new")).unwrap(), "upper\n");
    assert!(root.join("bin/busybox").is_file());

    // `jig images` shows where it came from and the resolved index digest.
    let images = env.ok(&["images"]);
    assert!(images.contains(&format!("oci:{reference}")), "{images}");
    assert!(images.contains(&index_digest), "{images}");

    // By digest: the same image, found in the store.
    let by_digest = env.ok(&["pull", &format!("{}/bb@{index_digest}", reg.host())]);
    assert_eq!(by_digest, id);
    assert_eq!(env.image_count(), 1);

    // The image config's Env reaches the tool; the recipe's shims work.
    let recipe = env.recipe("bb", &format!("oci:{reference}"));
    env.ok(&["install", recipe.to_str().unwrap()]);
    let out = env
        .cmd(env.jig_home().join("shims/sh"))
        .args(["-c", "echo hi; echo $FOO"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\nfrom-image\n");

    // Pull and launch in one process (install on first use): the pull must leave no
    // thread behind, or unshare(CLONE_NEWUSER) would fail.
    let fresh = Env::new();
    let recipe = fresh.recipe("bb2", &format!("oci:{reference}"));
    let out = fresh
        .cmd(JIG)
        .args(["run", recipe.to_str().unwrap(), "-c", "echo same-process"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "same-process\n");
    // Not a terminal: no progress output at all.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("MiB/s") && !err.contains('\r'), "{err}");

    // A recipe that names no command runs the image's own Cmd.
    let bare = fresh.dir.path().join("bare.toml");
    fs::write(
        &bare,
        format!("name = \"bare\"\nversion = \"1\"\n[image]\nfrom = \"oci:{reference}\"\n"),
    )
    .unwrap();
    let out = fresh
        .cmd(JIG)
        .args(["run", bare.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "from-cmd\n");
}

#[test]
fn platform_choice_and_its_error() {
    let reg = Registry::start("");
    let layers = layered_image();
    let (arm, arm_digest) = upload_image(&reg, "multi", &layers[..1], "arm64");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": arm_digest, "size": arm.len(),
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
            {"mediaType": OCI_MANIFEST, "digest": arm_digest, "size": arm.len(),
             "platform": {"architecture": "unknown", "os": "unknown"}},
        ],
    });
    reg.put_manifest(
        "multi",
        "armonly",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        &serde_json::to_vec(&index).unwrap(),
    );
    let env = Env::new();
    let err = env.fails(&["pull", &format!("{}/multi:armonly", reg.host())]);
    assert!(
        err.contains("linux/amd64") && err.contains("linux/arm64/v8"),
        "{err}"
    );
    assert!(!err.contains("unknown/unknown"), "{err}");
    let err = env.fails(&["pull", &format!("{}/multi:nosuchtag", reg.host())]);
    assert!(err.contains("not found") && err.contains("hint:"), "{err}");
}

#[test]
fn basic_auth_with_credentials_from_docker_config() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("htpasswd")
        .args(["-Bbn", "jiguser", "s3cret"])
        .output()
        .expect("htpasswd (apache2-utils)");
    let htpasswd = dir.path().join("htpasswd");
    fs::write(&htpasswd, out.stdout).unwrap();
    let mut reg = Registry::start(&format!(
        "auth:\n  htpasswd:\n    realm: jig-test\n    path: {}\n",
        htpasswd.display()
    ));
    reg.auth = Some(format!("Basic {}", STANDARD.encode("jiguser:s3cret")));
    push_simple(&reg, "private/bb", "1", &layered_image());

    let env = Env::new();
    let reference = format!("{}/private/bb:1", reg.host());
    let err = env.fails(&["pull", &reference]);
    assert!(
        err.contains("requires a login") && err.contains(".docker/config.json"),
        "{err}"
    );

    env.docker_login(&reg.host(), "jiguser", "wrong");
    let err = env.fails(&["pull", &reference]);
    assert!(err.contains("denied") || err.contains("401"), "{err}");

    env.docker_login(&reg.host(), "jiguser", "s3cret");
    let id = env.ok(&["pull", &reference]);
    assert!(env.rootfs(&id).join("etc/hello").exists());

    // jig's own config.toml works too (and wins over Docker's file).
    let env2 = Env::new();
    env2.docker_login(&reg.host(), "jiguser", "wrong");
    fs::write(
        env2.jig_home().join("config.toml"),
        format!(
            "[auths.\"{}\"]\nusername = \"jiguser\"\npassword = \"s3cret\"\n",
            reg.host()
        ),
    )
    .unwrap();
    assert_eq!(env2.ok(&["pull", &reference]), id);
}

/// A token server for distribution's `auth.token` mode: checks Basic credentials,
/// grants what the scope asks, signs an RS256 JWT with `openssl`.
struct TokenServer {
    port: u16,
    granted: Arc<AtomicUsize>,
    dir: tempfile::TempDir,
}

impl TokenServer {
    fn start(user: &'static str, pass: &'static str) -> TokenServer {
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
        let want = format!("Basic {}", STANDARD.encode(format!("{user}:{pass}")));
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

    fn token(&self, scope: &str, user: &str, pass: &str) -> String {
        let url = format!(
            "http://127.0.0.1:{}/token?service=jig-test&scope={scope}",
            self.port
        );
        let mut resp = Registry::agent()
            .get(&url)
            .header(
                "authorization",
                format!("Basic {}", STANDARD.encode(format!("{user}:{pass}"))),
            )
            .call()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
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
    // scope = repository:NAME:ACTIONS (the name may contain ':'? not in these tests).
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
        "iss": "jig-test-issuer", "sub": user, "aud": "jig-test",
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

#[test]
fn bearer_token_flow_with_distribution_token_auth() {
    let tokens = TokenServer::start("tokuser", "tokpass");
    let mut reg = Registry::start(&format!(
        "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: jig-test\n    issuer: jig-test-issuer\n    rootcertbundle: {}\n",
        tokens.port,
        tokens.dir.path().join("cert.pem").display()
    ));
    let t = tokens.token("repository:tok/bb:pull,push", "tokuser", "tokpass");
    reg.auth = Some(format!("Bearer {t}"));
    push_simple(&reg, "tok/bb", "1", &layered_image());
    let before = tokens.granted.load(Ordering::SeqCst);

    let env = Env::new();
    let reference = format!("{}/tok/bb:1", reg.host());
    // No credentials: the token server refuses anonymous access, and jig says so.
    let err = env.fails(&["pull", &reference]);
    assert!(
        err.contains("token server") && err.contains("anonymous"),
        "{err}"
    );

    env.docker_login(&reg.host(), "tokuser", "tokpass");
    let id = env.ok(&["pull", &reference]);
    assert!(env.rootfs(&id).join("opq/new").exists());
    assert!(
        tokens.granted.load(Ordering::SeqCst) > before,
        "a token was fetched"
    );

    // Push through the same flow (needs a pull,push token).
    env.ok(&[
        "install",
        env.recipe("tokbb", &format!("oci:{reference}"))
            .to_str()
            .unwrap(),
    ]);
    let out = env.ok(&["push", "tokbb", &format!("{}/tok/pushed:2", reg.host())]);
    assert!(out.contains("/tok/pushed:2@sha256:"), "{out}");
    let env2 = Env::new();
    env2.docker_login(&reg.host(), "tokuser", "tokpass");
    assert_eq!(
        env2.ok(&["pull", &format!("{}/tok/pushed:2", reg.host())]),
        id
    );
}

#[test]
fn corrupted_blob_is_detected_and_nothing_is_installed() {
    let reg = Registry::start("");
    let layers = layered_image();
    let victim = digest(&layers[1].blob);
    push_simple(&reg, "bad", "1", &layers);
    // Same size, different bytes: only the digest can tell.
    let path = reg.blob_data(&victim);
    let mut data = fs::read(&path).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    fs::write(&path, data).unwrap();

    let env = Env::new();
    let recipe = env.recipe("bad", &format!("oci:{}/bad:1", reg.host()));
    let err = env.fails(&["install", recipe.to_str().unwrap()]);
    assert!(err.contains("corrupt") && err.contains(&victim), "{err}");
    assert_eq!(env.image_count(), 0);
    assert!(!env.jig_home().join("installed.json").exists());
    let hex = victim.strip_prefix("sha256:").unwrap();
    assert!(!env.store().join("blobs/sha256").join(hex).exists());
    assert_eq!(fs::read_dir(env.store().join("tmp")).unwrap().count(), 0);
}

#[test]
fn hostile_layers_are_refused_and_nothing_escapes() {
    let reg = Registry::start("");
    let outside = tempfile::tempdir().unwrap();
    let victim = outside
        .path()
        .to_str()
        .unwrap()
        .trim_start_matches('/')
        .to_owned();
    let cases: Vec<(&str, Tar, &str)> = vec![
        (
            "abs",
            Tar::default().file(&format!("/{victim}/abs-escape"), b"x"),
            "absolute",
        ),
        (
            "dotdot",
            Tar::default().file("../../../../../../escape-dotdot", b"x"),
            "'..'",
        ),
        (
            "symlink",
            Tar::default()
                .symlink("out", &format!("/{victim}"))
                .file("out/escape-symlink", b"x"),
            "symlink",
        ),
        (
            "symlink-rel",
            Tar::default()
                .symlink("up", "../../../../../../..")
                .file("up/escape-up", b"x"),
            "symlink",
        ),
        (
            "hardlink",
            Tar::default().hardlink("h", "../../../../../etc/passwd"),
            "'..'",
        ),
        (
            "hardlink-abs",
            Tar::default().hardlink("h", "/etc/passwd"),
            "absolute",
        ),
        // Whiteouts of the directory holding them or of its parent: at the top, the
        // parent is the directory the image is being built in.
        (
            "wh-dotdot",
            Tar::default().file(".wh...", b""),
            "the whiteout .wh... names '..'",
        ),
        (
            "wh-dot",
            Tar::default().file("etc/.wh..", b""),
            "the whiteout .wh.. names '.'",
        ),
        (
            "wh-empty",
            Tar::default().file("etc/.wh.", b""),
            "names nothing",
        ),
    ];
    let env = Env::new();
    for (tag, tar, why) in cases {
        let bad = layer(tar.done(), Comp::Gzip);
        push_simple(
            &reg,
            "hostile",
            tag,
            &[layer(busybox_tar().done(), Comp::Gzip), bad],
        );
        let err = env.fails(&["pull", &format!("{}/hostile:{tag}", reg.host())]);
        assert!(
            err.contains("layer 2/2") && err.contains(why),
            "{tag}: {err}"
        );
        assert_eq!(env.image_count(), 0, "{tag}");
    }
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    let mut stack = vec![env.dir.path().to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(!name.starts_with("escape"), "{}", e.path().display());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    assert!(!Path::new("/escape-dotdot").exists());
}

/// A gzip layer whose uncompressed tar `write` streams, compressed by the host's
/// `gzip -9` and hashed by `sha256sum` (a debug build would take far longer over a
/// bomb's worth of zeros).
fn piped_layer(write: impl FnOnce(&mut dyn Write) + Send + 'static) -> Layer {
    let spawn = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"))
    };
    let mut gzip = spawn("gzip", &["-9c"]);
    let mut sum = spawn("sha256sum", &[]);
    struct Tee(std::process::ChildStdin, std::process::ChildStdin);
    impl Write for Tee {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.write_all(buf)?;
            self.1.write_all(buf)?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut tee = Tee(gzip.stdin.take().unwrap(), sum.stdin.take().unwrap());
    let writer = std::thread::spawn(move || write(&mut tee));
    let hasher = std::thread::spawn(move || sum.wait_with_output().unwrap());
    let blob = gzip.wait_with_output().unwrap();
    writer.join().unwrap();
    let hash = hasher.join().unwrap();
    assert!(blob.status.success() && hash.status.success());
    let hex = String::from_utf8(hash.stdout).unwrap();
    Layer {
        blob: blob.stdout,
        diff_id: format!("sha256:{}", hex.split_whitespace().next().unwrap()),
        media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
    }
}

/// Writes `n` zero bytes.
fn write_zeros(w: &mut dyn Write, mut n: u64) {
    let chunk = vec![0u8; 1 << 20];
    while n > 0 {
        let k = n.min(chunk.len() as u64) as usize;
        w.write_all(&chunk[..k]).unwrap();
        n -= k as u64;
    }
}

#[test]
fn layer_limits_stop_decompression_bombs_while_they_stream() {
    let reg = Registry::start("");
    let base = || layer(busybox_tar().done(), Comp::Gzip);
    let zeros = 256u64 << 20;
    // A 256 MiB file of zeros: about 250 KB compressed.
    let file_bomb = piped_layer(move |w| {
        let head = Tar::default().dir("data/").done();
        w.write_all(&head[..head.len() - 1024]).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_path("data/big").unwrap();
        h.set_size(zeros);
        h.set_mode(0o644);
        h.set_cksum();
        w.write_all(h.as_bytes()).unwrap();
        write_zeros(w, zeros);
        w.write_all(&[0; 1024]).unwrap();
    });
    // A tiny, valid archive followed by 256 MiB of zeros that no entry accounts for.
    let trailer_bomb = piped_layer(move |w| {
        w.write_all(&Tar::default().file("x", b"x").done()).unwrap();
        write_zeros(w, zeros);
    });
    assert!(file_bomb.blob.len() < 1 << 20 && trailer_bomb.blob.len() < 1 << 20);
    push_simple(&reg, "bomb", "file", &[base(), file_bomb]);
    push_simple(&reg, "bomb", "trailer", &[base(), trailer_bomb]);
    push_simple(&reg, "bomb", "fine", &layered_image());

    let env = Env::new();
    let config = env.jig_home().join("config.toml");
    fs::write(&config, "[limits]\nlayer_bytes = \"16MiB\"\n").unwrap();
    let started = Instant::now();
    let err = env.fails(&["pull", &format!("{}/bomb:file", reg.host())]);
    assert!(
        err.contains("layer 2/2 sha256:")
            && err.contains(&format!(
                ": data/big: refused: 256 MiB more would take the archive's contents past 16 MiB (limit layer_bytes; if the image is genuine, raise layer_bytes in the [limits] table of {})",
                config.display()
            )),
        "{err}"
    );
    let err = env.fails(&["pull", &format!("{}/bomb:trailer", reg.host())]);
    assert!(
        err.contains("layer 2/2 sha256:")
            && err
                .contains("refused: more than 16 MiB of data after the end of the layer's archive"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(env.image_count(), 0);
    assert_eq!(fs::read_dir(env.store().join("tmp")).unwrap().count(), 0);

    // Positive control: an ordinary image pulls within the same limits.
    let id = env.ok(&["pull", &format!("{}/bomb:fine", reg.host())]);
    assert!(env.rootfs(&id).join("bin/busybox").is_file());
    // The image limit counts over the layers: room for the first layer's files
    // (busybox, etc/passwd) and 10 bytes; the second layer's etc/hello (6 bytes) fits,
    // its etc/gone (14) does not.
    let first = fs::metadata("/bin/busybox").unwrap().len() + 30;
    let fresh = Env::new();
    fs::write(
        fresh.jig_home().join("config.toml"),
        format!("[limits]\nimage_bytes = {}\n", first + 10),
    )
    .unwrap();
    let err = fresh.fails(&["pull", &format!("{}/bomb:fine", reg.host())]);
    assert!(
        err.contains("layer 2/3 sha256:")
            && err.contains(
                ": etc/gone: refused: 14 bytes more would take the image's contents past"
            )
            && err.contains("limit image_bytes"),
        "{err}"
    );
    assert_eq!(fresh.image_count(), 0);
}

/// Incompressible-ish bytes, quickly (xorshift).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn pull_killed_half_way_then_a_good_pull() {
    let reg = Registry::start("");
    let big = layer(
        Tar::default().file("big", &noise(32 << 20, 7)).done(),
        Comp::Plain,
    );
    let big_digest = digest(&big.blob);
    push_simple(
        &reg,
        "big",
        "1",
        &[layer(busybox_tar().done(), Comp::Gzip), big],
    );
    let env = Env::new();
    let reference = format!("{}/big:1", reg.host());
    let mut child = env
        .cmd(JIG)
        .args(["pull", &reference])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let tmp = env.store().join("tmp");
    let deadline = Instant::now() + Duration::from_secs(60);
    let killed_mid_blob = loop {
        let partial = fs::read_dir(&tmp).ok().and_then(|d| {
            d.flatten().find(|e| {
                e.file_name().to_string_lossy().starts_with("blob-")
                    && e.metadata().is_ok_and(|m| m.len() > (1 << 20))
            })
        });
        if partial.is_some() {
            child.kill().unwrap();
            break true;
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let _ = child.wait();
    assert!(
        killed_mid_blob,
        "the pull finished before it could be killed"
    );
    assert_eq!(env.image_count(), 0);
    let hex = big_digest.strip_prefix("sha256:").unwrap();
    assert!(
        !env.store().join("blobs/sha256").join(hex).exists(),
        "partial blob never counts"
    );

    let id = env.ok(&["pull", &reference]);
    assert_eq!(
        fs::metadata(env.rootfs(&id).join("big")).unwrap().len(),
        32 << 20
    );
    assert!(env.store().join("blobs/sha256").join(hex).is_file());
    let leftovers: Vec<_> = fs::read_dir(&tmp)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("blob-"))
        .collect();
    assert!(leftovers.is_empty(), "stale partial blobs are swept");
}

#[test]
fn push_then_pull_round_trips_to_the_same_image() {
    let reg = Registry::start("");
    let env = Env::new();
    env.ok(&["install", "busybox"]);
    let list = env.ok(&["images"]);
    let local_short = list
        .lines()
        .nth(1)
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    let reference = format!("{}/jig/busybox:host", reg.host());
    let first = env.ok(&["push", "busybox", &reference]);
    let again = env.ok(&["push", "busybox@host", &reference]);
    assert_eq!(first, again, "pushes are deterministic");

    let other = Env::new();
    let id = other.ok(&["pull", &reference]);
    assert!(
        id.trim()
            .strip_prefix("sha256:")
            .unwrap()
            .starts_with(&local_short)
    );
    // The pushed config carries the recipe's command.
    let manifest_digest = first.trim().rsplit('@').next().unwrap().to_owned();
    let mut resp = Registry::agent()
        .get(reg.url(&format!("/v2/jig/busybox/manifests/{manifest_digest}")))
        .header("accept", OCI_MANIFEST)
        .call()
        .unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    let config_digest = m["config"]["digest"].as_str().unwrap();
    let mut resp = Registry::agent()
        .get(reg.url(&format!("/v2/jig/busybox/blobs/{config_digest}")))
        .call()
        .unwrap();
    let c: serde_json::Value =
        serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(c["config"]["Cmd"], json!(["sh"]));
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
    assert!(c["config"]["Env"][0].as_str().unwrap().starts_with("PATH="));
}

/// CI sets JIG_TEST_USER: the whole flow as an unprivileged user.
#[test]
fn unprivileged_user_can_pull_install_and_run() {
    let Ok(user) = std::env::var("JIG_TEST_USER") else {
        eprintln!("JIG_TEST_USER not set; skipping the unprivileged run");
        return;
    };
    let reg = Registry::start("");
    push_index(&reg, "bb", "1");
    let env = Env::new();
    fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let recipe = env.recipe("bb", &format!("oci:{}/bb:1", reg.host()));
    let st = Command::new("chown")
        .arg("-R")
        .arg(format!("{user}:"))
        .arg(env.dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let run = |args: &[&str]| {
        let mut c = env.cmd("runuser");
        c.args(["-u", &user, "--"]).args(args);
        c.output().unwrap()
    };
    let out = run(&[JIG, "install", recipe.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shim = env.jig_home().join("shims/sh");
    let out = run(&[shim.to_str().unwrap(), "-c", "echo hi; id -u"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("hi\n") && !text.contains("\n0\n"),
        "{text}"
    );
}

/// A lock made on one machine pins the manifest digest: another JIG_HOME installing
/// from it gets the same image after the tag moved; `jig lock --upgrade` moves on.
#[test]
fn lock_pins_the_manifest_digest_across_homes() {
    let reg = Registry::start("");
    let with = |marker: &[u8]| {
        vec![layer(
            busybox_tar().file("etc/which", marker).done(),
            Comp::Gzip,
        )]
    };
    let first = push_simple(&reg, "tool", "1", &with(b"first\n"));
    let env = Env::new();
    let proj = env.dir.path().join("proj");
    fs::create_dir(&proj).unwrap();
    let recipe = env.recipe("tool", &format!("oci:{}/tool:1", reg.host()));
    fs::write(proj.join("jig.toml"), "[tools]\ntool = \"1\"\n").unwrap();
    let in_proj = |e: &Env, args: &[&str]| {
        let out = e.cmd(JIG).args(args).current_dir(&proj).output().unwrap();
        assert!(
            out.status.success(),
            "jig {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    in_proj(&env, &["install", recipe.to_str().unwrap()]);
    in_proj(&env, &["lock"]);
    let lock = fs::read_to_string(proj.join("jig.lock")).unwrap();
    assert!(lock.contains(&format!("digest = \"{first}\"")), "{lock}");
    assert!(lock.contains("source = \"oci:"), "{lock}");

    // The tag moves on.
    let second = push_simple(&reg, "tool", "1", &with(b"second\n"));
    assert_ne!(first, second);

    let cat = |e: &Env| {
        let out = e
            .cmd(e.jig_home().join("shims/sh"))
            .args(["-c", "cat /etc/which"])
            .current_dir(&proj)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let other = Env::new();
    in_proj(&other, &["--locked", "install", recipe.to_str().unwrap()]);
    assert_eq!(
        cat(&other),
        "first\n",
        "installed from the lock, not the tag"
    );
    let which = String::from_utf8(in_proj(&other, &["which", "tool"]).stdout).unwrap();
    let image = which
        .lines()
        .find_map(|l| l.strip_prefix("image:"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        lock.contains(&format!("image = \"{image}\"")),
        "{lock}\n{which}"
    );
    let out = in_proj(&other, &["lock"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("up to date"));
    assert_eq!(fs::read_to_string(proj.join("jig.lock")).unwrap(), lock);

    // Upgrading re-resolves the tag.
    in_proj(&other, &["lock", "--upgrade"]);
    let upgraded = fs::read_to_string(proj.join("jig.lock")).unwrap();
    assert!(
        upgraded.contains(&format!("digest = \"{second}\"")),
        "{upgraded}"
    );
    assert_eq!(cat(&other), "second\n");
    // The first home is now behind the lock: reported, refused when locked.
    let out = env
        .cmd(env.jig_home().join("shims/sh"))
        .args(["-c", "cat /etc/which"])
        .current_dir(&proj)
        .env("JIG_LOCKED", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("image: locked sha256:"), "{err}");
}
