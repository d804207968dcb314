//! `teams` in world files: owner and Microsoft Entra group teams with their business unit,
//! roles (instantiated there like a user's) and members (application users by app key,
//! ordinary users by full name), on their way into the fake, and their errors.

use fake_dataverse::TeamKind;

use super::*;

/// Business units `contoso` (root) and `Sales`, a `Sales Reader` role of `Sales`, the importer's
/// application user without roles, and `teams` after it.
fn with_teams(teams: &str) -> String {
    with_environment(&format!(
        "business_units = [{{ name = \"contoso\" }}, {{ name = \"Sales\", parent = \"contoso\" }}]\n\
         application_users = [{{ app = \"importer\" }}]\n\
         {teams}\
         [environments.contoso.roles.\"Sales Reader\"]\nbusiness_unit = \"Sales\"\n\
         privileges = {{ prvReadAccount = \"Global\" }}\n"
    ))
}

#[test]
fn teams_parse_with_roles_and_members() {
    let ordinary = {
        let world = parse(&with_teams(""));
        let environment = world.environment("contoso").expect("contoso");
        fake_dataverse::ordinary_users_in(environment.organization_id, &environment.business_units)
    };
    let person = &ordinary[0].full_name;
    let text = with_teams(&format!(
        "teams = [\n\
         {{ name = \"Sales importers\", kind = \"owner\", business_unit = \"Sales\", roles = [\"Sales Reader\"], members = [\"importer\", \"{person}\"] }},\n\
         {{ name = \"Readers group\", kind = \"group\", group_id = \"cccc0001-0000-4000-8000-000000000001\", roles = [\"Basic User\"] }},\n\
         ]\n"
    ));
    let world = parse(&text);
    let environment = world.environment("contoso").expect("contoso");
    let user = environment.application_user(IMPORTER).expect("user");
    assert!(user.roles.is_empty());
    let [owner, group] = environment.teams.as_slice() else {
        panic!("two teams: {:?}", environment.teams);
    };
    assert_eq!(owner.name, "Sales importers");
    assert_eq!(owner.kind, TeamKind::Owner);
    let sales = &environment.business_units[1];
    assert_eq!(owner.business_unit, sales.id);
    assert_eq!(owner.members, vec![user.id, ordinary[0].id]);
    let role = environment
        .roles
        .iter()
        .find(|role| role.id == owner.roles[0])
        .expect("the team's role");
    assert_eq!(
        (role.name.as_str(), role.business_unit),
        ("Sales Reader", sales.id)
    );
    assert_eq!(
        group.kind,
        TeamKind::Group {
            object_id: uuid!("cccc0001-0000-4000-8000-000000000001")
        }
    );
    assert_eq!(group.business_unit, environment.root_business_unit().id);
    assert!(group.members.is_empty());
    let basic_user = environment
        .roles
        .iter()
        .find(|role| role.id == group.roles[0])
        .expect("the predefined role, instantiated for the team");
    assert_eq!(basic_user.name, "Basic User");
    // The fake gets the teams, and a `team` table to list them in.
    let config = dataverse_config(&text);
    assert_eq!(config.environments[0].teams, environment.teams);
    assert!(
        config.environments[0]
            .tables
            .iter()
            .any(|table| table.definition.logical_name == "team")
    );
}

#[test]
fn team_errors_name_the_key_line_and_column() {
    let ordinary = {
        let world = parse(&with_teams(""));
        let environment = world.environment("contoso").expect("contoso");
        fake_dataverse::ordinary_users_in(environment.organization_id, &environment.business_units)
            .into_iter()
            .map(|user| user.full_name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let predefined = fake_dataverse::predefined_roles()
        .into_iter()
        .map(|role| role.name)
        .collect::<Vec<_>>()
        .join(", ");
    // Teams start on line 25.
    let cases = [
        (
            "teams = [{ name = \"Importers\", kind = \"owner\", roles = [\"Readr\"] }]\n",
            format!(
                "invalid world `worlds/test.toml` at line 25, column 57: \
                 `environments.contoso.teams[0].roles[0]`: unknown role `Readr`; \
                 defined: Sales Reader; predefined: {predefined}"
            ),
        ),
        (
            "teams = [{ name = \"Importers\", kind = \"owner\", roles = [\"Sales Reader\"] }]\n",
            "invalid world `worlds/test.toml` at line 25, column 57: \
             `environments.contoso.teams[0].roles[0]`: role `Sales Reader` belongs to business \
             unit `Sales`; a team in `contoso` can hold only roles of `contoso` or a business \
             unit above it"
                .to_owned(),
        ),
        (
            "teams = [{ name = \"Importers\", kind = \"owner\", members = [\"importer\", \"nobody\"] }]\n",
            format!(
                "invalid world `worlds/test.toml` at line 25, column 71: \
                 `environments.contoso.teams[0].members[1]`: unknown team member `nobody`; \
                 known: importer, {ordinary}"
            ),
        ),
        (
            "teams = [{ name = \"Importers\", kind = \"group\" }]\n",
            "invalid world `worlds/test.toml` at line 25, column 19: \
             `environments.contoso.teams[0]`: a `group` team needs `group_id` (the Microsoft \
             Entra group's object id); an `owner` team has none"
                .to_owned(),
        ),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|(teams, expected)| {
            let actual = match World::parse(&with_teams(teams), "worlds/test.toml") {
                Ok(_) => "no error".to_owned(),
                Err(error) => chain(&error),
            };
            (&actual != expected)
                .then(|| format!("{teams}  expected: {expected}\n  actual:   {actual}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn table_owners_name_teams_apps_and_ordinary_users() {
    let world = parse(&with_teams(""));
    let environment = world.environment("contoso").expect("contoso");
    let person =
        fake_dataverse::ordinary_users_in(environment.organization_id, &environment.business_units)
            [1]
        .clone();
    let text = with_teams(&format!(
        "teams = [{{ name = \"Importers\", kind = \"owner\" }}]\n\
         [environments.contoso.tables]\n\
         account = {{ generate = 5, owners = [\"Importers\", \"importer\", \"{}\"] }}\n\
         contact = {{ generate = 5, owners = \"application_users\" }}\n\
         lead = {{ generate = 5 }}\n",
        person.full_name
    ));
    let world = parse(&text);
    let environment = world.environment("contoso").expect("contoso");
    let user = environment.application_user(IMPORTER).expect("user").id;
    let team = environment.teams[0].id;
    assert_eq!(
        environment.table_owners.get("account"),
        Some(&vec![team, user, person.id])
    );
    assert_eq!(environment.table_owners.get("contact"), Some(&vec![user]));
    assert_eq!(
        environment.table_owners.get("lead"),
        None,
        "the default owners"
    );
    let config = dataverse_config(&text);
    assert_eq!(
        config.environments[0].table_owners,
        environment.table_owners
    );
}

#[test]
fn table_owner_errors_name_the_key_line_and_column() {
    // `[environments.contoso.tables]` is on line 25, the table on line 26.
    let cases = [
        (
            "account = { generate = 5, owners = [\"nobody\"] }\n",
            "invalid world `worlds/test.toml` at line 26, column 36: \
             `environments.contoso.tables.account.owners[0]`: unknown owner `nobody`; known: \
             importer, ",
        ),
        (
            "account = { generate = 5, owners = \"everyone\" }\n",
            "invalid world `worlds/test.toml` at line 26, column 36: \
             `environments.contoso.tables.account.owners`: `owners` is `\"application_users\"` \
             or a list of team, app and user names, on a table with `generate`",
        ),
        (
            "account = { rows = [], owners = \"application_users\" }\n",
            "invalid world `worlds/test.toml` at line 26, column 33: \
             `environments.contoso.tables.account.owners`: `owners` is `\"application_users\"` \
             or a list of team, app and user names, on a table with `generate`",
        ),
    ];
    let mismatches: Vec<String> = cases
        .iter()
        .filter_map(|(table, expected)| {
            let text = with_teams(&format!("[environments.contoso.tables]\n{table}"));
            let actual = match World::parse(&text, "worlds/test.toml") {
                Ok(_) => "no error".to_owned(),
                Err(error) => chain(&error),
            };
            (!actual.starts_with(expected))
                .then(|| format!("{table}  expected: {expected}…\n  actual:   {actual}"))
        })
        .collect();
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}
