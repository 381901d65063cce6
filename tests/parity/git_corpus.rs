//! The git corpus: what people type every day, on the history of `history.rs`. Each
//! case is a shell snippet run in the repository (`$D` is the directory holding it,
//! `$REMOTE` a bare clone of it, `$SUB` a library for submodules, `$OTHER` a second
//! repository); `git` is the host's `/usr/bin/git` on one side and jig's shim on the
//! other, everything else is the host's. Commits made by a case get fixed dates from
//! `GIT_AUTHOR_DATE` and `GIT_COMMITTER_DATE`, unless the case sets its own.

use super::{Case, same};

/// The corpus.
pub const CASES: &[Case] = &[
    // Versions and help.
    same("version", "git --version && git version --build-options"),
    // At its default width, man uses a page formatted before when one is saved, as
    // root outside can (then troff says nothing): the stream it prints is compared.
    same("help log", "git help log 2>/dev/null"),
    same(
        "help log, wider",
        "MANWIDTH=100 git help log && git help -m rebase | head -20",
    ),
    same("help -a", "git help -a | head -40"),
    same("not a command", "git frobnicate"),
    // Logs.
    same("log oneline", "git log --oneline -25"),
    same("log graph all", "git log --graph --oneline --all -60"),
    same(
        "log format",
        "git log --format='%H %h %an <%ae> %ad %cn %cd %s' --date=iso -15",
    ),
    same("log stat", "git log --stat -6"),
    same("log patch", "git log -p -4"),
    same(
        "log follow rename",
        "git log --follow --oneline -- docs/manual.md | head -30",
    ),
    same("log author", "git log --author=Bob --oneline | head -20"),
    same("log grep", "git log --grep='^fix' --oneline | head -20"),
    same(
        "log since until",
        "git log --since=2022-01-01 --until=2022-06-30 --format='%h %ad' --date=short",
    ),
    same("log decorate", "git log --decorate --oneline --all -15"),
    same("log bodies", "git log --format=%B -8"),
    same("log name-status", "git log --name-status -6"),
    same("log pickaxe", "git log -S needle --oneline"),
    same(
        "log first-parent",
        "git log --first-parent --oneline -12 v1.0..main",
    ),
    same("log merges", "git log --merges --format='%h %p %s'"),
    same(
        "log date formats",
        "git log -3 --format='%ad | %ar' --date=rfc2822 && git log -2 --date=raw --format=%ad",
    ),
    same(
        "log range",
        "git log --oneline main..topic && git log --oneline --left-right main...conflict",
    ),
    same("whatchanged", "git whatchanged -3"),
    same(
        "reflog",
        "git checkout -q topic && git checkout -q main && git reflog -5",
    ),
    // Blame.
    same("blame", "git blame src/main.c"),
    same("blame porcelain", "git blame -L 1,6 --porcelain src/main.c"),
    same(
        "blame moves",
        "git blame -C -w --date=short docs/manual.md | tail -20",
    ),
    // Diffs.
    same("diff stat", "git diff --stat HEAD~7"),
    same("diff tags", "git diff v1.0 v2.0 -- src"),
    same("diff words", "git diff --word-diff HEAD~4 -- src/main.c"),
    same(
        "diff worktree and index",
        "echo change >> README.md && echo new >> lib/util.c && git add lib/util.c && git diff && git diff --cached --stat",
    ),
    same("diff name-only", "git diff --name-only v0.1..HEAD"),
    same("diff summary renames", "git diff -M --summary v1.0..v2.1"),
    same(
        "diff no-index",
        "printf 'a\\nb\\n' > x.txt && printf 'a\\nc\\n' > y.txt && git diff --no-index x.txt y.txt",
    ),
    // Status.
    same("status clean", "git status"),
    same(
        "status changes",
        "echo more >> README.md && rm lib/util.c && touch new.txt debug.log && mkdir -p build && touch build/o && git status && git status --short --branch && git status --porcelain=v2 --branch",
    ),
    same(
        "status ignored",
        "touch a.log && git status --ignored --short",
    ),
    // Grep.
    same("grep", "git grep -n needle"),
    same("grep count", "git grep -c step -- '*.md' '*.c'"),
    same(
        "grep and",
        "git grep -e int --and -e void -- src | head -20",
    ),
    same("grep revision", "git grep -l include v1.0"),
    // Revisions and objects.
    same(
        "rev-list count",
        "git rev-list --count HEAD && git rev-list --count --all",
    ),
    same("rev-list objects", "git rev-list --objects --all | wc -l"),
    same("rev-list merges", "git rev-list --merges HEAD"),
    same(
        "rev-parse",
        "git rev-parse HEAD HEAD~3 v1.0^{commit} main@{upstream} :/needle",
    ),
    same(
        "name-rev merge-base",
        "git name-rev HEAD~40 && git merge-base main topic && git merge-base --is-ancestor v1.0 main; echo $?",
    ),
    same("shortlog", "git shortlog -sne HEAD"),
    same(
        "shortlog committer",
        "git shortlog -s --group=committer v1.0",
    ),
    same("show head", "git show HEAD"),
    same("show tag", "git show v1.0"),
    same("show blob", "git show HEAD~3:src/main.c"),
    same("show fuller", "git show --stat --format=fuller HEAD~1"),
    same("ls-files", "git ls-files && git ls-files -s | head -5"),
    same(
        "ls-files others",
        "touch u1 u2.log && git ls-files --others --exclude-standard",
    ),
    same(
        "ls-tree",
        "git ls-tree -r --name-only v2.0 && git ls-tree HEAD src",
    ),
    same(
        "cat-file",
        "git cat-file -p HEAD && git cat-file -t v1.0 && git cat-file -p v1.0 && git cat-file -s HEAD:src/main.c",
    ),
    same(
        "cat-file batch",
        "git cat-file --batch-check --batch-all-objects | wc -l && git rev-parse HEAD: | git cat-file --batch | head -c 300",
    ),
    same("for-each-ref", "git for-each-ref"),
    same(
        "for-each-ref format",
        "git for-each-ref --sort=-committerdate --format='%(refname:short) %(objectname:short) %(committerdate:iso) %(upstream:short)' refs/heads refs/tags",
    ),
    same(
        "describe",
        "git describe --tags && git describe && git describe --always --long HEAD~7 && git describe --contains HEAD~150",
    ),
    // Branches and tags.
    same("branch list", "git branch -a -vv"),
    same(
        "branch merged",
        "git branch --merged main && git branch --no-merged main",
    ),
    same(
        "branch create delete",
        "git branch new-b HEAD~2 && git branch -m new-b renamed && git branch -d renamed && git branch -d topic; git branch -D topic",
    ),
    same("tag list", "git tag -l -n2 && git tag --contains v2.0"),
    same(
        "tag annotate",
        "git tag -a v3.0 -m 'Release three' && git show v3.0 && git tag -d v3.0",
    ),
    same(
        "switch restore",
        "git switch -c work HEAD~5 && git switch - && echo x > README.md && git restore README.md && git status --short",
    ),
    same(
        "reset",
        "git reset --hard HEAD~2 && git log --oneline -1 && git reset --soft HEAD~1 && git status --short",
    ),
    // Changing history.
    same(
        "commit",
        "echo line >> README.md && git commit -am 'docs: one more line' && git log -1 --stat",
    ),
    same("commit nothing", "git commit -m nothing"),
    same(
        "commit amend",
        "git commit --amend -m 'fix: reworded' && git log -2 --oneline",
    ),
    same(
        "mv rm",
        "git mv README.md README.txt && git rm -q --cached lib/util.c && git status --short",
    ),
    same(
        "stash",
        "echo wip >> README.md && echo new > stashed.txt && git add stashed.txt && git stash && git stash list && git stash show -p && git stash pop && git status --short",
    ),
    same(
        "rebase interactive",
        "git checkout -q topic && GIT_SEQUENCE_EDITOR=\"sed -i -e '2s/^pick/squash/' -e '4s/^pick/drop/'\" GIT_EDITOR=true git rebase -i HEAD~5 && git log --oneline -5",
    ),
    same(
        "rebase onto",
        "git checkout -q topic && git rebase main && git log --oneline --graph -8",
    ),
    same(
        "merge",
        "git merge --no-ff -m 'Merge topic' topic && git log --graph --oneline -9",
    ),
    same(
        "merge conflict",
        "git merge conflict; echo status $?; git status --short && git diff && git merge --abort && git status --short",
    ),
    same(
        "cherry-pick",
        "git cherry-pick topic~2 && git log --oneline -2 --stat",
    ),
    same(
        "cherry-pick conflict",
        "git cherry-pick conflict; echo status $?; git cherry-pick --abort && git status --short",
    ),
    same(
        "revert",
        "git revert --no-edit HEAD~1 && git log -1 --format=%B",
    ),
    same(
        "format-patch am",
        "git format-patch -2 --stdout topic > ../patches && git checkout -q -b apply main && git am -q < ../patches && git log --oneline -3",
    ),
    same(
        "apply",
        "git diff HEAD~3 HEAD -- src > ../diff && git apply --stat ../diff && git apply -R --check ../diff",
    ),
    same(
        "notes",
        "git notes add -m 'a note' HEAD~1 && git notes show HEAD~1 && git log -2 --format='%h %N'",
    ),
    same(
        "bisect run",
        "git bisect start HEAD v1.0 && git bisect run sh -c 'test ! -f src/bug.txt' && git bisect log | tail -3 && git bisect reset",
    ),
    // Worktrees and submodules.
    same(
        "worktree inside",
        "git worktree add -q .wt/topic topic && git worktree list && git -C .wt/topic log --oneline -1 && git worktree remove .wt/topic && git worktree list",
    ),
    same(
        "worktree outside",
        "git worktree add -q ../wt-outside topic && git -C ../wt-outside status --short && git worktree list && git worktree prune -v && git worktree list",
    ),
    same(
        "submodule",
        "git submodule add -q $SUB lib/sub && git submodule status && git commit -qm 'add sub' && git submodule foreach 'git log --oneline' && git config -f .gitmodules --list",
    ),
    same(
        "submodule superproject",
        "git submodule add -q $SUB lib/sub && cd lib/sub && git rev-parse --show-superproject-working-tree --show-toplevel && git status --short",
    ),
    // Archives and maintenance.
    same(
        "archive tar",
        "git archive --format=tar HEAD | sha256sum && git archive --prefix=p/ v1.0 src | tar tf -",
    ),
    same("archive zip", "git archive --format=zip v2.0 | sha256sum"),
    same("fsck", "git fsck --full --no-progress; echo status $?"),
    same(
        "gc",
        "git -c pack.threads=1 gc -q && git count-objects -v && git fsck --no-progress",
    ),
    same(
        "clean",
        "touch u1 a.log && mkdir -p d/e && touch d/e/f && git clean -n && git clean -nd && git clean -nX && git clean -fdq && git status --short --ignored",
    ),
    same(
        "bundle",
        "git bundle create ../x.bundle HEAD~3..HEAD 2>&1 | tail -1; git bundle verify ../x.bundle",
    ),
    // Configuration.
    same("config show-origin", "git config --list --show-origin"),
    same(
        "config get",
        "git config --show-origin --get user.name && git config --get-regexp '^alias' && git config --local --list",
    ),
    same(
        "config local set",
        "git config core.autocrlf input && git config --get core.autocrlf && git config --unset core.autocrlf",
    ),
    same(
        "config global set",
        "git config --global alias.last 'log -1 --oneline'; echo status $?; git last; grep -c last ~/.gitconfig",
    ),
    same("aliases", "git lg && git hello"),
    same(
        "excludes file",
        "printf '[core]\\n\\texcludesFile = ~/.gitignore_global\\n' >> ~/.gitconfig && echo '*.tmp' > ~/.gitignore_global && touch x.tmp && git status --short",
    ),
    same(
        "var",
        "git var GIT_COMMITTER_IDENT && git var GIT_AUTHOR_IDENT",
    ),
    // Paths: subdirectories, -C, paths outside.
    same(
        "rev-parse in a subdirectory",
        "cd docs && git rev-parse --show-toplevel --show-prefix --show-cdup --git-dir --absolute-git-dir --is-inside-work-tree && git status --short . && git log --oneline -2 -- .",
    ),
    same(
        "-C inside",
        "git -C src log --oneline -3 -- . && git -C lib ls-files",
    ),
    same(
        "-C outside",
        "cd .. && git -C repo log --oneline -2 && git -C $OTHER log --oneline",
    ),
    same(
        "init elsewhere",
        "git init ../fresh && git -C ../fresh status",
    ),
    same(
        "clone local",
        "git clone -q $REMOTE ../clone && git -C ../clone log --oneline -3 && git -C ../clone remote -v",
    ),
    same(
        "errors",
        "git log no-such-ref; echo $?; git checkout no-such-branch; echo $?; git show HEAD:nope; echo $?",
    ),
    same("not a repository", "cd .. && git status; echo $?"),
    // Local remotes (the bare clone outside the workspace).
    same(
        "fetch",
        "git fetch origin && git log --oneline -1 origin/main",
    ),
    same(
        "push",
        "git push origin HEAD~1:refs/heads/pushed && git ls-remote origin",
    ),
    same("ls-remote", "git ls-remote --heads origin"),
    same("remote show", "git remote -v && git remote show origin"),
    same("pull", "git pull --ff-only"),
    // Hooks.
    same(
        "hooks",
        "printf '#!/bin/sh\\necho pre-commit sees $(git diff --cached --name-only)\\n' > .git/hooks/pre-commit && printf '#!/bin/sh\\necho post-commit $(git rev-parse --short HEAD)\\n' > .git/hooks/post-commit && chmod +x .git/hooks/* && echo x >> README.md && git commit -qam hooked",
    ),
    same(
        "hook refuses",
        "printf '#!/bin/sh\\necho no commits today >&2\\nexit 1\\n' > .git/hooks/pre-commit && chmod +x .git/hooks/pre-commit && git commit --allow-empty -m refused; echo status $?",
    ),
    same(
        "commit-msg hook",
        "printf '#!/bin/sh\\nsed -i s/^/ticket-1:\\\\ / \"$1\"\\n' > .git/hooks/commit-msg && chmod +x .git/hooks/commit-msg && git commit -q --allow-empty -m edited && git log -1 --format=%s",
    ),
    // Time zones.
    same(
        "TZ commit",
        "TZ=America/New_York GIT_AUTHOR_DATE='2024-03-10 12:00:00' GIT_COMMITTER_DATE='2024-03-10 12:00:00' git commit -q --allow-empty -m tz && git log -1 --format='%ad | %cd | %ai'",
    ),
    same(
        "TZ log local",
        "TZ=Asia/Tokyo git log -4 --date=local --format=%ad && git log -2 --date=local --format=%ad",
    ),
    same(
        "TZ offsets",
        "TZ=Europe/Paris git log -3 --date=iso-local --format='%ad %cd'",
    ),
];
