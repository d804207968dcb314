//! The two fakes together over HTTPS, as an importer meets them: a client-credentials token
//! from the fake Entra ID opens the fake Dataverse; a missing application user, a missing
//! privilege and forced throttling look like Dataverse's own answers.

use std::collections::BTreeMap;

use fake_core::{FaultAction, FaultRule};
use serde_json::{Value, json};

use crate::support;

const ENVIRONMENT: &str = "https://contoso.crm.dynamics.com";

async fn token(client: &reqwest::Client, world: &scenario::World, scope_host: &str) -> String {
    let credentials = world
        .client_credentials(support::start_time())
        .expect("credentials");
    let client_id = credentials.app.client_id.to_string();
    let scope = format!("{scope_host}/.default");
    let body: Value = client
        .post(format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            credentials.tenant.id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", credentials.secret.value.expose()),
            ("scope", scope.as_str()),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("json");
    body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {body}"))
        .to_owned()
}

#[tokio::test]
async fn an_entra_token_opens_dataverse_on_both_host_forms() {
    let (server, world) = support::demo_fakes().await;
    let client = support::client_for_all(&server);
    let credentials = world
        .client_credentials(support::start_time())
        .expect("credentials");
    let environment = world.environment("contoso").expect("the demo environment");
    let user = environment
        .application_user(credentials.app.client_id)
        .expect("the importer's application user");
    for host in [ENVIRONMENT, "https://contoso.api.crm.dynamics.com"] {
        let token = token(&client, &world, host).await;
        let response = client
            .get(format!("{host}/api/data/v9.2/WhoAmI()"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("WhoAmI");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["UserId"], user.id.to_string());
        assert_eq!(
            body["@odata.context"],
            format!("{host}/api/data/v9.2/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse")
        );
    }
}

#[tokio::test]
async fn without_a_token_dataverse_challenges_with_the_tenants_authority() {
    let (server, world) = support::demo_fakes().await;
    let client = support::client_for_all(&server);
    let tenant = &world.tenant("contoso").expect("tenant").id;
    let response = client
        .get(format!("{ENVIRONMENT}/api/data/v9.2/accounts"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()["www-authenticate"],
        format!("Bearer authorization_uri=https://login.microsoftonline.com/{tenant}/oauth2/authorize, resource_id=https://contoso.crm.dynamics.com/").as_str()
    );
    assert_eq!(response.text().await.expect("body"), "");
}

#[tokio::test]
async fn reading_a_table_without_privilege_is_dataverses_0x80040220() {
    let (server, world) = support::demo_fakes().await;
    let client = support::client_for_all(&server);
    let token = token(&client, &world, ENVIRONMENT).await;
    let accounts = client
        .get(format!(
            "{ENVIRONMENT}/api/data/v9.2/accounts?$select=name&$count=true"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(accounts.status(), reqwest::StatusCode::OK);
    let body: Value = accounts.json().await.expect("json");
    assert!(body["@odata.count"].as_u64().expect("count") >= 25);

    let incidents = client
        .get(format!("{ENVIRONMENT}/api/data/v9.2/incidents"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(incidents.status(), reqwest::StatusCode::FORBIDDEN);
    let body: Value = incidents.json().await.expect("json");
    assert_eq!(body["error"]["code"], "0x80040220");
    let message = body["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("is missing prvReadIncident privilege"),
        "{message}"
    );
    assert!(
        message.contains("on OTC=112 for entity 'incident' (LocalizedName='Case')"),
        "{message}"
    );
}

#[tokio::test]
async fn a_fault_rule_replays_dataverse_throttling_before_the_fake_answers() {
    let (server, world) = support::demo_fakes().await;
    server.faults().add(FaultRule {
        name: Some("dataverse throttled".into()),
        service: Some("dataverse".into()),
        host: None,
        method: Some("GET".into()),
        path: Some("/api/data/*/accounts".into()),
        nth: Some(1),
        from: None,
        times: None,
        action: FaultAction::Respond {
            status: 429,
            headers: BTreeMap::from([
                ("Retry-After".into(), "37".into()),
                ("Content-Type".into(), "application/json; odata.metadata=minimal".into()),
            ]),
            body: json!({"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}).to_string(),
        },
    });
    let client = support::client_for_all(&server);
    let token = token(&client, &world, ENVIRONMENT).await;
    let url = format!("{ENVIRONMENT}/api/data/v9.2/accounts");
    let first = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(first.status(), reqwest::StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(first.headers()["retry-after"], "37");
    let second = client
        .get(&url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(second.status(), reqwest::StatusCode::OK);
    let services: Vec<String> = server
        .journal()
        .entries()
        .into_iter()
        .map(|entry| format!("{} {}", entry.service, entry.status))
        .collect();
    assert_eq!(services, ["entra 200", "dataverse 429", "dataverse 200"]);
}

#[tokio::test]
async fn a_world_files_forced_throttle_answers_the_nth_who_am_i_with_its_limits_429() {
    let path = support::demo_world_path();
    let demo = std::fs::read_to_string(&path).expect("the demo world");
    let anchor = "unique_name = \"org0335df44\"\n";
    assert!(demo.contains(anchor), "the demo environment moved");
    let text = demo.replacen(
        anchor,
        &format!(
            "{anchor}forced_throttles = [{{ limit = \"execution_time\", app = \"importer\", \
             nth = 2, retry_after_seconds = 12 }}]\n"
        ),
        1,
    );
    let world = scenario::World::parse(&text, &path).unwrap_or_else(|error| panic!("{error:#}"));
    let (server, world) = support::fakes(world).await;
    let client = support::client_for_all(&server);
    let token = token(&client, &world, ENVIRONMENT).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        let response = client
            .get(format!("{ENVIRONMENT}/api/data/v9.2/WhoAmI"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("WhoAmI");
        let retry_after = response
            .headers()
            .get("retry-after")
            .map(|value| value.to_str().expect("ASCII").to_owned());
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("json");
        answers.push((status, retry_after, body["error"]["code"].clone()));
    }
    assert_eq!(
        answers,
        [
            (200, None, Value::Null),
            (429, Some("12".to_owned()), json!("0x80072321")),
            (200, None, Value::Null),
        ],
        "only the second WhoAmI, with the execution-time limit's code"
    );
}

#[tokio::test]
async fn the_journal_never_holds_a_bearer_token() {
    let (server, world) = support::demo_fakes().await;
    let client = support::client_for_all(&server);
    let token = token(&client, &world, ENVIRONMENT).await;
    client
        .get(format!("{ENVIRONMENT}/api/data/v9.2/WhoAmI"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    let journal = serde_json::to_string(&server.journal().entries()).expect("serializable");
    let signature = token.rsplit('.').next().expect("signature");
    assert!(
        !journal.contains(signature),
        "the token leaked into the journal"
    );
    assert!(journal.contains("Bearer [redacted]"));
}
