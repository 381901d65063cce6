//! The signed suite index: `dists/SUITE/InRelease`.
//!
//! InRelease is a clearsigned Release file; its SHA256 list is the root of trust for
//! every other file (Packages, then each .deb through Packages). The signature is
//! checked with rpgp against an archive keyring: Debian's keyring file holds several
//! keys, and the archive signs with subkeys as well as primary keys, so every primary
//! key and every bound subkey is a candidate. rpgp applies no expiry or revocation
//! policy, so that is done here: a subkey must carry a valid binding signature from
//! its primary key, neither may be revoked, and the key must not have expired when
//! the signature was made (nor now, except for snapshot archives, whose old
//! signatures may legitimately outlive their keys). Fields are only ever read from
//! the verified signed text, never from outside the signed part.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;

use crate::base::error::Hint;
use anyhow::{Context, Result, anyhow, bail};
use pgp::composed::{CleartextSignedMessage, Deserializable, SignedPublicKey};
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Tag};

use super::deb822;
use crate::base::digest::hex;

/// The fields of a Release file that the bootstrap uses.
#[derive(Debug, Clone)]
pub struct Release {
    /// `Suite` (e.g. `oldstable`).
    pub suite: String,
    /// `Codename` (e.g. `bookworm`).
    pub codename: String,
    /// `Date`, as Unix seconds.
    pub date: Option<i64>,
    /// `Valid-Until`, as Unix seconds.
    pub valid_until: Option<i64>,
    /// `Architectures`.
    pub architectures: Vec<String>,
    /// `Acquire-By-Hash: yes`: files can be fetched from `by-hash/SHA256/<hex>`.
    pub by_hash: bool,
    /// The SHA256 list: path below `dists/SUITE/` → (sha256 hex, size).
    pub sha256: BTreeMap<String, (String, u64)>,
}

/// Verifies the clearsigned `inrelease` against the keys in `keyring` and returns
/// the signed text (with `\n` line ends) and the fingerprint of the key that signed.
/// `now` (Unix seconds) also requires the key to be unexpired today; `None` only
/// checks the key was valid when it signed.
pub fn verify(inrelease: &str, keyring: &Path, now: Option<i64>) -> Result<(String, String)> {
    let (msg, _) = CleartextSignedMessage::from_string(inrelease)
        .map_err(|e| anyhow!("InRelease is not a clearsigned OpenPGP message: {e}"))?;
    let keys = load_keyring(keyring)?;
    let text = msg.signed_text();
    let mut tried = Vec::new();
    for sig in msg.signatures() {
        for key in &keys {
            match verify_with(sig, key, text.as_bytes(), now) {
                Ok(Some(fpr)) => return Ok((text.replace("\r\n", "\n"), fpr)),
                Ok(None) => {}
                Err(e) => tried.push(e.to_string()),
            }
        }
    }
    let mut msg = format!(
        "the InRelease signature does not verify against {} ({} keys, {} signatures)",
        keyring.display(),
        keys.len(),
        msg.signatures().len()
    );
    for t in tried {
        msg += &format!("\n  {t}");
    }
    Err(crate::base::error::hinted(
        msg,
        "the index may have been tampered with, or the keyring is too old for this suite; \
         update debian-archive-keyring or name a key file with `keyring = ...`",
    ))
}

/// The text of a clearsigned message without checking anything (for `insecure`).
pub fn unverified_text(inrelease: &str) -> Result<String> {
    let (msg, _) = CleartextSignedMessage::from_string(inrelease)
        .map_err(|e| anyhow!("InRelease is not a clearsigned OpenPGP message: {e}"))?;
    Ok(msg.signed_text().replace("\r\n", "\n"))
}

/// Reads every public key in `path`: a binary keyring, an armored file (each armor
/// block parsed on its own, as rpgp reads only one block per parse), or a directory
/// of such files.
pub fn load_keyring(path: &Path) -> Result<Vec<SignedPublicKey>> {
    let hint = "install the debian-archive-keyring package, name a key file with \
                `keyring = ...`, or (unsafe) set `insecure = true`";
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the archive keyring {}", path.display()))
        .hint(hint)?;
    let mut files = Vec::new();
    if meta.is_dir() {
        for e in std::fs::read_dir(path)
            .with_context(|| format!("cannot list keyring directory {}", path.display()))?
        {
            let p = e?.path();
            if matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("gpg" | "asc" | "pgp")
            ) {
                files.push(p);
            }
        }
        files.sort();
    } else {
        files.push(path.to_owned());
    }
    let mut keys = Vec::new();
    for f in &files {
        let bytes =
            std::fs::read(f).with_context(|| format!("cannot read keyring {}", f.display()))?;
        keys.extend(parse_keys(&bytes));
    }
    if keys.is_empty() {
        return Err(crate::base::error::hinted(
            format!("no usable OpenPGP public key in {}", path.display()),
            hint,
        ));
    }
    Ok(keys)
}

/// Parses binary or armored key data; keys rpgp cannot read are skipped.
fn parse_keys(bytes: &[u8]) -> Vec<SignedPublicKey> {
    const BEGIN: &str = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
    let text = std::str::from_utf8(bytes).ok();
    match text {
        Some(t) if t.trim_start().starts_with("-----BEGIN") => t
            .match_indices(BEGIN)
            .map(|(i, _)| &t[i..])
            .flat_map(|block| {
                SignedPublicKey::from_armor_many(Cursor::new(block.as_bytes().to_vec()))
                    .map(|(it, _)| it.filter_map(Result::ok).collect::<Vec<_>>())
                    .unwrap_or_default()
            })
            .collect(),
        _ => SignedPublicKey::from_bytes_many(Cursor::new(bytes))
            .map(|it| it.filter_map(Result::ok).collect())
            .unwrap_or_default(),
    }
}

/// Whether `sig` names an issuer other than `k` (no issuer named: could be anyone).
fn other_issuer(sig: &Signature, k: &impl KeyDetails) -> bool {
    let ids = sig.issuer_key_id();
    let fprs = sig.issuer_fingerprint();
    if ids.is_empty() && fprs.is_empty() {
        return false;
    }
    let id = k.legacy_key_id();
    let fpr = k.fingerprint();
    !ids.iter().any(|i| **i == id) && !fprs.iter().any(|f| **f == fpr)
}

/// Tries `sig` against the primary key and subkeys of `key`. `Ok(None)`: not made by
/// this key. `Err`: made by this key but the key is not valid for it.
fn verify_with(
    sig: &Signature,
    key: &SignedPublicKey,
    data: &[u8],
    now: Option<i64>,
) -> Result<Option<String>> {
    let primary = &key.primary_key;
    let primary_expiry = primary_expiry(key);
    let sig_time = sig.created().map(|t| t.as_secs() as i64).unwrap_or(0);
    if let Some(d) = sig.signature_expiration_time() {
        if d.as_secs() != 0 {
            let until = sig_time + d.as_secs() as i64;
            if now.is_some_and(|n| n > until) {
                bail!(
                    "signature by {} expired",
                    hex(primary.fingerprint().as_bytes())
                );
            }
        }
    }
    let check_time = |what: &str, expiry: Option<i64>| -> Result<()> {
        if let Some(exp) = expiry {
            if sig_time > exp {
                bail!("{what} had expired when it signed");
            }
            if now.is_some_and(|n| n > exp) {
                bail!("{what} has expired (use a newer keyring)");
            }
        }
        Ok(())
    };
    if !other_issuer(sig, primary) && sig.verify(primary, data).is_ok() {
        let fpr = hex(primary.fingerprint().as_bytes());
        if revoked(key) {
            bail!("key {fpr} is revoked");
        }
        check_time(&format!("key {fpr}"), primary_expiry)?;
        return Ok(Some(fpr));
    }
    for sub in &key.public_subkeys {
        if other_issuer(sig, &sub.key) || sig.verify(&sub.key, data).is_err() {
            continue;
        }
        let fpr = hex(sub.key.fingerprint().as_bytes());
        // The newest binding signature that verifies decides the subkey's state.
        let mut bindings: Vec<&Signature> = sub
            .signatures
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
            .filter(|s| s.verify_subkey_binding(primary, &sub.key).is_ok())
            .collect();
        bindings.sort_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0));
        let Some(binding) = bindings.last() else {
            bail!("subkey {fpr} has no valid binding signature from its primary key");
        };
        let sub_revoked = sub.signatures.iter().any(|s| {
            s.typ() == Some(SignatureType::SubkeyRevocation)
                && s.verify_subkey_binding(primary, &sub.key).is_ok()
        });
        if sub_revoked || revoked(key) {
            bail!("subkey {fpr} (or its primary key) is revoked");
        }
        let sub_expiry = binding
            .key_expiration_time()
            .filter(|d| d.as_secs() != 0)
            .map(|d| sub.key.created_at().as_secs() as i64 + d.as_secs() as i64);
        check_time(&format!("subkey {fpr}"), sub_expiry)?;
        check_time(&format!("primary key of subkey {fpr}"), primary_expiry)?;
        return Ok(Some(fpr));
    }
    Ok(None)
}

/// Expiry of the primary key from its newest valid self-signature (user id
/// certification or direct-key signature), as Unix seconds.
fn primary_expiry(key: &SignedPublicKey) -> Option<i64> {
    let primary = &key.primary_key;
    let mut cands: Vec<&Signature> = Vec::new();
    for user in &key.details.users {
        for s in &user.signatures {
            if !other_issuer(s, primary)
                && s.verify_certification(primary, Tag::UserId, &user.id)
                    .is_ok()
            {
                cands.push(s);
            }
        }
    }
    for s in &key.details.direct_signatures {
        if s.verify_key(primary).is_ok() {
            cands.push(s);
        }
    }
    let newest = cands
        .into_iter()
        .max_by_key(|s| s.created().map(|t| t.as_secs()).unwrap_or(0));
    let d = newest?.key_expiration_time()?;
    (d.as_secs() != 0).then(|| primary.created_at().as_secs() as i64 + d.as_secs() as i64)
}

/// Whether the primary key carries a valid revocation signature.
fn revoked(key: &SignedPublicKey) -> bool {
    key.details
        .revocation_signatures
        .iter()
        .any(|s| s.verify_key(&key.primary_key).is_ok())
}

/// Parses the signed Release text.
pub fn parse(text: &str) -> Result<Release> {
    let para = deb822::paragraphs(text)
        .next()
        .ok_or_else(|| anyhow!("Release file is empty"))?
        .map_err(|e| anyhow!("malformed Release file: {e}"))?;
    let field = |f: &str| para.get(f).unwrap_or("").to_owned();
    let date = |f: &str| -> Result<Option<i64>> {
        para.get(f)
            .map(|v| parse_date(v).ok_or_else(|| anyhow!("Release {f} '{v}' is not a date")))
            .transpose()
    };
    let mut sha256 = BTreeMap::new();
    for line in para.get("SHA256").unwrap_or("").lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let [hash, size, path] = parts[..] else {
            bail!("malformed SHA256 line in Release: '{line}'");
        };
        let size: u64 = size
            .parse()
            .map_err(|_| anyhow!("malformed SHA256 line in Release: '{line}'"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!("malformed SHA256 line in Release: '{line}'");
        }
        sha256.insert(path.to_owned(), (hash.to_ascii_lowercase(), size));
    }
    if sha256.is_empty() {
        bail!("the Release file has no SHA256 list");
    }
    Ok(Release {
        suite: field("Suite"),
        codename: field("Codename"),
        date: date("Date")?,
        valid_until: date("Valid-Until")?,
        architectures: field("Architectures")
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        by_hash: para
            .get("Acquire-By-Hash")
            .is_some_and(|v| v.eq_ignore_ascii_case("yes")),
        sha256,
    })
}

impl Release {
    /// Checks the index is the one asked for and still fresh: `suite` must be the
    /// Suite or the Codename, `arch` must be listed, and `Valid-Until` (when present)
    /// must not have passed, unless `snapshot`.
    pub fn check(&self, suite: &str, arch: &str, now: i64, snapshot: bool) -> Result<()> {
        if suite != self.suite && suite != self.codename {
            return Err(crate::base::error::hinted(
                format!(
                    "asked for suite '{suite}' but the index is Suite '{}', Codename '{}'",
                    self.suite, self.codename
                ),
                "the mirror may be redirecting; check the mirror URL",
            ));
        }
        if !self.architectures.is_empty() && !self.architectures.iter().any(|a| a == arch) {
            bail!(
                "suite '{suite}' has no architecture '{arch}' (it has: {})",
                self.architectures.join(" ")
            );
        }
        if let (Some(until), false) = (self.valid_until, snapshot) {
            if now > until {
                return Err(crate::base::error::hinted(
                    format!(
                        "the index of '{suite}' expired (Valid-Until {}); the mirror is stale or \
                     replaying an old index",
                        format_date(until)
                    ),
                    "try another mirror, or pin a snapshot",
                ));
            }
        }
        Ok(())
    }
}

/// Parses the RFC 2822-style dates of Release files ("Sat, 11 Jul 2026 10:16:37 UTC").
pub fn parse_date(s: &str) -> Option<i64> {
    let s = s.trim();
    let s = s.split_once(',').map_or(s, |(_, rest)| rest.trim());
    let parts: Vec<&str> = s.split_whitespace().collect();
    if parts.len() < 4 {
        return None;
    }
    let day: i64 = parts[0].parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == parts[1])? as i64 + 1;
    let year: i64 = parts[2].parse().ok()?;
    let hms: Vec<i64> = parts[3]
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, sec] = hms[..] else { return None };
    let offset = match parts.get(4).copied() {
        None | Some("UTC" | "GMT" | "Z" | "+0000" | "-0000") => 0,
        Some(z) if z.len() == 5 && (z.starts_with('+') || z.starts_with('-')) => {
            let v: i64 = z[1..].parse().ok()?;
            let secs = (v / 100) * 3600 + (v % 100) * 60;
            if z.starts_with('-') { -secs } else { secs }
        }
        Some(_) => return None,
    };
    if !(1..=31).contains(&day) || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86400 + h * 3600 + m * 60 + sec - offset)
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS UTC`, for messages.
fn format_date(t: i64) -> String {
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    // Inverse of days_from_civil.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("Thu, 01 Jan 1970 00:00:00 UTC"), Some(0));
        assert_eq!(
            parse_date("Sat, 11 Jul 2026 10:16:37 UTC"),
            Some(1_783_764_997)
        );
        assert_eq!(
            parse_date("Sat, 10 Jun 2024 00:00:00 +0100"),
            Some(1_717_974_000)
        );
        assert_eq!(format_date(1_717_977_600), "2024-06-10 00:00:00 UTC");
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(parse_date("Sat, 41 Jul 2026 10:16:37 UTC"), None);
    }

    const RELEASE: &str = "Origin: Debian\nSuite: oldstable\nCodename: bookworm\nDate: Sat, 11 Jul 2026 10:16:37 UTC\nValid-Until: Sat, 18 Jul 2026 10:16:37 UTC\nAcquire-By-Hash: yes\nArchitectures: all amd64 arm64\nSHA256:\n 9e0b5aabb2465b3d2e7a7fe27f9913846277833f7a2826e7767acccff5b588c5  8790396 main/binary-amd64/Packages.xz\n";

    #[test]
    fn parses_and_checks_release_fields() {
        let r = parse(RELEASE).unwrap();
        assert_eq!(
            (r.suite.as_str(), r.codename.as_str()),
            ("oldstable", "bookworm")
        );
        assert!(r.by_hash);
        let (h, size) = &r.sha256["main/binary-amd64/Packages.xz"];
        assert_eq!((h.len(), *size), (64, 8_790_396));
        let before = r.valid_until.unwrap() - 10;
        let after = r.valid_until.unwrap() + 10;
        r.check("bookworm", "amd64", before, false).unwrap();
        r.check("oldstable", "arm64", before, false).unwrap();
        let e = r.check("trixie", "amd64", before, false).unwrap_err();
        assert!(e.to_string().contains("Codename 'bookworm'"), "{e}");
        assert!(r.check("bookworm", "riscv64", before, false).is_err());
        let e = r.check("bookworm", "amd64", after, false).unwrap_err();
        assert!(e.to_string().contains("expired"), "{e}");
        r.check("bookworm", "amd64", after, true).unwrap();
    }

    /// Network: the real bookworm InRelease verifies against the host's Debian
    /// keyring, and a one-character edit of the signed text does not.
    #[test]
    fn network_bookworm_inrelease_verifies_and_tampering_fails() {
        let keyring = Path::new(super::super::DEFAULT_KEYRING);
        let url = format!("{}/dists/bookworm/InRelease", super::super::DEFAULT_MIRROR);
        let raw = super::super::fetch::Http::new().get_bytes(&url).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let t = std::time::Instant::now();
        let (text, signer) = verify(&raw, keyring, Some(1_700_000_000)).unwrap();
        eprintln!("verified in {:?} by {signer}", t.elapsed());
        assert!(text.contains("\nCodename: bookworm\n"));
        assert!(!text.contains('\r'));
        let rel = parse(&text).unwrap();
        assert!(rel.sha256.contains_key("main/binary-amd64/Packages.xz"));

        let tampered = raw.replacen("Codename: bookworm", "Codename: bookwork", 1);
        assert_ne!(tampered, raw);
        let err = verify(&tampered, keyring, None).unwrap_err().to_string();
        assert!(err.contains("does not verify"), "{err}");
        // insecure = true reads the text without checking.
        assert!(
            unverified_text(&tampered)
                .unwrap()
                .contains("Codename: bookwork\n")
        );
        // An edit deep in the hash list fails the same way.
        let i = raw.find("main/binary-amd64/Packages.xz").unwrap() - 20;
        let mut bytes = raw.clone().into_bytes();
        bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
        let err = verify(&String::from_utf8(bytes).unwrap(), keyring, None).unwrap_err();
        assert!(err.to_string().contains("does not verify"), "{err}");
        // Years after the keys expired, the same signature is refused...
        let err = verify(&raw, keyring, Some(4_000_000_000)).unwrap_err();
        assert!(err.to_string().contains("expired"), "{err}");
        // ...unless checked as a snapshot (valid when made).
        verify(&raw, keyring, None).unwrap();
        // A keyring without Debian's keys verifies nothing.
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("empty.gpg"), b"").unwrap();
        assert!(verify(&raw, &t.path().join("empty.gpg"), None).is_err());
    }

    /// Network: trixie, the built-in recipes' default suite, verifies against the
    /// host's keyring (Debian 12's debian-archive-keyring already holds the trixie
    /// keys), by its own keys alone too: the day the archive stops signing with the
    /// bookworm key, it still verifies. A key that never signed it verifies nothing.
    #[test]
    fn network_trixie_inrelease_verifies_with_the_host_keyring_and_the_trixie_keys() {
        let url = format!("{}/dists/trixie/InRelease", super::super::DEFAULT_MIRROR);
        let raw = super::super::fetch::Http::new().get_bytes(&url).unwrap();
        let raw = String::from_utf8(raw).unwrap();
        let now = Some(super::super::now());
        let keyring = Path::new(super::super::DEFAULT_KEYRING);
        let (text, _) = verify(&raw, keyring, now).unwrap();
        assert!(text.contains("\nCodename: trixie\n"));
        let only = |files: &[&str]| {
            let t = tempfile::tempdir().unwrap();
            for f in files {
                let src = Path::new("/usr/share/keyrings").join(f);
                std::fs::copy(&src, t.path().join(f))
                    .unwrap_or_else(|e| panic!("{}: {e}", src.display()));
            }
            let r = verify(&raw, t.path(), now);
            (t, r)
        };
        let (_t, r) = only(&[
            "debian-archive-trixie-automatic.gpg",
            "debian-archive-trixie-stable.gpg",
        ]);
        let (_, signer) = r.unwrap();
        let trixie_keys = [
            "B8E5F13176D2A7A75220028078DBA3BC47EF2265",
            "41587F7DB8C774BCCF131416762F67A0B2C39DE4",
        ];
        assert!(
            trixie_keys.iter().any(|k| k.eq_ignore_ascii_case(&signer)),
            "signed by {signer}"
        );
        let (_t, r) = only(&["debian-archive-bookworm-stable.gpg"]);
        assert!(r.unwrap_err().to_string().contains("does not verify"));
    }

    #[test]
    fn malformed_release_is_an_error() {
        assert!(parse("").is_err());
        assert!(parse("Suite: x\n").is_err(), "no SHA256 list");
        assert!(parse("Suite: x\nSHA256:\n abc 1 main/Packages\n").is_err());
        assert!(parse("Suite: x\nDate: soon\nSHA256:\n").is_err());
    }
}
