//! What a fake Entra ID knows: its cloud, tenants, app registrations with their credentials, the
//! signing key, and the knobs for behaviour the public evidence leaves open (each marked
//! UNCONFIRMED where it is a design choice rather than a documented fact).

use std::collections::BTreeMap;

use fake_core::{Clock, IdGenerator};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::token::SigningKey;

/// Everything one fake Entra ID instance serves.
#[derive(Debug)]
pub struct Config {
    /// The national cloud; decides the authority host, the v1 issuer and which Dynamics 365
    /// domains count as resources.
    pub cloud: Cloud,
    /// Extra host names answered besides the cloud's authority host (e.g. `login.windows.net`).
    pub aliases: Vec<String>,
    /// Tenants (directories).
    pub tenants: Vec<Tenant>,
    /// App registrations.
    pub apps: Vec<App>,
    /// The key that signs access tokens and is published in the JWKS.
    pub signing_key: SigningKey,
    /// `expires_in` of issued tokens, in seconds. Captures show 3599 (the default).
    pub token_lifetime_seconds: i64,
    /// How the `error_description` trailer lines are separated. UNCONFIRMED switch date:
    /// captures before 2023-08 show `\r\n`, captures from mid-2024 a single space (default).
    /// Probe: `wrong_secret` (`d365-harness conformance`).
    pub trailer_separator: TrailerSeparator,
    /// What `/common`, `/organizations` and `/consumers` do with client credentials.
    /// UNCONFIRMED on the v2 endpoint; the v1 endpoint answers AADSTS50059.
    /// Probe: `token_organizations`.
    pub common_tenant: CommonTenantPolicy,
    /// Which resources get tokens. UNCONFIRMED whether ESTS mints tokens for Dynamics hosts
    /// that have no environment; the default, [`ResourcePolicy::AnyDynamicsHost`], does.
    /// Probe: `token_unknown_environment`.
    pub resources: ResourcePolicy,
    /// Per-client throttling (AADSTS 429 with `Retry-After`); off when `None`.
    pub rate_limit: Option<RateLimit>,
    /// Catalogue errors forced on matching requests, for replaying failures seen in the field.
    pub forced_errors: Vec<ForcedError>,
    /// Replacement message templates by catalogue entry name (Microsoft rewords messages).
    pub message_overrides: BTreeMap<String, String>,
    /// Whether a token request's body is read only when its `Content-Type` is
    /// `application/x-www-form-urlencoded` (any case, any parameters such as `;charset=utf-8`).
    /// ESTS answers a JSON body sent as `application/json` as if the body were empty:
    /// AADSTS900144 `'grant_type'` (observed: microsoftgraph/microsoft-graph-docs issue #20272,
    /// a 400 whose `Content-Length` of 503 is exactly that error's body). UNCONFIRMED for a
    /// missing `Content-Type`, `text/plain` and `multipart/form-data` (a Postman report in
    /// microsoft-graph-docs-contrib issue #1378 suggests multipart is refused the same way).
    /// Default `true`; `false` reads any body as a form.
    /// Probe: `token_json_body`, `token_text_plain_body` (none yet for a missing type or
    /// multipart).
    pub require_form_content_type: bool,
    /// What a second use of a client assertion (same client, same `jti`) gets.
    pub assertion_replay: AssertionReplayPolicy,
    /// The clock for token times, secret expiry and error timestamps.
    pub clock: Clock,
    /// The source of trace ids, correlation ids and token ids.
    pub ids: IdGenerator,
}

impl Config {
    /// A config for `cloud` with no tenants or apps and defaults for every knob.
    pub fn new(cloud: Cloud, signing_key: SigningKey) -> Config {
        Config {
            cloud,
            aliases: Vec::new(),
            tenants: Vec::new(),
            apps: Vec::new(),
            signing_key,
            token_lifetime_seconds: 3599,
            trailer_separator: TrailerSeparator::Space,
            common_tenant: CommonTenantPolicy::NoTenantError,
            resources: ResourcePolicy::AnyDynamicsHost,
            rate_limit: None,
            forced_errors: Vec::new(),
            message_overrides: BTreeMap::new(),
            require_form_content_type: true,
            assertion_replay: AssertionReplayPolicy::Accept,
            clock: Clock::system(),
            ids: IdGenerator::from_entropy(),
        }
    }
}

/// A Microsoft national cloud.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cloud {
    /// Commercial (and US GCC, which signs in through commercial Entra).
    Public,
    /// US Government (GCC High, DoD).
    UsGovernment,
    /// China (21Vianet).
    China,
}

impl Cloud {
    /// The authority host clients are configured with.
    pub fn authority_host(self) -> &'static str {
        match self {
            Cloud::Public => "login.microsoftonline.com",
            Cloud::UsGovernment => "login.microsoftonline.us",
            Cloud::China => "login.chinacloudapi.cn",
        }
    }

    /// The host in the v1 issuer `https://{host}/{tid}/`. UNCONFIRMED outside the public cloud.
    /// Probe: `token` (its `iss` claim), run against that cloud's authority host.
    pub fn v1_issuer_host(self) -> &'static str {
        match self {
            Cloud::Public => "sts.windows.net",
            Cloud::UsGovernment => "login.microsoftonline.us",
            Cloud::China => "sts.chinacloudapi.cn",
        }
    }

    /// `cloud_instance_name` in the OpenID configuration.
    pub fn instance_name(self) -> &'static str {
        match self {
            Cloud::Public => "microsoftonline.com",
            Cloud::UsGovernment => "microsoftonline.us",
            Cloud::China => "partner.microsoftonline.cn",
        }
    }

    /// Whether `host` is a Dataverse host of this cloud (`{org}.crm{N}.dynamics.com`,
    /// `{org}.api.crm.dynamics.com`, sovereign suffixes).
    pub fn is_dynamics_host(self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        let Some((org, rest)) = host.split_once('.') else {
            return false;
        };
        let org_ok = !org.is_empty()
            && org
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !org.starts_with('-');
        let rest = rest.strip_prefix("api.").unwrap_or(rest);
        let domain_ok = match self {
            Cloud::Public => rest
                .strip_prefix("crm")
                .and_then(|rest| rest.strip_suffix(".dynamics.com"))
                .is_some_and(|region| {
                    region.len() <= 2 && region.chars().all(|c| c.is_ascii_digit())
                }),
            Cloud::UsGovernment => {
                rest == "crm.microsoftdynamics.us" || rest == "crm.appsplatform.us"
            }
            Cloud::China => rest == "crm.dynamics.cn",
        };
        org_ok && domain_ok
    }
}

/// A directory.
#[derive(Clone, Debug)]
pub struct Tenant {
    /// The tenant id.
    pub id: Uuid,
    /// Verified domains (`contoso.onmicrosoft.com`), usable instead of the id.
    pub domains: Vec<String>,
    /// The directory name errors show (`Contoso`).
    pub display_name: String,
    /// Whether the Dynamics CRM first-party service principal exists here (AADSTS500011 if not).
    pub dynamics: bool,
    /// Whether that principal is enabled (AADSTS500014 if it exists but is disabled, as when
    /// the tenant's Dynamics 365 subscription has lapsed).
    pub dynamics_enabled: bool,
    /// `tenant_region_scope` (`NA`, `EU`, `WW`, ...).
    pub region_scope: String,
}

/// An app registration and where it is installed.
#[derive(Clone, Debug)]
pub struct App {
    /// The application (client) id.
    pub client_id: Uuid,
    /// The display name (`app_displayname`, AADSTS7000112).
    pub display_name: String,
    /// The tenant that owns the registration.
    pub home_tenant: Uuid,
    /// Whether other tenants may install it.
    pub multi_tenant: bool,
    /// Where a service principal exists. The home tenant's is implied unless listed here with
    /// `enabled: false`. A multi-tenant app without one in a tenant gets AADSTS700016 there.
    pub service_principals: Vec<ServicePrincipal>,
    /// Client secrets.
    pub secrets: Vec<ClientSecret>,
    /// Certificates whose private keys sign client assertions.
    pub certificates: Vec<ClientCertificate>,
    /// Requested API permissions. Recorded only: like the real service, app-only tokens for
    /// Dynamics do not depend on them (Dataverse authorizes through application users).
    pub permissions: Vec<ApiPermission>,
}

/// The app's instance in one tenant.
#[derive(Clone, Debug)]
pub struct ServicePrincipal {
    /// The tenant.
    pub tenant: Uuid,
    /// Its object id (`oid`/`sub` of app-only tokens); derived from tenant and app when absent.
    pub object_id: Option<Uuid>,
    /// `accountEnabled`; a disabled one gets AADSTS7000112.
    pub enabled: bool,
}

/// A client secret. `Debug` never shows the value.
#[derive(Clone)]
pub struct ClientSecret {
    /// Its description in the portal.
    pub name: String,
    /// Its secret id (what users paste by mistake).
    pub id: Option<Uuid>,
    /// The value.
    pub value: String,
    /// When it stops working (AADSTS7000222 after).
    pub expires: OffsetDateTime,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ClientSecret")
            .field("name", &self.name)
            .field("id", &self.id)
            .field("value", &"[redacted]")
            .field("expires", &self.expires)
            .finish()
    }
}

/// A certificate registered on the app (public part only).
#[derive(Clone, Debug)]
pub struct ClientCertificate {
    /// Its name in the portal.
    pub name: String,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Key credential start; shown in AADSTS700027 reasons.
    pub start: Option<OffsetDateTime>,
    /// Key credential end.
    pub end: Option<OffsetDateTime>,
}

/// A requested API permission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiPermission {
    /// The API (`Dynamics CRM`).
    pub api: String,
    /// The permission (`user_impersonation`).
    pub scope: String,
    /// Delegated or application.
    pub kind: PermissionKind,
    /// Whether an admin granted consent.
    pub admin_consent: bool,
}

/// Delegated (scope) or application (app role) permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PermissionKind {
    /// A delegated scope.
    Delegated,
    /// An application role.
    Application,
}

/// Separator before `Trace ID:`, `Correlation ID:` and `Timestamp:` in `error_description`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrailerSeparator {
    /// `\r\n` (captures up to 2023).
    CrLf,
    /// A single space (captures from 2024 on).
    Space,
}

impl TrailerSeparator {
    /// The separator text.
    pub fn as_str(self) -> &'static str {
        match self {
            TrailerSeparator::CrLf => "\r\n",
            TrailerSeparator::Space => " ",
        }
    }
}

/// What the tenant-independent aliases do with client credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommonTenantPolicy {
    /// AADSTS50059 "No tenant-identifying information found" on both endpoints (default).
    NoTenantError,
    /// Issue the token in the app's home tenant (what a 2018 report saw for Graph on v2).
    HomeTenant,
}

/// Which resources get tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResourcePolicy {
    /// Any Dataverse host of the cloud, in tenants that have the Dynamics CRM principal.
    AnyDynamicsHost,
    /// Only these resource URIs (compared without a trailing slash, case-insensitively), in
    /// tenants that have the Dynamics CRM principal.
    Listed(Vec<String>),
}

/// Throttling: more than `requests` token requests by one client in one tenant within
/// `window_seconds` get 429 until the window ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub requests: u32,
    /// The window, in seconds of the injected clock.
    pub window_seconds: u32,
}

/// A catalogue error forced on matching token requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForcedError {
    /// The catalogue entry, by name (`consent_required`) or AADSTS code (`65001`); `throttled`
    /// forces a 429.
    pub error: String,
    /// Only for this client id.
    pub client_id: Option<String>,
    /// Only for this tenant segment (id or domain, as the client sent it).
    pub tenant: Option<String>,
    /// Only on the n-th matching request (1-based).
    pub nth: Option<u64>,
    /// At most this many times.
    pub times: Option<u64>,
}

/// Whether ESTS-style replay protection applies to client assertions.
///
/// UNCONFIRMED whether ESTS enforces `jti` replay at all; the evidence says it does not within
/// an assertion's lifetime: MSAL Python (`create_regenerative_assertion`, "a useful
/// optimization to reuse the client assertion", kept 540 s) and msal-node
/// (`ClientAssertion.getJwt` returns the same JWT until it expires) send one assertion with
/// many token requests, which would fail if ESTS refused a replay. Hence the default
/// [`AssertionReplayPolicy::Accept`].
///
/// Probe: none yet (it needs a certificate credential; the probes use a client secret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssertionReplayPolicy {
    /// A verified assertion may be used again until it expires (default).
    Accept,
    /// A second use of the same `jti` by the same client is refused (catalogue entry
    /// `assertion_replayed`) until the assertion expires (`exp` plus the clock skew), and an
    /// assertion without a `jti` is refused as malformed. At most `capacity` uses are
    /// remembered; past that the oldest is forgotten first.
    Reject {
        /// How many `jti`s are remembered at most (across clients); at least 1.
        capacity: usize,
    },
}
