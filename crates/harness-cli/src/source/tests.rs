//! `source` in process, without a network: option handling and its exit codes, where the secret
//! comes from (and that it is never echoed), form errors, and the printed formats. The check
//! against the fakes runs in `tests/source.rs`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use clap::Parser;
use d365_source::{
    Evidence, FlowOptions, NetworkSettings, Problem, ProblemKind, Step, StoredSource, TrustRoots,
};

use super::*;
use crate::{Cli, Command, run_with};

const IMPORTER: &str = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01";
const SECRET: &str = "Qm28Q~in.process.secret.never.printed.01";

/// The secret's sources as a test sets them: environment variables and standard input.
#[derive(Debug, Default)]
struct FakeInput {
    vars: BTreeMap<String, String>,
    stdin: String,
    prompts: Vec<String>,
}

impl FakeInput {
    fn with_var(name: &str, value: &str) -> FakeInput {
        FakeInput {
            vars: BTreeMap::from([(name.to_owned(), value.to_owned())]),
            ..FakeInput::default()
        }
    }

    fn with_stdin(stdin: &str) -> FakeInput {
        FakeInput {
            stdin: stdin.to_owned(),
            ..FakeInput::default()
        }
    }
}

impl SecretInput for FakeInput {
    fn var(&self, name: &str) -> Option<OsString> {
        self.vars.get(name).map(OsString::from)
    }

    fn read_line(&mut self, prompt: &str, _err: &mut dyn Write) -> std::io::Result<String> {
        self.prompts.push(prompt.to_owned());
        Ok(std::mem::take(&mut self.stdin))
    }
}

/// Runs `source {args}` and returns the exit, stdout and stderr.
fn source(input: &mut FakeInput, args: &[&str]) -> (Exit, String, String) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let exit = run_with(
        ["d365-harness", "source"]
            .into_iter()
            .chain(args.iter().copied()),
        input,
        &mut out,
        &mut err,
    );
    let text = |bytes: Vec<u8>| String::from_utf8(bytes).expect("UTF-8 output");
    (exit, text(out), text(err))
}

/// `source add` with a valid form, `extra` options appended.
fn add_args<'a>(data_dir: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "add",
        "--name",
        "Contoso CRM",
        "--environment-url",
        "https://contoso.crm.dynamics.com",
        "--tenant-id",
        "contoso.onmicrosoft.com",
        "--client-id",
        IMPORTER,
        "--data-dir",
        data_dir.to_str().expect("UTF-8 temp path"),
    ];
    args.extend_from_slice(extra);
    args
}

fn add_args_parsed(extra: &[&str]) -> AddArgs {
    let args = ["d365-harness", "source"]
        .into_iter()
        .chain(add_args(Path::new("/tmp/data"), extra));
    match Cli::try_parse_from(args).expect("valid arguments").command {
        Command::Source(SourceArgs {
            command: SourceCommand::Add(args),
        }) => args,
        other => panic!("not source add: {other:?}"),
    }
}

#[track_caller]
fn assert_no_secret(texts: &[&str]) {
    for text in texts {
        assert!(!text.contains(SECRET), "the secret was printed: {text}");
    }
}

#[test]
fn a_secret_typed_as_a_stray_argument_is_not_echoed() {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut input = FakeInput::default();
    let (exit, out, err) = source(&mut input, &add_args(folder.path(), &[SECRET]));
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    let length = SECRET.chars().count();
    assert!(
        err.contains(&format!(
            "error: unexpected argument '[a value of {length} characters, not shown]' found"
        )),
        "{err}"
    );
    assert_no_secret(&[&err]);
}

#[test]
fn there_is_no_option_that_takes_the_secret() {
    let folder = tempfile::tempdir().expect("temp dir");
    let joined = format!("--client-secret={SECRET}");
    for extra in [&["--client-secret", SECRET][..], &[joined.as_str()][..]] {
        let mut input = FakeInput::default();
        let (exit, out, err) = source(&mut input, &add_args(folder.path(), extra));
        assert_eq!((exit, out.as_str()), (Exit::Error, ""));
        assert!(
            err.contains("error: unexpected argument '--client-secret' found"),
            "{err}"
        );
        assert!(err.contains("'--client-secret-env'"), "{err}");
        assert_no_secret(&[&err]);
        assert!(input.prompts.is_empty());
    }
}

#[test]
fn a_missing_secret_variable_is_a_usage_error_naming_it() {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut input = FakeInput::with_var("SOME_OTHER_VARIABLE", SECRET);
    let (exit, out, err) = source(
        &mut input,
        &add_args(folder.path(), &["--client-secret-env", "IMPORTER_SECRET"]),
    );
    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert_eq!(
        err,
        "error: the environment variable `IMPORTER_SECRET` (named by --client-secret-env) is not set\n"
    );
    assert!(input.prompts.is_empty(), "no fallback to standard input");
    assert!(!folder.path().join("sources.json").exists());
}

#[test]
fn a_bad_resolve_is_a_usage_error_naming_it_before_the_secret_is_read() {
    let folder = tempfile::tempdir().expect("temp dir");
    for (resolve, reason) in [
        ("contoso.crm.dynamics.com", "expected HOST=ADDR"),
        (
            "contoso.crm.dynamics.com=localhost:8443",
            "`localhost:8443` is not an IP address with an optional port",
        ),
    ] {
        let mut input = FakeInput::with_stdin(&format!("{SECRET}\n"));
        let (exit, out, err) = source(
            &mut input,
            &add_args(folder.path(), &["--resolve", resolve]),
        );
        assert_eq!((exit, out.as_str()), (Exit::Error, ""));
        assert!(
            err.starts_with(&format!(
                "error: invalid network setting `--resolve {resolve}`: {reason}"
            )),
            "{err}"
        );
        assert!(input.prompts.is_empty(), "the secret is asked for last");
    }
}

#[test]
fn an_unusable_ca_file_is_a_usage_error_naming_the_file() {
    let folder = tempfile::tempdir().expect("temp dir");
    let missing = folder.path().join("missing.pem");
    let not_pem = folder.path().join("not.pem");
    std::fs::write(&not_pem, "hello").expect("write the file");
    for (path, message) in [
        (
            &missing,
            format!(
                "error: failed to read the CA file `{}`: ",
                missing.display()
            ),
        ),
        (
            &not_pem,
            format!(
                "error: the CA file `{}` holds no PEM certificate",
                not_pem.display()
            ),
        ),
    ] {
        let mut input = FakeInput::with_var("IMPORTER_SECRET", SECRET);
        let path = path.to_str().expect("UTF-8 temp path");
        let (exit, out, err) = source(
            &mut input,
            &add_args(
                folder.path(),
                &["--client-secret-env", "IMPORTER_SECRET", "--ca-file", path],
            ),
        );
        assert_eq!((exit, out.as_str()), (Exit::Error, ""));
        assert!(err.starts_with(&message), "{err}");
    }
}

#[test]
fn timeouts_are_positive_seconds() {
    let folder = tempfile::tempdir().expect("temp dir");
    for (option, value) in [("--timeout", "0"), ("--connect-timeout", "soon")] {
        let mut input = FakeInput::default();
        let (exit, _, err) = source(&mut input, &add_args(folder.path(), &[option, value]));
        assert_eq!(exit, Exit::Error);
        assert!(
            err.contains(&format!("invalid value '{value}' for '{option} <SECS>'")),
            "{err}"
        );
    }
}

#[test]
fn form_errors_list_every_invalid_field_and_exit_one() {
    let folder = tempfile::tempdir().expect("temp dir");
    let data_dir = folder.path().join("data");
    let mut input = FakeInput::with_var("IMPORTER_SECRET", SECRET);
    let (exit, out, err) = source(
        &mut input,
        &[
            "add",
            "--name",
            "Contoso CRM",
            "--environment-url",
            "ftp://contoso.crm.dynamics.com",
            "--tenant-id",
            "not a tenant",
            "--client-id",
            "MultiSource Importer",
            "--client-secret-env",
            "IMPORTER_SECRET",
            "--data-dir",
            data_dir.to_str().expect("UTF-8 temp path"),
        ],
    );
    assert_eq!(exit, Exit::Failures, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.starts_with("The source form has errors:\n"), "{out}");
    for label in ["Environment URL", "Tenant ID", "Client ID"] {
        assert!(out.contains(&format!("\n  {label}: ")), "{label} in {out}");
    }
    assert!(!out.contains("  Name: "), "{out}");
    assert!(out.ends_with("Nothing was checked or saved.\n"), "{out}");
    assert_no_secret(&[&out, &err]);
    assert!(!data_dir.join("sources.json").exists(), "nothing saved");
}

#[test]
fn an_empty_line_on_standard_input_is_a_missing_secret() {
    let folder = tempfile::tempdir().expect("temp dir");
    let mut input = FakeInput::with_stdin("\n");
    let (exit, out, err) = source(&mut input, &add_args(folder.path(), &[]));
    assert_eq!(exit, Exit::Failures, "stdout:\n{out}\nstderr:\n{err}");
    assert_eq!(input.prompts, ["Client secret: "]);
    let fields: Vec<&str> = out
        .lines()
        .filter_map(|line| line.strip_prefix("  ")?.split_once(':'))
        .map(|(label, _)| label)
        .collect();
    assert_eq!(fields, ["Client Secret"], "{out}");
}

#[test]
fn a_secret_line_loses_only_its_line_ending() {
    for (line, secret) in [
        ("abc\n", "abc"),
        ("abc\r\n", "abc"),
        ("abc", "abc"),
        (" abc \t\n", " abc \t"),
        ("abc\r", "abc\r"),
        ("\n", ""),
        ("", ""),
    ] {
        assert_eq!(without_line_ending(line), secret, "{line:?}");
    }
}

#[test]
fn an_empty_list_says_so() {
    let folder = tempfile::tempdir().expect("temp dir");
    let data_dir = folder.path().join("data");
    let data_dir = data_dir.to_str().expect("UTF-8 temp path");
    let mut input = FakeInput::default();
    let (exit, out, err) = source(&mut input, &["list", "--data-dir", data_dir]);
    assert_eq!((exit, err.as_str()), (Exit::Success, ""));
    assert_eq!(out, format!("No sources saved in `{data_dir}`.\n"));
    let (exit, out, _) = source(&mut input, &["list", "--json", "--data-dir", data_dir]);
    assert_eq!((exit, out.as_str()), (Exit::Success, "[]\n"));
    assert!(!Path::new(data_dir).exists(), "reading creates nothing");
}

#[test]
fn an_unknown_source_is_a_usage_error_and_no_secret_is_asked_for() {
    let folder = tempfile::tempdir().expect("temp dir");
    let data_dir = folder.path().to_str().expect("UTF-8 temp path");
    for args in [
        &["remove", "Nope", "--data-dir", data_dir][..],
        &["test", "Nope", "--data-dir", data_dir][..],
        &["rotate-secret", "Nope", "--data-dir", data_dir][..],
    ] {
        let mut input = FakeInput::with_stdin(&format!("{SECRET}\n"));
        let (exit, out, err) = source(&mut input, args);
        assert_eq!((exit, out.as_str()), (Exit::Error, ""), "{args:?}");
        assert_eq!(err, "error: no source is named `Nope`\n", "{args:?}");
        assert!(input.prompts.is_empty(), "{args:?}");
    }
}

#[test]
fn without_network_options_the_flow_talks_to_microsoft() {
    let args = add_args_parsed(&[]);
    assert_eq!(
        args.network.settings().expect("valid settings"),
        NetworkSettings::default()
    );
    assert_eq!(args.tables.options(), FlowOptions::default());
    assert_eq!(args.secret.client_secret_env, None);
}

#[test]
fn the_documented_defaults_are_the_flows() {
    let network = NetworkSettings::default();
    assert_eq!(network.connect_timeout, Duration::from_secs(10));
    assert_eq!(network.request_timeout, Duration::from_secs(30));
    assert_eq!(FlowOptions::default().tables, ["account", "contact"]);
}

#[test]
fn network_options_become_settings() {
    let folder = tempfile::tempdir().expect("temp dir");
    let ca_file = folder.path().join("ca.pem");
    let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    std::fs::write(&ca_file, pem).expect("write the CA file");
    let args = add_args_parsed(&[
        "--resolve",
        "login.microsoftonline.com=127.0.0.1:8443",
        "--resolve",
        "Contoso.crm.dynamics.com=127.0.0.2",
        "--resolve-only",
        "--ca-file",
        ca_file.to_str().expect("UTF-8 temp path"),
        "--https-proxy",
        "http://proxy.example:3128",
        "--allowed-host",
        "crm.internal.example",
        "--connect-timeout",
        "1.5",
        "--timeout",
        "45",
        "--table",
        "account",
        "--table",
        "incident",
    ]);
    let settings = args.network.settings().expect("valid settings");
    assert_eq!(
        settings,
        NetworkSettings {
            resolve: BTreeMap::from([
                (
                    "contoso.crm.dynamics.com".to_owned(),
                    SocketAddr::from(([127, 0, 0, 2], 0))
                ),
                (
                    "login.microsoftonline.com".to_owned(),
                    SocketAddr::from(([127, 0, 0, 1], 8443))
                ),
            ]),
            resolve_only: true,
            roots: TrustRoots::Only(vec![pem.to_owned()]),
            https_proxy: Some("http://proxy.example:3128".to_owned()),
            connect_timeout: Duration::from_millis(1500),
            request_timeout: Duration::from_secs(45),
            allowed_hosts: vec!["crm.internal.example".to_owned()],
        }
    );
    assert_eq!(args.tables.options().tables, ["account", "incident"]);
}

#[test]
fn the_data_directory_defaults_to_the_platforms() {
    let store = StoreArgs { data_dir: None };
    match dirs::data_dir() {
        Some(dir) => assert_eq!(store.dir().expect("a default"), dir.join("d365-harness")),
        None => {
            let error = store.dir().expect_err("no default");
            assert!(error.to_string().contains("--data-dir"), "{error}");
        }
    }
}

fn stored_source(last_check: serde_json::Value) -> StoredSource {
    serde_json::from_value(serde_json::json!({
        "name": "Contoso CRM",
        "environment": { "url": "https://contoso.crm.dynamics.com", "cloud": "public" },
        "tenant": "contoso.onmicrosoft.com",
        "client_id": IMPORTER,
        "tables": ["account", "contact"],
        "secret_hint": "Qm2*****",
        "created_at": "2026-11-26T10:00:00.5Z",
        "last_check": last_check,
    }))
    .expect("a stored source")
}

fn passed_check() -> serde_json::Value {
    serde_json::json!({
        "outcome": "passed",
        "checked_at": "2026-11-26T10:00:00.25Z",
        "user_id": "b3e52f96-acc9-541b-918d-14edd60af8eb",
        "business_unit_id": "dd487faa-5ff7-5db0-ac80-ceaa54bc40b1",
        "organization": {
            "id": "f2c9290b-0806-4d48-bf9c-3814d4286755",
            "name": "Contoso",
            "unique_name": "org0335df44",
            "version": "9.2.25093.00168"
        },
        "tables": [
            { "logical_name": "account", "entity_set": "accounts" },
            { "logical_name": "contact", "entity_set": "contacts" }
        ],
        "readable_tables": ["account", "contact", "lead"]
    })
}

fn no_application_user() -> Problem {
    Problem {
        kind: ProblemKind::NoApplicationUser,
        evidence: Evidence::new(
            Step::WhoAmI,
            "GET https://contoso-nouser.crm.dynamics.com/api/data/v9.2/WhoAmI",
        )
        .status(403)
        .code("0x80072560")
        .detail("The user is not a member of the organization."),
        message: "Application 3c2f9a51 is not a user of environment https://contoso-nouser.crm.dynamics.com.".to_owned(),
        fix: "Add an application user.".to_owned(),
    }
}

#[test]
fn a_passed_check_shows_what_it_found() {
    assert_eq!(
        output::check_passed(&stored_source(passed_check())),
        "Connection check passed for `Contoso CRM` (https://contoso.crm.dynamics.com).\n\
         \x20 organization:     Contoso (org0335df44), version 9.2.25093.00168\n\
         \x20 application user: b3e52f96-acc9-541b-918d-14edd60af8eb (business unit dd487faa-5ff7-5db0-ac80-ceaa54bc40b1)\n\
         \x20 tables read:      account (accounts), contact (contacts)\n\
         \x20 readable tables:  3\n"
    );
}

/// [`passed_check`] as a check of tables typed `Accounts` and `contact`, with contacts read at
/// Business Unit depth and warned about.
fn passed_check_with_warning() -> serde_json::Value {
    let mut check = passed_check();
    check["tables"] = serde_json::json!([
        { "logical_name": "account", "entity_set": "accounts", "requested": "Accounts", "read_depth": "Global" },
        { "logical_name": "contact", "entity_set": "contacts", "read_depth": "Local" }
    ]);
    check["warnings"] = serde_json::json!([{
        "kind": "partial_read_depth",
        "table": "contact",
        "depth": "Local",
        "message": "Table contact is read at Business Unit (Local) depth: an import brings only the rows of the application user's business unit."
    }]);
    check
}

#[test]
fn a_passed_check_shows_resolved_names_depths_and_warnings() {
    assert_eq!(
        output::check_passed(&stored_source(passed_check_with_warning())),
        "Connection check passed for `Contoso CRM` (https://contoso.crm.dynamics.com).\n\
         \x20 organization:     Contoso (org0335df44), version 9.2.25093.00168\n\
         \x20 application user: b3e52f96-acc9-541b-918d-14edd60af8eb (business unit dd487faa-5ff7-5db0-ac80-ceaa54bc40b1)\n\
         \x20 tables read:      account (accounts), contact (contacts, Read at Business Unit (Local))\n\
         \x20 readable tables:  3\n\
         note: `Accounts` is the table account (entity set accounts).\n\
         warning: Table contact is read at Business Unit (Local) depth: an import brings only the rows of the application user's business unit. (partial_read_depth)\n"
    );
}

#[test]
fn the_list_counts_a_passed_checks_warnings() {
    let table = output::list_table(&[stored_source(passed_check_with_warning())]);
    let row = table.lines().nth(1).expect("a row");
    assert!(row.contains("  passed, 1 warning  "), "{table}");
}

#[test]
fn the_json_list_shows_the_check_warnings() {
    let json = output::list_json(&[stored_source(passed_check_with_warning())]).expect("JSON");
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    assert_eq!(value[0]["last_check"], passed_check_with_warning());
    assert_eq!(
        value[0]["last_check"]["warnings"][0]["kind"],
        "partial_read_depth"
    );
}

#[test]
fn a_problem_shows_message_fix_and_evidence() {
    let mut problem = no_application_user();
    problem.evidence = problem.evidence.retry_after(Some(30));
    assert_eq!(
        output::problem("Other", &problem),
        "Connection check failed for `Other`: no_application_user\n\
         Application 3c2f9a51 is not a user of environment https://contoso-nouser.crm.dynamics.com.\n\
         Fix: Add an application user.\n\
         Evidence:\n\
         \x20 step:        WhoAmI\n\
         \x20 request:     GET https://contoso-nouser.crm.dynamics.com/api/data/v9.2/WhoAmI\n\
         \x20 HTTP status: 403\n\
         \x20 code:        0x80072560\n\
         \x20 detail:      The user is not a member of the organization.\n\
         \x20 retry after: 30 s\n"
    );
}

#[test]
fn the_list_is_a_table_with_masked_secrets() {
    let failed = serde_json::json!({
        "outcome": "failed",
        "checked_at": "2026-11-27T08:30:00.999Z",
        "problem": serde_json::to_value(no_application_user()).expect("a problem serializes"),
    });
    let mut other = stored_source(failed);
    other.name = "Other".to_owned();
    let table = output::list_table(&[stored_source(passed_check()), other]);
    assert_eq!(
        table,
        "NAME         ENVIRONMENT                       TENANT                   CLIENT ID                             SECRET    LAST CHECK                   CHECKED AT\n\
         Contoso CRM  https://contoso.crm.dynamics.com  contoso.onmicrosoft.com  3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01  Qm2*****  passed                       2026-11-26T10:00:00Z\n\
         Other        https://contoso.crm.dynamics.com  contoso.onmicrosoft.com  3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01  Qm2*****  failed: no_application_user  2026-11-27T08:30:00Z\n"
    );
}

#[test]
fn the_json_list_has_plain_fields_and_the_whole_last_check() {
    let json = output::list_json(&[stored_source(passed_check())]).expect("JSON");
    let value: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
    let expected = serde_json::json!([{
        "name": "Contoso CRM",
        "environment": "https://contoso.crm.dynamics.com",
        "tenant": "contoso.onmicrosoft.com",
        "client_id": IMPORTER,
        "tables": ["account", "contact"],
        "secret_hint": "Qm2*****",
        "created_at": "2026-11-26T10:00:00.5Z",
        "last_check": passed_check(),
    }]);
    assert_eq!(value, expected);
}

#[test]
fn help_lists_the_subcommands_and_offers_no_secret_value_option() {
    let mut input = FakeInput::default();
    let (exit, out, _) = source(&mut input, &["--help"]);
    assert_eq!(exit, Exit::Success);
    for command in ["add", "list", "test", "remove", "rotate-secret"] {
        assert!(
            out.contains(&format!("\n  {command} ")),
            "{command} in {out}"
        );
    }
    for command in ["add", "rotate-secret"] {
        let (exit, out, _) = source(&mut input, &[command, "--help"]);
        assert_eq!(exit, Exit::Success);
        let secret_options: Vec<&str> = out
            .split_whitespace()
            .filter(|word| word.starts_with("--client-secret"))
            .collect();
        assert_eq!(secret_options, ["--client-secret-env"], "{out}");
        for option in [
            "--resolve <HOST=ADDR>",
            "--ca-file <PEM>",
            "--data-dir <DIR>",
        ] {
            assert!(out.contains(option), "{option} in {out}");
        }
    }
}

#[test]
fn testing_a_source_whose_host_left_the_allow_list_is_a_problem_not_a_crash() {
    let folder = tempfile::tempdir().expect("temp dir");
    let data_dir = saved_source_at(
        folder.path(),
        "https://crm.contoso.test",
        &["crm.contoso.test".to_owned()],
    );
    let mut input = FakeInput::default();
    let (exit, out, err) = source(
        &mut input,
        &[
            "test",
            "Contoso CRM",
            "--data-dir",
            data_dir.to_str().expect("UTF-8 temp path"),
            "--resolve-only",
        ],
    );
    assert_eq!((exit, err.as_str()), (Exit::Failures, ""), "{out}");
    assert!(
        out.starts_with(
            "The saved source `Contoso CRM` is not valid any more, add it again: Environment URL: "
        ),
        "{out}"
    );
    assert_no_secret(&[&out]);
}

/// A data directory in `folder` holding the source `Contoso CRM`, saved without a check.
fn saved_source(folder: &Path) -> std::path::PathBuf {
    saved_source_at(folder, "https://contoso.crm.dynamics.com", &[])
}

/// [`saved_source`] for the environment at `environment_url`, validated with `allowed_hosts`.
fn saved_source_at(
    folder: &Path,
    environment_url: &str,
    allowed_hosts: &[String],
) -> std::path::PathBuf {
    let data_dir = folder.join("data");
    let draft = d365_source::form::validate(
        &SourceForm {
            name: "Contoso CRM".to_owned(),
            environment_url: environment_url.to_owned(),
            tenant_id: "contoso.onmicrosoft.com".to_owned(),
            client_id: IMPORTER.to_owned(),
            client_secret: secrecy::SecretString::from(SECRET),
        },
        &d365_source::FormRules {
            existing_names: &[],
            allowed_hosts,
        },
    )
    .expect("a valid form");
    let d365_source::LastCheck::Passed(report) =
        serde_json::from_value(passed_check()).expect("a passed check")
    else {
        panic!("the fixture is a passed check");
    };
    let checked_at = report.checked_at;
    d365_source::Store::open(&data_dir)
        .insert(&draft, &["account".to_owned()], report, checked_at)
        .expect("saved");
    data_dir
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_is_a_warning_on_stderr() {
    use std::os::unix::fs::PermissionsExt as _;
    let folder = tempfile::tempdir().expect("temp dir");
    let data_dir = saved_source(folder.path());
    let key = data_dir.join("sources.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let data_dir = data_dir.to_str().expect("UTF-8 temp path");

    let mut input = FakeInput::default();
    let (exit, out, err) = source(&mut input, &["list", "--data-dir", data_dir]);

    assert_eq!(exit, Exit::Success);
    assert!(out.contains("Contoso CRM"), "{out}");
    let key = key.display();
    assert_eq!(
        err,
        format!(
            "warning: the key file `{key}` has mode 0644: other users can read or replace the \
             key that encrypts the client secrets; run `chmod 600 {key}`, and rotate the \
             secrets if someone else may have read it\n"
        )
    );
}

#[test]
fn a_replaced_key_refuses_add_and_rotate_before_the_secret_is_asked_for() {
    let folder = tempfile::tempdir().expect("temp dir");
    let data_dir = saved_source(folder.path());
    let key = data_dir.join("sources.key");
    std::fs::write(&key, [42_u8; 32]).expect("replace the key");
    let list = data_dir.join("sources.json");
    let expected = format!(
        "the key `{}` does not match the 1 saved secret(s) in `{}`: it was replaced, or the \
         secrets were changed outside d365-harness; restore the original key, or move `{}` \
         away and add the sources again\n",
        key.display(),
        list.display(),
        list.display()
    );
    let data_dir_text = data_dir.to_str().expect("UTF-8 temp path");

    let mut add_args = add_args(&data_dir, &[]);
    add_args[2] = "Fabrikam";
    let rotate_args = ["rotate-secret", "Contoso CRM", "--data-dir", data_dir_text];
    for (args, context) in [
        (&add_args[..], "failed to add source `Fabrikam`"),
        (
            &rotate_args[..],
            "failed to rotate the client secret of `Contoso CRM`",
        ),
    ] {
        let mut input = FakeInput::with_stdin(&format!("{SECRET}\n"));
        let (exit, out, err) = source(&mut input, args);
        assert_eq!((exit, out.as_str()), (Exit::Error, ""), "{args:?}");
        assert_eq!(err, format!("error: {context}: {expected}"), "{args:?}");
        assert!(input.prompts.is_empty(), "{args:?}");
    }
    let (exit, out, _) = source(
        &mut FakeInput::default(),
        &["list", "--data-dir", data_dir_text],
    );
    assert_eq!(exit, Exit::Success, "the list needs no key");
    assert!(out.contains("Contoso CRM"), "{out}");
}

#[test]
fn testing_under_a_replaced_key_says_the_secret_was_tampered_with() {
    let folder = tempfile::tempdir().expect("temp dir");
    let data_dir = saved_source(folder.path());
    let key = data_dir.join("sources.key");
    std::fs::write(&key, [42_u8; 32]).expect("replace the key");

    let (exit, out, err) = source(
        &mut FakeInput::default(),
        &[
            "test",
            "Contoso CRM",
            "--data-dir",
            data_dir.to_str().expect("UTF-8 temp path"),
            "--resolve-only",
        ],
    );

    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert_eq!(
        err,
        format!(
            "error: the saved secret of `Contoso CRM` was changed outside d365-harness or the \
             key `{}` was replaced; restore the original key if it was replaced, otherwise \
             remove the source and add it again\n",
            key.display()
        )
    );
}

#[cfg(unix)]
#[test]
fn a_key_file_that_is_a_device_is_refused_before_the_secret_is_asked_for() {
    let folder = tempfile::tempdir().expect("temp dir");
    let data_dir = folder.path().join("data");
    std::fs::create_dir(&data_dir).expect("data dir");
    let key = data_dir.join("sources.key");
    std::os::unix::fs::symlink("/dev/zero", &key).expect("link the key");

    let mut input = FakeInput::with_stdin(&format!("{SECRET}\n"));
    let (exit, out, err) = source(&mut input, &add_args(&data_dir, &[]));

    assert_eq!((exit, out.as_str()), (Exit::Error, ""));
    assert_eq!(
        err,
        format!(
            "error: failed to add source `Contoso CRM`: the key file `{}` cannot be used: it is \
             a character device, not a regular file; move it away and restore the key file\n",
            key.display()
        )
    );
    assert!(input.prompts.is_empty());
}
