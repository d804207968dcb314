//! `scenario from-error`: recognising pasted errors, writing a scenario that runs and passes,
//! leaving secrets out, and "not recognised" with the closest entries.

use std::path::{Path, PathBuf};

use super::recognise::{Recognised, recognise};
use crate::Exit;
use crate::tests::run_captured;

fn scenarios() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn utf8(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// The label `text` is recognised as, or `None`.
#[track_caller]
fn check(text: &str, expected: Option<&str>) {
    assert_eq!(
        recognise(text).map(Recognised::label).as_deref(),
        expected,
        "{text}"
    );
}

#[test]
fn recognises_aadsts_messages_with_their_ids_and_timestamps() {
    check(
        "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01'.\r\nTrace ID: 0b6f2a77-5c1d-4e8a-9f3b-2d7c4e1a6b90\r\nCorrelation ID: 7e3d9c12-8a4b-4f6e-b1c5-3a9d2e8f7c40\r\nTimestamp: 2026-03-01 12:00:00Z",
        Some("AADSTS7000215 invalid_client_secret"),
    );
    // Three entries share 90002: the `error` value and the message tell them apart.
    check(
        r#"{"error":"invalid_tenant","error_description":"AADSTS90002: Tenant 'x' not found.","error_codes":[90002]}"#,
        Some("AADSTS90002 tenant_not_found_discovery"),
    );
    check(
        r#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found.","error_codes":[90002]}"#,
        Some("AADSTS90002 tenant_not_found"),
    );
    check("aadsts7000222", Some("AADSTS7000222 expired_client_secret"));
    // Paraphrased: the entry sharing the most words.
    check(
        "AADSTS700027: Client assertion failed signature validation (the signature did not match)",
        Some("AADSTS700027 assertion_signature_invalid"),
    );
    check(
        "AADSTS700027 certificate not registered on application",
        Some("AADSTS700027 certificate_not_registered"),
    );
    check("AADSTS99999: no such error", None);
}

#[test]
fn recognises_dataverse_bodies_codes_and_throttle_messages() {
    check(
        r#"{"error":{"code":"0x80040220","message":"Principal user (Id=e1b3, type=8, roleCount=1) is missing prvReadIncident privilege"}}"#,
        Some("Dataverse 0x80040220 PrivilegeDenied"),
    );
    check("0x8004A113", Some("Dataverse 0x8004A113 AdminOnlyMode"));
    // A shared code is told apart by the status the text shows.
    check(
        "HTTP 501 0x80060888 $apply is not supported",
        Some("Dataverse 0x80060888 QueryNotSupported"),
    );
    check(
        "The user is not a member of the organization.",
        Some("Dataverse 0x80072560 UserNotMemberOfOrg"),
    );
    check(
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        Some("Dataverse 0x80072322 RequestsExceeded"),
    );
    check(
        "Number of concurrent requests exceeded the limit of 52.",
        Some("Dataverse 0x80072326 ConcurrencyExceeded"),
    );
    check(
        "ErrorCode: -2147015903",
        Some("Dataverse 0x80072321 ExecutionTimeExceeded"),
    );
    check(
        "429 Too Many Requests from https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        Some("Entra ID 429 Too Many Requests"),
    );
    check("0x12345678", None);
}

#[test]
fn recognises_transport_failures_by_their_wording() {
    check(
        "error sending request for url (https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI): invalid peer certificate: UnknownIssuer (request 4290-503a)",
        Some("problem tls_failure"),
    );
    check(
        "dns error: failed to lookup address information: Name or service not known (login.microsoftonline.com)",
        Some("problem connection_failed"),
    );
    check(
        "dns error: no address for host `contoso2.crm.dynamics.com`",
        Some("problem environment_not_found"),
    );
    check("operation timed out", Some("problem timeout"));
    check(
        "connection reset by peer",
        Some("problem connection_dropped"),
    );
    check(
        "the check failed: rows_not_visible",
        Some("problem rows_not_visible"),
    );
    assert_eq!(
        recognise("it broke"),
        None,
        "nothing to recognise in plain words"
    );
}

#[test]
fn writes_a_scenario_that_runs_and_passes() {
    let folder = tempfile::tempdir().expect("temp dir");
    let out = folder.path().join("field/expired.toml");
    let (exit, written, err) = run_captured(&[
        "scenario",
        "from-error",
        "--scenarios",
        utf8(&scenarios()),
        "--out",
        utf8(&out),
        "AADSTS7000222: The provided client secret keys for app '3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01' are expired. Trace ID: 0b6f2a77-5c1d-4e8a-9f3b-2d7c4e1a6b90 Correlation ID: 7e3d9c12-8a4b-4f6e-b1c5-3a9d2e8f7c40 Timestamp: 2026-03-01 12:00:00Z",
    ]);
    assert_eq!((exit, written.as_str()), (Exit::Success, ""), "{err}");
    assert!(
        err.starts_with("recognised AADSTS7000222 expired_client_secret; wrote `"),
        "{err}"
    );
    let text = std::fs::read_to_string(&out).expect("the written scenario");
    assert!(
        text.contains("\nname = \"replay of AADSTS7000222 expired_client_secret\"\n"),
        "{text}"
    );
    assert!(text.contains("problem = \"expired_secret\""), "{text}");
    // Written outside the repository, the world is named by a relative path that loads.
    assert!(text.contains("\nworld = \"../"), "{text}");
    assert!(
        !text.contains("0b6f2a77"),
        "the trace id is not copied: {text}"
    );
    let (exit, out_text, err) = run_captured(&["run", utf8(&out)]);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""), "{out_text}");
    assert!(
        out_text.starts_with("PASS  expired  replay of AADSTS7000222 expired_client_secret\n"),
        "{out_text}"
    );
    // The file is never overwritten.
    let (exit, _, err) = run_captured(&[
        "scenario",
        "from-error",
        "--scenarios",
        utf8(&scenarios()),
        "--out",
        utf8(&out),
        "AADSTS7000222",
    ]);
    assert_eq!(exit, Exit::Error);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn secrets_in_the_pasted_text_are_not_written() {
    let secret = "Qm28Q~Zr4vS8kP1xT6nW3yB9cD5fG7hJ2lN0pR";
    let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhcHBpZCI6IjNjMmYifQ.c2lnbmF0dXJl";
    let pasted = format!(
        "POST /contoso.onmicrosoft.com/oauth2/v2.0/token client_id=3c2f9a51&client_secret={secret}&scope=https://contoso.crm.dynamics.com/.default\nAuthorization: Bearer {token}\n{{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret provided.\",\"error_codes\":[7000215]}}"
    );
    let (exit, written, err) = run_captured(&[
        "scenario",
        "from-error",
        "--scenarios",
        utf8(&scenarios()),
        &pasted,
    ]);
    assert_eq!(exit, Exit::Success, "{err}");
    assert!(written.contains("replay of AADSTS7000215 invalid_client_secret"));
    for leaked in [secret, "Qm28Q~Zr4v", token, "eyJ0eXAi"] {
        assert!(!written.contains(leaked), "{leaked} in {written}");
        assert!(!err.contains(leaked), "{leaked} in {err}");
    }
}

#[test]
fn unknown_text_is_not_recognised_and_gets_the_three_closest_entries() {
    let (exit, written, err) = run_captured(&[
        "scenario",
        "from-error",
        "--scenarios",
        utf8(&scenarios()),
        "AADSTS7000299 happened, Trace ID: 0b6f2a77-5c1d-4e8a-9f3b-2d7c4e1a6b90",
    ]);
    assert_eq!((exit, written.as_str()), (Exit::Failures, ""), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines[0].starts_with("not recognised: "), "{err}");
    assert_eq!(
        lines[1..],
        [
            "  AADSTS7000215 invalid_client_secret",
            "  AADSTS7000222 expired_client_secret",
            "  AADSTS7000216 missing_client_credential",
        ],
        "{err}"
    );
}

#[test]
fn an_entry_no_scenario_reaches_is_forced_by_a_fault_rule_and_passes() {
    // Templates from a folder whose one scenario reaches nothing: every entry is uncovered.
    let folder = tempfile::tempdir().expect("temp dir");
    let templates = folder.path().join("templates");
    std::fs::create_dir_all(&templates).expect("mkdir");
    let happy = std::fs::read_to_string(scenarios().join("source/add_test_remove.toml"))
        .expect("the happy path")
        .replace(
            "world = \"setup-mistakes\"",
            &format!(
                "world = '{}'",
                scenarios()
                    .join("../fixtures/worlds/setup-mistakes.toml")
                    .display()
            ),
        );
    std::fs::write(templates.join("happy.toml"), happy).expect("write");
    let out = folder.path().join("execution_time.toml");
    let (exit, _, err) = run_captured(&[
        "scenario",
        "from-error",
        "--scenarios",
        utf8(&templates),
        "--out",
        utf8(&out),
        "HTTP 429: Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds.",
    ]);
    assert_eq!(exit, Exit::Success, "{err}");
    let text = std::fs::read_to_string(&out).expect("the written scenario");
    assert!(text.contains("[[faults]]\n"), "{text}");
    assert!(text.contains(r#"\"code\":\"0x80072321\""#), "{text}");
    assert!(
        text.contains(r#"expect = { outcome = "failed", problem = "throttled" }"#),
        "{text}"
    );
    let (exit, out_text, err) = run_captured(&["run", utf8(&out)]);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""), "{out_text}");
}

#[test]
fn a_throttle_message_takes_the_scenario_where_the_throttle_fails_the_check() {
    let (exit, written, err) = run_captured(&[
        "scenario",
        "from-error",
        "--scenarios",
        utf8(&scenarios()),
        "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
    ]);
    assert_eq!(exit, Exit::Success, "{err}");
    assert!(err.ends_with("network/throttled.toml`\n"), "{err}");
    assert!(written.contains(r#"problem = "throttled""#), "{written}");
}

#[test]
fn the_message_picks_between_scenarios_sharing_a_code() {
    // 0x80040220 is both a missing table privilege and a user without roles.
    for (message, problem) in [
        (
            "Principal user (Id=e1b3, type=8, roleCount=1) is missing prvReadIncident privilege",
            "missing_table_privilege",
        ),
        (
            "Principal user (Id=e1b3, type=8, roleCount=0) is missing prvReadAccount privilege",
            "no_security_role",
        ),
    ] {
        let pasted = format!(r#"{{"error":{{"code":"0x80040220","message":"{message}"}}}}"#);
        let (exit, written, err) = run_captured(&[
            "scenario",
            "from-error",
            "--scenarios",
            utf8(&scenarios()),
            &pasted,
        ]);
        assert_eq!(exit, Exit::Success, "{err}");
        assert!(
            written.contains(&format!(r#"problem = "{problem}""#)),
            "{problem}: {written}"
        );
    }
}
