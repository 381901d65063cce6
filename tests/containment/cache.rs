//! A hostile image cache: whoever can write to the cache registry rewrites what a
//! key's tag names. A manifest whose layers are another tree under the same
//! annotations, another key's image moved under this key's tag, and metadata naming
//! other sources are each refused, with nothing installed and nothing rebuilt
//! quietly; the untampered tag (the positive control) installs and runs. A first
//! layer said to be another local image than it is makes no other tree than the key's
//! image either: the same two layers with the true base install.

use serde_json::Value;

use super::*;
use crate::common::registry::{Comp, Layer, OCI_MANIFEST, Registry};
use crate::common::tar::Tar;

fn recipe(text: &str) -> String {
    format!(
        "name = \"hc\"\nversion = \"1\"\n[image]\nfrom = \"busybox:/bin/busybox\"\nrun = [\"echo {text} > /said\"]\n[tool]\nshims = [\"sh\"]\n"
    )
}

fn home(who: &Identity, cache: &str, push: bool, said: &str) -> Env {
    let env = Env::new(who.clone());
    env.mkdir(&env.jig_home());
    env.write(
        &env.jig_home().join("config.toml"),
        format!("[cache]\nregistry = \"{cache}\"\npush = {push}\n"),
    );
    env.write(&env.project().join("hc.toml"), recipe(said));
    env
}

/// The cache's one jig tag of the image the recipe saying `said` built.
fn tag_of(env: &Env) -> String {
    let out = env.jig(&["cache", "list", "--json"]);
    assert_ok(&out, "jig cache list");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap()[0]["tag"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Installs `hc.toml` in a fresh home: its stderr, and whether it succeeded.
fn try_install(who: &Identity, cache: &str, said: &str) -> (bool, String, Env) {
    let env = home(who, cache, false, said);
    let out = env.jig(&["install", "./hc.toml"]);
    (out.status.success(), stderr(&out), env)
}

fn refused(who: &Identity, cache: &str, what: &str, want: &str) {
    let (ok, err, env) = try_install(who, cache, "honest");
    assert!(!ok, "{} {what}: installed: {err}", env.label());
    assert!(err.contains(want), "{} {what}: {err}", env.label());
    assert!(
        !err.contains("running step"),
        "{} {what}: rebuilt quietly: {err}",
        env.label()
    );
    assert!(!env.shim_path("sh").exists(), "{} {what}", env.label());
}

#[test]
fn a_tampered_cache_cannot_make_jig_install_another_image_than_the_key_names() {
    for who in Identity::all() {
        let reg = Registry::start();
        let repo = "hostile";
        let cache = format!("{}/{repo}", reg.host());
        // Two honest images: the one under attack and another recipe's.
        let honest = home(&who, &cache, true, "honest");
        assert_ok(&honest.jig(&["install", "./hc.toml"]), "honest push");
        let tag = tag_of(&honest);
        let good: Value = reg.manifest(repo, &tag);
        let other_reg = Registry::start();
        let other_cache = format!("{}/{repo}", other_reg.host());
        let other = home(&who, &other_cache, true, "other");
        assert_ok(&other.jig(&["install", "./hc.toml"]), "other push");
        let other_manifest: Value = other_reg.manifest(repo, &tag_of(&other));

        // The positive control: the untampered tag installs from the cache and runs.
        let (ok, err, env) = try_install(&who, &cache, "honest");
        assert!(
            ok && err.contains("from the cache"),
            "{} control: {err}",
            env.label()
        );
        let ran = env.shim("sh", &["-c", "cat /said"]);
        assert_eq!(stdout(&ran), "honest\n", "{}", env.label());

        let put = |m: &Value| {
            reg.put_manifest(repo, &tag, OCI_MANIFEST, &serde_json::to_vec(m).unwrap());
        };

        // 1. Another tree under the same annotations (key, image id, metadata).
        let evil = Layer::new(Tar::busybox().file("said", b"evil\n").finish(), Comp::Gzip);
        let (bytes, _) = reg.upload_image(repo, &[evil], "amd64");
        let mut swapped: Value = serde_json::from_slice(&bytes).unwrap();
        swapped["annotations"] = good["annotations"].clone();
        put(&swapped);
        refused(&who, &cache, "swapped layers", "unpack to");

        // 2. Another key's image (its own annotations) moved under this key's tag: the
        // blobs it names are uploaded here too.
        for layer in other_manifest["layers"].as_array().unwrap() {
            let d = layer["digest"].as_str().unwrap();
            reg.upload_blob(repo, &other_reg.blob(repo, d));
        }
        let c = other_manifest["config"]["digest"].as_str().unwrap();
        reg.upload_blob(repo, &other_reg.blob(repo, c));
        put(&other_manifest);
        refused(&who, &cache, "another key's image", "is the image of key");

        // 3. Metadata naming another source digest.
        let mut meta: Value =
            serde_json::from_str(good["annotations"]["dev.jig.meta"].as_str().unwrap()).unwrap();
        meta["source_digest"] = Value::from(format!("sha256:{}", "0".repeat(64)));
        let mut lied = good.clone();
        lied["annotations"]["dev.jig.meta"] = Value::from(meta.to_string());
        put(&lied);
        refused(&who, &cache, "other sources", "other sources than the key");

        // 4. No key at all.
        let mut bare = good.clone();
        bare["annotations"]
            .as_object_mut()
            .unwrap()
            .remove("dev.jig.cache.key");
        put(&bare);
        refused(&who, &cache, "no key", "names no key");

        // Put back, the same tag installs again: the refusals were the tampering's.
        put(&good);
        let (ok, err, _) = try_install(&who, &cache, "honest");
        assert!(ok, "restored: {err}");
    }
}

/// The manifest `good` (one layer, the image `id`) made of two layers: that layer,
/// annotated as the base image `base`, and an empty one.
fn on_base(reg: &Registry, repo: &str, good: &Value, base: &str) -> Value {
    let empty = Layer::new(Tar::new().finish(), Comp::Gzip);
    let empty_digest = reg.upload_blob(repo, &empty.blob);
    let config_digest = good["config"]["digest"].as_str().unwrap();
    let mut config: Value = serde_json::from_slice(&reg.blob(repo, config_digest)).unwrap();
    config["rootfs"]["diff_ids"]
        .as_array_mut()
        .unwrap()
        .push(Value::from(empty.diff_id.clone()));
    let config = serde_json::to_vec(&config).unwrap();
    let mut m = good.clone();
    m["config"]["digest"] = Value::from(reg.upload_blob(repo, &config));
    m["config"]["size"] = Value::from(config.len());
    let a = &good["annotations"];
    m["layers"][0]["annotations"] = serde_json::json!({
        "dev.jig.base": base,
        "dev.jig.base.meta": a["dev.jig.meta"],
        "dev.jig.base.modes": a["dev.jig.modes"],
    });
    m["layers"].as_array_mut().unwrap().push(serde_json::json!({
        "mediaType": empty.media_type, "digest": empty_digest, "size": empty.blob.len(),
    }));
    m
}

#[test]
fn a_first_layer_said_to_be_another_local_image_installs_nothing() {
    for who in Identity::all() {
        let reg = Registry::start();
        let repo = "based";
        let cache = format!("{}/{repo}", reg.host());
        let honest = home(&who, &cache, true, "honest");
        assert_ok(&honest.jig(&["install", "./hc.toml"]), "honest push");
        let tag = tag_of(&honest);
        let good: Value = reg.manifest(repo, &tag);
        let id = good["annotations"]["dev.jig.image"]
            .as_str()
            .unwrap()
            .to_owned();
        // A home with another image of its own: a miss in this cache, so built here.
        let env = home(&who, &format!("{cache}-none"), false, "other");
        assert_ok(&env.jig(&["install", "./hc.toml"]), "the other image");
        let other = env.image_id("hc");
        assert_ne!(other.trim(), id);
        env.write(
            &env.jig_home().join("config.toml"),
            format!("[cache]\nregistry = \"{cache}\"\n"),
        );
        env.write(&env.project().join("hc.toml"), recipe("honest"));
        let put = |m: &Value| {
            reg.put_manifest(repo, &tag, OCI_MANIFEST, &serde_json::to_vec(m).unwrap());
        };

        // The first layer said to be the other local image: a copy of it plus the
        // second layer is not the image the key names.
        put(&on_base(&reg, repo, &good, other.trim()));
        let out = env.jig(&["install", "./hc.toml"]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{} installed: {err}", env.label());
        assert!(err.contains("unpack to"), "{} {err}", env.label());
        assert!(
            !err.contains("running step"),
            "{} rebuilt: {err}",
            env.label()
        );
        let ran = env.shim("sh", &["-c", "cat /said"]);
        assert_eq!(
            stdout(&ran),
            "other\n",
            "{} the old image stays",
            env.label()
        );

        // The control: the same two layers, the first said to be what it is.
        put(&on_base(&reg, repo, &good, &id));
        let out = env.jig(&["install", "./hc.toml"]);
        let err = stderr(&out);
        assert!(
            out.status.success() && err.contains("from the cache"),
            "{} control: {err}",
            env.label()
        );
        assert_eq!(env.image_id("hc").trim(), id, "{}", env.label());
        let ran = env.shim("sh", &["-c", "cat /said"]);
        assert_eq!(stdout(&ran), "honest\n", "{}", env.label());
        assert_ok(&env.jig(&["verify"]), "jig verify");
    }
}
