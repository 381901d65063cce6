//! Unit tests of `client.rs`.
use super::*;

#[test]
fn loopback_hosts_may_use_http() {
    for h in [
        "localhost:5000",
        "127.0.0.1",
        "127.9.8.7:80",
        "[::1]:5000",
        "[::1]",
    ] {
        assert!(is_loopback(h), "{h}");
    }
    for h in [
        "ghcr.io",
        "10.0.0.1:5000",
        "128.0.0.1",
        "localhost.evil.com",
    ] {
        assert!(!is_loopback(h), "{h}");
    }
    let config = Config {
        insecure_registries: vec!["reg.lan:5000".into()],
        ..Config::default()
    };
    assert_eq!(scheme_for("reg.lan:5000", "reg.lan:5000", &config), "http");
    assert_eq!(scheme_for("reg.lan:5001", "reg.lan:5001", &config), "https");
    assert_eq!(scheme_for("ghcr.io", "ghcr.io", &config), "https");
}

#[test]
fn credentials_never_follow_a_redirect_to_another_host() {
    let uri = |s: &str| s.parse::<Uri>().unwrap();
    assert!(sends_credentials(
        &uri("https://reg.io/v2/x/blobs/sha256:1"),
        "reg.io"
    ));
    assert!(!sends_credentials(
        &uri("https://cdn.reg.io/blob?sig=1"),
        "reg.io"
    ));
    assert!(!sends_credentials(
        &uri("http://127.0.0.1:6000/x"),
        "127.0.0.1:5000"
    ));
    assert!(!sends_credentials(
        &uri("https://reg.io.evil.com/x"),
        "reg.io"
    ));
    assert!(!sends_credentials(&uri("https://user@reg.io/x"), "reg.io"));
}

#[test]
fn locations_resolve_against_the_request() {
    let base: Uri = "http://h:1/v2/r/blobs/uploads/".parse().unwrap();
    assert_eq!(
        resolve_location(&base, "/v2/r/blobs/uploads/u?x=1").unwrap(),
        "http://h:1/v2/r/blobs/uploads/u?x=1"
    );
    assert_eq!(
        resolve_location(&base, "https://cdn/x").unwrap(),
        "https://cdn/x"
    );
    assert_eq!(resolve_location(&base, "//cdn/x").unwrap(), "http://cdn/x");
    assert_eq!(
        resolve_location(&base, "u2").unwrap(),
        "http://h:1/v2/r/blobs/uploads/u2"
    );
    assert_eq!(
        percent_encode("repository:a/b:pull,push"),
        "repository%3Aa%2Fb%3Apull%2Cpush"
    );
}
