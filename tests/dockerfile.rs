//! Dockerfiles, the way dex users write them, built by jig without a daemon: on a
//! Debian base that jig itself bootstrapped and pushed to a loopback registry, which
//! `[registry_mirrors]` names as Docker Hub's mirror (Docker Hub is not reachable
//! here), so `FROM debian:bookworm` is pulled through the mirror as it would be in a
//! company. Every scenario runs once per identity (see `common`).
//!
//! The base is made once per test process ([`seed`]): `jig install` of a slim
//! `debian:bookworm` recipe with an apt sources file (as Docker Hub's image has), then
//! `jig push` to `library/debian:bookworm` of a registry that lives as long as the
//! process. The Debian scenarios share one test so that a run bootstraps it once.

mod common;

use std::fs;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

use common::registry::{Comp, Layer, Registry};
use common::tar::Tar;
use common::*;

/// The loopback registry holding the Debian base, kept until the process exits.
static REGISTRY: OnceLock<Mutex<Option<Registry>>> = OnceLock::new();

extern "C" fn stop_registry() {
    if let Some(m) = REGISTRY.get()
        && let Ok(mut r) = m.lock()
    {
        r.take();
    }
}

/// The recipe of the base image the registry serves as `library/debian:bookworm`.
const BASE: &str = r#"name = "debian-base"
version = "bookworm"
[image]
from = "debian:bookworm"
slim = true
# As in Docker Hub's debian image: apt knows where the archive is.
run = ["printf 'Types: deb\\nURIs: http://deb.debian.org/debian\\nSuites: bookworm\\nComponents: main\\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\\n' > /etc/apt/sources.list.d/debian.sources"]
[tool]
command = "sh"
"#;

/// `127.0.0.1:PORT` of the registry serving the Debian base (built and pushed on
/// first use).
fn seed() -> String {
    let m = REGISTRY.get_or_init(|| {
        let reg = Registry::start();
        let env = Env::new(Identity::all().remove(0));
        let recipe = env.dir().join("debian-base.toml");
        env.write(&recipe, BASE);
        assert_ok(
            &env.jig(&["install", recipe.to_str().unwrap()]),
            "seed: installing the Debian base",
        );
        let target = format!("{}/library/debian:bookworm", reg.host());
        assert_ok(
            &env.jig(&["push", "debian-base", &target]),
            "seed: pushing it",
        );
        // SAFETY: registers a plain extern "C" fn; it only stops our registry.
        unsafe { libc::atexit(stop_registry) };
        Mutex::new(Some(reg))
    });
    m.lock()
        .unwrap()
        .as_ref()
        .expect("the registry runs")
        .host()
}

/// Writes `env`'s config.toml (in its JIG_HOME) with `text`.
fn config(env: &Env, text: &str) {
    env.mkdir(&env.jig_home());
    env.write(&env.jig_home().join("config.toml"), text);
}

/// Writes `files` (path, contents) below `dir`, making directories.
fn files(env: &Env, dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        let mut d = p.parent().unwrap().to_owned();
        let mut todo = Vec::new();
        while !d.exists() {
            todo.push(d.clone());
            d = d.parent().unwrap().to_owned();
        }
        for d in todo.iter().rev() {
            env.mkdir(d);
        }
        env.write(&p, text);
    }
}

/// A dex-style tool image: a build stage writing a file from a heredoc with an ARG,
/// then the tool on Debian with a package from the Debian mirror, the build stage's
/// output, a script, docs filtered by `.dockerignore`, ENV, WORKDIR, ENTRYPOINT + CMD
/// and dex's labels.
const DOCKERFILE: &str = r#"# syntax=docker/dockerfile:1
ARG SUITE=bookworm
FROM debian:${SUITE} AS build
ARG GREETING=hello
RUN <<EOF
set -e
mkdir -p /out
echo "$GREETING from a heredoc" > /out/greeting
EOF

FROM debian:bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends jq \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/share/greet/
COPY --chmod=755 greet.sh /usr/local/bin/greet
COPY docs/ /usr/local/share/doc/greet/
ENV GREET_MODE=loud
WORKDIR /work
ENTRYPOINT ["greet"]
CMD ["world"]
LABEL org.dockerland.dex.api="v1" \
      org.dockerland.dex.docker_envars="GREET_*"
"#;

const GREET: &str = "#!/bin/sh\necho \"$(cat /usr/local/share/greet/greeting), $*\"\njq -n 1+1\n";

/// The image id `jig build` printed, after checking it succeeded.
fn built(out: &std::process::Output, what: &str) -> String {
    assert_ok(out, what);
    let id = stdout(out).trim().to_owned();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{what}: {id}");
    id
}

/// The lines of `jig build`'s progress that ran (`run:`) or came from the cache.
fn ran(out: &std::process::Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.starts_with("jig: ") && l.contains(" run: "))
        .map(str::to_owned)
        .collect()
}

fn git(env: &Env, dir: &Path, args: &[&str]) -> String {
    let mut c = env.command("git");
    c.arg("-C").arg(dir).args([
        "-c",
        "user.name=jig test",
        "-c",
        "user.email=test@example.invalid",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "init.defaultBranch=main",
    ]);
    c.args(args);
    let out = run(c);
    assert_ok(&out, &format!("{} git {args:?}", env.label()));
    stdout(&out).trim().to_owned()
}

#[test]
fn dockerfiles_and_dex_repositories_build_on_a_debian_base_from_a_mirror() {
    let host = seed();
    let mut ids = Vec::new();
    for env in Env::all() {
        config(
            &env,
            &format!("[registry_mirrors]\n\"docker.io\" = [\"http://{host}\"]\n"),
        );
        ids.push(dockerfile_scenario(&env));
        dex_repository_scenario(&env);
    }
    // Root and the unprivileged user built the same Dockerfile on the same base, apt
    // packages included: the same tree.
    ids.dedup();
    assert_eq!(ids.len(), 1, "two builds, two trees: {ids:?}");
}

/// Builds [`DOCKERFILE`], checks the per-instruction cache and installs it; returns
/// the first build's image id.
fn dockerfile_scenario(env: &Env) -> String {
    let l = env.label();
    let dir = env.dir().join("greet");
    env.mkdir(&dir);
    files(
        env,
        &dir,
        &[
            ("Dockerfile", DOCKERFILE),
            ("greet.sh", GREET),
            ("docs/readme.md", "readme\n"),
            ("docs/notes.log", "not for the image\n"),
            (".dockerignore", "# build logs stay out\ndocs/*.log\n"),
        ],
    );
    let d = dir.to_str().unwrap();
    let build = |what: &str| {
        let out = env.jig(&["build", "--build-arg", "GREETING=howdy", d]);
        let id = built(&out, &format!("{l} {what}"));
        (id, out)
    };
    let (first, out) = build("first build");
    let ran_first = ran(&out);
    assert_eq!(ran_first.len(), 6, "{l} every step ran: {ran_first:#?}");
    assert!(stderr(&out).contains("syntax directive"), "{l} the note");

    // Unchanged: nothing runs, the same image.
    let (again, out) = build("rebuild");
    assert_eq!(again, first, "{l}");
    assert_eq!(ran(&out), Vec::<String>::new(), "{l} {}", stderr(&out));

    // What the last COPY reads changed: that step and the WORKDIR after it run; the
    // apt-get step and the copies before it come from the cache.
    env.write(&dir.join("docs/readme.md"), "readme, second edition\n");
    let (second, out) = build("after an edit");
    assert_ne!(second, first, "{l}");
    let err = stderr(&out);
    assert!(err.contains("cached: RUN apt-get update"), "{l} {err}");
    let ran_now = ran(&out);
    assert_eq!(ran_now.len(), 2, "{l} {ran_now:#?}");
    assert!(ran_now[0].contains("COPY docs/"), "{l} {ran_now:#?}");

    // A recipe naming the Dockerfile, its build argument in [image] args: the same
    // keys, so the same image, from the cache. The shim is ENTRYPOINT's program; the
    // image's ENV and WORKDIR are the tool's.
    let recipe = env.dir().join("greet.toml");
    env.write(
        &recipe,
        "name = \"greet\"\nversion = \"1\"\n[image]\nfrom = \"dockerfile:greet/Dockerfile\"\nargs = { GREETING = \"howdy\" }\n[tool]\nshims = [\"greet\"]\n[env]\npass = [\"GREET_*\"]\n",
    );
    let out = env.jig(&["install", recipe.to_str().unwrap()]);
    assert_ok(&out, &format!("{l} install"));
    assert_eq!(ran(&out), Vec::<String>::new(), "{l} {}", stderr(&out));
    assert_eq!(env.image_id("greet"), second, "{l}");
    let out = env.shim("greet", &["there"]);
    assert_ok(&out, &format!("{l} greet"));
    assert_eq!(stdout(&out), "howdy from a heredoc, there\n2\n", "{l}");
    let out = env.jig(&["run", "greet"]);
    assert_eq!(
        stdout(&out),
        "howdy from a heredoc, world\n2\n",
        "{l} CMD is the default"
    );
    let out = env.jig(&[
        "exec",
        "greet",
        "--",
        "sh",
        "-c",
        "echo $GREET_MODE; ls /usr/local/share/doc/greet; ls -d /work",
    ]);
    assert_eq!(
        stdout(&out),
        "loud\nreadme.md\n/work\n",
        "{l} {}",
        stderr(&out)
    );
    first
}

/// A dex repository: `dex-images/NAME/Dockerfile[-TAG]` with labels, added, searched,
/// asked about and installed; a label asking for more than jig gives is refused.
fn dex_repository_scenario(env: &Env) {
    let l = env.label();
    let repo = env.dir().join("dex-repo");
    env.mkdir(&repo);
    let image = |version: &str, labels: &str| {
        format!(
            "FROM debian:bookworm\nCOPY --chmod=755 greet /usr/local/bin/dexgreet\nENV DEX_VERSION={version}\nENTRYPOINT [\"dexgreet\"]\nLABEL org.dockerland.dex.api=\"v1\" {labels}\n"
        )
    };
    let labels = "org.dockerland.dex.docker_envars=\"GREET_*\" \\\n  org.dockerland.dex.docker_volumes=\"$(git rev-parse --show-toplevel):/repo ~/.greetrc:~/.greetrc:ro\"";
    files(
        env,
        &repo,
        &[
            ("dex-images/dexgreet/Dockerfile", &image("latest", labels)),
            ("dex-images/dexgreet/Dockerfile-1.0", &image("1.0", "")),
            (
                "dex-images/dexgreet/greet",
                "#!/bin/sh\necho \"$DEX_VERSION $*\"\ncat ~/.greetrc 2>/dev/null\ntrue\n",
            ),
            (
                "dex-images/bad/Dockerfile",
                "FROM debian:bookworm\nENTRYPOINT [\"bad\"]\nLABEL org.dockerland.dex.api=\"v1\" org.dockerland.dex.docker_flags=\"--privileged\"\n",
            ),
        ],
    );
    git(env, &repo, &["init", "-q"]);
    git(env, &repo, &["add", "-A"]);
    git(env, &repo, &["commit", "-q", "-m", "dex images"]);
    assert_ok(
        &env.jig(&["repo", "add", "dex", repo.to_str().unwrap()]),
        &l,
    );
    let out = env.jig(&["search", "greet"]);
    assert!(
        stdout(&out).contains("dex/dexgreet\tlatest,1.0\t"),
        "{l} {}",
        stdout(&out)
    );
    let out = env.jig(&["search"]);
    assert!(
        stderr(&out).contains("--privileged"),
        "{l} {}",
        stderr(&out)
    );

    // Without a terminal and without --yes the install stops, after saying what the
    // labels ask for.
    let mut c = env.jig_cmd(&["install", "dex/dexgreet"]);
    c.env_remove("JIG_YES");
    let out = run(c);
    assert_code(&out, 1, &format!("{l} unapproved"));
    let err = stderr(&out);
    for asked in [
        "~/.greetrc",
        "GREET_*",
        "dockerfile:dex-images/dexgreet/Dockerfile",
        "git-tree:",
    ] {
        assert!(err.contains(asked), "{l} the prompt shows {asked}: {err}");
    }
    assert!(
        err.contains("workspace is mounted at its own path"),
        "{l} {err}"
    );

    assert_ok(
        &env.jig(&["install", "dex/dexgreet"]),
        &format!("{l} install"),
    );
    assert_ok(
        &env.jig(&["install", "dex/dexgreet@1.0"]),
        &format!("{l} install 1.0"),
    );
    env.write(&env.home().join(".greetrc"), "from the rc file\n");
    let out = env.shim("dexgreet", &["hi"]);
    assert_eq!(
        stdout(&out),
        "latest hi\nfrom the rc file\n",
        "{l} {}",
        stderr(&out)
    );
    let mut c = env.shim_cmd("dexgreet", &["hi"]);
    c.env("JIG_DEXGREET_VERSION", "1.0");
    assert_eq!(
        stdout(&run(c)),
        "1.0 hi\n",
        "{l} the tag, without the label's mount"
    );

    let out = env.jig(&["install", "dex/bad"]);
    assert_code(&out, 1, &format!("{l} a refused label"));
    let err = stderr(&out);
    assert!(
        err.contains("org.dockerland.dex.docker_flags") && err.contains("--privileged"),
        "{l} {err}"
    );
}

/// An image of one busybox layer with `/which` holding `which`.
fn tagged(reg: &Registry, tag: &str, which: &str) {
    let tar = Tar::busybox().file("which", which.as_bytes()).finish();
    reg.push_simple("bb", tag, &[Layer::new(tar, Comp::Gzip)]);
}

#[test]
fn registry_mirrors_are_tried_in_order_and_the_registry_is_the_fallback() {
    let origin = Registry::start();
    let mirror = Registry::start();
    tagged(&origin, "1", "origin");
    tagged(&mirror, "1", "mirror");
    tagged(&origin, "2", "origin only");
    for env in Env::all() {
        let l = env.label();
        // A dead mirror first (nothing listens on port 1), then the live one.
        config(
            &env,
            &format!(
                "[registry_mirrors]\n\"{}\" = [\"http://127.0.0.1:1\", \"http://{}\"]\n",
                origin.host(),
                mirror.host()
            ),
        );
        let pull = |r: &str| {
            let out = env.jig(&["pull", r]);
            assert_ok(&out, &format!("{l} pull {r}"));
            (stdout(&out).trim().to_owned(), stderr(&out))
        };
        let (from_mirror, err) = pull(&format!("{}/bb:1", origin.host()));
        assert!(
            err.contains("mirror http://127.0.0.1:1:") && err.contains("trying the next"),
            "{l} {err}"
        );
        let (direct, _) = pull(&format!("{}/bb:1", mirror.host()));
        assert_eq!(from_mirror, direct, "{l} bb:1 came from the mirror");
        // The mirror lacks bb:2: the registry itself serves it.
        let (fallback, err) = pull(&format!("{}/bb:2", origin.host()));
        assert!(
            err.contains(&format!("mirror http://{}:", mirror.host())),
            "{l} {err}"
        );
        let rootfs = |id: &str| {
            env.jig_home()
                .join("store/images")
                .join(id.trim_start_matches("sha256:"))
                .join("rootfs/which")
        };
        assert_eq!(
            fs::read_to_string(rootfs(&fallback)).unwrap(),
            "origin only",
            "{l}"
        );
        assert_eq!(
            fs::read_to_string(rootfs(&from_mirror)).unwrap(),
            "mirror",
            "{l}"
        );
    }
}
