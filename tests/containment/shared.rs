//! Files shared across images (`store/files/sha256`, hard links): a tool writing to a
//! shared file inside its container, or a build step writing to one, changes its own
//! copy only; the stored inode, and every other image linking to it, stay as they were.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use super::common::tar::Tar;
use super::*;

/// The rootfs of the image `jig which TOOL` reports.
fn rootfs_of(env: &Env, tool: &str) -> PathBuf {
    let id = env.image_id(tool);
    env.jig_home()
        .join("store/images")
        .join(id.strip_prefix("sha256:").unwrap())
        .join("rootfs")
}

#[test]
fn a_tool_or_a_build_step_writing_a_shared_file_changes_no_other_image_and_not_the_store() {
    for env in Env::all() {
        let l = env.label();
        let dir = shared_tempdir("shared-");
        // Two archives with the same /shared (content, mode, owner, times), which
        // differ elsewhere, so they are two images. (A `rootfs:DIR` copy gets new
        // times, so its files share nothing with another import.)
        let archive = |name: &str, extra: &str| {
            let path = dir.path().join(format!("{name}.tar"));
            let tar = Tar::busybox()
                .file("shared", b"shared\n")
                .file(extra, b"x\n")
                .finish();
            fs::write(&path, tar).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
            path
        };
        let (a, b) = (archive("a", "only-a"), archive("b", "only-b"));
        let recipe = |name: &str, root: &Path, image: &str, shims: &str| {
            let path = env.dir().join(format!("{name}.toml"));
            env.write(
                &path,
                format!(
                    "name = \"{name}\"\nversion = \"1\"\n[image]\nfrom = \"rootfs:{}\"\n{image}\n[tool]\nshims = [{shims}]\n",
                    root.display()
                ),
            );
            path
        };
        let ra = recipe("sa", &a, "", "\"sh\"");
        let rb = recipe("sb", &b, "", "\"cat\"");
        for r in [&ra, &rb] {
            assert_ok(&env.jig(&["install", r.to_str().unwrap()]), &l);
        }
        let (fa, fb) = (rootfs_of(&env, "sh"), rootfs_of(&env, "cat"));
        assert_ne!(fa, fb, "{l}");
        let (ma, mb) = (
            fs::metadata(fa.join("shared")).unwrap(),
            fs::metadata(fb.join("shared")).unwrap(),
        );
        // The precondition: one inode, in both images and in the file store.
        assert_eq!((ma.dev(), ma.ino()), (mb.dev(), mb.ino()), "{l} not shared");
        assert!(ma.nlink() >= 3, "{l} links: {}", ma.nlink());

        // The attack: write the shared file in place, and through the store's path
        // (jig's data directory is visible to nested shims).
        let through = fb.join("shared");
        let out = env.sh(&format!(
            "echo pwned > /shared; cat /shared; echo pwned >> {} 2>/dev/null || echo refused",
            through.display()
        ));
        assert_ok(&out, &l);
        // Positive control: the tool's own view changed (copy-up in its upper layer).
        assert_eq!(stdout(&out), "pwned\nrefused\n", "{l}");
        for f in [&fa, &fb] {
            assert_eq!(
                fs::read_to_string(f.join("shared")).unwrap(),
                "shared\n",
                "{l} {}",
                f.display()
            );
        }
        assert_eq!(stdout(&env.shim("cat", &["/shared"])), "shared\n", "{l}");
        // And the next launch of the same image starts from the stored file again.
        assert_eq!(stdout(&env.sh("cat /shared")), "shared\n", "{l}");

        // A build step on the same root writes the file: its image gets its own copy.
        let rc = recipe(
            "sc",
            &a,
            "run = [\"echo built > /shared\", \"cat /shared > /seen\"]",
            "\"ls\"",
        );
        assert_ok(&env.jig(&["install", rc.to_str().unwrap()]), &l);
        let fc = rootfs_of(&env, "ls");
        assert_eq!(
            fs::read_to_string(fc.join("seen")).unwrap(),
            "built\n",
            "{l}"
        );
        assert_eq!(
            fs::read_to_string(fa.join("shared")).unwrap(),
            "shared\n",
            "{l} the build step wrote into another image"
        );
        let out = env.jig(&["verify"]);
        assert_ok(&out, &format!("{l} verify"));
    }
}
