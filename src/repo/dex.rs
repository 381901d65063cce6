//! Recipes made from Dockerfiles: a Dockerfile given by its path (`jig install
//! tools/rg/Dockerfile`) and the `dex-images/NAME/Dockerfile[-TAG]` files of a dex
//! repository are recipes whose image is built from the Dockerfile.
//!
//! The Dockerfile is read, never built, to make the recipe: the final stage's
//! `ENTRYPOINT` names the shim (its program's file name), the labels give the name
//! (`org.opencontainers.image.title`, else the directory's name) and the description,
//! and dex's `org.dockerland.dex.*` labels map onto recipe fields by the table in
//! README.md ([`map_label`]). No label value is given to a shell: dex evaluates them
//! (`$(git rev-parse --show-toplevel)`), jig knows a few such patterns by their text and
//! refuses any other value a shell would expand, as it refuses a label asking for more
//! than a recipe could (host devices, the Docker socket, other `docker run` flags).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use super::contents::DexImage;
use crate::image::source::dockerfile::Dockerfile;
use crate::image::source::dockerfile::dex::DexValue;
use crate::image::source::dockerfile::op::{Base, Op, Resolved};
use crate::recipe::{self, Loaded, Name, Origin, Recipe};

/// One Dockerfile of a recipe: the version it is, where it is (relative to the
/// recipe's directory), and its text.
pub struct Version<'a> {
    /// The version (`latest` for a plain `Dockerfile`, else its tag).
    pub version: String,
    /// `dockerfile:` path, relative to the directory the build reads from.
    pub path: String,
    /// The build context, relative to the same directory (`None`: the Dockerfile's).
    pub context: Option<String>,
    /// What the content is pinned to (`git-tree:OID`), if anything.
    pub digest: Option<String>,
    /// The Dockerfile's text.
    pub text: &'a str,
}

/// What one Dockerfile says about its recipe.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Fields {
    /// `org.opencontainers.image.title`, if it is a recipe name.
    pub title: Option<String>,
    /// `org.opencontainers.image.description`.
    pub description: String,
    /// From the final stage's `ENTRYPOINT`.
    pub shims: Vec<String>,
    /// `[mounts] home`, `home_rw`, `args`.
    pub home: Vec<String>,
    /// `[mounts] home_rw`.
    pub home_rw: Vec<String>,
    /// `[mounts] args` (`ro`, `rw`).
    pub args: Option<String>,
    /// `[env] pass`.
    pub pass: Vec<String>,
    /// `[env] set`.
    pub set: BTreeMap<String, String>,
    /// `x11`.
    pub x11: bool,
    /// What was accepted without an effect, one line each.
    pub notes: Vec<String>,
}

/// Reads what `text` (a Dockerfile named `file` in messages) says about its recipe.
pub fn fields(text: &str, file: &str) -> Result<Fields> {
    let df = Dockerfile::parse(text, file).map_err(|e| e.into_anyhow())?;
    let resolved = df.resolve(&BTreeMap::new()).map_err(|e| e.into_anyhow())?;
    let mut f = Fields::default();
    let labels = &resolved.last().labels;
    if let Some(t) = labels.get("org.opencontainers.image.title")
        && Name::new(t).is_ok()
    {
        f.title = Some(t.clone());
    }
    if let Some(d) = labels.get("org.opencontainers.image.description") {
        d.clone_into(&mut f.description);
    }
    if let Some(program) = entrypoint(&resolved).and_then(|e| e.first().cloned()) {
        let name = program.rsplit('/').next().unwrap_or(&program).to_owned();
        if Name::new(&name).is_ok() && name != "jig" {
            f.shims.push(name);
        }
    }
    let dex = resolved.dex_labels();
    if dex.is_empty() {
        return Ok(f);
    }
    match &dex.api {
        Some(v) if v.raw.trim() == "v1" => {}
        Some(v) => bail!(
            "{file}: org.dockerland.dex.api is \"{}\"; jig reads dex's v1 labels only",
            v.raw
        ),
        None => bail!(
            "{file}: dex labels without org.dockerland.dex.api=\"v1\"; jig reads dex's v1 labels only"
        ),
    }
    // Only these labels have values with patterns jig knows (`$(git rev-parse
    // --show-toplevel)`, `$HOME`); any other value a shell would expand is refused.
    let known = ["docker_volumes", "docker_workspace", "docker_home"];
    if let Some(name) = dex.needing_shell().into_iter().find(|n| !known.contains(n)) {
        return Err(crate::base::error::hinted(
            format!(
                "{file}: label org.dockerland.dex.{name}: jig never runs a label through a shell, and this value needs one"
            ),
            "write the value out, or write a recipe (TOML) that says what the tool may reach",
        ));
    }
    for (name, value) in dex.all() {
        map_label(&mut f, name, value).map_err(|why| {
            crate::base::error::hinted(
                format!(
                    "{file}: label org.dockerland.dex.{name}=\"{}\": {why}",
                    value.raw
                ),
                "remove the label, or write a recipe (TOML) that says what the tool may reach",
            )
        })?;
    }
    Ok(f)
}

/// The final stage's `ENTRYPOINT`, through the stages it starts from.
fn entrypoint(r: &Resolved) -> Option<Vec<String>> {
    let mut i = r.stages.len() - 1;
    loop {
        let stage = &r.stages[i];
        let found = stage.steps.iter().rev().find_map(|s| match &s.op {
            Op::Entrypoint(e) => Some(e.clone()),
            _ => None,
        });
        if found.is_some() {
            return found;
        }
        match stage.base {
            Base::Stage(j) => i = j,
            _ => return None,
        }
    }
}

/// `$(git rev-parse --show-toplevel)`, `$PWD` and the like: dex's ways of naming the
/// directory a tool runs in, which jig mounts as the workspace anyway.
const WORKSPACE_PATTERNS: &[&str] = &[
    "$(git rev-parse --show-toplevel)",
    "$(pwd)",
    "$PWD",
    "${PWD}",
];

/// `$HOME`, `${HOME}` and `~`: the caller's home.
fn home_relative(host: &str) -> Option<&str> {
    for prefix in ["$HOME/", "${HOME}/", "~/"] {
        if let Some(rest) = host.strip_prefix(prefix) {
            return Some(rest);
        }
    }
    None
}

/// Applies one dex label to `f`, or says why it is refused (the README's table).
pub fn map_label(f: &mut Fields, name: &str, v: &DexValue) -> Result<(), String> {
    let shell =
        || Err("jig never runs a label through a shell, and this value needs one".to_owned());
    match name {
        "api" => {}
        "docker_envars" => {
            if v.needs_shell {
                return shell();
            }
            for w in &v.words {
                recipe::EnvGlob::new(w)?;
                f.pass.push(w.clone());
            }
        }
        "docker_volumes" => {
            for w in &words(&v.raw) {
                let mut parts: Vec<&str> = w.split(':').collect();
                let mode = match parts.last() {
                    Some(&"ro") if parts.len() == 3 => {
                        parts.pop();
                        "ro"
                    }
                    Some(&"rw") if parts.len() == 3 => {
                        parts.pop();
                        "rw"
                    }
                    _ => "rw",
                };
                let [host, inside] = parts[..] else {
                    return Err(format!("{w}: expected HOST:CONTAINER[:ro|rw]"));
                };
                if WORKSPACE_PATTERNS.contains(&host) {
                    f.notes.push(format!(
                        "docker_volumes {w}: the workspace is mounted at its own path, not at {inside}"
                    ));
                    continue;
                }
                let Some(rel) = home_relative(host) else {
                    if needs_shell(host) {
                        return shell();
                    }
                    return Err(format!(
                        "{w}: jig mounts paths below your home (~/PATH) and the workspace, not {host}"
                    ));
                };
                let same = home_relative(inside) == Some(rel);
                if !same {
                    f.notes.push(format!(
                        "docker_volumes {w}: mounted at its own path ~/{rel}"
                    ));
                }
                recipe::HomePath::new(rel)?;
                if mode == "ro" {
                    f.home.push(rel.to_owned());
                } else {
                    f.home_rw.push(rel.to_owned());
                }
            }
        }
        "docker_home" => match v.raw.trim() {
            "" | "~" | "$HOME" | "${HOME}" => {}
            other => return Err(format!("jig's tools see your home path (~), not {other}")),
        },
        "docker_workspace" => {
            if v.needs_shell && !WORKSPACE_PATTERNS.contains(&v.raw.trim()) {
                return shell();
            }
            f.notes.push(format!(
                "docker_workspace {}: the workspace is mounted at its own path",
                v.raw
            ));
        }
        "host_paths" => match v.raw.trim() {
            "ro" | "rw" => f.args = Some(v.raw.trim().to_owned()),
            "" | "false" | "no" => {}
            other => return Err(format!("expected ro or rw, found {other}")),
        },
        "window" => match v.raw.trim() {
            "true" | "yes" | "1" => f.x11 = true,
            "" | "false" | "no" | "0" => {}
            other => return Err(format!("expected true or false, found {other}")),
        },
        "host_users" => f
            .notes
            .push("host_users: the tool always runs as you, with your user and group".into()),
        "docker_devices" => {
            for w in &v.words {
                let dev = w.split(':').next().unwrap_or(w);
                if !crate::runtime::spec::DEVICES
                    .iter()
                    .any(|d| format!("/dev/{d}") == dev)
                {
                    return Err(format!(
                        "{w}: jig gives tools no host devices beyond /dev/null, /dev/tty and the like"
                    ));
                }
            }
        }
        "docker_groups" => {
            if !v.words.is_empty() {
                return Err(
                    "a jig tool has your group only; supplementary groups are not mapped".into(),
                );
            }
        }
        "host_docker" => match v.raw.trim() {
            "" | "false" | "no" | "0" => {}
            _ => {
                return Err(
                    "jig never gives a tool the Docker socket (it would own the host)".into(),
                );
            }
        },
        "docker_flags" => flags(f, &v.words)?,
        other => f
            .notes
            .push(format!("label {other} is not one jig knows; ignored")),
    }
    Ok(())
}

/// A list label's words: split at whitespace, except inside `$(...)` (dex has a
/// shell split the value after expanding it; jig keeps the pattern whole to know it).
fn words(raw: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0usize;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '$' if chars.peek() == Some(&'(') => {
                depth += 1;
                cur.push(c);
                cur.push(chars.next().expect("peeked"));
            }
            ')' if depth > 0 => {
                depth -= 1;
                cur.push(c);
            }
            c if c.is_whitespace() && depth == 0 => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn needs_shell(s: &str) -> bool {
    s.contains('$') || s.contains('`')
}

/// `docker run` flags: those that mean something here, or none; others are refused.
fn flags(f: &mut Fields, words: &[String]) -> Result<(), String> {
    let mut it = words.iter().peekable();
    while let Some(w) = it.next() {
        let (flag, inline) = match w.split_once('=') {
            Some((k, v)) if w.starts_with("--") => (k, Some(v.to_owned())),
            _ => (w.as_str(), None),
        };
        match flag {
            "-i" | "-t" | "-it" | "-ti" | "--interactive" | "--tty" | "--rm" => {}
            "--network" | "--net" => {
                let v = inline.or_else(|| it.next().cloned()).unwrap_or_default();
                if v != "host" {
                    return Err(format!(
                        "--network={v}: a jig tool shares the host's network"
                    ));
                }
            }
            "-e" | "--env" => {
                let v = inline.or_else(|| it.next().cloned()).unwrap_or_default();
                if needs_shell(&v) {
                    return Err(format!(
                        "{flag} {v}: jig never runs a label through a shell"
                    ));
                }
                match v.split_once('=') {
                    Some((k, val)) => {
                        recipe::EnvName::new(k)?;
                        f.set.insert(k.to_owned(), val.to_owned());
                    }
                    None => {
                        recipe::EnvName::new(&v)?;
                        f.pass.push(v);
                    }
                }
            }
            other => {
                return Err(format!(
                    "{other}: jig knows -e/--env, --network=host and the terminal flags (-i, -t, --rm), which need nothing; nothing else"
                ));
            }
        }
    }
    Ok(())
}

/// The recipe of a Dockerfile on the host (`jig install tools/rg/Dockerfile`): named by
/// its title label or its directory, version `latest` (or TAG for `Dockerfile-TAG`),
/// built with its directory as the context.
pub fn load_file(path: &Path) -> Result<Loaded> {
    let abs = std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
    let text =
        std::fs::read_to_string(&abs).with_context(|| format!("reading {}", path.display()))?;
    let file = abs
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} names no file", path.display()))?
        .to_owned();
    let f = fields(&text, &path.display().to_string())?;
    let dir_name = abs
        .parent()
        .and_then(|d| d.file_name())
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_owned();
    let name = match f.title {
        Some(t) => t,
        None => Name::new(&dir_name).map(|n| n.to_string()).map_err(|e| {
            crate::base::error::hinted(
                format!("{}: the recipe is named after the Dockerfile's directory, and {e}", path.display()),
                "put the Dockerfile in a directory named after the tool, or label it org.opencontainers.image.title=NAME",
            )
        })?,
    };
    let version = file
        .strip_prefix("Dockerfile-")
        .filter(|t| Name::new(t).is_ok())
        .unwrap_or("latest")
        .to_owned();
    let (recipe, notes) = recipe(
        &name,
        &[Version {
            version,
            path: file,
            context: None,
            digest: None,
            text: &text,
        }],
    )?;
    for n in notes {
        eprintln!("jig: {n}");
    }
    Ok(Loaded {
        recipe,
        origin: Origin::File { path: abs },
        hash: crate::base::digest::sha256_hex(text.as_bytes()),
    })
}

/// The recipe of a dex repository's image: version `latest` for `Dockerfile` (the
/// default), TAG for `Dockerfile-TAG` (the highest is the default without a
/// `Dockerfile`), the image's directory as the context, pinned to its git tree.
pub fn from_repo(repo: &str, image: &DexImage) -> Result<(Recipe, Vec<String>)> {
    let label = format!("{repo}:dex-images/{}", image.name);
    Name::new(&image.name)
        .map_err(|e| anyhow::anyhow!("{label}: the directory name is not a recipe name: {e}"))?;
    let dir = format!("dex-images/{}", image.name);
    let mut versions = Vec::new();
    for (file, text) in &image.dockerfiles {
        let version = match file.strip_prefix("Dockerfile-") {
            Some(tag) => {
                Name::new(tag).map_err(|e| {
                    anyhow::anyhow!("{label}/{file}: the tag is not a version: {e}")
                })?;
                tag.to_owned()
            }
            None => "latest".to_owned(),
        };
        versions.push(Version {
            version,
            path: format!("{dir}/{file}"),
            context: Some(dir.clone()),
            digest: Some(format!("git-tree:{}", image.tree)),
            text,
        });
    }
    versions.sort_by(|a, b| match (a.version.as_str(), b.version.as_str()) {
        ("latest", _) => std::cmp::Ordering::Less,
        (_, "latest") => std::cmp::Ordering::Greater,
        (x, y) => crate::base::version::compare(y, x),
    });
    recipe(&image.name, &versions).map_err(|e| e.context(label))
}

/// A recipe named `name` whose versions are `versions` (the first is the default).
pub fn recipe(name: &str, versions: &[Version]) -> Result<(Recipe, Vec<String>)> {
    let Some(first) = versions.first() else {
        bail!("{name}: no Dockerfile");
    };
    let mut notes = Vec::new();
    let mut table = toml::Table::new();
    let mut overrides = toml::Table::new();
    for (i, v) in versions.iter().enumerate() {
        let f = fields(v.text, &v.path)?;
        notes.extend(f.notes.iter().map(|n| format!("{}: {n}", v.path)));
        let mut image = toml::Table::new();
        image.insert("from".into(), format!("dockerfile:{}", v.path).into());
        if let Some(c) = &v.context {
            image.insert("context".into(), c.clone().into());
        }
        if let Some(d) = &v.digest {
            image.insert("context_digest".into(), d.clone().into());
        }
        let mut tool = toml::Table::new();
        tool.insert("shims".into(), f.shims.clone().into());
        let mut mounts = toml::Table::new();
        mounts.insert("home".into(), f.home.clone().into());
        mounts.insert("home_rw".into(), f.home_rw.clone().into());
        mounts.insert(
            "args".into(),
            f.args.clone().unwrap_or_else(|| "off".into()).into(),
        );
        let mut env = toml::Table::new();
        env.insert("pass".into(), f.pass.clone().into());
        let set: toml::Table = f
            .set
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect();
        env.insert("set".into(), set.into());
        let description = if f.description.is_empty() {
            format!("built from {}", v.path)
        } else {
            f.description.clone()
        };
        let target = if i == 0 {
            &mut table
        } else {
            &mut toml::Table::new()
        };
        target.insert("description".into(), description.into());
        target.insert("x11".into(), f.x11.into());
        target.insert("image".into(), image.into());
        target.insert("tool".into(), tool.into());
        target.insert("mounts".into(), mounts.into());
        target.insert("env".into(), env.into());
        if i > 0 {
            overrides.insert(v.version.clone(), target.clone().into());
        }
    }
    table.insert("name".into(), name.into());
    table.insert("version".into(), first.version.clone().into());
    if !overrides.is_empty() {
        table.insert("versions".into(), overrides.into());
    }
    let text = toml::to_string(&table).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let recipe = recipe::parse(&text, &format!("{name} (from {})", first.path))?;
    Ok((recipe, notes))
}

#[cfg(test)]
#[path = "dex_tests.rs"]
mod tests;
