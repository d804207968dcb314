//! The demo's web app through its router with tower's `oneshot` (no socket for the app), in
//! front of real fakes for the built-in demo world: adding a source lists it, a wrong secret
//! shows its problem, an invalid form its field errors, and the guard and CSRF refusals. Each
//! test that types a secret checks that no page (and no file of the source list, or log line)
//! shows it. The fixture is `demo/test_support.rs`, which every section's tests share.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use d365_source::{Field, FormRules, LastCheck, SecretString, SourceForm};

use super::*;
use crate::demo::test_support::{ADDR, WRONG_SECRET, assert_markup, escaped, fixture};

#[tokio::test]
async fn adding_a_valid_source_lists_it_with_its_masked_secret() {
    let fixture = fixture().await;
    let empty = fixture.get("/sources").await;
    assert_eq!(empty.status, StatusCode::OK);
    let frame_ancestors = empty
        .headers
        .get("content-security-policy")
        .and_then(|policy| policy.to_str().ok())
        .is_some_and(|policy| policy.contains("frame-ancestors 'none'"));
    assert!(frame_ancestors, "{:?}", empty.headers);
    assert_eq!(
        empty
            .headers
            .get("x-frame-options")
            .map(|value| value.as_bytes()),
        Some(&b"DENY"[..])
    );
    assert_markup(&empty.body, "Microsoft Dynamics 365");
    assert_markup(&empty.body, "No sources yet");

    let secret = fixture.secret();
    let added = fixture.add_valid_source().await;
    let location = added.location.expect("a redirect");
    // The list, with the steps of the run that added it.
    assert!(
        location.starts_with("/sources?added=Contoso+sales&run="),
        "{location}"
    );

    let listed = fixture.get(&location).await;
    assert_eq!(listed.status, StatusCode::OK);
    let source = fixture.demo.store().get("Contoso sales").expect("saved");
    for shown in [
        "Source 'Contoso sales' was checked and added.",
        source.environment.as_str(),
        &source.tenant.to_string(),
        &source.secret_hint,
        "Passed",
    ] {
        let shown = escaped(shown);
        assert!(
            listed.body.contains(&shown),
            "`{shown}` missing from {}",
            listed.body
        );
    }
    assert!(!listed.body.contains(&secret), "the page shows the secret");
    fixture.assert_secret_not_stored(&secret);
}

#[tokio::test]
async fn a_wrong_secret_shows_the_problem_its_fix_and_the_evidence() {
    let fixture = fixture().await;
    let answer = fixture
        .post(
            "/sources/dynamics365",
            &fixture.add_fields(WRONG_SECRET, &[]),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_markup(
        &answer.body,
        "Microsoft Entra ID rejected the Client Secret: it is not a current secret of application",
    );
    assert!(
        answer
            .body
            .contains("Certificates &amp; secrets, create a new client secret and paste its Value"),
        "{}",
        answer.body
    );
    assert_markup(
        &answer.body,
        "<details><summary>Evidence (wrong_secret)</summary>",
    );
    assert_markup(&answer.body, "AADSTS7000215");
    // The typed fields come back, the secret does not.
    assert_markup(&answer.body, "value=\"Contoso sales\"");
    assert!(
        !answer.body.contains(WRONG_SECRET),
        "the page shows the secret"
    );
    assert!(fixture.demo.store().list().expect("a list").is_empty());
    fixture.assert_secret_not_stored(WRONG_SECRET);
}

#[tokio::test]
async fn an_invalid_form_shows_each_error_next_to_its_field_with_focus_on_the_first() {
    let fixture = fixture().await;
    let changes = [
        ("name", "  "),
        ("environment_url", "https://example.com/"),
        ("client_id", "\"><script>alert(1)</script>"),
    ];
    let fields = fixture.add_fields(WRONG_SECRET, &changes);
    let answer = fixture.post("/sources/dynamics365", &fields).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );

    let value = |key: &str| {
        fields
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| (*value).to_owned())
            .expect("a field")
    };
    let expected = d365_source::form::validate(
        &SourceForm {
            name: value("name"),
            environment_url: value("environment_url"),
            tenant_id: value("tenant_id"),
            client_id: value("client_id"),
            client_secret: SecretString::from(WRONG_SECRET),
        },
        &FormRules::default(),
    )
    .expect_err("the form is invalid");
    let invalid: Vec<Field> = expected.errors.iter().map(|error| error.field).collect();
    assert_eq!(
        invalid,
        [Field::Name, Field::EnvironmentUrl, Field::ClientId]
    );
    for error in &expected.errors {
        let id = error.field.as_str();
        let next_to_field = format!(
            "<p class=\"field-error\" id=\"{id}-error\" data-test=\"field-error\">{}</p>",
            escaped(&error.message)
        );
        assert!(
            answer.body.contains(&next_to_field),
            "`{next_to_field}` missing from {}",
            answer.body
        );
        assert_markup(
            &answer.body,
            &format!("aria-describedby=\"{id}-hint {id}-error\" aria-invalid=\"true\""),
        );
    }
    assert_eq!(
        answer.body.matches(" autofocus").count(),
        1,
        "{}",
        answer.body
    );
    assert_markup(&answer.body, "aria-invalid=\"true\" autofocus");
    assert_markup(&answer.body, "id=\"name\" name=\"name\"");
    // What was typed comes back as text, never as markup.
    assert!(!answer.body.contains("<script>"), "{}", answer.body);
    assert!(
        answer.body.contains("value=\"&quot;&gt;&lt;script&gt;"),
        "{}",
        answer.body
    );
    assert!(
        !answer.body.contains(WRONG_SECRET),
        "the page shows the secret"
    );
    fixture.assert_secret_not_stored(WRONG_SECRET);
}

#[tokio::test]
async fn the_form_shows_the_secret_as_a_password_field_with_the_value_hint() {
    let fixture = fixture().await;
    let answer = fixture.get("/sources/dynamics365").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_markup(
        &answer.body,
        "<input id=\"client_secret\" name=\"client_secret\" type=\"password\"",
    );
    assert_markup(&answer.body, "The secret's Value, not its Secret ID");
    for field in [
        "name",
        "environment_url",
        "tenant_id",
        "client_id",
        "client_secret",
    ] {
        assert!(
            answer.body.contains(&format!("<label for=\"{field}\">")),
            "{field}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn a_post_without_the_csrf_token_is_refused_and_changes_nothing() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    let mut fields = fixture.add_fields(&secret, &[]);
    fields.retain(|(key, _)| *key != "csrf");
    let missing = fixture.post("/sources/dynamics365", &fields).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    fields.push(("csrf", "not-the-token"));
    let wrong = fixture.post("/sources/dynamics365", &fields).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(fixture.demo.store().list().expect("a list").is_empty());

    // Test and Remove need it too.
    let added = fixture
        .post("/sources/dynamics365", &fixture.add_fields(&secret, &[]))
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER);
    for action in ["/sources/test", "/sources/remove"] {
        let refused = fixture.post(action, &[("name", "Contoso sales")]).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{action}");
    }
    assert_eq!(fixture.demo.store().list().expect("a list").len(), 1);
}

#[tokio::test]
async fn a_request_for_another_host_or_from_another_origin_is_refused() {
    let fixture = fixture().await;
    let request = |host: &str, origin: Option<&str>| {
        let mut builder = Request::get("/sources").header("host", host);
        if let Some(origin) = origin {
            builder = builder.header("origin", origin);
        }
        builder.body(Body::empty()).expect("a request")
    };
    for (host, origin) in [
        ("evil.example:8080", None),
        ("evil.example", None),
        ("127.0.0.1:9999", None),
        (ADDR, Some("http://evil.example:8080")),
        (ADDR, Some("null")),
        (ADDR, Some("https://127.0.0.1:8080")),
    ] {
        let answer = fixture.send(request(host, origin)).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{host} {origin:?}");
    }
    let no_host = fixture
        .send(
            Request::get("/sources")
                .body(Body::empty())
                .expect("a request"),
        )
        .await;
    assert_eq!(no_host.status, StatusCode::FORBIDDEN);
    for (host, origin) in [
        (ADDR, None),
        ("localhost:8080", Some("http://localhost:8080")),
        (ADDR, Some("http://127.0.0.1:8080")),
    ] {
        let answer = fixture.send(request(host, origin)).await;
        assert_eq!(answer.status, StatusCode::OK, "{host} {origin:?}");
    }
}

#[tokio::test]
async fn test_records_the_check_and_remove_takes_the_source_off_the_list() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    fixture.add_valid_source().await;
    let csrf = fixture.demo.csrf().to_owned();
    let tested = fixture
        .post(
            "/sources/test",
            &[("csrf", &csrf), ("name", "contoso SALES")],
        )
        .await;
    assert_eq!(tested.status, StatusCode::SEE_OTHER, "{}", tested.body);
    assert!(
        tested
            .location
            .as_deref()
            .is_some_and(|location| location.starts_with("/sources?tested=Contoso+sales&run=")),
        "{:?}",
        tested.location
    );
    let page = fixture.get("/sources?tested=Contoso+sales").await;
    assert_markup(&page.body, "was tested");
    assert!(!page.body.contains(&secret), "the page shows the secret");

    let removed = fixture
        .post(
            "/sources/remove",
            &[("csrf", &csrf), ("name", "Contoso sales")],
        )
        .await;
    assert_eq!(
        removed.location.as_deref(),
        Some("/sources?removed=Contoso+sales")
    );
    assert!(fixture.demo.store().list().expect("a list").is_empty());
    let unknown = fixture
        .post(
            "/sources/test",
            &[("csrf", &csrf), ("name", "Contoso sales")],
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_markup(&unknown.body, "no source is named `Contoso sales`");
    fixture.assert_secret_not_stored(&secret);
}

#[test]
fn a_loopback_listener_also_answers_to_localhost() {
    let check = |addr: &str, expected: &[&str]| {
        let addr: SocketAddr = addr.parse().expect("an address");
        assert_eq!(app::authorities(addr), expected, "{addr}");
    };
    check("127.0.0.1:8080", &["127.0.0.1:8080", "localhost:8080"]);
    check("[::1]:8080", &["[::1]:8080", "localhost:8080"]);
    check(
        "0.0.0.0:8080",
        &["0.0.0.0:8080", "localhost:8080", "127.0.0.1:8080"],
    );
    check("192.0.2.7:8080", &["192.0.2.7:8080"]);
    check(
        "127.0.0.1:80",
        &["127.0.0.1:80", "localhost:80", "127.0.0.1", "localhost"],
    );
}

#[test]
fn the_printed_url_is_connectable() {
    assert_eq!(
        page_url("0.0.0.0:8080".parse().expect("an address")),
        "http://127.0.0.1:8080/sources"
    );
    assert_eq!(
        page_url("127.0.0.1:0".parse().expect("an address")),
        "http://127.0.0.1:0/sources"
    );
}

#[tokio::test]
async fn a_failed_test_lists_the_problem_with_its_fix_and_a_passing_one_clears_it() {
    let fixture = fixture().await;
    let secret = fixture.secret();
    fixture.add_valid_source().await;
    let csrf = fixture.demo.csrf().to_owned();
    let test_fields = [("csrf", csrf.as_str()), ("name", "Contoso sales")];
    let test = || fixture.post("/sources/test", &test_fields);

    // What the tenant console will do: the admin removes the application user's role.
    let changes: Vec<scenario::Change> = serde_json::from_str(
        r#"[{"change": "remove_role", "environment": "contoso", "app": "importer", "role": "Importer Reader"}]"#,
    )
    .expect("a change");
    fixture.live.apply(&changes).expect("the change applies");
    assert_eq!(test().await.status, StatusCode::SEE_OTHER);
    let failed = fixture.get("/sources?tested=Contoso+sales").await;
    let source = fixture.demo.store().get("Contoso sales").expect("kept");
    let LastCheck::Failed { problem, .. } = &source.last_check else {
        panic!("the check passed without the role: {:?}", source.last_check);
    };
    for shown in [
        "Failed",
        problem.message.as_str(),
        problem.fix.as_str(),
        &format!("<details><summary>Evidence ({})</summary>", problem.kind),
    ] {
        let shown = if shown.starts_with('<') {
            shown.to_owned()
        } else {
            escaped(shown)
        };
        assert!(
            failed.body.contains(&shown),
            "`{shown}` missing from {}",
            failed.body
        );
    }
    // In the list the problem is not an alert: the page did not just fail.
    assert!(!failed.body.contains("role=\"alert\""), "{}", failed.body);

    fixture.live.reset();
    assert_eq!(test().await.status, StatusCode::SEE_OTHER);
    let passed = fixture.get("/sources").await;
    assert_markup(
        &passed.body,
        "<span class=\"passed\" data-test=\"last-check-status\">Passed</span>",
    );
    assert!(
        !passed.body.contains(&escaped(&problem.message)),
        "{}",
        passed.body
    );
    assert!(!passed.body.contains(&secret), "the page shows the secret");
}

#[tokio::test]
async fn a_secret_id_typed_as_the_secret_is_named_as_such_with_a_warning_under_the_field() {
    let fixture = fixture().await;
    let secret_id = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
    let answer = fixture
        .post("/sources/dynamics365", &fixture.add_fields(secret_id, &[]))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_markup(
        &answer.body,
        "It looks like the secret's ID (a GUID) rather than its value.",
    );
    let form = SourceForm {
        name: "any".to_owned(),
        environment_url: "https://contoso.crm.dynamics.com".to_owned(),
        tenant_id: "contoso.onmicrosoft.com".to_owned(),
        client_id: "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01".to_owned(),
        client_secret: SecretString::from(secret_id),
    };
    let draft = d365_source::form::validate(&form, &FormRules::default()).expect("a valid form");
    assert!(!draft.warnings.is_empty(), "the form warns about a GUID");
    for warning in &draft.warnings {
        assert_eq!(warning.field, Field::ClientSecret);
        let under_field = format!(
            "<p class=\"field-warning\" data-test=\"field-warning\">{}</p><input id=\"client_secret\"",
            escaped(&warning.message)
        );
        assert!(
            answer.body.contains(&under_field),
            "`{under_field}` missing from {}",
            answer.body
        );
    }
    assert!(
        !answer.body.contains(secret_id),
        "the page shows the secret"
    );
}

/// Log lines written by a test's subscriber.
#[derive(Clone, Default)]
struct CapturedLog(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_log_line_shows_a_typed_secret() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    // The test runs on one thread (tokio's current-thread runtime), the fakes' tasks included.
    let _default = tracing::subscriber::set_default(subscriber);
    // Another test's thread may have cached a callsite's interest before this subscriber
    // existed (tests run in parallel, each with its own subscriber or none).
    tracing::callsite::rebuild_interest_cache();
    let fixture = fixture().await;
    // A callsite first hit by a test on another thread while this subscriber was being set
    // may have cached "no subscriber is interested" (tracing computes interest once per
    // callsite); recompute it now that this thread's subscriber exists.
    tracing::callsite::rebuild_interest_cache();
    let secret = fixture.secret();
    for (typed, name) in [(WRONG_SECRET, "Wrong"), (secret.as_str(), "Right")] {
        let answer = fixture
            .post(
                "/sources/dynamics365",
                &fixture.add_fields(typed, &[("name", name)]),
            )
            .await;
        assert!(answer.status.is_success() || answer.status.is_redirection());
    }
    let csrf = fixture.demo.csrf().to_owned();
    fixture
        .post("/sources/test", &[("csrf", &csrf), ("name", "Right")])
        .await;
    let text = String::from_utf8_lossy(
        &log.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned();
    assert!(
        text.contains("checking a new source"),
        "the log was not captured: {text}"
    );
    for typed in [WRONG_SECRET, secret.as_str()] {
        assert!(!text.contains(typed), "a log line shows a secret:\n{text}");
    }
}

#[tokio::test]
async fn reset_puts_the_world_back_through_the_admin_api_and_empties_the_list() {
    let fixture = fixture().await;
    fixture.add_valid_source().await;
    let loaded = fixture.live.world_toml();
    let changes: Vec<scenario::Change> =
        serde_json::from_str(r#"[{"change": "admin_mode", "environment": "contoso", "on": true}]"#)
            .expect("a change");
    fixture.live.apply(&changes).expect("the change applies");
    assert_ne!(fixture.live.world_toml(), loaded, "the change did nothing");

    let csrf = fixture.demo.csrf().to_owned();
    let refused = fixture.post("/reset", &[("csrf", "not-the-token")]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(fixture.demo.store().list().expect("a list").len(), 1);

    let reset = fixture.post("/reset", &[("csrf", csrf.as_str())]).await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.body);
    assert_eq!(reset.location.as_deref(), Some("/sources?reset=1"));
    assert_eq!(fixture.live.world_toml(), loaded);
    assert!(fixture.demo.store().list().expect("a list").is_empty());
    let page = fixture.get("/sources?reset=1").await;
    assert_markup(&page.body, "The demo was reset");
    assert_markup(&page.body, "No sources yet");
}

#[tokio::test]
async fn the_empty_form_shows_the_running_tenants_values_but_never_its_secret() {
    let fixture = fixture().await;
    let page = fixture.get("/sources/dynamics365").await;
    assert_eq!(page.status, StatusCode::OK);
    for (field, value) in fixture.form() {
        if *field == "name" {
            continue;
        }
        assert!(
            page.body.contains(&format!(
                "data-test=\"value-{field}\">{}</code>",
                escaped(value)
            )),
            "{field} `{value}` missing from {}",
            page.body
        );
    }
    assert_markup(&page.body, "D365_CLIENT_SECRET");
    assert!(
        !page.body.contains(&fixture.secret()),
        "the page shows the secret"
    );

    // Another world loaded (by anyone): the values follow it.
    let world = scenario::World::load(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/setup-mistakes.toml"),
    )
    .expect("the setup-mistakes world loads");
    fixture.live.load(&world, &[]).expect("the world loads");
    let now = fixture.live.clock().now();
    let credentials = world.client_credentials(now).expect("a live secret");
    let page = fixture.get("/sources/dynamics365").await;
    assert_markup(&page.body, &credentials.app.client_id.to_string());
    assert!(
        !page.body.contains(credentials.secret.value.expose()),
        "the page shows the loaded world's secret"
    );
}
