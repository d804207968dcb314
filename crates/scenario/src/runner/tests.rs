//! The runner's pure pieces: how a change reads in a report (never with a secret value), and
//! how `expect` phrases and request patterns match.

use super::*;

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
