//! Masking, body shapes, token claims, the diff and the command line of `conformance`, without
//! a service: a run against a closed port records transport errors and still no secret.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;

use base64::Engine;
use serde_json::json;

use super::diff::{Difference, differences, render};
use super::mask::Masker;
use super::record::{Body, body_shape, token_claims};
use super::{https_origin, probes};
use crate::source::SecretInput;
use crate::{Exit, run_with};

const SECRET: &str = "Qm28Q~conformance.unit.secret.0001";

/// A masker for a run against Contoso, as `Target::from_args` builds it.
fn contoso_masker() -> Masker {
    let mut masker = Masker::default();
    masker.add(SECRET, "secret");
    masker.add("login.microsoftonline.com", "authority_host");
    masker.add("contoso.crm.dynamics.com", "environment_host");
    masker.add("contoso.api.crm.dynamics.com", "environment_api_host");
    masker.add_word("contoso", "org");
    masker.add("6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10", "tenant");
    masker.add("3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01", "client_id");
    masker
}

#[track_caller]
fn check_mask(input: &str, expected: &str) {
    assert_eq!(contoso_masker().mask(input), expected, "masking {input:?}");
}

#[test]
fn masks_known_literals_before_generic_patterns_and_ignoring_case() {
    check_mask(
        "app '3C2F9A51-7D0B-4E1A-8F5E-2A9B6C4D8E01' in directory 'Contoso'",
        "app '{client_id}' in directory '{org}'",
    );
    check_mask(
        "https://CONTOSO.api.crm.dynamics.com/ and https://contoso.crm.dynamics.com/",
        "https://{environment_api_host}/ and https://{environment_host}/",
    );
    check_mask(
        "https://login.microsoftonline.com/6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10/oauth2",
        "https://{authority_host}/{tenant}/oauth2",
    );
    check_mask(&format!("secret={SECRET}!"), "secret={secret}!");
}

#[test]
fn masks_guids_only_as_whole_words() {
    check_mask(
        "Trace ID: 0b1f7a52-55a8-4f4b-9a4e-1d3e8c7f2a00 Correlation ID: {9B1F7A52-55A8-4F4B-9A4E-1D3E8C7F2A00}",
        "Trace ID: {guid} Correlation ID: {{guid}}",
    );
    // Escaped braces in a paging cookie open a GUID; a letter or a trailing hex digit does not.
    check_mask(
        "last%253d%2522%257b3F93DC19-6C7E-EA11-8480-002248AC279E%257d first=%7B3F93DC19-6C7E-EA11-8480-002248AC279E%7D",
        "last%253d%2522%257b{guid}%257d first=%7B{guid}%7D",
    );
    check_mask(
        "x3F93DC19-6C7E-EA11-8480-002248AC279E 3F93DC19-6C7E-EA11-8480-002248AC279EF",
        "x3F93DC19-6C7E-EA11-8480-002248AC279E 3F93DC19-6C7E-EA11-8480-002248AC279EF",
    );
    check_mask("AADSTS7000215 0x80040220", "AADSTS7000215 0x80040220");
}

#[test]
fn masks_timestamps_in_every_form_entra_and_dataverse_write() {
    check_mask("Timestamp: 2026-12-04 14:13:54Z", "Timestamp: {timestamp}");
    check_mask(
        "at 2026-12-04T14:13:54.1234567Z, 2026-12-04T14:13:54+01:00 and 2026-12-04T14:13:54",
        "at {timestamp}, {timestamp} and {timestamp}",
    );
    check_mask("version 2026-12-04", "version 2026-12-04");
}

#[test]
fn masks_json_web_tokens_and_the_counts_of_a_callers_roles() {
    check_mask(
        "Bearer eyJ0eXAiOiJKV1QifQ.eyJhdWQiOiJ4In0.c2lnbmF0dXJl-_x, not eyJnope",
        "Bearer {jwt}, not eyJnope",
    );
    check_mask(
        "Principal user (type=8, roleCount=3, privilegeCount=412, MetadataCachePrivilegesCount=5081) on OTC=112",
        "Principal user (type=8, roleCount={n}, privilegeCount={n}, MetadataCachePrivilegesCount={n}) on OTC=112",
    );
}

#[test]
fn names_are_masked_only_as_whole_words() {
    let mut masker = Masker::default();
    masker.add_word("sales", "org");
    masker.add_word("Ünïcode", "masked");
    assert_eq!(
        masker.mask("Sales, wholesale, salesforce, sales.crm.dynamics.com, xÜnïcode, Ünïcode"),
        "{org}, wholesale, salesforce, {org}.crm.dynamics.com, xÜnïcode, {masked}"
    );
}

#[test]
fn short_literals_are_not_masked() {
    let mut masker = Masker::default();
    masker.add("abc", "org");
    masker.add("", "empty");
    assert_eq!(masker.mask("abc def"), "abc def");
}

fn fields(body: Body) -> BTreeMap<String, String> {
    match body {
        Body::Json { fields } => fields,
        other => panic!("not JSON: {other:?}"),
    }
}

#[test]
fn json_bodies_become_masked_key_paths_with_arrays_collapsed() {
    let body = json!({
        "error": "invalid_client",
        "error_codes": [7000215],
        "timestamp": "2026-12-04 14:13:54Z",
        "expires_on": 1764857634,
        "expires_in": 3599,
        "nested": { "flag": true, "none": null, "empty": [], "also_empty": {} },
        "mixed": [1, 2, 1],
    });
    let shape = fields(body_shape(body.to_string().as_bytes(), &contoso_masker()));
    let expected: BTreeMap<String, String> = [
        ("error", "string: invalid_client"),
        ("error_codes[]", "number: 7000215"),
        ("timestamp", "string: {timestamp}"),
        ("expires_on", "number"),
        ("expires_in", "number: 3599"),
        ("nested.flag", "bool: true"),
        ("nested.none", "null"),
        ("nested.empty", "array (empty)"),
        ("nested.also_empty", "object (empty)"),
        ("mixed[]", "number: 1 | number: 2"),
    ]
    .into_iter()
    .map(|(path, description)| (path.to_owned(), description.to_owned()))
    .collect();
    assert_eq!(shape, expected);
}

#[test]
fn rows_of_a_collection_are_recorded_by_type_only() {
    let body = json!({
        "@odata.context": "https://contoso.crm.dynamics.com/api/data/v9.2/$metadata#accounts(name)",
        "value": [
            { "@odata.etag": "W/\"1234\"", "name": "A. Datum", "revenue": 10.5, "parent": null },
            { "@odata.etag": "W/\"1235\"", "name": "Fourth Coffee", "revenue": 3, "parent": null },
        ],
    });
    let shape = fields(body_shape(body.to_string().as_bytes(), &contoso_masker()));
    assert_eq!(
        shape.into_iter().collect::<Vec<_>>(),
        [
            (
                "@odata.context".to_owned(),
                "string: https://{environment_host}/api/data/v9.2/$metadata#accounts(name)"
                    .to_owned()
            ),
            ("value[].@odata.etag".to_owned(), "string".to_owned()),
            ("value[].name".to_owned(), "string".to_owned()),
            ("value[].parent".to_owned(), "null".to_owned()),
            ("value[].revenue".to_owned(), "number".to_owned()),
        ]
    );
}

#[test]
fn other_bodies_are_empty_or_masked_text_cut_at_500_characters() {
    let masker = contoso_masker();
    assert_eq!(body_shape(b"", &masker), Body::Empty);
    assert_eq!(
        body_shape(b"<html>contoso.crm.dynamics.com</html>", &masker),
        Body::Text {
            template: "<html>{environment_host}</html>".to_owned()
        }
    );
    let long = "é".repeat(600);
    let Body::Text { template } = body_shape(long.as_bytes(), &masker) else {
        panic!("text expected");
    };
    assert_eq!(template, format!("{}…", "é".repeat(500)));
}

#[test]
fn token_claims_keep_names_and_types_and_mask_the_telling_values() {
    let payload = json!({
        "aud": "https://contoso.crm.dynamics.com",
        "iss": "https://sts.windows.net/6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10/",
        "exp": 1764857634,
        "uti": "opaque-per-token",
        "roles": ["a", "b"],
        "ver": "1.0",
    });
    let encode = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
    let token = format!(
        "{}.{}.c2ln",
        encode(r#"{"alg":"RS256"}"#),
        encode(&payload.to_string())
    );
    let claims = token_claims(&token, &contoso_masker());
    assert_eq!(
        claims.into_iter().collect::<Vec<_>>(),
        [
            (
                "aud".to_owned(),
                "string: https://{environment_host}".to_owned()
            ),
            ("exp".to_owned(), "number".to_owned()),
            (
                "iss".to_owned(),
                "string: https://sts.windows.net/{tenant}/".to_owned()
            ),
            ("roles".to_owned(), "array of string".to_owned()),
            ("uti".to_owned(), "string".to_owned()),
            ("ver".to_owned(), "string: 1.0".to_owned()),
        ]
    );
    assert!(token_claims("not-a-jwt", &contoso_masker()).is_empty());
    assert!(token_claims("a.!!!.c", &contoso_masker()).is_empty());
}

fn record(probes: serde_json::Value) -> serde_json::Value {
    json!({ "format": 1, "probes": probes })
}

#[test]
fn identical_records_have_no_differences_even_if_the_descriptions_were_reworded() {
    let first = record(json!({
        "token": { "about": "one wording", "status": 200, "headers": ["date", "pragma"] },
    }));
    let second = record(json!({
        "token": { "about": "another wording", "status": 200, "headers": ["date", "pragma"] },
    }));
    assert_eq!(differences(&first, &second), []);
}

#[test]
fn differences_name_the_probe_and_the_field() {
    let first = record(json!({
        "gone": { "status": 200 },
        "wrong_secret": {
            "status": 401,
            "headers": ["date", "p3p"],
            "body": { "kind": "json", "fields": {
                "error_description": "string: AADSTS7000215: x. Trace ID: {guid} Correlation ID: {guid}",
                "@odata.context": "string: a",
            } },
        },
    }));
    let second = record(json!({
        "new": { "status": 200 },
        "wrong_secret": {
            "status": 400,
            "headers": ["date", "x-ms-clitelem"],
            "body": { "kind": "json", "fields": {
                "error_description": "string: AADSTS7000215: x.\r\nTrace ID: {guid}\r\nCorrelation ID: {guid}",
                "@odata.context": "string: a",
            } },
        },
    }));
    let found = differences(&first, &second);
    let probe = || "wrong_secret".to_owned();
    assert_eq!(
        found,
        [
            Difference::ProbeRemoved("gone".to_owned()),
            Difference::ProbeAdded("new".to_owned()),
            Difference::Changed {
                probe: probe(),
                field: "body.fields.error_description".to_owned(),
                before: r#""string: AADSTS7000215: x. Trace ID: {guid} Correlation ID: {guid}""#
                    .to_owned(),
                after:
                    r#""string: AADSTS7000215: x.\r\nTrace ID: {guid}\r\nCorrelation ID: {guid}""#
                        .to_owned(),
            },
            Difference::Removed {
                probe: probe(),
                field: "headers[p3p]".to_owned(),
                value: "present".to_owned(),
            },
            Difference::Added {
                probe: probe(),
                field: "headers[x-ms-clitelem]".to_owned(),
                value: "present".to_owned(),
            },
            Difference::Changed {
                probe: probe(),
                field: "status".to_owned(),
                before: "401".to_owned(),
                after: "400".to_owned(),
            },
        ]
    );
    assert_eq!(
        render(&found),
        "probe `gone`\n  only in the first record\n\
         probe `new`\n  only in the second record\n\
         probe `wrong_secret`\n  \
         ~ body.fields.error_description: \"string: AADSTS7000215: x. Trace ID: {guid} Correlation ID: {guid}\" -> \"string: AADSTS7000215: x.\\r\\nTrace ID: {guid}\\r\\nCorrelation ID: {guid}\"\n  \
         - headers[p3p]: present\n  \
         + headers[x-ms-clitelem]: present\n  \
         ~ status: 401 -> 400\n"
    );
}

#[test]
fn field_names_that_are_not_plain_are_quoted() {
    let first =
        record(json!({ "paging": { "body": { "fields": { "@odata.nextLink": "string: a" } } } }));
    let second =
        record(json!({ "paging": { "body": { "fields": { "@odata.nextLink": "string: b" } } } }));
    let found = differences(&first, &second);
    assert_eq!(
        found,
        [Difference::Changed {
            probe: "paging".to_owned(),
            field: r#"body.fields["@odata.nextLink"]"#.to_owned(),
            before: r#""string: a""#.to_owned(),
            after: r#""string: b""#.to_owned(),
        }]
    );
}

#[test]
fn entity_sets_and_primary_keys_follow_dataverse_naming() {
    let cases = [
        ("account", "accounts", "accountid"),
        ("opportunity", "opportunities", "opportunityid"),
        ("incidents", "incidents", "incidentid"),
        ("survey", "surveys", "surveyid"),
    ];
    for (table, set, key) in cases {
        assert_eq!(
            (probes::entity_set(table), probes::primary_key(table)),
            (set.to_owned(), key.to_owned()),
            "{table}"
        );
    }
}

#[test]
fn origins_accept_urls_and_bare_hosts() {
    assert_eq!(
        https_origin("https://Contoso.crm.dynamics.com/main.aspx?appid=1").expect("a URL"),
        "https://contoso.crm.dynamics.com"
    );
    assert_eq!(
        https_origin("login.microsoftonline.com").expect("a host"),
        "https://login.microsoftonline.com"
    );
    assert!(https_origin("http://login.microsoftonline.com").is_err());
    assert!(https_origin("https:///path").is_err());
}

/// Environment variables as a test sets them.
#[derive(Debug, Default)]
struct Vars(BTreeMap<String, String>);

impl SecretInput for Vars {
    fn var(&self, name: &str) -> Option<OsString> {
        self.0.get(name).map(OsString::from)
    }

    fn read_line(&mut self, _prompt: &str, _err: &mut dyn Write) -> std::io::Result<String> {
        panic!("conformance never reads standard input")
    }
}

fn run_conformance(args: &[&str], vars: &mut Vars) -> (Exit, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = run_with(
        ["d365-harness", "conformance"]
            .into_iter()
            .chain(args.iter().copied()),
        vars,
        &mut out,
        &mut err,
    );
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (exit, text(out), text(err))
}

const TARGET: &[&str] = &[
    "--authority-host",
    "https://login.microsoftonline.com",
    "--tenant-id",
    "contoso.onmicrosoft.com",
    "--client-id",
    "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01",
    "--client-secret-env",
    "CONFORMANCE_SECRET",
    "--environment-url",
    "https://contoso.crm.dynamics.com",
    // Nothing listens on port 1 of loopback: every request fails to connect.
    "--resolve",
    "login.microsoftonline.com=127.0.0.1:1",
    "--resolve",
    "contoso.crm.dynamics.com=127.0.0.1:1",
];

#[test]
fn probing_needs_every_target_option_and_diff_needs_none() {
    let (exit, out, err) = run_conformance(&[], &mut Vars::default());
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    for flag in [
        "--authority-host",
        "--tenant-id",
        "--client-id",
        "--client-secret-env",
        "--environment-url",
    ] {
        assert!(err.contains(flag), "{flag} in {err}");
    }
    let (exit, _, err) = run_conformance(
        &["diff", "missing-a.json", "missing-b.json"],
        &mut Vars::default(),
    );
    assert_eq!(exit, Exit::Error);
    assert!(
        err.starts_with("error: failed to read `missing-a.json`"),
        "{err}"
    );
}

#[test]
fn an_unset_secret_variable_is_named_and_nothing_is_probed() {
    let (exit, out, err) = run_conformance(TARGET, &mut Vars::default());
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert_eq!(
        err,
        "error: the environment variable `CONFORMANCE_SECRET` (named by --client-secret-env) is not set\n"
    );
}

#[test]
fn a_run_that_reaches_nothing_records_transport_errors_and_skips_and_never_the_secret() {
    let mut vars = Vars(BTreeMap::from([(
        "CONFORMANCE_SECRET".to_owned(),
        SECRET.to_owned(),
    )]));
    let (exit, out, err) = run_conformance(TARGET, &mut vars);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""));
    assert!(!out.contains(SECRET), "{out}");
    let record: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let probes = record["probes"].as_object().expect("probes");
    assert_eq!(probes.len(), probes::PROBES.len());
    assert_eq!(
        probes["token"]["request"],
        "POST https://{authority_host}/{tenant}/oauth2/v2.0/token (client credentials, scope https://{environment_host}/.default)"
    );
    assert!(
        probes["token"]["transport_error"].is_string(),
        "{:#}",
        probes["token"]
    );
    assert_eq!(
        probes["whoami"]["skipped"],
        "no access token: the `token` probe did not get one"
    );
    assert!(probes["whoami_no_token"]["transport_error"].is_string());
}

#[test]
fn diff_refuses_files_that_are_not_records() {
    let folder = tempfile::tempdir().expect("temp dir");
    let record_path = folder.path().join("a.json");
    let other_path = folder.path().join("b.json");
    std::fs::write(&record_path, record(json!({})).to_string()).expect("write");
    std::fs::write(&other_path, r#"{"probes":{}}"#).expect("write");
    let path = |path: &std::path::Path| path.to_str().expect("UTF-8 temp path").to_owned();
    let (exit, out, _) = run_conformance(
        &["diff", &path(&record_path), &path(&record_path)],
        &mut Vars::default(),
    );
    assert_eq!((exit, out.as_str()), (Exit::Success, "No differences.\n"));
    let (exit, _, err) = run_conformance(
        &["diff", &path(&record_path), &path(&other_path)],
        &mut Vars::default(),
    );
    assert_eq!(exit, Exit::Error);
    assert_eq!(
        err,
        format!(
            "error: `{}` is not a conformance record of format 1 (its format: none)\n",
            other_path.display()
        )
    );
}

#[test]
fn a_bad_resolve_option_is_a_harness_error_naming_it() {
    let mut vars = Vars(BTreeMap::from([(
        "CONFORMANCE_SECRET".to_owned(),
        SECRET.to_owned(),
    )]));
    let mut args = TARGET.to_vec();
    args.extend(["--resolve", "contoso.crm.dynamics.com"]);
    let (exit, out, err) = run_conformance(&args, &mut vars);
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert!(err.contains("--resolve contoso.crm.dynamics.com"), "{err}");
    assert!(!err.contains(SECRET), "{err}");
}

#[test]
fn help_names_the_target_options_and_the_diff() {
    let (exit, out, _) = run_conformance(&["--help"], &mut Vars::default());
    assert_eq!(exit, Exit::Success);
    for text in [
        "diff",
        "--authority-host",
        "--client-secret-env",
        "--forbidden-table",
        "[default: incident]",
        "--table",
        "[default: account]",
        "--resolve",
        "--ca-file",
        "--out",
    ] {
        assert!(out.contains(text), "{text} in {out}");
    }
}

#[test]
fn probes_lists_every_probe_with_what_it_settles() {
    let (exit, out, err) = run_conformance(&["probes"], &mut Vars::default());
    assert_eq!((exit, err.as_str()), (Exit::Success, ""));
    let names: Vec<&str> = out.lines().filter(|line| !line.starts_with(' ')).collect();
    let expected: Vec<&str> = probes::PROBES.iter().map(|probe| probe.name).collect();
    assert_eq!(names, expected);
    assert!(
        out.contains("wrong_secret\n    The same request with a wrong client secret"),
        "{out}"
    );
}

#[test]
fn with_out_the_record_goes_to_the_file_and_a_summary_to_standard_output() {
    let folder = tempfile::tempdir().expect("temp dir");
    let path = folder.path().join("record.json");
    let mut vars = Vars(BTreeMap::from([(
        "CONFORMANCE_SECRET".to_owned(),
        SECRET.to_owned(),
    )]));
    let mut args = TARGET.to_vec();
    args.extend(["--out", path.to_str().expect("UTF-8 temp path")]);
    let (exit, out, err) = run_conformance(&args, &mut vars);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("the record")).expect("JSON");
    assert_eq!(record["format"], 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), probes::PROBES.len() + 1, "{out}");
    assert!(
        lines[0].starts_with("token                      no answer: "),
        "{out}"
    );
    assert_eq!(
        lines[8],
        "whoami                     skipped: no access token: the `token` probe did not get one"
    );
    assert_eq!(
        lines[probes::PROBES.len()],
        format!(
            "Wrote the record to `{}`; it holds no secret or token.",
            path.display()
        )
    );
}

#[test]
fn the_error_code_is_entras_first_code_or_dataverses_code() {
    let masker = contoso_masker();
    let record = |body: serde_json::Value| super::record::ProbeRecord {
        body: Some(body_shape(body.to_string().as_bytes(), &masker)),
        ..Default::default()
    };
    assert_eq!(
        record(json!({ "error_codes": [7000215, 50012] })).error_code(),
        Some("AADSTS7000215".to_owned())
    );
    assert_eq!(
        record(json!({ "error": { "code": "0x80040220" } })).error_code(),
        Some("0x80040220".to_owned())
    );
    assert_eq!(record(json!({ "value": [] })).error_code(), None);
}

/// The fakes' config docs name, on a `Probe:` line, the probe that settles each UNCONFIRMED
/// choice; those names must stay the names of probes.
#[test]
fn every_probe_named_in_the_fakes_config_docs_exists() {
    let docs = [
        include_str!("../../../fake-entra/src/config.rs"),
        include_str!("../../../fake-dataverse/src/config.rs"),
    ];
    let known: Vec<&str> = probes::PROBES.iter().map(|probe| probe.name).collect();
    let mut named = Vec::new();
    for doc in docs {
        for line in doc.lines() {
            let Some((_, probe_line)) = line.split_once("Probe: ") else {
                continue;
            };
            // The names are the backquoted words before any parenthesised note.
            let names = probe_line.split(" (").next().unwrap_or(probe_line);
            named.extend(names.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    assert!(named.len() >= 10, "found only {named:?}");
    for name in &named {
        assert!(known.contains(&name.as_str()), "`{name}` is not a probe");
    }
}
