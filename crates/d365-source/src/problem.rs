//! Every way the connection check can fail, as data. A [`Problem`] carries a stable machine
//! name ([`ProblemKind`]), the [`Evidence`] (step, HTTP status, AADSTS or Dataverse code, a
//! redacted excerpt), the sentence the user sees and the setup step that fixes it, written for
//! an admin. The constructors here are the only place those texts live.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::report::{CheckWarning, CheckWarningKind, ReadDepth};

/// One failure of the connection check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The stable machine name.
    pub kind: ProblemKind,
    /// What was observed.
    pub evidence: Evidence,
    /// The sentence the user sees.
    pub message: String,
    /// The setup step that fixes it.
    pub fix: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (fix: {})", self.message, self.fix)
    }
}

/// The stable machine names of the problems (`snake_case` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// Entra refuses the tenant identifier as malformed (AADSTS900023).
    TenantMalformed,
    /// No tenant has this GUID or domain (AADSTS90002).
    TenantNotFound,
    /// The client ID is unknown in the tenant, or the multi-tenant app was never installed
    /// there (AADSTS700016).
    AppNotFound,
    /// Entra wants consent for the app (AADSTS65001).
    AppNotConsented,
    /// The secret is not a current secret value of the app (AADSTS7000215).
    WrongSecret,
    /// The secret has expired (AADSTS7000222).
    ExpiredSecret,
    /// The app's service principal is disabled (AADSTS7000112).
    AppDisabled,
    /// The tenant has no Dynamics 365 (Dataverse) service principal (AADSTS500011).
    DynamicsNotInTenant,
    /// The tenant's Dynamics 365 service principal is disabled (AADSTS500014).
    DynamicsDisabledInTenant,
    /// A Conditional Access policy blocks the app (AADSTS53003).
    ConditionalAccessBlocked,
    /// The environment has no application user for the app (0x80072560).
    NoApplicationUser,
    /// The application user is disabled (0x80040225).
    ApplicationUserDisabled,
    /// The application user has no security role.
    NoSecurityRole,
    /// The application user cannot read one or more of the tables to import (0x80040220).
    MissingTablePrivilege,
    /// A table to import does not exist in the environment.
    TableNotFound,
    /// Reading a table returned no row, and the application user's Read depth on it does not
    /// reach every row (User, Business Unit, or Parent: Child outside the root business unit).
    RowsNotVisible,
    /// The environment is in administration mode (0x8004A113).
    AdminMode,
    /// Dataverse refused the token Entra issued (401).
    TokenRejected,
    /// The environment's host name does not resolve.
    EnvironmentNotFound,
    /// The TLS handshake failed (untrusted or wrong certificate).
    TlsFailure,
    /// The connection could not be made (name lookup of a Microsoft host, TCP connect refused or
    /// unreachable, proxy failure).
    ConnectionFailed,
    /// The connection was made, then dropped before the answer arrived (reset or closed
    /// mid-request, an HTTP/2 stream reset), on every try.
    ConnectionDropped,
    /// No answer within the configured timeout.
    Timeout,
    /// Still throttled (429) when the retry budget ran out.
    Throttled,
    /// The service kept answering 5xx until the retry budget ran out.
    ServiceUnavailable,
    /// An answer the flow does not understand.
    UnexpectedResponse,
}

impl ProblemKind {
    /// Every kind, in declaration order.
    pub const ALL: [ProblemKind; 26] = [
        ProblemKind::TenantMalformed,
        ProblemKind::TenantNotFound,
        ProblemKind::AppNotFound,
        ProblemKind::AppNotConsented,
        ProblemKind::WrongSecret,
        ProblemKind::ExpiredSecret,
        ProblemKind::AppDisabled,
        ProblemKind::DynamicsNotInTenant,
        ProblemKind::DynamicsDisabledInTenant,
        ProblemKind::ConditionalAccessBlocked,
        ProblemKind::NoApplicationUser,
        ProblemKind::ApplicationUserDisabled,
        ProblemKind::NoSecurityRole,
        ProblemKind::MissingTablePrivilege,
        ProblemKind::TableNotFound,
        ProblemKind::RowsNotVisible,
        ProblemKind::AdminMode,
        ProblemKind::TokenRejected,
        ProblemKind::EnvironmentNotFound,
        ProblemKind::TlsFailure,
        ProblemKind::ConnectionFailed,
        ProblemKind::ConnectionDropped,
        ProblemKind::Timeout,
        ProblemKind::Throttled,
        ProblemKind::ServiceUnavailable,
        ProblemKind::UnexpectedResponse,
    ];

    /// The stable machine name (`wrong_secret`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::TenantMalformed => "tenant_malformed",
            ProblemKind::TenantNotFound => "tenant_not_found",
            ProblemKind::AppNotFound => "app_not_found",
            ProblemKind::AppNotConsented => "app_not_consented",
            ProblemKind::WrongSecret => "wrong_secret",
            ProblemKind::ExpiredSecret => "expired_secret",
            ProblemKind::AppDisabled => "app_disabled",
            ProblemKind::DynamicsNotInTenant => "dynamics_not_in_tenant",
            ProblemKind::DynamicsDisabledInTenant => "dynamics_disabled_in_tenant",
            ProblemKind::ConditionalAccessBlocked => "conditional_access_blocked",
            ProblemKind::NoApplicationUser => "no_application_user",
            ProblemKind::ApplicationUserDisabled => "application_user_disabled",
            ProblemKind::NoSecurityRole => "no_security_role",
            ProblemKind::MissingTablePrivilege => "missing_table_privilege",
            ProblemKind::TableNotFound => "table_not_found",
            ProblemKind::RowsNotVisible => "rows_not_visible",
            ProblemKind::AdminMode => "admin_mode",
            ProblemKind::TokenRejected => "token_rejected",
            ProblemKind::EnvironmentNotFound => "environment_not_found",
            ProblemKind::TlsFailure => "tls_failure",
            ProblemKind::ConnectionFailed => "connection_failed",
            ProblemKind::ConnectionDropped => "connection_dropped",
            ProblemKind::Timeout => "timeout",
            ProblemKind::Throttled => "throttled",
            ProblemKind::ServiceUnavailable => "service_unavailable",
            ProblemKind::UnexpectedResponse => "unexpected_response",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The step of the check that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The client-credentials token request to Entra ID.
    Token,
    /// `GET WhoAmI`.
    WhoAmI,
    /// `RetrieveCurrentOrganization`.
    Organization,
    /// `RetrieveUserPrivileges` and the table metadata (the readable-tables list).
    Privileges,
    /// Reading one row of a table to import.
    TableRead,
}

impl Step {
    /// The step's name as serialized: `token`, `who_am_i`, `organization`, `privileges`,
    /// `table_read`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Token => "token",
            Step::WhoAmI => "who_am_i",
            Step::Organization => "organization",
            Step::Privileges => "privileges",
            Step::TableRead => "table_read",
        }
    }
}

/// What the flow observed when it failed. No field ever holds a secret or a token: excerpts are
/// scrubbed of both before they get here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The step.
    pub step: Step,
    /// Method and URL of the failing request (never carries a secret: the token request sends
    /// its credentials in the body).
    pub request: String,
    /// The HTTP status, when there was an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `AADSTS7000215`, `0x80040220`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The service's message, a body excerpt or the transport error, at most
    /// [`EXCERPT_LIMIT`] characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The last `Retry-After` seen, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// How many times the failing request was sent again before the flow gave up (0, and
    /// then absent from the JSON, when the first failure ended it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// How long the flow waited before those retries, in all, in milliseconds (absent when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub waited_ms: u64,
}

// Both new evidence fields are left out when zero, so evidence without retries serialises as
// it did before they existed (saved `sources.json` files and report snapshots keep their shape).
fn is_zero<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// The longest excerpt [`Evidence::detail`] keeps.
pub const EXCERPT_LIMIT: usize = 1000;

impl Evidence {
    /// Evidence for `step` at `request` (`POST https://...`).
    pub fn new(step: Step, request: impl Into<String>) -> Evidence {
        Evidence {
            step,
            request: request.into(),
            status: None,
            code: None,
            detail: None,
            retry_after_seconds: None,
            retries: 0,
            waited_ms: 0,
        }
    }

    /// Adds the HTTP status.
    pub fn status(mut self, status: u16) -> Evidence {
        self.status = Some(status);
        self
    }

    /// Adds the service's error code.
    pub fn code(mut self, code: impl Into<String>) -> Evidence {
        self.code = Some(code.into());
        self
    }

    /// Adds a detail, cut to [`EXCERPT_LIMIT`] characters.
    pub fn detail(mut self, detail: impl AsRef<str>) -> Evidence {
        let detail = detail.as_ref().trim();
        if !detail.is_empty() {
            self.detail = Some(excerpt(detail));
        }
        self
    }

    /// Adds the `Retry-After` seen.
    pub fn retry_after(mut self, seconds: Option<u64>) -> Evidence {
        self.retry_after_seconds = seconds;
        self
    }

    /// Adds the retries made before giving up and the time waited before them.
    pub fn attempts(mut self, retries: u32, waited: Duration) -> Evidence {
        self.retries = retries;
        self.waited_ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
        self
    }
}

/// What the TLS error in the evidence says about the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TlsCause {
    /// Not issued by a trusted root (unknown issuer, bad signature, ...).
    Untrusted,
    /// Expired, or not valid yet.
    Expired,
    /// Issued for another host name.
    WrongName,
    /// The handshake failed for another reason (an alert, no common protocol version): the
    /// evidence says nothing about the certificate.
    Handshake,
}

/// Why the flow stopped sending a failing request again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GaveUp {
    /// It made every retry it may make (none, when the policy allows none).
    RetriesUsed,
    /// The next wait (the service's `Retry-After`, or the flow's own backoff) is more than the
    /// check has left of its waiting budget.
    WaitBeyondBudget {
        /// The wait the next retry needed.
        next_wait: Duration,
        /// What was left of the budget.
        wait_left: Duration,
        /// The whole budget ([`crate::RetryPolicy::max_wait`]).
        max_wait: Duration,
    },
}

/// `30 seconds`, `1 second`, `2 minutes`, `1.6 seconds`: a wait as a sentence says it.
pub(crate) fn duration_text(duration: Duration) -> String {
    let millis = duration.as_millis();
    if !millis.is_multiple_of(1000) {
        return format!("{:.1} seconds", duration.as_secs_f64());
    }
    match duration.as_secs() {
        1 => "1 second".to_owned(),
        seconds if seconds >= 120 && seconds.is_multiple_of(60) => {
            format!("{} minutes", seconds / 60)
        }
        seconds => format!("{seconds} seconds"),
    }
}

/// ` after 2 retries and 1.6 seconds of waiting`, or nothing when there was no retry: what the
/// evidence shows the flow did before it gave up.
fn after_retries(evidence: &Evidence) -> String {
    match evidence.retries {
        0 => String::new(),
        retries => format!(
            " after {} and {} of waiting",
            retries_text(retries),
            duration_text(Duration::from_millis(evidence.waited_ms))
        ),
    }
}

/// When the check stopped because the service's `Retry-After` was beyond the budget: when to
/// test again (after that wait). Retries that ran out say nothing about when it will be over.
fn retry_after_beyond_budget(evidence: &Evidence, gave_up: GaveUp) -> Option<String> {
    let seconds = evidence.retry_after_seconds?;
    matches!(gave_up, GaveUp::WaitBeyondBudget { .. }).then(|| {
        format!(
            "Test the source again in {} or later (the wait the service asked for)",
            duration_text(Duration::from_secs(seconds))
        )
    })
}

fn retries_text(retries: u32) -> String {
    match retries {
        1 => "1 retry".to_owned(),
        retries => format!("{retries} retries"),
    }
}

/// Why the flow stopped, as the end of a sentence (`, and it then asked ...`); the service's
/// `Retry-After` is named only when the evidence holds one.
fn gave_up_text(evidence: &Evidence, gave_up: GaveUp) -> String {
    let GaveUp::WaitBeyondBudget {
        next_wait,
        wait_left,
        max_wait,
    } = gave_up
    else {
        return String::new();
    };
    let asked = match evidence.retry_after_seconds {
        Some(seconds) => format!(
            "it asked the importer to wait {} before trying again",
            duration_text(Duration::from_secs(seconds))
        ),
        None => format!(
            "trying again would have meant waiting {}",
            duration_text(next_wait)
        ),
    };
    let budget = if wait_left >= max_wait {
        format!(
            "more than the connection check waits ({} at most)",
            duration_text(max_wait)
        )
    } else if wait_left.is_zero() {
        format!(
            "and the connection check had used all {} it may wait",
            duration_text(max_wait)
        )
    } else {
        format!(
            "more than the {} the connection check had left of the {} it may wait",
            duration_text(wait_left),
            duration_text(max_wait)
        )
    };
    let stopped = if evidence.retries == 0 {
        "so the check stopped without waiting"
    } else {
        "so the check stopped there"
    };
    format!("; {asked}, {budget}, {stopped}")
}

/// Cuts `text` to [`EXCERPT_LIMIT`] characters, marking the cut.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_LIMIT) {
        None => text.to_owned(),
        Some((end, _)) => format!(
            "{}… ({} characters in all)",
            &text[..end],
            text.chars().count()
        ),
    }
}

/// What the problem texts need to know about the source being checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub tenant: &'a str,
    pub client_id: &'a str,
    pub environment: &'a str,
    pub secret_looks_like_id: bool,
}

/// How a Read depth falls short of every row of a table, for an application user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartialReach {
    /// User (Basic): the rows the user owns.
    OwnedRows,
    /// Business Unit (Local): the rows of the user's business unit.
    OneUnit,
    /// Parent: Child (Deep), the user outside the root business unit.
    UnitSubtree,
    /// Parent: Child (Deep), and the root business unit could not be read.
    UnitSubtreeRootUnknown,
}

impl PartialReach {
    /// The depth this shortfall comes from.
    pub(crate) fn depth(self) -> ReadDepth {
        match self {
            PartialReach::OwnedRows => ReadDepth::Basic,
            PartialReach::OneUnit => ReadDepth::Local,
            PartialReach::UnitSubtree | PartialReach::UnitSubtreeRootUnknown => ReadDepth::Deep,
        }
    }
}

/// The warning of a check that read rows of `table` at a partial depth: an import brings only
/// part of the table, which may be deliberate but must be seen.
pub(crate) fn partial_read_depth_warning(table: &str, reach: PartialReach) -> CheckWarning {
    let depth = reach.depth();
    let only = match reach {
        PartialReach::OwnedRows => {
            "only the rows the application user or its teams own or that are shared with it"
        }
        PartialReach::OneUnit => "only the rows of the application user's business unit",
        PartialReach::UnitSubtree => {
            "only the rows of the application user's business unit and the units below it, not the whole organization"
        }
        PartialReach::UnitSubtreeRootUnknown => {
            "only the rows of the application user's business unit and the units below it (the importer cannot read business units, so it cannot tell whether that is the whole organization)"
        }
    };
    CheckWarning {
        kind: CheckWarningKind::PartialReadDepth,
        table: table.to_owned(),
        depth,
        message: match reach {
            // RetrieveUserPrivileges lists privileges held through a team at Basic depth
            // whatever the team's role grants, so Basic alone cannot tell the two apart.
            PartialReach::OwnedRows => format!(
                "RetrieveUserPrivileges reports Read on table {table} at {depth} depth, which would bring an import {only}. Dataverse reports a role held through a team at this depth whatever the role grants: if the app user's role comes from a team, check that role's Read on {table}; if not, and the restriction is not on purpose, set Read on {table} to Organization in the app user's security role."
            ),
            _ => format!(
                "Table {table} is read at {depth} depth: an import brings {only}. If that is not on purpose, set Read on {table} to Organization in the app user's security role."
            ),
        },
    }
}

const ENTRA_APP: &str =
    "Microsoft Entra admin center → Identity → Applications → App registrations";
const ENTRA_ENTERPRISE: &str =
    "Microsoft Entra admin center → Identity → Applications → Enterprise applications";
const PPAC_APP_USERS: &str = "Power Platform admin center → Environments → the environment with URL {environment} → Settings → Users + permissions → Application users";

fn app_users_path(subject: &Subject<'_>) -> String {
    PPAC_APP_USERS.replace("{environment}", subject.environment)
}

impl Problem {
    /// The problem an Entra ID error code (`AADSTS7000215`) stands for; the evidence comes
    /// back when the flow has no problem of its own for the code.
    pub(crate) fn from_entra_code(
        code: &str,
        subject: &Subject<'_>,
        evidence: Evidence,
    ) -> Result<Problem, Evidence> {
        Ok(match code {
            "AADSTS900023" => Problem::tenant_malformed(subject, evidence),
            "AADSTS90002" => Problem::tenant_not_found(subject, evidence),
            "AADSTS700016" => Problem::app_not_found(subject, evidence),
            "AADSTS65001" => Problem::app_not_consented(subject, evidence),
            "AADSTS7000215" => Problem::wrong_secret(subject, evidence),
            "AADSTS7000222" => Problem::expired_secret(subject, evidence),
            "AADSTS7000112" => Problem::app_disabled(subject, evidence),
            "AADSTS500011" => Problem::dynamics_not_in_tenant(subject, evidence),
            "AADSTS500014" => Problem::dynamics_disabled_in_tenant(subject, evidence),
            "AADSTS53003" => Problem::conditional_access_blocked(subject, evidence),
            _ => return Err(evidence),
        })
    }

    /// The problem a Dataverse error code (`0x80072560`, any case) and its message stand for,
    /// reading `table` when the message names none; the evidence comes back when the flow has
    /// no problem of its own for the code.
    pub(crate) fn from_dataverse_code(
        code: &str,
        message: &str,
        subject: &Subject<'_>,
        evidence: Evidence,
        table: Option<&str>,
    ) -> Result<Problem, Evidence> {
        Ok(match code.to_ascii_lowercase().as_str() {
            "0x80072560" => Problem::no_application_user(subject, evidence),
            "0x80040225" => Problem::application_user_disabled(subject, evidence),
            "0x8004a113" => Problem::admin_mode(subject, evidence),
            "0x80042f09" => Problem::no_security_role(subject, evidence),
            "0x80040220" if message.contains("has not been assigned any roles") => {
                Problem::no_security_role(subject, evidence)
            }
            "0x80040220" => {
                let table = denied_entity(message)
                    .or(table.map(str::to_owned))
                    .unwrap_or_else(|| "(not named by Dataverse)".to_owned());
                Problem::missing_table_privilege(subject, evidence, &[table])
            }
            _ => return Err(evidence),
        })
    }
}

/// The table a privilege error names: `… for entity 'account' (LocalizedName=…`.
pub(crate) fn denied_entity(message: &str) -> Option<String> {
    let rest = &message[message.find("for entity '")? + "for entity '".len()..];
    Some(rest[..rest.find('\'')?].to_owned())
}

impl Problem {
    fn new(kind: ProblemKind, evidence: Evidence, message: String, fix: String) -> Problem {
        Problem {
            kind,
            evidence,
            message,
            fix,
        }
    }

    /// [`Problem::new`] for texts worded from the evidence (they borrow it before it moves).
    fn worded(kind: ProblemKind, message: String, fix: String, evidence: Evidence) -> Problem {
        Problem::new(kind, evidence, message, fix)
    }

    pub(crate) fn tenant_malformed(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::TenantMalformed,
            evidence,
            format!(
                "Microsoft Entra ID does not accept '{}' as a tenant: it is neither a tenant ID nor a valid domain name.",
                subject.tenant
            ),
            format!(
                "Copy the Directory (tenant) ID from {ENTRA_APP} → your app → Overview and paste it into Tenant ID."
            ),
        )
    }

    pub(crate) fn tenant_not_found(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::TenantNotFound,
            evidence,
            format!(
                "Microsoft Entra ID has no tenant '{}'. The Tenant ID is mistyped, or the tenant is on another cloud than the environment.",
                subject.tenant
            ),
            format!(
                "Copy the Directory (tenant) ID from {ENTRA_APP} → your app → Overview; it must be the tenant that holds the Dynamics 365 environment."
            ),
        )
    }

    pub(crate) fn app_not_found(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::AppNotFound,
            evidence,
            format!(
                "Tenant '{}' has no application with Client ID {}. The Client ID is mistyped, belongs to another tenant, or the app was never installed (consented) in this tenant.",
                subject.tenant, subject.client_id
            ),
            format!(
                "Copy the Application (client) ID from {ENTRA_APP} → your app → Overview. If the app is registered in another tenant, an admin of this tenant must grant admin consent to it so that it appears under {ENTRA_ENTERPRISE}."
            ),
        )
    }

    pub(crate) fn app_not_consented(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::AppNotConsented,
            evidence,
            format!(
                "Microsoft Entra ID refuses a token for application {} because nobody consented to it in tenant '{}'.",
                subject.client_id, subject.tenant
            ),
            format!(
                "In {ENTRA_APP} → your app → API permissions, select Grant admin consent for the tenant."
            ),
        )
    }

    pub(crate) fn wrong_secret(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        let message = if subject.secret_looks_like_id {
            "Microsoft Entra ID rejected the Client Secret. It looks like the secret's ID (a GUID) rather than its value.".to_owned()
        } else {
            format!(
                "Microsoft Entra ID rejected the Client Secret: it is not a current secret of application {}.",
                subject.client_id
            )
        };
        Problem::new(
            ProblemKind::WrongSecret,
            evidence,
            message,
            format!(
                "In {ENTRA_APP} → your app → Certificates & secrets, create a new client secret and paste its Value (shown only once, not the Secret ID) into Client Secret."
            ),
        )
    }

    pub(crate) fn expired_secret(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::ExpiredSecret,
            evidence,
            format!(
                "The Client Secret of application {} has expired.",
                subject.client_id
            ),
            format!(
                "In {ENTRA_APP} → your app → Certificates & secrets, create a new client secret, paste its Value into Client Secret, and delete the expired one."
            ),
        )
    }

    pub(crate) fn app_disabled(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::AppDisabled,
            evidence,
            format!(
                "Application {} is disabled in tenant '{}'.",
                subject.client_id, subject.tenant
            ),
            format!(
                "In {ENTRA_ENTERPRISE} → your app → Properties, set Enabled for users to sign in? to Yes (if Microsoft disabled the app, its owner must contact Microsoft support)."
            ),
        )
    }

    pub(crate) fn dynamics_not_in_tenant(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::DynamicsNotInTenant,
            evidence,
            format!(
                "Tenant '{}' has no Dynamics 365 environment at {}. The Environment URL and the Tenant ID belong to different tenants, or the tenant has no Dynamics 365.",
                subject.tenant, subject.environment
            ),
            "Copy the Environment URL from Power Platform admin center → Environments → your environment → Details, and use the Tenant ID of the tenant that environment belongs to.".to_owned(),
        )
    }

    pub(crate) fn dynamics_disabled_in_tenant(
        subject: &Subject<'_>,
        evidence: Evidence,
    ) -> Problem {
        Problem::new(
            ProblemKind::DynamicsDisabledInTenant,
            evidence,
            format!(
                "Dynamics 365 is disabled in tenant '{}': Microsoft Entra ID does not issue tokens for {}.",
                subject.tenant, subject.environment
            ),
            format!(
                "In {ENTRA_ENTERPRISE}, show Microsoft Applications, open Dynamics CRM and set Enabled for users to sign in? to Yes; check that the tenant's Dynamics 365 subscription is active."
            ),
        )
    }

    pub(crate) fn conditional_access_blocked(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::ConditionalAccessBlocked,
            evidence,
            format!(
                "A Conditional Access policy in tenant '{}' blocks application {}.",
                subject.tenant, subject.client_id
            ),
            "In Microsoft Entra admin center → Protection → Conditional Access, exclude the app's service principal from the policy, or allow the importer's network location.".to_owned(),
        )
    }

    pub(crate) fn no_application_user(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::NoApplicationUser,
            evidence,
            format!(
                "Application {} is not a user of environment {}: the environment has no application user for it.",
                subject.client_id, subject.environment
            ),
            format!(
                "In {}, select + New app user, add the app with Client ID {}, pick its business unit and give it a security role that can read the tables to import.",
                app_users_path(subject),
                subject.client_id
            ),
        )
    }

    pub(crate) fn application_user_disabled(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::ApplicationUserDisabled,
            evidence,
            format!(
                "The application user for {} in environment {} is disabled.",
                subject.client_id, subject.environment
            ),
            format!(
                "In {}, select the app user and choose Activate.",
                app_users_path(subject)
            ),
        )
    }

    pub(crate) fn no_security_role(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::NoSecurityRole,
            evidence,
            format!(
                "The application user for {} in environment {} has no security role, so it cannot read anything.",
                subject.client_id, subject.environment
            ),
            format!(
                "In {}, select the app user, choose Edit security roles and assign a role with Read on the tables to import.",
                app_users_path(subject)
            ),
        )
    }

    pub(crate) fn missing_table_privilege(
        subject: &Subject<'_>,
        evidence: Evidence,
        tables: &[String],
    ) -> Problem {
        let listed = tables.join(", ");
        let noun = if tables.len() == 1 { "table" } else { "tables" };
        Problem::new(
            ProblemKind::MissingTablePrivilege,
            evidence,
            format!(
                "The application user for {} cannot read the {noun} {listed} in environment {}: its security roles lack the Read privilege.",
                subject.client_id, subject.environment
            ),
            format!(
                "In Power Platform admin center → Environments → the environment with URL {} → Settings → Users + permissions → Security roles, give one of the app user's roles Read (Organization) on the {noun} {listed}, or assign a role that has it.",
                subject.environment
            ),
        )
    }

    /// `suggestions`: the nearest names the environment has (at most a few), best first.
    pub(crate) fn table_not_found(
        subject: &Subject<'_>,
        evidence: Evidence,
        table: &str,
        suggestions: &[String],
    ) -> Problem {
        let nearest = match suggestions {
            [] => String::new(),
            [one] => format!(" Did you mean {one}?"),
            [first @ .., last] => format!(" Did you mean {} or {last}?", first.join(", ")),
        };
        Problem::new(
            ProblemKind::TableNotFound,
            evidence,
            format!(
                "Environment {} has no table named '{}'.{nearest}",
                subject.environment,
                excerpt(table)
            ),
            "Use the table's logical name (for example account or contact), its schema name or its entity set name (accounts), as shown in Power Apps → Tables → the table → Properties.".to_owned(),
        )
    }

    /// Reading `table` returned no row while the application user's Read depth on it is
    /// partial (`reach`).
    pub(crate) fn rows_not_visible(
        subject: &Subject<'_>,
        evidence: Evidence,
        table: &str,
        reach: PartialReach,
    ) -> Problem {
        let depth = reach.depth();
        let why = match reach {
            PartialReach::OwnedRows => {
                "which reaches only the rows the user or its teams own or that are shared with it, and an application user has none unless rows are assigned or shared to it"
            }
            PartialReach::OneUnit => {
                "which reaches only the rows owned in the user's business unit, and none is there"
            }
            PartialReach::UnitSubtree => {
                "which reaches only the rows of the user's business unit and the units below it, and the user does not sit in the root business unit"
            }
            PartialReach::UnitSubtreeRootUnknown => {
                "which reaches only the rows of the user's business unit and the units below it, and the importer could not tell whether that is the root business unit (it cannot read business units)"
            }
        };
        // Moving the user to another unit changes nothing at User depth: it must read the unit.
        let one_unit = match reach {
            PartialReach::OwnedRows => {
                "set Read to Business Unit and move the application user to that business unit"
            }
            _ => "move the application user to the business unit that owns the rows",
        };
        Problem::new(
            ProblemKind::RowsNotVisible,
            evidence,
            format!(
                "Reading table {table} in environment {} returned no row: the application user for {} reads it at {depth} depth, {why}. An import would bring nothing (unless the table is empty).",
                subject.environment, subject.client_id
            ),
            format!(
                "In Power Platform admin center → Environments → the environment with URL {} → Settings → Users + permissions → Security roles → the app user's role → the table {table}, set Read to Organization; or, if the import should bring only one business unit's rows on purpose, {one_unit} ({} → the app user → Edit).",
                subject.environment,
                app_users_path(subject)
            ),
        )
    }

    pub(crate) fn admin_mode(subject: &Subject<'_>, evidence: Evidence) -> Problem {
        Problem::new(
            ProblemKind::AdminMode,
            evidence,
            format!(
                "Environment {} is in administration mode: only System Administrators and System Customizers can connect.",
                subject.environment
            ),
            format!(
                "In Power Platform admin center → Environments → the environment with URL {} → Edit, turn Administration mode off once maintenance is over.",
                subject.environment
            ),
        )
    }

    /// `trusted_tenant` is the tenant the environment's 401 challenge names
    /// (`authorization_uri`), when it names one.
    pub(crate) fn token_rejected(
        subject: &Subject<'_>,
        evidence: Evidence,
        trusted_tenant: Option<&str>,
    ) -> Problem {
        let (message, fix) = match trusted_tenant {
            Some(trusted) if !trusted.eq_ignore_ascii_case(subject.tenant) => (
                format!(
                    "Environment {} refused the access token: it belongs to tenant {trusted}, and the token was issued by tenant '{}'.",
                    subject.environment, subject.tenant
                ),
                format!(
                    "Set Tenant ID to {trusted}, the tenant of the environment (if that is where the app is registered or installed), or use an environment of tenant '{}'.",
                    subject.tenant
                ),
            ),
            _ => (
                format!(
                    "Environment {} refused the access token Microsoft Entra ID issued for it.",
                    subject.environment
                ),
                "Check that the Environment URL and the Tenant ID belong to the same tenant and the same cloud, and that the environment is not being moved or restored.".to_owned(),
            ),
        };
        Problem::new(ProblemKind::TokenRejected, evidence, message, fix)
    }

    pub(crate) fn environment_not_found(host: &str, evidence: Evidence) -> Problem {
        Problem::worded(
            ProblemKind::EnvironmentNotFound,
            format!(
                "The host name {host} does not exist{}.",
                after_retries(&evidence)
            ),
            "Copy the Environment URL from Power Platform admin center → Environments → your environment → Details (Environment URL); check that the environment was not deleted or renamed.".to_owned(),
            evidence,
        )
    }

    pub(crate) fn tls_failure(host: &str, evidence: Evidence, cause: TlsCause) -> Problem {
        let what = match cause {
            TlsCause::Untrusted => ": its certificate is not trusted",
            TlsCause::Expired => ": its certificate has expired or is not valid yet",
            TlsCause::WrongName => ": its certificate is for another host name",
            TlsCause::Handshake => " (the TLS handshake did not complete)",
        };
        Problem::worded(
            ProblemKind::TlsFailure,
            format!(
                "The secure connection to {host} failed{}{what}.",
                after_retries(&evidence)
            ),
            "If the importer reaches Microsoft through a TLS-inspecting proxy, add the proxy's root certificate to the importer's trusted certificates; otherwise check the importer's network path to Microsoft.".to_owned(),
            evidence,
        )
    }

    pub(crate) fn connection_failed(host: &str, evidence: Evidence) -> Problem {
        Problem::worded(
            ProblemKind::ConnectionFailed,
            format!(
                "The importer could not connect to {host}{}.",
                after_retries(&evidence)
            ),
            format!(
                "Allow outbound HTTPS (port 443) from the importer to {host}, and check the importer's proxy settings."
            ),
            evidence,
        )
    }

    pub(crate) fn connection_dropped(host: &str, evidence: Evidence, gave_up: GaveUp) -> Problem {
        let tries = match evidence.retries {
            0 => String::new(),
            retries => format!(
                ", on each of {} tries ({} of waiting between them)",
                retries + 1,
                duration_text(Duration::from_millis(evidence.waited_ms))
            ),
        };
        Problem::worded(
            ProblemKind::ConnectionDropped,
            format!(
                "The importer connected to {host}, but the connection was dropped before the answer arrived{tries}{}.",
                gave_up_text(&evidence, gave_up)
            ),
            format!(
                "Something between the importer and {host} (a proxy, firewall, load balancer or TLS-inspecting device) resets or closes connections that are already open: check its logs and its idle-timeout and inspection settings for HTTPS to {host}, then test the source again."
            ),
            evidence,
        )
    }

    pub(crate) fn timeout(host: &str, evidence: Evidence) -> Problem {
        Problem::worded(
            ProblemKind::Timeout,
            format!("{host} did not answer in time{}.", after_retries(&evidence)),
            "Try again later; if it keeps happening, check the importer's network path and proxy, or raise the connection timeouts.".to_owned(),
            evidence,
        )
    }

    pub(crate) fn throttled(host: &str, evidence: Evidence, gave_up: GaveUp) -> Problem {
        let still = match evidence.retries {
            0 => String::new(),
            _ => format!(", and still was{}", after_retries(&evidence)),
        };
        let when = match retry_after_beyond_budget(&evidence, gave_up) {
            Some(after) => after,
            None => "Wait a few minutes and test the source again".to_owned(),
        };
        Problem::worded(
            ProblemKind::Throttled,
            format!(
                "{host} is limiting requests (429 Too Many Requests){still}{}.",
                gave_up_text(&evidence, gave_up)
            ),
            format!(
                "{when}; if other integrations use the same application user, spread their load or give the importer its own app registration."
            ),
            evidence,
        )
    }

    pub(crate) fn service_unavailable(host: &str, evidence: Evidence, gave_up: GaveUp) -> Problem {
        let status = evidence
            .status
            .map(|status| format!(" (HTTP {status})"))
            .unwrap_or_default();
        let still = match evidence.retries {
            0 => String::new(),
            _ => format!(", and still was{}", after_retries(&evidence)),
        };
        let when = match retry_after_beyond_budget(&evidence, gave_up) {
            Some(after) => after,
            None => "Try again later".to_owned(),
        };
        Problem::worded(
            ProblemKind::ServiceUnavailable,
            format!(
                "{host} answered that it is temporarily unavailable{status}{still}{}.",
                gave_up_text(&evidence, gave_up)
            ),
            format!(
                "{when}; check the Microsoft 365 / Power Platform service health pages for incidents."
            ),
            evidence,
        )
    }

    pub(crate) fn unexpected_response(host: &str, evidence: Evidence) -> Problem {
        let status = evidence
            .status
            .map(|status| format!(" (HTTP {status})"))
            .unwrap_or_default();
        Problem::new(
            ProblemKind::UnexpectedResponse,
            evidence,
            format!("{host} gave an answer the importer does not understand{status}."),
            "Check that the Environment URL points at a Dynamics 365 environment; if it does, report this answer (the evidence below) to the importer's support.".to_owned(),
        )
    }
}

#[cfg(test)]
mod tests;
