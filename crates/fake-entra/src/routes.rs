//! Routing: one [`Route`] enum, one [`route`] function, one `match` in [`handle`]. Unknown
//! paths get a 404 that lists what this fake serves.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;

use crate::discovery::{self, Version};
use crate::grant::{self, Endpoint};
use crate::state::State;

/// Every endpoint the fake serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/{tenant}/oauth2/v2.0/token` (any method; non-POST gets AADSTS900561).
    TokenV2 { tenant: String },
    /// `/{tenant}/oauth2/token` (any method).
    TokenV1 { tenant: String },
    /// `GET /{tenant}/v2.0/.well-known/openid-configuration`.
    OpenIdConfigurationV2 { tenant: String },
    /// `GET /{tenant}/.well-known/openid-configuration`.
    OpenIdConfigurationV1 { tenant: String },
    /// `GET /{tenant}/discovery/v2.0/keys`.
    KeysV2 { tenant: String },
    /// `GET /{tenant}/discovery/keys`.
    KeysV1 { tenant: String },
    /// `GET /common/discovery/instance`.
    InstanceDiscovery,
}

/// What the 404 body lists.
pub(crate) const SUPPORTED: &[&str] = &[
    "POST /{tenant}/oauth2/v2.0/token",
    "POST /{tenant}/oauth2/token",
    "GET /{tenant}/v2.0/.well-known/openid-configuration",
    "GET /{tenant}/.well-known/openid-configuration",
    "GET /{tenant}/discovery/v2.0/keys",
    "GET /{tenant}/discovery/keys",
    "GET /common/discovery/instance",
];

pub(crate) fn route(method: &Method, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let get = method == Method::GET;
    match segments.as_slice() {
        [tenant, "oauth2", "v2.0", "token"] => Some(Route::TokenV2 {
            tenant: (*tenant).to_owned(),
        }),
        [tenant, "oauth2", "token"] => Some(Route::TokenV1 {
            tenant: (*tenant).to_owned(),
        }),
        [tenant, "v2.0", ".well-known", "openid-configuration"] if get => {
            Some(Route::OpenIdConfigurationV2 {
                tenant: (*tenant).to_owned(),
            })
        }
        [tenant, ".well-known", "openid-configuration"] if get => {
            Some(Route::OpenIdConfigurationV1 {
                tenant: (*tenant).to_owned(),
            })
        }
        ["common", "discovery", "instance"] if get => Some(Route::InstanceDiscovery),
        [tenant, "discovery", "v2.0", "keys"] if get => Some(Route::KeysV2 {
            tenant: (*tenant).to_owned(),
        }),
        [tenant, "discovery", "keys"] if get => Some(Route::KeysV1 {
            tenant: (*tenant).to_owned(),
        }),
        _ => None,
    }
}

pub(crate) fn handle(state: &State, request: Request<Bytes>) -> Response<Full<Bytes>> {
    let Some(route) = route(request.method(), request.uri().path()) else {
        return not_found(&request);
    };
    match route {
        Route::TokenV2 { tenant } => grant::token(state, &request, Endpoint::V2, &tenant),
        Route::TokenV1 { tenant } => grant::token(state, &request, Endpoint::V1, &tenant),
        Route::OpenIdConfigurationV2 { tenant } => {
            discovery::openid_configuration(state, &request, Version::V2, &tenant)
        }
        Route::OpenIdConfigurationV1 { tenant } => {
            discovery::openid_configuration(state, &request, Version::V1, &tenant)
        }
        Route::KeysV2 { tenant } => discovery::keys(state, &request, Version::V2, &tenant),
        Route::KeysV1 { tenant } => discovery::keys(state, &request, Version::V1, &tenant),
        Route::InstanceDiscovery => discovery::instance_discovery(state, &request),
    }
}

fn not_found(request: &Request<Bytes>) -> Response<Full<Bytes>> {
    let body = serde_json::json!({
        "error": "not_found",
        "error_description": format!(
            "d365-harness fake Entra ID does not serve {} {}",
            fake_core::echo(request.method().as_str()),
            fake_core::echo(request.uri().path())
        ),
        "supported": SUPPORTED,
    });
    fake_core::json_response(StatusCode::NOT_FOUND, body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(method: Method, path: &str, expected: Option<Route>) {
        assert_eq!(route(&method, path), expected, "{method} {path}");
    }

    #[test]
    fn routes() {
        let tenant = || "contoso.onmicrosoft.com".to_owned();
        check(
            Method::POST,
            "/contoso.onmicrosoft.com/oauth2/v2.0/token",
            Some(Route::TokenV2 { tenant: tenant() }),
        );
        check(
            Method::GET,
            "/contoso.onmicrosoft.com/oauth2/v2.0/token",
            Some(Route::TokenV2 { tenant: tenant() }),
        );
        check(
            Method::POST,
            "/contoso.onmicrosoft.com/oauth2/token",
            Some(Route::TokenV1 { tenant: tenant() }),
        );
        check(
            Method::GET,
            "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            Some(Route::OpenIdConfigurationV2 { tenant: tenant() }),
        );
        check(
            Method::POST,
            "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
            None,
        );
        check(
            Method::GET,
            "/contoso.onmicrosoft.com/.well-known/openid-configuration",
            Some(Route::OpenIdConfigurationV1 { tenant: tenant() }),
        );
        check(
            Method::GET,
            "/common/discovery/instance",
            Some(Route::InstanceDiscovery),
        );
        check(
            Method::GET,
            "/common/discovery/v2.0/keys",
            Some(Route::KeysV2 {
                tenant: "common".into(),
            }),
        );
        check(
            Method::GET,
            "/common/discovery/keys",
            Some(Route::KeysV1 {
                tenant: "common".into(),
            }),
        );
        check(Method::GET, "/", None);
        check(Method::GET, "/a/b/c/d/e", None);
    }
}
