//! The security model (reference/dataverse.md §3–§4): the caller's roles, the privilege check
//! (`0x80040220`, with the zero-roles variant), and row access by depth and business unit
//! (lists are filtered silently; a single row out of reach is `0x80048306`). A principal holds
//! its own roles and those of the teams it belongs to, and owns at Basic depth what they own.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};

use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::config::{ApplicationUser, Depth, Environment, SecurityRole, Switches, Team};
use crate::errors::ErrorCode;
use crate::response::ApiError;
use crate::schema::{Ownership, TableDefinition};

/// The eight record-level privileges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operation {
    Read,
}

impl Operation {
    fn privilege_verb(self) -> &'static str {
        match self {
            Operation::Read => "Read",
        }
    }

    fn access_right(self) -> &'static str {
        match self {
            Operation::Read => "ReadAccess",
        }
    }
}

/// What an application user's roles and teams grant: its roles (its own, then its teams',
/// each once) and teams as positions in the environment's lists, and the deepest depth of each
/// privilege. It depends on the world only, so the snapshot works it out once per user
/// (`State::grants`) instead of on every request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Grants {
    /// Positions in `environment.roles`: the user's own roles, then its teams' roles.
    roles: Vec<usize>,
    /// How many of `roles` the user holds directly (the rest come through teams).
    direct_roles: usize,
    /// Positions in `environment.teams` of the teams it is a member of.
    teams: Vec<usize>,
    privileges: BTreeMap<String, Depth>,
}

impl Grants {
    /// Works out what `user`'s roles and teams in `environment` grant.
    pub(crate) fn new(user: &ApplicationUser, environment: &Environment) -> Grants {
        let role = |id: &Uuid| environment.roles.iter().position(|role| role.id == *id);
        let mut roles: Vec<usize> = user.roles.iter().filter_map(role).collect();
        let direct_roles = roles.len();
        let teams: Vec<usize> = environment
            .teams
            .iter()
            .enumerate()
            .filter(|(_, team)| team.members.contains(&user.id))
            .map(|(index, _)| index)
            .collect();
        for team_role in teams
            .iter()
            .flat_map(|team| environment.teams[*team].roles.iter().filter_map(role))
        {
            let id = environment.roles[team_role].id;
            if !roles.iter().any(|held| environment.roles[*held].id == id) {
                roles.push(team_role);
            }
        }
        let mut privileges: BTreeMap<String, Depth> = BTreeMap::new();
        for role in &roles {
            for (name, depth) in &environment.roles[*role].privileges {
                let entry = privileges.entry(name.clone()).or_insert(*depth);
                *entry = (*entry).max(*depth);
            }
        }
        Grants {
            roles,
            direct_roles,
            teams,
            privileges,
        }
    }
}

/// The calling application user with its effective privileges.
pub(crate) struct Principal<'a> {
    pub(crate) user: &'a ApplicationUser,
    pub(crate) environment: &'a Environment,
    grants: Cow<'a, Grants>,
}

impl<'a> Principal<'a> {
    /// `user` with the grants worked out now (for a user other than the caller).
    pub(crate) fn new(user: &'a ApplicationUser, environment: &'a Environment) -> Principal<'a> {
        Principal {
            user,
            environment,
            grants: Cow::Owned(Grants::new(user, environment)),
        }
    }

    /// `user` with the grants the snapshot worked out for it (`Grants::new` of the same user
    /// and environment).
    pub(crate) fn with_grants(
        user: &'a ApplicationUser,
        environment: &'a Environment,
        grants: &'a Grants,
    ) -> Principal<'a> {
        Principal {
            user,
            environment,
            grants: Cow::Borrowed(grants),
        }
    }

    fn role_list<'s>(&self, positions: &'s [usize]) -> impl Iterator<Item = &'a SecurityRole> + 's
    where
        'a: 's,
    {
        let roles: &'a [SecurityRole] = &self.environment.roles;
        positions.iter().map(move |position| &roles[*position])
    }

    /// Whether the user holds any role, directly or through a team.
    pub(crate) fn has_roles(&self) -> bool {
        !self.grants.roles.is_empty()
    }

    /// Every role the user holds, directly or through a team.
    pub(crate) fn roles(&self) -> impl Iterator<Item = &'a SecurityRole> {
        self.role_list(&self.grants.roles)
    }

    /// The roles the user holds directly.
    pub(crate) fn direct_roles(&self) -> impl Iterator<Item = &'a SecurityRole> {
        self.role_list(&self.grants.roles[..self.grants.direct_roles])
    }

    /// The roles the user holds only through its teams.
    pub(crate) fn team_roles(&self) -> impl Iterator<Item = &'a SecurityRole> {
        self.role_list(&self.grants.roles[self.grants.direct_roles..])
    }

    /// The teams the user is a member of.
    fn teams(&self) -> impl Iterator<Item = &'a Team> {
        let teams: &'a [Team] = &self.environment.teams;
        self.grants
            .teams
            .iter()
            .map(move |position| &teams[*position])
    }

    /// The deepest depth any role grants for `privilege`.
    pub(crate) fn depth(&self, privilege: &str) -> Option<Depth> {
        self.grants.privileges.get(privilege).copied()
    }

    /// Whether one of the roles is System Administrator or System Customizer (admin mode).
    pub(crate) fn is_administrator(&self) -> bool {
        const ADMIN_TEMPLATES: [&str; 2] = [
            "627090ff-40a3-4053-8790-584edc5be201",
            "119f245c-3cc8-4b62-b31c-d1a046ced15d",
        ];
        self.roles().any(|role| {
            role.template_id
                .is_some_and(|id| ADMIN_TEMPLATES.contains(&id.to_string().as_str()))
                || role.name == "System Administrator"
                || role.name == "System Customizer"
        })
    }

    /// The privilege check: the depth to apply, or the 403 Dataverse answers.
    pub(crate) fn check(
        &self,
        table: &TableDefinition,
        operation: Operation,
        switches: &Switches,
    ) -> Result<Depth, ApiError> {
        let privilege = format!("prv{}{}", operation.privilege_verb(), table.privilege_stem);
        if !self.has_roles() {
            return Err(ApiError::configured(
                ErrorCode::PrivilegeDenied,
                switches.zero_roles_code.clone(),
                format!(
                    "The user with id {} has not been assigned any roles. They need a role with the {privilege} privilege.",
                    self.user.id
                ),
            ));
        }
        match self.depth(&privilege) {
            // Organization-owned tables know only Global: any grant reaches every row.
            Some(_) if table.ownership == Ownership::OrganizationOwned => Ok(Depth::Global),
            Some(depth) => Ok(depth),
            None => Err(ApiError::new(
                ErrorCode::PrivilegeDenied,
                format!(
                    "Principal user (Id={user}, type=8, roleCount={roles}, privilegeCount={privileges}, accessMode='{mode}', AADObjectId='{object}', MetadataCachePrivilegesCount={cache}, businessUnitId={unit}), is missing {privilege} privilege (Id={privilege_id}) on OTC={otc} for entity '{logical}' (LocalizedName='{display}'). context.Caller={user}. Consider adding missed privilege to one of the principal (user/team) roles.",
                    user = self.user.id,
                    roles = self.grants.roles.len(),
                    privileges = self.grants.privileges.len(),
                    mode = switches.access_mode_text,
                    object = self.user.object_id.unwrap_or_default(),
                    cache = metadata_privilege_count(self.environment),
                    unit = self.user.business_unit,
                    privilege_id = crate::standard_tables::privilege_id(&privilege),
                    otc = table.object_type_code,
                    logical = table.logical_name,
                    display = table.display_name,
                ),
            )),
        }
    }

    /// Business units a depth reaches from the caller's business unit.
    pub(crate) fn reach(&self, depth: Depth) -> Reach {
        match depth {
            Depth::Global => Reach::Everything,
            Depth::Basic => Reach::OwnedBy(
                std::iter::once(self.user.id)
                    .chain(self.teams().map(|team| team.id))
                    .collect(),
            ),
            Depth::Local => Reach::Units(HashSet::from([self.user.business_unit])),
            Depth::Deep => Reach::Units(subtree(self.environment, self.user.business_unit)),
        }
    }

    /// The 403 for a single row the caller cannot reach (`0x80048306`).
    pub(crate) fn access_denied(
        &self,
        table: &TableDefinition,
        operation: Operation,
        row: &Map<String, Value>,
        row_id: Uuid,
        host: &str,
    ) -> ApiError {
        let owner = row
            .get("_ownerid_value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let unit = row
            .get("_owningbusinessunit_value")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let details = json!({
            "CallerPrincipal": {"PrincipalId": self.user.id, "Type": 8, "IsUserPrincipal": true},
            "OwnerPrincipal": {"PrincipalId": owner, "Type": 8, "IsUserPrincipal": true},
            "ObjectId": row_id,
            "ObjectTypeCode": table.object_type_code,
            "EntityName": table.logical_name,
            "ObjectBusinessUnitId": unit,
            "RightsToCheck": operation.access_right(),
            "RoleAccessRights": "None",
            "PoaAccessRights": "None",
            "HsmAccessRights": "None",
            "GrantedAccessRights": "None",
        });
        ApiError::new(
            ErrorCode::PrincipalPrivilegeDenied,
            format!(
                "user with id {user} does not have {right} right(s) for record with id {row_id} of entity {display}. Consider assigning a role with the required access level to the user or team. For further troubleshooting, please work with a system administrator to use the Access Checker tool on this record: https://{host}/main.aspx?forceUCI=1&pagetype=entityrecord&etn={logical}&id={row_id}. More details: {details}",
                user = self.user.id,
                right = operation.access_right(),
                display = table.display_name,
                logical = table.logical_name,
            ),
        )
    }
}

/// Which rows a depth lets the caller see.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    Everything,
    /// Rows owned by the user or one of its teams.
    OwnedBy(HashSet<Uuid>),
    Units(HashSet<Uuid>),
}

impl Reach {
    /// Whether `row` is within reach (rows without an owner are organization rows: reachable).
    pub(crate) fn allows(&self, row: &Map<String, Value>) -> bool {
        let uuid_of = |key: &str| {
            row.get(key)
                .and_then(Value::as_str)
                .and_then(|text| Uuid::try_parse(text).ok())
        };
        match self {
            Reach::Everything => true,
            Reach::OwnedBy(owners) => {
                uuid_of("_ownerid_value").is_none_or(|owner| owners.contains(&owner))
            }
            Reach::Units(units) => {
                uuid_of("_owningbusinessunit_value").is_none_or(|unit| units.contains(&unit))
            }
        }
    }
}

impl Reach {
    /// Like [`Reach::allows`], from the owner alone (what the generator tells without a row).
    pub(crate) fn allows_owner(&self, owner: Option<(Uuid, Uuid)>) -> bool {
        match (self, owner) {
            (Reach::Everything, _) | (_, None) => true,
            (Reach::OwnedBy(owners), Some((owner, _))) => owners.contains(&owner),
            (Reach::Units(units), Some((_, unit))) => units.contains(&unit),
        }
    }
}

/// `unit` and every business unit below it.
fn subtree(environment: &Environment, unit: Uuid) -> HashSet<Uuid> {
    let mut reached = HashSet::from([unit]);
    loop {
        let before = reached.len();
        for candidate in &environment.business_units {
            if candidate
                .parent
                .is_some_and(|parent| reached.contains(&parent))
            {
                reached.insert(candidate.id);
            }
        }
        if reached.len() == before {
            return reached;
        }
    }
}

/// The number of privileges the environment knows (`MetadataCachePrivilegesCount`).
fn metadata_privilege_count(environment: &Environment) -> usize {
    environment
        .tables
        .iter()
        .map(|table| match table.definition.ownership {
            Ownership::UserOwned => 8,
            Ownership::OrganizationOwned | Ownership::BusinessOwned => 6,
        })
        .sum()
}
