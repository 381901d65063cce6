//! The built-in Debian recipes' images, built once per identity and per jig binary and
//! shared on disk by every test thread and test process (nextest runs each test in its
//! own process): `$TMPDIR/jig-debian-<uid>-<hash of the jig binary>/`, owned by the
//! identity, holds a copy of jig and a `JIG_HOME` in which each tool a test asked for
//! was installed once (`jig install git`, `jig install git@2.39`: a `ready-TOOL` stamp
//! each). `build.lock` (flock) lets one process install while the others wait;
//! `use.lock` is held shared while a process uses the directory. The directory stays
//! after the run so the next run with the same jig binary starts warm; directories of
//! other jig binaries unused for an hour are removed. `rm -rf /tmp/jig-debian-*`
//! resets everything (the next run builds again).
//!
//! Each test gets its own `Env` (home and project) and uses the shared `JIG_HOME`
//! ([`setups_with`]).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use super::*;

/// Shared directories of other jig binaries unused for this long are removed.
const SWEEP_AFTER: Duration = Duration::from_secs(3600);

// ---------------------------------------------------------------------------------
// The shared images
// ---------------------------------------------------------------------------------

/// One identity's shared `JIG_HOME`, with the tools installed that tests asked for.
pub struct Shared {
    pub who: Identity,
    /// `$TMPDIR/jig-debian-<uid>-<hash>`, owned by `who`.
    pub dir: PathBuf,
    /// The copy of jig inside `dir` that the shims point at.
    pub jig: PathBuf,
    /// Held (shared flock) for the life of the test process: keeps sweepers away.
    _in_use: File,
}

impl Shared {
    pub fn jig_home(&self) -> PathBuf {
        self.dir.join("jig-home")
    }
    pub fn shims(&self) -> PathBuf {
        self.jig_home().join("shims")
    }
}

static SHARED: OnceLock<Vec<Shared>> = OnceLock::new();

/// The shared directory of every identity, with `tools` installed in it: built (in
/// parallel, one thread per identity) or found.
pub fn shared_all(tools: &'static [&'static str]) -> &'static [Shared] {
    let all = SHARED.get_or_init(|| {
        let threads: Vec<_> = Identity::all()
            .into_iter()
            .map(|who| std::thread::spawn(move || Shared::get(who)))
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect::<Vec<_>>()
    });
    std::thread::scope(|s| {
        let threads: Vec<_> = all.iter().map(|sh| s.spawn(|| sh.ensure(tools))).collect();
        for t in threads {
            t.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
        }
    });
    all
}

/// A short digest naming the jig binary under test (path, inode, size, mtime: cargo
/// writes a new file for every build, and hashing 100 MB of debug binary in every
/// test process would cost seconds).
fn jig_binary_hash() -> String {
    let path = env!("CARGO_BIN_EXE_jig");
    let m = fs::metadata(path).expect("the jig binary");
    let text = format!(
        "{path}\0{}\0{}\0{}.{}",
        m.ino(),
        m.size(),
        m.mtime(),
        m.mtime_nsec()
    );
    let digest = Sha256::digest(text.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn flock(file: &File, op: libc::c_int) -> io::Result<()> {
    loop {
        // SAFETY: flock on a descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Opens (creating) a lock file inside a directory owned by `who`, never following
/// a symlink.
fn open_lock(path: &Path, who: &Identity) -> File {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    if who.switch {
        let _ = std::os::unix::fs::fchown(&f, Some(who.uid), Some(who.gid));
    }
    f
}

fn chown_to(path: &Path, who: &Identity) {
    if who.switch {
        std::os::unix::fs::lchown(path, Some(who.uid), Some(who.gid))
            .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
    }
}

impl Shared {
    /// Finds or makes `who`'s shared directory (with a copy of jig in it). Blocks while
    /// another process holds its build lock.
    fn get(who: Identity) -> Shared {
        let prefix = format!("jig-debian-{}-", who.uid);
        let dir = std::env::temp_dir().join(format!("{prefix}{}", jig_binary_hash()));
        let build_lock = Self::lock(&who, &dir);
        let jig = dir.join("bin/jig");
        if jig.exists() {
            eprintln!(
                "jig tests: reusing the Debian images in {} (rm -rf {}* rebuilds them)",
                dir.display(),
                std::env::temp_dir().join("jig-debian-").display()
            );
        } else {
            Self::copy_jig(&who, &dir, &jig);
        }
        let used = dir.join("used");
        if fs::write(&used, b"").is_ok() {
            chown_to(&used, &who);
        }
        let in_use = open_lock(&dir.join("use.lock"), &who);
        flock(&in_use, libc::LOCK_SH).expect("flock use.lock");
        drop(build_lock);
        sweep(&prefix, &dir);
        Shared {
            who,
            dir,
            jig,
            _in_use: in_use,
        }
    }

    /// Creates `dir` (owned by `who`) if needed and takes its build lock.
    fn lock(who: &Identity, dir: &Path) -> File {
        loop {
            match fs::create_dir(dir) {
                Ok(()) => {
                    fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
                    chown_to(dir, who);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => panic!("mkdir {}: {e}", dir.display()),
            }
            let m = fs::symlink_metadata(dir).unwrap();
            assert!(
                m.is_dir() && m.uid() == who.uid,
                "{} is not a directory owned by uid {}; remove it",
                dir.display(),
                who.uid
            );
            let path = dir.join("build.lock");
            let f = open_lock(&path, who);
            flock(&f, libc::LOCK_EX).expect("flock build.lock");
            // A sweeper may have removed the directory while we waited: start over.
            let same =
                fs::symlink_metadata(&path).is_ok_and(|p| p.ino() == f.metadata().unwrap().ino());
            if same {
                return f;
            }
        }
    }

    /// Copies the jig under test into `dir/bin`.
    fn copy_jig(who: &Identity, dir: &Path, jig: &Path) {
        let bin = dir.join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        chown_to(&bin, who);
        let tmp = bin.join(format!(".jig.{}", std::process::id()));
        fs::copy(env!("CARGO_BIN_EXE_jig"), &tmp).expect("copy the jig binary");
        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
        chown_to(&tmp, who);
        fs::rename(&tmp, jig).unwrap();
    }

    /// Installs each of `tools` (`git`, `git@2.39`) that is not installed yet, under
    /// the build lock; a `ready-TOOL` stamp records each one that was.
    fn ensure(&self, tools: &[&str]) {
        let stamp = |tool: &str| self.dir.join(format!("ready-{tool}"));
        if tools.iter().all(|t| stamp(t).exists()) {
            return;
        }
        let _lock = Self::lock(&self.who, &self.dir);
        // A scratch Env supplies HOME, the project directory and the identity switch.
        let env = Env::new(self.who.clone());
        for tool in tools {
            if stamp(tool).exists() {
                continue;
            }
            let started = Instant::now();
            let mut c = env.command(&self.jig);
            c.arg("install").arg(tool).env("JIG_HOME", self.jig_home());
            let out = run(c);
            assert_ok(
                &out,
                &format!("{} jig install {tool} (shared build)", env.label()),
            );
            let line = format!(
                "{tool}: {:.1} s as {}\n",
                started.elapsed().as_secs_f64(),
                self.who.name
            );
            eprint!("jig tests: built {line}");
            fs::write(stamp(tool), line).unwrap();
            chown_to(&stamp(tool), &self.who);
        }
    }
}

/// Removes the shared directories of other jig binaries (same uid) that nobody uses
/// and nobody used for [`SWEEP_AFTER`].
fn sweep(prefix: &str, keep: &Path) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let is_ours = e
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(prefix));
        if !is_ours || path == keep {
            continue;
        }
        let stamp = fs::metadata(path.join("used")).or_else(|_| fs::metadata(&path));
        let idle = stamp
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|d| d > SWEEP_AFTER);
        if !idle {
            continue;
        }
        let try_lock = |name: &str| {
            let f = File::open(path.join(name)).ok()?;
            flock(&f, libc::LOCK_EX | libc::LOCK_NB).ok()?;
            Some(f)
        };
        let (Some(_b), Some(_u)) = (try_lock("build.lock"), try_lock("use.lock")) else {
            continue;
        };
        if fs::remove_dir_all(&path).is_err() {
            // Image trees may hold read-only directories: open them up and retry.
            make_writable(&path);
            let _ = fs::remove_dir_all(&path);
        }
        eprintln!("jig tests: removed the unused {}", path.display());
    }
}

fn make_writable(dir: &Path) {
    let Ok(m) = fs::symlink_metadata(dir) else {
        return;
    };
    if !m.is_dir() {
        return;
    }
    let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o700));
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            make_writable(&e.path());
        }
    }
}

// ---------------------------------------------------------------------------------
// One test's view: a fresh Env (home, project) using a shared JIG_HOME
// ---------------------------------------------------------------------------------

pub struct T {
    pub env: Env,
    pub shared: &'static Shared,
}

/// One fresh environment per identity, each with its identity's shared images, in
/// which `tools` are installed.
pub fn setups_with(tools: &'static [&'static str]) -> Vec<T> {
    shared_all(tools)
        .iter()
        .map(|shared| T {
            env: Env::new(shared.who.clone()),
            shared,
        })
        .collect()
}

impl T {
    pub fn label(&self) -> String {
        self.env.label()
    }
    pub fn project(&self) -> PathBuf {
        self.env.project()
    }
    pub fn home(&self) -> PathBuf {
        self.env.home()
    }

    /// A command as this identity in the project, with the shared `JIG_HOME` and the
    /// shim directory first on PATH (as `jig activate` arranges).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = self.env.command(program);
        c.env("JIG_HOME", self.shared.jig_home()).env(
            "PATH",
            format!("{}:/usr/bin:/bin", self.shared.shims().display()),
        );
        c
    }
    pub fn jig_cmd(&self, args: &[&str]) -> Command {
        let mut c = self.command(&self.shared.jig);
        c.args(args);
        c
    }
    pub fn jig(&self, args: &[&str]) -> Output {
        run(self.jig_cmd(args))
    }
    pub fn shim_cmd(&self, name: &str, args: &[&str]) -> Command {
        let mut c = self.command(self.shared.shims().join(name));
        c.args(args);
        c
    }
    pub fn shim(&self, name: &str, args: &[&str]) -> Output {
        run(self.shim_cmd(name, args))
    }
    pub fn git(&self, args: &[&str]) -> Output {
        self.shim("git", args)
    }
    /// `git ARGS`, which must succeed; returns its stdout.
    pub fn git_ok(&self, args: &[&str]) -> String {
        let out = self.git(args);
        assert_ok(&out, &format!("{} git {}", self.label(), args.join(" ")));
        stdout(&out)
    }
    /// A host shell running SCRIPT (the shims come first on its PATH).
    pub fn host_sh(&self, script: &str) -> Output {
        let mut c = self.command("/bin/sh");
        c.arg("-c").arg(script);
        run(c)
    }

    /// The full image id (`sha256:...`) `jig which TOOL` reports.
    pub fn image_id(&self, tool: &str) -> String {
        let out = self.jig(&["which", tool]);
        assert_ok(&out, &format!("{} jig which {tool}", self.label()));
        stdout(&out)
            .lines()
            .find_map(|l| l.strip_prefix("image:"))
            .and_then(|l| l.split_whitespace().next())
            .expect("an image: line")
            .to_owned()
    }

    /// `~/.gitconfig` with a user identity and a default branch name.
    pub fn write_gitconfig(&self) {
        self.env.write(
            &self.home().join(".gitconfig"),
            "[user]\n\tname = Jig Tester\n\temail = jig-tester@example.invalid\n\
             [init]\n\tdefaultBranch = trunk\n",
        );
    }

    /// A git repository in the project with `n` commits `c1..cn`, each adding a file.
    pub fn repo_with_commits(&self, n: usize) {
        self.write_gitconfig();
        self.git_ok(&["init", "-q"]);
        for i in 1..=n {
            let name = format!("file{i}.txt");
            self.env
                .write(&self.project().join(&name), format!("content {i}\n"));
            self.git_ok(&["add", &name]);
            self.git_ok(&["commit", "-q", "-m", &format!("c{i}")]);
        }
    }

    /// Asserts that everything below `root` (and `root`) belongs to this identity;
    /// returns how many entries there are.
    pub fn assert_owned_tree(&self, root: &Path) -> usize {
        let l = self.label();
        let mut count = 0;
        let mut todo = vec![root.to_owned()];
        while let Some(p) = todo.pop() {
            let m = fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{l} {p:?}: {e}"));
            assert_eq!(
                (m.uid(), m.gid()),
                (self.env.who.uid, self.env.who.gid),
                "{l} {} has the wrong owner",
                p.display()
            );
            count += 1;
            if m.is_dir() {
                for e in fs::read_dir(&p).unwrap() {
                    todo.push(e.unwrap().path());
                }
            }
        }
        count
    }
}
