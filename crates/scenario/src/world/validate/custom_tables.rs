//! `[environments.<key>.custom_tables.<logical_name>]`: tables a world defines, checked and
//! turned into `fake_dataverse::schema::TableDefinition`s (names, columns, ownership), and the
//! privileges they bring. Object type codes are 10000, 10001, ... in file order.

use std::collections::HashMap;

use fake_dataverse::Depth;
use fake_dataverse::schema::{ColumnKind, CustomTable, OptionValue, Ownership, TableDefinition};
use toml::Spanned;

use super::Checker;
use crate::world::file::{CustomTableFile, Entries};
use crate::{Error, Reason};

/// The column types a custom column may have (what the generator and `$filter` support).
const COLUMN_TYPES: &[&str] = &[
    "string",
    "memo",
    "integer",
    "bigint",
    "decimal",
    "double",
    "money",
    "boolean",
    "datetime",
    "uniqueidentifier",
    "picklist",
    "lookup",
];

/// The first object type code of custom tables (reference/dataverse.md §4.3).
const FIRST_CUSTOM_OBJECT_TYPE_CODE: u32 = 10_000;

/// Dataverse's default lengths: single-line text 100, multi-line text 2000; the largest each
/// takes is 4000 and 1,048,576.
const STRING_LENGTHS: (u32, i64) = (100, 4000);
const MEMO_LENGTHS: (u32, i64) = (2000, 1_048_576);

/// The columns Dataverse adds to every custom table (`CustomTable::definition`); a maker's
/// column may not take their names.
const SYSTEM_COLUMNS: &[&str] = &[
    "ownerid",
    "owningbusinessunit",
    "statecode",
    "statuscode",
    "createdon",
    "modifiedon",
    "versionnumber",
];

impl Checker<'_> {
    /// The environment's custom tables, in file order.
    pub(super) fn custom_tables(
        &self,
        tables: &Entries<CustomTableFile>,
        prefix: &str,
    ) -> Result<Vec<TableDefinition>, Error> {
        let standard = fake_dataverse::standard_tables();
        let mut entity_sets: HashMap<String, String> = standard
            .iter()
            .map(|table| {
                (
                    table.entity_set_name.clone(),
                    format!("standard_tables.{}", table.logical_name),
                )
            })
            .collect();
        // Lookups may point at any table of the environment, custom ones written later too.
        let mut targets: Vec<String> = standard
            .iter()
            .map(|table| table.logical_name.clone())
            .collect();
        targets.extend(tables.0.iter().map(|(name, _)| name.get_ref().clone()));
        let mut checked = Vec::new();
        for (index, (name, table)) in tables.0.iter().enumerate() {
            let table_key = format!("{prefix}.custom_tables.{}", name.get_ref());
            let logical_name = name.get_ref().clone();
            if standard
                .iter()
                .any(|known| known.logical_name == logical_name)
            {
                return Err(self.invalid(
                    name.span(),
                    table_key,
                    Reason::StandardTableName { name: logical_name },
                ));
            }
            self.custom_name(name, table_key.clone())?;
            let schema_name = table.schema_name.get_ref().clone();
            if schema_name.to_ascii_lowercase() != logical_name {
                return Err(self.invalid(
                    table.schema_name.span(),
                    format!("{table_key}.schema_name"),
                    Reason::SchemaName {
                        schema: schema_name,
                        logical: logical_name,
                    },
                ));
            }
            let set_key = format!("{table_key}.entity_set");
            // Uniqueness first: a standard table's entity set is the likelier mistake.
            self.unique(
                &mut entity_sets,
                table.entity_set.get_ref().clone(),
                "entity set name",
                &table.entity_set,
                set_key.clone(),
            )?;
            // Nor another custom table's logical name: URLs and metadata would mix them up.
            if let Some((other, _)) = tables.0.iter().find(|(other, _)| {
                other.get_ref() == table.entity_set.get_ref() && other.get_ref() != &logical_name
            }) {
                return Err(self.invalid(
                    table.entity_set.span(),
                    set_key,
                    Reason::Duplicate {
                        what: "entity set name",
                        value: other.get_ref().clone(),
                        first: format!("{prefix}.custom_tables.{}", other.get_ref()),
                    },
                ));
            }
            self.custom_name(&table.entity_set, set_key)?;
            let display_name =
                self.non_empty(&table.display_name, format!("{table_key}.display_name"))?;
            let display_collection_name = match &table.display_collection_name {
                Some(written) => {
                    self.non_empty(written, format!("{table_key}.display_collection_name"))?
                }
                None => format!("{display_name}s"),
            };
            let publisher = logical_name.split('_').next().unwrap_or_default();
            let primary_id_attribute = match &table.primary_id {
                Some(written) => {
                    self.custom_name(written, format!("{table_key}.primary_id"))?;
                    written.get_ref().clone()
                }
                None => format!("{logical_name}id"),
            };
            let primary_name_attribute = match &table.primary_name {
                Some(written) => {
                    self.custom_name(written, format!("{table_key}.primary_name"))?;
                    written.get_ref().clone()
                }
                None => format!("{publisher}_name"),
            };
            let ownership = match table.ownership.get_ref().as_str() {
                "user" => Ownership::UserOwned,
                "organization" => Ownership::OrganizationOwned,
                other => {
                    return Err(self.invalid(
                        table.ownership.span(),
                        format!("{table_key}.ownership"),
                        Reason::TableOwnership {
                            value: other.to_owned(),
                        },
                    ));
                }
            };
            let mut columns = Vec::new();
            let mut seen: HashMap<String, String> = HashMap::new();
            for (column, value) in &table.columns.0 {
                let column_key = format!("{table_key}.columns.{}", column.get_ref());
                self.custom_name(column, column_key.clone())?;
                let taken = column.get_ref() == &primary_id_attribute
                    || column.get_ref() == &primary_name_attribute
                    || SYSTEM_COLUMNS.contains(&column.get_ref().as_str());
                if taken {
                    return Err(self.invalid(
                        column.span(),
                        column_key,
                        Reason::Duplicate {
                            what: "column name",
                            value: column.get_ref().clone(),
                            first: format!("{table_key} (a column every custom table has)"),
                        },
                    ));
                }
                self.unique(
                    &mut seen,
                    column.get_ref().clone(),
                    "column name",
                    column,
                    column_key.clone(),
                )?;
                let kind = self.column_kind(column.get_ref(), value, column_key, &targets)?;
                columns.push((column.get_ref().clone(), kind));
            }
            let object_type_code = FIRST_CUSTOM_OBJECT_TYPE_CODE
                + u32::try_from(index).expect("a world file holds far fewer tables");
            checked.push(
                CustomTable {
                    logical_name,
                    schema_name,
                    entity_set_name: table.entity_set.get_ref().clone(),
                    display_name,
                    display_collection_name,
                    primary_id_attribute,
                    primary_name_attribute,
                    ownership,
                    object_type_code,
                    columns,
                }
                .definition(),
            );
        }
        Ok(checked)
    }

    /// A custom logical name: lower-case ASCII letters, digits and `_`, a publisher prefix
    /// (a letter, then letters or digits) and `_`, then at least one more character.
    fn custom_name(&self, name: &Spanned<String>, key: String) -> Result<(), Error> {
        let text = name.get_ref();
        let valid = text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text
                .split_once('_')
                .is_some_and(|(_, rest)| !rest.is_empty());
        if valid {
            Ok(())
        } else {
            Err(self.invalid(name.span(), key, Reason::CustomName { name: text.clone() }))
        }
    }

    /// A column's type: a type name, or `{ type = …, max_length = …, options = { Label =
    /// value }, target = "account" }`.
    fn column_kind(
        &self,
        column: &str,
        value: &Spanned<toml::Value>,
        key: String,
        targets: &[String],
    ) -> Result<ColumnKind, Error> {
        let setting = |problem: String| {
            self.invalid(
                value.span(),
                key.clone(),
                Reason::ColumnSetting {
                    column: column.to_owned(),
                    problem,
                },
            )
        };
        let empty = toml::Table::new();
        let (type_name, settings) = match value.get_ref() {
            toml::Value::String(type_name) => (type_name.as_str(), &empty),
            toml::Value::Table(settings) => match settings.get("type") {
                Some(toml::Value::String(type_name)) => (type_name.as_str(), settings),
                _ => return Err(setting("give its `type = \"…\"`".to_owned())),
            },
            _ => {
                return Err(setting(
                    "write a type name (`\"money\"`) or `{ type = \"…\", … }`".to_owned(),
                ));
            }
        };
        if !COLUMN_TYPES.contains(&type_name) {
            return Err(self.invalid(
                value.span(),
                key,
                Reason::ColumnType {
                    value: type_name.to_owned(),
                    known: COLUMN_TYPES.to_vec(),
                },
            ));
        }
        let allowed: &[&str] = match type_name {
            "string" | "memo" => &["type", "max_length"],
            "picklist" => &["type", "options"],
            "lookup" => &["type", "target"],
            _ => &["type"],
        };
        if let Some(extra) = settings
            .keys()
            .find(|name| !allowed.contains(&name.as_str()))
        {
            return Err(setting(format!(
                "a {type_name} column takes no `{extra}`; it takes {}",
                allowed.join(", ")
            )));
        }
        let length = |(default, max): (u32, i64)| match settings.get("max_length") {
            None => Ok(default),
            Some(toml::Value::Integer(length)) if (1..=max).contains(length) => {
                Ok(u32::try_from(*length).expect("in range"))
            }
            Some(_) => Err(setting(format!(
                "`max_length` is a whole number from 1 to {max}"
            ))),
        };
        Ok(match type_name {
            "string" => ColumnKind::String {
                max_length: length(STRING_LENGTHS)?,
            },
            "memo" => ColumnKind::Memo {
                max_length: length(MEMO_LENGTHS)?,
            },
            "integer" => ColumnKind::Integer,
            "bigint" => ColumnKind::BigInt,
            "decimal" => ColumnKind::Decimal,
            "double" => ColumnKind::Double,
            "money" => ColumnKind::Money,
            "boolean" => ColumnKind::Boolean,
            "datetime" => ColumnKind::DateTime,
            "uniqueidentifier" => ColumnKind::Uniqueidentifier,
            "picklist" => {
                let Some(toml::Value::Table(options)) = settings.get("options") else {
                    return Err(setting(
                        "a picklist needs `options = { Label = 100000000, … }`".to_owned(),
                    ));
                };
                let mut parsed = Vec::new();
                for (label, option) in options {
                    let value = option
                        .as_integer()
                        .and_then(|value| i32::try_from(value).ok())
                        .ok_or_else(|| {
                            setting(format!("option `{label}` needs a whole-number value"))
                        })?;
                    if parsed
                        .iter()
                        .any(|known: &OptionValue| known.value == value)
                    {
                        return Err(setting(format!("option value {value} is given twice")));
                    }
                    parsed.push(OptionValue {
                        value,
                        label: label.clone(),
                        state: None,
                    });
                }
                if parsed.is_empty() {
                    return Err(setting("a picklist needs at least one option".to_owned()));
                }
                parsed.sort_by_key(|option| option.value);
                ColumnKind::Picklist { options: parsed }
            }
            _ => {
                let target = match settings.get("target") {
                    Some(toml::Value::String(target)) => target,
                    _ => {
                        return Err(setting(
                            "a lookup needs `target = \"<table logical name>\"`".to_owned(),
                        ));
                    }
                };
                if !targets.contains(target) {
                    return Err(setting(format!(
                        "`{target}` is not a table of this environment; known: {}",
                        targets.join(", ")
                    )));
                }
                ColumnKind::Lookup {
                    targets: vec![target.clone()],
                }
            }
        })
    }
}

/// The privileges of the custom tables, each with the depths a role may give it: only Global
/// for organization-owned tables (their privileges have no other depth in Dataverse, whose role
/// editor offers only None and Organization for them).
pub(super) fn custom_privileges(tables: &[TableDefinition]) -> HashMap<String, &TableDefinition> {
    tables
        .iter()
        .flat_map(|table| {
            fake_dataverse::schema::privilege_names(table)
                .into_iter()
                .map(move |name| (name, table))
        })
        .collect()
}

/// Whether a role may give `depth` on a privilege of `table`.
pub(super) fn depth_allowed(table: &TableDefinition, depth: Depth) -> bool {
    table.ownership != Ownership::OrganizationOwned || depth == Depth::Global
}
