//! What `serve` writes and prints, without a server: `connection.env`, the host map and the
//! instructions.

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
