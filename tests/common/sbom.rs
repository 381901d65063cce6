//! Checking `jig sbom` documents against the official SPDX 2.3 and CycloneDX 1.5 JSON
//! schemas vendored in `tests/sbom-schemas/`, with Debian's python3-jsonschema (which
//! script/deps installs), as the unit tests in `src/image/sbom/tests.rs` do.

use std::path::Path;
use std::process::Command;

/// Validates the document in `file` as `kind` (`spdx` or `cyclonedx`); panics with the
/// validator's report when it is not valid.
pub fn assert_valid(kind: &str, file: &Path) {
    let python = if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sbom-schemas/validate.py");
    let out = Command::new(python)
        .arg(script)
        .arg(kind)
        .arg(file)
        .output()
        .expect("run python3 (script/deps installs python3-jsonschema)");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{} is not a valid {kind} document:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
