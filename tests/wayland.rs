//! `wayland = true` against a real compositor: weston with its headless backend, and
//! a real client, `wayland-info`, run through a shim from an image that holds only
//! busybox, the client and its libraries. Once per identity.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::*;

const SOCKET: &str = "wayland-jig";

/// A headless weston run as the identity, serving `$dir/wayland-jig`.
struct Weston {
    child: Child,
    runtime: PathBuf,
}

impl Weston {
    fn start(env: &Env) -> Weston {
        // Wayland wants the runtime directory private to its user.
        let runtime = env.dir().join("run");
        env.mkdir(&runtime);
        fs::set_permissions(&runtime, fs::Permissions::from_mode(0o700)).unwrap();
        let mut c = env.command("/usr/bin/weston");
        c.args([
            "--backend=headless-backend.so",
            &format!("--socket={SOCKET}"),
            "--idle-time=0",
            "--no-config",
        ])
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        let child = c
            .spawn()
            .expect("/usr/bin/weston (Debian: weston) is needed");
        let mut w = Weston { child, runtime };
        let socket = w.runtime.join(SOCKET);
        let up = poll(Duration::from_secs(20), || socket.exists().then_some(()));
        if up.is_none() {
            let _ = w.child.kill();
            panic!("{} weston did not create {}", env.label(), socket.display());
        }
        w
    }
}

impl Drop for Weston {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An image with busybox, `/usr/bin/wayland-info` (also as `wl` and `nowl`) and the
/// libraries it links.
fn client_image(dir: &Path) -> PathBuf {
    let root = image_with(dir, &[]);
    let client = Path::new("/usr/bin/wayland-info");
    assert!(
        client.exists(),
        "/usr/bin/wayland-info (Debian: wayland-utils) is needed"
    );
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::copy(client, root.join("usr/bin/wayland-info")).unwrap();
    // One name per recipe below (a shim runs the command of its own name).
    for name in ["wl", "nowl"] {
        std::os::unix::fs::symlink("wayland-info", root.join("usr/bin").join(name)).unwrap();
    }
    add_libraries(&root, client);
    let _ = std::process::Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(&root)
        .status();
    root
}

#[test]
fn a_wayland_recipe_talks_to_the_hosts_compositor() {
    let images = shared_tempdir("wayland-");
    let root = client_image(&images.path().join("rootfs"));
    for env in Env::all() {
        let l = env.label();
        let weston = Weston::start(&env);
        for (name, wayland) in [("wl", true), ("nowl", false)] {
            let recipe = env.dir().join(format!("{name}.toml"));
            env.write(
                &recipe,
                format!(
                    "name = \"{name}\"\nversion = \"1\"\nwayland = {wayland}\n\
                     [image]\nfrom = \"rootfs:{}\"\n[tool]\nshims = [\"{name}\"]\n",
                    root.display()
                ),
            );
            assert_ok(
                &env.jig(&["install", recipe.to_str().unwrap()]),
                &format!("{l} install {name}"),
            );
        }
        let client = |shim: &str| {
            let mut c = env.shim_cmd(shim, &[]);
            c.env("XDG_RUNTIME_DIR", &weston.runtime)
                .env("WAYLAND_DISPLAY", SOCKET);
            run(c)
        };

        // The compositor's globals, and its one headless output: this weston answered.
        let out = client("wl");
        assert_ok(&out, &format!("{l} wayland-info"));
        let text = stdout(&out);
        assert!(text.contains("interface: 'wl_compositor'"), "{l}: {text}");
        assert!(text.contains("name: 'headless'"), "{l}: {text}");

        // Without `wayland = true` the same client runs and finds no socket.
        let out = client("nowl");
        assert!(!stdout(&out).contains("wl_compositor"), "{l}");
        assert!(
            stderr(&out).contains("failed to create display"),
            "{l}: {}",
            stderr(&out)
        );
    }
}
