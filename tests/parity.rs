//! Native parity: jig's git and npm against the host's own build of the same version,
//! on identical copies at the same paths, as the same user with the same `$HOME`,
//! compared byte for byte (stdout, stderr, exit status).
//!
//! - git: jig's `git@2.39` (Debian bookworm's build) against the host's
//!   `/usr/bin/git` (Debian 12's own 2.39.5: the same code and defaults), over the
//!   corpus of `parity/git_corpus.rs` on the history of `parity/history.rs`.
//! - npm: jig's `npm@18` against the host's `/usr/bin/npm` (Debian 12's npm 9 with
//!   nodejs 18, which `script/deps` installs), over `parity/npm_corpus.rs`, offline.
//!   A host whose Node.js comes from elsewhere (NodeSource's `nodejs`, which Debian's
//!   npm cannot be installed beside) runs the very build `npm@18` has natively
//!   instead: bwrap puts that image's `/usr` in place of the host's and changes
//!   nothing else (the host's `/etc`, home, paths, user and environment), which is
//!   what installing Debian 12's nodejs and npm on that host would give.
//!
//! Before each side of each case the whole world is restored from one pristine copy
//! (the repository, its bare clone, the home directory), so the two sides start from
//! the same bytes and the order of cases does not matter. The versions are pinned in a
//! global `jig.toml` (`JIG_CONFIG_DIR`), as a user would pin them.
//!
//! A case that differs for a reason README.md lists, or that another change fixes, is
//! marked with that reason: the test then requires that it still differs, so the mark
//! goes when the difference does.

mod common;

#[path = "parity/git_corpus.rs"]
mod git_corpus;
#[path = "parity/history.rs"]
mod history;
#[path = "parity/npm_corpus.rs"]
mod npm_corpus;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::debian::*;
use common::*;

/// The recipes compared, installed once in the shared `JIG_HOME`.
const TOOLS: &[&str] = &["git@2.39", "npm@18"];

/// One case of a corpus: a shell snippet run on both sides.
pub struct Case {
    /// Its name in reports.
    pub name: &'static str,
    /// The snippet (`sh -c`), run in the world's working directory.
    pub script: &'static str,
    /// Why it differs, when it does.
    pub differs: Option<Differs>,
}

/// An expected difference.
#[derive(Clone, Copy)]
pub struct Differs {
    /// The reason (an item of issue 13, or README.md's list).
    pub why: &'static str,
    /// Whether the difference shows on this host.
    pub when: fn() -> bool,
}

/// A case expected to match byte for byte.
pub const fn same(name: &'static str, script: &'static str) -> Case {
    Case {
        name,
        script,
        differs: None,
    }
}

/// A case that differs on this branch, for the reason given (an item of issue 13
/// another change fixes, or a difference README.md lists).
pub const fn differs(name: &'static str, script: &'static str, why: &'static str) -> Case {
    Case {
        name,
        script,
        differs: Some(Differs { why, when: always }),
    }
}

fn always() -> bool {
    true
}

impl Case {
    /// The same case, its difference expected only where `when` holds (a host file
    /// that one side does not see, say).
    pub const fn when(self, when: fn() -> bool) -> Case {
        match self.differs {
            Some(Differs { why, .. }) => Case {
                differs: Some(Differs { why, when }),
                ..self
            },
            None => self,
        }
    }
}

/// Which program runs the case's commands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    /// The host's own, from /usr/bin.
    Host,
    /// jig's shims, first on PATH.
    Jig,
}

/// One identity's world: the directories a corpus works on, their pristine copy, and
/// how to run a case.
struct World {
    t: T,
    /// Holds everything below, at the same paths for both sides.
    dir: PathBuf,
    /// Entries of `dir` restored before each run.
    entries: Vec<&'static str>,
    /// Where cases start, relative to `dir`.
    cwd: &'static str,
    /// Variables every case gets on both sides.
    vars: Vec<(String, String)>,
    /// For the host side: a `/usr` to put in place of the host's (see the module docs).
    host_usr: Option<PathBuf>,
}

impl World {
    /// A world for `t` in its environment directory; `entries` are made by `setup` (a
    /// host shell script run as the identity in `dir`) and then kept as the pristine
    /// copy.
    fn new(t: T, entries: Vec<&'static str>, cwd: &'static str) -> World {
        let dir = t.env.dir().to_owned();
        let config = dir.join("config");
        t.env.mkdir(&config);
        t.env.write(
            &config.join("jig.toml"),
            "[tools]\ngit = \"2.39\"\nnpm = \"18\"\n",
        );
        let vars = vec![
            ("D".into(), dir.display().to_string()),
            ("JIG_CONFIG_DIR".into(), config.display().to_string()),
            ("GIT_AUTHOR_DATE".into(), "1700000000 +0100".into()),
            ("GIT_COMMITTER_DATE".into(), "1700000600 +0100".into()),
            // npm offline and quiet about itself.
            ("npm_config_update_notifier".into(), "false".into()),
            ("npm_config_audit".into(), "false".into()),
            ("npm_config_fund".into(), "false".into()),
        ];
        World {
            t,
            dir,
            entries,
            cwd,
            vars,
            host_usr: None,
        }
    }

    /// Runs `script` with the host's programs in `dir`, as the identity; it must
    /// succeed.
    fn host_script(&self, script: &str) {
        let mut c = self.t.env.command("/bin/sh");
        c.arg("-c")
            .arg(format!("set -e\n{script}"))
            .current_dir(&self.dir);
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        let out = run(c);
        assert_ok(&out, &format!("{} setup", self.t.label()));
    }

    /// Keeps what `setup` made as the pristine copy.
    fn keep_pristine(&self) {
        let list = self.entries.join(" ");
        self.host_script(&format!("mkdir pristine && cp -a {list} pristine/"));
    }

    /// Runs `case` on `side` after restoring the pristine copy.
    fn run(&self, side: Side, case: &Case) -> Output {
        let list = self.entries.join(" ");
        self.sh(
            side,
            &format!(
                "cd \"$D\" && rm -rf {list} && cp -a pristine/. . || exit 99\n\
                 cd \"$D/{}\" && exec /bin/sh -c \"$CASE\"",
                self.cwd
            ),
            case.script,
        )
    }

    /// Runs the host shell `script` on `side`, as the identity, with `CASE` set to
    /// `case`.
    fn sh(&self, side: Side, script: &str, case: &str) -> Output {
        let mut c = match (side, &self.host_usr) {
            (Side::Host, Some(usr)) => {
                let mut c = self.t.command("bwrap");
                c.args(["--dev-bind", "/", "/", "--ro-bind"])
                    .arg(usr)
                    .args(["/usr", "--", "/bin/sh"]);
                c
            }
            _ => self.t.command("/bin/sh"),
        };
        c.arg("-c")
            .arg(script)
            .env("CASE", case)
            .current_dir(&self.dir);
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        let path = match side {
            Side::Host => "/usr/bin:/bin".to_owned(),
            Side::Jig => format!("{}:/usr/bin:/bin", self.t.shared.shims().display()),
        };
        c.env("PATH", path);
        // A version the pins name that is not installed would be installed silently.
        c.env("JIG_NO_LAZY", "1");
        run(c)
    }

    /// `script`'s stdout on both sides, which must succeed and agree.
    fn both(&self, script: &str) -> String {
        let [host, jig] = [Side::Host, Side::Jig].map(|side| {
            let out = self.sh(side, script, "");
            assert_ok(&out, &format!("{} {side:?}: {script}", self.t.label()));
            stdout(&out)
        });
        assert_eq!(host, jig, "{} {script}", self.t.label());
        host
    }

    /// Runs every case on both sides; returns the report of what went against the
    /// expectations (empty when everything did as expected).
    fn compare(&self, cases: &[Case]) -> String {
        let mut report = String::new();
        let (mut matched, mut differed) = (0, 0);
        for case in cases {
            let host = self.run(Side::Host, case);
            let jig = self.run(Side::Jig, case);
            for (side, out) in [(Side::Host, &host), (Side::Jig, &jig)] {
                assert_ne!(
                    out.status.code(),
                    Some(99),
                    "{} {}: restoring the world failed on the {side:?} side: {}",
                    self.t.label(),
                    case.name,
                    stderr(out)
                );
            }
            let same = host.status.code() == jig.status.code()
                && host.stdout == jig.stdout
                && host.stderr == jig.stderr;
            let expected = case.differs.filter(|d| (d.when)());
            match (same, expected) {
                (true, None) => matched += 1,
                (false, Some(_)) => differed += 1,
                (false, None) => {
                    let _ = writeln!(report, "DIFFERS: {}\n{}", case.name, diff(&host, &jig));
                }
                (true, Some(d)) => {
                    let _ = writeln!(
                        report,
                        "NOW THE SAME (remove its mark: {}): {}\n",
                        d.why, case.name
                    );
                }
            }
        }
        eprintln!(
            "{} {matched} cases the same, {differed} differing as marked, of {}",
            self.t.label(),
            cases.len()
        );
        report
    }
}

/// Both sides' outputs, with the first differing line of each stream.
fn diff(host: &Output, jig: &Output) -> String {
    let mut s = String::new();
    if host.status.code() != jig.status.code() {
        let _ = writeln!(s, "  status: host {:?}, jig {:?}", host.status, jig.status);
    }
    for (name, h, j) in [
        ("stdout", &host.stdout, &jig.stdout),
        ("stderr", &host.stderr, &jig.stderr),
    ] {
        if h == j {
            continue;
        }
        let (h, j) = (String::from_utf8_lossy(h), String::from_utf8_lossy(j));
        let (hl, jl): (Vec<&str>, Vec<&str>) = (h.lines().collect(), j.lines().collect());
        let at = hl.iter().zip(&jl).take_while(|(a, b)| a == b).count();
        let _ = writeln!(
            s,
            "  {name} (line {}): host {:?}\n  {name} (line {}): jig  {:?}",
            at + 1,
            hl.get(at).unwrap_or(&"<end>"),
            at + 1,
            jl.get(at).unwrap_or(&"<end>")
        );
        let clip = |t: &str| t.chars().take(3000).collect::<String>();
        let _ = writeln!(
            s,
            "  --- host {name} ---\n{}\n  --- jig {name} ---\n{}",
            clip(&h),
            clip(&j)
        );
    }
    s
}

/// What `program ARGS` prints on stdout ("" when it cannot run).
fn host_prints(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The host program a side of the comparison needs, with the version it must print.
fn require_host(program: &str, args: &[&str], prefix: &str) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e} (script/deps installs it)"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(prefix),
        "{program} {} prints {text:?}, not {prefix}...: the parity test compares jig with the \
         host's Debian 12 build of the same version (script/deps installs it)",
        args.join(" ")
    );
}

/// The git corpus on the history of `history.rs`.
#[test]
fn git_behaves_as_the_hosts_git_of_the_same_version() {
    require_host("/usr/bin/git", &["--version"], "git version 2.39.");
    assert!(git_corpus::CASES.len() >= 60);
    let mut failures = String::new();
    for t in setups_with(TOOLS) {
        let world = World::new(
            t,
            vec!["project", "home", "remote.git", "sub.git", "other"],
            "project/repo",
        );
        assert!(world.both("git --version").starts_with("git version 2.39."));
        make_repositories(&world);
        world.keep_pristine();
        let report = world.compare(git_corpus::CASES);
        if !report.is_empty() {
            let _ = writeln!(failures, "{}\n{report}", world.t.label());
        }
    }
    assert!(failures.is_empty(), "git parity:\n{failures}");
}

/// The repository (with an upstream in a bare clone), a library for submodules, a
/// second repository and the home directory, all made with the host's git.
fn make_repositories(w: &World) {
    for (name, stream) in [
        ("main.stream", history::main_repository()),
        ("sub.stream", history::small_repository("sub")),
        ("other.stream", history::small_repository("other")),
    ] {
        w.t.env.write(&w.dir.join(name), stream);
    }
    w.t.env.write(
        &w.t.env.home().join(".gitconfig"),
        "[user]\n\tname = Parity Tester\n\temail = parity@example.com\n\
         [init]\n\tdefaultBranch = main\n\
         [alias]\n\tlg = log --oneline -5\n\thello = \"!echo hello from an alias; git rev-parse --abbrev-ref HEAD\"\n\
         [protocol \"file\"]\n\tallow = always\n",
    );
    w.host_script(
        "g=/usr/bin/git\n\
         $g init -q project/repo\n\
         $g -C project/repo fast-import --quiet < main.stream\n\
         $g -C project/repo reset -q --hard main\n\
         $g init -q --bare sub.git\n\
         $g -C sub.git fast-import --quiet < sub.stream\n\
         $g init -q other\n\
         $g -C other fast-import --quiet < other.stream\n\
         $g -C other reset -q --hard main\n\
         $g clone -q --bare project/repo remote.git\n\
         $g -C project/repo remote add origin \"$D/remote.git\"\n\
         $g -C project/repo fetch -q origin\n\
         $g -C project/repo branch -q -u origin/main main\n\
         $g -C project/repo checkout -q main\n\
         rm main.stream sub.stream other.stream",
    );
    w.host_script("test \"$(/usr/bin/git -C project/repo rev-list --count --all)\" -gt 300");
}

/// The npm corpus on a package with dependencies from the workspace.
#[test]
fn npm_behaves_as_the_hosts_npm_of_the_same_version() {
    let debians = host_prints("/usr/bin/npm", &["--version"]).starts_with("9.2.0")
        && host_prints("/usr/bin/node", &["--version"]).starts_with("v18.");
    let mut failures = String::new();
    for t in setups_with(TOOLS) {
        let mut world = World::new(t, vec!["project", "home", "lib"], "project/app");
        if !debians {
            let mut c = world.t.jig_cmd(&["which", "npm"]);
            c.env("JIG_NPM_VERSION", "18");
            let out = run(c);
            assert_ok(&out, "jig which npm");
            let id = stdout(&out)
                .lines()
                .find_map(|l| l.strip_prefix("image:"))
                .and_then(|l| l.split_whitespace().next())
                .expect("an image: line")
                .trim_start_matches("sha256:")
                .to_owned();
            let usr = world
                .t
                .shared
                .jig_home()
                .join("store/images")
                .join(id)
                .join("rootfs/usr");
            assert!(usr.join("bin/npm").exists(), "{}", usr.display());
            world.host_usr = Some(usr);
        }
        assert!(world.both("node --version").starts_with("v18."));
        assert_eq!(world.both("npm --version"), "9.2.0\n");
        npm_corpus::make_packages(&world.t.env, Path::new(&world.dir));
        world.keep_pristine();
        let report = world.compare(npm_corpus::CASES);
        if !report.is_empty() {
            let _ = writeln!(failures, "{}\n{report}", world.t.label());
        }
    }
    assert!(failures.is_empty(), "npm parity:\n{failures}");
}
