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
