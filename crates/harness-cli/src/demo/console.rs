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

use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
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
        .route("/console/change", post(change))
        .route("/console/fault", post(fault))
}

/// The notice a redirect after a change carries.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NoticeQuery {
    notice: Option<String>,
}

async fn console_page(State(demo): State<Arc<Demo>>, Query(query): Query<NoticeQuery>) -> Response {
    let outcome = Outcome {
        notice: query
            .notice
            .map(|notice| fake_core::echo(&notice).into_owned()),
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

fn snapshot(demo: &Demo) -> Snapshot {
    let live = demo.live();
    Snapshot {
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
                .map(|answer| match answer.get("now").and_then(Value::as_str) {
                    Some(now) if posted.field("change") == Some("advance_clock") => {
                        format!("{notice} The world's clock is now {now}.")
                    }
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
                .finish();
            match HeaderValue::from_str(&format!("/console?{query}")) {
                Ok(location) => (StatusCode::SEE_OTHER, [(LOCATION, location)]).into_response(),
                Err(_) => (StatusCode::SEE_OTHER, [(LOCATION, "/console")]).into_response(),
            }
        }
        _ => (status, view::page(&snapshot(demo), demo.csrf(), &outcome)).into_response(),
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

/// The notice for an applied change: its kind in words and what it names (never a secret
/// value, a PEM, rows or a fault rule's body).
fn describe(change: &Value) -> String {
    let kind = change
        .get("change")
        .and_then(Value::as_str)
        .unwrap_or("change");
    let mut words = kind.replace('_', " ");
    if let Some(first) = words.get(0..1) {
        words = first.to_uppercase() + &words[1..];
    }
    let named: Vec<String> = change
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| !matches!(key.as_str(), "change" | "value" | "pem" | "rows" | "fault"))
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            format!("{} {}", key.replace('_', " "), fake_core::echo(&value))
        })
        .collect();
    if named.is_empty() {
        format!("Applied: {words}.")
    } else {
        format!("Applied: {words} ({}).", named.join(", "))
    }
}
