//! The tool's environment and command: the image's variables, then the host's that a
//! native tool would get (the default pass list and the recipe's `pass` globs), then
//! the caller's identity and jig's own, then the recipe's `set`, each layer overriding
//! the one before; `PATH` the image's, with jig's shim directory last for what the tool
//! runs; argv exactly as the user typed it.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use crate::base::{glob, nest};
use crate::launch::facts::{Command, EDITOR_VARS, Facts, Target, editor_name};
use crate::runtime::spec::Exec;

/// Host variables every tool receives, as a native one would.
pub const DEFAULT_PASS: &[&str] = &[
    "TERM",
    "COLORTERM",
    "LANG",
    "LANGUAGE",
    "LC_*",
    "TZ",
    "NO_COLOR",
];

/// Variables jig sets itself; a `pass` glob never copies these from the host.
const RESERVED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PWD",
    nest::ENV_DEPTH,
    nest::ENV_HOME,
    nest::ENV_CONFIG_DIR,
    nest::ENV_WORKSPACE,
];

/// The command to execute with its environment. `vars` are what the session and the
/// binds add (`DISPLAY`, `JIG_WORKSPACE`, ...).
pub fn exec(
    target: &Target,
    facts: &Facts,
    shell: &Path,
    vars: &[(String, String)],
    cmd: Command,
) -> Exec {
    let mut env = environment(target, facts, shell, vars);
    // The command itself is searched in the image only; what it runs may also find
    // jig's shims, after every directory of the image (the image's binaries win).
    let search_path = env.get(OsStr::new("PATH")).cloned().unwrap_or_default();
    if let Some(nest) = &target.nest {
        if let Some(path) = env.get_mut(OsStr::new("PATH")) {
            path.push(":");
            path.push(&nest.shims);
        }
        // `EDITOR=/usr/bin/vim` names a host path. When the image lacks it but an
        // installed recipe has a shim of that name, the variable becomes the bare name
        // (`vim`), which the tool's PATH search finds (the image's first, then the
        // shim). Otherwise it is left alone and the tool reports it (git: "cannot run
        // /usr/bin/vim").
        for var in EDITOR_VARS {
            if let Some(value) = env.get_mut(OsStr::new(var))
                && let Some(v) = value.to_str().filter(|v| facts.editor_shims.contains(*v))
                && let Some(name) = editor_name(v)
            {
                *value = name.into();
            }
        }
    }
    let mut argv = vec![cmd.argv0];
    argv.extend(cmd.args);
    Exec {
        program: cmd.program,
        argv,
        env: env
            .into_iter()
            .map(|(k, v)| {
                let mut b = k.into_vec();
                b.push(b'=');
                b.extend_from_slice(v.as_bytes());
                OsString::from_vec(b)
            })
            .collect(),
        search_path,
    }
}

/// Image env, then passed host variables, then jig's identity variables and `vars`,
/// then the recipe's `set` values (each layer overriding the one before).
fn environment(
    target: &Target,
    facts: &Facts,
    shell: &Path,
    vars: &[(String, String)],
) -> BTreeMap<OsString, OsString> {
    let (recipe, host) = (target.recipe, &facts.host);
    let mut env: BTreeMap<OsString, OsString> = BTreeMap::new();
    for e in &target.config.env {
        if let Some((k, v)) = e.split_once('=') {
            env.insert(k.into(), v.into());
        }
    }
    env.entry("PATH".into())
        .or_insert_with(|| crate::image::store::DEFAULT_PATH.into());
    let patterns: Vec<&str> = DEFAULT_PASS
        .iter()
        .copied()
        .chain(recipe.env.pass.iter().map(|g| g.as_str()))
        .collect();
    for (k, v) in &host.env {
        let Some(name) = k.to_str() else { continue };
        if RESERVED.contains(&name) {
            continue;
        }
        if patterns.iter().any(|p| glob::matches(p, name)) {
            env.insert(k.clone(), v.clone());
        }
    }
    env.insert("HOME".into(), host.home.clone().into_os_string());
    env.insert("USER".into(), host.user.clone().into());
    env.insert("LOGNAME".into(), host.user.clone().into());
    env.insert("SHELL".into(), shell.to_owned().into_os_string());
    env.insert("PWD".into(), host.cwd.clone().into_os_string());
    env.insert(nest::ENV_DEPTH.into(), (facts.depth + 1).to_string().into());
    for (k, v) in vars {
        env.insert(k.into(), v.into());
    }
    for (k, v) in &recipe.env.set {
        env.insert(k.as_str().into(), v.into());
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::store::ImageConfig;
    use crate::launch::facts::Nest;
    use crate::launch::plan::testing::*;

    fn plan_env(target: &Target, facts: &Facts) -> (BTreeMap<String, String>, Exec) {
        let launch = crate::launch::plan::build(target, facts, cmd());
        (env_of(&launch.plan), launch.plan.exec)
    }

    #[test]
    fn environment_layers() {
        let r = recipe();
        let (env, exec) = plan_env(&target(&r, None), &facts("/home/alice", "/work/p"));
        assert_eq!(env["TERM"], "dumb-override", "recipe set wins");
        assert_eq!(env["LC_ALL"], "C.UTF-8");
        assert_eq!(env["BB_X"], "1");
        assert_eq!(env["BB_MODE"], "test");
        assert!(!env.contains_key("SECRET"));
        assert_eq!(
            env["PATH"],
            crate::image::store::DEFAULT_PATH,
            "PATH is the image's"
        );
        assert_eq!(env["HOME"], "/home/alice");
        assert_eq!(env["USER"], "alice");
        assert_eq!(env["PWD"], "/work/p");
        assert_eq!(env["JIG_DEPTH"], "1");
        assert_eq!(
            exec.search_path,
            OsString::from(crate::image::store::DEFAULT_PATH)
        );
        assert_eq!(
            exec.argv,
            vec![OsString::from("sh"), "-c".into(), "true".into()]
        );
    }

    #[test]
    fn image_path_and_variables_are_used() {
        let config = ImageConfig {
            env: vec!["PATH=/opt/x/bin:/bin".into(), "FOO=bar".into()],
            ..Default::default()
        };
        let r = recipe();
        let t = Target {
            config: &config,
            ..target(&r, None)
        };
        let mut f = facts("/h", "/w");
        f.depth = 2;
        let (env, _) = plan_env(&t, &f);
        assert_eq!(env["PATH"], "/opt/x/bin:/bin");
        assert_eq!(env["FOO"], "bar");
        assert_eq!(env["JIG_DEPTH"], "3");
    }

    fn nest() -> Nest {
        Nest {
            jig: "/opt/jig/bin/jig".into(),
            data: "/var/lib/me/jig".into(),
            shims: "/var/lib/me/jig/shims".into(),
            config: Some("/home/me/.config/jig".into()),
            pins: true,
        }
    }

    #[test]
    fn shims_come_last_on_path_and_the_command_is_searched_in_the_image_only() {
        let r = recipe();
        let (env, exec) = plan_env(&target(&r, Some(nest())), &facts("/h", "/w"));
        assert_eq!(
            env["PATH"],
            format!(
                "{}:/var/lib/me/jig/shims",
                crate::image::store::DEFAULT_PATH
            )
        );
        assert_eq!(env["JIG_HOME"], "/var/lib/me/jig");
        assert_eq!(env["JIG_CONFIG_DIR"], "/home/me/.config/jig");
        assert_eq!(
            exec.search_path,
            OsString::from(crate::image::store::DEFAULT_PATH)
        );
    }

    #[test]
    fn a_host_editor_path_becomes_the_shim_name_when_the_facts_say_so() {
        let mut r = recipe();
        r.env
            .pass
            .push(crate::recipe::EnvGlob::new("*EDITOR").unwrap());
        let mut f = facts("/h", "/w");
        f.host.env.push(("EDITOR".into(), "/usr/bin/vim".into()));
        f.host
            .env
            .push(("GIT_EDITOR".into(), "/usr/bin/nano".into()));
        f.editor_shims.insert("/usr/bin/vim".into());
        let (env, _) = plan_env(&target(&r, Some(nest())), &f);
        assert_eq!(env["EDITOR"], "vim");
        // Not in the facts (the image has it, or no shim exists): unchanged.
        assert_eq!(env["GIT_EDITOR"], "/usr/bin/nano");
        // Without nested shims nothing is rewritten.
        let (env, _) = plan_env(&target(&r, None), &f);
        assert_eq!(env["EDITOR"], "/usr/bin/vim");
    }

    #[test]
    fn editor_names_are_single_absolute_words() {
        assert_eq!(editor_name("/usr/bin/vim"), Some("vim"));
        assert_eq!(editor_name("/opt/vim/bin/vim"), Some("vim"));
        assert_eq!(editor_name("vim"), None);
        assert_eq!(editor_name("/usr/bin/vim -n"), None);
    }
}
