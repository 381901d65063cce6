//! The npm corpus, offline: a package (`project/app`, the workspace, by its
//! `package.json`) with scripts and a bin, a dependency in its own tree
//! (`packages/util`), one as a tarball (`vendor/greet-2.0.0.tgz`, unpacked) and
//! one outside the workspace (`$D/lib`). `npm`, `node` and `npx` are the host's
//! `/usr/bin` ones on one side and jig's shims on the other. npm reports how long an
//! install took (`added 1 package in 312ms`): the cases that print it mask the time,
//! the one thing compared otherwise than byte for byte.

use std::path::Path;

use super::common::Env;
use super::{Case, differs, same};

fn host_has_etc_npmrc() -> bool {
    Path::new("/etc/npmrc").exists()
}

/// `npm install`'s closing line (`added 1 package in 312ms`) with the time masked.
macro_rules! timed {
    ($cmd:literal) => {
        concat!(
            "{ ",
            $cmd,
            "; } 2>&1 | sed -E 's/ in [0-9.]+m?s$/ in TIME/'"
        )
    };
}

/// The corpus.
pub const CASES: &[Case] = &[
    same(
        "versions",
        "npm --version && node --version && npx --version",
    ),
    same(
        "where things are",
        "npm config get prefix && npm config get cache && npm config get globalconfig && npm root -g && npm prefix && npm root && npm bin 2>&1",
    ),
    differs(
        "config list",
        "npm config list",
        "README.md: the host's /etc/npmrc is a system file jig does not mount",
    )
    .when(host_has_etc_npmrc),
    same(
        "install tarball",
        timed!("npm install ./vendor/greet-2.0.0.tgz"),
    ),
    same("install linked", timed!("npm install ./packages/util")),
    same(
        "install from lock",
        timed!("npm install ./vendor/greet-2.0.0.tgz >/dev/null && rm -rf node_modules && npm ci"),
    ),
    same(
        "install outside the workspace",
        timed!("npm install \"$D/lib\" && npm ls --all"),
    ),
    // npm 9 packs a directory it installs (install-links) rather than linking it.
    same(
        "require outside the workspace",
        "npm install -s \"$D/lib\" && node -p \"require('lib/package.json').version\"",
    ),
    same(
        "ls",
        "npm install -s ./vendor/greet-2.0.0.tgz ./packages/util && npm ls && npm ls --all && npm ls --parseable && npm ls --json",
    ),
    same(
        "explain",
        "npm install -s ./packages/util && npm explain util",
    ),
    same("run", "npm run && npm run build && npm run env"),
    same("run fails", "npm run fail; echo status $?"),
    same("run missing", "npm run nope --logs-max=0; echo status $?"),
    same("test", "npm test && npm t"),
    same(
        "pack",
        "npm pack --dry-run && npm pack && tar tzf app-1.0.0.tgz && sha256sum app-1.0.0.tgz",
    ),
    same(
        "npx bin",
        "npm install -s ./packages/util && npx util-say hello && npx -c 'echo $npm_package_name $npm_package_version'",
    ),
    same(
        "exec",
        "npm install -s ./packages/util && npm exec -- util-say from exec && npm exec -c 'node -e \"console.log(1 + 1)\"'",
    ),
    same(
        "init",
        "mkdir fresh && cd fresh && npm init -y && cat package.json",
    ),
    same(
        "version",
        "npm version patch --no-git-tag-version && npm pkg get version",
    ),
    same(
        "pkg",
        "npm pkg set description='changed' && npm pkg get description name && npm pkg delete description && cat package.json",
    ),
    same(
        "uninstall",
        timed!("npm install -s ./packages/util && npm uninstall util && npm ls"),
    ),
    same(
        "config project",
        "npm config set fund=false --location=project && cat .npmrc && npm config get fund && npm config delete fund --location=project && cat .npmrc",
    ),
    same(
        "config user",
        "npm config set init-author-name=Parity --location=user; echo status $?; npm config get init-author-name; cat ~/.npmrc",
    ),
    same(
        "node identity",
        "node -e \"const os = require('os'); console.log(process.cwd(), os.homedir(), os.userInfo().username, process.env.HOME)\"",
    ),
    same(
        "node TZ",
        "TZ=America/New_York node -e \"console.log(new Date(0).toString(), Intl.DateTimeFormat().resolvedOptions().timeZone)\"",
    ),
    same(
        "node errors",
        "node -e 'process.exitCode = 4; console.error(\"failing\")'; echo status $?; node nope.js; echo status $?",
    ),
];

/// The packages of the corpus below `dir`, owned by `env`'s user, and an `~/.npm`.
pub fn make_packages(env: &Env, dir: &Path) {
    let app = dir.join("project/app");
    let files: &[(&str, &str)] = &[
        (
            "project/app/package.json",
            r#"{
  "name": "app",
  "version": "1.0.0",
  "description": "parity app",
  "main": "index.js",
  "scripts": {
    "build": "echo building $npm_package_name@$npm_package_version",
    "env": "echo $npm_lifecycle_event $npm_package_name",
    "test": "node test.js",
    "fail": "exit 3"
  },
  "license": "MIT"
}
"#,
        ),
        ("project/app/index.js", "module.exports = 'app';\n"),
        ("project/app/test.js", "console.log('tests ok');\n"),
        (
            "project/app/packages/util/package.json",
            "{\n  \"name\": \"util\",\n  \"version\": \"0.1.0\",\n  \"bin\": { \"util-say\": \"say.js\" }\n}\n",
        ),
        (
            "project/app/packages/util/say.js",
            "#!/usr/bin/env node\nconsole.log('util says', process.argv.slice(2).join(' '));\n",
        ),
        (
            "vendor-src/package/package.json",
            "{\n  \"name\": \"greet\",\n  \"version\": \"2.0.0\",\n  \"main\": \"index.js\"\n}\n",
        ),
        ("vendor-src/package/index.js", "module.exports = 'hi';\n"),
        (
            "lib/package.json",
            "{\n  \"name\": \"lib\",\n  \"version\": \"3.0.0\"\n}\n",
        ),
    ];
    for (path, text) in files {
        let p = dir.join(path);
        let mut parents = Vec::new();
        let mut d = p.parent();
        while let Some(x) = d.filter(|x| !x.exists()) {
            parents.push(x.to_owned());
            d = x.parent();
        }
        for x in parents.iter().rev() {
            env.mkdir(x);
        }
        env.write(&p, text);
    }
    std::fs::set_permissions(
        app.join("packages/util/say.js"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    env.mkdir(&app.join("vendor"));
    env.mkdir(&env.home().join(".npm"));
    let mut c = env.command("/bin/tar");
    c.args(["--mtime=@1700000000", "--owner=0", "--group=0", "-czf"])
        .arg(app.join("vendor/greet-2.0.0.tgz"))
        .arg("-C")
        .arg(dir.join("vendor-src"))
        .arg("package");
    super::common::assert_ok(&super::common::run(c), "tar the greet package");
}
