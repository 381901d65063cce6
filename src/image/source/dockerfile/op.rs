//! The resolved model: per stage, the steps a build runs, every variable substituted,
//! `SHELL` folded into the shell-form commands and `ARG`s into the steps'
//! environments. Each [`Op`] has a canonical text, "the instruction with its resolved
//! arguments", for the build cache's key.

use std::collections::BTreeMap;

use serde_json::json;

use super::model::Note;

/// A resolved Dockerfile: its stages in order, the last one being the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The stages; there is at least one.
    pub stages: Vec<ResolvedStage>,
    /// Warnings: the parse's, then the resolution's (unset variables, unused build
    /// arguments).
    pub notes: Vec<Note>,
}

/// A stage with its base and steps resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedStage {
    /// `AS name`, lowercased.
    pub name: Option<String>,
    /// The line of its `FROM`.
    pub line: usize,
    /// What it starts from.
    pub base: Base,
    /// Its steps, without the instructions jig ignores and without `ARG`/`SHELL`
    /// (whose effects are in the steps after them).
    pub steps: Vec<ResolvedStep>,
    /// The labels the stage ends with: those of an earlier stage it starts from, then
    /// its own `LABEL`s (a base image's labels are not known here).
    pub labels: BTreeMap<String, String>,
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: an empty tree.
    Scratch,
    /// An image reference, as written after substitution (`debian:bookworm`).
    Image(String),
    /// An earlier stage, by index.
    Stage(usize),
}

/// A step and the line it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedStep {
    /// The line of the instruction.
    pub line: usize,
    /// What to do.
    pub op: Op,
}

/// One resolved instruction.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Run a command in the image being built.
    Run {
        /// What to execute.
        exec: Exec,
        /// The build arguments in scope (declared by `ARG`, with a value, and not
        /// overridden by an `ENV`): set for this step only, as Docker does.
        env: Vec<(String, String)>,
    },
    /// `COPY` or `ADD`.
    Copy(CopyOp),
    /// Set environment variables in the image.
    Env(Vec<(String, String)>),
    /// Set labels in the image.
    Label(Vec<(String, String)>),
    /// Set the working directory (a relative path is relative to the previous one).
    Workdir(String),
    /// Set the user.
    User(String),
    /// Set the default command; shell form already wrapped in the stage's shell.
    Cmd(Vec<String>),
    /// Set the entrypoint; shell form already wrapped in the stage's shell.
    Entrypoint(Vec<String>),
}

/// What a `RUN` executes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exec {
    /// This argv: the exec form, or the shell with the shell-form text (heredoc
    /// bodies appended for the shell to read).
    Argv(Vec<String>),
    /// A `RUN <<EOF` whose body starts with `#!`: write the body to a file, make it
    /// executable and run that file.
    Script(String),
}

/// A resolved `COPY` or `ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyOp {
    /// `ADD` (URLs and local archives allowed) rather than `COPY`.
    pub add: bool,
    /// `--from`: the build context when `None`.
    pub from: Option<CopyFrom>,
    /// What to copy.
    pub sources: Vec<CopySource>,
    /// Where to.
    pub dest: String,
    /// `--chmod`, as a mode.
    pub chmod: Option<u32>,
    /// `--checksum` of an `ADD`ed URL (`sha256:...`).
    pub checksum: Option<String>,
}

/// Where a `COPY --from` copies from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyFrom {
    /// An earlier stage, by index.
    Stage(usize),
    /// An image: a `--from` naming no stage is an image reference for Docker.
    Image(String),
}

/// A source of a resolved `COPY`/`ADD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopySource {
    /// A path (relative to the context or the `--from` tree), or a URL for `ADD`.
    Path(String),
    /// A heredoc: a file named `name` holding `content` (substituted unless its
    /// delimiter was quoted).
    Inline {
        /// The file's name (the heredoc's delimiter).
        name: String,
        /// Its content.
        content: String,
    },
}

fn pairs(p: &[(String, String)]) -> serde_json::Value {
    json!(p.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>())
}

impl Op {
    /// A stable text naming everything the step does and nothing else (not its
    /// line): the keyword, then its resolved arguments as JSON. Two steps with the same
    /// text do the same on the same image and configuration, so the build cache keys
    /// on it; changing this format invalidates every cached step.
    ///
    /// The text alone is not a key: `ENV`, `WORKDIR` and `USER` change no file but do
    /// change what a later `RUN` does, so a step's key must chain the keys of the
    /// steps before it (and the base's), as kaniko's does, not just the tree it runs on.
    pub fn canonical(&self) -> String {
        let (kw, value) = match self {
            Op::Run { exec, env } => {
                let env: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                let v = match exec {
                    Exec::Argv(argv) => json!({ "argv": argv, "env": env }),
                    Exec::Script(script) => json!({ "script": script, "env": env }),
                };
                ("RUN", v)
            }
            Op::Copy(c) => {
                let sources: Vec<_> = c
                    .sources
                    .iter()
                    .map(|s| match s {
                        CopySource::Path(p) => json!({ "path": p }),
                        CopySource::Inline { name, content } => {
                            json!({ "heredoc": name, "content": content })
                        }
                    })
                    .collect();
                let from = c.from.as_ref().map(|f| match f {
                    CopyFrom::Stage(i) => json!({ "stage": i }),
                    CopyFrom::Image(r) => json!({ "image": r }),
                });
                let v = json!({
                    "from": from,
                    "sources": sources,
                    "dest": c.dest,
                    "chmod": c.chmod.map(|m| format!("{m:04o}")),
                    "checksum": c.checksum,
                });
                (if c.add { "ADD" } else { "COPY" }, v)
            }
            Op::Env(p) => ("ENV", pairs(p)),
            Op::Label(p) => ("LABEL", pairs(p)),
            Op::Workdir(w) => ("WORKDIR", json!(w)),
            Op::User(u) => ("USER", json!(u)),
            Op::Cmd(argv) => ("CMD", json!(argv)),
            Op::Entrypoint(argv) => ("ENTRYPOINT", json!(argv)),
        };
        format!("{kw} {value}")
    }
}

impl Base {
    /// The canonical text of a stage's start (`FROM scratch`, `FROM {"image":...}`,
    /// `FROM {"stage":N}`); the build adds the image's digest or the stage's result.
    pub fn canonical(&self) -> String {
        match self {
            Base::Scratch => "FROM scratch".into(),
            Base::Image(r) => format!("FROM {}", json!({ "image": r })),
            Base::Stage(i) => format!("FROM {}", json!({ "stage": i })),
        }
    }
}

impl Resolved {
    /// The final stage: the image the Dockerfile builds.
    pub fn last(&self) -> &ResolvedStage {
        self.stages
            .last()
            .expect("a Dockerfile has at least one stage")
    }

    /// The index of the stage named `name` (case-insensitive), or numbered `name`.
    pub fn stage(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| name.parse().ok().filter(|i| *i < self.stages.len()))
    }

    /// The stages `target` needs, itself included, in order: what a build of `target`
    /// runs (Docker skips the others).
    pub fn needed(&self, target: usize) -> Vec<usize> {
        let mut need = vec![false; self.stages.len()];
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if need[i] {
                continue;
            }
            need[i] = true;
            let stage = &self.stages[i];
            if let Base::Stage(j) = stage.base {
                todo.push(j);
            }
            for step in &stage.steps {
                if let Op::Copy(CopyOp {
                    from: Some(CopyFrom::Stage(j)),
                    ..
                }) = step.op
                {
                    todo.push(j);
                }
            }
        }
        (0..self.stages.len()).filter(|&i| need[i]).collect()
    }
}
