//! The build of a Dockerfile: stages planned, then built from the last cached step.
//!
//! Each base image is pulled first (a `FROM` without a registry is Docker Hub's,
//! `[registry_mirrors]` first) and the Dockerfile resolved with the bases' `ENV`; then
//! [`Planner`] gives every step of the needed stages its chained key. `RUN`, `COPY` and
//! `ADD` make images, each stored under its key (`store/builds/`). A stage is built from
//! its last step whose image is still stored: an unchanged Dockerfile costs the pulls'
//! manifest checks and the context's hash, and a changed line rebuilds from that line
//! on.
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

use super::copy;
use super::inroot::{is_dir_in_root, mkdir_in_root, remove_in_root, write_new_in_root};
use super::plan::{Action, From, Planned, Planner, Start, State, join_path, pairs};
use super::tree::Tree;
use crate::image::build::steps;
use crate::image::reference::Reference;
use crate::image::source::dockerfile::Dockerfile;
use crate::image::source::dockerfile::op::{Base, CopyFrom, Exec, Op};
use crate::image::source::oci;
use crate::image::source::progress;
use crate::image::source::rootfs::copy_tree;
use crate::image::store::{DEFAULT_PATH, Image, ImageConfig, ImageId, ImageMeta, Store};
use crate::image::unpack::Limits;

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
        progress::note(&format!("{}: note: {note}", b.name));
    }
    let tmp = store.root().join("tmp");
    store.ensure()?;
    let mut builder = Builder {
        store,
        limits,
        planner: Planner::new(b.name, &resolved, Tree::context(b.context)?, &bases, &tmp),
        built: (0..resolved.stages.len()).map(|_| None).collect(),
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

/// A built stage: its image (`None`: the empty tree) and configuration.
#[derive(Debug, Clone)]
struct End {
    image: Option<ImageId>,
    state: State,
}

struct Builder<'a> {
    store: &'a Store,
    limits: &'a Limits,
    planner: Planner<'a>,
    built: Vec<Option<End>>,
}

impl Builder<'_> {
    /// Builds stage `i` (once), from its last step still in the cache.
    fn stage(&mut self, i: usize) -> Result<End> {
        if let Some(end) = &self.built[i] {
            return Ok(end.clone());
        }
        let plan = self.planner.plan(i)?;
        let label = match &self.planner.df.stages[i].name {
            Some(name) if self.planner.df.stages.len() > 1 => {
                format!("{} [{name}]", self.planner.name)
            }
            _ => self.planner.name.to_owned(),
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
            progress::phase(&format!("{label}:{} cached: {}", step.line, step.summary));
        }
        if from == 0 {
            image = match &plan.start {
                Start::Scratch => None,
                Start::Image(id) => Some(id.clone()),
                Start::Stage(j) => self.stage(*j)?.image,
            };
        }
        for step in &plan.steps[from..] {
            progress::phase(&format!("{label}:{} run: {}", step.line, step.summary));
            let next = self.execute(image.as_ref(), step).with_context(|| {
                format!(
                    "{}:{}: {} failed",
                    self.planner.name, step.line, step.summary
                )
            })?;
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
        let what = format!("{}:{}", self.planner.name, step.line);
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
                    .planner
                    .payloads
                    .remove(&step.key)
                    .context("the step's payload was applied already")?;
                payload.apply(&root, &dest_of(dest), self.limits, self.planner.tmp, &what)?;
            }
            Action::CopyFrom(op, from) => {
                mkdir_in_root(&root, &state.workdir)?;
                let name = match from {
                    From::Stage(j) => format!("stage {j}"),
                    From::Image(id) => format!("image {}", id.short()),
                };
                let tree = Tree::image(from_tree.as_deref().expect("a --from tree"), name)?;
                let payload = copy::payload(op, &tree, self.planner.tmp, &what)?;
                payload.apply(
                    &root,
                    &dest_of(&op.dest),
                    self.limits,
                    self.planner.tmp,
                    &what,
                )?;
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

#[cfg(test)]
mod tests {
    use super::*;

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
