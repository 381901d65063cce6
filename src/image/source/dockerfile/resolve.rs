//! Scopes and substitution, as Docker applies them.
//!
//! - `ARG`s before the first `FROM` (and the automatic `TARGETARCH`, `BUILDPLATFORM`,
//!   ... of this machine) are in scope in `FROM` lines only; a stage sees one after
//!   declaring it again (`ARG NAME`), with the global value.
//! - In a stage, `ARG` and `ENV` come into scope where they are declared; an `ENV`
//!   wins over an `ARG` of the same name whatever their order. A build argument
//!   replaces the default of every `ARG` of its name.
//! - Substituted: `FROM` (image and `--platform`), `COPY`/`ADD` (sources, destination,
//!   `--from`, `--chmod`, `--checksum`, unquoted heredoc bodies), `ENV`, `ARG`
//!   defaults, `LABEL`, `WORKDIR`, `USER`. Not substituted: `RUN`, `CMD`, `ENTRYPOINT`
//!   and `SHELL`: the shell expands the shell form, the exec form is taken as is. A
//!   `RUN` gets the `ARG`s in scope as environment variables instead.
//! - A stage started from an earlier stage inherits its `ENV`, `SHELL` and labels. A
//!   stage started from an image sees the image's `ENV` only through
//!   [`Dockerfile::resolve_with`]; [`Dockerfile::resolve`] knows none and says so when
//!   a variable it lacks is used.

use std::collections::{BTreeMap, BTreeSet};

use super::instruction::{Command, Copy, Instruction, Run, Source, Word};
use super::model::{Dockerfile, Error, Note, Pos, Result};
use super::op::{
    Base, CopyFrom, CopyOp, CopySource, Exec, Op, Resolved, ResolvedStage, ResolvedStep,
};
use super::subst::{self, Mode};

const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

impl Dockerfile {
    /// Substitutes `build_args` (`--build-arg NAME=VALUE`) and the Dockerfile's own
    /// `ARG`s and `ENV`s, knowing no base image's `ENV`.
    pub fn resolve(&self, build_args: &BTreeMap<String, String>) -> Result<Resolved> {
        self.resolve_with(build_args, &|_| Vec::new())
    }

    /// As [`Dockerfile::resolve`], with `base_env(image)` giving the `ENV` of each base
    /// image (which the build knows once it has pulled it).
    pub fn resolve_with(
        &self,
        build_args: &BTreeMap<String, String>,
        base_env: &dyn Fn(&str) -> Vec<(String, String)>,
    ) -> Result<Resolved> {
        let mut r = Resolver {
            df: self,
            build_args,
            used: BTreeSet::new(),
            notes: self.notes.clone(),
            unset_noted: BTreeSet::new(),
        };
        let mut meta = Scope::default();
        for (name, value) in automatic_args() {
            meta.set_arg(&name, Some(value));
        }
        for decl in &self.meta_args {
            let value = match r.build_arg(&decl.name) {
                Some(v) => Some(v),
                None => match &decl.default {
                    Some(w) => Some(r.expand(w, &meta, decl.pos.line, 0)?),
                    None => meta.arg(&decl.name),
                },
            };
            meta.set_arg(&decl.name, value);
        }
        let mut stages: Vec<ResolvedStage> = Vec::new();
        let mut ends: Vec<End> = Vec::new();
        for (index, stage) in self.stages.iter().enumerate() {
            if let Some(p) = &stage.platform {
                let value = r.expand(p, &meta, stage.line, index)?;
                check_platform(&self.file, p.pos, &value)?;
            }
            let image = r.expand(&stage.base, &meta, stage.line, index)?;
            if image.is_empty() {
                return Err(
                    Error::new(&self.file, stage.base.pos, "FROM names no image")
                        .hint("give the ARG a default, or pass a build argument"),
                );
            }
            let lower = image.to_ascii_lowercase();
            let base = match stages
                .iter()
                .position(|s| s.name.as_deref() == Some(lower.as_str()))
            {
                _ if image == "scratch" => Base::Scratch,
                Some(i) => Base::Stage(i),
                None => Base::Image(image),
            };
            let mut state = match &base {
                Base::Scratch => End::default(),
                Base::Image(image) => End {
                    env: base_env(image),
                    ..End::default()
                },
                Base::Stage(i) => ends[*i].clone(),
            };
            let mut scope = Scope {
                env: std::mem::take(&mut state.env),
                args: Vec::new(),
            };
            let mut steps = Vec::new();
            for step in &stage.steps {
                let line = step.line;
                let op = match &step.instruction {
                    Instruction::Run(run) => Op::Run {
                        exec: exec(run, &state.shell),
                        env: scope.run_env(),
                    },
                    Instruction::Copy(c) => Op::Copy(r.copy(c, index, &scope, line)?),
                    Instruction::Env(pairs) => {
                        let pairs = r.pairs(pairs, &scope, line, index)?;
                        for (k, v) in &pairs {
                            scope.set_env(k, v);
                        }
                        Op::Env(pairs)
                    }
                    Instruction::Label(pairs) => {
                        let pairs = r.pairs(pairs, &scope, line, index)?;
                        state.labels.extend(pairs.iter().cloned());
                        Op::Label(pairs)
                    }
                    Instruction::Arg(decls) => {
                        for decl in decls {
                            let value = match r.build_arg(&decl.name) {
                                Some(v) => Some(v),
                                None => match &decl.default {
                                    Some(w) => Some(r.expand(w, &scope, line, index)?),
                                    None => meta.arg(&decl.name),
                                },
                            };
                            scope.set_arg(&decl.name, value);
                        }
                        continue;
                    }
                    Instruction::Workdir(w) => {
                        Op::Workdir(r.nonempty(w, &scope, line, index, "WORKDIR")?)
                    }
                    Instruction::User(w) => Op::User(r.nonempty(w, &scope, line, index, "USER")?),
                    Instruction::Shell(shell) => {
                        state.shell = shell.clone();
                        continue;
                    }
                    Instruction::Cmd(c) => Op::Cmd(argv(c, &state.shell)),
                    Instruction::Entrypoint(c) => Op::Entrypoint(argv(c, &state.shell)),
                    Instruction::Ignored(_) => continue,
                };
                steps.push(ResolvedStep { line, op });
            }
            state.env = scope.env;
            stages.push(ResolvedStage {
                name: stage.name.clone(),
                line: stage.line,
                base,
                steps,
                labels: state.labels.clone(),
            });
            ends.push(state);
        }
        for name in build_args.keys().filter(|k| !r.used.contains(*k)) {
            r.notes.push(Note {
                line: None,
                message: format!("build argument {name} is not used: no ARG {name} declares it"),
            });
        }
        Ok(Resolved {
            stages,
            notes: r.notes,
        })
    }
}

/// What a stage leaves for a stage built on it.
#[derive(Debug, Clone)]
struct End {
    env: Vec<(String, String)>,
    shell: Vec<String>,
    labels: BTreeMap<String, String>,
}

impl Default for End {
    fn default() -> End {
        End {
            env: Vec::new(),
            shell: DEFAULT_SHELL.map(String::from).to_vec(),
            labels: BTreeMap::new(),
        }
    }
}

/// The variables in scope at a point of a stage.
#[derive(Debug, Clone, Default)]
struct Scope {
    env: Vec<(String, String)>,
    args: Vec<(String, Option<String>)>,
}

impl Scope {
    fn get(&self, name: &str) -> Option<String> {
        match self.env.iter().find(|(k, _)| k == name) {
            Some((_, v)) => Some(v.clone()),
            None => self.arg(name),
        }
    }

    fn arg(&self, name: &str) -> Option<String> {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
    }

    fn set_env(&mut self, name: &str, value: &str) {
        match self.env.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value.to_owned(),
            None => self.env.push((name.to_owned(), value.to_owned())),
        }
    }

    fn set_arg(&mut self, name: &str, value: Option<String>) {
        match self.args.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.args.push((name.to_owned(), value)),
        }
    }

    /// The `ARG`s a `RUN` sees in its environment.
    fn run_env(&self) -> Vec<(String, String)> {
        self.args
            .iter()
            .filter(|(k, _)| !self.env.iter().any(|(e, _)| e == k))
            .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
            .collect()
    }
}

struct Resolver<'a> {
    df: &'a Dockerfile,
    build_args: &'a BTreeMap<String, String>,
    used: BTreeSet<String>,
    notes: Vec<Note>,
    unset_noted: BTreeSet<(usize, String)>,
}

impl Resolver<'_> {
    fn build_arg(&mut self, name: &str) -> Option<String> {
        self.used.insert(name.to_owned());
        self.build_args.get(name).cloned()
    }

    /// Substitutes in `w`; notes each variable used but unset (once per stage).
    fn expand(&mut self, w: &Word, scope: &Scope, line: usize, stage: usize) -> Result<String> {
        let out = subst::expand(&w.text, self.df.escape, Mode::Word, &|n| scope.get(n))
            .map_err(|e| self.subst_error(w.pos.advance(e.at), e))?;
        self.note_unset(out.unset, line, stage);
        Ok(out.text)
    }

    fn note_unset(&mut self, names: Vec<String>, line: usize, stage: usize) {
        for name in names {
            if self.unset_noted.insert((stage, name.clone())) {
                let from_image =
                    matches!(self.df.stages.get(stage), Some(s) if s.base.text != "scratch");
                let why = if from_image {
                    " (the base image's ENV is not known while reading the Dockerfile)"
                } else {
                    ""
                };
                self.notes.push(Note::at(
                    line,
                    format!("${name} is not set and expands to nothing{why}"),
                ));
            }
        }
    }

    fn subst_error(&self, pos: Pos, e: subst::SubstError) -> Error {
        let err = Error::new(&self.df.file, pos, e.message);
        match e.hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }

    fn nonempty(
        &mut self,
        w: &Word,
        scope: &Scope,
        line: usize,
        stage: usize,
        kw: &str,
    ) -> Result<String> {
        let v = self.expand(w, scope, line, stage)?;
        if v.is_empty() {
            return Err(Error::new(
                &self.df.file,
                w.pos,
                format!("{kw} is empty after substitution"),
            ));
        }
        Ok(v)
    }

    /// `ENV`/`LABEL` pairs, all substituted with the scope before the instruction.
    fn pairs(
        &mut self,
        pairs: &[(Word, Word)],
        scope: &Scope,
        line: usize,
        stage: usize,
    ) -> Result<Vec<(String, String)>> {
        let mut out = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            let key = self.nonempty(k, scope, line, stage, "the name")?;
            out.push((key, self.expand(v, scope, line, stage)?));
        }
        Ok(out)
    }

    fn copy(&mut self, c: &Copy, index: usize, scope: &Scope, line: usize) -> Result<CopyOp> {
        let kw = if c.add { "ADD" } else { "COPY" };
        let file = self.df.file.clone();
        let from = match &c.from {
            Some(w) => Some(self.copy_from(w, index, scope, line)?),
            None => None,
        };
        let chmod = match &c.chmod {
            Some(w) => {
                let v = self.expand(w, scope, line, index)?;
                let octal =
                    (3..=4).contains(&v.len()) && v.chars().all(|c| ('0'..='7').contains(&c));
                if !octal {
                    return Err(Error::new(
                        &file,
                        w.pos,
                        format!("{kw} --chmod={v}: jig takes an octal mode"),
                    )
                    .hint("--chmod=755 or --chmod=0644"));
                }
                u32::from_str_radix(&v, 8).ok()
            }
            None => None,
        };
        let mut sources = Vec::with_capacity(c.sources.len());
        for s in &c.sources {
            sources.push(match s {
                Source::Path(w) => CopySource::Path(self.expand(w, scope, line, index)?),
                Source::Heredoc(h) => {
                    let body = h.text();
                    let content = if h.expand {
                        let out = subst::expand(&body, '\\', Mode::Heredoc, &|n| scope.get(n))
                            .map_err(|e| {
                                let before: String = body.chars().take(e.at).collect();
                                let line = h.body_line + before.matches('\n').count();
                                let col =
                                    before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                                self.subst_error(Pos { line, col }, e)
                            })?;
                        self.note_unset(out.unset, line, index);
                        out.text
                    } else {
                        body
                    };
                    CopySource::Inline {
                        name: h.name.clone(),
                        content,
                    }
                }
            });
        }
        let checksum = match &c.checksum {
            Some(w) => {
                let v = self.expand(w, scope, line, index)?;
                if !digest_ok(&v) {
                    return Err(Error::new(
                        &file,
                        w.pos,
                        format!("ADD --checksum={v} is not a digest"),
                    )
                    .hint("--checksum=sha256:<64 hex digits>"));
                }
                let all_urls = sources.iter().all(|s| {
                    matches!(s, CopySource::Path(p) if p.starts_with("https://") || p.starts_with("http://"))
                });
                if !all_urls {
                    return Err(Error::new(
                        &file,
                        w.pos,
                        "ADD --checksum applies to URL sources only",
                    )
                    .hint("check a local file's content in a RUN step, or drop --checksum"));
                }
                Some(v)
            }
            None => None,
        };
        let dest = self.nonempty(&c.dest, scope, line, index, kw)?;
        Ok(CopyOp {
            add: c.add,
            from,
            sources,
            dest,
            chmod,
            checksum,
        })
    }

    /// `--from=N`, `--from=name` (earlier stages only) or an image.
    fn copy_from(
        &mut self,
        w: &Word,
        index: usize,
        scope: &Scope,
        line: usize,
    ) -> Result<CopyFrom> {
        let v = self.nonempty(w, scope, line, index, "COPY --from")?;
        let file = &self.df.file;
        if let Ok(n) = v.parse::<usize>() {
            if n < index {
                return Ok(CopyFrom::Stage(n));
            }
            return Err(Error::new(
                file,
                w.pos,
                format!("COPY --from={n}: stage {n} is not an earlier stage"),
            )
            .hint(format!(
                "stages count from 0 in order; this one is stage {index}"
            )));
        }
        let lower = v.to_ascii_lowercase();
        let named = |s: &super::model::Stage| s.name.as_deref() == Some(lower.as_str());
        if let Some(i) = self.df.stages[..index].iter().position(named) {
            return Ok(CopyFrom::Stage(i));
        }
        if self.df.stages[index..].iter().any(named) {
            return Err(Error::new(
                file,
                w.pos,
                format!("COPY --from={v} names this stage or a later one"),
            )
            .hint(format!("move stage {v} above this one")));
        }
        Ok(CopyFrom::Image(v))
    }
}

/// `sha256:`, `sha384:` or `sha512:` and lowercase hex digits of the right length.
fn digest_ok(v: &str) -> bool {
    let Some((algo, hex)) = v.split_once(':') else {
        return false;
    };
    let len = match algo {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return false,
    };
    hex.len() == len
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
}

/// A `CMD`/`ENTRYPOINT` argv: the exec form, or the shell with the text.
fn argv(c: &Command, shell: &[String]) -> Vec<String> {
    match c {
        Command::Exec(v) => v.clone(),
        Command::Shell(text) => with_shell(shell, text.clone()),
    }
}

fn with_shell(shell: &[String], text: String) -> Vec<String> {
    let mut v = shell.to_vec();
    v.push(text);
    v
}

/// What a `RUN` executes. A command that is only a heredoc runs the body (by its `#!`
/// line if it has one, else with the shell); otherwise the shell gets the text and the
/// bodies after it, and reads the heredocs itself.
fn exec(run: &Run, shell: &[String]) -> Exec {
    let text = match &run.command {
        Command::Exec(v) => return Exec::Argv(v.clone()),
        Command::Shell(text) => text,
    };
    if let [h] = run.heredocs.as_slice() {
        if text.trim() == h.marker {
            let body = h.text();
            if body.starts_with("#!") {
                return Exec::Script(body);
            }
            return Exec::Argv(with_shell(shell, body));
        }
    }
    let mut script = text.clone();
    for h in &run.heredocs {
        script.push('\n');
        script.push_str(&h.content);
        script.push_str(&h.name);
    }
    Exec::Argv(with_shell(shell, script))
}

/// This machine's platform as OCI names it: architecture and variant.
pub(super) fn host_platform() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", ""),
        "aarch64" => ("arm64", ""),
        "arm" => ("arm", "v7"),
        "x86" => ("386", ""),
        "powerpc64" => ("ppc64le", ""),
        "loongarch64" => ("loong64", ""),
        other => (other, ""),
    }
}

/// Docker's automatic platform arguments, for this machine (jig builds for it only).
fn automatic_args() -> Vec<(String, String)> {
    let (arch, variant) = host_platform();
    let platform = match variant {
        "" => format!("linux/{arch}"),
        v => format!("linux/{arch}/{v}"),
    };
    let mut out = Vec::new();
    for side in ["TARGET", "BUILD"] {
        out.push((format!("{side}PLATFORM"), platform.clone()));
        out.push((format!("{side}OS"), "linux".to_owned()));
        out.push((format!("{side}ARCH"), arch.to_owned()));
        out.push((format!("{side}VARIANT"), variant.to_owned()));
    }
    out
}

/// Accepts `--platform` naming this machine's platform, refuses any other.
fn check_platform(file: &str, pos: Pos, value: &str) -> Result<()> {
    let (arch, variant) = host_platform();
    let lower = value.to_ascii_lowercase();
    let mut parts = lower.split('/');
    let (os, a, v) = (parts.next(), parts.next(), parts.next());
    let a = match a {
        Some("x86_64") => Some("amd64"),
        Some("aarch64") => Some("arm64"),
        other => other,
    };
    let ok = os == Some("linux")
        && a == Some(arch)
        && (v.is_none() || v == Some(variant) || (arch == "arm64" && v == Some("v8")))
        && parts.next().is_none();
    if ok {
        return Ok(());
    }
    let here = match variant {
        "" => format!("linux/{arch}"),
        v => format!("linux/{arch}/{v}"),
    };
    Err(Error::new(
        file,
        pos,
        format!("FROM --platform={value}: jig builds for this machine ({here}) only"),
    )
    .hint("remove --platform, or write --platform=$BUILDPLATFORM"))
}
