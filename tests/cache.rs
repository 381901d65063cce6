//! The image cache (`[cache]` of config.toml): two `JIG_HOME`s of one identity and a
//! loopback docker-registry (`common::registry`). The first home builds and pushes;
//! the second installs from the cache without running a build step, and gets the
//! same image id and tree. A damaged blob in the registry's storage is an error; a
//! cache that does not answer means a build with a note. Debian images of one suite
//! share their base's layer, and a home that has the base downloads only the rest.

mod common;

use std::fs;

use common::registry::Registry;
use common::*;

/// A busybox image with one `run` step: keyed by the binary's hash and the recipe,
/// built in a second, so every identity can build it twice cheaply.
const STEP_RECIPE: &str = r#"name = "cbb"
version = "1"
[image]
from = "busybox:/bin/busybox"
run = ["echo made-by-a-step > /made"]
[tool]
shims = ["sh"]
"#;

/// A fresh home of `who` whose config.toml names the cache `repo` (pushing or not).
fn home_with_cache(who: &Identity, cache: &str, push: bool) -> Env {
    let env = Env::new(who.clone());
    env.mkdir(&env.jig_home());
    env.write(
        &env.jig_home().join("config.toml"),
        format!("[cache]\nregistry = \"{cache}\"\npush = {push}\n"),
    );
    env.write(&env.project().join("cbb.toml"), STEP_RECIPE);
    env
}

/// `jig install ARGS` in `env`, which must succeed: its stderr.
fn install(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["install"];
    all.extend_from_slice(args);
    let out = env.jig(&all);
    assert_ok(&out, &format!("{} jig {all:?}", env.label()));
    stderr(&out)
}

/// The rootfs of image `id` (`sha256:...` or hex) in `env`'s store.
fn rootfs(env: &Env, id: &str) -> std::path::PathBuf {
    let hex = id.trim().trim_start_matches("sha256:");
    let dir = fs::read_dir(env.jig_home().join("store/images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(hex))
        .unwrap_or_else(|| panic!("{} image {id} not in the store", env.label()));
    dir.join("rootfs")
}

/// Paths, kinds, modes, contents and (for files and directories) modification
/// seconds: what a cached image must carry over; owners are the store's user and
/// nanoseconds what no tar header keeps.
fn content_digest(root: &std::path::Path) -> String {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    fn walk(dir: &std::path::Path, rel: &str, h: &mut Sha256) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = format!("{rel}/{}", e.file_name().to_string_lossy());
            let m = fs::symlink_metadata(&path).unwrap();
            let ft = m.file_type();
            let secs = if ft.is_symlink() { 0 } else { m.mtime() };
            h.update(format!("{rel}\0{:o}\0{secs}\0", m.mode()).as_bytes());
            if ft.is_symlink() {
                h.update(fs::read_link(&path).unwrap().as_os_str().as_encoded_bytes());
            } else if ft.is_file() {
                h.update(fs::read(&path).unwrap());
            } else if ft.is_dir() {
                walk(&path, &rel, h);
            }
            h.update(b"\n");
        }
    }
    let mut h = Sha256::new();
    walk(root, "", &mut h);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn a_second_home_installs_from_the_cache_without_building() {
    let reg = Registry::start();
    for who in Identity::all() {
        // One repository per identity: the same recipe has the same key for both.
        let cache = format!("{}/team/{}", reg.host(), who.name);
        let first = home_with_cache(&who, &cache, true);
        let err = install(&first, &["./cbb.toml"]);
        assert!(
            err.contains("running step 1 of 1"),
            "{} built: {err}",
            first.label()
        );
        assert!(
            err.contains("not in the cache"),
            "{} a miss first: {err}",
            first.label()
        );
        assert!(
            err.contains("pushed to the cache"),
            "{} pushed: {err}",
            first.label()
        );
        let id = first.image_id("cbb");

        let listed = first.jig(&["cache", "list"]);
        assert_ok(&listed, "jig cache list");
        assert!(
            stdout(&listed).contains("jig-") && stdout(&listed).contains("busybox:"),
            "{}",
            stdout(&listed)
        );

        let second = home_with_cache(&who, &cache, false);
        let err = install(&second, &["./cbb.toml"]);
        assert!(
            !err.contains("running step"),
            "{} no build step: {err}",
            second.label()
        );
        assert!(
            err.contains("from the cache"),
            "{} a hit: {err}",
            second.label()
        );
        assert_eq!(
            second.image_id("cbb"),
            id,
            "{} the same image id",
            second.label()
        );
        assert_eq!(
            content_digest(&rootfs(&second, &id)),
            content_digest(&rootfs(&first, &id)),
            "{} the same tree",
            second.label()
        );
        assert_ok(
            &second.jig(&["verify"]),
            "jig verify: the tree hashes to its id",
        );
        let ran = second.shim("sh", &["-c", "cat /made"]);
        assert_ok(&ran, "the cached tool runs");
        assert_eq!(stdout(&ran), "made-by-a-step\n");

        // `jig cache pull` finds the same image by the recipe, in a third home.
        let third = home_with_cache(&who, &cache, false);
        let pulled = third.jig(&["cache", "pull", "./cbb.toml"]);
        assert_ok(&pulled, "jig cache pull");
        assert_eq!(stdout(&pulled).trim(), id.trim(), "{}", third.label());
    }
}

#[test]
fn cache_push_sends_an_installed_image_that_another_home_then_finds() {
    let reg = Registry::start();
    for who in Identity::all() {
        let cache = format!("{}/pushed/{}", reg.host(), who.name);
        let first = home_with_cache(&who, &cache, false);
        let err = install(&first, &["./cbb.toml"]);
        assert!(!err.contains("pushed to the cache"), "push = false: {err}");
        let pushed = first.jig(&["cache", "push", "cbb"]);
        assert_ok(&pushed, "jig cache push");
        assert!(
            stdout(&pushed).contains(&format!("{cache}:jig-")),
            "{}",
            stdout(&pushed)
        );
        let second = home_with_cache(&who, &cache, false);
        let err = install(&second, &["./cbb.toml"]);
        assert!(
            err.contains("from the cache"),
            "{} a hit: {err}",
            second.label()
        );
        assert_eq!(second.image_id("cbb"), first.image_id("cbb"));

        // `--push-cache` pushes what an install builds, whatever config.toml says.
        let flagged = format!("{}/flagged/{}", reg.host(), who.name);
        let third = home_with_cache(&who, &flagged, false);
        let err = install(&third, &["--push-cache", "./cbb.toml"]);
        assert!(err.contains("pushed to the cache"), "--push-cache: {err}");
        let fourth = home_with_cache(&who, &flagged, false);
        assert!(install(&fourth, &["./cbb.toml"]).contains("from the cache"));
    }
}

#[test]
fn a_damaged_blob_in_the_cache_is_an_error_not_a_build() {
    for who in Identity::all() {
        let reg = Registry::start();
        let cache = format!("{}/damaged", reg.host());
        let first = home_with_cache(&who, &cache, true);
        install(&first, &["./cbb.toml"]);
        let tag = String::from_utf8(first.jig(&["cache", "list", "--json"]).stdout).unwrap();
        let list: serde_json::Value = serde_json::from_str(&tag).unwrap();
        let tag = list[0]["tag"].as_str().unwrap().to_owned();
        let manifest = reg.manifest("damaged", &tag);
        let layer = manifest["layers"][0]["digest"].as_str().unwrap();
        let data = reg.blob_data(layer);
        let mut bytes = fs::read(&data).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        fs::write(&data, bytes).unwrap();

        let second = home_with_cache(&who, &cache, false);
        let out = second.jig(&["install", "./cbb.toml"]);
        assert!(
            !out.status.success(),
            "{} a damaged blob installs nothing",
            second.label()
        );
        let err = stderr(&out);
        assert!(
            err.contains("corrupt") || err.contains("hashes to"),
            "{err}"
        );
        assert!(
            !err.contains("running step"),
            "{} no quiet rebuild: {err}",
            second.label()
        );
        assert!(!second.shim_path("sh").exists(), "{}", second.label());
    }
}

#[test]
fn a_cache_that_does_not_answer_means_a_build_with_one_note() {
    // Port 9 (discard) on loopback: nothing listens there.
    for who in Identity::all() {
        let env = home_with_cache(&who, "127.0.0.1:9/nobody", true);
        let err = install(&env, &["./cbb.toml"]);
        assert!(
            err.contains("running step 1 of 1"),
            "{} built: {err}",
            env.label()
        );
        let notes: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("did not answer"))
            .collect();
        assert_eq!(notes.len(), 1, "{} one line: {err}", env.label());
        assert!(notes[0].contains("127.0.0.1:9/nobody") && notes[0].contains("building"));
        assert!(err.contains("not pushed to the cache"), "{err}");
        assert_ok(&env.shim("sh", &["-c", "cat /made"]), "the built tool runs");
    }
}

#[test]
fn a_projects_cache_needs_trust() {
    let reg = Registry::start();
    for who in Identity::all() {
        let cache = format!("{}/project/{}", reg.host(), who.name);
        let first = home_with_cache(&who, &cache, true);
        install(&first, &["./cbb.toml"]);
        // The second home has no cache of its own; the project names one.
        let second = Env::new(who.clone());
        second.write(&second.project().join("cbb.toml"), STEP_RECIPE);
        second.write(
            &second.project().join("jig.toml"),
            format!("[cache]\nregistry = \"{cache}\"\n"),
        );
        let err = install(&second, &["./cbb.toml"]);
        assert!(err.contains("until you run `jig trust`"), "{err}");
        assert!(err.contains("running step"), "untrusted: built: {err}");
        let trust = second.jig(&["trust", "--yes"]);
        assert_ok(&trust, "jig trust");
        assert!(stderr(&trust).contains(&cache) || stdout(&trust).contains(&cache));
        let uninstall = second.jig(&["uninstall", "cbb"]);
        assert_ok(&uninstall, "jig uninstall");
        let gc = second.jig(&["gc"]);
        assert_ok(&gc, "jig gc");
        let err = install(&second, &["./cbb.toml"]);
        assert!(err.contains("from the cache"), "trusted: a hit: {err}");
    }
}

/// A project's own Debian recipe (Essential and apt, slim), pinned and locked.
const DEB_RECIPE: &str = r#"name = "deb"
version = "1"
[image]
from = "debian:bookworm"
packages = []
slim = true
[tool]
shims = ["dash"]
"#;

fn debian_project(env: &Env) {
    let recipes = env.project().join(".jig/recipes");
    env.mkdir(&env.project().join(".jig"));
    env.mkdir(&recipes);
    env.write(&recipes.join("deb.toml"), DEB_RECIPE);
    env.write(&env.project().join("jig.toml"), "[tools]\ndeb = \"1\"\n");
}

#[test]
fn a_locked_debian_project_installs_from_the_cache_without_a_bootstrap() {
    let reg = Registry::start();
    for who in Identity::all() {
        let cache = format!("{}/debian/{}", reg.host(), who.name);
        // The first machine bootstraps, pushes and locks.
        let first = home_with_cache(&who, &cache, true);
        debian_project(&first);
        let trust = first.jig(&["trust", "--yes"]);
        assert_ok(&trust, "jig trust (builds)");
        let err = stderr(&trust);
        assert!(err.contains("bootstrapping debian:bookworm"), "{err}");
        assert!(err.contains("pushed to the cache"), "{err}");
        assert_ok(&first.jig(&["lock"]), "jig lock");
        let lock = fs::read_to_string(first.project().join("jig.lock")).unwrap();
        let locked_image = lock
            .lines()
            .find_map(|l| l.strip_prefix("image = \""))
            .unwrap()
            .trim_end_matches('"')
            .to_owned();

        // The second machine has the project with its lock: the lock names the sources,
        // the cache the image; nothing is resolved, downloaded or bootstrapped.
        let second = home_with_cache(&who, &cache, false);
        debian_project(&second);
        second.write(&second.project().join("jig.lock"), &lock);
        let trust = second.jig(&["--locked", "trust", "--yes"]);
        assert_ok(&trust, "jig trust (from the cache)");
        let err = stderr(&trust);
        assert!(err.contains("from the cache"), "{} {err}", second.label());
        for built in ["bootstrapping", "downloading", "debian:bookworm image"] {
            assert!(
                !err.contains(built),
                "{} no build ({built}): {err}",
                second.label()
            );
        }
        assert_eq!(
            second.image_id("dash"),
            locked_image,
            "{} the locked image",
            second.label()
        );
        assert_ok(&second.jig(&["verify"]), "jig verify");
        let ran = second.shim("dash", &["-c", "echo $((6 * 7))"]);
        assert_ok(&ran, "the cached Debian tool runs");
        assert_eq!(stdout(&ran), "42\n");

        // A lock that names another image: the cache's is refused, not installed.
        let third = home_with_cache(&who, &cache, false);
        debian_project(&third);
        let other = format!("sha256:{}", "ab".repeat(32));
        third.write(
            &third.project().join("jig.lock"),
            lock.replace(&locked_image, &other),
        );
        let out = third.jig(&["trust", "--yes"]);
        assert!(
            !out.status.success(),
            "{} another locked image",
            third.label()
        );
        let err = stderr(&out);
        assert!(err.contains("but jig.lock has"), "{err}");
        assert!(
            !err.contains("bootstrapping"),
            "{} no quiet rebuild: {err}",
            third.label()
        );
    }
}

/// Two recipes of one suite, each with a package of its own on the suite's base.
const JQ_RECIPE: &str = r#"name = "cjq"
version = "1"
[image]
from = "debian:bookworm"
packages = ["jq"]
slim = true
[tool]
shims = ["jq"]
"#;
const LESS_RECIPE: &str = r#"name = "cless"
version = "1"
[image]
from = "debian:bookworm"
packages = ["less"]
slim = true
[tool]
shims = ["less"]
"#;

/// The layer digests of the cache's image of `recipe` (installed in `env`).
fn layers_of(reg: &Registry, env: &Env, repo: &str, recipe: &str) -> Vec<serde_json::Value> {
    let id = env.image_id(recipe);
    let out = env.jig(&["cache", "list", "--json"]);
    assert_ok(&out, "jig cache list");
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let tag = list
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["image"].as_str() == Some(id.trim()))
        .unwrap_or_else(|| panic!("{recipe} {id} in the cache: {list}"))["tag"]
        .as_str()
        .unwrap()
        .to_owned();
    reg.manifest(repo, &tag)["layers"]
        .as_array()
        .unwrap()
        .clone()
}

/// The blobs of the registry's storage.
fn registry_blobs(reg: &Registry) -> usize {
    let probe = reg.blob_data(&format!("sha256:{}", "0".repeat(64)));
    let root = probe.ancestors().nth(3).unwrap().to_owned();
    fs::read_dir(root)
        .map(|d| {
            d.map(|e| fs::read_dir(e.unwrap().path()).unwrap().count())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn debian_images_of_one_suite_share_their_base_layer_in_the_cache() {
    for who in Identity::all() {
        // A registry each: its storage counts one identity's blobs.
        let reg = Registry::start();
        let repo = format!("layers/{}", who.name);
        let cache = format!("{}/{repo}", reg.host());
        let first = home_with_cache(&who, &cache, true);
        first.write(&first.project().join("cjq.toml"), JQ_RECIPE);
        first.write(&first.project().join("cless.toml"), LESS_RECIPE);
        for r in ["./cjq.toml", "./cless.toml"] {
            let err = install(&first, &[r]);
            assert!(err.contains("on the debian:bookworm base"), "{r}: {err}");
            assert!(err.contains("pushed to the cache"), "{r}: {err}");
        }
        let jq = layers_of(&reg, &first, &repo, "cjq");
        let less = layers_of(&reg, &first, &repo, "cless");
        let l = first.label();
        assert_eq!((jq.len(), less.len()), (2, 2), "{l} two layers each");
        assert_eq!(jq[0]["digest"], less[0]["digest"], "{l} one base layer");
        assert_ne!(jq[1]["digest"], less[1]["digest"], "{l} two own layers");
        let base = jq[0]["annotations"]["dev.jig.base"].as_str().unwrap();
        // Packed once: the second push found the base's layer in the blob cache.
        let packed = first.jig_home().join("store/blobs/packed");
        let packed: Vec<_> = fs::read_dir(packed).unwrap().map(|e| e.unwrap()).collect();
        assert_eq!(packed.len(), 1, "{l} one packed base");
        assert_eq!(
            packed[0].file_name().to_str(),
            base.strip_prefix("sha256:"),
            "{l}"
        );
        let size = |v: &serde_json::Value| v["size"].as_u64().unwrap();
        assert!(
            size(&jq[1]) * 4 < size(&jq[0]),
            "{l} jq's own layer is small"
        );
        // The base layer, two own layers, two configs and the two manifests (which
        // the registry keeps as blobs too).
        assert_eq!(registry_blobs(&reg), 7, "{l} the base stored once");

        // Another home: the first image with its base, the second on that base.
        let second = home_with_cache(&who, &cache, false);
        second.write(&second.project().join("cjq.toml"), JQ_RECIPE);
        second.write(&second.project().join("cless.toml"), LESS_RECIPE);
        let err = install(&second, &["./cjq.toml"]);
        assert!(
            err.contains("from the cache") && !err.contains("bootstrapping"),
            "{err}"
        );
        // Without the blob cache's copy, a download of the base layer would show.
        let base_blob = jq[0]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:");
        let blob = second.jig_home().join("store/blobs/sha256").join(base_blob);
        fs::remove_file(&blob).unwrap();
        let err = install(&second, &["./cless.toml"]);
        assert!(err.contains("from the cache"), "{l} {err}");
        assert!(err.contains("is in the store; not downloaded"), "{l} {err}");
        assert!(!blob.exists(), "{l} the base layer was downloaded again");
        for r in ["cjq", "cless"] {
            let id = first.image_id(r);
            assert_eq!(second.image_id(r), id, "{l} {r}: the same image");
            assert_eq!(
                content_digest(&rootfs(&second, &id)),
                content_digest(&rootfs(&first, &id)),
                "{l} {r}: the same tree"
            );
        }
        assert_ok(&second.jig(&["verify"]), "jig verify");
        let ran = second.shim("jq", &["-n", "6 * 7"]);
        assert_eq!(stdout(&ran), "42\n", "{l} jq from the cache runs");
    }
}
