//! The token endpoints, client credentials only: `POST /{tenant}/oauth2/v2.0/token` (`scope`)
//! and `POST /{tenant}/oauth2/token` (`resource`). The checks run in the order a client meets
//! them: method, forced errors, tenant, parameters (read only from a form body), scope,
//! application, credential (with the assertion replay check when configured), throttling,
//! resource. Other grants answer AADSTS70003.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

use crate::assertion::{self, JWT_BEARER, VerifiedAssertion};
use crate::catalogue::{AadError, AadstsError, ForcedErrorKind};
use crate::config::{AssertionReplayPolicy, CommonTenantPolicy, ResourcePolicy};
use crate::response::{self, Exchange};
use crate::state::{State, TenantLookup};
use crate::{AccessTokenClaims, App, Tenant};

/// Which token endpoint was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `/oauth2/v2.0/token`: `scope`, numbers as numbers.
    V2,
    /// `/oauth2/token`: `resource`, numbers as strings, `expires_on`/`not_before`/`resource`.
    V1,
}

/// The form fields the client-credentials grant reads; everything else is ignored, as ESTS
/// ignores the telemetry fields real libraries add.
#[derive(Debug, Default)]
struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion_type: Option<String>,
    client_assertion: Option<String>,
    scope: Option<String>,
    resource: Option<String>,
}

impl TokenForm {
    fn parse(body: &[u8]) -> TokenForm {
        let mut form = TokenForm::default();
        for (key, value) in form_urlencoded::parse(body) {
            let value = Some(value.into_owned());
            match key.as_ref() {
                "grant_type" => form.grant_type = value,
                "client_id" => form.client_id = value,
                "client_secret" => form.client_secret = value,
                "client_assertion_type" => form.client_assertion_type = value,
                "client_assertion" => form.client_assertion = value,
                "scope" => form.scope = value,
                "resource" => form.resource = value,
                _ => {}
            }
        }
        form
    }
}

/// The credential a request presents, in precedence order: body secret, HTTP Basic secret,
/// assertion. When a secret and an assertion are both sent the secret wins (UNCONFIRMED: the
/// real service's choice is unknown).
enum Credential {
    Secret(String),
    Assertion { kind: Option<String>, jwt: String },
    None,
}

pub(crate) fn token(
    state: &State,
    request: &Request<Bytes>,
    endpoint: Endpoint,
    tenant_segment: &str,
) -> Response<Full<Bytes>> {
    let exchange = Exchange::new(state, request);
    match issue(state, request, endpoint, tenant_segment, &exchange) {
        Ok(response) => response,
        Err(Refusal::Error(error)) => response::aad_error(state, &exchange, &error, false),
        Err(Refusal::Throttled { retry_after }) => response::throttled(&exchange, retry_after),
    }
}

enum Refusal {
    Error(AadError),
    Throttled { retry_after: i64 },
}

impl From<AadError> for Refusal {
    fn from(error: AadError) -> Refusal {
        Refusal::Error(error)
    }
}

fn issue(
    state: &State,
    request: &Request<Bytes>,
    endpoint: Endpoint,
    tenant_segment: &str,
    exchange: &Exchange,
) -> Result<Response<Full<Bytes>>, Refusal> {
    let overrides = &state.config.message_overrides;
    let error = |key: AadstsError, facts: &[(&str, &str)]| {
        Refusal::Error(AadError::with_overrides(key, facts, overrides))
    };
    if request.method() != Method::POST {
        return Err(error(
            AadstsError::PostOnly,
            &[("method", request.method().as_str())],
        ));
    }
    // ESTS reads the body only as a form: anything else is as good as no parameters at all.
    let form = if !state.config.require_form_content_type || is_form(request) {
        TokenForm::parse(request.body())
    } else {
        TokenForm::default()
    };
    let basic = basic_credentials(request);
    let client_id = form
        .client_id
        .clone()
        .or_else(|| basic.as_ref().map(|(id, _)| id.clone()));

    let tenant_lookup = state.tenant(tenant_segment);
    let tenant_for_facts = match tenant_lookup {
        TenantLookup::Found(tenant) => Some(tenant),
        _ => None,
    };
    let app_for_facts = client_id.as_deref().and_then(|id| state.app(id));
    let client_id_text = client_id.clone().unwrap_or_default();
    let directory = tenant_for_facts
        .map(|tenant| tenant.display_name.clone())
        .unwrap_or_else(|| tenant_segment.to_owned());
    let app_name = app_for_facts
        .map(|app| app.display_name.clone())
        .unwrap_or_else(|| client_id_text.clone());
    let requested = match endpoint {
        Endpoint::V2 => form.scope.clone(),
        Endpoint::V1 => form.resource.clone(),
    }
    .unwrap_or_default();
    let resource_guess = requested
        .split_whitespace()
        .next()
        .map(|scope| scope.strip_suffix("/.default").unwrap_or(scope).to_owned())
        .unwrap_or_default();
    let facts: Vec<(&str, &str)> = vec![
        ("tenant", tenant_segment),
        ("client_id", &client_id_text),
        ("directory", &directory),
        ("app_name", &app_name),
        ("scope", &requested),
        ("resource", &resource_guess),
        ("method", "POST"),
        ("parameter", ""),
        ("grant_type", form.grant_type.as_deref().unwrap_or_default()),
        ("thumbprint", ""),
        ("reason", ""),
    ];

    if let Some(forced) = state.forced_error(&client_id_text, tenant_segment) {
        return Err(match forced {
            ForcedErrorKind::Throttled => Refusal::Throttled { retry_after: 60 },
            ForcedErrorKind::Aadsts(key) => error(key, &facts),
        });
    }

    let tenant: &Tenant = match tenant_lookup {
        TenantLookup::Found(tenant) => tenant,
        TenantLookup::EmptyGuid => return Err(error(AadstsError::TenantEmptyGuid, &facts)),
        TenantLookup::Invalid => return Err(error(AadstsError::TenantIdentifierInvalid, &facts)),
        TenantLookup::NotFound => return Err(error(AadstsError::TenantNotFound, &facts)),
        TenantLookup::Alias => match state.config.common_tenant {
            CommonTenantPolicy::NoTenantError => {
                return Err(error(AadstsError::NoTenantIdentifier, &facts));
            }
            CommonTenantPolicy::HomeTenant => {
                match app_for_facts.and_then(|app| state.tenant_by_id(app.home_tenant)) {
                    Some(home) => home,
                    None => return Err(error(AadstsError::NoTenantIdentifier, &facts)),
                }
            }
        },
    };

    let Some(grant_type) = form.grant_type.as_deref() else {
        return Err(missing(&facts, "grant_type", overrides));
    };
    if grant_type != "client_credentials" {
        return Err(error(AadstsError::UnsupportedGrantType, &facts));
    }
    if client_id.is_none() {
        return Err(missing(&facts, "client_id", overrides));
    }
    let resource = match endpoint {
        Endpoint::V2 => {
            let Some(scope) = form
                .scope
                .as_deref()
                .filter(|scope| !scope.trim().is_empty())
            else {
                return Err(missing(&facts, "scope", overrides));
            };
            resource_from_scope(scope).map_err(|key| error(key, &facts))?
        }
        Endpoint::V1 => match form
            .resource
            .as_deref()
            .filter(|resource| !resource.is_empty())
        {
            Some(resource) => resource.to_owned(),
            None => return Err(missing(&facts, "resource", overrides)),
        },
    };
    let resource_facts = {
        let mut facts = facts.clone();
        facts.retain(|(key, _)| *key != "resource");
        facts.push(("resource", resource.as_str()));
        facts
    };

    let app: &App = match app_for_facts {
        Some(app) => app,
        None => return Err(error(AadstsError::ApplicationNotFound, &facts)),
    };
    let principal_enabled = match app.principal_in(tenant.id) {
        Some(enabled) if app.multi_tenant || tenant.id == app.home_tenant => enabled,
        _ => return Err(error(AadstsError::ApplicationNotFound, &facts)),
    };
    if !principal_enabled {
        return Err(error(AadstsError::ApplicationDisabled, &facts));
    }

    let credential = match (
        form.client_secret.clone(),
        basic,
        form.client_assertion.clone(),
    ) {
        (Some(secret), _, _) => Credential::Secret(secret),
        (None, Some((_, secret)), _) => Credential::Secret(secret),
        (None, None, Some(jwt)) => Credential::Assertion {
            kind: form.client_assertion_type.clone(),
            jwt,
        },
        (None, None, None) => Credential::None,
    };
    let authentication_class = match credential {
        Credential::None => return Err(error(AadstsError::MissingClientCredential, &facts)),
        Credential::Secret(secret) => {
            check_secret(state, app, &secret).map_err(|key| error(key, &facts))?;
            "1"
        }
        Credential::Assertion { kind, jwt } => {
            if kind.as_deref() != Some(JWT_BEARER) {
                let reason = format!("The 'client_assertion_type' must be '{JWT_BEARER}'.");
                let mut facts = facts.clone();
                facts.retain(|(key, _)| *key != "reason");
                facts.push(("reason", &reason));
                return Err(error(AadstsError::AssertionInvalid, &facts));
            }
            let audiences = assertion_audiences(request, exchange, tenant);
            let verified = assertion::verify(&jwt, app, &audiences, exchange.now)?;
            check_replay(state, app, &verified, exchange.now, &facts)?;
            "2"
        }
    };

    if let Some(retry_after) = state.throttle(tenant.id, app.client_id) {
        return Err(Refusal::Throttled { retry_after });
    }

    if !resource_exists(state, tenant, &resource) {
        return Err(error(AadstsError::ResourceNotFound, &resource_facts));
    }
    if !tenant.dynamics_enabled {
        return Err(error(AadstsError::ResourceDisabled, &resource_facts));
    }

    let body = mint(
        state,
        exchange,
        endpoint,
        tenant,
        app,
        &resource,
        authentication_class,
    )
    .map_err(|_| error(AadstsError::TemporarilyUnavailable, &facts))?;
    Ok(response::token_json(StatusCode::OK, body, exchange))
}

/// Refuses a second use of the assertion's `jti` by the same client when the config asks
/// for replay protection; an assertion without a `jti` cannot be protected, so it is refused.
fn check_replay(
    state: &State,
    app: &App,
    verified: &VerifiedAssertion,
    now: time::OffsetDateTime,
    facts: &[(&str, &str)],
) -> Result<(), Refusal> {
    if state.config.assertion_replay == AssertionReplayPolicy::Accept {
        return Ok(());
    }
    let overrides = &state.config.message_overrides;
    let Some(jti) = verified.jti.as_deref() else {
        let mut facts = facts.to_vec();
        facts.retain(|(key, _)| *key != "reason");
        facts.push(("reason", "The client assertion has no 'jti' claim."));
        return Err(
            AadError::with_overrides(AadstsError::AssertionInvalid, &facts, overrides).into(),
        );
    };
    match state.first_use_of_assertion(app.client_id, jti, verified.valid_until, now) {
        Some(false) => {
            let mut facts = facts.to_vec();
            facts.push(("jti", jti));
            Err(AadError::with_overrides(AadstsError::AssertionReplayed, &facts, overrides).into())
        }
        Some(true) | None => Ok(()),
    }
}

fn missing(
    facts: &[(&str, &str)],
    parameter: &str,
    overrides: &std::collections::BTreeMap<String, String>,
) -> Refusal {
    let mut facts = facts.to_vec();
    facts.retain(|(key, _)| *key != "parameter");
    facts.push(("parameter", parameter));
    Refusal::Error(AadError::with_overrides(
        AadstsError::MissingParameter,
        &facts,
        overrides,
    ))
}

/// `scope` → resource: one resource, each scope ending in `/.default`; the resource is
/// everything before the last slash. OpenID scopes are tolerated and ignored.
fn resource_from_scope(scope: &str) -> Result<String, AadstsError> {
    let mut resources: Vec<&str> = Vec::new();
    for item in scope.split_whitespace() {
        if matches!(item, "openid" | "profile" | "offline_access") {
            continue;
        }
        let Some(resource) = item.strip_suffix("/.default") else {
            return Err(AadstsError::ScopeNotDefault);
        };
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    match resources.as_slice() {
        [] => Err(AadstsError::ScopeNotDefault),
        [resource] => Ok((*resource).to_owned()),
        _ => Err(AadstsError::ScopeInvalid),
    }
}

/// Secret check: a match on a live secret passes; a match on an expired one, or any secret
/// when every secret is expired, is AADSTS7000222; anything else AADSTS7000215.
fn check_secret(state: &State, app: &App, presented: &str) -> Result<(), AadstsError> {
    let now = state.config.clock.now();
    let matching = app
        .secrets
        .iter()
        .find(|secret| constant_time_eq(secret.value.as_bytes(), presented.as_bytes()));
    match matching {
        Some(secret) if secret.expires > now => Ok(()),
        Some(_) => Err(AadstsError::ExpiredClientSecret),
        None if !app.secrets.is_empty()
            && app.secrets.iter().all(|secret| secret.expires <= now) =>
        {
            Err(AadstsError::ExpiredClientSecret)
        }
        None => Err(AadstsError::InvalidClientSecret),
    }
}

fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    left.len() == right.len()
        && left
            .iter()
            .zip(right)
            .fold(0u8, |difference, (a, b)| difference | (a ^ b))
            == 0
}

/// Whether the `Content-Type` is `application/x-www-form-urlencoded`, in any case, with or
/// without parameters (MSAL sends `;charset=utf-8`, requests and reqwest send none).
fn is_form(request: &Request<Bytes>) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| {
            media_type
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `Authorization: Basic` credentials; id and secret are form-decoded first, as RFC 6749
/// §2.3.1 asks (UNCONFIRMED whether ESTS decodes them).
fn basic_credentials(request: &Request<Bytes>) -> Option<(String, String)> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |text: &str| -> String {
        form_urlencoded::parse(
            format!("v={}", text.replace('&', "%26").replace('=', "%3D")).as_bytes(),
        )
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// The URLs an assertion's `aud` may name: the endpoint as called, and the same endpoint with
/// the tenant as GUID or as any verified domain (UNCONFIRMED which forms ESTS accepts).
fn assertion_audiences(
    request: &Request<Bytes>,
    exchange: &Exchange,
    tenant: &Tenant,
) -> Vec<String> {
    let path = request.uri().path();
    let mut audiences = vec![format!("{}{path}", exchange.origin)];
    let rest = path
        .trim_start_matches('/')
        .split_once('/')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let tenants = std::iter::once(tenant.id.to_string()).chain(tenant.domains.iter().cloned());
    audiences.extend(tenants.map(|segment| format!("{}/{segment}/{rest}", exchange.origin)));
    audiences
}

/// Whether the tenant has a service principal for `resource`: only the Dynamics CRM principal
/// is modelled, so the resource must be a Dataverse URL of the cloud (`https://host[/]`).
fn resource_exists(state: &State, tenant: &Tenant, resource: &str) -> bool {
    if !tenant.dynamics {
        return false;
    }
    let Some(host) = resource
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .and_then(|_| resource.get(8..))
    else {
        return false;
    };
    let host = host.strip_suffix('/').unwrap_or(host);
    if !state.config.cloud.is_dynamics_host(host) {
        return false;
    }
    match &state.config.resources {
        ResourcePolicy::AnyDynamicsHost => true,
        ResourcePolicy::Listed(listed) => listed.iter().any(|allowed| {
            allowed
                .trim_end_matches('/')
                .eq_ignore_ascii_case(resource.trim_end_matches('/'))
        }),
    }
}

#[derive(Serialize)]
struct TokenResponseV2<'a> {
    token_type: &'static str,
    expires_in: i64,
    ext_expires_in: i64,
    access_token: &'a str,
}

#[derive(Serialize)]
struct TokenResponseV1<'a> {
    token_type: &'static str,
    expires_in: String,
    ext_expires_in: String,
    expires_on: String,
    not_before: String,
    resource: &'a str,
    access_token: &'a str,
}

/// Mints the v1.0 app-only access token Dataverse receives (reference/entra.md §3.3).
fn mint(
    state: &State,
    exchange: &Exchange,
    endpoint: Endpoint,
    tenant: &Tenant,
    app: &App,
    resource: &str,
    authentication_class: &str,
) -> Result<Vec<u8>, crate::Error> {
    let config = &state.config;
    let now = exchange.now.unix_timestamp();
    let lifetime = config.token_lifetime_seconds;
    let issued_at = now - 300;
    let expires = now + lifetime + 1;
    let issuer = format!("https://{}/{}/", config.cloud.v1_issuer_host(), tenant.id);
    let object_id = app.principal_object_id(tenant.id).to_string();
    let claims = AccessTokenClaims {
        aud: resource.to_owned(),
        iss: issuer.clone(),
        iat: issued_at,
        nbf: issued_at,
        exp: expires,
        aio: opaque(state, 48),
        app_displayname: app.display_name.clone(),
        appid: app.client_id.to_string(),
        appidacr: authentication_class.to_owned(),
        idp: issuer,
        idtyp: "app",
        oid: object_id.clone(),
        rh: format!("0.{}.", opaque(state, 64)),
        sub: object_id,
        tenant_region_scope: tenant.region_scope.clone(),
        tid: tenant.id.to_string(),
        uti: opaque(state, 16),
        ver: "1.0",
    };
    let access_token = config.signing_key.sign(&claims)?;
    let body = match endpoint {
        Endpoint::V2 => serde_json::to_vec(&TokenResponseV2 {
            token_type: "Bearer",
            expires_in: lifetime,
            ext_expires_in: lifetime,
            access_token: &access_token,
        }),
        Endpoint::V1 => serde_json::to_vec(&TokenResponseV1 {
            token_type: "Bearer",
            expires_in: lifetime.to_string(),
            ext_expires_in: lifetime.to_string(),
            expires_on: expires.to_string(),
            not_before: issued_at.to_string(),
            resource,
            access_token: &access_token,
        }),
    };
    body.map_err(crate::Error::Serialize)
}

/// `bytes` seeded random bytes as base64url: the opaque `aio`, `rh` and `uti` claims.
fn opaque(state: &State, bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    state.config.ids.fill(&mut buffer);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buffer)
}
