//! Which images running tools use: found by `gc`, at no cost to a launch.
//!
//! A launch mounts its image's `rootfs/` as the lower layer of an overlay in its own
//! mount namespace, and the kernel shows that mount, with the options it was given,
//! in `/proc/PID/mountinfo` of every process in the namespace (the tool, its children,
//! nested launches below it). So `gc` reads the mount table of each mount namespace
//! it can see (one process per namespace, told by the `/proc/PID/ns/mnt` link) and
//! looks for `STORE/images/<id>/rootfs` in overlay mounts. An image a launch uses is
//! kept, as Docker refuses to remove an image a container runs and Nix counts open
//! store paths as roots. Nothing is added to the launch path: a lock or a file per
//! launch would cost system calls on every shim call, and an fd held across `execve`
//! would be visible to the tool.
//!
//! What it cannot see is not protected: processes of other users hidden by
//! `hidepid`, which cannot use this user's store anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::meta::ImageId;

/// Image ids (in `images_dir`) that a mounted overlay of some process uses, each with
/// one such process's pid.
pub fn in_use(images_dir: &Path) -> BTreeMap<ImageId, u32> {
    let mut out = BTreeMap::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return out;
    };
    let mut seen = BTreeSet::new();
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        // One read per mount namespace; without access to the link, read anyway.
        if let Ok(ns) = fs::read_link(p.path().join("ns/mnt"))
            && !seen.insert(ns)
        {
            continue;
        }
        let Ok(table) = fs::read(p.path().join("mountinfo")) else {
            continue;
        };
        for id in lower_images(&table, images_dir) {
            out.entry(id).or_insert(pid);
        }
    }
    out
}

/// The images of `images_dir` named as lower layers by overlay mounts in a
/// `mountinfo` table.
pub fn lower_images(table: &[u8], images_dir: &Path) -> BTreeSet<ImageId> {
    let mut needle = images_dir.as_os_str().as_bytes().to_vec();
    needle.push(b'/');
    let mut out = BTreeSet::new();
    for line in table.split(|&b| b == b'\n') {
        // `... - FSTYPE SOURCE SUPER_OPTIONS`: only overlays.
        let Some(sep) = find(line, b" - ") else {
            continue;
        };
        let rest = &line[sep + 3..];
        if !rest.starts_with(b"overlay ") {
            continue;
        }
        let text = unescape(rest);
        let mut at = 0;
        while let Some(i) = find(&text[at..], &needle) {
            let start = at + i + needle.len();
            at = start;
            let Some(hex) = text.get(start..start + 64) else {
                break;
            };
            if text[start + 64..].starts_with(b"/rootfs")
                && let Ok(id) = ImageId::parse(&String::from_utf8_lossy(hex))
            {
                out.insert(id);
            }
        }
    }
    out
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\134` for a backslash),
/// then the backslash escapes of overlay's own option syntax (`\,` `\:` `\\`), which
/// jig writes and the kernel shows as given.
fn unescape(s: &[u8]) -> Vec<u8> {
    let mut octal = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'\\'
            && i + 3 < s.len()
            && s[i + 1..i + 4].iter().all(|b| (b'0'..=b'7').contains(b))
        {
            let v = (s[i + 1] - b'0') * 64 + (s[i + 2] - b'0') * 8 + (s[i + 3] - b'0');
            octal.push(v);
            i += 4;
        } else {
            octal.push(s[i]);
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(octal.len());
    let mut it = octal.into_iter();
    while let Some(b) = it.next() {
        if b == b'\\' {
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(b);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_lower_layers_are_found_through_both_escapings() {
        let id = "322ec178ab45236494e6f46ccb82fc347c266b96517a028b1cbc38c3f4310de5";
        let other = "a".repeat(64);
        // As this kernel shows a launch whose JIG_HOME is `/tmp/ho,me:x`.
        let table = format!(
            "22 1 8:1 / / rw - ext4 /dev/vda rw\n\
             66 43 0:40 / / rw,nosuid - overlay overlay rw,lowerdir=/tmp/ho\\134\\054me\\134:x/store/images/{id}/rootfs,upperdir=/tmp/ho\\134\\054me\\134:x/store/run/upper,userxattr\n\
             67 43 0:41 / /x rw - overlay overlay rw,lowerdir=/elsewhere/images/{other}/rootfs\n\
             68 43 0:42 / /y rw - ext4 /tmp/ho,me:x/store/images/{other}/rootfs rw\n"
        );
        let found = lower_images(table.as_bytes(), Path::new("/tmp/ho,me:x/store/images"));
        assert_eq!(
            found.into_iter().collect::<Vec<_>>(),
            [ImageId::parse(id).unwrap()]
        );
        assert!(lower_images(b"garbage\n - overlay \\\\\\", Path::new("/s/images")).is_empty());
    }

    #[test]
    fn this_process_uses_no_image() {
        let t = tempfile::tempdir().unwrap();
        assert!(in_use(&t.path().join("images")).is_empty());
    }
}
