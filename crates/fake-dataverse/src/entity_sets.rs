//! The entity-set reads: `GET {set}` (lists with `$select`, `$filter`, `$orderby`, `$top`,
//! `$count`, `$expand` and paging), `GET {set}({id})` and `GET {set}/$count`. A list over a
//! generated table in primary-key order pages by index and costs memory for one page; any
//! other order makes one pass per page that keeps only the page's rows (`TopPage`).

use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::call::{Answer, Call};
use crate::errors::ErrorCode;
use crate::generator::row_index;
use crate::odata::orderby::TopPage;
use crate::odata::paging::{PagingCookie, next_link};
use crate::odata::prefer::{MAX_PAGE_SIZE, Prefer};
use crate::odata::{self, QueryError, QueryOptions, Row};
use crate::response::{self, ApiError};
use crate::scan::Budget;
use crate::security::Operation;

use crate::rows::{
    TableRows, generator_id, primary_key, read_reach, table_by_logical_name, table_by_set,
};
use crate::shaper::Shaper;

/// `$count` and `/$count` never report more than this (reference §8.3).
const COUNT_LIMIT: usize = 5000;

pub(crate) fn query_error(error: QueryError) -> ApiError {
    // Query errors are 400 or 501 (`QueryError::bad_request`, `QueryError::not_implemented`), with the
    // configured query error code either way.
    let code = if error.status == 501 {
        ErrorCode::QueryNotSupported
    } else {
        ErrorCode::BadRequest
    };
    ApiError::configured(code, error.code, error.message)
}

fn query_options(call: &Call<'_>) -> QueryOptions {
    QueryOptions {
        error_code: call.state.config.switches.property_not_found_code.clone(),
        ..QueryOptions::default()
    }
}

/// `GET {set}`.
pub(crate) fn list(call: &Call<'_>, set: &str) -> Answer {
    let environment = call.environment;
    let table = table_by_set(call, set)?;
    let definition = &table.definition;
    let reach = read_reach(call, definition)?;
    let lookup =
        |name: &str| table_by_logical_name(environment, name).map(|table| &table.definition);
    let query = odata::parse_query(call.query, definition, &lookup, &query_options(call))
        .map_err(query_error)?;
    let prefer = Prefer::parse([call.prefer]);
    let paged = prefer.max_page_size.is_some();
    // `$top` with `odata.maxpagesize` is ignored, as the current paging doc says.
    let page_size = if paged {
        prefer.page_size() as usize
    } else {
        query.top.unwrap_or(MAX_PAGE_SIZE) as usize
    };
    let spec = call.state.spec(environment);
    let table_rows = TableRows::new(environment, table, spec);
    let visible = |row: &Row| reach.allows(row) && query.matches(row);
    let budget = Budget::new(&call.state.config.scan_budget);

    let count = if query.count {
        Some(count_visible(&table_rows, &visible, &budget)?)
    } else {
        None
    };
    let shaper = Shaper::new(call, &prefer, spec, &budget)?;
    // The most rows held at once to order a page (the primary-key order streams: none).
    let mut held = 0;
    let resource_url = format!("{}/{set}", call.exchange.base);
    let next_link_for = |page_number: u32, first: Uuid, last: Uuid| {
        let cookie = PagingCookie {
            page_number,
            last,
            first,
        };
        next_link(
            &resource_url,
            call.query,
            &cookie,
            &definition.primary_id_attribute,
        )
    };
    let page_number = query
        .skip_token
        .as_ref()
        .map_or(1, |cookie| cookie.page_number)
        + 1;

    let mut body: Vec<u8> = Vec::with_capacity(256 + page_size.min(5000) * 400);
    body.extend_from_slice(b"{\"@odata.context\":");
    let context = match query.context_properties() {
        Some(properties) => format!("{}/$metadata#{set}{properties}", call.exchange.base),
        None => format!("{}/$metadata#{set}", call.exchange.base),
    };
    push_json(&mut body, &Value::String(context));
    if let Some(count) = count {
        body.extend_from_slice(format!(",\"@odata.count\":{count}").as_bytes());
    }
    body.extend_from_slice(b",\"value\":[");
    let next = match &table_rows {
        TableRows::Generated {
            generator,
            count: total,
            seed,
        } if query.order_by.is_primary_key_order() => {
            let start = match &query.skip_token {
                Some(cookie) => row_index(*seed, &definition.logical_name, cookie.last)
                    .filter(|index| index < total)
                    .map(|index| index + 1)
                    .ok_or_else(|| stale_skiptoken(cookie))?,
                None => 0,
            };
            // Paging through a large generated table: without a filter, expands or annotations
            // a row is written straight from the generator, with no map in between (the same
            // bytes as the general path; test `fast_and_general_paths_write_the_same_rows`).
            let direct = query.filter.is_none()
                && query.expand.is_empty()
                && !shaper.formatted
                && !shaper.lookup_names;
            // Properties in the order Dataverse writes them: the selected ones, the ride-alongs,
            // then the primary key (the order of `Selection::properties`).
            let positions: Vec<usize> = if direct {
                query
                    .select
                    .properties
                    .iter()
                    .filter_map(|name| generator.position(name))
                    .collect()
            } else {
                Vec::new()
            };
            let mut written = 0usize;
            let mut first_id = None;
            let mut last_index = None;
            let mut more = false;
            for index in start..*total {
                budget.examine()?;
                let row = if direct {
                    let owner = generator
                        .owner(index)
                        .map(|owner| (owner.owner_id, owner.business_unit_id));
                    if !reach.allows_owner(owner) {
                        continue;
                    }
                    None
                } else {
                    let row = generator.row(index);
                    if !visible(&row) {
                        continue;
                    }
                    Some(row)
                };
                if written == page_size {
                    more = true;
                    break;
                }
                if written > 0 {
                    body.push(b',');
                }
                match row {
                    None => {
                        body.push(b'{');
                        if let Some(version) = generator.version_number(index) {
                            body.extend_from_slice(
                                format!("\"@odata.etag\":\"W/\\\"{version}\\\"\",").as_bytes(),
                            );
                        }
                        generator.write_properties(index, Some(&positions), &mut body);
                        body.push(b'}');
                    }
                    Some(row) => {
                        let shaped = shaper.shape(definition, &row, &query)?;
                        push_json(&mut body, &Value::Object(shaped));
                    }
                }
                if first_id.is_none() {
                    first_id = Some(generator_id(*seed, definition, index));
                }
                last_index = Some(index);
                written += 1;
            }
            match (paged && more, first_id, last_index) {
                (true, Some(first), Some(last)) => Some(next_link_for(
                    page_number,
                    first,
                    generator_id(*seed, definition, last),
                )),
                _ => None,
            }
        }
        _ => {
            // Any other order: one pass keeps the first page_size + 1 rows after the cookie's
            // row in a bounded heap (O(n log k) time, O(k) memory), resuming from that row's
            // sort key, which the generator (or the given rows) can always make again.
            let after = match &query.skip_token {
                Some(cookie) => Some(
                    table_rows
                        .find(definition, cookie.last)
                        .map(|row| query.order_by.sort_key(&row))
                        .ok_or_else(|| stale_skiptoken(cookie))?,
                ),
                None => None,
            };
            let mut top = TopPage::new(page_size.saturating_add(1));
            table_rows.rank(&query, &reach, after.as_ref(), &mut top, &budget)?;
            held = top.peak();
            let ranked = top.into_sorted();
            let more = paged && ranked.len() > page_size;
            let mut written = 0usize;
            let mut first = None;
            let mut last = None;
            for (_, index) in ranked.iter().take(page_size) {
                let Some(row) = table_rows.row_at(*index) else {
                    continue;
                };
                if written > 0 {
                    body.push(b',');
                }
                let shaped = shaper.shape(definition, &row, &query)?;
                push_json(&mut body, &Value::Object(shaped));
                let key = primary_key(definition, &row);
                first = first.or(key);
                last = key;
                written += 1;
            }
            match (more, first, last) {
                (true, Some(first), Some(last)) => Some(next_link_for(page_number, first, last)),
                _ => None,
            }
        }
    };
    call.state.scan_stats.record(budget.examined(), held);
    body.push(b']');
    if let Some(next) = next {
        body.extend_from_slice(b",\"@odata.nextLink\":");
        push_json(&mut body, &Value::String(next));
    }
    body.push(b'}');
    let mut response = response::json(StatusCode::OK, body, call.exchange);
    if let Some(applied) = prefer.preference_applied()
        && let Ok(value) = HeaderValue::from_str(&applied)
    {
        response.headers_mut().insert("preference-applied", value);
    }
    Ok(response)
}

/// The rows the caller can see, up to [`COUNT_LIMIT`], within the scan budget.
fn count_visible(
    table_rows: &TableRows<'_>,
    visible: &dyn Fn(&Row) -> bool,
    budget: &Budget,
) -> Result<usize, ApiError> {
    let mut count = 0;
    for row in table_rows.rows() {
        budget.examine()?;
        if visible(&row) {
            count += 1;
            if count == COUNT_LIMIT {
                break;
            }
        }
    }
    Ok(count)
}

fn stale_skiptoken(cookie: &PagingCookie) -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        format!(
            "The $skiptoken names row {{{}}}, which is not in this result set; start again without $skiptoken.",
            cookie.last.to_string().to_uppercase()
        ),
    )
}

fn push_json(body: &mut Vec<u8>, value: &Value) {
    // Writing a `Value` into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *body, value);
}

/// `GET {set}({id})`.
pub(crate) fn retrieve(call: &Call<'_>, set: &str, id: Uuid) -> Answer {
    let environment = call.environment;
    let table = table_by_set(call, set)?;
    let definition = &table.definition;
    let reach = read_reach(call, definition)?;
    for (name, _) in odata::decode_query(call.query) {
        if matches!(
            name.as_str(),
            "$filter" | "$orderby" | "$top" | "$count" | "$skiptoken"
        ) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!(
                    "The query option '{name}' is not allowed when retrieving a single row; use $select and $expand."
                ),
            ));
        }
    }
    let lookup =
        |name: &str| table_by_logical_name(environment, name).map(|table| &table.definition);
    let query = odata::parse_query(call.query, definition, &lookup, &query_options(call))
        .map_err(query_error)?;
    let spec = call.state.spec(environment);
    let table_rows = TableRows::new(environment, table, spec);
    let row = table_rows.find(definition, id).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ObjectDoesNotExist,
            format!(
                "Entity '{}' With Id = {id} Does Not Exist",
                definition.logical_name
            ),
        )
    })?;
    if !reach.allows(&row) {
        return Err(call
            .principal
            .access_denied(definition, Operation::Read, &row, id, call.host));
    }
    let prefer = Prefer::parse([call.prefer]);
    let budget = Budget::new(&call.state.config.scan_budget);
    let shaper = Shaper::new(call, &prefer, spec, &budget)?;
    let shaped = shaper.shape(definition, &row, &query)?;
    let context = match query.context_properties() {
        Some(properties) => format!("{}/$metadata#{set}{properties}/$entity", call.exchange.base),
        None => format!("{}/$metadata#{set}/$entity", call.exchange.base),
    };
    let mut body = Map::new();
    body.insert("@odata.context".into(), json!(context));
    body.extend(shaped);
    let etag = body
        .get("@odata.etag")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut response = response::json(
        StatusCode::OK,
        serde_json::to_vec(&Value::Object(body)).unwrap_or_default(),
        call.exchange,
    );
    if let Some(etag) = etag
        && let Ok(value) = HeaderValue::from_str(&etag)
    {
        response.headers_mut().insert(header::ETAG, value);
    }
    Ok(response)
}

/// `GET {set}/$count`: the rows the caller can see, up to 5000 (cap UNCONFIRMED for `/$count`).
pub(crate) fn count(call: &Call<'_>, set: &str) -> Answer {
    let environment = call.environment;
    let table = table_by_set(call, set)?;
    let reach = read_reach(call, &table.definition)?;
    let spec = call.state.spec(environment);
    let table_rows = TableRows::new(environment, table, spec);
    let budget = Budget::new(&call.state.config.scan_budget);
    let count = count_visible(&table_rows, &|row| reach.allows(row), &budget)?;
    Ok(response::text(
        StatusCode::OK,
        count.to_string(),
        call.exchange,
    ))
}
