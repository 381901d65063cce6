//! Workspace semantics with the busybox fixture: the project root mounted around a
//! subdirectory cwd, markers at `$HOME` ignored, path arguments mounted as a recipe
//! opts in, and shims of other recipes called inside a container (nested launches).
//! Every test runs once per identity (see `common`).

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

/// Runs `cmd` from `dir` instead of the project directory.
fn run_in(mut cmd: Command, dir: &Path) -> Output {
    cmd.current_dir(dir);
    run(cmd)
}

/// A project with a `.git` marker, a file at its root and a subdirectory `sub`.
fn repo(env: &Env) -> PathBuf {
    let p = env.project();
    env.mkdir(&p.join(".git"));
    env.write(&p.join("top.txt"), "at the root\n");
    env.mkdir(&p.join("sub"));
    p.join("sub")
}

#[test]
fn a_subdirectory_sees_and_writes_the_workspace_root() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let sub = repo(&env);
        let out = run_in(
            env.shim_cmd(
                "sh",
                &["-c", "pwd; cat ../top.txt; echo made > ../made.txt"],
            ),
            &sub,
        );
        assert_ok(&out, &l);
        assert_eq!(
            stdout(&out),
            format!("{}\nat the root\n", sub.display()),
            "{l}"
        );
        let made = env.project().join("made.txt");
        assert_eq!(fs::read_to_string(&made).unwrap(), "made\n", "{l}");
        let m = fs::metadata(&made).unwrap();
        assert_eq!((m.uid(), m.gid()), (env.who.uid, env.who.gid), "{l}");

        // `.git` as a file (worktrees, submodules) marks the root as well.
        fs::remove_dir(env.project().join(".git")).unwrap();
        env.write(&env.project().join(".git"), "gitdir: /elsewhere\n");
        let out = run_in(env.shim_cmd("cat", &["../top.txt"]), &sub);
        assert_ok(&out, &l);

        let out = run_in(env.jig_cmd(&["which", "sh"]), &sub);
        assert_ok(&out, &l);
        assert!(
            stdout(&out).contains(&format!(
                "workspace: {} (marker .git at {})",
                env.project().display(),
                env.project().display()
            )),
            "{l} {}",
            stdout(&out)
        );
    }
}

#[test]
fn a_worktree_sees_its_repository() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        // The layout `git worktree add` makes, without git.
        let main = env.dir().join("main");
        let admin = main.join(".git/worktrees/wt");
        for d in [
            &main,
            &main.join(".git"),
            &main.join(".git/worktrees"),
            &admin,
        ] {
            env.mkdir(d);
        }
        env.mkdir(&main.join(".git/objects"));
        env.write(&main.join(".git/HEAD"), "ref: refs/heads/trunk\n");
        env.write(&admin.join("HEAD"), "ref: refs/heads/wt\n");
        env.write(&admin.join("commondir"), "../..\n");
        let wt = env.project();
        // The link back that makes it this worktree's (see tests/containment/gitdir.rs).
        env.write(
            &admin.join("gitdir"),
            format!("{}\n", wt.join(".git").display()),
        );
        env.write(&wt.join(".git"), format!("gitdir: {}\n", admin.display()));
        env.mkdir(&wt.join("src"));
        let head = main.join(".git/HEAD");
        let out = run_in(
            env.shim_cmd("cat", &[head.to_str().unwrap()]),
            &wt.join("src"),
        );
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "ref: refs/heads/trunk\n", "{l}");
        let out = run_in(env.jig_cmd(&["which", "cat"]), &wt.join("src"));
        assert!(
            stdout(&out).contains(&format!(
                "and its git directory {}",
                main.join(".git").display()
            )),
            "{l} {}",
            stdout(&out)
        );
    }
}

#[test]
fn without_a_marker_only_the_cwd_is_mounted() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        env.write(&env.project().join("top.txt"), "at the root\n");
        let sub = env.project().join("sub");
        env.mkdir(&sub);
        let out = run_in(
            env.shim_cmd("sh", &["-c", "ls -a ..; cat ../top.txt"]),
            &sub,
        );
        assert_code(&out, 1, &l);
        assert_eq!(stdout(&out), ".\n..\nsub\n", "{l}");
        assert!(stderr(&out).contains("top.txt"), "{l} {}", stderr(&out));

        let out = run_in(env.jig_cmd(&["which", "sh"]), &sub);
        assert!(
            stdout(&out).contains(&format!(
                "workspace: {} (no marker: cwd only)",
                sub.display()
            )),
            "{l} {}",
            stdout(&out)
        );
    }
}

#[test]
fn a_marker_at_home_does_not_widen_the_mount_unless_configured() {
    for env in Env::all() {
        env.install();
        let l = env.label();
        let home = env.home();
        env.mkdir(&home.join(".git"));
        env.write(&home.join("secret.txt"), "home file\n");
        let cwd = home.join("notes");
        env.mkdir(&cwd);
        let out = run_in(env.shim_cmd("cat", &["../secret.txt"]), &cwd);
        assert_code(&out, 1, &l);
        let out = run_in(env.jig_cmd(&["which", "sh"]), &cwd);
        let text = stdout(&out);
        assert!(
            text.contains(&format!(
                "workspace: {} (marker .git at {} ignored: the home directory",
                cwd.display(),
                home.display()
            )),
            "{l} {text}"
        );

        env.write(
            &env.jig_home().join("config.toml"),
            "workspace_allow_home = true\n",
        );
        let out = run_in(env.shim_cmd("cat", &["../secret.txt"]), &cwd);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "home file\n", "{l}");
    }
}

/// Installs three recipes over the fixture's image that differ only in `[mounts]
/// args`: `wsro` (read-only, `-o`/`--output` read-write), `wsrw` and `wsoff`.
fn install_arg_recipes(env: &Env) {
    let rootfs = fixture().rootfs.display().to_string();
    for (name, mounts) in [
        ("wsro", "args = \"ro\"\nargs_rw = [\"-o\", \"--output\"]\n"),
        ("wsrw", "args = \"rw\"\n"),
        ("wsoff", ""),
    ] {
        let path = env.dir().join(format!("{name}.toml"));
        env.write(
            &path,
            format!(
                "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:{rootfs}\"\n\
                 [tool]\ncommand = \"sh\"\n[mounts]\n{mounts}"
            ),
        );
        let out = env.jig(&["install", path.to_str().unwrap()]);
        assert_ok(&out, &format!("{} install {name}", env.label()));
    }
}

/// `sh -c SCRIPT sh ARGS` in recipe `recipe`'s image: the arguments are what jig
/// looks at; the script uses them.
fn sh_with_args(env: &Env, recipe: &str, script: &str, args: &[&str]) -> Output {
    let mut all = vec!["exec", recipe, "--", "sh", "-c", script, "sh"];
    all.extend_from_slice(args);
    env.jig(&all)
}

#[test]
fn argument_paths_are_mounted_only_as_the_recipe_says() {
    for env in Env::all() {
        install_arg_recipes(&env);
        let l = env.label();
        let outside = env.dir().join("outside");
        env.mkdir(&outside);
        let file = outside.join("in.txt");
        env.write(&file, "outside\n");
        let script = "cat \"$1\" && echo changed > \"$1\"";

        // Read-only: readable, not writable.
        let out = sh_with_args(&env, "wsro", script, &["../outside/in.txt"]);
        assert_code(&out, 1, &l);
        assert_eq!(stdout(&out), "outside\n", "{l}");
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{l} {}",
            stderr(&out)
        );
        assert_eq!(fs::read_to_string(&file).unwrap(), "outside\n", "{l}");

        // Off: not there at all.
        let out = sh_with_args(&env, "wsoff", script, &["../outside/in.txt"]);
        assert_code(&out, 1, &l);
        assert!(stdout(&out).is_empty(), "{l}");
        assert!(
            stderr(&out).contains("No such file"),
            "{l} {}",
            stderr(&out)
        );

        // Read-write: the change reaches the host, as the caller.
        let out = sh_with_args(&env, "wsrw", script, &[file.to_str().unwrap()]);
        assert_ok(&out, &l);
        assert_eq!(fs::read_to_string(&file).unwrap(), "changed\n", "{l}");
        let m = fs::metadata(&file).unwrap();
        assert_eq!((m.uid(), m.gid()), (env.who.uid, env.who.gid), "{l}");
    }
}

#[test]
fn option_values_are_mounted_read_write_in_both_spellings() {
    for env in Env::all() {
        install_arg_recipes(&env);
        let l = env.label();
        let dir = env.dir().join("results");
        env.mkdir(&dir);
        // The files do not exist yet: their directory is mounted read-write.
        let attached = format!("-o{}/a.txt", dir.display());
        let long = format!("--output={}/b.txt", dir.display());
        let script = "echo a > \"${1#-o}\" && echo b > \"${2#--output=}\"";
        let out = sh_with_args(&env, "wsro", script, &[&attached, &long]);
        assert_ok(&out, &l);
        assert_eq!(fs::read_to_string(dir.join("a.txt")).unwrap(), "a\n", "{l}");
        assert_eq!(fs::read_to_string(dir.join("b.txt")).unwrap(), "b\n", "{l}");

        // The same directory as a plain argument is read-only under `wsro`.
        let out = sh_with_args(
            &env,
            "wsro",
            "ls \"$1\"; echo c > \"$1/c.txt\"",
            &["../results"],
        );
        assert_code(&out, 1, &l);
        assert_eq!(stdout(&out), "a.txt\nb.txt\n", "{l}");
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{l} {}",
            stderr(&out)
        );
        assert!(!dir.join("c.txt").exists(), "{l}");
    }
}

#[test]
fn dangerous_argument_paths_are_skipped_with_a_message() {
    for env in Env::all() {
        install_arg_recipes(&env);
        let l = env.label();
        env.write(&env.home().join("private.txt"), "private\n");
        let home = env.home().display().to_string();
        let out = sh_with_args(
            &env,
            "wsrw",
            "cat /etc/motd; ls \"$2\"",
            &["/etc", &home, "/proc/self"],
        );
        assert_ok(&out, &l);
        // The image's /etc and an empty ephemeral home, not the host's.
        assert_eq!(stdout(&out), "image motd\n", "{l}");
        let err = stderr(&out);
        for line in [
            "jig: sh: not mounting /etc: /etc is a system directory".to_owned(),
            format!("jig: sh: not mounting {home}: it is the whole home directory"),
            "jig: sh: not mounting /proc/self: ".to_owned(),
        ] {
            assert!(err.contains(&line), "{l} missing {line:?} in {err}");
        }
    }
}

// ---------------------------------------------------------------------------------
// Tools calling tools
// ---------------------------------------------------------------------------------

/// Two recipes: `outer` (shims `sh`, `both`) and `inner` (shims `innertool`, `both2`),
/// each image with its own `/bin/both` and marker file.
fn install_two(env: &Env, images: &Path) {
    let both = |who: &str| format!("#!/bin/sh\necho \"both from the {who} image\"\n");
    let inner_tool = "#!/bin/sh\n\
        echo \"inner: $* uid=$(id -u) user=$(id -un) depth=$JIG_DEPTH pwd=$(pwd)\"\n\
        cat /etc/inner-marker ../top.txt\n\
        echo nested > ../made-nested\n";
    let outer = images.join("outer");
    if !outer.exists() {
        image_with(
            &outer,
            &[
                ("/bin/both", &both("outer"), 0o755),
                ("/etc/outer-marker", "outer image\n", 0o644),
            ],
        );
        image_with(
            &images.join("inner"),
            &[
                ("/bin/both", &both("inner"), 0o755),
                ("/bin/innertool", inner_tool, 0o755),
                ("/etc/inner-marker", "inner image\n", 0o644),
            ],
        );
    }
    for (name, shims) in [
        ("outer", "\"sh\", \"both\"]\n[env]\npass = [\"EDITOR\""),
        ("inner", "\"innertool\", \"both\""),
    ] {
        let path = env.dir().join(format!("{name}.toml"));
        env.write(
            &path,
            format!(
                "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:{}\"\n\
                 [tool]\nshims = [{shims}]\n",
                images.join(name).display()
            ),
        );
        let mut args = vec!["install", path.to_str().unwrap()];
        if name == "inner" {
            args.push("--force"); // takes `both` over from `outer`
        }
        let out = env.jig(&args);
        assert_ok(&out, &format!("{} install {name}", env.label()));
    }
}

#[test]
fn a_tool_calls_another_recipes_shim_in_a_nested_container() {
    let images = shared_tempdir("images-");
    for env in Env::all() {
        install_two(&env, images.path());
        let l = env.label();
        let sub = repo(&env);
        let out = run_in(
            env.shim_cmd("sh", &["-c", "innertool a b && cat /etc/outer-marker"]),
            &sub,
        );
        assert_ok(&out, &l);
        assert_eq!(
            stdout(&out),
            format!(
                "inner: a b uid={} user={} depth=2 pwd={}\ninner image\nat the root\nouter image\n",
                env.who.uid,
                env.who.name,
                sub.display()
            ),
            "{l} {}",
            stderr(&out)
        );
        // The nested container wrote into the same workspace, as the caller.
        let made = env.project().join("made-nested");
        assert_eq!(fs::read_to_string(&made).unwrap(), "nested\n", "{l}");
        assert_eq!(fs::metadata(&made).unwrap().uid(), env.who.uid, "{l}");

        // The image's own `both` wins over the shim of the same name.
        let out = run_in(env.shim_cmd("sh", &["-c", "both"]), &sub);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "both from the outer image\n", "{l}");
        // The shim itself runs the inner image's.
        let out = run_in(env.shim_cmd("both", &[]), &sub);
        assert_eq!(stdout(&out), "both from the inner image\n", "{l}");

        // EDITOR naming a host path the image lacks runs the shim of that name.
        let mut c = env.shim_cmd("sh", &["-c", "echo \"$EDITOR\"; $EDITOR file"]);
        c.env("EDITOR", "/usr/local/bin/innertool");
        let out = run_in(c, &sub);
        assert_ok(&out, &l);
        assert!(
            stdout(&out).starts_with("innertool\ninner: file uid="),
            "{l} {}",
            stdout(&out)
        );

        // jig's data directory is read-only inside.
        let out = run_in(
            env.shim_cmd("sh", &["-c", "touch \"$JIG_HOME/installed.json\""]),
            &sub,
        );
        assert_code(&out, 1, &l);
        assert!(
            stderr(&out).contains("Read-only file system"),
            "{l} {}",
            stderr(&out)
        );
    }
}
