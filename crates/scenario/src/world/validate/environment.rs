//! `[environments.<key>]` and `[dataverse]`: from the file's Dataverse sections to
//! [`Environment`]s and `fake_dataverse::Switches`. Ids the file leaves out are UUID v5 of the
//! organization id and a name, so every load gives the same ones. Predefined roles exist only in
//! the business units of users who hold them; a defined role reaches users in business units
//! below its own through an inherited copy, as Dataverse copies roles down the tree.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use fake_dataverse::schema::{ColumnDefinition, TableDefinition};
use fake_dataverse::{
    ApplicationUser, BusinessUnit, Depth, SecurityRole, ServiceProtectionLimits, Switches,
    TableData, Team, TeamKind, ThrottleLimit,
};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use toml::Spanned;
use uuid::Uuid;

use super::Checker;
use super::custom_tables::{custom_privileges, depth_allowed};
use crate::world::file::{
    ApplicationUserFile, BusinessUnitFile, DataverseFile, Entries, EnvironmentFile,
    ForcedThrottleFile, LimitsFile, OwnersFile, RoleFile, RowFile, TableFile, TeamFile,
    TeamKindFile, ThrottleLimitFile,
};
use crate::world::{App, CLOUD, Environment, EnvironmentTable, EnvironmentThrottle, Tenant};
use crate::{Error, Reason};

/// The most rows `generate` makes: far more than any test or demo reads (rows cost nothing
/// until read, but a billion-row table already takes a query past the fake's scan budget),
/// and well inside the generator's id space (2^47 rows).
const MAX_GENERATED_ROWS: i64 = 1_000_000_000;

/// `OrganizationVersion` of environments whose file does not say (a 2025 wave 1 build).
const DEFAULT_VERSION: &str = "9.2.25093.00168";

/// `Geo` of environments whose file does not say.
const DEFAULT_GEO: &str = "NA";

/// `Retry-After` of forced throttles whose file does not say: a wait a retrying client
/// honours without stalling a test for long. The fake's own counters answer with the seconds
/// left in the window instead; Microsoft documents no typical value.
const DEFAULT_RETRY_AFTER_SECONDS: i64 = 30;

/// The tables every environment has, listed or not: the fake answers `WhoAmI`, roles and
/// business units from them.
const SYSTEM_TABLES: [&str; 3] = ["systemuser", "role", "businessunit"];

/// The codes each `[dataverse]` code switch chooses between, default first (the doc comments
/// of `fake_dataverse::Switches`).
const DISABLED_USER_CODES: &[&str] = &["0x80040225", "0x80072560"];
const ZERO_ROLES_CODES: &[&str] = &["0x80040220", "0x80042f09"];
const PROPERTY_NOT_FOUND_CODES: &[&str] = &["0x80060888", "0x0"];
const SEGMENT_NOT_FOUND_CODES: &[&str] = &["0x8006088a", "0x80060888"];

impl Checker<'_> {
    pub(super) fn environments(
        &self,
        environments: &Entries<EnvironmentFile>,
        tenants: &[Tenant],
        apps: &[App],
        errors: &mut Vec<Error>,
    ) -> Vec<Environment> {
        let mut hosts: HashMap<String, String> = HashMap::new();
        let mut organization_ids: HashMap<Uuid, String> = HashMap::new();
        let mut unique_names: HashMap<String, String> = HashMap::new();
        let mut environment_ids: HashMap<String, String> = HashMap::new();
        let mut tenants_with_default: HashSet<String> = HashSet::new();
        let mut checked = Vec::new();
        for (key, environment) in &environments.0 {
            let entry = (|| -> Result<Environment, Error> {
                self.table_key(key, "environments")?;
                let prefix = format!("environments.{}", key.get_ref());
                let url_key = format!("{prefix}.url");
                let host = self.environment_host(&environment.url, &url_key)?;
                self.unique(
                    &mut hosts,
                    host.clone(),
                    "environment host",
                    &environment.url,
                    url_key,
                )?;
                let tenant =
                    self.tenant_ref(&environment.tenant, format!("{prefix}.tenant"), tenants)?;
                let organization_id = self.written_or_derived_id(
                    environment.organization_id.as_ref(),
                    format!("{prefix}.organization_id"),
                    &mut organization_ids,
                    "organization id",
                    || {
                        Uuid::new_v5(
                            &Uuid::NAMESPACE_URL,
                            format!("d365-harness:organization:{host}").as_bytes(),
                        )
                    },
                )?;
                organization_ids
                    .entry(organization_id)
                    .or_insert_with(|| format!("{prefix}.organization_id"));
                let environment_id = match &environment.environment_id {
                    Some(written) => {
                        let id_key = format!("{prefix}.environment_id");
                        let id = self.non_empty(written, id_key.clone())?;
                        self.unique(
                            &mut environment_ids,
                            id.clone(),
                            "environment id",
                            written,
                            id_key,
                        )?;
                        id
                    }
                    // The tenant's first environment is its default one, as in every tenant that
                    // has Dataverse; the id of any other is a GUID.
                    None if !tenants_with_default.contains(&tenant.key) => {
                        format!("Default-{}", tenant.id)
                    }
                    None => derived_id(organization_id, "environment", "").to_string(),
                };
                if environment_id == format!("Default-{}", tenant.id) {
                    tenants_with_default.insert(tenant.key.clone());
                }
                // Derived values count as used too, so a later file value cannot repeat them.
                environment_ids
                    .entry(environment_id.clone())
                    .or_insert_with(|| format!("{prefix}.environment_id"));
                let unique_name = match &environment.unique_name {
                    Some(written) => {
                        let name_key = format!("{prefix}.unique_name");
                        let name = self.non_empty(written, name_key.clone())?;
                        self.unique(
                            &mut unique_names,
                            name.to_ascii_lowercase(),
                            "unique name",
                            written,
                            name_key,
                        )?;
                        name
                    }
                    // The shape of the names Dataverse makes up: `org` and eight hex digits.
                    None => format!("org{}", &organization_id.simple().to_string()[..8]),
                };
                unique_names
                    .entry(unique_name.to_ascii_lowercase())
                    .or_insert_with(|| format!("{prefix}.unique_name"));
                let friendly_name = match &environment.friendly_name {
                    Some(written) => self.non_empty(written, format!("{prefix}.friendly_name"))?,
                    None => tenant.display_name.clone(),
                };
                let version = match &environment.version {
                    Some(written) => self.organization_version(written, &prefix)?,
                    None => DEFAULT_VERSION.to_owned(),
                };
                let geo = match &environment.geo {
                    Some(written) => self.non_empty(written, format!("{prefix}.geo"))?,
                    None => DEFAULT_GEO.to_owned(),
                };
                let data_seed = match &environment.data_seed {
                    Some(seed) => self
                        .in_range(seed, format!("{prefix}.data_seed"), 0, None)?
                        .unsigned_abs(),
                    None => 1,
                };
                let business_units = self.business_units(
                    environment.business_units.as_ref(),
                    &prefix,
                    &host,
                    organization_id,
                )?;
                let custom_tables = self.custom_tables(&environment.custom_tables, &prefix)?;
                let mut roles = self.defined_roles(
                    &environment.roles,
                    &prefix,
                    &custom_tables,
                    &business_units,
                    organization_id,
                )?;
                let defined = roles.clone();
                let application_users = self.application_users(
                    &environment.application_users,
                    &Scope {
                        prefix: &prefix,
                        tenant,
                        apps,
                        business_units: &business_units,
                        defined_roles: defined.clone(),
                        organization_id,
                        custom_tables: &custom_tables,
                    },
                    &mut roles,
                )?;
                let teams = self.teams(
                    &environment.teams,
                    &Scope {
                        prefix: &prefix,
                        tenant,
                        apps,
                        business_units: &business_units,
                        defined_roles: defined,
                        organization_id,
                        custom_tables: &custom_tables,
                    },
                    &application_users,
                    &mut roles,
                )?;
                let mut tables = self.tables(
                    &environment.tables,
                    &prefix,
                    organization_id,
                    &custom_tables,
                )?;
                let table_owners = self.table_owners(
                    &environment.tables,
                    &prefix,
                    apps,
                    &business_units,
                    organization_id,
                    &application_users,
                    &teams,
                )?;
                // Declared teams are rows of `team`: the table exists once a world has teams.
                if !teams.is_empty() && !tables.iter().any(|table| table.logical_name == "team") {
                    tables.push(EnvironmentTable {
                        logical_name: "team".to_owned(),
                        definition: fake_dataverse::standard_table("team")
                            .expect("team is a standard table"),
                        data: TableData::Rows(Vec::new()),
                    });
                }
                let limits = self.limits(environment.limits.as_ref(), &prefix)?;
                let forced_throttles = self.forced_throttles(
                    &environment.forced_throttles,
                    &prefix,
                    apps,
                    &application_users,
                )?;
                Ok(Environment {
                    key: key.get_ref().clone(),
                    url: format!("https://{host}"),
                    host,
                    tenant: tenant.key.clone(),
                    tenant_id: tenant.id,
                    organization_id,
                    environment_id,
                    friendly_name,
                    unique_name,
                    version,
                    geo,
                    admin_mode: environment.admin_mode,
                    data_seed,
                    business_units,
                    roles,
                    application_users,
                    teams,
                    table_owners,
                    tables,
                    limits,
                    forced_throttles,
                })
            })();
            match entry {
                Ok(environment) => checked.push(environment),
                Err(error) => errors.push(error),
            }
        }
        checked
    }

    /// The web host of an environment URL: `https://`, a Dataverse host of the cloud (web or
    /// `.api.`), and any path; the host is what counts.
    fn environment_host(&self, url: &Spanned<String>, key: &str) -> Result<String, Error> {
        let text = url.get_ref();
        let host = text
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
            .and_then(|_| text.get(8..))
            .and_then(|rest| rest.split(['/', '?', '#']).next());
        match host {
            Some(host) if CLOUD.is_dynamics_host(host) => Ok(web_host(host)),
            _ => Err(self.invalid(
                url.span(),
                key,
                Reason::EnvironmentUrl {
                    value: text.clone(),
                },
            )),
        }
    }

    fn organization_version(&self, value: &Spanned<String>, prefix: &str) -> Result<String, Error> {
        let version = value.get_ref();
        let parts: Vec<&str> = version.split('.').collect();
        let plausible = parts.len() == 4
            && parts
                .iter()
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()));
        if plausible {
            Ok(version.clone())
        } else {
            Err(self.invalid(
                value.span(),
                format!("{prefix}.version"),
                Reason::OrganizationVersion {
                    value: version.clone(),
                },
            ))
        }
    }

    /// `business_units`, or one root named after the environment's URL when absent.
    fn business_units(
        &self,
        written: Option<&Spanned<Vec<BusinessUnitFile>>>,
        prefix: &str,
        host: &str,
        organization_id: Uuid,
    ) -> Result<Vec<BusinessUnit>, Error> {
        let Some(written) = written else {
            let name = host.split('.').next().unwrap_or(host).to_owned();
            return Ok(vec![BusinessUnit {
                id: derived_id(organization_id, "businessunit", &name),
                name,
                parent: None,
            }]);
        };
        let list_key = format!("{prefix}.business_units");
        let mut names: HashMap<String, String> = HashMap::new();
        let mut ids: HashMap<Uuid, String> = HashMap::new();
        let mut root: Option<&str> = None;
        let mut units = Vec::new();
        for (index, unit) in written.get_ref().iter().enumerate() {
            let unit_key = format!("{list_key}[{index}]");
            let name_key = format!("{unit_key}.name");
            let name = self.non_empty(&unit.name, name_key.clone())?;
            self.unique(
                &mut names,
                name.clone(),
                "business unit name",
                &unit.name,
                name_key,
            )?;
            let id = self.written_or_derived_id(
                unit.id.as_ref(),
                format!("{unit_key}.id"),
                &mut ids,
                "business unit id",
                || derived_id(organization_id, "businessunit", &name),
            )?;
            if unit.parent.is_none() {
                if let Some(first) = root {
                    return Err(self.invalid(
                        unit.name.span(),
                        unit_key,
                        Reason::SecondRootBusinessUnit {
                            first: first.to_owned(),
                        },
                    ));
                }
                root = Some(unit.name.get_ref());
            }
            units.push(BusinessUnit {
                id,
                name,
                parent: None,
            });
        }
        if root.is_none() {
            return Err(self.invalid(written.span(), list_key, Reason::NoRootBusinessUnit));
        }
        for (index, unit) in written.get_ref().iter().enumerate() {
            if let Some(parent) = &unit.parent {
                let parent_key = format!("{list_key}[{index}].parent");
                let parent_id = self.business_unit_ref(parent, parent_key, &units)?.id;
                units[index].parent = Some(parent_id);
            }
        }
        // With one root and every parent known, a unit that does not reach the root within
        // as many steps as there are units sits on a cycle.
        for (index, unit) in written.get_ref().iter().enumerate() {
            let mut current = &units[index];
            let mut steps = 0;
            while let Some(parent) = current.parent {
                steps += 1;
                if steps > units.len() {
                    let span = unit.parent.as_ref().map_or(unit.name.span(), Spanned::span);
                    return Err(self.invalid(
                        span,
                        format!("{list_key}[{index}].parent"),
                        Reason::BusinessUnitCycle {
                            name: units[index].name.clone(),
                        },
                    ));
                }
                current = units
                    .iter()
                    .find(|candidate| candidate.id == parent)
                    .expect("every parent was resolved above");
            }
        }
        Ok(units)
    }

    fn business_unit_ref<'u>(
        &self,
        name: &Spanned<String>,
        key: String,
        units: &'u [BusinessUnit],
    ) -> Result<&'u BusinessUnit, Error> {
        units
            .iter()
            .find(|unit| &unit.name == name.get_ref())
            .ok_or_else(|| {
                self.invalid(
                    name.span(),
                    key,
                    Reason::UnknownBusinessUnit {
                        name: name.get_ref().clone(),
                        known: units.iter().map(|unit| unit.name.clone()).collect(),
                    },
                )
            })
    }

    /// `roles.<name>`, each in its business unit (the root unless the file says otherwise).
    fn defined_roles(
        &self,
        roles: &Entries<RoleFile>,
        prefix: &str,
        custom_tables: &[TableDefinition],
        units: &[BusinessUnit],
        organization_id: Uuid,
    ) -> Result<Vec<SecurityRole>, Error> {
        let custom_privileges = custom_privileges(custom_tables);
        let mut known_privileges = known_privileges();
        known_privileges.extend(custom_privileges.keys().cloned());
        let mut ids: HashMap<Uuid, String> = HashMap::new();
        let mut checked = Vec::new();
        for (name, role) in &roles.0 {
            let role_key = format!("{prefix}.roles.{}", name.get_ref());
            let role_name = self.non_empty(name, role_key.clone())?;
            if fake_dataverse::predefined_role(&role_name).is_some() {
                return Err(self.invalid(
                    name.span(),
                    role_key,
                    Reason::PredefinedRoleName { name: role_name },
                ));
            }
            let unit = match &role.business_unit {
                Some(unit) => {
                    self.business_unit_ref(unit, format!("{role_key}.business_unit"), units)?
                }
                None => root(units),
            };
            let id = self.written_or_derived_id(
                role.id.as_ref(),
                format!("{role_key}.id"),
                &mut ids,
                "role id",
                || role_id(organization_id, &role_name, unit.id),
            )?;
            let mut privileges = BTreeMap::new();
            for (privilege, depth) in &role.privileges.0 {
                let privilege_key = format!("{role_key}.privileges.{}", privilege.get_ref());
                if !known_privileges.contains(privilege.get_ref()) {
                    return Err(self.invalid(
                        privilege.span(),
                        privilege_key,
                        Reason::UnknownPrivilege {
                            name: privilege.get_ref().clone(),
                            known: known_privileges
                                .iter()
                                .cloned()
                                .collect::<Vec<_>>()
                                .join(", "),
                        },
                    ));
                }
                let Some(parsed) = Depth::parse(depth.get_ref()) else {
                    return Err(self.invalid(
                        depth.span(),
                        privilege_key,
                        Reason::Depth {
                            value: depth.get_ref().clone(),
                        },
                    ));
                };
                if let Some(table) = custom_privileges.get(privilege.get_ref())
                    && !depth_allowed(table, parsed)
                {
                    return Err(self.invalid(
                        depth.span(),
                        privilege_key,
                        Reason::OrganizationOwnedDepth {
                            privilege: privilege.get_ref().clone(),
                            table: table.logical_name.clone(),
                            depth: depth.get_ref().clone(),
                        },
                    ));
                }
                privileges.insert(privilege.get_ref().clone(), parsed);
            }
            checked.push(SecurityRole {
                id,
                name: role_name,
                business_unit: unit.id,
                template_id: None,
                privileges,
            });
        }
        Ok(checked)
    }

    /// `application_users`, adding to `roles` the copies and predefined roles they hold.
    fn application_users(
        &self,
        users: &[ApplicationUserFile],
        scope: &Scope<'_>,
        roles: &mut Vec<SecurityRole>,
    ) -> Result<Vec<ApplicationUser>, Error> {
        let mut apps_seen: HashMap<String, String> = HashMap::new();
        let mut ids: HashMap<Uuid, String> = HashMap::new();
        let mut checked = Vec::new();
        for (index, user) in users.iter().enumerate() {
            let user_key = format!("{}.application_users[{index}]", scope.prefix);
            let app_key = format!("{user_key}.app");
            let app = scope
                .apps
                .iter()
                .find(|app| &app.key == user.app.get_ref())
                .ok_or_else(|| {
                    self.invalid(
                        user.app.span(),
                        app_key.clone(),
                        Reason::UnknownApp {
                            name: user.app.get_ref().clone(),
                            known: scope.apps.iter().map(|app| app.key.clone()).collect(),
                        },
                    )
                })?;
            let installed = app.home_tenant == scope.tenant.key
                || app
                    .service_principals
                    .iter()
                    .any(|principal| principal.tenant == scope.tenant.key);
            if !installed {
                return Err(self.invalid(
                    user.app.span(),
                    app_key,
                    Reason::AppNotInTenant {
                        app: app.key.clone(),
                        tenant: scope.tenant.key.clone(),
                    },
                ));
            }
            self.unique(&mut apps_seen, app.key.clone(), "app", &user.app, app_key)?;
            let unit = match &user.business_unit {
                Some(unit) => self.business_unit_ref(
                    unit,
                    format!("{user_key}.business_unit"),
                    scope.business_units,
                )?,
                None => root(scope.business_units),
            };
            let id = self.written_or_derived_id(
                user.id.as_ref(),
                format!("{user_key}.id"),
                &mut ids,
                "application user id",
                || {
                    derived_id(
                        scope.organization_id,
                        "systemuser",
                        &app.client_id.to_string(),
                    )
                },
            )?;
            let mut names_seen: HashMap<String, String> = HashMap::new();
            let mut role_ids = Vec::new();
            for (role_index, name) in user.roles.iter().enumerate() {
                let role_key = format!("{user_key}.roles[{role_index}]");
                self.unique(
                    &mut names_seen,
                    name.get_ref().clone(),
                    "role",
                    name,
                    role_key.clone(),
                )?;
                role_ids.push(self.role_for(name, role_key, unit, "user", scope, roles)?);
            }
            checked.push(ApplicationUser {
                id,
                application_id: app.client_id,
                object_id: Some(app.principal_object_id(scope.tenant.id)),
                // Dataverse names application users after the app, behind a `#`.
                full_name: format!("# {}", app.display_name),
                business_unit: unit.id,
                roles: role_ids,
                enabled: user.enabled,
            });
        }
        Ok(checked)
    }

    /// The id of role `name` in business unit `unit`, instantiating it there when a user is the
    /// first to need it.
    fn role_for(
        &self,
        name: &Spanned<String>,
        key: String,
        unit: &BusinessUnit,
        holder: &'static str,
        scope: &Scope<'_>,
        roles: &mut Vec<SecurityRole>,
    ) -> Result<Uuid, Error> {
        let role_name = name.get_ref();
        if let Some(existing) = roles
            .iter()
            .find(|role| &role.name == role_name && role.business_unit == unit.id)
        {
            return Ok(existing.id);
        }
        let (template_id, privileges) = if let Some(defined) = scope
            .defined_roles
            .iter()
            .find(|role| &role.name == role_name)
        {
            if !is_at_or_below(scope.business_units, unit.id, defined.business_unit) {
                let unit_name = |id: Uuid| {
                    scope
                        .business_units
                        .iter()
                        .find(|candidate| candidate.id == id)
                        .map(|candidate| candidate.name.clone())
                        .unwrap_or_default()
                };
                return Err(self.invalid(
                    name.span(),
                    key,
                    Reason::RoleOutsideBusinessUnit {
                        role: role_name.clone(),
                        role_unit: unit_name(defined.business_unit),
                        holder,
                        user_unit: unit.name.clone(),
                    },
                ));
            }
            (None, defined.privileges.clone())
        } else if let Some(template) = fake_dataverse::predefined_role(role_name) {
            let mut privileges = template.privileges;
            privileges.extend(predefined_custom_privileges(
                &template.name,
                scope.custom_tables,
            ));
            (template.template_id, privileges)
        } else {
            return Err(self.invalid(
                name.span(),
                key,
                Reason::UnknownRole {
                    name: role_name.clone(),
                    defined: scope
                        .defined_roles
                        .iter()
                        .map(|role| role.name.clone())
                        .collect(),
                    predefined: fake_dataverse::predefined_roles()
                        .into_iter()
                        .map(|role| role.name)
                        .collect(),
                },
            ));
        };
        let id = role_id(scope.organization_id, role_name, unit.id);
        roles.push(SecurityRole {
            id,
            name: role_name.clone(),
            business_unit: unit.id,
            template_id,
            privileges,
        });
        Ok(id)
    }

    /// `teams`: each in its business unit (the root unless the file says otherwise), its roles
    /// instantiated there like a user's, its members application users (by app key) or
    /// ordinary users (by full name).
    fn teams(
        &self,
        teams: &[TeamFile],
        scope: &Scope<'_>,
        application_users: &[ApplicationUser],
        roles: &mut Vec<SecurityRole>,
    ) -> Result<Vec<Team>, Error> {
        let ordinary =
            fake_dataverse::ordinary_users_in(scope.organization_id, scope.business_units);
        let mut names_seen: HashMap<String, String> = HashMap::new();
        let mut ids: HashMap<Uuid, String> = HashMap::new();
        let mut checked = Vec::new();
        for (index, team) in teams.iter().enumerate() {
            let team_key = format!("{}.teams[{index}]", scope.prefix);
            let name = self.non_empty(&team.name, format!("{team_key}.name"))?;
            self.unique(
                &mut names_seen,
                name.clone(),
                "team name",
                &team.name,
                format!("{team_key}.name"),
            )?;
            let kind = match (team.kind, &team.group_id) {
                (TeamKindFile::Owner, None) => TeamKind::Owner,
                (TeamKindFile::Group, Some(group)) => TeamKind::Group {
                    object_id: self.guid(group, format!("{team_key}.group_id"))?,
                },
                (TeamKindFile::Owner, Some(group)) => {
                    return Err(self.invalid(
                        group.span(),
                        format!("{team_key}.group_id"),
                        Reason::TeamGroupId,
                    ));
                }
                (TeamKindFile::Group, None) => {
                    return Err(self.invalid(team.name.span(), team_key, Reason::TeamGroupId));
                }
            };
            let unit = match &team.business_unit {
                Some(unit) => self.business_unit_ref(
                    unit,
                    format!("{team_key}.business_unit"),
                    scope.business_units,
                )?,
                None => root(scope.business_units),
            };
            let id = self.written_or_derived_id(
                team.id.as_ref(),
                format!("{team_key}.id"),
                &mut ids,
                "team id",
                || derived_id(scope.organization_id, "team", &name),
            )?;
            let mut roles_seen: HashMap<String, String> = HashMap::new();
            let mut role_ids = Vec::new();
            for (role_index, role) in team.roles.iter().enumerate() {
                let role_key = format!("{team_key}.roles[{role_index}]");
                self.unique(
                    &mut roles_seen,
                    role.get_ref().clone(),
                    "role",
                    role,
                    role_key.clone(),
                )?;
                role_ids.push(self.role_for(role, role_key, unit, "team", scope, roles)?);
            }
            let mut members_seen: HashMap<String, String> = HashMap::new();
            let mut members = Vec::new();
            for (member_index, member) in team.members.iter().enumerate() {
                let member_key = format!("{team_key}.members[{member_index}]");
                self.unique(
                    &mut members_seen,
                    member.get_ref().clone(),
                    "member",
                    member,
                    member_key.clone(),
                )?;
                let written = member.get_ref();
                let application_user =
                    scope
                        .apps
                        .iter()
                        .find(|app| &app.key == written)
                        .and_then(|app| {
                            application_users
                                .iter()
                                .find(|user| user.application_id == app.client_id)
                        });
                let id = match application_user {
                    Some(user) => user.id,
                    None => match ordinary.iter().find(|user| &user.full_name == written) {
                        Some(user) => user.id,
                        None => {
                            let known = application_users
                                .iter()
                                .filter_map(|user| {
                                    scope
                                        .apps
                                        .iter()
                                        .find(|app| app.client_id == user.application_id)
                                        .map(|app| app.key.clone())
                                })
                                .chain(ordinary.iter().map(|user| user.full_name.clone()))
                                .collect();
                            return Err(self.invalid(
                                member.span(),
                                member_key,
                                Reason::UnknownTeamMember {
                                    name: written.clone(),
                                    known,
                                },
                            ));
                        }
                    },
                };
                members.push(id);
            }
            checked.push(Team {
                id,
                name,
                kind,
                business_unit: unit.id,
                roles: role_ids,
                members,
            });
        }
        Ok(checked)
    }

    /// `owners` of generated tables: `"application_users"` (every application user of the
    /// environment) or names, each a team, an app key (its application user) or an ordinary
    /// user's full name, looked up in that order.
    #[allow(clippy::too_many_arguments)]
    fn table_owners(
        &self,
        tables: &Entries<TableFile>,
        prefix: &str,
        apps: &[App],
        business_units: &[BusinessUnit],
        organization_id: Uuid,
        application_users: &[ApplicationUser],
        teams: &[Team],
    ) -> Result<BTreeMap<String, Vec<Uuid>>, Error> {
        let ordinary = fake_dataverse::ordinary_users_in(organization_id, business_units);
        let app_key = |user: &ApplicationUser| {
            apps.iter()
                .find(|app| app.client_id == user.application_id)
                .map(|app| app.key.clone())
        };
        let mut checked = BTreeMap::new();
        for (name, table) in &tables.0 {
            let Some(owners) = &table.owners else {
                continue;
            };
            let key = format!("{prefix}.tables.{}.owners", name.get_ref());
            if table.generate.is_none() {
                return Err(self.invalid(owners.span(), key, Reason::TableOwners));
            }
            let ids = match owners.get_ref() {
                OwnersFile::Keyword(keyword) if keyword == "application_users" => {
                    application_users.iter().map(|user| user.id).collect()
                }
                // An empty list would leave rows without owner, visible at any depth.
                OwnersFile::Keyword(_) => {
                    return Err(self.invalid(owners.span(), key, Reason::TableOwners));
                }
                OwnersFile::Names(names) if names.is_empty() => {
                    return Err(self.invalid(owners.span(), key, Reason::TableOwners));
                }
                OwnersFile::Names(names) => {
                    let mut ids = Vec::new();
                    for (index, wanted) in names.iter().enumerate() {
                        let found = teams
                            .iter()
                            .find(|team| &team.name == wanted)
                            .map(|team| team.id)
                            .or_else(|| {
                                application_users
                                    .iter()
                                    .find(|user| app_key(user).as_ref() == Some(wanted))
                                    .map(|user| user.id)
                            })
                            .or_else(|| {
                                ordinary
                                    .iter()
                                    .find(|user| &user.full_name == wanted)
                                    .map(|user| user.id)
                            });
                        let Some(id) = found else {
                            let known = teams
                                .iter()
                                .map(|team| team.name.clone())
                                .chain(application_users.iter().filter_map(app_key))
                                .chain(ordinary.iter().map(|user| user.full_name.clone()))
                                .collect();
                            return Err(self.invalid(
                                owners.span(),
                                format!("{key}[{index}]"),
                                Reason::UnknownOwner {
                                    name: wanted.clone(),
                                    known,
                                },
                            ));
                        };
                        ids.push(id);
                    }
                    ids
                }
            };
            checked.insert(name.get_ref().clone(), ids);
        }
        Ok(checked)
    }

    /// `tables.<logical_name>`, then the system tables the file leaves out.
    fn tables(
        &self,
        tables: &Entries<TableFile>,
        prefix: &str,
        organization_id: Uuid,
        custom_tables: &[TableDefinition],
    ) -> Result<Vec<EnvironmentTable>, Error> {
        let mut checked = Vec::new();
        for (name, table) in &tables.0 {
            let table_key = format!("{prefix}.tables.{}", name.get_ref());
            let custom = custom_tables
                .iter()
                .find(|custom| &custom.logical_name == name.get_ref())
                .cloned();
            let Some(definition) = fake_dataverse::standard_table(name.get_ref()).or(custom) else {
                return Err(self.invalid(
                    name.span(),
                    table_key,
                    Reason::UnknownTable {
                        name: name.get_ref().clone(),
                        known: fake_dataverse::standard_tables()
                            .into_iter()
                            .chain(custom_tables.iter().cloned())
                            .map(|table| table.logical_name)
                            .collect(),
                    },
                ));
            };
            let data = match (&table.generate, &table.rows) {
                (Some(count), None) => TableData::Generated {
                    count: self
                        .in_range(
                            count,
                            format!("{table_key}.generate"),
                            0,
                            Some(MAX_GENERATED_ROWS),
                        )?
                        .unsigned_abs(),
                },
                (None, Some(rows)) => TableData::Rows(self.rows(
                    rows.get_ref(),
                    &table_key,
                    &definition,
                    organization_id,
                )?),
                (Some(_), Some(rows)) => {
                    return Err(self.invalid(rows.span(), table_key, Reason::TableSource));
                }
                (None, None) => {
                    return Err(self.invalid(name.span(), table_key, Reason::TableSource));
                }
            };
            checked.push(EnvironmentTable {
                logical_name: definition.logical_name.clone(),
                definition,
                data,
            });
        }
        for system in SYSTEM_TABLES {
            if !checked.iter().any(|table| table.logical_name == system) {
                checked.push(EnvironmentTable {
                    logical_name: system.to_owned(),
                    definition: fake_dataverse::standard_table(system)
                        .expect("the system tables are standard tables"),
                    data: TableData::Rows(Vec::new()),
                });
            }
        }
        Ok(checked)
    }

    /// Inline rows: every property a column of the table, every value of its column's type;
    /// a row without its primary key gets a stable one.
    fn rows(
        &self,
        rows: &[RowFile],
        table_key: &str,
        definition: &TableDefinition,
        organization_id: Uuid,
    ) -> Result<Vec<Map<String, Value>>, Error> {
        let mut ids: HashMap<Uuid, String> = HashMap::new();
        let mut checked = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let row_key = format!("{table_key}.rows[{index}]");
            let mut properties = Map::new();
            for (property, value) in &row.0 {
                let property_key = format!("{row_key}.{}", property.get_ref());
                let Some(column) = definition.column(property.get_ref()) else {
                    return Err(self.invalid(
                        property.span(),
                        property_key,
                        Reason::UnknownColumn {
                            table: definition.logical_name.clone(),
                            name: property.get_ref().clone(),
                            known: definition
                                .columns
                                .iter()
                                .map(ColumnDefinition::web_api_name)
                                .collect(),
                        },
                    ));
                };
                let converted = self.column_value(value, column, &property_key)?;
                if property.get_ref() == &definition.primary_id_attribute {
                    let id = converted
                        .as_str()
                        .and_then(|id| Uuid::try_parse(id).ok())
                        .expect("primary keys are checked to be GUIDs");
                    if let Some(first) = ids.get(&id) {
                        return Err(self.invalid(
                            value.span(),
                            property_key,
                            Reason::Duplicate {
                                what: "row id",
                                value: id.to_string(),
                                first: first.clone(),
                            },
                        ));
                    }
                    ids.insert(id, property_key);
                }
                properties.insert(property.get_ref().clone(), converted);
            }
            let primary = &definition.primary_id_attribute;
            if !properties.contains_key(primary) {
                let id = derived_id(
                    organization_id,
                    "row",
                    &format!("{}:{index}", definition.logical_name),
                );
                properties.insert(primary.clone(), Value::String(id.to_string()));
            }
            checked.push(properties);
        }
        Ok(checked)
    }

    /// A row value as JSON, if it fits its column's OData type.
    fn column_value(
        &self,
        value: &Spanned<toml::Value>,
        column: &ColumnDefinition,
        key: &str,
    ) -> Result<Value, Error> {
        use toml::Value as Toml;
        let edm = column.edm_type();
        let date_time = |text: &str| {
            OffsetDateTime::parse(text, &Rfc3339).ok().and_then(|at| {
                at.to_offset(time::UtcOffset::UTC)
                    .format(format_description!(
                        "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
                    ))
                    .ok()
            })
        };
        let (converted, expected) = match edm {
            "Edm.Guid" => (
                match value.get_ref() {
                    Toml::String(text) => Uuid::try_parse(text)
                        .ok()
                        .map(|id| Value::String(id.to_string())),
                    _ => None,
                },
                "a GUID",
            ),
            "Edm.String" => (value.get_ref().as_str().map(Value::from), "a string"),
            "Edm.Int32" => (
                value
                    .get_ref()
                    .as_integer()
                    .and_then(|number| i32::try_from(number).ok())
                    .map(Value::from),
                "a whole number from -2147483648 to 2147483647",
            ),
            "Edm.Int64" => (
                value.get_ref().as_integer().map(Value::from),
                "a whole number",
            ),
            "Edm.Decimal" | "Edm.Double" => (
                match value.get_ref() {
                    Toml::Integer(number) => Some(Value::from(*number)),
                    Toml::Float(number) => serde_json::Number::from_f64(*number).map(Value::Number),
                    _ => None,
                },
                "a number",
            ),
            "Edm.Boolean" => (
                value.get_ref().as_bool().map(Value::Bool),
                "`true` or `false`",
            ),
            "Edm.DateTimeOffset" => (
                match value.get_ref() {
                    Toml::String(text) => date_time(text),
                    Toml::Datetime(at) => date_time(&at.to_string()),
                    _ => None,
                }
                .map(Value::String),
                "a date and time with an offset, like `2026-03-01T12:00:00Z`",
            ),
            _ => (None, "a value this loader can write"),
        };
        converted.ok_or_else(|| {
            self.invalid(
                value.span(),
                key,
                Reason::ColumnValue {
                    column: column.web_api_name(),
                    edm,
                    expected,
                },
            )
        })
    }

    fn limits(
        &self,
        limits: Option<&LimitsFile>,
        prefix: &str,
    ) -> Result<ServiceProtectionLimits, Error> {
        let mut checked = ServiceProtectionLimits::default();
        let Some(limits) = limits else {
            return Ok(checked);
        };
        let key = |field: &str| format!("{prefix}.limits.{field}");
        let u32_max = Some(i64::from(u32::MAX));
        let as_u32 = |value: i64| u32::try_from(value).expect("checked to be in u32 range");
        if let Some(requests) = &limits.requests {
            checked.requests = as_u32(self.in_range(requests, key("requests"), 1, u32_max)?);
        }
        if let Some(seconds) = &limits.window_seconds {
            checked.window_seconds =
                as_u32(self.in_range(seconds, key("window_seconds"), 1, u32_max)?);
        }
        if let Some(milliseconds) = &limits.execution_milliseconds {
            checked.execution_milliseconds = self
                .in_range(milliseconds, key("execution_milliseconds"), 1, None)?
                .unsigned_abs();
        }
        if let Some(milliseconds) = &limits.execution_milliseconds_per_request {
            checked.execution_milliseconds_per_request = self
                .in_range(
                    milliseconds,
                    key("execution_milliseconds_per_request"),
                    0,
                    None,
                )?
                .unsigned_abs();
        }
        if let Some(concurrent) = &limits.concurrent {
            checked.concurrent =
                as_u32(self.in_range(concurrent, key("concurrent"), 1, u32_max)?);
        }
        Ok(checked)
    }

    /// `forced_throttles`: each `app` must have an application user in the environment, since
    /// the fake counts only requests that get past the user checks.
    fn forced_throttles(
        &self,
        throttles: &[ForcedThrottleFile],
        prefix: &str,
        apps: &[App],
        users: &[ApplicationUser],
    ) -> Result<Vec<EnvironmentThrottle>, Error> {
        let mut checked = Vec::new();
        for (index, throttle) in throttles.iter().enumerate() {
            let key = format!("{prefix}.forced_throttles[{index}]");
            let app = match &throttle.app {
                Some(written) => {
                    let app_key = format!("{key}.app");
                    let Some(app) = apps.iter().find(|app| &app.key == written.get_ref()) else {
                        return Err(self.invalid(
                            written.span(),
                            app_key,
                            Reason::UnknownApp {
                                name: written.get_ref().clone(),
                                known: apps.iter().map(|app| app.key.clone()).collect(),
                            },
                        ));
                    };
                    if !users
                        .iter()
                        .any(|user| user.application_id == app.client_id)
                    {
                        return Err(self.invalid(
                            written.span(),
                            app_key,
                            Reason::ThrottleWithoutApplicationUser {
                                app: app.key.clone(),
                            },
                        ));
                    }
                    Some(app.key.clone())
                }
                None => None,
            };
            let count = |value: &Option<Spanned<i64>>, field: &str| {
                value
                    .as_ref()
                    .map(|value| {
                        self.in_range(value, format!("{key}.{field}"), 1, None)
                            .map(i64::unsigned_abs)
                    })
                    .transpose()
            };
            let retry_after_seconds = match &throttle.retry_after_seconds {
                Some(seconds) => self
                    .in_range(seconds, format!("{key}.retry_after_seconds"), 1, None)?
                    .unsigned_abs(),
                None => DEFAULT_RETRY_AFTER_SECONDS.unsigned_abs(),
            };
            checked.push(EnvironmentThrottle {
                limit: match throttle.limit {
                    ThrottleLimitFile::Requests => ThrottleLimit::Requests,
                    ThrottleLimitFile::ExecutionTime => ThrottleLimit::ExecutionTime,
                    ThrottleLimitFile::Concurrency => ThrottleLimit::Concurrency,
                },
                app,
                nth: count(&throttle.nth, "nth")?,
                times: count(&throttle.times, "times")?,
                retry_after_seconds,
            });
        }
        Ok(checked)
    }

    pub(super) fn dataverse(&self, dataverse: &DataverseFile) -> Result<Switches, Error> {
        let mut switches = Switches::default();
        let codes = [
            (
                &dataverse.disabled_user_code,
                "disabled_user_code",
                DISABLED_USER_CODES,
                &mut switches.disabled_user_code,
            ),
            (
                &dataverse.zero_roles_code,
                "zero_roles_code",
                ZERO_ROLES_CODES,
                &mut switches.zero_roles_code,
            ),
            (
                &dataverse.property_not_found_code,
                "property_not_found_code",
                PROPERTY_NOT_FOUND_CODES,
                &mut switches.property_not_found_code,
            ),
            (
                &dataverse.segment_not_found_code,
                "segment_not_found_code",
                SEGMENT_NOT_FOUND_CODES,
                &mut switches.segment_not_found_code,
            ),
        ];
        for (written, field, allowed, target) in codes {
            let Some(written) = written else {
                continue;
            };
            // Stored as the fake spells it; written in any case.
            let Some(code) = allowed
                .iter()
                .find(|code| code.eq_ignore_ascii_case(written.get_ref()))
            else {
                return Err(self.invalid(
                    written.span(),
                    format!("dataverse.{field}"),
                    Reason::Code {
                        value: written.get_ref().clone(),
                        allowed,
                    },
                ));
            };
            *target = (*code).to_owned();
        }
        if let Some(whoami) = dataverse.whoami_without_roles {
            switches.whoami_without_roles = whoami;
        }
        if let Some(decimal) = dataverse.throttle_code_decimal {
            switches.throttle_code_decimal = decimal;
        }
        if let Some(text) = &dataverse.access_mode_text {
            switches.access_mode_text =
                self.non_empty(text, "dataverse.access_mode_text".to_owned())?;
        }
        Ok(switches)
    }
}

/// What resolving an environment's application users needs to know.
struct Scope<'a> {
    prefix: &'a str,
    tenant: &'a Tenant,
    apps: &'a [App],
    business_units: &'a [BusinessUnit],
    /// The roles the file defines, each in its own business unit.
    defined_roles: Vec<SecurityRole>,
    organization_id: Uuid,
    /// The environment's custom tables, whose privileges predefined roles hold too.
    custom_tables: &'a [TableDefinition],
}

/// `contoso.api.crm.dynamics.com` → `contoso.crm.dynamics.com`, lower case.
fn web_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.split_once('.') {
        Some((org, rest)) => match rest.strip_prefix("api.") {
            Some(web) => format!("{org}.{web}"),
            None => host,
        },
        None => host,
    }
}

/// UUID v5 of `d365-harness:{kind}:{name}` in the organization's namespace: stable ids for
/// what the file leaves unnamed.
fn derived_id(organization_id: Uuid, kind: &str, name: &str) -> Uuid {
    Uuid::new_v5(
        &organization_id,
        format!("d365-harness:{kind}:{name}").as_bytes(),
    )
}

/// The id of role `name`'s instance in business unit `unit`.
fn role_id(organization_id: Uuid, name: &str, unit: Uuid) -> Uuid {
    derived_id(organization_id, "role", &format!("{name}:{unit}"))
}

fn root(units: &[BusinessUnit]) -> &BusinessUnit {
    units
        .iter()
        .find(|unit| unit.parent.is_none())
        .expect("business units have exactly one root")
}

/// Whether business unit `unit` is `ancestor` or lies below it.
fn is_at_or_below(units: &[BusinessUnit], unit: Uuid, ancestor: Uuid) -> bool {
    let mut current = Some(unit);
    // Bounded by the number of units: the tree has been checked for cycles.
    for _ in 0..=units.len() {
        match current {
            Some(id) if id == ancestor => return true,
            Some(id) => {
                current = units
                    .iter()
                    .find(|candidate| candidate.id == id)
                    .and_then(|candidate| candidate.parent);
            }
            None => return false,
        }
    }
    false
}

/// Every privilege the catalog knows: the union of the predefined roles' privileges (System
/// Administrator holds them all).
fn known_privileges() -> BTreeSet<String> {
    fake_dataverse::predefined_roles()
        .into_iter()
        .flat_map(|role| role.privileges.into_keys())
        .collect()
}

/// What the predefined roles give on custom tables (reference/dataverse.md §4.4): System
/// Administrator every privilege, Service Reader Read, Service Writer Create, Read and Write,
/// all Global; the other roles nothing.
fn predefined_custom_privileges(
    role: &str,
    custom_tables: &[TableDefinition],
) -> Vec<(String, Depth)> {
    let verbs: &[&str] = match role {
        "System Administrator" => &[
            "Create", "Read", "Write", "Delete", "Append", "AppendTo", "Assign", "Share",
        ],
        "Service Reader" => &["Read"],
        "Service Writer" => &["Create", "Read", "Write"],
        _ => &[],
    };
    custom_tables
        .iter()
        .flat_map(|table| {
            fake_dataverse::schema::privilege_names(table)
                .into_iter()
                .filter(|name| {
                    verbs.iter().any(|verb| {
                        name.strip_prefix("prv")
                            .and_then(|rest| rest.strip_prefix(verb))
                            == Some(table.privilege_stem.as_str())
                    })
                })
                .map(|name| (name, Depth::Global))
        })
        .collect()
}
