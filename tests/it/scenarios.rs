//! Every scenario file under `scenarios/`, one test each: it runs against fresh fakes, every
//! expectation must hold, its report must match the reviewed snapshot
//! (`snapshots/scenario@<area>__<case>.snap`), and no report may hold a secret or a token.

use std::path::{Component, Path, PathBuf};

use rstest::rstest;
use scenario::{Report, Scenario};

#[rstest]
#[tokio::test]
async fn run_scenario(#[files("../scenarios/**/*.toml")] path: PathBuf) {
    let scenario =
        Scenario::load(&path).unwrap_or_else(|error| panic!("{:#}", anyhow::Error::from(error)));
    let report = run(&scenario).await;
    assert_no_secret(&scenario, &report);
    insta::with_settings!({
        snapshot_suffix => slug(&path),
        input_file => &path,
        description => scenario.description(),
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_yaml_snapshot!("scenario", &report);
    });
    assert!(
        report.passed(),
        "scenario `{}` did not go as expected: {:#?}",
        path.display(),
        report.failures().collect::<Vec<_>>()
    );
}

/// For debugging: edit the scenario inline and run `cargo test -p harness-tests smoke`.
#[tokio::test]
async fn smoke() {
    let scenario = inline(
        r#"
[[steps]]
action = "add"
expect = { outcome = "added" }
"#,
    );
    let report = run(&scenario).await;
    assert!(
        report.passed(),
        "{:#?}",
        report.failures().collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn an_expectation_that_fails_is_data_in_the_report() {
    let scenario = inline(
        r#"
[[steps]]
action = "add"
expect = { outcome = "failed", problem = "expired_secret", warnings = ["client_secret"] }

[[steps]]
action = "test"
expect = { outcome = "not_found" }
"#,
    );
    let report = run(&scenario).await;
    assert!(!report.passed());
    let mismatches: Vec<String> = report
        .failures()
        .flat_map(|step| {
            step.mismatches
                .iter()
                .map(move |mismatch| format!("step {}: {mismatch}", step.step))
        })
        .collect();
    insta::assert_snapshot!(mismatches.join("\n"), @r"
    step 1: outcome: expected `failed`, got `added`
    step 1: problem: expected `expired_secret`, got none
    step 1: warnings: expected [client_secret], got []
    step 2: outcome: expected `not_found`, got `passed`
    ");
}

#[tokio::test]
async fn phrases_request_counts_and_the_source_list_that_differ_are_data_in_the_report() {
    let scenario = inline(
        r#"
[[steps]]
action = "add"
expect = { outcome = "added", sources = ["Other CRM"], requests = [{ host = "login.microsoftonline.com", count = 5 }, { path = "/api/data/*/WhoAmI", count = 1 }] }

[[steps]]
action = "fault"
add = [{ name = "entra down", service = "entra", action = { kind = "respond", status = 503 } }]

[[steps]]
action = "add"
form = { name = "Second CRM", environment_url = "https://contoso.crm.dynamics.com", tenant_id = "contoso.onmicrosoft.com", client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01", client_secret = { app = "importer", secret = "current" } }
expect = { outcome = "failed", problem = "service_unavailable", message = "no such phrase", fix = "nor this", sources = ["Contoso CRM", "Second CRM"] }
"#,
    );
    let report = run(&scenario).await;
    assert!(!report.passed());
    let mismatches: Vec<String> = report
        .failures()
        .flat_map(|step| {
            step.mismatches
                .iter()
                .map(move |mismatch| format!("step {}: {mismatch}", step.step))
        })
        .collect();
    insta::assert_snapshot!(mismatches.join("\n"), @r"
    step 1: requests: expected 5 to login.microsoftonline.com, got 1
    step 1: sources: expected [Other CRM], got [Contoso CRM]
    step 3: message: expected a phrase `no such phrase`, got `login.microsoftonline.com answered that it is temporarily unavailable (HTTP 503), and still was after 3 retries and 5.6 seconds of waiting.`
    step 3: fix: expected a phrase `nor this`, got `Try again later; check the Microsoft 365 / Power Platform service health pages for incidents.`
    step 3: sources: expected [Contoso CRM, Second CRM], got [Contoso CRM]
    ");
}

#[tokio::test]
async fn a_change_the_world_refuses_is_the_steps_error_and_changes_nothing() {
    let scenario = inline(
        r#"
[[steps]]
action = "change"
changes = [
  { change = "disable_app", app = "importer" },
  { change = "remove_service_principal", app = "importer", tenant = "contoso" },
]

[[steps]]
action = "add"
expect = { outcome = "added" }
"#,
    );
    let report = run(&scenario).await;
    assert!(!report.passed());
    let [change, add] = report.steps.as_slice() else {
        panic!("two steps: {:#?}", report.steps);
    };
    let error = change.error.as_deref().expect("the change's error");
    assert!(
        error.starts_with("changes[1] (`remove_service_principal`)"),
        "{error}"
    );
    assert_eq!(
        change.mismatches,
        [format!("the world refused the change: {error}")]
    );
    assert!(!change.held);
    // All or nothing: the app the first change disables still signs in.
    assert!(add.held, "{add:#?}");
}

/// A scenario on the setup-mistakes world with a working form and the given steps.
fn inline(steps: &str) -> Scenario {
    let text = format!(
        r#"version = 1
name = "inline"
description = "A scenario written in a test."
world = "setup-mistakes"

[form]
name = "Contoso CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
client_secret = {{ app = "importer", secret = "current" }}
{steps}"#
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/inline.toml");
    Scenario::parse(&text, path).unwrap_or_else(|error| panic!("{:#}", anyhow::Error::from(error)))
}

async fn run(scenario: &Scenario) -> Report {
    scenario::run(scenario)
        .await
        .unwrap_or_else(|error| panic!("{:#}", anyhow::Error::from(error)))
}

/// `entra__expired_secret` for `scenarios/entra/expired_secret.toml`.
fn slug(path: &Path) -> String {
    let components: Vec<&str> = path
        .components()
        .filter_map(|component| match component {
            Component::Normal(name) => name.to_str(),
            _ => None,
        })
        .collect();
    let start = components
        .iter()
        .rposition(|name| *name == "scenarios")
        .map_or(0, |index| index + 1);
    components[start..]
        .join("__")
        .trim_end_matches(".toml")
        .replace('-', "_")
}

/// Fails if the report, serialized, holds a secret the scenario could send or a JWT.
fn assert_no_secret(scenario: &Scenario, report: &Report) {
    let json = serde_json::to_string(report).expect("a report serializes");
    let secrets = scenario.secret_values();
    let mut needles: Vec<&str> = secrets
        .iter()
        .map(|secret| secret.expose())
        // An empty secret (a form left blank) is in every text.
        .filter(|secret| !secret.is_empty())
        .collect();
    // Every access token is a JWT, and every JWT starts with this.
    needles.push("eyJ");
    for needle in needles {
        assert!(
            !json.contains(needle),
            "`{needle}` appears in the report of `{}`",
            scenario.path().display()
        );
    }
}
