//! Metadata (reference/dataverse.md §7): `EntityDefinitions` (list with `$select` and a
//! `$filter` of `eq` comparisons joined by `and`/`or`, single by `LogicalName` or `MetadataId`,
//! `/Attributes`); `csdl.rs` writes `$metadata`. Any enabled application user may read
//! metadata (UNCONFIRMED which privilege guards it; reference §12.6).

use http::StatusCode;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::call::{Answer, Call};
use crate::errors::ErrorCode;
use crate::response::{self, ApiError};
use crate::schema::{ColumnDefinition, ColumnKind, Ownership, TableDefinition};

/// The `EntityMetadata` properties this fake knows, in the order it writes them.
const ENTITY_PROPERTIES: &[&str] = &[
    "LogicalName",
    "SchemaName",
    "EntitySetName",
    "LogicalCollectionName",
    "DisplayName",
    "DisplayCollectionName",
    "PrimaryIdAttribute",
    "PrimaryNameAttribute",
    "ObjectTypeCode",
    "OwnershipType",
    "IsCustomEntity",
    "IsActivity",
    "MetadataId",
];

/// A localized label as metadata carries it (English only).
fn label(text: &str, owner: Uuid, purpose: &str) -> Value {
    let id = Uuid::new_v5(&owner, purpose.as_bytes());
    let localized = json!({"Label": text, "LanguageCode": 1033, "IsManaged": true, "MetadataId": id, "HasChanged": null});
    json!({"LocalizedLabels": [localized.clone()], "UserLocalizedLabel": localized})
}

fn entity_property(table: &TableDefinition, name: &str) -> Option<Value> {
    Some(match name {
        "LogicalName" => json!(table.logical_name),
        "SchemaName" => json!(table.schema_name),
        "EntitySetName" => json!(table.entity_set_name),
        "LogicalCollectionName" => json!(table.entity_set_name),
        "DisplayName" => label(&table.display_name, table.metadata_id, "DisplayName"),
        "DisplayCollectionName" => label(
            &table.display_collection_name,
            table.metadata_id,
            "DisplayCollectionName",
        ),
        "PrimaryIdAttribute" => json!(table.primary_id_attribute),
        "PrimaryNameAttribute" => json!(table.primary_name_attribute),
        "ObjectTypeCode" => json!(table.object_type_code),
        "OwnershipType" => json!(match table.ownership {
            Ownership::UserOwned => "UserOwned",
            Ownership::OrganizationOwned => "OrganizationOwned",
            Ownership::BusinessOwned => "BusinessOwned",
        }),
        "IsCustomEntity" => json!(false),
        // The standard tables hold no activity tables (email, task, ...), whose rows share the
        // `prvReadActivity` privilege.
        "IsActivity" => json!(false),
        "MetadataId" => json!(table.metadata_id),
        _ => return None,
    })
}

fn unknown_property(call: &Call<'_>, name: &str, on: &str) -> ApiError {
    ApiError::configured(
        ErrorCode::BadRequest,
        call.state.config.switches.property_not_found_code.clone(),
        format!(
            "Could not find a property named '{}' on type 'Microsoft.Dynamics.CRM.{on}'.",
            fake_core::echo(name)
        ),
    )
}

/// `EntityDefinitions[...]`.
pub(crate) fn entity_definitions(call: &Call<'_>, key: Option<&str>, attributes: bool) -> Answer {
    let tables: Vec<&TableDefinition> = call
        .environment
        .tables
        .iter()
        .map(|table| &table.definition)
        .collect();
    let mut select: Option<Vec<String>> = None;
    let mut filter: Option<String> = None;
    for (name, value) in form_urlencoded::parse(call.query.as_bytes()) {
        match name.as_ref() {
            "$select" => {
                select = Some(
                    value
                        .split(',')
                        .map(|item| item.trim().to_owned())
                        .collect(),
                );
            }
            "$filter" => filter = Some(value.into_owned()),
            // Metadata has no paging: `$top` is accepted and ignored, as by the real service.
            "$top" => {}
            other if other.starts_with('$') && !attributes => {
                return Err(ApiError::new(
                    ErrorCode::BadRequest,
                    format!(
                        "The query option '{}' is not supported on EntityDefinitions by this fake Dataverse (d365-harness); supported: $select, $filter (eq with and/or), $top.",
                        fake_core::echo(other)
                    ),
                ));
            }
            _ => {}
        }
    }
    let on = if attributes {
        "AttributeMetadata"
    } else {
        "EntityMetadata"
    };
    if !attributes && let Some(select) = &select {
        for name in select {
            if !ENTITY_PROPERTIES.contains(&name.as_str()) {
                return Err(unknown_property(call, name, on));
            }
        }
    }
    let base = &call.exchange.base;
    let Some(key) = key else {
        let conditions = match &filter {
            Some(filter) => parse_filter(call, filter)?,
            None => Vec::new(),
        };
        let value: Vec<Value> = tables
            .iter()
            .filter(|table| matches_filter(table, &conditions))
            .map(|table| entity(table, select.as_deref()))
            .collect();
        let context = match &select {
            Some(select) => format!("{base}/$metadata#EntityDefinitions({})", select.join(",")),
            None => format!("{base}/$metadata#EntityDefinitions"),
        };
        return ok(call, json!({"@odata.context": context, "value": value}));
    };
    let table = find(&tables, key).ok_or_else(|| {
        ApiError::new(
            ErrorCode::ObjectDoesNotExist,
            format!("Could not find entity with {}.", fake_core::echo(key)),
        )
    })?;
    if attributes {
        let value: Vec<Value> = table
            .columns
            .iter()
            .map(|column| attribute(table, column))
            .collect();
        let context = format!(
            "{base}/$metadata#EntityDefinitions('{}')/Attributes",
            table.metadata_id
        );
        return ok(call, json!({"@odata.context": context, "value": value}));
    }
    let mut body = Map::new();
    let context = match &select {
        Some(select) => format!(
            "{base}/$metadata#EntityDefinitions({})/$entity",
            select.join(",")
        ),
        None => format!("{base}/$metadata#EntityDefinitions/$entity"),
    };
    body.insert("@odata.context".into(), json!(context));
    if let Value::Object(fields) = entity(table, select.as_deref()) {
        body.extend(fields);
    }
    ok(call, Value::Object(body))
}

fn ok(call: &Call<'_>, body: Value) -> Answer {
    Ok(response::json(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
        call.exchange,
    ))
}

/// `LogicalName='account'` or a `MetadataId`.
fn find<'a>(tables: &[&'a TableDefinition], key: &str) -> Option<&'a TableDefinition> {
    if let Some(name) = key
        .strip_prefix("LogicalName='")
        .and_then(|rest| rest.strip_suffix('\''))
    {
        return tables
            .iter()
            .copied()
            .find(|table| table.logical_name == name);
    }
    let id = Uuid::try_parse(key).ok()?;
    tables.iter().copied().find(|table| table.metadata_id == id)
}

/// One entity, with the selected properties (always `MetadataId`, as the real service does).
fn entity(table: &TableDefinition, select: Option<&[String]>) -> Value {
    let mut fields = Map::new();
    for name in ENTITY_PROPERTIES {
        let wanted = select.is_none_or(|select| select.iter().any(|item| item == name));
        if (wanted || *name == "MetadataId")
            && let Some(value) = entity_property(table, name)
        {
            fields.insert((*name).to_owned(), value);
        }
    }
    Value::Object(fields)
}

fn attribute(table: &TableDefinition, column: &ColumnDefinition) -> Value {
    let (odata_type, attribute_type) = match &column.kind {
        ColumnKind::PrimaryKey | ColumnKind::Uniqueidentifier => {
            ("UniqueIdentifierAttributeMetadata", "Uniqueidentifier")
        }
        ColumnKind::String { .. } => ("StringAttributeMetadata", "String"),
        ColumnKind::Memo { .. } => ("MemoAttributeMetadata", "Memo"),
        ColumnKind::Integer => ("IntegerAttributeMetadata", "Integer"),
        ColumnKind::BigInt => ("BigIntAttributeMetadata", "BigInt"),
        ColumnKind::Decimal => ("DecimalAttributeMetadata", "Decimal"),
        ColumnKind::Double => ("DoubleAttributeMetadata", "Double"),
        ColumnKind::Money => ("MoneyAttributeMetadata", "Money"),
        ColumnKind::Boolean => ("BooleanAttributeMetadata", "Boolean"),
        ColumnKind::DateTime => ("DateTimeAttributeMetadata", "DateTime"),
        ColumnKind::Lookup { .. } => ("LookupAttributeMetadata", "Lookup"),
        ColumnKind::Owner => ("LookupAttributeMetadata", "Owner"),
        ColumnKind::Picklist { .. } => ("PicklistAttributeMetadata", "Picklist"),
        ColumnKind::State { .. } => ("StateAttributeMetadata", "State"),
        ColumnKind::Status { .. } => ("StatusAttributeMetadata", "Status"),
    };
    let mut fields = Map::new();
    fields.insert(
        "@odata.type".into(),
        json!(format!("#Microsoft.Dynamics.CRM.{odata_type}")),
    );
    fields.insert("LogicalName".into(), json!(column.logical_name));
    fields.insert("AttributeType".into(), json!(attribute_type));
    fields.insert(
        "AttributeTypeName".into(),
        json!({"Value": format!("{attribute_type}Type")}),
    );
    fields.insert(
        "DisplayName".into(),
        label(&column.display_name, column.metadata_id, "DisplayName"),
    );
    fields.insert("EntityLogicalName".into(), json!(table.logical_name));
    fields.insert(
        "IsPrimaryId".into(),
        json!(column.logical_name == table.primary_id_attribute),
    );
    fields.insert(
        "IsPrimaryName".into(),
        json!(column.logical_name == table.primary_name_attribute),
    );
    match &column.kind {
        ColumnKind::String { max_length } | ColumnKind::Memo { max_length } => {
            fields.insert("MaxLength".into(), json!(max_length));
        }
        ColumnKind::Lookup { targets } => {
            fields.insert("Targets".into(), json!(targets));
        }
        ColumnKind::Owner => {
            fields.insert("Targets".into(), json!(["systemuser", "team"]));
        }
        _ => {}
    }
    fields.insert("MetadataId".into(), json!(column.metadata_id));
    Value::Object(fields)
}

/// `Name eq 'value'` conditions; `and` binds tighter than `or` (a disjunction of conjunctions).
type Conditions = Vec<Vec<(String, String)>>;

fn parse_filter(call: &Call<'_>, filter: &str) -> Result<Conditions, ApiError> {
    let unsupported = || {
        ApiError::new(
            ErrorCode::BadRequest,
            format!(
                "The $filter '{}' is not supported on EntityDefinitions by this fake Dataverse (d365-harness); supported: Property eq 'value' (or a number, true, false) joined by and/or, without parentheses or functions.",
                fake_core::echo(filter)
            ),
        )
    };
    let mut disjunction = Vec::new();
    for alternative in split_keyword(filter, " or ") {
        let mut conjunction = Vec::new();
        for condition in split_keyword(&alternative, " and ") {
            let condition = condition.trim();
            let (name, value) = condition.split_once(" eq ").ok_or_else(unsupported)?;
            let name = name.trim();
            if name.contains(['(', ')']) {
                return Err(unsupported());
            }
            if !ENTITY_PROPERTIES.contains(&name)
                || matches!(name, "DisplayName" | "DisplayCollectionName")
            {
                return Err(unknown_property(call, name, "EntityMetadata"));
            }
            let value = value.trim();
            let value = match value
                .strip_prefix('\'')
                .and_then(|rest| rest.strip_suffix('\''))
            {
                Some(text) => text.replace("''", "'"),
                None => value.to_owned(),
            };
            conjunction.push((name.to_owned(), value));
        }
        disjunction.push(conjunction);
    }
    Ok(disjunction)
}

/// Splits on a keyword outside string literals.
fn split_keyword(text: &str, keyword: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_string = false;
    let mut rest = text;
    while let Some(character) = rest.chars().next() {
        if character == '\'' {
            in_string = !in_string;
        }
        if !in_string && rest.starts_with(keyword) {
            parts.push(std::mem::take(&mut current));
            rest = &rest[keyword.len()..];
            continue;
        }
        current.push(character);
        rest = &rest[character.len_utf8()..];
    }
    parts.push(current);
    parts
}

fn matches_filter(table: &TableDefinition, conditions: &Conditions) -> bool {
    conditions.is_empty()
        || conditions.iter().any(|conjunction| {
            conjunction.iter().all(|(name, expected)| {
                entity_property(table, name).is_some_and(|value| match value {
                    Value::String(text) => text.eq_ignore_ascii_case(expected),
                    other => expected
                        .parse::<Value>()
                        .is_ok_and(|parsed| parsed == other),
                })
            })
        })
}
