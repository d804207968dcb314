//! The one vocabulary of world changes, shared by scenario steps, `serve`'s admin API and the
//! CLI: [`Change`] names world things by their world-file names and edits the world document
//! (`change/entra.rs`, `change/dataverse.rs`). [`stage`] applies a batch to a copy, checking
//! names ("did you mean", `change/names.rs`), then validates the changed world once (and, only
//! when it is invalid, after each change to find the culprit); nothing is kept on error.
//! Invariant: no [`ChangeError`] ever shows a secret value.

mod dataverse;
mod entra;
mod names;

#[cfg(test)]
pub(crate) mod tests;

use fake_core::{FaultRule, IdGenerator};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use toml::Value;

use crate::world::WorldDocument;
use crate::{Error, Reason, SecretValue, World};

pub(crate) use names::nearest;

/// One change to a running world. The same shape in TOML and JSON, tagged by `change`:
/// `{ change = "remove_role", environment = "contoso", app = "importer", role = "Importer Reader" }`.
/// Names are world-file names: tenant, app, environment and team keys, secret, certificate and
/// role names, table logical names; never GUIDs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// Adds a client secret to an app. Without `value`, one shaped like Entra's is generated;
    /// without `expires`, it lasts 180 days from now (the portal's recommended lifetime).
    AddSecret {
        /// The app key.
        app: String,
        /// The secret's name (its description in the portal).
        secret: String,
        /// The value clients will send.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<SecretValue>,
        /// When it stops working.
        #[serde(
            default,
            with = "timestamp_field",
            skip_serializing_if = "Option::is_none"
        )]
        expires: Option<OffsetDateTime>,
    },
    /// Deletes a client secret (clients sending it get AADSTS7000215).
    RemoveSecret {
        /// The app key.
        app: String,
        /// The secret's name.
        secret: String,
    },
    /// Makes a secret expire at `at` (default: now on the world's clock; AADSTS7000222).
    ExpireSecret {
        /// The app key.
        app: String,
        /// The secret's name.
        secret: String,
        /// The new expiry.
        #[serde(
            default,
            with = "timestamp_field",
            skip_serializing_if = "Option::is_none"
        )]
        at: Option<OffsetDateTime>,
    },
    /// Registers a certificate (its `CERTIFICATE` blocks; anything else in `pem` is dropped).
    AddCertificate {
        /// The app key.
        app: String,
        /// The certificate's name.
        certificate: String,
        /// The certificate, PEM.
        pem: String,
    },
    /// Deletes a registered certificate.
    RemoveCertificate {
        /// The app key.
        app: String,
        /// The certificate's name.
        certificate: String,
    },
    /// Disables the app's service principal in every tenant (AADSTS7000112).
    DisableApp {
        /// The app key.
        app: String,
    },
    /// Enables the app again.
    EnableApp {
        /// The app key.
        app: String,
    },
    /// Installs a multi-tenant app in another tenant.
    AddServicePrincipal {
        /// The app key.
        app: String,
        /// The tenant key.
        tenant: String,
    },
    /// Deletes the app's service principal from a tenant other than its home one (the
    /// multi-tenant "not installed" case, AADSTS700016).
    RemoveServicePrincipal {
        /// The app key.
        app: String,
        /// The tenant key.
        tenant: String,
    },
    /// Grants admin consent to a requested permission (no effect on app-only tokens).
    GrantConsent {
        /// The app key.
        app: String,
        /// The API (`Dynamics CRM`).
        api: String,
        /// The permission (`user_impersonation`).
        scope: String,
    },
    /// Revokes admin consent (app-only tokens are still issued, as in Entra ID).
    RevokeConsent {
        /// The app key.
        app: String,
        /// The API.
        api: String,
        /// The permission.
        scope: String,
    },
    /// Disables the tenant's Dynamics CRM service principal, as when its licence lapses
    /// (AADSTS500014).
    DisableDynamics {
        /// The tenant key.
        tenant: String,
    },
    /// Enables the tenant's Dynamics CRM service principal again.
    EnableDynamics {
        /// The tenant key.
        tenant: String,
    },
    /// Adds an application user for an app to an environment.
    AddApplicationUser {
        /// The environment key.
        environment: String,
        /// The app key.
        app: String,
        /// Its roles.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        roles: Vec<String>,
    },
    /// Deletes an application user (and its team memberships): 403 `0x80072560` (not a member of the organization).
    RemoveApplicationUser {
        /// The environment key.
        environment: String,
        /// The app key.
        app: String,
    },
    /// Disables an application user (403 `0x80040225`).
    DisableApplicationUser {
        /// The environment key.
        environment: String,
        /// The app key.
        app: String,
    },
    /// Enables an application user again.
    EnableApplicationUser {
        /// The environment key.
        environment: String,
        /// The app key.
        app: String,
    },
    /// Assigns a role (defined or predefined) to an application user or a team.
    AssignRole {
        /// The environment key.
        environment: String,
        /// The application user, by app key (exactly one of `app` and `team`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app: Option<String>,
        /// The team, by name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team: Option<String>,
        /// The role's name.
        role: String,
    },
    /// Removes a role from an application user or a team.
    RemoveRole {
        /// The environment key.
        environment: String,
        /// The application user, by app key (exactly one of `app` and `team`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app: Option<String>,
        /// The team, by name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team: Option<String>,
        /// The role's name.
        role: String,
    },
    /// Adds an application user to a team.
    AddTeamMember {
        /// The environment key.
        environment: String,
        /// The team's name.
        team: String,
        /// The application user, by app key.
        app: String,
    },
    /// Removes an application user from a team.
    RemoveTeamMember {
        /// The environment key.
        environment: String,
        /// The team's name.
        team: String,
        /// The application user, by app key.
        app: String,
    },
    /// Sets a defined role's depth for a privilege; depth `None` removes the privilege.
    SetPrivilege {
        /// The environment key.
        environment: String,
        /// The role's name (a role the world defines).
        role: String,
        /// The privilege (`prvReadAccount`).
        privilege: String,
        /// `Basic`/`User`, `Local`/`Business Unit`, `Deep`, `Global`/`Organization` or `None`.
        depth: String,
    },
    /// Switches administration mode on or off.
    AdminMode {
        /// The environment key.
        environment: String,
        /// Whether it is on.
        on: bool,
    },
    /// Changes service protection limits; the limits left out keep their value.
    SetLimits {
        /// The environment key.
        environment: String,
        /// Requests per user in the window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        requests: Option<u64>,
        /// The window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window_seconds: Option<u64>,
        /// Execution time per user in the window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_milliseconds: Option<u64>,
        /// The simulated cost of each request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_milliseconds_per_request: Option<u64>,
        /// Concurrent requests per user.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        concurrent: Option<u64>,
    },
    /// Appends rows to a table with inline rows (or a table not listed yet).
    AddRows {
        /// The environment key.
        environment: String,
        /// The table's logical name.
        table: String,
        /// The rows: Web API property name → value.
        rows: Vec<toml::Table>,
    },
    /// Removes the rows with these primary ids from a table with inline rows, or all of them.
    RemoveRows {
        /// The environment key.
        environment: String,
        /// The table's logical name.
        table: String,
        /// Primary ids (`accountid`) of the rows to remove; all rows when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ids: Option<Vec<String>>,
    },
    /// Makes a table generated with `count` rows (its `owners` kept).
    SetGeneratedRows {
        /// The environment key.
        environment: String,
        /// The table's logical name.
        table: String,
        /// How many rows.
        count: u64,
    },
    /// Adds a fault rule (fake-core's `FaultRule` shape) after the others.
    AddFault {
        /// The rule.
        fault: FaultRule,
    },
    /// Removes every fault rule (the world's and those a scenario or `serve` added).
    ClearFaults {},
    /// Moves the world's clock forward: exactly one of `seconds`, `duration` (`"90s"`,
    /// `"30m"`, `"1h"`, `"2d"`, `"1h30m"`) and `until`.
    AdvanceClock {
        /// Seconds to move.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<i64>,
        /// A duration to move.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        duration: Option<String>,
        /// The time to move to.
        #[serde(
            default,
            with = "timestamp_field",
            skip_serializing_if = "Option::is_none"
        )]
        until: Option<OffsetDateTime>,
    },
}

impl Change {
    /// The change's kind as written (`remove_role`).
    pub fn kind(&self) -> &'static str {
        match self {
            Change::AddSecret { .. } => "add_secret",
            Change::RemoveSecret { .. } => "remove_secret",
            Change::ExpireSecret { .. } => "expire_secret",
            Change::AddCertificate { .. } => "add_certificate",
            Change::RemoveCertificate { .. } => "remove_certificate",
            Change::DisableApp { .. } => "disable_app",
            Change::EnableApp { .. } => "enable_app",
            Change::AddServicePrincipal { .. } => "add_service_principal",
            Change::RemoveServicePrincipal { .. } => "remove_service_principal",
            Change::GrantConsent { .. } => "grant_consent",
            Change::RevokeConsent { .. } => "revoke_consent",
            Change::DisableDynamics { .. } => "disable_dynamics",
            Change::EnableDynamics { .. } => "enable_dynamics",
            Change::AddApplicationUser { .. } => "add_application_user",
            Change::RemoveApplicationUser { .. } => "remove_application_user",
            Change::DisableApplicationUser { .. } => "disable_application_user",
            Change::EnableApplicationUser { .. } => "enable_application_user",
            Change::AssignRole { .. } => "assign_role",
            Change::RemoveRole { .. } => "remove_role",
            Change::AddTeamMember { .. } => "add_team_member",
            Change::RemoveTeamMember { .. } => "remove_team_member",
            Change::SetPrivilege { .. } => "set_privilege",
            Change::AdminMode { .. } => "admin_mode",
            Change::SetLimits { .. } => "set_limits",
            Change::AddRows { .. } => "add_rows",
            Change::RemoveRows { .. } => "remove_rows",
            Change::SetGeneratedRows { .. } => "set_generated_rows",
            Change::AddFault { .. } => "add_fault",
            Change::ClearFaults {} => "clear_faults",
            Change::AdvanceClock { .. } => "advance_clock",
        }
    }
}

/// A change that could not be applied: which one (its index in the batch, from 0), its kind,
/// the field at fault and why. `Display` is one line and never shows a secret value.
#[derive(Debug)]
pub struct ChangeError {
    /// The change's index in the batch, from 0.
    pub index: usize,
    /// Its kind (`remove_role`).
    pub change: &'static str,
    /// The field at fault, when one is.
    pub field: Option<&'static str>,
    /// Why (boxed: errors travel by value).
    pub reason: Box<ChangeReason>,
}

impl std::fmt::Display for ChangeError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "changes[{}] (`{}`)", self.index, self.change)?;
        if let Some(field) = self.field {
            write!(formatter, " `{field}`")?;
        }
        write!(formatter, ": {}", self.reason)
    }
}

impl std::error::Error for ChangeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The reason is part of this error's own message; its causes are not.
        std::error::Error::source(&self.reason)
    }
}

/// Why a change could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum ChangeReason {
    /// A name the world does not have.
    #[error("{}", unknown_message(.owner.as_deref(), .what, .name, .known))]
    Unknown {
        /// Whose thing it is (`app \`importer\``), when it belongs to something.
        owner: Option<String>,
        /// What kind of thing (`app`, `secret`, `role`).
        what: &'static str,
        /// The name as written.
        name: String,
        /// The names that exist.
        known: Vec<String>,
    },
    /// A name that exists already where the change would add it.
    #[error("{owner} already has {what} `{name}`")]
    Exists {
        /// Whose thing it is.
        owner: String,
        /// What kind of thing.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// The change does not fit the world or its fields do not fit together.
    #[error("{rule}")]
    Rule {
        /// What is wrong, and what to do instead.
        rule: String,
    },
    /// The world after the change would not be a valid world file.
    #[error("the changed world is invalid at `{key}`: {reason}")]
    Invalid {
        /// The dotted key of the offending value.
        key: String,
        /// What the world validator said.
        reason: Box<Reason>,
    },
    /// The world after the change does not load at all.
    #[error("the changed world does not load")]
    World(#[source] Box<Error>),
    /// The world's clock refused to move.
    #[error("the clock does not move")]
    Clock(#[source] fake_core::Error),
    /// The fake Entra ID refused the changed world.
    #[error("the fake Entra ID refused the changed world")]
    Entra(#[source] fake_entra::Error),
    /// The fake Dataverse refused the changed world.
    #[error("the fake Dataverse refused the changed world")]
    Dataverse(#[source] fake_dataverse::Error),
}

impl ChangeReason {
    /// An unknown name, with the known ones.
    pub(crate) fn unknown(
        owner: Option<String>,
        what: &'static str,
        name: &str,
        known: Vec<String>,
    ) -> ChangeReason {
        ChangeReason::Unknown {
            owner,
            what,
            name: name.to_owned(),
            known,
        }
    }

    /// A rule the change breaks.
    pub(crate) fn rule(rule: impl Into<String>) -> ChangeReason {
        ChangeReason::Rule { rule: rule.into() }
    }

    /// The validator's error for a changed world.
    fn from_world(error: Error) -> ChangeReason {
        match error {
            Error::Invalid { key, reason, .. } => ChangeReason::Invalid { key, reason },
            other => ChangeReason::World(Box::new(other)),
        }
    }
}

fn unknown_message(owner: Option<&str>, what: &str, name: &str, known: &[String]) -> String {
    let mut message = match owner {
        Some(owner) => format!("{owner} has no {what} `{name}`"),
        None => format!("unknown {what} `{name}`"),
    };
    let separator = match nearest(name, known) {
        Some(nearest) => {
            message.push_str(&format!("; did you mean `{nearest}`?"));
            " "
        }
        None => "; ",
    };
    if known.is_empty() {
        message.push_str(&format!("{separator}there is none"));
    } else {
        let quoted: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
        message.push_str(&format!("{separator}known: {}", quoted.join(", ")));
    }
    message
}

/// A change's refusal before it knows its index: the field at fault and why.
pub(crate) struct Refusal {
    field: Option<&'static str>,
    reason: ChangeReason,
}

impl Refusal {
    /// Refused because of `field`.
    pub(crate) fn at(field: &'static str) -> impl FnOnce(ChangeReason) -> Refusal {
        move |reason| Refusal {
            field: Some(field),
            reason,
        }
    }
}

impl From<ChangeReason> for Refusal {
    fn from(reason: ChangeReason) -> Refusal {
        Refusal {
            field: None,
            reason,
        }
    }
}

/// The batch being applied: a copy of the document and everything else a change may move.
pub(crate) struct Batch<'a> {
    /// The document, changed so far.
    pub(crate) document: WorldDocument,
    /// The world as validated last (before the batch, or after the latest change when each
    /// change is validated).
    pub(crate) world: World,
    /// The clock's time once the batch's clock moves are done.
    pub(crate) now: OffsetDateTime,
    /// How far the batch moves the clock.
    pub(crate) advance: Duration,
    /// Fault rules that are not the world's (a scenario's, `serve`'s), after the batch.
    pub(crate) extra_faults: Vec<FaultRule>,
    /// Whether the batch changed any fault rule.
    pub(crate) faults_changed: bool,
    /// Where generated secrets and ids come from.
    ids: &'a IdGenerator,
}

/// What a batch leaves behind, ready to commit.
pub(crate) struct Staged {
    /// The changed document.
    pub(crate) document: WorldDocument,
    /// Its world.
    pub(crate) world: World,
    /// How far to move the clock.
    pub(crate) advance: Duration,
    /// The extra fault rules after the batch.
    pub(crate) extra_faults: Vec<FaultRule>,
    /// Whether the listener's fault rules must be replaced.
    pub(crate) faults_changed: bool,
}

/// Applies `changes` in order to a copy of `document` (whose world is `world`), at `now`,
/// with `extra_faults` besides the world's: every name is checked first, then the changed
/// world is validated as a whole. The first failure is the batch's error; nothing is changed.
pub(crate) fn stage(
    document: &WorldDocument,
    world: &World,
    extra_faults: &[FaultRule],
    now: OffsetDateTime,
    ids: &IdGenerator,
    changes: &[Change],
) -> Result<Staged, ChangeError> {
    let run = |validate_each| {
        let batch = Batch {
            document: document.clone(),
            world: world.clone(),
            now,
            advance: Duration::ZERO,
            extra_faults: extra_faults.to_vec(),
            faults_changed: false,
            ids,
        };
        batch.run(changes, validate_each)
    };
    match run(false) {
        Ok(staged) => Ok(staged),
        // The world of the whole batch is invalid: validating after each change finds the
        // change that made it so (this costs a validation per change, on errors only).
        Err(error)
            if matches!(
                *error.reason,
                ChangeReason::Invalid { .. } | ChangeReason::World(_)
            ) =>
        {
            Err(run(true).err().unwrap_or(error))
        }
        Err(error) => Err(error),
    }
}

impl Batch<'_> {
    /// Applies `changes` in order, validating the document after each one that edits it
    /// (`validate_each`) or once at the end, where an error names the last change.
    fn run(mut self, changes: &[Change], validate_each: bool) -> Result<Staged, ChangeError> {
        let failure = |index: usize, refusal: Refusal| ChangeError {
            index,
            change: changes.get(index).map_or("", Change::kind),
            field: refusal.field,
            reason: Box::new(refusal.reason),
        };
        let mut edited = false;
        for (index, change) in changes.iter().enumerate() {
            let edits_document = self
                .apply(change)
                .map_err(|refusal| failure(index, refusal))?;
            edited |= edits_document;
            if edits_document && validate_each {
                self.world = self
                    .document
                    .world()
                    .map_err(|error| failure(index, ChangeReason::from_world(error).into()))?;
            }
        }
        if edited && !validate_each {
            let last = changes.len().saturating_sub(1);
            self.world = self
                .document
                .world()
                .map_err(|error| failure(last, ChangeReason::from_world(error).into()))?;
        }
        Ok(Staged {
            document: self.document,
            world: self.world,
            advance: self.advance,
            extra_faults: self.extra_faults,
            faults_changed: self.faults_changed,
        })
    }
}

impl Batch<'_> {
    /// Applies one change; whether it edited the document (which must then be validated).
    fn apply(&mut self, change: &Change) -> Result<bool, Refusal> {
        match change {
            Change::AddFault { fault } => {
                let rule = Value::try_from(fault).map_err(|error| {
                    Refusal::at("fault")(ChangeReason::rule(format!(
                        "the rule is not a TOML table: {error}"
                    )))
                })?;
                names::array(self.document.table_mut(), "faults").push(rule);
                self.faults_changed = true;
                Ok(true)
            }
            Change::ClearFaults {} => {
                self.document.table_mut().remove("faults");
                self.extra_faults.clear();
                self.faults_changed = true;
                Ok(true)
            }
            Change::AdvanceClock {
                seconds,
                duration,
                until,
            } => {
                let by = match (seconds, duration, until) {
                    (Some(seconds), None, None) => Duration::seconds(*seconds),
                    (None, Some(duration), None) => parse_duration(duration)
                        .map_err(|rule| Refusal::at("duration")(ChangeReason::rule(rule)))?,
                    (None, None, Some(until)) => *until - self.now,
                    _ => {
                        return Err(ChangeReason::rule(
                            "give exactly one of `seconds`, `duration` and `until`",
                        )
                        .into());
                    }
                };
                if by.is_negative() {
                    return Err(ChangeReason::rule(
                        "the clock only moves forward (a reset puts it back)",
                    )
                    .into());
                }
                self.now += by;
                self.advance += by;
                Ok(false)
            }
            _ => {
                if !self.apply_entra(change)? {
                    self.apply_dataverse(change)?;
                }
                Ok(true)
            }
        }
    }
}

/// Parses a duration such as `90s`, `30m`, `1h`, `2d` or `1h30m` (units `s`, `m`, `h`, `d`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "`{}` is not a duration like `90s`, `30m`, `1h`, `2d` or `1h30m`",
            fake_core::echo(text)
        )
    };
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for character in text.trim().chars() {
        if character.is_ascii_digit() {
            digits.push(character);
            continue;
        }
        let count: i64 = digits.parse().map_err(|_| invalid())?;
        digits.clear();
        let unit = match character {
            's' => Duration::SECOND,
            'm' => Duration::MINUTE,
            'h' => Duration::HOUR,
            'd' => Duration::DAY,
            _ => return Err(invalid()),
        };
        total = unit
            .checked_mul(i32::try_from(count).map_err(|_| invalid())?)
            .and_then(|part| total.checked_add(part))
            .ok_or_else(invalid)?;
    }
    if !digits.is_empty() || total == Duration::ZERO && text.trim().is_empty() {
        return Err(invalid());
    }
    Ok(total)
}

/// An optional time field of a change: an RFC 3339 string (JSON, TOML) or a TOML datetime
/// (`at = 2027-01-01T00:00:00Z`, which TOML readers hand over as a one-entry map).
mod timestamp_field {
    use serde::de::{Deserializer, Error, MapAccess, Visitor};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub(super) fn serialize<S: serde::Serializer>(
        value: &Option<OffsetDateTime>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::option::serialize(value, serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        deserializer.deserialize_option(OptionalTime)
    }

    /// The key under which the `toml` crate hands a datetime to serde.
    const TOML_DATETIME: &str = "$__toml_private_datetime";

    struct OptionalTime;

    impl<'de> Visitor<'de> for OptionalTime {
        type Value = Option<OffsetDateTime>;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an RFC 3339 time like `2027-01-01T00:00:00Z`")
        }

        fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(
            self,
            deserializer: D,
        ) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_any(Time).map(Some)
        }
    }

    struct Time;

    impl<'de> Visitor<'de> for Time {
        type Value = OffsetDateTime;

        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an RFC 3339 time like `2027-01-01T00:00:00Z`")
        }

        fn visit_str<E: Error>(self, text: &str) -> Result<OffsetDateTime, E> {
            OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
                E::custom(format!(
                    "`{}` is not an RFC 3339 time like `2027-01-01T00:00:00Z`",
                    fake_core::echo(text)
                ))
            })
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OffsetDateTime, A::Error> {
            match map.next_entry::<String, String>()? {
                Some((key, text)) if key == TOML_DATETIME => self.visit_str(&text),
                _ => Err(A::Error::custom(
                    "expected an RFC 3339 time like `2027-01-01T00:00:00Z`, found a table",
                )),
            }
        }
    }
}

/// An RFC 3339 timestamp as world files write it.
pub(crate) fn timestamp(at: OffsetDateTime) -> Value {
    Value::String(
        at.to_offset(time::UtcOffset::UTC)
            .format(&time::format_description::well_known::Rfc3339)
            .expect("a UTC time formats as RFC 3339"),
    )
}

impl Serialize for SecretValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.expose())
    }
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<SecretValue, D::Error> {
        String::deserialize(deserializer).map(SecretValue::new)
    }
}
