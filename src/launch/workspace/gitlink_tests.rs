//! Unit tests of the `.git` file judgement, on a file system in memory.

use super::*;

/// A file system in memory for [`judge`]: directories, files, and symlinked paths
/// (a path and what it really is).
#[derive(Default)]
struct Fake {
    dirs: Vec<PathBuf>,
    files: Vec<(PathBuf, String)>,
    links: Vec<(PathBuf, PathBuf)>,
}

impl Fake {
    fn dir(mut self, p: &str) -> Fake {
        self.dirs.push(p.into());
        self
    }
    fn file(mut self, p: &str, text: &str) -> Fake {
        self.files.push((p.into(), text.into()));
        self
    }
    fn link(mut self, p: &str, real: &str) -> Fake {
        self.links.push((p.into(), real.into()));
        self
    }
    /// A repository's git directory at `dir`.
    fn repo(self, dir: &str) -> Fake {
        self.file(&format!("{dir}/HEAD"), "ref: refs/heads/main\n")
            .dir(&format!("{dir}/objects"))
    }
    /// A worktree's administrative directory at `admin`, linking back to `back`.
    fn admin(self, admin: &str, back: &str) -> Fake {
        self.file(&format!("{admin}/HEAD"), "ref: refs/heads/wt\n")
            .file(&format!("{admin}/commondir"), "../..\n")
            .file(&format!("{admin}/gitdir"), &format!("{back}\n"))
    }
}

impl Look for Fake {
    fn exists(&self, p: &Path) -> bool {
        self.dirs.iter().any(|d| d.starts_with(p))
            || self.files.iter().any(|(f, _)| f.starts_with(p))
    }
    fn read(&self, p: &Path) -> Option<String> {
        self.files
            .iter()
            .find(|(f, _)| f == p)
            .map(|(_, t)| t.clone())
    }
    fn real(&self, p: &Path) -> Option<PathBuf> {
        if let Some((_, real)) = self.links.iter().find(|(l, _)| l == p) {
            return Some(real.clone());
        }
        self.exists(p).then(|| p.to_owned())
    }
}

fn judged(fs: &Fake, root: &str, dot_git: &str) -> Result<Option<PathBuf>, String> {
    judged_with(fs, root, dot_git, &|_| Ok(()))
}

fn judged_with(
    fs: &Fake,
    root: &str,
    dot_git: &str,
    guard: Guard,
) -> Result<Option<PathBuf>, String> {
    match judge(Path::new(root), dot_git, fs, guard) {
        None => Ok(None),
        Some(GitLink::Mounted(d)) => Ok(Some(d)),
        Some(GitLink::Refused { reason, .. }) => Err(reason),
    }
}

fn refused(r: Result<Option<PathBuf>, String>, part: &str) {
    match r {
        Err(reason) => assert!(reason.contains(part), "{reason:?} lacks {part:?}"),
        other => panic!("{other:?}: not refused ({part})"),
    }
}

#[test]
fn a_worktree_is_mounted_only_when_it_links_back() {
    let fs = Fake::default()
        .repo("/w/main/.git")
        .admin("/w/main/.git/worktrees/wt", "/w/wt/.git")
        .admin("/w/main/.git/worktrees/rel", "../../../../rel/.git");
    let main = Some(PathBuf::from("/w/main/.git"));
    assert_eq!(
        judged(&fs, "/w/wt", "gitdir: /w/main/.git/worktrees/wt\n"),
        Ok(main.clone())
    );
    // Relative, both ways (worktree.useRelativePaths).
    assert_eq!(
        judged(&fs, "/w/rel", "gitdir: ../main/.git/worktrees/rel"),
        Ok(main)
    );
    // Another worktree's: its back-link names that one.
    refused(
        judged(&fs, "/w/evil", "gitdir: /w/main/.git/worktrees/wt"),
        "it belongs to the worktree at /w/wt, not this one",
    );
    // Without a back-link, or with a commondir that is not its repository.
    let fs = fs
        .file("/w/main/.git/worktrees/bare/HEAD", "x")
        .file("/w/main/.git/worktrees/bare/commondir", "../..")
        .file("/w/fake/HEAD", "x")
        .file("/w/fake/commondir", "/w/main/.git")
        .file("/w/fake/gitdir", "/w/evil/.git");
    refused(
        judged(&fs, "/w/evil", "gitdir: /w/main/.git/worktrees/bare"),
        "no gitdir file",
    );
    refused(
        judged(&fs, "/w/evil", "gitdir: /w/fake"),
        "it is not in the worktrees directory of /w/main/.git",
    );
    // A repository that is no git directory.
    let fs = Fake::default()
        .file("/w/main/.git/HEAD", "x")
        .admin("/w/main/.git/worktrees/wt", "/w/wt/.git");
    refused(
        judged(&fs, "/w/wt", "gitdir: /w/main/.git/worktrees/wt"),
        "/w/main/.git is not a git directory",
    );
}

#[test]
fn a_git_directory_inside_the_workspace_never_leads_out() {
    // Everything below the root, the tool may have written.
    let fs = Fake::default()
        .repo("/w/main/.git")
        .repo("/w/p/.inner")
        .admin("/w/p/.wt", "/w/p/.git")
        .file("/w/p/.wt/commondir", "/w/main/.git")
        .repo("/w/p/.x")
        .admin("/w/p/.x/worktrees/n", "/w/p/.git")
        .repo("/w/p/x")
        .admin("/w/p/x/worktrees/n", "/w/p/.git");
    assert_eq!(judged(&fs, "/w/p", "gitdir: .inner"), Ok(None));
    refused(
        judged(&fs, "/w/p", "gitdir: .wt"),
        "not in the worktrees directory",
    );
    assert_eq!(judged(&fs, "/w/p", "gitdir: .x/worktrees/n"), Ok(None));
    // A root inside the repository it names: the back-link is the workspace's.
    refused(
        judged(&fs, "/w/p/x/worktrees", "gitdir: n"),
        "it is inside the workspace, and /w/p/x outside it",
    );
    // Not a gitdir line: nothing.
    assert_eq!(judged(&fs, "/w/p", "ref: x\n"), Ok(None));
}

#[test]
fn a_submodule_is_mounted_only_below_an_enclosing_repository_and_linked_back() {
    let wt = |w: &str| format!("[core]\n\tbare = false\n\tworktree = {w}\n");
    let fs = Fake::default()
        .repo("/w/super/.git/modules/lib")
        .file("/w/super/.git/modules/lib/config", &wt("../../../lib"))
        .repo("/w/super/.git/modules/a/modules/b")
        .file(
            "/w/super/.git/modules/a/modules/b/config",
            &wt("../../../../../a/b"),
        )
        .repo("/w/super/.git/modules/none")
        .file(
            "/w/super/.git/modules/none/config",
            "[core]\n\tbare = false\n",
        )
        .repo("/w/fake")
        .file("/w/fake/config", &wt("../evil"));
    assert_eq!(
        judged(&fs, "/w/super/lib", "gitdir: ../.git/modules/lib\n"),
        Ok(Some("/w/super/.git/modules/lib".into()))
    );
    assert_eq!(
        judged(
            &fs,
            "/w/super/a/b",
            "gitdir: ../../.git/modules/a/modules/b"
        ),
        Ok(Some("/w/super/.git/modules/a/modules/b".into()))
    );
    refused(
        judged(&fs, "/w/super/evil", "gitdir: ../.git/modules/lib"),
        "it is the git directory of the submodule at /w/super/lib",
    );
    refused(
        judged(&fs, "/w/super/none", "gitdir: ../.git/modules/none"),
        "no core.worktree",
    );
    // Its core.worktree names the root, but nothing encloses it.
    refused(
        judged(&fs, "/w/evil", "gitdir: /w/fake"),
        "neither a worktree's nor a submodule's",
    );
    // A repository elsewhere is not "enclosing".
    refused(
        judged(&fs, "/elsewhere/lib", "gitdir: /w/super/.git/modules/lib"),
        "neither a worktree's nor a submodule's",
    );
}

#[test]
fn other_targets_are_refused_with_the_reason() {
    let fs = Fake::default()
        .file("/home/me/.ssh/authorized_keys", "key")
        .file("/w/half/HEAD", "x")
        .repo("/w/real")
        .link("/w/link", "/w/real");
    refused(
        judged(&fs, "/w/p", "gitdir: /home/me/.ssh"),
        "it is not a git directory (no HEAD)",
    );
    refused(
        judged(&fs, "/w/p", "gitdir: /w/half"),
        "no objects, no commondir",
    );
    refused(
        judged(&fs, "/w/p", "gitdir: /w/missing"),
        "it does not exist",
    );
    refused(
        judged(&fs, "/w/p", "gitdir: /w/link"),
        "it leads through a symlink to /w/real",
    );
    // The guard is asked before anything is read there.
    let guard: Guard = &|p| {
        if p.starts_with("/home/me") {
            Err("it is private".into())
        } else {
            Ok(())
        }
    };
    let nothing = Fake::default();
    refused(
        judged_with(&nothing, "/w/p", "gitdir: /home/me/x", guard),
        "it is private",
    );
    // And about the repository of a worktree, too.
    let fs = Fake::default()
        .repo("/home/me/.git")
        .admin("/home/me/.git/worktrees/wt", "/w/wt/.git");
    let guard: Guard = &|p| {
        if p == Path::new("/home/me/.git") {
            Err("it is private".into())
        } else {
            Ok(())
        }
    };
    refused(
        judged_with(&fs, "/w/wt", "gitdir: /home/me/.git/worktrees/wt", guard),
        "it is private",
    );
}

#[test]
fn core_worktree_is_read_as_git_writes_it() {
    assert_eq!(
        core_worktree("[core]\n\tworktree = ../../../lib\n").as_deref(),
        Some("../../../lib")
    );
    assert_eq!(
        core_worktree("[Core]\nWorkTree=a ; c\n").as_deref(),
        Some("a")
    );
    assert_eq!(core_worktree("[core] worktree = a\n").as_deref(), Some("a"));
    assert_eq!(
        core_worktree("[core]\nworktree = \"a b \" # c\n").as_deref(),
        Some("a b ")
    );
    assert_eq!(
        core_worktree("[core]\nworktree = a\\\"b\n").as_deref(),
        Some("a\"b")
    );
    assert_eq!(
        core_worktree("[core]\nworktree = a\n[core]\nworktree = b\n").as_deref(),
        Some("b")
    );
    for none in [
        "",
        "[core]\nbare = false\n",
        "[core \"x\"]\nworktree = a\n",
        "[remote \"origin\"]\nworktree = a\n",
        "worktree = a\n",
        "[core]\nworktree =\n",
    ] {
        assert_eq!(core_worktree(none), None, "{none:?}");
    }
}
