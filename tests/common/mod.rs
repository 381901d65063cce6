//! Test harness: runs the real `jig` binary against a busybox image, once per identity.
//!
//! Every scenario runs as the current user and, when that is root and `JIG_TEST_USER`
//! names an unprivileged user, once more as that user (through `setpriv`, which execs
//! in place, so exit statuses and signals reach the test unchanged). Each [`Env`] has
//! its own `JIG_HOME`, `$HOME` and project directory, owned by its user.
//!
//! Shared per test process (built once): a world-readable base directory in /tmp with
//! a copy of the jig binary (the checkout may sit below a 0700 directory), the busybox
//! root filesystem and the `bb` recipe beside it.
//!
//! Beside it: [`tmux`] (a real terminal), [`tar`] (archives written header by header),
//! [`debian`] (the built-in recipes' images, built once and shared), [`registry`] (a
//! real OCI registry and uploads to it) and [`sbom`] (the SBOM schema check).

#![allow(dead_code)] // each test file uses a different part of the harness

pub mod debian;
pub mod registry;
pub mod sbom;
pub mod tar;
pub mod tmux;

use std::ffi::OsStr;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// The recipe the fixture installs. `from` is relative to the recipe file.
pub const RECIPE: &str = r#"name = "bb"
version = "1.35"
description = "busybox test tool"
[image]
from = "rootfs:rootfs"
[tool]
shims = ["sh", "echo", "id", "pwd", "cat", "touch", "ls", "sleep", "env", "tty"]
[mounts]
home = [".bbrc"]
home_rw = [".bbcache"]
[env]
pass = ["BB_*"]
set = { BB_MODE = "test" }
"#;

/// PATH of an image that declares none (jig's default, as Docker and Debian use).
pub const IMAGE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What every test process shares.
pub struct Fixture {
    /// World-readable base directory, removed when the test process exits.
    pub base: PathBuf,
    /// The copy of jig that every identity can execute.
    pub jig: PathBuf,
    /// The busybox root filesystem.
    pub rootfs: PathBuf,
    /// `bb.toml`, beside `rootfs/`.
    pub recipe: PathBuf,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

extern "C" fn remove_base() {
    if let Some(f) = FIXTURE.get() {
        let _ = fs::remove_dir_all(&f.base);
    }
}

/// The jig binary under test: `JIG_TEST_BIN` (script/test sets it to the static
/// release build for a second pass), else the one cargo built for the tests.
pub fn jig_binary() -> std::path::PathBuf {
    std::env::var_os("JIG_TEST_BIN")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_jig").into())
}

/// The shared fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(|| {
        sweep_stale_bases();
        let base = std::env::temp_dir().join(format!("jig-it-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        mkdir_mode(&base, 0o755);
        // SAFETY: registers a plain extern "C" fn; it only removes our own directory.
        unsafe { libc::atexit(remove_base) };

        let bin = base.join("bin");
        mkdir_mode(&bin, 0o755);
        let jig = bin.join("jig");
        // A hard link is enough (the inode is 0755; only the path was unreachable).
        let built = jig_binary();
        if fs::hard_link(&built, &jig).is_err() {
            fs::copy(&built, &jig).expect("copy the jig binary");
        }
        fs::set_permissions(&jig, fs::Permissions::from_mode(0o755)).unwrap();

        let rootfs = base.join("rootfs");
        build_busybox_rootfs(&rootfs);
        let recipe = base.join("bb.toml");
        fs::write(&recipe, RECIPE).unwrap();
        Fixture {
            base,
            jig,
            rootfs,
            recipe,
        }
    })
}

/// Removes base directories left by test processes that are gone (killed runs).
fn sweep_stale_bases() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix("jig-it-")) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !Path::new("/proc").join(pid).exists() {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

fn mkdir_mode(p: &Path, mode: u32) {
    fs::create_dir_all(p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// A busybox root: `/bin/busybox`, one absolute symlink `/bin/APPLET -> /bin/busybox`
/// per applet (resolved inside the image), `/etc/passwd`, `/etc/group` and `/etc/motd`.
///
/// The links are made here rather than by `busybox --install -s DIR`: that names the
/// host's own path of busybox (`/usr/bin/busybox` on merged-/usr hosts) as the target,
/// which does not exist in the image.
pub fn build_busybox_rootfs(root: &Path) {
    let bin = root.join("bin");
    mkdir_mode(&bin, 0o755);
    mkdir_mode(&root.join("etc"), 0o755);
    fs::copy("/bin/busybox", bin.join("busybox"))
        .expect("/bin/busybox (Debian: busybox-static) is needed for the tests");
    fs::set_permissions(bin.join("busybox"), fs::Permissions::from_mode(0o755)).unwrap();
    let list = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    assert!(list.status.success());
    let applets = String::from_utf8(list.stdout).unwrap();
    for applet in applets.lines().filter(|a| !a.is_empty() && *a != "busybox") {
        symlink("/bin/busybox", bin.join(applet)).unwrap();
    }
    for needed in ["sh", "tty", "id", "cat", "sleep", "kill"] {
        assert!(
            applets.lines().any(|a| a == needed),
            "busybox lacks {needed}"
        );
    }
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    fs::write(root.join("etc/motd"), "image motd\n").unwrap();
}

/// A copy of the fixture's busybox root with `extra` files (path, contents, mode) and,
/// when the jig under test is dynamically linked (debug builds), the host's dynamic
/// loader and the libraries jig needs, so a shim inside can run it. The release build
/// is static and needs none of that.
pub fn image_with(dir: &Path, extra: &[(&str, &str, u32)]) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let root = dir.to_owned();
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&fixture().rootfs)
        .arg(&root)
        .status()
        .unwrap();
    assert!(cp.success());
    add_libraries(&root, &fixture().jig);
    for (path, contents, mode) in extra {
        let p = root.join(path.trim_start_matches('/'));
        fs::write(&p, contents).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(*mode)).unwrap();
    }
    let _ = Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(&root)
        .status();
    root
}

/// A temporary directory in the fixture's base that every identity can read (images
/// built by the test for all of them), removed when dropped.
pub fn shared_tempdir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(&fixture().base)
        .unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Copies the dynamic loader and the shared libraries `program` needs (as `ldd` finds
/// them on the host) into the image at `root`, at the paths the binary names. A static
/// program needs none and gets none.
pub fn add_libraries(root: &Path, program: &Path) {
    let ldd = Command::new("ldd").arg(program).output().unwrap();
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let lib = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        let Some(lib) = lib.filter(|l| l.starts_with('/')) else {
            continue;
        };
        let dst = root.join(lib.trim_start_matches('/'));
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        // Dereferenced: the image gets the file at the path the binary names.
        fs::copy(lib, &dst).unwrap();
    }
}

/// Who a scenario runs as.
#[derive(Debug, Clone)]
pub struct Identity {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    /// True when commands must be switched to this user (we are root, it is not us).
    pub switch: bool,
}

impl Identity {
    fn current() -> Identity {
        let uid = nix::unistd::getuid();
        let gid = nix::unistd::getgid();
        let name = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map(|u| u.name)
            .expect("the current user has a passwd entry");
        Identity {
            name,
            uid: uid.as_raw(),
            gid: gid.as_raw(),
            switch: false,
        }
    }

    fn named(name: &str) -> Identity {
        let u = nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("JIG_TEST_USER={name}: no such user"));
        assert_ne!(u.uid.as_raw(), 0, "JIG_TEST_USER must be unprivileged");
        Identity {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            switch: true,
        }
    }

    /// The identities every scenario runs as.
    pub fn all() -> Vec<Identity> {
        let me = Identity::current();
        let other = std::env::var("JIG_TEST_USER")
            .ok()
            .filter(|u| !u.is_empty());
        let mut out = vec![me.clone()];
        match other {
            Some(name) if me.uid == 0 => out.push(Identity::named(&name)),
            Some(_) => {} // not root: we cannot switch, and we are unprivileged already
            None if me.uid == 0 && std::env::var_os("CI").is_some() => panic!(
                "running as root in CI without JIG_TEST_USER: the unprivileged half of the \
                 suite would be skipped. Create an unprivileged user and set JIG_TEST_USER to its name."
            ),
            None => {}
        }
        let names: Vec<_> = out.iter().map(|i| i.name.as_str()).collect();
        eprintln!("jig tests: running as {}", names.join(" and "));
        out
    }
}

/// One identity's world: its own JIG_HOME, $HOME and project directory.
pub struct Env {
    pub who: Identity,
    dir: tempfile::TempDir,
}

impl Env {
    /// One fresh environment per identity.
    pub fn all() -> Vec<Env> {
        Identity::all().into_iter().map(Env::new).collect()
    }

    /// A fresh environment for `who`.
    pub fn new(who: Identity) -> Env {
        let envs = fixture().base.join("envs");
        if !envs.exists() {
            let _ = fs::create_dir(&envs);
            fs::set_permissions(&envs, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("{}-", who.name))
            .tempdir_in(&envs)
            .unwrap();
        let env = Env { who, dir };
        fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        env.own(env.dir.path());
        for d in [env.home(), env.project()] {
            env.mkdir(&d);
        }
        env
    }

    /// The directory holding this environment's files (owned by its user).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
    /// `$HOME` for every command.
    pub fn home(&self) -> PathBuf {
        self.dir().join("home")
    }
    /// The working directory for every command.
    pub fn project(&self) -> PathBuf {
        self.dir().join("project")
    }
    /// `JIG_HOME` (created by jig itself).
    pub fn jig_home(&self) -> PathBuf {
        self.dir().join("jig-home")
    }
    pub fn shims(&self) -> PathBuf {
        self.jig_home().join("shims")
    }
    pub fn shim_path(&self, name: &str) -> PathBuf {
        self.shims().join(name)
    }
    /// A label for assertion messages.
    pub fn label(&self) -> String {
        format!("[as {} uid={}]", self.who.name, self.who.uid)
    }

    /// Gives `path` (not recursive) to this environment's user.
    pub fn own(&self, path: &Path) {
        if self.who.switch {
            std::os::unix::fs::lchown(path, Some(self.who.uid), Some(self.who.gid))
                .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
        }
    }
    /// Creates a directory owned by this environment's user.
    pub fn mkdir(&self, path: &Path) {
        fs::create_dir_all(path).unwrap();
        self.own(path);
    }
    /// Writes a file owned by this environment's user.
    pub fn write(&self, path: &Path, contents: impl AsRef<[u8]>) {
        fs::write(path, contents).unwrap();
        self.own(path);
    }

    /// A command with a clean environment, run as this identity in the project directory.
    /// `program` is looked up in the PATH given here (`/usr/bin:/bin`), like a shell does.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = if self.who.switch {
            let mut c = Command::new("/usr/bin/setpriv");
            c.arg(format!("--reuid={}", self.who.uid))
                .arg(format!("--regid={}", self.who.gid))
                .arg("--init-groups")
                .arg("--")
                .arg(program);
            c
        } else {
            Command::new(program)
        };
        c.env_clear()
            .env("HOME", self.home())
            .env("USER", &self.who.name)
            .env("LOGNAME", &self.who.name)
            .env("JIG_HOME", self.jig_home())
            .env("PATH", "/usr/bin:/bin")
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .env("SHELL", "/bin/sh")
            // Installs approve the recipe's requests; the prompt itself is tested on its own.
            .env("JIG_YES", "1")
            .current_dir(self.project())
            .stdin(Stdio::null());
        c
    }

    /// `jig ARGS` as a command.
    pub fn jig_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.command(&fixture().jig);
        c.args(args);
        c
    }

    /// Runs `jig ARGS`.
    pub fn jig(&self, args: &[&str]) -> Output {
        run(self.jig_cmd(args))
    }

    /// The shim NAME (by its full path) as a command.
    pub fn shim_cmd(&self, name: &str, args: &[&str]) -> Command {
        let mut c = self.command(self.shim_path(name));
        c.args(args);
        c
    }

    /// Runs the shim NAME with ARGS.
    pub fn shim(&self, name: &str, args: &[&str]) -> Output {
        run(self.shim_cmd(name, args))
    }

    /// Runs `sh -c SCRIPT` through the shim.
    pub fn sh(&self, script: &str) -> Output {
        self.shim("sh", &["-c", script])
    }

    /// Installs the fixture's `bb` recipe and checks that it worked.
    pub fn install(&self) -> &Env {
        let out = self.jig(&["install", fixture().recipe.to_str().unwrap()]);
        assert_ok(&out, &format!("{} jig install", self.label()));
        for s in ["sh", "cat", "tty"] {
            assert!(self.shim_path(s).is_symlink(), "{} shim {s}", self.label());
        }
        self
    }

    /// The rootfs directory of the one image in this environment's store.
    pub fn image_rootfs(&self) -> PathBuf {
        let images: Vec<_> = fs::read_dir(self.jig_home().join("store/images"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(
            images.len(),
            1,
            "{} expected one image: {images:?}",
            self.label()
        );
        images[0].join("rootfs")
    }

    /// The image id `jig which TOOL` reports.
    pub fn image_id(&self, tool: &str) -> String {
        let out = self.jig(&["which", tool]);
        assert_ok(&out, "jig which");
        stdout(&out)
            .lines()
            .find_map(|l| l.strip_prefix("image:"))
            .and_then(|l| l.split_whitespace().next())
            .expect("an image: line")
            .to_owned()
    }
}

/// Runs a command and captures its output (stdin from /dev/null unless set).
pub fn run(mut c: Command) -> Output {
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {:?}: {e}", c.get_program()))
}

/// Runs a command feeding `input` on stdin (written from a thread so large inputs
/// cannot deadlock against a full stdout pipe).
pub fn run_with_input(mut c: Command, input: Vec<u8>) -> Output {
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).expect("write stdin");
    });
    let out = child.wait_with_output().expect("wait");
    writer.join().unwrap();
    out
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts exit status 0, showing both streams otherwise.
pub fn assert_ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// Asserts the exit code, showing both streams otherwise.
pub fn assert_code(o: &Output, code: i32, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: {:?}\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

/// A digest of a directory tree as the host sees it: every path in order with its
/// kind, mode, owner, size, mtime and content (file bytes, symlink target).
pub fn tree_digest(root: &Path) -> String {
    fn walk(dir: &Path, rel: &str, h: &mut Sha256) {
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let path = e.path();
            let rel = format!("{rel}/{}", e.file_name().to_string_lossy());
            let m = fs::symlink_metadata(&path).unwrap();
            let header = format!(
                "{rel}\0{:o}\0{}:{}\0{}\0{}.{}\0",
                m.mode(),
                m.uid(),
                m.gid(),
                m.size(),
                m.mtime(),
                m.mtime_nsec()
            );
            h.update(header.as_bytes());
            let ft = m.file_type();
            if ft.is_symlink() {
                h.update(fs::read_link(&path).unwrap().as_os_str().as_encoded_bytes());
            } else if ft.is_file() {
                h.update(fs::read(&path).unwrap());
            } else if ft.is_dir() {
                walk(&path, &rel, h);
            }
            h.update(b"\n");
        }
    }
    let mut h = Sha256::new();
    walk(root, "", &mut h);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Polls `f` every 50 ms until it returns Some or `timeout` passes.
pub fn poll<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
