//! [`Report`]: what a scenario run showed, step by step, as a purpose-built `Serialize` type.
//! It is the snapshot boundary, so its shape is chosen for reading: the outcome, the problem's
//! message and fix before its evidence, the HTTP transcript one line per request.
//! Invariants: deterministic for a given scenario (manual clock, seeded ids, no ports, no
//! temporary paths), and free of secrets and tokens (the flow scrubs its excerpts, the journal
//! redacts before it stores, and secrets are named by origin, never shown).

use serde::Serialize;

use crate::Outcome;

/// The result of running one scenario. Failed expectations are data here, not errors.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub name: String,
    /// The world, as the scenario names it.
    pub world: String,
    /// The form as typed; the secret is named by origin (`importer.current`, `typed`).
    pub form: FormReport,
    /// The `[forms.<name>]` tables steps can name, by name.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub forms: std::collections::BTreeMap<String, FormReport>,
    /// The tables the source imports.
    pub tables: Vec<String>,
    /// Whether every step's expectation held.
    pub passed: bool,
    /// The steps, in order.
    pub steps: Vec<StepReport>,
}

impl Report {
    /// Whether every step's expectation held.
    pub fn passed(&self) -> bool {
        self.passed
    }

    /// Every step whose expectation did not hold, with what differed.
    pub fn failures(&self) -> impl Iterator<Item = &StepReport> {
        self.steps.iter().filter(|step| !step.held)
    }
}

/// The form as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FormReport {
    /// Name.
    pub name: String,
    /// Environment URL.
    pub environment_url: String,
    /// Tenant ID.
    pub tenant_id: String,
    /// Client ID.
    pub client_id: String,
    /// Where the Client Secret came from, never its value.
    pub client_secret: String,
}

/// One step: what was done, what came of it, what was expected and whether that held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepReport {
    /// Position, from 1.
    pub step: usize,
    /// The action (`add`, `test`, `rotate_secret`, `remove`, `advance_clock`, `fault`,
    /// `change`).
    pub action: String,
    /// The `[forms.<name>]` table the step used instead of `[form]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The step's own form, when it carries one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<FormReport>,
    /// `rotate_secret`: where the new secret came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_secret: Option<String>,
    /// `change`: the changes, in the file's form (secret values and certificates left out).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    /// `change`, `fault`: why the world refused the step's changes (nothing was changed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `fault`: what the step did to the listener's fault rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultStepReport>,
    /// The fakes' clock when the step began (RFC 3339).
    pub at: String,
    /// `advance_clock`: the clock after the step (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_to: Option<String>,
    /// What the scenario expects (absent for `advance_clock`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<ExpectationReport>,
    /// How the step ended (absent for `advance_clock`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The problem the check found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<ProblemReport>,
    /// The fields the form refused.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldReport>,
    /// The fields the form accepted with a warning.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<FieldReport>,
    /// What a passed check learned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<CheckSummary>,
    /// Each wait (a `Retry-After`, or the flow's backoff) the flow made, in seconds, on the
    /// manual clock.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits_seconds: Vec<Seconds>,
    /// The HTTP requests of the step as the fakes' journal saw them, one per line:
    /// `status METHOD host path?query`, with the fault rule that answered, if any (`status` is
    /// `closed` when a fault dropped the connection).
    pub requests: Vec<String>,
    /// The source list after the step: each name and its last check
    /// (`Contoso CRM: last check failed (expired_secret)`).
    pub saved: Vec<String>,
    /// Whether the expectation held.
    pub held: bool,
    /// What differed from the expectation, one sentence each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
}

/// An expectation as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExpectationReport {
    /// The outcome.
    pub outcome: Outcome,
    /// The problem kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    /// The invalid fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// The fields warned about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    /// The kinds of the passed check's warnings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_warnings: Option<Vec<String>>,
    /// The total wait, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waited_seconds: Option<u64>,
    /// A phrase of the problem's message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A phrase of the problem's fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// Request counts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestCountReport>,
    /// The names in the source list after the step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sources: Option<Vec<String>>,
}

/// An expected request count as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestCountReport {
    /// The host and path patterns (`login.microsoftonline.com /*/oauth2/v2.0/token`).
    pub to: String,
    /// How many requests must match.
    pub count: u64,
}

/// What a `fault` step did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FaultStepReport {
    /// Whether every rule was removed first.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cleared: bool,
    /// The rules appended, one line each (`name: what it matches (when) → what it does`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub added: Vec<String>,
    /// The names of the rules in effect after the step, in the order they are tried.
    pub in_effect: Vec<String>,
}

/// A problem as the user sees it (message, fix), then what the flow observed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProblemReport {
    /// The stable machine name (`expired_secret`).
    pub kind: String,
    /// The sentence the user sees.
    pub message: String,
    /// The setup step that fixes it.
    pub fix: String,
    /// The check's step that failed (`token`, `who_am_i`, ...).
    pub step: String,
    /// Method and URL of the failing request.
    pub request: String,
    /// The HTTP status, when there was an answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The service's error code (`AADSTS7000222`, `0x80040220`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The service's message or the transport error, scrubbed by the flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The last `Retry-After` seen, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// How many times the failing request was sent again before the flow gave up.
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: u32,
    /// The time waited before those retries, in milliseconds.
    #[serde(skip_serializing_if = "is_zero")]
    pub waited_ms: u64,
}

fn is_zero<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// A wait in seconds: a whole number when it is one (`30`, as `Retry-After` waits are), else
/// to the millisecond (`0.853`, as the flow's jittered backoff is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seconds(pub std::time::Duration);

impl Serialize for Seconds {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let millis = self.0.as_millis();
        if millis.is_multiple_of(1000) {
            serializer.serialize_u64(self.0.as_secs())
        } else {
            serializer.serialize_f64(millis as f64 / 1000.0)
        }
    }
}

/// A form field with the sentence the form shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldReport {
    /// The field's machine name (`tenant_id`).
    pub field: String,
    /// The sentence.
    pub message: String,
}

/// What a passed check learned about the environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckSummary {
    /// When the check ran (RFC 3339).
    pub checked_at: String,
    /// `FriendlyName (UniqueName)`.
    pub organization: String,
    /// `OrganizationId`.
    pub organization_id: String,
    /// `OrganizationVersion`.
    pub version: String,
    /// The application user's `systemuserid`.
    pub user_id: String,
    /// Its business unit.
    pub business_unit_id: String,
    /// The entity sets read, one per table to import.
    pub tables_read: Vec<String>,
    /// Every table the application user can read.
    pub readable_tables: Vec<String>,
    /// Each table to import typed as another name than its logical name, and what it resolved
    /// to ("`Accounts` is the table account (entity set accounts)").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub resolved: Vec<String>,
    /// The Read depth of each table to import whose depth is not Organization
    /// (`account: User (Basic)`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial_depths: Vec<String>,
    /// The check's warnings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<CheckWarningReport>,
}

/// A check warning as a report shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckWarningReport {
    /// The stable machine name (`partial_read_depth`).
    pub kind: String,
    /// The table's logical name.
    pub table: String,
    /// The depth (`Local`).
    pub depth: String,
    /// The sentence the user sees.
    pub message: String,
}
