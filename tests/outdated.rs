//! `jig outdated` and `jig upgrade` seeing a source move under an unchanged recipe: a
//! registry tag that names another image now (a loopback `docker-registry`), Debian
//! packages the mirror's current index resolves differently from what an image
//! records (the real Debian mirror), and a source that cannot be asked.

mod common;

use std::fs;

use common::registry::{Comp, Layer, Registry};
use common::tar::Tar;
use common::{Env, assert_ok, stderr, stdout};

fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.jig(args);
    assert_ok(&out, &format!("{} jig {args:?}", env.label()));
    stdout(&out)
}

/// A busybox image whose `/etc/which` says `marker`.
fn image(marker: &str) -> Vec<Layer> {
    vec![Layer::new(
        Tar::busybox().file("etc/which", marker.as_bytes()).finish(),
        Comp::Gzip,
    )]
}

/// A recipe file for `oci:FROM` exporting `shim`.
fn recipe(env: &Env, name: &str, from: &str, shim: &str) -> String {
    let path = env.dir().join(format!("{name}.toml"));
    env.write(
        &path,
        format!(
            "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"oci:{from}\"\n[tool]\nshims = [\"{shim}\"]\n"
        ),
    );
    path.to_str().unwrap().to_owned()
}

#[test]
fn a_moved_registry_tag_is_listed_and_upgraded() {
    let reg = Registry::start();
    for env in Env::all() {
        let l = env.label();
        let repo = format!("tool-{}", env.who.name);
        let reference = format!("{}/{repo}:1", reg.host());
        reg.push_simple(&repo, "1", &image("first\n"));
        ok(&env, &["install", &recipe(&env, "tool", &reference, "sh")]);
        let old = env.image_id("tool");
        // Asked, and the tag still names the installed image.
        assert_eq!(ok(&env, &["outdated"]), "", "{l} fresh install");

        // A project locks the first image.
        let project = env.project();
        env.write(&project.join("jig.toml"), "[tools]\ntool = \"1\"\n");
        let lock = project.join("jig.lock");
        ok(&env, &["lock"]);
        let locked = fs::read_to_string(&lock).unwrap();

        let second = reg.push_simple(&repo, "1", &image("second\n"));
        assert_eq!(
            ok(&env, &["outdated"]),
            format!("tool\t1\t1\timage: {reference} now {second}\n"),
            "{l}"
        );
        assert_eq!(ok(&env, &["outdated", "--offline"]), "", "{l} offline");
        let json: serde_json::Value =
            serde_json::from_str(&ok(&env, &["outdated", "--json"])).unwrap();
        assert_eq!(json[0]["image"]["digest"], second, "{l} {json}");

        // The locked project keeps it: only `jig lock --upgrade` moves a lock.
        let out = env.jig(&["upgrade"]);
        assert_ok(&out, &format!("{l} locked upgrade"));
        assert!(
            stderr(&out).contains("tool 1 stays at its jig.lock entry"),
            "{l} {}",
            stderr(&out)
        );
        assert_eq!(env.image_id("tool"), old, "{l} the lock holds");
        assert_eq!(fs::read_to_string(&lock).unwrap(), locked, "{l}");
        fs::remove_file(project.join("jig.toml")).unwrap();
        fs::remove_file(&lock).unwrap();

        let out = env.jig(&["upgrade"]);
        assert_ok(&out, &format!("{l} upgrade"));
        assert!(stderr(&out).contains("upgraded tool 1 -> 1"), "{l}");
        assert_eq!(stdout(&env.sh("cat /etc/which")), "second\n", "{l}");
        let new = env.image_id("tool");
        assert_ne!(new, old, "{l} a new image");
        let images = env.jig_home().join("store/images");
        let hex = |id: &str| id.trim_start_matches("sha256:").to_owned();
        assert!(images.join(hex(&old)).exists(), "{l} old image kept");
        assert_eq!(ok(&env, &["outdated"]), "", "{l} after the upgrade");
        ok(&env, &["gc"]);
        assert!(!images.join(hex(&old)).exists(), "{l} gc removes it");
        assert!(images.join(hex(&new)).exists(), "{l} gc keeps the new one");
    }
}

#[test]
fn an_unreachable_registry_is_one_note_not_a_failure() {
    let reg = Registry::start();
    for env in Env::all() {
        let l = env.label();
        let up = format!("{}/up-{}:1", reg.host(), env.who.name);
        reg.push_simple(&format!("up-{}", env.who.name), "1", &image("up\n"));
        ok(&env, &["install", &recipe(&env, "up", &up, "sh")]);
        // A registry that is gone after the install.
        let gone = Registry::start();
        let down = format!("{}/down:1", gone.host());
        gone.push_simple("down", "1", &image("down\n"));
        ok(&env, &["install", &recipe(&env, "down", &down, "cat")]);
        drop(gone);

        let out = env.jig(&["outdated"]);
        assert_ok(&out, &format!("{l} outdated"));
        assert_eq!(stdout(&out), "", "{l} the reachable one is up to date");
        let err = stderr(&out);
        let notes: Vec<&str> = err.lines().filter(|l| l.contains("jig: warning")).collect();
        assert_eq!(notes.len(), 1, "{l} one note: {err}");
        assert!(
            notes[0].starts_with("jig: warning: down 1: could not check its image source"),
            "{l} {err}"
        );
        // Positive control: the tag that moved is still seen beside the note.
        let moved = reg.push_simple(&format!("up-{}", env.who.name), "1", &image("up2\n"));
        let out = env.jig(&["outdated"]);
        assert_ok(&out, &format!("{l} outdated"));
        assert_eq!(
            stdout(&out),
            format!("up\t1\t1\timage: {up} now {moved}\n"),
            "{l}"
        );
        // Offline asks nobody, so there is nothing to note.
        let out = env.jig(&["outdated", "--offline"]);
        assert_ok(&out, &format!("{l} offline"));
        assert_eq!(
            stderr(&out),
            "jig: every installed tool is up to date\n",
            "{l}"
        );
    }
}

/// Newer Debian packages in the mirror's index than an image records. A real Debian
/// image only falls behind when Debian publishes a point release, and bootstrapping
/// one costs 10-60 s per identity; so the fixture's image is installed and what jig
/// recorded about it is rewritten as a `debian:bookworm` install whose `apt` is an
/// old version: the installed entry's `[image]` names the suite, the image's
/// metadata its package set. The check itself runs for real, against the real
/// mirror's signed index.
#[test]
fn debian_packages_behind_the_index_are_listed() {
    for env in Env::all() {
        let l = env.label();
        env.install();
        assert_eq!(
            ok(&env, &["outdated"]),
            "",
            "{l} a rootfs image is not asked"
        );
        let index_path = env.jig_home().join("installed.json");
        let mut index: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&index_path).unwrap()).unwrap();
        let entry = &mut index["tools"]["bb"]["versions"]
            .as_object_mut()
            .unwrap()
            .values_mut()
            .next()
            .unwrap();
        entry["recipe"]["image"]["from"] = "debian:bookworm".into();
        let id = entry["image"].as_str().unwrap().to_owned();
        env.write(&index_path, serde_json::to_vec(&index).unwrap());
        let meta = env
            .jig_home()
            .join("store/images")
            .join(id.trim_start_matches("sha256:"))
            .join("image.toml");
        let mut text = fs::read_to_string(&meta).unwrap();
        text.push_str("\n[[packages]]\nname = \"apt\"\nversion = \"0.0-old\"\nsha256 = \"00\"\n");
        fs::write(&meta, text).unwrap();

        let out = ok(&env, &["outdated"]);
        assert!(
            out.starts_with("bb\t") && out.contains("\tpackages: "),
            "{l} {out}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&ok(&env, &["outdated", "--json"])).unwrap();
        let packages = json[0]["packages"].as_array().unwrap();
        assert!(
            packages
                .iter()
                .any(|p| p.as_str().unwrap().starts_with("apt 0.0-old -> ")),
            "{l} {json}"
        );
        // Everything else the index resolves is new to this record.
        assert!(
            packages
                .iter()
                .any(|p| p.as_str().unwrap().starts_with("dpkg ")),
            "{l} {json}"
        );
        assert_eq!(ok(&env, &["outdated", "--offline"]), "", "{l} offline");
    }
}
