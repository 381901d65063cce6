//! Real-world Dockerfiles (`testdata/`), parsed and resolved end to end.

use std::collections::BTreeMap;

use super::instruction::{Command, Instruction, Source};
use super::op::{Base, CopyFrom, CopySource, Exec, Op, Resolved};
use super::resolve::host_platform;
use super::{Dockerfile, Note};

const DEX_GIT: &str = include_str!("testdata/dex-git.Dockerfile");
const DEX_XEYES: &str = include_str!("testdata/dex-xeyes.Dockerfile");
const DEBIAN: &str = include_str!("testdata/debian-multistage.Dockerfile");
const BACKTICK: &str = include_str!("testdata/escape-backtick.Dockerfile");
const HEREDOC: &str = include_str!("testdata/heredoc.Dockerfile");
const LEGACY: &str = include_str!("testdata/legacy.Dockerfile");

fn parse(text: &str) -> Dockerfile {
    Dockerfile::parse(text, "Dockerfile").unwrap_or_else(|e| panic!("{e}"))
}

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn resolve(text: &str, build_args: &[(&str, &str)]) -> Resolved {
    parse(text)
        .resolve(&args(build_args))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn ops(r: &Resolved, stage: usize) -> Vec<&Op> {
    r.stages[stage].steps.iter().map(|s| &s.op).collect()
}

fn sh(script: &str) -> Exec {
    Exec::Argv(vec!["/bin/sh".into(), "-c".into(), script.into()])
}

fn has_note(notes: &[Note], line: Option<usize>, part: &str) -> bool {
    notes
        .iter()
        .any(|n| n.line == line && n.message.contains(part))
}

#[test]
fn dex_git_image() {
    let df = parse(DEX_GIT);
    assert_eq!(df.stages.len(), 1);
    let stage = &df.stages[0];
    assert_eq!(stage.base.text, "alpine:3.4");
    assert_eq!(stage.steps.len(), 3);
    let Instruction::Run(run) = &stage.steps[0].instruction else {
        panic!()
    };
    assert_eq!(
        run.command,
        Command::Shell(
            "apk add --no-cache     git     openssh-client   && rm -rf /var/cache/apk/*".into()
        )
    );
    assert_eq!(
        stage.steps[1].instruction,
        Instruction::Entrypoint(Command::Exec(vec!["git".into()]))
    );
    assert_eq!(stage.steps[2].line, 19);
    let Instruction::Label(labels) = &stage.steps[2].instruction else {
        panic!()
    };
    assert_eq!(labels.len(), 5);
    assert_eq!(labels[0].0.text, "org.dockerland.dex.api");
    assert_eq!(labels[0].1.pos.line, 20);

    let r = resolve(DEX_GIT, &[]);
    assert_eq!(r.last().base, Base::Image("alpine:3.4".into()));
    let dex = r.dex_labels();
    assert_eq!(dex.api.as_ref().unwrap().raw, "v1");
    assert_eq!(
        dex.docker_envars.as_ref().unwrap().words,
        ["GIT_*", "SSH_AUTH_SOCK"]
    );
    assert_eq!(dex.docker_home.as_ref().unwrap().raw, "~");
    let volumes = dex.docker_volumes.as_ref().unwrap();
    assert_eq!(
        volumes.raw,
        "$(git rev-parse --show-toplevel):/repo /etc/ssh:/etc/ssh:ro"
    );
    assert!(volumes.needs_shell);
    assert_eq!(dex.needing_shell(), ["docker_volumes"]);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

#[test]
fn dex_xeyes_image_joins_a_continuation_without_a_space() {
    let r = resolve(DEX_XEYES, &[]);
    assert_eq!(
        ops(&r, 0)[0],
        &Op::Run {
            exec: sh("apk add --update     xeyes  && rm -rf /var/cache/apk/*"),
            env: vec![],
        }
    );
    let dex = r.dex_labels();
    assert_eq!(dex.window.as_ref().unwrap().raw, "true");
    assert_eq!(
        dex.docker_flags.as_ref().unwrap().words,
        ["--interactive", "--tty"]
    );
    assert!(dex.needing_shell().is_empty());
}

#[test]
fn official_style_multistage_debian() {
    let df = parse(DEBIAN);
    let names: Vec<_> = df.meta_args.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["DEBIAN_SUITE", "GO_VERSION"]);
    assert_eq!(df.stages[0].name.as_deref(), Some("builder"));
    let Instruction::Run(run) = &df.stages[0].steps[3].instruction else {
        panic!()
    };
    let Command::Shell(text) = &run.command else {
        panic!()
    };
    assert!(text.contains("\t\tcurl \t\tgcc \t; \trm -rf"), "{text:?}");
    assert!(
        !text.contains("cgo"),
        "the comment line inside the continuation is dropped"
    );

    let (arch, _) = host_platform();
    let r = resolve(DEBIAN, &[("DEBIAN_SUITE", "trixie"), ("UNUSED", "1")]);
    assert_eq!(r.stages[0].base, Base::Image("debian:trixie-slim".into()));
    assert_eq!(r.stages[1].base, Base::Image("debian:trixie-slim".into()));
    let builder = ops(&r, 0);
    let Op::Run {
        exec: Exec::Argv(argv),
        env,
    } = builder[2]
    else {
        panic!()
    };
    assert!(
        argv[2].contains("go${GO_VERSION}.linux-${TARGETARCH}"),
        "RUN is left to the shell"
    );
    assert_eq!(
        env,
        &[
            ("GO_VERSION".to_owned(), "1.22.5".to_owned()),
            ("TARGETARCH".to_owned(), arch.to_owned())
        ]
    );
    assert_eq!(builder[3], &Op::Workdir("/go/src/app".into()));
    let Op::Copy(copy) = builder[4] else { panic!() };
    assert_eq!((copy.chmod, copy.dest.as_str()), (Some(0o644), "./"));
    assert_eq!(
        copy.sources,
        [
            CopySource::Path("go.mod".into()),
            CopySource::Path("go.sum".into())
        ]
    );

    let last = ops(&r, 1);
    let Op::Copy(copy) = last[1] else { panic!() };
    assert_eq!(copy.from, Some(CopyFrom::Stage(0)));
    assert_eq!(
        last[1].canonical(),
        r#"COPY {"checksum":null,"chmod":null,"dest":"/usr/local/bin/app","from":{"stage":0},"sources":[{"path":"/out/app"}]}"#
    );
    assert_eq!(last[2], &Op::User("nobody".into()));
    assert_eq!(last[3], &Op::Cmd(vec!["app".into(), "--serve".into()]));
    // GO_VERSION is global and not declared again in the last stage: empty, as in Docker.
    assert_eq!(r.last().labels["org.opencontainers.image.version"], "");
    assert_eq!(r.needed(1), [0, 1]);
    assert_eq!(r.stage("BUILDER"), Some(0));

    for (line, part) in [
        (Some(1), "syntax directive"),
        (Some(24), "type=cache"),
        (Some(30), "--chown has no effect"),
        (Some(32), "EXPOSE has no effect"),
        (Some(28), "$GO_VERSION is not set"),
        (None, "build argument UNUSED is not used"),
    ] {
        assert!(has_note(&r.notes, line, part), "{part}: {:#?}", r.notes);
    }
}

#[test]
fn canonical_texts_follow_the_arguments_not_the_layout() {
    let a = resolve(DEBIAN, &[]);
    let moved = DEBIAN.replace("ARG TARGETARCH\n", "\n# a comment\nARG TARGETARCH\n\n");
    let b = resolve(&moved, &[]);
    let texts = |r: &Resolved| -> Vec<String> {
        r.stages[0].steps.iter().map(|s| s.op.canonical()).collect()
    };
    assert_eq!(texts(&a), texts(&b));
    assert_ne!(a.stages[0].steps[2].line, b.stages[0].steps[2].line);
    let c = resolve(DEBIAN, &[("GO_VERSION", "1.23.0")]);
    assert_ne!(
        texts(&a)[2],
        texts(&c)[2],
        "a RUN's key holds the ARGs it sees"
    );
    assert_ne!(
        texts(&a)[1],
        texts(&c)[1],
        "every RUN after ARG GO_VERSION sees it"
    );
    assert_eq!(texts(&a)[0], texts(&c)[0], "ENV does not use it");
    assert!(
        texts(&a)[0].starts_with(r#"ENV [["DEBIAN_FRONTEND","noninteractive"],["GOPATH","/go"]]"#)
    );
    assert_eq!(
        a.stages[0].base.canonical(),
        r#"FROM {"image":"debian:bookworm-slim"}"#
    );
}

#[test]
fn backtick_escape_directive() {
    let df = parse(BACKTICK);
    assert_eq!(df.escape, '`');
    let r = df.resolve(&BTreeMap::new()).unwrap();
    let steps = ops(&r, 0);
    assert_eq!(
        steps[0],
        &Op::Env(vec![
            ("GREETING".into(), "hello world".into()),
            ("TARGET".into(), "/srv/app".into())
        ])
    );
    assert_eq!(
        steps[1],
        &Op::Run {
            exec: sh(r#"echo "C:\path\not\escaped" > /tmp/p &&     mkdir -p $TARGET"#),
            env: vec![]
        }
    );
    let Op::Copy(copy) = steps[2] else { panic!() };
    assert_eq!(copy.dest, "/srv/app/");
}

#[test]
fn heredocs() {
    let df = parse(HEREDOC);
    let steps = &df.stages[0].steps;
    let Instruction::Run(first) = &steps[1].instruction else {
        panic!()
    };
    assert_eq!(
        first.heredocs[0].content,
        "set -eux\napt-get update\napt-get install -y --no-install-recommends python3\n"
    );
    assert_eq!(steps[2].line, 9);
    let Instruction::Copy(copy) = &steps[6].instruction else {
        panic!()
    };
    let Source::Heredoc(h) = &copy.sources[0] else {
        panic!()
    };
    assert!(!h.expand && h.chomp);

    let r = resolve(HEREDOC, &[("USERNAME", "ann")]);
    let steps = ops(&r, 0);
    let env = vec![("USERNAME".to_owned(), "ann".to_owned())];
    assert_eq!(
        steps[0],
        &Op::Run {
            exec: sh(
                "set -eux\napt-get update\napt-get install -y --no-install-recommends python3\n"
            ),
            env: env.clone()
        }
    );
    assert_eq!(
        steps[1],
        &Op::Run {
            exec: sh("<<EOT bash\n  set -ex\n  echo \"bash reads this\"\nEOT"),
            env: env.clone()
        }
    );
    assert_eq!(
        steps[2],
        &Op::Run {
            exec: Exec::Script("#!/usr/bin/env python3\nprint(\"hello\")\n".into()),
            env: env.clone()
        }
    );
    assert_eq!(
        steps[3],
        &Op::Run {
            exec: sh(
                "<<FILE1 cat > /file1 && <<FILE2 cat > /file2\nI am\nfirst\nFILE1\nI am\nsecond\nFILE2"
            ),
            env: env.clone()
        }
    );
    let Op::Copy(motd) = steps[4] else { panic!() };
    assert_eq!(
        motd.sources,
        [CopySource::Inline {
            name: "EOF".into(),
            content: "Welcome, ann!\n".into()
        }]
    );
    assert_eq!(motd.dest, "/etc/motd");
    let Op::Copy(greet) = steps[5] else { panic!() };
    assert_eq!(greet.chmod, Some(0o755));
    assert_eq!(
        greet.sources,
        [CopySource::Inline {
            name: "EOT".into(),
            content: "#!/bin/sh\necho \"hello $1\"\n".into()
        }]
    );
    assert_eq!(
        steps[6],
        &Op::Run {
            exec: sh("python3 <<EOF\nprint(1)\nEOF"),
            env
        }
    );
}

#[test]
fn legacy_forms_and_ignored_instructions() {
    let r = resolve(LEGACY, &[]);
    let steps = ops(&r, 0);
    assert_eq!(steps[0], &Op::Env(vec![("HOME".into(), "/root".into())]));
    assert_eq!(
        steps[1],
        &Op::Env(vec![("PATH".into(), "/usr/local/bin:".into())])
    );
    assert_eq!(steps[2], &Op::Env(vec![("LANG".into(), "C.UTF-8".into())]));
    assert_eq!(
        steps[3],
        &Op::Run {
            exec: sh(
                "apt-get update && apt-get install -y     build-essential     git  && rm -rf /var/lib/apt/lists/*"
            ),
            env: vec![]
        }
    );
    assert_eq!(steps[4], &Op::Workdir("/root".into()));
    assert_eq!(
        steps[5],
        &Op::Cmd(vec!["/bin/sh".into(), "-c".into(), "bash".into()])
    );
    assert_eq!(steps.len(), 6);
    assert!(has_note(
        &r.notes,
        Some(5),
        "$PATH is not set and expands to nothing (the base image's ENV"
    ));
    for (line, kw) in [
        (2, "MAINTAINER"),
        (16, "VOLUME"),
        (17, "EXPOSE"),
        (18, "HEALTHCHECK"),
        (19, "STOPSIGNAL"),
        (20, "ONBUILD"),
    ] {
        assert!(has_note(&r.notes, Some(line), kw), "{kw}: {:#?}", r.notes);
    }

    // With the base image's ENV known, PATH extends the image's.
    let base = |image: &str| {
        assert_eq!(image, "ubuntu:14.04");
        vec![("PATH".to_owned(), "/usr/bin:/bin".to_owned())]
    };
    let r = parse(LEGACY).resolve_with(&BTreeMap::new(), &base).unwrap();
    assert_eq!(
        ops(&r, 0)[1],
        &Op::Env(vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())])
    );
    assert!(!r.notes.iter().any(|n| n.message.contains("$PATH")));
}

#[test]
fn crlf_line_endings_and_a_byte_order_mark_change_nothing() {
    for text in [LEGACY, HEREDOC, DEBIAN, BACKTICK] {
        let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
        assert_eq!(parse(text), parse(&crlf));
    }
}

#[test]
fn arg_and_env_scopes() {
    let text = "ARG V=1\nARG IMG=alpine\nFROM $IMG:3.$V AS one\nWORKDIR /a$V\nARG V\nENV E=$V\nARG E=arg\nLABEL e=$E v=$V\n\
                FROM one\nARG V=2\nARG LOCAL=${V}x\nRUN true\nENV E=changed E2=$E\nCMD [\"x\"]\nUSER $E\n";
    let r = resolve(text, &[]);
    assert_eq!(r.stages[0].base, Base::Image("alpine:3.1".into()));
    assert_eq!(
        ops(&r, 0)[0],
        &Op::Workdir("/a".into()),
        "a global ARG needs declaring again"
    );
    assert!(has_note(&r.notes, Some(4), "$V is not set"));
    assert_eq!(ops(&r, 0)[1], &Op::Env(vec![("E".into(), "1".into())]));
    assert_eq!(r.stages[0].labels["e"], "1", "ENV wins over a later ARG");
    assert_eq!(r.stages[1].base, Base::Stage(0));
    assert_eq!(
        r.stages[1].labels["v"], "1",
        "labels carry over from the stage"
    );
    let last = ops(&r, 1);
    assert_eq!(
        last[0],
        &Op::Run {
            exec: sh("true"),
            env: vec![("V".into(), "2".into()), ("LOCAL".into(), "2x".into())]
        }
    );
    assert_eq!(
        last[1],
        &Op::Env(vec![
            ("E".into(), "changed".into()),
            ("E2".into(), "1".into())
        ]),
        "ENV is inherited, and one instruction substitutes with the values before it"
    );
    assert_eq!(last[3], &Op::User("changed".into()));

    let r = resolve(text, &[("V", "9"), ("IMG", "busybox")]);
    assert_eq!(r.stages[0].base, Base::Image("busybox:3.9".into()));
    let Op::Run { env, .. } = ops(&r, 1)[0] else {
        panic!()
    };
    assert_eq!(
        env,
        &[
            ("V".to_owned(), "9".to_owned()),
            ("LOCAL".to_owned(), "9x".to_owned())
        ]
    );
}

#[test]
fn shell_platform_and_automatic_args() {
    let text = "FROM --platform=$BUILDPLATFORM debian AS base\nSHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\n\
                run echo a | cat\nFROM base\nentrypoint exec app\nFROM scratch\nCOPY --from=0 / /\nCOPY --from=base /x /y\n\
                COPY --from=alpine:3 /etc/os-release /\n";
    let r = resolve(text, &[]);
    let bash = |s: &str| {
        vec![
            "/bin/bash".to_owned(),
            "-o".into(),
            "pipefail".into(),
            "-c".into(),
            s.into(),
        ]
    };
    assert_eq!(
        ops(&r, 0)[0],
        &Op::Run {
            exec: Exec::Argv(bash("echo a | cat")),
            env: vec![]
        }
    );
    assert_eq!(
        ops(&r, 1)[0],
        &Op::Entrypoint(bash("exec app")),
        "SHELL carries over to a stage built on it"
    );
    assert_eq!(r.stages[2].base, Base::Scratch);
    let froms: Vec<_> = ops(&r, 2)
        .iter()
        .map(|op| match op {
            Op::Copy(c) => c.from.clone().unwrap(),
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        froms,
        [
            CopyFrom::Stage(0),
            CopyFrom::Stage(0),
            CopyFrom::Image("alpine:3".into())
        ]
    );
    assert_eq!(r.needed(2), [0, 2]);
    let (arch, _) = host_platform();
    let r = resolve(
        &format!("FROM --platform=linux/{arch} alpine\nARG TARGETOS\nRUN true\n"),
        &[],
    );
    assert_eq!(
        ops(&r, 0)[0],
        &Op::Run {
            exec: sh("true"),
            env: vec![("TARGETOS".into(), "linux".into())]
        }
    );
}

#[test]
fn a_space_after_the_heredoc_marker() {
    let text = "FROM a\nRUN cat > /f << 'EOF'\n$HOME\nEOF\nCOPY << EOF /etc/x\nhi\nEOF\n";
    let r = resolve(text, &[]);
    assert_eq!(
        ops(&r, 0)[0],
        &Op::Run {
            exec: sh("cat > /f << 'EOF'\n$HOME\nEOF"),
            env: vec![]
        }
    );
    let Op::Copy(copy) = ops(&r, 0)[1] else {
        panic!()
    };
    assert_eq!(
        copy.sources,
        [CopySource::Inline {
            name: "EOF".into(),
            content: "hi\n".into()
        }]
    );
    assert_eq!(copy.dest, "/etc/x");
}
