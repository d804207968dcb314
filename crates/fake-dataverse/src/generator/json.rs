//! JSON writing for generated rows: [`Cell`], a value before it becomes JSON (words from the
//! lists stay borrowed), written straight into the response bytes.

use std::borrow::Cow;

use serde_json::Value;
use uuid::Uuid;

use super::{date_time_bytes, format_date_time};

/// A generated value before it becomes JSON: words from the lists stay borrowed.
#[derive(Debug, PartialEq)]
pub(super) enum Cell {
    Null,
    Bool(bool),
    Integer(i64),
    Number(f64),
    Text(Text),
    Guid(Uuid),
    DateTime(i64),
}

pub(super) type Text = Cow<'static, str>;

impl Cell {
    pub(super) fn into_value(self) -> Value {
        match self {
            Cell::Null => Value::Null,
            Cell::Bool(value) => Value::Bool(value),
            Cell::Integer(value) => Value::from(value),
            Cell::Number(value) => {
                serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
            }
            Cell::Text(text) => Value::String(text.into_owned()),
            Cell::Guid(id) => {
                let mut buffer = Uuid::encode_buffer();
                Value::String(id.hyphenated().encode_lower(&mut buffer).to_owned())
            }
            Cell::DateTime(seconds) => Value::String(format_date_time(seconds)),
        }
    }

    pub(super) fn write_json(&self, out: &mut Vec<u8>) {
        match self {
            Cell::Null => out.extend_from_slice(b"null"),
            Cell::Bool(true) => out.extend_from_slice(b"true"),
            Cell::Bool(false) => out.extend_from_slice(b"false"),
            Cell::Integer(value) => write_integer(out, *value),
            Cell::Number(value) if value.is_finite() => {
                // serde_json writes finite floats without failing; a Vec never fails to grow.
                let _ = serde_json::to_writer(&mut *out, value);
            }
            Cell::Number(_) => out.extend_from_slice(b"null"),
            Cell::Text(text) => write_json_string(out, text),
            Cell::Guid(id) => {
                let mut buffer = Uuid::encode_buffer();
                out.push(b'"');
                out.extend_from_slice(id.hyphenated().encode_lower(&mut buffer).as_bytes());
                out.push(b'"');
            }
            Cell::DateTime(seconds) => {
                out.push(b'"');
                out.extend_from_slice(&date_time_bytes(*seconds));
                out.push(b'"');
            }
        }
    }
}

pub(super) fn write_integer(out: &mut Vec<u8>, value: i64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = value.unsigned_abs();
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if value < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(&digits[at..]);
}

/// A JSON string literal, escaped as serde_json escapes it.
pub(super) fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let plain = text
        .bytes()
        .all(|byte| byte >= 0x20 && byte != b'"' && byte != b'\\');
    if plain {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, text);
    }
}
