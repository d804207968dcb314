//! The demo's HTML, rendered on the server with maud: templates are Rust macros, so a typo or
//! a wrong type fails the build and every interpolated value is HTML-escaped (askama would need
//! template files and a second syntax for the same checks). Every page works without
//! JavaScript: forms post, the server answers with the page (`js/progress.js` only shows the
//! check's steps as they happen). Nothing here receives a secret: [`FormView`] keeps every
//! field but the Client Secret, sources carry only their hint, the flow scrubbed the problems.

use axum::http::StatusCode;
use d365_source::{Field, FieldError, FieldWarning, LastCheck, Problem, SourceForm, StoredSource};
use maud::{DOCTYPE, Markup, html};
use time::OffsetDateTime;
use time::macros::format_description;

/// The Dynamics 365 form as it is shown again: what was typed (never the secret), its errors
/// and warnings, and the problem the check found.
#[derive(Debug, Default)]
pub(crate) struct FormView {
    name: String,
    environment_url: String,
    tenant_id: String,
    client_id: String,
    /// The form's field errors, in form order.
    pub(crate) errors: Vec<FieldError>,
    /// Warnings about accepted fields.
    pub(crate) warnings: Vec<FieldWarning>,
    /// What the connection check found.
    pub(crate) problem: Option<Problem>,
    /// The running tenant's values, shown beside an empty form.
    pub(crate) values: Option<TenantValues>,
    /// The check's steps as they ended (`runs.rs`).
    pub(crate) steps: Vec<super::runs::StepView>,
}

impl FormView {
    /// An empty form.
    pub(crate) fn empty() -> FormView {
        FormView::default()
    }

    /// The form as typed, the secret left out: a password field is never filled in again.
    pub(crate) fn of(form: &SourceForm) -> FormView {
        FormView {
            name: form.name.clone(),
            environment_url: form.environment_url.clone(),
            tenant_id: form.tenant_id.clone(),
            client_id: form.client_id.clone(),
            ..FormView::default()
        }
    }

    fn value(&self, field: Field) -> &str {
        match field {
            Field::Name => &self.name,
            Field::EnvironmentUrl => &self.environment_url,
            Field::TenantId => &self.tenant_id,
            Field::ClientId => &self.client_id,
            Field::ClientSecret => "",
        }
    }

    fn error(&self, field: Field) -> Option<&FieldError> {
        self.errors.iter().find(|error| error.field == field)
    }
}

/// The fields in form order, with the hint under each.
pub(super) const FIELDS: [(Field, &str); 5] = [
    (Field::Name, "How the source appears in your list."),
    (
        Field::EnvironmentUrl,
        "For example https://contoso.crm.dynamics.com (a link into the environment works too).",
    ),
    (
        Field::TenantId,
        "Directory (tenant) ID: a GUID, or a domain such as contoso.onmicrosoft.com.",
    ),
    (
        Field::ClientId,
        "Application (client) ID of the app registration.",
    ),
    (
        Field::ClientSecret,
        "The secret's Value, not its Secret ID: Entra shows the Value only once, when the secret is created.",
    ),
];

/// The app's sections, in the order of the top navigation: `(path, label)`.
pub(crate) const SECTIONS: &[(&str, &str)] = &[
    ("/sources", "Sources"),
    ("/console", "Tenant console"),
    ("/traffic", "Traffic"),
    ("/scenarios", "Scenarios"),
];

/// A page of the section at `section` (one of [`SECTIONS`]' paths) with no script.
fn layout(title: &str, body: Markup) -> Markup {
    page_layout(title, "/sources", &[], body)
}

/// A page: the skip link, the navigation (the current section marked for screen readers),
/// `body`, and `scripts` (paths of [`ASSETS`](super::app), loaded deferred: the page works
/// without them).
pub(crate) fn page_layout(title: &str, section: &str, scripts: &[&str], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · d365-harness demo" }
                link rel="stylesheet" href="/demo.css";
                link rel="icon" href="/favicon.svg" type="image/svg+xml";
                @for script in scripts {
                    script src=(script) defer {}
                }
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    span.brand { "d365-harness demo" }
                    nav aria-label="Main" {
                        @for &(path, label) in SECTIONS {
                            @if path == section {
                                a href=(path) aria-current="page" { (label) }
                            } @else {
                                a href=(path) { (label) }
                            }
                        }
                    }
                }
                main #main tabindex="-1" { (body) }
            }
        }
    }
}

/// The Sources page: the notice of the last action (with the steps of its check, if any), the
/// tiles and the list.
pub(crate) fn sources(
    list: &[StoredSource],
    notice: Option<&str>,
    steps: &[super::runs::StepView],
    csrf: &str,
) -> Markup {
    page_layout(
        "Sources",
        "/sources",
        &[super::runs::SCRIPT],
        html! {
            h1 { "Sources" }
            @if let Some(notice) = notice {
                p.notice #notice role="status" data-test="notice" { (notice) }
            }
            (super::runs::step_list(steps))
            section aria-labelledby="add-heading" {
                h2 #add-heading { "Add a source" }
                ul.tiles {
                    li {
                        a.tile href="/sources/dynamics365" {
                            span.tile-name { "Microsoft Dynamics 365" }
                            span.tile-text { "Dataverse tables, with an app registration and its client secret" }
                        }
                    }
                }
            }
            section aria-labelledby="list-heading" {
                h2 #list-heading { "Your sources" }
                @if list.is_empty() {
                    p { "No sources yet. Choose Microsoft Dynamics 365 above to add one." }
                } @else {
                    table.sources #sources-list data-test="sources-list" {
                        thead {
                            tr {
                                th scope="col" { "Name" }
                                th scope="col" { "Environment" }
                                th scope="col" { "Tenant" }
                                th scope="col" { "Client secret" }
                                th scope="col" { "Last check" }
                                th scope="col" { span.visually-hidden { "Actions" } }
                            }
                        }
                        tbody {
                            @for source in list {
                                (source_row(source, csrf))
                            }
                        }
                    }
                }
            }
            section aria-labelledby="reset-heading" {
                h2 #reset-heading { "Start over" }
                form method="post" action="/reset" {
                    input type="hidden" name="csrf" value=(csrf);
                    p { "Puts the tenant back as it was loaded, at start or by the last scenario loaded (every change, fault and clock move undone), empties this list and ends the scenario being played." }
                    button.secondary type="submit" { "Reset the demo" }
                }
            }
        },
    )
}

fn source_row(source: &StoredSource, csrf: &str) -> Markup {
    html! {
        tr data-test="source-row" data-source=(source.name) {
            th scope="row" data-test="source-name" { (source.name) }
            td { (source.environment.as_str()) }
            td { (source.tenant) }
            td { code data-test="secret-hint" { (source.secret_hint) } }
            td data-test="last-check" { (last_check(&source.last_check)) }
            td.actions {
                form method="post" action="/sources/test" data-run="/runs/test" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="name" value=(source.name);
                    button type="submit" data-test="test-source" aria-label={ "Test " (source.name) } { "Test" }
                }
                a.button href={ "/sources/rotate?" (super::app::query("name", &source.name)) }
                    data-test="rotate-source" aria-label={ "Rotate the secret of " (source.name) } { "Rotate secret" }
                form method="post" action="/sources/remove" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="name" value=(source.name);
                    button.secondary type="submit" data-test="remove-source" aria-label={ "Remove " (source.name) } { "Remove" }
                }
            }
        }
        // A failed check's problem spans the row below its source: in a cell it would squeeze
        // the table past the window.
        @if let LastCheck::Failed { problem, .. } = &source.last_check {
            tr.problem-row {
                td colspan="6" { (problem_block(problem, false)) }
            }
        }
    }
}

fn last_check(check: &LastCheck) -> Markup {
    html! {
        @match check {
            LastCheck::Passed(report) => {
                span.passed data-test="last-check-status" { "Passed" } " "
                time datetime=(rfc3339(report.checked_at)) data-test="last-check-time" { (time_text(report.checked_at)) }
                @if !report.warnings.is_empty() {
                    ul.warnings data-test="last-check-warnings" {
                        @for warning in &report.warnings {
                            li data-test="last-check-warning" { (warning.message) }
                        }
                    }
                }
            }
            LastCheck::Failed { checked_at, problem } => {
                span.failed data-test="last-check-status" { "Failed" } " "
                time datetime=(rfc3339(*checked_at)) data-test="last-check-time" { (time_text(*checked_at)) }
                " (" (problem.kind.as_str()) ", below)"
            }
        }
    }
}

/// `at` for a `datetime` attribute.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn time_text(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
    ))
    .unwrap_or_else(|_| at.to_string())
}

/// A problem: its message, the admin's fix and the evidence, collapsed.
pub(super) fn problem_block(problem: &Problem, alert: bool) -> Markup {
    let evidence = &problem.evidence;
    html! {
        div.problem role=[alert.then_some("alert")] data-test="problem" data-problem=(problem.kind.as_str()) {
            p.problem-message data-test="problem-message" { (problem.message) }
            p.problem-fix data-test="problem-fix" { strong { "Fix: " } (problem.fix) }
            details {
                summary { "Evidence (" (problem.kind.as_str()) ")" }
                dl {
                    dt { "Step" } dd { (format!("{:?}", evidence.step)) }
                    dt { "Request" } dd { code { (evidence.request) } }
                    @if let Some(status) = evidence.status { dt { "Status" } dd { (status) } }
                    @if let Some(code) = &evidence.code { dt { "Code" } dd { code { (code) } } }
                    @if let Some(detail) = &evidence.detail { dt { "Detail" } dd { (detail) } }
                    @if evidence.retries > 0 {
                        dt { "Retries" } dd { (evidence.retries) " (waited " (evidence.waited_ms) " ms)" }
                    }
                }
            }
        }
    }
}

/// What an admin would hand the user for the form, from the running world: every value but
/// the secret, and where the secret's Value is (the state folder's `connection.env`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TenantValues {
    /// The first environment of the app's tenant, when it has one.
    pub(crate) environment_url: Option<String>,
    /// The app's home tenant ID.
    pub(crate) tenant_id: String,
    /// The app's client ID.
    pub(crate) client_id: String,
    /// `connection.env`'s path, when the demo wrote one.
    pub(crate) connection_env: Option<String>,
}

impl TenantValues {
    /// The values of the first enabled app of `world` with a secret valid `now`; `None` when
    /// there is none (then nothing could be added anyway).
    pub(crate) fn of(
        world: &scenario::World,
        now: OffsetDateTime,
        connection_env: Option<&std::path::Path>,
    ) -> Option<TenantValues> {
        let credentials = world.client_credentials(now).ok()?;
        Some(TenantValues {
            environment_url: world
                .first_environment_of(&credentials.tenant.key)
                .map(|environment| environment.url.clone()),
            tenant_id: credentials.tenant.id.to_string(),
            client_id: credentials.app.client_id.to_string(),
            connection_env: connection_env.map(|path| path.display().to_string()),
        })
    }
}

fn tenant_values(values: &TenantValues) -> Markup {
    html! {
        aside.tenant-values #tenant-values data-test="tenant-values" aria-labelledby="values-heading" {
            h2 #values-heading { "This demo's tenant" }
            p { "What the admin who registered the app would hand you:" }
            dl.facts {
                @if let Some(url) = &values.environment_url {
                    dt { "Environment URL" }
                    dd { code data-test="value-environment_url" { (url) } }
                }
                dt { "Tenant ID" }
                dd { code data-test="value-tenant_id" { (values.tenant_id) } }
                dt { "Client ID" }
                dd { code data-test="value-client_id" { (values.client_id) } }
                dt { "Client Secret" }
                dd {
                    "The Value of " code { "D365_CLIENT_SECRET" } " in "
                    @if let Some(path) = &values.connection_env {
                        code data-test="value-connection_env" { (path) }
                    } @else {
                        "connection.env in the state folder"
                    }
                    " (a secret is never shown on a page)."
                }
            }
        }
    }
}

/// The Microsoft Dynamics 365 form, with its errors next to their fields (focus on the first)
/// and, after a failed check, the problem above it.
pub(crate) fn dynamics_form(view: &FormView, csrf: &str) -> Markup {
    let first_error = view.errors.first().map(|error| error.field);
    page_layout(
        "Microsoft Dynamics 365",
        "/sources",
        &[super::runs::SCRIPT],
        html! {
            p { a href="/sources" { "← Sources" } }
            h1 { "Microsoft Dynamics 365" }
            p.lead { "Connect a Dataverse environment with an app registration's client secret." }
            @if let Some(values) = &view.values {
                (tenant_values(values))
            }
            @if let Some(problem) = &view.problem {
                h2 #problem-heading { "The connection check failed" }
                (problem_block(problem, true))
            }
            @if !view.errors.is_empty() {
                div.error-summary #error-summary role="alert" data-test="error-summary" {
                    h2 { "The form has errors" }
                    ul {
                        @for error in &view.errors {
                            li { a href={ "#" (error.field.as_str()) } { (error.field.label()) ": " (error.message) } }
                        }
                    }
                }
            }
            (super::runs::step_list(&view.steps))
            form.source-form #source-form method="post" action="/sources/dynamics365" data-run="/runs/add" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                @for (field, hint) in FIELDS {
                    (form_field(view, field, hint, first_error == Some(field)))
                }
                button #add-source type="submit" { "Add Source" }
            }
        },
    )
}

pub(super) fn form_field(view: &FormView, field: Field, hint: &str, focus: bool) -> Markup {
    let id = field.as_str();
    let error = view.error(field);
    let warnings: Vec<&FieldWarning> = view
        .warnings
        .iter()
        .filter(|warning| warning.field == field)
        .collect();
    let mut described = format!("{id}-hint");
    if error.is_some() {
        described.push_str(&format!(" {id}-error"));
    }
    let secret = field == Field::ClientSecret;
    html! {
        div.field.invalid[error.is_some()] {
            label for=(id) { (field.label()) }
            p.hint id={ (id) "-hint" } { (hint) }
            @if let Some(error) = error {
                p.field-error id={ (id) "-error" } data-test="field-error" { (error.message) }
            }
            @for warning in &warnings {
                p.field-warning data-test="field-warning" { (warning.message) }
            }
            @if secret {
                input id=(id) name=(id) type="password" autocomplete="off" spellcheck="false"
                    aria-describedby=(described) aria-invalid=[error.is_some().then_some("true")]
                    autofocus[focus];
            } @else {
                input id=(id) name=(id) type="text" value=(view.value(field)) spellcheck="false"
                    aria-describedby=(described) aria-invalid=[error.is_some().then_some("true")]
                    autofocus[focus];
            }
        }
    }
}

/// An error page.
pub(crate) fn error(status: StatusCode, message: &str) -> Markup {
    layout(
        status.canonical_reason().unwrap_or("Error"),
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("Error")) }
            p role="alert" { (message) }
            p { a href="/sources" { "Back to Sources" } }
        },
    )
}
