//! `coverage` over the repository's scenarios: every catalogue row, error code, throttle and
//! problem kind is listed, the reaching scenarios come from reports and journals.

use std::path::{Path, PathBuf};

use crate::Exit;
use crate::tests::run_captured;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A folder holding one scenario file that adds a source with the current secret and one that
/// expects the wrong problem (so it is not counted).
fn folder() -> tempfile::TempDir {
    let world = repository().join("fixtures/worlds/setup-mistakes.toml");
    let scenario = |secret: &str, expect: &str| {
        format!(
            r#"version = 1
name = "adds a source"
description = "The happy path."
world = '{}'

[form]
name = "Contoso CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
client_secret = {{ app = "importer", secret = "{secret}" }}

[[steps]]
action = "add"
expect = {expect}
"#,
            world.display()
        )
    };
    let folder = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: String| {
        std::fs::write(folder.path().join(name), text).expect("write scenario");
    };
    write("adds.toml", scenario("current", r#"{ outcome = "added" }"#));
    write(
        "wrong.toml",
        scenario(
            "expired",
            r#"{ outcome = "failed", problem = "wrong_secret" }"#,
        ),
    );
    folder
}

fn item<'a>(document: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    document["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no item {name}"))
}

#[test]
fn every_problem_kind_is_reached_by_a_repository_scenario() {
    let scenarios = repository().join("scenarios");
    let (exit, out, err) = run_captured(&[
        "coverage",
        "--format",
        "json",
        scenarios.to_str().expect("UTF-8 path"),
    ]);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""), "{out}");
    let document: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let uncovered = document["uncovered"].as_array().expect("uncovered");
    assert!(
        uncovered.iter().all(|item| item["category"] != "problem"),
        "{uncovered:?}"
    );
    assert_eq!(document["not_counted"], serde_json::json!([]));
    let items = document["items"].as_array().expect("items");
    assert_eq!(
        items.len(),
        d365_source::ProblemKind::ALL.len()
            + fake_entra::CATALOGUE.len()
            + fake_dataverse::ERROR_CODES.len()
            + 1
    );
    let reached = |name: &str| item(&document, name)["scenarios"].clone();
    // From the report's problem, and from the journal's Entra and Dataverse bodies.
    assert!(reached("wrong_secret")[0] == "entra/secret_id_instead_of_value");
    assert!(
        reached("invalid_client_secret")
            .as_array()
            .expect("list")
            .contains(&"entra/wrong_secret".into())
    );
    assert_eq!(
        item(&document, "invalid_client_secret")["id"],
        "AADSTS7000215"
    );
    assert!(
        reached("RequestsExceeded")
            .as_array()
            .expect("list")
            .contains(&"network/throttle_recovers".into())
    );
    assert!(
        reached("TooManyRequests (Entra ID)")
            .as_array()
            .expect("list")
            .iter()
            .any(|id| id == "network/token_endpoint_throttled_once")
    );
    // The three AADSTS90002 entries are told apart by their error and message.
    assert_eq!(reached("tenant_not_found_discovery"), serde_json::json!([]));
}

#[test]
fn an_uncovered_problem_kind_exits_one_and_is_listed_last() {
    let folder = folder();
    let (exit, out, err) = run_captured(&[
        "coverage",
        "--jobs",
        "2",
        folder.path().to_str().expect("UTF-8 path"),
    ]);
    assert_eq!((exit, err.as_str()), (Exit::Failures, ""), "{out}");
    assert!(
        out.starts_with("Flow problems (d365_source::ProblemKind): 0 of "),
        "{out}"
    );
    let uncovered = out
        .split("\nUncovered: ")
        .nth(1)
        .expect("an uncovered list");
    assert!(uncovered.contains("\n  problem    wrong_secret "), "{out}");
    assert!(uncovered.contains("\n  aadsts     AADSTS7000222 "), "{out}");
    // The passing scenario reaches no failure; the failing one is not counted.
    assert!(
        out.ends_with(
            "Not counted (the scenario did not pass): 1\n  wrong: did not go as expected\n"
        ),
        "{out}"
    );
}
