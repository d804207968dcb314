//! Who owns generated rows (ordinary users and teams, never application users) and roles held
//! through teams: the privilege check, `RetrieveUserPrivileges` and Basic-depth reach.

use super::*;
use crate::config::{Team, TeamKind};

pub(super) const TEAM: &str = "bbbb0001-0000-4000-8000-000000000001";
const ROLELESS_USER: &str = "2138bd90-ec19-ea11-a811-000d3a334e13";

/// An owner team of the root unit with these members and roles.
pub(super) fn owner_team(members: &[&str], roles: &[&str]) -> Team {
    Team {
        id: uuid(TEAM),
        name: "Importers".to_owned(),
        kind: TeamKind::Owner,
        business_unit: uuid(ROOT_UNIT),
        roles: roles.iter().map(|role| uuid(role)).collect(),
        members: members.iter().map(|member| uuid(member)).collect(),
    }
}

/// The data environment with Read on accounts at Basic (User) depth and these teams.
fn basic_reader(teams: Vec<Team>) -> Config {
    let mut config = data_config();
    let environment = &mut config.environments[0];
    environment.roles[0]
        .privileges
        .insert("prvReadAccount".into(), Depth::Basic);
    environment.teams = teams;
    environment
        .tables
        .push(table("team", TableData::Rows(Vec::new())));
    config
}

async fn get_as(dataverse: &Dataverse, app: &str, path: &str) -> Answer {
    get(dataverse, path, Some(&token(app))).await
}

fn owners_of(answer: &Answer) -> Vec<String> {
    answer.json()["value"]
        .as_array()
        .expect("value")
        .iter()
        .map(|row| row["_ownerid_value"].as_str().expect("an owner").to_owned())
        .collect()
}

#[tokio::test]
async fn basic_depth_sees_no_generated_rows_without_a_team() {
    let dataverse = service(basic_reader(Vec::new())).expect("valid config");
    let answer = get_as(&dataverse, IMPORTER, "/api/data/v9.2/accounts?$select=name").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["value"], json!([]));
    // A Global reader sees that every row has an owner, and none is the application user.
    let global = get_as(
        &service(data_config()).expect("valid config"),
        IMPORTER,
        "/api/data/v9.2/accounts?$select=_ownerid_value",
    )
    .await;
    let owners = owners_of(&global);
    assert_eq!(owners.len() as u64, ACCOUNTS);
    assert!(!owners.iter().any(|owner| owner == IMPORTER_USER));
}

#[tokio::test]
async fn basic_depth_reaches_rows_owned_by_a_team_of_the_user() {
    let dataverse =
        service(basic_reader(vec![owner_team(&[IMPORTER_USER], &[])])).expect("valid config");
    let answer = get_as(
        &dataverse,
        IMPORTER,
        "/api/data/v9.2/accounts?$select=_ownerid_value",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let owners = owners_of(&answer);
    assert!(!owners.is_empty());
    assert!(owners.iter().all(|owner| owner == TEAM), "{owners:?}");
    // Not a member: the same team's rows stay out of reach.
    let outsider = service(basic_reader(vec![owner_team(&[], &[])])).expect("valid config");
    let answer = get_as(&outsider, IMPORTER, "/api/data/v9.2/accounts?$select=name").await;
    assert_eq!(answer.json()["value"], json!([]));
}

#[tokio::test]
async fn a_role_held_only_through_a_team_passes_the_privilege_check() {
    let mut config = data_config();
    config.environments[0].teams = vec![owner_team(&[ROLELESS_USER], &[READER_ROLE])];
    let dataverse = service(config).expect("valid config");
    let answer = get_as(
        &dataverse,
        ROLELESS_APP,
        "/api/data/v9.2/accounts?$select=name",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        answer.json()["value"].as_array().expect("value").len() as u64,
        ACCOUNTS
    );
    // The same user without the team has no role at all: the zero-roles 403.
    let answer = get_as(
        &service(data_config()).expect("valid config"),
        ROLELESS_APP,
        "/api/data/v9.2/accounts",
    )
    .await;
    assert_error(
        &answer,
        403,
        "0x80040220",
        &format!(
            "The user with id {ROLELESS_USER} has not been assigned any roles. They need a role with the prvReadAccount privilege."
        ),
    );
}

#[tokio::test]
async fn retrieve_user_privileges_reports_team_privileges_at_basic_depth() {
    let mut config = data_config();
    config.environments[0].teams = vec![owner_team(&[ROLELESS_USER], &[READER_ROLE])];
    let dataverse = service(config).expect("valid config");
    let path = format!(
        "/api/data/v9.2/systemusers({ROLELESS_USER})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    );
    let answer = get_as(&dataverse, ROLELESS_APP, &path).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let privileges = answer.json()["RolePrivileges"].clone();
    // The team role grants Global and Local; through a team both read as Basic.
    assert_eq!(privileges[0]["PrivilegeName"], "prvReadAccount");
    assert_eq!(privileges[0]["Depth"], "Basic");
    assert_eq!(privileges[1]["PrivilegeName"], "prvReadContact");
    assert_eq!(privileges[1]["Depth"], "Basic");
    assert_eq!(privileges[1]["BusinessUnitId"], ROOT_UNIT);
    assert_eq!(privileges.as_array().expect("privileges").len(), 2);
}

#[tokio::test]
async fn ordinary_users_and_teams_are_rows_of_their_tables() {
    let group = Team {
        id: uuid("bbbb0002-0000-4000-8000-000000000002"),
        name: "Importer group".to_owned(),
        kind: TeamKind::Group {
            object_id: uuid("cccc0001-0000-4000-8000-000000000001"),
        },
        ..owner_team(&[IMPORTER_USER], &[])
    };
    let mut config = basic_reader(vec![owner_team(&[], &[]), group]);
    config.environments[0].roles[0].privileges.extend([
        ("prvReadUser".into(), Depth::Global),
        ("prvReadTeam".into(), Depth::Global),
    ]);
    let dataverse = service(config).expect("valid config");
    let teams = get_as(
        &dataverse,
        IMPORTER,
        "/api/data/v9.2/teams?$select=name,teamtype,_businessunitid_value,azureactivedirectoryobjectid",
    )
    .await;
    assert_eq!(teams.status, StatusCode::OK, "{}", teams.text);
    let value = teams.json()["value"].clone();
    assert_eq!(value[0]["name"], "Importers");
    assert_eq!(value[0]["teamtype"], 0);
    assert_eq!(value[0]["_businessunitid_value"], ROOT_UNIT);
    assert_eq!(value[1]["teamtype"], 2);
    assert_eq!(
        value[1]["azureactivedirectoryobjectid"],
        "cccc0001-0000-4000-8000-000000000001"
    );
    let users = get_as(
        &dataverse,
        IMPORTER,
        "/api/data/v9.2/systemusers?$select=fullname,accessmode,_businessunitid_value",
    )
    .await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text);
    let ordinary: Vec<Value> = users.json()["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter(|user| user["accessmode"] == 0)
        .cloned()
        .collect();
    let expected = crate::rows::ordinary_users(&basic_reader(Vec::new()).environments[0]);
    assert!(!expected.is_empty());
    // Lists come in primary-key order: compare as sets.
    let listed: HashSet<(String, String)> = ordinary
        .iter()
        .map(|row| {
            (
                row["fullname"].to_string(),
                row["_businessunitid_value"].to_string(),
            )
        })
        .collect();
    let made: HashSet<(String, String)> = expected
        .iter()
        .map(|user| {
            (
                json!(user.full_name).to_string(),
                json!(user.business_unit).to_string(),
            )
        })
        .collect();
    assert_eq!(listed, made);
    assert_eq!(listed.len(), expected.len(), "names are distinct");
}

#[tokio::test]
async fn table_owners_replace_the_default_owners_of_one_table() {
    let mut config = basic_reader(Vec::new());
    config.environments[0]
        .table_owners
        .insert("account".to_owned(), vec![uuid(IMPORTER_USER)]);
    config.environments[0].roles[0]
        .privileges
        .insert("prvReadContact".into(), Depth::Basic);
    let dataverse = service(config).expect("valid config");
    let accounts = get_as(
        &dataverse,
        IMPORTER,
        "/api/data/v9.2/accounts?$select=_ownerid_value",
    )
    .await;
    let owners = owners_of(&accounts);
    assert_eq!(
        owners.len() as u64,
        ACCOUNTS,
        "every account is the application user's"
    );
    assert!(owners.iter().all(|owner| owner == IMPORTER_USER));
    // Other tables keep the default owners: none of their rows is the application user's.
    let contacts = get_as(
        &dataverse,
        IMPORTER,
        "/api/data/v9.2/contacts?$select=fullname",
    )
    .await;
    assert_eq!(contacts.json()["value"], json!([]));
}

#[test]
fn unknown_team_roles_members_and_owners_are_config_errors() {
    let stranger = "dddd0001-0000-4000-8000-000000000001";
    let refused = |config: Config| match service(config) {
        Err(crate::Error::Config(error)) => error.to_string(),
        Err(other) => format!("another error: {other}"),
        Ok(_) => "accepted".to_owned(),
    };
    let mut config = data_config();
    config.environments[0].teams = vec![owner_team(&[stranger], &[])];
    assert_eq!(
        refused(config),
        format!("member of team Importers `{stranger}` of `{HOST}` is unknown")
    );
    let mut config = data_config();
    config.environments[0].teams = vec![owner_team(&[], &[stranger])];
    assert_eq!(
        refused(config),
        format!("role of team Importers `{stranger}` of `{HOST}` is unknown")
    );
    let mut config = data_config();
    config.environments[0]
        .table_owners
        .insert("account".to_owned(), vec![uuid(stranger)]);
    assert_eq!(
        refused(config),
        format!("owner of table account `{stranger}` of `{HOST}` is unknown")
    );
}
