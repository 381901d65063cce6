//! The SBOM of a registry image: its manifest, layers and Debian packages.

use super::*;

/// A layer that makes the test image look Debian-based: a dpkg status file with one
/// package and its machine-readable copyright file.
fn dpkg_layer() -> Layer {
    let status = "Package: hello\nStatus: install ok installed\nArchitecture: amd64\n\
                  Version: 2.10-3\nDescription: greets\n";
    let copyright = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
                     Upstream-Name: hello\n\nFiles: *\nCopyright: 2024 someone\nLicense: MIT\n";
    Layer::new(
        Tar::new()
            .dir("var/")
            .dir("var/lib/")
            .dir("var/lib/dpkg/")
            .file("var/lib/dpkg/status", status.as_bytes())
            .dir("usr/")
            .dir("usr/share/")
            .dir("usr/share/doc/")
            .dir("usr/share/doc/hello/")
            .file("usr/share/doc/hello/copyright", copyright.as_bytes())
            .finish(),
        Comp::Gzip,
    )
}

/// `jig sbom` of a tool installed from a registry image: the image's manifest digest
/// and every layer's digest (recorded when it was pulled), the Debian package its
/// layers installed, valid against the official schemas in both formats.
#[test]
fn sbom_of_a_registry_image_names_its_manifest_and_layers_and_validates() {
    let reg = Registry::start();
    let mut layers = layered_image();
    layers.push(dpkg_layer());
    let digests: Vec<String> = layers.iter().map(Layer::digest).collect();
    let manifest = reg.push_simple("deb", "12", &layers);
    let env = Env::new();
    let recipe = env.recipe("deb", &format!("oci:{}/deb:12", reg.host()));
    env.ok(&["install", recipe.to_str().unwrap()]);
    let sbom = |format: &str| {
        let out = env
            .cmd(JIG)
            .args(["sbom", "deb", "--format", format])
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "jig sbom --format {format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = env.dir.path().join(format!("deb.{format}"));
        fs::write(&path, &out.stdout).unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (path, doc)
    };

    let (path, spdx) = sbom("spdx-json");
    common::sbom::assert_valid("spdx", &path);
    let packages = spdx["packages"].as_array().unwrap();
    let sums: Vec<&str> = packages
        .iter()
        .filter_map(|p| p["checksums"][0]["checksumValue"].as_str())
        .collect();
    assert!(sums.contains(&&manifest["sha256:".len()..]), "{spdx}");
    let layer_sums: Vec<String> = packages
        .iter()
        .filter(|p| p["primaryPackagePurpose"] == "ARCHIVE")
        .map(|p| {
            format!(
                "sha256:{}",
                p["checksums"][0]["checksumValue"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(layer_sums, digests, "the layers, in manifest order");
    let hello = packages
        .iter()
        .find(|p| p["name"] == "hello")
        .expect("hello");
    assert_eq!(hello["versionInfo"], "2.10-3", "{hello}");
    assert_eq!(hello["licenseDeclared"], "MIT", "{hello}");

    let (path, cdx) = sbom("cyclonedx-json");
    common::sbom::assert_valid("cyclonedx", &path);
    let components = cdx["components"].as_array().unwrap();
    let base = components
        .iter()
        .find(|c| c["type"] == "container")
        .unwrap();
    assert_eq!(base["version"], "12", "{base}");
    let nested: Vec<&str> = base["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["hashes"][0]["content"].as_str().unwrap())
        .collect();
    let hexes: Vec<&str> = digests.iter().map(|d| &d["sha256:".len()..]).collect();
    assert_eq!(nested, hexes, "{base}");
    assert!(components.iter().any(|c| c["name"] == "hello"), "{cdx}");
}
