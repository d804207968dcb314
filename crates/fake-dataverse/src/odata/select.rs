//! `$select` and `$expand`: which properties a projected row carries ([`Selection::project`])
//! and which related rows ride along ([`Expand`]), validated against the table definitions.
//!
//! Rules (reference §8.1, select-columns doc): without `$select` every column is returned; the
//! primary key is always returned; selecting a money column brings `_transactioncurrencyid_value`
//! along when the table has it; lookups are selected as `_x_value`, and the bare lookup name is
//! an unknown property (reference §8.1 \[3P\]). `$expand` takes one level: a single-target lookup
//! (`primarycontactid`) or a collection-valued navigation property, with a nested `$select`,
//! and for collections also `$filter`, `$orderby` and `$top`.

use std::collections::BTreeMap;

use fake_core::echo;
use serde_json::Value;

use super::filter::{Filter, column_by_web_api_name};
use super::orderby::OrderBy;
use super::{QueryError, QueryOptions, Row};
use crate::schema::{ColumnKind, TableDefinition};

/// The properties of a projected row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Selection {
    /// In output order: the selected properties, the ride-alongs, then the primary key.
    pub(crate) properties: Vec<String>,
    /// The `$select` items as requested, for `@odata.context`; `None` without `$select`.
    pub(crate) requested: Option<Vec<String>>,
}

/// One `$expand` item.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expand {
    /// The navigation property (`primarycontactid`, `Account_Tasks`): the key of the nested
    /// value in the response.
    pub(crate) navigation: String,
    /// The related table's logical name.
    pub(crate) target: String,
    /// Single-valued or collection-valued.
    pub(crate) kind: ExpandKind,
    /// The nested `$select` (all columns without it).
    pub(crate) select: Selection,
    /// The nested `$filter` (collections only).
    pub(crate) filter: Option<Filter>,
    /// The nested `$orderby` (collections only; primary key order without it).
    pub(crate) order_by: OrderBy,
    /// The nested `$top` (collections only).
    pub(crate) top: Option<u32>,
}

/// What kind of navigation an [`Expand`] follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ExpandKind {
    /// A lookup: the related row is the one whose key is in `property` (`_primarycontactid_value`).
    Lookup {
        /// The lookup's Web API property on the parent row.
        property: String,
    },
    /// A collection-valued navigation property (1:N or N:N).
    Collection,
}

impl Selection {
    /// Every column of `table`, in table order.
    pub(crate) fn all(table: &TableDefinition) -> Selection {
        let mut properties: Vec<String> = table
            .columns
            .iter()
            .map(|column| column.web_api_name())
            .collect();
        if !properties.contains(&table.primary_id_attribute) {
            properties.push(table.primary_id_attribute.clone());
        }
        Selection {
            properties,
            requested: None,
        }
    }

    /// Parses `$select` (already URL-decoded); `None` or empty text selects everything.
    pub(crate) fn parse(
        text: Option<&str>,
        table: &TableDefinition,
        options: &QueryOptions,
    ) -> Result<Selection, QueryError> {
        let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
            return Ok(Selection::all(table));
        };
        let mut requested: Vec<String> = Vec::new();
        let mut everything = false;
        for term in split_top_level(text, ',') {
            let term = term.trim();
            if term == "*" {
                everything = true;
            } else if term.contains('/') {
                return Err(QueryError::not_implemented(
                    options,
                    format!(
                        "The $select path '{term}' is not supported by this fake Dataverse (d365-harness).",
                        term = echo(term),
                    ),
                ));
            } else if term.is_empty() || !term.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(QueryError::bad_request(
                    options,
                    format!(
                        "Term '{term}' is not valid in a $select or $expand expression.",
                        term = echo(term)
                    ),
                ));
            } else if column_by_web_api_name(table, term).is_none() {
                return Err(QueryError::property_not_found(options, term, table));
            }
            if !requested.iter().any(|existing| existing == term) {
                requested.push(term.to_owned());
            }
        }
        if everything {
            return Ok(Selection {
                requested: Some(requested),
                ..Selection::all(table)
            });
        }
        let mut properties = requested.clone();
        let selects_money = requested.iter().any(|name| {
            column_by_web_api_name(table, name)
                .is_some_and(|column| column.kind == ColumnKind::Money)
        });
        let currency = "_transactioncurrencyid_value";
        if selects_money
            && column_by_web_api_name(table, currency).is_some()
            && !properties.iter().any(|name| name == currency)
        {
            properties.push(currency.to_owned());
        }
        if !properties.contains(&table.primary_id_attribute) {
            properties.push(table.primary_id_attribute.clone());
        }
        Ok(Selection {
            properties,
            requested: Some(requested),
        })
    }

    /// The row reduced to the selected properties (null for those the row lacks).
    pub(crate) fn project(&self, row: &Row) -> Row {
        let mut projected = Row::new();
        for name in &self.properties {
            let value = row.get(name.as_str()).cloned().unwrap_or(Value::Null);
            projected.insert(name.clone(), value);
        }
        projected
    }
}

/// Parses `$expand` (already URL-decoded) against `table`; `lookup_table` finds related tables
/// by logical name.
pub(crate) fn parse_expand<'t>(
    text: &str,
    table: &TableDefinition,
    lookup_table: &dyn Fn(&str) -> Option<&'t TableDefinition>,
    aliases: &BTreeMap<String, String>,
    options: &QueryOptions,
) -> Result<Vec<Expand>, QueryError> {
    let mut expands = Vec::new();
    if text.trim().is_empty() {
        return Ok(expands);
    }
    for item in split_top_level(text, ',') {
        let item = item.trim();
        let (navigation, nested) = match item.find('(') {
            Some(open) => match item.strip_suffix(')') {
                Some(inner) => (item[..open].trim(), Some(&inner[open + 1..])),
                None => {
                    return Err(QueryError::bad_request(
                        options,
                        format!(
                            "Term '{item}' is not valid in a $select or $expand expression.",
                            item = echo(item)
                        ),
                    ));
                }
            },
            None => (item, None),
        };
        expands.push(parse_expand_item(
            navigation,
            nested,
            table,
            lookup_table,
            aliases,
            options,
        )?);
    }
    Ok(expands)
}

fn parse_expand_item<'t>(
    navigation: &str,
    nested: Option<&str>,
    table: &TableDefinition,
    lookup_table: &dyn Fn(&str) -> Option<&'t TableDefinition>,
    aliases: &BTreeMap<String, String>,
    options: &QueryOptions,
) -> Result<Expand, QueryError> {
    let unsupported = |what: String| {
        QueryError::not_implemented(
            options,
            format!("The $expand {what} is not supported by this fake Dataverse (d365-harness)."),
        )
    };
    if navigation == "*" || navigation.contains('/') || navigation.contains('.') {
        return Err(unsupported(format!("path '{}'", echo(navigation))));
    }
    let (target, kind) = if let Some(collection) = table
        .collection_navigation
        .iter()
        .find(|collection| collection.name == navigation)
    {
        (collection.target.clone(), ExpandKind::Collection)
    } else if let Some(column) = table.columns.iter().find(|column| {
        column.logical_name == navigation
            && matches!(column.kind, ColumnKind::Lookup { .. } | ColumnKind::Owner)
    }) {
        match &column.kind {
            ColumnKind::Lookup { targets } if targets.len() == 1 => (
                targets[0].clone(),
                ExpandKind::Lookup {
                    property: column.web_api_name(),
                },
            ),
            _ => {
                return Err(unsupported(format!(
                    "of the polymorphic lookup '{navigation}'"
                )));
            }
        }
    } else if column_by_web_api_name(table, navigation).is_some() {
        return Err(QueryError::bad_request(
            options,
            format!(
                "Property '{navigation}' on type 'Microsoft.Dynamics.CRM.{}' is not a navigation property or complex property. Only navigation properties can be expanded.",
                table.logical_name,
                navigation = echo(navigation),
            ),
        ));
    } else {
        return Err(QueryError::property_not_found(options, navigation, table));
    };
    let Some(target_table) = lookup_table(&target) else {
        return Err(unsupported(format!(
            "of '{navigation}' (the table '{target}' is not in this fake environment)"
        )));
    };
    let mut expand = Expand {
        navigation: navigation.to_owned(),
        target,
        kind,
        select: Selection::all(target_table),
        filter: None,
        order_by: OrderBy::primary_key(target_table),
        top: None,
    };
    let Some(nested) = nested else {
        return Ok(expand);
    };
    if nested.trim().is_empty() {
        return Err(QueryError::bad_request(
            options,
            format!(
                "Missing expand option on navigation property '{navigation}'. If a parenthesis expression follows an expanded navigation property, then at least one expand option must be provided."
            ),
        ));
    }
    let mut seen: Vec<&str> = Vec::new();
    for option in split_top_level(nested, ';') {
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        let name = name.trim();
        if seen.contains(&name) {
            return Err(QueryError::bad_request(
                options,
                format!(
                    "Query option '{name}' was specified more than once, but it must be specified at most once.",
                    name = echo(name),
                ),
            ));
        }
        seen.push(name);
        let collection_only = |expand: &Expand| match expand.kind {
            ExpandKind::Collection => Ok(()),
            ExpandKind::Lookup { .. } => Err(unsupported(format!(
                "option '{}' on the single-valued navigation property '{navigation}'",
                echo(name)
            ))),
        };
        match name {
            "$select" => expand.select = Selection::parse(Some(value), target_table, options)?,
            "$filter" => {
                collection_only(&expand)?;
                expand.filter = Some(Filter::parse(value, target_table, aliases, options)?);
            }
            "$orderby" => {
                collection_only(&expand)?;
                expand.order_by = OrderBy::parse(value, target_table, options)?;
            }
            "$top" => {
                collection_only(&expand)?;
                expand.top = Some(super::parse_top(value, options)?);
            }
            "$expand" => {
                return Err(unsupported(format!(
                    "option '$expand' inside '{navigation}' (nested $expand)"
                )));
            }
            other => return Err(super::unsupported_option(options, other)),
        }
    }
    Ok(expand)
}

/// `(name,revenue,primarycontactid(fullname))` for `@odata.context`, or `None` when the query
/// neither selects nor expands.
pub(crate) fn context_properties(select: &Selection, expand: &[Expand]) -> Option<String> {
    let mut items: Vec<String> = select.requested.clone().unwrap_or_default();
    for item in expand {
        let nested = item
            .select
            .requested
            .as_deref()
            .unwrap_or_default()
            .join(",");
        items.push(format!("{}({nested})", item.navigation));
    }
    if items.is_empty() {
        return None;
    }
    Some(format!("({})", items.join(",")))
}

/// Splits on `separator` outside parentheses and single-quoted strings.
pub(crate) fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut start = 0;
    for (index, character) in text.char_indices() {
        match character {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ if character == separator && !quoted && depth == 0 => {
                parts.push(&text[start..index]);
                start = index + character.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}
