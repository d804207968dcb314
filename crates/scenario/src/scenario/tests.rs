//! Scenario loading: a valid file becomes the expected `Scenario`, and every kind of mistake in
//! a file is reported with its path, line, column and dotted key. Error texts are the whole
//! `source()` chain, joined as `{:#}` in anyhow would print them.

use crate::test_support::{chain, repo_root};
use std::path::PathBuf;

use d365_source::{CheckWarningKind, Field, ProblemKind};

use super::*;

/// A scenario that validates, lines 1 to 15.
const BASE: &str = r#"version = 1
name = "expired client secret"
description = "The importer's secret expired."
world = "setup-mistakes"

[form]
name = "Contoso CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
client_secret = { app = "importer", secret = "expired" }

[[steps]]
action = "add"
expect = { outcome = "failed", problem = "expired_secret" }
"#;

const EXPIRED: &str = "Qm28Q~mistakes.importer.secret.expired.0002";

/// Where the inline scenarios pretend to live: a folder below the repository root (it need not
/// exist), so that `world = "<name>"` finds `fixtures/worlds/`.
fn scenario_path() -> PathBuf {
    repo_root().join("scenarios/unit/test.toml")
}

/// The error and its sources joined with `: `, with the repository root cut from paths.
fn parse(text: &str) -> Scenario {
    Scenario::parse(text, scenario_path()).unwrap_or_else(|error| panic!("{}", chain(&error)))
}

/// Parses `text` and expects exactly the error `expected`.
#[track_caller]
fn check(text: &str, expected: &str) {
    match Scenario::parse(text, scenario_path()) {
        Ok(scenario) => panic!("expected an error, got {scenario:#?}"),
        Err(error) => assert_eq!(chain(&error), expected, "\n--- input ---\n{text}"),
    }
}

/// Parses `text` and expects an error that starts with `start` and mentions `also`.
#[track_caller]
fn check_start(text: &str, start: &str, also: &str) {
    match Scenario::parse(text, scenario_path()) {
        Ok(scenario) => panic!("expected an error, got {scenario:#?}"),
        Err(error) => {
            let message = chain(&error);
            assert!(
                message.starts_with(start) && message[start.len()..].contains(also),
                "{message}\n--- input ---\n{text}"
            );
        }
    }
}

/// [`BASE`] with one replacement that must apply.
fn base_with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "`{from}` is not in the base scenario");
    BASE.replacen(from, to, 1)
}

#[test]
fn loads_a_scenario_and_resolves_its_world_and_secrets() {
    let scenario = parse(BASE);
    assert_eq!(scenario.name(), "expired client secret");
    assert_eq!(scenario.world_name(), "setup-mistakes");
    assert!(scenario.world().app("retired").is_some());
    assert_eq!(scenario.tables(), ["account", "contact"]);
    assert_eq!(scenario.request_timeout(), None);
    let secret = &scenario.form().client_secret;
    assert_eq!(
        secret.value.as_ref().expect("a world secret").expose(),
        EXPIRED
    );
    assert_eq!(secret.origin.describe(), "importer.expired");
    let [step] = scenario.steps() else {
        panic!("one step: {:?}", scenario.steps());
    };
    assert!(matches!(step.action, Action::Add));
    assert_eq!(
        step.expect,
        Some(Expectation {
            outcome: Outcome::Failed,
            problem: Some(ProblemKind::ExpiredSecret),
            fields: None,
            warnings: None,
            check_warnings: None,
            waited_seconds: None,
            message: None,
            fix: None,
            requests: Vec::new(),
            sources: None,
        })
    );
    let debug = format!("{scenario:?}");
    assert!(!debug.contains(EXPIRED), "{debug}");
}

#[test]
fn reads_every_step_kind_and_option() {
    let text = r#"version = 1
name = "every kind of step"
description = "Options and steps."
world = "setup-mistakes"
tables = ["account"]

[network]
request_timeout_ms = 300

[form]
name = "Contoso CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
client_secret = "Qm28Q~typed"

[[faults]]
service = "entra"
action = { kind = "close" }

[[steps]]
action = "rotate_secret"
new_secret = { app = "importer", secret = "current", part = "id" }
expect = { outcome = "failed", problem = "wrong_secret", warnings = ["client_secret"] }

[[steps]]
action = "advance_clock"
until = "2028-07-01T00:00:00Z"

[[steps]]
action = "advance_clock"
seconds = 30

[[steps]]
action = "test"
expect = { outcome = "not_found" }

[[steps]]
action = "remove"
expect = { outcome = "removed" }

[[steps]]
action = "add"
expect = { outcome = "invalid", fields = ["tenant_id", "name"], waited_seconds = 0 }
"#;
    let scenario = parse(text);
    assert_eq!(scenario.tables(), ["account"]);
    assert_eq!(
        scenario.request_timeout(),
        Some(std::time::Duration::from_millis(300))
    );
    assert_eq!(scenario.faults().len(), 1);
    let actions: Vec<&str> = scenario
        .steps()
        .iter()
        .map(|step| step.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "rotate_secret",
            "advance_clock",
            "advance_clock",
            "test",
            "remove",
            "add"
        ]
    );
    let Action::RotateSecret { new_secret } = &scenario.steps()[0].action else {
        panic!("rotate_secret first");
    };
    assert_eq!(
        new_secret.value.as_ref().expect("a literal").expose(),
        "a1d4c2e0-5b7f-4c19-9e38-2f6a0b8d1c47"
    );
    assert_eq!(new_secret.origin.describe(), "importer.current.id");
    assert_eq!(
        scenario.steps()[0]
            .expect
            .as_ref()
            .and_then(|expect| expect.warnings.clone()),
        Some(vec![Field::ClientSecret])
    );
    assert!(matches!(
        scenario.steps()[1].action,
        Action::AdvanceClock(ClockMove::Until(_))
    ));
    assert!(matches!(
        scenario.steps()[2].action,
        Action::AdvanceClock(ClockMove::By(duration)) if duration.as_secs() == 30
    ));
    assert!(scenario.steps()[2].expect.is_none());
    assert_eq!(
        scenario.steps()[5]
            .expect
            .as_ref()
            .and_then(|expect| expect.fields.clone()),
        Some(vec![Field::TenantId, Field::Name])
    );
    assert_eq!(scenario.form().client_secret.origin, SecretOrigin::Typed);
    let secrets: Vec<&str> = scenario
        .secret_values()
        .iter()
        .map(|secret| secret.expose())
        .collect();
    assert!(secrets.contains(&"Qm28Q~typed"), "{secrets:?}");
    assert!(secrets.contains(&EXPIRED), "{secrets:?}");
}

#[test]
fn an_unknown_field_is_reported_with_line_and_column() {
    check(
        &base_with("expect = {", "expct = {"),
        "failed to parse scenario `scenarios/unit/test.toml` at line 15, column 1: unknown field `expct`, expected one of `action`, `new_secret`, `seconds`, `until`, `expect`, `form`, `source`, `add`, `clear`, `changes`",
    );
    check(
        &base_with(
            "problem = \"expired_secret\"",
            "problem = \"expired_secret\", fileds = []",
        ),
        "failed to parse scenario `scenarios/unit/test.toml` at line 15, column 60: unknown field `fileds`, expected one of `outcome`, `problem`, `fields`, `warnings`, `check_warnings`, `waited_seconds`, `message`, `fix`, `requests`, `sources`",
    );
    check(
        &base_with(
            "secret = \"expired\" }",
            "secret = \"expired\", value = \"x\" }",
        ),
        "failed to parse scenario `scenarios/unit/test.toml` at line 11, column 57: unknown field `value`, expected one of `app`, `secret`, `part`, `before`, `after`",
    );
}

#[test]
fn an_unknown_problem_name_is_reported_with_the_known_ones() {
    let error = Scenario::parse(
        &base_with("\"expired_secret\"", "\"expird_secret\""),
        scenario_path(),
    )
    .expect_err("the problem is unknown");
    let text = chain(&error);
    assert!(
        text.starts_with(
            "invalid scenario `scenarios/unit/test.toml` at line 15, column 42: `steps[0].expect.problem`: unknown problem `expird_secret`: unknown variant `expird_secret`, expected one of `tenant_malformed`, `tenant_not_found`,"
        ),
        "{text}"
    );
    assert!(text.contains("`expired_secret`"), "{text}");
}

#[test]
fn an_unknown_secret_reference_is_reported() {
    check(
        &base_with("secret = \"expired\"", "secret = \"old\""),
        "invalid scenario `scenarios/unit/test.toml` at line 11, column 46: `form.client_secret.secret`: app `importer` has no secret named `old`; known: current, expired",
    );
    check(
        &base_with("app = \"importer\"", "app = \"exporter\""),
        "invalid scenario `scenarios/unit/test.toml` at line 11, column 25: `form.client_secret.app`: unknown app `exporter`; known: importer, retired",
    );
    check(
        &base_with(
            "{ app = \"importer\", secret = \"expired\" }",
            "{ app = \"retired\", secret = \"current\", part = \"id\" }",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 11, column 17: `form.client_secret.part`: secret `current` of app `retired` has no `id` in the world",
    );
}

#[test]
fn a_version_other_than_1_is_refused() {
    check(
        &base_with("version = 1", "version = 2"),
        "invalid scenario `scenarios/unit/test.toml` at line 1, column 11: `version`: unsupported version `2`; this harness reads version 1",
    );
    check(
        &base_with("version = 1\n", ""),
        "failed to parse scenario `scenarios/unit/test.toml` at line 1, column 1: missing field `version`",
    );
}

#[test]
fn an_unknown_world_names_the_known_ones() {
    let error = Scenario::parse(
        &base_with("\"setup-mistakes\"", "\"setup-mistake\""),
        scenario_path(),
    )
    .expect_err("the world is unknown");
    let text = chain(&error);
    assert!(
        text.starts_with(
            "invalid scenario `scenarios/unit/test.toml` at line 4, column 9: `world`: no world `setup-mistake` in `fixtures/worlds/` of the scenario's folder or a folder above it (searched `scenarios/unit/fixtures/worlds`, `scenarios/fixtures/worlds`, `fixtures/worlds`, "
        ),
        "{text}"
    );
    assert!(
        text.ends_with(
            "; known: custom-tables, customer-tenant, demo, failures, read-depths, setup-mistakes"
        ),
        "{text}"
    );
    check(
        &base_with("\"setup-mistakes\"", "\"../worlds/x.toml\""),
        "invalid scenario `scenarios/unit/test.toml` at line 4, column 9: `world`: the world does not load: failed to read world `scenarios/unit/../worlds/x.toml`: No such file or directory (os error 2)",
    );
}

#[test]
fn an_expectation_must_fit_its_action() {
    check(
        &base_with("action = \"add\"", "action = \"remove\""),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 22: `steps[0].expect.outcome`: `remove` never ends `failed`; expect `removed`, `not_found`",
    );
    check(
        &base_with(", problem = \"expired_secret\"", ""),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 10: `steps[0].expect.problem`: a `failed` outcome needs the expected `problem` (a problem kind like `wrong_secret`)",
    );
    check(
        &base_with("outcome = \"failed\"", "outcome = \"added\""),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 41: `steps[0].expect.problem`: only a `failed` outcome has a `problem`",
    );
    check(
        &base_with(
            "outcome = \"failed\", problem = \"expired_secret\"",
            "outcome = \"invalid\"",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 10: `steps[0].expect.fields`: an `invalid` outcome needs the invalid `fields` (like `[\"tenant_id\"]`)",
    );
    check(
        &base_with(
            "action = \"add\"",
            "action = \"advance_clock\"\nseconds = 5",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 16, column 10: `steps[0].expect`: `advance_clock` has no outcome; leave out `expect`",
    );
    check(
        &base_with("action = \"add\"", "action = \"rotate_secret\""),
        "invalid scenario `scenarios/unit/test.toml` at line 13, column 1: `steps[0].new_secret`: `rotate_secret` needs `new_secret`: a literal string or `{ app, secret }`",
    );
    check(
        &base_with("action = \"add\"", "action = \"add\"\nseconds = 5"),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 11: `steps[0].seconds`: only `advance_clock` takes `seconds` or `until`",
    );
    check(
        &base_with("action = \"add\"", "action = \"adds\""),
        "failed to parse scenario `scenarios/unit/test.toml` at line 14, column 10: unknown variant `adds`, expected one of `add`, `test`, `rotate_secret`, `remove`, `advance_clock`, `fault`, `change`",
    );
}

#[test]
fn a_scenario_needs_steps() {
    let text = BASE.split("[[steps]]").next().expect("the head").to_owned();
    check(
        &text,
        "invalid scenario `scenarios/unit/test.toml` at line 1, column 1: `steps`: a scenario needs at least one `[[steps]]`",
    );
    check(
        &text.replace("world = ", "steps = []\nworld = "),
        "invalid scenario `scenarios/unit/test.toml` at line 4, column 9: `steps`: a scenario needs at least one `[[steps]]`",
    );
}

#[test]
fn scenario_faults_are_checked_like_world_faults() {
    check(
        &base_with(
            "[[steps]]",
            "[[faults]]\nservice = \"graph\"\naction = { kind = \"close\" }\n\n[[steps]]",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 14, column 11: `faults[0].service`: unknown service `graph`; known: entra, dataverse",
    );
}

#[test]
fn network_trust_defaults_to_the_harness_ca_and_knows_its_values() {
    assert_eq!(parse(BASE).trust(), Trust::HarnessCa);
    let another = base_with("[form]", "[network]\ntrust = \"another_ca\"\n\n[form]");
    assert_eq!(parse(&another).trust(), Trust::AnotherCa);
    let wrong = base_with("[form]", "[network]\ntrust = \"none\"\n\n[form]");
    let error = Scenario::parse(&wrong, scenario_path()).expect_err("an unknown trust value");
    let text = chain(&error);
    assert!(
        text.starts_with("failed to parse scenario `scenarios/unit/test.toml` at line 7, column 9"),
        "{text}"
    );
    assert!(
        text.ends_with("unknown variant `none`, expected `harness_ca` or `another_ca`"),
        "{text}"
    );
}

#[test]
fn a_world_secret_can_be_typed_with_what_a_paste_drags_along() {
    let scenario = parse(&base_with(
        "secret = \"expired\" }",
        "secret = \"expired\", before = \" \", after = \"\\n\" }",
    ));
    let secret = &scenario.form().client_secret;
    assert_eq!(
        secret.value.as_ref().expect("a world secret").expose(),
        format!(" {EXPIRED}\n")
    );
    assert_eq!(secret.origin.describe(), r#"" " + importer.expired + "\n""#);
}

#[test]
fn reads_expected_check_warnings_of_a_passed_check() {
    let scenario = parse(&base_with(
        "{ outcome = \"failed\", problem = \"expired_secret\" }",
        "{ outcome = \"added\", check_warnings = [\"partial_read_depth\"] }",
    ));
    assert_eq!(
        scenario.steps()[0]
            .expect
            .as_ref()
            .and_then(|expect| expect.check_warnings.clone()),
        Some(vec![CheckWarningKind::PartialReadDepth])
    );
}

#[test]
fn check_warnings_are_refused_without_a_passed_check_or_with_an_unknown_kind() {
    check(
        &base_with(
            "problem = \"expired_secret\" }",
            "problem = \"expired_secret\", check_warnings = [] }",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 77: `steps[0].expect.check_warnings`: only a passed check (`added`, `passed`, `rotated`) has `check_warnings`",
    );
    let error = Scenario::parse(
        &base_with(
            "{ outcome = \"failed\", problem = \"expired_secret\" }",
            "{ outcome = \"added\", check_warnings = [\"partial_depth\"] }",
        ),
        scenario_path(),
    )
    .expect_err("the warning is unknown");
    assert_eq!(
        chain(&error),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 49: `steps[0].expect.check_warnings[0]`: unknown check warning `partial_depth`: unknown variant `partial_depth`, expected `partial_read_depth`"
    );
}

/// [`BASE`] with a second form, `[forms.second]`, and `steps` instead of its one step.
fn with_steps(steps: &str) -> String {
    let head = BASE.split("[[steps]]").next().expect("the head");
    format!(
        r#"{head}[forms.second]
name = "Second CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
client_secret = {{ app = "importer", secret = "current" }}
{steps}"#
    )
}

#[test]
fn a_step_can_carry_its_own_form_or_name_another() {
    let scenario = parse(&with_steps(
        r#"
[[steps]]
action = "add"
source = "second"
expect = { outcome = "added", sources = ["Second CRM"] }

[[steps]]
action = "add"
form = { name = "Third", environment_url = "https://contoso.crm.dynamics.com", tenant_id = "contoso.onmicrosoft.com", client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01", client_secret = "Qm28Q~typed.in.a.step" }
expect = { outcome = "failed", problem = "wrong_secret", message = "secret", fix = "client secret" }

[[steps]]
action = "test"
expect = { outcome = "not_found", sources = [] }
"#,
    ));
    assert_eq!(scenario.forms().len(), 1);
    let [second, third, plain] = scenario.steps() else {
        panic!("three steps: {:?}", scenario.steps());
    };
    assert_eq!(second.source.as_deref(), Some("second"));
    assert_eq!(
        second.form.as_ref().map(|form| form.name.as_str()),
        Some("Second CRM")
    );
    assert_eq!(third.source, None);
    assert_eq!(
        third.form.as_ref().map(|form| form.name.as_str()),
        Some("Third")
    );
    assert!(plain.form.is_none());
    let expect = third.expect.as_ref().expect("an expectation");
    assert_eq!(expect.message.as_deref(), Some("secret"));
    assert_eq!(expect.fix.as_deref(), Some("client secret"));
    assert_eq!(
        plain
            .expect
            .as_ref()
            .and_then(|expect| expect.sources.clone()),
        Some(Vec::new())
    );
    let secrets: Vec<&str> = scenario
        .secret_values()
        .iter()
        .map(|secret| secret.expose())
        .collect();
    assert!(secrets.contains(&"Qm28Q~typed.in.a.step"), "{secrets:?}");
}

#[test]
fn a_step_form_is_checked_where_it_is_written() {
    check(
        &with_steps(
            "\n[[steps]]\naction = \"test\"\nsource = \"secnd\"\nexpect = { outcome = \"passed\" }\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 22, column 10: `steps[0].source`: no form `[forms.secnd]` in the scenario; known: second",
    );
    check(
        &with_steps(
            "\n[[steps]]\naction = \"add\"\nsource = \"second\"\nform = { name = \"x\", environment_url = \"\", tenant_id = \"\", client_id = \"\", client_secret = \"\" }\nexpect = { outcome = \"added\" }\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 22, column 10: `steps[0].source`: give a step `form` or `source`, not both",
    );
    check(
        &with_steps("\n[[steps]]\naction = \"advance_clock\"\nseconds = 1\nsource = \"second\"\n"),
        "invalid scenario `scenarios/unit/test.toml` at line 23, column 10: `steps[0].source`: only `add`, `test`, `rotate_secret` and `remove` use a form",
    );
    check(
        &with_steps(
            "\n[[steps]]\naction = \"add\"\nform = { name = \"x\", environment_url = \"\", tenant_id = \"\", client_id = \"\", client_secret = { app = \"importer\", secret = \"old\" } }\nexpect = { outcome = \"added\" }\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 22, column 121: `steps[0].form.client_secret.secret`: app `importer` has no secret named `old`; known: current, expired",
    );
    check(
        &with_steps(
            "\n[[steps]]\naction = \"add\"\nform = { name = \"x\" }\nexpect = { outcome = \"added\" }\n",
        ),
        "failed to parse scenario `scenarios/unit/test.toml` at line 22, column 8: missing field `environment_url`",
    );
    check(
        &base_with("[[steps]]", "[forms.x]\nname = \"x\"\n\n[[steps]]"),
        "failed to parse scenario `scenarios/unit/test.toml` at line 13, column 1: missing field `environment_url`",
    );
}

#[test]
fn a_fault_step_adds_rules_or_clears_them() {
    let scenario = parse(&with_steps(
        r#"
[[steps]]
action = "fault"
clear = true
add = [{ name = "throttle", service = "dataverse", nth = 1, action = { kind = "respond", status = 429, headers = { "Retry-After" = "5" } } }]

[[steps]]
action = "fault"
clear = true
"#,
    ));
    let [add, clear] = scenario.steps() else {
        panic!("two steps: {:?}", scenario.steps());
    };
    let Action::Fault {
        clear: cleared,
        add: rules,
    } = &add.action
    else {
        panic!("a fault step: {add:?}");
    };
    assert!(cleared);
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].name.as_deref(), Some("throttle"));
    assert_eq!(rules[0].nth, Some(1));
    assert!(add.expect.is_none());
    assert!(matches!(&clear.action, Action::Fault { clear: true, add } if add.is_empty()));
}

#[test]
fn a_fault_step_is_checked_like_world_faults() {
    check(
        &with_steps("\n[[steps]]\naction = \"fault\"\n"),
        "invalid scenario `scenarios/unit/test.toml` at line 20, column 1: `steps[0]`: `fault` needs `add = [ <fault rule>, ... ]` or `clear = true` (or both)",
    );
    check(
        &with_steps("\n[[steps]]\naction = \"fault\"\nclear = false\n"),
        "invalid scenario `scenarios/unit/test.toml` at line 20, column 1: `steps[0]`: `fault` needs `add = [ <fault rule>, ... ]` or `clear = true` (or both)",
    );
    check(
        &with_steps(
            "\n[[steps]]\naction = \"fault\"\nadd = [{ service = \"graph\", action = { kind = \"close\" } }]\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 22, column 20: `steps[0].add[0].service`: unknown service `graph`; known: entra, dataverse",
    );
    check(
        &with_steps(
            "\n[[steps]]\naction = \"fault\"\nclear = true\nadd = [{ action = { kind = \"close\" } }, { nth = 0, action = { kind = \"close\" } }]\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 23, column 49: `steps[0].add[1].nth`: must be at least 1, not `0`",
    );
    check(
        &with_steps(
            "\n[[steps]]\naction = \"fault\"\nclear = true\nexpect = { outcome = \"passed\" }\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 23, column 10: `steps[0].expect`: `fault` has no outcome; leave out `expect` (the next step checks what the fault does)",
    );
    check(
        &base_with("action = \"add\"", "action = \"add\"\nclear = true"),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 9: `steps[0].clear`: only `fault` takes `add` or `clear`",
    );
    check(
        &with_steps(
            "\n[[steps]]\naction = \"fault\"\nadd = [{ action = { kind = \"explode\" } }]\n",
        ),
        "failed to parse scenario `scenarios/unit/test.toml` at line 22, column 28: unknown variant `explode`, expected one of `respond`, `delay`, `close_connection`, `reset_stream`, `close`",
    );
}

#[test]
fn expected_phrases_request_counts_and_sources_are_read_and_checked() {
    let scenario = parse(&base_with(
        "problem = \"expired_secret\" }",
        "problem = \"expired_secret\", message = \"expired\", requests = [{ host = \"login.*\", path = \"/*/token\", count = 1 }, { count = 1 }], sources = [] }",
    ));
    let expect = scenario.steps()[0].expect.as_ref().expect("an expectation");
    assert_eq!(expect.message.as_deref(), Some("expired"));
    assert_eq!(
        expect.requests,
        [
            RequestCount {
                host: Some("login.*".to_owned()),
                path: Some("/*/token".to_owned()),
                count: 1
            },
            RequestCount {
                host: None,
                path: None,
                count: 1
            }
        ]
    );
    assert_eq!(expect.sources, Some(Vec::new()));
    check(
        &base_with(
            "{ outcome = \"failed\", problem = \"expired_secret\" }",
            "{ outcome = \"added\", fix = \"rotate\" }",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 37: `steps[0].expect.fix`: only a `failed` outcome has a problem, so only it has `message` and `fix`",
    );
    check(
        &base_with(
            "problem = \"expired_secret\" }",
            "problem = \"expired_secret\", message = \" \" }",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 70: `steps[0].expect.message`: must not be empty",
    );
    check(
        &base_with(
            "problem = \"expired_secret\" }",
            "problem = \"expired_secret\", requests = [{ path = \"token\", count = 1 }] }",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 81: `steps[0].expect.requests[0].path`: `token` is not a path pattern; start it with `/` or `*`",
    );
    check(
        &base_with(
            "problem = \"expired_secret\" }",
            "problem = \"expired_secret\", requests = [{ host = \"x\" }] }",
        ),
        "failed to parse scenario `scenarios/unit/test.toml` at line 15, column 72: missing field `count`",
    );
    check(
        &base_with(
            "action = \"add\"\nexpect = { outcome = \"failed\", problem = \"expired_secret\" }",
            "action = \"remove\"\nexpect = { outcome = \"removed\", requests = [{ count = 0 }] }",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 44: `steps[0].expect.requests`: `remove` sends no request, so it has no `requests`",
    );
}

#[test]
fn a_world_secret_is_typed_as_the_world_has_it_at_the_step_or_as_it_was_last_seen() {
    let scenario = parse(&base_with(
        "secret = \"expired\" }",
        "secret = \"current\", part = \"id\", after = \" \" }",
    ));
    let input = &scenario.form().client_secret;
    let loaded = scenario.world().clone();
    let id = "a1d4c2e0-5b7f-4c19-9e38-2f6a0b8d1c47 ";
    let none = std::collections::BTreeMap::new();
    assert_eq!(
        input
            .typed(&loaded, &none)
            .map(|value| value.expose().to_owned()),
        Some(id.to_owned())
    );
    // The same world without the importer's secrets: only what was seen before can be typed.
    let text = std::fs::read_to_string(loaded.path()).expect("the world file");
    let start = text
        .find("secrets = [\n  { name = \"current\"")
        .expect("the importer's secrets");
    let end = start + text[start..].find("]\n").expect("their end") + 2;
    let bare = World::parse(
        &format!("{}{}", &text[..start], &text[end..]),
        loaded.path(),
    )
    .unwrap_or_else(|error| panic!("{}", chain(&error)));
    assert_eq!(
        input
            .typed(&bare, &none)
            .map(|value| value.expose().to_owned()),
        None
    );
    let app = loaded.app("importer").expect("the importer");
    let remembered = app
        .secrets
        .iter()
        .map(|secret| (("importer".to_owned(), secret.name.clone()), secret.clone()))
        .collect();
    assert_eq!(
        input
            .typed(&bare, &remembered)
            .map(|value| value.expose().to_owned()),
        Some(id.to_owned())
    );
    let literal = SecretInput {
        value: Some(SecretValue::new("typed")),
        origin: SecretOrigin::Typed,
    };
    assert_eq!(
        literal
            .typed(&bare, &none)
            .map(|value| value.expose().to_owned()),
        Some("typed".to_owned())
    );
}

#[test]
fn a_change_step_reads_its_changes_and_a_later_step_may_type_a_secret_it_adds() {
    let scenario = parse(&with_steps(
        r#"
[[steps]]
action = "change"
changes = [
  { change = "remove_role", environment = "contoso", app = "importer", role = "Importer Reader" },
  { change = "add_secret", app = "importer", secret = "rotated", value = "Qm28Q~added.by.a.change" },
]

[[steps]]
action = "rotate_secret"
new_secret = { app = "importer", secret = "rotated" }
expect = { outcome = "failed", problem = "no_security_role" }
"#,
    ));
    let [change, rotate] = scenario.steps() else {
        panic!("two steps: {:?}", scenario.steps());
    };
    let Action::Change { changes } = &change.action else {
        panic!("a change step: {change:?}");
    };
    assert_eq!(
        changes.iter().map(Change::kind).collect::<Vec<_>>(),
        ["remove_role", "add_secret"]
    );
    assert!(change.expect.is_none());
    let Action::RotateSecret { new_secret } = &rotate.action else {
        panic!("a rotate_secret step: {rotate:?}");
    };
    // Not in the world as loaded: typed from the world as it is when the step runs.
    assert!(new_secret.value.is_none());
    assert_eq!(new_secret.origin.describe(), "importer.rotated");
    let secrets: Vec<&str> = scenario
        .secret_values()
        .iter()
        .map(|secret| secret.expose())
        .collect();
    assert!(secrets.contains(&"Qm28Q~added.by.a.change"), "{secrets:?}");
}

#[test]
fn a_change_is_checked_against_the_world_at_its_step() {
    // The reason's own words are the change vocabulary's (`change.rs`); here: where, and that
    // the known names come with it.
    check_start(
        &with_steps(
            "\n[[steps]]\naction = \"change\"\nchanges = [{ change = \"remove_role\", environment = \"contoso\", app = \"importer\", role = \"Importer Raeder\" }]\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 22, column 12: `steps[0].changes[0].role`: `remove_role` does not fit the world at this step: ",
        "did you mean `Importer Reader`?",
    );
    // The second batch removes a secret the first one already removed.
    check_start(
        &with_steps(
            "\n[[steps]]\naction = \"change\"\nchanges = [{ change = \"remove_secret\", app = \"importer\", secret = \"expired\" }]\n\n[[steps]]\naction = \"change\"\nchanges = [{ change = \"remove_role\", environment = \"contoso\", app = \"importer\", role = \"Importer Reader\" }, { change = \"remove_secret\", app = \"importer\", secret = \"expired\" }]\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 26, column 109: `steps[1].changes[1].secret`: `remove_secret` does not fit the world at this step: ",
        "`current`",
    );
    // A secret reference may not name one that no earlier change adds.
    check(
        &with_steps(
            "\n[[steps]]\naction = \"rotate_secret\"\nnew_secret = { app = \"importer\", secret = \"rotated\" }\nexpect = { outcome = \"rotated\" }\n\n[[steps]]\naction = \"change\"\nchanges = [{ change = \"add_secret\", app = \"importer\", secret = \"rotated\" }]\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 22, column 43: `steps[0].new_secret.secret`: app `importer` has no secret named `rotated`; known: current, expired",
    );
    check(
        &with_steps("\n[[steps]]\naction = \"change\"\n"),
        "invalid scenario `scenarios/unit/test.toml` at line 20, column 1: `steps[0].changes`: `change` needs `changes = [{ change = \"<kind>\", ... }, ...]`",
    );
    check(
        &with_steps("\n[[steps]]\naction = \"change\"\nchanges = []\n"),
        "invalid scenario `scenarios/unit/test.toml` at line 22, column 11: `steps[0].changes`: `change` needs at least one change",
    );
    check(
        &with_steps(
            "\n[[steps]]\naction = \"change\"\nchanges = [{ change = \"disable_app\", app = \"importer\" }]\nexpect = { outcome = \"passed\" }\n",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 23, column 10: `steps[0].expect`: `change` has no outcome; leave out `expect` (the next step checks what the change does)",
    );
    check(
        &base_with("action = \"add\"", "action = \"add\"\nchanges = []"),
        "invalid scenario `scenarios/unit/test.toml` at line 15, column 11: `steps[0].changes`: only `change` takes `changes`",
    );
    let error = Scenario::parse(
        &with_steps("\n[[steps]]\naction = \"change\"\nchanges = [{ change = \"remove_rol\" }]\n"),
        scenario_path(),
    )
    .expect_err("an unknown kind");
    let text = chain(&error);
    assert!(
        text.starts_with("failed to parse scenario `scenarios/unit/test.toml` at line 22, column 23: unknown variant `remove_rol`, expected one of `add_secret`,"),
        "{text}"
    );
}

#[test]
fn a_named_form_may_type_a_secret_that_a_change_adds() {
    let head = BASE.split("[[steps]]").next().expect("the head");
    let text = format!(
        r#"{head}[forms.later]
name = "Later CRM"
environment_url = "https://contoso.crm.dynamics.com"
tenant_id = "contoso.onmicrosoft.com"
client_id = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
client_secret = {{ app = "importer", secret = "rotated" }}

[[steps]]
action = "change"
changes = [{{ change = "add_secret", app = "importer", secret = "rotated" }}]

[[steps]]
action = "add"
source = "later"
expect = {{ outcome = "added" }}
"#
    );
    let scenario = parse(&text);
    let form = scenario.steps()[1].form.as_ref().expect("the named form");
    assert_eq!(form.name, "Later CRM");
    assert!(form.client_secret.value.is_none());
    assert_eq!(form.client_secret.origin.describe(), "importer.rotated");
    check(
        &text.replace(
            "{ change = \"add_secret\", app = \"importer\", secret = \"rotated\" }",
            "{ change = \"add_secret\", app = \"importer\", secret = \"other\" }",
        ),
        "invalid scenario `scenarios/unit/test.toml` at line 18, column 46: `forms.later.client_secret.secret`: app `importer` has no secret named `rotated`; known: current, expired, other",
    );
}

#[test]
fn a_steps_world_changes_are_its_batch_its_fault_rules_or_its_clock_move() {
    let scenario = parse(&with_steps(
        r#"
[[steps]]
action = "fault"
clear = true
add = [{ name = "down", service = "entra", action = { kind = "respond", status = 503 } }]

[[steps]]
action = "change"
changes = [{ change = "disable_app", app = "importer" }]

[[steps]]
action = "advance_clock"
seconds = 90

[[steps]]
action = "test"
expect = { outcome = "passed" }
"#,
    ));
    let kinds: Vec<Vec<&str>> = scenario
        .steps()
        .iter()
        .map(|step| {
            step.action
                .world_changes()
                .iter()
                .map(Change::kind)
                .collect()
        })
        .collect();
    assert_eq!(
        kinds,
        [
            vec!["clear_faults", "add_fault"],
            vec!["disable_app"],
            vec!["advance_clock"],
            vec![]
        ]
    );
    assert!(matches!(
        scenario.steps()[2].action.world_changes().as_slice(),
        [Change::AdvanceClock {
            seconds: Some(90),
            duration: None,
            until: None
        }]
    ));
}

#[test]
fn every_error_of_the_new_step_keys_is_collected() {
    let text = with_steps(
        r#"
[[steps]]
action = "add"
source = "secnd"
expect = { outcome = "added" }

[[steps]]
action = "change"
changes = [{ change = "disable_app", app = "importr" }]

[[steps]]
action = "fault"
"#,
    )
    .replace(
        "secret = \"current\" }\n\n[[steps]]",
        "secret = \"gone\" }\n\n[[steps]]",
    );
    let errors = Scenario::parse_all(&text, scenario_path()).expect_err("three mistakes");
    let keys: Vec<String> = errors
        .iter()
        .map(|error| match error {
            Error::Invalid { key, .. } => key.clone(),
            other => panic!("{}", chain(other)),
        })
        .collect();
    assert_eq!(
        keys,
        [
            "steps[0].source",
            "steps[1].changes[0].app",
            "steps[2]",
            "forms.second.client_secret.secret"
        ]
    );
}
