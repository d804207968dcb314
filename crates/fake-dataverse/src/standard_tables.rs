//! The standard tables: the Dataverse tables, privileges and predefined security roles the fake
//! knows out of the box, compiled in from `fixtures/dataverse/` (see its README for sources).
//! Start at [`standard_tables`] and [`predefined_roles`]. Invariant: the fixtures are consistent
//! (`standard_tables/tests.rs` proves it against the privilege model here, whose
//! `#[cfg(test)]` parts only those tests use), so a fixture that fails to parse is a bug and
//! panics.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use uuid::Uuid;

pub(crate) use crate::config::Depth;
#[cfg(test)]
use crate::schema::Ownership;
use crate::schema::{ColumnDefinition, ColumnKind, TableDefinition};

/// The table fixtures, one `TableDefinition` each.
const TABLE_FIXTURES: &[(&str, &str)] = &[
    (
        "account.json",
        include_str!("../../../fixtures/dataverse/tables/account.json"),
    ),
    (
        "contact.json",
        include_str!("../../../fixtures/dataverse/tables/contact.json"),
    ),
    (
        "opportunity.json",
        include_str!("../../../fixtures/dataverse/tables/opportunity.json"),
    ),
    (
        "lead.json",
        include_str!("../../../fixtures/dataverse/tables/lead.json"),
    ),
    (
        "incident.json",
        include_str!("../../../fixtures/dataverse/tables/incident.json"),
    ),
    (
        "systemuser.json",
        include_str!("../../../fixtures/dataverse/tables/systemuser.json"),
    ),
    (
        "businessunit.json",
        include_str!("../../../fixtures/dataverse/tables/businessunit.json"),
    ),
    (
        "team.json",
        include_str!("../../../fixtures/dataverse/tables/team.json"),
    ),
    (
        "role.json",
        include_str!("../../../fixtures/dataverse/tables/role.json"),
    ),
    (
        "transactioncurrency.json",
        include_str!("../../../fixtures/dataverse/tables/transactioncurrency.json"),
    ),
];

const ROLES_FIXTURE: &str = include_str!("../../../fixtures/dataverse/roles.json");
const PRIVILEGES_FIXTURE: &str = include_str!("../../../fixtures/dataverse/privileges.json");

/// Privileges that belong to no table (reference/dataverse.md §4.8); they only take Global.
#[cfg(test)]
pub(crate) const MISCELLANEOUS_PRIVILEGES: &[&str] = &["prvActOnBehalfOfAnotherUser"];

/// Tables that lookups of the standard tables point to but the fixtures do not model (`role` →
/// `roletemplate`); such lookups stay empty in generated rows.
#[cfg(test)]
pub(crate) const UNMODELLED_LOOKUP_TARGETS: &[&str] = &["roletemplate"];

/// The tables every environment starts with: account, contact, opportunity, lead, incident,
/// systemuser, businessunit, team, role and transactioncurrency.
pub fn standard_tables() -> Vec<TableDefinition> {
    STANDARD_TABLES.clone()
}

/// Parsed once: the answers of every request read them.
static STANDARD_TABLES: LazyLock<Vec<TableDefinition>> = LazyLock::new(|| {
    TABLE_FIXTURES
        .iter()
        .map(|(file, text)| {
            parse_table(text).unwrap_or_else(|error| {
                panic!("fixture `fixtures/dataverse/tables/{file}` is malformed: {error}")
            })
        })
        .collect()
});

/// Parses one table fixture.
///
/// `ColumnDefinition` combines `deny_unknown_fields` with a flattened `kind`, which serde
/// cannot deserialize (every field reaches the flattened part as "unknown"), so columns go
/// through [`ColumnFile`]; the rest of the table uses the schema's own `Deserialize`.
pub(crate) fn parse_table(text: &str) -> Result<TableDefinition, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_str(text)?;
    let columns = match value.get_mut("columns") {
        Some(columns) => std::mem::replace(columns, serde_json::Value::Array(Vec::new())),
        None => serde_json::Value::Null,
    };
    let mut table: TableDefinition = serde_json::from_value(value)?;
    let columns: Vec<ColumnFile> = serde_json::from_value(columns)?;
    table.columns = columns.into_iter().map(ColumnFile::into_column).collect();
    Ok(table)
}

/// A column as the fixtures write it. Unknown fields still fail: they reach `ColumnKind`, whose
/// `deny_unknown_fields` rejects them.
#[derive(Deserialize)]
struct ColumnFile {
    logical_name: String,
    display_name: String,
    metadata_id: Uuid,
    #[serde(flatten)]
    kind: ColumnKind,
}

impl ColumnFile {
    fn into_column(self) -> ColumnDefinition {
        ColumnDefinition {
            logical_name: self.logical_name,
            display_name: self.display_name,
            kind: self.kind,
            metadata_id: self.metadata_id,
        }
    }
}

/// The standard table named `logical_name`.
pub fn standard_table(logical_name: &str) -> Option<TableDefinition> {
    STANDARD_TABLES
        .iter()
        .find(|table| table.logical_name == logical_name)
        .cloned()
}

/// A predefined security role as `roles.json` describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleTemplate {
    /// `System Administrator`.
    pub name: String,
    /// `_roletemplateid_value`; `None` for roles that have no template (Service Reader).
    pub template_id: Option<Uuid>,
    /// `prvReadAccount` → `Global`.
    pub privileges: BTreeMap<String, Depth>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleTemplateFile {
    name: String,
    template_id: Option<Uuid>,
    privileges: BTreeMap<String, String>,
}

/// The predefined roles (System Administrator, Basic User, Service Reader, ...) in fixture order.
pub fn predefined_roles() -> Vec<RoleTemplate> {
    PREDEFINED_ROLES.clone()
}

/// Parsed once.
static PREDEFINED_ROLES: LazyLock<Vec<RoleTemplate>> = LazyLock::new(|| {
    let files: Vec<RoleTemplateFile> =
        serde_json::from_str(ROLES_FIXTURE).unwrap_or_else(|error| {
            panic!("fixture `fixtures/dataverse/roles.json` is malformed: {error}")
        });
    files
        .into_iter()
        .map(|file| RoleTemplate {
            privileges: file
                .privileges
                .into_iter()
                .map(|(privilege, depth)| {
                    let parsed = parse_depth(&depth).unwrap_or_else(|| {
                        panic!(
                            "fixture `fixtures/dataverse/roles.json`: role `{}` gives `{privilege}` \
                             the unknown depth `{depth}`",
                            file.name
                        )
                    });
                    (privilege, parsed)
                })
                .collect(),
            name: file.name,
            template_id: file.template_id,
        })
        .collect()
});

/// The predefined role called `name`.
pub fn predefined_role(name: &str) -> Option<RoleTemplate> {
    PREDEFINED_ROLES
        .iter()
        .find(|role| role.name == name)
        .cloned()
}

static PRIVILEGE_IDS: LazyLock<BTreeMap<String, Uuid>> = LazyLock::new(|| {
    serde_json::from_str(PRIVILEGES_FIXTURE).unwrap_or_else(|error| {
        panic!("fixture `fixtures/dataverse/privileges.json` is malformed: {error}")
    })
});

/// Every privilege of `privileges.json`, name → `privilegeid`.
#[cfg(test)]
pub(crate) fn privilege_ids() -> &'static BTreeMap<String, Uuid> {
    &PRIVILEGE_IDS
}

/// The `privilegeid` of `name`: the fixture's (the real id where one is known), else the
/// stable id every fixture id without a source was made with (fixtures/dataverse/README.md).
pub(crate) fn privilege_id(name: &str) -> Uuid {
    PRIVILEGE_IDS
        .get(name)
        .copied()
        .unwrap_or_else(|| derived_privilege_id(name))
}

/// UUID v5 in the URL namespace of `d365-harness:privilege:{name}`.
pub(crate) fn derived_privilege_id(name: &str) -> Uuid {
    Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("d365-harness:privilege:{name}").as_bytes(),
    )
}

/// `Basic`, `Local`, `Deep`, `Global` exactly as `RetrieveUserPrivileges` spells them.
pub(crate) fn parse_depth(text: &str) -> Option<Depth> {
    ALL_DEPTHS.into_iter().find(|depth| depth.as_str() == text)
}

/// Every depth, narrowest first.
pub(crate) const ALL_DEPTHS: [Depth; 4] = [Depth::Basic, Depth::Local, Depth::Deep, Depth::Global];

/// `roleprivileges.privilegedepthmask`: 1 Basic, 2 Local, 4 Deep, 8 Global (§4.2).
#[cfg(test)]
pub(crate) fn privilege_depth_mask(depth: Depth) -> u32 {
    match depth {
        Depth::Basic => 1,
        Depth::Local => 2,
        Depth::Deep => 4,
        Depth::Global => 8,
    }
}

/// The depth a `privilegedepthmask` names; the widest bit wins when several are set.
#[cfg(test)]
pub(crate) fn depth_from_mask(mask: u32) -> Option<Depth> {
    ALL_DEPTHS
        .into_iter()
        .rev()
        .find(|depth| mask & privilege_depth_mask(*depth) != 0)
}

/// The eight record-level privileges (reference/dataverse.md §4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PrivilegeKind {
    /// `prvCreate…`.
    Create,
    /// `prvRead…`.
    Read,
    /// `prvWrite…`.
    Write,
    /// `prvDelete…`.
    Delete,
    /// `prvAppend…`: attach other rows to this one.
    Append,
    /// `prvAppendTo…`: be the target of another row's lookup.
    AppendTo,
    /// `prvAssign…`: change the owner (user-owned tables only).
    Assign,
    /// `prvShare…` (user-owned tables only).
    Share,
}

impl PrivilegeKind {
    /// All eight, in the order the security role editor shows them.
    #[cfg(test)]
    pub(crate) const ALL: [PrivilegeKind; 8] = [
        PrivilegeKind::Create,
        PrivilegeKind::Read,
        PrivilegeKind::Write,
        PrivilegeKind::Delete,
        PrivilegeKind::Append,
        PrivilegeKind::AppendTo,
        PrivilegeKind::Assign,
        PrivilegeKind::Share,
    ];

    /// `AppendTo`: the middle of the privilege name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PrivilegeKind::Create => "Create",
            PrivilegeKind::Read => "Read",
            PrivilegeKind::Write => "Write",
            PrivilegeKind::Delete => "Delete",
            PrivilegeKind::Append => "Append",
            PrivilegeKind::AppendTo => "AppendTo",
            PrivilegeKind::Assign => "Assign",
            PrivilegeKind::Share => "Share",
        }
    }

    /// `ReadAccess`: the `Microsoft.Dynamics.CRM.AccessRights` member access checks name.
    pub(crate) fn access_right(self) -> &'static str {
        match self {
            PrivilegeKind::Create => "CreateAccess",
            PrivilegeKind::Read => "ReadAccess",
            PrivilegeKind::Write => "WriteAccess",
            PrivilegeKind::Delete => "DeleteAccess",
            PrivilegeKind::Append => "AppendAccess",
            PrivilegeKind::AppendTo => "AppendToAccess",
            PrivilegeKind::Assign => "AssignAccess",
            PrivilegeKind::Share => "ShareAccess",
        }
    }

    /// `prvReadAccount` for account, `prvReadUser` for systemuser.
    pub(crate) fn name_for(self, table: &TableDefinition) -> String {
        format!("prv{}{}", self.as_str(), table.privilege_stem)
    }

    /// Whether `table` has this privilege at all: only user-owned tables can be assigned and
    /// shared.
    #[cfg(test)]
    pub(crate) fn applies_to(self, table: &TableDefinition) -> bool {
        match self {
            PrivilegeKind::Assign | PrivilegeKind::Share => table.ownership == Ownership::UserOwned,
            _ => true,
        }
    }

    /// The depths a role may grant this privilege on `table`, narrowest first (§4.2):
    /// organization-owned tables take only Global, business-owned ones (systemuser, team, role,
    /// businessunit) never Basic, and businessunit Create/Delete only Deep or Global.
    #[cfg(test)]
    pub(crate) fn allowed_depths(self, table: &TableDefinition) -> &'static [Depth] {
        const EVERY: &[Depth] = &[Depth::Basic, Depth::Local, Depth::Deep, Depth::Global];
        const NOT_BASIC: &[Depth] = &[Depth::Local, Depth::Deep, Depth::Global];
        const DEEP_OR_GLOBAL: &[Depth] = &[Depth::Deep, Depth::Global];
        const GLOBAL: &[Depth] = &[Depth::Global];
        match table.ownership {
            Ownership::UserOwned => EVERY,
            Ownership::OrganizationOwned => GLOBAL,
            Ownership::BusinessOwned
                if table.logical_name == "businessunit"
                    && matches!(self, PrivilegeKind::Create | PrivilegeKind::Delete) =>
            {
                DEEP_OR_GLOBAL
            }
            Ownership::BusinessOwned => NOT_BASIC,
        }
    }
}

/// The privileges `table` has, with their names: eight for user-owned tables, six otherwise.
#[cfg(test)]
pub(crate) fn table_privileges(table: &TableDefinition) -> Vec<(PrivilegeKind, String)> {
    PrivilegeKind::ALL
        .into_iter()
        .filter(|kind| kind.applies_to(table))
        .map(|kind| (kind, kind.name_for(table)))
        .collect()
}

/// The table and kind a privilege name stands for (`prvAppendToAccount` → account, AppendTo).
#[cfg(test)]
pub(crate) fn parse_privilege<'a>(
    name: &str,
    tables: &'a [TableDefinition],
) -> Option<(&'a TableDefinition, PrivilegeKind)> {
    let rest = name.strip_prefix("prv")?;
    // `AppendTo` before `Append`, or `prvAppendToAccount` would read as stem `ToAccount`.
    let mut kinds = PrivilegeKind::ALL;
    kinds.sort_by_key(|kind| std::cmp::Reverse(kind.as_str().len()));
    kinds.into_iter().find_map(|kind| {
        let stem = rest.strip_prefix(kind.as_str())?;
        tables
            .iter()
            .find(|table| table.privilege_stem == stem && kind.applies_to(table))
            .map(|table| (table, kind))
    })
}

#[cfg(test)]
mod tests;
