//! Mountpoints: the skeleton every container has, and the mountpoints of the host
//! binds, made in the launch's upper layer where the image allows it.
//!
//! The skeleton (mountpoints for /proc and the device nodes, /dev/pts, /dev/shm, /tmp,
//! the /dev/fd links) is made in the upper layer at each launch, a few tmpfs
//! operations, rather than kept as an extra overlay layer, which every path lookup in
//! the container would have to pass through. /tmp and /dev/shm need no mount of their
//! own: they are directories of the overlay, whose upper layer is the launch's tmpfs,
//! so what a tool writes there is as ephemeral (and as fast) as on a dedicated tmpfs.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::launch::facts::{InImage, Probes};
use crate::launch::host::Host;
use crate::runtime::spec::{DEVICES, File, Node, Plan};

/// What a launch makes in its upper layer before anything is mounted.
#[derive(Debug, Default)]
pub struct Skeleton {
    /// Directories with their exact modes.
    pub dirs: Vec<(PathBuf, u32)>,
    /// Files with contents (empty for mountpoints).
    pub files: Vec<File>,
    /// Symlinks, as (path, target).
    pub links: Vec<(PathBuf, PathBuf)>,
}

/// The skeleton, and the caller's home as an ephemeral directory (so `cd ~` works and
/// tools can keep caches there for the length of the run) unless the workspace holds
/// it.
pub fn skeleton(host: &Host) -> Skeleton {
    let mut dirs: Vec<(PathBuf, u32)> = [
        ("/proc", 0o755),
        ("/dev", 0o755),
        ("/dev/pts", 0o755),
        ("/dev/shm", 0o1777),
        ("/tmp", 0o1777),
    ]
    .iter()
    .map(|(p, m)| (PathBuf::from(p), *m))
    .collect();
    let files = DEVICES
        .iter()
        .map(|dev| File {
            dst: format!("/dev/{dev}").into(),
            contents: Vec::new(),
            mode: 0o644,
        })
        .collect();
    let links = [
        // The launch's own devpts instance (mounted on /dev/pts) has the ptmx.
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ]
    .iter()
    .map(|(p, t)| (PathBuf::from(p), PathBuf::from(t)))
    .collect();
    if host.home.is_absolute() && host.home != Path::new("/") && !host.cwd.starts_with(&host.home) {
        dirs.push((host.home.clone(), 0o700));
    }
    Skeleton { dirs, files, links }
}

/// Places the mountpoints of the host binds (workspace, home paths, jig's data
/// directory, ...) in the ephemeral layer next to the skeleton, where the image
/// allows it, so the executor mounts onto directories it created itself instead of
/// resolving each target in the image and creating it through the overlay.
///
/// A bind qualifies when every component of its target is, in the image, missing or
/// a directory (a file for a file's target), and no earlier bind covers it. The
/// directories that exist in the image are recreated with their modes; the overlay
/// merges them with the image's, so the container sees the same tree either way.
/// Any other bind (an image symlink on the way, say `/home -> var/home`) keeps its
/// target for the executor to resolve inside the image.
pub fn premake(plan: &mut Plan, probes: &Probes) {
    let mut earlier: Vec<&Path> = Vec::new();
    let mut dirs: Vec<(PathBuf, u32)> = Vec::new();
    let mut files: Vec<File> = Vec::new();
    // What the upper layer already has, as sets: each bind looks up every ancestor.
    let mut made_dirs: HashSet<PathBuf> = plan.dirs.iter().map(|(d, _)| d.clone()).collect();
    let mut others: HashSet<PathBuf> = (plan.files.iter().map(|f| f.dst.clone()))
        .chain(plan.links.iter().map(|(l, _)| l.clone()))
        .collect();
    for b in &plan.binds {
        let covered = earlier.iter().any(|e| b.dst.starts_with(e));
        earlier.push(&b.dst);
        // Whether `p` is already a directory, or another node, of the upper layer.
        let made_dir = |p: &Path| made_dirs.contains(p);
        let made_other = |p: &Path| others.contains(p);
        if covered || !b.dst.is_absolute() || made_dir(&b.dst) || made_other(&b.dst) {
            continue;
        }
        let mut new_dirs = Vec::new();
        let mut missing = false;
        let mut ok = true;
        let ancestors: Vec<&Path> = b.dst.ancestors().skip(1).collect();
        for a in ancestors.into_iter().rev().skip(1) {
            if made_dir(a) {
                continue;
            }
            if made_other(a) {
                ok = false;
                break;
            }
            let mode = if missing {
                0o755
            } else {
                match probes.get(a) {
                    InImage::Missing => {
                        missing = true;
                        0o755
                    }
                    InImage::Dir(mode) => mode,
                    InImage::File | InImage::Other => {
                        ok = false;
                        break;
                    }
                }
            };
            new_dirs.push((a.to_path_buf(), mode));
        }
        if !ok {
            continue;
        }
        let last = if missing {
            InImage::Missing
        } else {
            probes.get(&b.dst)
        };
        match (b.node, last) {
            (Node::Dir | Node::DirAlone, InImage::Missing) => {
                new_dirs.push((b.dst.clone(), 0o755));
            }
            (Node::Dir | Node::DirAlone, InImage::Dir(mode)) => {
                new_dirs.push((b.dst.clone(), mode));
            }
            (Node::File, InImage::Missing | InImage::File) => {
                others.insert(b.dst.clone());
                files.push(File {
                    dst: b.dst.clone(),
                    contents: Vec::new(),
                    mode: 0o644,
                });
            }
            _ => continue,
        }
        made_dirs.extend(new_dirs.iter().map(|(d, _)| d.clone()));
        dirs.extend(new_dirs);
    }
    plan.dirs.extend(dirs);
    plan.files.extend(files);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::plan::testing::*;
    use crate::runtime::spec::Bind;
    use std::collections::BTreeMap;

    fn premade(plan: &Plan, path: &str) -> Option<u32> {
        let p = Path::new(path);
        plan.dirs
            .iter()
            .find(|(d, _)| d == p)
            .map(|(_, m)| *m)
            .or_else(|| plan.files.iter().find(|f| f.dst == p).map(|f| f.mode))
    }

    /// Probes with the given answers; everything else in the image is missing.
    fn image(answers: &[(&str, InImage)], missing: &[&str]) -> Probes {
        let mut m: BTreeMap<PathBuf, InImage> = answers
            .iter()
            .map(|(p, k)| (PathBuf::from(p), *k))
            .collect();
        for p in missing {
            m.insert(PathBuf::from(p), InImage::Missing);
        }
        Probes::from_map(m)
    }

    /// The plan of the fixture recipe from /work/p, with its home paths present.
    fn plan() -> Plan {
        let r = recipe();
        let mut f = facts("/home/alice", "/work/p");
        f.home.insert(".bbrc".into(), Node::File);
        f.home.insert(".bbcache".into(), Node::Dir);
        crate::launch::plan::build(&target(&r, None), &f, cmd()).plan
    }

    #[test]
    fn mountpoints_are_premade_where_the_image_has_directories_or_nothing() {
        let mut plan = plan();
        let before = plan.files.len();
        let probes = image(
            &[("/work", InImage::Dir(0o750))],
            &[
                "/work/p",
                "/home",
                "/home/alice/.bbrc",
                "/home/alice/.bbcache",
            ],
        );
        premake(&mut plan, &probes);
        // The image's /work keeps its mode; the missing cwd is a plain directory.
        assert_eq!(premade(&plan, "/work"), Some(0o750));
        assert_eq!(premade(&plan, "/work/p"), Some(0o755));
        // Home paths: the file's mountpoint is an empty file, the directory's a
        // directory, below the ephemeral home the plan already has.
        assert_eq!(premade(&plan, "/home/alice/.bbrc"), Some(0o644));
        assert_eq!(premade(&plan, "/home/alice/.bbcache"), Some(0o755));
        // The skeleton is not made twice.
        assert_eq!(plan.files.len(), before + 1);
        let dirs: Vec<_> = plan.dirs.iter().map(|(d, _)| d).collect();
        let mut unique = dirs.clone();
        unique.dedup();
        assert_eq!(dirs, unique);
        // Parents come before their children.
        let at = |p: &str| dirs.iter().position(|d| *d == Path::new(p)).unwrap();
        assert!(at("/work") < at("/work/p"));
    }

    #[test]
    fn mountpoints_behind_image_symlinks_or_earlier_binds_are_left_to_the_executor() {
        let mut plan = plan();
        let bind = |p: &str, node| Bind {
            src: p.into(),
            dst: p.into(),
            node,
            readonly: false,
        };
        plan.binds = vec![
            bind("/work/p", Node::Dir),
            bind("/work/p/inner", Node::Dir),
            bind("/srv/data", Node::Dir),
            bind("/opt/conf", Node::File),
            bind("/etc/tool.conf", Node::File),
        ];
        let probes = image(
            &[
                ("/srv", InImage::Other),
                ("/opt", InImage::Dir(0o755)),
                ("/opt/conf", InImage::Dir(0o755)),
                ("/etc", InImage::Dir(0o755)),
                ("/etc/tool.conf", InImage::File),
            ],
            &["/work"],
        );
        premake(&mut plan, &probes);
        assert_eq!(premade(&plan, "/work/p"), Some(0o755));
        // Below an earlier bind: that is the host's directory, not the image's.
        assert_eq!(premade(&plan, "/work/p/inner"), None);
        // /srv is a symlink in the image: resolved inside the image at launch.
        assert_eq!(premade(&plan, "/srv"), None);
        assert_eq!(premade(&plan, "/srv/data"), None);
        // A file bind where the image has a directory stays an error for the executor.
        assert_eq!(premade(&plan, "/opt/conf"), None);
        assert_eq!(premade(&plan, "/opt"), None);
        // A file over the image's file.
        assert_eq!(premade(&plan, "/etc/tool.conf"), Some(0o644));
    }

    #[test]
    fn the_skeleton_has_the_minimal_dev_and_an_ephemeral_home() {
        let layer = skeleton(&host("/home/alice", "/w"));
        assert!(layer.dirs.contains(&(p("/tmp"), 0o1777)));
        assert!(layer.dirs.contains(&(p("/home/alice"), 0o700)));
        assert!(layer.links.contains(&(p("/dev/ptmx"), p("pts/ptmx"))));
        assert!(layer.links.contains(&(p("/dev/fd"), p("/proc/self/fd"))));
        for dev in DEVICES {
            assert!(
                layer
                    .files
                    .iter()
                    .any(|f| f.dst == p(&format!("/dev/{dev}")))
            );
        }
        // A cwd inside the home: the workspace brings the home's directory.
        let inside = skeleton(&host("/home/alice", "/home/alice/src"));
        assert!(!inside.dirs.iter().any(|(d, _)| d == &p("/home/alice")));
    }
}
