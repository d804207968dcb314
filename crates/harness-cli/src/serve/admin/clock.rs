//! `GET /clock` and `POST /clock/advance`: the fakes' time (token lifetimes, secret expiry,
//! throttle windows) and moving it forward by `{"seconds": N}` or `{"duration": "1h"}`.

use bytes::Bytes;
use fake_core::Clock;
use http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;
use time::format_description::well_known::Rfc3339;

use super::{AdminBody, AdminError, json_response, parse_json};

/// The body of `POST /clock/advance`: exactly one of its fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: Option<i64>,
    duration: Option<String>,
}

/// `GET /clock`: `{"now": "<RFC 3339>", "offset_seconds": N}`, the offset being how far the
/// clock has been moved since `serve` started (or the last reset).
pub(super) fn now(clock: &Clock) -> Response<AdminBody> {
    json_response(
        StatusCode::OK,
        &json!({
            "now": rfc3339(clock),
            "offset_seconds": clock.offset().whole_seconds(),
        }),
    )
}

/// `POST /clock/advance`: moves the clock forward and answers its new time.
pub(super) fn advance(clock: &Clock, body: &Bytes) -> Result<Response<AdminBody>, AdminError> {
    let advance: Advance = parse_json(body)?;
    let by = match (advance.seconds, advance.duration.as_deref()) {
        (Some(seconds), None) if seconds >= 0 => time::Duration::seconds(seconds),
        (None, Some(text)) => match parse_duration(text) {
            Some(by) => by,
            None => {
                return Err(invalid(format!(
                    "`duration` {:?} is not a duration such as \"90s\", \"30m\", \"1h\", \
                     \"2d\" or \"1h30m\"",
                    fake_core::echo(text)
                )));
            }
        },
        (Some(_), None) => return Err(invalid("`seconds` must not be negative".to_owned())),
        _ => {
            return Err(invalid(
                "give exactly one of `seconds` (a number) and `duration` (\"1h\")".to_owned(),
            ));
        }
    };
    clock.advance(by).map_err(|error| {
        AdminError::new(
            StatusCode::CONFLICT,
            "ClockNotAdjustable",
            format!("this serve's clock cannot be moved: {error}"),
        )
    })?;
    Ok(now(clock))
}

fn invalid(message: String) -> AdminError {
    AdminError::new(StatusCode::BAD_REQUEST, "InvalidAdvance", message)
}

fn rfc3339(clock: &Clock) -> String {
    clock
        .now()
        .format(&Rfc3339)
        .unwrap_or_else(|_| clock.unix_seconds().to_string())
}

/// `"90s"`, `"30m"`, `"1h"`, `"2d"` and runs of them (`"1h30m"`); `None` for anything else,
/// an empty text, or an overflow.
pub(crate) fn parse_duration(text: &str) -> Option<time::Duration> {
    let mut total: i64 = 0;
    let mut number: Option<i64> = None;
    for character in text.trim().chars() {
        if let Some(digit) = character.to_digit(10) {
            number = Some(
                number
                    .unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(digit.into())?,
            );
            continue;
        }
        let unit = match character {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return None,
        };
        total = total.checked_add(number.take()?.checked_mul(unit)?)?;
    }
    if number.is_some() || text.trim().is_empty() {
        return None;
    }
    Some(time::Duration::seconds(total))
}
