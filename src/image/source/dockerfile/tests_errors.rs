//! Every refusal, reported as `FILE:LINE:COL: message` with a hint where one helps.

use std::collections::BTreeMap;

use super::resolve::host_platform;
use super::{Dockerfile, Error};

/// The parse error of `text`, rendered.
fn parse_err(text: &str) -> String {
    match Dockerfile::parse(text, "Dockerfile") {
        Ok(df) => panic!("parsed: {df:#?}"),
        Err(e) => e.with_hint_line(),
    }
}

/// The resolve error of `text` (which parses), rendered.
fn resolve_err(text: &str) -> String {
    let df = Dockerfile::parse(text, "Dockerfile").unwrap_or_else(|e| panic!("{e}"));
    match df.resolve(&BTreeMap::new()) {
        Ok(r) => panic!("resolved: {r:#?}"),
        Err(e) => e.with_hint_line(),
    }
}

/// Asserts `err` starts at `at` ("LINE:COL") and holds each of `parts`.
fn check(err: &str, at: &str, parts: &[&str]) {
    assert!(err.starts_with(&format!("Dockerfile:{at}: ")), "{err}");
    for part in parts {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
}

#[test]
fn the_message_shape() {
    let e = Error::new("dir/Dockerfile", super::Pos { line: 3, col: 5 }, "what").hint("do this");
    assert_eq!(e.to_string(), "dir/Dockerfile:3:5: what");
    let reported =
        crate::base::error::render("jig", crate::base::error::Level::Error, &e.into_anyhow());
    assert_eq!(
        reported,
        "jig: error: dir/Dockerfile:3:5: what\n  hint: do this\n"
    );
}

#[test]
fn unknown_instructions() {
    check(
        &parse_err("FROM x\n  COPPY a b\n"),
        "2:3",
        &["unknown instruction COPPY", "hint: did you mean COPY?"],
    );
    check(
        &parse_err("FROM x\nFETCH a\n"),
        "2:1",
        &["hint: instructions are ADD, ARG"],
    );
    // CMD takes no heredoc: the body reads as instructions.
    check(
        &parse_err("FROM x\nCMD cat <<EOF\nhello\nEOF\n"),
        "3:1",
        &[
            "unknown instruction HELLO",
            "Only RUN, COPY and ADD take one",
        ],
    );
}

#[test]
fn stages() {
    check(
        &parse_err("# c\nRUN true\nFROM x\n"),
        "2:1",
        &["RUN before the first FROM", "only ARG"],
    );
    check(&parse_err("ARG A=1\n\n"), "1:1", &["no FROM instruction"]);
    check(
        &parse_err("# only a comment\n"),
        "1:1",
        &["no FROM instruction"],
    );
    check(
        &parse_err("FROM a b\n"),
        "1:1",
        &["FROM takes IMAGE [AS NAME]"],
    );
    check(
        &parse_err("FROM a AS 1st\n"),
        "1:11",
        &["invalid stage name '1st'"],
    );
    check(
        &parse_err("FROM a AS build\nFROM b AS Build\n"),
        "2:11",
        &["a second stage named 'build'", "the first is on line 1"],
    );
    check(
        &parse_err("FROM --plat=x a\n"),
        "1:6",
        &["FROM --plat is not supported", "FROM takes --platform"],
    );
    check(
        &parse_err("FROM --platform a\n"),
        "1:6",
        &["--platform needs a value"],
    );
}

#[test]
fn directives() {
    check(
        &parse_err("# escape=x\nFROM a\n"),
        "1:10",
        &["invalid escape character 'x'", "\\ or `"],
    );
    check(
        &parse_err("# escape=`\n# ESCAPE=\\\nFROM a\n"),
        "2:10",
        &["a second escape directive"],
    );
    // A directive after an instruction is a comment.
    assert!(Dockerfile::parse("FROM a\n# escape=x\n", "Dockerfile").is_ok());
}

#[test]
fn json_forms() {
    check(
        &parse_err("FROM a\nCMD [\"a\", ]\n"),
        "2:5",
        &["CMD: not a JSON array of strings", "hint: the exec form"],
    );
    check(
        &parse_err("FROM a\nENTRYPOINT ['sh']\n"),
        "2:12",
        &["ENTRYPOINT: not a JSON array"],
    );
    check(
        &parse_err("FROM a\nRUN [\"a\", 1]\n"),
        "2:5",
        &["1 is not a string"],
    );
    check(
        &parse_err("FROM a\nSHELL /bin/bash -c\n"),
        "2:7",
        &["SHELL takes a non-empty JSON array"],
    );
    check(
        &parse_err("FROM a\nSHELL []\n"),
        "2:7",
        &["SHELL takes a non-empty JSON array"],
    );
    check(&parse_err("FROM a\nCMD\n"), "2:1", &["CMD needs a command"]);
    // `RUN [ test ]` is the shell's test command, not broken JSON.
    assert!(Dockerfile::parse("FROM a\nRUN [ -f /x ] && echo y\n", "Dockerfile").is_ok());
}

#[test]
fn run_flags() {
    check(
        &parse_err("FROM a\nRUN --mount=type=bind,source=.,target=/src make\n"),
        "2:13",
        &["type=bind is not supported", "COPY what the step needs"],
    );
    check(
        &parse_err("FROM a\nRUN --mount=type=secret,id=npm npm ci\n"),
        "2:13",
        &["no secrets"],
    );
    check(
        &parse_err("FROM a\nRUN --network=none true\n"),
        "2:15",
        &["--network=none is not supported"],
    );
    check(
        &parse_err("FROM a\nRUN --security=insecure true\n"),
        "2:16",
        &["--security=insecure"],
    );
    check(
        &parse_err("FROM a\nRUN --device=/dev/kvm true\n"),
        "2:5",
        &[
            "RUN --device is not supported",
            "RUN takes --mount, --network, --security",
        ],
    );
    check(
        &parse_err("FROM a\nRUN --network=host --network=host true\n"),
        "2:20",
        &["--network given twice"],
    );
}

#[test]
fn copy_and_add() {
    check(
        &parse_err("FROM a\nCOPY --parents a/b /c\n"),
        "2:6",
        &["COPY --parents is not supported", "COPY takes --from"],
    );
    check(
        &parse_err("FROM a\nADD --from=b x /y\n"),
        "2:5",
        &["ADD --from is not supported"],
    );
    check(
        &parse_err("FROM a\nCOPY only\n"),
        "2:1",
        &["COPY needs a source and a destination"],
    );
    check(
        &parse_err("FROM a\nCOPY --from= x /y\n"),
        "2:6",
        &["--from needs a value"],
    );
    check(
        &parse_err("FROM a\nCOPY /etc/x <<EOF\nhi\nEOF\n"),
        "2:13",
        &["COPY needs a destination after <<EOF"],
    );
}

#[test]
fn heredoc_without_end() {
    check(
        &parse_err("FROM a\nRUN <<EOF\necho hi\n EOF\n"),
        "2:5",
        &["here-document <<EOF has no end", "a line holding only EOF"],
    );
    check(
        &parse_err("FROM a\nRUN <<A cat && \\\n <<B cat\nx\nA\n"),
        "3:2",
        &["<<B has no end"],
    );
}

#[test]
fn env_label_arg() {
    check(
        &parse_err("FROM a\nENV HOME\n"),
        "2:5",
        &["ENV HOME needs a value", "hint: ENV HOME=VALUE"],
    );
    check(
        &parse_err("FROM a\nLABEL a=1 \\\n  b c=2\n"),
        "3:3",
        &["LABEL: 'b' is not NAME=VALUE", "quote a value"],
    );
    check(
        &parse_err("FROM a\nENV =x\n"),
        "2:5",
        &["ENV: a blank name"],
    );
    check(
        &parse_err("FROM a\nARG A=1 =2\n"),
        "2:9",
        &["ARG: a blank name"],
    );
    check(
        &parse_err("FROM a\nWORKDIR\n"),
        "2:1",
        &["WORKDIR needs a value"],
    );
    check(
        &parse_err("FROM a\nENV --x=1 A=b\n"),
        "2:5",
        &["ENV takes no flags"],
    );
}

#[test]
fn substitution() {
    check(
        &resolve_err("FROM a\nWORKDIR /x/${A#y}\n"),
        "2:12",
        &["(patterns) is not supported", "hint: jig substitutes $VAR"],
    );
    check(&resolve_err("FROM a\nENV B=${A\n"), "2:7", &["missing '}'"]);
    check(
        &resolve_err("ARG V\nFROM debian:${V:?no_suite}\n"),
        "2:13",
        &["V: no_suite", "build argument V=..."],
    );
    check(
        &resolve_err("ARG V\nFROM $V\n"),
        "2:6",
        &["FROM names no image"],
    );
    check(
        &resolve_err("FROM a\nUSER ${NOBODY}\n"),
        "2:6",
        &["USER is empty after substitution"],
    );
    check(
        &resolve_err("FROM a\nCOPY <<EOF /x\nline one\n  ${A:-x\nEOF\n"),
        "4:3",
        &["missing '}'"],
    );
}

#[test]
fn copy_values() {
    check(
        &resolve_err("FROM a\nCOPY --chmod=u+x a /b\n"),
        "2:14",
        &["--chmod=u+x: jig takes an octal mode"],
    );
    check(
        &resolve_err("FROM a\nADD --checksum=sha256:abc https://example.com/x /x\n"),
        "2:16",
        &["is not a digest"],
    );
    let digest = format!("sha256:{}", "0".repeat(64));
    check(
        &resolve_err(&format!("FROM a\nADD --checksum={digest} local.tar /x\n")),
        "2:16",
        &["applies to URL sources only"],
    );
    check(
        &resolve_err("FROM a AS one\nCOPY --from=one /x /y\n"),
        "2:13",
        &["names this stage or a later one"],
    );
    check(
        &resolve_err("FROM a\nCOPY --from=two /x /y\nFROM b AS two\n"),
        "2:13",
        &["names this stage or a later one", "move stage two above"],
    );
    check(
        &resolve_err("FROM a\nFROM b\nCOPY --from=1 /x /y\n"),
        "3:13",
        &["stage 1 is not an earlier stage", "this one is stage 1"],
    );
}

#[test]
fn other_platforms_are_refused() {
    let other = if host_platform().0 == "amd64" {
        "arm64"
    } else {
        "amd64"
    };
    check(
        &resolve_err(&format!("ARG P=linux/{other}\nFROM --platform=$P debian\n")),
        "2:17",
        &["jig builds for this machine", "$BUILDPLATFORM"],
    );
    check(
        &resolve_err("FROM --platform=windows/amd64 a\n"),
        "1:17",
        &["FROM --platform=windows/amd64"],
    );
}
