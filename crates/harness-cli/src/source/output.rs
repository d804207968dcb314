//! What the `source` subcommands print: check summaries (with the check's notes and
//! warnings), problem reports with their evidence, form errors and warnings, and the source list
//! as a table or JSON. Pure text builders, so the formats are tested without a network. Nothing
//! here ever sees a secret: sources carry only their `secret_hint`, and problems were scrubbed.

use d365_source::{
    CheckReport, FieldWarning, FormErrors, LastCheck, Problem, ReadDepth, Step, StoredSource,
    TableAccess,
};
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// The summary of a source whose last check passed: what the check found.
pub(crate) fn check_passed(source: &StoredSource) -> String {
    let mut text = format!(
        "Connection check passed for `{}` ({}).\n",
        source.name, source.environment
    );
    match &source.last_check {
        LastCheck::Passed(report) => text.push_str(&check_report(report)),
        // The flow records a passed check before it returns one; say so if it did not.
        LastCheck::Failed { problem, .. } => text.push_str(&format!(
            "  (the recorded check is a failed one: {})\n",
            problem.kind
        )),
    }
    text
}

/// What a passed check found; then a `note:` line per table typed as another name than its
/// logical name, and a `warning:` line per check warning (a partial Read depth).
fn check_report(report: &CheckReport) -> String {
    let organization = &report.organization;
    let tables: Vec<String> = report
        .tables
        .iter()
        .map(|table| match table.read_depth {
            Some(depth) if depth != ReadDepth::Global => format!(
                "{} ({}, Read at {depth})",
                table.logical_name, table.entity_set
            ),
            _ => format!("{} ({})", table.logical_name, table.entity_set),
        })
        .collect();
    let tables = if tables.is_empty() {
        "none".to_owned()
    } else {
        tables.join(", ")
    };
    let mut text = format!(
        "  organization:     {} ({}), version {}\n\
         \x20 application user: {} (business unit {})\n\
         \x20 tables read:      {tables}\n\
         \x20 readable tables:  {}\n",
        organization.name,
        organization.unique_name,
        organization.version,
        report.user_id,
        report.business_unit_id,
        report.readable_tables.len(),
    );
    for resolution in report.tables.iter().filter_map(TableAccess::resolution) {
        text.push_str(&format!("note: {resolution}.\n"));
    }
    for warning in &report.warnings {
        text.push_str(&format!(
            "warning: {} ({})\n",
            warning.message, warning.kind
        ));
    }
    text
}

/// A failed check of the source `name`: the kind, the user's sentence, the fix and the
/// evidence.
pub(crate) fn problem(name: &str, problem: &Problem) -> String {
    let evidence = &problem.evidence;
    let mut text = format!(
        "Connection check failed for `{name}`: {}\n{}\nFix: {}\nEvidence:\n",
        problem.kind, problem.message, problem.fix
    );
    let mut line = |label: &str, value: &str| {
        text.push_str(&format!("  {:<12} {value}\n", format!("{label}:")));
    };
    line("step", step_label(evidence.step));
    line("request", &evidence.request);
    if let Some(status) = evidence.status {
        line("HTTP status", &status.to_string());
    }
    if let Some(code) = &evidence.code {
        line("code", code);
    }
    if let Some(detail) = &evidence.detail {
        line("detail", detail);
    }
    if let Some(seconds) = evidence.retry_after_seconds {
        line("retry after", &format!("{seconds} s"));
    }
    text
}

fn step_label(step: Step) -> &'static str {
    match step {
        Step::Token => "token request (Microsoft Entra ID)",
        Step::WhoAmI => "WhoAmI",
        Step::Organization => "RetrieveCurrentOrganization",
        Step::Privileges => "readable tables (RetrieveUserPrivileges, EntityDefinitions)",
        Step::TableRead => "table read",
    }
}

/// `heading`, every invalid field as `Label: message`, then the warnings.
pub(crate) fn form_errors(heading: &str, errors: &FormErrors) -> String {
    let mut text = format!("{heading}:\n");
    for error in &errors.errors {
        text.push_str(&format!("  {}: {}\n", error.field.label(), error.message));
    }
    text.push_str(&warnings(&errors.warnings));
    text
}

/// One `warning: Label: message` line per warning.
pub(crate) fn warnings(warnings: &[FieldWarning]) -> String {
    warnings
        .iter()
        .map(|warning| format!("warning: {}: {}\n", warning.field.label(), warning.message))
        .collect()
}

/// The source list as aligned columns with a header.
pub(crate) fn list_table(sources: &[StoredSource]) -> String {
    let header = [
        "NAME",
        "ENVIRONMENT",
        "TENANT",
        "CLIENT ID",
        "SECRET",
        "LAST CHECK",
        "CHECKED AT",
    ]
    .map(str::to_owned);
    let rows = sources.iter().map(|source| {
        let outcome = match &source.last_check {
            LastCheck::Passed(report) => match report.warnings.len() {
                0 => "passed".to_owned(),
                1 => "passed, 1 warning".to_owned(),
                count => format!("passed, {count} warnings"),
            },
            LastCheck::Failed { problem, .. } => format!("failed: {}", problem.kind),
        };
        [
            source.name.clone(),
            source.environment.to_string(),
            source.tenant.to_string(),
            source.client_id.to_string(),
            source.secret_hint.clone(),
            outcome,
            timestamp(source.last_check.checked_at()),
        ]
    });
    columns(std::iter::once(header).chain(rows).collect())
}

/// Rows as columns padded to their widest cell, two spaces apart, no trailing spaces.
fn columns<const N: usize>(rows: Vec<[String; N]>) -> String {
    let mut widths = [0; N];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// The source list as pretty JSON: one object per source, with the last check in full.
pub(crate) fn list_json(sources: &[StoredSource]) -> serde_json::Result<String> {
    let rows: Vec<SourceRow<'_>> = sources.iter().map(SourceRow::from).collect();
    serde_json::to_string_pretty(&rows)
}

/// A source as `source list --json` shows it.
#[derive(Debug, Serialize)]
struct SourceRow<'a> {
    name: &'a str,
    environment: &'a str,
    tenant: String,
    client_id: Uuid,
    tables: &'a [String],
    secret_hint: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    last_check: &'a LastCheck,
}

impl<'a> From<&'a StoredSource> for SourceRow<'a> {
    fn from(source: &'a StoredSource) -> SourceRow<'a> {
        SourceRow {
            name: &source.name,
            environment: source.environment.as_str(),
            tenant: source.tenant.to_string(),
            client_id: source.client_id,
            tables: &source.tables,
            secret_hint: &source.secret_hint,
            created_at: source.created_at,
            last_check: &source.last_check,
        }
    }
}

/// `2026-11-26T10:15:00Z`: UTC, whole seconds.
fn timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}
