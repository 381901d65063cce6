//! Dockerfile builds: hostile Dockerfiles and build contexts. `COPY` and `ADD` read
//! only what lies beneath the context (no `..`, no symlink leading out), write only into
//! the image (its symlinks are resolved inside it, never on the host), and a local tar
//! `ADD` extracts goes through the checked unpacker. Beside each attack, the same kind
//! of instruction doing its normal work.
//!
//! The images start `FROM scratch` and `ADD` a busybox root from the context, so no
//! registry is needed.

use super::*;
use crate::common::tar::Tar;

/// A build context `env.dir()/name` with `busybox.tar`, the files `extra` (path,
/// contents) and `Dockerfile`: `FROM scratch`, `ADD busybox.tar /`, then `rest`.
fn context(env: &Env, name: &str, rest: &str, extra: &[(&str, &[u8])]) -> PathBuf {
    let dir = env.dir().join(name);
    env.mkdir(&dir);
    env.write(&dir.join("busybox.tar"), Tar::busybox().finish());
    for (path, data) in extra {
        let p = dir.join(path);
        env.mkdir(p.parent().unwrap());
        env.write(&p, data);
    }
    env.write(
        &dir.join("Dockerfile"),
        format!("FROM scratch\nADD busybox.tar /\n{rest}"),
    );
    dir
}

/// A symlink owned by `env`'s user.
fn link(env: &Env, target: &str, at: &Path) {
    std::os::unix::fs::symlink(target, at).unwrap();
    env.own(at);
}

/// `jig build DIR`; the output.
fn build(env: &Env, dir: &Path) -> std::process::Output {
    env.jig(&["build", dir.to_str().unwrap()])
}

/// Installs the Dockerfile in `dir` (its ENTRYPOINT `cat` gives the shim) and runs
/// `cat ARGS` through it.
fn cat_in(env: &Env, dir: &Path, args: &[&str]) -> String {
    let out = env.jig(&["install", dir.join("Dockerfile").to_str().unwrap()]);
    assert_ok(&out, &format!("{} install {}", env.label(), dir.display()));
    let out = env.shim("cat", args);
    assert_ok(&out, &format!("{} cat {args:?}", env.label()));
    stdout(&out)
}

#[test]
fn copy_reads_nothing_outside_the_build_context() {
    for env in Env::all() {
        let l = env.label();
        env.write(&env.dir().join("outside.txt"), "the user's private file\n");
        // Positive control: files inside, a symlink that stays inside, a directory
        // holding a symlink that leads out (copied as a symlink, never followed).
        let ok = context(
            &env,
            "ok",
            "COPY inside.txt /inside.txt\nCOPY inlink /via-link\nCOPY dir/ /d/\nENTRYPOINT [\"cat\"]\n",
            &[
                ("inside.txt", b"inside the context\n"),
                ("dir/plain", b"plain\n"),
            ],
        );
        link(&env, "inside.txt", &ok.join("inlink"));
        link(&env, "/etc/os-release", &ok.join("dir/out"));
        assert_ok(&build(&env, &ok), &format!("{l} control build"));
        assert_eq!(
            cat_in(&env, &ok, &["/inside.txt", "/via-link", "/d/plain"]),
            "inside the context\ninside the context\nplain\n",
            "{l}"
        );
        // The copied link is a link, resolved in the image, which has no os-release.
        let out = env.shim("cat", &["/d/out"]);
        assert_code(&out, 1, &format!("{l} the host's file came along"));
        assert_eq!(stdout(&out), "", "{l}");
        let out = env.jig(&["exec", "ok", "--", "ls", "-l", "/d/out"]);
        assert!(
            stdout(&out).contains("-> /etc/os-release"),
            "{l} {}",
            stdout(&out)
        );

        let attacks: &[(&str, &str, &str)] = &[
            (
                "dotdot",
                "COPY ../../etc/passwd /stolen\n",
                "leads out of the build context (..)",
            ),
            (
                "abs-dotdot",
                "COPY /../outside.txt /stolen\n",
                "leads out of the build context (..)",
            ),
            (
                "dirlink",
                "COPY escape/passwd /stolen\n",
                "leads out of the build context through a symlink",
            ),
            (
                "filelink",
                "COPY up /stolen\n",
                "leads out of the build context through a symlink",
            ),
            (
                "addlink",
                "ADD up /stolen\n",
                "leads out of the build context through a symlink",
            ),
        ];
        for (name, rest, why) in attacks {
            let dir = context(&env, name, rest, &[]);
            link(&env, "/etc", &dir.join("escape"));
            link(&env, "../outside.txt", &dir.join("up"));
            let out = build(&env, &dir);
            assert_code(&out, 1, &format!("{l} {name}"));
            let err = stderr(&out);
            assert!(err.contains(why), "{l} {name}: {err}");
            assert!(
                err.contains("Dockerfile:3"),
                "{l} {name} names the line: {err}"
            );
        }
    }
}

#[test]
fn add_of_a_tar_cannot_write_outside_the_image() {
    for env in Env::all() {
        let l = env.label();
        let good = Tar::new()
            .dir("sub/")
            .file("sub/good.txt", b"extracted\n")
            .finish();
        let ok = context(
            &env,
            "ok",
            "ADD good.tar /opt/\nENTRYPOINT [\"cat\"]\n",
            &[("good.tar", &good)],
        );
        assert_ok(&build(&env, &ok), &format!("{l} control build"));
        assert_eq!(
            cat_in(&env, &ok, &["/opt/sub/good.txt"]),
            "extracted\n",
            "{l}"
        );

        let dotdot = Tar::new().file("../../../escaped.txt", b"out\n").finish();
        let through_link = Tar::new()
            .symlink("hop", &env.dir().display().to_string())
            .file("hop/escaped.txt", b"out\n")
            .finish();
        for (name, tar, why) in [
            ("dotdot", dotdot, ".."),
            ("through-link", through_link, "symlink"),
        ] {
            let dir = context(&env, name, "ADD evil.tar /x/\n", &[("evil.tar", &tar)]);
            let out = build(&env, &dir);
            assert_code(&out, 1, &format!("{l} {name}"));
            let err = stderr(&out);
            assert!(
                err.contains("evil.tar") && err.contains(why),
                "{l} {name}: {err}"
            );
            assert!(
                !env.dir().join("escaped.txt").exists(),
                "{l} {name} escaped"
            );
            let tmp = env.jig_home().join("store/tmp");
            let debris: Vec<_> = fs::read_dir(&tmp)
                .map(|d| d.flatten().map(|e| e.file_name()).collect())
                .unwrap_or_default();
            assert!(debris.is_empty(), "{l} {name} left {debris:?} in store/tmp");
        }
    }
}

#[test]
fn copy_through_an_image_symlink_stays_in_the_image() {
    for env in Env::all() {
        let l = env.label();
        // A step plants an absolute symlink to a host directory; a later COPY through
        // it lands in the image's directory of that name, never in the host's.
        let host_dir = env.dir().join("host-dir");
        env.mkdir(&host_dir);
        let dir = context(
            &env,
            "trap",
            &format!(
                "RUN mkdir -p {h} && ln -s {h} /trap\nCOPY inside.txt /trap/\nENTRYPOINT [\"cat\"]\n",
                h = host_dir.display()
            ),
            &[("inside.txt", b"in the image\n")],
        );
        assert_ok(&build(&env, &dir), &format!("{l} build"));
        assert!(
            fs::read_dir(&host_dir).unwrap().next().is_none(),
            "{l} the host directory got a file"
        );
        let inside = format!("{}/inside.txt", host_dir.display());
        assert_eq!(cat_in(&env, &dir, &[&inside]), "in the image\n", "{l}");
    }
}

#[test]
fn add_of_a_url_must_match_its_checksum() {
    // The loopback registry serves a blob by its digest over plain HTTP: a URL whose
    // content is known.
    let reg = crate::common::registry::Registry::start();
    let body = b"downloaded content\n";
    let digest = reg.upload_blob("files", body);
    let url = reg.url(&format!("/v2/files/blobs/{digest}"));
    let wrong = format!("sha256:{}", "0".repeat(64));
    for env in Env::all() {
        let l = env.label();
        let ok = context(
            &env,
            "url-ok",
            &format!("ADD --checksum={digest} {url} /fetched\nENTRYPOINT [\"cat\"]\n"),
            &[],
        );
        assert_ok(&build(&env, &ok), &format!("{l} control build"));
        assert_eq!(
            cat_in(&env, &ok, &["/fetched"]),
            "downloaded content\n",
            "{l}"
        );
        let bad = context(
            &env,
            "url-bad",
            &format!("ADD --checksum={wrong} {url} /fetched\n"),
            &[],
        );
        let out = build(&env, &bad);
        assert_code(&out, 1, &format!("{l} wrong checksum"));
        let err = stderr(&out);
        assert!(
            err.contains("does not match --checksum") && err.contains(&digest),
            "{l} {err}"
        );
    }
}
