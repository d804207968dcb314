//! The live world over HTTPS: changes reach the fakes (Dataverse's privilege error after
//! `remove_role`, AADSTS7000112 after `disable_app`, AADSTS7000222 after `expire_secret`, a
//! token still issued after `revoke_consent`), a failing batch changes nothing, and `reset`
//! gives back the world, faults, clock and journal as loaded; `load` serves another world
//! (other hosts) on the same listener, and `reset` then goes back to it.

use fake_core::{Clock, FaultAction, FaultRule, IdGenerator, ServerHandle};
use time::Duration;

use super::*;
use crate::test_support::repo_root;
use crate::{SEED, START_TIME};

const TOKEN_URL: &str =
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token";
const ACCOUNTS_URL: &str = "https://contoso.crm.dynamics.com/api/data/v9.2/accounts?$top=1";
const CLIENT_ID: &str = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01";
const SECRET: &str = "Qm28Q~demo.importer.secret.current.0001";

/// The demo world live on a manual clock at [`START_TIME`], with `faults` besides its own.
async fn live(faults: &[FaultRule]) -> (ServerHandle, LiveWorld, reqwest::Client) {
    let world = World::load(repo_root().join("fixtures/worlds/demo.toml")).expect("demo world");
    let (server, live) = spawn_live(
        &world,
        Clock::manual(START_TIME),
        IdGenerator::seeded(SEED),
        faults,
    )
    .await
    .expect("the fakes start");
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]).no_proxy();
    for host in [
        "login.microsoftonline.com",
        "contoso.crm.dynamics.com",
        "contoso.api.crm.dynamics.com",
    ] {
        builder = builder.resolve(host, server.addr());
    }
    (server, live, builder.build().expect("client"))
}

/// The token endpoint's status and body for the importer with `secret`.
async fn token(client: &reqwest::Client, secret: &str) -> (u16, String) {
    let response = client
        .post(TOKEN_URL)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
            ("scope", "https://contoso.crm.dynamics.com/.default"),
        ])
        .send()
        .await
        .expect("token request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("token body"))
}

/// An access token for the importer (the token request must succeed).
async fn access_token(client: &reqwest::Client) -> String {
    let (status, body) = token(client, SECRET).await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// Dataverse's status and body for reading one account with a fresh token.
async fn read_accounts(client: &reqwest::Client) -> (u16, String) {
    let token = access_token(client).await;
    let response = client
        .get(ACCOUNTS_URL)
        .bearer_auth(token)
        .send()
        .await
        .expect("accounts request");
    let status = response.status().as_u16();
    (status, response.text().await.expect("accounts body"))
}

fn remove_importer_role() -> Change {
    Change::RemoveRole {
        environment: "contoso".into(),
        app: Some("importer".into()),
        team: None,
        role: "Importer Reader".into(),
    }
}

#[tokio::test]
async fn remove_role_makes_dataverse_answer_the_privilege_error_until_reset() {
    let (_server, live, client) = live(&[]).await;
    let loaded = live.world_toml();
    assert_eq!(read_accounts(&client).await.0, 200);

    let applied = live.apply(&[remove_importer_role()]).expect("applies");
    assert!(applied.world_changed);
    assert!(!applied.faults_changed);
    let (status, body) = read_accounts(&client).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("\"code\":\"0x80040220\""), "{body}");
    assert!(body.contains("prvReadAccount"), "{body}");
    assert_ne!(live.world_toml(), loaded);

    live.apply(&[Change::AssignRole {
        environment: "contoso".into(),
        app: Some("importer".into()),
        team: None,
        role: "Importer Reader".into(),
    }])
    .expect("re-assigns");
    assert_eq!(read_accounts(&client).await.0, 200);
    // The role went back to the only place it can be, so the document is the loaded one.
    assert_eq!(live.world_toml(), loaded);

    live.apply(&[remove_importer_role()]).expect("applies");
    live.reset();
    assert_eq!(live.world_toml(), loaded);
    assert!(live.journal().is_empty());
    assert_eq!(read_accounts(&client).await.0, 200);
}

#[tokio::test]
async fn disable_app_makes_entra_refuse_with_aadsts7000112() {
    let (_server, live, client) = live(&[]).await;
    live.apply(&[Change::DisableApp {
        app: "importer".into(),
    }])
    .expect("applies");
    let (status, body) = token(&client, SECRET).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("AADSTS7000112"), "{body}");
    live.apply(&[Change::EnableApp {
        app: "importer".into(),
    }])
    .expect("applies");
    assert_eq!(token(&client, SECRET).await.0, 200);
}

#[tokio::test]
async fn expire_secret_on_the_worlds_clock_makes_entra_answer_aadsts7000222() {
    let (_server, live, client) = live(&[]).await;
    let applied = live
        .apply(&[
            Change::AdvanceClock {
                seconds: None,
                duration: Some("1h".into()),
                until: None,
            },
            Change::ExpireSecret {
                app: "importer".into(),
                secret: "current".into(),
                at: None,
            },
        ])
        .expect("applies");
    assert_eq!(applied.now, START_TIME + Duration::HOUR);
    assert_eq!(live.clock().now(), START_TIME + Duration::HOUR);
    let (status, body) = token(&client, SECRET).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("AADSTS7000222"), "{body}");

    live.reset();
    assert_eq!(live.clock().now(), START_TIME);
    assert_eq!(token(&client, SECRET).await.0, 200);
}

#[tokio::test]
async fn revoke_consent_still_issues_app_only_tokens() {
    let (_server, live, client) = live(&[]).await;
    live.apply(&[Change::RevokeConsent {
        app: "importer".into(),
        api: "Dynamics CRM".into(),
        scope: "user_impersonation".into(),
    }])
    .expect("applies");
    assert!(!live.world().app("importer").expect("app").permissions[0].admin_consent);
    assert_eq!(read_accounts(&client).await.0, 200);
}

#[tokio::test]
async fn a_generated_secret_gets_tokens() {
    let (_server, live, client) = live(&[]).await;
    live.apply(&[Change::AddSecret {
        app: "importer".into(),
        secret: "rotated".into(),
        value: None,
        expires: None,
    }])
    .expect("applies");
    let world = live.world();
    let secret = world
        .app("importer")
        .expect("app")
        .secrets
        .iter()
        .find(|secret| secret.name == "rotated")
        .expect("added")
        .clone();
    let (status, body) = token(&client, secret.value.expose()).await;
    assert_eq!(status, 200, "{body}");
    assert!(live.world_toml().contains(secret.value.expose()));
}

#[tokio::test]
async fn a_failing_batch_leaves_the_fakes_and_the_world_as_they_were() {
    let (_server, live, client) = live(&[]).await;
    let loaded = live.world_toml();
    let error = live
        .apply(&[
            remove_importer_role(),
            Change::AdvanceClock {
                seconds: Some(60),
                duration: None,
                until: None,
            },
            Change::DisableApp {
                app: "imprter".into(),
            },
        ])
        .expect_err("the third change fails");
    assert_eq!(
        error.to_string(),
        "changes[2] (`disable_app`) `app`: unknown app `imprter`; did you mean `importer`? known: `importer`"
    );
    assert_eq!(live.world_toml(), loaded);
    assert_eq!(live.clock().now(), START_TIME);
    assert_eq!(read_accounts(&client).await.0, 200);
}

#[tokio::test]
async fn faults_change_live_and_reset_brings_back_the_loaded_ones() {
    let unavailable = FaultRule::new(FaultAction::Respond {
        status: 503,
        headers: Default::default(),
        body: String::new(),
    });
    let (_server, live, client) = live(std::slice::from_ref(&unavailable)).await;
    assert_eq!(token(&client, SECRET).await.0, 503);

    let applied = live.apply(&[Change::ClearFaults {}]).expect("applies");
    assert!(applied.faults_changed);
    assert!(live.faults().rules().is_empty());
    assert_eq!(token(&client, SECRET).await.0, 200);

    let mut teapot = FaultRule::new(FaultAction::Respond {
        status: 418,
        headers: Default::default(),
        body: String::new(),
    });
    teapot.service = Some("dataverse".into());
    live.apply(&[Change::AddFault { fault: teapot }])
        .expect("applies");
    assert_eq!(read_accounts(&client).await.0, 418);
    assert!(live.world_toml().contains("[[faults]]"));

    live.reset();
    assert_eq!(live.faults().rules(), [unavailable]);
    assert_eq!(token(&client, SECRET).await.0, 503);
}

#[tokio::test]
async fn remove_service_principal_makes_entra_answer_aadsts700016_in_that_tenant() {
    let world = crate::change::tests::world();
    let (server, live) = spawn_live(
        &world,
        Clock::manual(START_TIME),
        IdGenerator::seeded(SEED),
        &[],
    )
    .await
    .expect("the fakes start");
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .resolve("login.microsoftonline.com", server.addr())
        .build()
        .expect("client");
    let fabrikam_token = || async {
        let response = client
            .post("https://login.microsoftonline.com/fabrikam.onmicrosoft.com/oauth2/v2.0/token")
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", "Qm28Q~test.importer.secret.current.01"),
                ("scope", "https://fabrikam.crm.dynamics.com/.default"),
            ])
            .send()
            .await
            .expect("token request");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    };
    assert_eq!(fabrikam_token().await.0, 200);
    live.apply(&[Change::RemoveServicePrincipal {
        app: "importer".into(),
        tenant: "fabrikam".into(),
    }])
    .expect("applies");
    let (status, body) = fabrikam_token().await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("AADSTS700016"), "{body}");
    live.reset();
    assert_eq!(fabrikam_token().await.0, 200);
}

/// Limits `contoso` to one request per 300-second window: the second read is throttled.
fn one_request_per_window() -> Change {
    Change::SetLimits {
        environment: "contoso".into(),
        requests: Some(1),
        window_seconds: Some(300),
        execution_milliseconds: None,
        execution_milliseconds_per_request: None,
        concurrent: None,
    }
}

#[tokio::test]
async fn set_limits_throttles_and_reset_forgets_the_window() {
    let (_server, live, client) = live(&[]).await;
    live.apply(&[one_request_per_window()]).expect("applies");
    assert_eq!(read_accounts(&client).await.0, 200);
    let (status, body) = read_accounts(&client).await;
    assert_eq!(status, 429, "{body}");
    live.reset();
    assert_eq!(read_accounts(&client).await.0, 200);
}

/// What the importer gets after one change to the demo world, then after `reset`.
#[tokio::test]
async fn each_change_reaches_the_fake_it_is_about_and_reset_undoes_it() {
    let (_server, live, client) = live(&[]).await;
    let contoso = || "contoso".to_owned();
    let importer = || "importer".to_owned();
    // (change, request that shows it, status, phrase of the body)
    let cases: Vec<(Change, bool, u16, &str)> = vec![
        (
            Change::RemoveSecret {
                app: importer(),
                secret: "current".into(),
            },
            false,
            // The only secret left has expired, and Entra ID says so first.
            401,
            "AADSTS7000222",
        ),
        (
            Change::DisableDynamics { tenant: contoso() },
            false,
            400,
            "AADSTS500014",
        ),
        (
            Change::DisableApplicationUser {
                environment: contoso(),
                app: importer(),
            },
            true,
            403,
            "0x80040225",
        ),
        (
            Change::RemoveApplicationUser {
                environment: contoso(),
                app: importer(),
            },
            true,
            403,
            "0x80072560",
        ),
        (
            Change::AdminMode {
                environment: contoso(),
                on: true,
            },
            true,
            403,
            "0x8004a113",
        ),
        (
            Change::SetPrivilege {
                environment: contoso(),
                role: "Importer Reader".into(),
                privilege: "prvReadAccount".into(),
                depth: "None".into(),
            },
            true,
            403,
            "prvReadAccount",
        ),
    ];
    for (change, dataverse, status, phrase) in cases {
        let kind = change.kind();
        live.apply(&[change]).expect("applies");
        let (got, body) = if dataverse {
            read_accounts(&client).await
        } else {
            token(&client, SECRET).await
        };
        assert_eq!(got, status, "{kind}: {body}");
        assert!(
            body.to_ascii_lowercase()
                .contains(&phrase.to_ascii_lowercase()),
            "{kind}: {body}"
        );
        live.reset();
        assert_eq!(read_accounts(&client).await.0, 200, "{kind} after reset");
    }
}

#[test]
fn a_live_world_is_shared_between_threads() {
    fn shared<T: Send + Sync + Clone + 'static>() {}
    shared::<LiveWorld>();
}

#[tokio::test]
async fn spawn_live_with_configures_the_listener() {
    let world = World::load(repo_root().join("fixtures/worlds/demo.toml")).expect("demo world");
    let (server, live) = spawn_live_with(
        &world,
        Clock::manual(START_TIME),
        IdGenerator::seeded(SEED),
        &[],
        |config| config.journal_capacity = 1,
    )
    .await
    .expect("the fakes start");
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .resolve("login.microsoftonline.com", server.addr())
        .build()
        .expect("client");
    assert_eq!(token(&client, SECRET).await.0, 200);
    assert_eq!(token(&client, SECRET).await.0, 200);
    assert_eq!(live.journal().len(), 1);
}

/// Clients reading while another task removes and gives back the role: every answer is the
/// success or the exact privilege error, never anything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_see_the_world_before_or_after_each_change() {
    let (_server, live, client) = live(&[]).await;
    let token = access_token(&client).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (client, token, stop) = (client.clone(), token.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut seen = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let response = client
                    .get(ACCOUNTS_URL)
                    .bearer_auth(&token)
                    .send()
                    .await
                    .expect("accounts request");
                let status = response.status().as_u16();
                let body = response.text().await.expect("body");
                match status {
                    200 => seen.0 += 1,
                    403 => {
                        assert!(body.contains("\"code\":\"0x80040220\""), "{body}");
                        seen.1 += 1;
                    }
                    other => panic!("{other}: {body}"),
                }
            }
            seen
        }));
    }
    let give_back = Change::AssignRole {
        environment: "contoso".into(),
        app: Some("importer".into()),
        team: None,
        role: "Importer Reader".into(),
    };
    let loaded = live.world_toml();
    for _ in 0..50 {
        let writer = live.clone();
        let give_back = give_back.clone();
        tokio::task::spawn_blocking(move || {
            writer.apply(&[remove_importer_role()]).expect("removes");
            writer.apply(&[give_back]).expect("gives back");
        })
        .await
        .expect("writer");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for reader in readers {
        let (ok, denied) = reader.await.expect("reader");
        total += ok + denied;
    }
    assert!(total > 0);
    assert_eq!(live.world_toml(), loaded);
}

#[test]
fn a_change_rebuilds_only_the_fakes_whose_part_of_the_world_it_edits() {
    let world = World::load(repo_root().join("fixtures/worlds/demo.toml")).expect("demo world");
    let loaded = WorldDocument::of(&world).expect("document");
    let edited = |section: &str| {
        let mut document = loaded.clone();
        document
            .table_mut()
            .insert(section.into(), toml::Value::Table(toml::Table::new()));
        Touched::between(&loaded, &document)
    };
    let only = |entra, dataverse| Touched { entra, dataverse };
    assert_eq!(Touched::between(&loaded, &loaded), only(false, false));
    assert_eq!(
        edited("environments"),
        only(false, true),
        "a role or privilege"
    );
    assert_eq!(edited("dataverse"), only(false, true));
    assert_eq!(edited("apps"), only(true, true), "Dataverse reads app ids");
    assert_eq!(edited("tenants"), only(true, true));
    assert_eq!(edited("faults"), only(false, false), "the listener's");
}

const MISTAKES_SECRET: &str = "Qm28Q~mistakes.importer.secret.current.0001";

/// The Add Source form for the importer in `environment` of Contoso with `secret`.
fn form(environment: &str, secret: &str) -> d365_source::SourceForm {
    d365_source::SourceForm {
        name: format!("{environment} source"),
        environment_url: format!("https://{environment}.crm.dynamics.com"),
        tenant_id: "contoso.onmicrosoft.com".into(),
        client_id: CLIENT_ID.into(),
        client_secret: secret.to_owned().into(),
    }
}

/// A flow on `live`'s clock with the given network settings.
fn flow(live: &LiveWorld, network: &d365_source::NetworkSettings) -> d365_source::Flow {
    let timer = std::sync::Arc::new(crate::ManualTimer::new(live.clock().clone()));
    d365_source::Flow::new(network, timer, d365_source::FlowOptions::default()).expect("flow")
}

/// The problem an Add Source run found (panics when it passed or the form was invalid).
async fn problem(
    flow: &d365_source::Flow,
    form: &d365_source::SourceForm,
    store: &d365_source::Store,
) -> d365_source::ProblemKind {
    match flow.add(form, store).await.expect("the flow runs") {
        d365_source::AddOutcome::Failed { problem, .. } => problem.kind,
        other => panic!("expected a problem: {other:?}"),
    }
}

fn setup_mistakes() -> World {
    World::load(repo_root().join("fixtures/worlds/setup-mistakes.toml")).expect("world")
}

#[tokio::test]
async fn load_serves_another_world_with_its_hosts_and_a_new_flow_adds_its_source() {
    let (server, live, client) = live(&[]).await;
    let old_flow = flow(&live, &live.network_settings());
    let store_dir = tempfile::tempdir().expect("temp dir");
    let store = d365_source::Store::open(store_dir.path().join("sources"));
    let mistakes = setup_mistakes();

    let loaded = live.load(&mistakes, &[]).expect("loads");
    assert!(loaded.hosts_changed);
    assert_eq!(loaded.world, mistakes.path());
    assert_eq!(loaded.now, START_TIME, "the clock stays");
    for host in [
        "login.microsoftonline.com",
        "contoso.crm.dynamics.com",
        "contoso-noroles.crm.dynamics.com",
        "litware.crm4.dynamics.com",
    ] {
        assert!(loaded.hosts.iter().any(|served| served == host), "{host}");
    }
    assert_eq!(live.hosts(), server.hosts(), "the server handle follows");
    assert_eq!(
        live.world_toml(),
        WorldDocument::of(&mistakes).expect("doc").to_toml()
    );
    // The demo's secret is not the new world's.
    assert_eq!(token(&client, SECRET).await.0, 401);

    let new_flow = flow(&live, &live.network_settings());
    match new_flow
        .add(&form("contoso", MISTAKES_SECRET), &store)
        .await
        .expect("the flow runs")
    {
        d365_source::AddOutcome::Added { source, .. } => {
            assert_eq!(source.name, "contoso source");
        }
        other => panic!("the source is added: {other:?}"),
    }
    // A host only the new world has is reached, and its mistake found.
    assert_eq!(
        problem(&new_flow, &form("contoso-noroles", MISTAKES_SECRET), &store).await,
        d365_source::ProblemKind::NoSecurityRole
    );
    // A flow built before the load still resolves only the old hosts.
    assert_eq!(
        problem(&old_flow, &form("contoso-noroles", MISTAKES_SECRET), &store).await,
        d365_source::ProblemKind::EnvironmentNotFound
    );
    // `network_settings(&server)` follows too.
    assert_eq!(
        crate::network_settings(&server).resolve,
        live.network_settings().resolve
    );
}

#[tokio::test]
async fn reset_after_load_goes_back_to_the_loaded_world() {
    let (_server, live, client) = live(&[]).await;
    let mistakes = setup_mistakes();
    live.load(&mistakes, &[]).expect("loads");
    let loaded = live.world_toml();
    live.apply(&[Change::DisableApp {
        app: "importer".into(),
    }])
    .expect("applies");
    assert_eq!(token(&client, MISTAKES_SECRET).await.0, 400);
    live.reset();
    assert_eq!(live.world_toml(), loaded);
    assert_eq!(token(&client, MISTAKES_SECRET).await.0, 200);
    assert_eq!(token(&client, SECRET).await.0, 401, "not the spawned world");
    assert!(
        live.hosts()
            .iter()
            .any(|host| host.to_string() == "contoso-noroles.crm.dynamics.com")
    );
}

#[tokio::test]
async fn load_replaces_the_fault_rules_and_keeps_the_journal() {
    let unavailable = FaultRule::new(FaultAction::Respond {
        status: 503,
        headers: Default::default(),
        body: String::new(),
    });
    let (_server, live, client) = live(std::slice::from_ref(&unavailable)).await;
    assert_eq!(token(&client, SECRET).await.0, 503);
    let journaled = live.journal().len();
    assert_eq!(journaled, 1);

    let mut teapot = FaultRule::new(FaultAction::Respond {
        status: 418,
        headers: Default::default(),
        body: String::new(),
    });
    teapot.path = Some("/contoso.onmicrosoft.com/*".into());
    live.load(&setup_mistakes(), std::slice::from_ref(&teapot))
        .expect("loads");
    let rules = live.faults().rules();
    assert_eq!(rules[0], teapot, "the extra rules first");
    assert_eq!(
        rules.len(),
        1 + setup_mistakes().faults().len(),
        "then the world's own"
    );
    assert_eq!(token(&client, MISTAKES_SECRET).await.0, 418);
    assert_eq!(live.journal().len(), journaled + 1, "the journal stays");
}

#[tokio::test]
async fn load_hooks_see_each_loaded_world_and_its_hosts() {
    let (_server, live, _client) = live(&[]).await;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorder = seen.clone();
    let (addr, ca_pem) = (live.addr(), live.ca_pem().to_owned());
    live.on_load(move |world, hosts| {
        let network = crate::network_settings_for(hosts, addr, &ca_pem);
        recorder
            .lock()
            .expect("not poisoned")
            .push((world.path().to_owned(), network.resolve));
    });
    live.apply(&[Change::DisableApp {
        app: "importer".into(),
    }])
    .expect("applies");
    live.reset();
    assert!(seen.lock().expect("not poisoned").is_empty(), "only loads");
    let mistakes = setup_mistakes();
    live.load(&mistakes, &[]).expect("loads");
    assert_eq!(
        *seen.lock().expect("not poisoned"),
        [(mistakes.path().to_owned(), live.network_settings().resolve)]
    );
}

#[tokio::test]
async fn loading_the_same_world_keeps_the_hosts_and_gives_fresh_fakes() {
    let (_server, live, client) = live(&[]).await;
    live.apply(&[one_request_per_window()]).expect("applies");
    assert_eq!(read_accounts(&client).await.0, 200);
    assert_eq!(read_accounts(&client).await.0, 429);
    let world = World::load(repo_root().join("fixtures/worlds/demo.toml")).expect("demo world");
    let loaded = live.load(&world, &[]).expect("loads");
    assert!(!loaded.hosts_changed);
    assert_eq!(
        read_accounts(&client).await.0,
        200,
        "the limits went with the old fakes"
    );
}
