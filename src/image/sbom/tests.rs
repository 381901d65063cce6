//! SBOMs of fixture images: their content, and their validity against the official
//! SPDX 2.3 and CycloneDX 1.5 JSON schemas vendored in `tests/sbom-schemas/` (checked
//! by Debian's python3-jsonschema, which script/deps installs).

use super::dpkg::Distro;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::*;

const CREATED: u64 = 1_700_000_000;
const ZLIB_SHA: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const FOO_SHA: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const BASE_FILES_SHA: &str = "3333333333333333333333333333333333333333333333333333333333333333";

const DEP5: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n";

const STATUS: &str = "\
Package: zlib1g
Status: install ok installed
Priority: optional
Architecture: amd64
Multi-Arch: same
Source: zlib
Version: 1:1.2.13.dfsg-1
Description: compression library - runtime
 zlib is a library implementing the deflate compression method.

Package: libfoo1
Status: install ok installed
Architecture: amd64
Source: foo (1.2-3)
Version: 1.2-3+b1

Package: base-files
Essential: yes
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5

Package: libc6
Status: install ok installed
Architecture: amd64
Source: glibc
Version: 2.36-9+deb12u4

Package: evil
Status: install ok installed
Architecture: all
Version: 1.0

Package: sneaky
Status: install ok installed
Architecture: amd64
Version: 2.0

Package: climber
Status: install ok installed
Architecture: amd64
Version: 3.0

Package: pipe
Status: install ok installed
Architecture: amd64
Version: 1.0

Package: huge
Status: install ok installed
Architecture: amd64
Version: 1.0

Package: oldpkg
Status: deinstall ok config-files
Architecture: amd64
Version: 0.9

\u{0}\u{ff}garbage: \u{7}
 Package: not-a-field
";

/// A Debian-like root filesystem with hostile entries, and a host file next to it that
/// a symlink escaping the root would find.
fn fixture_rootfs(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    let w = |path: &str, text: &str| {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    };
    w("var/lib/dpkg/status", STATUS);
    w(
        "usr/lib/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_CODENAME=bookworm\n",
    );
    fs::create_dir(root.join("etc")).unwrap();
    symlink("../usr/lib/os-release", root.join("etc/os-release")).unwrap();
    w(
        "usr/share/doc/zlib1g/copyright",
        &format!(
            "{DEP5}Upstream-Name: zlib\n\nFiles: *\nCopyright: 1995-2013 Jean-loup Gailly and Mark Adler\nLicense: Zlib\n"
        ),
    );
    // libfoo1's documentation is foo-common's, through a relative symlink.
    w(
        "usr/share/doc/foo-common/copyright",
        &format!(
            "{DEP5}Upstream-Name: foo\nSource: https://example.org/foo\n\n\
             Files: *\nCopyright: 2020 Foo Authors\nLicense: GPL-2+ or Artistic-2.0, and BSD-3-clause\n\n\
             Files: debian/*\nCopyright: 2021 A Maintainer\nLicense: GPL-2+\n\n\
             Files: data/*\nCopyright: none\nLicense: public-domain\n\n\
             License: GPL-2+\n This program is free software.\n .\n On Debian systems...\n\n\
             License: public-domain\n The author disclaims copyright.\n"
        ),
    );
    symlink("foo-common", root.join("usr/share/doc/libfoo1")).unwrap();
    w(
        "usr/share/doc/base-files/copyright",
        "This is the Debian prepackaged version of the Debian Base System\n\
         Miscellaneous files.\n\nLicense: GPL-2+\n",
    );
    w(
        "usr/share/doc/libc6/copyright",
        &format!(
            "{DEP5}\nFiles: *\nCopyright: FSF\nLicense: LGPL-2.1+\n\n\
             Files: sunrpc/*\nCopyright: Oracle\nLicense: BSD-3-clause\n\n\
             Files: debian/*\nCopyright: Debian\nLicense: Expat\n"
        ),
    );
    // Hostile copyright files: links to host files, a FIFO, an oversized file.
    let host = dir.join("host");
    fs::create_dir_all(&host).unwrap();
    fs::write(
        host.join("copyright"),
        format!("{DEP5}\nFiles: *\nCopyright: host\nLicense: MIT\n"),
    )
    .unwrap();
    fs::create_dir_all(root.join("usr/share/doc/evil")).unwrap();
    symlink("/etc/shadow", root.join("usr/share/doc/evil/copyright")).unwrap();
    fs::create_dir_all(root.join("usr/share/doc/sneaky")).unwrap();
    symlink(
        host.join("copyright"),
        root.join("usr/share/doc/sneaky/copyright"),
    )
    .unwrap();
    let up = format!("{}{}", "../".repeat(32), host.join("copyright").display());
    fs::create_dir_all(root.join("usr/share/doc/climber")).unwrap();
    symlink(up, root.join("usr/share/doc/climber/copyright")).unwrap();
    fs::create_dir_all(root.join("usr/share/doc/pipe")).unwrap();
    nix::unistd::mkfifo(
        &root.join("usr/share/doc/pipe/copyright"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    w("usr/share/doc/huge/copyright", DEP5);
    let huge = fs::OpenOptions::new()
        .append(true)
        .open(root.join("usr/share/doc/huge/copyright"))
        .unwrap();
    huge.set_len(COPYRIGHT_CAP + 1).unwrap();
    root
}

fn debian_subject() -> Subject {
    let pin = |name: &str, version: &str, sha256: &str| Pin {
        name: name.into(),
        version: version.into(),
        sha256: sha256.into(),
    };
    Subject {
        name: "hello".into(),
        version: "2.10".into(),
        image_id: format!("sha256:{}", "ab".repeat(32)),
        source: "debian:bookworm (http://deb.debian.org/debian)".into(),
        source_digest: Some(format!("sha256:{}", "cd".repeat(32))),
        packages: vec![
            pin("zlib1g", "1:1.2.13.dfsg-1", ZLIB_SHA),
            pin("libfoo1", "1.2-3+b1", &FOO_SHA.to_ascii_uppercase()),
            pin("base-files", "12.4+deb12u5", BASE_FILES_SHA),
            pin("libc6", "2.36-9+deb12u3", ZLIB_SHA),
            pin("evil", "1.0", "not hex"),
        ],
        oci: None,
    }
}

fn oci_subject() -> Subject {
    let digest = |c: &str| format!("sha256:{}", c.repeat(64));
    Subject {
        name: "rg".into(),
        version: "14.1.0".into(),
        image_id: "ef".repeat(32),
        source: "oci:docker.io/library/debian:bookworm-slim".into(),
        source_digest: Some(digest("a")),
        packages: Vec::new(),
        oci: Some(Oci {
            reference: "docker.io/library/debian:bookworm-slim".into(),
            manifest_digest: digest("a"),
            // The same blob twice is legal in a manifest.
            layers: vec![digest("b"), digest("c"), digest("b")],
        }),
    }
}

fn fixtures_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("sbom-fixtures");
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

#[test]
fn sbom_inventory_of_the_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture_rootfs(tmp.path());
    let inv = inventory(&root, &debian_subject()).unwrap();
    let names: Vec<_> = inv.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "base-files",
            "climber",
            "evil",
            "huge",
            "libc6",
            "libfoo1",
            "pipe",
            "sneaky",
            "zlib1g"
        ]
    );
    let get = |n: &str| inv.packages.iter().find(|p| p.name == n).unwrap();
    let license = |n: &str| get(n).license.as_ref().map(|l| l.expression.as_str());

    assert_eq!(license("zlib1g"), Some("Zlib"));
    assert_eq!(
        license("libfoo1"),
        Some(
            "(GPL-2.0-or-later OR Artistic-2.0) AND BSD-3-Clause AND GPL-2.0-or-later AND LicenseRef-public-domain"
        )
    );
    assert_eq!(
        license("libc6"),
        Some("BSD-3-Clause AND LGPL-2.1-or-later AND MIT")
    );
    // Not DEP-5; and none of the hostile files gives a license (the host file would: MIT).
    for n in ["base-files", "evil", "sneaky", "climber", "pipe", "huge"] {
        assert_eq!(license(n), None, "{n}");
    }

    let foo = get("libfoo1");
    assert_eq!(
        (foo.source.as_str(), foo.source_version.as_str()),
        ("foo", "1.2-3")
    );
    assert_eq!(foo.sha256.as_deref(), Some(FOO_SHA));
    assert_eq!(get("zlib1g").sha256.as_deref(), Some(ZLIB_SHA));
    assert_eq!(get("zlib1g").source, "zlib");
    // Pinned at another version, or with a malformed digest: no checksum.
    assert_eq!(get("libc6").sha256, None);
    assert_eq!(get("evil").sha256, None);
    assert_eq!(get("evil").arch.as_deref(), Some("all"));
    assert_eq!(
        inv.distro,
        Distro {
            namespace: "debian".into(),
            codename: Some("bookworm".into())
        }
    );
}

#[test]
fn sbom_documents_carry_the_facts() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture_rootfs(tmp.path());
    let subject = debian_subject();
    let spdx = json(&generate(&subject, &root, Format::SpdxJson, CREATED).unwrap());
    assert_eq!(spdx["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    let pkgs = spdx["packages"].as_array().unwrap();
    assert_eq!(pkgs[0]["name"], "hello");
    assert_eq!(pkgs[0]["versionInfo"], "2.10");
    let foo = pkgs.iter().find(|p| p["name"] == "libfoo1").unwrap();
    assert_eq!(
        foo["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/libfoo1@1.2-3%2Bb1?arch=amd64&distro=bookworm"
    );
    assert_eq!(foo["checksums"][0]["checksumValue"], FOO_SHA);
    assert_eq!(
        foo["sourceInfo"],
        "built from Debian source package foo 1.2-3"
    );
    assert_eq!(foo["licenseConcluded"], "NOASSERTION");
    let evil = pkgs.iter().find(|p| p["name"] == "evil").unwrap();
    assert_eq!(evil["licenseDeclared"], "NOASSERTION");
    assert_eq!(
        spdx["hasExtractedLicensingInfos"][0]["licenseId"],
        "LicenseRef-public-domain"
    );
    let contains = spdx["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS")
        .count();
    assert_eq!(contains, 9);

    let cdx = json(&generate(&subject, &root, Format::CycloneDxJson, CREATED).unwrap());
    assert_eq!(cdx["metadata"]["component"]["name"], "hello");
    let zlib = cdx["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "zlib1g")
        .unwrap();
    assert_eq!(
        zlib["purl"],
        "pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64&distro=bookworm"
    );
    assert_eq!(zlib["hashes"][0]["content"], ZLIB_SHA);
    assert_eq!(zlib["licenses"][0]["expression"], "Zlib");

    // Reproducible, and a new time is a new document.
    let again = generate(&subject, &root, Format::CycloneDxJson, CREATED).unwrap();
    assert_eq!(json(&again), cdx);
    let later = json(&generate(&subject, &root, Format::CycloneDxJson, CREATED + 1).unwrap());
    assert_ne!(later["serialNumber"], cdx["serialNumber"]);

    let oci = oci_subject();
    let cdx = json(&generate(&oci, &root, Format::CycloneDxJson, CREATED).unwrap());
    let base = &cdx["components"][0];
    assert_eq!(base["type"], "container");
    assert_eq!(base["version"], "bookworm-slim");
    assert_eq!(base["components"].as_array().unwrap().len(), 3);
    let spdx = json(&generate(&oci, &root, Format::SpdxJson, CREATED).unwrap());
    assert_eq!(
        spdx["packages"][1]["checksums"][0]["checksumValue"],
        "a".repeat(64)
    );
    assert_eq!(spdx["packages"][2]["primaryPackagePurpose"], "ARCHIVE");
}

/// The interpreter that sees Debian's python3-jsonschema.
fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn validate(kind: &str, file: &Path) -> (Option<i32>, String) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sbom-schemas/validate.py");
    let out = Command::new(python())
        .arg(script)
        .arg(kind)
        .arg(file)
        .output()
        .expect("run python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// `doc` with `change` applied, written as `name` for the validator.
fn broken(dir: &Path, name: &str, doc: &Value, change: impl Fn(&mut Value)) -> PathBuf {
    let mut doc = doc.clone();
    change(&mut doc);
    let path = dir.join(name);
    fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    path
}

#[test]
fn sbom_documents_validate_against_the_official_schemas() {
    let probe = Command::new(python())
        .args(["-c", "import jsonschema"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        panic!(
            "{} cannot import jsonschema: run script/deps (it installs Debian's python3-jsonschema)",
            python()
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture_rootfs(tmp.path());
    let empty = tmp.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let dir = fixtures_dir();
    let mut alpine = oci_subject();
    alpine.oci.as_mut().unwrap().reference = "docker.io/library/alpine@sha256:x".into();
    let cases = [
        ("debian", debian_subject(), &root),
        ("oci", oci_subject(), &root),
        ("oci-no-dpkg", alpine, &empty),
    ];
    let mut docs = Vec::new();
    for (name, subject, rootfs) in &cases {
        for (format, kind) in [
            (Format::SpdxJson, "spdx"),
            (Format::CycloneDxJson, "cyclonedx"),
        ] {
            let text = generate(subject, rootfs, format, CREATED).unwrap();
            let path = dir.join(format!("{name}.{kind}.json"));
            fs::write(&path, &text).unwrap();
            let (code, out) = validate(kind, &path);
            assert_eq!(
                code,
                Some(0),
                "{} is not valid {kind}:\n{out}",
                path.display()
            );
            docs.push((kind, json(&text)));
        }
    }

    // Negative controls: each broken document must fail, for the reason broken in.
    let (spdx, cdx) = (&docs[0].1, &docs[1].1);
    let oci_cdx = &docs[3].1;
    let controls = [
        (
            "spdx",
            broken(&dir, "broken-no-version.spdx.json", spdx, |d| {
                d.as_object_mut().unwrap().remove("spdxVersion");
            }),
            "'spdxVersion' is a required property",
        ),
        (
            "spdx",
            broken(&dir, "broken-checksum.spdx.json", spdx, |d| {
                d["packages"][1]["checksums"] =
                    json(r#"[{"algorithm": "SHA257", "checksumValue": "00"}]"#);
            }),
            "'SHA257' is not one of",
        ),
        (
            "cyclonedx",
            broken(&dir, "broken-no-format.cyclonedx.json", cdx, |d| {
                d.as_object_mut().unwrap().remove("bomFormat");
            }),
            "'bomFormat' is a required property",
        ),
        (
            // Checked by the vendored spdx.schema.json, through a $ref.
            "cyclonedx",
            broken(&dir, "broken-license-id.cyclonedx.json", cdx, |d| {
                d["components"][0]["licenses"] = json(r#"[{"license": {"id": "Not-An-SPDX-Id"}}]"#);
            }),
            "Not-An-SPDX-Id",
        ),
        (
            "cyclonedx",
            broken(&dir, "broken-layer.cyclonedx.json", oci_cdx, |d| {
                d["components"][0]["components"][0]["hashes"][0]["content"] = "xyz".into();
            }),
            "'xyz' does not match",
        ),
    ];
    for (kind, path, reason) in &controls {
        let (code, out) = validate(kind, path);
        assert_eq!(
            code,
            Some(3),
            "{} should be invalid {kind}:\n{out}",
            path.display()
        );
        assert!(
            out.contains(reason),
            "{}: expected {reason:?} in:\n{out}",
            path.display()
        );
    }
}
