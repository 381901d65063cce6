//! Registry pull and push against a real registry (`common::registry`: Debian's
//! `docker-registry`, one per test, killed when the test ends). Test images are built
//! here (busybox-based, several layers, whiteouts, a zstd layer, a multi-platform
//! index) and uploaded with the registry's HTTP API or with `jig push`.
//!
//! The Bearer test runs the registry with distribution's own `auth.token` mode, its
//! tokens signed by `common::registry::TokenServer`.

mod common;

#[path = "oci/hostile.rs"]
mod hostile;
#[path = "oci/roundtrip.rs"]
mod roundtrip;
#[path = "oci/sbom.rs"]
mod sbom;

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use common::registry::{Comp, DOCKER_MANIFEST_LIST, Layer, OCI_MANIFEST, Registry, TokenServer};
use common::tar::{Tar, write_zeros};

const JIG: &str = env!("CARGO_BIN_EXE_jig");

// ---------------------------------------------------------------- images

/// The three-layer test image: busybox (gzip), additions in zstd, whiteouts (gzip).
fn layered_image() -> Vec<Layer> {
    let base = Layer::new(Tar::busybox().finish(), Comp::Gzip);
    let mid = Layer::new(
        Tar::new()
            .file("etc/hello", b"hello\n")
            .file("etc/gone", b"to be deleted\n")
            .file("opq/old", b"lower\n")
            .dir("opq/sub/")
            .file("opq/sub/old2", b"lower\n")
            .finish(),
        Comp::Zstd,
    );
    let top = Layer::new(
        Tar::new()
            .whiteout("etc/gone")
            .opaque("opq")
            .file("opq/new", b"upper\n")
            .finish(),
        Comp::Gzip,
    );
    vec![base, mid, top]
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
    let reg = Registry::start();
    let index_digest = reg.push_index("bb", "1", &layered_image());
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
    let reg = Registry::start();
    let layers = layered_image();
    let (arm, arm_digest) = reg.upload_image("multi", &layers[..1], "arm64");
    let index = json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST_LIST,
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
        DOCKER_MANIFEST_LIST,
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
    let reg = Registry::start_basic_auth("jiguser", "s3cret");
    reg.push_simple("private/bb", "1", &layered_image());

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

#[test]
fn bearer_token_flow_with_distribution_token_auth() {
    let tokens = TokenServer::start("tokuser", "tokpass");
    let mut reg = Registry::start_token_auth(&tokens);
    let t = tokens.token("repository:tok/bb:pull,push", "tokuser", "tokpass");
    reg.auth = Some(format!("Bearer {t}"));
    reg.push_simple("tok/bb", "1", &layered_image());
    let before = tokens.granted();

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
    assert!(tokens.granted() > before, "a token was fetched");

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
