//! The fake Dataverse in-process, without a socket: the authentication and authorization
//! pipeline in order, the functions, and the error envelope, with exact statuses, codes and
//! messages. Tokens are signed here with the committed test key, as fake-entra would sign them.

use std::collections::BTreeMap;

use bytes::Bytes;
use fake_core::{Clock, IdGenerator, RequestContext, Service};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use time::macros::datetime;
use uuid::Uuid;

use crate::*;

// A world's own table (cr7a1_asset): metadata, queries and privileges.
mod custom;
// Tables: lists, paging, row security, single rows, expands, formatted values.
mod data;
// Hostile queries: any depth, any length, arbitrary options, through the handler.
mod limits;
// EntityDefinitions, $metadata and the service document.
mod metadata;
// Bearer tokens of every shape: IdentityModel reasons, and properties over arbitrary tokens.
mod auth;
mod changes;

pub(crate) const TENANT: &str = "6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10";
pub(crate) const IMPORTER: &str = "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01";
pub(crate) const DISABLED_APP: &str = "0d0d0d0d-1111-4222-8333-444455556666";
pub(crate) const ROLELESS_APP: &str = "7a7a7a7a-1111-4222-8333-444455556666";
pub(crate) const ADMIN_APP: &str = "5b5b5b5b-1111-4222-8333-444455556666";
pub(crate) const STRANGER_APP: &str = "99999999-8888-4777-8666-555555555555";
pub(crate) const HOST: &str = "contoso.crm.dynamics.com";
pub(crate) const ROOT_UNIT: &str = "cca3985e-c618-ea11-a811-000d3a33f066";
pub(crate) const SALES_UNIT: &str = "dfe37870-c618-ea11-a811-000d3a33f066";
pub(crate) const IMPORTER_USER: &str = "2138bd90-ec19-ea11-a811-000d3a334e11";
pub(crate) const ORGANIZATION: &str = "f2c9290b-0806-4d48-bf9c-3814d4286755";
const KEY: &str = include_str!("../../../fixtures/keys/entra-signing.key.pem");
const OTHER_KEY: &str = include_str!("../../../fixtures/keys/importer-client.key.pem");
pub(crate) const NOW: i64 = 1_772_366_400; // 2026-03-01T12:00:00Z

pub(crate) fn uuid(text: &str) -> Uuid {
    Uuid::parse_str(text).expect("test GUID")
}

/// The JWKS fake-entra publishes for the committed key (built here from the key itself).
fn jwks() -> jsonwebtoken::jwk::JwkSet {
    let encoding = EncodingKey::from_rsa_pem(KEY.as_bytes()).expect("key");
    let mut jwk =
        jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("jwk");
    jwk.common.key_id = Some(kid());
    jsonwebtoken::jwk::JwkSet { keys: vec![jwk] }
}

/// Any stable key id works: the fake picks keys by `kid` and does not derive it.
fn kid() -> String {
    "d365-harness-test-kid".to_owned()
}

pub(crate) fn token_with(claims: Value, key: &str) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid());
    header.x5t = Some(kid());
    header.typ = Some("JWT".into());
    jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(key.as_bytes()).expect("key"),
    )
    .expect("signs")
}

pub(crate) fn claims(app: &str) -> Value {
    json!({
        "aud": format!("https://{HOST}"),
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "iat": NOW - 300, "nbf": NOW - 300, "exp": NOW + 3600,
        "appid": app, "appidacr": "1", "idtyp": "app", "tid": TENANT,
        "oid": "0a0a0a0a-0000-4000-8000-000000000001", "ver": "1.0",
    })
}

pub(crate) fn token(app: &str) -> String {
    token_with(claims(app), KEY)
}

fn role(id: &str, name: &str, unit: &str, privileges: &[(&str, Depth)]) -> SecurityRole {
    SecurityRole {
        id: uuid(id),
        name: name.into(),
        business_unit: uuid(unit),
        template_id: None,
        privileges: privileges
            .iter()
            .map(|(name, depth)| ((*name).to_owned(), *depth))
            .collect::<BTreeMap<_, _>>(),
    }
}

fn user(id: &str, app: &str, unit: &str, roles: &[&str], enabled: bool) -> ApplicationUser {
    ApplicationUser {
        id: uuid(id),
        application_id: uuid(app),
        object_id: Some(uuid("0a0a0a0a-0000-4000-8000-000000000001")),
        full_name: "# MultiSource Importer".into(),
        business_unit: uuid(unit),
        roles: roles.iter().map(|role| uuid(role)).collect(),
        enabled,
    }
}

pub(crate) const READER_ROLE: &str = "aaaa0001-0000-4000-8000-000000000001";
const ADMIN_ROLE: &str = "aaaa0002-0000-4000-8000-000000000002";

pub(crate) fn environment() -> Environment {
    Environment {
        host: HOST.into(),
        tenant_id: uuid(TENANT),
        organization_id: uuid(ORGANIZATION),
        friendly_name: "Contoso".into(),
        unique_name: "org0335df44".into(),
        environment_id: format!("Default-{TENANT}"),
        version: "9.2.25093.00168".into(),
        geo: "NA".into(),
        admin_mode: false,
        business_units: vec![
            BusinessUnit {
                id: uuid(ROOT_UNIT),
                name: "contoso".into(),
                parent: None,
            },
            BusinessUnit {
                id: uuid(SALES_UNIT),
                name: "Sales".into(),
                parent: Some(uuid(ROOT_UNIT)),
            },
        ],
        roles: vec![
            role(
                READER_ROLE,
                "Importer Reader",
                ROOT_UNIT,
                &[
                    ("prvReadAccount", Depth::Global),
                    ("prvReadContact", Depth::Local),
                ],
            ),
            SecurityRole {
                template_id: Some(uuid("627090ff-40a3-4053-8790-584edc5be201")),
                ..role(
                    ADMIN_ROLE,
                    "System Administrator",
                    ROOT_UNIT,
                    &[
                        ("prvReadAccount", Depth::Global),
                        ("prvReadUser", Depth::Global),
                    ],
                )
            },
        ],
        teams: Vec::new(),
        table_owners: BTreeMap::new(),
        application_users: vec![
            user(IMPORTER_USER, IMPORTER, ROOT_UNIT, &[READER_ROLE], true),
            user(
                "2138bd90-ec19-ea11-a811-000d3a334e12",
                DISABLED_APP,
                ROOT_UNIT,
                &[READER_ROLE],
                false,
            ),
            user(
                "2138bd90-ec19-ea11-a811-000d3a334e13",
                ROLELESS_APP,
                ROOT_UNIT,
                &[],
                true,
            ),
            user(
                "2138bd90-ec19-ea11-a811-000d3a334e14",
                ADMIN_APP,
                ROOT_UNIT,
                &[ADMIN_ROLE],
                true,
            ),
        ],
        tables: Vec::new(),
        data_seed: 1,
        limits: ServiceProtectionLimits::default(),
    }
}

pub(crate) fn config() -> Config {
    let mut config = Config::new(jwks());
    config.clock = Clock::manual(datetime!(2026-03-01 12:00:00 UTC));
    config.ids = IdGenerator::seeded(3);
    config.environments = vec![environment()];
    config
}

pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) headers: http::HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|error| panic!("{error}: {}", self.text))
    }
}

pub(crate) async fn send(dataverse: &Dataverse, request: Request<Bytes>) -> Answer {
    let mut request = request;
    let host = request
        .headers()
        .get("x-test-host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or(HOST)
        .to_owned();
    request.extensions_mut().insert(RequestContext {
        origin: format!("https://{host}"),
        host,
        sequence: 1,
    });
    let response = dataverse.call(request).await;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Answer {
        status,
        headers,
        text: String::from_utf8(body.to_vec()).expect("utf-8"),
    }
}

pub(crate) async fn get(dataverse: &Dataverse, path: &str, token: Option<&str>) -> Answer {
    let mut builder = Request::get(path);
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    send(dataverse, builder.body(Bytes::new()).expect("request")).await
}

#[track_caller]
pub(crate) fn assert_error(answer: &Answer, status: u16, code: &str, message: &str) {
    assert_eq!(answer.status.as_u16(), status, "{}", answer.text);
    assert_eq!(
        answer.json(),
        json!({"error": {"code": code, "message": message}}),
    );
    assert_eq!(
        answer.headers["content-type"],
        "application/json; odata.metadata=minimal"
    );
    assert_eq!(answer.headers["odata-version"], "4.0");
    assert_eq!(
        answer.headers["req_id"],
        answer.headers["x-ms-service-request-id"]
    );
}

fn dataverse() -> std::sync::Arc<Dataverse> {
    service(config()).expect("valid config")
}

const CHALLENGE: &str = "Bearer authorization_uri=https://login.microsoftonline.com/6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10/oauth2/authorize, resource_id=https://contoso.crm.dynamics.com/";

#[track_caller]
fn assert_401(answer: &Answer, reason: Option<&str>) {
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    assert_eq!(answer.text, "", "401 bodies are empty");
    assert_eq!(answer.headers["www-authenticate"], CHALLENGE);
    assert_eq!(
        answer
            .headers
            .get("401_error_reason")
            .map(|value| value.to_str().expect("ascii")),
        reason
    );
}

#[tokio::test]
async fn no_token_is_a_401_challenge_naming_tenant_and_environment() {
    let dataverse = dataverse();
    assert_401(&get(&dataverse, "/api/data/v9.2/WhoAmI", None).await, None);
    // The challenge names the web host even when the API host was called.
    let request = Request::get("/api/data/v9.2/WhoAmI")
        .header("x-test-host", "contoso.api.crm.dynamics.com")
        .body(Bytes::new())
        .expect("request");
    assert_401(&send(&dataverse, request).await, None);
}

#[tokio::test]
async fn bad_tokens_are_401_with_the_reason_header() {
    let dataverse = dataverse();
    let path = "/api/data/v9.2/WhoAmI";
    let answer = get(&dataverse, path, Some("not-a-jwt")).await;
    assert_401(
        &answer,
        Some(
            "IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'.",
        ),
    );

    let forged = token_with(claims(IMPORTER), OTHER_KEY);
    let answer = get(&dataverse, path, Some(&forged)).await;
    assert_401(
        &answer,
        Some(&format!(
            "IDX10511: Signature validation failed. Keys tried: '{0}'. kid: '{0}'.",
            kid()
        )),
    );

    let mut expired = claims(IMPORTER);
    expired["exp"] = json!(NOW - 301);
    let answer = get(&dataverse, path, Some(&token_with(expired, KEY))).await;
    assert_401(
        &answer,
        Some(
            "IDX10223: Lifetime validation failed. The token is expired. ValidTo (UTC): '2026-03-01T11:54:59Z', Current time (UTC): '2026-03-01T12:00:00Z'.",
        ),
    );

    let mut other_org = claims(IMPORTER);
    other_org["aud"] = json!("https://fabrikam.crm.dynamics.com");
    let answer = get(&dataverse, path, Some(&token_with(other_org, KEY))).await;
    assert_401(
        &answer,
        Some(
            "IDX10214: Audience validation failed. Audiences: 'https://fabrikam.crm.dynamics.com'. Did not match: validationParameters.ValidAudience: 'null' or validationParameters.ValidAudiences: 'https://contoso.crm.dynamics.com/, https://contoso.api.crm.dynamics.com/'.",
        ),
    );

    let mut other_tenant = claims(IMPORTER);
    other_tenant["iss"] = json!("https://sts.windows.net/9b2c4d6e-8f01-4a23-b456-c789d0e1f234/");
    let answer = get(&dataverse, path, Some(&token_with(other_tenant, KEY))).await;
    assert_401(
        &answer,
        Some(
            "IDX10205: Issuer validation failed. Issuer: 'https://sts.windows.net/9b2c4d6e-8f01-4a23-b456-c789d0e1f234/'. Did not match: validationParameters.ValidIssuer: 'https://sts.windows.net/6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10/' or validationParameters.ValidIssuers: 'null'.",
        ),
    );
}

#[tokio::test]
async fn a_remembered_token_still_expires_on_the_clock() {
    let config = config();
    let clock = config.clock.clone();
    let dataverse = service(config).expect("valid config");
    let token = token(IMPORTER);
    let path = "/api/data/v9.2/WhoAmI";
    assert_eq!(
        get(&dataverse, path, Some(&token)).await.status,
        StatusCode::OK
    );
    clock
        .advance(time::Duration::seconds(3600 + 301))
        .expect("manual clock");
    let answer = get(&dataverse, path, Some(&token)).await;
    assert_401(
        &answer,
        Some(
            "IDX10223: Lifetime validation failed. The token is expired. ValidTo (UTC): '2026-03-01T13:00:00Z', Current time (UTC): '2026-03-01T13:05:01Z'.",
        ),
    );
}

#[tokio::test]
async fn tokens_for_either_host_form_are_accepted() {
    let dataverse = dataverse();
    for audience in [
        "https://contoso.crm.dynamics.com/",
        "https://contoso.api.crm.dynamics.com",
    ] {
        let mut claims = claims(IMPORTER);
        claims["aud"] = json!(audience);
        let answer = get(
            &dataverse,
            "/api/data/v9.2/WhoAmI",
            Some(&token_with(claims, KEY)),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{audience}: {}", answer.text);
    }
}

#[tokio::test]
async fn an_app_without_application_user_is_not_a_member_of_the_organization() {
    let answer = get(
        &dataverse(),
        "/api/data/v9.2/WhoAmI()",
        Some(&token(STRANGER_APP)),
    )
    .await;
    assert_error(
        &answer,
        403,
        "0x80072560",
        "The user is not a member of the organization.",
    );
}

#[tokio::test]
async fn a_disabled_application_user_is_refused_with_a_switchable_code() {
    let answer = get(
        &dataverse(),
        "/api/data/v9.2/WhoAmI",
        Some(&token(DISABLED_APP)),
    )
    .await;
    assert_error(
        &answer,
        403,
        "0x80040225",
        "The specified user is either disabled or is not a member of any business unit.",
    );
    let mut config = config();
    config.switches.disabled_user_code = "0x80072560".into();
    let dataverse = service(config).expect("valid config");
    let answer = get(
        &dataverse,
        "/api/data/v9.2/WhoAmI",
        Some(&token(DISABLED_APP)),
    )
    .await;
    assert_error(
        &answer,
        403,
        "0x80072560",
        "The user is not a member of the organization.",
    );
}

#[tokio::test]
async fn admin_mode_lets_only_administrators_in() {
    let mut config = config();
    config.environments[0].admin_mode = true;
    let dataverse = service(config).expect("valid config");
    let answer = get(&dataverse, "/api/data/v9.2/WhoAmI", Some(&token(IMPORTER))).await;
    assert_error(
        &answer,
        403,
        "0x8004A113",
        "User does not have required privileges (or role membership) to access the org when it is in Admin Only mode.",
    );
    let admin = get(&dataverse, "/api/data/v9.2/WhoAmI", Some(&token(ADMIN_APP))).await;
    assert_eq!(admin.status, StatusCode::OK, "{}", admin.text);
}

#[tokio::test]
async fn service_protection_throttles_on_the_injected_clock() {
    let mut config = config();
    config.environments[0].limits.requests = 2;
    config.environments[0].limits.window_seconds = 300;
    let clock = config.clock.clone();
    let dataverse = service(config).expect("valid config");
    let path = "/api/data/v9.2/WhoAmI";
    assert_eq!(
        get(&dataverse, path, Some(&token(IMPORTER))).await.status,
        StatusCode::OK
    );
    clock.advance(time::Duration::seconds(100)).expect("manual");
    assert_eq!(
        get(&dataverse, path, Some(&token(IMPORTER))).await.status,
        StatusCode::OK
    );
    clock.advance(time::Duration::seconds(63)).expect("manual");
    let throttled = get(&dataverse, path, Some(&token(IMPORTER))).await;
    assert_error(
        &throttled,
        429,
        "0x80072322",
        "Number of requests exceeded the limit of 2 over time window of 300 seconds.",
    );
    assert_eq!(throttled.headers["retry-after"], "137");
    // Another application user has its own window.
    assert_eq!(
        get(&dataverse, path, Some(&token(ADMIN_APP))).await.status,
        StatusCode::OK
    );
    clock.advance(time::Duration::seconds(137)).expect("manual");
    assert_eq!(
        get(&dataverse, path, Some(&token(IMPORTER))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn execution_time_and_concurrency_limits_have_their_codes() {
    let mut config = config();
    config.environments[0].limits.execution_milliseconds = 1000;
    config.environments[0]
        .limits
        .execution_milliseconds_per_request = 600;
    config.switches.throttle_code_decimal = true;
    let dataverse = service(config).expect("valid config");
    let path = "/api/data/v9.2/WhoAmI";
    for _ in 0..2 {
        assert_eq!(
            get(&dataverse, path, Some(&token(IMPORTER))).await.status,
            StatusCode::OK
        );
    }
    let throttled = get(&dataverse, path, Some(&token(IMPORTER))).await;
    assert_error(
        &throttled,
        429,
        "-2147015903",
        "Combined execution time of incoming requests exceeded limit of 1,000  milliseconds over time window of 300 seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.",
    );

    let mut config = self::config();
    config.environments[0].limits.concurrent = 0;
    let dataverse = service(config).expect("valid config");
    let answer = get(&dataverse, path, Some(&token(IMPORTER))).await;
    assert_error(
        &answer,
        429,
        "0x80072326",
        "Number of concurrent requests exceeded the limit of 0.",
    );
}

#[tokio::test]
async fn forced_throttles_answer_a_limits_error_on_the_nth_request() {
    let mut config = config();
    config.forced_throttles = vec![ForcedThrottle {
        limit: ThrottleLimit::Concurrency,
        host: Some("contoso.api.crm.dynamics.com".into()),
        application_id: Some(uuid(IMPORTER)),
        nth: Some(2),
        times: None,
        retry_after_seconds: 7,
    }];
    let dataverse = service(config).expect("valid config");
    let path = "/api/data/v9.2/WhoAmI";
    assert_eq!(
        get(&dataverse, path, Some(&token(ADMIN_APP))).await.status,
        StatusCode::OK,
        "another app does not count"
    );
    assert_eq!(
        get(&dataverse, path, Some(&token(IMPORTER))).await.status,
        StatusCode::OK
    );
    let throttled = get(&dataverse, path, Some(&token(IMPORTER))).await;
    assert_error(
        &throttled,
        429,
        "0x80072326",
        "Number of concurrent requests exceeded the limit of 52.",
    );
    assert_eq!(throttled.headers["retry-after"], "7");
    assert_eq!(
        get(&dataverse, path, Some(&token(IMPORTER))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn who_am_i_names_the_application_user() {
    let dataverse = dataverse();
    for path in [
        "/api/data/v9.2/WhoAmI",
        "/api/data/v9.2/WhoAmI()",
        "//api/data/v9.0/WhoAmI()",
    ] {
        let answer = get(&dataverse, path, Some(&token(IMPORTER))).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        let version = if path.contains("v9.0") {
            "v9.0"
        } else {
            "v9.2"
        };
        assert_eq!(
            answer.text,
            format!(
                "{{\"@odata.context\":\"https://contoso.crm.dynamics.com/api/data/{version}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse\",\"BusinessUnitId\":\"{ROOT_UNIT}\",\"UserId\":\"{IMPORTER_USER}\",\"OrganizationId\":\"{ORGANIZATION}\"}}"
            )
        );
    }
}

#[tokio::test]
async fn who_am_i_without_roles_follows_the_switch() {
    assert_eq!(
        get(
            &dataverse(),
            "/api/data/v9.2/WhoAmI",
            Some(&token(ROLELESS_APP))
        )
        .await
        .status,
        StatusCode::OK
    );
    let mut config = config();
    config.switches.whoami_without_roles = false;
    let dataverse = service(config).expect("valid config");
    let answer = get(
        &dataverse,
        "/api/data/v9.2/WhoAmI",
        Some(&token(ROLELESS_APP)),
    )
    .await;
    assert_error(
        &answer,
        403,
        "0x80040220",
        "The user with id 2138bd90-ec19-ea11-a811-000d3a334e13 has not been assigned any roles. They need a role with the prvReadUser privilege.",
    );
}

#[tokio::test]
async fn functions_are_get_only_like_the_real_service() {
    let request = Request::post("/api/data/v9.2/WhoAmI")
        .header("authorization", format!("Bearer {}", token(IMPORTER)))
        .body(Bytes::new())
        .expect("request");
    let answer = send(&dataverse(), request).await;
    assert_error(
        &answer,
        404,
        "",
        "No HTTP resource was found that matches the request URI 'https://contoso.crm.dynamics.com/api/data/v9.2/WhoAmI'.",
    );
}

#[tokio::test]
async fn retrieve_version_and_current_organization() {
    let dataverse = dataverse();
    let version = get(
        &dataverse,
        "/api/data/v9.2/RetrieveVersion()",
        Some(&token(IMPORTER)),
    )
    .await
    .json();
    assert_eq!(version["Version"], "9.2.25093.00168");
    let path = "/api/data/v9.2/RetrieveCurrentOrganization(AccessType=@p1)?@p1=Microsoft.Dynamics.CRM.EndpointAccessType%27Default%27";
    let answer = get(&dataverse, path, Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let detail = &answer.json()["Detail"];
    assert_eq!(detail["OrganizationId"], ORGANIZATION);
    assert_eq!(detail["FriendlyName"], "Contoso");
    assert_eq!(detail["TenantId"], TENANT);
    assert_eq!(detail["UrlName"], "contoso");
    assert_eq!(
        detail["Endpoints"]["Values"][0],
        "https://contoso.crm.dynamics.com/"
    );
    assert_eq!(
        detail["Endpoints"]["Values"][1],
        "https://contoso.api.crm.dynamics.com/XRMServices/2011/Organization.svc"
    );
    let missing = get(
        &dataverse,
        "/api/data/v9.2/RetrieveCurrentOrganization()",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn retrieve_user_privileges_lists_role_privileges_with_depth() {
    let dataverse = dataverse();
    let path = format!(
        "/api/data/v9.2/systemusers({IMPORTER_USER})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()"
    );
    let answer = get(&dataverse, &path, Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let privileges = answer.json()["RolePrivileges"].clone();
    assert_eq!(privileges[0]["PrivilegeName"], "prvReadAccount");
    assert_eq!(privileges[0]["Depth"], "Global");
    assert_eq!(
        privileges[0]["PrivilegeId"],
        "886b280c-6396-4d56-a0a3-2c1b0a50ceb0"
    );
    assert_eq!(privileges[1]["PrivilegeName"], "prvReadContact");
    assert_eq!(privileges[1]["Depth"], "Local");
    assert_eq!(privileges[1]["BusinessUnitId"], ROOT_UNIT);
}

#[tokio::test]
async fn unknown_segments_and_paths_fail_loudly() {
    let dataverse = dataverse();
    let answer = get(&dataverse, "/api/data/v9.2/Account", Some(&token(IMPORTER))).await;
    // No tables in this environment: every entity set is unknown.
    assert_error(
        &answer,
        404,
        "0x8006088a",
        "Resource not found for the segment 'Account'.",
    );
    let answer = get(
        &dataverse,
        "/api/data/v9.2/ListTables()",
        Some(&token(IMPORTER)),
    )
    .await;
    assert_error(
        &answer,
        404,
        "0x8006088a",
        "Resource not found for the segment 'ListTables'.",
    );
    let answer = get(&dataverse, "/main.aspx", Some(&token(IMPORTER))).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(
        answer.json()["error"]["message"]
            .as_str()
            .expect("message")
            .contains("This fake serves: GET /api/data/v9.0|v9.1|v9.2/")
    );
}

#[tokio::test]
async fn error_details_appear_only_when_prefer_asks() {
    let request = Request::get("/api/data/v9.2/WhoAmI")
        .header("authorization", format!("Bearer {}", token(STRANGER_APP)))
        .header("prefer", "odata.include-annotations=\"*\"")
        .body(Bytes::new())
        .expect("request");
    let answer = send(&dataverse(), request).await;
    let error = &answer.json()["error"];
    assert_eq!(error["code"], "0x80072560");
    assert_eq!(
        error["@Microsoft.PowerApps.CDS.ErrorDetails.ApiExceptionMessageName"],
        "UserNotMemberOfOrg"
    );
    assert_eq!(
        error["@Microsoft.PowerApps.CDS.ErrorDetails.ApiExceptionHttpStatusCode"],
        "403"
    );
    assert_eq!(
        error["@Microsoft.PowerApps.CDS.HelpLink"],
        "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a80072560&client=platform"
    );
}

#[test]
fn config_errors_name_the_problem() {
    let mut config = config();
    config.environments[0].application_users[0].business_unit =
        uuid("12345678-1234-4234-8234-123456789012");
    let text = service(config)
        .expect_err("unknown business unit")
        .to_string();
    assert_eq!(
        text,
        format!(
            "invalid fake Dataverse configuration: application user `{IMPORTER}` of `contoso.crm.dynamics.com` is in unknown business unit `12345678-1234-4234-8234-123456789012`"
        )
    );
}

#[test]
fn api_hosts() {
    assert_eq!(
        api_host("contoso.crm.dynamics.com"),
        "contoso.api.crm.dynamics.com"
    );
    assert_eq!(
        api_host("Contoso.CRM4.dynamics.com"),
        "contoso.api.crm4.dynamics.com"
    );
    assert_eq!(
        api_host("contoso.api.crm.dynamics.com"),
        "contoso.api.crm.dynamics.com"
    );
}

#[tokio::test]
async fn garbage_never_panics_and_always_answers_in_odata_shape() {
    let mut config = config();
    config.environments[0].tables = ["account", "contact", "systemuser", "role", "businessunit"]
        .into_iter()
        .map(|name| Table {
            definition: crate::standard_tables::standard_table(name).expect("a standard table"),
            data: TableData::Generated { count: 5 },
        })
        .collect();
    let dataverse = service(config).expect("valid config");
    let token = token(IMPORTER);
    let paths = [
        "/api/data/v9.2/accounts?$filter=((((name",
        "/api/data/v9.2/accounts?$filter=name eq 'unterminated",
        "/api/data/v9.2/accounts?$filter=%ZZ",
        "/api/data/v9.2/accounts?$select=&$top=-1&$count=maybe",
        "/api/data/v9.2/accounts?$top=99999999999999999999",
        "/api/data/v9.2/accounts?$orderby=name sideways",
        "/api/data/v9.2/accounts?$expand=primarycontactid($select=fullname;$expand=x($select=y))",
        "/api/data/v9.2/accounts?$skiptoken=%3Ccookie%20pagenumber=%22x%22",
        "/api/data/v9.2/accounts?$filter=contains(name,'%5B%5E')",
        "/api/data/v9.2/accounts(%7B00000000-0000-0000-0000-000000000000%7D)",
        "/api/data/v9.2/accounts(1)/nothing/else",
        "/api/data/v9.2/EntityDefinitions(LogicalName='')/Attributes",
        "/api/data/v9.2/EntityDefinitions?$filter=LogicalName eq 'a' or or",
        "/api/data/v9.2/RetrieveCurrentOrganization(AccessType=@p9)",
        "/api/data/v9.2/systemusers(00000000-0000-0000-0000-000000000000)/Microsoft.Dynamics.CRM.RetrievePrincipalAccess(Target=@p1)?@p1=%7B%27@odata.id%27:%27nothing(1)%27%7D",
        "/api/data/v9.2/%E2%98%83",
        "/api/data/v9.2/accounts?$filter=name eq '\u{1F600}' and revenue gt 1e999",
    ];
    for path in paths {
        // As a client would put them on the wire: spaces and non-ASCII percent-encoded.
        let path: String = path
            .chars()
            .map(|character| match character {
                ' ' => "%20".to_owned(),
                character if !character.is_ascii() => {
                    let mut buffer = [0u8; 4];
                    character
                        .encode_utf8(&mut buffer)
                        .bytes()
                        .map(|byte| format!("%{byte:02X}"))
                        .collect()
                }
                character => character.to_string(),
            })
            .collect();
        let path = path.as_str();
        let answer = get(&dataverse, path, Some(&token)).await;
        assert!(
            answer.status.is_client_error()
                || answer.status == StatusCode::NOT_IMPLEMENTED
                || answer.status.is_success(),
            "{path}: {} {}",
            answer.status,
            answer.text
        );
        if !answer.status.is_success() {
            let body = answer.json();
            assert!(
                body["error"]["message"].is_string(),
                "{path}: {}",
                answer.text
            );
        }
    }
}

#[test]
fn configuration_errors_keep_their_messages() {
    let mut twice = config();
    twice.environments.push(environment());
    let error = crate::service(twice).expect_err("two environments on one host");
    assert_eq!(
        error.to_string(),
        "invalid fake Dataverse configuration: host `contoso.crm.dynamics.com` belongs to two environments"
    );
    let mut rootless = config();
    for unit in &mut rootless.environments[0].business_units {
        unit.parent = Some(Uuid::nil());
    }
    let error = crate::service(rootless).expect_err("no root business unit");
    assert_eq!(
        error.to_string(),
        "invalid fake Dataverse configuration: environment `contoso.crm.dynamics.com` must have exactly one root business unit, found 0"
    );
}

#[tokio::test]
async fn a_scan_cut_short_by_shutdown_answers_503_in_the_error_envelope() {
    use http_body_util::BodyExt as _;
    let response = crate::shutting_down();
    assert_eq!(response.status(), 503);
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(
        body,
        br#"{"error":{"code":"0x80040216","message":"The fake Dataverse (d365-harness) is shutting down."}}"#.as_slice()
    );
}
