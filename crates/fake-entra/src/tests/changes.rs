//! Changing the world of a running fake: `replace_config`, `reset_runtime` and `reset`.

use super::*;

/// The importer's token request, answered by the world the fake has when it is called.
fn token_request() -> Request<Bytes> {
    let body: String = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(secret_form(IMPORTER, SECRET))
        .finish();
    let mut request = Request::post(token_path(CONTOSO))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Bytes::from(body))
        .expect("request");
    request.extensions_mut().insert(RequestContext {
        host: "login.microsoftonline.com".into(),
        origin: "https://login.microsoftonline.com".into(),
        sequence: 1,
    });
    request
}

/// `config()` with the importer's service principal in Contoso disabled.
fn importer_disabled() -> Config {
    let mut config = config();
    config.apps[0].service_principals.push(ServicePrincipal {
        tenant: uuid(CONTOSO),
        object_id: None,
        enabled: false,
    });
    config
}

#[tokio::test]
async fn a_replaced_config_answers_the_next_request() {
    let entra = entra();
    let before = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(before.status, StatusCode::OK, "{}", before.text);

    entra
        .replace_config(importer_disabled())
        .expect("valid config");
    let after = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_aad(
        &after,
        400,
        "unauthorized_client",
        7000112,
        &format!("Application '{IMPORTER}'(MultiSource Importer) is disabled."),
    );

    entra.replace_config(config()).expect("valid config");
    let restored = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(restored.status, StatusCode::OK, "{}", restored.text);
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_world_it_started_with() {
    let entra = entra();
    let started = entra.call(token_request());
    entra
        .replace_config(importer_disabled())
        .expect("valid config");
    let answer = started.await;
    assert_eq!(answer.status(), StatusCode::OK);
    let next = entra.call(token_request()).await;
    assert_eq!(next.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_config_with_other_hosts_is_refused_and_the_world_stays() {
    let entra = entra();
    let mut other = importer_disabled();
    other.aliases = vec!["login.windows.net".into()];
    let error = entra.replace_config(other).expect_err("hosts differ");
    assert!(matches!(error, Error::HostsChanged { .. }), "{error}");
    assert!(error.to_string().contains("login.windows.net"), "{error}");
    let answer = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn an_invalid_config_is_refused_and_the_world_stays() {
    let entra = entra();
    let mut invalid = importer_disabled();
    invalid.token_lifetime_seconds = 0;
    let error = entra.replace_config(invalid).expect_err("invalid");
    assert!(
        matches!(error, Error::TokenLifetime { seconds: 0 }),
        "{error}"
    );
    let answer = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

/// `config()` that lets each client get one token a minute.
fn one_token_a_minute() -> Config {
    let mut config = config();
    config.rate_limit = Some(RateLimit {
        requests: 1,
        window_seconds: 60,
    });
    config
}

#[tokio::test]
async fn throttle_windows_survive_a_change_and_go_with_reset_runtime() {
    let entra = service(one_token_a_minute()).expect("valid config");
    let first = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);

    let mut renamed = one_token_a_minute();
    renamed.tenants[0].display_name = "Contoso Ltd".into();
    entra.replace_config(renamed).expect("valid config");
    let second = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(
        second.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        second.text
    );

    entra.reset_runtime();
    let third = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.text);
}

#[tokio::test]
async fn reset_brings_back_the_config_the_fake_was_built_with() {
    let entra = entra();
    entra
        .replace_config(importer_disabled())
        .expect("valid config");
    entra.reset();
    let answer = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn forced_error_counters_restart_only_when_the_forced_errors_change() {
    let forced_once = || {
        let mut config = config();
        config.forced_errors = vec![ForcedError {
            error: "throttled".into(),
            client_id: None,
            tenant: None,
            nth: None,
            times: Some(1),
        }];
        config
    };
    let entra = service(forced_once()).expect("valid config");
    let fired = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(fired.status, StatusCode::TOO_MANY_REQUESTS);

    let mut renamed = forced_once();
    renamed.tenants[0].display_name = "Contoso Ltd".into();
    entra.replace_config(renamed).expect("valid config");
    let spent = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(spent.status, StatusCode::OK, "the one firing was spent");

    let mut twice = forced_once();
    twice.forced_errors[0].times = Some(2);
    entra.replace_config(twice).expect("valid config");
    let again = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(
        again.status,
        StatusCode::TOO_MANY_REQUESTS,
        "new list, new count"
    );
}
