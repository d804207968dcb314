//! The runner: plays a [`Scenario`] against fresh fakes and records a [`Report`]. Start at
//! [`run`]. Each run gets its own listener (port 0), manual clock at [`START_TIME`], seeded
//! ids, temporary source list and `d365_source::Flow`, which reaches the fakes only through its
//! network settings (every world host resolved to the listener, only the harness CA trusted).
//! [`Player`] is the step code: `run` plays every step with it, the demo one step at a time.
//! Invariant: a step whose expectation fails is data in the report; `Err` means the harness
//! broke (the fakes did not start, the source list could not be read or written).

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use d365_source::{
    AddOutcome, CheckReport, Field, FieldError, FieldWarning, Flow, FlowOptions, NetworkSettings,
    Problem, ReadDepth, RotateOutcome, SecretString, SourceForm, Store, TableAccess, TestOutcome,
};
use fake_core::{Clock, IdGenerator, JournalEntry, glob_matches};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::report::{
    CheckSummary, CheckWarningReport, ExpectationReport, FaultStepReport, FieldReport, FormReport,
    ProblemReport, Report, RequestCountReport, Seconds, StepReport,
};
use crate::{
    Action, Change, ClockMove, Error, Expectation, Form, LiveWorld, ManualTimer, Outcome,
    RequestCount, SEED, START_TIME, Scenario, Secret, SecretInput, ServeError, Step, Trust, World,
    network_settings, spawn_live,
};

/// Runs `scenario` from a fresh start and reports every step. The fakes stop when it returns.
pub async fn run(scenario: &Scenario) -> Result<Report, Error> {
    run_journaled(scenario).await.map(|(report, _)| report)
}

/// [`run`], also returning the fakes' whole journal (redacted, as the fakes keep it): the
/// response bodies tell tools which AADSTS and Dataverse errors a scenario reached, even those
/// a retry got past.
pub async fn run_journaled(scenario: &Scenario) -> Result<(Report, Vec<JournalEntry>), Error> {
    let clock = Clock::manual(START_TIME);
    let (server, live) = spawn_live(
        scenario.world(),
        clock,
        IdGenerator::seeded(SEED),
        scenario.faults(),
    )
    .await?;
    let store_dir = tempfile::tempdir().map_err(|source| Error::TempDir {
        path: scenario.path().to_owned(),
        source,
    })?;
    let mut player = Player::new(
        scenario.clone(),
        live,
        network_settings(&server),
        Store::open(store_dir.path().join("sources")),
    )?;
    while player.play_next().await?.is_some() {}
    let journal = server.journal().entries();
    Ok((player.report(), journal))
}

/// A scenario played step by step against a running world: the runner's step code, for
/// whoever holds the world (the [`run`]ner's fresh fakes, the demo's running ones). The world
/// must be the scenario's as loaded (its world, its `faults`, the clock at [`START_TIME`]);
/// each [`Player::play_next`] plays one step and returns its [`StepReport`], exactly as
/// [`run`] reports it.
pub struct Player {
    scenario: Scenario,
    /// The running world, which `change` and `fault` steps change.
    live: LiveWorld,
    timer: Arc<ManualTimer>,
    flow: Flow,
    store: Store,
    /// Journal entries already reported (or there before the player started), by sequence
    /// number (an answer held back by a delay fault may land in the journal after later ones).
    journaled: BTreeSet<u64>,
    /// Every world secret seen so far, by app and name, as last seen: a secret deleted in
    /// Entra can still be typed (the admin still has its value).
    remembered: BTreeMap<(String, String), Secret>,
    /// The steps played so far, in order.
    played: Vec<StepReport>,
}

impl std::fmt::Debug for Player {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Player")
            .field("scenario", &self.scenario.path())
            .field("played", &self.played.len())
            .finish_non_exhaustive()
    }
}

impl Player {
    /// A player for `scenario` on `live`, whose hosts `network` reaches (host map and CA, as
    /// [`network_settings`] makes them). It builds the scenario's own flow from `network`: its
    /// tables, request timeout and trusted CA, the backoff's jitter from [`SEED`], and a
    /// [`ManualTimer`] on the live world's clock (a wait moves the clock and returns at once,
    /// and is reported). `store` is the source list the steps use; entries already in the
    /// live world's journal are not reported.
    pub fn new(
        scenario: Scenario,
        live: LiveWorld,
        mut network: NetworkSettings,
        store: Store,
    ) -> Result<Player, Error> {
        let timer = Arc::new(ManualTimer::new(live.clock().clone()));
        if let Some(timeout) = scenario.request_timeout() {
            network.request_timeout = timeout;
        }
        if scenario.trust() == Trust::AnotherCa {
            let other = fake_core::TestPki::generate(&["untrusted.invalid".to_owned()]).map_err(
                |source| Error::Serve {
                    path: scenario.world().path().to_owned(),
                    source: ServeError::Listener(source),
                },
            )?;
            network.roots = d365_source::TrustRoots::Only(vec![other.ca_pem().to_owned()]);
        }
        let options = FlowOptions {
            tables: scenario.tables().to_vec(),
            // The backoff's jitter from the fakes' seed: a replay waits exactly as long every
            // time.
            retry: d365_source::RetryPolicy {
                jitter: d365_source::Jitter::Seeded(SEED),
                ..d365_source::RetryPolicy::default()
            },
        };
        let flow =
            Flow::new(&network, timer.clone(), options).map_err(|source| Error::FlowSetup {
                path: scenario.path().to_owned(),
                source,
            })?;
        let journaled = live
            .journal()
            .entries()
            .iter()
            .map(|entry| entry.sequence)
            .collect();
        let mut player = Player {
            scenario,
            live,
            timer,
            flow,
            store,
            journaled,
            remembered: BTreeMap::new(),
            played: Vec::new(),
        };
        let world = player.scenario.world().clone();
        player.remember(&world);
        Ok(player)
    }

    /// The scenario being played.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The number (from 1) of the step [`Player::play_next`] plays, or `None` when every step
    /// has been played.
    pub fn next_step(&self) -> Option<usize> {
        let next = self.played.len() + 1;
        (next <= self.scenario.steps().len()).then_some(next)
    }

    /// The reports of the steps played so far, in order.
    pub fn played(&self) -> &[StepReport] {
        &self.played
    }

    /// Plays the next step and returns its report, or `None` when every step has been played.
    /// A step whose expectation fails is data in the report; `Err` means the source list
    /// could not be read or written (the step is then not counted as played).
    pub async fn play_next(&mut self) -> Result<Option<&StepReport>, Error> {
        let Some(number) = self.next_step() else {
            return Ok(None);
        };
        let step = self.scenario.steps()[number - 1].clone();
        let report = self
            .step(number, &step)
            .await
            .map_err(|source| Error::Step {
                path: self.scenario.path().to_owned(),
                step: number,
                source,
            })?;
        self.played.push(report);
        Ok(self.played.last())
    }

    /// The report of the steps played so far (`passed` when each of them held): after the
    /// last step, what [`run`] reports.
    pub fn report(&self) -> Report {
        let scenario = &self.scenario;
        Report {
            name: scenario.name().to_owned(),
            world: scenario.world_name().to_owned(),
            form: form_report(scenario.form()),
            forms: scenario
                .forms()
                .iter()
                .map(|(name, form)| (name.clone(), form_report(form)))
                .collect(),
            tables: scenario.tables().to_vec(),
            passed: self.played.iter().all(|step| step.held),
            steps: self.played.clone(),
        }
    }
}

/// What a step did, before it is compared with the expectation.
#[derive(Default)]
struct Observed {
    outcome: Option<Outcome>,
    problem: Option<Problem>,
    errors: Vec<FieldError>,
    warnings: Vec<FieldWarning>,
    check: Option<CheckReport>,
    clock_to: Option<OffsetDateTime>,
    /// `change`, `fault`: why the world refused the step's changes.
    error: Option<String>,
    /// Why the step could not be carried out as written.
    mismatches: Vec<String>,
}

impl Player {
    async fn step(&mut self, number: usize, step: &Step) -> Result<StepReport, d365_source::Error> {
        let action = &step.action;
        let expect = step.expect.as_ref();
        let form = step.form.as_ref().unwrap_or(self.scenario.form());
        let at = self.live.clock().now();
        let waits_before = self.timer.waits().len();
        let observed = self.act(action, form).await?;
        if matches!(action, Action::Change { .. }) {
            let world = self.world();
            self.remember(&world);
        }
        let waits: Vec<Duration> = self.timer.waits().split_off(waits_before);
        let waited: Duration = waits.iter().sum();
        let entries = self.new_entries();
        let requests = entries.iter().map(transcript_line).collect();
        let listed = self.store.list()?;
        let saved = listed.iter().map(saved_source).collect();
        let names: Vec<&str> = listed.iter().map(|source| source.name.as_str()).collect();
        let mut mismatches = observed.mismatches.clone();
        if let Some(expect) = expect {
            mismatches.extend(compare(expect, &observed, waited));
            mismatches.extend(compare_requests(&expect.requests, &entries));
            if let Some(expected) = &expect.sources {
                mismatches.extend(compare_sources(expected, &names));
            }
        }
        Ok(StepReport {
            step: number,
            action: action.as_str().to_owned(),
            source: step.source.clone(),
            form: match (&step.form, &step.source) {
                (Some(form), None) => Some(form_report(form)),
                _ => None,
            },
            new_secret: match action {
                Action::RotateSecret { new_secret } => Some(new_secret.origin.describe()),
                _ => None,
            },
            changes: match action {
                Action::Change { changes } => changes.iter().map(describe_change).collect(),
                _ => Vec::new(),
            },
            error: observed.error.clone(),
            faults: match action {
                Action::Fault { clear, add } => Some(FaultStepReport {
                    cleared: *clear,
                    added: {
                        let rules = self.live.faults().rules();
                        let first = rules.len().saturating_sub(add.len());
                        rules
                            .iter()
                            .enumerate()
                            .skip(first)
                            .map(|(index, rule)| fault_summary(index, rule))
                            .collect()
                    },
                    in_effect: self
                        .live
                        .faults()
                        .rules()
                        .iter()
                        .enumerate()
                        .map(|(index, rule)| fault_name(index, rule))
                        .collect(),
                }),
                _ => None,
            },
            at: timestamp(at),
            clock_to: observed.clock_to.map(timestamp),
            expected: expect.map(expectation_report),
            outcome: observed.outcome,
            problem: observed.problem.as_ref().map(problem_report),
            errors: observed.errors.iter().map(field_error).collect(),
            warnings: observed.warnings.iter().map(field_warning).collect(),
            check: observed.check.as_ref().map(check_summary),
            waits_seconds: waits.iter().copied().map(Seconds).collect(),
            requests,
            saved,
            held: mismatches.is_empty(),
            mismatches,
        })
    }

    /// Keeps `world`'s secrets as the latest known of each.
    fn remember(&mut self, world: &World) {
        for app in world.apps() {
            for secret in &app.secrets {
                self.remembered
                    .insert((app.key.clone(), secret.name.clone()), secret.clone());
            }
        }
    }

    /// The world as it is now (the fakes serve it).
    fn world(&self) -> World {
        self.live.world()
    }

    /// What the user types for `secret` now, or why it cannot be typed.
    fn typed(&self, secret: &SecretInput) -> Result<SecretString, String> {
        secret
            .typed(&self.world(), &self.remembered)
            .map(|value| SecretString::from(value.expose().to_owned()))
            .ok_or_else(|| {
                format!(
                    "secret `{}` is not in the world at this step, so it cannot be typed",
                    secret.origin.describe()
                )
            })
    }

    async fn act(&self, action: &Action, form: &Form) -> Result<Observed, d365_source::Error> {
        let name = &form.name;
        let observed = match action {
            Action::Add => match self.source_form(form) {
                Err(mismatch) => Observed::mismatch(mismatch),
                Ok(source_form) => self.add(&source_form).await?,
            },
            Action::Test => match not_found(self.flow.test(&self.store, name).await)? {
                None => Observed::outcome(Outcome::NotFound),
                Some(TestOutcome::Passed(source)) => Observed {
                    outcome: Some(Outcome::Passed),
                    check: passed_check(&source.last_check),
                    ..Observed::default()
                },
                Some(TestOutcome::Failed { problem, .. }) => Observed {
                    outcome: Some(Outcome::Failed),
                    problem: Some(problem),
                    ..Observed::default()
                },
            },
            Action::RotateSecret { new_secret } => {
                let secret = match self.typed(new_secret) {
                    Ok(secret) => secret,
                    Err(mismatch) => return Ok(Observed::mismatch(mismatch)),
                };
                match not_found(self.flow.rotate_secret(&self.store, name, secret).await)? {
                    None => Observed::outcome(Outcome::NotFound),
                    Some(RotateOutcome::Rotated { source, warnings }) => Observed {
                        outcome: Some(Outcome::Rotated),
                        warnings,
                        check: passed_check(&source.last_check),
                        ..Observed::default()
                    },
                    Some(RotateOutcome::Invalid(errors)) => Observed {
                        outcome: Some(Outcome::Invalid),
                        errors: errors.errors,
                        warnings: errors.warnings,
                        ..Observed::default()
                    },
                    Some(RotateOutcome::Failed { problem, warnings }) => Observed {
                        outcome: Some(Outcome::Failed),
                        problem: Some(problem),
                        warnings,
                        ..Observed::default()
                    },
                }
            }
            Action::Remove => match not_found(self.store.remove(name))? {
                None => Observed::outcome(Outcome::NotFound),
                Some(_) => Observed::outcome(Outcome::Removed),
            },
            Action::AdvanceClock(clock_move) => self.advance(*clock_move),
            // Through the live world, so that a later change keeps a fault step's rules.
            Action::Fault { .. } => self.change(&action.world_changes()),
            Action::Change { changes } => self.change(changes),
        };
        Ok(observed)
    }

    /// Applies a batch to the running world; a refusal is the step's error (nothing changed).
    fn change(&self, changes: &[Change]) -> Observed {
        match self.live.apply(changes) {
            Ok(_) => Observed::default(),
            Err(error) => {
                let error = error.to_string();
                Observed {
                    mismatches: vec![format!("the world refused the change: {error}")],
                    error: Some(error),
                    ..Observed::default()
                }
            }
        }
    }

    async fn add(&self, source_form: &SourceForm) -> Result<Observed, d365_source::Error> {
        Ok(match self.flow.add(source_form, &self.store).await? {
            AddOutcome::Added { source, warnings } => Observed {
                outcome: Some(Outcome::Added),
                warnings,
                check: passed_check(&source.last_check),
                ..Observed::default()
            },
            AddOutcome::Invalid(errors) => Observed {
                outcome: Some(Outcome::Invalid),
                errors: errors.errors,
                warnings: errors.warnings,
                ..Observed::default()
            },
            AddOutcome::Failed { problem, warnings } => Observed {
                outcome: Some(Outcome::Failed),
                problem: Some(problem),
                warnings,
                ..Observed::default()
            },
        })
    }

    fn advance(&self, clock_move: ClockMove) -> Observed {
        let clock = self.live.clock();
        let mut observed = Observed::default();
        match clock_move {
            ClockMove::By(duration) => {
                let by = time::Duration::try_from(duration).unwrap_or(time::Duration::MAX);
                // Only a move past the year 9999 fails, on a manual or a system clock.
                if let Err(error) = clock.advance(by) {
                    observed
                        .mismatches
                        .push(format!("the clock does not move: {error}"));
                }
            }
            ClockMove::Until(until) if until > clock.now() => {
                // `set` cannot fail on either kind of clock.
                let _ = clock.set(until);
            }
            ClockMove::Until(until) => observed.mismatches.push(format!(
                "the clock is already at {}, which is not before `until` {}",
                timestamp(clock.now()),
                timestamp(until)
            )),
        }
        observed.clock_to = Some(clock.now());
        observed
    }

    /// The form as the flow gets it, its secret typed from the world as it is now.
    fn source_form(&self, form: &Form) -> Result<SourceForm, String> {
        Ok(SourceForm {
            name: form.name.clone(),
            environment_url: form.environment_url.clone(),
            tenant_id: form.tenant_id.clone(),
            client_id: form.client_id.clone(),
            client_secret: self.typed(&form.client_secret)?,
        })
    }

    /// The journal entries not reported yet.
    fn new_entries(&mut self) -> Vec<JournalEntry> {
        self.live
            .journal()
            .entries()
            .into_iter()
            .filter(|entry| self.journaled.insert(entry.sequence))
            .collect()
    }
}

/// One journal entry as a report line: `status METHOD host path?query (fault: name)`.
fn transcript_line(entry: &JournalEntry) -> String {
    let status = match entry.status {
        0 => "closed".to_owned(),
        status => status.to_string(),
    };
    let query = entry
        .query
        .as_deref()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let fault = entry
        .fault
        .as_deref()
        .map(|fault| format!(" (fault: {fault})"))
        .unwrap_or_default();
    format!(
        "{status} {} {} {}{query}{fault}",
        entry.method, entry.host, entry.path
    )
}

/// A change as a report shows it, its kind then its fields, with no secret value and no
/// certificate text: `remove_role environment=contoso app=importer role="Importer Reader"`.
pub fn describe_change(change: &Change) -> String {
    let Ok(toml::Value::Table(table)) = toml::Value::try_from(change) else {
        // A change always serializes as a table; say so rather than panic if that changes.
        return change.kind().to_owned();
    };
    let mut words = vec![change.kind().to_owned()];
    for (key, value) in redact(table) {
        if key == "change" {
            continue;
        }
        let text = match &value {
            toml::Value::String(text)
                if !text.is_empty()
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.:/*()".contains(c)) =>
            {
                text.clone()
            }
            // A TOML literal string: it reads without escapes in the YAML snapshot.
            toml::Value::String(text) if !text.contains(['\'', '\n']) => format!("'{text}'"),
            other => inline(other),
        };
        words.push(format!("{key}={text}"));
    }
    words.join(" ")
}

fn redact(mut table: toml::Table) -> toml::Table {
    for (key, shown) in [("value", "(redacted)"), ("pem", "(certificate)")] {
        if let Some(value) = table.get_mut(key) {
            *value = toml::Value::String(shown.to_owned());
        }
    }
    table
}

fn is_empty(value: &toml::Value) -> bool {
    match value {
        toml::Value::String(text) => text.is_empty(),
        toml::Value::Array(items) => items.is_empty(),
        toml::Value::Table(table) => table.is_empty(),
        _ => false,
    }
}

/// A TOML value on one line (tables inline), keys in their order.
fn inline(value: &toml::Value) -> String {
    match value {
        toml::Value::Table(table) => {
            // Empty values are serde defaults (`headers = {}`, `body = ""`): noise in a report.
            let fields: Vec<String> = table
                .iter()
                .filter(|(_, value)| !is_empty(value))
                .map(|(key, value)| format!("{key} = {}", inline(value)))
                .collect();
            if fields.is_empty() {
                "{}".to_owned()
            } else {
                format!("{{ {} }}", fields.join(", "))
            }
        }
        toml::Value::Array(items) => {
            let items: Vec<String> = items.iter().map(inline).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// A fault rule as the journal names it: its `name`, or its position (`fault #2`).
fn fault_name(index: usize, rule: &fake_core::FaultRule) -> String {
    rule.name
        .clone()
        .unwrap_or_else(|| format!("fault #{}", index + 1))
}

/// `throttle: dataverse GET /api/data/* (call 2, 3 times) → respond 429, Retry-After: 5`.
fn fault_summary(index: usize, rule: &fake_core::FaultRule) -> String {
    use fake_core::FaultAction;
    let mut matches: Vec<String> = [&rule.service, &rule.host, &rule.method, &rule.path]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    if matches.is_empty() {
        matches.push("every request".to_owned());
    }
    let mut when = Vec::new();
    if let Some(nth) = rule.nth {
        when.push(format!("call {nth}"));
    }
    if let Some(from) = rule.from {
        when.push(format!("from call {from}"));
    }
    if let Some(times) = rule.times {
        when.push(if times == 1 {
            "once".to_owned()
        } else {
            format!("{times} times")
        });
    }
    let when = if when.is_empty() {
        String::new()
    } else {
        format!(" ({})", when.join(", "))
    };
    let action = match &rule.action {
        // Only the header that changes what a client does; the rule is in the file.
        FaultAction::Respond {
            status, headers, ..
        } => headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
            .map_or_else(
                || format!("respond {status}"),
                |(_, value)| format!("respond {status}, Retry-After: {value}"),
            ),
        FaultAction::Delay { millis } => format!("delay {millis} ms"),
        FaultAction::CloseConnection => "close_connection".to_owned(),
        FaultAction::ResetStream => "reset_stream".to_owned(),
        FaultAction::Close => "close".to_owned(),
    };
    format!(
        "{}: {}{when} → {action}",
        fault_name(index, rule),
        matches.join(" ")
    )
}

fn form_report(form: &Form) -> FormReport {
    FormReport {
        name: form.name.clone(),
        environment_url: form.environment_url.clone(),
        tenant_id: form.tenant_id.clone(),
        client_id: form.client_id.clone(),
        client_secret: form.client_secret.origin.describe(),
    }
}

impl Observed {
    fn outcome(outcome: Outcome) -> Observed {
        Observed {
            outcome: Some(outcome),
            ..Observed::default()
        }
    }

    /// A step that could not be carried out as written.
    fn mismatch(mismatch: String) -> Observed {
        Observed {
            mismatches: vec![mismatch],
            ..Observed::default()
        }
    }
}

/// `Ok(None)` for "no source has this name", which is an outcome, not a harness failure.
fn not_found<T>(result: Result<T, d365_source::Error>) -> Result<Option<T>, d365_source::Error> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(d365_source::Error::SourceNotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// `Contoso CRM: last check passed`, or `... failed (expired_secret)`.
fn saved_source(source: &d365_source::StoredSource) -> String {
    match &source.last_check {
        d365_source::LastCheck::Passed(_) => format!("{}: last check passed", source.name),
        d365_source::LastCheck::Failed { problem, .. } => {
            format!("{}: last check failed ({})", source.name, problem.kind)
        }
    }
}

fn passed_check(last_check: &d365_source::LastCheck) -> Option<CheckReport> {
    match last_check {
        d365_source::LastCheck::Passed(report) => Some(report.clone()),
        d365_source::LastCheck::Failed { .. } => None,
    }
}

/// What differs between `expect` and what the step did, one sentence each.
fn compare(expect: &Expectation, observed: &Observed, waited: Duration) -> Vec<String> {
    let mut mismatches = Vec::new();
    if observed.outcome != Some(expect.outcome) {
        mismatches.push(format!(
            "outcome: expected `{}`, got `{}`",
            expect.outcome,
            observed.outcome.map_or("none", Outcome::as_str)
        ));
    }
    let problem = observed.problem.as_ref().map(|problem| problem.kind);
    if let Some(expected) = expect.problem
        && problem != Some(expected)
    {
        mismatches.push(format!(
            "problem: expected `{expected}`, got {}",
            problem.map_or_else(|| "none".to_owned(), |kind| format!("`{kind}`"))
        ));
    }
    if let Some(expected) = &expect.fields {
        let found: Vec<Field> = observed.errors.iter().map(|error| error.field).collect();
        if let Some(mismatch) = compare_fields("fields", expected, &found) {
            mismatches.push(mismatch);
        }
    }
    if let Some(expected) = &expect.warnings {
        let found: Vec<Field> = observed
            .warnings
            .iter()
            .map(|warning| warning.field)
            .collect();
        if let Some(mismatch) = compare_fields("warnings", expected, &found) {
            mismatches.push(mismatch);
        }
    }
    if let Some(expected) = &expect.check_warnings {
        let expected: BTreeSet<&str> = expected.iter().map(|kind| kind.as_str()).collect();
        let found: BTreeSet<&str> = observed
            .check
            .iter()
            .flat_map(|report| &report.warnings)
            .map(|warning| warning.kind.as_str())
            .collect();
        if expected != found {
            let list =
                |kinds: &BTreeSet<&str>| kinds.iter().copied().collect::<Vec<_>>().join(", ");
            mismatches.push(format!(
                "check_warnings: expected [{}], got [{}]",
                list(&expected),
                list(&found)
            ));
        }
    }
    if let Some(expected) = expect.waited_seconds
        && waited != Duration::from_secs(expected)
    {
        mismatches.push(format!(
            "waited_seconds: expected {expected}, got {}",
            waited.as_secs_f64()
        ));
    }
    for (what, phrase, text) in [
        (
            "message",
            &expect.message,
            observed.problem.as_ref().map(|problem| &problem.message),
        ),
        (
            "fix",
            &expect.fix,
            observed.problem.as_ref().map(|problem| &problem.fix),
        ),
    ] {
        let Some(phrase) = phrase else { continue };
        let holds = text.is_some_and(|text| contains_phrase(text, phrase));
        if !holds {
            mismatches.push(match text {
                Some(text) => format!("{what}: expected a phrase `{phrase}`, got `{text}`"),
                None => format!("{what}: expected a phrase `{phrase}`, got no problem"),
            });
        }
    }
    mismatches
}

/// Whether `text` contains `phrase`, ignoring case and runs of whitespace (a phrase written on
/// one line matches a message that wraps).
fn contains_phrase(text: &str, phrase: &str) -> bool {
    let squeeze = |text: &str| {
        text.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    squeeze(text).contains(&squeeze(phrase))
}

/// Each `requests` count that the step's journal entries do not match.
fn compare_requests(expected: &[RequestCount], entries: &[JournalEntry]) -> Vec<String> {
    expected
        .iter()
        .filter_map(|count| {
            let found = entries
                .iter()
                .filter(|entry| {
                    count
                        .host
                        .as_deref()
                        .is_none_or(|host| glob_matches(host, &entry.host))
                        && count
                            .path
                            .as_deref()
                            .is_none_or(|path| glob_matches(path, &entry.path))
                })
                .count();
            (u64::try_from(found).unwrap_or(u64::MAX) != count.count).then(|| {
                format!(
                    "requests: expected {} to {}, got {found}",
                    count.count,
                    request_pattern(count)
                )
            })
        })
        .collect()
}

/// `login.microsoftonline.com /*/oauth2/v2.0/token`, `any host`, for mismatches and reports.
fn request_pattern(count: &RequestCount) -> String {
    match (&count.host, &count.path) {
        (Some(host), Some(path)) => format!("{host} {path}"),
        (Some(host), None) => host.clone(),
        (None, Some(path)) => format!("any host {path}"),
        (None, None) => "any host".to_owned(),
    }
}

/// The source list's names against the expected ones, as sets.
fn compare_sources(expected: &[String], found: &[&str]) -> Option<String> {
    let expected_set: BTreeSet<&str> = expected.iter().map(String::as_str).collect();
    let found_set: BTreeSet<&str> = found.iter().copied().collect();
    (expected_set != found_set).then(|| {
        let list = |names: &BTreeSet<&str>| names.iter().copied().collect::<Vec<_>>().join(", ");
        format!(
            "sources: expected [{}], got [{}]",
            list(&expected_set),
            list(&found_set)
        )
    })
}

/// Compares two field lists as sets.
fn compare_fields(what: &str, expected: &[Field], found: &[Field]) -> Option<String> {
    let expected: BTreeSet<Field> = expected.iter().copied().collect();
    let found: BTreeSet<Field> = found.iter().copied().collect();
    (expected != found).then(|| {
        format!(
            "{what}: expected [{}], got [{}]",
            field_list(&expected),
            field_list(&found)
        )
    })
}

fn field_list(fields: &BTreeSet<Field>) -> String {
    fields
        .iter()
        .map(|field| field.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn timestamp(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .expect("a clock time in the years 0 to 9999 formats as RFC 3339")
}

/// An expectation as a report shows it (before the step is played, too).
pub fn expectation_report(expect: &Expectation) -> ExpectationReport {
    let names = |fields: &Vec<Field>| {
        fields
            .iter()
            .map(|field| field.as_str().to_owned())
            .collect()
    };
    ExpectationReport {
        outcome: expect.outcome,
        problem: expect.problem.map(|kind| kind.as_str().to_owned()),
        fields: expect.fields.as_ref().map(names),
        warnings: expect.warnings.as_ref().map(names),
        check_warnings: expect
            .check_warnings
            .as_ref()
            .map(|kinds| kinds.iter().map(|kind| kind.as_str().to_owned()).collect()),
        waited_seconds: expect.waited_seconds,
        message: expect.message.clone(),
        fix: expect.fix.clone(),
        requests: expect
            .requests
            .iter()
            .map(|count| RequestCountReport {
                to: request_pattern(count),
                count: count.count,
            })
            .collect(),
        sources: expect.sources.clone(),
    }
}

fn problem_report(problem: &Problem) -> ProblemReport {
    let evidence = &problem.evidence;
    ProblemReport {
        kind: problem.kind.as_str().to_owned(),
        message: problem.message.clone(),
        fix: problem.fix.clone(),
        step: step_name(evidence.step).to_owned(),
        request: evidence.request.clone(),
        status: evidence.status,
        code: evidence.code.clone(),
        detail: evidence.detail.clone(),
        retry_after_seconds: evidence.retry_after_seconds,
        retries: evidence.retries,
        waited_ms: evidence.waited_ms,
    }
}

/// The check step's name as `d365_source` serializes it.
fn step_name(step: d365_source::Step) -> &'static str {
    match step {
        d365_source::Step::Token => "token",
        d365_source::Step::WhoAmI => "who_am_i",
        d365_source::Step::Organization => "organization",
        d365_source::Step::Privileges => "privileges",
        d365_source::Step::TableRead => "table_read",
    }
}

fn field_error(error: &FieldError) -> FieldReport {
    FieldReport {
        field: error.field.as_str().to_owned(),
        message: error.message.clone(),
    }
}

fn field_warning(warning: &FieldWarning) -> FieldReport {
    FieldReport {
        field: warning.field.as_str().to_owned(),
        message: warning.message.clone(),
    }
}

fn check_summary(report: &CheckReport) -> CheckSummary {
    let organization = &report.organization;
    CheckSummary {
        checked_at: timestamp(report.checked_at),
        organization: format!("{} ({})", organization.name, organization.unique_name),
        organization_id: organization.id.to_string(),
        version: organization.version.clone(),
        user_id: report.user_id.to_string(),
        business_unit_id: report.business_unit_id.to_string(),
        tables_read: report
            .tables
            .iter()
            .map(|table| table.entity_set.clone())
            .collect(),
        readable_tables: report.readable_tables.clone(),
        resolved: report
            .tables
            .iter()
            .filter_map(TableAccess::resolution)
            .collect(),
        partial_depths: report
            .tables
            .iter()
            .filter_map(|table| match table.read_depth {
                Some(depth) if depth != ReadDepth::Global => {
                    Some(format!("{}: {depth}", table.logical_name))
                }
                _ => None,
            })
            .collect(),
        warnings: report
            .warnings
            .iter()
            .map(|warning| CheckWarningReport {
                kind: warning.kind.as_str().to_owned(),
                table: warning.table.clone(),
                depth: warning.depth.as_str().to_owned(),
                message: warning.message.clone(),
            })
            .collect(),
    }
}
