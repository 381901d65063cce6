//! `jig sbom` reads files of an image on the host, as the user: the image's dpkg
//! status and its packages' copyright files. An image whose files are symlinks to
//! host files (absolute, or climbing with `..`) must not get them read into the
//! document: every path is resolved inside the image.

use std::fs;
use std::os::unix::fs::symlink;

use crate::common::*;

/// The machine-readable copyright file of a package under `license`.
fn copyright(license: &str) -> String {
    format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n\
         Files: *\nCopyright: 2024 someone\nLicense: {license}\n"
    )
}

#[test]
fn a_hostile_image_cannot_make_jig_sbom_read_host_files() {
    let dir = shared_tempdir("sbom-");
    // A host file the image names; readable by every identity, so only the wall keeps
    // it out of the document.
    let secret = dir.path().join("host-copyright");
    fs::write(&secret, copyright("Sleepycat")).unwrap();
    let root = dir.path().join("rootfs");
    build_busybox_rootfs(&root);
    let status: String = ["fine", "leak", "climb"]
        .iter()
        .map(|p| {
            format!(
                "Package: {p}\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n\n"
            )
        })
        .collect();
    fs::create_dir_all(root.join("var/lib/dpkg")).unwrap();
    fs::write(root.join("var/lib/dpkg/status"), status).unwrap();
    let doc = root.join("usr/share/doc");
    for p in ["fine", "leak", "climb"] {
        fs::create_dir_all(doc.join(p)).unwrap();
    }
    // The positive control: a copyright file of the image's own.
    fs::write(doc.join("fine/copyright"), copyright("MIT")).unwrap();
    // An absolute symlink to the host file, and one climbing out of the image to it.
    symlink(&secret, doc.join("leak/copyright")).unwrap();
    let climb = format!("../../../../../../../../..{}", secret.display());
    symlink(&climb, doc.join("climb/copyright")).unwrap();
    let _ = std::process::Command::new("chmod")
        .arg("-R")
        .arg("a+rX")
        .arg(dir.path())
        .status();

    for env in Env::all() {
        let l = env.label();
        let recipe = env.dir().join("hostile.toml");
        env.write(
            &recipe,
            format!(
                "name = \"hostile\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:{}\"\n\
                 [tool]\nshims = [\"sh\"]\n",
                root.display()
            ),
        );
        assert_ok(&env.jig(&["install", recipe.to_str().unwrap()]), &l);
        // The stored image keeps its links: the attack reaches jig sbom.
        let stored = env.image_rootfs().join("usr/share/doc");
        assert_eq!(
            fs::read_link(stored.join("leak/copyright")).unwrap(),
            secret,
            "{l}"
        );
        assert_eq!(
            fs::read_link(stored.join("climb/copyright")).unwrap(),
            std::path::Path::new(&climb),
            "{l}"
        );
        for format in ["spdx-json", "cyclonedx-json"] {
            let out = env.jig(&["sbom", "hostile", "--format", format]);
            assert_ok(&out, &format!("{l} {format}"));
            let text = stdout(&out);
            assert!(
                !text.contains("Sleepycat"),
                "{l} {format}: a host file was read:\n{text}"
            );
            let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
            let license = |name: &str| match format {
                "spdx-json" => doc["packages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == name)
                    .map(|p| p["licenseDeclared"].to_string()),
                _ => doc["components"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|c| c["name"] == name)
                    .map(|c| c["licenses"].to_string()),
            };
            let fine = license("fine").expect("fine listed");
            assert!(
                fine.contains("MIT"),
                "{l} {format}: the image's own file: {fine}"
            );
            for hostile in ["leak", "climb"] {
                let got = license(hostile).expect("listed");
                assert!(!got.contains("MIT"), "{l} {format} {hostile}: {got}");
            }
        }
    }
}
