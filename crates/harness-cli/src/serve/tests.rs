//! What `serve` writes and prints, without a server: `connection.env`, the host map and the
//! instructions. And, with one in process: that `serve`'s listener applies a world's
//! `[[faults]]` and `[entra]` knobs.

use super::*;

fn connection() -> Connection {
    Connection {
        authority_host: "login.microsoftonline.com".to_owned(),
        tenant_id: Uuid::from_u128(0x6f1f3b7e_2b51_4f0e_9d5e_0c8c3a7d1a10),
        client_id: Uuid::from_u128(0x3c2f9a51_7d0b_4e1a_8f5e_2a9b6c4d8e01),
        client_secret: "demo~secret".to_owned(),
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
         D365_CA_FILE=/state/ca.pem\n\
         D365_HOST_MAP=login.microsoftonline.com=127.0.0.1:8443,login.windows.net=127.0.0.1:8443\n"
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
    let handle = fake_core::spawn(server_config(&world, listen, clock.clone())?).await?;
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
