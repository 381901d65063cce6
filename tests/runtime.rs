//! What a tool sees and leaves behind when it runs through a jig shim: identity, files,
//! home mounts, environment, exit statuses, signals, pipes, the ephemeral root and
//! concurrency. Every test runs once per identity (see `common`).

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::time::Instant;

use common::*;

#[test]
fn identity_inside_is_the_callers() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.sh("id -u; id -g; id -un; echo \"$HOME\"");
        assert_ok(&out, &l);
        let expected = format!(
            "{}\n{}\n{}\n{}\n",
            env.who.uid,
            env.who.gid,
            env.who.name,
            env.home().display()
        );
        assert_eq!(stdout(&out), expected, "{l}");

        // The id shim on its own agrees.
        let out = env.shim("id", &["-un"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out).trim(), env.who.name, "{l}");
    }
}

#[test]
fn cwd_is_the_project_and_files_created_there_belong_to_the_user() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.sh("pwd; echo hello > made-inside; touch made-by-touch");
        assert_ok(&out, &l);
        assert_eq!(stdout(&out).trim(), env.project().to_str().unwrap(), "{l}");
        for name in ["made-inside", "made-by-touch"] {
            let p = env.project().join(name);
            let m = fs::metadata(&p).unwrap_or_else(|e| panic!("{l} {}: {e}", p.display()));
            assert_eq!((m.uid(), m.gid()), (env.who.uid, env.who.gid), "{l} {name}");
        }
        assert_eq!(
            fs::read_to_string(env.project().join("made-inside")).unwrap(),
            "hello\n",
            "{l}"
        );
    }
}

#[test]
fn home_config_is_visible_and_read_only() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let rc = env.home().join(".bbrc");
        env.write(&rc, "setting=1\n");
        let out = env.sh("cat ~/.bbrc");
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "setting=1\n", "{l}");

        let out = env.sh("echo changed > ~/.bbrc");
        assert!(
            !out.status.success(),
            "{l} write to a `home` path succeeded"
        );
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{l} {}",
            stderr(&out)
        );
        let out = env.sh("echo more >> ~/.bbrc");
        assert!(
            !out.status.success(),
            "{l} append to a `home` path succeeded"
        );
        assert_eq!(fs::read_to_string(&rc).unwrap(), "setting=1\n", "{l}");
    }
}

#[test]
fn home_rw_directory_is_writable_and_persists() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let cache = env.home().join(".bbcache");
        env.mkdir(&cache);
        env.write(&cache.join("old"), "old\n");
        let out = env.sh("cat ~/.bbcache/old && echo new > ~/.bbcache/new && rm ~/.bbcache/old");
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "old\n", "{l}");
        let new = cache.join("new");
        assert_eq!(fs::read_to_string(&new).unwrap(), "new\n", "{l}");
        let m = fs::metadata(&new).unwrap();
        assert_eq!((m.uid(), m.gid()), (env.who.uid, env.who.gid), "{l}");
        assert!(!cache.join("old").exists(), "{l} rm inside did not persist");
    }
}

#[test]
fn missing_home_paths_are_not_created_on_the_host() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.sh("test -e ~/.bbrc; echo rc=$?; test -e ~/.bbcache; echo rc=$?");
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "rc=1\nrc=1\n", "{l}");
        for p in [".bbrc", ".bbcache"] {
            let path = env.home().join(p);
            assert!(
                fs::symlink_metadata(&path).is_err(),
                "{l} {} was created on the host",
                path.display()
            );
        }
        let left: Vec<_> = fs::read_dir(env.home()).unwrap().collect();
        assert!(left.is_empty(), "{l} home gained entries: {left:?}");
    }
}

#[test]
fn environment_is_filtered_and_path_is_the_images() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let mut c = env.shim_cmd("env", &[]);
        c.env("BB_X", "passed")
            .env("SECRET_TOKEN", "hunter2")
            .env("PATH", "/usr/bin:/bin:/host-only-dir");
        let out = run(c);
        assert_ok(&out, &l);
        let text = stdout(&out);
        let vars: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('=')).collect();
        let get = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        assert_eq!(get("BB_X"), Some("passed"), "{l} {text}");
        assert_eq!(get("BB_MODE"), Some("test"), "{l} {text}");
        assert_eq!(get("SECRET_TOKEN"), None, "{l} {text}");
        assert!(!text.contains("hunter2"), "{l} {text}");
        // The image's PATH, then jig's shims (for tools that call other tools).
        let path = format!("{IMAGE_PATH}:{}", env.shims().display());
        assert_eq!(get("PATH"), Some(path.as_str()), "{l} {text}");
        assert_eq!(get("HOME"), env.home().to_str(), "{l} {text}");
        assert_eq!(get("USER"), Some(env.who.name.as_str()), "{l} {text}");
    }
}

#[test]
fn exit_status_of_the_tool_is_returned() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        assert_code(&env.sh("exit 42"), 42, &l);
        assert_code(&env.sh("exit 0"), 0, &l);
        assert_code(&env.shim("cat", &["/no/such/file"]), 1, &l);
    }
}

#[test]
fn command_missing_in_the_image_is_127_with_one_line() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.jig(&["exec", "bb", "--", "nosuchcmd"]);
        assert_code(&out, 127, &l);
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{l} {err}");
        assert!(err.contains("nosuchcmd"), "{l} {err}");
        assert!(stdout(&out).is_empty(), "{l}");
    }
}

#[test]
fn non_executable_file_is_126() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.jig(&["exec", "bb", "--", "/etc/passwd"]);
        assert_code(&out, 126, &l);
        assert!(stderr(&out).contains("/etc/passwd"), "{l} {}", stderr(&out));
    }
}

#[test]
fn image_missing_from_the_store_is_125() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let image_dir = env.image_rootfs().parent().unwrap().to_owned();
        fs::remove_dir_all(&image_dir).unwrap();
        let out = env.sh("echo should-not-run");
        assert_code(&out, 125, &l);
        assert!(stdout(&out).is_empty(), "{l}");
        let err = stderr(&out);
        assert!(err.contains("missing from the store"), "{l} {err}");
        assert!(err.contains("jig install"), "{l} hint: {err}");
    }
}

#[test]
fn recursion_guard_is_125() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let mut c = env.shim_cmd("sh", &["-c", "echo should-not-run"]);
        c.env("JIG_DEPTH", "8");
        let out = run(c);
        assert_code(&out, 125, &l);
        assert!(stdout(&out).is_empty(), "{l}");
        assert!(stderr(&out).contains("nested"), "{l} {}", stderr(&out));

        // One level below the limit still runs.
        let mut c = env.shim_cmd("sh", &["-c", "echo $JIG_DEPTH"]);
        c.env("JIG_DEPTH", "7");
        let out = run(c);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "8\n", "{l}");
    }
}

#[test]
fn death_by_signal_is_seen_by_the_caller() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.sh("kill -TERM $$; sleep 5");
        assert_eq!(out.status.signal(), Some(15), "{l} {:?}", out.status);
        assert_eq!(out.status.code(), None, "{l}");
    }
}

/// Regression: Rust's runtime ignores SIGPIPE and execve keeps an ignored signal, so
/// tools once inherited it and `yes | head` inside printed "Broken pipe".
#[test]
fn tools_get_default_sigpipe() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.sh("yes | head -n 2; grep SigIgn /proc/self/status");
        assert_ok(&out, &l);
        assert_eq!(
            stdout(&out).lines().take(2).collect::<Vec<_>>(),
            ["y", "y"],
            "{l}"
        );
        assert!(stderr(&out).is_empty(), "{l} {}", stderr(&out));
        // SIGPIPE (signal 13, bit 12) must not be in the ignored mask.
        let mask = stdout(&out)
            .lines()
            .find_map(|l| l.strip_prefix("SigIgn:"))
            .map(|m| u64::from_str_radix(m.trim(), 16).unwrap())
            .unwrap();
        assert_eq!(mask & (1 << 12), 0, "{l} SIGPIPE ignored: {mask:x}");
    }
}

#[test]
fn pipes_carry_bytes_exactly() {
    // Every byte value, then ~1 MiB of pseudo-random bytes.
    let mut input: Vec<u8> = (0..=255u8).collect();
    let mut x: u32 = 0x1234_5678;
    input.extend((0..(1 << 20)).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = run_with_input(env.shim_cmd("cat", &[]), input.clone());
        assert_ok(&out, &l);
        assert_eq!(out.stdout.len(), input.len(), "{l}");
        assert!(out.stdout == input, "{l} cat changed the bytes");

        // Through a shell pipeline inside, too.
        let out = run_with_input(env.shim_cmd("sh", &["-c", "cat | cat"]), input.clone());
        assert_ok(&out, &l);
        assert!(out.stdout == input, "{l} sh pipeline changed the bytes");
    }
}

#[test]
fn piped_output_has_no_terminal_codes() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        env.write(&env.project().join("file"), "x");
        let out = env.shim("echo", &["plain"]);
        assert_ok(&out, &l);
        assert_eq!(out.stdout, b"plain\n", "{l}");
        let out = env.shim("ls", &["-la", "/", "/bin/sh"]);
        assert_ok(&out, &l);
        for o in [&out.stdout, &out.stderr] {
            assert!(
                !o.iter().any(|&b| b == 0x1b || b == b'\r'),
                "{l} control codes in {:?}",
                String::from_utf8_lossy(o)
            );
        }
        let out = env.shim("tty", &[]);
        assert_eq!(stdout(&out).trim(), "not a tty", "{l}");
    }
}

#[test]
fn writes_to_the_root_and_tmp_are_ephemeral_and_the_image_unchanged() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let rootfs = env.image_rootfs();
        let before = tree_digest(&rootfs);
        let out = env.sh(
            "touch /newfile && echo x > /etc/passwd-extra && echo y > /tmp/scratch \
             && echo changed >> /etc/motd && rm /bin/ls /etc/group && mkdir /newdir \
             && ls /newfile /etc/passwd-extra /tmp/scratch /newdir && cat /etc/motd",
        );
        assert_ok(&out, &format!("{l} writes inside"));
        assert!(
            stdout(&out).ends_with("image motd\nchanged\n"),
            "{l} {}",
            stdout(&out)
        );
        let out = env.sh(
            "for p in /newfile /etc/passwd-extra /tmp/scratch /newdir; do \
               test -e $p && echo survived: $p; done; \
             test -L /bin/ls || echo ls gone; test -f /etc/group || echo group gone; \
             cat /etc/motd",
        );
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "image motd\n", "{l}");
        assert_eq!(tree_digest(&rootfs), before, "{l} the stored image changed");
        // Nothing leaked to the host either.
        assert!(!std::path::Path::new("/newfile").exists(), "{l}");
        assert!(!std::path::Path::new("/tmp/scratch").exists(), "{l}");
    }
}

#[test]
fn two_shims_run_concurrently() {
    // Each run announces itself in the (shared) project directory and waits up to 10 s
    // for the other: both succeed only if they were running at the same time. This
    // proves the overlap without a wall-clock bound that a loaded machine could break.
    let script = "touch started-$1; n=0; \
        while [ ! -e started-$2 ]; do sleep 0.05; n=$((n+1)); [ $n -lt 200 ] || exit 3; done; \
        sleep 1; echo ok-$1";
    for env in Env::all() {
        env.install();
        let l = env.label();
        let start = Instant::now();
        let children: Vec<_> = [("a", "b"), ("b", "a")]
            .iter()
            .map(|(me, other)| {
                env.shim_cmd("sh", &["-c", script, "sh", me, other])
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (c, me) in children.into_iter().zip(["a", "b"]) {
            let out = c.wait_with_output().unwrap();
            assert_ok(
                &out,
                &format!("{l} run {me} (exit 3: the other never ran alongside)"),
            );
            assert_eq!(stdout(&out), format!("ok-{me}\n"), "{l}");
        }
        eprintln!("{l} two concurrent 1 s runs took {:?}", start.elapsed());
    }
}

#[test]
fn argv0_is_the_name_typed() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        // Typed as `sh` with the shim directory on PATH, as after `jig activate`.
        let mut c = env.command("sh");
        c.args(["-c", "echo $0"])
            .env("PATH", format!("{}:/usr/bin:/bin", env.shims().display()));
        let out = run(c);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "sh\n", "{l}");
        // Proof that it was the container's sh, not the host's.
        let mut c = env.command("sh");
        c.args(["-c", "echo $JIG_DEPTH"])
            .env("PATH", format!("{}:/usr/bin:/bin", env.shims().display()));
        assert_eq!(stdout(&run(c)), "1\n", "{l}");

        // Typed as a path: the tool sees that path, as a native binary would.
        let shim = env.shim_path("sh");
        let out = env.sh("echo $0");
        assert_eq!(stdout(&out).trim(), shim.to_str().unwrap(), "{l}");
    }
}

#[test]
fn devices_and_proc_work_inside() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.sh("echo gone > /dev/null && head -c 16 /dev/urandom | wc -c \
             && head -c 4 /dev/zero | wc -c && test -d /proc/self/fd && echo proc");
        assert_ok(&out, &l);
        let text: Vec<_> = stdout(&out).split_whitespace().map(String::from).collect();
        assert_eq!(text, ["16", "4", "proc"], "{l}");
    }
}
