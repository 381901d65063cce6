//! Graphical sessions: what a recipe with `x11 = true` or `wayland = true` gets.
//!
//! X11: the host's `/tmp/.X11-unix` sockets are bound at the same path, `DISPLAY` is
//! passed, and the cookies for that display from `$XAUTHORITY` (or `~/.Xauthority`)
//! are copied into a file inside with their family rewritten to FamilyWild. Local
//! cookies are tied to the host name, and a client only finds its cookie when the
//! names match; FamilyWild matches any. The IPC namespace stays the host's, so MIT-SHM
//! keeps working.
//!
//! Wayland: the compositor socket `$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY` is bound at the
//! same path and both variables are passed.

use std::path::{Path, PathBuf};

use super::host::Host;
use crate::runtime::spec::{Bind, File, Node};

/// Where the rewritten X cookie file is placed inside the container.
pub const XAUTH_INSIDE: &str = "/tmp/.jig-xauthority";

/// What a graphical recipe adds to a launch.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Session {
    /// Sockets to bind.
    pub binds: Vec<Bind>,
    /// Files to write (the cookie file).
    pub files: Vec<File>,
    /// Directories to create (the Wayland runtime dir).
    pub dirs: Vec<PathBuf>,
    /// Variables to set.
    pub env: Vec<(String, String)>,
}

/// The X11 display number of a `DISPLAY` value for a local server (`:0`, `:1.0`,
/// `unix:0`), or `None` for a remote one (`host:0`), which needs no socket.
pub fn local_display_number(display: &str) -> Option<&str> {
    let (host, rest) = display.rsplit_once(':')?;
    if !(host.is_empty() || host == "unix") {
        return None;
    }
    let number = rest.split('.').next()?;
    (!number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())).then_some(number)
}

/// Keeps the Xauthority entries for display `number` (or for any display) and
/// rewrites their family to FamilyWild (0xffff). Malformed input yields what parsed.
pub fn wild_cookies(xauth: &[u8], number: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = xauth;
    let take = |r: &mut &[u8], n: usize| -> Option<Vec<u8>> {
        let v = r.get(..n)?.to_vec();
        *r = &r[n..];
        Some(v)
    };
    let field = |r: &mut &[u8]| -> Option<Vec<u8>> {
        let len = take(r, 2)?;
        take(r, u16::from_be_bytes([len[0], len[1]]) as usize)
    };
    while !rest.is_empty() {
        let entry = (|| {
            let _family = take(&mut rest, 2)?;
            let _address = field(&mut rest)?;
            let num = field(&mut rest)?;
            let name = field(&mut rest)?;
            let data = field(&mut rest)?;
            Some((num, name, data))
        })();
        let Some((num, name, data)) = entry else {
            break;
        };
        if !num.is_empty() && num != number.as_bytes() {
            continue;
        }
        out.extend_from_slice(&0xffffu16.to_be_bytes());
        for f in [&b""[..], &num, &name, &data] {
            out.extend_from_slice(&(f.len() as u16).to_be_bytes());
            out.extend_from_slice(f);
        }
    }
    out
}

/// The X11 part of a session. `xauth` is the content of the host's cookie file;
/// `sockets` says whether the host has `/tmp/.X11-unix`.
pub fn x11(host: &Host, xauth: Option<&[u8]>, sockets: bool) -> Session {
    let mut s = Session::default();
    let Some(display) = host.var("DISPLAY").and_then(|d| d.to_str()) else {
        return s;
    };
    s.env.push(("DISPLAY".into(), display.into()));
    let Some(number) = local_display_number(display) else {
        return s;
    };
    if sockets {
        s.binds.push(Bind {
            src: "/tmp/.X11-unix".into(),
            dst: "/tmp/.X11-unix".into(),
            node: Node::Dir,
            readonly: false,
        });
    }
    if let Some(xauth) = xauth {
        s.files.push(File {
            dst: XAUTH_INSIDE.into(),
            contents: wild_cookies(xauth, number),
            mode: 0o600,
        });
        s.env.push(("XAUTHORITY".into(), XAUTH_INSIDE.into()));
    }
    s
}

/// Path of the host's X cookie file.
pub fn xauthority_path(host: &Host) -> PathBuf {
    host.var("XAUTHORITY")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| host.home.join(".Xauthority"))
}

/// The Wayland compositor's socket the environment names, if any.
pub fn wayland_socket(host: &Host) -> Option<PathBuf> {
    let name = host.var("WAYLAND_DISPLAY").filter(|n| !n.is_empty())?;
    if Path::new(name).is_absolute() {
        return Some(PathBuf::from(name));
    }
    Some(PathBuf::from(host.var("XDG_RUNTIME_DIR")?).join(name))
}

/// The Wayland part of a session; `exists` says whether [`wayland_socket`] is there.
pub fn wayland(host: &Host, exists: bool) -> Session {
    let mut s = Session::default();
    let (Some(socket), true) = (wayland_socket(host), exists) else {
        return s;
    };
    let name = host
        .var("WAYLAND_DISPLAY")
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let runtime = host.var("XDG_RUNTIME_DIR").map(PathBuf::from);
    if let Some(dir) = &runtime {
        s.dirs.push(dir.clone());
        s.env
            .push(("XDG_RUNTIME_DIR".into(), dir.display().to_string()));
    }
    s.env.push(("WAYLAND_DISPLAY".into(), name));
    s.binds.push(Bind {
        src: socket.clone(),
        dst: socket,
        node: Node::File,
        readonly: false,
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(family: u16, addr: &[u8], num: &[u8], name: &[u8], data: &[u8]) -> Vec<u8> {
        let mut v = family.to_be_bytes().to_vec();
        for f in [addr, num, name, data] {
            v.extend_from_slice(&(f.len() as u16).to_be_bytes());
            v.extend_from_slice(f);
        }
        v
    }

    #[test]
    fn display_numbers() {
        assert_eq!(local_display_number(":0"), Some("0"));
        assert_eq!(local_display_number(":12.0"), Some("12"));
        assert_eq!(local_display_number("unix:3"), Some("3"));
        assert_eq!(local_display_number("remote:0"), None);
        assert_eq!(local_display_number("garbage"), None);
    }

    #[test]
    fn cookies_are_filtered_and_made_wild() {
        let cookie = b"0123456789abcdef";
        let mut file = entry(256, b"myhost", b"0", b"MIT-MAGIC-COOKIE-1", cookie);
        file.extend(entry(256, b"myhost", b"1", b"MIT-MAGIC-COOKIE-1", b"other"));
        let out = wild_cookies(&file, "0");
        assert_eq!(out, entry(0xffff, b"", b"0", b"MIT-MAGIC-COOKIE-1", cookie));
        // Truncated input: keeps what parsed, no panic.
        assert_eq!(wild_cookies(&file[..file.len() - 3], "0"), out);
    }
}
