//! A scenario: one behaviour of the Add Source flow, as a world to start from, the form the
//! user types, and steps with the outcome each one must have (`scenarios/<area>/<case>.toml`,
//! format in `scenarios/README.md`). `scenario/file.rs` mirrors the TOML, `scenario/validate.rs`
//! turns it into a [`Scenario`]. Invariant: a `Scenario` has passed validation (its world
//! loads, every secret and problem it names exists, every expectation fits its action), and its
//! `Debug` never shows a secret value.

mod file;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use d365_source::{CheckWarningKind, Field, ProblemKind};
use fake_core::FaultRule;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Change, Error, FileKind, Secret, SecretValue, World};

/// A validated scenario file.
/// Which certificate authority the flow under test trusts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trust {
    /// The harness CA that signed the fakes' certificates (the default).
    #[default]
    HarnessCa,
    /// A CA of its own that signed nothing the fakes present, as when an unknown
    /// TLS-inspecting proxy sits between the importer and Microsoft: every handshake fails.
    AnotherCa,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    path: PathBuf,
    name: String,
    description: String,
    world_name: String,
    world: World,
    tables: Vec<String>,
    request_timeout: Option<Duration>,
    trust: Trust,
    faults: Vec<FaultRule>,
    form: Form,
    forms: BTreeMap<String, Form>,
    steps: Vec<Step>,
}

impl Scenario {
    /// Reads, parses and validates the scenario file at `path`, and loads its world.
    pub fn load(path: impl AsRef<Path>) -> Result<Scenario, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            file: FileKind::Scenario,
            path: path.to_owned(),
            source,
        })?;
        Scenario::parse(&text, path)
    }

    /// Parses and validates scenario text as if it had been read from `path` (used in error
    /// messages and to find the world it names).
    pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Scenario, Error> {
        validate::scenario(text, path.as_ref())
    }

    /// Like [`Scenario::parse`], with every error in the text (each section and step checked)
    /// instead of the first; never an empty list.
    pub fn parse_all(text: &str, path: impl AsRef<Path>) -> Result<Scenario, Vec<Error>> {
        validate::scenario_text_all(text, path.as_ref())
    }

    /// The file this scenario came from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The one-line name (`expired client secret`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// What the scenario shows, in a sentence or two.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The world as the file names it (`setup-mistakes`, or a relative path).
    pub fn world_name(&self) -> &str {
        &self.world_name
    }

    /// The world the fakes start from.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// Logical names of the tables the source imports (the flow's default when the file gives
    /// none).
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Which certificate authority the flow trusts (`[network] trust`).
    pub fn trust(&self) -> Trust {
        self.trust
    }

    /// The flow's request timeout, when the file sets one (`[network] request_timeout_ms`).
    pub fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout
    }

    /// The scenario's own `[[faults]]`, checked before the world's.
    pub fn faults(&self) -> &[FaultRule] {
        &self.faults
    }

    /// The Add Source form as the user types it.
    pub fn form(&self) -> &Form {
        &self.form
    }

    /// The other forms a step can name with `source = "<name>"` (`[forms.<name>]`).
    pub fn forms(&self) -> &BTreeMap<String, Form> {
        &self.forms
    }

    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Every secret value the scenario sends or could leak that the file knows: the world's
    /// secrets and the ones typed in the file (a secret a change adds without a value is made
    /// when the step runs, so it is not here). For leak checks on reports.
    pub fn secret_values(&self) -> Vec<&SecretValue> {
        let mut values: Vec<&SecretValue> = self
            .world
            .apps()
            .iter()
            .flat_map(|app| app.secrets.iter().map(|secret| &secret.value))
            .collect();
        let forms = std::iter::once(&self.form).chain(self.forms.values());
        let step_forms = self.steps.iter().filter_map(|step| step.form.as_ref());
        values.extend(
            forms
                .chain(step_forms)
                .filter_map(|form| form.client_secret.value.as_ref()),
        );
        for step in &self.steps {
            match &step.action {
                Action::RotateSecret { new_secret } => values.extend(new_secret.value.as_ref()),
                Action::Change { changes } => {
                    values.extend(changes.iter().filter_map(|change| match change {
                        Change::AddSecret { value, .. } => value.as_ref(),
                        _ => None,
                    }));
                }
                _ => {}
            }
        }
        values
    }
}

/// The Add Source form as typed: all five fields, unvalidated (the flow validates them).
#[derive(Clone, Debug)]
pub struct Form {
    /// Name.
    pub name: String,
    /// Environment URL.
    pub environment_url: String,
    /// Tenant ID.
    pub tenant_id: String,
    /// Client ID.
    pub client_id: String,
    /// Client Secret.
    pub client_secret: SecretInput,
}

/// A secret the scenario types, and where it came from (so reports can name it without
/// showing it).
#[derive(Clone, Debug)]
pub struct SecretInput {
    /// The value typed, as the file knows it: a literal, or a secret of the world as loaded.
    /// `None` for a secret that a `change` step adds; [`SecretInput::typed`] finds it in the
    /// world as it is when the step runs.
    pub value: Option<SecretValue>,
    /// Where the value came from.
    pub origin: SecretOrigin,
}

impl SecretInput {
    /// What the user types at a step whose world is `world`: a literal as written, a world
    /// secret as `world` has it, or else as `remembered` last had it (a secret deleted in Entra
    /// is still in the admin's clipboard). `None` when neither has it, or when its id is typed
    /// and it has none.
    pub fn typed(
        &self,
        world: &World,
        remembered: &BTreeMap<(String, String), Secret>,
    ) -> Option<SecretValue> {
        let SecretOrigin::World {
            app,
            secret,
            part,
            before,
            after,
        } = &self.origin
        else {
            return self.value.clone();
        };
        let found = world
            .app(app)
            .and_then(|found| found.secrets.iter().find(|known| &known.name == secret))
            .or_else(|| remembered.get(&(app.clone(), secret.clone())))?;
        typed_secret(found, *part, before, after)
    }
}

/// The text typed for `secret`: its value or id, with what a paste dragged along.
pub(crate) fn typed_secret(
    secret: &Secret,
    part: SecretPart,
    before: &str,
    after: &str,
) -> Option<SecretValue> {
    let text = match part {
        SecretPart::Value => secret.value.expose().to_owned(),
        SecretPart::Id => secret.id?.to_string(),
    };
    Some(SecretValue::new(format!("{before}{text}{after}")))
}

/// Where a typed secret came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretOrigin {
    /// Written in the scenario file (a wrong value on purpose).
    Typed,
    /// A secret of the world: `{ app = "importer", secret = "expired" }`.
    World {
        /// The app key.
        app: String,
        /// The secret's name.
        secret: String,
        /// Its value, or its id pasted by mistake.
        part: SecretPart,
        /// Typed before it (whitespace a paste dragged along); usually empty.
        before: String,
        /// Typed after it; usually empty.
        after: String,
    },
}

impl SecretOrigin {
    /// How reports name the secret: `importer.expired`, `importer.current.id`, or `typed`;
    /// what was typed around a world secret is quoted beside it (`importer.current + "\n"`).
    pub fn describe(&self) -> String {
        match self {
            SecretOrigin::Typed => "typed".to_owned(),
            SecretOrigin::World {
                app,
                secret,
                part,
                before,
                after,
            } => {
                let mut name = format!("{app}.{secret}");
                if *part == SecretPart::Id {
                    name.push_str(".id");
                }
                if !before.is_empty() {
                    name = format!("{before:?} + {name}");
                }
                if !after.is_empty() {
                    name = format!("{name} + {after:?}");
                }
                name
            }
        }
    }
}

/// Which part of a world secret is typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecretPart {
    /// The secret value (what a client must send).
    Value,
    /// The secret's id (what admins paste by mistake).
    Id,
}

/// One step: what the user does, and what must come of it.
#[derive(Clone, Debug)]
pub struct Step {
    /// What the user does.
    pub action: Action,
    /// The form the step uses instead of `[form]` (its own `form = { ... }`, or the
    /// `[forms.<name>]` table its `source` names); `add` types it, `test`, `rotate_secret` and
    /// `remove` act on the saved source with its name.
    pub form: Option<Form>,
    /// The `[forms.<name>]` table the step names with `source`.
    pub source: Option<String>,
    /// What must come of it; `None` only for the actions without an outcome
    /// ([`Action::has_outcome`]).
    pub expect: Option<Expectation>,
}

/// What the user (or time) does in a step.
#[derive(Clone, Debug)]
pub enum Action {
    /// Press Add Source with the scenario's form.
    Add,
    /// Test the saved source named in the form again.
    Test,
    /// Replace the saved source's secret with `new_secret` (checked first).
    RotateSecret {
        /// The secret typed as the new one.
        new_secret: SecretInput,
    },
    /// Remove the saved source named in the form.
    Remove,
    /// Move the fakes' manual clock (secret and token expiry without waiting).
    AdvanceClock(ClockMove),
    /// Change the listener's fault rules: remove them all first when `clear`, then append
    /// `add` (checked before none of the others: fake-core fires the first rule that matches,
    /// so a rule added here wins only where no earlier rule matches).
    Fault {
        /// Remove every rule in effect (the scenario's, the world's, earlier steps') first.
        clear: bool,
        /// Rules to append, in fake-core's shape.
        add: Vec<FaultRule>,
    },
    /// Change the running world (all or nothing), as an admin or Microsoft would: a role
    /// removed, a secret deleted, Dynamics 365 disabled in a tenant.
    Change {
        /// The changes, in order.
        changes: Vec<Change>,
    },
}

impl Action {
    /// The action's name in scenario files (`rotate_secret`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Add => "add",
            Action::Test => "test",
            Action::RotateSecret { .. } => "rotate_secret",
            Action::Remove => "remove",
            Action::AdvanceClock(_) => "advance_clock",
            Action::Fault { .. } => "fault",
            Action::Change { .. } => "change",
        }
    }

    /// What the action does to the world, as changes: a `change` step's batch, a `fault`
    /// step's (`clear_faults`, then an `add_fault` per rule), an `advance_clock` step's move;
    /// empty for what the user does. The runner applies `change` and `fault` batches this way;
    /// `serve --scenario FILE --step N` can replay a scenario's world up to a step with it.
    pub fn world_changes(&self) -> Vec<Change> {
        match self {
            Action::Change { changes } => changes.clone(),
            Action::Fault { clear, add } => clear
                .then_some(Change::ClearFaults {})
                .into_iter()
                .chain(add.iter().map(|rule| Change::AddFault {
                    fault: rule.clone(),
                }))
                .collect(),
            Action::AdvanceClock(ClockMove::By(by)) => vec![Change::AdvanceClock {
                seconds: Some(i64::try_from(by.as_secs()).unwrap_or(i64::MAX)),
                duration: None,
                until: None,
            }],
            Action::AdvanceClock(ClockMove::Until(until)) => vec![Change::AdvanceClock {
                seconds: None,
                duration: None,
                until: Some(*until),
            }],
            Action::Add | Action::Test | Action::RotateSecret { .. } | Action::Remove => Vec::new(),
        }
    }

    /// Whether the action ends in an [`Outcome`] (and so needs `expect`): every one but the
    /// world's own moves (`advance_clock`, `fault`, `change`).
    pub fn has_outcome(&self) -> bool {
        !matches!(
            self,
            Action::AdvanceClock(_) | Action::Fault { .. } | Action::Change { .. }
        )
    }
}

/// How far an `advance_clock` step moves the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockMove {
    /// By this long (`seconds = N`).
    By(Duration),
    /// To this time (`until = "2028-07-01T00:00:00Z"`), which must be later than the clock.
    Until(OffsetDateTime),
}

/// What a step must end in. Only what is given is checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// The outcome.
    pub outcome: Outcome,
    /// The problem's kind; given exactly when the outcome is [`Outcome::Failed`].
    pub problem: Option<ProblemKind>,
    /// The invalid fields, in any order; given exactly when the outcome is
    /// [`Outcome::Invalid`].
    pub fields: Option<Vec<Field>>,
    /// The fields warned about, in any order (`[]`: none).
    pub warnings: Option<Vec<Field>>,
    /// The kinds of the passed check's warnings, in any order (`[]`: none); only with an
    /// outcome of a passed check (`added`, `passed`, `rotated`).
    pub check_warnings: Option<Vec<CheckWarningKind>>,
    /// The total time the flow waited (`Retry-After`) during the step, in seconds.
    pub waited_seconds: Option<u64>,
    /// A phrase the problem's message must contain (case-insensitive); only with
    /// [`Outcome::Failed`].
    pub message: Option<String>,
    /// A phrase the problem's fix must contain (case-insensitive); only with
    /// [`Outcome::Failed`].
    pub fix: Option<String>,
    /// How many requests the step sent that match each host and path pattern.
    pub requests: Vec<RequestCount>,
    /// The names in the source list after the step, in any order.
    pub sources: Option<Vec<String>>,
}

/// `{ host?, path?, count }`: how many of a step's requests (journal entries) match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestCount {
    /// A host pattern (`*` is any run of characters, case-insensitive); any host when `None`.
    pub host: Option<String>,
    /// A path pattern, as a fault rule's `path`; any path when `None`.
    pub path: Option<String>,
    /// The number of matching requests, retries included.
    pub count: u64,
}

/// How a step ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// `add`: the check passed and the source was saved.
    Added,
    /// `add`, `rotate_secret`: the form refused a field; nothing was sent.
    Invalid,
    /// `add`, `test`, `rotate_secret`: the check found a problem.
    Failed,
    /// `test`: the check passed.
    Passed,
    /// `rotate_secret`: the new secret passed the check and replaced the old one.
    Rotated,
    /// `remove`: the source was removed.
    Removed,
    /// `test`, `rotate_secret`, `remove`: no saved source has the form's name.
    NotFound,
}

impl Outcome {
    /// The outcome's name in scenario files and reports (`not_found`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Added => "added",
            Outcome::Invalid => "invalid",
            Outcome::Failed => "failed",
            Outcome::Passed => "passed",
            Outcome::Rotated => "rotated",
            Outcome::Removed => "removed",
            Outcome::NotFound => "not_found",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}
