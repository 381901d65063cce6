//! Applying one archive: the walk over its entries. Each entry is admitted against
//! the image's [`Budget`](super::budget::Budget) before anything of it is written, the
//! tar parser is held to its [`Allowance`] of header bytes, and the entry is written
//! by [`Ctx::entry`]; directory times are set last.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::budget::{Used, human};
use super::decompress::decompress;
use super::entry::{Ctx, Layer, PathMap, Unpacked};
use super::error::Error;
use super::meter::{Allowance, HEADERS_BASE, HEADERS_PER_ENTRY, MAX_ENTRY_HEADERS, Meter};

/// Applies a (compressed or plain) tar file onto `target`.
pub fn apply_file(path: &Path, target: &Path, layer: &Layer) -> Result<Unpacked, Error> {
    let err = |reason: String| Error {
        layer: layer.name.to_owned(),
        path: String::new(),
        reason,
    };
    let file = File::open(path).map_err(|e| err(format!("cannot open: {e}")))?;
    let reader = decompress(Box::new(io::BufReader::with_capacity(256 * 1024, file)))
        .map_err(|e| err(format!("cannot read: {e}")))?;
    apply(reader, target, layer)
}

/// Applies a plain tar stream onto the existing directory `target`.
pub fn apply(reader: impl Read, target: &Path, layer: &Layer) -> Result<Unpacked, Error> {
    apply_mapped(reader, target, layer, &mut |p| Ok(Some(p)))
}

/// Like [`apply`], with every entry path (and hard link target) passed through `map`
/// first. What `map` returns is checked like an archive path.
pub fn apply_mapped(
    reader: impl Read,
    target: &Path,
    layer: &Layer,
    map: &mut PathMap,
) -> Result<Unpacked, Error> {
    let mut ctx = Ctx::new(target, layer, map)?;
    let allowance = Allowance::new();
    let mut archive = tar::Archive::new(Meter::new(reader, allowance.clone()));
    let entries = archive.entries().map_err(|e| ctx.err("", format!("{e}")))?;
    let mut used = Used::default();
    let mut last = String::new();
    for entry in entries {
        crate::base::interrupt::check().map_err(|e| ctx.err(&last, e.to_string()))?;
        let mut entry = entry.map_err(|e| {
            if allowance.hit() {
                let after = if last.is_empty() {
                    String::new()
                } else {
                    format!(" after {last}")
                };
                ctx.err(
                    "",
                    format!(
                        "refused: the tar headers{after} run past what jig allows ({} for one entry, {} plus {} per entry in all): pax records or long names no real archive has",
                        human(MAX_ENTRY_HEADERS),
                        human(HEADERS_BASE),
                        human(HEADERS_PER_ENTRY)
                    ),
                )
            } else {
                ctx.err("", format!("corrupt archive: {e}"))
            }
        })?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        // Admitted before anything is written, from the declared size: the data the
        // parser will read for it (written, or skipped for entries that carry none).
        let size = entry.size();
        layer
            .budget
            .admit(&mut used, size)
            .map_err(|reason| ctx.err(&raw, reason))?;
        let stored = size
            .max(entry.header().entry_size().unwrap_or(0))
            .checked_next_multiple_of(512)
            .ok_or_else(|| ctx.err(&raw, "corrupt archive: entry size overflows".into()))?;
        allowance.next_entry(entry.raw_file_position(), stored, used.entries);
        ctx.entry(&mut entry, &raw)
            .map_err(|reason| ctx.err(&raw, reason))?;
        last = raw;
    }
    Ok(ctx.finish())
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use crate::base::config::Limits;
    use std::fs;
    use std::path::PathBuf;

    #[test]
    fn mapped_paths_are_renamed_skipped_and_still_checked() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("usr/bin", t.path().join("bin")).unwrap();
        let tar = TarBuilder::new()
            .dir("./bin", 0o755)
            .file("./bin/tool", "t", 0o755)
            .link("./bin/tool2", "./bin/tool", tar::EntryType::Link)
            .file("./etc/x", "x", 0o644)
            .done();
        let mut map = |p: PathBuf| -> Result<Option<PathBuf>, String> {
            if p == Path::new("bin") {
                return Ok(None);
            }
            Ok(Some(match p.strip_prefix("bin") {
                Ok(rest) => Path::new("usr/bin").join(rest),
                Err(_) => p,
            }))
        };
        apply_mapped(&tar[..], t.path(), &plain(), &mut map).unwrap();
        assert!(t.path().join("bin").is_symlink(), "link kept");
        assert_eq!(
            fs::read_to_string(t.path().join("usr/bin/tool2")).unwrap(),
            "t"
        );
        assert!(t.path().join("etc/x").exists());
        // Unmapped, a file below bin is refused: bin is a symlinked parent.
        let file_only = TarBuilder::new().file("./bin/tool", "t", 0o755).done();
        let err = apply(&file_only[..], t.path(), &plain()).unwrap_err();
        assert!(err.to_string().contains("symlink"), "{err}");
        // A map cannot smuggle an escape past the checks.
        let err = apply_mapped(&tar[..], t.path(), &plain(), &mut |_| {
            Ok(Some(PathBuf::from("../out")))
        })
        .unwrap_err();
        assert!(err.to_string().contains("'..'"), "{err}");
    }

    #[test]
    fn layer_limits_refuse_the_entry_that_would_cross_them() {
        let cases = [
            (
                Limits {
                    layer_entries: Some(3),
                    ..Limits::default()
                },
                "layer_entries",
                "more than 3 entries",
            ),
            (
                Limits {
                    layer_bytes: Some(35),
                    ..Limits::default()
                },
                "layer_bytes",
                "10 bytes more would take the archive's contents past 35 bytes",
            ),
            (
                Limits {
                    image_entries: 3,
                    ..Limits::default()
                },
                "image_entries",
                "more than 3 entries",
            ),
            (
                Limits {
                    image_bytes: 35,
                    ..Limits::default()
                },
                "image_bytes",
                "past 35 bytes",
            ),
        ];
        for (limits, key, what) in cases {
            let t = tempfile::tempdir().unwrap();
            let layer = limited(limits);
            let err = apply_bytes(&files(5), t.path(), &layer)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("test-layer: f3: refused: "), "{key}: {err}");
            assert!(err.contains(what), "{key}: {err}");
            assert!(
                err.contains(&format!("(limit {key}; "))
                    && err.contains(&format!("raise {key} in the [limits] table of ")),
                "{key}: {err}"
            );
            assert!(t.path().join("f2").exists() && !t.path().join("f3").exists());
            assert_eq!(
                layer.budget.used(),
                Used {
                    bytes: 30,
                    entries: 3
                },
                "{key}: a refused entry is not counted"
            );
        }
    }

    #[test]
    fn image_limits_count_over_every_archive_of_the_image() {
        let layer = limited(Limits {
            image_bytes: 45,
            layer_bytes: Some(30),
            ..Limits::default()
        });
        let t = tempfile::tempdir().unwrap();
        apply_bytes(&files(3), t.path(), &layer).unwrap();
        let err = apply_bytes(&files(3), t.path(), &layer)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("test-layer: f1: ") && err.contains("image_bytes"),
            "{err}"
        );
        assert_eq!(layer.budget.used().bytes, 40);
        // Each archive starts its own count.
        let layer = limited(Limits {
            layer_entries: Some(3),
            ..Limits::default()
        });
        for _ in 0..3 {
            apply_bytes(&files(3), t.path(), &layer).unwrap();
        }
        assert_eq!(layer.budget.used().entries, 9);
    }

    #[test]
    fn a_huge_declared_file_is_refused_before_any_of_it_is_written() {
        let t = tempfile::tempdir().unwrap();
        let layer = limited(Limits {
            layer_bytes: Some(1 << 20),
            ..Limits::default()
        });
        let tb = 1u64 << 40;
        let started = std::time::Instant::now();
        let reader = huge(
            declaring("big", tar::EntryType::Regular, tb),
            0,
            tb,
            vec![0; 1024],
        );
        let err = apply(reader, t.path(), &layer).unwrap_err().to_string();
        assert!(
            err.contains(
                "test-layer: big: refused: 1 TiB more would take the archive's contents past 1 MiB"
            ),
            "{err}"
        );
        assert!(!t.path().join("big").exists());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn the_data_of_entries_jig_does_not_write_counts_too() {
        // A whiteout or a directory "with contents": the parser would read past them.
        for (name, kind) in [
            ("a/.wh.x", tar::EntryType::Regular),
            ("d", tar::EntryType::Directory),
            ("dev/null", tar::EntryType::Char),
        ] {
            let t = tempfile::tempdir().unwrap();
            let layer = limited(Limits {
                image_bytes: 1 << 20,
                ..Limits::default()
            });
            let len = 1u64 << 36;
            let reader = huge(declaring(name, kind, len), 0, len, vec![0; 1024]);
            let err = apply(reader, t.path(), &layer).unwrap_err().to_string();
            assert!(
                err.contains(&format!("{name}: refused: 64 GiB more")),
                "{err}"
            );
            assert!(err.contains("limit image_bytes"), "{err}");
        }
    }
}
