//! Registry pull and push against a real registry (`common::registry`: Debian's
//! `docker-registry`, one per test, killed when the test ends). Test images are built
//! here (busybox-based, several layers, whiteouts, a zstd layer, a multi-platform
//! index) and uploaded with the registry's HTTP API or with `jig push`.
//!
//! The Bearer test runs the registry with distribution's own `auth.token` mode, its
//! tokens signed by `common::registry::TokenServer`.

mod common;

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

#[test]
fn corrupted_blob_is_detected_and_nothing_is_installed() {
    let reg = Registry::start();
    let layers = layered_image();
    let victim = layers[1].digest();
    reg.push_simple("bad", "1", &layers);
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
    let reg = Registry::start();
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
            Tar::new().file(&format!("/{victim}/abs-escape"), b"x"),
            "absolute",
        ),
        (
            "dotdot",
            Tar::new().file("../../../../../../escape-dotdot", b"x"),
            "'..'",
        ),
        (
            "symlink",
            Tar::new()
                .symlink("out", &format!("/{victim}"))
                .file("out/escape-symlink", b"x"),
            "symlink",
        ),
        (
            "symlink-rel",
            Tar::new()
                .symlink("up", "../../../../../../..")
                .file("up/escape-up", b"x"),
            "symlink",
        ),
        (
            "hardlink",
            Tar::new().hardlink("h", "../../../../../etc/passwd"),
            "'..'",
        ),
        (
            "hardlink-abs",
            Tar::new().hardlink("h", "/etc/passwd"),
            "absolute",
        ),
        // Whiteouts of the directory holding them or of its parent: at the top, the
        // parent is the directory the image is being built in.
        (
            "wh-dotdot",
            Tar::new().file(".wh...", b""),
            "the whiteout .wh... names '..'",
        ),
        (
            "wh-dot",
            Tar::new().file("etc/.wh..", b""),
            "the whiteout .wh.. names '.'",
        ),
        (
            "wh-empty",
            Tar::new().file("etc/.wh.", b""),
            "names nothing",
        ),
    ];
    let env = Env::new();
    for (tag, tar, why) in cases {
        let bad = Layer::new(tar.finish(), Comp::Gzip);
        reg.push_simple(
            "hostile",
            tag,
            &[Layer::new(Tar::busybox().finish(), Comp::Gzip), bad],
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

#[test]
fn layer_limits_stop_decompression_bombs_while_they_stream() {
    let reg = Registry::start();
    let base = || Layer::new(Tar::busybox().finish(), Comp::Gzip);
    let zeros = 256u64 << 20;
    // A 256 MiB file of zeros: about 250 KB compressed.
    let file_bomb = piped_layer(move |w| {
        Tar::to(w).dir("data/").zeros("data/big", zeros).finish();
    });
    // A tiny, valid archive followed by 256 MiB of zeros that no entry accounts for.
    let trailer_bomb = piped_layer(move |w| {
        let w = Tar::to(w).file("x", b"x").finish();
        write_zeros(w, zeros);
    });
    assert!(file_bomb.blob.len() < 1 << 20 && trailer_bomb.blob.len() < 1 << 20);
    reg.push_simple("bomb", "file", &[base(), file_bomb]);
    reg.push_simple("bomb", "trailer", &[base(), trailer_bomb]);
    reg.push_simple("bomb", "fine", &layered_image());

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
    let reg = Registry::start();
    let big = Layer::new(
        Tar::new().file("big", &noise(32 << 20, 7)).finish(),
        Comp::Plain,
    );
    let big_digest = big.digest();
    reg.push_simple(
        "big",
        "1",
        &[Layer::new(Tar::busybox().finish(), Comp::Gzip), big],
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
    let reg = Registry::start();
    let env = Env::new();
    env.ok(&["install", "busybox"]);
    let list = env.ok(&["images"]);
    let local_short = list
        .lines()
        .next()
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
    let m = reg.manifest("jig/busybox", &manifest_digest);
    let config_digest = m["config"]["digest"].as_str().unwrap();
    let c: serde_json::Value =
        serde_json::from_slice(&reg.blob("jig/busybox", config_digest)).unwrap();
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
    let reg = Registry::start();
    reg.push_index("bb", "1", &layered_image());
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
    let reg = Registry::start();
    let with = |marker: &[u8]| {
        vec![Layer::new(
            Tar::busybox().file("etc/which", marker).finish(),
            Comp::Gzip,
        )]
    };
    let first = reg.push_simple("tool", "1", &with(b"first\n"));
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
    let second = reg.push_simple("tool", "1", &with(b"second\n"));
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

// ---------------------------------------------------------------- SBOM

/// A layer that makes the test image look Debian-based: a dpkg status file with one
/// package and its machine-readable copyright file.
fn dpkg_layer() -> Layer {
    let status = "Package: hello\nStatus: install ok installed\nArchitecture: amd64\n\
                  Version: 2.10-3\nDescription: greets\n";
    let copyright = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
                     Upstream-Name: hello\n\nFiles: *\nCopyright: 2024 someone\nLicense: MIT\n";
    Layer::new(
        Tar::new()
            .dir("var/")
            .dir("var/lib/")
            .dir("var/lib/dpkg/")
            .file("var/lib/dpkg/status", status.as_bytes())
            .dir("usr/")
            .dir("usr/share/")
            .dir("usr/share/doc/")
            .dir("usr/share/doc/hello/")
            .file("usr/share/doc/hello/copyright", copyright.as_bytes())
            .finish(),
        Comp::Gzip,
    )
}

/// `jig sbom` of a tool installed from a registry image: the image's manifest digest
/// and every layer's digest (recorded when it was pulled), the Debian package its
/// layers installed, valid against the official schemas in both formats.
#[test]
fn sbom_of_a_registry_image_names_its_manifest_and_layers_and_validates() {
    let reg = Registry::start();
    let mut layers = layered_image();
    layers.push(dpkg_layer());
    let digests: Vec<String> = layers.iter().map(Layer::digest).collect();
    let manifest = reg.push_simple("deb", "12", &layers);
    let env = Env::new();
    let recipe = env.recipe("deb", &format!("oci:{}/deb:12", reg.host()));
    env.ok(&["install", recipe.to_str().unwrap()]);
    let sbom = |format: &str| {
        let out = env
            .cmd(JIG)
            .args(["sbom", "deb", "--format", format])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "jig sbom --format {format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = env.dir.path().join(format!("deb.{format}"));
        fs::write(&path, &out.stdout).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (path, doc)
    };

    let (path, spdx) = sbom("spdx-json");
    common::sbom::assert_valid("spdx", &path);
    let packages = spdx["packages"].as_array().unwrap();
    let sums: Vec<&str> = packages
        .iter()
        .filter_map(|p| p["checksums"][0]["checksumValue"].as_str())
        .collect();
    assert!(sums.contains(&&manifest["sha256:".len()..]), "{spdx}");
    let layer_sums: Vec<String> = packages
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "ARCHIVE")
        .map(|p| {
            format!(
                "sha256:{}",
                p["checksums"][0]["checksumValue"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(layer_sums, digests, "the layers, in manifest order");
    let hello = packages
        .iter()
        .find(|p| p["name"] == "hello")
        .expect("hello");
    assert_eq!(hello["versionInfo"], "2.10-3", "{hello}");
    assert_eq!(hello["licenseDeclared"], "MIT", "{hello}");

    let (path, cdx) = sbom("cyclonedx-json");
    common::sbom::assert_valid("cyclonedx", &path);
    let components = cdx["components"].as_array().unwrap();
    let base = components
        .iter()
        .find(|c| c["type"] == "container")
        .unwrap();
    assert_eq!(base["version"], "12", "{base}");
    let nested: Vec<&str> = base["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["hashes"][0]["content"].as_str().unwrap())
        .collect();
    let hexes: Vec<&str> = digests.iter().map(|d| &d["sha256:".len()..]).collect();
    assert_eq!(nested, hexes, "{base}");
    assert!(components.iter().any(|c| c["name"] == "hello"), "{cdx}");
}
