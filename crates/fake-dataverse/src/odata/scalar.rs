//! Typed values for `$filter` and `$orderby`: how a row's JSON value compares with a literal or
//! with another row's value, the way SQL Server under Dataverse compares them. Start at
//! [`view`] and [`compare`]. Invariant: nothing here allocates per row.
//!
//! Choices (each mirrors SQL Server with Dataverse's default collation `Latin1_General_CI_AI`):
//! text compares case-insensitively (Unicode simple lowercase, not accent-insensitive) with
//! trailing spaces ignored (ANSI padding); GUIDs order like `uniqueidentifier` (`SqlGuid`).

use std::cmp::Ordering;

use serde_json::Value;
use uuid::Uuid;

use crate::schema::{ColumnDefinition, ColumnKind};

/// How the engine reads and compares a column's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ColumnType {
    /// `Edm.String`: compared case-insensitively.
    Text,
    /// `Edm.Int32` / `Edm.Int64` (whole numbers, choices, state and status).
    Integer,
    /// `Edm.Decimal` / `Edm.Double` (decimal, money, float).
    Number,
    /// `Edm.Boolean`.
    Boolean,
    /// `Edm.DateTimeOffset`: RFC 3339 strings in rows.
    DateTime,
    /// `Edm.Guid`: keys, lookups, owners and unique identifiers.
    Guid,
}

impl ColumnType {
    /// The type the engine uses for `column`.
    pub(crate) fn of(column: &ColumnDefinition) -> ColumnType {
        match column.kind {
            ColumnKind::PrimaryKey
            | ColumnKind::Uniqueidentifier
            | ColumnKind::Lookup { .. }
            | ColumnKind::Owner => ColumnType::Guid,
            ColumnKind::String { .. } | ColumnKind::Memo { .. } => ColumnType::Text,
            ColumnKind::Integer
            | ColumnKind::BigInt
            | ColumnKind::Picklist { .. }
            | ColumnKind::State { .. }
            | ColumnKind::Status { .. } => ColumnType::Integer,
            ColumnKind::Decimal | ColumnKind::Double | ColumnKind::Money => ColumnType::Number,
            ColumnKind::Boolean => ColumnType::Boolean,
            ColumnKind::DateTime => ColumnType::DateTime,
        }
    }
}

/// A point in time: seconds since 1970-01-01T00:00:00Z and the nanoseconds within that second.
/// Dataverse dates span 1753–9999, beyond what nanoseconds in an `i64` can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant {
    seconds: i64,
    nanos: u32,
}

/// A literal converted to the type of the column it is compared with.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar {
    /// Text, kept as written (compared case-insensitively).
    Text(String),
    /// A whole number.
    Integer(i64),
    /// A number with a fraction or exponent.
    Number(f64),
    /// `true` / `false`.
    Boolean(bool),
    /// A date (midnight UTC) or date-time.
    DateTime(Instant),
    /// A GUID.
    Guid(Uuid),
}

/// A row's value of one column, borrowed from the row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum View<'r> {
    /// Text.
    Text(&'r str),
    /// A whole number.
    Integer(i64),
    /// Any other number.
    Number(f64),
    /// A boolean.
    Boolean(bool),
    /// A parsed date-time.
    DateTime(Instant),
    /// A parsed GUID.
    Guid(Uuid),
}

/// Reads `value` as a `column_type` value; `None` for null, a missing property, or a value of
/// another JSON type (data the fake cannot compare is treated like SQL `NULL`).
pub(crate) fn view(value: Option<&Value>, column_type: ColumnType) -> Option<View<'_>> {
    match (value?, column_type) {
        (Value::String(text), ColumnType::Text) => Some(View::Text(text)),
        (Value::Number(number), ColumnType::Integer | ColumnType::Number) => {
            match number.as_i64() {
                Some(integer) => Some(View::Integer(integer)),
                None => number.as_f64().map(View::Number),
            }
        }
        (Value::Bool(flag), ColumnType::Boolean) => Some(View::Boolean(*flag)),
        (Value::String(text), ColumnType::DateTime) => parse_date_time(text)
            .or_else(|| parse_date(text))
            .map(View::DateTime),
        (Value::String(text), ColumnType::Guid) => Uuid::try_parse(text).ok().map(View::Guid),
        _ => None,
    }
}

impl Scalar {
    /// The literal seen as a row value, so one comparison routine serves both.
    pub(crate) fn as_view(&self) -> View<'_> {
        match self {
            Scalar::Text(text) => View::Text(text),
            Scalar::Integer(integer) => View::Integer(*integer),
            Scalar::Number(number) => View::Number(*number),
            Scalar::Boolean(flag) => View::Boolean(*flag),
            Scalar::DateTime(instant) => View::DateTime(*instant),
            Scalar::Guid(guid) => View::Guid(*guid),
        }
    }
}

/// Orders two values of the same column type; `None` when the types differ (never for values
/// read through the same [`ColumnType`]).
pub(crate) fn compare(left: View<'_>, right: View<'_>) -> Option<Ordering> {
    match (left, right) {
        (View::Text(left), View::Text(right)) => Some(compare_text(left, right)),
        (View::Integer(left), View::Integer(right)) => Some(left.cmp(&right)),
        (View::Integer(left), View::Number(right)) => (left as f64).partial_cmp(&right),
        (View::Number(left), View::Integer(right)) => left.partial_cmp(&(right as f64)),
        (View::Number(left), View::Number(right)) => left.partial_cmp(&right),
        (View::Boolean(left), View::Boolean(right)) => Some(left.cmp(&right)),
        (View::DateTime(left), View::DateTime(right)) => Some(left.cmp(&right)),
        (View::Guid(left), View::Guid(right)) => Some(compare_guid(&left, &right)),
        _ => None,
    }
}

/// Compares text like SQL Server's `=`/`<` under a case-insensitive collation: trailing spaces
/// are ignored and letters compare by their lowercase form. Accent-insensitivity and the
/// collation's punctuation weights are not reproduced.
pub(crate) fn compare_text(left: &str, right: &str) -> Ordering {
    let left = left.trim_end_matches(' ');
    let right = right.trim_end_matches(' ');
    if left.is_ascii() && right.is_ascii() {
        let left = left.bytes().map(|byte| byte.to_ascii_lowercase());
        let right = right.bytes().map(|byte| byte.to_ascii_lowercase());
        return left.cmp(right);
    }
    let left = left.chars().flat_map(char::to_lowercase);
    let right = right.chars().flat_map(char::to_lowercase);
    left.cmp(right)
}

/// `text` in the form [`compare_text`] compares: trailing spaces dropped, lowercased. Two
/// folded strings compare bytewise exactly as the originals compare with `compare_text`.
pub(crate) fn fold_text(text: &str) -> String {
    let text = text.trim_end_matches(' ');
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    text.chars().flat_map(char::to_lowercase).collect()
}

/// SQL Server's `uniqueidentifier` order (`System.Data.SqlTypes.SqlGuid.CompareTo`): the last
/// six bytes first, then bytes 8–9, 6–7, 4–5 and 0–3 of the mixed-endian .NET layout. Written
/// here over the RFC 4122 (big-endian) bytes `Uuid::as_bytes` returns.
pub(crate) fn compare_guid(left: &Uuid, right: &Uuid) -> Ordering {
    const ORDER: [usize; 16] = [10, 11, 12, 13, 14, 15, 8, 9, 7, 6, 5, 4, 3, 2, 1, 0];
    let (left, right) = (left.as_bytes(), right.as_bytes());
    ORDER
        .iter()
        .map(|&index| left[index].cmp(&right[index]))
        .find(|ordering| ordering.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Parses an OData `dateTimeOffsetValue`: `YYYY-MM-DDThh:mm[:ss[.fffffff]](Z|±hh:mm)`. A missing
/// offset is read as UTC, as Microsoft.OData's URI parser does.
pub(crate) fn parse_date_time(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    if bytes.len() < 16 || !matches!(bytes.get(10), Some(b'T' | b't')) {
        return None;
    }
    let date = parse_date(text.get(..10)?)?;
    let hour = two_digits(bytes, 11)?;
    if bytes[13] != b':' {
        return None;
    }
    let minute = two_digits(bytes, 14)?;
    let mut position = 16;
    let mut second = 0;
    let mut nanos = 0u32;
    if bytes.get(position) == Some(&b':') {
        second = two_digits(bytes, position + 1)?;
        position += 3;
        if bytes.get(position) == Some(&b'.') {
            position += 1;
            let start = position;
            let mut scale = 100_000_000u32;
            while let Some(digit) = bytes.get(position).filter(|byte| byte.is_ascii_digit()) {
                nanos += u32::from(digit - b'0') * scale;
                scale /= 10;
                position += 1;
            }
            if position == start {
                return None;
            }
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_seconds = match bytes.get(position) {
        None => 0,
        Some(b'Z' | b'z') if position + 1 == bytes.len() => 0,
        Some(&sign @ (b'+' | b'-')) if position + 6 == bytes.len() => {
            let offset_hour = two_digits(bytes, position + 1)?;
            let offset_minute = two_digits(bytes, position + 4)?;
            if bytes[position + 3] != b':' || offset_hour > 14 || offset_minute > 59 {
                return None;
            }
            let offset = offset_hour * 3600 + offset_minute * 60;
            if sign == b'+' { offset } else { -offset }
        }
        _ => return None,
    };
    Some(Instant {
        seconds: date.seconds + hour * 3600 + minute * 60 + second - offset_seconds,
        nanos,
    })
}

/// Parses `YYYY-MM-DD` as midnight UTC of that day.
pub(crate) fn parse_date(text: &str) -> Option<Instant> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = two_digits(bytes, 0)? * 100 + two_digits(bytes, 2)?;
    let month = two_digits(bytes, 5)?;
    let day = two_digits(bytes, 8)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    Some(Instant {
        seconds: days_from_civil(year, month, day) * 86_400,
        nanos: 0,
    })
}

fn two_digits(bytes: &[u8], at: usize) -> Option<i64> {
    match (bytes.get(at), bytes.get(at + 1)) {
        (Some(tens), Some(ones)) if tens.is_ascii_digit() && ones.is_ascii_digit() => {
            Some(i64::from(tens - b'0') * 10 + i64::from(ones - b'0'))
        }
        _ => None,
    }
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}
