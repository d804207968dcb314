//! Table definitions: what a Dataverse table is made of (names, object type code, ownership,
//! columns and their types). Metadata documents, the query engine and the security checks all
//! read these; rows are JSON objects keyed by column logical name, with lookups stored as
//! `_<column>_value` GUID strings as the Web API exposes them.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One table (entity).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDefinition {
    /// `account`.
    pub logical_name: String,
    /// `accounts`: the entity set in URLs.
    pub entity_set_name: String,
    /// `Account`.
    pub display_name: String,
    /// `Accounts`.
    pub display_collection_name: String,
    /// `Account`: the schema name, used in `Microsoft.Dynamics.CRM.account` types.
    pub schema_name: String,
    /// `accountid`.
    pub primary_id_attribute: String,
    /// `name`.
    pub primary_name_attribute: String,
    /// `1` for account (reference/dataverse.md §4.3).
    pub object_type_code: u32,
    /// Who owns rows: decides which depths apply.
    pub ownership: Ownership,
    /// The stem of privilege names: `Account` in `prvReadAccount`, `User` for systemuser.
    pub privilege_stem: String,
    /// `EntityDefinitions` `MetadataId`.
    pub metadata_id: Uuid,
    /// The columns, primary key first.
    pub columns: Vec<ColumnDefinition>,
    /// Collection-valued navigation properties (`systemuserroles_association`).
    #[serde(default)]
    pub collection_navigation: Vec<CollectionNavigation>,
}

/// A collection-valued navigation property: a 1:N or N:N relationship seen from this table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionNavigation {
    /// `systemuserroles_association`.
    pub name: String,
    /// The related table's logical name (`role`).
    pub target: String,
}

/// Ownership of a table's rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ownership {
    /// Owned by a user or team; every depth applies.
    UserOwned,
    /// Owned by the organization; only Global (or none) applies.
    OrganizationOwned,
    /// Owned by a business unit (businessunit itself).
    BusinessOwned,
}

/// One column (attribute). Unknown fields are refused by [`ColumnKind`] (serde cannot combine
/// `deny_unknown_fields` with the flattened kind here).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColumnDefinition {
    /// `name`, `revenue`, `primarycontactid` (lookups are exposed as `_primarycontactid_value`).
    pub logical_name: String,
    /// `Account Name`.
    pub display_name: String,
    /// The type.
    #[serde(flatten)]
    pub kind: ColumnKind,
    /// `AttributeMetadata` `MetadataId`.
    pub metadata_id: Uuid,
}

/// A column's type, as `AttributeTypeName` and the OData EDM type see it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ColumnKind {
    /// The primary key (`Edm.Guid`).
    PrimaryKey,
    /// Single-line text (`Edm.String`).
    String {
        /// Maximum length.
        max_length: u32,
    },
    /// Multi-line text (`Edm.String`).
    Memo {
        /// Maximum length.
        max_length: u32,
    },
    /// Whole number (`Edm.Int32`).
    Integer,
    /// Big integer (`Edm.Int64`), e.g. `versionnumber`.
    BigInt,
    /// Decimal (`Edm.Decimal`).
    Decimal,
    /// Floating point (`Edm.Double`).
    Double,
    /// Currency (`Edm.Decimal`, formatted with the currency symbol).
    Money,
    /// Two options (`Edm.Boolean`).
    Boolean,
    /// Date and time (`Edm.DateTimeOffset`).
    DateTime,
    /// A GUID that is not a key or lookup (`Edm.Guid`).
    Uniqueidentifier,
    /// A reference to a row of one of `targets` (exposed as `_<name>_value`).
    Lookup {
        /// Logical names of the tables it may point to.
        targets: Vec<String>,
    },
    /// The owner (`ownerid`, user or team).
    Owner,
    /// A choice (`Edm.Int32` with labels).
    Picklist {
        /// Value and label of each option.
        options: Vec<OptionValue>,
    },
    /// `statecode`.
    State {
        /// Value and label of each state.
        options: Vec<OptionValue>,
    },
    /// `statuscode`.
    Status {
        /// Value and label of each status reason.
        options: Vec<OptionValue>,
    },
}

/// One choice option.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionValue {
    /// The stored value.
    pub value: i32,
    /// The label (English, 1033).
    pub label: String,
    /// For `statuscode` options: the `statecode` value this status belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<i32>,
}

impl TableDefinition {
    /// The column named `logical_name`, or the lookup whose Web API name is `_<name>_value`.
    pub fn column(&self, name: &str) -> Option<&ColumnDefinition> {
        self.columns
            .iter()
            .find(|column| column.web_api_name() == name)
    }
}

impl ColumnDefinition {
    /// The property name on the wire: `_<name>_value` for lookups and owners, else the name.
    pub fn web_api_name(&self) -> String {
        match self.kind {
            ColumnKind::Lookup { .. } | ColumnKind::Owner => {
                format!("_{}_value", self.logical_name)
            }
            _ => self.logical_name.clone(),
        }
    }

    /// The OData EDM type (`Edm.String`, `Edm.Guid`, ...).
    pub fn edm_type(&self) -> &'static str {
        match self.kind {
            ColumnKind::PrimaryKey
            | ColumnKind::Uniqueidentifier
            | ColumnKind::Lookup { .. }
            | ColumnKind::Owner => "Edm.Guid",
            ColumnKind::String { .. } | ColumnKind::Memo { .. } => "Edm.String",
            ColumnKind::Integer
            | ColumnKind::Picklist { .. }
            | ColumnKind::State { .. }
            | ColumnKind::Status { .. } => "Edm.Int32",
            ColumnKind::BigInt => "Edm.Int64",
            ColumnKind::Decimal | ColumnKind::Money => "Edm.Decimal",
            ColumnKind::Double => "Edm.Double",
            ColumnKind::Boolean => "Edm.Boolean",
            ColumnKind::DateTime => "Edm.DateTimeOffset",
        }
    }
}

/// A table a world defines (a custom table such as `cr7a1_asset`): the names and columns its
/// maker chose. [`CustomTable::definition`] adds what Dataverse adds to every new table.
#[derive(Clone, Debug, PartialEq)]
pub struct CustomTable {
    /// `cr7a1_asset`.
    pub logical_name: String,
    /// `cr7a1_Asset`: also the privilege stem (`prvReadcr7a1_Asset`), as Dataverse names the
    /// privileges of custom tables after their schema name (reference/dataverse.md §4.1).
    pub schema_name: String,
    /// `cr7a1_assets`: given, never derived, since plurals are irregular.
    pub entity_set_name: String,
    /// `Asset`.
    pub display_name: String,
    /// `Assets`.
    pub display_collection_name: String,
    /// `cr7a1_assetid`.
    pub primary_id_attribute: String,
    /// `cr7a1_name`: a single-line text column of 100 characters, as the maker's default.
    pub primary_name_attribute: String,
    /// `UserOwned` (user or team) or `OrganizationOwned`.
    pub ownership: Ownership,
    /// `10000` and up (reference/dataverse.md §4.3: custom tables get codes from 10000).
    pub object_type_code: u32,
    /// The maker's own columns, in order: logical name and type.
    pub columns: Vec<(String, ColumnKind)>,
}

impl CustomTable {
    /// The table as the fake serves it: the primary key and name, the maker's columns, then the
    /// system columns Dataverse adds to every custom table (owner and owning business unit for
    /// user-owned tables, status, status reason, created on, modified on, version number).
    /// Metadata ids are UUID v5 of the names, so every load gives the same ones.
    pub fn definition(&self) -> TableDefinition {
        let table = &self.logical_name;
        let column = |name: &str, display: &str, kind: ColumnKind| ColumnDefinition {
            logical_name: name.to_owned(),
            display_name: display.to_owned(),
            kind,
            metadata_id: stable_id(&format!("column:{table}.{name}")),
        };
        let option = |value: i32, label: &str| OptionValue {
            value,
            label: label.to_owned(),
            state: None,
        };
        let mut columns = vec![
            column(
                &self.primary_id_attribute,
                &self.display_name,
                ColumnKind::PrimaryKey,
            ),
            column(
                &self.primary_name_attribute,
                "Name",
                ColumnKind::String { max_length: 100 },
            ),
        ];
        columns.extend(
            self.columns
                .iter()
                .map(|(name, kind)| column(name, name, kind.clone())),
        );
        if self.ownership == Ownership::UserOwned {
            columns.push(column("ownerid", "Owner", ColumnKind::Owner));
            columns.push(column(
                "owningbusinessunit",
                "Owning Business Unit",
                ColumnKind::Lookup {
                    targets: vec!["businessunit".to_owned()],
                },
            ));
        }
        columns.extend([
            column(
                "statecode",
                "Status",
                ColumnKind::State {
                    options: vec![option(0, "Active"), option(1, "Inactive")],
                },
            ),
            column(
                "statuscode",
                "Status Reason",
                ColumnKind::Status {
                    options: vec![option(1, "Active"), option(2, "Inactive")],
                },
            ),
            column("createdon", "Created On", ColumnKind::DateTime),
            column("modifiedon", "Modified On", ColumnKind::DateTime),
            column("versionnumber", "Version Number", ColumnKind::BigInt),
        ]);
        TableDefinition {
            logical_name: self.logical_name.clone(),
            entity_set_name: self.entity_set_name.clone(),
            display_name: self.display_name.clone(),
            display_collection_name: self.display_collection_name.clone(),
            schema_name: self.schema_name.clone(),
            primary_id_attribute: self.primary_id_attribute.clone(),
            primary_name_attribute: self.primary_name_attribute.clone(),
            object_type_code: self.object_type_code,
            ownership: self.ownership,
            privilege_stem: self.schema_name.clone(),
            metadata_id: stable_id(&format!("table:{table}")),
            columns,
            collection_navigation: Vec::new(),
        }
    }
}

/// UUID v5 in the URL namespace of `d365-harness:{what}`.
fn stable_id(what: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("d365-harness:{what}").as_bytes(),
    )
}

/// The privilege names of `table`, `prvCreatecr7a1_Asset` … : Create, Read, Write, Delete,
/// Append, AppendTo, and for user-owned tables Assign and Share.
pub fn privilege_names(table: &TableDefinition) -> Vec<String> {
    let verbs: &[&str] = match table.ownership {
        Ownership::UserOwned => &[
            "Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share",
        ],
        _ => &["Create", "Read", "Write", "Delete", "Append", "AppendTo"],
    };
    verbs
        .iter()
        .map(|verb| format!("prv{verb}{}", table.privilege_stem))
        .collect()
}
