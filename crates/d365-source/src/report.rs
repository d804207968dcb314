//! What a passed connection check learned: [`CheckReport`] and its parts. These types are
//! saved in `sources.json` (as a source's last check), so a change to them is a change of the
//! file format: see `store/format.rs` for the rule.

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
}
