//! A launched tool: as root it keeps no capability that could undo its mounts; as
//! anyone it can signal no process and reach no abstract socket outside its container,
//! and sees no terminal of the user but its own; `TZ` brings in a zone of the host's
//! database and no other host file.

use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Stdio};
use std::time::Duration;

use super::*;

/// Installs the probe recipe in `env` and returns the temp dir holding its image.
fn install_probe(env: &Env, rest: &str) -> tempfile::TempDir {
    let dir = shared_tempdir("probe-");
    let rootfs = probe_image(dir.path());
    let recipe = probe_recipe(env, "prober", &rootfs, "", rest);
    let out = env.jig(&["install", recipe.to_str().unwrap()]);
    assert_ok(&out, &format!("{} install", env.label()));
    dir
}

/// Kills and reaps a helper process when dropped.
struct Reap(Child);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_tool_cannot_unmount_its_way_to_the_host_even_as_root() {
    for env in Env::all() {
        let l = env.label();
        let _image = install_probe(&env, "[mounts]\nhome = [\".bbrc\"]");
        // Outside the workspace (the project directory), on the host.
        let victim = env.dir().join("victim");
        env.write(&victim, "host\n");
        let out = env.shim("probe", &["escape", victim.to_str().unwrap(), "pwned\n"]);
        assert_ok(&out, &l);
        assert_eq!(fs::read_to_string(&victim).unwrap(), "host\n", "{l}");
        let said = stdout(&out);
        assert!(said.contains("umount2 errno=1"), "{l} {said}");
        assert!(said.contains("setns errno=1"), "{l} {said}");

        // A declared read-only home file cannot be made writable again.
        let rc = env.home().join(".bbrc");
        env.write(&rc, "setting=1\n");
        let out = env.shim("probe", &["remount-rw", rc.to_str().unwrap(), "evil=1\n"]);
        assert_ok(&out, &l);
        assert_eq!(fs::read_to_string(&rc).unwrap(), "setting=1\n", "{l}");
        assert!(stdout(&out).contains("remount errno=1"), "{l}");

        // Positive control: the same tool writes its workspace and reads the home file.
        let inside = env.project().join("made-inside");
        let out = env.shim("probe", &["append", inside.to_str().unwrap(), "ok\n"]);
        assert_ok(&out, &l);
        assert_eq!(fs::read_to_string(&inside).unwrap(), "ok\n", "{l}");
        let out = env.sh("cat ~/.bbrc");
        assert_eq!(stdout(&out), "setting=1\n", "{l}");
    }
}

/// The zone `TZ` names is copied in from the host's database (glibc has no other
/// source in an image without tzdata); a `TZ` naming another host file, by an absolute
/// path or by climbing out of the database, copies nothing.
#[test]
fn tz_brings_in_a_zone_of_the_hosts_database_and_no_other_file() {
    let zone = "/usr/share/zoneinfo/America/New_York";
    let data = fs::read(zone).expect("the host's tzdata (script/deps installs it)");
    for env in Env::all() {
        let l = env.label();
        env.install();
        // Outside the workspace, so not mounted: only the zone copy could bring it in.
        let secret = env.dir().join("secret");
        env.write(&secret, "host secret\n");
        let s = secret.to_str().unwrap();
        let climb = format!("../../..{s}");
        let look = format!("cat {s} /usr/share/zoneinfo/{climb}; ls -R /usr/share/zoneinfo");
        for tz in [
            s.to_owned(),
            format!(":{s}"),
            climb.clone(),
            format!("/usr/share/zoneinfo/{climb}"),
        ] {
            let mut c = env.shim_cmd("sh", &["-c", &look]);
            c.env("TZ", &tz);
            let out = run(c);
            assert!(
                !stdout(&out).contains("secret"),
                "{l} TZ={tz} brought in a host file: {out:?}"
            );
        }
        // Positive control: a zone name brings in the host's zone file, byte for byte.
        let mut c = env.shim_cmd("cat", &[zone]);
        c.env("TZ", "America/New_York");
        let out = run(c);
        assert_ok(&out, &l);
        assert!(out.stdout == data, "{l}: the zone file differs");
    }
}

#[test]
fn a_tool_cannot_signal_the_users_other_processes() {
    for env in Env::all() {
        let l = env.label();
        let _image = install_probe(&env, "");
        // One of the user's processes on the host: say, their editor.
        let mut c = env.command("sleep");
        c.arg("300");
        let editor = Reap(c.spawn().unwrap());
        let pid = editor.0.id().to_string();
        let out = env.shim("probe", &["kill", &pid, "9"]);
        assert_ok(&out, &l);
        assert!(
            stdout(&out).contains("kill errno=1"),
            "{l} {}",
            stdout(&out)
        );
        assert!(
            Path::new(&format!("/proc/{pid}")).exists(),
            "{l} the host process was killed"
        );
        // Positive controls: natively the user can signal it (signal 0 asks only), and
        // inside, the tool still signals its own children.
        let native = run({
            let mut c = env.command(probe());
            c.args(["kill", &pid, "0"]);
            c
        });
        assert!(stdout(&native).contains("kill ok"), "{l} {native:?}");
        let out = env.sh("sleep 100 & kill $!; wait $!; echo status=$?");
        assert_eq!(stdout(&out).trim(), "status=143", "{l} {out:?}");
    }
}

#[test]
fn a_tool_cannot_reach_abstract_sockets_outside() {
    for env in Env::all() {
        let l = env.label();
        let _image = install_probe(&env, "");
        let name = format!("jig-test-{}-{}", std::process::id(), env.who.uid);
        let mut c = env.command(probe());
        c.args(["listen-abstract", &name]).stdout(Stdio::piped());
        let mut listener = Reap(c.spawn().unwrap());
        // Wait until it listens.
        let listening = poll(Duration::from_secs(5), || {
            fs::read_to_string("/proc/net/unix")
                .unwrap()
                .contains(&format!("@{name}"))
                .then_some(())
        });
        assert!(listening.is_some(), "{l} the listener did not start");
        let out = env.shim("probe", &["abstract", &name, "secret"]);
        assert_ok(&out, &l);
        assert!(
            stdout(&out).contains("connect errno=1"),
            "{l} {}",
            stdout(&out)
        );
        // Positive control: natively the user reaches it, and it hears only that.
        let native = run({
            let mut c = env.command(probe());
            c.args(["abstract", &name, "native"]);
            c
        });
        assert!(stdout(&native).contains("send ok"), "{l} {native:?}");
        let mut heard = String::new();
        listener
            .0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut heard)
            .unwrap();
        assert_eq!(heard.trim(), "bind ok\nreceived native", "{l}");
        // Inside one container, a tool's own processes still talk over one.
        let out = env.sh(&format!(
            "probe listen-abstract {name}-in & sleep 0.3; probe abstract {name}-in hi; wait"
        ));
        assert!(stdout(&out).contains("received hi"), "{l} {}", stdout(&out));
    }
}

/// A pty pair whose slave belongs to `env`'s user, as a terminal the user has open in
/// another window would. Returns the master and the slave's path.
fn users_other_terminal(env: &Env) -> (OwnedFd, PathBuf) {
    // SAFETY: plain libc calls; the fd is owned by the returned OwnedFd.
    let master = unsafe { libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY) };
    assert!(master >= 0);
    let master = unsafe { OwnedFd::from_raw_fd(master) };
    assert_eq!(unsafe { libc::grantpt(master.as_raw_fd()) }, 0);
    assert_eq!(unsafe { libc::unlockpt(master.as_raw_fd()) }, 0);
    let mut buf = [0 as libc::c_char; 64];
    assert_eq!(
        unsafe { libc::ptsname_r(master.as_raw_fd(), buf.as_mut_ptr(), buf.len()) },
        0
    );
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) }
        .to_str()
        .unwrap()
        .to_owned();
    let slave = PathBuf::from(name);
    env.own(&slave);
    (master, slave)
}

#[test]
fn a_tool_sees_no_other_terminal_of_the_user_and_has_ptys_of_its_own() {
    for env in Env::all() {
        let l = env.label();
        let _image = install_probe(&env, "");
        let (master, slave) = users_other_terminal(&env);
        let target = slave.to_str().unwrap();
        let out = env.shim("probe", &["append", target, "typed by a tool\n"]);
        assert!(
            stdout(&out).starts_with("open errno="),
            "{l} the tool opened {target}: {}",
            stdout(&out)
        );
        // Positive control: natively the user can write to it.
        let native = run({
            let mut c = env.command(probe());
            c.args(["append", target, "native\n"]);
            c
        });
        assert!(stdout(&native).contains("write ok"), "{l} {native:?}");
        let mut got = [0u8; 256];
        let n = nix::unistd::read(&master, &mut got).unwrap();
        let got = String::from_utf8_lossy(&got[..n]);
        assert!(
            got.contains("native") && !got.contains("typed by a tool"),
            "{l} {got}"
        );
        // The container's own devpts: only its ptmx, and ptys open by name inside.
        let out = env.sh("ls /dev/pts; probe pty");
        assert_ok(&out, &l);
        let said = stdout(&out);
        assert!(said.starts_with("ptmx\n"), "{l} {said}");
        assert!(said.contains("pty /dev/pts/0 echoed"), "{l} {said}");
    }
}
