//! Changing the world of a running fake: `replace_config`, `reset_runtime` and `reset`.

use super::*;

const WHO_AM_I: &str = "/api/data/v9.2/WhoAmI";
const ADMIN_ONLY: &str = "User does not have required privileges (or role membership) to access the org when it is in Admin Only mode.";

/// `config()` with the environment in administration mode.
fn admin_mode() -> Config {
    let mut config = config();
    config.environments[0].admin_mode = true;
    config
}

fn who_am_i() -> Request<Bytes> {
    let mut request = Request::get(WHO_AM_I)
        .header("authorization", format!("Bearer {}", token(IMPORTER)))
        .body(Bytes::new())
        .expect("request");
    request.extensions_mut().insert(RequestContext {
        origin: format!("https://{HOST}"),
        host: HOST.into(),
        sequence: 1,
    });
    request
}

#[tokio::test]
async fn a_replaced_config_answers_the_next_request_and_can_be_undone() {
    let dataverse = dataverse();
    let before = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);

    dataverse
        .replace_config(admin_mode())
        .expect("valid config");
    let during = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_error(&during, 403, "0x8004A113", ADMIN_ONLY);

    dataverse.replace_config(config()).expect("valid config");
    let after = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_eq!(after.status, StatusCode::OK, "{}", after.text);
}

#[tokio::test]
async fn a_removed_role_takes_its_privileges_with_it() {
    let dataverse = dataverse();
    let path = format!(
        "/api/data/v9.2/systemusers({IMPORTER_USER})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    );
    let path = path.as_str();
    let with_role = get(&dataverse, path, Some(&token(IMPORTER))).await;
    assert_eq!(with_role.status, StatusCode::OK, "{}", with_role.text);
    assert!(
        with_role.text.contains("prvReadAccount"),
        "{}",
        with_role.text
    );

    let mut without = config();
    without.environments[0].application_users[0].roles.clear();
    dataverse.replace_config(without).expect("valid config");
    let without_role = get(&dataverse, path, Some(&token(IMPORTER))).await;
    assert_eq!(without_role.status, StatusCode::OK, "{}", without_role.text);
    assert!(
        !without_role.text.contains("prvReadAccount"),
        "{}",
        without_role.text
    );
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_world_it_started_with() {
    let dataverse = dataverse();
    let started = dataverse.call(who_am_i());
    dataverse
        .replace_config(admin_mode())
        .expect("valid config");
    assert_eq!(started.await.status(), StatusCode::OK);
    assert_eq!(
        dataverse.call(who_am_i()).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn a_config_with_other_hosts_is_refused_and_the_world_stays() {
    let dataverse = dataverse();
    let mut moved = admin_mode();
    moved.environments[0].host = "fabrikam.crm.dynamics.com".into();
    let error = dataverse.replace_config(moved).expect_err("hosts differ");
    assert!(matches!(error, Error::HostsChanged { .. }), "{error}");
    assert!(
        error.to_string().contains("fabrikam.crm.dynamics.com"),
        "{error}"
    );
    let answer = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn an_invalid_config_is_refused_and_the_world_stays() {
    let dataverse = dataverse();
    let mut invalid = admin_mode();
    invalid.environments[0].business_units[1].parent = None;
    let error = dataverse.replace_config(invalid).expect_err("two roots");
    assert!(matches!(error, Error::Config(_)), "{error}");
    let answer = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

/// `config()` where each user may send one request per five minutes.
fn one_request() -> Config {
    let mut config = config();
    config.environments[0].limits.requests = 1;
    config.environments[0].limits.window_seconds = 300;
    config
}

#[tokio::test]
async fn service_protection_windows_survive_a_change_and_go_with_reset_runtime() {
    let dataverse = service(one_request()).expect("valid config");
    let first = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);

    let mut renamed = one_request();
    renamed.environments[0].friendly_name = "Contoso Ltd".into();
    dataverse.replace_config(renamed).expect("valid config");
    let second = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_eq!(
        second.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        second.text
    );

    dataverse.reset_runtime();
    let third = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.text);
}

#[tokio::test]
async fn reset_brings_back_the_config_the_fake_was_built_with() {
    let dataverse = dataverse();
    dataverse
        .replace_config(admin_mode())
        .expect("valid config");
    dataverse.reset();
    let answer = get(&dataverse, WHO_AM_I, Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}
