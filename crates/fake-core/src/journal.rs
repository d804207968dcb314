//! The request journal: what every request asked and what it got, with secrets redacted before
//! anything is stored. Reports and snapshots are built from it.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::Value;

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

/// One request and its answer.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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

/// A shared, append-only list of [`JournalEntry`]s.
#[derive(Clone, Debug, Default)]
pub struct Journal {
    entries: Arc<Mutex<VecDeque<JournalEntry>>>,
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Journal {
        Journal::default()
    }

    /// A copy of every entry so far, in arrival order of completion.
    pub fn entries(&self) -> Vec<JournalEntry> {
        let mut entries: Vec<JournalEntry> = self.lock().iter().cloned().collect();
        entries.sort_by_key(|entry| entry.sequence);
        entries
    }

    /// Forgets every entry (sequence numbers keep counting).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// How many entries there are.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the journal is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Appends an entry, dropping the oldest ones beyond `capacity`.
    pub(crate) fn push_bounded(&self, entry: JournalEntry, capacity: usize) {
        let mut entries = self.lock();
        entries.push_back(entry);
        while entries.len() > capacity {
            entries.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<JournalEntry>> {
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
}
