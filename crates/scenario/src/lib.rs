//! World and scenario files for d365-harness: loading, validation, translation into each
//! fake's config, and the runner that plays a scenario against the fakes into a [`Report`].
//!
//! Start at [`World::load`], [`Scenario::load`] and [`run`]; [`spawn_live`] serves a world that
//! [`Change`]s edit while it runs. Invariants: file types (serde mirrors of the TOML) stay
//! private; only validated types such as [`World`] and [`Scenario`] leave the crate; every error
//! names its file; a [`Report`] never holds a secret or a token.

mod change;
mod check;
mod fakes;
mod live;
mod location;
#[cfg(test)]
mod properties;
mod report;
mod runner;
mod scenario;
pub mod suggest;
#[cfg(test)]
mod test_support;
mod timer;
mod world;

use std::path::PathBuf;

pub use change::{Change, ChangeError, ChangeReason, parse_duration};
pub use check::{FileCheck, check_file, file_kind};
pub use fakes::{
    SEED, START_TIME, ServeError, network_settings, network_settings_for, spawn_fakes,
};
pub use live::{Applied, LiveWorld, Loaded, spawn_live, spawn_live_with};
pub use location::Location;
pub use report::{
    CheckSummary, CheckWarningReport, ExpectationReport, FaultStepReport, FieldReport, FormReport,
    ProblemReport, Report, RequestCountReport, Seconds, StepReport,
};
pub use runner::{Player, describe_change, expectation_report, run, run_journaled};
pub use scenario::{
    Action, ClockMove, Expectation, Form, Outcome, RequestCount, Scenario, SecretInput,
    SecretOrigin, SecretPart, Step, Trust,
};
pub use timer::ManualTimer;
pub use world::{
    App, Certificate, ClientCredentials, Environment, EnvironmentTable, EnvironmentThrottle,
    Permission, Secret, SecretValue, ServicePrincipal, Tenant, World, WorldDocument,
};

/// The kind of file an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// A world file (`fixtures/worlds/*.toml`).
    World,
    /// A scenario file (`scenarios/<area>/<case>.toml`).
    Scenario,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            FileKind::World => "world",
            FileKind::Scenario => "scenario",
        })
    }
}

/// Everything that can go wrong while loading a world or a scenario, turning a world into a
/// fake's config, or running a scenario. A scenario whose expectations fail is not an error: that
/// is data in its [`Report`]; an `Error` means the file or the harness itself is broken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read at all.
    #[error("failed to read {file} `{}`", .path.display())]
    Read {
        /// What kind of file.
        file: FileKind,
        /// The file.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML, or not shaped like a world or scenario file (unknown or missing
    /// field, wrong type).
    #[error("failed to parse {file} `{}`{}", .path.display(), location::at(.location.as_ref()))]
    Parse {
        /// What kind of file.
        file: FileKind,
        /// The file.
        path: PathBuf,
        /// Where in the file, when the TOML parser knows.
        location: Option<Location>,
        /// What the parser said.
        #[source]
        source: TomlError,
    },
    /// The file is well-formed but a value is wrong: a bad GUID or timestamp, a reference to an
    /// unknown tenant, secret or problem, a duplicate, an unreadable file it names.
    #[error("invalid {file} `{}` at {location}: `{key}`", .path.display())]
    Invalid {
        /// What kind of file.
        file: FileKind,
        /// The file.
        path: PathBuf,
        /// Where the offending value is.
        location: Location,
        /// The dotted key of the offending value (`apps.importer.secrets[1].expires`).
        key: String,
        /// What is wrong with it (boxed: some causes are large, and errors travel by value).
        #[source]
        reason: Box<Reason>,
    },
    /// The world has no app with a usable client secret, so there are no credentials to hand
    /// to a client.
    #[error("world `{}` has no app with a client secret that is still valid", .path.display())]
    NoClientCredentials {
        /// The world file.
        path: PathBuf,
    },
    /// The fake Entra ID rejected the translated config (a bug in the translation or a check
    /// this loader lacks).
    #[error("world `{}` does not make a valid fake Entra ID config", .path.display())]
    Entra {
        /// The world file.
        path: PathBuf,
        /// What the fake said.
        #[source]
        source: fake_entra::Error,
    },
    /// The fakes for a scenario's world did not start.
    #[error("failed to start the fakes for world `{}`", .path.display())]
    Serve {
        /// The world file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: ServeError,
    },
    /// The temporary folder for a scenario's source list could not be created.
    #[error("failed to create a temporary folder for the source list of scenario `{}`", .path.display())]
    TempDir {
        /// The scenario file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The flow under test could not be built from the scenario's network settings.
    #[error("failed to set up the flow for scenario `{}`", .path.display())]
    FlowSetup {
        /// The scenario file.
        path: PathBuf,
        /// What the flow said.
        #[source]
        source: d365_source::Error,
    },
    /// A step failed outside the flow's checks: the source list could not be read or written.
    #[error("failed to run step {step} of scenario `{}`", .path.display())]
    Step {
        /// The scenario file.
        path: PathBuf,
        /// The step, from 1.
        step: usize,
        /// What the flow or its store said.
        #[source]
        source: d365_source::Error,
    },
}

/// Why a value in a world or scenario file is wrong; the enclosing [`Error::Invalid`] says where.
#[derive(Debug, thiserror::Error)]
pub enum Reason {
    /// `version` is not one this loader reads.
    #[error("unsupported version `{found}`; this harness reads version 1")]
    Version {
        /// The value as written.
        found: String,
    },
    /// A table key that other entries cannot refer to cleanly.
    #[error("`{name}` is not a plain key; use letters, digits, `-` and `_`")]
    Key {
        /// The key as written.
        name: String,
    },
    /// A value that must be a GUID is not one.
    #[error("`{value}` is not a GUID")]
    Guid {
        /// The value as written.
        value: String,
        /// What the GUID parser said.
        #[source]
        source: uuid::Error,
    },
    /// A value that must be an RFC 3339 timestamp is not one.
    #[error("`{value}` is not an RFC 3339 timestamp like `2028-06-30T00:00:00Z` ({cause})")]
    Timestamp {
        /// The value as written.
        value: String,
        /// What the timestamp parser said. Shown inline, not as a `source()`: `time`'s error
        /// returns its own message again as its source, which would print it twice.
        cause: time::error::Parse,
    },
    /// A certificate's validity ends before it starts.
    #[error("the certificate ends before it starts")]
    EndBeforeStart,
    /// A value that must not be empty is.
    #[error("must not be empty")]
    Empty,
    /// A domain name with characters no domain has.
    #[error("`{value}` is not a domain name")]
    Domain {
        /// The value as written.
        value: String,
    },
    /// A value that must be unique in the world is used twice.
    #[error("{what} `{value}` is already used by `{first}`")]
    Duplicate {
        /// What kind of value (`tenant id`, `domain`, `client id`, ...).
        what: &'static str,
        /// The value.
        value: String,
        /// The key of the first use.
        first: String,
    },
    /// A reference to a tenant the world does not define.
    #[error("unknown tenant `{name}`; known: {}", .known.join(", "))]
    UnknownTenant {
        /// The key as written.
        name: String,
        /// The tenant keys the world defines.
        known: Vec<String>,
    },
    /// A service principal outside the home tenant of a single-tenant app.
    #[error(
        "app is single-tenant, so it has no service principal outside its home tenant `{home}`; set `multi_tenant = true`"
    )]
    SingleTenant {
        /// The home tenant key.
        home: String,
    },
    /// A file the world names could not be read.
    #[error("failed to read `{}`", .file.display())]
    ReadFile {
        /// The file, joined to the world file's folder.
        file: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A file that must hold PEM is not valid PEM.
    #[error("`{}` is not valid PEM", .file.display())]
    Pem {
        /// The file, joined to the world file's folder.
        file: PathBuf,
        /// What the PEM reader said.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A certificate file holds no certificate.
    #[error("`{}` holds no PEM `CERTIFICATE` block", .file.display())]
    NoCertificate {
        /// The file, joined to the world file's folder.
        file: PathBuf,
    },
    /// A certificate's inline `pem` is not valid PEM.
    #[error("not valid PEM")]
    PemText {
        /// What the PEM reader said.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A certificate's inline `pem` holds no certificate.
    #[error("holds no PEM `CERTIFICATE` block")]
    NoCertificateInText,
    /// A certificate with both or neither of `file` and `pem`.
    #[error("give the certificate either `file = \"<PEM file>\"` or `pem = '''<PEM text>'''`")]
    CertificateSource,
    /// `removed = true` on the service principal of the app's home tenant.
    #[error(
        "the service principal in the home tenant `{home}` goes only with the app registration; disable the app with `enabled = false`"
    )]
    RemovedHomePrincipal {
        /// The home tenant key.
        home: String,
    },
    /// `dynamics_enabled = false` in a tenant that has no Dynamics CRM principal to disable.
    #[error(
        "there is no Dynamics CRM service principal to disable (`dynamics = false`); set `dynamics = true` or remove `dynamics_enabled`"
    )]
    DynamicsDisabledWithoutPrincipal,
    /// A value that must be a host name (no scheme, port, path or wildcard) is not one.
    #[error("`{value}` is not a host name like `login.windows.net`")]
    HostName {
        /// The value as written.
        value: String,
    },
    /// A number outside the range its knob allows.
    #[error("must be {}, not `{value}`", allowed_range(*.min, *.max))]
    OutOfRange {
        /// The value as written.
        value: i64,
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value, when there is one below the type's limit.
        max: Option<i64>,
    },
    /// A listed resource that is not the https URI of a Dataverse host of the world's cloud
    /// (the fake Entra ID issues tokens for nothing else).
    #[error("`{value}` is not the URI of a Dataverse host like `https://contoso.crm.dynamics.com`")]
    ResourceUri {
        /// The value as written.
        value: String,
    },
    /// A forced error or message override that names no entry of the AADSTS catalogue.
    #[error("`{value}` is not in the AADSTS catalogue; known: {known}")]
    UnknownCatalogueEntry {
        /// The value as written.
        value: String,
        /// The names that would be accepted here, comma-separated.
        known: String,
    },
    /// A forced error's tenant that no client would send as the tenant segment.
    #[error(
        "`{value}` is not a tenant as clients send it: a tenant id, a domain like `contoso.onmicrosoft.com`, or `common`, `organizations` or `consumers`"
    )]
    TenantSegment {
        /// The value as written.
        value: String,
    },
    /// A fault rule for a service the harness does not have.
    #[error("unknown service `{name}`; known: {}", .known.join(", "))]
    UnknownService {
        /// The value as written.
        name: String,
        /// The service names fault rules can match.
        known: Vec<&'static str>,
    },
    /// A fault rule path that can never match, since request paths start with `/`.
    #[error("`{value}` is not a path pattern; start it with `/` or `*`")]
    PathPattern {
        /// The value as written.
        value: String,
    },
    /// A fault rule with both `nth` and `from`.
    #[error(
        "`nth` and `from` cannot be used together: `nth = n` fires on the n-th matching request only, `from = n` on every one from the n-th on (limit it with `times`)"
    )]
    NthWithFrom,
    /// A response header name with characters HTTP does not allow.
    #[error("`{name}` is not an HTTP header name")]
    HeaderName {
        /// The name as written.
        name: String,
    },
    /// A response header value with characters HTTP does not allow.
    #[error("the value of header `{name}` must be printable ASCII")]
    HeaderValue {
        /// The header name.
        name: String,
    },
    /// The signing key or its certificate is unusable.
    #[error("the signing key is unusable")]
    SigningKey {
        /// What the fake said.
        #[source]
        source: fake_entra::Error,
    },
    /// An environment URL that is not https on a Dataverse host of the world's cloud.
    #[error(
        "`{value}` is not an https URL of a Dataverse host like `https://contoso.crm.dynamics.com`"
    )]
    EnvironmentUrl {
        /// The value as written.
        value: String,
    },
    /// An organization version that is not four dot-separated numbers.
    #[error("`{value}` is not a version like `9.2.25093.00168`")]
    OrganizationVersion {
        /// The value as written.
        value: String,
    },
    /// A reference to an app the world does not define.
    #[error("unknown app `{name}`; known: {}", .known.join(", "))]
    UnknownApp {
        /// The key as written.
        name: String,
        /// The app keys the world defines.
        known: Vec<String>,
    },
    /// An application user for an app that has no service principal in the environment's
    /// tenant, so it could never get a token for the environment.
    #[error(
        "app `{app}` has no service principal in tenant `{tenant}`; list it in the app's `service_principals` (with `multi_tenant = true`)"
    )]
    AppNotInTenant {
        /// The app key.
        app: String,
        /// The environment's tenant key.
        tenant: String,
    },
    /// A reference to a business unit the environment does not define.
    #[error("unknown business unit `{name}`; known: {}", .known.join(", "))]
    UnknownBusinessUnit {
        /// The name as written.
        name: String,
        /// The business unit names of the environment.
        known: Vec<String>,
    },
    /// `business_units` without a root.
    #[error("no business unit is the root; leave out `parent` on exactly one")]
    NoRootBusinessUnit,
    /// A second business unit without a parent.
    #[error("`{first}` is already the root business unit; give this one a `parent`")]
    SecondRootBusinessUnit {
        /// The name of the first root.
        first: String,
    },
    /// A business unit whose parents never reach the root.
    #[error("the parents of business unit `{name}` go round in a cycle and never reach the root")]
    BusinessUnitCycle {
        /// The business unit's name.
        name: String,
    },
    /// A role the world defines under the name of a predefined role.
    #[error(
        "`{name}` is a predefined role; assign it to users by name, or define a role with another name"
    )]
    PredefinedRoleName {
        /// The name as written.
        name: String,
    },
    /// A role name that is neither defined in the environment nor predefined.
    #[error(
        "unknown role `{name}`; defined: {}; predefined: {}",
        list_or_none(.defined),
        .predefined.join(", ")
    )]
    UnknownRole {
        /// The name as written.
        name: String,
        /// The roles the environment defines.
        defined: Vec<String>,
        /// The predefined roles.
        predefined: Vec<String>,
    },
    /// A role assigned to a user or team in a business unit that neither is nor lies below the
    /// role's (Dataverse: `0x80041409` UserInWrongBusiness).
    #[error(
        "role `{role}` belongs to business unit `{role_unit}`; a {holder} in `{user_unit}` can hold only roles of `{user_unit}` or a business unit above it"
    )]
    RoleOutsideBusinessUnit {
        /// The role name.
        role: String,
        /// The role's business unit.
        role_unit: String,
        /// `user` or `team`.
        holder: &'static str,
        /// The user's or team's business unit.
        user_unit: String,
    },
    /// A team member that is neither an application user of the environment (by app key) nor
    /// one of its ordinary users (by full name).
    #[error("unknown team member `{name}`; known: {}", .known.join(", "))]
    UnknownTeamMember {
        /// The name as written.
        name: String,
        /// The app keys of the environment's application users, then its ordinary users.
        known: Vec<String>,
    },
    /// An `owners` entry that names no team, application user (by app key) or ordinary user.
    #[error("unknown owner `{name}`; known: {}", .known.join(", "))]
    UnknownOwner {
        /// The name as written.
        name: String,
        /// Team names, app keys of application users, ordinary users' full names.
        known: Vec<String>,
    },
    /// `owners` on a table that is not generated, or a keyword other than `application_users`.
    #[error(
        "`owners` is `\"application_users\"` or a list of team, app and user names, on a table with `generate`"
    )]
    TableOwners,
    /// A group team without the Entra group's object id, or an owner team with one.
    #[error(
        "a `group` team needs `group_id` (the Microsoft Entra group's object id); an `owner` team has none"
    )]
    TeamGroupId,
    /// A privilege name the catalog does not know.
    #[error("unknown privilege `{name}`; known: {known}")]
    UnknownPrivilege {
        /// The name as written.
        name: String,
        /// Every privilege the catalog knows, comma-separated.
        known: String,
    },
    /// A privilege depth that is not one of the four.
    #[error("`{value}` is not a depth; use `Basic`, `Local`, `Deep` or `Global`")]
    Depth {
        /// The value as written.
        value: String,
    },
    /// A table that is not in the standard catalog.
    #[error("unknown table `{name}`; known: {}", .known.join(", "))]
    UnknownTable {
        /// The logical name as written.
        name: String,
        /// The standard tables' logical names.
        known: Vec<String>,
    },
    /// A table with both or neither of `generate` and `rows`.
    #[error("give the table either `generate = <count>` or `rows = [...]`")]
    TableSource,
    /// A custom table named like a standard one.
    #[error(
        "`{name}` is a standard table; a custom table needs its own name with its publisher's \
         prefix (`cr7a1_{name}`)"
    )]
    StandardTableName {
        /// The logical name as written.
        name: String,
    },
    /// A custom table or column name that Dataverse would not make.
    #[error(
        "`{name}` is not a custom logical name: lower-case letters, digits and `_`, starting \
         with the publisher's prefix and `_` (`cr7a1_asset`)"
    )]
    CustomName {
        /// The name as written.
        name: String,
    },
    /// A schema name that does not lower-case to the logical name.
    #[error("schema name `{schema}` must be the logical name `{logical}` with its own casing")]
    SchemaName {
        /// The schema name as written.
        schema: String,
        /// The table's logical name.
        logical: String,
    },
    /// A custom column of an unknown type, or a type's settings that do not fit it.
    #[error("`{value}` is not a column type; known: {}", .known.join(", "))]
    ColumnType {
        /// The type as written.
        value: String,
        /// The types a custom column may have.
        known: Vec<&'static str>,
    },
    /// A column setting that is missing or wrong for its type.
    #[error("column `{column}`: {problem}")]
    ColumnSetting {
        /// The column's logical name.
        column: String,
        /// What is wrong.
        problem: String,
    },
    /// A custom table ownership that is neither `user` nor `organization`.
    #[error("`{value}` is not an ownership; use `user` (user or team owned) or `organization`")]
    TableOwnership {
        /// The value as written.
        value: String,
    },
    /// A depth other than Global on a privilege of an organization-owned table.
    #[error(
        "`{privilege}` is a privilege of the organization-owned table `{table}`, which only \
         takes `Global` (Organization), not `{depth}`"
    )]
    OrganizationOwnedDepth {
        /// The privilege name.
        privilege: String,
        /// The table's logical name.
        table: String,
        /// The depth as written.
        depth: String,
    },
    /// A row property that is not a column of the table.
    #[error("`{table}` has no property `{name}`; known: {}", .known.join(", "))]
    UnknownColumn {
        /// The table's logical name.
        table: String,
        /// The property as written.
        name: String,
        /// The table's Web API property names.
        known: Vec<String>,
    },
    /// A row value of the wrong type for its column.
    #[error("must be {expected} (`{column}` is `{edm}`)")]
    ColumnValue {
        /// The property name.
        column: String,
        /// The column's OData type (`Edm.Decimal`).
        edm: &'static str,
        /// What the value must be (`a number`).
        expected: &'static str,
    },
    /// A forced throttle for an app without an application user in the environment: the fake
    /// refuses such requests before it counts them, so the throttle would never fire.
    #[error(
        "app `{app}` has no application user in this environment, so the throttle could never fire; add one to `application_users`"
    )]
    ThrottleWithoutApplicationUser {
        /// The app key.
        app: String,
    },
    /// An error code switch set to a code the fake does not choose between.
    #[error(
        "must be {}, not `{value}`",
        .allowed.iter().map(|code| format!("`{code}`")).collect::<Vec<_>>().join(" or ")
    )]
    Code {
        /// The value as written.
        value: String,
        /// The codes this switch takes.
        allowed: &'static [&'static str],
    },
    /// A scenario's world name with no `fixtures/worlds/<name>.toml` beside or above it.
    #[error(
        "no world `{name}` in `fixtures/worlds/` of the scenario's folder or a folder above it (searched {}); known: {}",
        list_paths(.searched),
        list_or_none(.known)
    )]
    UnknownWorld {
        /// The name as written.
        name: String,
        /// Every `fixtures/worlds/` folder looked in, nearest first (absolute).
        searched: Vec<PathBuf>,
        /// The worlds of the nearest `fixtures/worlds/` folder.
        known: Vec<String>,
    },
    /// The world a scenario names does not load.
    #[error("the world does not load")]
    World {
        /// Why (boxed: an `Error` holds a `Reason`).
        #[source]
        source: Box<Error>,
    },
    /// A reference to a secret the app does not have.
    #[error("app `{app}` has no secret named `{name}`; known: {}", list_or_none(.known))]
    UnknownSecret {
        /// The app key.
        app: String,
        /// The secret name as written.
        name: String,
        /// The names of the app's secrets.
        known: Vec<String>,
    },
    /// A `change` step's change names something the world does not have at that step.
    #[error("`{change}` does not fit the world at this step: {reason}")]
    Change {
        /// The change's kind (`remove_role`).
        change: &'static str,
        /// Why, with the known names (boxed: errors travel by value).
        reason: Box<ChangeReason>,
    },
    /// A step's `source` names no `[forms.<name>]` table.
    #[error("no form `[forms.{name}]` in the scenario; known: {}", list_or_none(.known))]
    UnknownForm {
        /// The name as written.
        name: String,
        /// The names of the scenario's `[forms.<name>]` tables.
        known: Vec<String>,
    },
    /// `part = "id"` for a secret whose world entry gives no `id`.
    #[error("secret `{name}` of app `{app}` has no `id` in the world")]
    SecretWithoutId {
        /// The app key.
        app: String,
        /// The secret name.
        name: String,
    },
    /// A problem name that is not one of the flow's `ProblemKind`s.
    #[error("unknown problem `{name}`")]
    UnknownProblem {
        /// The name as written.
        name: String,
        /// The list of known names, as serde words it.
        #[source]
        source: serde::de::value::Error,
    },
    /// A check warning name that is not one of the flow's `CheckWarningKind`s.
    #[error("unknown check warning `{name}`")]
    UnknownCheckWarning {
        /// The name as written.
        name: String,
        /// The list of known names, as serde words it.
        #[source]
        source: serde::de::value::Error,
    },
    /// A form field name that is not one of the five.
    #[error("unknown form field `{name}`")]
    UnknownField {
        /// The name as written.
        name: String,
        /// The list of known names, as serde words it.
        #[source]
        source: serde::de::value::Error,
    },
    /// A scenario without steps.
    #[error("a scenario needs at least one `[[steps]]`")]
    NoSteps,
    /// An expected outcome that the step's action never has.
    #[error(
        "`{action}` never ends `{outcome}`; expect {}",
        .allowed.iter().map(|outcome| format!("`{outcome}`")).collect::<Vec<_>>().join(", ")
    )]
    OutcomeOfAction {
        /// The action.
        action: &'static str,
        /// The outcome as written.
        outcome: &'static str,
        /// The outcomes the action can have.
        allowed: Vec<&'static str>,
    },
    /// A step key that is missing where the action or outcome needs it, or present where it
    /// means nothing.
    #[error("{rule}")]
    StepKey {
        /// What to write instead.
        rule: &'static str,
    },
}

/// The names, comma-separated, or `none`.
fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

/// Paths as `` `a`, `b` ``, for [`Reason::UnknownWorld`].
fn list_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|path| format!("`{}`", path.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `between 1 and 86400` or `at least 1`, for [`Reason::OutOfRange`].
fn allowed_range(min: i64, max: Option<i64>) -> String {
    match max {
        Some(max) => format!("between {min} and {max}"),
        None => format!("at least {min}"),
    }
}

/// A TOML syntax or schema error, displayed as its one-line message: the enclosing
/// [`Error::Parse`] carries the file and position. (The `toml` error's own `Display` is a
/// multi-line snippet that would repeat both.)
#[derive(Debug)]
pub struct TomlError(Box<toml::de::Error>);

impl TomlError {
    /// The error as the `toml` crate reported it (with its span and snippet).
    pub fn toml(&self) -> &toml::de::Error {
        &self.0
    }
}

impl std::fmt::Display for TomlError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.0.message().trim_end())
    }
}

impl std::error::Error for TomlError {}
