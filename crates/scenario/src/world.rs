//! A world: the tenants, app registrations and Dataverse environments that one description
//! feeds to every fake, the fakes' behaviour knobs and the fault rules.
//! `world/file.rs` mirrors the TOML, `world/validate.rs` turns it into a [`World`],
//! `world/entra.rs` and `world/dataverse.rs` translate a world into each fake's `Config`.
//! Invariants: a `World` has passed validation (every reference resolves, every GUID and
//! timestamp parses), and its `Debug` never shows a secret value or a private key.

mod dataverse;
mod document;
mod entra;
mod file;
mod validate;

pub use document::WorldDocument;
pub(crate) use document::certificate_blocks;

pub(crate) use file::{FaultRuleSpans, VersionProbe};
pub(crate) use validate::{fault_rule, fault_rules};

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fake_core::FaultRule;
use fake_dataverse::schema::TableDefinition;
use fake_dataverse::{
    ApplicationUser, BusinessUnit, SecurityRole, ServiceProtectionLimits, Switches, TableData,
    Team, ThrottleLimit,
};
use fake_entra::{
    AssertionReplayPolicy, Cloud, CommonTenantPolicy, ForcedError, PermissionKind, RateLimit,
    ResourcePolicy, TrailerSeparator,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{Error, FileKind};

/// The national cloud every world lives in, for now.
const CLOUD: Cloud = Cloud::Public;

/// A validated world file.
#[derive(Clone, Debug)]
pub struct World {
    path: PathBuf,
    tenants: Vec<Tenant>,
    apps: Vec<App>,
    environments: Vec<Environment>,
    signing_key: SigningKeyPem,
    entra: EntraKnobs,
    dataverse: Switches,
    faults: Vec<FaultRule>,
    /// The text this world was parsed from, for [`WorldDocument::of`].
    source: SourceText,
}

impl World {
    /// Reads, parses and validates the world file at `path`. Files it names (certificates,
    /// signing keys) are relative to its folder; a certificate may instead be given inline.
    pub fn load(path: impl AsRef<Path>) -> Result<World, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            file: FileKind::World,
            path: path.to_owned(),
            source,
        })?;
        World::parse(&text, path)
    }

    /// Parses and validates world file text as if it had been read from `path` (used in error
    /// messages and to resolve the files the world names).
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<World, Error> {
        validate::world(text, path.as_ref())
    }

    /// Like [`World::parse`], with every error in the text (each tenant, app, environment,
    /// fault rule and section checked) instead of the first; never an empty list.
    pub fn parse_all(text: &str, path: impl AsRef<Path>) -> Result<World, Vec<Error>> {
        validate::world_all(text, path.as_ref())
    }

    /// The file this world came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The national cloud the world lives in (always the public cloud for now).
    pub fn cloud(&self) -> Cloud {
        CLOUD
    }

    /// The host clients use as authority (`login.microsoftonline.com`).
    pub fn authority_host(&self) -> &'static str {
        self.cloud().authority_host()
    }

    /// The tenants, in file order.
    pub fn tenants(&self) -> &[Tenant] {
        &self.tenants
    }

    /// The tenant written as `[tenants.<key>]`.
    pub fn tenant(&self, key: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|tenant| tenant.key == key)
    }

    /// The app registrations, in file order.
    pub fn apps(&self) -> &[App] {
        &self.apps
    }

    /// The app written as `[apps.<key>]`.
    pub fn app(&self, key: &str) -> Option<&App> {
        self.apps.iter().find(|app| app.key == key)
    }

    /// The Dataverse environments, in file order.
    pub fn environments(&self) -> &[Environment] {
        &self.environments
    }

    /// The environment written as `[environments.<key>]`.
    pub fn environment(&self, key: &str) -> Option<&Environment> {
        self.environments
            .iter()
            .find(|environment| environment.key == key)
    }

    /// The first environment (in file order) of the tenant written as `[tenants.<key>]`: the
    /// one `serve` hands out with that tenant's credentials.
    pub fn first_environment_of(&self, tenant: &str) -> Option<&Environment> {
        self.environments
            .iter()
            .find(|environment| environment.tenant == tenant)
    }

    /// The `[[faults]]` rules, in file order (the first that fires wins), for
    /// `fake_core::ServerConfig::faults`.
    pub fn faults(&self) -> &[FaultRule] {
        &self.faults
    }

    /// What a client needs for a client-secret token request: the first enabled app (in file
    /// order) that has a secret still valid at `now`, that secret, and the app's home tenant.
    pub fn client_credentials(&self, now: OffsetDateTime) -> Result<ClientCredentials<'_>, Error> {
        self.apps
            .iter()
            .filter(|app| app.enabled)
            .find_map(|app| {
                let secret = app.live_secret(now)?;
                let tenant = self.tenant(&app.home_tenant)?;
                Some(ClientCredentials {
                    tenant,
                    app,
                    secret,
                })
            })
            .ok_or_else(|| Error::NoClientCredentials {
                path: self.path.clone(),
            })
    }
}

/// A directory (`[tenants.<key>]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The key in the world file (`contoso`).
    pub key: String,
    /// The tenant id.
    pub id: Uuid,
    /// Verified domains, as written.
    pub domains: Vec<String>,
    /// The directory name (`Contoso`).
    pub display_name: String,
    /// Whether the Dynamics CRM service principal exists in this tenant.
    pub dynamics: bool,
    /// Whether that principal is enabled (`dynamics_enabled = false`: AADSTS500014). Always
    /// true when `dynamics` is false.
    pub dynamics_enabled: bool,
    /// `tenant_region_scope` of tokens; `NA` unless the file says otherwise.
    pub region_scope: String,
}

/// An app registration (`[apps.<key>]`).
#[derive(Clone, Debug)]
pub struct App {
    /// The key in the world file (`importer`).
    pub key: String,
    /// The application (client) id.
    pub client_id: Uuid,
    /// The display name.
    pub display_name: String,
    /// The key of the tenant that owns the registration.
    pub home_tenant: String,
    /// The id of that tenant.
    pub home_tenant_id: Uuid,
    /// Whether other tenants may install it.
    pub multi_tenant: bool,
    /// When false, the app's service principal is disabled in every tenant.
    pub enabled: bool,
    /// Service principals listed in the file (the home tenant's is implied).
    pub service_principals: Vec<ServicePrincipal>,
    /// Client secrets, in file order.
    pub secrets: Vec<Secret>,
    /// Registered certificates, in file order.
    pub certificates: Vec<Certificate>,
    /// Requested API permissions.
    pub permissions: Vec<Permission>,
}

impl App {
    /// The first secret (in file order) that has not expired at `now`.
    pub fn live_secret(&self, now: OffsetDateTime) -> Option<&Secret> {
        self.secrets.iter().find(|secret| secret.is_valid_at(now))
    }

    /// The object id of the app's service principal in the tenant with id `tenant_id`, as the
    /// fake Entra ID puts it in tokens (`oid`): the one the file gives, else the fake's stable
    /// derivation.
    pub fn principal_object_id(&self, tenant_id: Uuid) -> Uuid {
        entra::entra_app(self).principal_object_id(tenant_id)
    }
}

/// The app's instance in one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePrincipal {
    /// The tenant key.
    pub tenant: String,
    /// The tenant id.
    pub tenant_id: Uuid,
    /// Its object id; the fake derives one when absent.
    pub object_id: Option<Uuid>,
    /// `accountEnabled` in this tenant.
    pub enabled: bool,
    /// Deleted from this tenant (`removed = true`): Entra ID answers AADSTS700016 there, while
    /// Dataverse keeps the app's application users, as it does. Never the home tenant's.
    pub removed: bool,
}

/// A client secret. `Debug` shows everything but the value.
#[derive(Clone, Debug)]
pub struct Secret {
    /// Its description in the portal.
    pub name: String,
    /// Its secret id.
    pub id: Option<Uuid>,
    /// The value clients send.
    pub value: SecretValue,
    /// When it stops working.
    pub expires: OffsetDateTime,
}

impl Secret {
    /// Whether the secret still works at `now`.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        now < self.expires
    }
}

/// A secret string whose `Debug` is `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> SecretValue {
        SecretValue(value.into())
    }

    /// The secret itself; call sites show where secrets leave the world.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("[redacted]")
    }
}

/// A certificate registered on an app (public part only).
#[derive(Clone)]
pub struct Certificate {
    /// Its name in the portal.
    pub name: String,
    /// The PEM file it was read from, joined to the world file's folder; `None` when the
    /// world file gives the PEM inline (`pem = '''...'''`).
    pub file: Option<PathBuf>,
    /// The certificate, DER.
    pub der: Vec<u8>,
    /// Key credential start, when the file says.
    pub start: Option<OffsetDateTime>,
    /// Key credential end, when the file says.
    pub end: Option<OffsetDateTime>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Certificate")
            .field("name", &self.name)
            .field("file", &self.file)
            .field("sha1", &fake_entra::sha1_thumbprint(&self.der))
            .field("start", &self.start)
            .field("end", &self.end)
            .finish()
    }
}

/// A requested API permission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Permission {
    /// The API (`Dynamics CRM`).
    pub api: String,
    /// The permission (`user_impersonation`).
    pub scope: String,
    /// Delegated or application.
    pub kind: PermissionKind,
    /// Whether an admin granted consent.
    pub admin_consent: bool,
}

/// A Dataverse environment (`[environments.<key>]`), resolved: business units, roles and
/// application users carry their ids, predefined roles are instantiated in the business units
/// of the users who hold them, and the system tables are present.
#[derive(Clone, Debug)]
pub struct Environment {
    /// The key in the world file (`contoso`).
    pub key: String,
    /// `https://{host}`: the environment URL clients are configured with.
    pub url: String,
    /// The web host, lower case (`contoso.crm.dynamics.com`), also when the file gives the
    /// `.api.` host; the fake serves both.
    pub host: String,
    /// The key of the tenant whose tokens it accepts.
    pub tenant: String,
    /// The id of that tenant.
    pub tenant_id: Uuid,
    /// `OrganizationId`.
    pub organization_id: Uuid,
    /// `EnvironmentId`: `Default-{tenant id}` for a tenant's first environment unless the file
    /// says otherwise.
    pub environment_id: String,
    /// `FriendlyName`.
    pub friendly_name: String,
    /// `UniqueName`.
    pub unique_name: String,
    /// `OrganizationVersion`.
    pub version: String,
    /// `Geo`.
    pub geo: String,
    /// Administration mode.
    pub admin_mode: bool,
    /// Seed of the row generator.
    pub data_seed: u64,
    /// Business units; exactly one (the first without a parent) is the root.
    pub business_units: Vec<BusinessUnit>,
    /// Security roles: the defined ones in file order, then the inherited copies and
    /// predefined roles the users need, in the order users name them.
    pub roles: Vec<SecurityRole>,
    /// Application users, in file order.
    pub application_users: Vec<ApplicationUser>,
    /// Teams, in file order, their roles instantiated in their business units.
    pub teams: Vec<Team>,
    /// Who owns the generated rows of the tables whose `owners` the file gives (logical name →
    /// `systemuserid`s and `teamid`s).
    pub table_owners: BTreeMap<String, Vec<Uuid>>,
    /// Tables: those the file lists, in file order, then any of `systemuser`, `role` and
    /// `businessunit` it leaves out.
    pub tables: Vec<EnvironmentTable>,
    /// Service protection limits.
    pub limits: ServiceProtectionLimits,
    /// Service protection errors forced on this environment's requests, in file order.
    pub forced_throttles: Vec<EnvironmentThrottle>,
}

impl Environment {
    /// The `.api.` host (`contoso.api.crm.dynamics.com`).
    pub fn api_host(&self) -> String {
        fake_dataverse::api_host(&self.host)
    }

    /// The application user of the app with client id `client_id`.
    pub fn application_user(&self, client_id: Uuid) -> Option<&ApplicationUser> {
        self.application_users
            .iter()
            .find(|user| user.application_id == client_id)
    }

    /// The root business unit.
    pub fn root_business_unit(&self) -> &BusinessUnit {
        self.business_units
            .iter()
            .find(|unit| unit.parent.is_none())
            .expect("validation leaves exactly one root business unit")
    }
}

/// A table of an environment: a standard or custom table and where its rows come from.
#[derive(Clone, Debug)]
pub struct EnvironmentTable {
    /// The logical name (`account`, `cr7a1_asset`).
    pub logical_name: String,
    /// The definition: a table of `fake_dataverse::standard_tables`, or one the world's
    /// `custom_tables` defines.
    pub definition: TableDefinition,
    /// Its rows, given or generated.
    pub data: TableData,
}

/// A forced 429 on one environment (`forced_throttles`): a limit's error on matching requests,
/// whatever the counters say. Becomes a `fake_dataverse::ForcedThrottle` on the environment's
/// host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvironmentThrottle {
    /// Which limit's error to answer with.
    pub limit: ThrottleLimit,
    /// Only requests of this app (its `<key>`; it has an application user here), or any.
    pub app: Option<String>,
    /// Only the n-th matching request (1-based), or every one.
    pub nth: Option<u64>,
    /// At most this many times, or without limit.
    pub times: Option<u64>,
    /// The `Retry-After` seconds (at least 1).
    pub retry_after_seconds: u64,
}

/// What a client needs for a client-secret token request; see [`World::client_credentials`].
#[derive(Clone, Copy, Debug)]
pub struct ClientCredentials<'a> {
    /// The app's home tenant.
    pub tenant: &'a Tenant,
    /// The app.
    pub app: &'a App,
    /// A secret valid at the time asked for.
    pub secret: &'a Secret,
}

/// The `[entra]` knobs, validated. `None` (or empty) keeps the default of
/// `fake_entra::Config::new`, so a world without `[entra]` behaves as before the table existed.
#[derive(Clone, Debug, Default)]
struct EntraKnobs {
    aliases: Vec<String>,
    token_lifetime_seconds: Option<i64>,
    trailer_separator: Option<TrailerSeparator>,
    common_tenant: Option<CommonTenantPolicy>,
    resources: Option<ResourcePolicy>,
    rate_limit: Option<RateLimit>,
    forced_errors: Vec<ForcedError>,
    message_overrides: BTreeMap<String, String>,
    require_form_content_type: Option<bool>,
    assertion_replay: Option<AssertionReplayPolicy>,
}

/// A world file's text as parsed. `Debug` leaves it out: it holds secret values.
#[derive(Clone)]
struct SourceText(std::sync::Arc<str>);

impl std::fmt::Debug for SourceText {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("[world file text]")
    }
}

/// The PEM texts of the Entra signing key and its certificate.
#[derive(Clone)]
struct SigningKeyPem {
    /// Where they came from, for `Debug`.
    origin: SigningKeyOrigin,
    key: SecretValue,
    certificate: String,
}

#[derive(Clone)]
enum SigningKeyOrigin {
    /// The committed test key (`fixtures/keys/entra-signing.*.pem`), built into the binary so
    /// that a world anywhere on disk gets the same stable `kid`.
    Builtin,
    /// `[signing_key]` in the world file.
    Files { key: PathBuf, certificate: PathBuf },
}

impl SigningKeyPem {
    fn builtin() -> SigningKeyPem {
        SigningKeyPem {
            origin: SigningKeyOrigin::Builtin,
            key: SecretValue::new(include_str!("../../../fixtures/keys/entra-signing.key.pem")),
            certificate: include_str!("../../../fixtures/keys/entra-signing.crt.pem").to_owned(),
        }
    }
}

impl std::fmt::Debug for SigningKeyOrigin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKeyOrigin::Builtin => formatter.write_str("Builtin"),
            SigningKeyOrigin::Files { key, certificate } => formatter
                .debug_struct("Files")
                .field("key", key)
                .field("certificate", certificate)
                .finish(),
        }
    }
}

impl std::fmt::Debug for SigningKeyPem {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SigningKeyPem")
            .field("origin", &self.origin)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}
