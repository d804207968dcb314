//! The request journal: what every request asked and what it got, with secrets redacted before
//! anything is stored. Reports and snapshots are built from it.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http::HeaderValue;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;

use crate::echo;

/// The placeholder that replaces every secret the journal sees.
pub const REDACTED: &str = "[redacted]";

/// Form fields and JSON keys whose values are secrets.
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "assertion",
    "password",
    "refresh_token",
    "access_token",
    "id_token",
];

/// Request headers worth keeping; anything else (user agents, telemetry) is dropped. Sorted
/// (`keep_request_headers` searches it).
const KEPT_REQUEST_HEADERS: &[&str] = &[
    "accept",
    "authorization",
    "client-request-id",
    "content-type",
    "if-match",
    "if-none-match",
    "odata-maxversion",
    "odata-version",
    "prefer",
    "x-client-sku",
];

/// Response headers worth keeping.
const KEPT_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "location",
    "preference-applied",
    "retry-after",
    "www-authenticate",
    "x-ms-request-id",
];

/// One request and its answer. It serializes to JSON and reads back to the same entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position in the journal, from 1.
    pub sequence: u64,
    /// When the request arrived, by the server's clock (RFC 3339).
    pub received_at: String,
    /// The service that answered (`entra`, `dataverse`), or `harness` for the server itself.
    pub service: String,
    /// The HTTP method.
    pub method: String,
    /// The host the client asked for.
    pub host: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// The kept request headers, secrets redacted.
    pub request_headers: BTreeMap<String, String>,
    /// The request body, secrets redacted.
    pub request_body: JournalBody,
    /// The response status code.
    pub status: u16,
    /// The kept response headers.
    pub response_headers: BTreeMap<String, String>,
    /// The response body, secrets redacted.
    pub response_body: JournalBody,
    /// The fault rule that produced or delayed the answer, if any.
    pub fault: Option<String>,
}

/// A request or response body as the journal keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum JournalBody {
    /// No body.
    Empty,
    /// An `application/x-www-form-urlencoded` body, in order.
    Form(Vec<(String, String)>),
    /// A JSON body.
    Json(Value),
    /// A text body (truncated to 4 KiB).
    Text(String),
    /// A body that is not text.
    Binary {
        /// Its length in bytes.
        length: usize,
    },
    /// A body too large to keep (a page of rows): only its length.
    Omitted {
        /// Its length in bytes.
        length: usize,
    },
}

/// Bodies larger than this are journaled as [`JournalBody::Omitted`]: the journal is for
/// seeing the exchange, and keeping every 5,000-row page would cost the server its memory.
pub const MAX_JOURNALED_BODY: usize = 64 * 1024;

impl JournalBody {
    /// Classifies and redacts a body by its content type.
    pub fn capture(content_type: Option<&str>, body: &[u8]) -> JournalBody {
        if body.is_empty() {
            return JournalBody::Empty;
        }
        if body.len() > MAX_JOURNALED_BODY {
            return JournalBody::Omitted { length: body.len() };
        }
        let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
        if content_type.starts_with("application/x-www-form-urlencoded")
            && let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        {
            return JournalBody::Form(redact_form(pairs));
        }
        if content_type.contains("json")
            && let Ok(mut value) = serde_json::from_slice::<Value>(body)
        {
            redact_json(&mut value);
            return JournalBody::Json(value);
        }
        match std::str::from_utf8(body) {
            Ok(text) => {
                let mut end = text.len().min(4096);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                JournalBody::Text(text[..end].to_owned())
            }
            Err(_) => JournalBody::Binary { length: body.len() },
        }
    }
}

/// Replaces the values of secret form fields with `"[redacted]"`.
pub fn redact_form(pairs: Vec<(String, String)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(key, value)| {
            if is_secret_key(&key) {
                (key, REDACTED.to_owned())
            } else {
                (key, value)
            }
        })
        .collect()
}

/// Replaces, at any depth, the values of secret JSON keys with `"[redacted]"`.
pub fn redact_json(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if is_secret_key(key) {
                    *child = Value::String(REDACTED.to_owned());
                } else {
                    redact_json(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        _ => {}
    }
}

fn is_secret_key(key: &str) -> bool {
    SECRET_KEYS
        .iter()
        .any(|secret| key.eq_ignore_ascii_case(secret))
}

/// Keeps the journal's request headers (in name order), redacting credentials but keeping
/// their scheme. Values are copied: a request's own header bytes share hyper's read buffer,
/// which a kept reference would hold in memory for as long as the journal keeps the entry.
pub(crate) fn keep_request_headers(
    headers: &http::HeaderMap,
) -> Vec<(&'static str, Cow<'static, str>)> {
    // One pass over the few headers a request has, rather than a lookup (parse and hash of
    // the name) for each of the ten kept names.
    let mut kept: Vec<(&'static str, Cow<'static, str>)> = Vec::new();
    for (name, value) in headers {
        let Ok(position) = KEPT_REQUEST_HEADERS.binary_search(&name.as_str()) else {
            continue;
        };
        let name = KEPT_REQUEST_HEADERS[position];
        // A repeated header: the first value is the one kept.
        if kept.iter().any(|(kept_name, _)| *kept_name == name) {
            continue;
        }
        let value = if name == "authorization" {
            // Only the scheme is read: the credential after it (a 1.5 KB token) never is.
            match value.as_bytes().split(|byte| *byte == b' ').next() {
                Some(b"Bearer") => Cow::Borrowed("Bearer [redacted]"),
                Some(scheme) if scheme.len() < value.len() => {
                    Cow::Owned(format!("{} {REDACTED}", String::from_utf8_lossy(scheme)))
                }
                _ => Cow::Borrowed(REDACTED),
            }
        } else {
            Cow::Owned(String::from_utf8_lossy(value.as_bytes()).into_owned())
        };
        kept.push((name, value));
    }
    kept.sort_unstable_by_key(|(name, _)| *name);
    kept
}

/// Keeps the journal's response headers (in name order). The values are the answer's own,
/// which the handlers made: sharing them copies nothing.
pub(crate) fn keep_response_headers(headers: &http::HeaderMap) -> Vec<(&'static str, HeaderValue)> {
    KEPT_RESPONSE_HEADERS
        .iter()
        .filter_map(|name| Some((*name, headers.get(*name)?.clone())))
        .collect()
}

/// A journal entry as stored: the facts of a [`JournalEntry`] in a form that is cheap to make
/// and to drop on every request (the time as a value, header names by reference, bodies that
/// cannot hold a secret as the bytes sent). [`Record::entry`] makes the [`JournalEntry`]
/// readers get; it is the entry the request would have been journaled as.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) sequence: u64,
    pub(crate) received_at: time::OffsetDateTime,
    pub(crate) service: String,
    pub(crate) method: http::Method,
    pub(crate) host: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) request_headers: Vec<(&'static str, Cow<'static, str>)>,
    pub(crate) request_body: StoredBody,
    /// 0 until the answer is known.
    pub(crate) status: u16,
    pub(crate) response_headers: Vec<(&'static str, HeaderValue)>,
    pub(crate) response_body: StoredBody,
    pub(crate) fault: Option<String>,
}

impl Record {
    /// The entry as readers see it.
    pub(crate) fn entry(&self) -> JournalEntry {
        JournalEntry {
            sequence: self.sequence,
            received_at: self
                .received_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            service: self.service.clone(),
            method: self.method.as_str().to_owned(),
            host: self.host.clone(),
            path: self.path.clone(),
            query: self.query.clone(),
            request_headers: self
                .request_headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), value.clone().into_owned()))
                .collect(),
            request_body: self.request_body.read(),
            status: self.status,
            response_headers: self
                .response_headers
                .iter()
                .map(|(name, value)| {
                    (
                        (*name).to_owned(),
                        String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            response_body: self.response_body.read(),
            fault: self.fault.clone(),
        }
    }
}

/// A body as the journal stores it.
#[derive(Debug)]
pub(crate) enum StoredBody {
    /// Classified and redacted when stored.
    Captured(JournalBody),
    /// Bytes in which no secret can hide, classified when read: [`JournalBody::capture`] of
    /// them gives then what it would have given when they were stored, since its redaction
    /// has nothing to change in them. Parsing a JSON answer on every request only to keep it
    /// was a large part of a small request's cost.
    Deferred {
        content_type: Option<HeaderValue>,
        body: Bytes,
    },
}

impl StoredBody {
    /// Stores `body` sent with `content_type`: as bytes when [`may_hold_secret`] rules a
    /// secret out, else classified and redacted at once, so a secret is never stored.
    pub(crate) fn capture(content_type: Option<&HeaderValue>, body: &Bytes) -> StoredBody {
        if body.is_empty() || body.len() > MAX_JOURNALED_BODY || may_hold_secret(body) {
            let content_type = content_type.and_then(|value| value.to_str().ok());
            return StoredBody::Captured(JournalBody::capture(content_type, body));
        }
        StoredBody::Deferred {
            content_type: content_type.cloned(),
            body: body.clone(),
        }
    }

    /// The body as a [`JournalEntry`] shows it.
    pub(crate) fn read(&self) -> JournalBody {
        match self {
            StoredBody::Captured(body) => body.clone(),
            StoredBody::Deferred { content_type, body } => JournalBody::capture(
                content_type.as_ref().and_then(|value| value.to_str().ok()),
                body,
            ),
        }
    }
}

/// Parts of every name in [`SECRET_KEYS`]: a body without any of them (in any case) has no
/// secret key.
const SECRET_STEMS: &[&str] = &["secret", "assertion", "password", "token"];

/// Whether `body` may hold a secret [`JournalBody::capture`] would redact: it names one of
/// [`SECRET_STEMS`] in any case, or has a character that could spell one in disguise (a JSON
/// escape `\`, a form's `%`), or is not UTF-8 (then captured at once, which is cheap for it).
fn may_hold_secret(body: &[u8]) -> bool {
    if body.contains(&b'\\') || body.contains(&b'%') {
        return true;
    }
    // A lower-case copy searched with `str::contains` (vectorised): several times faster than
    // comparing at each letter, and an answer is at most `MAX_JOURNALED_BODY` long.
    let lowered = body.to_ascii_lowercase();
    let Ok(lowered) = std::str::from_utf8(&lowered) else {
        return true;
    };
    SECRET_STEMS.iter().any(|stem| lowered.contains(stem))
}

/// How many entries a [`Journal::subscribe`] receiver can fall behind before it misses some
/// (and gets [`broadcast::error::RecvError::Lagged`]).
pub const SUBSCRIBER_CAPACITY: usize = 1024;

/// A shared, append-only list of [`JournalEntry`]s, which also announces each new entry to its
/// subscribers.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    entries: Arc<Mutex<Stored>>,
    /// New entries, for [`Journal::subscribe`]. A broadcast channel never blocks the sender:
    /// a subscriber that falls behind loses the oldest entries, never slows the server.
    /// Made by the first [`Journal::subscribe`]: its buffer of [`SUBSCRIBER_CAPACITY`] slots is
    /// a third of a megabyte that most runs never use, and that every start-up paid for.
    announce: Arc<OnceLock<broadcast::Sender<JournalEntry>>>,
}

#[derive(Debug, Default)]
struct Stored {
    entries: VecDeque<Record>,
    /// The highest sequence number ever stored (kept across [`Journal::clear`]).
    last_sequence: u64,
}

/// Which entries [`Journal::query`] returns; every filter given must hold (none: every entry).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalQuery {
    /// Only requests for this host (case-insensitive).
    #[serde(default)]
    pub host: Option<String>,
    /// Only answers with this status code or class.
    #[serde(default)]
    pub status: Option<StatusFilter>,
    /// Only entries whose sequence number is greater than this.
    #[serde(default)]
    pub since: Option<u64>,
}

impl JournalQuery {
    /// Whether `entry` passes every filter of the query (to filter [`Journal::subscribe`]'s
    /// entries the way [`Journal::query`] filters the stored ones).
    pub fn matches(&self, entry: &JournalEntry) -> bool {
        self.matches_facts(&entry.host, entry.status, entry.sequence)
    }

    fn matches_facts(&self, host: &str, status: u16, sequence: u64) -> bool {
        self.host
            .as_deref()
            .is_none_or(|wanted| wanted.eq_ignore_ascii_case(host))
            && self.status.is_none_or(|wanted| wanted.matches(status))
            && self.since.is_none_or(|since| sequence > since)
    }
}

/// A filter on a response status: one code (`403`) or a class (`4xx`). It reads from and
/// writes to those strings ([`FromStr`](std::str::FromStr), `Display`, serde).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StatusFilter {
    /// Exactly this code, 100 to 599.
    Code(u16),
    /// Every code of this class: `4` for 400 to 499 (1 to 5).
    Class(u8),
}

impl StatusFilter {
    /// Whether `status` passes the filter.
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusFilter::Code(code) => status == code,
            StatusFilter::Class(class) => status / 100 == u16::from(class),
        }
    }
}

/// A string that is not a [`StatusFilter`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{value}` is not a status filter; use a status code from 100 to 599 like `403`, or a class from `1xx` to `5xx` like `4xx`"
)]
pub struct StatusFilterError {
    /// The value as given (shortened by [`echo`]).
    pub value: String,
}

impl std::str::FromStr for StatusFilter {
    type Err = StatusFilterError;

    fn from_str(text: &str) -> Result<StatusFilter, StatusFilterError> {
        let error = || StatusFilterError {
            value: echo(text).into_owned(),
        };
        let bytes = text.as_bytes();
        if let [class @ b'1'..=b'5', x, y] = bytes
            && x.eq_ignore_ascii_case(&b'x')
            && y.eq_ignore_ascii_case(&b'x')
        {
            return Ok(StatusFilter::Class(class - b'0'));
        }
        // Only plain digits: `u16::from_str` would also take `+403`.
        if bytes.len() == 3 && bytes.iter().all(u8::is_ascii_digit) {
            let code: u16 = text.parse().map_err(|_| error())?;
            if (100..=599).contains(&code) {
                return Ok(StatusFilter::Code(code));
            }
        }
        Err(error())
    }
}

impl std::fmt::Display for StatusFilter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusFilter::Code(code) => write!(formatter, "{code}"),
            StatusFilter::Class(class) => write!(formatter, "{class}xx"),
        }
    }
}

impl TryFrom<String> for StatusFilter {
    type Error = StatusFilterError;

    fn try_from(text: String) -> Result<StatusFilter, StatusFilterError> {
        text.parse()
    }
}

impl From<StatusFilter> for String {
    fn from(filter: StatusFilter) -> String {
        filter.to_string()
    }
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Journal {
        Journal::default()
    }

    /// A copy of every entry so far, in sequence order.
    pub fn entries(&self) -> Vec<JournalEntry> {
        self.query(&JournalQuery::default())
    }

    /// A copy of the entries that pass `query`, in sequence order.
    ///
    /// Entries are stored when their answer is complete, and sequence numbers are given when
    /// requests arrive, so a slow request can be stored after a later one: polling with
    /// `since` set to the last sequence seen can miss it. To follow the journal without gaps,
    /// [`Journal::subscribe`] first, then query what was stored before.
    pub fn query(&self, query: &JournalQuery) -> Vec<JournalEntry> {
        let mut entries: Vec<JournalEntry> = self
            .lock()
            .entries
            .iter()
            .filter(|record| query.matches_facts(&record.host, record.status, record.sequence))
            .map(Record::entry)
            .collect();
        entries.sort_by_key(|entry| entry.sequence);
        entries
    }

    /// The highest sequence number stored so far, 0 when nothing ever was. [`Journal::clear`]
    /// does not reset it (sequence numbers keep counting).
    pub fn last_sequence(&self) -> u64 {
        self.lock().last_sequence
    }

    /// A receiver of every entry stored from now on, in the order they are stored. A receiver
    /// that falls more than [`SUBSCRIBER_CAPACITY`] entries behind gets
    /// [`broadcast::error::RecvError::Lagged`] (with how many it missed) and then goes on from
    /// the oldest entry still buffered; the server never waits for a subscriber.
    pub fn subscribe(&self) -> broadcast::Receiver<JournalEntry> {
        self.announce
            .get_or_init(|| broadcast::Sender::new(SUBSCRIBER_CAPACITY))
            .subscribe()
    }

    /// Forgets every entry (sequence numbers keep counting).
    pub fn clear(&self) {
        self.lock().entries.clear();
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().entries.is_empty()
    }

    /// Appends an entry, dropping the oldest ones beyond `capacity`, then announces it.
    pub(crate) fn push_bounded(&self, record: Record, capacity: usize) {
        // Without subscribers there is nothing to make the entry for.
        let announce = self
            .announce
            .get()
            .filter(|announce| announce.receiver_count() > 0);
        let announced = announce.map(|announce| (announce, record.entry()));
        let mut stored = self.lock();
        stored.last_sequence = stored.last_sequence.max(record.sequence);
        stored.entries.push_back(record);
        // The oldest entry is dropped after the lock is released: freeing it is most of the
        // cost of a push, and other requests wait for the lock meanwhile.
        let oldest = (stored.entries.len() > capacity)
            .then(|| stored.entries.pop_front())
            .flatten();
        while stored.entries.len() > capacity {
            stored.entries.pop_front();
        }
        // Sent under the lock, so subscribers get entries in the order they are stored, and
        // after storing, so a subscriber that then queries finds the entry; `send` never waits.
        if let Some((announce, entry)) = announced {
            // An error only means every subscriber has just gone: nothing to do.
            let _ = announce.send(entry);
        }
        drop(stored);
        drop(oldest);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stored> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_secrets_are_redacted_and_order_kept() {
        let body =
            b"client_id=abc&client_secret=s3cr3t&scope=x%2F.default&grant_type=client_credentials";
        let captured = JournalBody::capture(Some("application/x-www-form-urlencoded"), body);
        let JournalBody::Form(pairs) = captured else {
            panic!("expected a form, got {captured:?}");
        };
        assert_eq!(
            pairs,
            vec![
                ("client_id".to_owned(), "abc".to_owned()),
                ("client_secret".to_owned(), REDACTED.to_owned()),
                ("scope".to_owned(), "x/.default".to_owned()),
                ("grant_type".to_owned(), "client_credentials".to_owned()),
            ]
        );
    }

    #[test]
    fn json_secrets_are_redacted_at_any_depth() {
        let body =
            br#"{"token_type":"Bearer","access_token":"eyJ.x.y","nested":[{"client_secret":"s"}]}"#;
        let captured = JournalBody::capture(Some("application/json; charset=utf-8"), body);
        let text = serde_json::to_string(&captured).expect("serializable");
        assert!(!text.contains("eyJ.x.y"), "{text}");
        assert!(!text.contains("\"s\""), "{text}");
        assert!(text.contains("Bearer"), "{text}");
    }

    #[test]
    fn kept_request_headers_are_in_name_order_with_the_first_of_repeated_values() {
        assert!(KEPT_REQUEST_HEADERS.is_sorted());
        let mut headers = http::HeaderMap::new();
        headers.append("prefer", "odata.maxpagesize=10".parse().expect("valid"));
        headers.append("accept", "application/json".parse().expect("valid"));
        headers.append("prefer", "return=minimal".parse().expect("valid"));
        headers.append("x-unknown", "dropped".parse().expect("valid"));
        headers.append("authorization", "Bearer eyJ.x.y".parse().expect("valid"));
        assert_eq!(
            keep_request_headers(&headers),
            vec![
                ("accept", Cow::Borrowed("application/json")),
                ("authorization", Cow::Borrowed("Bearer [redacted]")),
                ("prefer", Cow::Borrowed("odata.maxpagesize=10")),
            ]
        );
    }

    #[test]
    fn authorization_keeps_only_its_scheme() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "authorization",
            "Basic YWJjOnNlY3JldA==".parse().expect("valid"),
        );
        headers.insert("user-agent", "python-requests/2".parse().expect("valid"));
        let kept = keep_request_headers(&headers);
        assert_eq!(
            kept,
            vec![("authorization", Cow::Borrowed("Basic [redacted]"))]
        );
    }

    #[test]
    fn large_bodies_keep_only_their_length() {
        let body = vec![b'a'; MAX_JOURNALED_BODY + 1];
        assert_eq!(
            JournalBody::capture(Some("application/json"), &body),
            JournalBody::Omitted {
                length: MAX_JOURNALED_BODY + 1
            }
        );
    }

    #[test]
    fn text_is_truncated_on_a_char_boundary() {
        let body = "é".repeat(3000);
        let JournalBody::Text(text) = JournalBody::capture(Some("text/plain"), body.as_bytes())
        else {
            panic!("expected text");
        };
        assert!(text.len() <= 4096);
    }

    fn record(sequence: u64, host: &str, status: u16) -> Record {
        Record {
            sequence,
            received_at: time::macros::datetime!(2026-01-01 00:00:00 UTC),
            service: "dataverse".into(),
            method: http::Method::GET,
            host: host.into(),
            path: "/api/data/v9.2/WhoAmI".into(),
            query: None,
            request_headers: Vec::new(),
            request_body: StoredBody::Captured(JournalBody::Empty),
            status,
            response_headers: Vec::new(),
            response_body: StoredBody::Captured(JournalBody::Empty),
            fault: None,
        }
    }

    fn entry(sequence: u64, host: &str, status: u16) -> JournalEntry {
        record(sequence, host, status).entry()
    }

    #[test]
    fn a_record_reads_back_as_the_entry_it_stands_for() {
        let mut record = record(7, "contoso.crm.dynamics.com", 200);
        record.query = Some("$top=1".into());
        record.request_headers = vec![
            ("accept", Cow::Owned("application/json".into())),
            ("authorization", Cow::Borrowed("Bearer [redacted]")),
        ];
        record.response_headers = vec![(
            "content-type",
            HeaderValue::from_static("application/json; odata.metadata=minimal"),
        )];
        record.response_body = StoredBody::capture(
            Some(&HeaderValue::from_static("application/json")),
            &Bytes::from_static(br#"{"UserId":"2138bd90"}"#),
        );
        record.fault = Some("slow".into());
        assert_eq!(
            record.entry(),
            JournalEntry {
                sequence: 7,
                received_at: "2026-01-01T00:00:00Z".into(),
                service: "dataverse".into(),
                method: "GET".into(),
                host: "contoso.crm.dynamics.com".into(),
                path: "/api/data/v9.2/WhoAmI".into(),
                query: Some("$top=1".into()),
                request_headers: BTreeMap::from([
                    ("accept".into(), "application/json".into()),
                    ("authorization".into(), "Bearer [redacted]".into()),
                ]),
                request_body: JournalBody::Empty,
                status: 200,
                response_headers: BTreeMap::from([(
                    "content-type".into(),
                    "application/json; odata.metadata=minimal".into()
                )]),
                response_body: JournalBody::Json(serde_json::json!({"UserId": "2138bd90"})),
                fault: Some("slow".into()),
            }
        );
    }

    #[test]
    fn every_secret_key_contains_a_stem_the_byte_check_looks_for() {
        for key in SECRET_KEYS {
            assert!(SECRET_STEMS.iter().any(|stem| key.contains(stem)), "{key}");
        }
    }

    #[test]
    fn bodies_that_may_hold_a_secret_are_redacted_before_they_are_stored() {
        for (content_type, body) in [
            ("application/json", r#"{"access_token":"eyJ.x.y"}"#),
            ("application/json", r#"{"Access_Token":"eyJ.x.y"}"#),
            ("application/json", r#"{"access\u005ftoken":"eyJ.x.y"}"#),
            (
                "application/json",
                r#"{"nested":[{"CLIENT_SECRET":"eyJ.x.y"}]}"#,
            ),
            (
                "application/x-www-form-urlencoded",
                "client%5Fsecret=eyJ.x.y",
            ),
            ("application/x-www-form-urlencoded", "Password=eyJ.x.y"),
        ] {
            let stored = StoredBody::capture(
                Some(&HeaderValue::from_static(content_type)),
                &Bytes::from(body),
            );
            let StoredBody::Captured(captured) = &stored else {
                panic!("stored as bytes: {body}");
            };
            let text = serde_json::to_string(captured).expect("serializable");
            assert!(!text.contains("eyJ.x.y"), "{body}: {text}");
        }
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// Whether stored as bytes or at once, a body reads back as `JournalBody::capture`
        /// makes it, and what is stored as bytes has nothing to redact.
        #[test]
        fn a_stored_body_reads_back_as_captured(
            content_type in proptest::prop_oneof![
                proptest::strategy::Just("application/json"),
                proptest::strategy::Just("application/x-www-form-urlencoded"),
                proptest::strategy::Just("text/plain"),
                proptest::strategy::Just("application/octet-stream"),
            ],
            body in proptest::prop_oneof![
                "[{}\\[\\]\":, a-zA-Z0-9_%\\\\]{0,80}",
                "\\{\"(access_token|Client_Secret|name|t0ken)\":\"[a-z]{0,8}\"\\}",
                "(client_secret|scope|pass%77ord)=[a-z%]{0,8}(&grant_type=x)?",
                proptest::collection::vec(proptest::num::u8::ANY, 0..40)
                    .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
            ],
        ) {
            let header = HeaderValue::from_static(content_type);
            let bytes = Bytes::from(body.clone());
            let stored = StoredBody::capture(Some(&header), &bytes);
            let expected = JournalBody::capture(Some(content_type), &bytes);
            proptest::prop_assert_eq!(stored.read(), expected.clone());
            if let StoredBody::Deferred { .. } = stored {
                let mut redacted = expected.clone();
                match &mut redacted {
                    JournalBody::Json(value) => redact_json(value),
                    JournalBody::Form(pairs) => *pairs = redact_form(pairs.clone()),
                    _ => {}
                }
                proptest::prop_assert_eq!(redacted, expected);
                proptest::prop_assert!(!body.to_ascii_lowercase().contains("secret"));
            }
        }
    }

    fn sequences(entries: &[JournalEntry]) -> Vec<u64> {
        entries.iter().map(|entry| entry.sequence).collect()
    }

    fn sample_journal() -> Journal {
        let journal = Journal::new();
        for record in [
            record(1, "login.microsoftonline.com", 200),
            record(3, "contoso.crm.dynamics.com", 403),
            record(2, "contoso.crm.dynamics.com", 200),
            record(4, "Contoso.CRM.dynamics.com", 429),
            record(5, "fabrikam.crm.dynamics.com", 503),
        ] {
            journal.push_bounded(record, 100);
        }
        journal
    }

    #[test]
    fn query_filters_by_host_case_insensitively_in_sequence_order() {
        let query = JournalQuery {
            host: Some("CONTOSO.crm.dynamics.com".into()),
            ..JournalQuery::default()
        };
        assert_eq!(sequences(&sample_journal().query(&query)), [2, 3, 4]);
    }

    #[test]
    fn query_filters_by_status_code_or_class() {
        let journal = sample_journal();
        let by_status = |status: &str| {
            let query = JournalQuery {
                status: Some(status.parse().expect("a status filter")),
                ..JournalQuery::default()
            };
            sequences(&journal.query(&query))
        };
        assert_eq!(by_status("403"), [3]);
        assert_eq!(by_status("4xx"), [3, 4]);
        assert_eq!(by_status("5XX"), [5]);
        assert_eq!(by_status("2xx"), [1, 2]);
        assert_eq!(by_status("404"), [] as [u64; 0]);
    }

    #[test]
    fn query_since_keeps_later_sequences_and_filters_combine() {
        let journal = sample_journal();
        let since = JournalQuery {
            since: Some(2),
            ..JournalQuery::default()
        };
        assert_eq!(sequences(&journal.query(&since)), [3, 4, 5]);
        let all = JournalQuery {
            host: Some("contoso.crm.dynamics.com".into()),
            status: Some(StatusFilter::Class(4)),
            since: Some(3),
        };
        assert_eq!(sequences(&journal.query(&all)), [4]);
        assert_eq!(
            sequences(&journal.query(&JournalQuery::default())),
            [1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn status_filters_parse_print_and_name_the_accepted_forms() {
        for (text, filter) in [
            ("403", StatusFilter::Code(403)),
            ("100", StatusFilter::Code(100)),
            ("599", StatusFilter::Code(599)),
            ("1xx", StatusFilter::Class(1)),
            ("4XX", StatusFilter::Class(4)),
            ("5xX", StatusFilter::Class(5)),
        ] {
            assert_eq!(text.parse::<StatusFilter>(), Ok(filter), "{text}");
            assert_eq!(
                filter.to_string().parse::<StatusFilter>(),
                Ok(filter),
                "{filter}"
            );
        }
        assert_eq!(StatusFilter::Class(4).to_string(), "4xx");
        for bad in [
            "", "4x", "6xx", "0xx", "099", "600", "+403", "4033", "40x", "abc",
        ] {
            let error = bad.parse::<StatusFilter>().expect_err(bad);
            assert_eq!(
                error.to_string(),
                format!(
                    "`{bad}` is not a status filter; use a status code from 100 to 599 like `403`, or a class from `1xx` to `5xx` like `4xx`"
                )
            );
        }
        let long = "9".repeat(10_000);
        let error = long.parse::<StatusFilter>().expect_err("too long");
        assert_eq!(error.value, echo(&long));
    }

    #[test]
    fn status_filters_and_queries_read_from_their_serialized_forms() {
        let query: JournalQuery =
            serde_json::from_str(r#"{"host":"a.example","status":"4xx","since":7}"#)
                .expect("valid query");
        assert_eq!(
            query,
            JournalQuery {
                host: Some("a.example".into()),
                status: Some(StatusFilter::Class(4)),
                since: Some(7),
            }
        );
        assert_eq!(
            serde_json::to_string(&StatusFilter::Code(429)).expect("serializable"),
            r#""429""#
        );
        let bad = serde_json::from_str::<JournalQuery>(r#"{"status":"4xy"}"#)
            .expect_err("not a filter")
            .to_string();
        assert!(bad.contains("`4xy` is not a status filter"), "{bad}");
    }

    #[test]
    fn entries_read_back_from_json() {
        let mut original = entry(9, "contoso.crm.dynamics.com", 200);
        original.query = Some("$top=1".into());
        original
            .request_headers
            .insert("authorization".into(), "Bearer [redacted]".into());
        original.request_body = JournalBody::Form(vec![("a".into(), "b".into())]);
        original.response_body = JournalBody::Json(serde_json::json!({"value": [1, "x"]}));
        original.fault = Some("fault #1".into());
        for body in [
            JournalBody::Text("hi".into()),
            JournalBody::Binary { length: 3 },
            JournalBody::Omitted { length: 70_000 },
            JournalBody::Empty,
        ] {
            let mut entry = original.clone();
            entry.request_body = body;
            let text = serde_json::to_string(&entry).expect("serializable");
            let read: JournalEntry = serde_json::from_str(&text).expect("reads back");
            assert_eq!(read, entry);
        }
    }

    #[test]
    fn last_sequence_is_the_highest_stored_and_survives_clear() {
        let journal = Journal::new();
        assert_eq!(journal.last_sequence(), 0);
        journal.push_bounded(record(4, "a.example", 200), 10);
        journal.push_bounded(record(3, "a.example", 200), 10);
        assert_eq!(journal.last_sequence(), 4);
        journal.clear();
        assert!(journal.is_empty());
        assert_eq!(journal.last_sequence(), 4);
    }

    #[test]
    fn capacity_drops_the_oldest_stored_entries() {
        let journal = Journal::new();
        for sequence in 1..=5 {
            journal.push_bounded(record(sequence, "a.example", 200), 3);
        }
        assert_eq!(sequences(&journal.entries()), [3, 4, 5]);
    }

    #[tokio::test]
    async fn subscribers_get_each_entry_after_it_is_stored_in_store_order() {
        let journal = Journal::new();
        journal.push_bounded(record(1, "a.example", 200), 10);
        let mut receiver = journal.subscribe();
        journal.push_bounded(record(3, "a.example", 200), 10);
        journal.push_bounded(record(2, "b.example", 500), 10);
        let first = receiver.recv().await.expect("an entry");
        assert_eq!(first.sequence, 3);
        // Already stored when announced.
        assert!(sequences(&journal.entries()).contains(&first.sequence));
        assert_eq!(
            receiver.recv().await.expect("an entry"),
            entry(2, "b.example", 500)
        );
        assert!(matches!(
            receiver.try_recv(),
            Err(broadcast::error::TryRecvError::Empty)
        ));
    }

    #[tokio::test]
    async fn a_slow_subscriber_lags_and_never_blocks_the_journal() {
        let journal = Journal::new();
        let mut slow = journal.subscribe();
        let extra = 10;
        let total = SUBSCRIBER_CAPACITY as u64 + extra;
        // Pushing more than the subscriber can buffer returns at once (nothing waits for it).
        for sequence in 1..=total {
            journal.push_bounded(record(sequence, "a.example", 200), 10_000);
        }
        assert_eq!(journal.len() as u64, total);
        assert_eq!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(extra))
        );
        // It goes on from the oldest entry still buffered.
        assert_eq!(slow.recv().await.expect("an entry").sequence, extra + 1);
    }

    proptest::proptest! {
        /// Any text is either a status filter that prints back to an equivalent text and
        /// matches what its form says, or refused with the message naming the accepted forms.
        #[test]
        fn status_filters_parse_exactly_codes_and_classes(text in "[0-9xX+ -]{0,4}|.{0,8}") {
            match text.parse::<StatusFilter>() {
                Ok(filter) => {
                    proptest::prop_assert_eq!(filter.to_string(), text.to_ascii_lowercase());
                    for status in 100u16..600 {
                        let expected = match filter {
                            StatusFilter::Code(code) => status == code,
                            StatusFilter::Class(class) => {
                                text.as_bytes()[0] == b'0' + class && status / 100 == u16::from(class)
                            }
                        };
                        proptest::prop_assert_eq!(filter.matches(status), expected);
                    }
                }
                Err(error) => {
                    let accepted = (text.len() == 3
                        && text.bytes().all(|b| b.is_ascii_digit())
                        && (100..=599).contains(&text.parse::<u16>().unwrap_or(0)))
                        || (text.len() == 3
                            && (b'1'..=b'5').contains(&text.as_bytes()[0])
                            && text[1..].eq_ignore_ascii_case("xx"));
                    proptest::prop_assert!(!accepted, "refused `{}`", text);
                    proptest::prop_assert_eq!(
                        error.to_string(),
                        format!(
                            "`{text}` is not a status filter; use a status code from 100 to 599 like `403`, or a class from `1xx` to `5xx` like `4xx`"
                        )
                    );
                }
            }
        }
    }
}
