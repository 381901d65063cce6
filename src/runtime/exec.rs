//! The last step: find the command inside the image and `execve` it.
//!
//! The PATH search is done here rather than by a libc `execvp` so that "not found"
//! (127) and "not executable" (126) can be told apart and reported the way a shell
//! does, and so the image's PATH is used rather than the host's.

use std::ffi::{CString, OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use nix::errno::Errno;
use std::path::Path;

use nix::unistd::{AccessFlags, access, execve};

use super::{landlock, seccomp};
use crate::base::error::{EXIT_NOT_EXECUTABLE, EXIT_NOT_FOUND, LaunchError};
use crate::runtime::spec::{Confine, Exec};

/// argv/envp as C strings and the candidate paths, ready before any namespace work.
pub struct Prepared {
    program: OsString,
    candidates: Vec<CString>,
    argv: Vec<CString>,
    env: Vec<CString>,
}

fn cstring(s: &OsStr, what: &str) -> Result<CString, LaunchError> {
    CString::new(s.as_bytes())
        .map_err(|_| LaunchError::setup(format!("{what} contains a NUL byte: {s:?}")))
}

impl Prepared {
    /// Converts the plan's exec part.
    pub fn new(e: &Exec) -> Result<Prepared, LaunchError> {
        let argv = e
            .argv
            .iter()
            .map(|a| cstring(a, "an argument"))
            .collect::<Result<_, _>>()?;
        let env = e
            .env
            .iter()
            .map(|a| cstring(a, "an environment variable"))
            .collect::<Result<_, _>>()?;
        let prog = e.program.as_bytes();
        let candidates = if prog.contains(&b'/') {
            vec![cstring(&e.program, "the command")?]
        } else if prog.is_empty() {
            Vec::new()
        } else {
            e.search_path
                .as_bytes()
                .split(|&b| b == b':')
                .map(|dir| {
                    // An empty PATH entry means the current directory, as in sh.
                    let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
                    let mut p = dir.to_vec();
                    p.push(b'/');
                    p.extend_from_slice(prog);
                    CString::new(p)
                        .map_err(|_| LaunchError::setup("the command contains a NUL byte"))
                })
                .collect::<Result<_, _>>()?
        };
        Ok(Prepared {
            program: e.program.clone(),
            candidates,
            argv,
            env,
        })
    }
}

/// Confines the process and executes the command. Returns only on failure.
pub fn exec(p: &Prepared, confine: &Confine) -> LaunchError {
    if let Err(e) = confine_self(confine) {
        return e;
    }
    search_and_exec(p)
}

/// The restrictions every tool gets, in the order the kernel needs them:
/// 1. prctl(2) `PR_SET_NO_NEW_PRIVS`: nothing the tool runs can gain privileges through
///    setuid/setgid bits or file capabilities. Inherited across fork and execve, and
///    the precondition of the next two steps for a process without CAP_SYS_ADMIN.
/// 2. `PR_CAPBSET_DROP` of the capabilities a tool run as uid 0 must not keep: a uid-0
///    process gets its bounding set as its capabilities at execve (capabilities(7)).
/// 3. The terminal filter ([`seccomp`]).
/// 4. The Landlock scopes ([`landlock`]).
pub fn confine_self(confine: &Confine) -> Result<(), LaunchError> {
    let os = || std::io::Error::last_os_error();
    // SAFETY: plain prctl calls with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        return Err(LaunchError::setup(format!(
            "cannot set no_new_privs: {}",
            os()
        )));
    }
    for &cap in &confine.drop_caps {
        // SAFETY: as above.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) } != 0 {
            return Err(LaunchError::setup(format!(
                "cannot drop capability {cap} from the bounding set: {}",
                os()
            )));
        }
    }
    seccomp::install()
        .map_err(|e| LaunchError::setup(format!("cannot install the terminal filter: {e}")))?;
    landlock::restrict(confine.scope_signals, confine.scope_abstract_sockets)
        .map_err(LaunchError::setup)?;
    Ok(())
}

fn search_and_exec(p: &Prepared) -> LaunchError {
    let name = p.program.to_string_lossy();
    let mut denied = None;
    for path in &p.candidates {
        // Probe with access(2) before execve(2): a failing execve still sets up exec
        // state in the kernel, which makes walking a long PATH with it measurably
        // slower than a path lookup per entry.
        match access(path.as_c_str(), AccessFlags::X_OK) {
            Ok(()) => {}
            Err(Errno::EACCES) if Path::new(OsStr::from_bytes(path.as_bytes())).is_file() => {
                denied.get_or_insert((path.to_string_lossy().into_owned(), Errno::EACCES));
                continue;
            }
            Err(_) => continue,
        }
        let err = match execve(path, &p.argv, &p.env) {
            Err(e) => e,
            Ok(never) => match never {},
        };
        match err {
            // Not in this directory: keep looking.
            Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP | Errno::ENAMETOOLONG => continue,
            // Present but not runnable: remember, but a later PATH entry may still work
            // (this is what execvp and shells do).
            Errno::EACCES | Errno::EPERM => {
                denied.get_or_insert((path.to_string_lossy().into_owned(), err));
            }
            e => {
                return not_executable(&path.to_string_lossy(), e, &name);
            }
        }
    }
    match denied {
        Some((path, e)) => not_executable(&path, e, &name),
        None => LaunchError::new(
            EXIT_NOT_FOUND,
            if name.contains('/') {
                "no such file in the image"
            } else {
                "command not found in the image"
            },
        ),
    }
}

fn not_executable(path: &str, e: Errno, program: &str) -> LaunchError {
    // The caller prints the program name first; name the path only when the PATH
    // search found it somewhere else.
    let message = if path == program {
        format!("cannot execute: {}", e.desc())
    } else {
        format!("cannot execute {path}: {}", e.desc())
    };
    LaunchError::new(EXIT_NOT_EXECUTABLE, message)
}
