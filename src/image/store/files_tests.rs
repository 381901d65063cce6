use super::*;

use std::os::unix::fs::MetadataExt;

fn sha(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    crate::base::digest::hex(&Sha256::digest(fs::read(p).unwrap()))
}

fn offer_all(sharing: &mut Sharing, root: &Path) {
    let mut paths: Vec<PathBuf> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    paths.sort();
    for p in paths {
        let m = fs::symlink_metadata(&p).unwrap();
        if m.is_file() {
            sharing.offer(&p, &m, &sha(&p));
        }
    }
}

fn set_time(p: &Path, secs: i64) {
    let f = File::open(p).unwrap();
    let t = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    assert_eq!(unsafe { libc::futimens(f.as_raw_fd(), [t, t].as_ptr()) }, 0);
}

fn file(p: &Path, text: &str, mode: u32, secs: i64) {
    fs::write(p, text).unwrap();
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    set_time(p, secs);
}

#[test]
fn identical_files_share_one_inode_and_anything_else_stays_apart() {
    let t = tempfile::tempdir().unwrap();
    let store = t.path().join("files/sha256");
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    file(&a.join("lib"), "library", 0o644, 1000);
    fs::hard_link(a.join("lib"), a.join("lib-link")).unwrap();
    file(&a.join("same"), "library", 0o644, 1000);
    file(&b.join("lib"), "library", 0o644, 1000);
    file(&b.join("lib-exec"), "library", 0o755, 1000);
    file(&b.join("lib-newer"), "library", 0o644, 2000);
    file(&b.join("empty"), "", 0o644, 1000);
    fs::hard_link(b.join("lib"), b.join("lib-link")).unwrap();

    let mut first = Sharing::new(store.clone());
    offer_all(&mut first, &a);
    assert_eq!(first.linked, 0);
    let ino = |p: &Path| fs::metadata(p).unwrap().ino();
    assert_eq!(
        ino(&a.join("lib")),
        ino(&a.join("lib-link")),
        "a link stays"
    );
    assert_ne!(
        ino(&a.join("lib")),
        ino(&a.join("same")),
        "two files stay two"
    );

    let dir_time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(5000);
    File::open(&b).unwrap().set_modified(dir_time).unwrap();
    let mut second = Sharing::new(store.clone());
    offer_all(&mut second, &b);
    second.finish();
    let mtime = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    assert_eq!(mtime(&b), dir_time, "the directory's time is kept");
    assert_eq!(second.linked, 2, "lib and its link");
    assert_eq!(second.saved, 14);
    assert_eq!(ino(&b.join("lib")), ino(&a.join("lib")));
    assert_eq!(ino(&b.join("lib-link")), ino(&a.join("lib")));
    for apart in ["lib-exec", "lib-newer", "empty"] {
        assert_ne!(ino(&b.join(apart)), ino(&a.join("lib")), "{apart}");
    }
    assert_eq!(fs::read_to_string(b.join("lib")).unwrap(), "library");

    // Nothing is removed while an image links to it; then it is.
    assert_eq!(sweep_unreferenced(&store).unwrap(), (0, 0));
    crate::image::store::remove::remove_tree(&a).unwrap();
    assert_eq!(
        sweep_unreferenced(&store).unwrap().0,
        0,
        "b still links lib"
    );
    crate::image::store::remove::remove_tree(&b).unwrap();
    let (files, _) = sweep_unreferenced(&store).unwrap();
    assert_eq!(files, 3, "lib, lib-exec, lib-newer");
    assert!(fs::read_dir(&store).unwrap().next().is_none());
}

#[test]
fn a_clone_is_a_copy_with_modes_times_and_inner_links() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    fs::create_dir_all(src.join("d/e")).unwrap();
    file(&src.join("d/f"), "data", 0o750, 1234);
    fs::hard_link(src.join("d/f"), src.join("d/g")).unwrap();
    symlink("f", src.join("d/l")).unwrap();
    nix::unistd::mkfifo(
        &src.join("p"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    fs::set_permissions(src.join("d/e"), fs::Permissions::from_mode(0o700)).unwrap();
    let dir_time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(4321);
    File::open(src.join("d"))
        .unwrap()
        .set_modified(dir_time)
        .unwrap();
    let dst = t.path().join("dst");
    fs::create_dir(&dst).unwrap();
    clone_tree(&src, &dst).unwrap();
    let modified = fs::metadata(dst.join("d")).unwrap().modified().unwrap();
    assert_eq!(modified, dir_time, "a directory's time");
    let m = fs::metadata(dst.join("d/f")).unwrap();
    assert_eq!(m.mode() & 0o7777, 0o750);
    assert_eq!(m.mtime(), 1234);
    assert_ne!(
        m.ino(),
        fs::metadata(src.join("d/f")).unwrap().ino(),
        "a copy"
    );
    assert_eq!(
        m.ino(),
        fs::metadata(dst.join("d/g")).unwrap().ino(),
        "link kept"
    );
    assert_eq!(fs::read_link(dst.join("d/l")).unwrap(), Path::new("f"));
    assert!(dst.join("p").exists());
    fs::write(dst.join("d/f"), "changed").unwrap();
    assert_eq!(fs::read_to_string(src.join("d/f")).unwrap(), "data");
}
