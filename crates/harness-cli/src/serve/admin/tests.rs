//! The admin routes without a socket: status, body shape and every error, through
//! [`dispatch`] as the listener calls it.

use std::time::Duration;

use fake_core::{FaultAction, JournalBody, JournalEntry};
use serde_json::Value;
use time::macros::datetime;

use super::journal::JournalFilter;
use super::*;

struct Fixture {
    admin: Admin,
    _stop: watch::Sender<bool>,
}

fn fixture() -> Fixture {
    let (stop, stopping) = watch::channel(false);
    Fixture {
        admin: Admin::new(
            Access::Loopback,
            Journal::new(),
            Faults::default(),
            Clock::manual(datetime!(2026-01-05 09:00 UTC)),
            stopping,
        ),
        _stop: stop,
    }
}

/// Calls `method uri` with `body` and returns the status, headers and JSON body.
async fn call(
    admin: &Admin,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, http::HeaderMap, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8444")
        .body(Bytes::from(body.to_owned()))
        .expect("valid request");
    let response = dispatch(admin, request).await;
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.expect("infallible").to_bytes();
    assert_eq!(
        parts.headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes),
        Some(&b"application/json"[..])
    );
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&bytes)));
    (parts.status, parts.headers, value)
}

#[track_caller]
fn assert_error(value: &Value, code: &str, phrase: &str) {
    assert_eq!(value["error"]["code"], code, "{value}");
    let message = value["error"]["message"].as_str().expect("a message");
    assert!(message.contains(phrase), "`{phrase}` in {message:?}");
}

#[tokio::test]
async fn health_answers_ok() {
    let fixture = fixture();
    let (status, _, body) = call(&fixture.admin, Method::GET, "/health", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn unknown_routes_list_the_supported_ones() {
    let fixture = fixture();
    let (status, _, body) = call(&fixture.admin, Method::GET, "/wrold", "").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, "NotFound", "no admin route `GET /wrold`");
    let routes: Vec<&str> = body["error"]["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        routes,
        [
            "GET /health",
            "GET /world",
            "POST /changes",
            "POST /faults",
            "DELETE /faults",
            "GET /clock",
            "POST /clock/advance",
            "GET /journal",
            "DELETE /journal",
            "POST /reset",
        ]
    );
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let fixture = fixture();
    let (status, headers, body) = call(&fixture.admin, Method::PUT, "/faults", "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        headers.get(ALLOW).map(HeaderValue::as_bytes),
        Some(&b"POST, DELETE"[..])
    );
    assert_error(
        &body,
        "MethodNotAllowed",
        "`/faults` takes POST, DELETE, not PUT",
    );
}

#[tokio::test]
async fn refusals_are_json_with_a_bearer_challenge() {
    let (stop, stopping) = watch::channel(false);
    let admin = Admin {
        access: Access::Token(AdminToken::generate().expect("random")),
        ..fixture().admin
    };
    let admin = Admin { stopping, ..admin };
    let (status, headers, body) = call(&admin, Method::GET, "/health", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers.get(WWW_AUTHENTICATE).map(HeaderValue::as_bytes),
        Some(&b"Bearer realm=\"d365-harness admin\""[..])
    );
    assert_error(&body, "Unauthorized", "admin.token");
    drop(stop);
}

#[tokio::test]
async fn faults_are_added_one_or_many_and_cleared() {
    let fixture = fixture();
    let admin = &fixture.admin;
    let one =
        r#"{"name":"slow","path":"/*/oauth2/v2.0/token","action":{"kind":"delay","millis":5}}"#;
    let (status, _, body) = call(admin, Method::POST, "/faults", one).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["faults"].as_array().map(Vec::len), Some(1));
    let many = r#"[{"nth":2,"action":{"kind":"respond","status":503}},{"action":{"kind":"close_connection"}}]"#;
    let (status, _, body) = call(admin, Method::POST, "/faults", many).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["faults"].as_array().map(Vec::len), Some(3));
    let rules = admin.faults.rules();
    assert_eq!(rules[0].name.as_deref(), Some("slow"));
    assert_eq!(rules[1].nth, Some(2));
    assert_eq!(rules[2].action, FaultAction::CloseConnection);

    let (status, _, body) = call(admin, Method::DELETE, "/faults", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"faults": []}));
    assert!(admin.faults.rules().is_empty());
}

#[tokio::test]
async fn a_bad_fault_rule_is_400_and_adds_nothing() {
    let fixture = fixture();
    let admin = &fixture.admin;
    for (body, phrase) in [
        ("not json", "the body is not JSON"),
        (
            r#"{"action":{"kind":"explode"}}"#,
            "unknown variant `explode`",
        ),
        (
            r#"[{"action":{"kind":"close"}},{"nht":2,"action":{"kind":"close"}}]"#,
            "unknown field `nht`",
        ),
    ] {
        let (status, _, answer) = call(admin, Method::POST, "/faults", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error(&answer, "InvalidJson", phrase);
    }
    let counts = r#"[{"action":{"kind":"close"}},{"nth":2,"from":3,"action":{"kind":"close"}}]"#;
    let (status, _, answer) = call(admin, Method::POST, "/faults", counts).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&answer, "InvalidFault", "fault rule 1: ");
    assert_eq!(answer["error"]["index"], 1);
    assert!(admin.faults.rules().is_empty());
}

#[tokio::test]
async fn the_clock_is_read_and_advanced_by_seconds_or_duration() {
    let fixture = fixture();
    let admin = &fixture.admin;
    let (status, _, body) = call(admin, Method::GET, "/clock", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"now": "2026-01-05T09:00:00Z", "offset_seconds": 0})
    );
    let (status, _, body) = call(admin, Method::POST, "/clock/advance", r#"{"seconds":90}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"now": "2026-01-05T09:01:30Z", "offset_seconds": 90})
    );
    let (_, _, body) = call(
        admin,
        Method::POST,
        "/clock/advance",
        r#"{"duration":"1d2h30m"}"#,
    )
    .await;
    assert_eq!(
        body,
        json!({"now": "2026-01-06T11:31:30Z", "offset_seconds": 95_490})
    );
}

#[tokio::test]
async fn a_bad_advance_is_400_and_moves_nothing() {
    let fixture = fixture();
    let admin = &fixture.admin;
    for (body, code, phrase) in [
        ("{}", "InvalidAdvance", "exactly one of `seconds`"),
        (
            r#"{"seconds":1,"duration":"1h"}"#,
            "InvalidAdvance",
            "exactly one",
        ),
        (
            r#"{"seconds":-5}"#,
            "InvalidAdvance",
            "must not be negative",
        ),
        (
            r#"{"duration":"1 fortnight"}"#,
            "InvalidAdvance",
            "\"1 fortnight\" is not a duration",
        ),
        (r#"{"minutes":5}"#, "InvalidJson", "unknown field `minutes`"),
    ] {
        let (status, _, answer) = call(admin, Method::POST, "/clock/advance", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_error(&answer, code, phrase);
    }
    let (_, _, body) = call(admin, Method::GET, "/clock", "").await;
    assert_eq!(body["offset_seconds"], 0);
}

#[track_caller]
fn check_duration(text: &str, expected: Option<i64>) {
    assert_eq!(
        clock::parse_duration(text).map(|duration| duration.whole_seconds()),
        expected,
        "{text:?}"
    );
}

#[test]
fn durations_are_runs_of_number_and_unit() {
    check_duration("90s", Some(90));
    check_duration("30m", Some(1800));
    check_duration("1h", Some(3600));
    check_duration("2d", Some(172_800));
    check_duration("1h30m", Some(5400));
    check_duration(" 1h ", Some(3600));
    check_duration("", None);
    check_duration("1", None);
    check_duration("h", None);
    check_duration("1w", None);
    check_duration("-1h", None);
    check_duration("99999999999999999999d", None);
}

fn entry(sequence: u64, host: &str, status: u16, received_at: &str) -> JournalEntry {
    JournalEntry {
        sequence,
        received_at: received_at.to_owned(),
        service: "dataverse".to_owned(),
        method: "GET".to_owned(),
        host: host.to_owned(),
        path: "/api/data/v9.2/WhoAmI".to_owned(),
        query: None,
        request_headers: Default::default(),
        request_body: JournalBody::Empty,
        status,
        response_headers: Default::default(),
        response_body: JournalBody::Empty,
        fault: None,
    }
}

#[track_caller]
fn check_filter(query: &str, expected: &[u64]) {
    let entries = [
        entry(1, "login.microsoftonline.com", 200, "2026-01-05T09:00:00Z"),
        entry(2, "contoso.crm.dynamics.com", 403, "2026-01-05T09:00:01Z"),
        entry(3, "contoso.crm.dynamics.com", 200, "2026-01-05T09:00:02Z"),
        entry(4, "contoso.crm.dynamics.com", 429, "2026-01-05T09:00:03Z"),
    ];
    let filter = JournalFilter::parse(Some(query)).expect("a valid query");
    let kept: Vec<u64> = entries
        .iter()
        .filter(|entry| filter.query.matches(entry))
        .map(|entry| entry.sequence)
        .collect();
    assert_eq!(kept, expected, "{query}");
}

#[test]
fn journal_filters_by_host_status_and_since() {
    check_filter("", &[1, 2, 3, 4]);
    check_filter("host=contoso.crm.dynamics.com", &[2, 3, 4]);
    check_filter("host=CONTOSO.crm.dynamics.com&status=200", &[3]);
    check_filter("status=4xx", &[2, 4]);
    check_filter("since=2", &[3, 4]);
    check_filter("follow&status=403", &[2]);
}

#[test]
fn journal_queries_name_the_bad_parameter() {
    for (query, phrase) in [
        ("stauts=403", "unknown journal parameter \"stauts\""),
        ("status=4000", "`status`: `4000` is not a status filter"),
        ("status=6xx", "`status`: `6xx` is not a status filter"),
        ("since=yesterday", "`since` is a sequence number"),
        ("follow=maybe", "`follow` is true or false"),
    ] {
        let message = JournalFilter::parse(Some(query)).expect_err(query);
        assert!(message.contains(phrase), "`{phrase}` in {message:?}");
    }
}

#[tokio::test]
async fn journal_route_answers_an_array_and_clears() {
    let fixture = fixture();
    let admin = &fixture.admin;
    let (status, _, body) = call(admin, Method::GET, "/journal?status=4xx", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));
    let (status, _, body) = call(admin, Method::GET, "/journal?bogus=1", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "InvalidQuery", "unknown journal parameter");
    let (status, _, body) = call(admin, Method::DELETE, "/journal", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"cleared": 0}));
}

/// The demo world's fakes in process, with an admin API over their journal.
async fn served_demo() -> anyhow::Result<(fake_core::ServerHandle, Fixture, reqwest::Client)> {
    let world = crate::world::BuiltinWorld::named(crate::world::DEFAULT_WORLD)?.load()?;
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let handle = fake_core::spawn(super::super::server_config(
        &world,
        listen,
        Clock::system(),
    )?)
    .await?;
    let (stop, stopping) = watch::channel(false);
    let fixture = Fixture {
        admin: Admin::new(
            Access::Loopback,
            handle.journal().clone(),
            handle.faults().clone(),
            handle.clock().clone(),
            stopping,
        ),
        _stop: stop,
    };
    let ca = reqwest::Certificate::from_pem(handle.ca_pem().as_bytes())?;
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("login.microsoftonline.com", handle.addr())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    Ok((handle, fixture, client))
}

/// The next event of a followed journal, as text.
async fn next_event(body: &mut AdminBody) -> Option<String> {
    let frame = tokio::time::timeout(Duration::from_secs(30), body.frame())
        .await
        .expect("an event within 30 s")?
        .expect("infallible");
    let data = frame.into_data().expect("a data frame");
    Some(String::from_utf8(data.to_vec()).expect("UTF-8 events"))
}

#[tokio::test]
async fn a_followed_journal_streams_stored_then_new_entries_and_ends_when_serve_stops()
-> anyhow::Result<()> {
    let (_handle, fixture, client) = served_demo().await?;
    let openid = "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration";
    client.get(openid).send().await?.error_for_status()?;
    client
        .get("https://login.microsoftonline.com/no-such-page")
        .send()
        .await?;

    let request = Request::get("/journal?follow&status=2xx")
        .header("host", "localhost:8444")
        .body(Bytes::new())?;
    let response = dispatch(&fixture.admin, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get(CONTENT_TYPE)
            .map(HeaderValue::as_bytes),
        Some(&b"text/event-stream"[..])
    );
    let mut body = response.into_body();
    let stored = next_event(&mut body).await.expect("the stored entry");
    assert!(
        stored.starts_with("id: 1\nevent: entry\ndata: {"),
        "{stored}"
    );
    assert!(stored.ends_with("}\n\n"), "{stored}");
    let entry: Value = serde_json::from_str(
        stored
            .lines()
            .find_map(|line| line.strip_prefix("data: "))
            .expect("a data line"),
    )?;
    assert_eq!(
        entry["path"],
        "/common/v2.0/.well-known/openid-configuration"
    );

    // Only the 2xx one of two new requests.
    client
        .get("https://login.microsoftonline.com/no-such-page")
        .send()
        .await?;
    client.get(openid).send().await?.error_for_status()?;
    let new = next_event(&mut body).await.expect("the new entry");
    assert!(new.starts_with("id: 4\nevent: entry\n"), "{new}");

    fixture._stop.send(true)?;
    assert_eq!(next_event(&mut body).await, None, "the stream ends");
    Ok(())
}
