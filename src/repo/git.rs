//! The host's git, run the way jig needs it: found on PATH but never through jig's own
//! shims, with a small fixed environment, no hooks, no prompts, never through a shell.
//!
//! Recipe repositories are kept as bare repositories that only jig writes to. Every
//! read names a commit, so what a recipe says depends on the pinned commit alone.

use std::ffi::{OsStr, OsString};
use std::io::{Seek, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, bail};

/// Variables git may see from the caller: what it needs to reach a remote (proxies,
/// ssh agent, CA bundles) and the user's own git configuration (credentials,
/// `insteadOf`). Everything else, `GIT_DIR` and friends included, is dropped.
const PASS_ENV: &[&str] = &[
    "HOME",
    "USER",
    "LOGNAME",
    "XDG_CONFIG_HOME",
    "TMPDIR",
    "SSH_AUTH_SOCK",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSL_CAINFO",
    "GIT_SSL_CAPATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// The host's git executable, ready to run.
#[derive(Debug, Clone)]
pub struct Git {
    program: PathBuf,
    /// PATH without jig's shim directory, for what git itself spawns (ssh, helpers).
    path: OsString,
}

/// One entry of a tree listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    /// Octal mode as git prints it (`100644`, `100755`, `120000`, `040000`, ...).
    pub mode: String,
    /// Object id.
    pub oid: String,
    /// Path from the repository root.
    pub path: String,
}

impl TreeEntry {
    /// A regular file (executable or not); symlinks, trees and submodules are not.
    pub fn is_regular(&self) -> bool {
        self.mode == "100644" || self.mode == "100755"
    }
}

impl Git {
    /// Finds `git` on PATH, skipping `shims` and anything that is the jig binary itself
    /// (a `git` shim is jig, and running it would start a container).
    pub fn find(shims: &Path) -> Result<Git> {
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        let me = std::env::current_exe().ok();
        let shims = shims.canonicalize().unwrap_or_else(|_| shims.to_owned());
        let dirs: Vec<PathBuf> = std::env::split_paths(&path_var)
            .filter(|d| d.is_absolute())
            .filter(|d| *d != shims && d.canonicalize().map_or(true, |c| c != shims))
            .collect();
        let Some(program) = pick(&dirs, me.as_deref()) else {
            return Err(crate::base::error::hinted(
                "git is needed for recipe repositories, and none was found on PATH (outside jig's shims)",
                "install git with the host's package manager, or add the recipes as a local directory",
            ));
        };
        Ok(Git {
            program,
            path: std::env::join_paths(&dirs).unwrap_or_default(),
        })
    }

    /// A git command with jig's fixed environment and options.
    fn command(&self, git_dir: Option<&Path>) -> Command {
        let mut c = Command::new(&self.program);
        c.env_clear();
        for var in PASS_ENV {
            if let Some(v) = std::env::var_os(var) {
                c.env(var, v);
            }
        }
        c.env("PATH", &self.path)
            .env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "")
            .env("SSH_ASKPASS", "")
            .env("GCM_INTERACTIVE", "never")
            .stdin(Stdio::null());
        // git never outlives jig (its own helpers follow when their pipes close).
        crate::base::child::command_dies_with_jig(&mut c, libc::SIGKILL);
        // ext:: runs a command named in the URL: never. No hooks, no background gc that
        // could drop objects of the pinned commit, no advice on stderr.
        c.args([
            "-c",
            "protocol.ext.allow=never",
            "-c",
            "core.hooksPath=/dev/null",
            "-c",
            "gc.auto=0",
            "-c",
            "maintenance.auto=false",
            "-c",
            "advice.detachedHead=false",
            "-c",
            "init.defaultBranch=main",
        ]);
        if let Some(d) = git_dir {
            c.arg("--git-dir").arg(d);
        }
        c
    }

    /// Runs git with `args` and returns stdout; a failure carries git's stderr.
    fn run(
        &self,
        git_dir: Option<&Path>,
        args: &[&OsStr],
        stdin: Option<Stdio>,
    ) -> Result<Vec<u8>> {
        let mut c = self.command(git_dir);
        c.args(args);
        if let Some(s) = stdin {
            c.stdin(s);
        }
        let out: Output = c
            .output()
            .with_context(|| format!("running {}", self.program.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let words: Vec<_> = args.iter().map(|a| a.to_string_lossy()).collect();
            bail!(
                "git {} failed ({}): {}",
                words.first().cloned().unwrap_or_default(),
                out.status,
                err.trim()
            );
        }
        Ok(out.stdout)
    }

    /// Creates an empty bare repository at `dir`, with no template (no sample hooks).
    pub fn init_bare(&self, dir: &Path) -> Result<()> {
        self.run(
            None,
            &[
                "init".as_ref(),
                "--bare".as_ref(),
                "--quiet".as_ref(),
                "--template=".as_ref(),
                "--".as_ref(),
                dir.as_os_str(),
            ],
            None,
        )
        .map(drop)
    }

    /// Fetches `rev` (a branch, tag or commit; the remote's HEAD when `None`) from `url`
    /// into `git_dir` and returns the commit it names. The fetched commit is kept alive by
    /// the ref `refs/jig/fetched`.
    pub fn fetch(&self, git_dir: &Path, url: &str, rev: Option<&str>) -> Result<String> {
        let src = rev.unwrap_or("HEAD");
        let refspec = format!("+{src}:refs/jig/fetched");
        let fetched = self.run(
            Some(git_dir),
            &[
                "fetch".as_ref(),
                "--quiet".as_ref(),
                "--no-tags".as_ref(),
                "--no-write-fetch-head".as_ref(),
                "--".as_ref(),
                url.as_ref(),
                refspec.as_ref(),
            ],
            None,
        );
        if let Err(e) = fetched {
            // Some servers refuse to send a commit asked for by id; every branch and tag
            // then, and the commit must be among them.
            match rev {
                Some(r) if is_full_commit(r) => {
                    self.run(
                        Some(git_dir),
                        &[
                            "fetch".as_ref(),
                            "--quiet".as_ref(),
                            "--no-write-fetch-head".as_ref(),
                            "--".as_ref(),
                            url.as_ref(),
                            "+refs/heads/*:refs/jig/heads/*".as_ref(),
                            "+refs/tags/*:refs/jig/tags/*".as_ref(),
                        ],
                        None,
                    )
                    .map_err(|_| e)?;
                    self.set_ref(git_dir, "refs/jig/fetched", r)?;
                }
                _ => return Err(e),
            }
        }
        self.commit_of(git_dir, "refs/jig/fetched")
    }

    /// The commit `rev` names in `git_dir` (tags are peeled).
    pub fn commit_of(&self, git_dir: &Path, rev: &str) -> Result<String> {
        let spec = format!("{rev}^{{commit}}");
        let out = self
            .run(
                Some(git_dir),
                &[
                    "rev-parse".as_ref(),
                    "--verify".as_ref(),
                    "--quiet".as_ref(),
                    "--end-of-options".as_ref(),
                    spec.as_ref(),
                ],
                None,
            )
            .with_context(|| format!("'{rev}' does not name a commit"))?;
        let id = String::from_utf8_lossy(&out).trim().to_owned();
        if !is_full_commit(&id) {
            bail!("git rev-parse printed '{id}' for '{rev}'");
        }
        Ok(id)
    }

    /// Points `name` at `commit` (which must exist).
    pub fn set_ref(&self, git_dir: &Path, name: &str, commit: &str) -> Result<()> {
        let commit = self.commit_of(git_dir, commit)?;
        self.run(
            Some(git_dir),
            &[
                "update-ref".as_ref(),
                "--no-deref".as_ref(),
                name.as_ref(),
                commit.as_ref(),
            ],
            None,
        )
        .map(drop)
    }

    /// The entries directly under `dir/` in `commit`'s tree (none if there is no such
    /// directory).
    pub fn ls_tree(&self, git_dir: &Path, commit: &str, dir: &str) -> Result<Vec<TreeEntry>> {
        // A commit without that directory lists nothing; a missing commit is an error.
        let out = self.run(
            Some(git_dir),
            &[
                "ls-tree".as_ref(),
                "-z".as_ref(),
                "--full-tree".as_ref(),
                "--end-of-options".as_ref(),
                commit.as_ref(),
                "--".as_ref(),
                format!("{dir}/").as_ref(),
            ],
            None,
        )?;
        parse_ls_tree(&out)
    }

    /// Every file below `dir/` in `commit`'s tree, recursively (trees not listed).
    pub fn ls_tree_recursive(
        &self,
        git_dir: &Path,
        commit: &str,
        dir: &str,
    ) -> Result<Vec<TreeEntry>> {
        let out = self.run(
            Some(git_dir),
            &[
                "ls-tree".as_ref(),
                "-r".as_ref(),
                "-z".as_ref(),
                "--full-tree".as_ref(),
                "--end-of-options".as_ref(),
                commit.as_ref(),
                "--".as_ref(),
                format!("{dir}/").as_ref(),
            ],
            None,
        )?;
        parse_ls_tree(&out)
    }

    /// Reads blobs by id, in order, with one `git cat-file --batch`. The ids go through
    /// a memfd rather than a pipe fed by a thread: `jig run` enters a user namespace
    /// later in this process, which must then still be single-threaded.
    pub fn read_blobs(&self, git_dir: &Path, oids: &[&str]) -> Result<Vec<Vec<u8>>> {
        if oids.is_empty() {
            return Ok(Vec::new());
        }
        let fd =
            nix::sys::memfd::memfd_create(c"jig-git-batch", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .context("memfd_create")?;
        let mut file = std::fs::File::from(fd);
        for oid in oids {
            writeln!(file, "{oid}").context("writing to a memfd")?;
        }
        file.rewind().context("rewinding a memfd")?;
        let out = self.run(
            Some(git_dir),
            &["cat-file".as_ref(), "--batch".as_ref()],
            Some(Stdio::from(file)),
        )?;
        parse_batch(&out, oids.len())
    }
}

/// The first executable `git` in `dirs` that is not the jig binary `me` (through any
/// symlink).
fn pick(dirs: &[PathBuf], me: Option<&Path>) -> Option<PathBuf> {
    let me = me.and_then(|m| m.canonicalize().ok());
    dirs.iter().map(|d| d.join("git")).find(|candidate| {
        candidate.canonicalize().is_ok_and(|real| {
            let executable = real
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
            executable && Some(&real) != me.as_ref()
        })
    })
}

/// True for a full 40-digit (sha1) or 64-digit (sha256) lowercase hex object id.
pub fn is_full_commit(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64)
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses `git ls-tree -z` output: `MODE TYPE OID\tPATH\0`.
fn parse_ls_tree(out: &[u8]) -> Result<Vec<TreeEntry>> {
    let mut entries = Vec::new();
    for record in out.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let record = std::str::from_utf8(record).context("git ls-tree printed a non-UTF-8 path")?;
        let (meta, path) = record
            .split_once('\t')
            .with_context(|| format!("unexpected git ls-tree line '{record}'"))?;
        let mut parts = meta.split(' ');
        let (Some(mode), Some(_kind), Some(oid), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            bail!("unexpected git ls-tree line '{record}'");
        };
        entries.push(TreeEntry {
            mode: mode.to_owned(),
            oid: oid.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(entries)
}

/// Parses `git cat-file --batch` output: per object `OID TYPE SIZE\n`, the bytes, `\n`.
fn parse_batch(mut out: &[u8], count: usize) -> Result<Vec<Vec<u8>>> {
    let mut blobs = Vec::with_capacity(count);
    while blobs.len() < count {
        let nl = out
            .iter()
            .position(|&b| b == b'\n')
            .context("git cat-file output ended early")?;
        let header = String::from_utf8_lossy(&out[..nl]).into_owned();
        out = &out[nl + 1..];
        let mut parts = header.split(' ');
        let (Some(oid), Some(kind), Some(size)) = (parts.next(), parts.next(), parts.next()) else {
            bail!("git cat-file: object {header}");
        };
        if kind != "blob" {
            bail!("git cat-file: {oid} is a {kind}, not a file");
        }
        let size: usize = size
            .parse()
            .with_context(|| format!("git cat-file: bad header '{header}'"))?;
        if out.len() < size + 1 {
            bail!("git cat-file output ended inside {oid}");
        }
        blobs.push(out[..size].to_vec());
        out = &out[size + 1..];
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_tree_records() {
        let out = b"100644 blob 0123456789012345678901234567890123456789\trecipes/a.toml\0\
120000 blob 1123456789012345678901234567890123456789\trecipes/b c.toml\0";
        let e = parse_ls_tree(out).unwrap();
        assert_eq!(e.len(), 2);
        assert!(e[0].is_regular());
        assert_eq!(e[1].path, "recipes/b c.toml");
        assert!(!e[1].is_regular());
        assert!(parse_ls_tree(b"garbage\0").is_err());
    }

    #[test]
    fn batch_output() {
        let out = b"aa blob 3\nabc\nbb blob 0\n\n";
        assert_eq!(
            parse_batch(out, 2).unwrap(),
            vec![b"abc".to_vec(), Vec::new()]
        );
        assert!(parse_batch(b"aa missing\n", 1).is_err());
        assert!(parse_batch(b"aa blob 9\nabc\n", 1).is_err());
    }

    #[test]
    fn picks_a_git_that_is_not_jig() {
        let base = std::env::temp_dir().join(format!("jig-git-pick-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let (me, shim_like, plain, real) = (
            base.join("jig"),
            base.join("a"),
            base.join("b"),
            base.join("c"),
        );
        for d in [&shim_like, &plain, &real] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(&me, "").unwrap();
        std::fs::set_permissions(&me, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink(&me, shim_like.join("git")).unwrap();
        std::fs::write(plain.join("git"), "").unwrap(); // not executable
        std::fs::write(real.join("git"), "").unwrap();
        std::fs::set_permissions(real.join("git"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let dirs = [shim_like.clone(), plain.clone(), real.clone()];
        assert_eq!(pick(&dirs, Some(&me)), Some(real.join("git")));
        assert_eq!(pick(&dirs[..2], Some(&me)), None);
        // Without knowing itself, jig would take the first.
        assert_eq!(pick(&dirs, None), Some(shim_like.join("git")));
        std::fs::remove_dir_all(&base).unwrap();
    }

    #[test]
    fn full_commit_ids() {
        assert!(is_full_commit(&"a".repeat(40)));
        assert!(is_full_commit(&"0".repeat(64)));
        assert!(!is_full_commit(&"a".repeat(39)));
        assert!(!is_full_commit(&"A".repeat(40)));
        assert!(!is_full_commit("main"));
    }
}
