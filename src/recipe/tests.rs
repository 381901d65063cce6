use super::*;

const BB: &str = r#"
name = "bb"
version = "1.35"
description = "busybox test tool"

[image]
from = "rootfs:rootfs"

[tool]
shims = ["sh", "echo", "id", "pwd", "cat", "touch", "ls", "sleep", "env", "tty"]

[mounts]
home = [".bbrc"]
home_rw = [".bbcache"]

[env]
pass = ["BB_*"]
set = { BB_MODE = "test" }
"#;

#[test]
fn parses_the_documented_form() {
    let r = parse(BB, "bb.toml").unwrap();
    assert_eq!(r.name.as_str(), "bb");
    assert_eq!(r.image.from, Source::Rootfs("rootfs".into()));
    assert_eq!(r.tool.shims.len(), 10);
    assert_eq!(r.mounts.home_rw[0].as_str(), ".bbcache");
    assert_eq!(r.env.set.values().next().unwrap(), "test");
}

#[test]
fn round_trips_through_toml() {
    let r = parse(BB, "bb.toml").unwrap();
    let again: Recipe = toml::from_str(&toml::to_string(&r).unwrap()).unwrap();
    assert_eq!(r, again);
}

#[test]
fn unknown_key_is_an_error_with_position() {
    let text = BB.replace("[mounts]", "[mounts]\nhomee = [\"x\"]");
    let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
    assert!(err.contains("bb.toml"), "{err}");
    assert!(err.contains("line 13, column 1"), "{err}");
    assert!(err.contains("unknown field `homee`"), "{err}");
}

#[test]
fn bad_values_are_reported_where_they_are() {
    let text = BB.replace("\".bbrc\"", "\"../.ssh\"");
    let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
    assert!(err.contains("line 13"), "{err}");
    assert!(err.contains("'..'"), "{err}");

    let text = BB.replace("rootfs:rootfs", "docker:x");
    let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
    assert!(
        err.contains("line 7") && err.contains("unknown image source"),
        "{err}"
    );

    let text = BB.replace("\"echo\"", "\"ec/ho\"");
    let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
    assert!(
        err.contains("line 10") && err.contains("invalid name"),
        "{err}"
    );

    let text = BB.replace("name = \"bb\"\n", "");
    let err = format!("{:#}", parse(&text, "bb.toml").unwrap_err());
    assert!(err.contains("missing field `name`"), "{err}");
}

#[test]
fn only_oci_recipes_may_omit_the_tool() {
    let oci = "name = \"a\"\nversion = \"1\"\n[image]\nfrom = \"oci:alpine:3.20\"\n";
    let r = parse(oci, "a.toml").unwrap();
    assert!(r.tool.shims.is_empty() && r.tool.command.is_none());
    let rootfs = oci.replace("oci:alpine:3.20", "rootfs:r");
    let err = format!("{:#}", parse(&rootfs, "a.toml").unwrap_err());
    assert!(err.contains("needs at least one entry in shims"), "{err}");
}

#[test]
fn duplicate_shim_is_rejected() {
    let text = BB.replace("\"echo\", \"id\"", "\"echo\", \"echo\"");
    assert!(parse(&text, "bb.toml").is_err());
}

const BBV: &str = r#"
name = "bbv"
version = "1"
[image]
from = "rootfs:v1"
[tool]
shims = ["cat"]
[mounts]
home = [".bbrc"]
[versions."2".image]
from = "rootfs:v2"
[versions."2.10"]
description = "two-ten"
[versions."2.10".mounts]
home_rw = [".cache"]
[versions."2.9".tool]
shims = ["cat", "ls"]
"#;

#[test]
fn versions_override_top_level_keys() {
    let r = parse(BBV, "bbv.toml").unwrap();
    assert_eq!(r.offered(), ["1", "2", "2.9", "2.10"]);
    let v1 = r.for_version("1").unwrap();
    assert!(v1.versions.is_empty());
    assert_eq!(v1.image.from, Source::Rootfs("v1".into()));
    let v2 = r.for_version("2").unwrap();
    assert_eq!(v2.version.as_str(), "2");
    assert_eq!(v2.image.from, Source::Rootfs("v2".into()));
    assert_eq!(v2.tool, v1.tool);
    // Keys of a table not named in the override stay.
    let v210 = r.for_version("2.10").unwrap();
    assert_eq!(v210.image.from, Source::Rootfs("v1".into()));
    assert_eq!(v210.mounts.home, v1.mounts.home);
    assert_eq!(v210.mounts.home_rw[0].as_str(), ".cache");
    assert_eq!(v210.description, "two-ten");
    assert_eq!(r.for_version("2.9").unwrap().tool.shims.len(), 2);
    assert_ne!(v1.content_hash(), v2.content_hash());
    let err = format!("{:#}", r.for_version("3").unwrap_err());
    assert!(err.contains("offers: 1, 2, 2.9, 2.10"), "{err}");
}

#[test]
fn version_requests_pick_exact_then_highest_prefix() {
    let r = parse(BBV, "bbv.toml").unwrap();
    assert_eq!(r.select("2").unwrap(), "2");
    assert_eq!(r.select("2.9").unwrap(), "2.9");
    let text = BBV.replace("[versions.\"2\".image]", "[versions.\"3\".image]");
    let r = parse(&text, "bbv.toml").unwrap();
    assert_eq!(r.select("2").unwrap(), "2.10");
    assert!(r.select("4").is_err());
}

#[test]
fn bad_version_tables_are_errors() {
    let text = BBV.replace("from = \"rootfs:v2\"", "form = \"rootfs:v2\"");
    let err = format!("{:#}", parse(&text, "bbv.toml").unwrap_err());
    assert!(
        err.contains("[versions.\"2\"]") && err.contains("form"),
        "{err}"
    );
    let text = BBV.replace("[versions.\"2\".image]", "[versions.\"1\".image]");
    assert!(parse(&text, "bbv.toml").is_err());
    let text = BBV.replace("description = \"two-ten\"", "descr = 1");
    let err = format!("{:#}", parse(&text, "bbv.toml").unwrap_err());
    assert!(err.contains("line 13") && err.contains("descr"), "{err}");
}

#[test]
fn paths_and_names() {
    for p in ["./x.toml", "x.toml", "dir/x.toml", "/abs/x", "./x", "../x"] {
        assert!(is_path(p), "{p}");
    }
    for n in ["git", "repo/git", "git@1.0", "repo/git@1.0"] {
        assert!(!is_path(n), "{n}");
    }
    let e = format!("{:#}", load("repo/git").unwrap_err());
    assert!(e.contains("no built-in recipe"), "{e}");
}

#[test]
fn origins_keep_their_json_form() {
    let b = Origin::Builtin { name: "git".into() };
    assert_eq!(
        serde_json::to_string(&b).unwrap(),
        r#"{"kind":"builtin","name":"git"}"#
    );
    let r = Origin::Repo {
        repo: "r".into(),
        commit: "c".into(),
        name: "t".into(),
    };
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(
        json,
        r#"{"kind":"repo","repo":"r","commit":"c","name":"t"}"#
    );
    assert_eq!(serde_json::from_str::<Origin>(&json).unwrap(), r);
}

#[test]
fn builtin_recipes_parse() {
    for (name, _) in BUILTIN {
        let l = load(name).unwrap();
        assert_eq!(l.recipe.name.as_str(), *name);
    }
}

/// The built-in Debian recipes default to the current stable release and keep the
/// previous one's build as a version, every version resolving to a valid recipe.
#[test]
fn builtin_debian_recipes_default_to_trixie_and_offer_bookworm() {
    for (name, _) in BUILTIN {
        let r = load(name).unwrap().recipe;
        if !matches!(r.image.from, Source::Debian(_)) {
            continue;
        }
        assert_eq!(r.image.from.to_string(), "debian:trixie", "{name}");
        let offered = r.offered();
        assert_eq!(offered.len(), 2, "{name}: {offered:?}");
        let old = r.for_version(&offered[1]).unwrap();
        assert_eq!(old.image.from.to_string(), "debian:bookworm", "{name}");
        assert_eq!(old.image.packages, r.image.packages, "{name}");
        assert!(old.description.contains("bookworm"), "{name}");
        assert!(r.description.contains("trixie"), "{name}");
    }
    let git = load("git").unwrap().recipe;
    assert_eq!(git.offered(), ["2.47", "2.39"]);
    assert_eq!(load("npm").unwrap().recipe.offered(), ["20", "18"]);
    assert_eq!(git.image.slim_keep[0].as_str(), "/usr/share/man/man*/git*");
}

#[test]
fn slim_keep_takes_globs_below_what_slim_removes() {
    let recipe = |image: &str| {
        format!("name = \"t\"\nversion = \"1\"\n[image]\n{image}\n[tool]\nshims = [\"t\"]\n")
    };
    let ok = recipe(
        "from = \"debian:trixie\"\nslim = true\nslim_keep = [\"/usr/share/man/man*/git*\", \"/usr/share/doc/git/*\"]",
    );
    let r = parse(&ok, "t.toml").unwrap();
    assert_eq!(r.image.slim_keep.len(), 2);
    for bad in [
        "/etc/passwd",
        "/usr/share/man/",
        "usr/share/man/x",
        "/usr/share/man/../../../etc",
        "/usr/share/man/man?/git*",
        "/usr/share/man/x\\npath-exclude=/usr/*",
        "/usr/share/man/a b",
    ] {
        let text = recipe(&format!(
            "from = \"debian:trixie\"\nslim = true\nslim_keep = [{bad:?}]"
        ));
        let e = format!("{:#}", parse(&text, "t.toml").unwrap_err());
        assert!(
            e.contains("invalid slim_keep path") && e.contains("line 6"),
            "{bad}: {e}"
        );
    }
    let e = parse(
        &recipe("from = \"debian:trixie\"\nslim_keep = [\"/usr/share/man/x\"]"),
        "t.toml",
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("needs slim = true"), "{e:#}");
    let e = parse(
        &recipe("from = \"rootfs:r\"\nslim = true\nslim_keep = [\"/usr/share/man/x\"]"),
        "t.toml",
    )
    .unwrap_err();
    assert!(format!("{e:#}").contains("slim_keep apply to"), "{e:#}");
}
