//! Planning a Dockerfile's stages: every step of a stage with its cache key, chained
//! as BuildKit's and kaniko's are, and the image configuration it runs with; nothing is
//! run, but what `COPY` reads from the context is read (its digest is in the key).
//!
//! - `FROM`: the base's canonical text and the pulled image's id and config (or the
//!   earlier stage's last key, or `scratch`);
//! - every step: the previous step's key, its canonical text (the instruction with its
//!   resolved arguments, [`Op::canonical`]) and, for `COPY`/`ADD`, the digest of what
//!   it reads ([`copy::payload`]), or the last key of the `--from` stage.
//!
//! `ENV`, `WORKDIR`, `USER`, `LABEL`, `CMD` and `ENTRYPOINT` change no file, so they
//! only enter the chain and the [`State`]; `RUN`, `COPY` and `ADD` are [`Planned`]
//! steps. A directory `WORKDIR` names is made by the next step that changes files, or
//! by a step of its own at the end of the stage.

use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;

use anyhow::Result;

use super::copy::{self, Payload};
use super::tree::Tree;
use crate::base::digest::sha256_hex;
use crate::image::source::dockerfile::op::{
    Base, CopyFrom, CopyOp, CopySource, Exec, Op, Resolved,
};
use crate::image::store::{Image, ImageId};

/// Changing this invalidates every cached Dockerfile step.
const KEY_VERSION: &str = "jig-dockerfile-v1";

/// `KEY=VALUE` entries as pairs.
pub fn pairs(env: &[String]) -> Vec<(String, String)> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// The image configuration a stage has reached.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub env: Vec<(String, String)>,
    pub workdir: String,
    pub user: String,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    /// `CMD` was set in this stage (an `ENTRYPOINT` then keeps it).
    pub cmd_set: bool,
    pub labels: BTreeMap<String, String>,
}

/// A step that changes files.
pub enum Action {
    Run(Exec, Vec<(String, String)>),
    /// A copy from the context to this destination; its payload was read while
    /// planning ([`Builder::payloads`]).
    CopyContext(String),
    /// A copy from an earlier stage or an image, read when it runs.
    CopyFrom(CopyOp, From),
    /// The last `WORKDIR`'s directory.
    Mkdir(String),
}

#[derive(Debug, Clone)]
pub enum From {
    Stage(usize),
    Image(ImageId),
}

/// A planned step: its key, line, what it does and the configuration it runs with.
pub struct Planned {
    pub key: String,
    pub line: usize,
    pub summary: String,
    pub action: Action,
    pub state: State,
}

/// Where a stage starts.
#[derive(Debug, Clone)]
pub enum Start {
    Scratch,
    Image(ImageId),
    Stage(usize),
}

pub struct Plan {
    pub start: Start,
    pub steps: Vec<Planned>,
    pub end_key: String,
    pub end: State,
}

/// Plans the stages of one resolved Dockerfile (each once).
pub struct Planner<'a> {
    /// How messages name the Dockerfile.
    pub name: &'a str,
    /// The resolved Dockerfile.
    pub df: &'a Resolved,
    /// The build context.
    pub context: Tree,
    /// The pulled images, by reference as written.
    pub bases: &'a BTreeMap<String, Image>,
    /// The store's tmp/ (payloads are written there).
    pub tmp: &'a Path,
    plans: Vec<Option<Rc<Plan>>>,
    /// The payloads of the context copies, by step key (each applied at most once).
    pub payloads: BTreeMap<String, Payload>,
}

fn chain(prev: &str, text: &str) -> String {
    sha256_hex(format!("{KEY_VERSION}\0{prev}\0{text}").as_bytes())
}

impl<'a> Planner<'a> {
    /// A planner of `df`'s stages.
    pub fn new(
        name: &'a str,
        df: &'a Resolved,
        context: Tree,
        bases: &'a BTreeMap<String, Image>,
        tmp: &'a Path,
    ) -> Planner<'a> {
        Planner {
            name,
            df,
            context,
            bases,
            tmp,
            plans: (0..df.stages.len()).map(|_| None).collect(),
            payloads: BTreeMap::new(),
        }
    }

    /// The plan of stage `i` (made once).
    pub fn plan(&mut self, i: usize) -> Result<Rc<Plan>> {
        if let Some(p) = &self.plans[i] {
            return Ok(p.clone());
        }
        let stage = &self.df.stages[i];
        let (start, mut key, mut state) = match &stage.base {
            Base::Scratch => (
                Start::Scratch,
                chain("", &stage.base.canonical()),
                State::default(),
            ),
            Base::Image(r) => {
                let image = &self.bases[r];
                let config = serde_json::to_string(&image.meta.config.env).unwrap_or_default();
                let text = format!(
                    "{}\0{}\0{config}\0{:?}\0{:?}",
                    stage.base.canonical(),
                    image.id,
                    image.meta.config.entrypoint,
                    image.meta.config.cmd
                );
                let state = State {
                    env: pairs(&image.meta.config.env),
                    entrypoint: image.meta.config.entrypoint.clone(),
                    cmd: image.meta.config.cmd.clone(),
                    ..State::default()
                };
                (Start::Image(image.id.clone()), chain("", &text), state)
            }
            Base::Stage(j) => {
                let from = self.plan(*j)?;
                let mut state = from.end.clone();
                state.cmd_set = false;
                (
                    Start::Stage(*j),
                    chain(&from.end_key, &stage.base.canonical()),
                    state,
                )
            }
        };
        if state.workdir.is_empty() {
            state.workdir = "/".into();
        }
        let mut steps = Vec::new();
        let mut mkdir_pending = false;
        for step in &stage.steps {
            let what = format!("{}:{}", self.name, step.line);
            let canonical = step.op.canonical();
            let summary = summary(&step.op);
            let action = match &step.op {
                Op::Run { exec, env } => Some(Action::Run(exec.clone(), env.clone())),
                Op::Copy(c) => match &c.from {
                    None => {
                        let payload = copy::payload(c, &self.context, self.tmp, &what)?;
                        let digest = payload.digest.clone();
                        key = chain(&key, &format!("{canonical}\0{digest}"));
                        self.payloads.insert(key.clone(), payload);
                        steps.push(Planned {
                            key: key.clone(),
                            line: step.line,
                            summary,
                            action: Action::CopyContext(c.dest.clone()),
                            state: state.clone(),
                        });
                        mkdir_pending = false;
                        continue;
                    }
                    Some(CopyFrom::Stage(j)) => {
                        let from_key = self.plan(*j)?.end_key.clone();
                        key = chain(&key, &format!("{canonical}\0{from_key}"));
                        steps.push(Planned {
                            key: key.clone(),
                            line: step.line,
                            summary,
                            action: Action::CopyFrom(c.clone(), From::Stage(*j)),
                            state: state.clone(),
                        });
                        mkdir_pending = false;
                        continue;
                    }
                    Some(CopyFrom::Image(r)) => {
                        let id = self.bases[r].id.clone();
                        key = chain(&key, &format!("{canonical}\0{id}"));
                        steps.push(Planned {
                            key: key.clone(),
                            line: step.line,
                            summary,
                            action: Action::CopyFrom(c.clone(), From::Image(id)),
                            state: state.clone(),
                        });
                        mkdir_pending = false;
                        continue;
                    }
                },
                Op::Env(p) => {
                    for (k, v) in p {
                        match state.env.iter_mut().find(|(e, _)| e == k) {
                            Some(slot) => slot.1 = v.clone(),
                            None => state.env.push((k.clone(), v.clone())),
                        }
                    }
                    None
                }
                Op::Label(p) => {
                    state.labels.extend(p.iter().cloned());
                    None
                }
                Op::Workdir(w) => {
                    state.workdir = join_path(&state.workdir, w);
                    mkdir_pending = true;
                    None
                }
                Op::User(u) => {
                    eprintln!(
                        "jig: {what}: note: USER {u} is recorded, but build steps run as root (a jig build has one user) and the tool runs as its caller"
                    );
                    state.user = u.clone();
                    None
                }
                Op::Cmd(argv) => {
                    state.cmd = argv.clone();
                    state.cmd_set = true;
                    None
                }
                Op::Entrypoint(argv) => {
                    state.entrypoint = argv.clone();
                    // Docker: an ENTRYPOINT drops a CMD the stage did not set itself.
                    if !state.cmd_set {
                        state.cmd.clear();
                    }
                    None
                }
            };
            key = chain(&key, &canonical);
            if let Some(action) = action {
                steps.push(Planned {
                    key: key.clone(),
                    line: step.line,
                    summary,
                    action,
                    state: state.clone(),
                });
                mkdir_pending = false;
            }
        }
        if mkdir_pending {
            key = chain(&key, &format!("MKDIR {}", state.workdir));
            steps.push(Planned {
                key: key.clone(),
                line: stage.line,
                summary: format!("WORKDIR {}", state.workdir),
                action: Action::Mkdir(state.workdir.clone()),
                state: state.clone(),
            });
        }
        let plan = Rc::new(Plan {
            start,
            steps,
            end_key: key,
            end: state,
        });
        self.plans[i] = Some(plan.clone());
        Ok(plan)
    }
}

/// `path` against the directory `base` (absolute): Docker's `WORKDIR` and relative
/// `COPY` destinations.
pub fn join_path(base: &str, path: &str) -> String {
    let full = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("{}/{path}", base.trim_end_matches('/'))
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in full.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// One line for progress: the instruction, shortened.
pub fn summary(op: &Op) -> String {
    let text = match op {
        Op::Run {
            exec: Exec::Argv(argv),
            ..
        } => format!("RUN {}", argv.last().cloned().unwrap_or_default()),
        Op::Run {
            exec: Exec::Script(s),
            ..
        } => format!("RUN <<script {}", s.lines().next().unwrap_or_default()),
        Op::Copy(c) => {
            let srcs: Vec<String> = c
                .sources
                .iter()
                .map(|s| match s {
                    CopySource::Path(p) => p.clone(),
                    CopySource::Inline { name, .. } => {
                        format!("<<{name}")
                    }
                })
                .collect();
            format!(
                "{} {} {}",
                if c.add { "ADD" } else { "COPY" },
                srcs.join(" "),
                c.dest
            )
        }
        other => other.canonical(),
    };
    let first = text.lines().next().unwrap_or_default();
    let mut out: String = first.chars().take(100).collect();
    if out.len() < text.trim_end().len() {
        out.push_str(" ...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_like_workdir() {
        assert_eq!(join_path("/", "app"), "/app");
        assert_eq!(join_path("/app", "src/../lib"), "/app/lib");
        assert_eq!(join_path("/app", "/abs"), "/abs");
        assert_eq!(join_path("/app", "."), "/app");
    }

    #[test]
    fn keys_chain() {
        let a = chain("", "FROM scratch");
        assert_ne!(
            chain(&a, "ENV [[\"A\",\"1\"]]"),
            chain(&a, "ENV [[\"A\",\"2\"]]")
        );
        assert_ne!(chain(&a, "RUN x"), chain(&chain(&a, "ENV x"), "RUN x"));
        assert_eq!(chain(&a, "RUN x"), chain(&a, "RUN x"));
    }
}
