//! The record `conformance` writes: per probe, the SHAPE of the answer (status, header names,
//! a few header values, JSON key paths with masked values, message templates), never a secret,
//! a token or a volatile value. Maps are `BTreeMap`s so that the JSON has a stable key order.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mask::Masker;

/// The version of the record layout; `diff` compares records of the same layout.
pub(crate) const FORMAT: u32 = 1;

/// Headers whose (masked) value is recorded besides their name: they describe the protocol,
/// not the moment.
const HEADER_VALUES: &[&str] = &[
    "cache-control",
    "content-type",
    "expires",
    "odata-version",
    "pragma",
    "preference-applied",
    "www-authenticate",
];

/// JSON keys whose numbers are times or otherwise differ on every answer.
const VOLATILE_NUMBERS: &[&str] = &["exp", "expires_on", "iat", "nbf", "not_before"];

/// Token claims whose (masked) value is recorded; the others are opaque per-token values
/// (`uti`, `aio`, `rh`), recorded by type.
const CLAIM_VALUES: &[&str] = &[
    "appid", "appidacr", "aud", "azp", "azpacr", "idp", "idtyp", "iss", "oid", "sub", "tid", "ver",
];

/// How long a non-JSON body's template may be.
const TEXT_LIMIT: usize = 500;

/// A whole run: every probe's record by name.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Record {
    /// [`FORMAT`].
    pub format: u32,
    /// Probe name → what it saw.
    pub probes: BTreeMap<String, ProbeRecord>,
}

/// What one probe saw.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct ProbeRecord {
    /// What the probe asks and which question it settles.
    pub about: String,
    /// The request, masked (`GET https://{environment_host}/api/data/v9.2/WhoAmI`).
    pub request: String,
    /// The HTTP status, when an answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Response header names, lower case, sorted, once each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<String>,
    /// Masked values of the headers in [`HEADER_VALUES`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub header_values: BTreeMap<String, String>,
    /// The body's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// The access token's claims (names, types, a few masked values), for the token probe.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub token_claims: BTreeMap<String, String>,
    /// Why no answer came (connection refused, TLS, timeout), masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_error: Option<String>,
    /// Why the probe did not run (a probe it needs failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// A body's shape.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Body {
    /// No bytes.
    Empty,
    /// JSON: key path (`error.code`, `value[].accountid`, arrays collapsed to `[]`) → `type`
    /// or `type: masked value`.
    Json {
        /// The paths and their descriptions.
        fields: BTreeMap<String, String>,
    },
    /// Anything else: the masked text, cut at [`TEXT_LIMIT`] characters.
    Text {
        /// The masked text.
        template: String,
    },
}

/// An answer as the probe received it.
#[derive(Debug)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// (name, value) pairs as received.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl ProbeRecord {
    /// The record of `answer` to `request`, masked by `masker`. The elements of a top-level
    /// `value` array are table rows: data, recorded by type only.
    pub(crate) fn of_answer(
        about: &str,
        request: &str,
        answer: &Answer,
        masker: &Masker,
    ) -> ProbeRecord {
        let mut headers: Vec<String> = answer
            .headers
            .iter()
            .map(|(name, _)| name.to_ascii_lowercase())
            .collect();
        headers.sort();
        headers.dedup();
        let mut header_values = BTreeMap::new();
        for (name, value) in &answer.headers {
            let name = name.to_ascii_lowercase();
            if HEADER_VALUES.contains(&name.as_str()) {
                header_values
                    .entry(name)
                    .and_modify(|known: &mut String| {
                        known.push_str(" | ");
                        known.push_str(&masker.mask(value));
                    })
                    .or_insert_with(|| masker.mask(value));
            }
        }
        ProbeRecord {
            about: about.to_owned(),
            request: masker.mask(request),
            status: Some(answer.status),
            headers,
            header_values,
            body: Some(body_shape(&answer.body, masker)),
            ..ProbeRecord::default()
        }
    }
}

impl ProbeRecord {
    /// The error code the body names: Entra's first `error_codes` entry (`AADSTS7000215`) or
    /// Dataverse's `error.code` (`0x80040220`).
    pub(crate) fn error_code(&self) -> Option<String> {
        let Some(Body::Json { fields }) = &self.body else {
            return None;
        };
        let value = |path: &str, prefix: &str| {
            let description = fields.get(path)?;
            let first = description.split(" | ").next()?;
            Some(first.strip_prefix(prefix)?.to_owned())
        };
        value("error_codes[]", "number: ")
            .map(|code| format!("AADSTS{code}"))
            .or_else(|| value("error.code", "string: "))
    }
}

/// The shape of a body: JSON when it parses as JSON, else masked text.
pub(crate) fn body_shape(body: &[u8], masker: &Masker) -> Body {
    if body.is_empty() {
        return Body::Empty;
    }
    if let Ok(json) = serde_json::from_slice::<Value>(body) {
        let mut fields = BTreeMap::new();
        json_fields(&json, "", false, masker, &mut fields);
        return Body::Json { fields };
    }
    let text = String::from_utf8_lossy(body);
    let mut template = masker.mask(&text);
    if let Some((cut, _)) = template.char_indices().nth(TEXT_LIMIT) {
        template.truncate(cut);
        template.push('…');
    }
    Body::Text { template }
}

/// Adds the leaves of `value` under `path` to `fields`. Inside a row (an element of a
/// top-level `value` array), values are data and only their types are kept.
fn json_fields(
    value: &Value,
    path: &str,
    in_row: bool,
    masker: &Masker,
    fields: &mut BTreeMap<String, String>,
) {
    let description = match value {
        Value::Object(object) if !object.is_empty() => {
            for (key, child) in object {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                json_fields(child, &child_path, in_row, masker, fields);
            }
            return;
        }
        Value::Array(items) if !items.is_empty() => {
            let child_path = format!("{path}[]");
            let row = in_row || path == "value";
            for item in items {
                json_fields(item, &child_path, row, masker, fields);
            }
            return;
        }
        Value::Object(_) => "object (empty)".to_owned(),
        Value::Array(_) => "array (empty)".to_owned(),
        Value::Null => "null".to_owned(),
        _ if in_row => type_name(value).to_owned(),
        Value::Number(_) if VOLATILE_NUMBERS.contains(&last_key(path)) => "number".to_owned(),
        Value::Number(number) => format!("number: {number}"),
        Value::Bool(flag) => format!("bool: {flag}"),
        Value::String(text) => format!("string: {}", masker.mask(text)),
    };
    merge(fields, path, description);
}

/// Records `description` at `path`; an array's elements that differ are joined with ` | `.
fn merge(fields: &mut BTreeMap<String, String>, path: &str, description: String) {
    match fields.get_mut(path) {
        Some(known) => {
            if !known.split(" | ").any(|seen| seen == description) {
                known.push_str(" | ");
                known.push_str(&description);
            }
        }
        None => {
            fields.insert(path.to_owned(), description);
        }
    }
}

fn last_key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The claims of the JWT `token`: claim → type, or `type: masked value` for the claims in
/// [`CLAIM_VALUES`]. Empty when the token is not a JWT with a JSON payload.
pub(crate) fn token_claims(token: &str, masker: &Masker) -> BTreeMap<String, String> {
    let mut claims = BTreeMap::new();
    let Some(payload) = token.split('.').nth(1) else {
        return claims;
    };
    let Ok(bytes) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload) else {
        return claims;
    };
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&bytes) else {
        return claims;
    };
    for (name, value) in &object {
        let description = match value {
            Value::String(text) if CLAIM_VALUES.contains(&name.as_str()) => {
                format!("string: {}", masker.mask(text))
            }
            Value::Array(items) => {
                let types: Vec<&str> = items.iter().map(type_name).collect();
                format!("array of {}", types.first().copied().unwrap_or("nothing"))
            }
            other => type_name(other).to_owned(),
        };
        claims.insert(name.clone(), description);
    }
    claims
}
