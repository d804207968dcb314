//! What `serve` writes and prints, without a server: `connection.env`, the host map and the
//! instructions. And, with one in process: that `serve`'s listener applies a world's
//! `[[faults]]` and `[entra]` knobs, and that its fake Dataverse accepts its fake Entra ID's
//! tokens.

use super::*;

fn connection() -> Connection {
    Connection {
        authority_host: "login.microsoftonline.com".to_owned(),
        tenant_id: Uuid::from_u128(0x6f1f3b7e_2b51_4f0e_9d5e_0c8c3a7d1a10),
        client_id: Uuid::from_u128(0x3c2f9a51_7d0b_4e1a_8f5e_2a9b6c4d8e01),
        client_secret: "demo~secret".to_owned(),
        environment_url: Some("https://contoso.crm.dynamics.com".to_owned()),
        ca_file: PathBuf::from("/state/ca.pem"),
        host_map: vec![
            (
                "login.microsoftonline.com".to_owned(),
                SocketAddr::from(([127, 0, 0, 1], 8443)),
            ),
            (
                "login.windows.net".to_owned(),
                SocketAddr::from(([127, 0, 0, 1], 8443)),
            ),
        ],
        proxy: None,
        admin: SocketAddr::from(([127, 0, 0, 1], 8444)),
    }
}

#[track_caller]
fn check_host_map(hosts: &[&str], addr: &str, expected: &[(&str, &str)]) {
    let hosts: Vec<HostPattern> = hosts
        .iter()
        .map(|host| HostPattern::parse(host).expect("valid pattern"))
        .collect();
    let addr: SocketAddr = addr.parse().expect("valid address");
    let actual: Vec<(String, String)> = host_map(&hosts, addr)
        .into_iter()
        .map(|(host, target)| (host, target.to_string()))
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(host, target)| ((*host).to_owned(), (*target).to_owned()))
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn host_map_lists_exact_hosts_at_a_connectable_address() {
    check_host_map(
        &["login.microsoftonline.com"],
        "127.0.0.1:8443",
        &[("login.microsoftonline.com", "127.0.0.1:8443")],
    );
    check_host_map(
        &[
            "login.microsoftonline.com",
            "*.crm.dynamics.com",
            "login.windows.net",
        ],
        "0.0.0.0:9000",
        &[
            ("login.microsoftonline.com", "127.0.0.1:9000"),
            ("login.windows.net", "127.0.0.1:9000"),
        ],
    );
    check_host_map(&["a.example"], "[::]:1", &[("a.example", "[::1]:1")]);
    check_host_map(&["*.crm.dynamics.com"], "127.0.0.1:1", &[]);
}

#[test]
fn connection_env_has_the_documented_keys_in_order() {
    assert_eq!(
        connection().env(),
        "D365_AUTHORITY_HOST=https://login.microsoftonline.com\n\
         D365_TENANT_ID=6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10\n\
         D365_CLIENT_ID=3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01\n\
         D365_CLIENT_SECRET=demo~secret\n\
         D365_ENVIRONMENT_URL=https://contoso.crm.dynamics.com\n\
         D365_CA_FILE=/state/ca.pem\n\
         D365_HOST_MAP=login.microsoftonline.com=127.0.0.1:8443,login.windows.net=127.0.0.1:8443\n\
         D365_ADMIN_URL=http://127.0.0.1:8444\n"
    );
    let without_environment = Connection {
        environment_url: None,
        ..connection()
    };
    assert!(
        !without_environment.env().contains("D365_ENVIRONMENT_URL"),
        "a world without an environment for the tenant has no environment URL"
    );
    assert!(
        !connection().env().contains("HTTPS_PROXY"),
        "no proxy line without --proxy-listen"
    );
}

#[test]
fn connection_env_has_https_proxy_before_the_admin_url_when_the_proxy_runs() {
    let with_proxy = Connection {
        proxy: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
        ..connection()
    };
    let env = with_proxy.env();
    let admin_line = "D365_ADMIN_URL=http://127.0.0.1:8444\n";
    let without_admin = connection().env();
    let without_admin = without_admin
        .strip_suffix(admin_line)
        .expect("the admin URL comes last");
    assert_eq!(
        env.strip_prefix(without_admin),
        Some(&*format!("HTTPS_PROXY=http://127.0.0.1:8080\n{admin_line}")),
        "{env}"
    );
    let text = with_proxy.instructions(
        Path::new("fixtures/worlds/demo.toml"),
        SocketAddr::from(([127, 0, 0, 1], 8443)),
        Path::new("/state/connection.env"),
    );
    assert!(
        text.contains(
            "curl --proxy http://127.0.0.1:8080 --cacert /state/ca.pem \
             https://login.microsoftonline.com/_harness/health"
        ),
        "{text}"
    );
}

#[test]
fn instructions_show_the_env_and_how_to_use_it() {
    let text = connection().instructions(
        Path::new("fixtures/worlds/demo.toml"),
        SocketAddr::from(([127, 0, 0, 1], 8443)),
        Path::new("/state/connection.env"),
    );
    assert!(text.contains(&connection().env()), "{text}");
    for expected in [
        "serving world `fixtures/worlds/demo.toml` on https://127.0.0.1:8443",
        "REQUESTS_CA_BUNDLE=/state/ca.pem",
        "NODE_EXTRA_CA_CERTS=/state/ca.pem",
        "curl --cacert /state/ca.pem --connect-to login.microsoftonline.com:443:127.0.0.1:8443 \
         https://login.microsoftonline.com/_harness/health",
        "Written to /state/connection.env",
        "The Dataverse Web API is at https://contoso.crm.dynamics.com/api/data/v9.2/ \
         (token scope https://contoso.crm.dynamics.com/.default).",
        "Change the world live through the admin API at http://127.0.0.1:8444",
        "Press Ctrl-C to stop.",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
}

/// `serve`'s listener for `fixtures/worlds/failures.toml`, in process: token calls are served
/// until the third, which gets the world's `[[faults]]` 503; the alias host answers; the
/// unconsented app gets its forced AADSTS65001 and the Northwind tenant its disabled Dynamics
/// principal (AADSTS500014).
#[tokio::test]
async fn serve_applies_the_worlds_faults_and_entra_knobs() -> anyhow::Result<()> {
    let world_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/failures.toml");
    let world = World::load(&world_path)?;
    let clock = Clock::system();
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let (handle, _live) = spawn_world(&world, listen, None, &[], clock.clone()).await?;
    let ca = reqwest::Certificate::from_pem(handle.ca_pem().as_bytes())?;
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .resolve("login.microsoftonline.com", handle.addr())
        .resolve("login.windows.net", handle.addr())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()?;
    let importer = world.client_credentials(clock.now())?;
    let unconsented = world.app("unconsented").context("unconsented app")?;
    let unconsented_secret = unconsented
        .live_secret(clock.now())
        .context("unconsented secret")?;
    let contoso = importer.tenant.id;
    let northwind = world.tenant("northwind").context("northwind")?.id;
    let token = |host: &'static str, tenant: Uuid, app: &scenario::App, secret: &str| {
        client
            .post(format!("https://{host}/{tenant}/oauth2/v2.0/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &app.client_id.to_string()),
                ("client_secret", secret),
                ("scope", "https://contoso.crm.dynamics.com/.default"),
            ])
            .send()
    };
    let importer_secret = importer.secret.value.expose();
    let login = "login.microsoftonline.com";

    let first = token(login, contoso, importer.app, importer_secret).await?;
    assert_eq!(first.status(), 200, "{}", first.text().await?);
    let second = token("login.windows.net", contoso, importer.app, importer_secret).await?;
    assert_eq!(
        second.status(),
        200,
        "the alias answers: {}",
        second.text().await?
    );

    let third = token(login, contoso, importer.app, importer_secret).await?;
    assert_eq!(third.status(), 503);
    assert_eq!(
        third
            .headers()
            .get("retry-after")
            .map(|value| value.as_bytes()),
        Some(&b"5"[..])
    );
    let fault = handle
        .journal()
        .entries()
        .into_iter()
        .find_map(|entry| entry.fault.map(|fault| (entry.status, fault)));
    assert_eq!(
        fault,
        Some((503, "token endpoint unavailable once".to_owned())),
        "the journal names the rule"
    );

    let forced = token(
        login,
        contoso,
        unconsented,
        unconsented_secret.value.expose(),
    )
    .await?;
    assert_eq!(forced.status(), 400);
    let body = forced.text().await?;
    assert!(body.contains("\"error_codes\":[65001]"), "{body}");

    let disabled = token(login, northwind, importer.app, importer_secret).await?;
    assert_eq!(disabled.status(), 400);
    let body = disabled.text().await?;
    assert!(body.contains("\"error_codes\":[500014]"), "{body}");

    handle.shutdown().await;
    Ok(())
}

/// `serve`'s listener for the demo world, in process: the fake Dataverse answers on the
/// environment's hosts beside the fake Entra ID, challenges a request without a token, and
/// accepts a token the fake Entra ID issued for the environment (client credentials with the
/// demo secret), answering `WhoAmI` with the importer's application user.
#[tokio::test]
async fn serve_answers_dataverse_with_tokens_from_its_own_entra() -> anyhow::Result<()> {
    let world_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/demo.toml");
    let world = World::load(&world_path)?;
    let clock = Clock::system();
    let listen = SocketAddr::from(([127, 0, 0, 1], 0));
    let (handle, _live) = spawn_world(&world, listen, None, &[], clock.clone()).await?;
    let hosts: Vec<(String, SocketAddr)> = host_map(&handle.hosts(), handle.addr());
    let served: Vec<&str> = hosts.iter().map(|(host, _)| host.as_str()).collect();
    assert_eq!(
        served,
        [
            "login.microsoftonline.com",
            "contoso.api.crm.dynamics.com",
            "contoso.crm.dynamics.com",
        ],
        "D365_HOST_MAP names the environment's hosts"
    );
    let ca = reqwest::Certificate::from_pem(handle.ca_pem().as_bytes())?;
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30));
    for (host, addr) in &hosts {
        builder = builder.resolve(host, *addr);
    }
    let client = builder.build()?;

    let credentials = world.client_credentials(clock.now())?;
    let environment = world
        .first_environment_of(&credentials.tenant.key)
        .context("the demo world's environment")?;
    assert_eq!(environment.url, "https://contoso.crm.dynamics.com");
    let user = environment
        .application_user(credentials.app.client_id)
        .context("the importer's application user")?;
    let who_am_i = format!("{}/api/data/v9.2/WhoAmI", environment.url);

    for url in [
        format!("{}/_harness/health", environment.url),
        format!("https://{}/_harness/health", environment.api_host()),
    ] {
        let health = client.get(&url).send().await?;
        assert_eq!(health.status(), 200, "{url}");
    }

    let anonymous = client.get(&who_am_i).send().await?;
    assert_eq!(anonymous.status(), 401);
    let challenge = anonymous
        .headers()
        .get("www-authenticate")
        .context("a WWW-Authenticate challenge")?
        .to_str()?
        .to_owned();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!(
                "https://login.microsoftonline.com/{}/oauth2/authorize",
                environment.tenant_id
            )),
        "{challenge}"
    );

    let token_response = client
        .post(format!(
            "https://{}/{}/oauth2/v2.0/token",
            world.authority_host(),
            credentials.tenant.id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &credentials.app.client_id.to_string()),
            ("client_secret", credentials.secret.value.expose()),
            ("scope", &format!("{}/.default", environment.url)),
        ])
        .send()
        .await?;
    assert_eq!(token_response.status(), 200);
    let body: serde_json::Value = token_response.json().await?;
    let token = body["access_token"]
        .as_str()
        .context("an access token")?
        .to_owned();
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode_claims(&token)?;
    assert_eq!(
        claims["oid"].as_str(),
        user.object_id.map(|id| id.to_string()).as_deref(),
        "the application user records the principal the token names"
    );

    for host in [environment.host.clone(), environment.api_host()] {
        let answer = client
            .get(format!("https://{host}/api/data/v9.2/WhoAmI"))
            .bearer_auth(&token)
            .send()
            .await?;
        assert_eq!(answer.status(), 200, "{host}");
        let who: serde_json::Value = answer.json().await?;
        assert_eq!(who["UserId"], user.id.to_string(), "{host}: {who}");
        assert_eq!(
            who["OrganizationId"],
            environment.organization_id.to_string(),
            "{host}: {who}"
        );
    }

    // The demo role reads accounts but not cases: the privilege failure the world exists for.
    let accounts = client
        .get(format!(
            "{}/api/data/v9.2/accounts?$select=name&$top=1",
            environment.url
        ))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(accounts.status(), 200);
    let incidents = client
        .get(format!(
            "{}/api/data/v9.2/incidents?$select=title",
            environment.url
        ))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(incidents.status(), 403);
    let body = incidents.text().await?;
    assert!(
        body.contains("0x80040220") && body.contains("prvReadIncident"),
        "{body}"
    );

    handle.shutdown().await;
    Ok(())
}

/// `serve` on free ports with its state in `state`, serving the built-in demo world.
fn args_in(state: &Path) -> ServeArgs {
    ServeArgs {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        state_dir: state.to_owned(),
        world: None,
        scenario: None,
        step: None,
        proxy_listen: None,
        admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
    }
}

/// The value of `key` in `connection.env` text.
fn env_value<'a>(env: &'a str, key: &str) -> Option<&'a str> {
    env.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
}

#[tokio::test]
async fn loading_a_world_rewrites_connection_env_and_stop_still_removes_it() -> anyhow::Result<()> {
    let state = tempfile::tempdir()?;
    let mut out = Vec::new();
    let serving = Serving::start(&args_in(state.path()), &mut out).await?;
    let env_file = state.path().join("connection.env");
    let at_start = std::fs::read_to_string(&env_file)?;
    let host_map = env_value(&at_start, "D365_HOST_MAP").context("a host map")?;
    assert!(!host_map.contains("contoso-noroles"), "{host_map}");

    let mistakes =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/setup-mistakes.toml");
    let document = scenario::WorldDocument::of(&World::load(&mistakes)?)?.to_toml();
    let answer = serving
        .admin_client()
        .call(http::Method::PUT, "/world", document.into())
        .await;
    assert_eq!(answer.status(), http::StatusCode::OK);

    let rewritten = std::fs::read_to_string(&env_file)?;
    let host_map = env_value(&rewritten, "D365_HOST_MAP").context("a host map")?;
    let target = connect_address(serving.handle.addr());
    assert!(
        host_map.contains(&format!("contoso-noroles.crm.dynamics.com={target}")),
        "{host_map}"
    );
    assert_eq!(host_map.split(',').count(), serving.handle.hosts().len());
    assert_eq!(
        env_value(&rewritten, "D365_CLIENT_SECRET"),
        Some("Qm28Q~mistakes.importer.secret.current.0001")
    );
    for key in ["D365_CA_FILE", "D365_ADMIN_URL", "D365_AUTHORITY_HOST"] {
        assert_eq!(
            env_value(&rewritten, key),
            env_value(&at_start, key),
            "{key}"
        );
    }

    serving.stop("test", &mut out).await?;
    assert!(!env_file.exists(), "the rewritten file goes at stop too");
    Ok(())
}
