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

mod properties {
    //! Any header value either routes to a mount or gets the 421/400 JSON shape, never a panic.

    use std::sync::Arc;

    use bytes::Bytes;
    use http::{HeaderValue, Request, Response, StatusCode};
    use http_body_util::Full;
    use proptest::prelude::*;

    use super::super::super::{find_mount, host_rejection, unknown_host};
    use super::*;
    use crate::{BoxFuture, HostPattern, Mount, Service, echo};

    struct Named(&'static str);

    impl Service for Named {
        fn name(&self) -> &str {
            self.0
        }

        fn call(&self, _request: Request<Bytes>) -> BoxFuture<'_, Response<Full<Bytes>>> {
            Box::pin(async { crate::text_response(StatusCode::OK, "") })
        }
    }

    fn mounts() -> Vec<Mount> {
        let mount = |name, pattern| Mount {
            hosts: vec![HostPattern::parse(pattern).expect("a valid pattern")],
            service: Arc::new(Named(name)),
        };
        vec![
            mount("login", "login.example.test"),
            mount("tenants", "*.tenants.example.test"),
        ]
    }

    const SERVED_HOSTS: &str = r#""login.example.test","*.tenants.example.test""#;

    /// The JSON body of an error answer (a `Full` body is ready at once).
    fn json_body(response: Response<Full<Bytes>>) -> serde_json::Value {
        use hyper::body::Body as _;
        let mut body = response.into_body();
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let frame = match std::pin::Pin::new(&mut body).poll_frame(&mut context) {
            std::task::Poll::Ready(Some(Ok(frame))) => frame,
            other => panic!("a Full body is ready at once: {other:?}"),
        };
        let data = frame.into_data().expect("a data frame");
        serde_json::from_slice(&data).expect("a JSON body")
    }

    /// Header values as a client could send them: arbitrary bytes (a server sees those too),
    /// host-ish text, and served hosts spelt in every allowed way.
    fn host_field() -> impl Strategy<Value = HeaderValue> {
        let bytes = proptest::collection::vec(any::<u8>(), 0..64)
            .prop_filter_map("a valid header value", |bytes| {
                HeaderValue::from_bytes(&bytes).ok()
            });
        let hostish = "[a-zA-Z0-9.:_@\\[\\] -]{0,40}"
            .prop_filter_map("a valid header value", |text| {
                HeaderValue::from_str(&text).ok()
            });
        let served = spelling().prop_map(|(spelt, _)| {
            HeaderValue::from_str(&spelt).expect("a spelling is a valid header value")
        });
        // Valid names longer than an echo (up to DNS's 253 characters).
        let long = "[a-z]{63}\\.[a-z]{63}\\.[a-z]{63}\\.[a-z]{1,61}".prop_map(|name| {
            HeaderValue::from_str(&name).expect("letters and dots are a valid header value")
        });
        prop_oneof![bytes, hostish, served, long]
    }

    /// A served host spelt with any case, an optional trailing dot and an optional port, and
    /// the normalised host it stands for.
    fn spelling() -> impl Strategy<Value = (String, String)> {
        let host = prop_oneof![
            Just("login.example.test".to_owned()),
            "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?"
                .prop_map(|label| format!("{label}.tenants.example.test")),
        ];
        (
            host,
            any::<u64>(),
            any::<bool>(),
            prop_oneof![
                Just(String::new()),
                Just(":443".to_owned()),
                Just(":".to_owned()),
                (1u16..).prop_map(|port| format!(":{port}"))
            ],
        )
            .prop_map(|(host, case_bits, dot, port)| {
                let spelt: String = host
                    .chars()
                    .enumerate()
                    .map(|(index, char)| {
                        if case_bits >> (index % 64) & 1 == 1 {
                            char.to_ascii_uppercase()
                        } else {
                            char
                        }
                    })
                    .collect();
                let dot = if dot { "." } else { "" };
                (format!("{spelt}{dot}{port}"), host)
            })
    }

    /// Pattern text: anything host-ish, and short dotted names (empty labels, stray dots).
    fn pattern_text() -> impl Strategy<Value = String> {
        prop_oneof!["(\\*\\.)?[a-zA-Z0-9.*:/ _-]{0,30}", "(\\*\\.)?[a-z.]{0,8}"]
    }

    fn http1_request(host_field: HeaderValue) -> http::request::Parts {
        let mut request = Request::new(());
        request.headers_mut().insert(http::header::HOST, host_field);
        request.into_parts().0
    }

    proptest! {
        #[test]
        fn any_host_header_routes_or_gets_the_421_or_400_shape(field in host_field()) {
            let mounts = mounts();
            match request_host(&http1_request(field)) {
                Ok(RequestHost { host, origin }) => {
                    prop_assert!(!host.is_empty() && !host.ends_with('.'));
                    prop_assert_eq!(&host, &host.to_ascii_lowercase());
                    prop_assert!(is_host_name(&host) || host.parse::<std::net::Ipv6Addr>().is_ok(), "{host}");
                    // The origin is a well-formed authority of the same host.
                    let authority = origin.strip_prefix("https://").expect("an https origin");
                    let again = parse_authority(authority).expect("the origin parses");
                    prop_assert_eq!(&again.host, &host);
                    prop_assert_eq!(&again.origin, &origin);
                    match find_mount(&mounts, &host) {
                        Some(mount) => prop_assert!(mount.hosts.iter().any(|pattern| pattern.matches(&host))),
                        None => {
                            let response = unknown_host(&host, SERVED_HOSTS);
                            prop_assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
                            let body = json_body(response);
                            prop_assert_eq!(&body["error"], "unknown_host");
                            let message = format!("no fake service answers for host `{}`", echo(&host));
                            prop_assert_eq!(&body["message"], &serde_json::Value::String(message));
                            prop_assert_eq!(&body["served_hosts"], &serde_json::json!(["login.example.test", "*.tenants.example.test"]));
                        }
                    }
                }
                Err(error) => {
                    let response = host_rejection(error, SERVED_HOSTS);
                    prop_assert_eq!(response.status(), StatusCode::BAD_REQUEST);
                    let body = json_body(response);
                    prop_assert_eq!(&body["error"], error.code());
                    prop_assert_eq!(&body["message"], error.message());
                    prop_assert_eq!(&body["served_hosts"], &serde_json::json!(["login.example.test", "*.tenants.example.test"]));
                }
            }
        }

        #[test]
        fn served_hosts_route_in_any_spelling((spelt, host) in spelling()) {
            let field = HeaderValue::from_str(&spelt).expect("a valid header value");
            let routed = request_host(&http1_request(field)).expect("a served host parses");
            prop_assert_eq!(&routed.host, &host);
            let mounts = mounts();
            let mount = find_mount(&mounts, &routed.host).expect("a mount serves it");
            let expected = if host == "login.example.test" { "login" } else { "tenants" };
            prop_assert_eq!(mount.service.name(), expected);
        }

        #[test]
        fn host_patterns_parse_to_what_they_match_or_are_refused(pattern in pattern_text()) {
            match HostPattern::parse(&pattern) {
                Ok(parsed) => {
                    prop_assert_eq!(HostPattern::parse(&parsed.as_san()).ok(), Some(parsed.clone()));
                    match &parsed {
                        HostPattern::Exact(name) => {
                            // Some request names exactly this host.
                            let request = parse_authority(name).map(|request| request.host);
                            prop_assert_eq!(request.as_deref(), Ok(name.as_str()));
                            prop_assert!(parsed.matches(name));
                        }
                        HostPattern::Suffix(suffix) => {
                            let below = format!("a.{suffix}");
                            let request = parse_authority(&below).map(|request| request.host);
                            prop_assert_eq!(request.as_deref(), Ok(below.as_str()));
                            prop_assert!(parsed.matches(&below));
                            prop_assert!(!parsed.matches(suffix));
                        }
                    }
                }
                Err(crate::Error::HostPattern { pattern: quoted, .. }) => prop_assert_eq!(quoted, pattern),
                Err(other) => prop_assert!(false, "not a host pattern error: {other}"),
            }
        }
    }
}
