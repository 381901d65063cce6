//! Images that go out and come back: push then pull, an unprivileged user's pull, and the
//! lock pinning the manifest digest across homes.

use super::*;

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
