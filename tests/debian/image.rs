//! The Debian images themselves: rebuilt only when the index moves, the same tree
//! from independent builds, the package set in the lock, apt and dpkg inside, files
//! owned by the caller, and the SBOM.

use super::*;

#[test]
fn second_install_is_up_to_date_and_keeps_the_image() {
    for t in setups() {
        let l = t.label();
        let before = t.image_id("git");
        let images_before = fs::read_dir(t.shared.jig_home().join("store/images"))
            .unwrap()
            .count();
        let install = || t.jig(&["install", "git"]);
        let mut out = install();
        assert_ok(&out, &format!("{l} jig install git again"));
        if stderr(&out).contains("bootstrapping") {
            // The mirror published a new package index since the shared build (a
            // point release): that rebuild is legitimate. The next one must not be.
            eprintln!("{l} the Debian index changed since the shared build; installing again");
            out = install();
            assert_ok(&out, &format!("{l} jig install git a third time"));
        }
        let after = t.image_id("git");
        let err = stderr(&out);
        let short = after.strip_prefix("sha256:").unwrap_or(&after)[..12].to_owned();
        // Another test of this file may be installing git in the shared home at the
        // same moment: then this one waits for it and takes what it installed.
        assert!(
            err.contains(&format!("debian:trixie image is up to date ({short})"))
                || err.contains(&format!(
                    "installed meanwhile by the other jig (image {short})"
                )),
            "{l} no up-to-date message: {err}"
        );
        // No rebuild: what proves it is the message and the unchanged image, not a
        // time, which a loaded machine stretches.
        assert!(!err.contains("bootstrapping"), "{l} rebuilt: {err}");
        let images_after = fs::read_dir(t.shared.jig_home().join("store/images"))
            .unwrap()
            .count();
        assert_eq!(images_after, images_before, "{l} a new image appeared");
        assert_eq!(before, after, "{l} the image id changed");
        // The shim still works after the reinstall.
        let out = t.git(&["--version"]);
        assert_ok(&out, &l);
        assert!(stdout(&out).starts_with("git version 2.47."), "{l}");
    }
}

/// Each identity built the git image on its own, from scratch: the trees must be
/// identical (same id), or a lock file could not promise the same image everywhere.
#[test]
fn independent_builds_give_the_same_tree_hash() {
    let ids: Vec<(String, String)> = setups()
        .iter()
        .map(|t| (t.label(), t.image_id("git")))
        .collect();
    if ids.len() < 2 {
        eprintln!("only one identity here: nothing to compare (set JIG_TEST_USER as root)");
        return;
    }
    for (label, id) in &ids[1..] {
        assert_eq!(
            id, &ids[0].1,
            "{label} built another tree than {}",
            ids[0].0
        );
    }
}

/// `jig lock` for the git image records the signed index and every package with its
/// sha256, and the image's tree hash; locking again is byte-identical.
#[test]
fn lock_records_the_debian_package_set() {
    for t in setups() {
        let l = t.label();
        t.env
            .write(&t.project().join("jig.toml"), "[tools]\ngit = \"2.47\"\n");
        let out = t.jig(&["lock"]);
        assert_ok(&out, &format!("{l} jig lock"));
        let lock = fs::read_to_string(t.project().join("jig.lock")).unwrap();
        assert!(lock.contains("source = \"debian:trixie\""), "{l}: {lock}");
        assert!(lock.contains("index = \"sha256:"), "{l}: {lock}");
        assert!(
            lock.contains(&format!("image = \"{}\"", t.image_id("git"))),
            "{l}: {lock}"
        );
        let packages = lock.matches("[[tools.git.packages]]").count();
        assert!(packages > 50, "{l}: only {packages} packages locked");
        assert!(
            lock.contains("name = \"git\"\nversion = \"1:2.47"),
            "{l}: {lock}"
        );
        let shas: Vec<&str> = lock
            .lines()
            .filter_map(|line| line.strip_prefix("sha256 = \""))
            .collect();
        assert_eq!(shas.len(), packages, "{l}");
        assert!(
            shas.iter()
                .all(|s| s.len() == 65 && s[..64].bytes().all(|b| b.is_ascii_hexdigit())),
            "{l}"
        );
        let out = t.jig(&["lock"]);
        assert_ok(&out, &format!("{l} jig lock again"));
        assert!(stderr(&out).contains("up to date"), "{l}: {}", stderr(&out));
        assert_eq!(
            fs::read_to_string(t.project().join("jig.lock")).unwrap(),
            lock
        );
        // Another JIG_HOME (another machine) builds git from the lock, from scratch:
        // the same package set and the same tree.
        let other = t.env.dir().join("second-jig-home");
        // `jig install` without arguments installs what jig.toml pins.
        let mut c = t.jig_cmd(&["--locked", "install"]);
        c.env("JIG_HOME", &other);
        assert_ok(&run(c), &format!("{l} locked install in a second home"));
        let mut c = t.jig_cmd(&["which", "git"]);
        c.env("JIG_HOME", &other);
        let which = stdout(&run(c));
        assert!(
            which.contains(&t.image_id("git")),
            "{l} second home: {which}"
        );
        let mut c = t.jig_cmd(&["lock"]);
        c.env("JIG_HOME", &other);
        assert_ok(&run(c), &format!("{l} lock in the second home"));
        assert_eq!(
            fs::read_to_string(t.project().join("jig.lock")).unwrap(),
            lock
        );
        // The pinned shim agrees with the lock, even in locked mode.
        let mut c = t.shim_cmd("git", &["--version"]);
        c.env("JIG_LOCKED", "1");
        let out = run(c);
        assert_ok(&out, &format!("{l} locked git"));
        assert!(stderr(&out).is_empty(), "{l}: {}", stderr(&out));
    }
}

#[test]
fn apt_and_dpkg_work_in_the_image() {
    for t in setups() {
        let l = t.label();
        let out = t.jig(&["exec", "git", "--", "sh", "-c", "dpkg --audit; dpkg -l git"]);
        assert_ok(&out, &format!("{l} dpkg --audit; dpkg -l git"));
        let text = stdout(&out);
        let row = text
            .lines()
            .find(|r| r.split_whitespace().nth(1) == Some("git"))
            .unwrap_or_else(|| panic!("{l} no git row in dpkg -l: {text}"));
        assert!(row.starts_with("ii "), "{l} git is not installed: {row}");
        assert!(
            text.lines()
                .next()
                .unwrap_or_default()
                .starts_with("Desired="),
            "{l} dpkg --audit printed something: {text}"
        );

        let out = t.jig(&["exec", "git", "--", "apt-get", "check"]);
        assert_ok(&out, &format!("{l} apt-get check"));
        assert!(
            stdout(&out).contains("Reading package lists"),
            "{l} {}",
            stdout(&out)
        );

        // dpkg knows every file of git, and the binary the shim runs is one of them.
        let out = t.jig(&["exec", "git", "--", "dpkg", "-S", "/usr/bin/git"]);
        assert_ok(&out, &format!("{l} dpkg -S"));
        assert_eq!(stdout(&out), "git: /usr/bin/git\n", "{l}");

        // A package that is not installed is reported as such (exit 1).
        let out = t.jig(&["exec", "git", "--", "dpkg", "-s", "nodejs"]);
        assert_code(&out, 1, &format!("{l} dpkg -s nodejs in the git image"));
    }
}

#[test]
fn tools_write_files_as_the_caller_and_tmp_does_not_persist() {
    for t in setups() {
        let l = t.label();
        let marker = format!("jig-dtests-{}-{}", std::process::id(), t.env.who.uid);
        let script = format!(
            "echo inside > made-inside && mkdir -p sub/dir && touch sub/dir/f && \
             echo x > /tmp/{marker} && cat /tmp/{marker} && echo y > /etc/{marker}"
        );
        let out = t.jig(&["exec", "git", "--", "sh", "-c", &script]);
        assert_ok(&out, &format!("{l} writing inside"));
        assert_eq!(stdout(&out), "x\n", "{l}");
        let n = t.assert_owned_tree(&t.project());
        assert_eq!(n, 5, "{l} project, made-inside, sub, sub/dir, sub/dir/f");
        assert_eq!(
            fs::read_to_string(t.project().join("made-inside")).unwrap(),
            "inside\n"
        );

        // Gone at the next launch, and never on the host.
        let out = t.jig(&[
            "exec",
            "git",
            "--",
            "sh",
            "-c",
            &format!("test -e /tmp/{marker} || test -e /etc/{marker}"),
        ]);
        assert_code(&out, 1, &format!("{l} /tmp write survived the launch"));
        assert!(
            !Path::new("/tmp").join(&marker).exists(),
            "{l} /tmp write reached the host"
        );
        let rootfs = PathBuf::from(t.image_id("git").replace("sha256:", ""));
        let image = t.shared.jig_home().join("store/images").join(rootfs);
        assert!(image.join("rootfs/usr/bin/git").exists(), "{l} image path");
        assert!(
            !image.join("rootfs/etc").join(&marker).exists(),
            "{l} the write reached the stored image"
        );
    }
}

/// `jig sbom git` of the real image: every package dpkg installed, with the `.deb`'s
/// sha256 from the bootstrap and licenses from the copyright files, valid against the
/// official schemas in both formats, and the same document twice for one time.
#[test]
fn sbom_of_the_git_image_lists_every_debian_package_and_validates() {
    for t in setups() {
        let l = t.label();
        let dir = t.env.dir().join("sbom");
        t.env.mkdir(&dir);
        let sbom = |format: &str| {
            let mut c = t.jig_cmd(&["sbom", "git", "--format", format]);
            c.env("SOURCE_DATE_EPOCH", "1700000000");
            let out = run(c);
            assert_ok(&out, &format!("{l} jig sbom git --format {format}"));
            out.stdout
        };
        let dpkg = t.jig(&[
            "exec",
            "git",
            "--",
            "dpkg-query",
            "-W",
            "-f",
            "${Package} ${Version}\\n",
        ]);
        assert_ok(&dpkg, &format!("{l} dpkg-query"));
        let packages: Vec<String> = stdout(&dpkg).lines().map(str::to_owned).collect();
        assert!(packages.len() > 100, "{l}: {packages:?}");

        let spdx = sbom("spdx-json");
        assert_eq!(spdx, sbom("spdx-json"), "{l} the document changed");
        let path = dir.join("git.spdx.json");
        fs::write(&path, &spdx).unwrap();
        common::sbom::assert_valid("spdx", &path);
        let doc: serde_json::Value = serde_json::from_slice(&spdx).unwrap();
        let listed = &doc["packages"].as_array().unwrap()[1..];
        let mut names: Vec<String> = listed
            .iter()
            .map(|p| {
                format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["versionInfo"].as_str().unwrap()
                )
            })
            .collect();
        let mut want = packages.clone();
        names.sort();
        want.sort();
        assert_eq!(
            names, want,
            "{l}: the SBOM lists what dpkg says is installed"
        );
        let git = listed
            .iter()
            .find(|p| p["name"] == "git")
            .expect("git listed");
        let sum = &git["checksums"][0];
        assert_eq!(sum["algorithm"], "SHA256", "{l}: {git}");
        assert_eq!(
            sum["checksumValue"].as_str().unwrap().len(),
            64,
            "{l}: {git}"
        );
        assert!(
            git["sourceInfo"].as_str().unwrap().contains("git"),
            "{l}: {git}"
        );
        let licensed = listed
            .iter()
            .filter(|p| p["licenseDeclared"] != "NOASSERTION")
            .count();
        assert!(licensed > 20, "{l}: only {licensed} licenses read");
        let with_sums = listed.iter().filter(|p| p["checksums"].is_array()).count();
        assert_eq!(with_sums, listed.len(), "{l}: every .deb has its sha256");

        let cdx = sbom("cyclonedx-json");
        let path = dir.join("git.cdx.json");
        fs::write(&path, &cdx).unwrap();
        common::sbom::assert_valid("cyclonedx", &path);
        let doc: serde_json::Value = serde_json::from_slice(&cdx).unwrap();
        let components = doc["components"].as_array().unwrap();
        assert_eq!(components.len(), packages.len(), "{l}");
        let git = components.iter().find(|c| c["name"] == "git").unwrap();
        assert!(
            git["purl"]
                .as_str()
                .unwrap()
                .starts_with("pkg:deb/debian/git@"),
            "{l}: {git}"
        );
        assert_eq!(git["hashes"][0]["alg"], "SHA-256", "{l}: {git}");

        // Not installed at that version: the usage status, the versions it has.
        let out = t.jig(&["sbom", "git@9"]);
        assert_code(&out, 2, &l);
        assert!(
            stderr(&out).contains("is not installed (installed: ") && stderr(&out).contains("2.47"),
            "{l}: {}",
            stderr(&out)
        );
    }
}
