//! The build of a Dockerfile: stages planned, then built from the last cached step.
//!
//! Planning reads the Dockerfile and what it copies but runs nothing: each base image
//! is pulled (a `FROM` without a registry is Docker Hub's, `[registry_mirrors]` first),
//! the Dockerfile is resolved with the bases' `ENV`, and every step of a needed stage
//! gets its cache key, chained as BuildKit's and kaniko's are:
//!
//! - `FROM`: the base's canonical text and the pulled image's id and config (or the
//!   earlier stage's last key, or `scratch`);
//! - every step: the previous step's key, its canonical text (the instruction with its
//!   resolved arguments, [`Op::canonical`]) and, for `COPY`/`ADD`, the digest of what
//!   it reads ([`copy::payload`]), or the last key of the `--from` stage.
//!
//! `ENV`, `WORKDIR`, `USER`, `LABEL`, `CMD` and `ENTRYPOINT` change no file, so they
//! only enter the chain; `RUN`, `COPY` and `ADD` make images, each stored under its key
//! (`store/builds/`). A stage is built from its last step whose image is still stored:
//! an unchanged Dockerfile costs the pulls' manifest checks and the context's hash,
//! and a changed line rebuilds from that line on. A directory `WORKDIR` names is made
//! by the next step that changes files, or by a step of its own at the end.
//!
//! A `RUN` runs as fake root in a copy of the previous image ([`steps::run_command`]),
//! with the image's `ENV`, the `ARG`s in scope, `HOME=/root`, the default `PATH` and
//! jig's fixed `SOURCE_DATE_EPOCH`, in the `WORKDIR`. Afterwards the files that only
//! record when a build ran (dpkg's and apt's logs, ldconfig's aux-cache, apt's binary
//! caches) are removed, as the Debian bootstrap removes them, so two builds of the same
//! Dockerfile on the same base give the same tree. `USER` is recorded (it enters the
//! keys) but steps still run as root: a jig build has one user, and at run time a tool
//! runs as its caller.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, anyhow};

use super::copy::{self, Payload};
use super::inroot::{is_dir_in_root, mkdir_in_root, remove_in_root, write_new_in_root};
use super::tree::Tree;
use crate::base::digest::sha256_hex;
use crate::image::build::steps;
use crate::image::reference::Reference;
use crate::image::source::dockerfile::Dockerfile;
use crate::image::source::dockerfile::op::{Base, CopyFrom, Exec, Op, Resolved};
use crate::image::source::oci;
use crate::image::source::rootfs::copy_tree;
use crate::image::store::{DEFAULT_PATH, Image, ImageConfig, ImageId, ImageMeta, Store};
use crate::image::unpack::Limits;

/// Changing this invalidates every cached Dockerfile step.
const KEY_VERSION: &str = "jig-dockerfile-v1";

/// Files a build step leaves that only say when it ran.
const BUILD_LOGS: &[&str] = &[
    "/var/log/dpkg.log",
    "/var/log/alternatives.log",
    "/var/log/apt/history.log",
    "/var/log/apt/term.log",
    "/var/log/apt/eipp.log.xz",
    "/var/cache/ldconfig/aux-cache",
    "/var/cache/apt/pkgcache.bin",
    "/var/cache/apt/srcpkgcache.bin",
];

/// What to build.
pub struct Build<'a> {
    /// The Dockerfile on the host.
    pub dockerfile: &'a Path,
    /// How errors and progress name it (`tools/rg/Dockerfile`).
    pub name: &'a str,
    /// The build context directory.
    pub context: &'a Path,
    /// Build arguments (`--build-arg`).
    pub args: &'a BTreeMap<String, String>,
    /// The stage to build (`--target`, a name or index); default: the last.
    pub target: Option<&'a str>,
}

/// A built Dockerfile.
#[derive(Debug, Clone)]
pub struct Built {
    /// The target stage's image, its metadata carrying the image's `ENV`, `ENTRYPOINT`
    /// and `CMD`.
    pub image: Image,
}

/// Builds `b` into `store`, every archive and copy held to `limits`.
pub fn build(store: &Store, b: &Build, limits: &Limits) -> Result<Built> {
    let text = std::fs::read_to_string(b.dockerfile)
        .with_context(|| format!("reading {}", b.dockerfile.display()))?;
    let df = Dockerfile::parse(&text, b.name).map_err(|e| e.into_anyhow())?;
    // A first resolution names the stages the last one needs and their bases.
    let first = df.resolve(b.args).map_err(|e| e.into_anyhow())?;
    let target = match b.target {
        None => first.stages.len() - 1,
        Some(t) => first
            .stage(t)
            .with_context(|| format!("{}: no stage {t}", b.name))?,
    };
    let needed = first.needed(target);
    let mut bases = BTreeMap::new();
    for &i in &needed {
        let stage = &first.stages[i];
        let mut refs = Vec::new();
        if let Base::Image(r) = &stage.base {
            refs.push((r.clone(), stage.line));
        }
        for step in &stage.steps {
            if let Op::Copy(c) = &step.op
                && let Some(CopyFrom::Image(r)) = &c.from
            {
                refs.push((r.clone(), step.line));
            }
        }
        for (r, line) in refs {
            if let std::collections::btree_map::Entry::Vacant(slot) = bases.entry(r) {
                let r = slot.key();
                let image = pull(store, r, limits)
                    .with_context(|| format!("{}:{line}: FROM {r}", b.name))?;
                slot.insert(image);
            }
        }
    }
    let env_of = |r: &str| -> Vec<(String, String)> {
        bases
            .get(r)
            .map(|i: &Image| pairs(&i.meta.config.env))
            .unwrap_or_default()
    };
    let resolved = df
        .resolve_with(b.args, &env_of)
        .map_err(|e| e.into_anyhow())?;
    for note in &resolved.notes {
        eprintln!("jig: {}: note: {note}", b.name);
    }
    let tmp = store.root().join("tmp");
    store.ensure()?;
    let mut builder = Builder {
        store,
        limits,
        name: b.name,
        df: &resolved,
        context: Tree::context(b.context)?,
        bases: &bases,
        tmp: &tmp,
        plans: (0..resolved.stages.len()).map(|_| None).collect(),
        built: (0..resolved.stages.len()).map(|_| None).collect(),
        payloads: BTreeMap::new(),
    };
    let end = builder.stage(target)?;
    let id = match end.image {
        Some(id) => id,
        // `FROM scratch` and nothing that writes: the empty image.
        None => {
            let _lock = store.lock_shared()?;
            let temp = store.temp_image()?;
            store.commit(temp, ImageMeta::default())?.id
        }
    };
    let state = end.state;
    let meta = ImageMeta {
        source: format!("dockerfile:{}", b.name),
        config: ImageConfig {
            env: state.env.iter().map(|(k, v)| format!("{k}={v}")).collect(),
            entrypoint: state.entrypoint,
            cmd: state.cmd,
        },
        size: store.image(&id)?.map(|i| i.meta.size).unwrap_or(0),
        ..ImageMeta::default()
    };
    Ok(Built {
        image: Image { id, meta },
    })
}

/// Pulls a base image named as in the Dockerfile (`debian:bookworm` is Docker Hub's).
fn pull(store: &Store, r: &str, limits: &Limits) -> Result<Image> {
    let reference = Reference::parse(r).map_err(anyhow::Error::msg)?;
    oci::pull(&reference, store, limits)
}

/// `KEY=VALUE` entries as pairs.
fn pairs(env: &[String]) -> Vec<(String, String)> {
    env.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

/// The image configuration a stage has reached.
#[derive(Debug, Clone, Default)]
struct State {
    env: Vec<(String, String)>,
    workdir: String,
    user: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    /// `CMD` was set in this stage (an `ENTRYPOINT` then keeps it).
    cmd_set: bool,
    labels: BTreeMap<String, String>,
}

/// A step that changes files.
enum Action {
    Run(Exec, Vec<(String, String)>),
    /// A copy from the context to this destination; its payload was read while
    /// planning ([`Builder::payloads`]).
    CopyContext(String),
    /// A copy from an earlier stage or an image, read when it runs.
    CopyFrom(crate::image::source::dockerfile::op::CopyOp, From),
    /// The last `WORKDIR`'s directory.
    Mkdir(String),
}

#[derive(Debug, Clone)]
enum From {
    Stage(usize),
    Image(ImageId),
}

/// A planned step: its key, line, what it does and the configuration it runs with.
struct Planned {
    key: String,
    line: usize,
    summary: String,
    action: Action,
    state: State,
}

/// Where a stage starts.
#[derive(Debug, Clone)]
enum Start {
    Scratch,
    Image(ImageId),
    Stage(usize),
}

struct Plan {
    start: Start,
    steps: Vec<Planned>,
    end_key: String,
    end: State,
}

/// A built stage: its image (`None`: the empty tree) and configuration.
#[derive(Debug, Clone)]
struct End {
    image: Option<ImageId>,
    state: State,
}

struct Builder<'a> {
    store: &'a Store,
    limits: &'a Limits,
    name: &'a str,
    df: &'a Resolved,
    context: Tree,
    bases: &'a BTreeMap<String, Image>,
    tmp: &'a Path,
    plans: Vec<Option<std::rc::Rc<Plan>>>,
    built: Vec<Option<End>>,
    /// The payloads of the context copies, by step key (each applied at most once).
    payloads: BTreeMap<String, Payload>,
}

fn chain(prev: &str, text: &str) -> String {
    sha256_hex(format!("{KEY_VERSION}\0{prev}\0{text}").as_bytes())
}

impl Builder<'_> {
    /// The plan of stage `i` (made once).
    fn plan(&mut self, i: usize) -> Result<std::rc::Rc<Plan>> {
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
        let plan = std::rc::Rc::new(Plan {
            start,
            steps,
            end_key: key,
            end: state,
        });
        self.plans[i] = Some(plan.clone());
        Ok(plan)
    }

    /// Builds stage `i` (once), from its last step still in the cache.
    fn stage(&mut self, i: usize) -> Result<End> {
        if let Some(end) = &self.built[i] {
            return Ok(end.clone());
        }
        let plan = self.plan(i)?;
        let label = match &self.df.stages[i].name {
            Some(name) if self.df.stages.len() > 1 => format!("{} [{name}]", self.name),
            _ => self.name.to_owned(),
        };
        // The last step whose image is still stored: nothing before it runs.
        let mut from = 0;
        let mut image = None;
        for (k, step) in plan.steps.iter().enumerate().rev() {
            if let Some(cached) = self.store.cached_build(&step.key)? {
                from = k + 1;
                image = Some(cached.id);
                break;
            }
        }
        for step in &plan.steps[..from] {
            eprintln!("jig: {label}:{} cached: {}", step.line, step.summary);
        }
        if from == 0 {
            image = match &plan.start {
                Start::Scratch => None,
                Start::Image(id) => Some(id.clone()),
                Start::Stage(j) => self.stage(*j)?.image,
            };
        }
        for step in &plan.steps[from..] {
            eprintln!("jig: {label}:{} run: {}", step.line, step.summary);
            let next = self
                .execute(image.as_ref(), step)
                .with_context(|| format!("{}:{}: {} failed", self.name, step.line, step.summary))?;
            self.store.remember_build(&step.key, &next)?;
            image = Some(next);
        }
        let end = End {
            image,
            state: plan.end.clone(),
        };
        self.built[i] = Some(end.clone());
        Ok(end)
    }

    /// Runs one step on a copy of `parent` and stores the result.
    fn execute(&mut self, parent: Option<&ImageId>, step: &Planned) -> Result<ImageId> {
        // A `COPY --from` stage is built before the copy of this one is made.
        let from_tree = match &step.action {
            Action::CopyFrom(_, From::Stage(j)) => {
                let end = self.stage(*j)?;
                Some(match end.image {
                    Some(id) => self.store.rootfs_of(&id),
                    None => return Err(anyhow!("stage {j} is empty: there is nothing to copy")),
                })
            }
            Action::CopyFrom(_, From::Image(id)) => Some(self.store.rootfs_of(id)),
            _ => None,
        };
        let _lock = self.store.lock_shared()?;
        let temp = self.store.temp_image()?;
        let root = temp.rootfs();
        if let Some(p) = parent {
            // A stored image, already within the limits when it was made: no budget.
            copy_tree(&self.store.rootfs_of(p), &root, None)
                .context("copying the previous image")?;
        }
        let state = &step.state;
        let what = format!("{}:{}", self.name, step.line);
        let dest_of = |dest: &str| {
            join_path(&state.workdir, dest) + if dest.ends_with('/') { "/" } else { "" }
        };
        match &step.action {
            Action::Run(exec, args) => {
                mkdir_in_root(&root, &state.workdir)?;
                let env = run_env(state, args);
                let script = format!(".jig-run-{}", std::process::id());
                let argv = match exec {
                    Exec::Argv(argv) => argv.clone(),
                    Exec::Script(body) => {
                        write_new_in_root(&root, &script, body.as_bytes())?;
                        vec![format!("/{script}")]
                    }
                };
                let cmd = steps::Command {
                    argv: &argv,
                    env: &env,
                    cwd: &state.workdir,
                };
                let ran = steps::run_command(&root, &cmd, &[]);
                if matches!(exec, Exec::Script(_)) {
                    remove_in_root(&root, &format!("/{script}"))?;
                }
                ran?;
                for f in BUILD_LOGS {
                    remove_in_root(&root, f)?;
                }
            }
            Action::CopyContext(dest) => {
                mkdir_in_root(&root, &state.workdir)?;
                let payload = self
                    .payloads
                    .remove(&step.key)
                    .context("the step's payload was applied already")?;
                payload.apply(&root, &dest_of(dest), self.limits, self.tmp, &what)?;
            }
            Action::CopyFrom(op, from) => {
                mkdir_in_root(&root, &state.workdir)?;
                let name = match from {
                    From::Stage(j) => format!("stage {j}"),
                    From::Image(id) => format!("image {}", id.short()),
                };
                let tree = Tree::image(from_tree.as_deref().expect("a --from tree"), name)?;
                let payload = copy::payload(op, &tree, self.tmp, &what)?;
                payload.apply(&root, &dest_of(&op.dest), self.limits, self.tmp, &what)?;
            }
            Action::Mkdir(dir) => {
                if !is_dir_in_root(&root, dir) {
                    mkdir_in_root(&root, dir)?;
                }
            }
        }
        let meta = ImageMeta {
            source: format!("dockerfile:{what}"),
            ..ImageMeta::default()
        };
        Ok(self.store.commit(temp, meta)?.id)
    }
}

/// The environment of a `RUN`: defaults, the image's `ENV`, the `ARG`s in scope.
fn run_env(state: &State, args: &[(String, String)]) -> Vec<String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let set = |env: &mut Vec<(String, String)>, k: &str, v: &str| match env
        .iter_mut()
        .find(|(e, _)| e == k)
    {
        Some(slot) => slot.1 = v.to_owned(),
        None => env.push((k.to_owned(), v.to_owned())),
    };
    set(&mut env, "PATH", DEFAULT_PATH);
    set(&mut env, "HOME", "/root");
    let (k, v) = steps::source_date_epoch()
        .split_once('=')
        .expect("NAME=VALUE");
    set(&mut env, k, v);
    for (k, v) in args.iter().chain(&state.env) {
        set(&mut env, k, v);
    }
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

/// `path` against the directory `base` (absolute): Docker's `WORKDIR` and relative
/// `COPY` destinations.
fn join_path(base: &str, path: &str) -> String {
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
fn summary(op: &Op) -> String {
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
                    crate::image::source::dockerfile::op::CopySource::Path(p) => p.clone(),
                    crate::image::source::dockerfile::op::CopySource::Inline { name, .. } => {
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
    fn run_env_has_defaults_then_image_env_then_args() {
        let state = State {
            env: vec![
                ("PATH".into(), "/opt/bin".into()),
                ("A".into(), "env".into()),
            ],
            ..State::default()
        };
        let env = run_env(&state, &[("V".into(), "1".into())]);
        assert!(env.contains(&"PATH=/opt/bin".to_owned()), "{env:?}");
        assert!(env.contains(&"HOME=/root".to_owned()));
        assert!(env.contains(&"V=1".to_owned()) && env.contains(&"A=env".to_owned()));
        assert!(env.iter().any(|e| e.starts_with("SOURCE_DATE_EPOCH=")));
    }
}
