//! Discovery documents (reference/entra.md §4): OpenID configuration v2 and v1, JWKS (v2 with
//! `issuer`, v1 without) and instance discovery. Every URL names the host the client used, and
//! the tenant by GUID even when the client asked by domain, as clients rely on both.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use serde::Serialize;

use crate::catalogue::{AadError, AadstsError};
use crate::response::{self, Exchange};
use crate::state::{State, TenantLookup};

/// Which document flavour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    V2,
}

/// The tenant a document is about: a GUID, or an alias kept as given.
enum DocumentTenant {
    Id(String, String),
    Alias(String),
}

fn document_tenant(state: &State, segment: &str) -> Result<DocumentTenant, AadError> {
    let refuse = |key: AadstsError| {
        Err(AadError::with_overrides(
            key,
            &[("tenant", segment)],
            &state.config.message_overrides,
        ))
    };
    match state.tenant(segment) {
        TenantLookup::Found(tenant) => Ok(DocumentTenant::Id(
            tenant.id.to_string(),
            tenant.region_scope.clone(),
        )),
        TenantLookup::Alias => Ok(DocumentTenant::Alias(segment.to_ascii_lowercase())),
        TenantLookup::NotFound => refuse(AadstsError::TenantNotFoundDiscovery),
        TenantLookup::EmptyGuid => refuse(AadstsError::TenantEmptyGuid),
        TenantLookup::Invalid => refuse(AadstsError::TenantIdentifierInvalid),
    }
}

#[derive(Serialize)]
struct OpenIdConfigurationV2 {
    token_endpoint: String,
    token_endpoint_auth_methods_supported: [&'static str; 3],
    jwks_uri: String,
    response_modes_supported: [&'static str; 3],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 1],
    response_types_supported: [&'static str; 4],
    scopes_supported: [&'static str; 4],
    issuer: String,
    request_uri_parameter_supported: bool,
    userinfo_endpoint: &'static str,
    authorization_endpoint: String,
    device_authorization_endpoint: String,
    http_logout_supported: bool,
    frontchannel_logout_supported: bool,
    end_session_endpoint: String,
    claims_supported: &'static [&'static str],
    kerberos_endpoint: String,
    tenant_region_scope: Option<String>,
    cloud_instance_name: &'static str,
    cloud_graph_host_name: &'static str,
    msgraph_host: &'static str,
    rbac_url: &'static str,
}

#[derive(Serialize)]
struct OpenIdConfigurationV1 {
    token_endpoint: String,
    token_endpoint_auth_methods_supported: [&'static str; 3],
    jwks_uri: String,
    response_modes_supported: [&'static str; 3],
    subject_types_supported: [&'static str; 1],
    id_token_signing_alg_values_supported: [&'static str; 1],
    response_types_supported: [&'static str; 5],
    scopes_supported: [&'static str; 1],
    issuer: String,
    microsoft_multi_refresh_token: bool,
    authorization_endpoint: String,
    device_authorization_endpoint: String,
    http_logout_supported: bool,
    frontchannel_logout_supported: bool,
    end_session_endpoint: String,
    claims_supported: &'static [&'static str],
    check_session_iframe: String,
    userinfo_endpoint: String,
    kerberos_endpoint: String,
    tenant_region_scope: Option<String>,
    cloud_instance_name: &'static str,
    cloud_graph_host_name: &'static str,
    msgraph_host: &'static str,
    rbac_url: &'static str,
}

const AUTH_METHODS: [&str; 3] = [
    "client_secret_post",
    "private_key_jwt",
    "client_secret_basic",
];
const RESPONSE_MODES: [&str; 3] = ["query", "fragment", "form_post"];

pub(crate) fn openid_configuration(
    state: &State,
    request: &Request<Bytes>,
    version: Version,
    segment: &str,
) -> Response<Full<Bytes>> {
    let exchange = Exchange::new(state, request);
    let tenant = match document_tenant(state, segment) {
        Ok(tenant) => tenant,
        Err(error) => return response::aad_error(state, &exchange, &error, true),
    };
    let origin = &exchange.origin;
    let (path_tenant, issuer_tenant, region) = match &tenant {
        DocumentTenant::Id(id, region) => (id.clone(), id.clone(), Some(region.clone())),
        DocumentTenant::Alias(alias) => (alias.clone(), "{tenantid}".to_owned(), None),
    };
    let cloud = state.config.cloud;
    let body = match version {
        Version::V2 => serde_json::to_vec(&OpenIdConfigurationV2 {
            token_endpoint: format!("{origin}/{path_tenant}/oauth2/v2.0/token"),
            token_endpoint_auth_methods_supported: AUTH_METHODS,
            jwks_uri: format!("{origin}/{path_tenant}/discovery/v2.0/keys"),
            response_modes_supported: RESPONSE_MODES,
            subject_types_supported: ["pairwise"],
            id_token_signing_alg_values_supported: ["RS256"],
            response_types_supported: ["code", "id_token", "code id_token", "id_token token"],
            scopes_supported: ["openid", "profile", "email", "offline_access"],
            issuer: format!("{origin}/{issuer_tenant}/v2.0"),
            request_uri_parameter_supported: false,
            userinfo_endpoint: "https://graph.microsoft.com/oidc/userinfo",
            authorization_endpoint: format!("{origin}/{path_tenant}/oauth2/v2.0/authorize"),
            device_authorization_endpoint: format!("{origin}/{path_tenant}/oauth2/v2.0/devicecode"),
            http_logout_supported: true,
            frontchannel_logout_supported: true,
            end_session_endpoint: format!("{origin}/{path_tenant}/oauth2/v2.0/logout"),
            claims_supported: &[
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            kerberos_endpoint: format!("{origin}/{path_tenant}/kerberos"),
            tenant_region_scope: region,
            cloud_instance_name: cloud.instance_name(),
            cloud_graph_host_name: "graph.windows.net",
            msgraph_host: "graph.microsoft.com",
            rbac_url: "https://pas.windows.net",
        }),
        Version::V1 => serde_json::to_vec(&OpenIdConfigurationV1 {
            token_endpoint: format!("{origin}/{path_tenant}/oauth2/token"),
            token_endpoint_auth_methods_supported: AUTH_METHODS,
            jwks_uri: format!("{origin}/common/discovery/keys"),
            response_modes_supported: RESPONSE_MODES,
            subject_types_supported: ["pairwise"],
            id_token_signing_alg_values_supported: ["RS256"],
            response_types_supported: [
                "code",
                "id_token",
                "code id_token",
                "token id_token",
                "token",
            ],
            scopes_supported: ["openid"],
            issuer: format!("https://{}/{issuer_tenant}/", cloud.v1_issuer_host()),
            microsoft_multi_refresh_token: true,
            authorization_endpoint: format!("{origin}/{path_tenant}/oauth2/authorize"),
            device_authorization_endpoint: format!("{origin}/{path_tenant}/oauth2/devicecode"),
            http_logout_supported: true,
            frontchannel_logout_supported: true,
            end_session_endpoint: format!("{origin}/{path_tenant}/oauth2/logout"),
            claims_supported: &[
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "amr",
                "nonce",
                "email",
                "given_name",
                "family_name",
                "nickname",
            ],
            check_session_iframe: format!("{origin}/{path_tenant}/oauth2/checksession"),
            userinfo_endpoint: format!("{origin}/{path_tenant}/openid/userinfo"),
            kerberos_endpoint: format!("{origin}/{path_tenant}/kerberos"),
            tenant_region_scope: region,
            cloud_instance_name: cloud.instance_name(),
            cloud_graph_host_name: "graph.windows.net",
            msgraph_host: "graph.microsoft.com",
            rbac_url: "https://pas.windows.net",
        }),
    };
    response::discovery_json(StatusCode::OK, body.unwrap_or_default(), &exchange)
}

#[derive(Serialize)]
struct KeySet {
    keys: Vec<Key>,
}

#[derive(Serialize)]
struct Key {
    kty: &'static str,
    #[serde(rename = "use")]
    usage: &'static str,
    kid: String,
    x5t: String,
    n: String,
    e: String,
    x5c: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<String>,
}

/// JWKS. v2 keys carry `issuer` (the `{tenantid}` template on `/common`, the tenant's issuer
/// on a tenant path: UNCONFIRMED which one Entra uses there); v1 keys carry none.
pub(crate) fn keys(
    state: &State,
    request: &Request<Bytes>,
    version: Version,
    segment: &str,
) -> Response<Full<Bytes>> {
    let exchange = Exchange::new(state, request);
    let tenant = match document_tenant(state, segment) {
        Ok(tenant) => tenant,
        Err(error) => return response::aad_error(state, &exchange, &error, true),
    };
    let issuer = match (version, &tenant) {
        (Version::V1, _) => None,
        (Version::V2, DocumentTenant::Id(id, _)) => Some(format!("{}/{id}/v2.0", exchange.origin)),
        (Version::V2, DocumentTenant::Alias(_)) => {
            Some(format!("{}/{{tenantid}}/v2.0", exchange.origin))
        }
    };
    let signing_key = &state.config.signing_key;
    let key_set = KeySet {
        keys: vec![Key {
            kty: "RSA",
            usage: "sig",
            kid: signing_key.kid().to_owned(),
            x5t: signing_key.kid().to_owned(),
            n: signing_key.modulus().to_owned(),
            e: signing_key.exponent().to_owned(),
            x5c: vec![signing_key.x5c()],
            issuer,
        }],
    };
    response::discovery_json(
        StatusCode::OK,
        serde_json::to_vec(&key_set).unwrap_or_default(),
        &exchange,
    )
}

#[derive(Serialize)]
struct InstanceDiscovery {
    tenant_discovery_endpoint: String,
    #[serde(rename = "api-version")]
    api_version: &'static str,
    metadata: Vec<CloudMetadata>,
}

#[derive(Serialize)]
struct CloudMetadata {
    preferred_network: &'static str,
    preferred_cache: &'static str,
    aliases: &'static [&'static str],
}

/// The fixed cloud alias list ESTS returns for any known host.
const CLOUDS: &[(&str, &str, &[&str])] = &[
    (
        "login.microsoftonline.com",
        "login.windows.net",
        &[
            "login.microsoftonline.com",
            "login.windows.net",
            "login.microsoft.com",
            "sts.windows.net",
        ],
    ),
    (
        "login.partner.microsoftonline.cn",
        "login.partner.microsoftonline.cn",
        &["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"],
    ),
    (
        "login.microsoftonline.de",
        "login.microsoftonline.de",
        &["login.microsoftonline.de"],
    ),
    (
        "login.microsoftonline.us",
        "login.microsoftonline.us",
        &["login.microsoftonline.us", "login.usgovcloudapi.net"],
    ),
    (
        "login-us.microsoftonline.com",
        "login-us.microsoftonline.com",
        &["login-us.microsoftonline.com"],
    ),
];

/// `GET /common/discovery/instance?authorization_endpoint=…`: known hosts (the cloud aliases
/// and the hosts this fake serves) get the metadata; anything else AADSTS50049.
pub(crate) fn instance_discovery(state: &State, request: &Request<Bytes>) -> Response<Full<Bytes>> {
    let exchange = Exchange::new(state, request);
    let authorization_endpoint = request.uri().query().and_then(|query| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "authorization_endpoint")
            .map(|(_, value)| value.into_owned())
    });
    let parsed = authorization_endpoint.as_deref().and_then(|endpoint| {
        let rest = endpoint
            .get(..8)
            .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
            .and_then(|_| endpoint.get(8..))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.split(':').next()?.to_ascii_lowercase();
        let tenant = path.split('/').next().filter(|tenant| !tenant.is_empty())?;
        Some((authority.to_ascii_lowercase(), host, tenant.to_owned()))
    });
    let served = state.hosts();
    let known = parsed.as_ref().filter(|(_, host, _)| {
        served.contains(host)
            || CLOUDS
                .iter()
                .any(|(_, _, aliases)| aliases.contains(&host.as_str()))
    });
    let Some((authority, _, tenant)) = known else {
        let error = AadError::with_overrides(
            AadstsError::InvalidInstance,
            &[],
            &state.config.message_overrides,
        );
        return response::aad_error(state, &exchange, &error, true);
    };
    let document = InstanceDiscovery {
        tenant_discovery_endpoint: format!(
            "https://{authority}/{tenant}/v2.0/.well-known/openid-configuration"
        ),
        api_version: "1.1",
        metadata: CLOUDS
            .iter()
            .map(|(network, cache, aliases)| CloudMetadata {
                preferred_network: network,
                preferred_cache: cache,
                aliases,
            })
            .collect(),
    };
    response::discovery_json(
        StatusCode::OK,
        serde_json::to_vec(&document).unwrap_or_default(),
        &exchange,
    )
}
