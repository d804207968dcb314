use std::net::SocketAddr;

use super::{NetworkSettings, TrustRoots};

#[track_caller]
fn check_resolve(spec: &str, expected: Result<(&str, &str), &str>) {
    let mut settings = NetworkSettings::default();
    let found = settings
        .add_resolve(spec)
        .map_err(|error| error.to_string());
    match expected {
        Ok((host, addr)) => {
            assert_eq!(found, Ok(()));
            let addr: SocketAddr = addr.parse().expect("an address");
            assert_eq!(
                settings.resolve.get(host),
                Some(&addr),
                "{:?}",
                settings.resolve
            );
        }
        Err(message) => assert_eq!(found, Err(message.to_owned())),
    }
}

#[test]
fn resolve_overrides_read_like_curl() {
    check_resolve(
        "contoso.crm.dynamics.com=127.0.0.1:8443",
        Ok(("contoso.crm.dynamics.com", "127.0.0.1:8443")),
    );
    check_resolve(
        "Login.MicrosoftOnline.com.=127.0.0.1",
        Ok(("login.microsoftonline.com", "127.0.0.1:0")),
    );
    check_resolve(
        "contoso.crm.dynamics.com=[::1]:8443",
        Ok(("contoso.crm.dynamics.com", "[::1]:8443")),
    );
    check_resolve(
        "contoso.crm.dynamics.com",
        Err(
            "invalid network setting `--resolve contoso.crm.dynamics.com`: expected HOST=ADDR, e.g. contoso.crm.dynamics.com=127.0.0.1:8443",
        ),
    );
    check_resolve(
        "contoso.crm.dynamics.com=localhost:8443",
        Err(
            "invalid network setting `--resolve contoso.crm.dynamics.com=localhost:8443`: `localhost:8443` is not an IP address with an optional port",
        ),
    );
    check_resolve(
        "https://contoso.crm.dynamics.com=127.0.0.1",
        Err(
            "invalid network setting `--resolve https://contoso.crm.dynamics.com=127.0.0.1`: `https://contoso.crm.dynamics.com` is not a host name",
        ),
    );
}

#[test]
fn refuses_roots_that_are_not_certificates() {
    let settings = NetworkSettings {
        roots: TrustRoots::Only(vec!["not a certificate".to_owned()]),
        ..NetworkSettings::default()
    };
    let error = settings
        .client()
        .expect_err("no certificate in the PEM text");
    assert_eq!(
        error.to_string(),
        "invalid network setting `trusted roots`: the PEM text holds no certificate"
    );
}

#[test]
fn refuses_a_proxy_that_is_not_a_url() {
    let settings = NetworkSettings {
        https_proxy: Some("http://[::1".to_owned()),
        ..NetworkSettings::default()
    };
    let error = settings.client().expect_err("not a URL");
    assert!(
        error
            .to_string()
            .starts_with("invalid network setting `https_proxy`: `http://[::1` is not a proxy URL"),
        "{error}"
    );
}
