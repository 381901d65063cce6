//! The budget of one image: the [`Limits`] of `config.toml` on bytes and entries, per
//! archive and per image, and what the image has used of them. The image's counts live
//! in memory shared with forked extractors, so every process filling the image counts
//! against the same limits.

use std::fmt;
use std::io;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::base::config::Limits;

/// Bytes and entries used: by one archive so far, or (from [`Budget::used`]) by the
/// whole image.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Used {
    /// Bytes of entry contents admitted.
    pub bytes: u64,
    /// Entries admitted.
    pub entries: u64,
}

/// The [`Limits`] of one image and what the image has used of them, over all the
/// archives applied into it.
///
/// The counts live in a shared anonymous mapping, so that processes forked to fill the
/// same image (the Debian bootstrap's extractors) count together; they are updated with
/// atomic compare-and-swap, never past a limit.
pub struct Budget {
    limits: Limits,
    /// `[bytes, entries]`, in memory shared with forked children.
    used: NonNull<[AtomicU64; 2]>,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("limits", &self.limits)
            .field("used", &self.used())
            .finish()
    }
}

impl Budget {
    /// A fresh budget for one image.
    pub fn new(limits: Limits) -> io::Result<Budget> {
        let len = NonZeroUsize::new(std::mem::size_of::<[AtomicU64; 2]>()).expect("not empty");
        // SAFETY: a new anonymous mapping aliases nothing; the kernel zero-fills it,
        // and zero bytes are two valid AtomicU64s, suitably aligned (page-aligned).
        let ptr = unsafe {
            nix::sys::mman::mmap_anonymous(
                None,
                len,
                nix::sys::mman::ProtFlags::PROT_READ | nix::sys::mman::ProtFlags::PROT_WRITE,
                nix::sys::mman::MapFlags::MAP_SHARED,
            )
        }
        .map_err(io::Error::from)?;
        Ok(Budget {
            limits,
            used: ptr.cast(),
        })
    }

    fn counters(&self) -> &[AtomicU64; 2] {
        // SAFETY: the mapping lives as long as self and holds initialized atomics.
        unsafe { self.used.as_ref() }
    }

    /// What the image has used: bytes and entries.
    pub fn used(&self) -> Used {
        let [bytes, entries] = self.counters();
        Used {
            bytes: bytes.load(Ordering::SeqCst),
            entries: entries.load(Ordering::SeqCst),
        }
    }

    /// Admits one entry with `bytes` bytes of contents into an archive that has used
    /// `archive` so far, counting it there and in the image; or refuses it, counting
    /// nothing, with a message naming the limit, its value and the key that raises it.
    pub fn admit(&self, archive: &mut Used, bytes: u64) -> Result<(), String> {
        let l = &self.limits;
        let entries = archive.entries + 1;
        if let Some(max) = l.layer_entries
            && entries > max
        {
            return Err(over(
                "layer_entries",
                &format!("the archive has more than {max} entries"),
            ));
        }
        let layer_bytes = archive.bytes.checked_add(bytes);
        if let Some(max) = l.layer_bytes
            && layer_bytes.is_none_or(|b| b > max)
        {
            return Err(over(
                "layer_bytes",
                &format!(
                    "{} more would take the archive's contents past {}",
                    human(bytes),
                    human(max)
                ),
            ));
        }
        let [image_bytes, image_entries] = self.counters();
        let add = |counter: &AtomicU64, n: u64, max: u64| {
            counter
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                    used.checked_add(n).filter(|&t| t <= max)
                })
                .is_ok()
        };
        if !add(image_entries, 1, l.image_entries) {
            return Err(over(
                "image_entries",
                &format!("the image would have more than {} entries", l.image_entries),
            ));
        }
        if !add(image_bytes, bytes, l.image_bytes) {
            image_entries.fetch_sub(1, Ordering::SeqCst);
            return Err(over(
                "image_bytes",
                &format!(
                    "{} more would take the image's contents past {}",
                    human(bytes),
                    human(l.image_bytes)
                ),
            ));
        }
        archive.entries = entries;
        archive.bytes = layer_bytes.expect("checked above or bounded by the image");
        Ok(())
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        // SAFETY: the mapping was made in new() with this length and is not used after.
        let _ = unsafe {
            nix::sys::mman::munmap(self.used.cast(), std::mem::size_of::<[AtomicU64; 2]>())
        };
    }
}

/// The refusal for crossing the limit `key`.
fn over(key: &str, what: &str) -> String {
    let config = crate::base::config::path()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "jig's config.toml".into());
    format!(
        "refused: {what} (limit {key}; if the image is genuine, raise {key} in the [limits] table of {config})"
    )
}

/// A byte count for people: `512 bytes`, `8 GiB`, `1.5 MiB (1572864 bytes)`.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    let Some(unit) = (0..UNITS.len()).rev().find(|&u| n >= 1 << (10 * (u + 1))) else {
        return format!("{n} bytes");
    };
    let size = 1u64 << (10 * (unit + 1));
    if n % size == 0 {
        format!("{} {}", n / size, UNITS[unit])
    } else {
        format!("{:.1} {} ({n} bytes)", n as f64 / size as f64, UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forked_extractors_share_the_image_count() {
        let budget = Budget::new(Limits::default()).unwrap();
        // SAFETY: the child only does arithmetic on the shared mapping and _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = budget.admit(&mut Used::default(), 7).is_ok();
                // SAFETY: leaves without running the test harness's destructors.
                unsafe { libc::_exit(if ok { 0 } else { 1 }) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                let status = nix::sys::wait::waitpid(child, None).unwrap();
                assert_eq!(status, nix::sys::wait::WaitStatus::Exited(child, 0));
            }
        }
        budget.admit(&mut Used::default(), 5).unwrap();
        assert_eq!(
            budget.used(),
            Used {
                bytes: 12,
                entries: 2
            }
        );
    }

    #[test]
    fn a_refused_entry_counts_nowhere() {
        let budget = Budget::new(Limits {
            layer_entries: Some(1),
            image_bytes: 10,
            ..Limits::default()
        })
        .unwrap();
        let mut archive = Used::default();
        let err = budget.admit(&mut archive, 11).unwrap_err();
        assert!(err.contains("(limit image_bytes; "), "{err}");
        assert_eq!(archive, Used::default());
        assert_eq!(budget.used(), Used::default());
        budget.admit(&mut archive, 10).unwrap();
        let err = budget.admit(&mut archive, 0).unwrap_err();
        assert!(err.contains("more than 1 entries"), "{err}");
        let used = Used {
            bytes: 10,
            entries: 1,
        };
        assert_eq!((archive, budget.used()), (used.clone(), used));
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0 bytes");
        assert_eq!(human(1023), "1023 bytes");
        assert_eq!(human(1024), "1 KiB");
        assert_eq!(human(8 << 30), "8 GiB");
        assert_eq!(human(3 << 40), "3 TiB");
        assert_eq!(human(1536 << 10), "1.5 MiB (1572864 bytes)");
        assert_eq!(human(5 << 50), "5120 TiB");
    }
}
