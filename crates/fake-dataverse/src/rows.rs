//! Table rows: where they come from (given rows, the environment's own users, roles and
//! business units, or the deterministic generator), what the caller may see (privilege check,
//! then row access by depth), and the answers built from them: lists with `$select`, `$filter`,
//! `$orderby`, `$top`, `$count`, `$expand`, formatted values and paging; single rows; `/$count`;
//! `RetrievePrincipalAccess`.
//!
//! Generated tables stream in index order, which is also their primary-key order, so paging
//! through a million rows costs memory for one page only. Any other order makes one pass per
//! page that keeps only the page's rows (`TopPage`). Every scan counts against the request's
//! [`Budget`].

use http::{HeaderValue, StatusCode, header};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::call::{Answer, Call};
use crate::config::{Environment, Table, TableData};
use crate::generator::{GeneratorSpec, Owner, RowGenerator, row_index};
use crate::odata::orderby::{SortKey, TopPage};
use crate::odata::paging::{PagingCookie, next_link};
use crate::odata::prefer::{MAX_PAGE_SIZE, Prefer};
use crate::odata::select::ExpandKind;
use crate::odata::{self, Query, QueryError, QueryOptions, Row};
use crate::response::{self, ApiError};
use crate::scan::Budget;
use crate::schema::{ColumnKind, TableDefinition};
use crate::security::{Operation, Reach};
use crate::standard_tables::PrivilegeKind;

/// `$count` and `/$count` never report more than this (reference §8.3).
const COUNT_LIMIT: usize = 5000;

/// Collection expands over generated tables larger than this are refused rather than scanned.
const EXPAND_SCAN_LIMIT: u64 = 10_000;

pub(crate) fn table_by_logical_name<'a>(
    environment: &'a Environment,
    name: &str,
) -> Option<&'a Table> {
    environment
        .tables
        .iter()
        .find(|table| table.definition.logical_name == name)
}

fn table_by_set<'a>(call: &Call<'a>, set: &str) -> Result<&'a Table, ApiError> {
    call.environment
        .tables
        .iter()
        .find(|table| table.definition.entity_set_name == set)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                call.state.config.switches.segment_not_found_code.clone(),
                "ResourceNotFound",
                format!(
                    "Resource not found for the segment '{}'.",
                    fake_core::echo(set)
                ),
            )
        })
}

fn query_error(error: QueryError) -> ApiError {
    ApiError::new(
        StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST),
        error.code,
        if error.status == 501 {
            "NotSupported"
        } else {
            "BadRequest"
        },
        error.message,
    )
}

/// The owner of rows that no application user owns: one per business unit, stable ids.
fn unit_owner(environment: &Environment, unit: Uuid) -> Uuid {
    Uuid::new_v5(
        &environment.organization_id,
        format!("d365-harness:owner:{unit}").as_bytes(),
    )
}

/// Owners generated rows are spread over: every business unit's owner, then the application
/// users (so Basic depth sees some rows).
fn owners(environment: &Environment) -> Vec<Owner> {
    environment
        .business_units
        .iter()
        .map(|unit| Owner {
            owner_id: unit_owner(environment, unit.id),
            business_unit_id: unit.id,
        })
        .chain(environment.application_users.iter().map(|user| Owner {
            owner_id: user.id,
            business_unit_id: user.business_unit,
        }))
        .collect()
}

/// The generator spec of an environment: its seed, counts, given ids and owners.
pub(crate) fn spec(environment: &Environment) -> GeneratorSpec {
    let mut spec = GeneratorSpec::new(environment.data_seed);
    for table in &environment.tables {
        let name = table.definition.logical_name.clone();
        match &table.data {
            TableData::Generated { count } => {
                spec.row_counts.insert(name, *count);
            }
            TableData::Rows(_) => {
                let ids = given_rows(environment, table)
                    .iter()
                    .filter_map(|row| primary_key(&table.definition, row))
                    .collect();
                spec.given_rows.insert(name, ids);
            }
        }
    }
    spec.owners = owners(environment);
    spec
}

fn primary_key(table: &TableDefinition, row: &Row) -> Option<Uuid> {
    row.get(&table.primary_id_attribute)
        .and_then(Value::as_str)
        .and_then(|id| Uuid::try_parse(id).ok())
}

/// Rows that are not generated: the environment's own users, roles and business units for
/// those tables, then the rows the config gives.
fn given_rows(environment: &Environment, table: &Table) -> Vec<Row> {
    let mut rows = Vec::new();
    let object = |value: Value| match value {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    match table.definition.logical_name.as_str() {
        "systemuser" => {
            for user in &environment.application_users {
                rows.push(object(json!({
                    "systemuserid": user.id,
                    "fullname": user.full_name,
                    "applicationid": user.application_id,
                    "azureactivedirectoryobjectid": user.object_id,
                    "isdisabled": !user.enabled,
                    "accessmode": 4,
                    "_businessunitid_value": user.business_unit,
                    "_owningbusinessunit_value": user.business_unit,
                })));
            }
            for unit in &environment.business_units {
                rows.push(object(json!({
                    "systemuserid": unit_owner(environment, unit.id),
                    "fullname": format!("{} Records Owner", unit.name),
                    "applicationid": null,
                    "azureactivedirectoryobjectid": null,
                    "isdisabled": false,
                    "accessmode": 0,
                    "_businessunitid_value": unit.id,
                    "_owningbusinessunit_value": unit.id,
                })));
            }
        }
        "role" => {
            for role in &environment.roles {
                rows.push(object(json!({
                    "roleid": role.id,
                    "name": role.name,
                    "_businessunitid_value": role.business_unit,
                    "_roletemplateid_value": role.template_id,
                    "_owningbusinessunit_value": role.business_unit,
                })));
            }
        }
        "businessunit" => {
            for unit in &environment.business_units {
                rows.push(object(json!({
                    "businessunitid": unit.id,
                    "name": unit.name,
                    "_parentbusinessunitid_value": unit.parent,
                    "_owningbusinessunit_value": unit.id,
                })));
            }
        }
        _ => {}
    }
    if let TableData::Rows(given) = &table.data {
        rows.extend(given.iter().cloned());
    }
    rows
}

/// One table's rows as the answers read them.
enum TableRows<'a> {
    Given(Vec<Row>),
    Generated {
        generator: RowGenerator<'a>,
        count: u64,
        seed: u64,
    },
}

impl<'a> TableRows<'a> {
    fn new(
        environment: &'a Environment,
        table: &'a Table,
        spec: &'a GeneratorSpec,
    ) -> TableRows<'a> {
        match &table.data {
            TableData::Generated { count } => TableRows::Generated {
                generator: RowGenerator::new(spec, &table.definition),
                count: *count,
                seed: spec.seed,
            },
            TableData::Rows(_) => TableRows::Given(given_rows(environment, table)),
        }
    }

    /// The row with primary key `id`.
    fn find(&self, table: &TableDefinition, id: Uuid) -> Option<Row> {
        match self {
            TableRows::Given(rows) => rows
                .iter()
                .find(|row| primary_key(table, row) == Some(id))
                .cloned(),
            TableRows::Generated {
                generator,
                count,
                seed,
            } => row_index(*seed, &table.logical_name, id)
                .filter(|index| index < count)
                .map(|index| generator.row(index)),
        }
    }

    /// The row at `index` in storage order.
    fn row_at(&self, index: u64) -> Option<Row> {
        match self {
            TableRows::Given(rows) => usize::try_from(index)
                .ok()
                .and_then(|index| rows.get(index))
                .cloned(),
            TableRows::Generated {
                generator, count, ..
            } => (index < *count).then(|| generator.row(index)),
        }
    }

    /// Offers every row the caller can see (`reach`, `$filter`) and that `$orderby` puts after
    /// `after` to `top`, by its index. Generated rows are made one at a time and dropped: only
    /// `top` keeps anything, so memory stays that of one page however large the table.
    fn rank(
        &self,
        query: &Query,
        reach: &Reach,
        after: Option<&SortKey>,
        top: &mut TopPage<u64>,
        budget: &Budget,
    ) -> Result<(), ApiError> {
        let mut offer = |index: u64, row: &Row| {
            if !(reach.allows(row) && query.matches(row)) {
                return;
            }
            let key = query.order_by.sort_key(row);
            if after.is_none_or(|after| key > *after) {
                top.offer(key, index);
            }
        };
        match self {
            TableRows::Given(rows) => {
                for (index, row) in (0u64..).zip(rows) {
                    budget.examine()?;
                    offer(index, row);
                }
            }
            TableRows::Generated {
                generator, count, ..
            } => {
                // Without a filter a row is ranked from the columns that order it and that
                // `Reach::allows` reads: making only those is several times cheaper.
                let positions: Option<Vec<usize>> = query.filter.is_none().then(|| {
                    let order_by = &query.order_by;
                    order_by
                        .keys
                        .iter()
                        .map(|key| key.name.as_str())
                        .chain([
                            order_by.primary_key.as_str(),
                            "_ownerid_value",
                            "_owningbusinessunit_value",
                        ])
                        .filter_map(|name| generator.position(name))
                        .collect()
                });
                for index in 0..*count {
                    budget.examine()?;
                    let row = match &positions {
                        Some(positions) => generator.partial_row(index, positions),
                        None => generator.row(index),
                    };
                    offer(index, &row);
                }
            }
        }
        Ok(())
    }

    fn len(&self) -> u64 {
        match self {
            TableRows::Given(rows) => rows.len() as u64,
            TableRows::Generated { count, .. } => *count,
        }
    }

    /// Every row, in storage order.
    fn rows(&self) -> Box<dyn Iterator<Item = Row> + '_> {
        match self {
            TableRows::Given(rows) => Box::new(rows.iter().cloned()),
            TableRows::Generated {
                generator, count, ..
            } => Box::new((0..*count).map(|index| generator.row(index))),
        }
    }
}

/// The caller's read reach on `table` (privilege check first).
fn read_reach(call: &Call<'_>, table: &TableDefinition) -> Result<Reach, ApiError> {
    let depth = call
        .principal
        .check(table, Operation::Read, &call.state.config.switches)?;
    Ok(call.principal.reach(depth))
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
        StatusCode::BAD_REQUEST,
        "0x80060888",
        "BadRequest",
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

/// The primary key of generated row `index`.
fn generator_id(seed: u64, table: &TableDefinition, index: u64) -> Uuid {
    crate::generator::row_id(seed, &table.logical_name, index)
}

/// Turns stored rows into answered rows: projection, `@odata.etag`, formatted values, expands.
struct Shaper<'a> {
    call: &'a Call<'a>,
    spec: &'a GeneratorSpec,
    /// Expands scan related tables within the request's budget.
    budget: &'a Budget,
    formatted: bool,
    lookup_names: bool,
}

impl<'a> Shaper<'a> {
    fn new(
        call: &'a Call<'a>,
        prefer: &Prefer,
        spec: &'a GeneratorSpec,
        budget: &'a Budget,
    ) -> Result<Shaper<'a>, ApiError> {
        Ok(Shaper {
            call,
            spec,
            budget,
            formatted: prefer.includes_annotation("OData.Community.Display.V1.FormattedValue"),
            lookup_names: prefer.includes_annotation("Microsoft.Dynamics.CRM.lookuplogicalname"),
        })
    }

    fn shape(
        &self,
        table: &TableDefinition,
        row: &Row,
        query: &Query,
    ) -> Result<Map<String, Value>, ApiError> {
        let projected = query.project(row);
        let mut shaped = Map::new();
        if let Some(version) = row.get("versionnumber").and_then(Value::as_i64) {
            shaped.insert("@odata.etag".into(), json!(format!("W/\"{version}\"")));
        }
        for (name, value) in projected {
            if !value.is_null()
                && let Some(column) = table.column(&name)
            {
                self.annotate(&mut shaped, &name, &column.kind, &value);
            }
            shaped.insert(name, value);
        }
        for expand in &query.expand {
            let expanded = self.expand(table, row, expand)?;
            shaped.insert(expand.navigation.clone(), expanded);
        }
        Ok(shaped)
    }

    fn annotate(
        &self,
        shaped: &mut Map<String, Value>,
        name: &str,
        kind: &ColumnKind,
        value: &Value,
    ) {
        // Nothing asked for: no lookup needs resolving (each one reads the target table).
        if !self.formatted && !self.lookup_names {
            return;
        }
        let formatted = match kind {
            ColumnKind::Picklist { options }
            | ColumnKind::State { options }
            | ColumnKind::Status { options } => value
                .as_i64()
                .and_then(|number| {
                    options
                        .iter()
                        .find(|option| i64::from(option.value) == number)
                })
                .map(|option| option.label.clone()),
            ColumnKind::Money => value.as_f64().map(format_money),
            ColumnKind::Boolean => value
                .as_bool()
                .map(|flag| if flag { "Yes" } else { "No" }.to_owned()),
            ColumnKind::DateTime => value.as_str().and_then(format_date_time),
            ColumnKind::Integer | ColumnKind::BigInt => value.as_i64().map(format_number),
            ColumnKind::Lookup { targets } => match self.lookup_target(targets, value) {
                Some((table, primary_name)) => {
                    if self.lookup_names {
                        shaped.insert(
                            format!("{name}@Microsoft.Dynamics.CRM.lookuplogicalname"),
                            json!(table),
                        );
                    }
                    primary_name
                }
                None => None,
            },
            _ => None,
        };
        if self.formatted
            && let Some(formatted) = formatted
        {
            shaped.insert(
                format!("{name}@OData.Community.Display.V1.FormattedValue"),
                json!(formatted),
            );
        }
    }

    /// The table a lookup value points to, and the primary name of the row there.
    fn lookup_target(&self, targets: &[String], value: &Value) -> Option<(String, Option<String>)> {
        let id = value.as_str().and_then(|id| Uuid::try_parse(id).ok())?;
        for target in targets {
            let Some(table) = table_by_logical_name(self.call.environment, target) else {
                continue;
            };
            let table_rows = TableRows::new(self.call.environment, table, self.spec);
            if let Some(row) = table_rows.find(&table.definition, id) {
                let name = row
                    .get(&table.definition.primary_name_attribute)
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                return Some((target.clone(), name));
            }
        }
        None
    }

    fn expand(
        &self,
        table: &TableDefinition,
        row: &Row,
        expand: &odata::select::Expand,
    ) -> Result<Value, ApiError> {
        let environment = self.call.environment;
        let target = table_by_logical_name(environment, &expand.target).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_IMPLEMENTED,
                "0x80040216",
                "NotSupported",
                format!(
                    "Expanding '{}' needs the table '{}', which this environment does not have.",
                    expand.navigation, expand.target
                ),
            )
        })?;
        let reach = read_reach(self.call, &target.definition)?;
        let table_rows = TableRows::new(environment, target, self.spec);
        let shape_related = |related: &Row| {
            let mut shaped = Map::new();
            if let Some(version) = related.get("versionnumber").and_then(Value::as_i64) {
                shaped.insert("@odata.etag".into(), json!(format!("W/\"{version}\"")));
            }
            shaped.extend(expand.select.project(related));
            Value::Object(shaped)
        };
        match &expand.kind {
            ExpandKind::Lookup { property } => {
                let related = row
                    .get(property)
                    .and_then(Value::as_str)
                    .and_then(|id| Uuid::try_parse(id).ok())
                    .and_then(|id| table_rows.find(&target.definition, id))
                    .filter(|related| reach.allows(related));
                Ok(related.as_ref().map_or(Value::Null, shape_related))
            }
            ExpandKind::Collection => {
                let id = primary_key(table, row);
                let mut related: Vec<Row> = match (
                    table.logical_name.as_str(),
                    expand.navigation.as_str(),
                ) {
                    ("systemuser", "systemuserroles_association") => {
                        let roles: Vec<Uuid> = environment
                            .application_users
                            .iter()
                            .find(|user| Some(user.id) == id)
                            .map(|user| user.roles.clone())
                            .unwrap_or_default();
                        table_rows
                            .rows()
                            .take_while(|_| self.budget.proceed())
                            .filter(|role| {
                                primary_key(&target.definition, role)
                                    .is_some_and(|role| roles.contains(&role))
                            })
                            .collect()
                    }
                    ("role", "systemuserroles_association") => {
                        let users: Vec<Uuid> = environment
                            .application_users
                            .iter()
                            .filter(|user| id.is_some_and(|id| user.roles.contains(&id)))
                            .map(|user| user.id)
                            .collect();
                        table_rows
                            .rows()
                            .take_while(|_| self.budget.proceed())
                            .filter(|user| {
                                primary_key(&target.definition, user)
                                    .is_some_and(|user| users.contains(&user))
                            })
                            .collect()
                    }
                    _ => {
                        if table_rows.len() > EXPAND_SCAN_LIMIT {
                            return Err(ApiError::new(
                                StatusCode::NOT_IMPLEMENTED,
                                "0x80040216",
                                "NotSupported",
                                format!(
                                    "Expanding '{}' over the {} rows of '{}' is not supported by this fake Dataverse (d365-harness); it scans at most {EXPAND_SCAN_LIMIT} rows.",
                                    expand.navigation,
                                    table_rows.len(),
                                    expand.target
                                ),
                            ));
                        }
                        let pointing: Vec<String> = target
                            .definition
                            .columns
                            .iter()
                            .filter(|column| match &column.kind {
                                ColumnKind::Lookup { targets } => {
                                    targets.contains(&table.logical_name)
                                }
                                _ => false,
                            })
                            .map(|column| column.web_api_name())
                            .collect();
                        let id = id.map(|id| id.to_string()).unwrap_or_default();
                        table_rows
                            .rows()
                            .take_while(|_| self.budget.proceed())
                            .filter(|related| {
                                pointing.iter().any(|name| {
                                    related.get(name).and_then(Value::as_str) == Some(id.as_str())
                                })
                            })
                            .collect()
                    }
                };
                self.budget.check()?;
                related.retain(|related| {
                    reach.allows(related)
                        && expand
                            .filter
                            .as_ref()
                            .is_none_or(|filter| filter.matches(related))
                });
                related.sort_by_cached_key(|related| expand.order_by.sort_key(related));
                if let Some(top) = expand.top {
                    related.truncate(top as usize);
                }
                Ok(Value::Array(related.iter().map(shape_related).collect()))
            }
        }
    }
}

/// `$20,000.00` (US English, the base currency dollars).
fn format_money(amount: f64) -> String {
    let cents = (amount * 100.0).round() as i64;
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.abs();
    format!("{sign}${}.{:02}", format_number(cents / 100), cents % 100)
}

/// `1200000` → `1,200,000` (US English grouping, as Dataverse prints numbers and limits).
pub(crate) fn format_number(value: i64) -> String {
    let digits = value.abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if value < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

/// `2024-05-01T10:00:00Z` → `5/1/2024 10:00 AM` (US English, UTC).
fn format_date_time(text: &str) -> Option<String> {
    let time =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let (hour, meridiem) = match time.hour() {
        0 => (12, "AM"),
        hour @ 1..=11 => (hour, "AM"),
        12 => (12, "PM"),
        hour => (hour - 12, "PM"),
    };
    Some(format!(
        "{}/{}/{} {hour}:{:02} {meridiem}",
        u8::from(time.month()),
        time.day(),
        time.year(),
        time.minute()
    ))
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
                StatusCode::BAD_REQUEST,
                "0x80060888",
                "BadRequest",
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
            StatusCode::NOT_FOUND,
            "0x80040217",
            "ObjectDoesNotExist",
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

/// `systemusers({id})/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)` with
/// `@p1={'@odata.id':'accounts(<id>)'}`: the access rights the user's roles give on the row.
pub(crate) fn retrieve_principal_access(call: &Call<'_>, user_id: Uuid) -> Answer {
    let environment = call.environment;
    if user_id != call.principal.user.id
        && let Some(systemuser) = table_by_logical_name(environment, "systemuser")
    {
        read_reach(call, &systemuser.definition)?;
    }
    let user = environment
        .application_users
        .iter()
        .find(|user| user.id == user_id)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "0x80040217",
                "ObjectDoesNotExist",
                format!("Entity 'systemuser' With Id = {user_id} Does Not Exist"),
            )
        })?;
    let target = odata::decode_query(call.query)
        .into_iter()
        .find(|(name, _)| name == "@p1")
        .map(|(_, value)| value)
        .unwrap_or_default();
    let reference = target
        .split("'@odata.id':'")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .map(|reference| reference.rsplit('/').next().unwrap_or(reference).to_owned());
    let parsed = reference.as_deref().and_then(|reference| {
        let (set, key) = reference.split_once('(')?;
        let id = Uuid::try_parse(key.strip_suffix(')')?).ok()?;
        Some((set.to_owned(), id))
    });
    let Some((set, row_id)) = parsed else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "0x80060888",
            "BadRequest",
            "RetrievePrincipalAccess needs Target=@p1 with @p1={'@odata.id':'<entityset>(<id>)'}.",
        ));
    };
    let table = table_by_set(call, &set)?;
    let spec = call.state.spec(environment);
    let table_rows = TableRows::new(environment, table, spec);
    let row = table_rows.find(&table.definition, row_id).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "0x80040217",
            "ObjectDoesNotExist",
            format!(
                "Entity '{}' With Id = {row_id} Does Not Exist",
                table.definition.logical_name
            ),
        )
    })?;
    let principal = crate::security::Principal::new(user, environment);
    // The order these answers have always listed the flags in (snapshots hold it).
    let rights: Vec<&str> = [
        PrivilegeKind::Read,
        PrivilegeKind::Write,
        PrivilegeKind::Append,
        PrivilegeKind::AppendTo,
        PrivilegeKind::Create,
        PrivilegeKind::Delete,
        PrivilegeKind::Share,
        PrivilegeKind::Assign,
    ]
    .into_iter()
    .filter(|kind| {
        principal
            .depth(&kind.name_for(&table.definition))
            .is_some_and(|depth| principal.reach(depth).allows(&row))
    })
    .map(PrivilegeKind::access_right)
    .collect();
    let rights = if rights.is_empty() {
        "None".to_owned()
    } else {
        rights.join(", ")
    };
    let body = json!({
        "@odata.context": format!("{}/$metadata#Microsoft.Dynamics.CRM.RetrievePrincipalAccessResponse", call.exchange.base),
        "AccessRights": rights,
    });
    Ok(response::json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
        call.exchange,
    ))
}
