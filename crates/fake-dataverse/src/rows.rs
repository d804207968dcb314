//! Table rows: where they come from (given rows, the environment's own users, teams, roles
//! and business units, or the deterministic generator) as one [`TableRows`] per table, and what the
//! caller may see (privilege check, then row access by depth). Generated tables stream in index
//! order, which is also their primary-key order, so paging never has to sort them. Every scan
//! counts against the request's [`Budget`].

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::call::Call;
use crate::config::{BusinessUnit, Environment, Table, TableData, TeamKind};
use crate::errors::ErrorCode;
use crate::generator::{GeneratorSpec, Owner, RowGenerator, row_index};
use crate::odata::orderby::{SortKey, TopPage};
use crate::odata::{Query, Row};
use crate::response::ApiError;
use crate::scan::Budget;
use crate::schema::TableDefinition;
use crate::security::{Operation, Reach};

/// The environment's table named `name` (`account`).
pub(crate) fn table_by_logical_name<'a>(
    environment: &'a Environment,
    name: &str,
) -> Option<&'a Table> {
    environment
        .tables
        .iter()
        .find(|table| table.definition.logical_name == name)
}

/// The table behind entity set `set` (`accounts`), else the real 404 for an unknown segment.
pub(crate) fn table_by_set<'a>(call: &Call<'a>, set: &str) -> Result<&'a Table, ApiError> {
    call.environment
        .tables
        .iter()
        .find(|table| table.definition.entity_set_name == set)
        .ok_or_else(|| {
            ApiError::configured(
                ErrorCode::SegmentNotFound,
                call.state.config.switches.segment_not_found_code.clone(),
                format!(
                    "Resource not found for the segment '{}'.",
                    fake_core::echo(set)
                ),
            )
        })
}

/// How many ordinary users the fake makes in each business unit.
const USERS_PER_UNIT: usize = 3;

/// An ordinary (interactive) user the fake makes in every business unit, so that generated
/// rows have people as owners: a world lists no ordinary users, and application users own no
/// generated rows (a role with Read at User depth sees none of them, as in a real environment
/// whose data people entered).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrdinaryUser {
    /// `systemuserid`: UUID v5 of the organization id, the business unit and the position.
    pub id: Uuid,
    /// `fullname`: a first and a last name from the generator's word lists.
    pub full_name: String,
    /// `_businessunitid_value`.
    pub business_unit: Uuid,
}

/// The ordinary users of `environment`: three per business unit (`USERS_PER_UNIT`), in unit order;
/// the same names and ids on every run.
pub fn ordinary_users(environment: &Environment) -> Vec<OrdinaryUser> {
    ordinary_users_in(environment.organization_id, &environment.business_units)
}

/// The ordinary users [`ordinary_users`] makes for an organization with these business units
/// (what a world file names team members by, before the environment exists).
pub fn ordinary_users_in(organization_id: Uuid, units: &[BusinessUnit]) -> Vec<OrdinaryUser> {
    units
        .iter()
        .enumerate()
        .flat_map(|(unit_index, unit)| {
            (0..USERS_PER_UNIT).map(move |position| {
                let index = unit_index * USERS_PER_UNIT + position;
                OrdinaryUser {
                    id: Uuid::new_v5(
                        &organization_id,
                        format!("d365-harness:user:{}:{position}", unit.id).as_bytes(),
                    ),
                    full_name: crate::generator::user_name(index),
                    business_unit: unit.id,
                }
            })
        })
        .collect()
}

/// Owners generated rows are spread over: the ordinary users, then the teams. Application
/// users own none, so Basic (User) depth reaches only rows of the application user's teams.
fn owners(environment: &Environment) -> Vec<Owner> {
    ordinary_users(environment)
        .into_iter()
        .map(|user| Owner {
            owner_id: user.id,
            business_unit_id: user.business_unit,
        })
        .chain(environment.teams.iter().map(|team| Owner {
            owner_id: team.id,
            business_unit_id: team.business_unit,
        }))
        .collect()
}

/// The user or team `id` as an owner, with its business unit (`None`: nobody has that id).
fn owner_by_id(environment: &Environment, id: Uuid) -> Option<Owner> {
    let business_unit = environment
        .application_users
        .iter()
        .find(|user| user.id == id)
        .map(|user| user.business_unit)
        .or_else(|| {
            environment
                .teams
                .iter()
                .find(|team| team.id == id)
                .map(|team| team.business_unit)
        })
        .or_else(|| {
            ordinary_users(environment)
                .into_iter()
                .find(|user| user.id == id)
                .map(|user| user.business_unit)
        })?;
    Some(Owner {
        owner_id: id,
        business_unit_id: business_unit,
    })
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
    for (table, ids) in &environment.table_owners {
        let owners = ids
            .iter()
            .filter_map(|id| owner_by_id(environment, *id))
            .collect();
        spec.table_owners.insert(table.clone(), owners);
    }
    spec
}

pub(crate) fn primary_key(table: &TableDefinition, row: &Row) -> Option<Uuid> {
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
            for user in ordinary_users(environment) {
                rows.push(object(json!({
                    "systemuserid": user.id,
                    "fullname": user.full_name,
                    "applicationid": null,
                    "azureactivedirectoryobjectid": null,
                    "isdisabled": false,
                    "accessmode": 0,
                    "_businessunitid_value": user.business_unit,
                    "_owningbusinessunit_value": user.business_unit,
                })));
            }
        }
        "team" => {
            for team in &environment.teams {
                let object_id = match team.kind {
                    TeamKind::Group { object_id } => Some(object_id),
                    TeamKind::Owner => None,
                };
                rows.push(object(json!({
                    "teamid": team.id,
                    "name": team.name,
                    "teamtype": team.kind.team_type(),
                    "azureactivedirectoryobjectid": object_id,
                    "_businessunitid_value": team.business_unit,
                    "_owningbusinessunit_value": team.business_unit,
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
pub(crate) enum TableRows<'a> {
    Given(Vec<Row>),
    Generated {
        generator: RowGenerator<'a>,
        count: u64,
        seed: u64,
    },
}

impl<'a> TableRows<'a> {
    pub(crate) fn new(
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
    pub(crate) fn find(&self, table: &TableDefinition, id: Uuid) -> Option<Row> {
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
    pub(crate) fn row_at(&self, index: u64) -> Option<Row> {
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
    pub(crate) fn rank(
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

    /// How many rows the table has, visible or not.
    pub(crate) fn len(&self) -> u64 {
        match self {
            TableRows::Given(rows) => rows.len() as u64,
            TableRows::Generated { count, .. } => *count,
        }
    }

    /// Every row, in storage order.
    pub(crate) fn rows(&self) -> Box<dyn Iterator<Item = Row> + '_> {
        match self {
            TableRows::Given(rows) => Box::new(rows.iter().cloned()),
            TableRows::Generated {
                generator, count, ..
            } => Box::new((0..*count).map(|index| generator.row(index))),
        }
    }
}

/// The caller's read reach on `table` (privilege check first).
pub(crate) fn read_reach(call: &Call<'_>, table: &TableDefinition) -> Result<Reach, ApiError> {
    let depth = call
        .principal
        .check(table, Operation::Read, &call.state.config.switches)?;
    Ok(call.principal.reach(depth))
}

/// The primary key of generated row `index`.
pub(crate) fn generator_id(seed: u64, table: &TableDefinition, index: u64) -> Uuid {
    crate::generator::row_id(seed, &table.logical_name, index)
}
