//! `gc`: what the store may drop, and dropping it.
//!
//! An image is kept while something needs it: an installed recipe (the caller passes
//! those ids), a live process's lease (an image just made or found, not in the index
//! yet: [`super::lease`]), or a running tool whose overlay has it as its lower layer
//! ([`super::inuse`]). Everything else under `images/` goes, damaged images included,
//! then what nobody owns in `tmp/` and `locks/`, what is left in `trash/`, and the
//! shared files no image links to any more.

use std::collections::BTreeSet;
use std::fs;

use anyhow::{Context, Result};

use super::images::{Found, Store, id_of};
use super::meta::ImageId;

/// What a collection did.
#[derive(Debug, Default)]
pub struct Report {
    /// Images removed, with their sizes (0 for damaged ones).
    pub removed: Vec<(ImageId, u64)>,
    /// Unused images kept because a running tool uses them (with a pid).
    pub in_use: Vec<(ImageId, u32)>,
    /// Images kept for a live process's lease.
    pub leased: usize,
    /// Leftovers of dead processes removed from `tmp/` and `trash/`.
    pub debris: usize,
    /// Shared files removed, and their bytes.
    pub files: (u64, u64),
}

impl Store {
    /// Removes every image not in `keep` and not leased or in use, and the debris.
    /// The caller holds the exclusive lock.
    pub fn collect(&self, keep: &BTreeSet<ImageId>) -> Result<Report> {
        let mut report = Report::default();
        let leased = super::lease::held(&self.leases_dir())?;
        let mut doomed = Vec::new();
        let mut sizes = std::collections::BTreeMap::new();
        for found in self.scan()? {
            let id = id_of(&found).clone();
            if keep.contains(&id) {
                continue;
            }
            if leased.contains(&id) {
                report.leased += 1;
                continue;
            }
            if let Found::Image(i) = &found {
                sizes.insert(id.clone(), i.meta.size);
            }
            doomed.push(id);
        }
        let (removed, in_use) = self.remove(&doomed)?;
        report.removed = removed
            .into_iter()
            .map(|id| {
                let size = sizes.get(&id).copied().unwrap_or(0);
                (id, size)
            })
            .collect();
        report.in_use = in_use;
        report.debris += self.empty_trash()?;
        report.debris += self.sweep_tmp()?;
        super::flight::sweep(&self.locks_dir());
        let files = self.files_dir();
        report.files = super::files::sweep_unreferenced(&files)
            .with_context(|| format!("cleaning {}", files.display()))?;
        Ok(report)
    }

    /// Removes what an interrupted removal left in `trash/`, unless a running tool
    /// still uses it.
    fn empty_trash(&self) -> Result<usize> {
        let trash = self.trash_dir();
        let Ok(entries) = fs::read_dir(&trash) else {
            return Ok(0);
        };
        let busy = super::inuse::in_use(&self.images_dir());
        let mut n = 0;
        for e in entries.flatten() {
            let name = e.file_name();
            let id = name
                .to_str()
                .and_then(|n| n.split('.').next())
                .and_then(|h| ImageId::parse(h).ok());
            if id.is_some_and(|id| busy.contains_key(&id)) {
                continue;
            }
            super::remove::remove_tree(&e.path())
                .with_context(|| format!("removing {}", e.path().display()))?;
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::store::meta::ImageMeta;

    #[test]
    fn gc_keeps_what_is_referenced_or_leased_and_removes_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().join("store"));
        let make = |content: &str| {
            let t = store.temp_image().unwrap();
            fs::write(t.rootfs().join("f"), content).unwrap();
            store.commit(t, ImageMeta::default()).unwrap()
        };
        // Committed by this process: leased until it exits.
        let a = make("referenced");
        let b = make("leased");
        // Another process's image, whose lease is gone: an image dir made by hand.
        let orphan = ImageId::parse(&"c".repeat(64)).unwrap();
        fs::create_dir_all(store.images_dir().join(orphan.hex()).join("rootfs")).unwrap();
        fs::create_dir_all(store.tmp_dir().join("dead-0")).unwrap();
        let _l = store.lock_exclusive().unwrap();
        let keep: BTreeSet<_> = [a.id.clone()].into();
        let report = store.collect(&keep).unwrap();
        assert_eq!(
            report.removed.iter().map(|r| &r.0).collect::<Vec<_>>(),
            [&orphan]
        );
        assert_eq!(report.leased, 1);
        assert_eq!(report.debris, 1);
        assert!(store.image(&a.id).unwrap().is_some());
        assert!(store.image(&b.id).unwrap().is_some());
        assert!(!store.images_dir().join(orphan.hex()).exists());
    }
}
