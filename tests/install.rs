//! Installing, inspecting and removing recipes: recipe errors, rootfs tarballs (plain
//! and hostile), `list`/`which`/`run`, `uninstall` and `gc`. Once per identity.

mod common;

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use common::tar::Tar;
use common::*;

/// Writes a recipe named `bb` whose image comes from `from` (written verbatim).
fn recipe_with_from(env: &Env, file: &str, from: &str) -> PathBuf {
    let text = RECIPE.replace("rootfs:rootfs", from);
    assert_ne!(text, RECIPE);
    let path = env.dir().join(file);
    env.write(&path, text);
    path
}

#[test]
fn malformed_recipe_is_reported_with_file_line_and_column() {
    for env in Env::all() {
        let l = env.label();
        // Unknown key on line 9 (after `[mounts]` on line 8).
        let bad_key = RECIPE.replace("[mounts]\n", "[mounts]\nhomee = [\"x\"]\n");
        // Wrong type on line 2, the value starting at column 11.
        let bad_value = RECIPE.replace("version = \"1.35\"", "version = 135");
        // A value that fails validation: line 9, within `home = [...]`.
        let bad_path = RECIPE.replace("[\".bbrc\"]", "[\"../.ssh\"]");
        for (file, text, position, what) in [
            ("unknown-key.toml", bad_key, "line 9, column 1", "homee"),
            ("wrong-type.toml", bad_value, "line 2, column 11", "string"),
            ("bad-path.toml", bad_path, "line 9, column", ".."),
        ] {
            let path = env.dir().join(file);
            env.write(&path, text);
            let out = env.jig(&["install", path.to_str().unwrap()]);
            assert_code(&out, 1, &format!("{l} {file}"));
            let err = stderr(&out);
            assert!(
                err.contains(path.to_str().unwrap()),
                "{l} names the file: {err}"
            );
            assert!(err.contains(position), "{l} {file} wants {position}: {err}");
            assert!(err.contains(what), "{l} {file} wants {what}: {err}");
            assert!(!env.shims().exists(), "{l} {file} created shims");
        }
    }
}

/// Makes `NAME` from the fixture rootfs with the host's tar and `flags`.
fn host_tar(env: &Env, name: &str, flags: &[&str]) -> PathBuf {
    let out_path = env.dir().join(name);
    let out = run({
        let mut c = Command::new("tar");
        c.args(flags)
            .arg("-f")
            .arg(&out_path)
            .arg("-C")
            .arg(&fixture().rootfs)
            .arg(".");
        c
    });
    assert_ok(&out, &format!("tar {flags:?}"));
    env.own(&out_path);
    out_path
}

#[test]
fn rootfs_tarballs_give_the_same_image_as_the_directory() {
    for env in Env::all() {
        let l = env.label();
        let dir_recipe = recipe_with_from(
            &env,
            "dir.toml",
            &format!("rootfs:{}", fixture().rootfs.display()),
        );
        assert_ok(&env.jig(&["install", dir_recipe.to_str().unwrap()]), &l);
        let dir_id = env.image_id("sh");
        assert!(dir_id.starts_with("sha256:"), "{l} {dir_id}");

        host_tar(&env, "rootfs.tar", &["-c"]);
        host_tar(&env, "rootfs.tar.gz", &["-cz"]);
        host_tar(&env, "rootfs.tar.zst", &["--zstd", "-c"]);
        for tarball in ["rootfs.tar", "rootfs.tar.gz", "rootfs.tar.zst"] {
            // Relative to the recipe file's directory.
            let recipe = recipe_with_from(
                &env,
                &format!("{tarball}.toml"),
                &format!("rootfs:{tarball}"),
            );
            let out = env.jig(&["install", recipe.to_str().unwrap()]);
            assert_ok(&out, &format!("{l} {tarball}"));
            assert_eq!(env.image_id("sh"), dir_id, "{l} {tarball}");
            let out = env.sh("echo from-$0");
            assert_ok(&out, &l);
            assert!(stdout(&out).ends_with("/sh\n"), "{l} {}", stdout(&out));
        }
        // One image in the store: the same tree every time.
        let out = env.jig(&["images"]);
        assert_eq!(stdout(&out).lines().count(), 1, "{l} {}", stdout(&out));
    }
}

/// Installs a recipe whose rootfs is `tar`; returns jig's output.
fn install_tarball(env: &Env, tar: Vec<u8>) -> std::process::Output {
    let path = env.dir().join("evil.tar");
    env.write(&path, tar);
    let recipe = recipe_with_from(env, "evil.toml", "rootfs:evil.tar");
    env.jig(&["install", recipe.to_str().unwrap()])
}

fn assert_nothing_stored(env: &Env, l: &str) {
    assert!(!env.shims().exists(), "{l} shims were created");
    let images = env.jig_home().join("store/images");
    let n = fs::read_dir(&images).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "{l} an image was stored");
    let tmp = env.jig_home().join("store/tmp");
    let n = fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "{l} debris left in store/tmp");
}

#[test]
fn tarball_with_dotdot_entry_is_refused() {
    for env in Env::all() {
        let l = env.label();
        // Where the entries would land if `..` were followed: far enough up to leave any
        // store, then back down into a directory of this test.
        let outside = env.dir().join("outside");
        env.mkdir(&outside);
        let deep = format!(
            "{}{}/escape",
            "../".repeat(30),
            outside.strip_prefix("/").unwrap().display()
        );
        for name in ["../escape", deep.as_str()] {
            let tar = Tar::new().dir("bin/").file(name, b"pwned\n").finish();
            let out = install_tarball(&env, tar);
            assert_code(&out, 1, &format!("{l} {name}"));
            let err = stderr(&out);
            assert!(err.contains(name), "{l} names the entry {name}: {err}");
            assert!(err.contains("..") && err.contains("refused"), "{l} {err}");
            assert!(!outside.join("escape").exists(), "{l} wrote outside");
            assert!(!env.jig_home().join("store/escape").exists(), "{l}");
            assert_nothing_stored(&env, &l);
        }
    }
}

#[test]
fn tarball_writing_through_a_symlink_is_refused() {
    for env in Env::all() {
        let l = env.label();
        let outside = env.dir().join("outside");
        env.mkdir(&outside);
        let tar = Tar::new()
            .symlink("link", outside.to_str().unwrap())
            .file("link/file", b"pwned\n")
            .finish();
        let out = install_tarball(&env, tar);
        assert_code(&out, 1, &l);
        let err = stderr(&out);
        assert!(err.contains("link/file"), "{l} names the entry: {err}");
        assert!(err.contains("symlink"), "{l} says why: {err}");
        assert!(!outside.join("file").exists(), "{l} wrote through the link");
        assert!(fs::read_dir(&outside).unwrap().next().is_none(), "{l}");
        assert_nothing_stored(&env, &l);

        // The same with a relative link climbing out of the image.
        let tar = Tar::new()
            .symlink("up", "../../../../../../../../..")
            .file(
                &format!("up/{}/file2", outside.strip_prefix("/").unwrap().display()),
                b"pwned\n",
            )
            .finish();
        let out = install_tarball(&env, tar);
        assert_code(&out, 1, &l);
        assert!(stderr(&out).contains("up/"), "{l} {}", stderr(&out));
        assert!(
            !outside.join("file2").exists(),
            "{l} wrote through the link"
        );
        assert_nothing_stored(&env, &l);
    }
}

#[test]
fn list_which_and_run() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let out = env.jig(&["list"]);
        assert_ok(&out, &l);
        assert_eq!(
            stdout(&out),
            "bb\t1.35\tsh,echo,id,pwd,cat,touch,ls,sleep,env,tty\tbusybox test tool\n",
            "{l}"
        );
        let out = env.jig(&["which", "cat"]);
        assert_ok(&out, &l);
        let text = stdout(&out);
        assert!(text.contains("recipe:  bb ("), "{l} {text}");
        assert!(
            text.contains(fixture().recipe.to_str().unwrap()),
            "{l} {text}"
        );
        let rootfs = env.image_rootfs();
        assert!(text.contains(rootfs.to_str().unwrap()), "{l} {text}");
        assert_code(&env.jig(&["which", "nosuch"]), 2, &l);

        // `jig run` runs the first shim (sh) with the arguments.
        let out = env.jig(&["run", "bb", "-c", "echo run-$0-$BB_MODE"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "run-sh-test\n", "{l}");
        let out = env.jig(&["exec", "bb", "--", "echo", "exec", "works"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "exec works\n", "{l}");
    }
}

#[test]
fn uninstall_removes_shims_and_gc_removes_the_image() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let image_dir = env.image_rootfs().parent().unwrap().to_owned();

        let out = env.jig(&["uninstall", "bb"]);
        assert_ok(&out, &l);
        let left: Vec<_> = fs::read_dir(env.shims())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{l} shims left: {left:?}");
        assert_eq!(stdout(&env.jig(&["list"])), "", "{l}");
        // Uninstall keeps the image until gc, shown as unused.
        assert!(image_dir.is_dir(), "{l}");
        let images = stdout(&env.jig(&["images"]));
        assert_eq!(images.lines().count(), 1, "{l} {images}");
        assert!(images.contains("\t-\t"), "{l} {images}");

        let out = env.jig(&["gc"]);
        assert_ok(&out, &l);
        assert!(
            stderr(&out).contains("removed 1 unused image"),
            "{l} {}",
            stderr(&out)
        );
        assert!(!image_dir.exists(), "{l} gc kept the image");
        assert_eq!(stdout(&env.jig(&["images"])), "", "{l}");
        assert_code(&env.jig(&["uninstall", "bb"]), 2, &l);
    }
}

#[test]
fn gc_keeps_images_in_use() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let rootfs = env.image_rootfs();
        let out = env.jig(&["gc"]);
        assert_ok(&out, &l);
        assert!(
            stderr(&out).contains("removed 0 unused image"),
            "{l} {}",
            stderr(&out)
        );
        assert!(rootfs.is_dir(), "{l}");
        assert_ok(&env.sh("true"), &l);
    }
}

/// `jig doctor`'s store check: fine after an install; names a damaged image.toml and
/// a tool whose root filesystem went missing.
#[test]
fn doctor_checks_the_store() {
    for env in Env::all() {
        let l = env.label();
        env.install();
        let store_line = |out: &std::process::Output| {
            stdout(out)
                .lines()
                .find(|line| line.contains("store: "))
                .unwrap_or_else(|| panic!("{l} a store line: {}", stdout(out)))
                .to_owned()
        };
        let out = env.jig(&["doctor"]);
        let line = store_line(&out);
        assert!(line.starts_with("ok "), "{l} healthy: {line}");
        assert!(line.contains("1 image"), "{l}: {line}");

        let images = env.jig_home().join("store/images");
        let image = fs::read_dir(&images)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let meta = image.join("image.toml");
        let good = fs::read_to_string(&meta).unwrap();
        env.write(&meta, "source = [\n");
        let out = env.jig(&["doctor"]);
        assert_code(&out, 1, &format!("{l} damaged image.toml"));
        let line = store_line(&out);
        assert!(line.starts_with("FAIL"), "{l}: {line}");
        assert!(line.contains(meta.to_str().unwrap()), "{l}: {line}");
        env.write(&meta, good);

        fs::rename(image.join("rootfs"), image.join("moved")).unwrap();
        let out = env.jig(&["doctor"]);
        assert_code(&out, 1, &format!("{l} missing rootfs"));
        let line = store_line(&out);
        assert!(
            line.starts_with("FAIL") && line.contains("bb@") && line.contains("missing"),
            "{l}: {line}"
        );
    }
}

/// An edited rootfs recipe file is outdated; `jig upgrade` rebuilds it and keeps the
/// old image until `jig gc`.
#[test]
fn upgrade_rebuilds_an_edited_recipe_file() {
    for env in Env::all() {
        let l = env.label();
        let write = |n: u32| {
            let text = RECIPE.replace(
                "from = \"rootfs:rootfs\"",
                &format!(
                    "from = \"rootfs:{}\"\nrun = ['''echo {n} > /v''']",
                    fixture().rootfs.display()
                ),
            );
            let path = env.dir().join("bb.toml");
            env.write(&path, text);
            path
        };
        let recipe = write(1);
        let out = env.jig(&["install", recipe.to_str().unwrap()]);
        assert_ok(&out, &format!("{l} install"));
        let old = env.image_id("cat");
        let out = env.jig(&["outdated"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "", "{l} fresh");

        write(2);
        let out = env.jig(&["outdated"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "bb\t1.35\t1.35\trecipe changed\n", "{l}");
        let out = env.jig(&["outdated", "--json"]);
        assert!(stdout(&out).contains("\"recipe_changed\": true"), "{l}");
        let out = env.jig(&["upgrade"]);
        assert_ok(&out, &format!("{l} upgrade"));
        assert_eq!(stdout(&env.shim("cat", &["/v"])), "2\n", "{l} rebuilt");
        let new = env.image_id("cat");
        assert_ne!(new, old, "{l}");
        let dir = |id: &str| {
            env.jig_home()
                .join("store/images")
                .join(id.strip_prefix("sha256:").unwrap_or(id))
        };
        assert!(dir(&old).is_dir(), "{l} the old image stays until gc");
        assert_eq!(stdout(&env.jig(&["outdated"])), "", "{l} up to date");
        assert_ok(&env.jig(&["gc"]), &format!("{l} gc"));
        assert!(!dir(&old).exists(), "{l} gc removed the old image");
        assert!(dir(&new).is_dir(), "{l} and kept the new one");
    }
}

/// A shim belongs to the installation it was started from, whatever `HOME` and
/// `XDG_DATA_HOME` say (test suites run tools with a `HOME` of their own): through
/// its full path, through a PATH search, and through a link to jig's own binary in
/// `DATA/bin`. The tool still sees the `HOME` it was given; a relative one is refused.
#[test]
fn a_shim_finds_its_installation_under_another_home() {
    for env in Env::all() {
        let l = env.label();
        // jig where script/install puts it, and the shims made by that copy.
        let bin = env.jig_home().join("bin");
        env.mkdir(&env.jig_home());
        env.mkdir(&bin);
        let jig = bin.join("jig");
        fs::copy(&fixture().jig, &jig).unwrap();
        env.own(&jig);
        let mut c = env.command(&jig);
        c.args(["install", fixture().recipe.to_str().unwrap()]);
        assert_ok(&run(c), &format!("{l} install"));
        let other = env.dir().join("elsewhere");
        env.mkdir(&other);
        let away = |c: &mut Command| {
            c.env_remove("JIG_HOME")
                .env("HOME", &other)
                .env("XDG_DATA_HOME", other.join("data"));
        };
        // The full path.
        let mut c = env.command(env.shim_path("sh"));
        c.args(["-c", "echo $HOME"]);
        away(&mut c);
        let out = run(c);
        assert_ok(&out, &format!("{l} the shim by its path"));
        assert_eq!(stdout(&out), format!("{}\n", other.display()), "{l}");
        // A bare name, found on PATH (a directory without it first).
        let mut c = env.command("sh");
        c.args(["-c", "echo found"]);
        away(&mut c);
        c.env(
            "PATH",
            format!(
                "{}:{}:/usr/bin:/bin",
                other.display(),
                env.shims().display()
            ),
        );
        let out = run(c);
        assert_ok(&out, &format!("{l} the shim on PATH"));
        assert_eq!(stdout(&out), "found\n", "{l}");
        // A link to jig's binary outside the shim directory.
        let link = other.join("cat");
        std::os::unix::fs::symlink(&jig, &link).unwrap();
        let mut c = env.command(&link);
        c.arg("/etc/motd");
        away(&mut c);
        let out = run(c);
        assert_ok(&out, &format!("{l} a link to DATA/bin/jig"));
        assert_eq!(stdout(&out), "image motd\n", "{l}");
        // A relative HOME names no place to mount anything from.
        let mut c = env.command(env.shim_path("sh"));
        c.args(["-c", "echo ran"]);
        away(&mut c);
        c.env("HOME", "relative/home");
        let out = run(c);
        assert_code(&out, 125, &format!("{l} relative HOME"));
        assert!(stdout(&out).is_empty(), "{l}");
        let err = stderr(&out);
        assert!(
            err.contains("HOME is a relative path (relative/home)")
                && err.contains("hint: set HOME"),
            "{l}: {err}"
        );
    }
}
