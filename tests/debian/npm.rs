//! npm against the real npm registry, with and without the host's npm cache.

use super::*;

/// `npm` as a command, with the harness's clean environment.
pub(super) fn npm(t: &T, args: &[&str]) -> Output {
    let mut c = t.shim_cmd("npm", args);
    c.env("NPM_CONFIG_UPDATE_NOTIFIER", "false")
        .env("NPM_CONFIG_FUND", "false")
        .env("NPM_CONFIG_AUDIT", "false");
    run(c)
}

/// `npm init -y && npm install is-number` in the project, then node loads it from there.
fn npm_install_is_number(t: &T) {
    let l = t.label();
    let out = npm(t, &["init", "-y"]);
    assert_ok(&out, &format!("{l} npm init -y"));
    let out = npm(t, &["install", "is-number"]);
    assert_ok(&out, &format!("{l} npm install is-number"));
    assert!(
        stdout(&out).contains("added 1 package"),
        "{l} {}",
        stdout(&out)
    );

    let module = t.project().join("node_modules/is-number");
    let manifest = fs::read_to_string(module.join("package.json"))
        .unwrap_or_else(|e| panic!("{l} node_modules/is-number/package.json: {e}"));
    assert!(manifest.contains("\"name\": \"is-number\""), "{l}");
    let package = fs::read_to_string(t.project().join("package.json")).unwrap();
    assert!(package.contains("\"is-number\""), "{l} {package}");
    t.assert_owned_tree(&t.project().join("node_modules"));
    t.assert_owned_tree(&t.project().join("package.json"));
    t.assert_owned_tree(&t.project().join("package-lock.json"));

    // Debian ships its own is-number (npm depends on it): resolve must name ours.
    let out = t.shim(
        "node",
        &[
            "-e",
            "console.log(require('is-number')(5)); console.log(require.resolve('is-number'))",
        ],
    );
    assert_ok(&out, &format!("{l} node -e"));
    assert_eq!(
        stdout(&out),
        format!("true\n{}/index.js\n", module.display()),
        "{l}"
    );
}

#[test]
fn npm_installs_into_the_project_with_the_host_cache() {
    for t in setups() {
        let l = t.label();
        let cache = t.home().join(".npm");
        t.env.mkdir(&cache);
        npm_install_is_number(&t);
        // The cache went to the host's ~/.npm, as the caller.
        let cacache = cache.join("_cacache");
        assert!(cacache.is_dir(), "{l} no ~/.npm/_cacache on the host");
        let n = t.assert_owned_tree(&cache);
        assert!(n > 5, "{l} ~/.npm has {n} entries");
        let left: Vec<_> = fs::read_dir(t.home())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, [".npm"], "{l} home gained entries");
    }
}

#[test]
fn npm_works_without_a_host_cache() {
    for t in setups() {
        let l = t.label();
        npm_install_is_number(&t);
        // The cache lived in the ephemeral home; nothing reached the host's.
        let left: Vec<_> = fs::read_dir(t.home()).unwrap().collect();
        assert!(left.is_empty(), "{l} home gained entries: {left:?}");
        let out = t.host_sh("test -e \"$HOME/.npm\"");
        assert_code(&out, 1, &format!("{l} ~/.npm appeared"));
    }
}
