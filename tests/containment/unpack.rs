//! Unpacking: hostile rootfs tarballs against the checked tar applier. Whiteouts that
//! name a directory itself or its parent are refused with the archive and the entry
//! named, before anything outside the image is touched; the same tarball with ordinary
//! whiteout names installs and runs.

use std::process::Output;

use super::*;

/// The fixture's busybox root as tar bytes, without the end-of-archive blocks, so
/// entries can be added after it.
fn busybox_entries() -> &'static [u8] {
    static TAR: OnceLock<Vec<u8>> = OnceLock::new();
    TAR.get_or_init(|| {
        let mut b = tar::Builder::new(Vec::new());
        b.follow_symlinks(false);
        b.append_dir_all(".", &fixture().rootfs).unwrap();
        b.get_ref().clone()
    })
}

/// A raw header for `name` (written as is, so names the tar crate would refuse can be
/// expressed too).
fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(if kind == tar::EntryType::Directory {
        0o755
    } else {
        0o644
    });
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    h
}

/// The busybox root plus `extra` entries (name, contents; a name ending in `/` is a
/// directory), as a complete tar.
fn busybox_tar_with(extra: &[(&str, &str)]) -> Vec<u8> {
    let mut t = busybox_entries().to_vec();
    for (name, data) in extra {
        let kind = if name.ends_with('/') {
            tar::EntryType::Directory
        } else {
            tar::EntryType::Regular
        };
        t.extend_from_slice(header(name, kind, data.len() as u64).as_bytes());
        t.extend_from_slice(data.as_bytes());
        t.extend(std::iter::repeat_n(0, (512 - data.len() % 512) % 512));
    }
    t.extend(std::iter::repeat_n(0, 1024));
    t
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
