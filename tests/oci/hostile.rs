//! Registries and images that lie or attack: a corrupted blob, hostile layers, decompression
//! bombs, a pull killed half way.

use super::*;
use common::tar::noise;

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
