//! What a fake Dataverse knows: its environments (organization, business units, security roles,
//! application users, tables and their data, service protection limits), the signing keys it
//! trusts, and a switch for every behaviour the public evidence leaves open (each marked
//! UNCONFIRMED in its doc comment).

use std::collections::BTreeMap;

use fake_core::{Clock, IdGenerator};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::errors::ErrorCode;
use crate::schema::TableDefinition;

/// Everything one fake Dataverse instance serves.
#[derive(Debug)]
pub struct Config {
    /// The environments (organizations), each on its own host names.
    pub environments: Vec<Environment>,
    /// The JWKS document of the token issuer (what `fake-entra` publishes at
    /// `/common/discovery/keys`); tokens are verified against these keys only.
    pub trusted_keys: jsonwebtoken::jwk::JwkSet,
    /// The Entra authority host named in `WWW-Authenticate` challenges.
    pub authority_host: String,
    /// The v1 issuer host: tokens must carry `iss = https://{host}/{tenant}/`.
    pub issuer_host: String,
    /// Behaviours the evidence leaves open.
    pub switches: Switches,
    /// Service protection errors forced on matching requests, whatever the counters say.
    pub forced_throttles: Vec<ForcedThrottle>,
    /// The clock for token lifetimes, throttling windows and timestamps.
    pub clock: Clock,
    /// The source of request ids (`REQ_ID`).
    pub ids: IdGenerator,
    /// How much work one query may do, and how many large scans run at once.
    pub scan_budget: ScanBudget,
}

impl Config {
    /// A config trusting `trusted_keys`, for the public cloud, with no environments.
    pub fn new(trusted_keys: jsonwebtoken::jwk::JwkSet) -> Config {
        Config {
            environments: Vec::new(),
            trusted_keys,
            authority_host: "login.microsoftonline.com".to_owned(),
            issuer_host: "sts.windows.net".to_owned(),
            switches: Switches::default(),
            forced_throttles: Vec::new(),
            clock: Clock::system(),
            ids: IdGenerator::from_entropy(),
            scan_budget: ScanBudget::default(),
        }
    }
}

/// Bounds on the work of one query, so that no request stalls the fake.
///
/// A query over a table larger than `blocking_threshold` rows runs on Tokio's blocking pool,
/// at most `concurrent_scans` at a time (others wait their turn without holding a thread), so
/// the async workers keep answering health checks, tokens and `WhoAmI`. A query that examines
/// more than `max_rows` rows, or scans for longer than `max_time`, ends with Dataverse's SQL
/// timeout error: 500, `0x80044151`, `SQL timeout expired. CRM ErrorCode: -2147204783 Sql
/// ErrorCode: -2146232060 Sql Number: -2` (code and message from Microsoft's "Troubleshoot
/// Dataverse bulk operation errors"; the status and the limits are UNCONFIRMED: the real
/// service gives a SQL query about two minutes, and its indexes make most of our scans cheap).
///
/// Probe: none (a probe would have to run a two-minute query against a large table).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanBudget {
    /// Rows one request may examine (across its count, page and expands); default 10,000,000.
    pub max_rows: u64,
    /// Wall time one request may spend scanning; default 30 s (SqlClient's default command
    /// timeout), `None` for no limit.
    pub max_time: Option<std::time::Duration>,
    /// Large scans running at once; default 2.
    pub concurrent_scans: usize,
    /// Tables above this many rows are scanned off the async workers; default 5,000.
    pub blocking_threshold: u64,
}

impl Default for ScanBudget {
    fn default() -> ScanBudget {
        ScanBudget {
            max_rows: 10_000_000,
            max_time: Some(std::time::Duration::from_secs(30)),
            concurrent_scans: 2,
            blocking_threshold: 5_000,
        }
    }
}

/// A forced 429: the body, code and `Retry-After` of one service protection limit, on the
/// n-th matching request (or every one), so QA can replay throttling without sending thousands
/// of requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForcedThrottle {
    /// Which limit's error to answer with.
    pub limit: ThrottleLimit,
    /// Only requests to this environment host (web or API host).
    pub host: Option<String>,
    /// Only requests of this application (client id).
    pub application_id: Option<Uuid>,
    /// Only the n-th matching request (1-based).
    pub nth: Option<u64>,
    /// At most this many times.
    pub times: Option<u64>,
    /// The `Retry-After` seconds.
    pub retry_after_seconds: u64,
}

/// The three service protection limits (reference/dataverse.md §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleLimit {
    /// Number of requests (`0x80072322`).
    Requests,
    /// Combined execution time (`0x80072321`).
    ExecutionTime,
    /// Concurrent requests (`0x80072326`).
    Concurrency,
}

/// Choices where the real service's behaviour is UNCONFIRMED (reference/dataverse.md §12).
/// Each field's `Probe:` line names the `d365-harness conformance` probe that would settle it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Switches {
    /// Code for a disabled application user: `0x80040225` (default) or `0x80072560`.
    /// Probe: `whoami`, run with the app of a disabled application user.
    pub disabled_user_code: String,
    /// Code for an application user without any role: `0x80040220` (default) or `0x80042f09`.
    /// Probe: `forbidden_table`, run with the app of an application user without any role.
    pub zero_roles_code: String,
    /// Whether `WhoAmI` succeeds for an application user without any role (default: yes).
    /// Probe: `whoami`, run with the app of an application user without any role.
    pub whoami_without_roles: bool,
    /// Code for an unknown property in a query: `0x80060888` (default) or `0x0`.
    /// Probe: `unknown_property`.
    pub property_not_found_code: String,
    /// Code for an unknown entity set or function: `0x8006088a` (default) or `0x80060888`.
    /// Probe: `unknown_function`.
    pub segment_not_found_code: String,
    /// Whether 429 bodies carry the hex code (`0x80072322`, default) or the decimal one
    /// (`-2147015902`) the .NET client compares against.
    /// Probe: none (the probes stay far below the service protection limits on purpose).
    pub throttle_code_decimal: bool,
    /// `accessMode` text for application users in privilege errors (`4 Non-interactive`).
    /// Probe: `forbidden_table`.
    pub access_mode_text: String,
}

impl Default for Switches {
    fn default() -> Switches {
        Switches {
            disabled_user_code: ErrorCode::UserDisabled.hex().to_owned(),
            zero_roles_code: ErrorCode::PrivilegeDenied.hex().to_owned(),
            whoami_without_roles: true,
            property_not_found_code: ErrorCode::BadRequest.hex().to_owned(),
            segment_not_found_code: ErrorCode::SegmentNotFound.hex().to_owned(),
            throttle_code_decimal: false,
            access_mode_text: "4 Non-interactive".to_owned(),
        }
    }
}

/// One Dataverse environment (organization).
#[derive(Debug)]
pub struct Environment {
    /// The web host, `contoso.crm.dynamics.com`; `contoso.api.crm.dynamics.com` is served too.
    pub host: String,
    /// The tenant whose tokens it accepts.
    pub tenant_id: Uuid,
    /// `OrganizationId`.
    pub organization_id: Uuid,
    /// `FriendlyName`.
    pub friendly_name: String,
    /// `UniqueName`.
    pub unique_name: String,
    /// `EnvironmentId` (`Default-{tenant}` for a tenant's default environment).
    pub environment_id: String,
    /// `OrganizationVersion` and `RetrieveVersion`.
    pub version: String,
    /// `Geo` (`NA`, `EMEA`, ...).
    pub geo: String,
    /// Administration mode: only System Administrators and System Customizers get in.
    pub admin_mode: bool,
    /// Business units; exactly one has no parent (the root).
    pub business_units: Vec<BusinessUnit>,
    /// Security roles.
    pub roles: Vec<SecurityRole>,
    /// Application users (one per app registration).
    pub application_users: Vec<ApplicationUser>,
    /// Teams (owner teams and Microsoft Entra group teams): their roles count for their members.
    pub teams: Vec<Team>,
    /// Tables and their rows.
    pub tables: Vec<Table>,
    /// Who owns the generated rows of particular tables (logical name → `systemuserid`s of
    /// application or ordinary users and `teamid`s), instead of the default owners: the
    /// ordinary users and the teams (see [`crate::ordinary_users`]).
    pub table_owners: BTreeMap<String, Vec<Uuid>>,
    /// Seed of the row generator for every generated table of this environment.
    pub data_seed: u64,
    /// Service protection limits.
    pub limits: ServiceProtectionLimits,
}

/// A business unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BusinessUnit {
    /// `businessunitid`.
    pub id: Uuid,
    /// `name`.
    pub name: String,
    /// The parent; `None` for the root.
    pub parent: Option<Uuid>,
}

/// How far a privilege reaches (reference/dataverse.md §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Depth {
    /// Rows the principal owns (UI: User).
    Basic,
    /// Rows in the principal's business unit (UI: Business Unit).
    Local,
    /// The principal's business unit and its descendants (UI: Parent: Child Business Units).
    Deep,
    /// Every row (UI: Organization).
    Global,
}

impl Depth {
    /// The name `RetrieveUserPrivileges` uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Depth::Basic => "Basic",
            Depth::Local => "Local",
            Depth::Deep => "Deep",
            Depth::Global => "Global",
        }
    }

    /// Parses `Basic`, `Local`, `Deep`, `Global` (or the UI names).
    pub fn parse(text: &str) -> Option<Depth> {
        match text.to_ascii_lowercase().as_str() {
            "basic" | "user" => Some(Depth::Basic),
            "local" | "businessunit" | "business unit" => Some(Depth::Local),
            "deep" | "parent: child business units" | "parentchild" => Some(Depth::Deep),
            "global" | "organization" => Some(Depth::Global),
            _ => None,
        }
    }
}

/// A security role: privilege name → depth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityRole {
    /// `roleid`.
    pub id: Uuid,
    /// `name` (`Service Reader`).
    pub name: String,
    /// The business unit the role belongs to (roles come from the user's BU).
    pub business_unit: Uuid,
    /// `_roletemplateid_value` of predefined roles.
    pub template_id: Option<Uuid>,
    /// `prvReadAccount` → `Global`.
    pub privileges: BTreeMap<String, Depth>,
}

/// An application user: the Dataverse identity of an app registration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplicationUser {
    /// `systemuserid` (`UserId` of WhoAmI).
    pub id: Uuid,
    /// `applicationid`: the client id tokens carry as `appid`.
    pub application_id: Uuid,
    /// `azureactivedirectoryobjectid`: the service principal's object id.
    pub object_id: Option<Uuid>,
    /// `fullname` (`# MultiSource Importer`).
    pub full_name: String,
    /// The business unit it lives in.
    pub business_unit: Uuid,
    /// Its roles (ids of [`SecurityRole`]s).
    pub roles: Vec<Uuid>,
    /// `isdisabled` is false.
    pub enabled: bool,
}

/// A team: its members hold its roles besides their own, and rows it owns count as theirs at
/// Basic (User) depth (reference/dataverse.md §4.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Team {
    /// `teamid`.
    pub id: Uuid,
    /// `name`.
    pub name: String,
    /// Owner team or Microsoft Entra group team.
    pub kind: TeamKind,
    /// `_businessunitid_value`: the team's roles belong to this business unit.
    pub business_unit: Uuid,
    /// Its roles (ids of [`SecurityRole`]s).
    pub roles: Vec<Uuid>,
    /// `systemuserid`s of its members (application users or ordinary users).
    pub members: Vec<Uuid>,
}

/// The kinds of team a world declares (`teamtype` 0 and 2; access teams hold no roles).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TeamKind {
    /// An owner team (`teamtype` 0).
    Owner,
    /// A Microsoft Entra security group team (`teamtype` 2) for the group `object_id`.
    Group {
        /// `azureactivedirectoryobjectid`: the Entra group's object id.
        object_id: Uuid,
    },
}

impl TeamKind {
    /// The `teamtype` choice value.
    pub fn team_type(self) -> u8 {
        match self {
            TeamKind::Owner => 0,
            TeamKind::Group { .. } => 2,
        }
    }
}

/// A table and where its rows come from.
#[derive(Clone, Debug)]
pub struct Table {
    /// The definition (columns, names, OTC).
    pub definition: TableDefinition,
    /// The rows.
    pub data: TableData,
}

/// Where a table's rows come from.
#[derive(Clone, Debug)]
pub enum TableData {
    /// Rows given in full (keyed by Web API property name). For `systemuser`, `role` and
    /// `businessunit` the environment's application users, roles and business units are
    /// rows too, before these.
    Rows(Vec<Map<String, Value>>),
    /// `count` rows made on demand by the deterministic generator (seeded by
    /// [`Environment::data_seed`]); memory does not grow with `count`.
    Generated {
        /// How many rows the table has.
        count: u64,
    },
}

/// Service protection limits per user, on a sliding window of the injected clock
/// (reference/dataverse.md §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceProtectionLimits {
    /// Requests per window (6000).
    pub requests: u32,
    /// The window in seconds (300).
    pub window_seconds: u32,
    /// Combined execution time per window in milliseconds (1,200,000).
    pub execution_milliseconds: u64,
    /// Simulated execution time each request costs, in milliseconds (0: the execution-time
    /// limit never trips unless a scenario sets a cost). The fake's own time is not Dataverse's.
    pub execution_milliseconds_per_request: u64,
    /// Concurrent requests (52).
    pub concurrent: u32,
}

impl Default for ServiceProtectionLimits {
    fn default() -> ServiceProtectionLimits {
        ServiceProtectionLimits {
            requests: 6000,
            window_seconds: 300,
            execution_milliseconds: 1_200_000,
            execution_milliseconds_per_request: 0,
            concurrent: 52,
        }
    }
}
