//! The admin routes without a socket: status, body shape and every error, through
//! [`dispatch`] as the listener calls it.

use std::time::Duration;

use fake_core::{Clock, FaultAction, IdGenerator, JournalBody, JournalEntry};
use serde_json::Value;
use time::macros::datetime;

use super::journal::JournalFilter;
use super::*;

struct Fixture {
    admin: Admin,
    stop: watch::Sender<bool>,
    server: fake_core::ServerHandle,
}

/// The demo world served in process on a manual clock at 2026-01-05 09:00, with an admin API
/// over it (loopback access).
async fn fixture() -> Fixture {
    fixture_with(Access::Loopback).await
}

async fn fixture_with(access: Access) -> Fixture {
    let world = crate::world::BuiltinWorld::named(crate::world::DEFAULT_WORLD)
        .and_then(|world| world.load())
        .expect("the demo world loads");
    let (server, live) = scenario::spawn_live(
        &world,
        Clock::manual(datetime!(2026-01-05 09:00 UTC)),
        IdGenerator::seeded(7),
        &[],
    )
    .await
    .expect("the demo world serves");
    let (stop, stopping) = watch::channel(false);
    Fixture {
        admin: Admin::new(access, live, stopping),
        stop,
        server,
    }
}

impl Fixture {
    /// A client of the fakes (not the admin API) that resolves the demo world's hosts.
    fn client(&self) -> reqwest::Client {
        let ca = reqwest::Certificate::from_pem(self.server.ca_pem().as_bytes()).expect("a CA");
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .timeout(Duration::from_secs(30));
        for host in [
            "login.microsoftonline.com",
            "contoso.crm.dynamics.com",
            "contoso.api.crm.dynamics.com",
        ] {
            builder = builder.resolve(host, self.server.addr());
        }
        builder.build().expect("a client")
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
    let fixture = fixture().await;
    let (status, _, body) = call(&fixture.admin, Method::GET, "/health", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn unknown_routes_list_the_supported_ones() {
    let fixture = fixture().await;
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
            "PUT /world",
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
    let fixture = fixture().await;
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
    let fixture = fixture_with(Access::Token(AdminToken::generate().expect("random"))).await;
    let (status, headers, body) = call(&fixture.admin, Method::GET, "/health", "").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers.get(WWW_AUTHENTICATE).map(HeaderValue::as_bytes),
        Some(&b"Bearer realm=\"d365-harness admin\""[..])
    );
    assert_error(&body, "Unauthorized", "admin.token");
}

#[tokio::test]
async fn faults_are_added_one_or_many_and_cleared() {
    let fixture = fixture().await;
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
    let rules = admin.live.faults().rules();
    assert_eq!(rules[0].name.as_deref(), Some("slow"));
    assert_eq!(rules[1].nth, Some(2));
    assert_eq!(rules[2].action, FaultAction::CloseConnection);

    let (status, _, body) = call(admin, Method::DELETE, "/faults", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"faults": []}));
    assert!(admin.live.faults().rules().is_empty());
}

#[tokio::test]
async fn a_bad_fault_rule_is_400_and_adds_nothing() {
    let fixture = fixture().await;
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
    assert!(admin.live.faults().rules().is_empty());
}

#[tokio::test]
async fn the_clock_is_read_and_advanced_by_seconds_or_duration() {
    let fixture = fixture().await;
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
    let fixture = fixture().await;
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
            "the clock only moves forward",
        ),
        (
            r#"{"duration":"1 fortnight"}"#,
            "InvalidAdvance",
            "`duration`: `1 fortnight` is not a duration",
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
    let fixture = fixture().await;
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
    let fixture = fixture().await;
    let client = fixture.client();
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

    fixture.stop.send(true)?;
    assert_eq!(next_event(&mut body).await, None, "the stream ends");
    Ok(())
}

/// Calls `method uri` and returns the status, content type and body text.
async fn call_text(admin: &Admin, method: Method, uri: &str) -> (StatusCode, String, String) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "127.0.0.1:8444")
        .body(Bytes::new())
        .expect("valid request");
    let (parts, body) = dispatch(admin, request).await.into_parts();
    let bytes = body.collect().await.expect("infallible").to_bytes();
    let content_type = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        parts.status,
        content_type,
        String::from_utf8(bytes.to_vec()).expect("UTF-8"),
    )
}

const REMOVE_ROLE: &str =
    r#"{"change":"remove_role","environment":"contoso","app":"importer","role":"Importer Reader"}"#;

#[tokio::test]
async fn the_world_is_toml_or_json_and_changes_and_reset_move_it() {
    let fixture = fixture().await;
    let admin = &fixture.admin;
    let (status, content_type, loaded) = call_text(admin, Method::GET, "/world").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/toml; charset=utf-8");
    let table: toml::Table = toml::from_str(&loaded).expect("a world file");
    assert!(table.contains_key("environments"), "{loaded}");
    assert!(!loaded.contains("PRIVATE KEY"), "{loaded}");
    let (status, _, json) = call(admin, Method::GET, "/world?format=json", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        json["environments"]["contoso"]["application_users"][0]["roles"],
        json!(["Importer Reader"])
    );

    let (status, _, applied) =
        call(admin, Method::POST, "/changes", &format!("[{REMOVE_ROLE}]")).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(applied["changes"], 1);
    assert_eq!(applied["world_changed"], true);
    assert_eq!(applied["faults_changed"], false);
    let (_, _, changed) = call(admin, Method::GET, "/world?format=json", "").await;
    let roles = &changed["environments"]["contoso"]["application_users"][0]["roles"];
    assert!(
        roles.is_null() || *roles == json!([]),
        "the role is gone: {roles}"
    );

    let (status, _, reset) = call(admin, Method::POST, "/reset", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(reset, json!({"reset": true, "now": "2026-01-05T09:00:00Z"}));
    let (_, _, after_reset) = call_text(admin, Method::GET, "/world").await;
    assert_eq!(after_reset, loaded, "byte for byte");
}

#[tokio::test]
async fn a_refused_batch_names_the_index_and_applies_nothing() {
    let fixture = fixture().await;
    let admin = &fixture.admin;
    let (_, _, loaded) = call_text(admin, Method::GET, "/world").await;
    let misspelt = r#"{"change":"remove_role","environment":"contoso","app":"importer","role":"Importer Raeder"}"#;
    let (status, _, body) = call(
        admin,
        Method::POST,
        "/changes",
        &format!(r#"[{{"change":"admin_mode","environment":"contoso","on":true}},{misspelt}]"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "InvalidChange", "changes[1] (`remove_role`)");
    assert_error(&body, "InvalidChange", "Importer Reader");
    assert_eq!(body["error"]["index"], 1);

    let (status, _, body) = call(
        admin,
        Method::POST,
        "/changes",
        &format!(r#"[{REMOVE_ROLE},{{"change":"remove_everything"}}]"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(
        &body,
        "InvalidChange",
        "changes[1]: unknown variant `remove_everything`",
    );
    assert_eq!(body["error"]["index"], 1);

    let (status, _, body) = call(admin, Method::POST, "/changes", REMOVE_ROLE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "InvalidJson", "not a JSON array of changes");

    let (_, _, now) = call_text(admin, Method::GET, "/world").await;
    assert_eq!(now, loaded, "nothing applied");
}

#[tokio::test]
async fn world_takes_only_a_format() {
    let fixture = fixture().await;
    let (status, _, body) = call(&fixture.admin, Method::GET, "/world?format=yaml", "").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, "InvalidQuery", "`format=json`, not \"format=yaml\"");
}

#[tokio::test]
async fn faults_added_through_the_api_show_in_the_world_and_go_on_reset() {
    let fixture = fixture().await;
    let admin = &fixture.admin;
    let rule = r#"{"name":"busy","host":"contoso.crm.dynamics.com","from":2,"action":{"kind":"respond","status":503}}"#;
    let (status, _, _) = call(admin, Method::POST, "/faults", rule).await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, world) = call(admin, Method::GET, "/world?format=json", "").await;
    assert_eq!(world["faults"][0]["name"], "busy", "{world}");
    call(
        admin,
        Method::POST,
        "/clock/advance",
        r#"{"duration":"2h"}"#,
    )
    .await;
    call(admin, Method::POST, "/reset", "").await;
    assert!(admin.live.faults().rules().is_empty());
    let (_, _, clock) = call(admin, Method::GET, "/clock", "").await;
    assert_eq!(clock["offset_seconds"], 0);
}

#[tokio::test]
async fn the_listener_refuses_a_body_over_the_limit_and_rebound_host_names() -> anyhow::Result<()> {
    let fixture = fixture().await;
    let live = fixture.admin.live.clone();
    let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let server = AdminServer::spawn(listener, move |stopping| {
        Admin::new(Access::Loopback, live, stopping)
    })?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("http://{}", server.addr());

    let too_large = client
        .post(format!("{url}/changes"))
        .body(vec![b' '; MAX_BODY + 1])
        .send()
        .await?;
    assert_eq!(too_large.status(), 413);
    let body: Value = too_large.json().await?;
    assert_eq!(body["error"]["code"], "PayloadTooLarge");

    // A browser that a rebinding DNS name sent here names that host.
    let rebound = client
        .get(format!("{url}/world"))
        .header("host", format!("attacker.example:{}", server.addr().port()))
        .send()
        .await?;
    assert_eq!(rebound.status(), 403);
    let body: Value = rebound.json().await?;
    assert_eq!(body["error"]["code"], "Forbidden");

    let health = client.get(format!("{url}/health")).send().await?;
    assert_eq!(health.status(), 200);
    server.shutdown().await;
    assert!(
        client.get(format!("{url}/health")).send().await.is_err(),
        "stopped"
    );
    Ok(())
}

/// The setup-mistakes world as a standalone world file (certificates inline), as
/// `admin load` sends it.
fn setup_mistakes_toml() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/worlds/setup-mistakes.toml");
    let world = scenario::World::load(path).expect("the setup-mistakes world loads");
    scenario::WorldDocument::of(&world)
        .expect("a document")
        .to_toml()
}

#[tokio::test]
async fn put_world_serves_another_world_with_its_hosts_and_reset_comes_back_to_it() {
    let fixture = fixture().await;
    let admin = &fixture.admin;
    let (status, _, loaded) = call(
        admin,
        Method::PUT,
        "/world?name=setup-mistakes.toml",
        &setup_mistakes_toml(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{loaded}");
    assert_eq!(loaded["world"], "setup-mistakes.toml");
    assert_eq!(loaded["hosts_changed"], true);
    assert_eq!(loaded["now"], "2026-01-05T09:00:00Z");
    let hosts = loaded["hosts"].as_array().expect("hosts");
    assert!(
        hosts.contains(&json!("contoso-noroles.crm.dynamics.com")),
        "{loaded}"
    );
    assert_eq!(
        fixture.server.hosts().len(),
        hosts.len(),
        "the listener serves them"
    );

    // A host only the new world has answers as Dataverse does without a token, under the CA
    // clients already trust.
    let ca = reqwest::Certificate::from_pem(fixture.server.ca_pem().as_bytes()).expect("a CA");
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .resolve("contoso-noroles.crm.dynamics.com", fixture.server.addr())
        .build()
        .expect("a client");
    let answer = client
        .get("https://contoso-noroles.crm.dynamics.com/api/data/v9.2/WhoAmI")
        .send()
        .await
        .expect("the new host is served");
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);

    let (_, _, world) = call(admin, Method::GET, "/world?format=json", "").await;
    assert!(
        world["environments"]["contoso-noroles"].is_object(),
        "{world}"
    );
    call(admin, Method::POST, "/changes", &format!("[{REMOVE_ROLE}]")).await;
    let (status, _, _) = call(admin, Method::POST, "/reset", "").await;
    assert_eq!(status, StatusCode::OK);
    let (_, _, world) = call(admin, Method::GET, "/world?format=json", "").await;
    assert!(
        world["environments"]["contoso-noroles"].is_object(),
        "reset goes back to the loaded world: {world}"
    );
    assert_eq!(
        world["environments"]["contoso"]["application_users"][0]["roles"],
        json!(["Importer Reader"])
    );
}

#[tokio::test]
async fn put_world_with_errors_is_422_naming_each_and_changes_nothing() {
    let fixture = fixture().await;
    let admin = &fixture.admin;
    let (_, _, before) = call_text(admin, Method::GET, "/world").await;
    let broken = setup_mistakes_toml()
        .replacen(
            "id = \"6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10\"",
            "id = \"not-a-guid\"",
            1,
        )
        .replacen("tenant = \"contoso\"", "tenant = \"contso\"", 1);
    let (status, _, body) = call(admin, Method::PUT, "/world?name=broken.toml", &broken).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(
        &body,
        "InvalidWorld",
        "world `broken.toml` does not load: line ",
    );
    assert_error(&body, "InvalidWorld", "(and 1 more)");
    let errors = body["error"]["errors"].as_array().expect("every error");
    assert_eq!(errors.len(), 2, "{body}");
    assert_eq!(errors[0]["key"], "tenants.contoso.id");
    assert!(
        errors[0]["line"].as_u64().is_some_and(|line| line > 1),
        "{body}"
    );
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("`not-a-guid` is not a GUID")),
        "{body}"
    );
    assert!(
        errors[1]["message"]
            .as_str()
            .is_some_and(|message| message.contains("unknown tenant `contso`")),
        "{body}"
    );

    let (status, _, body) = call(admin, Method::PUT, "/world", "version = [1\n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(
        &body,
        "InvalidWorld",
        "world `uploaded-world.toml` does not load",
    );
    assert_eq!(body["error"]["errors"][0]["line"], 1, "{body}");

    let (_, _, after) = call_text(admin, Method::GET, "/world").await;
    assert_eq!(after, before, "nothing changed");
    assert_eq!(fixture.server.hosts().len(), 3);
}

#[tokio::test]
async fn put_world_refuses_a_body_that_is_not_text_and_a_name_with_folders() {
    let fixture = fixture().await;
    let admin = &fixture.admin;
    let request = Request::builder()
        .method(Method::PUT)
        .uri("/world")
        .header("host", "127.0.0.1:8444")
        .body(Bytes::from_static(b"version = 1\n\xff"))
        .expect("valid request");
    let response = dispatch(admin, request).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("infallible")
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).expect("json");
    assert_error(&body, "InvalidBody", "not UTF-8");
    for query in ["name=../up.toml", "name=", "nmae=x.toml"] {
        let (status, _, body) = call(
            admin,
            Method::PUT,
            &format!("/world?{query}"),
            &setup_mistakes_toml(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_error(&body, "InvalidQuery", "takes only `name=<file name>`");
    }
    assert_eq!(fixture.server.hosts().len(), 3, "nothing loaded");
}
