//! Tests of the planner's binds, on facts built in memory.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::*;
use crate::launch::args::Candidate;
use crate::launch::facts::Nest;
use crate::launch::plan::build;
use crate::launch::plan::testing::*;
use crate::launch::workspace::{Reason, Workspace};
use crate::recipe;
use crate::runtime::spec::Plan;

fn plan_of(target: &Target, facts: &Facts) -> Plan {
    build(target, facts, cmd()).plan
}

#[test]
fn binds_the_workspace_and_existing_home_paths_only() {
    let r = recipe();
    let mut f = facts("/home/alice", "/work/p");
    f.home.insert(".bbrc".into(), Node::File);
    f.home.insert(".bbcache".into(), Node::Dir);
    let plan = plan_of(&target(&r, None), &f);
    let binds: Vec<_> = plan
        .binds
        .iter()
        .filter(|b| !b.src.starts_with("/dev") && !b.src.starts_with("/proc"))
        .map(|b| {
            assert_eq!(b.src, b.dst);
            (b.src.clone(), b.node, b.readonly)
        })
        .collect();
    assert_eq!(
        binds,
        [
            (p("/work/p"), Node::Dir, false),
            (p("/home/alice/.bbrc"), Node::File, true),
            (p("/home/alice/.bbcache"), Node::Dir, false),
        ]
    );
}

#[test]
fn system_binds_come_before_host_binds() {
    let r = recipe();
    let plan = plan_of(&target(&r, None), &facts("/home/alice", "/tmp/project"));
    let pos = |p: &str| {
        plan.binds
            .iter()
            .position(|b| b.dst == Path::new(p))
            .unwrap()
    };
    assert!(pos("/proc") < pos("/tmp/project"));
    assert!(pos("/dev/tty") < pos("/tmp/project"));
    // The host's terminals are not bound: the launch has its own devpts, which
    // /dev/ptmx leads to.
    assert!(!plan.binds.iter().any(|b| b.src.starts_with("/dev/pts")));
    assert!(!plan.binds.iter().any(|b| b.src == Path::new("/dev/ptmx")));
    // Every device bind has its mountpoint in the ephemeral layer.
    for b in plan
        .binds
        .iter()
        .filter(|b| b.dst.starts_with("/dev/") && b.node == Node::File)
    {
        assert!(plan.files.iter().any(|f| f.dst == b.dst), "{b:?}");
    }
}

#[test]
fn root_and_system_cwds_are_not_bound() {
    let r = recipe();
    for cwd in ["/", "/proc/self", "/dev"] {
        let plan = plan_of(&target(&r, None), &facts("/home/alice", cwd));
        assert!(!plan.binds.iter().any(|b| b.src == Path::new(cwd)), "{cwd}");
        assert_eq!(plan.cwd, Path::new(cwd));
    }
}

#[test]
fn the_workspace_root_is_bound_instead_of_the_cwd() {
    let r = recipe();
    let mut f = facts("/home/alice", "/w/repo/src/deep");
    f.workspace = Workspace {
        root: p("/w/repo"),
        why: Reason::Marker(".git".into()),
        inherited: None,
        git: None,
    };
    let launch = build(&target(&r, None), &f, cmd());
    assert_eq!(host_binds(&launch.plan), [(p("/w/repo"), false)]);
    assert_eq!(launch.plan.cwd, p("/w/repo/src/deep"));
    assert_eq!(env_of(&launch.plan)["JIG_WORKSPACE"], "/w/repo");
    assert!(launch.describe().contains("marker .git at"));
}

#[test]
fn a_refused_git_link_is_reported_and_not_bound_and_a_linked_one_is_bound() {
    let r = recipe();
    let mut f = facts("/home/alice", "/w/p");
    f.workspace.git = Some(GitLink::Refused {
        gitdir: p("/home/alice/.ssh"),
        reason: "it is not a git directory (no HEAD)".into(),
    });
    let launch = build(&target(&r, None), &f, cmd());
    assert!(!launch.plan.binds.iter().any(|b| b.src.starts_with("/home")));
    assert_eq!(
        launch.skipped,
        vec![(
            OsString::from("/home/alice/.ssh (the gitdir of /w/p/.git)"),
            "it is not a git directory (no HEAD)".to_owned()
        )]
    );
    f.workspace.git = Some(GitLink::Mounted(p("/w/main/.git")));
    let plan = plan_of(&target(&r, None), &f);
    assert!(host_binds(&plan).contains(&(p("/w/main/.git"), false)));
}

#[test]
fn paths_named_by_variables_are_bound_unless_dangerous() {
    let mut r = recipe();
    r.mounts.from_env = ["SSH_AUTH_SOCK", "EVIL", "UNSET", "GONE", "JIGDIR", "LINK"]
        .iter()
        .map(|v| recipe::EnvName::new(v).unwrap())
        .collect();
    let mut f = facts("/home/alice", "/w");
    let named = |path: &str, real: Option<(&str, Node)>| EnvPath {
        path: p(path),
        real: real.map(|(r, n)| (p(r), n)),
    };
    let sock = "/run/user/1234/agent.sock";
    for (var, path) in [
        ("SSH_AUTH_SOCK", named(sock, Some((sock, Node::File)))),
        ("EVIL", named("/etc", Some(("/etc", Node::Dir)))),
        ("GONE", named("/srv/gone.sock", None)),
        ("JIGDIR", named("/home/alice/.local/share/jig", None)),
        (
            "LINK",
            named("/srv/to-home", Some(("/home/alice", Node::Dir))),
        ),
    ] {
        f.from_env.insert(var.into(), path);
    }
    let t = Target {
        jig_dirs: vec![p("/home/alice/.local/share/jig")],
        ..target(&r, None)
    };
    let launch = build(&t, &f, cmd());
    assert_eq!(
        host_binds(&launch.plan),
        [(p("/w"), false), (p(sock), false)]
    );
    // Refusals are reported; a missing path is skipped quietly.
    let skipped: Vec<(String, String)> = launch
        .skipped
        .iter()
        .map(|(w, why)| (w.to_string_lossy().into_owned(), why.clone()))
        .collect();
    assert_eq!(
        skipped,
        [
            (
                "$EVIL (/etc)".to_owned(),
                "/etc is a system directory".to_owned()
            ),
            (
                "$JIGDIR (/home/alice/.local/share/jig)".to_owned(),
                "it is jig's own directory".to_owned()
            ),
            (
                "$LINK (/srv/to-home)".to_owned(),
                "it leads to /home/alice: it is the whole home directory".to_owned()
            ),
        ]
    );
}

#[test]
fn host_ca_binds_the_bundle_and_passes_variables_naming_it() {
    let mut r = recipe();
    r.mounts.host_ca = true;
    let mut f = facts("/h", "/w");
    f.ca_bundle = true;
    f.host
        .env
        .push(("SSL_CERT_FILE".into(), HOST_CA_BUNDLE.into()));
    f.host
        .env
        .push(("NODE_EXTRA_CA_CERTS".into(), "/elsewhere.pem".into()));
    let plan = plan_of(&target(&r, None), &f);
    let env = env_of(&plan);
    assert!(
        plan.binds
            .iter()
            .any(|b| b.src == Path::new(HOST_CA_BUNDLE) && b.readonly && b.node == Node::File)
    );
    assert_eq!(env["SSL_CERT_FILE"], HOST_CA_BUNDLE);
    assert!(!env.contains_key("NODE_EXTRA_CA_CERTS"), "points elsewhere");
    // No bundle on this host: nothing.
    f.ca_bundle = false;
    let plan = plan_of(&target(&r, None), &f);
    assert!(
        !plan
            .binds
            .iter()
            .any(|b| b.src == Path::new(HOST_CA_BUNDLE))
    );
    assert!(!env_of(&plan).contains_key("SSL_CERT_FILE"));
}

fn arg(word: &str, rw: bool, found: Option<(&str, Node)>) -> ArgPath {
    ArgPath {
        candidate: Candidate {
            word: word.into(),
            path: crate::base::paths::normalize(&Path::new("/t/p").join(word)),
            rw,
        },
        found: found.map(|(r, n)| (p(r), n)),
    }
}

#[test]
fn argument_paths_outside_the_workspace_are_bound_as_the_command_line_says() {
    let r = recipe();
    let mut f = facts("/t/home", "/t/p");
    f.args = vec![
        arg("../data.json", false, Some(("/t/data.json", Node::File))),
        arg("in.txt", false, None),
        arg("../out/new.bin", true, Some(("/t/out", Node::Dir))),
        arg("/etc", false, Some(("/etc", Node::Dir))),
        arg(
            "/proc/self/status",
            false,
            Some(("/proc/1/status", Node::File)),
        ),
        arg("/t/home", false, Some(("/t/home", Node::Dir))),
        arg("link", false, Some(("/t/p/real", Node::File))),
        arg("../data.json", false, Some(("/t/data.json", Node::File))),
    ];
    let launch = build(&target(&r, None), &f, cmd());
    assert_eq!(
        host_binds(&launch.plan),
        [
            (p("/t/p"), false),
            (p("/t/data.json"), true),
            (p("/t/out"), false)
        ]
    );
    let skipped: Vec<_> = launch
        .skipped
        .iter()
        .map(|(a, _)| a.to_str().unwrap())
        .collect();
    assert_eq!(skipped, ["/etc", "/proc/self/status", "/t/home"]);

    // A path covered by a read-write one is not bound again; one named both ways is
    // read-write.
    f.args = vec![
        arg("/t/out", true, Some(("/t/out", Node::Dir))),
        arg("../out/a", true, Some(("/t/out", Node::Dir))),
        arg("../out/b/c", false, Some(("/t/out/b/c", Node::File))),
        arg("../x", false, Some(("/t/x", Node::File))),
        arg("../x", true, Some(("/t/x", Node::File))),
    ];
    let binds = host_binds(&plan_of(&target(&r, None), &f));
    assert_eq!(
        binds,
        [(p("/t/p"), false), (p("/t/out"), false), (p("/t/x"), false)]
    );
}

#[test]
fn jig_inside_its_data_directory_needs_no_bind_of_its_own() {
    let r = recipe();
    let nest = Nest {
        jig: "/var/lib/me/jig/bin/jig".into(),
        data: "/var/lib/me/jig".into(),
        shims: "/var/lib/me/jig/shims".into(),
        // JIG_HOME set: the global pins are in the data directory.
        config: Some("/var/lib/me/jig".into()),
        pins: true,
    };
    let plan = plan_of(&target(&r, Some(nest)), &facts("/h", "/w"));
    let jig: Vec<_> = plan
        .binds
        .iter()
        .filter(|b| b.dst.starts_with("/var/lib/me"))
        .map(|b| (b.dst.to_str().unwrap(), b.readonly, b.node))
        .collect();
    assert_eq!(jig, [("/var/lib/me/jig", true, Node::DirAlone)]);
    assert_eq!(env_of(&plan)["JIG_CONFIG_DIR"], "/var/lib/me/jig");
}

/// A launch offering nested shims: jig outside its data directory, the configuration
/// in `~/.config/jig`, with or without global pins.
fn nested_plan(pins: bool) -> Plan {
    let r = recipe();
    let nest = Nest {
        jig: "/opt/jig/bin/jig".into(),
        data: "/var/lib/me/jig".into(),
        shims: "/var/lib/me/jig/shims".into(),
        config: Some("/home/me/.config/jig".into()),
        pins,
    };
    plan_of(&target(&r, Some(nest)), &facts("/home/me", "/w"))
}

#[test]
fn nest_binds_jig_and_the_global_pins_read_only() {
    let plan = nested_plan(true);
    let b = |p: &str| plan.binds.iter().find(|b| b.src == Path::new(p)).unwrap();
    assert!(b("/opt/jig/bin/jig").readonly && b("/opt/jig/bin/jig").node == Node::File);
    assert!(b("/var/lib/me/jig").readonly && b("/var/lib/me/jig").node == Node::DirAlone);
    let pins = b("/home/me/.config/jig/jig.toml");
    assert!(pins.readonly && pins.node == Node::File);
    // Without global pins the directory is still named, and nothing of it is bound.
    let plan = nested_plan(false);
    assert!(!plan.binds.iter().any(|b| b.src.starts_with("/home/me")));
    assert_eq!(env_of(&plan)["JIG_CONFIG_DIR"], "/home/me/.config/jig");
}

#[test]
fn binds_go_shallow_to_deep() {
    let r = recipe();
    let mut f = facts("/home/alice", "/w/a/b/c");
    f.home.insert(".bbrc".into(), Node::File);
    f.args = vec![arg("/srv", false, Some(("/srv", Node::Dir)))];
    let binds: Vec<PathBuf> = host_binds(&plan_of(&target(&r, None), &f))
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    let depths: Vec<_> = binds.iter().map(|b| b.components().count()).collect();
    assert!(depths.windows(2).all(|w| w[0] <= w[1]), "{binds:?}");
}

#[test]
fn a_file_to_create_in_the_home_directory_says_why_it_is_not_mounted() {
    // `git config core.excludesFile ~/.gitignore_global` before the file exists.
    let r = recipe();
    let mut f = facts("/t/home", "/t/p");
    f.args = vec![arg(
        "../home/.gitignore_global",
        true,
        Some(("/t/home", Node::Dir)),
    )];
    let launch = build(&target(&r, None), &f, cmd());
    assert_eq!(
        launch.skipped,
        vec![(
            OsString::from("../home/.gitignore_global"),
            "it does not exist, and its directory /t/home is not mounted: it is the whole \
             home directory"
                .to_owned()
        )]
    );
}
