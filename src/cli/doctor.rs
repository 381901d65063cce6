//! `jig doctor`: checks that this machine can run jig and says how to fix what cannot.
//!
//! The namespace checks are done for real in a forked child (the same syscalls a
//! launch makes), since sysctl values alone do not tell the whole story: Ubuntu's
//! AppArmor restriction lets `unshare` succeed and then refuses the id maps. The
//! containment checks say what the kernel adds around each tool (Landlock scopes, the
//! TIOCSTI sysctl); the store check is structural only (files parse and exist), cheap
//! enough to run every time.

use std::fs;
use std::path::Path;

use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, fork};

use crate::base::paths::Dirs;
use crate::image::store::Store;
use crate::runtime::{mount, userns};

struct Report {
    failures: u32,
}

impl Report {
    fn ok(&self, what: &str) {
        println!("ok    {what}");
    }
    fn fail(&mut self, what: &str, fix: &str) {
        self.failures += 1;
        println!("FAIL  {what}");
        for l in fix.lines() {
            println!("      {l}");
        }
    }
    fn warn(&self, what: &str, fix: &str) {
        println!("warn  {what}");
        for l in fix.lines() {
            println!("      {l}");
        }
    }
}

fn read_sysctl(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_owned())
}

/// Runs every check, prints one line each, and returns 0 if jig can run here.
pub fn run(dirs: &Dirs) -> i32 {
    let mut r = Report { failures: 0 };
    let release = read_sysctl("/proc/sys/kernel/osrelease").unwrap_or_default();
    println!("jig {} on Linux {release}", env!("CARGO_PKG_VERSION"));

    match read_sysctl("/proc/sys/kernel/unprivileged_userns_clone").as_deref() {
        Some("0") => r.fail(
            "kernel.unprivileged_userns_clone = 0: unprivileged user namespaces are disabled",
            "sudo sysctl -w kernel.unprivileged_userns_clone=1\n\
             echo kernel.unprivileged_userns_clone=1 | sudo tee /etc/sysctl.d/50-jig.conf",
        ),
        _ => r.ok("kernel.unprivileged_userns_clone allows user namespaces (or is absent)"),
    }
    match read_sysctl("/proc/sys/user/max_user_namespaces").as_deref() {
        Some("0") => r.fail(
            "user.max_user_namespaces = 0",
            "sudo sysctl -w user.max_user_namespaces=15000",
        ),
        Some(n) => r.ok(&format!("user.max_user_namespaces = {n}")),
        None => r.warn("user.max_user_namespaces is not readable", ""),
    }
    if read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns").as_deref() == Some("1")
    {
        r.warn(
            "kernel.apparmor_restrict_unprivileged_userns = 1 (Ubuntu 23.10+): AppArmor may refuse jig's namespaces",
            "if the namespace check below fails, either allow them system-wide:\n\
             \x20 sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\n\
             or give jig an AppArmor profile with the `userns,` rule:\n\
             \x20 /etc/apparmor.d/jig: abi <abi/4.0>, include <tunables/global>\n\
             \x20 profile jig /path/to/jig flags=(unconfined) { userns, }\n\
             \x20 then: sudo apparmor_parser -r /etc/apparmor.d/jig",
        );
    }

    let store = Store::new(dirs.store());
    match store.ensure() {
        Ok(()) => r.ok(&format!("store {} is writable", store.root().display())),
        Err(e) => r.fail(
            &format!("store {} is not usable: {e:#}", store.root().display()),
            "",
        ),
    }
    for (fine, what, fix) in super::verify::quick_check(dirs) {
        if fine {
            r.ok(&what);
        } else {
            r.fail(&what, &fix);
        }
    }
    match namespace_check(&store) {
        Ok(()) => {
            r.ok("user + mount namespace with id maps, tmpfs, overlayfs and devpts: all work")
        }
        Err(e) => r.fail(
            &format!("namespace check failed: {e}"),
            "see the sysctl lines above",
        ),
    }

    let abi = crate::runtime::landlock::abi();
    if abi >= crate::runtime::landlock::SCOPES_ABI {
        r.ok(&format!(
            "Landlock ABI {abi}: tools cannot signal your other processes or reach abstract sockets outside their container"
        ));
    } else {
        r.warn(
            &format!(
                "Landlock ABI {abi}: tools can signal your other processes and connect to abstract unix sockets (X servers, listeners of yours)"
            ),
            "Landlock scopes need Linux 6.12 or later with Landlock enabled\n\
             (CONFIG_SECURITY_LANDLOCK=y and `landlock` in the lsm= boot parameter)",
        );
    }
    match read_sysctl("/proc/sys/dev/tty/legacy_tiocsti").as_deref() {
        Some("0") => r.ok("dev.tty.legacy_tiocsti = 0: no process can push input into a terminal"),
        Some(_) => r.warn(
            "dev.tty.legacy_tiocsti = 1: programs outside jig can push input into your terminal (TIOCSTI)",
            "jig's tools cannot (a seccomp filter refuses TIOCSTI in every launch and build);\n\
             to close it for everything: sudo sysctl -w dev.tty.legacy_tiocsti=0",
        ),
        None => r.warn(
            "dev.tty.legacy_tiocsti is absent (Linux before 6.2): programs outside jig can push input into your terminal",
            "jig's tools cannot: a seccomp filter refuses TIOCSTI in every launch and build",
        ),
    }

    let keyring = crate::base::config::load()
        .ok()
        .and_then(|c| c.debian_keyring)
        .unwrap_or_else(|| crate::image::source::debian::DEFAULT_KEYRING.into());
    if keyring.is_file() {
        r.ok(&format!(
            "Debian archive keyring {} (for debian: images)",
            keyring.display()
        ));
    } else {
        r.warn(
            &format!("no Debian archive keyring at {}: debian: images cannot be verified", keyring.display()),
            "install the debian-archive-keyring package, or set debian_keyring in jig's config.toml",
        );
    }

    let path = std::env::var_os("PATH").unwrap_or_default();
    let entries: Vec<_> = std::env::split_paths(&path).collect();
    match entries.iter().position(|d| d == &dirs.shims) {
        None => r.warn(
            &format!("shim directory {} is not on PATH", dirs.shims.display()),
            "add to your shell rc file: eval \"$(jig activate)\"",
        ),
        Some(i) => {
            let shadowing = entries[..i]
                .iter()
                .filter(|d| Path::new(d).join("git").exists() || d.starts_with("/usr"))
                .count();
            if shadowing > 0 {
                r.warn(
                    &format!("shim directory {} is on PATH but not first", dirs.shims.display()),
                    "host tools earlier on PATH win over jig's shims; put `eval \"$(jig activate)\"` last in your rc file",
                );
            } else {
                r.ok(&format!(
                    "shim directory {} is first on PATH",
                    dirs.shims.display()
                ));
            }
        }
    }
    if r.failures == 0 { 0 } else { 1 }
}

/// Makes a launch's namespace and mounts in a child process and reports the first
/// failure.
fn namespace_check(store: &Store) -> Result<(), String> {
    // Owned like any temp directory of the store, so a concurrent import's sweep of
    // tmp/ leaves it alone.
    let owned = crate::image::store::temp::owned_dir(&store.tmp_dir(), "doctor-")
        .map_err(|e| e.to_string())?;
    let scratch = owned.path.clone();
    let lower = scratch.join("lower");
    let mnt = scratch.join("mnt");
    fs::create_dir_all(&lower).map_err(|e| e.to_string())?;
    fs::create_dir_all(&mnt).map_err(|e| e.to_string())?;
    let (uid, gid) = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    // SAFETY: jig is single-threaded here; the child only makes syscalls and exits.
    let result = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let code = match userns::enter(uid, gid) {
                Err(_) => 10,
                Ok(()) => match mount::root(
                    std::slice::from_ref(&lower),
                    &mnt,
                    &mount::Upper {
                        dirs: &[],
                        files: &[],
                        links: &[],
                    },
                ) {
                    Err(e) if e.to_string().contains("overlay") => 12,
                    Err(_) => 11,
                    Ok(mut root) => match mount::devpts(&mut root, Path::new("/dev/pts")) {
                        Err(_) => 13,
                        Ok(()) => 0,
                    },
                },
            };
            // SAFETY: _exit in the forked child, skipping the parent's atexit state.
            unsafe { libc::_exit(code) }
        }
        Ok(ForkResult::Parent { child }) => match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, 0)) => Ok(()),
            Ok(WaitStatus::Exited(_, 10)) => {
                Err("cannot create a user namespace or write its id maps".into())
            }
            Ok(WaitStatus::Exited(_, 11)) => {
                Err("cannot mount a tmpfs inside the namespace".into())
            }
            Ok(WaitStatus::Exited(_, 12)) => {
                Err("cannot mount overlayfs inside the namespace (needs Linux 5.11+)".into())
            }
            Ok(WaitStatus::Exited(_, 13)) => {
                Err("cannot mount a devpts instance inside the namespace".into())
            }
            other => Err(format!("check process ended unexpectedly: {other:?}")),
        },
        Err(e) => Err(format!("fork: {e}")),
    };
    let _ = crate::image::store::remove_tree(&scratch);
    result
}
