//! `GET /clock` and `POST /clock/advance`: the fakes' time (token lifetimes, secret expiry,
//! throttle windows) and moving it forward by `{"seconds": N}`, `{"duration": "1h"}` or
//! `{"until": "<RFC 3339>"}`, the `advance_clock` change.

use bytes::Bytes;
use fake_core::Clock;
use http::{Response, StatusCode};
use scenario::Change;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Admin, AdminBody, AdminError, json_response, parse_json};

/// The body of `POST /clock/advance`: exactly one of its fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Advance {
    seconds: Option<i64>,
    duration: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    until: Option<OffsetDateTime>,
}

/// `GET /clock`: `{"now": "<RFC 3339>", "offset_seconds": N}`, the offset being how far the
/// clock has been moved from the system time.
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
pub(super) async fn advance(
    admin: &Admin,
    body: &Bytes,
) -> Result<Response<AdminBody>, AdminError> {
    let Advance {
        seconds,
        duration,
        until,
    } = parse_json(body)?;
    let change = Change::AdvanceClock {
        seconds,
        duration,
        until,
    };
    let live = admin.live.clone();
    super::off_runtime(move || live.apply(&[change]))
        .await?
        .map_err(|error| {
            let message = match error.field {
                Some(field) => format!("`{field}`: {}", error.reason),
                None => error.reason.to_string(),
            };
            AdminError::new(StatusCode::BAD_REQUEST, "InvalidAdvance", message)
        })?;
    Ok(now(admin.live.clock()))
}

/// The clock's time in RFC 3339.
pub(super) fn rfc3339(clock: &Clock) -> String {
    clock
        .now()
        .format(&Rfc3339)
        .unwrap_or_else(|_| clock.unix_seconds().to_string())
}
