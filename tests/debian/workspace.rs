//! Workspaces: git and npm in subdirectories, path arguments, tools calling tools (a
//! git dependency through the git shim, hooks and aliases that call other recipes).

use super::npm::npm;
use super::*;

impl T {
    /// `git ARGS` run from `dir`, which must succeed; returns its stdout.
    fn git_in(&self, dir: &Path, args: &[&str]) -> String {
        let mut c = self.shim_cmd("git", args);
        c.current_dir(dir);
        let out = run(c);
        assert_ok(
            &out,
            &format!(
                "{} git {} in {}",
                self.label(),
                args.join(" "),
                dir.display()
            ),
        );
        stdout(&out)
    }
}

#[test]
fn git_in_a_subdirectory_works_on_the_whole_repository() {
    for t in setups() {
        let l = t.label();
        t.repo_with_commits(2);
        let sub = t.project().join("sub");
        t.env.mkdir(&sub);
        t.env.write(&sub.join("new.txt"), "new\n");
        t.env.write(&t.project().join("file1.txt"), "changed\n");
        assert_eq!(
            t.git_in(&sub, &["rev-parse", "--show-toplevel"]),
            format!("{}\n", t.project().display()),
            "{l}"
        );
        assert_eq!(t.git_in(&sub, &["log", "--format=%s"]), "c2\nc1\n", "{l}");
        assert_eq!(
            t.git_in(&sub, &["status", "--short", "--untracked-files=all"]),
            " M ../file1.txt\n?? new.txt\n",
            "{l}"
        );
        // Writes into ../.git.
        t.git_in(&sub, &["commit", "-q", "-am", "c3 from sub"]);
        assert_eq!(
            t.git_ok(&["log", "-1", "--format=%s"]),
            "c3 from sub\n",
            "{l}"
        );

        // git -C names another repository outside the workspace: mounted read-write.
        let other = t.env.dir().join("other");
        t.env.mkdir(&other);
        t.git_in(&other, &["init", "-q"]);
        t.env.write(&other.join("o.txt"), "o\n");
        let o = other.to_str().unwrap();
        t.git_in(&sub, &["-C", o, "add", "o.txt"]);
        t.git_in(&sub, &["-C", o, "commit", "-q", "-m", "in other"]);
        assert_eq!(
            t.git_in(&other, &["log", "--format=%s"]),
            "in other\n",
            "{l}"
        );
        t.assert_owned_tree(&other);
    }
}

#[test]
fn npm_in_a_subdirectory_finds_the_package() {
    for t in setups() {
        let l = t.label();
        t.env.write(
            &t.project().join("package.json"),
            r#"{"name": "jig-ws-test", "version": "1.0.0", "scripts": {"test": "echo tests ran in $PWD"}}"#,
        );
        let sub = t.project().join("lib/deep");
        t.env.mkdir(&t.project().join("lib"));
        t.env.mkdir(&sub);
        let mut c = t.shim_cmd("npm", &["pkg", "get", "name"]);
        c.current_dir(&sub);
        let out = run(c);
        assert_ok(&out, &format!("{l} npm pkg get name"));
        assert_eq!(stdout(&out).trim(), "\"jig-ws-test\"", "{l}");
        let mut c = t.shim_cmd("npm", &["test"]);
        c.current_dir(&sub);
        let out = run(c);
        assert_ok(&out, &format!("{l} npm test"));
        assert!(
            stdout(&out).contains(&format!("tests ran in {}", t.project().display())),
            "{l} {}",
            stdout(&out)
        );
    }
}

#[test]
fn npm_installs_a_git_dependency_through_the_git_shim() {
    for t in setups() {
        let l = t.label();
        t.write_gitconfig();
        // A package in a git repository outside the project.
        let dep = t.env.dir().join("dep");
        t.env.mkdir(&dep);
        t.env.write(
            &dep.join("package.json"),
            r#"{"name": "jig-dep", "version": "1.0.0", "main": "index.js"}"#,
        );
        t.env.write(&dep.join("index.js"), "module.exports = 42;\n");
        t.git_in(&dep, &["init", "-q"]);
        t.git_in(&dep, &["add", "."]);
        t.git_in(&dep, &["commit", "-q", "-m", "dep"]);
        t.env.write(
            &t.project().join("package.json"),
            r#"{"name": "app", "version": "1.0.0"}"#,
        );
        // npm's image has no git: npm runs the git shim, a nested container.
        let spec = format!("git+file://{}", dep.display());
        let out = npm(&t, &["install", &spec]);
        assert_ok(&out, &format!("{l} npm install {spec}"));
        let installed = t.project().join("node_modules/jig-dep/index.js");
        assert_eq!(
            fs::read_to_string(&installed).unwrap_or_default(),
            "module.exports = 42;\n",
            "{l} {}",
            stderr(&out)
        );
        let out = t.shim("node", &["-e", "console.log(require('jig-dep'))"]);
        assert_ok(&out, &format!("{l} node"));
        assert_eq!(stdout(&out), "42\n", "{l}");
        t.assert_owned_tree(&t.project().join("node_modules"));
    }
}

/// Inside a container every installed recipe's shim works, from hooks and aliases too:
/// a pre-commit hook calls jq and python3, an alias calls jq, each a nested container
/// of its own recipe. A command that is in no image and no installed recipe gets a
/// message naming the built-in recipe to install.
#[test]
fn hooks_and_aliases_call_other_recipes_through_their_shims() {
    for t in setups_with(&["git", "jq", "python3"]) {
        let l = t.label();
        t.repo_with_commits(1);
        let hook = t.project().join(".git/hooks/pre-commit");
        t.env.write(
            &hook,
            "#!/bin/sh\nset -e\necho '{\"hook\": [1, 2]}' | jq -c .hook\npython3 -c 'import sys; print(\"python\", sys.version_info[0])'\n",
        );
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
        let out = t.git(&["commit", "-q", "--allow-empty", "-m", "hooked"]);
        assert_ok(&out, &format!("{l} a commit through the hook"));
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert!(
            text.contains("[1,2]\n") && text.contains("python 3\n"),
            "{l}: {text}"
        );
        assert!(t.git_ok(&["log", "-1", "--format=%s"]) == "hooked\n", "{l}");
        let out = t.git(&["-c", "alias.sum=!jq -n '1 + 41'", "sum"]);
        assert_ok(&out, &format!("{l} an alias calling jq"));
        assert_eq!(stdout(&out), "42\n", "{l}");
        // The image of git has neither; an installed recipe's shim is named, and a
        // built-in that is not installed is named with its install command.
        let out = t.jig(&["exec", "git", "--", "jq", "-n", "1"]);
        assert_code(&out, 127, &format!("{l} jq in git's image"));
        assert!(
            stderr(&out)
                .contains("hint: 'jq' is a shim of another installed recipe: run it as `jq`"),
            "{l}: {}",
            stderr(&out)
        );
        let out = t.jig(&["exec", "git", "--", "shellcheck", "x.sh"]);
        assert_code(&out, 127, &format!("{l} shellcheck in git's image"));
        assert_eq!(
            stderr(&out),
            "jig: shellcheck: error: command not found in the image of recipe git\n  \
             hint: the shellcheck recipe provides 'shellcheck': `jig install shellcheck`\n",
            "{l}"
        );
    }
}
