//! The request journal: what every request asked and what it got, with secrets redacted before
//! anything is stored. Reports and snapshots are built from it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

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

/// Request headers worth keeping; anything else (user agents, telemetry) is dropped.
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

/// Replaces the values of secret form fields with [`REDACTED`].
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

/// Replaces, at any depth, the values of secret JSON keys with [`REDACTED`].
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

/// Keeps the journal's request headers, redacting credentials but keeping their scheme.
pub(crate) fn keep_request_headers(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    let mut kept = BTreeMap::new();
    for name in KEPT_REQUEST_HEADERS {
        let Some(value) = headers.get(*name) else {
            continue;
        };
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        let value = if *name == "authorization" {
            match value.split_once(' ') {
                Some((scheme, _)) => format!("{scheme} {REDACTED}"),
                None => REDACTED.to_owned(),
            }
        } else {
            value
        };
        kept.insert((*name).to_owned(), value);
    }
    kept
}

/// Keeps the journal's response headers.
pub(crate) fn keep_response_headers(headers: &http::HeaderMap) -> BTreeMap<String, String> {
    KEPT_RESPONSE_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?;
            Some((
                (*name).to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ))
        })
        .collect()
}

/// How many entries a [`Journal::subscribe`] receiver can fall behind before it misses some
/// (and gets [`broadcast::error::RecvError::Lagged`]).
pub const SUBSCRIBER_CAPACITY: usize = 1024;

/// A shared, append-only list of [`JournalEntry`]s, which also announces each new entry to its
/// subscribers.
#[derive(Clone, Debug)]
pub struct Journal {
    entries: Arc<Mutex<Stored>>,
    /// New entries, for [`Journal::subscribe`]. A broadcast channel never blocks the sender:
    /// a subscriber that falls behind loses the oldest entries, never slows the server.
    announce: broadcast::Sender<JournalEntry>,
}

#[derive(Debug, Default)]
struct Stored {
    entries: VecDeque<JournalEntry>,
    /// The highest sequence number ever stored (kept across [`Journal::clear`]).
    last_sequence: u64,
}

impl Default for Journal {
    fn default() -> Journal {
        Journal {
            entries: Arc::default(),
            announce: broadcast::Sender::new(SUBSCRIBER_CAPACITY),
        }
    }
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
        self.host
            .as_deref()
            .is_none_or(|host| host.eq_ignore_ascii_case(&entry.host))
            && self
                .status
                .is_none_or(|status| status.matches(entry.status))
            && self.since.is_none_or(|since| entry.sequence > since)
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
            .filter(|entry| query.matches(entry))
            .cloned()
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
        self.announce.subscribe()
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
    pub(crate) fn push_bounded(&self, entry: JournalEntry, capacity: usize) {
        // Without subscribers there is nothing to clone the entry for.
        let announced = (self.announce.receiver_count() > 0).then(|| entry.clone());
        let mut stored = self.lock();
        stored.last_sequence = stored.last_sequence.max(entry.sequence);
        stored.entries.push_back(entry);
        while stored.entries.len() > capacity {
            stored.entries.pop_front();
        }
        // Sent under the lock, so subscribers get entries in the order they are stored, and
        // after storing, so a subscriber that then queries finds the entry; `send` never waits.
        if let Some(entry) = announced {
            // An error only means every subscriber has just gone: nothing to do.
            let _ = self.announce.send(entry);
        }
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
    fn authorization_keeps_only_its_scheme() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "authorization",
            "Basic YWJjOnNlY3JldA==".parse().expect("valid"),
        );
        headers.insert("user-agent", "python-requests/2".parse().expect("valid"));
        let kept = keep_request_headers(&headers);
        assert_eq!(
            kept.get("authorization").map(String::as_str),
            Some("Basic [redacted]")
        );
        assert!(!kept.contains_key("user-agent"));
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

    fn entry(sequence: u64, host: &str, status: u16) -> JournalEntry {
        JournalEntry {
            sequence,
            received_at: "2026-01-01T00:00:00Z".into(),
            service: "dataverse".into(),
            method: "GET".into(),
            host: host.into(),
            path: "/api/data/v9.2/WhoAmI".into(),
            query: None,
            request_headers: BTreeMap::new(),
            request_body: JournalBody::Empty,
            status,
            response_headers: BTreeMap::new(),
            response_body: JournalBody::Empty,
            fault: None,
        }
    }

    fn sequences(entries: &[JournalEntry]) -> Vec<u64> {
        entries.iter().map(|entry| entry.sequence).collect()
    }

    fn sample_journal() -> Journal {
        let journal = Journal::new();
        for entry in [
            entry(1, "login.microsoftonline.com", 200),
            entry(3, "contoso.crm.dynamics.com", 403),
            entry(2, "contoso.crm.dynamics.com", 200),
            entry(4, "Contoso.CRM.dynamics.com", 429),
            entry(5, "fabrikam.crm.dynamics.com", 503),
        ] {
            journal.push_bounded(entry, 100);
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
        journal.push_bounded(entry(4, "a.example", 200), 10);
        journal.push_bounded(entry(3, "a.example", 200), 10);
        assert_eq!(journal.last_sequence(), 4);
        journal.clear();
        assert!(journal.is_empty());
        assert_eq!(journal.last_sequence(), 4);
    }

    #[test]
    fn capacity_drops_the_oldest_stored_entries() {
        let journal = Journal::new();
        for sequence in 1..=5 {
            journal.push_bounded(entry(sequence, "a.example", 200), 3);
        }
        assert_eq!(sequences(&journal.entries()), [3, 4, 5]);
    }

    #[tokio::test]
    async fn subscribers_get_each_entry_after_it_is_stored_in_store_order() {
        let journal = Journal::new();
        journal.push_bounded(entry(1, "a.example", 200), 10);
        let mut receiver = journal.subscribe();
        journal.push_bounded(entry(3, "a.example", 200), 10);
        journal.push_bounded(entry(2, "b.example", 500), 10);
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
            journal.push_bounded(entry(sequence, "a.example", 200), 10_000);
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
