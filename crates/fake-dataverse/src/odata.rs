//! The OData query engine for entity-set reads, pure logic without HTTP: [`parse_query`] turns
//! the query string of `GET accounts?…` into a [`Query`] (validated against the table
//! definitions once), which then filters ([`Query::matches`]), orders (by [`orderby::SortKey`]) and
//! projects ([`Query::project`]) rows cheaply, many times. [`prefer::Prefer`], [`PagingCookie`] and
//! [`paging::next_link`] cover the paging headers and links. Errors are [`QueryError`]s carrying the
//! real service's wording; features this fake lacks fail with 501 and a message naming them.
//! Every recursion over client input spends the one [`depth::Depth`] budget, and every message
//! quotes client input through `fake_core::echo`.

pub(crate) mod depth;
pub(crate) mod filter;
pub(crate) mod orderby;
pub(crate) mod paging;
pub(crate) mod prefer;
#[cfg(test)]
mod props;
pub(crate) mod scalar;
pub(crate) mod select;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use fake_core::echo;
use serde_json::{Map, Value};

use self::filter::Filter;
use self::orderby::OrderBy;
use self::paging::PagingCookie;
use self::prefer::MAX_PAGE_SIZE;
use self::select::{Expand, Selection};
use crate::schema::TableDefinition;

/// A table row: Web API property name → JSON value (`_x_value` GUID strings for lookups,
/// RFC 3339 strings for dates, numbers, booleans, null for empty).
pub(crate) type Row = Map<String, Value>;

/// A query the fake answers with an OData error; the lead wraps it in
/// `{"error":{"code":…,"message":…}}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueryError {
    /// 400 for requests the real service rejects too; 501 for features this fake lacks.
    pub(crate) status: u16,
    /// The configured query error code ([`QueryOptions::error_code`]).
    pub(crate) code: String,
    /// The message, in the real service's wording where known.
    pub(crate) message: String,
}

impl fmt::Display for QueryError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl QueryError {
    /// A 400 with the configured code.
    pub(crate) fn bad_request(options: &QueryOptions, message: impl Into<String>) -> QueryError {
        QueryError {
            status: 400,
            code: options.error_code.clone(),
            message: message.into(),
        }
    }

    /// A 501 Not Implemented: OData 4.01 Part 1 §9.3.1 says a service answers functionality it
    /// does not implement with 501 and a body describing it. Used for what the real Dataverse
    /// supports and this fake does not, so a test never mistakes a fake gap for a client bug.
    pub(crate) fn not_implemented(
        options: &QueryOptions,
        message: impl Into<String>,
    ) -> QueryError {
        QueryError {
            status: 501,
            code: options.error_code.clone(),
            message: message.into(),
        }
    }

    /// Microsoft.OData's `Could not find a property named 'Name' on type
    /// 'Microsoft.Dynamics.CRM.account'.` (reference §8.6; names are case-sensitive).
    pub(crate) fn property_not_found(
        options: &QueryOptions,
        name: &str,
        table: &TableDefinition,
    ) -> QueryError {
        QueryError::bad_request(
            options,
            format!(
                "Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{}'.",
                table.logical_name,
                name = echo(name),
            ),
        )
    }
}

/// Switches for query answers whose real behaviour is UNCONFIRMED (reference §12.7).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct QueryOptions {
    /// The `code` of every query error: `0x80060888` (default; captures 2024–2026, e.g.
    /// `microsoft/Power-CAT-Copilot-Studio-Kit#584` for an incompatible-types error) or `0x0`
    /// (the Microsoft troubleshooting doc, and `rappen/FetchXMLBuilder#753` in 2022). Both
    /// codes have been seen for the same Microsoft.OData messages.
    pub(crate) error_code: String,
    /// Whether a GUID column may be compared with a quoted GUID (`_ownerid_value eq '…'`).
    /// Default `false`: Microsoft.OData rejects `Edm.Guid` against `Edm.String`, which is what
    /// third-party clients report from Dataverse, although one Microsoft doc example quotes
    /// the GUID (filter-rows, filtered collections) — UNCONFIRMED.
    pub(crate) quoted_guid_literals: bool,
}

impl Default for QueryOptions {
    fn default() -> QueryOptions {
        QueryOptions {
            error_code: crate::errors::ErrorCode::BadRequest.hex().to_owned(),
            quoted_guid_literals: false,
        }
    }
}

/// A parsed entity-set query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Query {
    /// `$select` (every column without it).
    pub(crate) select: Selection,
    /// `$filter`.
    pub(crate) filter: Option<Filter>,
    /// `$orderby`, always ending in the primary key.
    pub(crate) order_by: OrderBy,
    /// `$top` (1–5000).
    pub(crate) top: Option<u32>,
    /// `$count=true`.
    pub(crate) count: bool,
    /// `$expand`.
    pub(crate) expand: Vec<Expand>,
    /// `$skiptoken`, decoded.
    pub(crate) skip_token: Option<PagingCookie>,
}

impl Query {
    /// Whether `row` passes `$filter`.
    pub(crate) fn matches(&self, row: &Row) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|filter| filter.matches(row))
    }

    /// The `$orderby` order of two rows (a total order: ties fall to the primary key). Only
    /// tests use it, as the oracle for the sort keys pages are ordered by.
    #[cfg(test)]
    pub(crate) fn compare(&self, left: &Row, right: &Row) -> std::cmp::Ordering {
        self.order_by.compare(left, right)
    }

    /// `row` with the selected properties only (the primary key always).
    pub(crate) fn project(&self, row: &Row) -> Row {
        self.select.project(row)
    }

    /// The `(…)` part of `@odata.context` (`$metadata#accounts(name,primarycontactid(fullname))`),
    /// `None` without `$select` and `$expand`.
    pub(crate) fn context_properties(&self) -> Option<String> {
        select::context_properties(&self.select, &self.expand)
    }
}

/// The system query options this fake implements, for messages.
const SUPPORTED_OPTIONS: &str = "$select, $filter, $orderby, $top, $count, $expand, $skiptoken";

/// OData system query options (and Dataverse query parameters) the real service knows and
/// this fake does not implement: 501.
const NOT_IMPLEMENTED_OPTIONS: &[&str] = &[
    "$apply",
    "$search",
    "$compute",
    "$levels",
    "$format",
    "$index",
    "$schemaversion",
    "$deltatoken",
    "$id",
    "fetchXml",
    "savedQuery",
    "userQuery",
];

/// The error for a query option this fake does not take. `$skip` is a 400: Dataverse does not
/// support it either (page-results: "Dataverse doesn't support the $skip query option"; the
/// real error text is UNCONFIRMED, so the message names the fake). Options the real service
/// implements are a 501; unknown `$` options a 400.
pub(crate) fn unsupported_option(options: &QueryOptions, name: &str) -> QueryError {
    let message = format!(
        "The query option '{name}' is not supported by this fake Dataverse (d365-harness); supported: {SUPPORTED_OPTIONS}.",
        name = echo(name),
    );
    if NOT_IMPLEMENTED_OPTIONS.contains(&name) {
        QueryError::not_implemented(options, message)
    } else {
        QueryError::bad_request(options, message)
    }
}

/// Splits a raw query string into decoded `(name, value)` pairs in order: `+` is a space and
/// `%XX` escapes are decoded in names and values, so `%24select` is `$select` (Python's
/// `requests` sends that; dynamics-web-api sends `$select`, reference §8.4).
pub(crate) fn decode_query(raw_query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(raw_query.trim_start_matches('?').as_bytes())
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect()
}

/// Parses the query string of an entity-set `GET` against `table`; `lookup_table` finds the
/// tables `$expand` reaches, by logical name.
///
/// Options are validated in this order: option names, `$select`, `$expand`, `$filter`,
/// `$orderby`, `$top`, `$count`, `$skiptoken`. Query parameters that are neither system query
/// options nor parameter aliases (`@p1`) are ignored, as OData does with custom options.
pub(crate) fn parse_query<'t>(
    raw_query: &str,
    table: &TableDefinition,
    lookup_table: &dyn Fn(&str) -> Option<&'t TableDefinition>,
    options: &QueryOptions,
) -> Result<Query, QueryError> {
    let mut system: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut aliases = BTreeMap::new();
    for (name, value) in decode_query(raw_query) {
        let known = [
            "$select",
            "$filter",
            "$orderby",
            "$top",
            "$count",
            "$expand",
            "$skiptoken",
        ]
        .into_iter()
        .find(|known| *known == name);
        if let Some(known) = known {
            if system.insert(known, value).is_some() {
                return Err(QueryError::bad_request(
                    options,
                    format!(
                        "Query option '{known}' was specified more than once, but it must be specified at most once."
                    ),
                ));
            }
        } else if name.starts_with('$') || NOT_IMPLEMENTED_OPTIONS.contains(&name.as_str()) {
            return Err(unsupported_option(options, &name));
        } else if name.starts_with('@') {
            aliases.insert(name, value);
        }
    }
    let text = |name: &str| system.get(name).map(String::as_str);
    let select = Selection::parse(text("$select"), table, options)?;
    let expand = match text("$expand") {
        Some(expand) => select::parse_expand(expand, table, lookup_table, &aliases, options)?,
        None => Vec::new(),
    };
    let filter = match text("$filter") {
        Some(filter) => Some(Filter::parse(filter, table, &aliases, options)?),
        None => None,
    };
    let order_by = match text("$orderby") {
        Some(order_by) => OrderBy::parse(order_by, table, options)?,
        None => OrderBy::primary_key(table),
    };
    let top = match text("$top") {
        Some(top) => Some(parse_top(top, options)?),
        None => None,
    };
    let count = match text("$count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(QueryError::bad_request(
                options,
                format!(
                    "Invalid value '{other}' for $count query option found. Valid values are 'true, false'.",
                    other = echo(other),
                ),
            ));
        }
    };
    let skip_token = match text("$skiptoken") {
        Some(token) => Some(
            PagingCookie::from_skiptoken(token, &table.primary_id_attribute).map_err(|reason| {
                QueryError::bad_request(
                    options,
                    format!("The $skiptoken '{token}' is not a paging cookie this fake Dataverse (d365-harness) can read: {reason}.", token = echo(token)),
                )
            })?,
        ),
        None => None,
    };
    Ok(Query {
        select,
        filter,
        order_by,
        top,
        count,
        expand,
        skip_token,
    })
}

/// `$top`: Microsoft.OData's message for anything but a non-negative integer. `0` and values
/// above 5000 are answered with 501: what Dataverse does with them is UNCONFIRMED (reference
/// §12.10), and guessing could return wrong data.
pub(crate) fn parse_top(text: &str, options: &QueryOptions) -> Result<u32, QueryError> {
    let top = text
        .parse::<u64>()
        .ok()
        .filter(|_| text.bytes().all(|byte| byte.is_ascii_digit()))
        .ok_or_else(|| {
            QueryError::bad_request(
                options,
                format!("Invalid value '{text}' for $top query option found. The $top query option requires a non-negative integer value.", text = echo(text)),
            )
        })?;
    match u32::try_from(top) {
        Ok(top @ 1..=MAX_PAGE_SIZE) => Ok(top),
        _ => Err(QueryError::not_implemented(
            options,
            format!(
                "$top={text} is not supported by this fake Dataverse (d365-harness): the real answer for $top of 0 or above 5000 is unconfirmed; use 1 to 5000.",
                text = echo(text),
            ),
        )),
    }
}
