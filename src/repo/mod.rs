//! Shared recipe repositories: `jig repo add/list/update/remove`, `jig search`, and the
//! lookup that turns a recipe argument (`NAME`, `REPO/NAME`, a path) into a recipe.
//!
//! A repository is a git repository or a local directory laid out as
//! `recipes/NAME.toml`. Each is pinned: a git repository to a commit, fetched into a
//! bare repository that only jig writes to and read with `git ls-tree`/`cat-file` at
//! that commit (no checkout anyone could edit); a plain directory to the hash of a
//! snapshot of its recipe files. Only `jig repo update` moves a pin.
//!
//! State, under jig's data directory:
//!
//! ```text
//! repos.json                       name -> source, ref, pin (the registration)
//! repos.lock                       flock(2) held by add, update and remove
//! repos/NAME/git/                  bare repository of a git source
//! repos/NAME/snapshots/HEX.json    snapshot of a directory source, by content hash
//! ```
//!
//! A repository's content is untrusted data: recipe text is only parsed, files are read
//! from git objects or opened without following symlinks, and recipes that would read
//! host paths (`rootfs:` images) or skip the Debian signature check (`insecure`) are
//! refused.

mod contents;
mod dir;
mod git;

pub use contents::{Contents, RecipeFile};

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::base::error::Hint;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::base::paths::Dirs;
use crate::recipe::{self, Loaded, Name, Origin, Recipe};

use git::Git;

/// The name `REPO/NAME` and `recipe_order` use for the recipes built into jig.
pub const BUILTIN: &str = "builtin";

/// The registered repositories (`repos.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repos {
    /// Repository name → registration.
    #[serde(default)]
    pub repos: BTreeMap<String, Repo>,
}

/// One registered repository.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Repo {
    /// Where its recipes come from.
    pub source: Location,
    /// The branch, tag or commit followed (`None`: the remote's default branch).
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub rev: Option<String>,
    /// The pinned commit (git) or `sha256:HEX` content hash (directory).
    pub pin: String,
}

/// Where a repository's recipes come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// A git URL, or the absolute path of a local git repository.
    Git(String),
    /// A local directory that is not a git repository (absolute path).
    Dir(PathBuf),
}

impl Location {
    /// `git` or `dir`.
    pub fn kind(&self) -> &'static str {
        match self {
            Location::Git(_) => "git",
            Location::Dir(_) => "dir",
        }
    }

    /// The URL or path.
    pub fn location(&self) -> String {
        match self {
            Location::Git(u) => u.clone(),
            Location::Dir(p) => p.display().to_string(),
        }
    }
}

impl Repos {
    /// Reads `repos.json`; a missing file means no repositories.
    pub fn read(dirs: &Dirs) -> Result<Repos> {
        let path = index_path(dirs);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "{} is damaged; remove it and add the repositories again",
                    path.display()
                )
            }),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(Repos::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn write(&self, dirs: &Dirs) -> Result<()> {
        let text = serde_json::to_string_pretty(self).context("serializing repos.json")?;
        write_atomic(&index_path(dirs), text.as_bytes())
    }

    /// The registration of `name`, or an error listing the repositories there are.
    pub fn get(&self, name: &str) -> Result<&Repo> {
        self.repos
            .get(name)
            .with_context(|| {
                let have: Vec<_> = self.repos.keys().map(String::as_str).collect();
                format!(
                    "no recipe repository named '{name}' (repositories: {})",
                    if have.is_empty() {
                        "none".into()
                    } else {
                        have.join(", ")
                    }
                )
            })
            .with_hint(|| format!("`jig repo add {name} URL|PATH` adds one"))
    }
}

fn index_path(dirs: &Dirs) -> PathBuf {
    dirs.data.join("repos.json")
}

fn repos_dir(dirs: &Dirs) -> PathBuf {
    dirs.data.join("repos")
}

fn git_dir(dirs: &Dirs, name: &str) -> PathBuf {
    repos_dir(dirs).join(name).join("git")
}

fn snapshot_path(dirs: &Dirs, name: &str, pin: &str) -> PathBuf {
    let hex = pin.strip_prefix("sha256:").unwrap_or(pin);
    repos_dir(dirs)
        .join(name)
        .join("snapshots")
        .join(format!("{hex}.json"))
}

/// The first characters of a pin, for messages (`sha256:` kept for content hashes).
pub fn short(pin: &str) -> &str {
    let n = if pin.starts_with("sha256:") { 19 } else { 12 };
    &pin[..pin.len().min(n)]
}

/// Writes a file by temp file + rename, so readers see the old or the new text.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().context("a path without a parent")?;
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// The lock that serializes `repo add/update/remove` between jig processes; readers
/// need none (every file they read is replaced by rename, and pinned git objects stay).
fn lock(dirs: &Dirs) -> Result<crate::image::store::StoreLock> {
    fs::create_dir_all(&dirs.data).with_context(|| format!("creating {}", dirs.data.display()))?;
    crate::image::store::lock_file(&dirs.data.join("repos.lock"), true)
}

/// Removes work directories of interrupted `add`s. Called with the lock held, when no
/// other process can be filling one.
fn sweep(dirs: &Dirs) {
    let Ok(entries) = fs::read_dir(repos_dir(dirs)) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_string_lossy().starts_with(".tmp-") {
            let _ = fs::remove_dir_all(e.path());
        }
    }
}

/// Checks a repository name: a recipe name (so `repos/NAME` stays inside `repos/`)
/// other than `builtin`.
pub fn check_name(name: &str) -> Result<()> {
    Name::new(name).map_err(|e| anyhow::anyhow!("repository {e}"))?;
    if name == BUILTIN {
        bail!("'{BUILTIN}' names jig's built-in recipes; choose another repository name");
    }
    Ok(())
}

/// Checks `--ref`: a branch, tag or commit name git cannot take for an option or a
/// refspec.
pub fn check_rev(rev: &str) -> Result<()> {
    let bad = rev.is_empty()
        || rev.starts_with('-')
        || rev.starts_with('/')
        || rev.ends_with('/')
        || rev.ends_with(".lock")
        || rev.contains("..")
        || rev.contains("@{")
        || rev.contains("//")
        || rev
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || ":^~?*[\\".contains(c));
    if bad {
        bail!("invalid --ref '{rev}': expected a branch, tag or commit name");
    }
    Ok(())
}

/// Checks a URL or path given to `repo add`: nothing git could take for an option.
fn check_location(location: &str) -> Result<()> {
    if location.is_empty() || location.starts_with('-') {
        bail!("invalid repository location '{location}': it must not start with '-'");
    }
    if location.chars().any(char::is_control) {
        bail!("invalid repository location: control characters");
    }
    Ok(())
}

/// Decides what `repo add` was given: a URL, a local git repository or a directory.
fn classify(location: &str) -> Result<Location> {
    check_location(location)?;
    if location.contains("://") {
        return Ok(Location::Git(location.to_owned()));
    }
    let path = Path::new(location);
    if path.exists() {
        let abs =
            std::path::absolute(path).with_context(|| format!("resolving {}", path.display()))?;
        let is_git = abs.join(".git").exists()
            || (abs.join("HEAD").is_file() && abs.join("objects").is_dir());
        if is_git {
            let s = abs.to_str().context("the repository path is not UTF-8")?;
            return Ok(Location::Git(s.to_owned()));
        }
        if !abs.join("recipes").is_dir() {
            return Err(crate::base::error::hinted(
                format!("{} has no recipes/ directory", abs.display()),
                "a recipe repository holds recipes/NAME.toml files",
            ));
        }
        return Ok(Location::Dir(abs));
    }
    // scp-like `[user@]host:path`, as git understands it.
    if let Some((host, _)) = location.split_once(':')
        && !host.is_empty()
        && !host.contains('/')
    {
        return Ok(Location::Git(location.to_owned()));
    }
    bail!("{location}: no such directory, and not a git URL")
}

/// What `repo add` did.
#[derive(Debug)]
pub struct Added {
    /// The registration written.
    pub repo: Repo,
    /// Its recipes at the pin, and the files refused.
    pub contents: Contents,
}

/// Registers repository `name` at `location` (URL or path), following `rev`, pinned to
/// what that names now. Nothing is registered unless everything succeeded.
pub fn add(dirs: &Dirs, name: &str, location: &str, rev: Option<&str>) -> Result<Added> {
    check_name(name)?;
    if let Some(r) = rev {
        check_rev(r)?;
    }
    let source = classify(location)?;
    if rev.is_some() && matches!(source, Location::Dir(_)) {
        bail!("--ref applies to git repositories; {location} is a plain directory");
    }
    let _lock = lock(dirs)?;
    let mut repos = Repos::read(dirs)?;
    if let Some(r) = repos.repos.get(name) {
        return Err(crate::base::error::hinted(
            format!(
                "a repository named '{name}' already exists ({})",
                r.source.location()
            ),
            format!(
                "`jig repo update {name}` moves its pin; `jig repo remove {name}` first to change its source"
            ),
        ));
    }
    sweep(dirs);
    let root = repos_dir(dirs);
    let work = root.join(format!(".tmp-{name}-{}", std::process::id()));
    fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let filled = fill(dirs, &work, &source, rev);
    let (pin, contents) = match filled {
        Ok(v) => v,
        Err(e) => {
            let _ = fs::remove_dir_all(&work);
            return Err(e);
        }
    };
    // A directory left by a crash between this rename and the index write (or by a
    // remove) is not registered: replace it.
    let dest = root.join(name);
    if dest.exists() {
        fs::remove_dir_all(&dest).with_context(|| format!("removing {}", dest.display()))?;
    }
    fs::rename(&work, &dest).with_context(|| format!("creating {}", dest.display()))?;
    let repo = Repo {
        source,
        rev: rev.map(str::to_owned),
        pin,
    };
    repos.repos.insert(name.to_owned(), repo.clone());
    repos.write(dirs)?;
    Ok(Added { repo, contents })
}

/// Fetches or snapshots `source` into the work directory `work`; returns the pin.
fn fill(
    dirs: &Dirs,
    work: &Path,
    source: &Location,
    rev: Option<&str>,
) -> Result<(String, Contents)> {
    match source {
        Location::Git(url) => {
            let git = Git::find(&dirs.shims)?;
            let gd = work.join("git");
            git.init_bare(&gd)?;
            let commit = git
                .fetch(&gd, url, rev)
                .with_context(|| format!("fetching {} from {url}", rev.unwrap_or("HEAD")))?;
            git.set_ref(&gd, "refs/jig/pinned", &commit)?;
            let contents = git_contents(&git, &gd, &commit)?;
            Ok((commit, contents))
        }
        Location::Dir(path) => {
            let snap = dir::read(path)?;
            let pin = snap.pin();
            let hex = pin.trim_start_matches("sha256:");
            let text = serde_json::to_string(&snap).context("serializing a snapshot")?;
            write_atomic(
                &work.join("snapshots").join(format!("{hex}.json")),
                text.as_bytes(),
            )?;
            Ok((pin, snap.contents()))
        }
    }
}

/// The recipe files of a git repository at `commit`.
fn git_contents(git: &Git, gd: &Path, commit: &str) -> Result<Contents> {
    let mut contents = Contents::default();
    let mut wanted = Vec::new();
    for e in git.ls_tree(gd, commit, "recipes")? {
        let Some(file) = e.path.strip_prefix("recipes/") else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".toml") else {
            continue;
        };
        if !e.is_regular() {
            let why = if e.mode == "120000" {
                "a symlink (refused: repository files must be regular files)"
            } else {
                "not a regular file"
            };
            contents.refused.push((e.path.clone(), why.into()));
            continue;
        }
        wanted.push((stem.to_owned(), e));
    }
    let oids: Vec<&str> = wanted.iter().map(|(_, e)| e.oid.as_str()).collect();
    let blobs = git.read_blobs(gd, &oids)?;
    for ((stem, e), blob) in wanted.into_iter().zip(blobs) {
        match String::from_utf8(blob) {
            Ok(text) => contents.files.push(RecipeFile {
                stem,
                path: e.path,
                text,
            }),
            Err(_) => contents.refused.push((e.path, "not UTF-8 text".into())),
        }
    }
    Ok(contents)
}

/// The recipe files of a registered repository at its pin.
pub fn contents(dirs: &Dirs, name: &str, repo: &Repo) -> Result<Contents> {
    let read = || -> Result<Contents> {
        match &repo.source {
            Location::Git(_) => {
                let git = Git::find(&dirs.shims)?;
                git_contents(&git, &git_dir(dirs, name), &repo.pin)
            }
            Location::Dir(_) => {
                let path = snapshot_path(dirs, name, &repo.pin);
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                let snap: dir::Snapshot = serde_json::from_str(&text)
                    .with_context(|| format!("{} is damaged", path.display()))?;
                Ok(snap.contents())
            }
        }
    };
    read()
        .with_context(|| format!("reading repository '{name}' at {}", short(&repo.pin)))
        .with_hint(|| format!("`jig repo update {name}` fetches it again"))
}

/// Parses a repository's recipe file. The recipe must be named after its file, must
/// not take its image from a host path, and must not accept an unsigned Debian index
/// (`insecure`), in any of its versions.
pub fn parse(repo: &str, file: &RecipeFile) -> Result<Recipe> {
    let label = format!("{repo}:{}", file.path);
    Name::new(&file.stem)
        .map_err(|e| anyhow::anyhow!("{label}: the file name is not a recipe name: {e}"))?;
    let r = recipe::parse(&file.text, &label)?;
    if r.name.as_str() != file.stem {
        bail!(
            "{label}: name = \"{}\" does not match the file name; a repository recipe is named after its file",
            r.name
        );
    }
    let any = |test: fn(&Recipe) -> bool| {
        test(&r)
            || r.offered()
                .iter()
                .any(|v| r.for_version(v).is_ok_and(|one| test(&one)))
    };
    if any(|r| matches!(r.image.from, recipe::Source::Rootfs(_))) {
        return Err(crate::base::error::hinted(
            format!(
                "{label}: rootfs: images cannot come from a repository (they would read host paths)"
            ),
            "use oci:, debian: or busybox: images in shared recipes",
        ));
    }
    // Without the signature check whoever serves the mirror (or sits on the way to an
    // http one) chooses the packages whose maintainer scripts the build runs.
    if any(|r| r.image.insecure) {
        return Err(crate::base::error::hinted(
            format!(
                "{label}: recipe '{}' sets insecure = true: a repository recipe cannot turn off the check of the Debian archive's signature",
                r.name
            ),
            format!(
                "remove `insecure` (a mirror that serves the signed InRelease needs none); to use such a mirror anyway, copy the recipe into a file of your own and install that path (`jig install ./{}.toml`)",
                r.name
            ),
        ));
    }
    Ok(r)
}

/// Loads recipe `name` from repository `repo` at the repository's pinned commit.
pub fn load(dirs: &Dirs, repo: &str, name: &str) -> Result<Loaded> {
    let repos = Repos::read(dirs)?;
    let registered = repos.get(repo)?;
    let contents = contents(dirs, repo, registered)?;
    let Some(file) = contents.files.iter().find(|f| f.stem == name) else {
        if let Some((path, why)) = contents
            .refused
            .iter()
            .find(|(p, _)| p == &format!("recipes/{name}.toml"))
        {
            bail!("{repo}:{path}: {why}");
        }
        return Err(crate::base::error::hinted(
            format!(
                "repository '{repo}' has no recipe '{name}' (at {})",
                short(&registered.pin)
            ),
            format!("`jig search {name}` lists recipes from all repositories"),
        ));
    };
    let recipe = parse(repo, file)?;
    Ok(Loaded {
        recipe,
        origin: Origin::Repo {
            repo: repo.to_owned(),
            commit: registered.pin.clone(),
            name: name.to_owned(),
        },
        hash: crate::base::digest::sha256_hex(file.text.as_bytes()),
    })
}

/// A place recipes are looked up in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// The recipes built into jig.
    Builtin,
    /// A registered repository.
    Repo(String),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Builtin => f.write_str("built-in recipes"),
            Place::Repo(r) => write!(f, "repository '{r}'"),
        }
    }
}

/// The order a bare `NAME` is looked up in: the configured `recipe_order` first (names
/// not registered are skipped), then the built-in recipes, then every other repository
/// by name.
pub fn order(configured: &[String], repos: &Repos) -> Vec<Place> {
    let mut out = Vec::new();
    let push = |p: Place, out: &mut Vec<Place>| {
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for name in configured {
        if name == BUILTIN {
            push(Place::Builtin, &mut out);
        } else if repos.repos.contains_key(name) {
            push(Place::Repo(name.clone()), &mut out);
        }
    }
    push(Place::Builtin, &mut out);
    for name in repos.repos.keys() {
        push(Place::Repo(name.clone()), &mut out);
    }
    out
}

/// Finds the recipe a command-line argument names: a path (see
/// [`recipe::is_path`]) is a file; `REPO/NAME` is that repository's recipe
/// (`builtin/NAME` a built-in one); a bare `NAME` is the first match in [`order`].
pub fn find(dirs: &Dirs, spec: &str) -> Result<Loaded> {
    if recipe::is_path(spec) {
        return recipe::load_file(Path::new(spec));
    }
    if let Some((repo, name)) = spec.split_once('/') {
        Name::new(name).map_err(anyhow::Error::msg)?;
        if repo == BUILTIN {
            return recipe::load(name);
        }
        return load(dirs, repo, name);
    }
    Name::new(spec).map_err(|e| {
        crate::base::error::hinted(
            e.to_string(),
            format!("give a path (./{spec}.toml) to use a recipe file"),
        )
    })?;
    let repos = Repos::read(dirs)?;
    let places = order(&crate::base::config::load()?.recipe_order, &repos);
    for place in &places {
        match place {
            Place::Builtin => {
                if recipe::BUILTIN.iter().any(|(n, _)| *n == spec) {
                    return recipe::load(spec);
                }
            }
            Place::Repo(r) => {
                let c = contents(dirs, r, repos.get(r)?)?;
                if c.files.iter().any(|f| f.stem == spec) {
                    return load(dirs, r, spec);
                }
            }
        }
    }
    let looked: Vec<String> = places.iter().map(|p| p.to_string()).collect();
    Err(crate::base::error::hinted(
        format!(
            "no recipe named '{spec}' (looked in: {})",
            looked.join(", ")
        ),
        format!(
            "`jig search {spec}` lists recipes from all repositories; `jig repo add` adds one; give a path (./{spec}.toml) to use a recipe file"
        ),
    ))
}

/// The versions a recipe offers, default first.
pub fn versions(r: &Recipe) -> Vec<String> {
    r.offered()
}

/// One line of `jig search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// `NAME` for a built-in recipe, `REPO/NAME` for a repository's.
    pub name: String,
    /// Versions offered, default first.
    pub versions: Vec<String>,
    /// `builtin`, or the repository and its pin.
    pub source: String,
    /// The recipe's description.
    pub description: String,
}

/// Recipes of every place, in lookup order, whose name or description contains `term`
/// (case-insensitive; everything when `None`). Recipes or repositories that cannot be
/// read do not stop the search: they are returned as problems.
pub fn search(dirs: &Dirs, term: Option<&str>) -> Result<(Vec<SearchHit>, Vec<anyhow::Error>)> {
    let repos = Repos::read(dirs)?;
    let places = order(&crate::base::config::load()?.recipe_order, &repos);
    let term = term.map(str::to_lowercase);
    let matches = |name: &str, description: &str| {
        term.as_deref().is_none_or(|t| {
            name.to_lowercase().contains(t) || description.to_lowercase().contains(t)
        })
    };
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for place in places {
        match place {
            Place::Builtin => {
                for (name, _) in recipe::BUILTIN {
                    let r = recipe::load(name)?.recipe;
                    if matches(name, &r.description) {
                        found.push(SearchHit {
                            name: (*name).to_owned(),
                            versions: versions(&r),
                            source: BUILTIN.into(),
                            description: r.description,
                        });
                    }
                }
            }
            Place::Repo(repo) => {
                let registered = repos.get(&repo)?;
                let c = match contents(dirs, &repo, registered) {
                    Ok(c) => c,
                    Err(e) => {
                        problems.push(e);
                        continue;
                    }
                };
                for (path, why) in &c.refused {
                    problems.push(anyhow::anyhow!("{repo}:{path}: {why}"));
                }
                for file in &c.files {
                    let r = match parse(&repo, file) {
                        Ok(r) => r,
                        Err(e) => {
                            problems.push(e);
                            continue;
                        }
                    };
                    let qualified = format!("{repo}/{}", r.name);
                    if matches(&qualified, &r.description) {
                        found.push(SearchHit {
                            name: qualified,
                            versions: versions(&r),
                            source: format!("{repo}@{}", short(&registered.pin)),
                            description: r.description,
                        });
                    }
                }
            }
        }
    }
    Ok((found, problems))
}

/// How one recipe differs between two pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// New recipe, with its versions.
    Added(String, Vec<String>),
    /// Recipe gone, with the versions it had.
    Removed(String, Vec<String>),
    /// Recipe text changed: versions before and after.
    Changed(String, Vec<String>, Vec<String>),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Added(n, v) => write!(f, "added    {n} {}", v.join(",")),
            Change::Removed(n, v) => write!(f, "removed  {n} {}", v.join(",")),
            Change::Changed(n, old, new) if old == new => {
                write!(f, "changed  {n} {} (same versions)", new.join(","))
            }
            Change::Changed(n, old, new) => {
                write!(f, "changed  {n} {} -> {}", old.join(","), new.join(","))
            }
        }
    }
}

/// Compares a repository's recipes at two pins.
pub fn diff(repo: &str, old: &Contents, new: &Contents) -> Vec<Change> {
    let versions_of = |f: &RecipeFile| {
        parse(repo, f)
            .map(|r| versions(&r))
            .unwrap_or_else(|_| vec!["(unreadable)".into()])
    };
    let old: BTreeMap<&str, &RecipeFile> = old.files.iter().map(|f| (f.stem.as_str(), f)).collect();
    let new: BTreeMap<&str, &RecipeFile> = new.files.iter().map(|f| (f.stem.as_str(), f)).collect();
    let mut changes = Vec::new();
    for (name, f) in &new {
        match old.get(name) {
            None => changes.push(Change::Added((*name).into(), versions_of(f))),
            Some(o) if o.text != f.text => changes.push(Change::Changed(
                (*name).into(),
                versions_of(o),
                versions_of(f),
            )),
            Some(_) => {}
        }
    }
    for (name, f) in &old {
        if !new.contains_key(name) {
            changes.push(Change::Removed((*name).into(), versions_of(f)));
        }
    }
    changes.sort_by(|a, b| change_name(a).cmp(change_name(b)));
    changes
}

fn change_name(c: &Change) -> &str {
    match c {
        Change::Added(n, _) | Change::Removed(n, _) | Change::Changed(n, _, _) => n,
    }
}

/// What `repo update` did to one repository.
#[derive(Debug)]
pub struct Updated {
    /// Repository name.
    pub name: String,
    /// Pin before.
    pub old: String,
    /// Pin after (equal to `old` when nothing moved).
    pub new: String,
    /// Recipe changes between the two.
    pub changes: Vec<Change>,
    /// Files refused at the new pin.
    pub refused: Vec<(String, String)>,
}

/// Moves the pin of `name` (every repository when `None`) to what its source and ref
/// name now. A ref that is a full commit id stays where it is.
pub fn update(dirs: &Dirs, name: Option<&str>) -> Result<Vec<Updated>> {
    let _lock = lock(dirs)?;
    let mut repos = Repos::read(dirs)?;
    let names: Vec<String> = match name {
        Some(n) => {
            repos.get(n)?;
            vec![n.to_owned()]
        }
        None => repos.repos.keys().cloned().collect(),
    };
    let mut out = Vec::new();
    for name in names {
        let repo = repos.repos[&name].clone();
        // Data lost from jig's directory is fetched again; the report then lists every
        // recipe as added.
        let old = contents(dirs, &name, &repo).unwrap_or_default();
        let (pin, new) = match &repo.source {
            Location::Git(url) => {
                let git = Git::find(&dirs.shims)?;
                let gd = git_dir(dirs, &name);
                if !gd.join("objects").is_dir() {
                    let _ = fs::remove_dir_all(&gd);
                    git.init_bare(&gd)?;
                }
                let commit = match repo.rev.as_deref() {
                    Some(r) if git::is_full_commit(r) && git.commit_of(&gd, r).is_ok() => {
                        repo.pin.clone()
                    }
                    rev => git.fetch(&gd, url, rev).with_context(|| {
                        format!(
                            "updating '{name}': fetching {} from {url}",
                            rev.unwrap_or("HEAD")
                        )
                    })?,
                };
                let new = git_contents(&git, &gd, &commit)?;
                (commit, new)
            }
            Location::Dir(path) => {
                let snap = dir::read(path).with_context(|| format!("updating '{name}'"))?;
                let pin = snap.pin();
                let text = serde_json::to_string(&snap).context("serializing a snapshot")?;
                write_atomic(&snapshot_path(dirs, &name, &pin), text.as_bytes())?;
                (pin, snap.contents())
            }
        };
        let changes = diff(&name, &old, &new);
        let moved = pin != repo.pin;
        if moved {
            repos.repos.get_mut(&name).expect("listed above").pin = pin.clone();
            repos.write(dirs)?;
        }
        // Only now that the index names the new pin may the old one's data go.
        match &repo.source {
            Location::Git(_) => {
                let git = Git::find(&dirs.shims)?;
                git.set_ref(&git_dir(dirs, &name), "refs/jig/pinned", &pin)?;
            }
            Location::Dir(_) if moved => {
                let _ = fs::remove_file(snapshot_path(dirs, &name, &repo.pin));
            }
            Location::Dir(_) => {}
        }
        out.push(Updated {
            name,
            old: repo.pin,
            new: pin,
            changes,
            refused: new.refused,
        });
    }
    Ok(out)
}

/// Unregisters `name` and deletes its fetched data. Recipes installed from it stay
/// installed.
pub fn remove(dirs: &Dirs, name: &str) -> Result<Repo> {
    let _lock = lock(dirs)?;
    let mut repos = Repos::read(dirs)?;
    repos.get(name)?;
    let repo = repos.repos.remove(name).expect("checked above");
    repos.write(dirs)?;
    let dir = repos_dir(dirs).join(name);
    if let Err(e) = fs::remove_dir_all(&dir)
        && e.kind() != ErrorKind::NotFound
    {
        return Err(e).with_context(|| format!("removing {}", dir.display()));
    }
    Ok(repo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(stem: &str, text: &str) -> RecipeFile {
        RecipeFile {
            stem: stem.into(),
            path: format!("recipes/{stem}.toml"),
            text: text.into(),
        }
    }

    fn recipe_text(name: &str, version: &str) -> String {
        format!(
            "name = \"{name}\"\nversion = \"{version}\"\ndescription = \"d\"\n[image]\nfrom = \"busybox:/bin/busybox\"\n[tool]\nshims = [\"x{name}\"]\n"
        )
    }

    #[test]
    fn names_and_refs_that_could_escape_or_inject_are_refused() {
        for bad in ["", "../x", "a/b", "-rf", ".hidden", "builtin", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        check_name("my-repo.1").unwrap();
        for bad in [
            "-x",
            "--upload-pack=evil",
            "a:b",
            "a..b",
            "a b",
            "x^",
            "@{1}",
            "",
        ] {
            assert!(check_rev(bad).is_err(), "{bad}");
        }
        for good in ["main", "v1.2", "release/1", &"a".repeat(40)] {
            check_rev(good).unwrap();
        }
        assert!(check_location("-oProxyCommand=x").is_err());
        assert!(check_location("--upload-pack=x").is_err());
        assert!(classify("--upload-pack=x").is_err());
        assert!(matches!(classify("https://h/r.git"), Ok(Location::Git(_))));
        assert!(matches!(classify("git@host:r.git"), Ok(Location::Git(_))));
        assert!(classify("no/such/dir").is_err());
    }

    #[test]
    fn lookup_order() {
        let mut repos = Repos::default();
        for n in ["b", "a"] {
            repos.repos.insert(
                n.into(),
                Repo {
                    source: Location::Dir("/x".into()),
                    rev: None,
                    pin: "sha256:0".into(),
                },
            );
        }
        let r = |n: &str| Place::Repo(n.into());
        assert_eq!(order(&[], &repos), [Place::Builtin, r("a"), r("b")]);
        let cfg = ["b".to_owned(), "gone".to_owned(), BUILTIN.to_owned()];
        assert_eq!(order(&cfg, &repos), [r("b"), Place::Builtin, r("a")]);
    }

    #[test]
    fn repository_recipes_are_named_after_their_file_and_use_no_host_paths() {
        parse("r", &file("t", &recipe_text("t", "1"))).unwrap();
        let err = format!(
            "{:#}",
            parse("r", &file("u", &recipe_text("t", "1"))).unwrap_err()
        );
        assert!(
            err.contains("r:recipes/u.toml") && err.contains("file name"),
            "{err}"
        );
        let text = recipe_text("t", "1").replace("busybox:/bin/busybox", "rootfs:/home");
        let err = format!("{:#}", parse("r", &file("t", &text)).unwrap_err());
        assert!(err.contains("rootfs:"), "{err}");
        let text = format!(
            "{}[versions.\"2\".image]\nfrom = \"rootfs:/\"\n",
            recipe_text("t", "1")
        );
        let err = format!("{:#}", parse("r", &file("t", &text)).unwrap_err());
        assert!(err.contains("rootfs:"), "{err}");
        let deb = recipe_text("t", "1").replace("busybox:/bin/busybox", "debian:bookworm");
        parse("r", &file("t", &deb)).unwrap();
        for text in [
            deb.replace("[tool]", "insecure = true\n[tool]"),
            format!("{deb}[versions.\"2\".image]\ninsecure = true\n"),
        ] {
            let err = format!("{:#}", parse("r", &file("t", &text)).unwrap_err());
            assert!(
                err.contains("r:recipes/t.toml") && err.contains("insecure = true"),
                "{err}"
            );
        }
        let text = recipe_text("t", "1").replace("version", "versio");
        let err = format!("{:#}", parse("r", &file("t", &text)).unwrap_err());
        assert!(
            err.contains("r:recipes/t.toml") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn diff_reports_added_removed_and_version_changes() {
        let old = Contents {
            files: vec![
                file("a", &recipe_text("a", "1")),
                file("b", &recipe_text("b", "1")),
                file("c", &recipe_text("c", "1")),
            ],
            refused: vec![],
        };
        let new = Contents {
            files: vec![
                file("b", &recipe_text("b", "2")),
                file("c", &recipe_text("c", "1")),
                file("d", &recipe_text("d", "3")),
            ],
            refused: vec![],
        };
        let d = diff("r", &old, &new);
        assert_eq!(
            d,
            [
                Change::Removed("a".into(), vec!["1".into()]),
                Change::Changed("b".into(), vec!["1".into()], vec!["2".into()]),
                Change::Added("d".into(), vec!["3".into()]),
            ]
        );
        assert_eq!(d[1].to_string(), "changed  b 1 -> 2");
    }

    #[test]
    fn short_pins() {
        assert_eq!(short(&"a".repeat(40)), "aaaaaaaaaaaa");
        assert_eq!(
            short(&format!("sha256:{}", "b".repeat(64))),
            "sha256:bbbbbbbbbbbb"
        );
    }
}
