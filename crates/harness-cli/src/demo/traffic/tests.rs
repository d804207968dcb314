//! The traffic view through the app's router (tower's `oneshot`) in front of real fakes: Add
//! Source's requests are listed with their statuses and faults, a detail shows headers and
//! bodies with the secret and the token redacted, the event stream delivers what happens after
//! it opened, says so when it falls behind and ends when the demo stops, Clear needs the CSRF
//! token. Every page and stream read is checked for the typed secret and for any token (a JWT
//! starts with `eyJ`).

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fake_core::{JournalBody, JournalEntry};
use http_body_util::BodyExt;

use super::*;
use crate::demo::test_support::{self, ADDR, Answer, Fixture, assert_markup, get_request};

/// How long a test waits for an event before it fails (never reached when it works).
const EVENT_WAIT: Duration = Duration::from_secs(20);

/// The app over fresh fakes of the built-in demo world, every answer checked for the typed
/// secret and any token.
async fn fixture() -> Fixture {
    test_support::fixture().await.checking_every_answer()
}

impl Fixture {
    /// Add Source with `secret` (the flow runs against the fakes), its outcome page or redirect
    /// (these tests read the journal, not the Sources page).
    async fn add_source(&self, name: &str, secret: &str) -> Answer {
        let fields = self.add_fields(secret, &[("name", name)]);
        let answer = self.post("/sources/dynamics365", &fields).await;
        assert!(
            answer.status.is_success() || answer.status.is_redirection(),
            "{}: {}",
            answer.status,
            answer.body
        );
        answer
    }

    fn journal(&self) -> Vec<JournalEntry> {
        self.demo.live().journal().entries()
    }
}

/// The journal's token request and WhoAmI (the first of each).
fn token_and_whoami(entries: &[JournalEntry]) -> (&JournalEntry, &JournalEntry) {
    let token = entries
        .iter()
        .find(|entry| entry.path.ends_with("/oauth2/v2.0/token"))
        .expect("a token request");
    let whoami = entries
        .iter()
        .find(|entry| entry.path.ends_with("/WhoAmI"))
        .expect("a WhoAmI request");
    (token, whoami)
}

/// The row of request `sequence` in `page` (from its opening tag to its end).
#[track_caller]
fn row_of(page: &str, sequence: u64) -> &str {
    let start = page
        .find(&format!("<tr id=\"traffic-row-{sequence}\""))
        .unwrap_or_else(|| panic!("no row for request {sequence} in {page}"));
    let end = page[start..].find("</tr>").expect("a whole row") + start;
    &page[start..end]
}

/// Reads `body` until `done` holds for what was read (each frame within [`EVENT_WAIT`]).
async fn read_until(body: &mut Body, read: &mut String, done: impl Fn(&str) -> bool) {
    while !done(read) {
        let frame = tokio::time::timeout(EVENT_WAIT, body.frame())
            .await
            .unwrap_or_else(|_| panic!("no event came; read so far:\n{read}"))
            .unwrap_or_else(|| panic!("the stream ended; read:\n{read}"))
            .expect("a frame");
        if let Ok(data) = frame.into_data() {
            read.push_str(std::str::from_utf8(&data).expect("UTF-8"));
        }
    }
}

#[tokio::test]
async fn adding_a_source_lists_its_token_request_and_whoami_newest_first_with_statuses() {
    let fixture = fixture().await;
    let empty = fixture.get("/traffic").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_markup(&empty.body, "<p id=\"traffic-empty\">No requests yet.");
    assert_markup(
        &empty.body,
        "<a href=\"/traffic\" aria-current=\"page\">Traffic</a>",
    );
    assert_markup(
        &empty.body,
        "<script src=\"/js/traffic.js\" defer></script>",
    );

    let secret = fixture.secret();
    fixture.add_source("Contoso sales", &secret).await;

    let page = fixture.get("/traffic").await;
    assert_eq!(page.status, StatusCode::OK);
    let entries = fixture.journal();
    let (token, whoami) = token_and_whoami(&entries);
    for (entry, host, status) in [
        (token, "login.microsoftonline.com", "200 OK"),
        (whoami, "contoso.crm.dynamics.com", "200 OK"),
    ] {
        let row = row_of(&page.body, entry.sequence);
        assert_eq!(entry.host, host);
        for shown in [
            "class=\"status-ok\" data-test=\"traffic-row\"".to_owned(),
            format!("<td class=\"method\">{}</td>", entry.method),
            format!("<span class=\"host\" data-test=\"traffic-host\">{host}</span></td>"),
            format!(
                "<a href=\"/traffic/{}\" data-test=\"traffic-detail-link\"",
                entry.sequence
            ),
            format!(">{}", entry.path),
            format!("<td class=\"status\" data-test=\"traffic-status\">{status}</td>"),
        ] {
            assert!(row.contains(&shown), "`{shown}` missing from {row}");
        }
    }
    // Newest first: each listed row's sequence is lower than the one above it.
    let sequences: Vec<u64> = page
        .body
        .split("data-sequence=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next()?.parse().ok())
        .collect();
    let mut expected: Vec<u64> = entries.iter().map(|entry| entry.sequence).collect();
    expected.reverse();
    assert_eq!(sequences, expected);
    assert_markup(
        &page.body,
        &format!(
            "<span id=\"traffic-shown\" data-test=\"traffic-count\">{}</span>",
            entries.len()
        ),
    );
    // The stream goes on after the newest request listed.
    let last = entries.last().expect("requests").sequence;
    assert_markup(
        &page.body,
        &format!("data-events=\"/traffic/events?since={last}\""),
    );
}

#[tokio::test]
async fn a_detail_shows_headers_and_bodies_with_the_secret_and_the_token_redacted() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    fixture.add_source("Contoso sales", &secret).await;
    let entries = fixture.journal();
    let (token, whoami) = token_and_whoami(&entries);

    let token_page = fixture.get(&format!("/traffic/{}", token.sequence)).await;
    assert_eq!(token_page.status, StatusCode::OK);
    for shown in [
        format!(
            "data-test=\"traffic-detail\" data-sequence=\"{}\"",
            token.sequence
        ),
        format!(
            "<h1 id=\"traffic-detail-heading\" tabindex=\"-1\">POST {}</h1>",
            token.path
        ),
        // The form the flow posted, its secret redacted by the fake.
        "<dt>grant_type</dt><dd><code>client_credentials</code></dd>".to_owned(),
        "<dt>client_secret</dt><dd><code>[redacted]</code></dd>".to_owned(),
        // The answer as pretty JSON, its token redacted.
        "&quot;access_token&quot;: &quot;[redacted]&quot;".to_owned(),
        "&quot;token_type&quot;: &quot;Bearer&quot;".to_owned(),
        "<span class=\"status status-ok\" data-test=\"traffic-detail-status\">200 OK</span>"
            .to_owned(),
    ] {
        assert!(
            token_page.body.contains(&shown),
            "`{shown}` missing from {}",
            token_page.body
        );
    }
    let JournalBody::Json(answer) = &token.response_body else {
        panic!("the token answer is JSON: {:?}", token.response_body);
    };
    assert_eq!(answer["access_token"], "[redacted]");

    let whoami_page = fixture.get(&format!("/traffic/{}", whoami.sequence)).await;
    assert_eq!(whoami_page.status, StatusCode::OK);
    for shown in [
        "<dt>authorization</dt><dd><code>Bearer [redacted]</code></dd>",
        "&quot;UserId&quot;: &quot;",
        "data-test=\"traffic-detail-url\">https://contoso.crm.dynamics.com/api/data/",
        "None: the fake answered as the service would",
    ] {
        assert!(
            whoami_page.body.contains(shown),
            "`{shown}` missing from {}",
            whoami_page.body
        );
    }

    for missing in ["/traffic/999999", "/traffic/not-a-number"] {
        let answer = fixture.get(missing).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn the_event_stream_delivers_the_requests_made_after_it_opened_as_rows() {
    let fixture = fixture().await;
    // A first attempt (wrong secret: one token request, refused) before the stream opens.
    fixture
        .add_source("Refused", "Wr0ng~SecretValueTypedByTheUser.0123456789")
        .await;
    let before = fixture.demo.live().journal().last_sequence();
    assert!(before > 0, "the refused attempt made no request");

    let response = fixture
        .response(get_request(&format!("/traffic/events?since={before}")))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .map(|value| value.as_bytes()),
        Some(&b"text/event-stream; charset=utf-8"[..])
    );
    let mut body = response.into_body();

    let secret = fixture.secret();
    fixture.add_source("Contoso sales", &secret).await;
    let entries = fixture.journal();
    let whoami = entries
        .iter()
        .find(|entry| entry.path.ends_with("/WhoAmI"))
        .expect("a WhoAmI request");
    let mut read = String::new();
    read_until(&mut body, &mut read, |read| {
        read.contains(&format!("id: {}\n", whoami.sequence))
    })
    .await;
    fixture.assert_no_secret_or_token(&read);
    assert!(
        read.contains(&format!(
            "id: {0}\nevent: entry\ndata: <tr id=\"traffic-row-{0}\" class=\"status-ok\"",
            whoami.sequence
        )),
        "{read}"
    );
    // Only what came after `since`, in order.
    let ids: Vec<u64> = read
        .lines()
        .filter_map(|line| line.strip_prefix("id: ")?.parse().ok())
        .collect();
    let expected: Vec<u64> = entries
        .iter()
        .map(|entry| entry.sequence)
        .filter(|sequence| *sequence > before && *sequence <= whoami.sequence)
        .collect();
    assert_eq!(ids, expected, "{read}");
}

#[tokio::test]
async fn a_reconnecting_event_source_gets_what_came_after_its_last_event_id() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    fixture.add_source("Contoso sales", &secret).await;
    let entries = fixture.journal();
    let (token, whoami) = token_and_whoami(&entries);
    // The page's `since` is older; the browser's Last-Event-ID wins.
    let request = Request::get("/traffic/events?since=0")
        .header("host", ADDR)
        .header("last-event-id", token.sequence.to_string())
        .body(Body::empty())
        .expect("a request");
    let mut body = fixture.response(request).await.into_body();
    let mut read = String::new();
    read_until(&mut body, &mut read, |read| {
        read.contains(&format!("id: {}\n", whoami.sequence))
    })
    .await;
    assert!(
        !read.contains(&format!("id: {}\n", token.sequence)),
        "{read}"
    );
}

#[tokio::test]
async fn the_event_stream_ends_when_the_demo_stops() {
    let fixture = fixture().await;
    let response = fixture.response(get_request("/traffic/events")).await;
    assert_eq!(response.status(), StatusCode::OK);
    fixture.demo.stop();
    let ended = tokio::time::timeout(EVENT_WAIT, response.into_body().collect()).await;
    assert!(
        ended.is_ok(),
        "the stream is still open after the demo stopped"
    );
}

#[tokio::test]
async fn a_fault_rule_s_name_shows_on_the_request_it_answered() {
    let fixture = fixture().await;
    let rule = r#"{"name":"whoami-forbidden","path":"*/WhoAmI","action":{"kind":"respond","status":403,"headers":{"content-type":"application/json"},"body":"{\"error\":{\"code\":\"0x80040220\",\"message\":\"denied by a fault\"}}"}}"#;
    let answer = fixture
        .demo
        .admin()
        .call(Method::POST, "/faults", Bytes::from_static(rule.as_bytes()))
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let secret = fixture.secret();
    fixture.add_source("Contoso sales", &secret).await;

    let entries = fixture.journal();
    let (token, whoami) = token_and_whoami(&entries);
    assert_eq!(whoami.fault.as_deref(), Some("whoami-forbidden"));
    let page = fixture.get("/traffic").await;
    let row = row_of(&page.body, whoami.sequence);
    for shown in [
        "class=\"status-client-error\"",
        "data-status=\"403\"",
        "data-test=\"traffic-status\">403 Forbidden</td>",
        "<td class=\"fault\" data-test=\"traffic-fault\"><span class=\"fault-name\">whoami-forbidden</span></td>",
    ] {
        assert!(row.contains(shown), "`{shown}` missing from {row}");
    }
    let token_row = row_of(&page.body, token.sequence);
    assert!(
        token_row.contains("<td class=\"fault\" data-test=\"traffic-fault\"></td>"),
        "{token_row}"
    );
    let detail = fixture.get(&format!("/traffic/{}", whoami.sequence)).await;
    assert_markup(
        &detail.body,
        "data-test=\"traffic-detail-fault\"><span class=\"fault-name\">whoami-forbidden</span> answered",
    );
    assert_markup(&detail.body, "denied by a fault");
}

#[tokio::test]
async fn the_list_filters_by_host_and_status_class() {
    let fixture = fixture().await;
    fixture
        .add_source("Refused", "Wr0ng~SecretValueTypedByTheUser.0123456789")
        .await;
    let secret = fixture.secret();
    fixture.add_source("Contoso sales", &secret).await;
    let entries = fixture.journal();
    let listed = |page: &str| -> Vec<u64> {
        page.split("data-sequence=\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next()?.parse().ok())
            .collect()
    };
    let expected = |keep: &dyn Fn(&JournalEntry) -> bool| -> Vec<u64> {
        entries
            .iter()
            .rev()
            .filter(|entry| keep(entry))
            .map(|entry| entry.sequence)
            .collect()
    };

    let client_errors = fixture.get("/traffic?status=4xx&host=").await;
    let refused_only = expected(&|entry| entry.status / 100 == 4);
    assert_eq!(refused_only.len(), 1, "{entries:?}");
    assert_eq!(listed(&client_errors.body), refused_only);
    assert_markup(
        &client_errors.body,
        "<option value=\"4xx\" selected>4xx client error</option>",
    );
    assert!(
        client_errors
            .body
            .contains("data-events=\"/traffic/events?status=4xx&amp;since="),
        "{}",
        client_errors.body
    );

    let dataverse = fixture
        .get("/traffic?host=CONTOSO.crm.dynamics.com&status=")
        .await;
    let expected_dataverse = expected(&|entry| entry.host == "contoso.crm.dynamics.com");
    assert!(!expected_dataverse.is_empty());
    assert_eq!(listed(&dataverse.body), expected_dataverse);

    let bad = fixture.get("/traffic?status=4oo").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_markup(&bad.body, "is not a status filter");
    // Refusals are the app's pages (its layout), not the extractor's plain text.
    for refused in ["/traffic?host=a&host=b", "/traffic/events?since=soon"] {
        let answer = fixture.get(refused).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{refused}");
        assert!(
            answer.body.contains("<main id=\"main\""),
            "{refused}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn clear_needs_the_csrf_token_and_empties_the_list() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    fixture.add_source("Contoso sales", &secret).await;
    let count = fixture.journal().len();
    assert!(count >= 2, "the flow made requests");

    for fields in [vec![], vec![("csrf", "not-the-token")]] {
        let refused = fixture.post("/traffic/clear", &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(fixture.journal().len(), count);

    let csrf = fixture.demo.csrf().to_owned();
    let cleared = fixture.post("/traffic/clear", &[("csrf", &csrf)]).await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
    let location = cleared.location.expect("a redirect");
    assert_eq!(location, format!("/traffic?cleared={count}"));
    assert!(fixture.journal().is_empty());
    let page = fixture.get(&location).await;
    assert_markup(
        &page.body,
        &format!("The journal was cleared ({count} requests)."),
    );
    assert!(
        !page.body.contains("data-test=\"traffic-row\""),
        "{}",
        page.body
    );
    assert_markup(&page.body, "<p id=\"traffic-empty\">No requests yet.");
}

#[test]
fn an_event_gives_each_line_of_the_row_its_own_data_field() {
    let entry = JournalEntry {
        sequence: 7,
        received_at: "2026-12-04T16:45:21Z".to_owned(),
        service: "entra".to_owned(),
        method: "GET".to_owned(),
        host: "login.microsoftonline.com".to_owned(),
        path: "/<b>".to_owned(),
        query: None,
        request_headers: Default::default(),
        request_body: JournalBody::Empty,
        status: 503,
        response_headers: Default::default(),
        response_body: JournalBody::Empty,
        fault: Some("two\nlines\r\nfault".to_owned()),
    };
    let event = String::from_utf8(traffic_event(Followed::Entry(&entry)).to_vec()).expect("UTF-8");
    assert!(
        event.starts_with(
            "id: 7\nevent: entry\ndata: <tr id=\"traffic-row-7\" class=\"status-server-error\""
        ),
        "{event}"
    );
    assert!(event.ends_with("</tr>\n\n"), "{event}");
    assert!(
        event.contains(">/&lt;b&gt;<"),
        "the path is escaped: {event}"
    );
    assert!(event.contains("<td class=\"time\"><time datetime=\"2026-12-04T16:45:21Z\" title=\"2026-12-04T16:45:21Z\">16:45:21</time></td>"), "{event}");
    // Every line of the event is a field: a bare line would end it early.
    for line in event.trim_end().lines() {
        assert!(
            line.starts_with("id: ") || line.starts_with("event: ") || line.starts_with("data: "),
            "`{line}` in {event}"
        );
    }
    let data: Vec<&str> = event
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .collect();
    assert_eq!(
        data.join("\n"),
        row(&entry)
            .into_string()
            .replace("\r\n", "\n")
            .replace('\r', "\n")
    );

    assert_eq!(
        traffic_event(Followed::Lagged(12)),
        Bytes::from_static(b"event: lagged\ndata: 12\n\n")
    );
    assert_eq!(
        traffic_event(Followed::KeepAlive),
        Bytes::from_static(b": keep-alive\n\n")
    );
}

#[tokio::test]
async fn a_stream_that_falls_behind_says_so() {
    let fixture = fixture().await;
    let mut body = fixture
        .response(get_request("/traffic/events"))
        .await
        .into_body();
    // Nobody reads the stream meanwhile: its channel fills, then the journal's subscriber
    // buffer overflows, as when a burst outruns a slow browser.
    let host = "contoso.crm.dynamics.com";
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(fixture.server.ca_pem().as_bytes())
                .expect("the harness CA"),
        )
        .resolve(host, fixture.server.addr())
        .build()
        .expect("a client");
    let burst = fake_core::SUBSCRIBER_CAPACITY + 200;
    // One after another on one connection (at once, the client opens many: slower).
    for _ in 0..burst {
        let answer = client
            .get(format!("https://{host}/no-such-path"))
            .send()
            .await
            .expect("the fake answers");
        assert_eq!(answer.status(), reqwest::StatusCode::NOT_FOUND);
    }
    assert!(fixture.journal().len() >= burst);
    let mut read = String::new();
    read_until(&mut body, &mut read, |read| {
        read.contains("event: lagged\n")
    })
    .await;
    let missed = read
        .split("event: lagged\ndata: ")
        .nth(1)
        .and_then(|rest| rest.split('\n').next())
        .and_then(|missed| missed.parse::<u64>().ok());
    assert!(missed.is_some_and(|missed| missed > 0), "{read}");
}
