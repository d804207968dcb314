//! `GET /world` (the current world as a world file: TOML, or `?format=json`), `PUT /world`
//! (serve another world file, hosts included; 422 `InvalidWorld` with every error of the file)
//! and `POST /changes` (a JSON array of changes, applied all or nothing; 400 `InvalidChange`
//! with the index of the change at fault).

use std::path::PathBuf;

use bytes::Bytes;
use http::{Response, StatusCode};
use scenario::{Change, LiveWorld, ServeError, World};
use serde_json::{Value, json};

use super::{AdminBody, AdminError, body_response, json_response, parse_json};
use crate::error_chain;

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

/// What an uploaded world is called when the request does not name it.
const UPLOADED_WORLD: &str = "uploaded-world.toml";

/// `PUT /world`: the body is a world file (TOML, whatever the `Content-Type`), loaded in place
/// of the current world with [`LiveWorld::load`]: fresh fakes for its hosts, its own
/// `[[faults]]` only (extra rules such as `serve --scenario`'s go with the old world), the
/// clock and journal left as they are, and `POST /reset` coming back to it from then on.
/// `?name=<file name>` names it in messages and `GET /world` (default `uploaded-world.toml`);
/// files it names by relative path are read from `serve`'s working folder, so send a
/// standalone world (`d365-harness admin load` does). A file with errors changes nothing: 422
/// `InvalidWorld` with each error's message, and its line, column and dotted key when known.
pub(super) async fn load(
    live: &LiveWorld,
    query: Option<&str>,
    body: &Bytes,
) -> Result<Response<AdminBody>, AdminError> {
    let path = uploaded_name(query)?;
    let text = std::str::from_utf8(body).map_err(|_| {
        AdminError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBody",
            "the body is not UTF-8 text; `PUT /world` takes a world file (TOML)".to_owned(),
        )
    })?;
    let text = text.to_owned();
    let parse_path = path.clone();
    let world = super::off_runtime(move || World::parse_all(&text, parse_path))
        .await?
        .map_err(|errors| invalid_world(&path, &errors))?;
    let loader = live.clone();
    let loaded = super::off_runtime(move || {
        let loaded = loader.load(&world, &[]);
        loaded.map_err(|error| (error, world.path().to_owned()))
    })
    .await?
    .map_err(|(error, path)| match error {
        scenario::Error::Serve {
            source: ServeError::Listener(_),
            ..
        } => {
            tracing::error!(error = %error_chain(&error), "loading a world failed");
            AdminError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal",
                "the listener did not take the new world's hosts; serve's log says why".to_owned(),
            )
        }
        error => invalid_world(&path, std::slice::from_ref(&error)),
    })?;
    Ok(json_response(StatusCode::OK, &loaded))
}

/// The `name` of `PUT /world?name=...`: a file name without folders (it decides where relative
/// paths in the world resolve, which must stay `serve`'s working folder).
fn uploaded_name(query: Option<&str>) -> Result<PathBuf, AdminError> {
    let mut name = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let usable =
            !value.is_empty() && !value.contains(['/', '\\']) && value != ".." && value != ".";
        match &*key {
            "name" if usable => name = Some(PathBuf::from(&*value)),
            _ => {
                return Err(AdminError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidQuery",
                    format!(
                        "`PUT /world` takes only `name=<file name>` (no folders), not {:?}",
                        fake_core::echo(&format!("{key}={value}"))
                    ),
                ));
            }
        }
    }
    Ok(name.unwrap_or_else(|| PathBuf::from(UPLOADED_WORLD)))
}

/// 422 `InvalidWorld`: the first error as the message, all of them in `errors`.
fn invalid_world(path: &std::path::Path, errors: &[scenario::Error]) -> AdminError {
    let details: Vec<Value> = errors.iter().map(error_details).collect();
    let first = details
        .first()
        .and_then(|detail| detail["message"].as_str())
        .unwrap_or("the world file is not valid")
        .to_owned();
    let more = match errors.len() {
        0 | 1 => String::new(),
        count => format!(" (and {} more)", count - 1),
    };
    AdminError {
        errors: Some(details),
        ..AdminError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "InvalidWorld",
            format!("world `{}` does not load: {first}{more}", path.display()),
        )
    }
}

/// One error of a world file as `{"message"[, "line", "column"][, "key"]}`.
fn error_details(error: &scenario::Error) -> Value {
    match error {
        scenario::Error::Invalid {
            location,
            key,
            reason,
            ..
        } => json!({
            "message": format!(
                "line {}, column {}: `{key}`: {}",
                location.line,
                location.column,
                error_chain(reason.as_ref())
            ),
            "line": location.line,
            "column": location.column,
            "key": key,
        }),
        scenario::Error::Parse {
            location: Some(location),
            source,
            ..
        } => json!({
            "message": format!("line {}, column {}: {source}", location.line, location.column),
            "line": location.line,
            "column": location.column,
        }),
        other => json!({ "message": error_chain(other) }),
    }
}
