//! Host parsing and normalisation: examples first, then properties over any header value.

use super::*;

#[track_caller]
fn check(authority: &str, expected: Result<(&str, &str), HostError>) {
    let parsed = parse_authority(authority);
    let parsed = parsed
        .as_ref()
        .map(|request_host| (request_host.host.as_str(), request_host.origin.as_str()))
        .map_err(|error| *error);
    assert_eq!(parsed, expected, "{authority:?}");
}

#[test]
fn authorities_are_normalised() {
    let login = Ok(("login.example.test", "https://login.example.test"));
    check("login.example.test", login);
    check("Login.Example.TEST", login);
    check("login.example.test.", login);
    check("login.example.test:443", login);
    check("login.example.test.:443", login);
    check("login.example.test:", login);
    check(
        "login.example.test:8443",
        Ok(("login.example.test", "https://login.example.test:8443")),
    );
    check("127.0.0.1:9", Ok(("127.0.0.1", "https://127.0.0.1:9")));
    check("[::1]:8443", Ok(("::1", "https://[::1]:8443")));
    check("[::1]", Ok(("::1", "https://[::1]")));
}

#[test]
fn malformed_authorities_are_refused() {
    check("", Err(HostError::Missing));
    for invalid in [
        ".",
        "a..b",
        ".login.example.test",
        "login.example.test..",
        "login example",
        "login.example.test:https",
        "login.example.test:65536",
        "login.example.test:+1",
        "login.example.test:1:2",
        "user@login.example.test",
        "login.example.test/path",
        "\"quoted\"",
        "[::1",
        "[::1]x",
        "[not-ip]",
        "ünicode.test",
    ] {
        check(invalid, Err(HostError::Invalid));
    }
    check(&"a".repeat(64), Err(HostError::Invalid));
    let long = format!("{}.test", vec!["a".repeat(60); 5].join("."));
    check(&long, Err(HostError::Invalid));
}
