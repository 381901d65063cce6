//! Tests of the git binds, on facts built in memory.

use super::*;
use crate::launch::git::{Named, Remote, Superproject, Worktree};
use crate::launch::plan::testing::*;
use crate::recipe::Recipe;

fn git_recipe() -> Recipe {
    crate::recipe::parse(
        "name = \"g\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:r\"\n[tool]\nshims = [\"git\"]\n\
         [mounts]\nhome = [\".config/git\"]\nhome_rw = [\".gitconfig\"]\ngit_config = true\n",
        "g.toml",
    )
    .unwrap()
}

fn named(path: &str, key: &str) -> Named {
    Named {
        path: p(path),
        real: p(path),
        node: Node::File,
        by: By::Key {
            key: key.into(),
            file: p("/home/alice/.gitconfig"),
        },
    }
}

fn binds_of(r: &Recipe, f: &Facts) -> GitBinds {
    plan(&target(r, None), f)
}

fn srcs(g: &GitBinds) -> Vec<(PathBuf, bool)> {
    g.binds
        .iter()
        .map(|b| (b.src.clone(), b.readonly))
        .collect()
}

#[test]
fn the_system_file_and_named_home_files_are_bound_read_only() {
    let r = git_recipe();
    let mut f = facts("/home/alice", "/w/p");
    f.home.insert(".config/git".into(), Node::Dir);
    let mut ssh = named("/home/alice/.ssh", "include.path");
    ssh.node = Node::Dir;
    f.git = Some(GitFacts {
        system: true,
        named: vec![
            named("/home/alice/.gitignore_global", "core.excludesFile"),
            // Inside a bind already.
            named("/home/alice/.config/git/ignore", "core.excludesFile"),
            named("/w/p/.hooks", "core.hooksPath"),
            ssh,
            named("/etc/shadow", "include.path"),
            named("/home/alice/.gnupg/private-keys-v1.d/k.key", "include.path"),
            named(
                "/home/alice/.local/share/jig/installed.json",
                "include.path",
            ),
        ],
        ..GitFacts::default()
    });
    let mut t = target(&r, None);
    t.jig_dirs = vec![p("/home/alice/.local/share/jig")];
    let g = plan(&t, &f);
    assert_eq!(
        srcs(&g),
        [
            (p("/etc/gitconfig"), true),
            (p("/home/alice/.gitignore_global"), true),
            (p("/home/alice/.ssh"), true),
        ]
    );
    let skipped: Vec<_> = g
        .skipped
        .iter()
        .map(|(w, why)| format!("{}: {why}", w.to_string_lossy()))
        .collect();
    assert_eq!(skipped.len(), 3, "{skipped:?}");
    assert!(
        skipped[0].starts_with("/etc/shadow (include.path in /home/alice/.gitconfig): ")
            && skipped[0].ends_with("it is outside the home directory"),
        "{skipped:?}"
    );
    assert!(skipped[1].contains("GnuPG home directory"), "{skipped:?}");
    assert!(skipped[2].contains("jig's directory"), "{skipped:?}");
}

#[test]
fn a_named_symlink_is_judged_where_it_leads() {
    let r = git_recipe();
    let mut f = facts("/home/alice", "/w/p");
    let mut n = named("/home/alice/.gitignore_global", "core.excludesFile");
    n.real = p("/etc/passwd");
    f.git = Some(GitFacts {
        named: vec![n],
        ..GitFacts::default()
    });
    let g = binds_of(&r, &f);
    assert!(g.binds.is_empty());
    assert!(
        g.skipped[0].1.starts_with("it leads to /etc/passwd"),
        "{:?}",
        g.skipped
    );
}

#[test]
fn remotes_worktrees_and_the_superproject() {
    let r = git_recipe();
    let mut f = facts("/home/alice", "/home/alice/src/lib");
    f.git = Some(GitFacts {
        remotes: vec![
            Remote {
                name: "origin".into(),
                url: "/srv/x.git".into(),
                found: Ok((p("/srv/x.git"), Node::Dir, false)),
            },
            Remote {
                name: "b".into(),
                url: "../x.bundle".into(),
                found: Ok((p("/home/alice/src/x.bundle"), Node::File, true)),
            },
            Remote {
                name: "evil".into(),
                url: "/home/alice/.ssh".into(),
                found: Err("it is not a git repository".into()),
            },
            Remote {
                name: "home".into(),
                url: "/home".into(),
                found: Ok((p("/home"), Node::Dir, false)),
            },
        ],
        worktrees: vec![
            Worktree {
                dir: p("/home/alice/wt"),
                dot_git: p("/home/alice/wt/.git"),
                linked: Ok(()),
            },
            Worktree {
                dir: p("/home/alice"),
                dot_git: p("/home/alice/.git"),
                linked: Ok(()),
            },
            Worktree {
                dir: p("/home/alice/.ssh"),
                dot_git: p("/home/alice/.ssh/.git"),
                linked: Err("its .git file does not name it".into()),
            },
        ],
        superproject: Some(Superproject {
            root: p("/home/alice/src"),
            git: None,
        }),
        ..GitFacts::default()
    });
    let g = binds_of(&r, &f);
    assert_eq!(
        srcs(&g),
        [
            (p("/srv/x.git"), false),
            (p("/home/alice/src/x.bundle"), true),
            (p("/home/alice/wt"), false),
            // A worktree at home itself: its .git file alone keeps it registered.
            (p("/home/alice/.git"), true),
            (p("/home/alice/src"), true),
        ]
    );
    let reasons: Vec<_> = g
        .skipped
        .iter()
        .map(|(w, _)| w.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        reasons,
        [
            "/home/alice/.ssh (remote evil)",
            "/home (remote home)",
            "/home/alice (a worktree of this repository)",
            "/home/alice/.ssh (a worktree of this repository)",
        ]
    );
    // In the plan: the superproject read-only below the workspace's read-write bind.
    let plan = crate::launch::plan::build(&target(&r, None), &f, cmd()).plan;
    let order: Vec<_> = host_binds(&plan);
    let at = |s: &str| order.iter().position(|(b, _)| b == &p(s)).unwrap();
    assert!(at("/home/alice/src") < at("/home/alice/src/lib"));
}
