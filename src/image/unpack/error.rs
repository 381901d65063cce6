//! The error of an unpack: which archive, which entry, and why.

use std::fmt;

/// An unpack failure: which archive, which entry, and why.
#[derive(Debug)]
pub struct Error {
    /// The archive (layer digest, file name) being applied.
    pub layer: String,
    /// The entry path as written in the archive.
    pub path: String,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.layer, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.layer, self.path, self.reason)
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_archive_and_the_entry_when_there_is_one() {
        let e = |path: &str| Error {
            layer: "sha256:abc".into(),
            path: path.into(),
            reason: "refused".into(),
        };
        assert_eq!(e("").to_string(), "sha256:abc: refused");
        assert_eq!(e("a/b").to_string(), "sha256:abc: a/b: refused");
    }
}
