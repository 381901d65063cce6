//! gitk drawing on an Xvfb display, as the identity, with a cookie of its own.

use super::*;

/// An Xvfb server run as the identity, with a cookie file of its own.
struct Xvfb {
    child: Child,
    number: u32,
    /// The cookie file the server trusts (not ~/.Xauthority: the path must be passed).
    auth: PathBuf,
    log: PathBuf,
}

static NEXT_DISPLAY: AtomicU32 = AtomicU32::new(0);

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    use std::io::Read;
    File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut bytes)
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes a cookie file for display `number` as the identity (`xauth add`).
fn write_cookie(env: &Env, file: &Path, number: u32, hex: &str) {
    let mut c = env.command("xauth");
    c.arg("-q")
        .arg("-f")
        .arg(file)
        .args(["add", &format!(":{number}"), ".", hex]);
    assert_ok(&run(c), &format!("{} xauth add", env.label()));
}

impl Xvfb {
    fn start(env: &Env) -> Xvfb {
        let l = env.label();
        let first =
            200 + (std::process::id() * 7 + NEXT_DISPLAY.fetch_add(1, Ordering::SeqCst)) % 600;
        for number in (first..800).chain(200..first).take(40) {
            if Path::new(&format!("/tmp/.X{number}-lock")).exists()
                || Path::new(&format!("/tmp/.X11-unix/X{number}")).exists()
            {
                continue;
            }
            let auth = env.dir().join(format!("xauth-{number}"));
            let _ = fs::remove_file(&auth);
            write_cookie(env, &auth, number, &random_hex());
            let log = env.dir().join(format!("xvfb-{number}.log"));
            let mut c = env.command("/usr/bin/Xvfb");
            c.arg(format!(":{number}"))
                // -noreset: the server would reset when its last client leaves (the
                // check below), refusing connections for a moment.
                .args(["-noreset", "-nolisten", "tcp", "-auth"])
                .arg(&auth)
                .stdout(Stdio::null())
                .stderr(File::create(&log).unwrap());
            let child = c.spawn().expect("spawn Xvfb");
            let mut x = Xvfb {
                child,
                number,
                auth,
                log,
            };
            let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
            let up = poll(Duration::from_secs(15), || {
                if x.child.try_wait().unwrap().is_some() {
                    return Some(false);
                }
                socket.exists().then_some(true)
            });
            if up == Some(true) && x.windows_as(Some(env)).is_ok() {
                return x;
            }
            eprintln!(
                "{l} Xvfb :{number} did not start: {}",
                fs::read_to_string(&x.log).unwrap_or_default()
            );
            // Drop kills it if it still runs.
        }
        panic!("{l} no Xvfb display could be started");
    }

    fn display(&self) -> String {
        format!(":{}", self.number)
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Xvfb {
    /// `xwininfo -root -tree` as `env` (or as this process) with the server's cookie.
    fn windows_as(&self, env: Option<&Env>) -> Result<String, String> {
        let mut c = match env {
            Some(env) => env.command("xwininfo"),
            None => {
                let mut c = Command::new("xwininfo");
                c.env_clear().env("PATH", "/usr/bin:/bin");
                c
            }
        };
        c.args(["-root", "-tree", "-display", &self.display()])
            .env("XAUTHORITY", &self.auth)
            .stdin(Stdio::null());
        let out = run(c);
        if out.status.success() {
            Ok(stdout(&out))
        } else {
            Err(stderr(&out))
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.auth);
    }
}

/// The title of the first window whose name contains "gitk".
fn gitk_window(tree: &str) -> Option<String> {
    tree.lines().find_map(|line| {
        let start = line.find('"')? + 1;
        let end = start + line[start..].find('"')?;
        let name = &line[start..end];
        name.contains("gitk").then(|| name.to_owned())
    })
}

/// Waits for a child up to `timeout`; kills it when the time is up.
fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let status = poll(timeout, || child.try_wait().unwrap());
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}

/// The gitk shim as a background process on `x`'s display, with XAUTHORITY = `auth`.
fn spawn_gitk(t: &T, x: &Xvfb, auth: &Path, tag: &str) -> (Child, PathBuf) {
    let log = t.env.dir().join(format!("gitk-{tag}.log"));
    let mut c = t.shim_cmd("gitk", &[]);
    c.env("DISPLAY", x.display())
        .env("XAUTHORITY", auth)
        .stdout(Stdio::null())
        .stderr(File::create(&log).unwrap());
    (c.spawn().expect("spawn gitk"), log)
}

#[test]
fn gitk_opens_a_window_on_xvfb_and_exits_on_sigterm() {
    for t in setups() {
        let l = t.label();
        t.repo_with_commits(2);
        let mut x = Xvfb::start(&t.env);
        assert_eq!(
            gitk_window(&x.windows_as(Some(&t.env)).unwrap()),
            None,
            "{l} a gitk window before gitk ran"
        );

        let auth = x.auth.clone();
        let (mut gitk, log) = spawn_gitk(&t, &x, &auth, "ok");
        let title = poll(Duration::from_secs(30), || {
            if let Some(status) = gitk.try_wait().unwrap() {
                panic!(
                    "{l} gitk exited with {status:?} before opening a window: {}",
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            // Tk maps the window titled plain "gitk" first and gitk renames it right
            // after: wait for the final title, which names the repository.
            x.windows_as(Some(&t.env))
                .ok()
                .and_then(|tree| gitk_window(&tree))
                .filter(|title| title.contains("project"))
        });
        let Some(title) = title else {
            let _ = gitk.kill();
            let _ = gitk.wait();
            panic!(
                "{l} no gitk window within 30 s; gitk said: {}",
                fs::read_to_string(&log).unwrap_or_default()
            );
        };
        // The title names the repository gitk was started in: `project: All files - gitk`.
        assert!(
            title.contains("project") && title.ends_with("gitk"),
            "{l} window title {title:?}"
        );

        // SIGTERM ends gitk itself (the shim is gitk's process: no wrapper in between).
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(
            unsafe { libc::kill(gitk.id() as libc::pid_t, libc::SIGTERM) },
            0
        );
        let status = wait_timeout(&mut gitk, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("{l} gitk ignored SIGTERM for 10 s"));
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{l} {status:?}");

        // The server survives its client, and the window is gone.
        assert!(x.alive(), "{l} Xvfb died with gitk");
        let gone = poll(Duration::from_secs(5), || {
            x.windows_as(Some(&t.env))
                .ok()
                .filter(|tree| gitk_window(tree).is_none())
        });
        assert!(gone.is_some(), "{l} the gitk window outlived gitk");
        assert!(x.alive(), "{l} Xvfb died");
    }
}

#[test]
fn gitk_without_the_servers_cookie_cannot_connect() {
    for t in setups() {
        let l = t.label();
        t.repo_with_commits(1);
        let mut x = Xvfb::start(&t.env);
        // The server is up and accepts its cookie.
        x.windows_as(Some(&t.env))
            .unwrap_or_else(|e| panic!("{l} xwininfo with the right cookie: {e}"));

        // A well-formed cookie file for the same display with another cookie, and a
        // cookie file that does not exist.
        let wrong = t.env.dir().join("xauth-wrong");
        write_cookie(&t.env, &wrong, x.number, &random_hex());
        let missing = t.env.dir().join("xauth-missing");
        for (tag, auth) in [("wrong", &wrong), ("missing", &missing)] {
            let (mut gitk, log) = spawn_gitk(&t, &x, auth, tag);
            let status = wait_timeout(&mut gitk, Duration::from_secs(30))
                .unwrap_or_else(|| panic!("{l} gitk with a {tag} cookie ran for 30 s"));
            let err = fs::read_to_string(&log).unwrap_or_default();
            assert!(
                !status.success(),
                "{l} gitk with a {tag} cookie: {status:?}"
            );
            assert!(
                err.contains("couldn't connect to display \":")
                    && (err.contains("Invalid MIT-MAGIC-COOKIE-1 key")
                        || err.contains("Authorization required")),
                "{l} gitk with a {tag} cookie said: {err}"
            );
            let tree = x.windows_as(Some(&t.env)).unwrap();
            assert_eq!(gitk_window(&tree), None, "{l} {tag} cookie: a window");
        }
        assert!(x.alive(), "{l} Xvfb died");
    }
}
