//! The [`Shaper`]: turns stored rows into answered rows (projection, `@odata.etag`, formatted
//! values, `$expand` of single-valued and collection navigation properties).

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::call::Call;
use crate::errors::ErrorCode;
use crate::generator::GeneratorSpec;
use crate::odata::prefer::Prefer;
use crate::odata::select::ExpandKind;
use crate::odata::{self, Query, Row};
use crate::response::ApiError;
use crate::scan::Budget;
use crate::schema::{ColumnKind, TableDefinition};

use crate::formatted_values::{format_date_time, format_money, format_number};
use crate::rows::{TableRows, primary_key, read_reach, table_by_logical_name};

/// Collection expands over generated tables larger than this are refused rather than scanned.
const EXPAND_SCAN_LIMIT: u64 = 10_000;

/// Turns stored rows into answered rows: projection, `@odata.etag`, formatted values, expands.
pub(crate) struct Shaper<'a> {
    call: &'a Call<'a>,
    spec: &'a GeneratorSpec,
    /// Expands scan related tables within the request's budget.
    budget: &'a Budget,
    /// Whether `Prefer` asks for formatted values.
    pub(crate) formatted: bool,
    /// Whether `Prefer` asks for lookups' logical names.
    pub(crate) lookup_names: bool,
}

impl<'a> Shaper<'a> {
    /// A shaper for one request's answer.
    pub(crate) fn new(
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

    /// `row` as answered: selected, annotated, expanded.
    pub(crate) fn shape(
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
                ErrorCode::NotSupported,
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
                                ErrorCode::NotSupported,
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
