//! `gc` beside installs and first runs, and beside a running tool.

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::common::*;
use super::{recipe, rootfs_with};

/// The race of issue 14: a build's image was committed, then `gc` ran before the
/// install recorded it ("image ... of recipe 'm1' is missing from the store"). Each
/// recipe has an image of its own, so every install commits a new, unreferenced
/// image while `gc` loops.
#[test]
fn gc_looping_beside_fifty_installs_and_first_runs_removes_nothing_they_need() {
    for env in Env::all() {
        let l = env.label();
        let base = env.dir().join("roots");
        env.mkdir(&base);
        let recipes: Vec<_> = (0..50)
            .map(|i| {
                let name = format!("m{i}");
                let root = rootfs_with(&base.join(&name), &format!("marker {i}"), &[&name]);
                recipe(&env, &name, &root, "", &[&name], "")
            })
            .collect();
        let stop = AtomicBool::new(false);
        let collections = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let out = env.jig(&["gc"]);
                    assert_ok(&out, &format!("{l} gc"));
                    collections.fetch_add(1, Ordering::Relaxed);
                }
            });
            // Stops the gc loop however this thread leaves the scope (a failed
            // assertion too, which would otherwise wait for the loop forever).
            struct Stop<'a>(&'a AtomicBool);
            impl Drop for Stop<'_> {
                fn drop(&mut self) {
                    self.0.store(true, Ordering::Relaxed);
                }
            }
            let _stop = Stop(&stop);
            for (i, r) in recipes.iter().enumerate() {
                let name = format!("m{i}");
                let r = r.to_str().unwrap();
                if i % 2 == 0 {
                    assert_ok(&env.jig(&["install", r]), &format!("{l} install {name}"));
                    let out = env.shim(&name, &[]);
                    assert_ok(&out, &format!("{l} {name} after install"));
                    assert_eq!(stdout(&out), format!("marker {i}\n"), "{l}");
                } else {
                    // Installed on first use by `jig run`, then run in the same process.
                    let out = env.jig(&["run", r]);
                    assert_ok(&out, &format!("{l} jig run {name}"));
                    assert_eq!(stdout(&out), format!("marker {i}\n"), "{l}");
                }
            }
        });
        assert!(
            collections.load(Ordering::Relaxed) >= 5,
            "{l} gc ran too rarely to race"
        );
        // Everything installed is still there; nothing else is.
        let out = env.jig(&["verify"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out).lines().count(), 50, "{l} {}", stdout(&out));
    }
}

#[test]
fn an_image_a_running_tool_uses_survives_uninstall_and_gc() {
    for env in Env::all() {
        let l = env.label();
        env.install();
        let image = env.image_rootfs();
        let tool = env
            .shim_cmd(
                "sh",
                &[
                    "-c",
                    "sleep 2; cat /etc/motd /bin/busybox > /dev/null && cat /etc/motd",
                ],
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // Once the tool's overlay is mounted (its `sleep` is running).
        let started = poll(Duration::from_secs(10), || {
            // The tool has JIG_HOME in its environment (a launch passes it in).
            super::processes_of(&env, "")
                .iter()
                .any(|p| p.contains("sleep 2"))
                .then_some(())
        });
        assert!(started.is_some(), "{l} the tool did not start");
        assert_ok(&env.jig(&["uninstall", "bb"]), &l);
        let out = env.jig(&["gc"]);
        assert_ok(&out, &l);
        assert!(
            stderr(&out).contains("a running tool") && stderr(&out).contains("uses it"),
            "{l} {}",
            stderr(&out)
        );
        assert!(
            image.join("bin/busybox").is_file(),
            "{l} the image was removed"
        );
        let out = tool.wait_with_output().unwrap();
        assert_ok(&out, &format!("{l} the tool"));
        assert_eq!(stdout(&out), "image motd\n", "{l}");
        // The control: once the tool is gone, the unused image goes.
        let out = env.jig(&["gc"]);
        assert!(
            stderr(&out).contains("removed 1 unused image"),
            "{l} {}",
            stderr(&out)
        );
        assert!(!image.exists(), "{l}");
    }
}
