//! Dataverse changes on the world document: application users, roles (direct or through a
//! team), team members, privilege depths, administration mode, service protection limits and
//! table rows. Toggles remove the key they set when switching back to the default, so a change
//! and its reverse give back the same document.

use toml::{Table, Value};

use super::names::{self, array, entry, find, position, remove_item, strings, subtable};
use super::{Batch, Change, ChangeReason, Refusal};

impl Batch<'_> {
    /// Applies `change` when it is a Dataverse change; whether it was one.
    pub(super) fn apply_dataverse(&mut self, change: &Change) -> Result<bool, Refusal> {
        match change {
            Change::AddApplicationUser {
                environment,
                app,
                roles,
            } => {
                let apps = names::keys(self.document.table(), "apps");
                if !apps.iter().any(|key| key == app) {
                    return Err(Refusal::at("app")(ChangeReason::unknown(
                        None, "app", app, apps,
                    )));
                }
                for role in roles {
                    self.check_role(environment, role)?;
                }
                let users = array(self.environment(environment)?, "application_users");
                if position(users, "app", app).is_some() {
                    return Err(Refusal::at("app")(ChangeReason::Exists {
                        owner: format!("environment `{environment}`"),
                        what: "an application user for app",
                        name: app.clone(),
                    }));
                }
                let mut user = Table::new();
                user.insert("app".into(), Value::String(app.clone()));
                if !roles.is_empty() {
                    user.insert(
                        "roles".into(),
                        Value::Array(roles.iter().cloned().map(Value::String).collect()),
                    );
                }
                users.push(Value::Table(user));
            }
            Change::RemoveApplicationUser { environment, app } => {
                let environment_table = self.environment(environment)?;
                let users = array(environment_table, "application_users");
                let index = find(
                    users,
                    "app",
                    app,
                    format!("environment `{environment}`"),
                    "application user for app",
                )
                .map_err(Refusal::at("app"))?;
                remove_item(environment_table, "application_users", index);
                // Deleting a user in Dataverse takes it out of its teams too.
                if let Some(teams) = environment_table
                    .get_mut("teams")
                    .and_then(Value::as_array_mut)
                {
                    for team in teams.iter_mut().filter_map(Value::as_table_mut) {
                        if let Some(members) = team.get_mut("members").and_then(Value::as_array_mut)
                        {
                            members.retain(|member| member.as_str() != Some(app));
                        }
                    }
                }
            }
            Change::DisableApplicationUser { environment, app }
            | Change::EnableApplicationUser { environment, app } => {
                let enable = matches!(change, Change::EnableApplicationUser { .. });
                let user = self.application_user(environment, app)?;
                if enable {
                    user.remove("enabled");
                } else {
                    user.insert("enabled".into(), Value::Boolean(false));
                }
            }
            Change::AssignRole {
                environment,
                app,
                team,
                role,
            } => {
                self.check_role(environment, role)?;
                let (holder, holder_table) = self.role_holder(environment, app, team)?;
                let roles = array(holder_table, "roles");
                if roles.iter().any(|held| held.as_str() == Some(role)) {
                    return Err(Refusal::at("role")(ChangeReason::Exists {
                        owner: holder,
                        what: "role",
                        name: role.clone(),
                    }));
                }
                roles.push(Value::String(role.clone()));
            }
            Change::RemoveRole {
                environment,
                app,
                team,
                role,
            } => {
                let (holder, holder_table) = self.role_holder(environment, app, team)?;
                let roles = array(holder_table, "roles");
                let index = roles
                    .iter()
                    .position(|held| held.as_str() == Some(role))
                    .ok_or_else(|| {
                        Refusal::at("role")(ChangeReason::unknown(
                            Some(holder),
                            "role",
                            role,
                            strings(roles),
                        ))
                    })?;
                remove_item(holder_table, "roles", index);
            }
            Change::AddTeamMember {
                environment,
                team,
                app,
            }
            | Change::RemoveTeamMember {
                environment,
                team,
                app,
            } => {
                let add = matches!(change, Change::AddTeamMember { .. });
                let environment_table = self.environment(environment)?;
                let users = environment_table
                    .get("application_users")
                    .and_then(Value::as_array)
                    .map(|users| names::names_in(users, "app"))
                    .unwrap_or_default();
                let team_table = team_entry(environment_table, environment, team)?;
                let members = array(team_table, "members");
                let index = members
                    .iter()
                    .position(|member| member.as_str() == Some(app));
                match (add, index) {
                    (true, Some(_)) => {
                        return Err(Refusal::at("app")(ChangeReason::Exists {
                            owner: format!("team `{team}`"),
                            what: "member",
                            name: app.clone(),
                        }));
                    }
                    (true, None) => {
                        if !users.iter().any(|user| user == app) {
                            return Err(Refusal::at("app")(ChangeReason::unknown(
                                Some(format!("environment `{environment}`")),
                                "application user for app",
                                app,
                                users,
                            )));
                        }
                        members.push(Value::String(app.clone()));
                    }
                    (false, Some(index)) => remove_item(team_table, "members", index),
                    (false, None) => {
                        return Err(Refusal::at("app")(ChangeReason::unknown(
                            Some(format!("team `{team}`")),
                            "member",
                            app,
                            strings(members),
                        )));
                    }
                }
            }
            Change::SetPrivilege {
                environment,
                role,
                privilege,
                depth,
            } => {
                self.check_privilege(environment, privilege)?;
                let environment_table = self.environment(environment)?;
                let roles = subtable(environment_table, "roles");
                let defined: Vec<String> = roles.keys().cloned().collect();
                let Some(role_table) = roles.get_mut(role).and_then(Value::as_table_mut) else {
                    let reason = if predefined_roles().iter().any(|name| name == role) {
                        ChangeReason::rule(format!(
                            "`{role}` is a predefined role, whose privileges are fixed; define a role of your own"
                        ))
                    } else {
                        ChangeReason::unknown(
                            Some(format!("environment `{environment}`")),
                            "defined role",
                            role,
                            defined,
                        )
                    };
                    return Err(Refusal::at("role")(reason));
                };
                let privileges = subtable(role_table, "privileges");
                if depth.eq_ignore_ascii_case("none") {
                    if privileges.remove(privilege).is_none() {
                        let known = privileges.keys().cloned().collect();
                        return Err(Refusal::at("privilege")(ChangeReason::unknown(
                            Some(format!("role `{role}`")),
                            "privilege",
                            privilege,
                            known,
                        )));
                    }
                } else {
                    privileges.insert(privilege.clone(), Value::String(depth.clone()));
                }
            }
            Change::AdminMode { environment, on } => {
                let environment_table = self.environment(environment)?;
                if *on {
                    environment_table.insert("admin_mode".into(), Value::Boolean(true));
                } else {
                    environment_table.remove("admin_mode");
                }
            }
            Change::SetLimits {
                environment,
                requests,
                window_seconds,
                execution_milliseconds,
                execution_milliseconds_per_request,
                concurrent,
            } => {
                let given = [
                    ("requests", requests),
                    ("window_seconds", window_seconds),
                    ("execution_milliseconds", execution_milliseconds),
                    (
                        "execution_milliseconds_per_request",
                        execution_milliseconds_per_request,
                    ),
                    ("concurrent", concurrent),
                ];
                if given.iter().all(|(_, value)| value.is_none()) {
                    return Err(ChangeReason::rule(
                        "give at least one of `requests`, `window_seconds`, `execution_milliseconds`, `execution_milliseconds_per_request` and `concurrent`",
                    )
                    .into());
                }
                let limits = subtable(self.environment(environment)?, "limits");
                for (field, value) in given {
                    if let Some(value) = value {
                        let value = i64::try_from(*value).map_err(|_| {
                            Refusal::at(field)(ChangeReason::rule(format!(
                                "`{value}` is too large"
                            )))
                        })?;
                        limits.insert(field.into(), Value::Integer(value));
                    }
                }
            }
            Change::AddRows {
                environment,
                table,
                rows,
            } => {
                self.check_table(environment, table)?;
                let tables = subtable(self.environment(environment)?, "tables");
                let entry = subtable(tables, table);
                if entry.contains_key("generate") {
                    return Err(Refusal::at("table")(generated(table)));
                }
                array(entry, "rows").extend(rows.iter().cloned().map(Value::Table));
            }
            Change::RemoveRows {
                environment,
                table,
                ids,
            } => {
                let primary_id = self
                    .world
                    .environment(environment)
                    .and_then(|resolved| {
                        resolved
                            .tables
                            .iter()
                            .find(|candidate| &candidate.logical_name == table)
                    })
                    .map(|resolved| resolved.definition.primary_id_attribute.clone())
                    // A table the batch listed just now: standard, or custom (`<name>id`).
                    .or_else(|| {
                        fake_dataverse::standard_table(table)
                            .map(|definition| definition.primary_id_attribute)
                    })
                    .unwrap_or_else(|| format!("{table}id"));
                let tables = subtable(self.environment(environment)?, "tables");
                let listed: Vec<String> = tables.keys().cloned().collect();
                let Some(entry) = tables.get_mut(table).and_then(Value::as_table_mut) else {
                    return Err(Refusal::at("table")(ChangeReason::unknown(
                        Some(format!("environment `{environment}`")),
                        "listed table",
                        table,
                        listed,
                    )));
                };
                if entry.contains_key("generate") {
                    return Err(Refusal::at("table")(generated(table)));
                }
                let rows = array(entry, "rows");
                match ids {
                    None => rows.clear(),
                    Some(ids) => {
                        let id_of = |row: &Value| {
                            row.get(&primary_id)
                                .and_then(Value::as_str)
                                .map(str::to_ascii_lowercase)
                        };
                        let present: Vec<String> = rows.iter().filter_map(id_of).collect();
                        for id in ids {
                            if !present.contains(&id.to_ascii_lowercase()) {
                                return Err(Refusal::at("ids")(ChangeReason::unknown(
                                    Some(format!("table `{table}`")),
                                    "row with id",
                                    id,
                                    present,
                                )));
                            }
                        }
                        let wanted: Vec<String> =
                            ids.iter().map(|id| id.to_ascii_lowercase()).collect();
                        rows.retain(|row| id_of(row).is_none_or(|id| !wanted.contains(&id)));
                    }
                }
            }
            Change::SetGeneratedRows {
                environment,
                table,
                count,
            } => {
                self.check_table(environment, table)?;
                let count = i64::try_from(*count).map_err(|_| {
                    Refusal::at("count")(ChangeReason::rule(format!("`{count}` is too large")))
                })?;
                let tables = subtable(self.environment(environment)?, "tables");
                let entry = subtable(tables, table);
                entry.remove("rows");
                entry.insert("generate".into(), Value::Integer(count));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `[environments.<environment>]`, to edit.
    fn environment(&mut self, environment: &str) -> Result<&mut Table, Refusal> {
        entry(
            self.document.table_mut(),
            "environments",
            "environment",
            environment,
        )
        .map_err(Refusal::at("environment"))
    }

    /// The application user of `app` in `environment`, to edit.
    fn application_user(&mut self, environment: &str, app: &str) -> Result<&mut Table, Refusal> {
        let users = array(self.environment(environment)?, "application_users");
        let index = find(
            users,
            "app",
            app,
            format!("environment `{environment}`"),
            "application user for app",
        )
        .map_err(Refusal::at("app"))?;
        Ok(users[index]
            .as_table_mut()
            .expect("a validated world's application users are tables"))
    }

    /// Who holds roles (`app` xor `team`), named for messages, and its entry to edit.
    fn role_holder(
        &mut self,
        environment: &str,
        app: &Option<String>,
        team: &Option<String>,
    ) -> Result<(String, &mut Table), Refusal> {
        match (app, team) {
            (Some(app), None) => {
                let user = self.application_user(environment, app)?;
                Ok((format!("the application user of app `{app}`"), user))
            }
            (None, Some(team)) => {
                let environment_table = self.environment(environment)?;
                let team_table = team_entry(environment_table, environment, team)?;
                Ok((format!("team `{team}`"), team_table))
            }
            _ => Err(ChangeReason::rule("give exactly one of `app` and `team`").into()),
        }
    }

    /// Checks that `role` is defined in `environment` or predefined.
    fn check_role(&mut self, environment: &str, role: &str) -> Result<(), Refusal> {
        let environment_table = self.environment(environment)?;
        let mut known = names::keys(environment_table, "roles");
        if known.iter().any(|name| name == role) {
            return Ok(());
        }
        let predefined = predefined_roles();
        if predefined.iter().any(|name| name == role) {
            return Ok(());
        }
        known.extend(predefined);
        Err(Refusal::at("role")(ChangeReason::unknown(
            Some(format!("environment `{environment}`")),
            "role",
            role,
            known,
        )))
    }

    /// Refuses a privilege name that is not one of the environment's but is near one (a
    /// typo, answered with "did you mean"). Other unknown names are left to the world
    /// validator, which lists every privilege (a custom table the environment does not list
    /// has privileges this list lacks).
    fn check_privilege(&mut self, environment: &str, privilege: &str) -> Result<(), Refusal> {
        let mut known: Vec<String> = fake_dataverse::predefined_roles()
            .into_iter()
            .flat_map(|role| role.privileges.into_keys())
            .collect();
        if let Some(resolved) = self.world.environment(environment) {
            known.extend(
                resolved
                    .tables
                    .iter()
                    .flat_map(|table| fake_dataverse::schema::privilege_names(&table.definition)),
            );
        }
        known.sort();
        known.dedup();
        if known.iter().any(|name| name == privilege) || names::nearest(privilege, &known).is_none()
        {
            return Ok(());
        }
        let nearest = names::nearest(privilege, &known)
            .unwrap_or_default()
            .to_owned();
        Err(Refusal::at("privilege")(ChangeReason::Unknown {
            owner: Some(format!("environment `{environment}`")),
            what: "privilege",
            name: privilege.to_owned(),
            // Hundreds of names: the nearest says enough.
            known: vec![nearest],
        }))
    }

    /// Checks that `table` is a standard table or one of `environment`'s custom tables.
    fn check_table(&mut self, environment: &str, table: &str) -> Result<(), Refusal> {
        let environment_table = self.environment(environment)?;
        let mut known = names::keys(environment_table, "custom_tables");
        let mut standard: Vec<String> = fake_dataverse::standard_tables()
            .into_iter()
            .map(|definition| definition.logical_name)
            .collect();
        standard.sort();
        known.extend(standard);
        if known.iter().any(|name| name == table) {
            Ok(())
        } else {
            Err(Refusal::at("table")(ChangeReason::unknown(
                Some(format!("environment `{environment}`")),
                "table",
                table,
                known,
            )))
        }
    }
}

/// The team named `team` of an environment's table, to edit.
fn team_entry<'a>(
    environment_table: &'a mut Table,
    environment: &str,
    team: &str,
) -> Result<&'a mut Table, Refusal> {
    let teams = array(environment_table, "teams");
    let index = find(
        teams,
        "name",
        team,
        format!("environment `{environment}`"),
        "team",
    )
    .map_err(Refusal::at("team"))?;
    Ok(teams[index]
        .as_table_mut()
        .expect("a validated world's teams are tables"))
}

/// The names of the predefined roles.
fn predefined_roles() -> Vec<String> {
    fake_dataverse::predefined_roles()
        .into_iter()
        .map(|role| role.name)
        .collect()
}

/// The refusal to edit the rows of a generated table.
fn generated(table: &str) -> ChangeReason {
    ChangeReason::rule(format!(
        "table `{table}` is generated; use `set_generated_rows`, or give it inline rows first"
    ))
}
