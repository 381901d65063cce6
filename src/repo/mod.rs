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
//!
//! The parts: [`registry`] (`repos.json`, its lock, where data lives), [`register`]
//! (`add`, `remove`), [`update`](mod@update), [`pinned`] (a repository's files at its
//! pin, from [`git`] or a [`dir`] snapshot, as [`contents`]), [`parse`](mod@parse)
//! (checking repository recipes), [`find`](mod@find) (a recipe by name) and
//! [`search`](mod@search).

pub mod contents;
pub mod context;
pub mod dex;
mod dir;
pub mod find;
mod git;
pub mod parse;
pub mod pinned;
pub mod register;
pub mod registry;
pub mod search;
pub mod update;

pub use find::find;
pub use register::{add, remove};
pub use registry::{BUILTIN, Repos, short};
pub use search::search;
pub use update::update;

#[cfg(test)]
mod testing;
