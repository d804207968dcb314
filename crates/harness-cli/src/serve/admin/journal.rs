//! `GET /journal`: the redacted journal as a JSON array, filtered by `host`, `status` (`403`
//! or a class, `4xx`) and `since` (a sequence number: entries after it; or an RFC 3339 time:
//! entries received from then on). `?follow` streams matching entries as server-sent events
//! (`id:` the sequence, `data:` the entry), the ones so far first, until the client leaves or
//! `serve` stops.

use bytes::Bytes;
use fake_core::JournalEntry;
use http::{Request, Response, StatusCode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Admin, AdminBody, AdminError, json_response};

/// The query parameters `GET /journal` takes.
const PARAMETERS: &str = "`host`, `status`, `since` and `follow`";

/// Which entries a request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct JournalFilter {
    host: Option<String>,
    status: Option<StatusFilter>,
    since: Option<Since>,
    follow: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StatusFilter {
    Exact(u16),
    /// `4xx`: the hundreds digit.
    Class(u16),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Since {
    Sequence(u64),
    Time(OffsetDateTime),
}

impl JournalFilter {
    /// Parses a query string, naming the parameter at fault.
    pub(crate) fn parse(query: Option<&str>) -> Result<JournalFilter, String> {
        let mut filter = JournalFilter::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*key {
                "host" => filter.host = Some(value.to_ascii_lowercase()),
                "status" => filter.status = Some(parse_status(&value)?),
                "since" => filter.since = Some(parse_since(&value)?),
                "follow" => {
                    filter.follow = match &*value {
                        "" | "true" | "1" => true,
                        "false" | "0" => false,
                        other => {
                            return Err(format!(
                                "`follow` is true or false, not {:?}",
                                fake_core::echo(other)
                            ));
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "unknown journal parameter {:?}; the journal takes {PARAMETERS}",
                        fake_core::echo(other)
                    ));
                }
            }
        }
        Ok(filter)
    }

    /// Whether `entry` is one of those asked for.
    pub(crate) fn matches(&self, entry: &JournalEntry) -> bool {
        let host = self
            .host
            .as_ref()
            .is_none_or(|host| entry.host.eq_ignore_ascii_case(host));
        let status = self.status.is_none_or(|status| match status {
            StatusFilter::Exact(code) => entry.status == code,
            StatusFilter::Class(class) => entry.status / 100 == class,
        });
        let since = self.since.is_none_or(|since| match since {
            Since::Sequence(after) => entry.sequence > after,
            Since::Time(from) => OffsetDateTime::parse(&entry.received_at, &Rfc3339)
                .is_ok_and(|received| received >= from),
        });
        host && status && since
    }

    /// Whether the entries are to be streamed.
    pub(crate) fn follow(&self) -> bool {
        self.follow
    }
}

fn parse_status(value: &str) -> Result<StatusFilter, String> {
    let bad = || {
        format!(
            "`status` is a status code (403) or a class (4xx), not {:?}",
            fake_core::echo(value)
        )
    };
    match value.as_bytes() {
        [class @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] => {
            Ok(StatusFilter::Class(u16::from(class - b'0')))
        }
        _ => value
            .parse::<u16>()
            .ok()
            .filter(|code| (100..=599).contains(code))
            .map(StatusFilter::Exact)
            .ok_or_else(bad),
    }
}

fn parse_since(value: &str) -> Result<Since, String> {
    if let Ok(sequence) = value.parse::<u64>() {
        return Ok(Since::Sequence(sequence));
    }
    OffsetDateTime::parse(value, &Rfc3339)
        .map(Since::Time)
        .map_err(|_| {
            format!(
                "`since` is a sequence number (entries after it) or an RFC 3339 time, not {:?}",
                fake_core::echo(value)
            )
        })
}

/// `GET /journal`.
pub(super) fn get(
    admin: &Admin,
    request: &Request<Bytes>,
) -> Result<Response<AdminBody>, AdminError> {
    let filter = JournalFilter::parse(request.uri().query())
        .map_err(|message| AdminError::new(StatusCode::BAD_REQUEST, "InvalidQuery", message))?;
    if filter.follow() {
        return Err(AdminError::new(
            StatusCode::NOT_IMPLEMENTED,
            "NotImplemented",
            "this serve cannot follow its journal yet".to_owned(),
        ));
    }
    let entries: Vec<JournalEntry> = admin
        .journal
        .entries()
        .into_iter()
        .filter(|entry| filter.matches(entry))
        .collect();
    Ok(json_response(StatusCode::OK, &entries))
}
