//! `GET /world` (the current world as a world file: TOML, or `?format=json`) and
//! `POST /changes` (a JSON array of changes, applied all or nothing; 400 `InvalidChange` with
//! the index of the change at fault).

use bytes::Bytes;
use http::{Response, StatusCode};
use scenario::{Change, LiveWorld};
use serde_json::Value;

use super::{AdminBody, AdminError, body_response, json_response, parse_json};

/// `GET /world`.
pub(super) fn get(
    live: &LiveWorld,
    query: Option<&str>,
) -> Result<Response<AdminBody>, AdminError> {
    let mut json = false;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match (&*key, &*value) {
            ("format", "toml") => json = false,
            ("format", "json") => json = true,
            _ => {
                return Err(AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidQuery",
                    format!(
                        "`GET /world` takes only `format=toml` (the default) or `format=json`, \
                         not {:?}",
                        fake_core::echo(&format!("{key}={value}"))
                    ),
                ));
            }
        }
    }
    let text = live.world_toml();
    if !json {
        return Ok(body_response(
            StatusCode::OK,
            "text/toml; charset=utf-8",
            Bytes::from(text),
        ));
    }
    // The document is TOML that the world parser accepted, so it parses back.
    let table: toml::Table = toml::from_str(&text).map_err(|error| {
        AdminError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal",
            format!("the world document does not read back: {error}"),
        )
    })?;
    Ok(json_response(StatusCode::OK, &table))
}

/// `POST /changes`.
pub(super) async fn changes(
    live: &LiveWorld,
    body: &Bytes,
) -> Result<Response<AdminBody>, AdminError> {
    let items = match parse_json::<Value>(body)? {
        Value::Array(items) => items,
        _ => {
            return Err(AdminError::new(
                StatusCode::BAD_REQUEST,
                "InvalidJson",
                "the body is not a JSON array of changes".to_owned(),
            ));
        }
    };
    let changes = items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            serde_json::from_value::<Change>(item).map_err(|error| AdminError {
                index: Some(index),
                ..AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidChange",
                    format!("changes[{index}]: {error}"),
                )
            })
        })
        .collect::<Result<Vec<Change>, AdminError>>()?;
    let applied = super::apply(live, changes).await?;
    Ok(json_response(StatusCode::OK, &applied))
}
