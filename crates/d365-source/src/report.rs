//! What a passed connection check learned: [`CheckReport`] and its parts, with the
//! [`CheckWarning`]s of a check that passed but found something the user must see. These types
//! are saved in `sources.json` (as a source's last check), so a change to them is a change of
//! the file format: see `store/format.rs` for the rule.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What a passed connection check learned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckReport {
    /// When the check ran.
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    /// The application user's `systemuserid` (WhoAmI `UserId`).
    pub user_id: Uuid,
    /// The application user's business unit.
    pub business_unit_id: Uuid,
    /// The organization.
    pub organization: Organization,
    /// The tables to import, each read successfully.
    pub tables: Vec<TableAccess>,
    /// Logical names of every table the application user can read, sorted (for mapping).
    pub readable_tables: Vec<String>,
    /// What the check passed with but the user must see (absent from files of older builds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<CheckWarning>,
}

/// The organization behind the environment (`RetrieveCurrentOrganization`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organization {
    /// `OrganizationId`.
    pub id: Uuid,
    /// `FriendlyName`.
    pub name: String,
    /// `UniqueName`.
    pub unique_name: String,
    /// `OrganizationVersion` (`9.2.…`).
    pub version: String,
}

/// A table to import and what reading it showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableAccess {
    /// Logical name (`account`).
    pub logical_name: String,
    /// Entity set name (`accounts`).
    pub entity_set: String,
    /// The name as the user typed it, when it is not the logical name (`Accounts`, `Contact`):
    /// the check resolved it through the table's schema or entity set name, in any case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<String>,
    /// The depth of the application user's Read privilege on the table, as
    /// `RetrieveUserPrivileges` gave it (absent from files of older builds, and when the
    /// privilege list did not name the table's read privilege).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_depth: Option<ReadDepth>,
}

impl TableAccess {
    /// "`Accounts` is the table account (entity set accounts)", when the typed name was
    /// resolved to another one.
    pub fn resolution(&self) -> Option<String> {
        self.requested.as_ref().map(|requested| {
            format!(
                "`{requested}` is the table {} (entity set {})",
                self.logical_name, self.entity_set
            )
        })
    }
}

/// The depth of a privilege (`Depth` in `RetrieveUserPrivileges`), spelt as Dataverse spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ReadDepth {
    /// User: the rows the user owns (or that are shared with it).
    Basic,
    /// Business Unit: the rows of the user's business unit.
    Local,
    /// Parent: Child Business Units: the user's business unit and the units below it.
    Deep,
    /// Organization: every row.
    Global,
}

impl ReadDepth {
    /// `Basic`, `Local`, `Deep`, `Global`: the name in `RetrieveUserPrivileges`; any other is
    /// `None`.
    pub fn parse(name: &str) -> Option<ReadDepth> {
        match name {
            "Basic" => Some(ReadDepth::Basic),
            "Local" => Some(ReadDepth::Local),
            "Deep" => Some(ReadDepth::Deep),
            "Global" => Some(ReadDepth::Global),
            _ => None,
        }
    }

    /// The API name (`Basic`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReadDepth::Basic => "Basic",
            ReadDepth::Local => "Local",
            ReadDepth::Deep => "Deep",
            ReadDepth::Global => "Global",
        }
    }

    /// The name the security role editor shows (`User`, `Business Unit`, ...).
    pub fn label(self) -> &'static str {
        match self {
            ReadDepth::Basic => "User",
            ReadDepth::Local => "Business Unit",
            ReadDepth::Deep => "Parent: Child Business Units",
            ReadDepth::Global => "Organization",
        }
    }
}

impl fmt::Display for ReadDepth {
    /// `User (Basic)`: the editor's name, then the API's.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label(), self.as_str())
    }
}

/// Something a passed check found that the user must see, about one table to import; not tied
/// to a form field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckWarning {
    /// The stable machine name.
    pub kind: CheckWarningKind,
    /// The table's logical name.
    pub table: String,
    /// The depth of the application user's Read privilege on it.
    pub depth: ReadDepth,
    /// The sentence the user sees.
    pub message: String,
}

/// The stable machine names of check warnings (`snake_case` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckWarningKind {
    /// The table's Read depth does not reach every row: an import brings only part of it.
    PartialReadDepth,
}

impl CheckWarningKind {
    /// Every kind.
    pub const ALL: [CheckWarningKind; 1] = [CheckWarningKind::PartialReadDepth];

    /// The stable machine name (`partial_read_depth`).
    pub fn as_str(self) -> &'static str {
        match self {
            CheckWarningKind::PartialReadDepth => "partial_read_depth",
        }
    }
}

impl fmt::Display for CheckWarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
