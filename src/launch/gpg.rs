//! The host's GnuPG, as a recipe with `[mounts] gpg` sees it: the public files of the
//! GnuPG home directory (`$GNUPGHOME`, else `~/.gnupg`), bound read-only, and the
//! agent's *restricted* socket (`S.gpg-agent.extra`, the one gpg-agent offers for
//! forwarding to other machines), bound where gpg inside looks for the agent
//! (`S.gpg-agent`). The tool can sign and decrypt with the user's keys while it runs
//! (the agent asks for the passphrase on the host), but never sees the private keys
//! (`private-keys-v1.d` is not mounted), nor gets the commands the restricted socket
//! refuses (exporting secret keys, presetting passphrases).
//!
//! Where gpg keeps its sockets (gnupg 2.2 and 2.4): below `/run/user/UID/gnupg` when
//! that directory exists and the home directory is the default one, else in the home
//! directory. The trust database is copied in, writable and ephemeral: gpg opened
//! read-only notes "trustdb not writable" on every run, and a writable bind would let
//! a tool make the host's gpg trust a key of its choosing. A non-default home directory with `/run/user/UID` uses a hashed
//! subdirectory there, which is not looked for. The container gets the same layout
//! (`/run/user/UID/gnupg` made 0700, as gpg requires), so gpg inside picks the same
//! place.

use std::path::{Path, PathBuf};

use crate::launch::host::Host;

/// The public files of a GnuPG home directory.
pub const PUBLIC: &[&str] = &[
    "pubring.kbx",
    "pubring.gpg",
    "trustedkeys.kbx",
    "trustedkeys.gpg",
    "gpg.conf",
    "common.conf",
];

/// What the host has of GnuPG.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GpgFacts {
    /// The home directory (`$GNUPGHOME`, else `~/.gnupg`).
    pub home: PathBuf,
    /// Whether `$GNUPGHOME` names it (then it is passed).
    pub from_var: bool,
    /// Which of [`PUBLIC`] exist in it.
    pub files: Vec<PathBuf>,
    /// The trust database's contents (`trustdb.gpg`), when it exists.
    pub trustdb: Option<Vec<u8>>,
    /// The directory gpg keeps its sockets in, on the host and so inside.
    pub socket_dir: PathBuf,
    /// The restricted socket exists there.
    pub extra: bool,
    /// The full socket exists there (for the message when the restricted one does not).
    pub full: bool,
}

/// The trust database's name.
pub const TRUSTDB: &str = "trustdb.gpg";

/// The restricted socket's name.
pub const EXTRA: &str = "S.gpg-agent.extra";
/// The name gpg connects to.
pub const AGENT: &str = "S.gpg-agent";

/// Looks at the host's GnuPG: an `lstat` per file.
pub fn gather(host: &Host) -> GpgFacts {
    let default = host.home.join(".gnupg");
    let var = host
        .var("GNUPGHOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let from_var = var.is_some();
    let home = crate::base::paths::normalize(&host.cwd.join(var.unwrap_or(default.clone())));
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    // Without a home directory there is neither a keyring nor (for the default one) an
    // agent of it to look for: one `lstat`.
    if !from_var && !exists(&home) {
        return GpgFacts {
            socket_dir: home.clone(),
            home,
            ..GpgFacts::default()
        };
    }
    let files = PUBLIC
        .iter()
        .map(|f| home.join(f))
        .filter(|p| exists(p))
        .collect();
    let run_user = PathBuf::from(format!("/run/user/{}", host.uid));
    let socket_dir = if home == default && run_user.is_dir() {
        run_user.join("gnupg")
    } else {
        home.clone()
    };
    let trustdb = read(&home.join(TRUSTDB));
    GpgFacts {
        trustdb,
        extra: exists(&socket_dir.join(EXTRA)),
        full: exists(&socket_dir.join(AGENT)),
        home,
        from_var,
        files,
        socket_dir,
    }
}

/// A regular file's contents (at most 1 MiB), without blocking on a FIFO.
fn read(path: &Path) -> Option<Vec<u8>> {
    crate::base::paths::read_regular(path, 1 << 20)
}
