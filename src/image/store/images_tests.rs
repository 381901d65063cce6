use super::*;

use std::os::unix::fs::MetadataExt;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::new(dir.path().join("store"));
    (dir, store)
}

fn make(store: &Store, content: &str) -> Image {
    let t = store.temp_image().unwrap();
    fs::write(t.rootfs().join("f"), content).unwrap();
    store.commit(t, ImageMeta::default()).unwrap()
}

#[test]
fn commit_is_content_addressed_and_deduplicated() {
    let (_d, store) = store();
    let a = make(&store, "one");
    let b = make(&store, "one");
    let c = make(&store, "two");
    assert_eq!(a.id, b.id);
    assert_ne!(a.id, c.id);
    assert_eq!(store.images().unwrap().len(), 2);
    assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    assert!(matches!(store.find(&a.id.hex()[..8]).unwrap(), Found::Image(i) if i.id == a.id));
}

#[test]
fn dropped_temp_image_leaves_nothing() {
    let (_d, store) = store();
    {
        let t = store.temp_image().unwrap();
        fs::write(t.rootfs().join("f"), "x").unwrap();
    }
    assert_eq!(fs::read_dir(store.tmp_dir()).unwrap().count(), 0);
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn the_next_import_removes_what_a_dead_process_left_but_not_live_work() {
    let (_d, store) = store();
    store.ensure().unwrap();
    // A killed import: a directory nobody holds.
    fs::create_dir_all(store.tmp_dir().join("999999-0/rootfs/usr")).unwrap();
    fs::write(store.tmp_dir().join("blob-999999-0"), "partial").unwrap();
    let live = store.temp_image().unwrap();
    let second = store.temp_image().unwrap();
    let names: Vec<_> = fs::read_dir(store.tmp_dir()).unwrap().flatten().collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(live.rootfs().is_dir() && second.rootfs().is_dir());
}

#[test]
fn damage_to_one_image_hides_it_and_a_rebuild_replaces_it() {
    let (_d, store) = store();
    let a = make(&store, "one");
    let b = make(&store, "two");
    let a_dir = store.images_dir().join(a.id.hex());
    fs::write(a_dir.join("image.toml"), "source = [garbled").unwrap();
    assert_eq!(store.images().unwrap().len(), 1, "b still listed");
    assert!(store.image(&b.id).unwrap().is_some());
    let found = store.scan().unwrap();
    let why = found
        .iter()
        .find_map(|f| match f {
            Found::Damaged(id, why) if *id == a.id => Some(why.clone()),
            _ => None,
        })
        .expect("a reported damaged");
    assert!(why.contains("image.toml is damaged"), "{why}");
    // Committing the same tree again replaces the damaged one.
    assert_eq!(make(&store, "one").id, a.id);
    assert!(store.image(&a.id).unwrap().is_some());
    // A missing rootfs/ or image.toml: damaged, not complete.
    remove_tree(&a_dir.join("rootfs")).unwrap();
    assert!(matches!(store.found(&a.id), Some(Found::Damaged(..))));
    fs::remove_file(a_dir.join("image.toml")).unwrap();
    assert!(matches!(store.found(&a.id), Some(Found::Damaged(_, w)) if w.contains("missing")));
}

#[test]
fn identical_files_of_two_images_share_storage() {
    let (_d, store) = store();
    let big = "x".repeat(10_000);
    let write = |extra: &str| {
        let t = store.temp_image().unwrap();
        let f = t.rootfs().join("lib");
        fs::write(&f, &big).unwrap();
        fs::File::options()
            .write(true)
            .open(&f)
            .unwrap()
            .set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1000))
            .unwrap();
        fs::write(t.rootfs().join("own"), extra).unwrap();
        store.commit(t, ImageMeta::default()).unwrap()
    };
    let a = write("a");
    let b = write("b");
    assert_ne!(a.id, b.id);
    let ino = |i: &Image| {
        fs::metadata(store.rootfs_of(&i.id).join("lib"))
            .unwrap()
            .ino()
    };
    assert_eq!(ino(&a), ino(&b));
    let (removed, kept) = store.remove(std::slice::from_ref(&a.id)).unwrap();
    assert_eq!((removed.len(), kept.len()), (1, 0));
    assert_eq!(
        fs::read_to_string(store.rootfs_of(&b.id).join("lib")).unwrap(),
        big
    );
    assert!(store.image(&a.id).unwrap().is_none());
}
