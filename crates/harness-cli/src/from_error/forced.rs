//! A scenario for an entry no repository scenario reaches: the form and world of a passing
//! `add` scenario, a `[[faults]]` rule answering the first token or WhoAmI request with the
//! entry's exact body, and the step's expectation taken from one run of it.

use std::path::{Path, PathBuf};

use anyhow::Context;
use scenario::{Outcome, Scenario, SecretOrigin, SecretPart};

use super::recognise::Recognised;
use super::toml_string;
use crate::run::{Case, CaseResult};

/// What the rule sends, per recognised entry: service, path, status, extra headers, body.
struct Answer {
    service: &'static str,
    path: &'static str,
    status: u16,
    retry_after: bool,
    body: String,
}

/// The passing scenario to borrow a form and world from: its first step adds a source, no
/// step meets a problem or waits, it has no faults of its own, and its secret is a world
/// secret's value as is. The smallest such file.
pub(super) fn base(cases: &[Case]) -> Option<(PathBuf, Scenario)> {
    cases
        .iter()
        .filter(|case| {
            matches!(&case.result, CaseResult::Ran { report, .. }
            if report.passed()
                && report.steps.first().is_some_and(|step| {
                    step.action == "add" && step.outcome == Some(Outcome::Added)
                })
                // No problem, retry or wait anywhere: the forced answer is the only one.
                && report.steps.iter().all(|step| {
                    step.problem.is_none() && step.waits_seconds.is_empty()
                }))
        })
        .filter_map(|case| {
            let scenario = Scenario::load(&case.path).ok()?;
            let plain = matches!(
                &scenario.form().client_secret.origin,
                SecretOrigin::World { part: SecretPart::Value, before, after, .. }
                    if before.is_empty() && after.is_empty()
            );
            (plain && scenario.faults().is_empty()).then(|| (case.path.clone(), scenario))
        })
        .min_by_key(|(path, _)| std::fs::metadata(path).map_or(u64::MAX, |metadata| metadata.len()))
}

/// The scenario text for `recognised` on `base`'s form and world, expecting `expect` (a TOML
/// inline table) of its one `add` step; `world` is how the file names the world.
pub(super) fn text(
    recognised: Recognised,
    base: &Scenario,
    base_id: &str,
    world: &str,
    expect: &str,
) -> Option<String> {
    let answer = answer(recognised, base)?;
    let form = base.form();
    let SecretOrigin::World { app, secret, .. } = &form.client_secret.origin else {
        return None;
    };
    let mut headers = String::from("\"Content-Type\" = \"application/json; charset=utf-8\"");
    if answer.retry_after {
        headers.push_str(", \"Retry-After\" = \"2\"");
    }
    Some(format!(
        r#"# Written by `d365-harness scenario from-error`: no scenario reaches {label}, so a fault rule
# answers with its body (form and world from `{base_id}`). Edit it to match the field report.
version = 1
name = {name}
description = {description}
world = {world}

[form]
name = {form_name}
environment_url = {environment_url}
tenant_id = {tenant_id}
client_id = {client_id}
client_secret = {{ app = {app}, secret = {secret} }}

[[faults]]
name = {fault_name}
service = "{service}"
path = "{path}"
action = {{ kind = "respond", status = {status}, headers = {{ {headers} }}, body = {body} }}

[[steps]]
action = "add"
expect = {expect}
"#,
        label = recognised.label(),
        name = toml_string(&format!("replay of {}", recognised.label())),
        description = toml_string(&format!(
            "Reproduces {} ({}): a fault rule answers the first {} request with it, as written by `d365-harness scenario from-error` (no scenario reaches it through the world yet).",
            recognised.label(),
            recognised.quote(),
            if answer.service == "entra" {
                "token"
            } else {
                "WhoAmI"
            },
        )),
        world = toml_string(world),
        form_name = toml_string(&form.name),
        environment_url = toml_string(&form.environment_url),
        tenant_id = toml_string(&form.tenant_id),
        client_id = toml_string(&form.client_id),
        app = toml_string(app),
        secret = toml_string(secret),
        fault_name = toml_string(&recognised.label()),
        service = answer.service,
        path = answer.path,
        status = answer.status,
        body = toml_string(&answer.body),
    ))
}

/// The expectation for what one run of `text` (loaded as if at `target`) showed.
pub(super) fn observed(
    text: &str,
    target: &Path,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<String> {
    let scenario = Scenario::parse(text, target).context("the forced scenario does not load")?;
    let report = runtime
        .block_on(scenario::run(&scenario))
        .context("the forced scenario did not run")?;
    let step = report
        .steps
        .first()
        .context("the forced scenario has no step")?;
    Ok(match (&step.outcome, &step.problem) {
        (Some(Outcome::Failed), Some(problem)) => {
            format!("{{ outcome = \"failed\", problem = \"{}\" }}", problem.kind)
        }
        (Some(outcome), _) => format!("{{ outcome = \"{outcome}\" }}"),
        (None, _) => "{ outcome = \"added\" }".to_owned(),
    })
}

fn answer(recognised: Recognised, base: &Scenario) -> Option<Answer> {
    let form = base.form();
    match recognised {
        Recognised::Aadsts(entry) => {
            let message = fill(entry.template, |name| match name {
                "client_id" => Some(form.client_id.clone()),
                "tenant" => Some(form.tenant_id.clone()),
                "resource" => Some(form.environment_url.clone()),
                "scope" => Some(format!("{}/.default", form.environment_url)),
                _ => None,
            });
            let trace = "00000000-0000-0000-0000-000000000000";
            let body = serde_json::json!({
                "error": entry.error,
                "error_description": format!(
                    "AADSTS{}: {message} Trace ID: {trace} Correlation ID: {trace} Timestamp: 2026-03-01 12:00:00Z",
                    entry.code
                ),
                "error_codes": [entry.code],
                "timestamp": "2026-03-01 12:00:00Z",
                "trace_id": trace,
                "correlation_id": trace,
                "error_uri": format!("https://login.microsoftonline.com/error?code={}", entry.code),
            });
            Some(Answer {
                service: "entra",
                path: "*/oauth2/v2.0/token",
                status: entry.status,
                retry_after: false,
                body: body.to_string(),
            })
        }
        Recognised::Dataverse(entry) => {
            let message = entry.message.map(str::to_owned).unwrap_or_else(|| {
                match entry.variant {
                    "ExecutionTimeExceeded" => "Combined execution time of incoming requests exceeded limit of 1,200,000 milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.".to_owned(),
                    "ConcurrencyExceeded" => "Number of concurrent requests exceeded the limit of 52.".to_owned(),
                    "RequestsExceeded" => "Number of requests exceeded the limit of 6000 over time window of 300 seconds.".to_owned(),
                    _ => format!("{} (written by d365-harness scenario from-error).", entry.name),
                }
            });
            let body = serde_json::json!({ "error": { "code": entry.code, "message": message } });
            Some(Answer {
                service: "dataverse",
                path: "*/WhoAmI",
                status: entry.status,
                retry_after: entry.status == 429,
                body: body.to_string(),
            })
        }
        Recognised::EntraThrottle | Recognised::Problem(_) => None,
    }
}

/// `template` with each `{name}` replaced by `value(name)`, or by `<name>` when there is none.
fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut filled = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        filled.push_str(&rest[..start]);
        let Some(length) = rest[start..].find('}') else {
            break;
        };
        let name = &rest[start + 1..start + length];
        filled.push_str(&value(name).unwrap_or_else(|| format!("<{name}>")));
        rest = &rest[start + length + 1..];
    }
    filled.push_str(rest);
    filled
}
