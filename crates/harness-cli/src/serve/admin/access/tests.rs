//! Who gets in: the token off loopback (constant-time, any case of `Bearer`), loopback names
//! only on a loopback listener, and no browser `Origin`.

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(*name, value.parse().expect("valid header value"));
    }
    headers
}

fn token() -> AdminToken {
    AdminToken("k3y_-token".to_owned())
}

#[test]
fn generated_tokens_are_32_random_bytes_in_base64url() {
    let first = AdminToken::generate().expect("random bytes");
    let second = AdminToken::generate().expect("random bytes");
    assert_eq!(first.expose().len(), 43, "32 bytes, unpadded base64url");
    assert!(
        first
            .expose()
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'),
        "{}",
        first.expose()
    );
    assert_ne!(first.expose(), second.expose());
    assert_eq!(format!("{first:?}"), "AdminToken([redacted])");
}

#[test]
fn loopback_listeners_need_no_token_and_others_do() {
    let token = token();
    for loopback in ["127.0.0.1:8444", "127.0.0.2:0", "[::1]:8444"] {
        let addr: SocketAddr = loopback.parse().expect("address");
        assert!(
            matches!(Access::for_listener(addr, &token), Access::Loopback),
            "{loopback}"
        );
    }
    for open in ["0.0.0.0:8444", "[::]:8444", "192.168.1.20:8444"] {
        let addr: SocketAddr = open.parse().expect("address");
        assert!(
            matches!(Access::for_listener(addr, &token), Access::Token(_)),
            "{open}"
        );
    }
}

#[test]
fn off_loopback_requires_the_bearer_token() {
    let access = Access::Token(token());
    assert_eq!(
        check(&access, None, &headers(&[])),
        Err(Refusal::Unauthorized)
    );
    for wrong in [
        "Bearer k3y_-tokeN",
        "Bearer k3y_-token-and-more",
        "Bearer ",
        "Basic k3y_-token",
        "k3y_-token",
    ] {
        assert_eq!(
            check(&access, None, &headers(&[("authorization", wrong)])),
            Err(Refusal::Unauthorized),
            "{wrong}"
        );
    }
    for right in [
        "Bearer k3y_-token",
        "bearer k3y_-token",
        "BEARER  k3y_-token ",
    ] {
        assert_eq!(
            check(
                &access,
                None,
                &headers(&[("authorization", right), ("host", "harness.lan:8444")])
            ),
            Ok(()),
            "{right}"
        );
    }
}

#[test]
fn loopback_refuses_other_host_names_and_browser_origins() {
    let access = Access::Loopback;
    for host in [
        "127.0.0.1:8444",
        "localhost:8444",
        "LOCALHOST",
        "[::1]:8444",
        "[::1]",
        "127.0.0.2",
    ] {
        assert_eq!(
            check(&access, None, &headers(&[("host", host)])),
            Ok(()),
            "{host}"
        );
    }
    assert_eq!(
        check(&access, None, &headers(&[])),
        Ok(()),
        "no Host at all (HTTP/1.0)"
    );
    for host in [
        "evil.example:8444",
        "127.0.0.1.evil.example",
        "[::1].evil:80",
        "localhost.evil",
    ] {
        assert!(
            matches!(
                check(&access, None, &headers(&[("host", host)])),
                Err(Refusal::Forbidden(_))
            ),
            "{host}"
        );
    }
    assert!(
        matches!(
            check(
                &access,
                Some("rebound.example:8444"),
                &headers(&[("host", "127.0.0.1")])
            ),
            Err(Refusal::Forbidden(_))
        ),
        "the HTTP/2 authority wins over Host"
    );
    assert!(matches!(
        check(
            &access,
            None,
            &headers(&[
                ("host", "127.0.0.1:8444"),
                ("origin", "http://evil.example")
            ])
        ),
        Err(Refusal::Forbidden(_))
    ));
}
