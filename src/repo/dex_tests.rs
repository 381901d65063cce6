//! Unit tests of `dex.rs`.
use super::*;

fn dex(labels: &str) -> String {
    format!(
        "FROM debian:bookworm\nENTRYPOINT [\"/usr/bin/tool\"]\nLABEL org.dockerland.dex.api=\"v1\" {labels}\n"
    )
}

#[test]
fn labels_map_onto_recipe_fields() {
    let text = dex("org.dockerland.dex.docker_envars=\"GIT_* TZ\" \
         org.dockerland.dex.docker_volumes=\"$(git rev-parse --show-toplevel):/repo ~/.gitconfig:~/.gitconfig:ro ~/.cache/t:/cache\" \
         org.dockerland.dex.docker_home=\"~\" org.dockerland.dex.window=\"true\" \
         org.dockerland.dex.host_paths=\"ro\" org.dockerland.dex.docker_flags=\"-it --env=MODE=x -e TOKEN --network=host\"");
    let f = fields(&text, "Dockerfile").unwrap();
    assert_eq!(f.shims, ["tool"]);
    assert_eq!(f.pass, ["GIT_*", "TZ", "TOKEN"]);
    assert_eq!(f.home, [".gitconfig"]);
    assert_eq!(f.home_rw, [".cache/t"]);
    assert_eq!(f.args.as_deref(), Some("ro"));
    assert_eq!(f.set["MODE"], "x");
    assert!(f.x11);
    assert!(
        f.notes.iter().any(|n| n.contains("workspace")),
        "{:?}",
        f.notes
    );
}

#[test]
fn labels_asking_for_more_are_refused() {
    for (label, why) in [
        ("docker_volumes=\"/etc/ssh:/etc/ssh:ro\"", "not /etc/ssh"),
        ("docker_volumes=\"$(cat /etc/passwd):/x\"", "shell"),
        ("docker_envars=\"$(id)\"", "shell"),
        ("docker_devices=\"/dev/snd\"", "no host devices"),
        ("docker_flags=\"--privileged\"", "--privileged"),
        ("docker_flags=\"-e X=$(id)\"", "shell"),
        ("host_docker=\"true\"", "Docker socket"),
        ("docker_home=\"/root\"", "home path"),
    ] {
        let text = dex(&format!("org.dockerland.dex.{label}"));
        let err = format!("{:#}", fields(&text, "Dockerfile").unwrap_err());
        assert!(
            err.contains(why) && err.contains("Dockerfile: label org.dockerland.dex."),
            "{label}: {err}"
        );
    }
    let err = format!(
        "{:#}",
        fields("FROM x\nLABEL org.dockerland.dex.api=v2\n", "D").unwrap_err()
    );
    assert!(err.contains("v1"), "{err}");
}

#[test]
fn versions_become_a_recipe() {
    let latest = dex("org.dockerland.dex.window=\"true\"");
    let old = "FROM debian:bullseye\nENTRYPOINT [\"tool\"]\n";
    let (r, _) = recipe(
        "tool",
        &[
            Version {
                version: "latest".into(),
                path: "dex-images/tool/Dockerfile".into(),
                context: Some("dex-images/tool".into()),
                digest: Some("git-tree:abc".into()),
                text: &latest,
            },
            Version {
                version: "1.0".into(),
                path: "dex-images/tool/Dockerfile-1.0".into(),
                context: Some("dex-images/tool".into()),
                digest: Some("git-tree:abc".into()),
                text: old,
            },
        ],
    )
    .unwrap();
    assert_eq!(r.offered(), ["latest", "1.0"]);
    assert!(r.x11);
    let v1 = r.for_version("1.0").unwrap();
    assert!(!v1.x11);
    assert_eq!(
        v1.image.from.to_string(),
        "dockerfile:dex-images/tool/Dockerfile-1.0"
    );
    assert_eq!(v1.tool.shims[0].as_str(), "tool");
}
