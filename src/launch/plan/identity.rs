//! The caller as a user of the image: the image's passwd and group files with the
//! caller's entries in them (same name, ids and home as on the host), and the login
//! shell, so `id -un`, `~` and programs that look the user up agree with the host.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::launch::facts::Embedded;
use crate::launch::host::Host;
use crate::runtime::spec::File;

/// The caller's shell inside: their login shell if the image has it, else /bin/sh.
pub fn shell(image: &Embedded) -> PathBuf {
    image
        .shells_present
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("/bin/sh"))
}

/// /etc/passwd and /etc/group with the caller in them, and the host's resolv.conf and
/// hosts. Copied rather than bound: a few bytes written into the ephemeral layer cost
/// less than a bind plus a read-only remount, and the tool cannot change the host's.
pub fn files(image: &Embedded, host: &Host, shell: &Path) -> Vec<File> {
    let mut files = vec![
        File {
            dst: "/etc/passwd".into(),
            contents: passwd(image.passwd.as_deref(), host, shell),
            mode: 0o644,
        },
        File {
            dst: "/etc/group".into(),
            contents: group(image.group.as_deref(), host),
            mode: 0o644,
        },
    ];
    for (dst, contents) in [
        ("/etc/resolv.conf", &image.resolv_conf),
        ("/etc/hosts", &image.hosts),
    ] {
        if let Some(c) = contents {
            files.push(File {
                dst: dst.into(),
                contents: c.clone(),
                mode: 0o644,
            });
        }
    }
    files
}

/// The image's passwd plus a line for the caller (replacing any entry with the same
/// name or uid, so `id -un` and `~` agree with the host).
pub fn passwd(image: Option<&[u8]>, host: &Host, shell: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for line in image.unwrap_or_default().split(|&b| b == b'\n') {
        let mut fields = line.split(|&b| b == b':');
        let (name, _, uid) = (fields.next(), fields.next(), fields.next());
        if line.is_empty()
            || name == Some(host.user.as_bytes())
            || uid == Some(host.uid.to_string().as_bytes())
        {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    let mut me = String::new();
    let _ = writeln!(
        me,
        "{}:x:{}:{}:{}:{}:{}",
        host.user,
        host.uid,
        host.gid,
        host.user,
        host.home.display(),
        shell.display()
    );
    out.extend_from_slice(me.as_bytes());
    out
}

/// The image's group file plus the caller's primary group.
pub fn group(image: Option<&[u8]>, host: &Host) -> Vec<u8> {
    let name = host.group.clone().unwrap_or_else(|| host.user.clone());
    let mut out = Vec::new();
    for line in image.unwrap_or_default().split(|&b| b == b'\n') {
        let mut fields = line.split(|&b| b == b':');
        let (gname, _, gid) = (fields.next(), fields.next(), fields.next());
        if line.is_empty()
            || gname == Some(name.as_bytes())
            || gid == Some(host.gid.to_string().as_bytes())
        {
            continue;
        }
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("{name}:x:{}:{}\n", host.gid, host.user).as_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::launch::plan::testing::host;

    #[test]
    fn passwd_and_group_get_the_caller() {
        let files = Embedded {
            passwd: Some(b"root:x:0:0:root:/root:/bin/sh\nalice:x:99:99::/nope:/bin/false\nbob:x:1234:1:::\n".to_vec()),
            group: Some(b"root:x:0:\nstaff:x:50:\n".to_vec()),
            shells_present: vec!["/bin/sh".into()],
            ..Default::default()
        };
        let h = host("/home/alice", "/w");
        let pw =
            String::from_utf8(passwd(files.passwd.as_deref(), &h, Path::new("/bin/sh"))).unwrap();
        assert_eq!(
            pw,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1234:1235:alice:/home/alice:/bin/sh\n"
        );
        let gr = String::from_utf8(group(files.group.as_deref(), &h)).unwrap();
        assert_eq!(gr, "root:x:0:\nstaff:x:1235:alice\n");
    }

    #[test]
    fn the_login_shell_is_used_when_the_image_has_it() {
        let image = Embedded {
            shells_present: vec!["/bin/bash".into(), "/bin/sh".into()],
            ..Default::default()
        };
        assert_eq!(shell(&image), Path::new("/bin/bash"));
        assert_eq!(shell(&Embedded::default()), Path::new("/bin/sh"));
        let names: Vec<_> = files(&image, &host("/h", "/w"), Path::new("/bin/sh"))
            .into_iter()
            .map(|f| f.dst)
            .collect();
        assert_eq!(names, [Path::new("/etc/passwd"), Path::new("/etc/group")]);
    }
}
