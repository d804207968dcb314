//! The runner's pure pieces: how a change reads in a report (never with a secret value), and
//! how `expect` phrases and request patterns match; and the [`Player`] on a running world with
//! a system clock (as the demo runs it), step by step, against what [`run`] reports.

use super::*;
use crate::test_support::repo_root;

#[track_caller]
fn check_change(toml: &str, expected: &str) {
    let change: Change = toml::from_str(toml).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(describe_change(&change), expected);
}

#[test]
fn a_change_reads_as_its_kind_and_fields_without_secret_values_or_certificates() {
    check_change(
        r#"change = "remove_role"
environment = "contoso"
app = "importer"
role = "Importer Reader""#,
        "remove_role environment=contoso app=importer role='Importer Reader'",
    );
    check_change(
        r#"change = "add_secret"
app = "importer"
secret = "next"
value = "Qm28Q~never.in.a.report"
expires = "2029-06-30T00:00:00Z""#,
        "add_secret app=importer secret=next value=(redacted) expires=2029-06-30T00:00:00Z",
    );
    check_change(
        r#"change = "add_certificate"
app = "importer"
certificate = "new"
pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n""#,
        "add_certificate app=importer certificate=new pem=(certificate)",
    );
    check_change(
        r#"change = "admin_mode"
environment = "contoso"
on = true"#,
        "admin_mode environment=contoso on=true",
    );
    check_change(
        r#"change = "add_fault"
fault = { name = "one 429", service = "dataverse", times = 1, action = { kind = "respond", status = 429 } }"#,
        r#"add_fault fault={ name = "one 429", service = "dataverse", times = 1, action = { kind = "respond", status = 429 } }"#,
    );
}

#[test]
fn a_phrase_matches_ignoring_case_and_runs_of_whitespace() {
    let message = "Environment https://contoso.crm.dynamics.com is in\nadministration   mode: only";
    assert!(contains_phrase(message, "IS IN ADMINISTRATION MODE"));
    assert!(contains_phrase(message, "in administration mode:"));
    assert!(!contains_phrase(message, "in admin mode"));
    assert!(contains_phrase(message, " "));
}

#[test]
fn request_patterns_match_hosts_and_paths_as_fault_rules_do() {
    assert!(glob_matches("login.*", "login.microsoftonline.com"));
    assert!(glob_matches("/api/data/*/WhoAmI", "/api/data/v9.2/whoami"));
    assert!(glob_matches("*", ""));
    assert!(!glob_matches(
        "/api/data/*/WhoAmI",
        "/api/data/v9.2/WhoAmI/x"
    ));
    assert!(!glob_matches(
        "contoso.crm.dynamics.com",
        "contoso.api.crm.dynamics.com"
    ));
    assert_eq!(
        request_pattern(&RequestCount {
            host: None,
            path: Some("/x".to_owned()),
            count: 1
        }),
        "any host /x"
    );
}

/// The step's report without what a running system clock makes differ from a manual one
/// (when the step started, the clock after it, when the check ran).
fn timeless(step: &StepReport) -> StepReport {
    let mut step = step.clone();
    step.at = String::new();
    step.clock_to = None;
    if let Some(check) = &mut step.check {
        check.checked_at = String::new();
    }
    step
}

#[tokio::test]
async fn a_player_on_running_fakes_with_a_system_clock_reports_each_step_as_run_does() {
    // A fault step, a 429 waited out (the timer moves the system clock) and two tests.
    let scenario =
        Scenario::load(repo_root().join("scenarios/lifecycle/throttled_during_test_recovers.toml"))
            .unwrap_or_else(|error| panic!("{error}"));
    let expected = run(&scenario).await.expect("the runner runs");

    // The fakes as `serve --scenario` starts them: a system clock set at START_TIME.
    let clock = Clock::system();
    clock.set(START_TIME).expect("the clock moves");
    let (server, live) = spawn_live(
        scenario.world(),
        clock,
        IdGenerator::seeded(SEED),
        scenario.faults(),
    )
    .await
    .expect("the fakes start");
    // Traffic before the player starts is not a step's.
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .resolve("login.microsoftonline.com", server.addr())
        .build()
        .expect("a client");
    let discovery = client
        .get("https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")
        .send()
        .await
        .expect("the fakes answer");
    assert!(discovery.status().is_success());
    assert_eq!(live.journal().entries().len(), 1);
    let store_dir = tempfile::tempdir().expect("a temporary folder");
    let mut player = Player::new(
        scenario.clone(),
        live,
        network_settings(&server),
        Store::open(store_dir.path().join("sources")),
    )
    .expect("the player starts");

    for (index, expected_step) in expected.steps.iter().enumerate() {
        assert_eq!(player.next_step(), Some(index + 1));
        let step = player
            .play_next()
            .await
            .expect("the step plays")
            .expect("a step is left");
        assert_eq!(
            timeless(step),
            timeless(expected_step),
            "step {}",
            index + 1
        );
    }
    assert_eq!(player.next_step(), None);
    assert!(player.play_next().await.expect("nothing to play").is_none());
    let report = player.report();
    assert_eq!(report.passed, expected.passed);
    assert!(
        report.passed,
        "{:#?}",
        report.failures().collect::<Vec<_>>()
    );
    assert_eq!(report.steps.len(), expected.steps.len());
}
