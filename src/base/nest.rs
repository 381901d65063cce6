//! How jig launches nest, and the `JIG_*` variables that carry state from one jig
//! process to the next (a shim called inside a container, a child `jig install`).

/// Deepest nesting of shims calling shims before jig assumes a loop.
pub const MAX_DEPTH: u32 = 8;

/// How many jig launches enclose this process (set for the tool by each launch).
pub const ENV_DEPTH: &str = "JIG_DEPTH";
/// jig's data directory (installed index, shims, store).
pub const ENV_HOME: &str = "JIG_HOME";
/// The directory of `config.toml` and the global `jig.toml`.
pub const ENV_CONFIG_DIR: &str = "JIG_CONFIG_DIR";
/// The enclosing launch's workspace root, so a nested launch mounts the same one.
pub const ENV_WORKSPACE: &str = "JIG_WORKSPACE";
/// `1`: approve installs without asking (as `--yes`).
pub const ENV_YES: &str = "JIG_YES";
/// `1`: locked mode (as `--locked`): only what `jig.lock` names.
pub const ENV_LOCKED: &str = "JIG_LOCKED";
/// `1`: never install on first use; say what to install instead.
pub const ENV_NO_LAZY: &str = "JIG_NO_LAZY";
/// `1`: print each launch plan.
pub const ENV_DEBUG: &str = "JIG_DEBUG";

/// The recursion depth recorded by an enclosing jig launch (0 outside any).
pub fn depth() -> u32 {
    std::env::var(ENV_DEPTH)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(0)
}

/// Whether the flag variable `name` is on: set, non-empty and not `0`.
pub fn flag(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0")
}
