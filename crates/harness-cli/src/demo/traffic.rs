//! The traffic view: `/traffic` lists the fakes' journal, newest request first, rendered on the
//! server; `/traffic/events` follows it as server-sent events whose data are the new rows'
//! HTML (escaping stays in maud; `js/traffic.js` only inserts them); `/traffic/{sequence}` shows
//! one request's headers and bodies; `POST /traffic/clear` empties the journal through the admin
//! API. The fakes redact the journal before they store it, so nothing here ever holds a secret.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use fake_core::{JournalBody, JournalEntry, JournalQuery, StatusFilter};
use http_body_util::BodyExt;
use maud::{Markup, html};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::app::{self, Demo};
use super::pages;
use crate::serve::admin::{EventStream, Followed};

#[cfg(test)]
mod tests;

/// How many requests the page lists (and the script keeps): the newest ones. A projector shows
/// a screenful; the journal itself keeps thousands.
const SHOWN: usize = 200;

/// The status classes the filter offers.
const STATUS_CLASSES: &[(&str, &str)] = &[
    ("2xx", "2xx success"),
    ("3xx", "3xx redirect"),
    ("4xx", "4xx client error"),
    ("5xx", "5xx server error"),
];

/// The traffic view's routes (the app's guard is in front of them).
pub(super) fn routes() -> Router<Arc<Demo>> {
    Router::new()
        .route("/traffic", get(traffic))
        .route("/traffic/events", get(events))
        .route("/traffic/clear", post(clear))
        .route("/traffic/{sequence}", get(detail))
}

/// The query of the page and of its event stream. Every field is text so that a bad value is
/// our error page, not the extractor's bare 400.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct TrafficQuery {
    /// Only requests for this host (empty: every host).
    host: String,
    /// Only answers of this status code or class (`4xx`; empty: every status).
    status: String,
    /// The events: only entries after this sequence number (the newest the page lists).
    since: String,
    /// The page: how many entries Clear removed.
    cleared: String,
}

impl TrafficQuery {
    /// The journal query it asks for, or the sentence saying which parameter is wrong.
    fn journal_query(&self) -> Result<JournalQuery, String> {
        let host = Some(self.host.trim())
            .filter(|host| !host.is_empty())
            .map(str::to_owned);
        let status = match self.status.trim() {
            "" => None,
            status => Some(
                status
                    .parse::<StatusFilter>()
                    .map_err(|error| error.to_string())?,
            ),
        };
        let since = match self.since.trim() {
            "" => None,
            since => Some(since.parse::<u64>().map_err(|_| {
                format!(
                    "`since` is a sequence number, not {:?}",
                    fake_core::echo(since)
                )
            })?),
        };
        Ok(JournalQuery {
            host,
            status,
            since,
        })
    }

    /// `host=…&status=…` of the filters set, for the event stream's URL.
    fn filters(&self) -> form_urlencoded::Serializer<'static, String> {
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [("host", &self.host), ("status", &self.status)] {
            if !value.trim().is_empty() {
                serializer.append_pair(key, value.trim());
            }
        }
        serializer
    }
}

/// `GET /traffic`: the newest [`SHOWN`] requests that pass the filters, newest first.
async fn traffic(
    State(demo): State<Arc<Demo>>,
    query: Result<Query<TrafficQuery>, QueryRejection>,
) -> Response {
    let (query, mut journal_query) = match read_query(query) {
        Ok(read) => read,
        Err(message) => return app::error_page(StatusCode::BAD_REQUEST, &message),
    };
    journal_query.since = None;
    let journal = demo.live().journal();
    // Without filters the newest entries are the highest sequence numbers: copy only those
    // (the journal keeps up to 10,000, bodies included).
    if journal_query.host.is_none() && journal_query.status.is_none() {
        journal_query.since = journal.last_sequence().checked_sub(SHOWN as u64);
    }
    let newest = journal.last_sequence();
    let entries = journal.query(&journal_query);
    let listed: Vec<&JournalEntry> = entries.iter().rev().take(SHOWN).collect();
    let mut hosts: BTreeSet<&str> = entries.iter().map(|entry| entry.host.as_str()).collect();
    if !query.host.trim().is_empty() {
        hosts.insert(query.host.trim());
    }
    // The stream goes on from the newest entry stored now, listed or not (filtered out).
    let events = format!(
        "/traffic/events?{}",
        query
            .filters()
            .append_pair("since", &newest.to_string())
            .finish()
    );
    let cleared = query.cleared.parse::<usize>().ok();
    app::page(
        StatusCode::OK,
        traffic_page(&TrafficPage {
            listed: &listed,
            hosts: &hosts,
            query: &query,
            events: &events,
            cleared,
            csrf: demo.csrf(),
        }),
    )
}

/// What the traffic page shows.
struct TrafficPage<'a> {
    listed: &'a [&'a JournalEntry],
    hosts: &'a BTreeSet<&'a str>,
    query: &'a TrafficQuery,
    events: &'a str,
    cleared: Option<usize>,
    csrf: &'a str,
}

fn traffic_page(view: &TrafficPage<'_>) -> Markup {
    let host = view.query.host.trim();
    let status = view.query.status.trim();
    let filtered = !host.is_empty() || !status.is_empty();
    pages::page_layout(
        "Traffic",
        "/traffic",
        &["/js/traffic.js"],
        html! {
            h1 { "Traffic" }
            p.lead { "Every request the fakes answered, newest first, with the fault rule that answered it. Secrets were redacted before the journal kept them. Choose a path for its headers and bodies." }
            @if let Some(cleared) = view.cleared {
                p.notice role="status" data-test="traffic-notice" {
                    "The journal was cleared (" (cleared) " " (plural(cleared, "request", "requests")) ")."
                }
            }
            div.traffic-bar {
                form #traffic-filter method="get" action="/traffic" data-test="traffic-filter" {
                    label for="traffic-host" { "Host" }
                    select #traffic-host name="host" {
                        option value="" selected[host.is_empty()] { "All hosts" }
                        @for &known in view.hosts {
                            option value=(known) selected[known == host] { (known) }
                        }
                    }
                    label for="traffic-status-filter" { "Status" }
                    select #traffic-status-filter name="status" {
                        option value="" selected[status.is_empty()] { "Any status" }
                        @for &(class, label) in STATUS_CLASSES {
                            option value=(class) selected[class == status] { (label) }
                        }
                        // A code typed into the URL (`status=401`) stays selected.
                        @if !status.is_empty() && !STATUS_CLASSES.iter().any(|(class, _)| *class == status) {
                            option value=(status) selected { (status) }
                        }
                    }
                    button type="submit" { "Filter" }
                    @if filtered {
                        a href="/traffic" { "Show all" }
                    }
                }
                form #traffic-clear method="post" action="/traffic/clear" data-test="traffic-clear" {
                    input type="hidden" name="csrf" value=(view.csrf);
                    button.secondary type="submit" { "Clear the journal" }
                }
            }
            p.traffic-count {
                span #traffic-shown data-test="traffic-count" { (view.listed.len()) }
                " " span #traffic-count-noun { (plural(view.listed.len(), "request", "requests")) }
                " listed"
                @if view.listed.len() == SHOWN { " (the newest " (SHOWN) ")" }
                @if filtered { " · filtered" }
                " · " span #traffic-stream data-test="traffic-stream" { "Reload to see new requests." }
            }
            // Announces bursts ("3 new requests"), never each request: `traffic.js` fills it.
            p #traffic-live.visually-hidden aria-live="polite" {}
            p #traffic-empty hidden[!view.listed.is_empty()] {
                @if filtered { "No request matches these filters yet." }
                @else { "No requests yet. Add a source (or run any client against the fakes) and they appear here." }
            }
            table #traffic-list.traffic data-test="traffic-list" data-events=(view.events) data-max=(SHOWN) {
                caption.visually-hidden { "Requests to the fakes, newest first" }
                thead {
                    tr {
                        th scope="col" { "Time" }
                        th scope="col" { "Method" }
                        th scope="col" { "Path and host" }
                        th scope="col" { "Status" }
                        th scope="col" { "Fault" }
                    }
                }
                tbody #traffic-rows {
                    @for entry in view.listed {
                        (row(entry))
                    }
                }
            }
            dialog #traffic-dialog data-test="traffic-dialog" aria-labelledby="traffic-detail-heading" {
                form method="dialog" { button.secondary.close type="submit" { "Close" } }
                div #traffic-dialog-body {}
            }
        },
    )
}

/// `one` or `many`, by `count`.
fn plural<'a>(count: usize, one: &'a str, many: &'a str) -> &'a str {
    if count == 1 { one } else { many }
}

/// The page's and the event stream's query string and the journal query it asks for, or why
/// it cannot be read (a parameter given twice, which the extractor refuses) or is wrong, for
/// our error page.
fn read_query(
    query: Result<Query<TrafficQuery>, QueryRejection>,
) -> Result<(TrafficQuery, JournalQuery), String> {
    let Query(query) = query.map_err(|rejection| rejection.body_text())?;
    let journal_query = query.journal_query()?;
    Ok((query, journal_query))
}

/// One request as a row of the list (also the data of its server-sent event).
fn row(entry: &JournalEntry) -> Markup {
    let class = status_class(entry.status);
    html! {
        tr id={ "traffic-row-" (entry.sequence) } class={ "status-" (class) }
            data-test="traffic-row" data-sequence=(entry.sequence) data-status=(entry.status) {
            td.time { time datetime=(entry.received_at) title=(entry.received_at) { (clock_time(&entry.received_at)) } }
            td.method { (entry.method) }
            // Host and path in one cell: the path gets the width it needs on a projector.
            td.request {
                a href={ "/traffic/" (entry.sequence) } data-test="traffic-detail-link" title=(url(entry)) {
                    (entry.path)
                    @if entry.query.is_some() { span.query { "?…" } }
                }
                span.host data-test="traffic-host" { (entry.host) }
            }
            td.status data-test="traffic-status" { (status_text(entry.status)) }
            td.fault data-test="traffic-fault" {
                @if let Some(fault) = &entry.fault { span.fault-name { (fault) } }
            }
        }
    }
}

/// The status's class for the row's style: `ok`, `redirect`, `client-error`, `server-error`.
fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 | 2 => "ok",
        3 => "redirect",
        4 => "client-error",
        _ => "server-error",
    }
}

/// `401 Unauthorized`: the code with its reason, so that colour is never the only sign.
fn status_text(status: u16) -> String {
    let reason = StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason());
    match reason {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

/// `14:03:27` of an RFC 3339 time (the whole text when it is not one).
fn clock_time(received_at: &str) -> String {
    OffsetDateTime::parse(received_at, &Rfc3339)
        .ok()
        .and_then(|at| {
            at.format(format_description!("[hour]:[minute]:[second]"))
                .ok()
        })
        .unwrap_or_else(|| received_at.to_owned())
}

/// The URL the client asked for (the fakes answer HTTPS only).
fn url(entry: &JournalEntry) -> String {
    match &entry.query {
        Some(query) => format!("https://{}{}?{query}", entry.host, entry.path),
        None => format!("https://{}{}", entry.host, entry.path),
    }
}

/// `GET /traffic/events`: the requests after `since` (or the `Last-Event-ID` an
/// `EventSource` sends when it reconnects) that pass the filters, then each new one, as
/// `entry` events (`id:` the sequence, `data:` the row's HTML); `lagged` when the stream
/// fell behind and missed some (the page then reloads the list). It ends when the demo stops.
async fn events(
    State(demo): State<Arc<Demo>>,
    query: Result<Query<TrafficQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let (_, mut journal_query) = match read_query(query) {
        Ok(read) => read,
        Err(message) => return app::error_page(StatusCode::BAD_REQUEST, &message),
    };
    let last_event = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    if last_event.is_some() {
        journal_query.since = last_event;
    }
    let stream = EventStream::follow(
        demo.live().journal(),
        journal_query,
        demo.stopping(),
        traffic_event,
    );
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream; charset=utf-8"),
            ),
            (CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::new(stream),
    )
        .into_response()
}

/// One server-sent event of the traffic stream.
fn traffic_event(followed: Followed<'_>) -> Bytes {
    match followed {
        Followed::Entry(entry) => {
            let html = row(entry).into_string();
            let mut event = format!("id: {}\nevent: entry\n", entry.sequence);
            // A line break (a fault's name may hold one) would end the `data:` field: each
            // line gets its own, and the browser joins them with `\n`.
            for line in html.replace("\r\n", "\n").split(['\r', '\n']) {
                event.push_str("data: ");
                event.push_str(line);
                event.push('\n');
            }
            event.push('\n');
            Bytes::from(event)
        }
        Followed::Lagged(missed) => Bytes::from(format!("event: lagged\ndata: {missed}\n\n")),
        Followed::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
    }
}

/// `GET /traffic/{sequence}`: one request, its headers and bodies.
async fn detail(
    State(demo): State<Arc<Demo>>,
    sequence: Result<Path<String>, PathRejection>,
) -> Response {
    let Some(sequence) = sequence
        .ok()
        .and_then(|Path(sequence)| sequence.parse::<u64>().ok())
    else {
        return app::error_page(StatusCode::NOT_FOUND, "There is no such request.");
    };
    let query = JournalQuery {
        since: sequence.checked_sub(1),
        ..JournalQuery::default()
    };
    let found = demo
        .live()
        .journal()
        .query(&query)
        .into_iter()
        .find(|entry| entry.sequence == sequence);
    match found {
        Some(entry) => app::page(StatusCode::OK, detail_page(&entry)),
        None => app::error_page(
            StatusCode::NOT_FOUND,
            &format!(
                "Request {sequence} is not in the journal (cleared, or older than what it keeps)."
            ),
        ),
    }
}

fn detail_page(entry: &JournalEntry) -> Markup {
    pages::page_layout(
        &format!("Request {}", entry.sequence),
        "/traffic",
        &[],
        html! {
            p { a href="/traffic" { "← Traffic" } }
            (detail_block(entry))
        },
    )
}

/// The detail itself: also what `traffic.js` shows in its dialog.
fn detail_block(entry: &JournalEntry) -> Markup {
    html! {
        article #traffic-detail.traffic-detail data-test="traffic-detail" data-sequence=(entry.sequence) {
            h1 #traffic-detail-heading tabindex="-1" {
                (entry.method) " " (entry.path)
            }
            dl.traffic-facts {
                dt { "URL" } dd { code data-test="traffic-detail-url" { (url(entry)) } }
                dt { "Received" } dd { (entry.received_at) " (request " (entry.sequence) ")" }
                dt { "Service" } dd { (entry.service) }
                dt { "Status" }
                dd { span class={ "status status-" (status_class(entry.status)) } data-test="traffic-detail-status" { (status_text(entry.status)) } }
                dt { "Fault" }
                dd data-test="traffic-detail-fault" {
                    @match &entry.fault {
                        Some(fault) => { span.fault-name { (fault) } " answered (a fault rule of the world or the console)" }
                        None => { "None: the fake answered as the service would" }
                    }
                }
            }
            div.traffic-exchange {
                section aria-labelledby="traffic-request-heading" data-test="traffic-request" {
                    h2 #traffic-request-heading { "Request" }
                    h3 { "Headers" }
                    (headers_block(&entry.request_headers))
                    h3 { "Body" }
                    (body_block(&entry.request_body))
                }
                section aria-labelledby="traffic-response-heading" data-test="traffic-response" {
                    h2 #traffic-response-heading { "Response" }
                    h3 { "Headers" }
                    (headers_block(&entry.response_headers))
                    h3 { "Body" }
                    (body_block(&entry.response_body))
                }
            }
        }
    }
}

fn headers_block(headers: &std::collections::BTreeMap<String, String>) -> Markup {
    html! {
        @if headers.is_empty() {
            p.muted { "None kept." }
        } @else {
            dl.traffic-headers {
                @for (name, value) in headers {
                    dt { (name) } dd { code { (value) } }
                }
            }
        }
    }
}

fn body_block(body: &JournalBody) -> Markup {
    html! {
        @match body {
            JournalBody::Empty => p.muted { "No body." },
            JournalBody::Form(pairs) => {
                p.muted { "Form (application/x-www-form-urlencoded)" }
                dl.traffic-headers {
                    @for (name, value) in pairs {
                        dt { (name) } dd { code { (value) } }
                    }
                }
            }
            JournalBody::Json(value) => {
                // A `Value` always serializes.
                pre.traffic-body { code { (serde_json::to_string_pretty(value).unwrap_or_default()) } }
            }
            JournalBody::Text(text) => pre.traffic-body { code { (text) } },
            JournalBody::Binary { length } => p.muted { "Binary, " (length) " bytes." },
            JournalBody::Omitted { length } => p.muted {
                (length) " bytes: larger than the journal keeps (" (fake_core::MAX_JOURNALED_BODY / 1024) " KiB)."
            },
        }
    }
}

/// A POST that carries only the CSRF token.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClearForm {
    csrf: String,
}

/// `POST /traffic/clear`: the admin API's `DELETE /journal`, then the page again.
async fn clear(State(demo): State<Arc<Demo>>, Form(form): Form<ClearForm>) -> Response {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return app::csrf_refused();
    }
    let answer = demo
        .admin()
        .call(Method::DELETE, "/journal", Bytes::new())
        .await;
    let status = answer.status();
    let body = answer
        .into_body()
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes)
        .unwrap_or_default();
    let cleared = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|body| body.get("cleared").and_then(serde_json::Value::as_u64));
    match cleared {
        Some(cleared) if status.is_success() => {
            app::see_other(&format!("/traffic?cleared={cleared}"))
        }
        _ => app::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("The admin API did not clear the journal (HTTP {status})."),
        ),
    }
}
