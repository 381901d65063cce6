//! Unpacking: hostile rootfs tarballs against the checked tar applier. Whiteouts that
//! name a directory itself or its parent, archives over the `[limits]` of the
//! environment's `config.toml` (`$JIG_HOME/config.toml` here), and decompression bombs
//! are refused with the archive, the entry and the limit's key named, before anything
//! outside the image is touched or the bomb is written; the same tarball within the
//! limits, or with ordinary whiteout names, installs and runs.

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use super::*;
use crate::common::tar::Tar;

/// The fixture's busybox root as an open archive, so entries can be added after it.
fn busybox_entries() -> &'static Tar {
    static TAR: OnceLock<Tar> = OnceLock::new();
    TAR.get_or_init(|| Tar::new().tree(&fixture().rootfs))
}

/// The busybox root plus `extra` entries (name, contents; a name ending in `/` is a
/// directory), as a complete tar.
fn busybox_tar_with(extra: &[(&str, &str)]) -> Vec<u8> {
    let mut t = busybox_entries().clone();
    for (name, data) in extra {
        t = if name.ends_with('/') {
            t.dir(name)
        } else {
            t.file(name, data.as_bytes())
        };
    }
    t.finish()
}

/// Writes `bytes` as `env`'s file `name` and a recipe `name` with the shim `sh` on it;
/// returns (tarball, recipe).
fn tarball_recipe(env: &Env, name: &str, ext: &str, bytes: &[u8]) -> (PathBuf, PathBuf) {
    let tarball = env.dir().join(format!("{name}.{ext}"));
    env.write(&tarball, bytes);
    let recipe = env.dir().join(format!("{name}.toml"));
    env.write(
        &recipe,
        format!(
            "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:{}\"\n[tool]\nshims = [\"sh\"]\n",
            tarball.display()
        ),
    );
    (tarball, recipe)
}

/// Writes `env`'s `config.toml` (where jig reads it for this environment: `JIG_HOME`).
fn set_config(env: &Env, text: &str) {
    env.mkdir(&env.jig_home());
    env.write(&env.jig_home().join("config.toml"), text);
}

fn install(env: &Env, recipe: &Path) -> Output {
    env.jig(&["install", recipe.to_str().unwrap()])
}

/// Asserts that an install failed and left no image and no temp debris in the store.
fn assert_refused(env: &Env, out: &Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{} {what}: the install should fail\nstderr: {}",
        env.label(),
        stderr(out)
    );
    let store = env.jig_home().join("store");
    for d in ["images", "tmp"] {
        let left: Vec<_> = fs::read_dir(store.join(d))
            .map(|r| r.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(
            left.is_empty(),
            "{} {what}: store/{d}: {left:?}",
            env.label()
        );
    }
    stderr(out)
}

#[test]
fn whiteouts_of_the_directory_or_its_parent_are_refused_and_touch_nothing() {
    for env in Env::all() {
        // A bystander beside the store: `.wh...` at the top of an image names the
        // directory holding it.
        let canary = env.jig_home().join("canary");
        env.mkdir(&env.jig_home());
        env.mkdir(&canary);
        env.write(&canary.join("keep"), "keep");
        let before = tree_digest(&canary);
        for (i, entry) in [".wh..", ".wh...", "etc/.wh..", "etc/.wh...", "etc/.wh."]
            .iter()
            .enumerate()
        {
            let tar = busybox_tar_with(&[("etc/hello", "hi\n"), (entry, "")]);
            let (tarball, recipe) = tarball_recipe(&env, &format!("wh{i}"), "tar", &tar);
            let err = assert_refused(&env, &install(&env, &recipe), entry);
            let wh = entry.rsplit('/').next().unwrap();
            assert!(
                err.contains(&format!(
                    "{}: {entry}: refused: the whiteout {wh} names",
                    tarball.display()
                )),
                "{} {entry}: {err}",
                env.label()
            );
            assert_eq!(
                tree_digest(&canary),
                before,
                "{} {entry}: the store's sibling is as it was",
                env.label()
            );
        }

        // Positive control: ordinary whiteout names and an opaque marker install and the
        // tool runs. A rootfs tarball is one flat tree, so they stay plain files there.
        let tar = busybox_tar_with(&[
            ("etc/.wh.motd", ""),
            ("opq/", ""),
            ("opq/old", "old\n"),
            ("opq/.wh..wh..opq", ""),
        ]);
        let (_, recipe) = tarball_recipe(&env, "whok", "tar", &tar);
        assert_ok(&install(&env, &recipe), &format!("{} whok", env.label()));
        let out = env.sh("cat /etc/motd /opq/old; ls -a /etc /opq");
        assert_ok(&out, &format!("{} sh in whok", env.label()));
        let text = stdout(&out);
        assert!(text.starts_with("image motd\nold\n"), "{text}");
        assert!(
            text.contains(".wh.motd") && text.contains(".wh..wh..opq"),
            "{text}"
        );
        assert_eq!(fs::read_to_string(canary.join("keep")).unwrap(), "keep");
    }
}

#[test]
fn archives_over_the_configured_limits_are_refused_naming_the_key() {
    let busybox_size = fs::metadata(fixture().rootfs.join("bin/busybox"))
        .unwrap()
        .len();
    assert!(busybox_size > 1 << 20, "the test needs busybox over 1 MiB");
    for env in Env::all() {
        let tar = busybox_tar_with(&[]);
        let (tarball, recipe) = tarball_recipe(&env, "limited", "tar", &tar);
        let config = env.jig_home().join("config.toml");
        for (limits, key, what) in [
            (
                "layer_entries = 20",
                "layer_entries",
                "the archive has more than 20 entries",
            ),
            (
                "image_bytes = \"1MiB\"",
                "image_bytes",
                "would take the image's contents past 1 MiB",
            ),
            (
                "layer_bytes = 1000",
                "layer_bytes",
                "would take the archive's contents past 1000 bytes",
            ),
        ] {
            set_config(&env, &format!("[limits]\n{limits}\n"));
            let err = assert_refused(&env, &install(&env, &recipe), key);
            assert!(
                err.contains(&format!("{}: ", tarball.display()))
                    && err.contains(": refused: ")
                    && err.contains(what),
                "{} {key}: {err}",
                env.label()
            );
            assert!(
                err.contains(&format!(
                    "(limit {key}; if the image is genuine, raise {key} in the [limits] table of {})",
                    config.display()
                )),
                "{} {key}: {err}",
                env.label()
            );
        }

        // Positive control: the same tarball within the limits installs and runs.
        set_config(
            &env,
            "[limits]\nlayer_entries = 100000\nimage_bytes = \"64MiB\"\n",
        );
        assert_ok(&install(&env, &recipe), &format!("{} limited", env.label()));
        let out = env.sh("echo ok");
        assert_ok(&out, &format!("{} sh", env.label()));
        assert_eq!(stdout(&out), "ok\n");
    }
}

/// Streams the busybox root, then `files` entries `NAME` of `size` zero bytes each,
/// then the end-of-archive blocks into `sink` (a compressor). Returns `sink`.
fn write_zero_files<W: Write>(sink: W, files: &[(String, u64)]) -> W {
    let mut t = Tar::to(sink).raw(busybox_entries().bytes());
    for (name, size) in files {
        t = t.zeros(name, *size);
    }
    t.finish()
}

/// The busybox root plus one 1 GiB file of zeros, through the host's `gzip -9` (about
/// 1 MB; gzip is in every Debian base system, and faster than a debug build).
fn gzip_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let mut gzip = Command::new("gzip")
            .arg("-9c")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("gzip");
        let mut stdin = gzip.stdin.take().unwrap();
        let writer = std::thread::spawn(move || {
            write_zero_files(&mut stdin, &[("big".into(), 1 << 30)]);
        });
        let out = gzip.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        out.stdout
    })
}

/// The busybox root plus 64 files of 16 MiB of zeros, zstd-compressed (about 1 MB).
fn zstd_bomb() -> &'static [u8] {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    BOMB.get_or_init(|| {
        let files: Vec<(String, u64)> = (0..64).map(|i| (format!("z/{i:02}"), 16 << 20)).collect();
        let enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        write_zero_files(enc, &files).finish().unwrap()
    })
}

#[test]
fn decompression_bombs_are_stopped_by_the_byte_limit_while_streaming() {
    let gz = gzip_bomb();
    let zst = zstd_bomb();
    // Both inflate to over 1 GiB: a thousand times their size or more.
    assert!(
        gz.len() < 2 << 20 && zst.len() < 2 << 20,
        "{} {}",
        gz.len(),
        zst.len()
    );
    for env in Env::all() {
        set_config(&env, "[limits]\nimage_bytes = \"32MiB\"\n");
        // One file declaring 1 GiB: refused from its header, before any of it is
        // written. Many 16 MiB files: refused at the one that crosses 32 MiB, after
        // busybox and one of them were written.
        for (name, ext, bomb, entry, what) in [
            ("gzbomb", "tar.gz", gz, "big", "1 GiB more"),
            ("zstbomb", "tar.zst", zst, "z/01", "16 MiB more"),
        ] {
            let (tarball, recipe) = tarball_recipe(&env, name, ext, bomb);
            let started = Instant::now();
            let err = assert_refused(&env, &install(&env, &recipe), name);
            let took = started.elapsed();
            assert!(
                err.contains(&format!(
                    "{}: {entry}: refused: {what} would take the image's contents past 32 MiB (limit image_bytes;",
                    tarball.display()
                )),
                "{} {name}: {err}",
                env.label()
            );
            // Writing (or even inflating) the whole gigabyte is not what happened.
            assert!(
                took < Duration::from_secs(20),
                "{} {name} took {took:?}",
                env.label()
            );
        }
    }
}
