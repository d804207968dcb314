//! The console's HTML: the world as the Entra and Power Platform admin centres show it, each
//! change-vocabulary kind a small form beside the thing it changes ([`Forms::form`]: every form
//! posts to `/console/change`, or `/console/fault` for the fault presets). Invariant: a secret
//! shows its name, id, hint (three characters) and expiry, never its value.

use std::collections::BTreeSet;

use fake_core::FaultRule;
use fake_dataverse::{Depth, TableData, TeamKind};
use maud::{Markup, html};
use scenario::{App, Environment, World, WorldDocument};
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

use super::presets::{PRESETS, Preset};
use crate::demo::pages;

/// What the console shows: the committed world, read once per page.
pub(super) struct Snapshot {
    /// What `GET /console/version` answers for this world (the script compares them).
    pub(super) version: String,
    /// The world.
    pub(super) world: World,
    /// Its document (which roles and tables the file itself defines).
    pub(super) document: WorldDocument,
    /// The world's clock.
    pub(super) now: OffsetDateTime,
    /// How far the clock has been moved from the system time, in seconds.
    pub(super) offset_seconds: i64,
    /// The listener's fault rules.
    pub(super) faults: Vec<FaultRule>,
}

/// What the last action did: a notice, or the admin API's error next to the form that posted.
#[derive(Debug, Default)]
pub(super) struct Outcome {
    /// The sentence for the live region after a change applied.
    pub(super) notice: Option<String>,
    /// The form that posted (its id) and why its change was not applied.
    pub(super) error: Option<(String, String)>,
}

impl Outcome {
    /// The text the live region announces.
    pub(super) fn announcement(&self) -> Option<String> {
        match (&self.notice, &self.error) {
            (_, Some((_, error))) => Some(format!("Not applied: {error}")),
            (Some(notice), None) => Some(notice.clone()),
            (None, None) => None,
        }
    }
}

/// The whole page: title, the live region (outside `#console`, so that it survives the
/// fragment swaps and is announced), and the console.
pub(super) fn page(snapshot: &Snapshot, csrf: &str, outcome: &Outcome) -> Markup {
    let announcement = outcome.announcement();
    pages::page_layout(
        "Tenant console",
        "/console",
        &["/js/console.js"],
        html! {
            h1 { "Tenant console" }
            p.lead { "The running tenant as its admin centres show it. Every button changes it at once, through the harness's admin API; the Sources page's Test sees the change." }
            p #console-notice .console-notice.error[outcome.error.is_some()]
                role="status" aria-live="polite" aria-atomic="true" tabindex="-1"
                data-test="console-notice" {
                @if let Some(text) = &announcement { (text) }
            }
            div #console data-test="console" { (fragment(snapshot, csrf, outcome)) }
        },
    )
}

/// The part of the page that changes: what `GET /console/fragment` and the script's posts
/// answer. Its hidden `#console-result` carries the announcement for the script.
pub(super) fn fragment(snapshot: &Snapshot, csrf: &str, outcome: &Outcome) -> Markup {
    let forms = Forms { csrf, outcome };
    let announcement = outcome.announcement();
    html! {
        div #console-result hidden data-version=(snapshot.version)
            data-outcome=(if outcome.error.is_some() { "refused" } else { "applied" }) {
            @if let Some(text) = &announcement { (text) }
        }
        nav.console-toc aria-label="Console sections" {
            a href="#clock-faults" { "Clock and faults" }
            a href="#entra" { "Microsoft Entra" }
            a href="#power-platform" { "Power Platform" }
            @for environment in snapshot.world.environments() {
                a.sub href={ "#environment-" (environment.key) } { (environment.key) }
            }
        }
        (clock_and_faults(snapshot, &forms))
        (entra(&snapshot.world, snapshot.now, &forms))
        (power_platform(snapshot, &forms))
    }
}

/// The forms' shared parts: the CSRF token and where the last error goes.
struct Forms<'a> {
    csrf: &'a str,
    outcome: &'a Outcome,
}

/// The hidden fields that name what a form changes, in a fixed order.
const NAMING_FIELDS: [&str; 11] = [
    "tenant",
    "app",
    "environment",
    "team",
    "role",
    "secret",
    "certificate",
    "api",
    "scope",
    "privilege",
    "table",
];

impl Forms<'_> {
    /// A form that applies one change of `kind`, naming its thing with `hidden` fields, with
    /// `body` (its inputs and button). The form carries `data-change` and a `data-<field>` for
    /// each naming field (the browser tests' hooks); its id is made of the same, so the
    /// admin API's error comes back next to it.
    fn form(&self, kind: &str, hidden: &[(&str, &str)], body: Markup) -> Markup {
        self.form_to("/console/change", "change", kind, hidden, body)
    }

    fn form_to(
        &self,
        action: &str,
        what: &str,
        kind: &str,
        hidden: &[(&str, &str)],
        body: Markup,
    ) -> Markup {
        let id = form_id(kind, hidden);
        let error = self
            .outcome
            .error
            .as_ref()
            .filter(|(form, _)| *form == id)
            .map(|(_, message)| message);
        let get = |name: &str| {
            hidden
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value)
        };
        html! {
            form.change method="post" action=(action) id=(id) data-change=(kind)
                data-tenant=[get("tenant")] data-app=[get("app")] data-environment=[get("environment")]
                data-team=[get("team")] data-role=[get("role")] data-secret=[get("secret")]
                data-certificate=[get("certificate")] data-api=[get("api")] data-scope=[get("scope")]
                data-privilege=[get("privilege")] data-table=[get("table")] data-on=[get("on")]
                data-preset=[get("preset")] data-duration=[get("duration")] {
                input type="hidden" name="csrf" value=(self.csrf);
                input type="hidden" name="form" value=(id);
                input type="hidden" name=(what) value=(kind);
                @for (name, value) in hidden {
                    input type="hidden" name=(name) value=(value);
                }
                (body)
                @if let Some(message) = error {
                    p.change-error role="alert" id={ (id) "-error" } data-test="change-error" { (message) }
                }
            }
        }
    }

    /// A form that is one button: `label` shows, `accessible` (which starts with or holds
    /// `label`, so that voice control finds the button by what it shows) names the thing too.
    fn button(
        &self,
        kind: &str,
        hidden: &[(&str, &str)],
        label: &str,
        accessible: &str,
        danger: bool,
    ) -> Markup {
        self.form(
            kind,
            hidden,
            html! {
                button.small.danger[danger] type="submit" aria-label=(accessible) { (label) }
            },
        )
    }
}

/// `kind--value--value`, lower case, every other character a `-`: stable for the browser tests.
pub(super) fn form_id(kind: &str, hidden: &[(&str, &str)]) -> String {
    let mut id = kind.to_owned();
    for (name, value) in hidden {
        if NAMING_FIELDS.contains(name) || matches!(*name, "on" | "preset" | "duration") {
            id.push_str("--");
            id.push_str(value);
        }
    }
    id.chars()
        .map(|character| match character {
            'a'..='z' | '0'..='9' | '_' | '-' => character,
            'A'..='Z' => character.to_ascii_lowercase(),
            _ => '-',
        })
        .collect()
}

/// `2026-12-04 16:50 UTC`.
pub(super) fn time_text(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day] [hour]:[minute] UTC"
    ))
    .unwrap_or_else(|_| at.to_string())
}

/// What Entra shows of a secret's value: its first three characters (`hint`), or nothing for
/// a short one.
fn secret_hint(value: &str) -> String {
    const MASK: &str = "*****";
    if value.chars().count() < 8 {
        return MASK.to_owned();
    }
    let mut hint: String = value.chars().take(3).collect();
    hint.push_str(MASK);
    hint
}

/// A certificate's SHA-1 thumbprint as the portal shows it (upper-case hex).
fn thumbprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}

fn on_off(on: bool) -> Markup {
    html! {
        @if on { span.state.on { "On" } } @else { span.state.off { "Off" } }
    }
}

fn enabled_text(enabled: bool) -> Markup {
    html! {
        @if enabled { span.state.on { "Enabled" } } @else { span.state.off { "Disabled" } }
    }
}

fn clock_and_faults(snapshot: &Snapshot, forms: &Forms<'_>) -> Markup {
    let moved = snapshot.offset_seconds;
    html! {
        section #clock-faults .console-section aria-labelledby="clock-faults-heading" {
            h2 #clock-faults-heading { "Clock and faults" }
            div.card-grid {
                div.card {
                    h3 { "World clock" }
                    p.big data-test="clock-now" { (time_text(snapshot.now)) }
                    @if moved != 0 {
                        p.muted { "Moved " (duration_text(moved)) " ahead of real time." }
                    }
                    div.row {
                        @for (duration, label) in [("1h", "+1 hour"), ("1d", "+1 day"), ("180d", "+180 days")] {
                            (forms.button("advance_clock", &[("duration", duration)], label,
                                &format!("Move the clock {label}"), false))
                        }
                    }
                    (forms.form("advance_clock", &[], html! {
                        label for="advance-duration" { "Move forward by" }
                        div.row {
                            input #advance-duration name="duration" type="text" placeholder="1h30m" size="8" required;
                            button.small type="submit" { "Move the clock" }
                        }
                    }))
                }
                div.card {
                    h3 { "Fault presets" }
                    ul.plain {
                        @for preset in PRESETS {
                            li { (preset_form(forms, preset)) }
                        }
                    }
                    details {
                        summary { "Another fault rule (JSON)" }
                        (forms.form("add_fault", &[], html! {
                            label for="fault-json" { "Fault rule, in fake-core's FaultRule shape" }
                            textarea #fault-json name="fault" rows="4" spellcheck="false"
                                placeholder=r#"{"service": "entra", "times": 1, "action": {"kind": "respond", "status": 503}}"# {}
                            button.small type="submit" { "Add the rule" }
                        }))
                    }
                }
                div.card {
                    h3 { "Active fault rules" }
                    @if snapshot.faults.is_empty() {
                        p.muted data-test="no-faults" { "None: every request reaches the fakes." }
                    } @else {
                        ol.faults data-test="fault-rules" {
                            @for rule in &snapshot.faults {
                                li { (fault_text(rule)) }
                            }
                        }
                        (forms.button("clear_faults", &[], "Clear all fault rules", "Clear all fault rules", true))
                    }
                }
            }
        }
    }
}

fn preset_form(forms: &Forms<'_>, preset: &Preset) -> Markup {
    forms.form_to(
        "/console/fault",
        "preset",
        preset.id,
        &[],
        html! {
            @if preset.counted {
                label.inline for={ "preset-" (preset.id) "-count" } { (preset.before) }
                input.count id={ "preset-" (preset.id) "-count" } name="count" type="number" min="1" max="1000" value="3";
                span { (preset.after) " " }
            } @else {
                span { (preset.before) " " }
            }
            button.small type="submit" { "Add" }
        },
    )
}

/// `90061` → `1d 1h 1m`.
fn duration_text(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let mut left = seconds.unsigned_abs();
    let mut parts = Vec::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if left >= size {
            parts.push(format!("{}{unit}", left / size));
            left %= size;
        }
    }
    if parts.is_empty() {
        parts.push("0s".to_owned());
    }
    format!("{sign}{}", parts.join(" "))
}

/// A fault rule in words: which requests, how many, what happens.
fn fault_text(rule: &FaultRule) -> String {
    let mut text = rule
        .name
        .clone()
        .unwrap_or_else(|| "unnamed rule".to_owned());
    text.push_str(": ");
    let mut which = Vec::new();
    if let Some(service) = &rule.service {
        which.push(service.clone());
    }
    if let Some(method) = &rule.method {
        which.push(method.to_ascii_uppercase());
    }
    if let Some(host) = &rule.host {
        which.push(host.clone());
    }
    if let Some(path) = &rule.path {
        which.push(path.clone());
    }
    if which.is_empty() {
        which.push("every service".to_owned());
    }
    text.push_str(&which.join(" "));
    if let Some(nth) = rule.nth {
        text.push_str(&format!(", request #{nth} only"));
    }
    if let Some(from) = rule.from {
        text.push_str(&format!(", from request #{from} on"));
    }
    if let Some(times) = rule.times {
        text.push_str(&format!(", at most {times} times"));
    }
    let action = match &rule.action {
        fake_core::FaultAction::Respond { status, .. } => format!("answers HTTP {status}"),
        fake_core::FaultAction::Delay { millis } => format!("waits {millis} ms"),
        fake_core::FaultAction::CloseConnection => "closes the connection".to_owned(),
        fake_core::FaultAction::ResetStream | fake_core::FaultAction::Close => {
            "resets the request".to_owned()
        }
    };
    text.push_str(" → ");
    text.push_str(&action);
    text
}

fn entra(world: &World, now: OffsetDateTime, forms: &Forms<'_>) -> Markup {
    html! {
        section #entra .console-section aria-labelledby="entra-heading" {
            h2 #entra-heading { "Microsoft Entra admin center" }
            h3 { "Tenants" }
            div.table-wrap {
                table.console-table data-test="tenants" {
                    thead { tr {
                        th scope="col" { "Tenant" }
                        th scope="col" { "Tenant ID and domains" }
                        th scope="col" { "Dynamics CRM" }
                        th scope="col" { "Enterprise applications (service principals)" }
                    } }
                    tbody {
                        @for tenant in world.tenants() {
                            tr data-test="tenant" data-tenant=(tenant.key) {
                                th scope="row" { (tenant.display_name) br; span.key { (tenant.key) } }
                                td { code { (tenant.id) } br; span.muted { (tenant.domains.join(", ")) } }
                                td {
                                    @if tenant.dynamics {
                                        (enabled_text(tenant.dynamics_enabled)) " "
                                        @if tenant.dynamics_enabled {
                                            (forms.button("disable_dynamics", &[("tenant", &tenant.key)], "Disable",
                                                &format!("Disable Dynamics CRM in {}", tenant.display_name), true))
                                        } @else {
                                            (forms.button("enable_dynamics", &[("tenant", &tenant.key)], "Enable",
                                                &format!("Enable Dynamics CRM in {}", tenant.display_name), false))
                                        }
                                    } @else {
                                        span.muted { "Not in this tenant" }
                                    }
                                }
                                td { (tenant_principals(world, &tenant.key, forms)) }
                            }
                        }
                    }
                }
            }
            h3 { "App registrations" }
            @for app in world.apps() {
                (app_card(world, app, now, forms))
            }
        }
    }
}

/// The apps with a service principal in the tenant `tenant`, each with its remove or add
/// button, and an install button for multi-tenant apps that are not there.
fn tenant_principals(world: &World, tenant: &str, forms: &Forms<'_>) -> Markup {
    html! {
        ul.plain {
            @for app in world.apps() {
                @let listed = app.service_principals.iter().find(|principal| principal.tenant == tenant);
                @let home = app.home_tenant == tenant;
                @if home {
                    li {
                        (app.display_name) " " span.muted { "(home)" } " "
                        (enabled_text(app.enabled && listed.is_none_or(|principal| principal.enabled)))
                    }
                } @else if let Some(principal) = listed {
                    li {
                        (app.display_name) " "
                        @if principal.removed {
                            span.state.off { "Removed" } " "
                            (forms.button("add_service_principal", &[("app", &app.key), ("tenant", tenant)], "Add back",
                                &format!("Add back {} to this tenant", app.display_name), false))
                        } @else {
                            (enabled_text(app.enabled && principal.enabled)) " "
                            (forms.button("remove_service_principal", &[("app", &app.key), ("tenant", tenant)], "Remove",
                                &format!("Remove {} from this tenant", app.display_name), true))
                        }
                    }
                } @else if app.multi_tenant {
                    li {
                        span.muted { (app.display_name) " not installed" } " "
                        (forms.button("add_service_principal", &[("app", &app.key), ("tenant", tenant)], "Install",
                            &format!("Install {} in this tenant", app.display_name), false))
                    }
                }
            }
        }
    }
}

fn app_card(world: &World, app: &App, now: OffsetDateTime, forms: &Forms<'_>) -> Markup {
    let key = app.key.as_str();
    let home = world
        .tenant(&app.home_tenant)
        .map_or(app.home_tenant.as_str(), |tenant| {
            tenant.display_name.as_str()
        });
    html! {
        article.card.app data-test="app" data-app=(key) aria-labelledby={ "app-" (key) } {
            div.card-head {
                h4 id={ "app-" (key) } { (app.display_name) " " span.key { (key) } }
                (enabled_text(app.enabled))
                @if app.enabled {
                    (forms.button("disable_app", &[("app", key)], "Disable", &format!("Disable {}", app.display_name), true))
                } @else {
                    (forms.button("enable_app", &[("app", key)], "Enable", &format!("Enable {}", app.display_name), false))
                }
            }
            dl.facts {
                dt { "Application (client) ID" } dd { code { (app.client_id) } }
                dt { "Home tenant" } dd { (home) }
                dt { "Supported accounts" } dd { @if app.multi_tenant { "Multiple organizations" } @else { "This organization only" } }
            }
            h5 { "Client secrets" }
            @if app.secrets.is_empty() {
                p.muted { "No client secrets." }
            } @else {
                div.table-wrap {
                    table.console-table data-test="secrets" {
                        thead { tr {
                            th scope="col" { "Description" }
                            th scope="col" { "Value" }
                            th scope="col" { "Secret ID" }
                            th scope="col" { "Expires" }
                            th scope="col" { span.visually-hidden { "Actions" } }
                        } }
                        tbody {
                            @for secret in &app.secrets {
                                @let valid = secret.is_valid_at(now);
                                tr data-test="secret" data-secret=(secret.name) .expired[!valid] {
                                    th scope="row" { (secret.name) }
                                    td { code { (secret_hint(secret.value.expose())) } }
                                    td { @if let Some(id) = secret.id { code { (id) } } @else { span.muted { "—" } } }
                                    td {
                                        (time_text(secret.expires))
                                        @if !valid { " " span.state.off data-test="expired" { "Expired" } }
                                    }
                                    td.actions {
                                        @if valid {
                                            (forms.button("expire_secret", &[("app", key), ("secret", &secret.name)], "Expire now",
                                                &format!("Expire now: secret {}", secret.name), true))
                                        }
                                        (forms.button("remove_secret", &[("app", key), ("secret", &secret.name)], "Delete",
                                            &format!("Delete secret {}", secret.name), true))
                                    }
                                }
                            }
                        }
                    }
                }
            }
            details.add {
                summary { "New client secret" }
                (forms.form("add_secret", &[("app", key)], html! {
                    div.fields {
                        div { label for={ "secret-name-" (key) } { "Description" }
                              input id={ "secret-name-" (key) } name="secret" type="text" required; }
                        div { label for={ "secret-expires-" (key) } { "Expires (UTC, optional: 180 days)" }
                              input id={ "secret-expires-" (key) } name="expires" type="datetime-local"; }
                        div { label for={ "secret-value-" (key) } { "Value (optional: one is generated)" }
                              input id={ "secret-value-" (key) } name="value" type="password" autocomplete="off"; }
                    }
                    p.muted { "The console never shows a secret's value; type one here to know it." }
                    button.small type="submit" { "Add" }
                }))
            }
            h5 { "Certificates" }
            @if app.certificates.is_empty() {
                p.muted { "No certificates." }
            } @else {
                ul.plain data-test="certificates" {
                    @for certificate in &app.certificates {
                        li data-test="certificate" data-certificate=(certificate.name) {
                            strong { (certificate.name) } " " span.muted { "thumbprint " } code { (thumbprint(&certificate.der)) }
                            @if let Some(end) = certificate.end { " " span.muted { "until " (time_text(end)) } }
                            " "
                            (forms.button("remove_certificate", &[("app", key), ("certificate", &certificate.name)], "Remove",
                                &format!("Remove certificate {}", certificate.name), true))
                        }
                    }
                }
            }
            details.add {
                summary { "Upload certificate" }
                (forms.form("add_certificate", &[("app", key)], html! {
                    label for={ "certificate-name-" (key) } { "Name" }
                    input id={ "certificate-name-" (key) } name="certificate" type="text" required;
                    label for={ "certificate-pem-" (key) } { "Certificate (PEM; a private key in it is dropped)" }
                    textarea id={ "certificate-pem-" (key) } name="pem" rows="4" spellcheck="false" required {}
                    button.small type="submit" { "Add" }
                }))
            }
            h5 { "API permissions" }
            @if app.permissions.is_empty() {
                p.muted { "No API permissions requested." }
            } @else {
                ul.plain data-test="permissions" {
                    @for permission in &app.permissions {
                        li data-test="permission" {
                            (permission.api) " · " code { (permission.scope) } " "
                            span.muted { (format!("({:?})", permission.kind).to_lowercase()) } " "
                            @if permission.admin_consent {
                                span.state.on { "Admin consent granted" } " "
                                (forms.button("revoke_consent", &[("app", key), ("api", &permission.api), ("scope", &permission.scope)],
                                    "Revoke", &format!("Revoke admin consent to {}", permission.scope), true))
                            } @else {
                                span.state.off { "Not granted" } " "
                                (forms.button("grant_consent", &[("app", key), ("api", &permission.api), ("scope", &permission.scope)],
                                    "Grant admin consent", &format!("Grant admin consent to {}", permission.scope), false))
                            }
                        }
                    }
                }
            }
        }
    }
}

fn power_platform(snapshot: &Snapshot, forms: &Forms<'_>) -> Markup {
    html! {
        section #power-platform .console-section aria-labelledby="power-platform-heading" {
            h2 #power-platform-heading { "Power Platform admin center" }
            @if snapshot.world.environments().is_empty() {
                p.muted { "This world has no Dataverse environments." }
            }
            @for environment in snapshot.world.environments() {
                (environment_card(snapshot, environment, forms))
            }
        }
    }
}

/// A document table under `environments.<key>.<section>`: its keys (what the file itself
/// defines, as opposed to what validation added).
fn document_keys(document: &WorldDocument, environment: &str, section: &str) -> Vec<String> {
    document
        .table()
        .get("environments")
        .and_then(|environments| environments.get(environment))
        .and_then(|environment| environment.get(section))
        .and_then(|section| section.as_table())
        .map(|table| table.keys().cloned().collect())
        .unwrap_or_default()
}

/// Names of things in one environment.
struct Names<'a> {
    world: &'a World,
    environment: &'a Environment,
}

impl Names<'_> {
    fn role(&self, id: Uuid) -> &str {
        self.environment
            .roles
            .iter()
            .find(|role| role.id == id)
            .map_or("(unknown role)", |role| role.name.as_str())
    }

    fn business_unit(&self, id: Uuid) -> &str {
        self.environment
            .business_units
            .iter()
            .find(|unit| unit.id == id)
            .map_or("(unknown business unit)", |unit| unit.name.as_str())
    }

    /// The app whose application user has `systemuserid` `id`.
    fn app_of_user(&self, id: Uuid) -> Option<&App> {
        let user = self
            .environment
            .application_users
            .iter()
            .find(|user| user.id == id)?;
        self.world
            .apps()
            .iter()
            .find(|app| app.client_id == user.application_id)
    }
}

fn environment_card(snapshot: &Snapshot, environment: &Environment, forms: &Forms<'_>) -> Markup {
    let key = environment.key.as_str();
    let names = Names {
        world: &snapshot.world,
        environment,
    };
    let tenant = snapshot
        .world
        .tenant(&environment.tenant)
        .map_or(environment.tenant.as_str(), |tenant| {
            tenant.display_name.as_str()
        });
    let defined_roles = document_keys(&snapshot.document, key, "roles");
    let listed_tables = document_keys(&snapshot.document, key, "tables");
    // What a role can be given: the roles this environment defines, then the predefined ones.
    let mut assignable: Vec<String> = defined_roles.clone();
    for template in fake_dataverse::predefined_roles() {
        if !assignable.contains(&template.name) {
            assignable.push(template.name);
        }
    }
    html! {
        article.card.environment data-test="environment" data-environment=(key) aria-labelledby={ "environment-" (key) } {
            div.card-head {
                h3 id={ "environment-" (key) } { (environment.friendly_name) " " span.key { (key) } }
            }
            dl.facts {
                dt { "Environment URL" } dd { code { (environment.url) } }
                dt { "Tenant" } dd { (tenant) }
                dt { "Administration mode" }
                dd data-test="admin-mode" {
                    (on_off(environment.admin_mode)) " "
                    @if environment.admin_mode {
                        (forms.button("admin_mode", &[("environment", key), ("on", "false")], "Turn off",
                            "Turn off administration mode", false))
                    } @else {
                        (forms.button("admin_mode", &[("environment", key), ("on", "true")], "Turn on",
                            "Turn on administration mode", true))
                    }
                }
            }
            h4 { "Application users" }
            (application_users(&names, &assignable, forms))
            h4 { "Security roles" }
            (security_roles(&names, &defined_roles, forms))
            @if !environment.teams.is_empty() {
                h4 { "Teams" }
                (teams(&names, &assignable, forms))
            }
            h4 { "Business units" }
            ul.plain data-test="business-units" {
                @for unit in &environment.business_units {
                    li {
                        (unit.name)
                        @match unit.parent {
                            Some(parent) => { " " span.muted { "(in " (names.business_unit(parent)) ")" } }
                            None => { " " span.muted { "(root)" } }
                        }
                    }
                }
            }
            h4 { "Tables" }
            (tables(environment, &listed_tables, forms))
            h4 { "Service protection limits" }
            (limits(environment, forms))
        }
    }
}

fn application_users(names: &Names<'_>, assignable: &[String], forms: &Forms<'_>) -> Markup {
    let environment = names.environment;
    let key = environment.key.as_str();
    let without_user: Vec<&App> = names
        .world
        .apps()
        .iter()
        .filter(|app| environment.application_user(app.client_id).is_none())
        .collect();
    html! {
        @if environment.application_users.is_empty() {
            p.muted data-test="no-application-users" { "No application users." }
        } @else {
            div.table-wrap {
                table.console-table data-test="application-users" {
                    thead { tr {
                        th scope="col" { "Application user" }
                        th scope="col" { "Status" }
                        th scope="col" { "Business unit" }
                        th scope="col" { "Security roles" }
                        th scope="col" { "Teams" }
                        th scope="col" { span.visually-hidden { "Actions" } }
                    } }
                    tbody {
                        @for user in &environment.application_users {
                            @let app = names.world.apps().iter().find(|app| app.client_id == user.application_id);
                            @if let Some(app) = app {
                                @let app_key = app.key.as_str();
                                @let held: Vec<&str> = user.roles.iter().map(|id| names.role(*id)).collect();
                                tr data-test="application-user" data-app=(app_key) {
                                    th scope="row" { (app.display_name) br; span.key { (app_key) } }
                                    td {
                                        (enabled_text(user.enabled)) " "
                                        @if user.enabled {
                                            (forms.button("disable_application_user", &[("environment", key), ("app", app_key)], "Disable",
                                                &format!("Disable the application user of {}", app.display_name), true))
                                        } @else {
                                            (forms.button("enable_application_user", &[("environment", key), ("app", app_key)], "Enable",
                                                &format!("Enable the application user of {}", app.display_name), false))
                                        }
                                    }
                                    td { (names.business_unit(user.business_unit)) }
                                    td {
                                        @if held.is_empty() { p.muted.state-none data-test="no-roles" { "No roles" } }
                                        ul.plain {
                                            @for role in &held {
                                                li data-test="held-role" data-role=(role) {
                                                    (role) " "
                                                    (forms.button("remove_role", &[("environment", key), ("app", app_key), ("role", role)], "Remove",
                                                        &format!("Remove role {role} from {}", app.display_name), true))
                                                }
                                            }
                                        }
                                        (assign_form(forms, key, ("app", app_key), assignable, &held))
                                    }
                                    td {
                                        ul.plain {
                                            // Its Remove-from-team button is in the team's row (one per membership).
                                            @for team in environment.teams.iter().filter(|team| team.members.contains(&user.id)) {
                                                li { a href={ "#" (team_anchor(key, &team.name)) } { (team.name) } }
                                            }
                                        }
                                    }
                                    td.actions {
                                        (forms.button("remove_application_user", &[("environment", key), ("app", app_key)], "Delete",
                                            &format!("Delete the application user of {}", app.display_name), true))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if !without_user.is_empty() {
            details.add {
                summary { "New application user" }
                (forms.form("add_application_user", &[("environment", key)], html! {
                    div.fields {
                        div {
                            label for={ "new-user-app-" (key) } { "App registration" }
                            select id={ "new-user-app-" (key) } name="app" {
                                @for app in &without_user { option value=(app.key) { (app.display_name) " (" (app.key) ")" } }
                            }
                        }
                        div {
                            label for={ "new-user-role-" (key) } { "Security role" }
                            select id={ "new-user-role-" (key) } name="roles" {
                                option value="" { "(none)" }
                                @for role in assignable { option value=(role) { (role) } }
                            }
                        }
                    }
                    button.small type="submit" { "Create" }
                }))
            }
        }
    }
}

/// The form giving a role to the application user of an app or to a team (`holder`).
fn assign_form(
    forms: &Forms<'_>,
    environment: &str,
    holder: (&str, &str),
    assignable: &[String],
    held: &[&str],
) -> Markup {
    let id = format!(
        "assign-{}",
        form_id("role", &[("environment", environment), holder])
    );
    let choices: Vec<&String> = assignable
        .iter()
        .filter(|role| !held.contains(&role.as_str()))
        .collect();
    html! {
        @if !choices.is_empty() {
            (forms.form("assign_role", &[("environment", environment), holder], html! {
                label.visually-hidden for=(id) { "Role to assign" }
                div.row {
                    select id=(id) name="role" required {
                        option value="" { "Choose a role…" }
                        @for role in &choices { option value=(role) { (role) } }
                    }
                    button.small type="submit" { "Assign" }
                }
            }))
        }
    }
}

fn security_roles(names: &Names<'_>, defined: &[String], forms: &Forms<'_>) -> Markup {
    let environment = names.environment;
    let key = environment.key.as_str();
    // Predefined roles somebody holds (their privileges are fixed: not listed).
    let held: BTreeSet<Uuid> = environment
        .application_users
        .iter()
        .flat_map(|user| user.roles.iter().copied())
        .chain(
            environment
                .teams
                .iter()
                .flat_map(|team| team.roles.iter().copied()),
        )
        .collect();
    let predefined: BTreeSet<&str> = environment
        .roles
        .iter()
        .filter(|role| held.contains(&role.id) && !defined.contains(&role.name))
        .map(|role| role.name.as_str())
        .collect();
    html! {
        @if defined.is_empty() {
            p.muted { "This environment defines no roles of its own." }
        }
        @for name in defined {
            @if let Some(role) = environment.roles.iter().find(|role| &role.name == name) {
                div.role data-test="role" data-role=(name) {
                    h5 { (name) }
                    @if role.privileges.is_empty() {
                        p.muted { "No privileges." }
                    } @else {
                        div.table-wrap {
                            table.console-table.privileges {
                                thead { tr {
                                    th scope="col" { "Privilege" }
                                    th scope="col" { "Table" }
                                    th scope="col" { "Access level" }
                                } }
                                tbody {
                                    @for (privilege, depth) in &role.privileges {
                                        tr data-test="privilege" data-privilege=(privilege) {
                                            th scope="row" { code { (privilege) } }
                                            td { (privilege_table(privilege)) }
                                            td {
                                                (forms.form("set_privilege", &[("environment", key), ("role", name), ("privilege", privilege)],
                                                    depth_select(&form_id("depth", &[("environment", key), ("role", name), ("privilege", privilege)]),
                                                        Some(*depth), &format!("Access level of {privilege}"))))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    details.add {
                        summary { "Add a privilege to " (name) }
                        (forms.form("set_privilege", &[("environment", key), ("role", name)], html! {
                            @let id = form_id("new-privilege", &[("environment", key), ("role", name)]);
                            label for=(id) { "Privilege (for example prvReadIncident)" }
                            input id=(id) name="privilege" type="text" required spellcheck="false";
                            (depth_select(&format!("{id}-depth"), None, "Access level"))
                        }))
                    }
                }
            }
        }
        @if !predefined.is_empty() {
            p data-test="predefined-roles" {
                "Predefined roles in use (their privileges are fixed): "
                (predefined.iter().copied().collect::<Vec<_>>().join(", "))
            }
        }
    }
}

/// `prvReadAccount` → `Read · Account`, as the role editor's grid shows it.
fn privilege_table(privilege: &str) -> String {
    let Some(rest) = privilege.strip_prefix("prv") else {
        return privilege.to_owned();
    };
    for verb in [
        "Read", "Create", "Write", "Delete", "Append", "AppendTo", "Assign", "Share",
    ] {
        if let Some(table) = rest.strip_prefix(verb)
            && !table.is_empty()
        {
            return format!("{verb} · {table}");
        }
    }
    rest.to_owned()
}

/// A depth select and its Set button; `None` (no privilege) removes it.
fn depth_select(id: &str, current: Option<Depth>, label: &str) -> Markup {
    let choices = [
        (None, "None", "None (remove)"),
        (Some(Depth::Basic), "Basic", "User"),
        (Some(Depth::Local), "Local", "Business Unit"),
        (Some(Depth::Deep), "Deep", "Parent: Child Business Units"),
        (Some(Depth::Global), "Global", "Organization"),
    ];
    html! {
        label.visually-hidden for=(id) { (label) }
        div.row {
            select id=(id) name="depth" {
                @for (depth, value, text) in choices {
                    option value=(value) selected[current.is_some() && depth == current] { (text) }
                }
            }
            button.small type="submit" { "Set" }
        }
    }
}

/// The id of a team's row (`team--contoso--importers`).
fn team_anchor(environment: &str, team: &str) -> String {
    form_id("team", &[("environment", environment), ("team", team)])
}

fn teams(names: &Names<'_>, assignable: &[String], forms: &Forms<'_>) -> Markup {
    let environment = names.environment;
    let key = environment.key.as_str();
    html! {
        div.table-wrap {
            table.console-table data-test="teams" {
                thead { tr {
                    th scope="col" { "Team" }
                    th scope="col" { "Business unit" }
                    th scope="col" { "Security roles" }
                    th scope="col" { "Members" }
                } }
                tbody {
                    @for team in &environment.teams {
                        @let held: Vec<&str> = team.roles.iter().map(|id| names.role(*id)).collect();
                        @let outside: Vec<&App> = environment.application_users.iter()
                            .filter(|user| !team.members.contains(&user.id))
                            .filter_map(|user| names.app_of_user(user.id))
                            .collect();
                        tr data-test="team" data-team=(team.name) id=(team_anchor(key, &team.name)) {
                            th scope="row" {
                                (team.name) br;
                                span.muted { @match team.kind { TeamKind::Owner => "Owner team", TeamKind::Group { .. } => "Entra group team" } }
                            }
                            td { (names.business_unit(team.business_unit)) }
                            td {
                                ul.plain {
                                    @for role in &held {
                                        li data-test="held-role" data-role=(role) {
                                            (role) " "
                                            (forms.button("remove_role", &[("environment", key), ("team", &team.name), ("role", role)], "Remove",
                                                &format!("Remove role {role} from team {}", team.name), true))
                                        }
                                    }
                                }
                                (assign_form(forms, key, ("team", &team.name), assignable, &held))
                            }
                            td {
                                ul.plain {
                                    @for member in &team.members {
                                        @if let Some(app) = names.app_of_user(*member) {
                                            li data-test="member" data-app=(app.key) {
                                                (app.display_name) " "
                                                (forms.button("remove_team_member", &[("environment", key), ("team", &team.name), ("app", &app.key)],
                                                    "Remove from team", &format!("Remove from team {}: {}", team.name, app.display_name), true))
                                            }
                                        } @else {
                                            li.muted { "user " code { (member) } }
                                        }
                                    }
                                }
                                @if !outside.is_empty() {
                                    (forms.form("add_team_member", &[("environment", key), ("team", &team.name)], html! {
                                        @let id = form_id("new-member", &[("environment", key), ("team", &team.name)]);
                                        label.visually-hidden for=(id) { "Application user to add" }
                                        div.row {
                                            select id=(id) name="app" required {
                                                option value="" { "Choose an app…" }
                                                @for app in &outside { option value=(app.key) { (app.display_name) } }
                                            }
                                            button.small type="submit" { "Add to team" }
                                        }
                                    }))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn tables(environment: &Environment, listed: &[String], forms: &Forms<'_>) -> Markup {
    let key = environment.key.as_str();
    html! {
        div.table-wrap {
            table.console-table data-test="tables" {
                thead { tr {
                    th scope="col" { "Table" }
                    th scope="col" { "Rows" }
                    th scope="col" { span.visually-hidden { "Actions" } }
                } }
                tbody {
                    @for table in environment.tables.iter().filter(|table| listed.contains(&table.logical_name)) {
                        @let name = table.logical_name.as_str();
                        tr data-test="table" data-table=(name) {
                            th scope="row" { (table.definition.display_name) br; code { (name) } }
                            td {
                                @match &table.data {
                                    TableData::Generated { count } => { (count) " generated" }
                                    TableData::Rows(rows) => { (rows.len()) " given" }
                                }
                            }
                            td.actions {
                                (forms.form("set_generated_rows", &[("environment", key), ("table", name)], html! {
                                    @let id = form_id("count", &[("environment", key), ("table", name)]);
                                    label.visually-hidden for=(id) { "Generated rows of " (name) }
                                    div.row {
                                        input.count id=(id) name="count" type="number" min="0" required
                                            value=[match &table.data { TableData::Generated { count } => Some(*count), TableData::Rows(_) => None }];
                                        button.small type="submit" { "Generate" }
                                    }
                                }))
                                @if let TableData::Rows(rows) = &table.data && !rows.is_empty() {
                                    (forms.button("remove_rows", &[("environment", key), ("table", name)], "Remove all rows",
                                        &format!("Remove all rows of {name}"), true))
                                }
                            }
                        }
                    }
                }
            }
        }
        details.add {
            summary { "Add rows" }
            (forms.form("add_rows", &[("environment", key)], html! {
                @let id = form_id("rows", &[("environment", key)]);
                div.fields {
                    div {
                        label for={ (id) "-table" } { "Table (logical name)" }
                        input id={ (id) "-table" } name="table" type="text" required spellcheck="false";
                    }
                }
                label for=(id) { "Rows (JSON: Web API property name → value)" }
                textarea id=(id) name="rows" rows="3" spellcheck="false" required placeholder=r#"[{"name": "Adventure Works"}]"# {}
                button.small type="submit" { "Add rows" }
            }))
        }
        details.add {
            summary { "Remove rows by id" }
            (forms.form("remove_rows", &[("environment", key)], html! {
                @let id = form_id("remove-rows", &[("environment", key)]);
                div.fields {
                    div {
                        label for={ (id) "-table" } { "Table (logical name)" }
                        input id={ (id) "-table" } name="table" type="text" required spellcheck="false";
                    }
                    div {
                        label for={ (id) "-ids" } { "Primary ids (comma separated)" }
                        input id={ (id) "-ids" } name="ids" type="text" required spellcheck="false";
                    }
                }
                button.small type="submit" { "Remove rows" }
            }))
        }
    }
}

fn limits(environment: &Environment, forms: &Forms<'_>) -> Markup {
    let key = environment.key.as_str();
    let limits = &environment.limits;
    let fields: [(&str, &str, u64); 5] = [
        (
            "requests",
            "Requests per window",
            u64::from(limits.requests),
        ),
        (
            "window_seconds",
            "Window (seconds)",
            u64::from(limits.window_seconds),
        ),
        (
            "execution_milliseconds",
            "Execution time per window (ms)",
            limits.execution_milliseconds,
        ),
        (
            "execution_milliseconds_per_request",
            "Cost of each request (ms)",
            limits.execution_milliseconds_per_request,
        ),
        (
            "concurrent",
            "Concurrent requests",
            u64::from(limits.concurrent),
        ),
    ];
    forms.form(
        "set_limits",
        &[("environment", key)],
        html! {
            div.fields {
                @for (name, label, value) in fields {
                    div {
                        label for={ "limit-" (key) "-" (name) } { (label) }
                        input.count id={ "limit-" (key) "-" (name) } name=(name) type="number" min="0" value=(value);
                    }
                }
            }
            button.small type="submit" { "Set limits" }
        },
    )
}
