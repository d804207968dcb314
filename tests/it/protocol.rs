//! The fake Entra ID over real HTTPS, on its real host name, driven like a client library: OIDC
//! discovery, then the token endpoint the document names, then the JWKS to validate the token.

use std::collections::BTreeMap;

use fake_core::{FaultAction, FaultRule};
use serde_json::Value;

use crate::support;

const DATAVERSE: &str = "https://contoso.crm.dynamics.com";

async fn discover_and_get_token(
    client: &reqwest::Client,
    tenant: &str,
    form: &[(&str, &str)],
) -> (reqwest::StatusCode, Value) {
    let document: Value = client
        .get(format!(
            "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
        ))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    let token_endpoint = document["token_endpoint"].as_str().expect("token_endpoint");
    let response = client
        .post(token_endpoint)
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = response.status();
    (status, response.json().await.expect("json"))
}

#[tokio::test]
async fn a_client_discovers_gets_and_validates_a_token_over_h2_and_h1() {
    let (server, world) = support::demo_entra().await;
    let credentials = world
        .client_credentials(support::start_time())
        .expect("credentials");
    let client_id = credentials.app.client_id.to_string();
    let tenant_id = credentials.tenant.id.to_string();
    let scope = format!("{DATAVERSE}/.default");
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", credentials.secret.value.expose()),
        ("scope", scope.as_str()),
    ];
    for http1 in [false, true] {
        let client = support::client(&server, http1);
        // Asked by domain: the document names the GUID, and so does the token.
        let (status, body) =
            discover_and_get_token(&client, "contoso.onmicrosoft.com", &form).await;
        assert_eq!(status, reqwest::StatusCode::OK, "{body}");
        let token = body["access_token"].as_str().expect("token");

        let jwks: jsonwebtoken::jwk::JwkSet = client
            .get(format!(
                "https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys"
            ))
            .send()
            .await
            .expect("keys")
            .json()
            .await
            .expect("a JWKS");
        let header = jsonwebtoken::decode_header(token).expect("header");
        let jwk = jwks
            .find(header.kid.as_deref().expect("kid"))
            .expect("published kid");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("RSA key");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_audience(&[DATAVERSE]);
        validation.set_issuer(&[format!("https://sts.windows.net/{tenant_id}/")]);
        validation.validate_exp = false; // the manual clock is in 2026-03, not now
        let claims = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .expect("the token validates against the published JWKS")
            .claims;
        assert_eq!(claims["tid"], tenant_id);
        assert_eq!(claims["appid"], client_id);
        assert_eq!(claims["exp"], support::start_time().unix_timestamp() + 3600);
    }
}

#[tokio::test]
async fn the_journal_keeps_the_exchange_but_never_a_secret_or_token() {
    let (server, world) = support::demo_entra().await;
    let client = support::client(&server, false);
    let credentials = world
        .client_credentials(support::start_time())
        .expect("credentials");
    let secret = credentials.secret.value.expose().to_owned();
    let client_id = credentials.app.client_id.to_string();
    let tenant = credentials.tenant.id.to_string();
    let url = format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token");
    let scope = format!("{DATAVERSE}/.default");
    let good: Value = client
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret),
            ("scope", &scope),
        ])
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let token = good["access_token"].as_str().expect("token").to_owned();
    let wrong = format!("{secret}-but-wrong");
    client
        .post(&url)
        .basic_auth(&client_id, Some(&wrong))
        .form(&[("grant_type", "client_credentials"), ("scope", &scope)])
        .send()
        .await
        .expect("request");

    let journal = serde_json::to_string(&server.journal().entries()).expect("serializable");
    for secret_text in [secret.as_str(), wrong.as_str(), token.as_str()] {
        assert!(
            !journal.contains(secret_text),
            "journal leaks `{secret_text}`"
        );
    }
    // Parts of the token (its signature) must not leak either.
    let signature = token.rsplit('.').next().expect("signature");
    assert!(!journal.contains(signature));
    let entries = server.journal().entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].status, 200);
    assert_eq!(entries[1].status, 401);
    assert_eq!(
        entries[1].request_headers["authorization"],
        "Basic [redacted]"
    );
}

#[tokio::test]
async fn a_wrong_secret_transcript() {
    let (server, world) = support::demo_entra().await;
    let client = support::client(&server, false);
    let credentials = world
        .client_credentials(support::start_time())
        .expect("credentials");
    let client_id = credentials.app.client_id.to_string();
    let tenant = credentials.tenant.id.to_string();
    let secret_id = credentials
        .secret
        .id
        .map(|id| id.to_string())
        .expect("the demo secret has an id");
    // The most common mistake: the secret's ID pasted instead of its value.
    client
        .post(format!(
            "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
        ))
        .header("client-request-id", "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d")
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
            ("client_secret", &secret_id),
            ("scope", "https://contoso.crm.dynamics.com/.default"),
        ])
        .send()
        .await
        .expect("request");
    insta::assert_yaml_snapshot!("wrong_secret_transcript", server.journal().entries());
}

#[tokio::test]
async fn core_fault_rules_apply_before_the_fake_and_then_let_it_answer() {
    let (server, world) = support::demo_entra().await;
    server.faults().add(FaultRule {
        name: Some("ests outage".into()),
        service: Some("entra".into()),
        host: None,
        method: Some("POST".into()),
        path: Some("*/oauth2/v2.0/token".into()),
        nth: Some(1),
        from: None,
        times: None,
        action: FaultAction::Respond {
            status: 503,
            headers: BTreeMap::from([("Retry-After".into(), "2".into())]),
            body: String::new(),
        },
    });
    let client = support::client(&server, false);
    let credentials = world
        .client_credentials(support::start_time())
        .expect("credentials");
    let client_id = credentials.app.client_id.to_string();
    let url = format!(
        "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
        credentials.tenant.id
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("client_secret", credentials.secret.value.expose()),
        ("scope", "https://contoso.crm.dynamics.com/.default"),
    ];
    let first = client.post(&url).form(&form).send().await.expect("request");
    assert_eq!(first.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.headers()["retry-after"], "2");
    let second = client.post(&url).form(&form).send().await.expect("request");
    assert_eq!(second.status(), reqwest::StatusCode::OK);
    let faults: Vec<Option<String>> = server
        .journal()
        .entries()
        .into_iter()
        .map(|entry| entry.fault)
        .collect();
    assert_eq!(faults, vec![Some("ests outage".to_owned()), None]);
}
