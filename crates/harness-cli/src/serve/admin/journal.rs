//! `GET /journal`: the redacted journal as a JSON array, filtered by `host`, `status` (`403`
//! or a class, `4xx`) and `since` (the entries after a sequence number), fake-core's
//! `JournalQuery`. `?follow` streams the matching entries as server-sent events (`id:` the
//! sequence, `event: entry`, `data:` the entry as one JSON line), stored ones first, until the
//! client leaves or `serve` stops. [`EventStream::follow`] also feeds the demo's traffic view.

use std::collections::HashSet;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use fake_core::{Journal, JournalEntry, JournalQuery, StatusFilter};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use tokio::sync::{broadcast, mpsc};

use super::{Admin, AdminBody, AdminError, json_response};

/// The query parameters `GET /journal` takes.
const PARAMETERS: &str = "`host`, `status`, `since` and `follow`";

/// How often a followed journal sends a comment line when nothing happens: proxies keep the
/// stream open, and a client that left is noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Which entries a request asks for, and whether to follow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct JournalFilter {
    pub(crate) query: JournalQuery,
    pub(crate) follow: bool,
}

impl JournalFilter {
    /// Parses a query string, naming the parameter at fault.
    pub(crate) fn parse(query: Option<&str>) -> Result<JournalFilter, String> {
        let mut filter = JournalFilter::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*key {
                "host" => filter.query.host = Some(value.into_owned()),
                "status" => {
                    filter.query.status = Some(
                        value
                            .parse::<StatusFilter>()
                            .map_err(|error| format!("`status`: {error}"))?,
                    );
                }
                "since" => {
                    filter.query.since = Some(value.parse::<u64>().map_err(|_| {
                        format!(
                            "`since` is a sequence number (the entries after it), not {:?}",
                            fake_core::echo(&value)
                        )
                    })?);
                }
                "follow" => {
                    filter.follow = match &*value {
                        "" | "true" | "1" => true,
                        "false" | "0" => false,
                        other => {
                            return Err(format!(
                                "`follow` is true or false, not {:?}",
                                fake_core::echo(other)
                            ));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown journal parameter {:?}; the journal takes {PARAMETERS}",
                        fake_core::echo(other)
                    ));
                }
            }
        }
        Ok(filter)
    }
}

/// `GET /journal`.
pub(super) fn get(
    admin: &Admin,
    request: &Request<Bytes>,
) -> Result<Response<AdminBody>, AdminError> {
    let filter = JournalFilter::parse(request.uri().query())
        .map_err(|message| AdminError::new(StatusCode::BAD_REQUEST, "InvalidQuery", message))?;
    if filter.follow {
        return Ok(follow(admin, filter.query));
    }
    Ok(json_response(
        StatusCode::OK,
        &admin.live.journal().query(&filter.query),
    ))
}

/// The event stream of `query`'s entries: the stored ones, then each new one.
fn follow(admin: &Admin, query: JournalQuery) -> Response<AdminBody> {
    let stream = EventStream::follow(
        admin.live.journal(),
        query,
        admin.stopping.clone(),
        admin_event,
    );
    let mut response = Response::new(stream.boxed());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// What a followed journal has to say, for a renderer to write as an event.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Followed<'a> {
    /// A stored entry that matches the query.
    Entry(&'a JournalEntry),
    /// The follower fell behind and missed this many entries (the journal's subscriber
    /// buffer overflowed): it should read the journal again.
    Lagged(u64),
    /// Nothing happened for a while.
    KeepAlive,
}

/// The admin API's events: `entry` with the entry as JSON, `lagged` with the count missed.
fn admin_event(followed: Followed<'_>) -> Bytes {
    match followed {
        Followed::Entry(entry) => entry_event(entry),
        Followed::Lagged(missed) => {
            Bytes::from(format!("event: lagged\ndata: {{\"missed\":{missed}}}\n\n"))
        }
        Followed::KeepAlive => Bytes::from_static(b": keep-alive\n\n"),
    }
}

/// Sends the events to the response body until the client leaves, the journal goes away or
/// `stopping` turns true.
async fn forward(
    stored: Vec<JournalEntry>,
    mut subscription: broadcast::Receiver<JournalEntry>,
    query: JournalQuery,
    sender: mpsc::Sender<Bytes>,
    mut stopping: tokio::sync::watch::Receiver<bool>,
    render: impl Fn(Followed<'_>) -> Bytes,
) {
    let sent: HashSet<u64> = stored.iter().map(|entry| entry.sequence).collect();
    for entry in &stored {
        if sender.send(render(Followed::Entry(entry))).await.is_err() {
            return;
        }
    }
    let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
    keep_alive.tick().await;
    loop {
        let event = tokio::select! {
            received = subscription.recv() => match received {
                Ok(entry) if query.matches(&entry) && !sent.contains(&entry.sequence) => {
                    render(Followed::Entry(&entry))
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => render(Followed::Lagged(missed)),
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = keep_alive.tick() => render(Followed::KeepAlive),
            () = sender.closed() => return,
            _ = stopping.wait_for(|stop| *stop) => return,
        };
        if sender.send(event).await.is_err() {
            return;
        }
    }
}

/// One entry as a server-sent event.
pub(crate) fn entry_event(entry: &JournalEntry) -> Bytes {
    // An entry always serializes (strings, numbers and JSON values); one line keeps the
    // event's `data:` a single field.
    let data = serde_json::to_string(entry).unwrap_or_else(|_| "{}".to_owned());
    Bytes::from(format!(
        "id: {}\nevent: entry\ndata: {data}\n\n",
        entry.sequence
    ))
}

/// A response body fed by a channel: it ends when the sender does.
#[derive(Debug)]
pub(crate) struct EventStream {
    receiver: mpsc::Receiver<Bytes>,
}

impl EventStream {
    /// The events of `journal`'s entries that match `query`, as `render` writes them: those
    /// stored so far first, then each new one, until the client leaves or `stopping` turns
    /// true (the body then ends, so a graceful shutdown does not wait for it).
    pub(crate) fn follow(
        journal: &Journal,
        query: JournalQuery,
        stopping: tokio::sync::watch::Receiver<bool>,
        render: impl Fn(Followed<'_>) -> Bytes + Send + 'static,
    ) -> EventStream {
        // Subscribe before reading the stored entries, so that none falls between the two;
        // an entry in both is sent once.
        let subscription = journal.subscribe();
        let stored = journal.query(&query);
        let (sender, receiver) = mpsc::channel(64);
        tokio::spawn(forward(
            stored,
            subscription,
            query,
            sender,
            stopping,
            render,
        ));
        EventStream { receiver }
    }
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.receiver
            .poll_recv(context)
            .map(|event| event.map(|bytes| Ok(Frame::data(bytes))))
    }
}
