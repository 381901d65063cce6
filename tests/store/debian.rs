//! A Debian build killed while jig extracts the Essential packages and while dpkg
//! runs: nothing it started keeps running, and the next install builds the suite's
//! base and the recipe on top; a second recipe reuses the base; dpkg on a full disk
//! names the place, the need and its own first error.

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use super::common::*;
use super::{assert_no_process_left, build_sessions, store, tmp_entries};

/// Starts `jig install RECIPE`, waits for a stderr line containing `when`, then for
/// `delay`, and kills jig (SIGKILL, jig alone); then checks that nothing it started
/// is left.
fn kill_when(env: &Env, recipe: &str, when: &str, delay: Duration) {
    let l = env.label();
    let mut child = env
        .jig_cmd(&["install", recipe])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(err).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(when) {
            break;
        }
    }
    assert!(seen.contains(when), "{l} never saw {when:?}: {seen}");
    std::thread::sleep(delay);
    let led = build_sessions(env);
    child.kill().unwrap();
    let _ = child.wait();
    assert_no_process_left(env, "", &led, &format!("killed after {when:?}"));
}

/// Disk use of a tree in bytes (`du -sB1`).
fn du(path: &std::path::Path) -> u64 {
    let out = run({
        let mut c = std::process::Command::new("du");
        c.arg("-sB1").arg(path);
        c
    });
    stdout(&out)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn a_debian_build_killed_mid_extraction_and_mid_dpkg_leaves_nothing_then_builds_on_a_cached_base() {
    let mut ids = Vec::new();
    for env in Env::all() {
        let l = env.label();
        kill_when(
            &env,
            "jq",
            "bootstrapping debian:trixie",
            Duration::from_millis(300),
        );
        kill_when(&env, "jq", "essential packages", Duration::from_millis(500));
        let out = env.jig(&["install", "jq"]);
        assert_ok(&out, &format!("{l} install jq after the kills"));
        let err = stderr(&out);
        assert!(
            err.contains("packages on the debian:trixie base"),
            "{l} {err}"
        );
        assert_eq!(tmp_entries(&env), Vec::<String>::new(), "{l} store/tmp");
        let out = env.shim("jq", &["-n", "1+1"]);
        assert_eq!(stdout(&out), "2\n", "{l} {}", stderr(&out));
        ids.push(env.image_id("jq"));

        // A second recipe: the base is there, no bootstrap.
        let base = err
            .lines()
            // (dpkg's own lines name packages such as `ncurses-base (6.4-4)`.)
            .find_map(|x| x.split("packages on the debian:trixie base (").nth(1))
            .map(|x| x.trim_end_matches(')').to_owned())
            .expect("the base's id");
        let root = nix::unistd::getuid().is_root();
        if root {
            // Where images are made, room for a copy of the base and little more: dpkg
            // fails, and says so first.
            let base_dir = fs::read_dir(store(&env).join("images"))
                .unwrap()
                .flatten()
                .find(|e| e.file_name().to_string_lossy().starts_with(&base))
                .unwrap()
                .path();
            let size = du(&base_dir.join("rootfs")) + (512 << 10);
            let tmp = store(&env).join("tmp");
            let mount = run({
                let mut c = std::process::Command::new("mount");
                c.args(["-t", "tmpfs", "-o"])
                    .arg(format!(
                        "size={size},uid={},gid={},mode=0755",
                        env.who.uid, env.who.gid
                    ))
                    .arg("tmpfs")
                    .arg(&tmp);
                c
            });
            assert_ok(&mount, "mount");
            let out = env.jig(&["install", "make"]);
            let _ = std::process::Command::new("umount").arg(&tmp).status();
            env.own(&tmp);
            assert_code(&out, 1, &format!("{l} make on a full disk"));
            let err = stderr(&out);
            assert!(
                err.contains(&format!(
                    "no space left on the file system holding {}",
                    tmp.display()
                )),
                "{l} {err}"
            );
            assert!(err.contains("needs about"), "{l} {err}");
            assert!(err.contains("first error: "), "{l} {err}");
            assert!(err.contains("dpkg: error"), "{l} {err}");
            assert!(err.contains("hint: free space there"), "{l} {err}");
        }
        let out = env.jig(&["install", "make"]);
        assert_ok(&out, &format!("{l} install make"));
        let err = stderr(&out);
        assert!(
            !err.contains("bootstrapping"),
            "{l} the base was built again: {err}"
        );
        assert!(err.contains(&format!("base ({base})")), "{l} {err}");
        assert_ok(&env.shim("make", &["--version"]), &l);
        // One image rehashed (a debug build's sha256 is slow).
        assert_ok(&env.jig(&["verify", "make"]), &l);
    }
    assert!(
        ids.windows(2).all(|w| w[0] == w[1]),
        "independent builds differ: {ids:?}"
    );
}
