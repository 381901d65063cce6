//! sha256 digests as jig writes them: lowercase hex, the `sha256:` form of registries
//! and locks, and the short forms messages show.

use sha2::{Digest, Sha256};

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// sha256 of bytes as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The `sha256:HEX` form of a hex digest, as registries and locks write it.
pub fn prefixed(hex: &str) -> String {
    format!("sha256:{hex}")
}

/// The `sha256:HEX` digest of bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    prefixed(&sha256_hex(bytes))
}

/// The first characters of a pin, an id or a digest, for messages (`sha256:` kept for
/// content hashes).
pub fn short(pin: &str) -> &str {
    let n = if pin.starts_with("sha256:") { 19 } else { 12 };
    &pin[..pin.len().min(n)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(hex(&[0, 15, 255]), "000fff");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(short("0123456789abcdef"), "0123456789ab");
        assert_eq!(short("sha256:0123456789abcdef"), "sha256:0123456789ab");
        assert_eq!(prefixed("ab"), "sha256:ab");
    }
}
