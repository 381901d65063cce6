//! A repository with real history, made in milliseconds: a `git fast-import` stream of
//! 300 commits on `main` by three authors over three years and several time zones,
//! with files added, changed, renamed and deleted, a merged `feature` branch, an
//! unmerged `topic` branch, a `conflict` branch that cannot merge cleanly, a release
//! branch, lightweight and annotated tags. Everything is fixed (names, dates, contents),
//! so both sides of a parity test get byte-identical repositories.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Seconds since the epoch of the first commit (2021-01-04).
const START: u64 = 1_609_750_000;

const AUTHORS: &[(&str, &str, &str)] = &[
    ("Alice Doe", "alice@example.com", "+0200"),
    ("Bob Roe", "bob@example.org", "-0500"),
    ("Carol Poe", "carol@example.net", "+0000"),
];

const WORDS: &[&str] = &[
    "parse", "render", "cache", "index", "merge", "fetch", "flush", "guard", "retry", "split",
    "trace", "yield",
];

/// The stream builder: a model of the tree, and the text of the stream.
struct Stream {
    out: String,
    files: BTreeMap<String, String>,
    mark: u32,
    time: u64,
}

impl Stream {
    fn data(&mut self, text: &str) {
        let _ = write!(self.out, "data {}\n{text}\n", text.len());
    }

    /// A commit on `branch` with `message`, parents `from` (and `merge`), and `ops`
    /// applied to the model and the stream. Returns its mark.
    fn commit(&mut self, branch: &str, n: usize, message: &str, parents: &[u32], ops: Ops) -> u32 {
        self.mark += 1;
        self.time += 86_400 * 3 + (n as u64 % 7) * 3_600;
        let (name, email, tz) = AUTHORS[n % AUTHORS.len()];
        let (cname, cemail, ctz) = AUTHORS[(n / 7) % AUTHORS.len()];
        let _ = write!(
            self.out,
            "commit refs/heads/{branch}\nmark :{}\nauthor {name} <{email}> {} {tz}\n\
             committer {cname} <{cemail}> {} {ctz}\n",
            self.mark,
            self.time,
            self.time + 600
        );
        self.data(message);
        for (i, p) in parents.iter().enumerate() {
            let _ = writeln!(self.out, "{} :{p}", if i == 0 { "from" } else { "merge" });
        }
        for op in ops {
            match op {
                Op::Write(path, text) => {
                    let _ = writeln!(self.out, "M 100644 inline {path}");
                    self.data(&text);
                    self.files.insert(path, text);
                }
                Op::Rename(from, to) => {
                    let _ = writeln!(self.out, "R {from} {to}");
                    if let Some(t) = self.files.remove(&from) {
                        self.files.insert(to, t);
                    }
                }
                Op::Delete(path) => {
                    let _ = writeln!(self.out, "D {path}");
                    self.files.remove(&path);
                }
            }
        }
        self.out.push('\n');
        self.mark
    }

    /// The model's `path` with `line` appended.
    fn appended(&self, path: &str, line: &str) -> Op {
        let mut t = self.files.get(path).cloned().unwrap_or_default();
        t.push_str(line);
        t.push('\n');
        Op::Write(path.to_owned(), t)
    }

    /// `src/main.c` with line `at` (of 20) replaced.
    fn main_c_with(&self, at: usize, line: &str) -> Op {
        let text = &self.files["src/main.c"];
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let at = at % lines.len();
        lines[at] = line.to_owned();
        Op::Write("src/main.c".into(), lines.join("\n") + "\n")
    }

    fn tag(&mut self, name: &str, mark: u32, message: Option<&str>) {
        match message {
            Some(m) => {
                let (n, e, tz) = AUTHORS[0];
                let _ = write!(
                    self.out,
                    "tag {name}\nfrom :{mark}\ntagger {n} <{e}> {} {tz}\n",
                    self.time + 60
                );
                self.data(m);
            }
            None => {
                let _ = write!(self.out, "reset refs/tags/{name}\nfrom :{mark}\n\n");
            }
        }
    }
}

enum Op {
    Write(String, String),
    Rename(String, String),
    Delete(String),
}

type Ops = Vec<Op>;

/// The fast-import stream of the main repository.
pub fn main_repository() -> String {
    let mut s = Stream {
        out: String::new(),
        files: BTreeMap::new(),
        mark: 0,
        time: START,
    };
    let mut main_c: Vec<String> = (0..20).map(|i| format!("int f{i}(void);")).collect();
    main_c[0] = "#include <stdio.h>".into();
    let first = s.commit(
        "main",
        0,
        "Initial import\n\nThe first cut of the project.\n",
        &[],
        vec![
            Op::Write("src/main.c".into(), main_c.join("\n") + "\n"),
            Op::Write("README.md".into(), "# Project\n\nA test project.\n".into()),
            Op::Write(".gitignore".into(), "*.log\nbuild/\n".into()),
            Op::Write("docs/guide.md".into(), "# Guide\n".into()),
            Op::Write("lib/util.c".into(), "int util(void) { return 1; }\n".into()),
        ],
    );
    let mut marks = vec![first];
    let mut feature_tip = 0;
    for n in 1..300 {
        let word = WORDS[n % WORDS.len()];
        let kind = if n % 5 == 0 { "fix" } else { "feat" };
        let mut message = format!("{kind}: {word} step {n}\n");
        if n % 4 == 0 {
            let _ = write!(
                message,
                "\nWhy: step {n} needs to {word} first.\nSee #{n}.\n"
            );
        }
        let mut ops = vec![];
        match n % 3 {
            0 => ops.push(s.main_c_with(n, &format!("int {word}_{n}(void); /* {n} */"))),
            // The guide becomes the manual at 210.
            1 if n > 210 => ops.push(s.appended("docs/manual.md", &format!("- {word} ({n})"))),
            1 => ops.push(s.appended("docs/guide.md", &format!("- {word} ({n})"))),
            _ => ops.push(s.appended("lib/util.c", &format!("/* {word} {n} */"))),
        }
        if n % 17 == 0 {
            ops.push(Op::Write(
                format!("src/mod{n}.c"),
                format!("int mod{n}(void) {{ return {n}; }}\n"),
            ));
        }
        if n % 41 == 0 {
            // The newest module goes again.
            let newest = format!("src/mod{}.c", n / 17 * 17);
            if s.files.contains_key(&newest) {
                ops.push(Op::Delete(newest));
            }
        }
        match n {
            123 => ops.push(s.appended("README.md", "The needle is here.")),
            200 => ops.push(Op::Write("src/bug.txt".into(), "a bug\n".into())),
            210 => ops.push(Op::Rename("docs/guide.md".into(), "docs/manual.md".into())),
            // The `conflict` branch rewrites the same lines.
            295 => ops.push(s.appended("README.md", "Changed on main too.")),
            _ => {}
        }
        let parent = *marks.last().unwrap();
        let m = if n == 150 {
            s.commit(
                "main",
                n,
                "Merge branch 'feature'\n",
                &[parent, feature_tip],
                ops,
            )
        } else {
            s.commit("main", n, &message, &[parent], ops)
        };
        marks.push(m);
        if n == 100 {
            // The feature branch, merged at 150.
            let mut tip = m;
            for f in 1..=12 {
                let op = s.appended("docs/feature.md", &format!("feature part {f}"));
                tip = s.commit(
                    "feature",
                    n + f,
                    &format!("feature: part {f}\n"),
                    &[tip],
                    vec![op],
                );
            }
            feature_tip = tip;
        }
    }
    // Tags and side branches.
    s.tag("v0.1", marks[10], None);
    s.tag("v1.0", marks[100], Some("Release 1.0\n"));
    s.tag("v2.0", marks[200], Some("Release 2.0\n\nWith the bug.\n"));
    s.tag("v2.1", marks[260], None);
    let _ = write!(
        s.out,
        "reset refs/heads/release-1.x\nfrom :{}\n\n",
        marks[180]
    );
    let mut tip = marks[250];
    for t in 1..=6 {
        let op = Op::Write(format!("topic/t{t}.txt"), format!("topic {t}\n"));
        tip = s.commit(
            "topic",
            400 + t,
            &format!("topic: change {t}\n"),
            &[tip],
            vec![op],
        );
    }
    let conflict = Op::Write(
        "README.md".into(),
        "# Project\n\nRewritten on a branch.\n".into(),
    );
    s.commit(
        "conflict",
        500,
        "conflict: rewrite the README\n",
        &[marks[290]],
        vec![conflict],
    );
    s.out.push_str("done\n");
    s.out
}

/// A small repository (a library used as a submodule, or a second repository named by
/// `-C`): three commits.
pub fn small_repository(name: &str) -> String {
    let mut s = Stream {
        out: String::new(),
        files: BTreeMap::new(),
        mark: 0,
        time: START + 1_000_000,
    };
    let mut parent = vec![];
    for n in 0..3 {
        let op = s.appended("lib.txt", &format!("{name} {n}"));
        let m = s.commit(
            "main",
            n,
            &format!("{name}: commit {n}\n"),
            &parent,
            vec![op],
        );
        parent = vec![m];
    }
    s.out.push_str("done\n");
    s.out
}
