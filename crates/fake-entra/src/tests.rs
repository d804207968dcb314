//! The fake Entra ID in-process, without a socket: every catalogue row with its exact status,
//! `error`, code and message; successful tokens checked against the published JWKS; discovery.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bytes::Bytes;
use fake_core::{Clock, IdGenerator, RequestContext, Service};
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use time::macros::datetime;
use uuid::Uuid;

use crate::*;

mod changes;
mod properties;

const CONTOSO: &str = "6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10";
const FABRIKAM: &str = "9b2c4d6e-8f01-4a23-b456-c789d0e1f234";
const IMPORTER: &str = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01";
const MULTI: &str = "7a7a7a7a-1111-4222-8333-444455556666";
const DISABLED: &str = "0d0d0d0d-1111-4222-8333-444455556666";
const SECRET: &str = "Qm28Q~current.secret.value";
const OLD_SECRET: &str = "Qm28Q~expired.secret.value";
const CORRELATION: &str = "c0ffee00-0000-4000-8000-000000000001";
const SECRET_ID: &str = "a1d4c2e0-5b7f-4c19-9e38-2f6a0b8d1c47";
const DATAVERSE: &str = "https://contoso.crm.dynamics.com";
const CLIENT_KEY: &str = include_str!("../../../fixtures/keys/importer-client.key.pem");
const CLIENT_CERT: &str = include_str!("../../../fixtures/keys/importer-client.crt.pem");
const OTHER_KEY: &str = include_str!("../../../fixtures/keys/entra-signing.key.pem");
const OTHER_CERT: &str = include_str!("../../../fixtures/keys/entra-signing.crt.pem");

fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("test GUID")
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("test certificate")
        .as_ref()
        .to_vec()
}

fn signing_key() -> SigningKey {
    SigningKey::from_pem(OTHER_KEY, OTHER_CERT).expect("committed test key")
}

/// Contoso (with Dynamics) and Fabrikam (without); the importer (single tenant, a live and an
/// expired secret, a certificate), a multi-tenant app installed in Fabrikam only, a disabled app.
fn config() -> Config {
    let mut config = Config::new(Cloud::Public, signing_key());
    config.clock = Clock::manual(datetime!(2026-03-01 12:00:00 UTC));
    config.ids = IdGenerator::seeded(42);
    config.tenants = vec![
        Tenant {
            id: uuid(CONTOSO),
            domains: vec!["contoso.onmicrosoft.com".into()],
            display_name: "Contoso".into(),
            dynamics: true,
            dynamics_enabled: true,
            region_scope: "NA".into(),
        },
        Tenant {
            id: uuid(FABRIKAM),
            domains: vec!["fabrikam.onmicrosoft.com".into()],
            display_name: "Fabrikam".into(),
            dynamics: false,
            dynamics_enabled: true,
            region_scope: "EU".into(),
        },
    ];
    let app = |client_id: &str, name: &str| App {
        client_id: uuid(client_id),
        display_name: name.into(),
        home_tenant: uuid(CONTOSO),
        multi_tenant: false,
        service_principals: vec![],
        secrets: vec![ClientSecret {
            name: "current".into(),
            id: Some(uuid(SECRET_ID)),
            value: SECRET.into(),
            expires: datetime!(2026-06-30 00:00:00 UTC),
        }],
        certificates: vec![],
        permissions: vec![],
    };
    let mut importer = app(IMPORTER, "MultiSource Importer");
    importer.secrets.push(ClientSecret {
        name: "old".into(),
        id: None,
        value: OLD_SECRET.into(),
        expires: datetime!(2025-01-31 00:00:00 UTC),
    });
    importer.certificates.push(ClientCertificate {
        name: "importer-client".into(),
        der: der(CLIENT_CERT),
        start: Some(datetime!(2026-01-01 00:00:00 UTC)),
        end: Some(datetime!(2027-01-01 00:00:00 UTC)),
    });
    importer.permissions.push(ApiPermission {
        api: "Dynamics CRM".into(),
        scope: "user_impersonation".into(),
        kind: PermissionKind::Delegated,
        admin_consent: false,
    });
    let mut multi = app(MULTI, "Partner Importer");
    multi.multi_tenant = true;
    multi.service_principals.push(ServicePrincipal {
        tenant: uuid(FABRIKAM),
        object_id: None,
        enabled: true,
    });
    let mut disabled = app(DISABLED, "Retired Importer");
    disabled.service_principals.push(ServicePrincipal {
        tenant: uuid(CONTOSO),
        object_id: None,
        enabled: false,
    });
    config.apps = vec![importer, multi, disabled];
    config
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|error| panic!("{error}: {}", self.text))
    }
}

async fn send(entra: &Entra, request: Request<Bytes>) -> Answer {
    let mut request = request;
    request.extensions_mut().insert(RequestContext {
        host: "login.microsoftonline.com".into(),
        origin: "https://login.microsoftonline.com".into(),
        sequence: 1,
    });
    let response = entra.call(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("full body")
        .to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8(body.to_vec()).expect("utf-8 body"),
    }
}

async fn post(entra: &Entra, path: &str, form: &[(&str, &str)]) -> Answer {
    let body = form
        .iter()
        .map(|(key, value)| {
            format!(
                "{key}={}",
                form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>()
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let request = Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("client-request-id", "c0ffee00-0000-4000-8000-000000000001")
        .body(Bytes::from(body))
        .expect("request");
    send(entra, request).await
}

async fn get(entra: &Entra, path_and_query: &str) -> Answer {
    let request = Request::get(path_and_query)
        .body(Bytes::new())
        .expect("request");
    send(entra, request).await
}

fn secret_form<'a>(client_id: &'a str, secret: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("scope", "https://contoso.crm.dynamics.com/.default"),
    ]
}

fn token_path(tenant: &str) -> String {
    format!("/{tenant}/oauth2/v2.0/token")
}

/// Asserts an AADSTS error: status, `error`, `error_codes`, and the message before the trailer.
#[track_caller]
fn assert_aad(answer: &Answer, status: u16, error: &str, code: u32, message: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["error"], error, "{}", answer.text);
    assert_eq!(body["error_codes"], json!([code]), "{}", answer.text);
    let description = body["error_description"].as_str().expect("description");
    let expected_start = format!("AADSTS{code}: {message} Trace ID: ");
    assert!(
        description.starts_with(&expected_start),
        "\nexpected: {expected_start}\n     got: {description}"
    );
    assert_eq!(
        answer.headers["x-ms-request-id"].to_str().expect("ascii"),
        body["trace_id"],
    );
    assert_eq!(
        body["correlation_id"],
        "c0ffee00-0000-4000-8000-000000000001"
    );
    assert_eq!(
        body["error_uri"],
        format!("https://login.microsoftonline.com/error?code={code}")
    );
}

fn entra() -> std::sync::Arc<Entra> {
    service(config()).expect("valid config")
}

// ---- catalogue rows 1, 1b, 2, 2b ----

#[tokio::test]
async fn unknown_tenant_is_aadsts90002() {
    let entra = entra();
    let answer = post(
        &entra,
        &token_path("11111111-2222-4333-8444-555555555555"),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    assert_aad(
        &answer,
        400,
        "invalid_request",
        90002,
        "Tenant '11111111-2222-4333-8444-555555555555' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
    );
    let by_domain = post(
        &entra,
        &token_path("nowhere.onmicrosoft.com"),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    assert_aad(
        &by_domain,
        400,
        "invalid_request",
        90002,
        "Tenant 'nowhere.onmicrosoft.com' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
    );
}

#[tokio::test]
async fn unknown_tenant_on_discovery_is_invalid_tenant() {
    let entra = entra();
    let answer = get(
        &entra,
        "/nowhere.onmicrosoft.com/v2.0/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let body = answer.json();
    assert_eq!(body["error"], "invalid_tenant");
    assert_eq!(body["error_codes"], json!([90002]));
    assert_eq!(answer.headers["cache-control"], "max-age=86400, private");
}

#[tokio::test]
async fn malformed_tenant_is_aadsts900023() {
    let entra = entra();
    for tenant in ["my_tenant", "authorize"] {
        let answer = post(&entra, &token_path(tenant), &secret_form(IMPORTER, SECRET)).await;
        assert_aad(
            &answer,
            400,
            "invalid_request",
            900023,
            &format!(
                "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."
            ),
        );
    }
}

#[tokio::test]
async fn empty_guid_tenant_is_refused() {
    let answer = post(
        &entra(),
        &token_path("00000000-0000-0000-0000-000000000000"),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    assert_aad(
        &answer,
        400,
        "invalid_request",
        90002,
        "Requested tenant identifier '00000000-0000-0000-0000-000000000000' is not valid. Tenant identifiers may not be an empty GUID.",
    );
}

// ---- row 3 ----

#[tokio::test]
async fn app_not_in_tenant_is_aadsts700016() {
    let entra = entra();
    let message = |client: &str, directory: &str| {
        format!(
            "Application with identifier '{client}' was not found in the directory '{directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        )
    };
    let unknown = "99999999-8888-4777-8666-555555555555";
    let answer = post(&entra, &token_path(CONTOSO), &secret_form(unknown, SECRET)).await;
    assert_aad(
        &answer,
        400,
        "unauthorized_client",
        700016,
        &message(unknown, "Contoso"),
    );
    // A single-tenant app used in another tenant.
    let answer = post(
        &entra,
        &token_path(FABRIKAM),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    assert_aad(
        &answer,
        400,
        "unauthorized_client",
        700016,
        &message(IMPORTER, "Fabrikam"),
    );
    // A multi-tenant app never consented in Contoso... is installed in its home tenant,
    // so use a tenant without its principal: none here but Fabrikam has it. Remove it:
    let mut config = config();
    config.apps[1].service_principals.clear();
    let entra = service(config).expect("valid config");
    let answer = post(&entra, &token_path(FABRIKAM), &secret_form(MULTI, SECRET)).await;
    assert_aad(
        &answer,
        400,
        "unauthorized_client",
        700016,
        &message(MULTI, "Fabrikam"),
    );
}

// ---- rows 4, 5, 6 ----

#[tokio::test]
async fn wrong_secret_and_secret_id_are_aadsts7000215() {
    let entra = entra();
    let message = format!(
        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{IMPORTER}'."
    );
    for wrong in ["not-the-secret", SECRET_ID] {
        let answer = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, wrong)).await;
        assert_aad(&answer, 401, "invalid_client", 7000215, &message);
        assert_eq!(answer.headers["cache-control"], "no-store, no-cache");
        assert_eq!(answer.headers["pragma"], "no-cache");
        assert!(
            !answer.text.contains(wrong),
            "the presented secret is never echoed"
        );
    }
}

#[tokio::test]
async fn expired_secret_is_aadsts7000222_and_the_clock_decides() {
    let config = config();
    let clock = config.clock.clone();
    let entra = service(config).expect("valid config");
    let message = format!(
        "The provided client secret keys for app '{IMPORTER}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."
    );
    let answer = post(
        &entra,
        &token_path(CONTOSO),
        &secret_form(IMPORTER, OLD_SECRET),
    )
    .await;
    assert_aad(&answer, 401, "invalid_client", 7000222, &message);

    let fine = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(fine.status, StatusCode::OK);
    clock
        .set(datetime!(2026-06-30 00:00:01 UTC))
        .expect("manual clock");
    let answer = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_aad(&answer, 401, "invalid_client", 7000222, &message);
    // With every secret expired, a wrong value is also told the keys are expired.
    let answer = post(
        &entra,
        &token_path(CONTOSO),
        &secret_form(IMPORTER, "wrong"),
    )
    .await;
    assert_aad(&answer, 401, "invalid_client", 7000222, &message);
}

#[tokio::test]
async fn no_credential_is_aadsts7000216() {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", IMPORTER),
        ("scope", "https://contoso.crm.dynamics.com/.default"),
    ];
    let answer = post(&entra(), &token_path(CONTOSO), &form).await;
    assert_aad(
        &answer,
        401,
        "invalid_client",
        7000216,
        "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
    );
}

// ---- rows 7, 7b, 7c, 8 ----

#[tokio::test]
async fn missing_parameters_are_aadsts900144() {
    let entra = entra();
    let without = |name: &str| {
        secret_form(IMPORTER, SECRET)
            .into_iter()
            .filter(|(key, _)| *key != name)
            .collect::<Vec<_>>()
    };
    for parameter in ["grant_type", "client_id", "scope"] {
        let answer = post(&entra, &token_path(CONTOSO), &without(parameter)).await;
        assert_aad(
            &answer,
            400,
            "invalid_request",
            900144,
            &format!("The request body must contain the following parameter: '{parameter}'."),
        );
    }
    let v1 = [
        ("grant_type", "client_credentials"),
        ("client_id", IMPORTER),
        ("client_secret", SECRET),
    ];
    let answer = post(&entra, &format!("/{CONTOSO}/oauth2/token"), &v1).await;
    assert_aad(
        &answer,
        400,
        "invalid_request",
        900144,
        "The request body must contain the following parameter: 'resource'.",
    );
}

/// POSTs `body` to `path` with `content_type` (no `Content-Type` header when `None`).
async fn post_with_content_type(
    entra: &Entra,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> Answer {
    let mut request = Request::post(path).header("client-request-id", CORRELATION);
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    send(
        entra,
        request.body(Bytes::from(body.to_owned())).expect("request"),
    )
    .await
}

fn encoded(form: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

#[tokio::test]
async fn bodies_that_are_not_forms_are_aadsts900144_grant_type() {
    let entra = entra();
    let form = encoded(&secret_form(IMPORTER, SECRET));
    let json = json!({
        "grant_type": "client_credentials",
        "client_id": IMPORTER,
        "client_secret": SECRET,
        "scope": "https://contoso.crm.dynamics.com/.default",
    })
    .to_string();
    let multipart = format!(
        "--b\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--b--\r\n{form}"
    );
    let cases = [
        (Some("application/json"), json.as_str()),
        (Some("application/json"), form.as_str()),
        (Some("text/plain"), form.as_str()),
        (None, form.as_str()),
        (Some("multipart/form-data; boundary=b"), multipart.as_str()),
        (Some("application/x-www-form-urlencodedx"), form.as_str()),
        (Some("application/x-www-form-urlencoded"), json.as_str()),
    ];
    for (content_type, body) in cases {
        for path in [token_path(CONTOSO), format!("/{CONTOSO}/oauth2/token")] {
            let answer = post_with_content_type(&entra, &path, content_type, body).await;
            assert_aad(
                &answer,
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            );
            assert!(!answer.text.contains(SECRET), "{content_type:?}");
        }
    }
}

#[tokio::test]
async fn form_content_type_is_matched_in_any_case_with_parameters() {
    let entra = entra();
    let form = encoded(&secret_form(IMPORTER, SECRET));
    for content_type in [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded;charset=utf-8",
        "Application/X-WWW-Form-URLEncoded; Charset=UTF-8",
        " application/x-www-form-urlencoded ; charset=\"utf-8\"",
    ] {
        let answer =
            post_with_content_type(&entra, &token_path(CONTOSO), Some(content_type), &form).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{content_type}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn the_content_type_check_can_be_turned_off() {
    let mut config = config();
    config.require_form_content_type = false;
    let entra = service(config).expect("valid config");
    let form = encoded(&secret_form(IMPORTER, SECRET));
    for content_type in [None, Some("text/plain"), Some("application/json")] {
        let answer =
            post_with_content_type(&entra, &token_path(CONTOSO), content_type, &form).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{content_type:?}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn other_grants_are_aadsts70003() {
    let mut form = secret_form(IMPORTER, SECRET);
    form[0] = ("grant_type", "password");
    let answer = post(&entra(), &token_path(CONTOSO), &form).await;
    assert_aad(
        &answer,
        400,
        "unsupported_grant_type",
        70003,
        "The app requested an unsupported grant type 'password'.",
    );
}

// ---- rows 9, 10, 11 ----

#[tokio::test]
async fn scopes_without_default_are_aadsts1002012() {
    let mut form = secret_form(IMPORTER, SECRET);
    form[3] = (
        "scope",
        "https://contoso.crm.dynamics.com/user_impersonation",
    );
    let answer = post(&entra(), &token_path(CONTOSO), &form).await;
    assert_aad(
        &answer,
        400,
        "invalid_scope",
        1002012,
        "The provided value for scope https://contoso.crm.dynamics.com/user_impersonation is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
    );
}

#[tokio::test]
async fn two_resources_are_aadsts70011() {
    let scope = "https://contoso.crm.dynamics.com/.default https://graph.microsoft.com/.default";
    let mut form = secret_form(IMPORTER, SECRET);
    form[3] = ("scope", scope);
    let answer = post(&entra(), &token_path(CONTOSO), &form).await;
    assert_aad(
        &answer,
        400,
        "invalid_scope",
        70011,
        &format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
        ),
    );
}

#[tokio::test]
async fn resources_outside_dynamics_or_tenants_without_it_are_aadsts500011() {
    let message = |resource: &str, tenant: &str| {
        format!(
            "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
        )
    };
    let entra = entra();
    // Fabrikam has no Dynamics CRM service principal.
    let answer = post(&entra, &token_path(FABRIKAM), &secret_form(MULTI, SECRET)).await;
    assert_aad(
        &answer,
        400,
        "invalid_resource",
        500011,
        &message(DATAVERSE, "Fabrikam"),
    );
    for resource in [
        "https://graph.microsoft.com",
        "https://contoso.crm.dynamics.com/XRMServices/2011/Organization.svc",
        "https://contoso.example.com",
    ] {
        let scope = format!("{resource}/.default");
        let mut form = secret_form(IMPORTER, SECRET);
        form[3] = ("scope", &scope);
        let answer = post(&entra, &token_path(CONTOSO), &form).await;
        assert_aad(
            &answer,
            400,
            "invalid_resource",
            500011,
            &message(resource, "Contoso"),
        );
    }
}

#[tokio::test]
async fn a_disabled_dynamics_principal_is_aadsts500014() {
    let mut config = config();
    config.tenants[0].dynamics_enabled = false;
    let entra = service(config).expect("valid config");
    let answer = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_aad(
        &answer,
        400,
        "invalid_resource",
        500014,
        &format!(
            "The service principal for resource '{DATAVERSE}' is disabled. This indicate that a subscription within the tenant has lapsed, or that the administrator for this tenant has disabled the application, preventing tokens from being issued for it."
        ),
    );
}

// ---- row 12 ----

#[tokio::test]
async fn disabled_app_is_aadsts7000112() {
    let answer = post(
        &entra(),
        &token_path(CONTOSO),
        &secret_form(DISABLED, SECRET),
    )
    .await;
    assert_aad(
        &answer,
        400,
        "unauthorized_client",
        7000112,
        &format!("Application '{DISABLED}'(Retired Importer) is disabled."),
    );
}

// ---- rows 13, 13b, 14: certificate assertions ----

struct AssertionSpec<'a> {
    algorithm: jsonwebtoken::Algorithm,
    sha256: bool,
    thumbprint_cert: &'a str,
    signing_key: &'a str,
    claims: Value,
}

fn assertion(spec: AssertionSpec<'_>) -> String {
    let mut header = jsonwebtoken::Header::new(spec.algorithm);
    header.typ = Some("JWT".into());
    let cert = der(spec.thumbprint_cert);
    if spec.sha256 {
        header.x5t_s256 = Some(sha256_thumbprint(&cert));
    } else {
        header.x5t = Some(sha1_thumbprint(&cert));
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(spec.signing_key.as_bytes()).expect("key");
    jsonwebtoken::encode(&header, &spec.claims, &key).expect("signs")
}

fn claims(aud: &str, exp: Value, nbf: Option<Value>) -> Value {
    let mut claims = json!({
        "aud": aud, "iss": IMPORTER, "sub": IMPORTER, "jti": "j1", "exp": exp,
    });
    if let Some(nbf) = nbf {
        claims["nbf"] = nbf;
    }
    claims
}

fn assertion_form(jwt: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "client_credentials"),
        ("client_id", IMPORTER),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("client_assertion", jwt),
        ("scope", "https://contoso.crm.dynamics.com/.default"),
    ]
}

const NOW: i64 = 1_772_366_400; // 2026-03-01T12:00:00Z

fn endpoint() -> String {
    format!("https://login.microsoftonline.com/{CONTOSO}/oauth2/v2.0/token")
}

#[tokio::test]
async fn assertions_in_every_library_shape_get_tokens_with_appidacr_2() {
    let entra = entra();
    let shapes = [
        // msal-node / MSAL Python PFX: PS256 + x5t#S256, integer or float times, no nbf.
        (jsonwebtoken::Algorithm::PS256, true, json!(NOW + 600), None),
        (
            jsonwebtoken::Algorithm::PS256,
            true,
            json!(NOW as f64 + 600.25),
            None,
        ),
        // MSAL.NET: times as strings.
        (
            jsonwebtoken::Algorithm::PS256,
            true,
            json!((NOW + 600).to_string()),
            Some(json!(NOW.to_string())),
        ),
        // azure-identity async, MSAL Python PEM: RS256 + x5t.
        (
            jsonwebtoken::Algorithm::RS256,
            false,
            json!(NOW + 1800),
            Some(json!(NOW)),
        ),
    ];
    for (algorithm, sha256, exp, nbf) in shapes {
        let jwt = assertion(AssertionSpec {
            algorithm,
            sha256,
            thumbprint_cert: CLIENT_CERT,
            signing_key: CLIENT_KEY,
            claims: claims(&endpoint(), exp.clone(), nbf),
        });
        let answer = post(&entra, &token_path(CONTOSO), &assertion_form(&jwt)).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{algorithm:?} {exp}: {}",
            answer.text
        );
        let token = answer.json()["access_token"]
            .as_str()
            .expect("token")
            .to_owned();
        assert_eq!(token_claims(&token)["appidacr"], "2");
    }
    // The domain form of the endpoint is accepted as audience too (UNCONFIRMED choice).
    let jwt = assertion(AssertionSpec {
        algorithm: jsonwebtoken::Algorithm::PS256,
        sha256: true,
        thumbprint_cert: CLIENT_CERT,
        signing_key: CLIENT_KEY,
        claims: claims(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
            json!(NOW + 600),
            None,
        ),
    });
    let answer = post(&entra, &token_path(CONTOSO), &assertion_form(&jwt)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn padded_thumbprints_from_msal_python_are_accepted() {
    let cert = der(CLIENT_CERT);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.x5t_s256 = Some(format!("{}=", sha256_thumbprint(&cert)));
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(CLIENT_KEY.as_bytes()).expect("key");
    let jwt = jsonwebtoken::encode(&header, &claims(&endpoint(), json!(NOW + 600), None), &key)
        .expect("signs");
    let answer = post(&entra(), &token_path(CONTOSO), &assertion_form(&jwt)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

#[tokio::test]
async fn unregistered_certificate_is_aadsts700027() {
    let jwt = assertion(AssertionSpec {
        algorithm: jsonwebtoken::Algorithm::RS256,
        sha256: false,
        thumbprint_cert: OTHER_CERT,
        signing_key: OTHER_KEY,
        claims: claims(&endpoint(), json!(NOW + 600), None),
    });
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &der(OTHER_CERT),
    );
    let hex: String = digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect();
    let answer = post(&entra(), &token_path(CONTOSO), &assertion_form(&jwt)).await;
    assert_aad(
        &answer,
        401,
        "invalid_client",
        700027,
        &format!(
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{hex}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{IMPORTER}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{IMPORTER}']"
        ),
    );
}

#[tokio::test]
async fn signature_by_another_key_is_aadsts700027_with_the_found_key() {
    let jwt = assertion(AssertionSpec {
        algorithm: jsonwebtoken::Algorithm::PS256,
        sha256: true,
        thumbprint_cert: CLIENT_CERT,
        signing_key: OTHER_KEY,
        claims: claims(&endpoint(), json!(NOW + 600), None),
    });
    let answer = post(&entra(), &token_path(CONTOSO), &assertion_form(&jwt)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let description = answer.json()["error_description"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(description.starts_with("AADSTS700027: Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '"), "{description}");
    assert!(
        description.contains("Found key 'Start=01/01/2026 00:00:00, End=01/01/2027 00:00:00'"),
        "{description}"
    );
}

#[tokio::test]
async fn assertions_outside_their_validity_are_aadsts700024() {
    let entra = entra();
    let expired = assertion(AssertionSpec {
        algorithm: jsonwebtoken::Algorithm::PS256,
        sha256: true,
        thumbprint_cert: CLIENT_CERT,
        signing_key: CLIENT_KEY,
        claims: claims(&endpoint(), json!(NOW - 3600), None),
    });
    let answer = post(&entra, &token_path(CONTOSO), &assertion_form(&expired)).await;
    assert_aad(
        &answer,
        401,
        "invalid_client",
        700024,
        "Client assertion is not within its valid time range. Current time: 2026-03-01T12:00:00.0000000Z, assertion valid from 1970-01-01T00:00:00.0000000Z, expiry time of assertion 2026-03-01T11:00:00.0000000Z. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
    );
    let premature = assertion(AssertionSpec {
        algorithm: jsonwebtoken::Algorithm::PS256,
        sha256: true,
        thumbprint_cert: CLIENT_CERT,
        signing_key: CLIENT_KEY,
        claims: claims(&endpoint(), json!(NOW + 7200), Some(json!(NOW + 3600))),
    });
    let answer = post(&entra, &token_path(CONTOSO), &assertion_form(&premature)).await;
    assert_aad(
        &answer,
        401,
        "invalid_client",
        700024,
        "Client assertion is not within its valid time range. Current time: 2026-03-01T12:00:00.0000000Z, assertion valid from 2026-03-01T13:00:00.0000000Z, expiry time of assertion 2026-03-01T14:00:00.0000000Z. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
    );
}

#[tokio::test]
async fn assertion_for_another_endpoint_or_client_is_refused() {
    let entra = entra();
    let wrong_audience = assertion(AssertionSpec {
        algorithm: jsonwebtoken::Algorithm::PS256,
        sha256: true,
        thumbprint_cert: CLIENT_CERT,
        signing_key: CLIENT_KEY,
        claims: claims(
            &format!("https://sts.windows.net/{CONTOSO}/"),
            json!(NOW + 600),
            None,
        ),
    });
    let answer = post(
        &entra,
        &token_path(CONTOSO),
        &assertion_form(&wrong_audience),
    )
    .await;
    assert_aad(
        &answer,
        400,
        "invalid_request",
        50027,
        &format!(
            "JWT token is invalid or malformed. The audience 'https://sts.windows.net/{CONTOSO}/' of the client assertion is not the token endpoint '{}'.",
            endpoint()
        ),
    );
    let mut wrong_issuer = claims(&endpoint(), json!(NOW + 600), None);
    wrong_issuer["iss"] = json!(MULTI);
    let jwt = assertion(AssertionSpec {
        algorithm: jsonwebtoken::Algorithm::PS256,
        sha256: true,
        thumbprint_cert: CLIENT_CERT,
        signing_key: CLIENT_KEY,
        claims: wrong_issuer,
    });
    let answer = post(&entra, &token_path(CONTOSO), &assertion_form(&jwt)).await;
    assert_aad(
        &answer,
        400,
        "invalid_request",
        50027,
        &format!(
            "JWT token is invalid or malformed. The 'iss' claim of the client assertion must be the client id '{IMPORTER}'."
        ),
    );
    let garbage = post(&entra, &token_path(CONTOSO), &assertion_form("not.a.jwt")).await;
    assert_aad(
        &garbage,
        400,
        "invalid_request",
        50027,
        "JWT token is invalid or malformed. The client assertion header is not base64url JSON.",
    );
}

fn signed(claims: Value) -> String {
    assertion(AssertionSpec {
        algorithm: jsonwebtoken::Algorithm::PS256,
        sha256: true,
        thumbprint_cert: CLIENT_CERT,
        signing_key: CLIENT_KEY,
        claims,
    })
}

#[tokio::test]
async fn replayed_assertions_are_accepted_by_default_as_msal_reuses_them() {
    let entra = entra();
    let jwt = signed(claims(&endpoint(), json!(NOW + 600), None));
    for _ in 0..3 {
        let answer = post(&entra, &token_path(CONTOSO), &assertion_form(&jwt)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    assert_eq!(entra.snapshot().remembered_assertions(), 0);
}

#[tokio::test]
async fn replayed_assertions_are_refused_when_configured_until_they_expire() {
    let mut config = config();
    config.assertion_replay = AssertionReplayPolicy::Reject { capacity: 100 };
    let clock = config.clock.clone();
    let entra = service(config).expect("valid config");
    let jwt = signed(claims(&endpoint(), json!(NOW + 600), None));
    let first = post(&entra, &token_path(CONTOSO), &assertion_form(&jwt)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let replay = post(&entra, &token_path(CONTOSO), &assertion_form(&jwt)).await;
    assert_aad(
        &replay,
        400,
        "invalid_request",
        50027,
        "JWT token is invalid or malformed. The client assertion with 'jti' 'j1' was already used; sign a new assertion for each request.",
    );
    // Another assertion with the same jti from the same client is a replay too.
    let same_jti = signed(claims(&endpoint(), json!(NOW + 601), None));
    let answer = post(&entra, &token_path(CONTOSO), &assertion_form(&same_jti)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.text);
    assert_eq!(entra.snapshot().remembered_assertions(), 1);

    // Past exp plus the skew the assertion is expired, and its jti is forgotten.
    clock
        .advance(time::Duration::seconds(600 + 300 + 1))
        .expect("manual clock");
    let expired = post(&entra, &token_path(CONTOSO), &assertion_form(&jwt)).await;
    assert_eq!(
        expired.json()["error_codes"],
        json!([700024]),
        "{}",
        expired.text
    );
    let mut fresh = claims(&endpoint(), json!(NOW + 901 + 600), None);
    fresh["jti"] = json!("j2");
    let answer = post(
        &entra,
        &token_path(CONTOSO),
        &assertion_form(&signed(fresh)),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(entra.snapshot().remembered_assertions(), 1, "j1 was freed");
}

#[tokio::test]
async fn assertions_without_jti_are_refused_when_replays_are() {
    let mut config = config();
    config.assertion_replay = AssertionReplayPolicy::Reject { capacity: 100 };
    let entra = service(config).expect("valid config");
    let mut without = claims(&endpoint(), json!(NOW + 600), None);
    without.as_object_mut().expect("object").remove("jti");
    let answer = post(
        &entra,
        &token_path(CONTOSO),
        &assertion_form(&signed(without)),
    )
    .await;
    assert_aad(
        &answer,
        400,
        "invalid_request",
        50027,
        "JWT token is invalid or malformed. The client assertion has no 'jti' claim.",
    );
}

// ---- rows 17, 19, 20 ----

#[tokio::test]
async fn common_and_organizations_are_aadsts50059_by_default() {
    let entra = entra();
    for alias in ["common", "organizations"] {
        for path in [token_path(alias), format!("/{alias}/oauth2/token")] {
            let mut form = secret_form(IMPORTER, SECRET);
            form.push(("resource", DATAVERSE));
            let answer = post(&entra, &path, &form).await;
            assert_aad(
                &answer,
                400,
                "invalid_request",
                50059,
                "No tenant-identifying information found in either the request or implied by any provided credentials.",
            );
        }
    }
    let mut config = config();
    config.common_tenant = CommonTenantPolicy::HomeTenant;
    let entra = service(config).expect("valid config");
    let answer = post(
        &entra,
        &token_path("organizations"),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let token = answer.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(token_claims(&token)["tid"], CONTOSO);
}

#[tokio::test]
async fn get_on_the_token_endpoint_is_aadsts900561() {
    let answer = get(&entra(), &token_path(CONTOSO)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let body = answer.json();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_codes"], json!([900561]));
    assert!(
        body["error_description"]
            .as_str()
            .expect("text")
            .starts_with(
                "AADSTS900561: The endpoint only accepts POST requests. Received a GET request."
            )
    );
}

#[tokio::test]
async fn clients_over_the_rate_limit_get_429_with_retry_after_until_the_window_ends() {
    let mut config = config();
    config.rate_limit = Some(RateLimit {
        requests: 2,
        window_seconds: 60,
    });
    let clock = config.clock.clone();
    let entra = service(config).expect("valid config");
    for _ in 0..2 {
        let answer = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    clock
        .advance(time::Duration::seconds(15))
        .expect("manual clock");
    let throttled = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.headers["retry-after"], "45");
    assert_eq!(throttled.text, "Too Many Requests");
    assert!(throttled.headers.contains_key("x-ms-request-id"));
    clock
        .advance(time::Duration::seconds(45))
        .expect("manual clock");
    let again = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(again.status, StatusCode::OK);
}

// ---- forced errors ----

#[tokio::test]
async fn forced_errors_replay_any_catalogue_entry_for_one_app() {
    let mut config = config();
    config.forced_errors = vec![
        ForcedError {
            error: "AADSTS65001".into(),
            client_id: Some(IMPORTER.into()),
            tenant: None,
            nth: Some(1),
            times: None,
        },
        ForcedError {
            error: "throttled".into(),
            client_id: Some(IMPORTER.into()),
            tenant: None,
            nth: Some(2),
            times: None,
        },
    ];
    let entra = service(config).expect("valid config");
    let first = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_aad(
        &first,
        400,
        "invalid_grant",
        65001,
        &format!(
            "The user or administrator has not consented to use the application with ID '{IMPORTER}' named 'MultiSource Importer'. Send an interactive authorization request for this user and resource."
        ),
    );
    let second = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(second.headers["retry-after"], "60");
    let third = post(&entra, &token_path(CONTOSO), &secret_form(IMPORTER, SECRET)).await;
    assert_eq!(third.status, StatusCode::OK);
}

#[test]
fn unknown_forced_errors_are_refused_with_the_catalogue() {
    let mut config = config();
    config.forced_errors = vec![ForcedError {
        error: "AADSTS123".into(),
        client_id: None,
        tenant: None,
        nth: None,
        times: None,
    }];
    let error = service(config).expect_err("unknown entry");
    let text = error.to_string();
    assert!(
        text.contains(
            "forced error `AADSTS123` is not in the catalogue; known: tenant_not_found (90002)"
        ),
        "{text}"
    );
    assert!(text.contains("consent_required (65001)"), "{text}");
}

// ---- trailer, ids ----

#[tokio::test]
async fn trailer_separator_and_wording_are_configurable() {
    let mut config = config();
    config.trailer_separator = TrailerSeparator::CrLf;
    config.message_overrides = BTreeMap::from([(
        "invalid_client_secret".to_owned(),
        "Invalid client secret is provided.".to_owned(),
    )]);
    let entra = service(config).expect("valid config");
    let answer = post(
        &entra,
        &token_path(CONTOSO),
        &secret_form(IMPORTER, "wrong"),
    )
    .await;
    let body = answer.json();
    let description = body["error_description"].as_str().expect("text");
    let expected = format!(
        "AADSTS7000215: Invalid client secret is provided.\r\nTrace ID: {}\r\nCorrelation ID: c0ffee00-0000-4000-8000-000000000001\r\nTimestamp: 2026-03-01 12:00:00Z",
        body["trace_id"].as_str().expect("trace id")
    );
    assert_eq!(description, expected);
    assert_eq!(body["timestamp"], "2026-03-01 12:00:00Z");
}

#[tokio::test]
async fn error_body_fields_come_in_entras_order() {
    let answer = post(
        &entra(),
        &token_path(CONTOSO),
        &secret_form(IMPORTER, "wrong"),
    )
    .await;
    let keys: Vec<&str> = [
        "\"error\"",
        "\"error_description\"",
        "\"error_codes\"",
        "\"timestamp\"",
        "\"trace_id\"",
        "\"correlation_id\"",
        "\"error_uri\"",
    ]
    .into_iter()
    .collect();
    let positions: Vec<usize> = keys
        .iter()
        .map(|key| answer.text.find(key).expect(key))
        .collect();
    let mut sorted = positions.clone();
    sorted.sort_unstable();
    assert_eq!(positions, sorted, "{}", answer.text);
}

// ---- success ----

fn token_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

/// Verifies `token` against the JWKS the fake publishes, as Dataverse would.
async fn verify_with_jwks(entra: &Entra, token: &str, audience: &str) -> Value {
    let jwks = get(entra, "/common/discovery/keys").await.json();
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).expect("a JWKS");
    let header = jsonwebtoken::decode_header(token).expect("header");
    assert_eq!(header.kid, header.x5t);
    let jwk = set
        .find(header.kid.as_deref().expect("kid"))
        .expect("kid is published");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("rsa key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[format!("https://sts.windows.net/{CONTOSO}/")]);
    validation.validate_exp = false; // the manual clock is in the past of the real one
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("signature, audience and issuer verify")
        .claims
}

#[tokio::test]
async fn v2_token_is_a_v1_layout_dataverse_token_that_validates_against_the_jwks() {
    let entra = entra();
    let answer = post(
        &entra,
        &token_path("contoso.onmicrosoft.com"),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.headers["cache-control"], "no-store, no-cache");
    let body = answer.json();
    let keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 4, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["ext_expires_in"], 3599);
    assert!(answer.text.starts_with("{\"token_type\":\"Bearer\",\"expires_in\":3599,\"ext_expires_in\":3599,\"access_token\":\"eyJ"));
    let token = body["access_token"].as_str().expect("token");
    let claims = verify_with_jwks(&entra, token, DATAVERSE).await;
    let expected_oid = Uuid::new_v5(
        &Uuid::NAMESPACE_URL,
        format!("d365-harness:service-principal:{CONTOSO}:{IMPORTER}").as_bytes(),
    )
    .to_string();
    assert_eq!(claims["aud"], DATAVERSE);
    assert_eq!(claims["iat"], NOW - 300);
    assert_eq!(claims["nbf"], NOW - 300);
    assert_eq!(claims["exp"], NOW + 3600);
    assert_eq!(claims["appid"], IMPORTER);
    assert_eq!(claims["appidacr"], "1");
    assert_eq!(claims["app_displayname"], "MultiSource Importer");
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["idp"], format!("https://sts.windows.net/{CONTOSO}/"));
    assert_eq!(claims["oid"], expected_oid);
    assert_eq!(claims["sub"], expected_oid);
    assert_eq!(claims["tid"], CONTOSO);
    assert_eq!(claims["tenant_region_scope"], "NA");
    assert_eq!(claims["ver"], "1.0");
    assert!(claims.get("roles").is_none() && claims.get("scp").is_none());
    assert!(claims["rh"].as_str().expect("rh").starts_with("0."));
}

#[tokio::test]
async fn v1_token_keeps_the_resource_as_sent_and_numbers_as_strings() {
    let entra = entra();
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", IMPORTER),
        ("client_secret", SECRET),
        ("resource", "https://contoso.crm4.dynamics.com/"),
    ];
    let answer = post(&entra, &format!("/{CONTOSO}/oauth2/token"), &form).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["expires_in"], "3599");
    assert_eq!(body["ext_expires_in"], "3599");
    assert_eq!(body["expires_on"], (NOW + 3600).to_string());
    assert_eq!(body["not_before"], (NOW - 300).to_string());
    assert_eq!(body["resource"], "https://contoso.crm4.dynamics.com/");
    let token = body["access_token"].as_str().expect("token");
    let claims = verify_with_jwks(&entra, token, "https://contoso.crm4.dynamics.com/").await;
    assert_eq!(claims["aud"], "https://contoso.crm4.dynamics.com/");
}

#[tokio::test]
async fn basic_authentication_and_scope_with_a_double_slash() {
    let credentials = STANDARD.encode(format!(
        "{IMPORTER}:{}",
        form_urlencoded::byte_serialize(SECRET.as_bytes()).collect::<String>()
    ));
    let request = Request::post(token_path(CONTOSO))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("authorization", format!("Basic {credentials}"))
        .body(Bytes::from("grant_type=client_credentials&scope=https%3A%2F%2Fcontoso.api.crm.dynamics.com%2F%2F.default"))
        .expect("request");
    let answer = send(&entra(), request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let token = answer.json()["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    assert_eq!(
        token_claims(&token)["aud"],
        "https://contoso.api.crm.dynamics.com/"
    );
}

#[tokio::test]
async fn telemetry_fields_and_query_strings_are_ignored_and_correlation_comes_from_the_query() {
    let body = format!(
        "client_id={IMPORTER}&scope=https%3A%2F%2Fcontoso.crm.dynamics.com%2F.default&grant_type=client_credentials&x-client-SKU=msal.js.node&x-client-VER=3.0&client_info=1&client_secret={}",
        form_urlencoded::byte_serialize(b"wrong").collect::<String>()
    );
    let request = Request::post(format!(
        "{}?client-request-id=11112222-3333-4444-5555-666677778888",
        token_path(CONTOSO)
    ))
    .header(
        "content-type",
        "application/x-www-form-urlencoded;charset=utf-8",
    )
    .body(Bytes::from(body))
    .expect("request");
    let answer = send(&entra(), request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.json()["correlation_id"],
        "11112222-3333-4444-5555-666677778888"
    );
}

#[tokio::test]
async fn same_seed_same_answers() {
    let first = post(
        &entra(),
        &token_path(CONTOSO),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    let second = post(
        &entra(),
        &token_path(CONTOSO),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    assert_eq!(first.text, second.text);
}

// ---- discovery ----

/// The served bytes, exactly, with a line break before each field so snapshots review well.
fn one_field_per_line(text: &str) -> String {
    text.replace(",\"", ",\n\"")
}

#[tokio::test]
async fn openid_configuration_v2_names_the_tenant_guid_and_our_host() {
    let answer = get(
        &entra(),
        "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
    insta::assert_snapshot!("openid_configuration_v2", one_field_per_line(&answer.text));
}

#[tokio::test]
async fn openid_configuration_v1_and_common() {
    let entra = entra();
    let v1 = get(
        &entra,
        &format!("/{CONTOSO}/.well-known/openid-configuration"),
    )
    .await;
    insta::assert_snapshot!("openid_configuration_v1", one_field_per_line(&v1.text));
    let common = get(&entra, "/common/v2.0/.well-known/openid-configuration")
        .await
        .json();
    assert_eq!(
        common["issuer"],
        "https://login.microsoftonline.com/{tenantid}/v2.0"
    );
    assert_eq!(
        common["token_endpoint"],
        "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    );
    assert_eq!(common["tenant_region_scope"], Value::Null);
}

#[tokio::test]
async fn jwks_v2_has_issuer_and_v1_has_none() {
    let entra = entra();
    let v2 = get(&entra, "/common/discovery/v2.0/keys").await.json();
    let key = &v2["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["e"], "AQAB");
    assert_eq!(key["kid"], key["x5t"]);
    assert_eq!(
        key["issuer"],
        "https://login.microsoftonline.com/{tenantid}/v2.0"
    );
    let tenant = get(&entra, &format!("/{CONTOSO}/discovery/v2.0/keys"))
        .await
        .json();
    assert_eq!(
        tenant["keys"][0]["issuer"],
        format!("https://login.microsoftonline.com/{CONTOSO}/v2.0")
    );
    let v1 = get(&entra, "/common/discovery/keys").await.json();
    assert!(v1["keys"][0].get("issuer").is_none());
    let x5c = STANDARD
        .decode(key["x5c"][0].as_str().expect("x5c"))
        .expect("base64");
    assert_eq!(sha1_thumbprint(&x5c), key["kid"].as_str().expect("kid"));
}

#[tokio::test]
async fn instance_discovery_knows_the_clouds_and_refuses_other_hosts() {
    let entra = entra();
    // azure-identity sends the URL unencoded, requests encodes it: both work.
    for query in [
        "api-version=1.1&authorization_endpoint=https://login.microsoftonline.com/common/oauth2/authorize",
        "api-version=1.0&authorization_endpoint=https%3A%2F%2Flogin.microsoftonline.com%2Fcontoso.onmicrosoft.com%2Foauth2%2Fv2.0%2Fauthorize",
    ] {
        let answer = get(&entra, &format!("/common/discovery/instance?{query}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let body = answer.json();
        assert_eq!(body["api-version"], "1.1");
        assert_eq!(body["metadata"][0]["preferred_cache"], "login.windows.net");
        assert_eq!(body["metadata"].as_array().expect("list").len(), 5);
    }
    let body = get(&entra, "/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize").await.json();
    assert_eq!(
        body["tenant_discovery_endpoint"],
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    );
    let unknown = get(&entra, "/common/discovery/instance?api-version=1.1&authorization_endpoint=https://login.example.com/t/oauth2/v2.0/authorize").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    let body = unknown.json();
    assert_eq!(body["error"], "invalid_instance");
    assert!(
        body["error_description"]
            .as_str()
            .expect("text")
            .starts_with("AADSTS50049: Unknown or invalid instance. Trace ID: ")
    );
}

#[tokio::test]
async fn unknown_paths_list_what_is_served() {
    let request = Request::builder()
        .method(Method::DELETE)
        .uri("/x/y")
        .body(Bytes::new())
        .expect("request");
    let answer = send(&entra(), request).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let body = answer.json();
    assert_eq!(
        body["error_description"],
        "d365-harness fake Entra ID does not serve DELETE /x/y"
    );
    assert!(
        body["supported"]
            .as_array()
            .expect("list")
            .contains(&json!("POST /{tenant}/oauth2/v2.0/token"))
    );
}

/// 60 KB of client input echoes at most `fake_core::MAX_ECHO_CHARS` characters of it.
#[track_caller]
fn assert_bounded(answer: &Answer, huge: &str) {
    assert!(answer.status.is_client_error(), "{}", answer.status);
    assert!(answer.text.len() < 4096, "{} bytes", answer.text.len());
    let echoed = format!("{}…", &huge[..fake_core::MAX_ECHO_CHARS]);
    assert!(answer.text.contains(&echoed), "{}", answer.text);
}

#[tokio::test]
async fn huge_paths_tenants_scopes_and_resources_are_echoed_bounded() {
    let entra = entra();
    let huge_path = format!("/{}", "p".repeat(60_000));
    let answer = get(&entra, &huge_path).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_bounded(&answer, &huge_path);

    let huge_tenant = format!("{}.com", "t".repeat(60_000));
    let answer = post(
        &entra,
        &token_path(&huge_tenant),
        &secret_form(IMPORTER, SECRET),
    )
    .await;
    assert_bounded(&answer, &huge_tenant);
    assert_eq!(answer.json()["error_codes"], json!([900023]));
    let answer = get(
        &entra,
        &format!("/{huge_tenant}/v2.0/.well-known/openid-configuration"),
    )
    .await;
    assert_bounded(&answer, &huge_tenant);

    let huge_scope = format!("https://{}/user_impersonation", "s".repeat(60_000));
    let mut form = secret_form(IMPORTER, SECRET);
    form[3] = ("scope", &huge_scope);
    let answer = post(&entra, &token_path(CONTOSO), &form).await;
    assert_bounded(&answer, &huge_scope);
    assert_eq!(answer.json()["error_codes"], json!([1002012]));

    let huge_resource = format!("https://{}.example.com", "r".repeat(60_000));
    let v1 = [
        ("grant_type", "client_credentials"),
        ("client_id", IMPORTER),
        ("client_secret", SECRET),
        ("resource", &huge_resource),
    ];
    let answer = post(&entra, &format!("/{CONTOSO}/oauth2/token"), &v1).await;
    assert_bounded(&answer, &huge_resource);
    assert_eq!(answer.json()["error_codes"], json!([500011]));

    let huge_client = "c".repeat(60_000);
    let answer = post(
        &entra,
        &token_path(CONTOSO),
        &secret_form(&huge_client, SECRET),
    )
    .await;
    assert_bounded(&answer, &huge_client);
    let mut form = secret_form(IMPORTER, SECRET);
    form[0] = ("grant_type", &huge_client);
    let answer = post(&entra, &token_path(CONTOSO), &form).await;
    assert_bounded(&answer, &huge_client);
}

#[tokio::test]
async fn garbage_never_panics() {
    let entra = entra();
    let bodies: [&[u8]; 5] = [
        b"",
        b"\xff\xfe\x00",
        b"{\"json\":true}",
        b"grant_type=client_credentials&client_id=%ZZ",
        b"&&&===&",
    ];
    for body in bodies {
        for path in [
            token_path(CONTOSO),
            format!("/{CONTOSO}/oauth2/token"),
            "/%/oauth2/v2.0/token".into(),
        ] {
            let request = Request::post(path.as_str())
                .header("authorization", "Basic !!!")
                .body(Bytes::from_static(body))
                .expect("request");
            let answer = send(&entra, request).await;
            assert!(answer.status.is_client_error(), "{path}: {}", answer.text);
        }
    }
}

#[test]
fn config_errors_name_the_problem() {
    let mut config = config();
    config.apps[0].home_tenant = uuid("12345678-1234-4234-8234-123456789012");
    let error = service(config).expect_err("unknown tenant");
    assert!(
        matches!(
            error,
            crate::Error::UnknownTenant { tenant, .. }
                if tenant == uuid("12345678-1234-4234-8234-123456789012")
        ),
        "{error:?}"
    );
    let text = error.to_string();
    assert_eq!(
        text,
        format!(
            "invalid fake Entra configuration: app `{IMPORTER}` names tenant `12345678-1234-4234-8234-123456789012`, which is not in the config"
        )
    );
}

#[test]
fn signing_key_errors_keep_their_cause() {
    use std::error::Error as _;

    let error = SigningKey::from_pem("not a PEM", OTHER_CERT).expect_err("no key");
    assert!(
        matches!(
            error,
            crate::Error::SigningKeyPem {
                part: crate::PemPart::PrivateKey,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "invalid signing key: cannot read the private key PEM"
    );
    assert!(error.source().is_some(), "the PEM error is kept");

    let error = SigningKey::from_pem(OTHER_KEY, "not a PEM").expect_err("no certificate");
    assert!(
        matches!(
            error,
            crate::Error::SigningKeyPem {
                part: crate::PemPart::Certificate,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.source().is_some(), "the PEM error is kept");

    // Well-formed PEM around three zero bytes: a PKCS#1 key aws-lc must refuse.
    let garbage = "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n";
    let error = SigningKey::from_pem(garbage, OTHER_CERT).expect_err("not a usable key");
    assert!(
        matches!(error, crate::Error::SigningKeyRejected(_)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "invalid signing key: the private key is not a usable RSA key"
    );
    assert!(error.source().is_some(), "aws-lc's rejection is kept");
}

#[test]
fn replay_protection_without_memory_is_a_config_error() {
    let mut config = config();
    config.assertion_replay = AssertionReplayPolicy::Reject { capacity: 0 };
    let text = service(config).expect_err("no memory").to_string();
    assert_eq!(
        text,
        "invalid fake Entra configuration: assertion replay protection needs a capacity of at least 1"
    );
}

#[test]
fn debug_output_never_shows_secrets_or_keys() {
    let config = config();
    let text = format!("{config:?}");
    assert!(
        !text.contains(SECRET) && !text.contains(OLD_SECRET),
        "{text}"
    );
    assert!(!text.contains("PRIVATE KEY"), "{text}");
}

#[test]
fn dynamics_hosts_per_cloud() {
    #[track_caller]
    fn check(cloud: Cloud, host: &str, expected: bool) {
        assert_eq!(cloud.is_dynamics_host(host), expected, "{cloud:?} {host}");
    }
    check(Cloud::Public, "contoso.crm.dynamics.com", true);
    check(Cloud::Public, "contoso.crm4.dynamics.com", true);
    check(Cloud::Public, "contoso.crm11.dynamics.com", true);
    check(Cloud::Public, "contoso.api.crm.dynamics.com", true);
    check(Cloud::Public, "contoso.crm123.dynamics.com", false);
    check(Cloud::Public, "contoso.crm.dynamics.cn", false);
    check(Cloud::Public, "crm.dynamics.com", false);
    check(Cloud::Public, "-x.crm.dynamics.com", false);
    check(
        Cloud::UsGovernment,
        "contoso.crm.microsoftdynamics.us",
        true,
    );
    check(Cloud::UsGovernment, "contoso.crm.appsplatform.us", true);
    check(Cloud::China, "contoso.crm.dynamics.cn", true);
}
