//! Runs through the router (the fixture of `demo/test_support.rs`, real fakes): the event stream's
//! events in order for a passing and a failing Add Source, the outcome pages with their step
//! lists, with and without JavaScript, Rotate secret, the list's last check, CSRF and unknown
//! runs refused, and no secret in any event, page or file. The registry's bounds on paused time.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use d365_source::ExposeSecret;

use super::{CAPACITY, CHECKING, KEEP, Run, Runs};
use crate::demo::test_support::{
    ADDR, Answer, Fixture, WRONG_SECRET, assert_markup, escaped, fixture,
};

/// One server-sent event: its `event`, `id` and `data` fields.
#[derive(Debug, Default)]
struct SentEvent {
    event: String,
    id: Option<String>,
    data: String,
}

/// The events of a whole stream (comments, such as keep-alives, left out).
fn parse_events(body: &str) -> Vec<SentEvent> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .filter_map(|block| {
            let mut event = SentEvent::default();
            for line in block.lines() {
                let Some((field, value)) = line.split_once(':') else {
                    continue;
                };
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "event" => event.event = value.to_owned(),
                    "id" => event.id = Some(value.to_owned()),
                    "data" => event.data.push_str(value),
                    _ => {}
                }
            }
            (!event.event.is_empty()).then_some(event)
        })
        .collect()
}

/// Each step event as `label status`, and the `done` event's location as `done {location}`.
fn lines(events: &[SentEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| {
            let data: serde_json::Value =
                serde_json::from_str(&event.data).expect("each event's data is JSON");
            match event.event.as_str() {
                "step" => format!(
                    "{} {}",
                    data["label"].as_str().expect("a label"),
                    data["status"].as_str().expect("a status")
                ),
                other => format!("{other} {}", data["location"].as_str().expect("a location")),
            }
        })
        .collect()
}

impl Fixture {
    /// Starts a run at `path` (`/runs/add`, `/runs/rotate`): its id, from the 202 answer.
    async fn start_run(&self, path: &str, fields: &[(&str, &str)]) -> String {
        let started = self.post(path, fields).await;
        assert_eq!(started.status, StatusCode::ACCEPTED, "{}", started.body);
        let answer: serde_json::Value = serde_json::from_str(&started.body).expect("a JSON answer");
        let id = answer["id"].as_str().expect("an id").to_owned();
        assert_eq!(answer["events"], format!("/runs/{id}/events"));
        assert_eq!(answer["result"], format!("/runs/{id}"));
        id
    }

    /// The run's whole event stream (it ends after `done`).
    async fn stream(&self, id: &str, last_event_id: Option<&str>) -> Answer {
        let mut request = Request::get(format!("/runs/{id}/events")).header("host", ADDR);
        if let Some(last) = last_event_id {
            request = request.header("last-event-id", last);
        }
        self.send(request.body(Body::empty()).expect("a request"))
            .await
    }
}

/// Asserts that `secret` is in none of `texts`.
#[track_caller]
fn assert_not_shown(secret: &str, texts: &[&str]) {
    for text in texts {
        assert!(!text.contains(secret), "the secret is shown in:\n{text}");
    }
}

const PASSING_STEPS: [&str; 12] = [
    "Token started",
    "Token passed",
    "WhoAmI started",
    "WhoAmI passed",
    "Organization started",
    "Organization passed",
    "Privileges started",
    "Privileges passed",
    "Read account started",
    "Read account passed",
    "Read contact started",
    "Read contact passed",
];

#[tokio::test]
async fn the_event_stream_of_a_passing_add_shows_each_step_then_the_listed_source() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    let id = fixture
        .start_run("/runs/add", &fixture.add_fields(&secret, &[]))
        .await;
    let stream = fixture.stream(&id, None).await;
    assert_eq!(stream.status, StatusCode::OK);
    assert_eq!(
        stream
            .headers
            .get("content-type")
            .map(|value| value.as_bytes()),
        Some(&b"text/event-stream"[..])
    );
    let events = parse_events(&stream.body);
    let done = format!("done /runs/{id}");
    assert_eq!(
        lines(&events),
        [&PASSING_STEPS[..], &[done.as_str()]].concat()
    );
    let ids: Vec<Option<&str>> = events.iter().map(|event| event.id.as_deref()).collect();
    assert_eq!(ids[..3], [Some("0"), Some("1"), Some("2")]);
    // Each ended step carries its time, in milliseconds and as text.
    let passed: serde_json::Value = serde_json::from_str(&events[1].data).expect("JSON");
    assert_eq!(passed["step"], "token");
    assert!(passed["elapsed_ms"].is_u64(), "{passed}");
    assert!(
        passed["elapsed"]
            .as_str()
            .is_some_and(|text| text.ends_with(" ms") || text.ends_with(" s")),
        "{passed}"
    );

    let outcome = fixture.get(&format!("/runs/{id}")).await;
    assert_eq!(outcome.status, StatusCode::SEE_OTHER, "{}", outcome.body);
    let location = outcome.location.expect("a redirect");
    assert_eq!(location, format!("/sources?added=Contoso+sales&run={id}"));
    let listed = fixture.get(&location).await;
    assert_eq!(listed.status, StatusCode::OK);
    for shown in [
        "Source &#39;Contoso sales&#39; was checked and added.",
        "data-test=\"check-progress\"",
        "aria-live=\"polite\"",
        "data-label=\"Read contact\" data-status=\"passed\"",
        "data-test=\"step-time\"",
        "data-test=\"source-row\" data-source=\"Contoso sales\"",
    ] {
        let shown = shown.replace("&#39;", "'");
        assert!(
            listed.body.contains(&shown),
            "`{shown}` missing from {}",
            listed.body
        );
    }
    assert_not_shown(&secret, &[&stream.body, &listed.body]);
    fixture.assert_secret_not_stored(&secret);

    // A browser that reconnects gets only what it missed.
    let resumed = parse_events(&fixture.stream(&id, Some("9")).await.body);
    assert_eq!(
        lines(&resumed),
        ["Read contact started", "Read contact passed", done.as_str()]
    );
}

#[tokio::test]
async fn the_event_stream_of_a_wrong_secret_ends_at_the_token_and_the_form_comes_back() {
    let fixture = fixture().await;
    let id = fixture
        .start_run("/runs/add", &fixture.add_fields(WRONG_SECRET, &[]))
        .await;
    let stream = fixture.stream(&id, None).await;
    let done = format!("done /runs/{id}");
    assert_eq!(
        lines(&parse_events(&stream.body)),
        ["Token started", "Token failed", done.as_str()]
    );
    let outcome = fixture.get(&format!("/runs/{id}")).await;
    assert_eq!(outcome.status, StatusCode::OK, "{}", outcome.body);
    for shown in [
        "data-problem=\"wrong_secret\"",
        "data-test=\"problem-fix\"",
        "<details><summary>Evidence (wrong_secret)</summary>",
        "data-label=\"Token\" data-status=\"failed\"",
        // The typed fields come back, the secret does not.
        "value=\"Contoso sales\"",
        "id=\"source-form\"",
        "data-run=\"/runs/add\"",
        "src=\"/js/progress.js\"",
    ] {
        assert!(
            outcome.body.contains(shown),
            "`{shown}` missing from {}",
            outcome.body
        );
    }
    assert!(fixture.demo.store().list().expect("a list").is_empty());
    assert_not_shown(WRONG_SECRET, &[&stream.body, &outcome.body]);
    fixture.assert_secret_not_stored(WRONG_SECRET);
}

#[tokio::test]
async fn an_invalid_form_run_has_no_step_and_comes_back_with_its_field_errors() {
    let fixture = fixture().await;
    let id = fixture
        .start_run(
            "/runs/add",
            &fixture.add_fields(WRONG_SECRET, &[("environment_url", "not a url")]),
        )
        .await;
    let done = format!("done /runs/{id}");
    assert_eq!(
        lines(&parse_events(&fixture.stream(&id, None).await.body)),
        [done.as_str()]
    );
    let outcome = fixture.get(&format!("/runs/{id}")).await;
    assert_eq!(outcome.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_markup(
        &outcome.body,
        "id=\"environment_url-error\" data-test=\"field-error\"",
    );
    assert_markup(&outcome.body, "value=\"Contoso sales\"");
    // The step list is there for the script, empty and hidden.
    assert_markup(
        &outcome.body,
        "data-test=\"check-progress\" aria-labelledby=\"check-progress-heading\" hidden",
    );
    assert_not_shown(WRONG_SECRET, &[&outcome.body]);
}

#[tokio::test]
async fn without_javascript_the_post_waits_and_shows_the_finished_steps_with_their_times() {
    let fixture = fixture().await;
    let failed = fixture
        .post(
            "/sources/dynamics365",
            &fixture.add_fields(WRONG_SECRET, &[]),
        )
        .await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.body);
    assert_markup(&failed.body, "data-label=\"Token\" data-status=\"failed\"");
    assert_markup(&failed.body, "data-test=\"step-time\"");
    assert_not_shown(WRONG_SECRET, &[&failed.body]);

    let secret = fixture.secret();
    let added = fixture.add_valid_source().await;
    let listed = fixture.get(&added.location.expect("a redirect")).await;
    for step in PASSING_STEPS.iter().filter(|step| step.ends_with("passed")) {
        let label = step.trim_end_matches(" passed");
        let shown = format!("data-label=\"{label}\" data-status=\"passed\"");
        assert!(
            listed.body.contains(&shown),
            "`{shown}` missing from {}",
            listed.body
        );
    }
    assert_not_shown(&secret, &[&listed.body]);
}

#[tokio::test]
async fn a_run_without_the_csrf_token_is_refused_and_starts_nothing() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    let mut fields = fixture.add_fields(&secret, &[]);
    fields[0].1 = "not-the-token";
    for path in ["/runs/add", "/runs/rotate", "/sources/rotate"] {
        let refused = fixture.post(path, &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        assert_not_shown(&secret, &[&refused.body]);
    }
    assert_eq!(fixture.demo.runs.lock().len(), 0);
    assert!(fixture.demo.store().list().expect("a list").is_empty());
}

#[tokio::test]
async fn an_unknown_run_is_a_404_page() {
    let fixture = fixture().await;
    for path in ["/runs/no-such-run", "/runs/no-such-run/events"] {
        let answer = fixture.get(path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{path}");
        assert_markup(&answer.body, "There is no such check");
    }
}

#[tokio::test]
async fn rotating_to_a_working_secret_replaces_it_and_a_wrong_one_keeps_the_old() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    fixture.add_valid_source().await;
    let list = fixture.get("/sources").await;
    assert_markup(
        &list.body,
        "href=\"/sources/rotate?name=Contoso+sales\" data-test=\"rotate-source\"",
    );
    let form = fixture.get("/sources/rotate?name=Contoso+sales").await;
    assert_eq!(form.status, StatusCode::OK);
    for shown in [
        "id=\"rotate-form\"",
        "data-run=\"/runs/rotate\"",
        "type=\"password\"",
        &escaped("The secret's Value, not its Secret ID"),
    ] {
        assert!(
            form.body.contains(shown),
            "`{shown}` missing from {}",
            form.body
        );
    }

    let csrf = fixture.demo.csrf().to_owned();
    let fields = |typed: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "Contoso sales".to_owned()),
            ("client_secret", typed.to_owned()),
        ]
    };
    let wrong = fields(WRONG_SECRET);
    let wrong: Vec<(&str, &str)> = wrong
        .iter()
        .map(|(key, value)| (*key, value.as_str()))
        .collect();
    let failed = fixture.post("/sources/rotate", &wrong).await;
    assert_eq!(failed.status, StatusCode::OK, "{}", failed.body);
    for shown in [
        "data-problem=\"wrong_secret\"",
        "data-test=\"problem-fix\"",
        "data-test=\"old-secret-kept\"",
        "data-label=\"Token\" data-status=\"failed\"",
    ] {
        assert!(
            failed.body.contains(shown),
            "`{shown}` missing from {}",
            failed.body
        );
    }
    assert_eq!(
        fixture
            .demo
            .store()
            .secret("Contoso sales")
            .expect("the secret opens")
            .expose_secret(),
        secret
    );

    // The same secret again passes (the world has no second live one): the path of a rotation.
    let id = {
        let right: Vec<(&str, &str)> = vec![
            ("csrf", csrf.as_str()),
            ("name", "Contoso sales"),
            ("client_secret", secret.as_str()),
        ];
        fixture.start_run("/runs/rotate", &right).await
    };
    let stream = fixture.stream(&id, None).await;
    let events = lines(&parse_events(&stream.body));
    assert_eq!(events[..10], PASSING_STEPS[..10]);
    let outcome = fixture.get(&format!("/runs/{id}")).await;
    let location = outcome.location.expect("a redirect");
    assert_eq!(location, format!("/sources?rotated=Contoso+sales&run={id}"));
    let listed = fixture.get(&location).await;
    assert!(
        listed
            .body
            .contains("Source &#39;Contoso sales&#39; has a new secret")
            || listed
                .body
                .contains("Source 'Contoso sales' has a new secret"),
        "{}",
        listed.body
    );
    for text in [&failed.body, &stream.body, &listed.body, &form.body] {
        assert_not_shown(WRONG_SECRET, &[text]);
        assert_not_shown(&secret, &[text]);
    }
    fixture.assert_secret_not_stored(WRONG_SECRET);
    fixture.assert_secret_not_stored(&secret);
}

#[tokio::test]
async fn rotating_needs_a_secret_and_an_existing_source() {
    let fixture = fixture().await;
    let unknown = fixture.get("/sources/rotate?name=Nobody").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let secret = fixture.secret();
    fixture
        .post("/sources/dynamics365", &fixture.add_fields(&secret, &[]))
        .await;
    let csrf = fixture.demo.csrf().to_owned();
    let empty = fixture
        .post(
            "/sources/rotate",
            &[
                ("csrf", &csrf),
                ("name", "Contoso sales"),
                ("client_secret", ""),
            ],
        )
        .await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.body
    );
    assert_markup(
        &empty.body,
        "id=\"client_secret-error\" data-test=\"field-error\"",
    );
}

#[tokio::test]
async fn the_list_shows_the_last_checks_time_and_its_warnings() {
    let fixture = fixture().await;
    let changes: Vec<scenario::Change> = serde_json::from_str(
        r#"[{"change": "set_privilege", "environment": "contoso", "role": "Importer Reader", "privilege": "prvReadAccount", "depth": "Local"}]"#,
    )
    .expect("a change");
    fixture.live.apply(&changes).expect("the change applies");
    fixture.add_valid_source().await;
    let source = fixture.demo.store().get("Contoso sales").expect("saved");
    let d365_source::LastCheck::Passed(report) = &source.last_check else {
        panic!("expected a passed check, got {:?}", source.last_check);
    };
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    let listed = fixture.get("/sources").await;
    let checked_at = report
        .checked_at
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a time");
    for shown in [
        format!("<time datetime=\"{checked_at}\" data-test=\"last-check-time\">"),
        "data-test=\"last-check-warnings\"".to_owned(),
        format!(
            "<li data-test=\"last-check-warning\">{}</li>",
            escaped(&report.warnings[0].message)
        ),
    ] {
        assert!(
            listed.body.contains(&shown),
            "`{shown}` missing from {}",
            listed.body
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_registry_keeps_at_most_its_capacity_for_a_bounded_time() {
    let runs = Runs::default();
    let first = Arc::new(Run::new().expect("an id"));
    let first_id = first.id().to_owned();
    runs.keep(first);
    let mut ids = Vec::new();
    for _ in 1..CAPACITY {
        let run = Arc::new(Run::new().expect("an id"));
        ids.push(run.id().to_owned());
        runs.keep(run);
    }
    assert!(runs.get(&first_id).is_some(), "the first run is still kept");
    let newest = Arc::new(Run::new().expect("an id"));
    let newest_id = newest.id().to_owned();
    runs.keep(newest);
    assert!(runs.get(&first_id).is_none(), "the oldest run went first");
    assert_eq!(runs.lock().len(), CAPACITY);
    assert_ne!(newest_id, first_id, "ids are random");

    tokio::time::advance(KEEP - std::time::Duration::from_secs(1)).await;
    assert!(runs.get(&newest_id).is_some());
    tokio::time::advance(std::time::Duration::from_secs(1)).await;
    assert!(
        runs.get(&newest_id).is_none(),
        "a run is forgotten after KEEP"
    );
    assert_eq!(runs.lock().len(), 0);
}

#[tokio::test]
async fn test_as_a_run_streams_its_steps_and_a_failure_ends_with_a_failed_step() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    fixture.add_valid_source().await;
    let csrf = fixture.demo.csrf().to_owned();
    let fields = [("csrf", csrf.as_str()), ("name", "Contoso sales")];

    let id = fixture.start_run("/runs/test", &fields).await;
    let done = format!("done /runs/{id}");
    assert_eq!(
        lines(&parse_events(&fixture.stream(&id, None).await.body)),
        [&PASSING_STEPS[..], &[done.as_str()]].concat()
    );
    let outcome = fixture.get(&format!("/runs/{id}")).await;
    assert_eq!(
        outcome.location.as_deref(),
        Some(format!("/sources?tested=Contoso+sales&run={id}").as_str())
    );

    let changes: Vec<scenario::Change> = serde_json::from_str(
        r#"[{"change": "remove_role", "environment": "contoso", "app": "importer", "role": "Importer Reader"}]"#,
    )
    .expect("a change");
    fixture.live.apply(&changes).expect("the change applies");
    let id = fixture.start_run("/runs/test", &fields).await;
    let events = lines(&parse_events(&fixture.stream(&id, None).await.body));
    let done = format!("done /runs/{id}");
    assert_eq!(events.last().map(String::as_str), Some(done.as_str()));
    let failed: Vec<&String> = events
        .iter()
        .filter(|line| line.ends_with(" failed"))
        .collect();
    assert!(!failed.is_empty(), "{events:?}");
    let listed = fixture
        .get(
            &fixture
                .get(&format!("/runs/{id}"))
                .await
                .location
                .expect("a redirect"),
        )
        .await;
    assert_markup(&listed.body, "data-status=\"failed\"");
    assert_markup(&listed.body, "data-test=\"problem\"");
    assert_not_shown(&secret, &[&listed.body]);
}

#[test]
fn times_read_in_milliseconds_under_a_second_and_in_seconds_above() {
    use std::time::Duration;
    for (elapsed, text) in [
        (Duration::ZERO, "0 ms"),
        (Duration::from_micros(1_500), "1 ms"),
        (Duration::from_millis(999), "999 ms"),
        (Duration::from_millis(1_000), "1.0 s"),
        (Duration::from_millis(1_449), "1.4 s"),
        (Duration::from_secs(75), "75.0 s"),
    ] {
        assert_eq!(super::elapsed_text(elapsed), text, "{elapsed:?}");
    }
}

#[test]
fn each_started_step_is_one_row_that_its_end_updates() {
    use d365_source::{CheckEvent, CheckEventKind, Step};
    use std::time::Duration;
    let event = |step, label: &str, kind| CheckEvent {
        step,
        label: label.to_owned(),
        kind,
    };
    let elapsed = Duration::from_millis(7);
    let rows = super::step_views(&[
        event(Step::Token, "Token", CheckEventKind::Started),
        event(Step::Token, "Token", CheckEventKind::Passed { elapsed }),
        event(Step::TableRead, "Read account", CheckEventKind::Started),
        event(
            Step::TableRead,
            "Read account",
            CheckEventKind::Failed { elapsed },
        ),
        event(Step::TableRead, "Read contact", CheckEventKind::Started),
    ]);
    let shown: Vec<(&str, &str, Option<Duration>)> = rows
        .iter()
        .map(|row| (row.label.as_str(), row.status, row.elapsed))
        .collect();
    assert_eq!(
        shown,
        [
            ("Token", "passed", Some(elapsed)),
            ("Read account", "failed", Some(elapsed)),
            ("Read contact", "started", None),
        ]
    );
}

#[tokio::test]
async fn no_check_starts_while_the_most_that_may_run_at_once_are_running() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    let running = Arc::clone(&fixture.demo.runs.checking)
        .acquire_many_owned(u32::try_from(CHECKING).expect("a small number"))
        .await
        .expect("the permits");

    let busy = fixture
        .post("/runs/add", &fixture.add_fields(&secret, &[]))
        .await;
    assert_eq!(
        busy.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        busy.body
    );
    assert_markup(
        &busy.body,
        &format!("{CHECKING} connection checks are running already"),
    );
    let without_script = fixture
        .post("/sources/dynamics365", &fixture.add_fields(&secret, &[]))
        .await;
    assert_eq!(without_script.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(fixture.demo.store().list().expect("a list").is_empty());

    // One finishes: the next check starts, and its permit comes back when it ends.
    drop(running);
    let id = fixture
        .start_run("/runs/add", &fixture.add_fields(&secret, &[]))
        .await;
    let stream = fixture.stream(&id, None).await;
    assert!(stream.body.contains("event: done"), "{}", stream.body);
    assert_eq!(fixture.demo.runs.checking.available_permits(), CHECKING);
}
