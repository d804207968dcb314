//! The tenant console (`/console`): the running world as the Entra and Power Platform admin
//! centres show it (`console/view.rs`), every change-vocabulary kind a button or small form
//! beside what it changes, applied through the admin API in-process (`POST /changes`, and
//! `POST /faults` for the presets of `console/presets.rs`). Without JavaScript a form posts and
//! is redirected back with a notice; `js/console.js` posts with fetch and swaps in the
//! fragment the server answers. Invariant: no secret value of the world reaches a page.

mod presets;
#[cfg(test)]
mod tests;
mod view;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::header::{CONTENT_TYPE, LOCATION};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::Demo;
use super::pages;
use view::{Outcome, Snapshot};

/// The console's routes (behind the app's guard).
pub(super) fn routes() -> Router<Arc<Demo>> {
    Router::new()
        .route("/console", get(console_page))
        .route("/console/fragment", get(console_fragment))
        .route("/console/version", get(console_version))
        .route("/console/change", post(change))
        .route("/console/fault", post(fault))
}

/// The notice a redirect after a change carries, with its tag ([`notice_tag`]).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
    tag: Option<String>,
}

/// The tag of `notice`: HMAC-SHA256 under the process's CSRF token, base64url. The page shows
/// a notice only with its tag, so a link to `/console?notice=…` in someone else's words (a
/// page that sends the presenter there) shows nothing.
fn notice_tag(demo: &Demo, notice: &str) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, demo.csrf().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(aws_lc_rs::hmac::sign(&key, notice.as_bytes()).as_ref())
}

/// Whether `tag` is `notice`'s tag (compared in constant time).
fn notice_tag_matches(demo: &Demo, notice: &str, tag: &str) -> bool {
    let Ok(tag) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(tag) else {
        return false;
    };
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, demo.csrf().as_bytes());
    aws_lc_rs::hmac::verify(&key, notice.as_bytes(), &tag).is_ok()
}

async fn console_page(State(demo): State<Arc<Demo>>, Query(query): Query<NoticeQuery>) -> Response {
    let notice = match (query.notice, query.tag) {
        (Some(notice), Some(tag)) if notice_tag_matches(&demo, &notice, &tag) => Some(notice),
        _ => None,
    };
    let outcome = Outcome {
        notice: notice.map(|notice| fake_core::echo(&notice).into_owned()),
        error: None,
    };
    (
        StatusCode::OK,
        view::page(&snapshot(&demo), demo.csrf(), &outcome),
    )
        .into_response()
}

async fn console_fragment(State(demo): State<Arc<Demo>>) -> Response {
    (
        StatusCode::OK,
        view::fragment(&snapshot(&demo), demo.csrf(), &Outcome::default()),
    )
        .into_response()
}

/// `GET /console/version`: the [`version`] of the world, which the script polls so that a
/// second tab (or a change made with `d365-harness admin`) updates the console too.
async fn console_version(State(demo): State<Arc<Demo>>) -> Response {
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        version(demo.live()),
    )
        .into_response()
}

/// A short text that changes whenever what the console shows could have: the world document,
/// the fault rules or the clock's move. A keyed hash (a random key per process), so that it
/// tells nothing about the secret values in the document.
fn version(live: &scenario::LiveWorld) -> String {
    static KEY: OnceLock<RandomState> = OnceLock::new();
    let mut hasher = KEY.get_or_init(RandomState::new).build_hasher();
    live.world_toml().hash(&mut hasher);
    format!("{:?}", live.faults().rules()).hash(&mut hasher);
    live.clock().offset().whole_seconds().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

fn snapshot(demo: &Demo) -> Snapshot {
    let live = demo.live();
    Snapshot {
        version: version(live),
        world: live.world(),
        document: live.document(),
        now: live.clock().now(),
        offset_seconds: live.clock().offset().whole_seconds(),
        faults: live.faults().rules(),
    }
}

/// A console form as posted: the fields every form has, and the change's own.
struct Posted {
    csrf: String,
    /// The posting form's id, where an error goes.
    form: String,
    /// Whether the script posted it (it wants the fragment, not a redirect).
    fragment: bool,
    /// The other fields, in order.
    fields: Vec<(String, String)>,
}

impl Posted {
    fn of(pairs: Vec<(String, String)>) -> Posted {
        let mut posted = Posted {
            csrf: String::new(),
            form: String::new(),
            fragment: false,
            fields: Vec::new(),
        };
        for (key, value) in pairs {
            match key.as_str() {
                "csrf" => posted.csrf = value,
                "form" => posted.form = value,
                "fragment" => posted.fragment = value == "1",
                _ => posted.fields.push((key, value)),
            }
        }
        posted
    }

    fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// `POST /console/change`: one change of the vocabulary, from the form's fields.
async fn change(
    State(demo): State<Arc<Demo>>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::of(pairs);
    if !csrf_ok(&demo, &posted) {
        return csrf_refused();
    }
    let outcome = match change_json(&posted.fields) {
        Ok(change) => {
            let notice = describe(&change);
            admin_post(&demo, "/changes", &json!([change]))
                .await
                .map(|_| match posted.field("change") {
                    Some("advance_clock") => format!(
                        "Moved the world's clock forward: it is now {}.",
                        view::time_text(demo.live().clock().now())
                    ),
                    _ => notice,
                })
        }
        Err(error) => Err(error),
    };
    respond(&demo, &posted, outcome)
}

/// `POST /console/fault`: a fault preset, added with the admin API's `POST /faults`.
async fn fault(
    State(demo): State<Arc<Demo>>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let posted = Posted::of(pairs);
    if !csrf_ok(&demo, &posted) {
        return csrf_refused();
    }
    let outcome = match posted.field("preset").and_then(presets::preset) {
        None => Err(format!(
            "there is no fault preset `{}`",
            fake_core::echo(posted.field("preset").unwrap_or_default())
        )),
        Some(preset) => match posted.field("count").map(str::trim) {
            None | Some("") => Ok(3),
            Some(count) => count
                .parse::<u64>()
                .ok()
                .filter(|count| *count >= 1)
                .ok_or_else(|| {
                    format!(
                        "how many requests must be a whole number of at least 1, not `{}`",
                        fake_core::echo(count)
                    )
                }),
        }
        .map(|count| (preset, count)),
    };
    let outcome = match outcome {
        Ok((preset, count)) => admin_post(&demo, "/faults", &preset.rule(count))
            .await
            .map(|_| preset.notice(count)),
        Err(error) => Err(error),
    };
    respond(&demo, &posted, outcome)
}

fn csrf_ok(demo: &Demo, posted: &Posted) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(
        demo.csrf().as_bytes(),
        posted.csrf.as_bytes(),
    )
    .is_ok()
}

fn csrf_refused() -> Response {
    (
        StatusCode::FORBIDDEN,
        pages::error(
            StatusCode::FORBIDDEN,
            "This form is out of date or did not come from this demo. Go back, reload the page and try again.",
        ),
    )
        .into_response()
}

/// The answer to a console post: for the script, the fragment (200, or 422 with the error next
/// to the form); otherwise a redirect back with the notice, or the page with the error (422).
fn respond(demo: &Demo, posted: &Posted, outcome: Result<String, String>) -> Response {
    let (status, outcome) = match outcome {
        Ok(notice) => (
            StatusCode::OK,
            Outcome {
                notice: Some(notice),
                error: None,
            },
        ),
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            Outcome {
                notice: None,
                error: Some((posted.form.clone(), error)),
            },
        ),
    };
    if posted.fragment {
        return (
            status,
            view::fragment(&snapshot(demo), demo.csrf(), &outcome),
        )
            .into_response();
    }
    match (&outcome.notice, status) {
        (Some(notice), StatusCode::OK) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("notice", notice)
                .append_pair("tag", &notice_tag(demo, notice))
                .finish();
            match HeaderValue::from_str(&format!("/console?{query}#{}", anchor(posted))) {
                Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
                Err(_) => (StatusCode::SEE_OTHER, [(LOCATION, "/console")]).into_response(),
            }
        }
        _ => (status, view::page(&snapshot(demo), demo.csrf(), &outcome)).into_response(),
    }
}

/// Where the page scrolls back to after a post without the script: the changed environment,
/// the Entra section, or the clock and faults.
fn anchor(posted: &Posted) -> String {
    let safe = |key: &str| {
        key.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    match posted.field("environment") {
        Some(environment) if safe(environment) => format!("environment-{environment}"),
        _ if posted.field("app").is_some() || posted.field("tenant").is_some() => {
            "entra".to_owned()
        }
        _ => "clock-faults".to_owned(),
    }
}

/// Posts `body` to the admin API; its answer, or its error message (which never holds a secret
/// value) [`in_words`].
async fn admin_post(demo: &Demo, path: &str, body: &Value) -> Result<Value, String> {
    let response = demo
        .admin()
        .call(Method::POST, path, Bytes::from(body.to_string()))
        .await;
    let status = response.status();
    let bytes = match response.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let answer: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(answer);
    }
    let message = answer
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map_or_else(
            || format!("the admin API refused it (HTTP {status})"),
            |message| in_words(message).to_owned(),
        );
    Err(message)
}

/// An admin error message without the batch's bookkeeping: `changes[0] (`remove_role`) `role`:
/// …` becomes `` `role`: … `` (the form that posted names the change already).
fn in_words(message: &str) -> &str {
    let Some(rest) = message.strip_prefix("changes[0]") else {
        return message;
    };
    let rest = rest.strip_prefix(':').unwrap_or(rest).trim_start();
    match rest
        .strip_prefix("(`")
        .and_then(|rest| rest.split_once("`) "))
    {
        Some((_, reason)) => reason,
        None => rest,
    }
}

/// Fields whose value is a whole number.
const NUMBER_FIELDS: &[&str] = &[
    "requests",
    "window_seconds",
    "execution_milliseconds",
    "execution_milliseconds_per_request",
    "concurrent",
    "count",
    "seconds",
];

/// Fields whose value is JSON typed into a text area.
const JSON_FIELDS: &[&str] = &["rows", "fault"];

/// Fields that are lists (comma-separated, or repeated).
const LIST_FIELDS: &[&str] = &["roles", "ids"];

/// Fields that are times: `datetime-local` inputs give `2026-12-04T16:50`, taken as UTC.
const TIME_FIELDS: &[&str] = &["expires", "at", "until"];

/// A change's JSON from a form's fields: empty fields are left out (the admin API fills in
/// defaults or names what is missing), numbers, booleans, lists, times and typed JSON take
/// their JSON type. Unknown fields pass through: the admin API names them.
pub(super) fn change_json(fields: &[(String, String)]) -> Result<Value, String> {
    let mut change = Map::new();
    for (key, value) in fields {
        let key = key.as_str();
        // A secret value is taken as typed: spaces may be part of it.
        let value = if key == "value" {
            value.as_str()
        } else {
            value.trim()
        };
        if value.is_empty() {
            continue;
        }
        let json = if key == "on" {
            match value {
                "true" | "on" => Value::Bool(true),
                "false" | "off" => Value::Bool(false),
                _ => {
                    return Err(format!(
                        "`on` must be true or false, not `{}`",
                        fake_core::echo(value)
                    ));
                }
            }
        } else if NUMBER_FIELDS.contains(&key) {
            let number: i64 = value.parse().map_err(|_| {
                format!(
                    "`{key}` must be a whole number, not `{}`",
                    fake_core::echo(value)
                )
            })?;
            Value::from(number)
        } else if JSON_FIELDS.contains(&key) {
            serde_json::from_str(value).map_err(|error| format!("`{key}` is not JSON: {error}"))?
        } else if LIST_FIELDS.contains(&key) {
            let mut items: Vec<Value> = match change.remove(key) {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            items.extend(
                value
                    .split([',', '\n'])
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| Value::String(item.to_owned())),
            );
            Value::Array(items)
        } else if TIME_FIELDS.contains(&key) {
            Value::String(utc_time(value))
        } else {
            Value::String(value.to_owned())
        };
        change.insert(key.to_owned(), json);
    }
    if !change.contains_key("change") {
        return Err("the form names no change".to_owned());
    }
    Ok(Value::Object(change))
}

/// `2026-12-04T16:50` (a `datetime-local` input, no zone) → `2026-12-04T16:50:00Z`; anything
/// else as typed (RFC 3339 already, or an error the admin API names).
fn utc_time(value: &str) -> String {
    let bytes = value.as_bytes();
    let local = |length: usize| {
        bytes.len() == length && bytes.get(10) == Some(&b'T') && !value[10..].contains(['Z', '+'])
    };
    if local(16) {
        format!("{value}:00Z")
    } else if local(19) {
        format!("{value}Z")
    } else {
        value.to_owned()
    }
}

/// The notice for an applied change: what was done, in the admin centre's words, naming what
/// it changed (never a secret value, a PEM, rows or a fault rule's body).
fn describe(change: &Value) -> String {
    let field = |name: &str| -> String {
        match change.get(name) {
            Some(Value::String(text)) => fake_core::echo(text).into_owned(),
            Some(Value::Bool(true)) => "on".to_owned(),
            Some(Value::Bool(false)) => "off".to_owned(),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    };
    let (app, environment, role, team) = (
        field("app"),
        field("environment"),
        field("role"),
        field("team"),
    );
    let holder = if team.is_empty() {
        format!("the application user of {app}")
    } else {
        format!("team {team}")
    };
    let kind = change.get("change").and_then(Value::as_str).unwrap_or("");
    match kind {
        "add_secret" => format!("Added client secret {} to {app}.", field("secret")),
        "remove_secret" => format!("Deleted client secret {} of {app}.", field("secret")),
        "expire_secret" => format!("Client secret {} of {app} has expired.", field("secret")),
        "add_certificate" => format!("Uploaded certificate {} to {app}.", field("certificate")),
        "remove_certificate" => format!("Removed certificate {} of {app}.", field("certificate")),
        "disable_app" => format!("Disabled app {app} in every tenant."),
        "enable_app" => format!("Enabled app {app}."),
        "add_service_principal" => format!("Installed {app} in tenant {}.", field("tenant")),
        "remove_service_principal" => format!("Removed {app} from tenant {}.", field("tenant")),
        "grant_consent" => format!(
            "Granted admin consent to {} {} for {app}.",
            field("api"),
            field("scope")
        ),
        "revoke_consent" => format!(
            "Revoked admin consent to {} {} for {app}.",
            field("api"),
            field("scope")
        ),
        "disable_dynamics" => format!("Disabled Dynamics CRM in tenant {}.", field("tenant")),
        "enable_dynamics" => format!("Enabled Dynamics CRM in tenant {}.", field("tenant")),
        "add_application_user" => {
            format!("Created the application user of {app} in {environment}.")
        }
        "remove_application_user" => {
            format!("Deleted the application user of {app} in {environment}.")
        }
        "disable_application_user" => {
            format!("Disabled the application user of {app} in {environment}.")
        }
        "enable_application_user" => {
            format!("Enabled the application user of {app} in {environment}.")
        }
        "assign_role" => format!("Assigned role {role} to {holder} in {environment}."),
        "remove_role" => format!("Removed role {role} from {holder} in {environment}."),
        "add_team_member" => format!("Added {app} to team {team} in {environment}."),
        "remove_team_member" => format!("Removed {app} from team {team} in {environment}."),
        "set_privilege" => format!(
            "Set {} of role {role} to {} in {environment}.",
            field("privilege"),
            field("depth")
        ),
        "admin_mode" => format!("Administration mode is {} in {environment}.", field("on")),
        "set_limits" => format!("Changed the service protection limits of {environment}."),
        "add_rows" => format!("Added rows to {} in {environment}.", field("table")),
        "remove_rows" => format!("Removed rows of {} in {environment}.", field("table")),
        "set_generated_rows" => format!(
            "Table {} in {environment} now has {} generated rows.",
            field("table"),
            field("count")
        ),
        "add_fault" => "Added a fault rule.".to_owned(),
        "clear_faults" => "Cleared every fault rule.".to_owned(),
        "advance_clock" => "Moved the world's clock forward.".to_owned(),
        other => format!("Applied {}.", fake_core::echo(other)),
    }
}
