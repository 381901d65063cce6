//! A project's `jig.lock` on the shim path: the entry about to run is compared with
//! it, and in locked mode (`--locked`, `JIG_LOCKED=1`) nothing the lock does not name
//! is installed or run.

use crate::base::error::LaunchError;
use crate::install::index::Entry;
use crate::project;
use crate::project::lock;

/// The project's `jig.lock` (path and text) when the project's `jig.toml` lists
/// `recipe`; `None` when it does not, or when there is no lock outside locked mode.
fn lock_text(
    found: &project::Found,
    recipe: &str,
    locked_mode: bool,
) -> Result<Option<(std::path::PathBuf, String)>, LaunchError> {
    if !found.file.tools.contains_key(recipe) {
        return Ok(None);
    }
    let path = found.lock_path();
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(Some((path, t))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && locked_mode => {
            Err(LaunchError::setup(format!(
                "JIG_LOCKED is set but {} does not exist",
                path.display()
            ))
            .hint("run `jig lock` in the project and commit jig.lock"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LaunchError::setup(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// Compares the entry about to run with the project's `jig.lock`, for tools the
/// project's `jig.toml` lists: a difference is a warning, or an error in locked mode.
pub fn check_lock(found: &project::Found, recipe: &str, entry: &Entry) -> Result<(), LaunchError> {
    let locked_mode = lock::locked_from_env();
    let Some((path, text)) = lock_text(found, recipe, locked_mode)? else {
        return Ok(());
    };
    let diffs = match lock::summary(&text, &path, recipe) {
        Ok(Some(l)) => lock::differences(&l, entry.installed()),
        Ok(None) => vec!["the lock has no entry for it".to_owned()],
        Err(e) => return Err(e.into()),
    };
    if diffs.is_empty() {
        return Ok(());
    }
    let report = lock::report(recipe, &path, &diffs);
    if locked_mode {
        return Err(LaunchError::setup(report).hint(format!(
            "`jig install --locked {recipe}@{}` in the project builds what the lock names; `jig lock` locks what is installed",
            entry.recipe.version
        )));
    }
    let warning = crate::base::error::hinted(report, "run `jig lock` to update the lock");
    eprint!(
        "{}",
        crate::base::error::render("jig", crate::base::error::Level::Warning, &warning)
    );
    Ok(())
}

/// In locked mode, refuses to install a version of a project tool that the lock does
/// not name, before anything is downloaded or built. (After the install,
/// [`check_lock`] compares the result with the lock as for any launch.)
pub fn check_lock_before_install(
    found: &project::Found,
    recipe: &str,
    version: &str,
) -> Result<(), LaunchError> {
    if !lock::locked_from_env() {
        return Ok(());
    }
    let Some((path, text)) = lock_text(found, recipe, true)? else {
        return Ok(());
    };
    let diff = match lock::summary(&text, &path, recipe) {
        Ok(Some(l)) if l.version == version => return Ok(()),
        Ok(Some(l)) => format!("version: locked {}, resolved {version}", l.version),
        Ok(None) => "the lock has no entry for it".to_owned(),
        Err(e) => return Err(e.into()),
    };
    Err(LaunchError::setup(format!(
        "not installing {recipe} {version} in locked mode: {}",
        lock::report(recipe, &path, &[diff])
    ))
    .hint("without JIG_LOCKED (--locked), `jig lock` in the project installs and locks what jig.toml pins"))
}
