//! Faults: `kill -9` at twenty points of an install (with build steps) and of a
//! nine-layer pull; SIGINT, SIGTERM and SIGHUP in the middle of both; sixteen
//! concurrent first uses of one pinned version; a full disk.

use std::fs;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::common::registry::{Comp, Layer, Registry};
use super::common::tar::{Tar, noise};
use super::common::*;
use super::{
    assert_no_process_left, build_sessions, mark, recipe, rootfs_with, store, tmp_entries,
};

/// A recipe whose install imports a root, runs two build steps (each writing 24 MiB
/// and sleeping, in a shell whose command line carries `mark`) and commits three
/// images: a second or two of work to interrupt anywhere.
fn slow_recipe(env: &Env, mark: &str) -> std::path::PathBuf {
    let root = rootfs_with(&env.dir().join("slow-root"), "slow", &["slow"]);
    let image = format!(
        "run = [\"dd if=/dev/zero of=/big bs=1M count=24 2>/dev/null; sh -c 'sleep 0.3; :' {mark}\", \"cat /big > /big2; sh -c 'sleep 0.3; :' {mark}\"]"
    );
    recipe(env, "slow", &root, &image, &["slow"], "")
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    env.jig_cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn signal(child: &Child, sig: libc::c_int) {
    // SAFETY: a signal to a child we started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

#[test]
fn kill_9_at_twenty_points_of_an_install_leaves_no_process_and_the_next_install_cleans_up() {
    for env in Env::all() {
        let l = env.label();
        let m = mark("install");
        let r = slow_recipe(&env, &m);
        let r = r.to_str().unwrap();
        for i in 0..20 {
            let mut child = spawn(&env, &["install", r]);
            std::thread::sleep(Duration::from_millis(100 * i));
            let led = build_sessions(&env);
            let _ = child.kill();
            let _ = child.wait();
            assert_no_process_left(&env, &m, &led, &format!("after a kill at {} ms", 100 * i));
            if env.jig_home().join("shims/slow").exists() {
                // The install had finished: start again from nothing installed.
                assert_ok(&env.jig(&["uninstall", "slow"]), &l);
            }
        }
        let out = env.jig(&["install", r]);
        assert_ok(&out, &format!("{l} the install after the kills"));
        assert_eq!(tmp_entries(&env), Vec::<String>::new(), "{l} store/tmp");
        let out = env.shim("slow", &[]);
        assert_eq!(stdout(&out), "slow\n", "{l}");
        assert_ok(&env.jig(&["verify"]), &l);
    }
}

/// A nine-layer image of 4 MiB of noise per layer, on a local registry.
fn nine_layers(reg: &Registry) -> String {
    let mut layers = vec![Layer::new(Tar::busybox().finish(), Comp::Gzip)];
    for i in 1..9 {
        let tar = Tar::new()
            .file(&format!("layer{i}"), &noise(4 << 20, i))
            .finish();
        layers.push(Layer::new(tar, Comp::Gzip));
    }
    reg.push_simple("nine", "1", &layers);
    format!("{}/nine:1", reg.host())
}

#[test]
fn kill_9_at_twenty_points_of_a_pull_then_a_plain_pull_leaves_store_tmp_empty() {
    let reg = Registry::start();
    let reference = nine_layers(&reg);
    for env in Env::all() {
        let l = env.label();
        for i in 0..20 {
            let mut child = spawn(&env, &["pull", &reference]);
            std::thread::sleep(Duration::from_millis(60 * i));
            let _ = child.kill();
            let _ = child.wait();
            assert_no_process_left(&env, "", &[], &format!("after a kill at {} ms", 60 * i));
            // A pull that got through is removed, so the next one works again.
            assert_ok(&env.jig(&["gc"]), &l);
        }
        let out = env.jig(&["pull", &reference]);
        assert_ok(&out, &format!("{l} the pull after the kills"));
        assert_eq!(tmp_entries(&env), Vec::<String>::new(), "{l} store/tmp");
        let id = stdout(&out).trim().to_owned();
        let out = env.jig(&["verify", &id]);
        assert_ok(&out, &l);
    }
}

#[test]
fn sigint_sigterm_and_sighup_stop_an_install_and_a_pull_cleanly_with_128_plus_the_signal() {
    let reg = Registry::start();
    let reference = nine_layers(&reg);
    for env in Env::all() {
        let l = env.label();
        let m = mark("signal");
        let r = slow_recipe(&env, &m);
        let r = r.to_str().unwrap();
        for (sig, code) in [
            (libc::SIGINT, 130),
            (libc::SIGTERM, 143),
            (libc::SIGHUP, 129),
        ] {
            let child = env
                .jig_cmd(&["install", r])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // In the middle of a build step: its shell runs.
            let running = poll(Duration::from_secs(20), || {
                super::processes_of(&env, &m)
                    .iter()
                    .any(|p| p.contains(&m))
                    .then_some(())
            });
            assert!(running.is_some(), "{l} the step never ran");
            signal(&child, sig);
            let started = Instant::now();
            let out = child.wait_with_output().unwrap();
            assert_code(&out, code, &format!("{l} install stopped by signal {sig}"));
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{l} slow to stop"
            );
            assert!(stderr(&out).contains("interrupted"), "{l} {}", stderr(&out));
            assert_eq!(
                tmp_entries(&env),
                Vec::<String>::new(),
                "{l} store/tmp after {sig}"
            );
            assert_no_process_left(&env, &m, &[], &format!("after signal {sig}"));
            assert!(
                !env.jig_home().join("shims/slow").exists(),
                "{l} installed anyway"
            );

            // A pull, stopped while it downloads a layer.
            let child = env
                .jig_cmd(&["pull", &reference])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let tmp = store(&env).join("tmp");
            let downloading = poll(Duration::from_secs(20), || {
                fs::read_dir(&tmp)
                    .ok()?
                    .flatten()
                    .any(|e| e.file_name().to_string_lossy().starts_with("blob-"))
                    .then_some(())
            });
            signal(&child, sig);
            let out = child.wait_with_output().unwrap();
            if downloading.is_some() && !out.status.success() {
                assert_code(&out, code, &format!("{l} pull stopped by signal {sig}"));
            }
            assert_eq!(
                tmp_entries(&env),
                Vec::<String>::new(),
                "{l} store/tmp after pull"
            );
            assert_ok(&env.jig(&["gc"]), &l);
        }
        // The control: undisturbed, the same install works.
        assert_ok(&env.jig(&["install", r]), &l);
    }
}

#[test]
fn sixteen_concurrent_first_uses_of_a_pinned_version_make_one_build() {
    for env in Env::all() {
        let l = env.label();
        let root = rootfs_with(&env.dir().join("sf-root"), "sf", &[]);
        let r = recipe(
            &env,
            "sf",
            &root,
            "run = [\"echo v1 > /built\"]",
            &["cat"],
            "[versions.\"2\".image]\nrun = [\"sleep 1; echo v2 > /built\"]\n",
        );
        assert_ok(&env.jig(&["install", r.to_str().unwrap()]), &l);
        env.write(&env.project().join("jig.toml"), "[tools]\nsf = \"2\"\n");
        let children: Vec<Child> = (0..16)
            .map(|_| {
                env.shim_cmd("cat", &["/built"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let mut builds = 0;
        let mut waited = 0;
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert_ok(&out, &format!("{l} a first use"));
            assert_eq!(stdout(&out), "v2\n", "{l}");
            let err = stderr(&out);
            // `running step 1 of 1:` when it builds (the approval prompt lists steps too).
            builds += err.matches("running step 1 of 1: sleep 1").count();
            waited += err.matches("jig: waiting for another jig").count();
        }
        assert_eq!(builds, 1, "{l} builds of version 2");
        assert!(waited >= 1, "{l} nobody said it waited");
    }
}

/// A tmpfs of `size` on `dir` (as root), unmounted on drop.
struct Small(std::path::PathBuf);

impl Small {
    fn mount(dir: &std::path::Path, size: &str, env: &Env) -> Small {
        let _ = fs::create_dir_all(dir);
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!(
                "size={size},uid={},gid={},mode=0755",
                env.who.uid, env.who.gid
            ))
            .arg("tmpfs")
            .arg(dir)
            .output()
            .unwrap();
        assert_ok(&out, "mount a small tmpfs");
        Small(dir.to_owned())
    }
}

impl Drop for Small {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_names_what_was_written_where() {
    if !nix::unistd::getuid().is_root() {
        eprintln!("skipped: mounting a small file system needs root");
        return;
    }
    for env in Env::all() {
        let l = env.label();
        // A root with a 12 MiB file, made where images are made: a 4 MiB tmpfs.
        let root = rootfs_with(&env.dir().join("big-root"), "big", &[]);
        fs::write(root.join("big"), noise(12 << 20, 3)).unwrap();
        let r = recipe(&env, "big", &root, "", &["cat"], "");
        fs::create_dir_all(store(&env)).unwrap();
        env.own(&env.jig_home());
        env.own(&store(&env));
        let tmp = store(&env).join("tmp");
        let small = Small::mount(&tmp, "4m", &env);
        let out = env.jig(&["install", r.to_str().unwrap()]);
        assert_code(&out, 1, &l);
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "no space left on the file system holding {}",
                tmp.display()
            )),
            "{l} {err}"
        );
        assert!(err.contains("the image of big 1"), "{l} {err}");
        assert!(err.contains("are free there"), "{l} {err}");
        assert!(
            err.contains("No space left on device"),
            "{l} the cause: {err}"
        );
        assert!(err.contains("/big"), "{l} the file: {err}");
        assert!(err.contains("hint: free space there"), "{l} {err}");
        drop(small);
        // The mountpoint, made by root, is the store's tmp/ again.
        env.own(&tmp);
        // With room, the same install works.
        assert_ok(&env.jig(&["install", r.to_str().unwrap()]), &l);
    }
}
