//! The runner: plays a [`Scenario`] against fresh fakes and records a [`Report`]. Start at
//! [`run`]. Each run gets its own listener (port 0), manual clock at [`START_TIME`], seeded
//! ids, temporary source list and `d365_source::Flow`, which reaches the fakes only through its
//! network settings (every world host resolved to the listener, only the harness CA trusted).
//! Invariant: a step whose expectation fails is data in the report; `Err` means the harness
//! broke (the fakes did not start, the source list could not be read or written).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use d365_source::{
    AddOutcome, CheckReport, Field, FieldError, FieldWarning, Flow, FlowOptions, Problem,
    ReadDepth, RotateOutcome, SecretString, SourceForm, Store, TableAccess, TestOutcome,
};
use fake_core::{Clock, IdGenerator, JournalEntry, ServerHandle};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::report::{
    CheckSummary, CheckWarningReport, ExpectationReport, FieldReport, FormReport, ProblemReport,
    Report, Seconds, StepReport,
};
use crate::{
    Action, ClockMove, Error, Expectation, ManualTimer, Outcome, SEED, START_TIME, Scenario,
    SecretInput, ServeError, Trust, network_settings, spawn_fakes,
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
    let server = spawn_fakes(
        scenario.world(),
        clock.clone(),
        IdGenerator::seeded(SEED),
        scenario.faults(),
    )
    .await?;
    let timer = Arc::new(ManualTimer::new(clock.clone()));
    let mut network = network_settings(&server);
    if let Some(timeout) = scenario.request_timeout() {
        network.request_timeout = timeout;
    }
    if scenario.trust() == Trust::AnotherCa {
        let other =
            fake_core::TestPki::generate(&["untrusted.invalid".to_owned()]).map_err(|source| {
                Error::Serve {
                    path: scenario.world().path().to_owned(),
                    source: ServeError::Listener(source),
                }
            })?;
        network.roots = d365_source::TrustRoots::Only(vec![other.ca_pem().to_owned()]);
    }
    let options = FlowOptions {
        tables: scenario.tables().to_vec(),
        // The backoff's jitter from the fakes' seed: a replay waits exactly as long every time.
        retry: d365_source::RetryPolicy {
            jitter: d365_source::Jitter::Seeded(SEED),
            ..d365_source::RetryPolicy::default()
        },
    };
    let flow = Flow::new(&network, timer.clone(), options).map_err(|source| Error::FlowSetup {
        path: scenario.path().to_owned(),
        source,
    })?;
    let store_dir = tempfile::tempdir().map_err(|source| Error::TempDir {
        path: scenario.path().to_owned(),
        source,
    })?;
    let mut run = Run {
        scenario,
        server,
        clock,
        timer,
        flow,
        store: Store::open(store_dir.path().join("sources")),
        journaled: BTreeSet::new(),
    };
    let mut steps = Vec::new();
    for (index, step) in scenario.steps().iter().enumerate() {
        let number = index + 1;
        let report = run
            .step(number, &step.action, step.expect.as_ref())
            .await
            .map_err(|source| Error::Step {
                path: scenario.path().to_owned(),
                step: number,
                source,
            })?;
        steps.push(report);
    }
    let journal = run.server.journal().entries();
    let form = scenario.form();
    let report = Report {
        name: scenario.name().to_owned(),
        world: scenario.world_name().to_owned(),
        form: FormReport {
            name: form.name.clone(),
            environment_url: form.environment_url.clone(),
            tenant_id: form.tenant_id.clone(),
            client_id: form.client_id.clone(),
            client_secret: form.client_secret.origin.describe(),
        },
        tables: scenario.tables().to_vec(),
        passed: steps.iter().all(|step| step.held),
        steps,
    };
    Ok((report, journal))
}

/// One run's fakes, flow and store.
struct Run<'a> {
    scenario: &'a Scenario,
    server: ServerHandle,
    clock: Clock,
    timer: Arc<ManualTimer>,
    flow: Flow,
    store: Store,
    /// Journal entries already reported, by sequence number (an answer held back by a delay
    /// fault may land in the journal after later ones).
    journaled: BTreeSet<u64>,
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
    /// Why the step could not be carried out as written.
    mismatches: Vec<String>,
}

impl Run<'_> {
    async fn step(
        &mut self,
        number: usize,
        action: &Action,
        expect: Option<&Expectation>,
    ) -> Result<StepReport, d365_source::Error> {
        let at = self.clock.now();
        let waits_before = self.timer.waits().len();
        let observed = self.act(action).await?;
        let waits: Vec<Duration> = self.timer.waits().split_off(waits_before);
        let waited: Duration = waits.iter().sum();
        let requests = self.transcript();
        let saved = self.store.list()?.iter().map(saved_source).collect();
        let mut mismatches = observed.mismatches.clone();
        if let Some(expect) = expect {
            mismatches.extend(compare(expect, &observed, waited));
        }
        Ok(StepReport {
            step: number,
            action: action.as_str().to_owned(),
            new_secret: match action {
                Action::RotateSecret { new_secret } => Some(new_secret.origin.describe()),
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

    async fn act(&self, action: &Action) -> Result<Observed, d365_source::Error> {
        let name = &self.scenario.form().name;
        let observed = match action {
            Action::Add => match self.flow.add(&self.source_form(), &self.store).await? {
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
                let secret = secret_string(new_secret);
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
        };
        Ok(observed)
    }

    fn advance(&self, clock_move: ClockMove) -> Observed {
        let mut observed = Observed::default();
        match clock_move {
            ClockMove::By(duration) => {
                let by = time::Duration::try_from(duration).unwrap_or(time::Duration::MAX);
                self.clock
                    .advance(by)
                    .expect("the runner's clock is manual");
            }
            ClockMove::Until(until) if until > self.clock.now() => {
                self.clock.set(until).expect("the runner's clock is manual");
            }
            ClockMove::Until(until) => observed.mismatches.push(format!(
                "the clock is already at {}, which is not before `until` {}",
                timestamp(self.clock.now()),
                timestamp(until)
            )),
        }
        observed.clock_to = Some(self.clock.now());
        observed
    }

    fn source_form(&self) -> SourceForm {
        let form = self.scenario.form();
        SourceForm {
            name: form.name.clone(),
            environment_url: form.environment_url.clone(),
            tenant_id: form.tenant_id.clone(),
            client_id: form.client_id.clone(),
            client_secret: secret_string(&form.client_secret),
        }
    }

    /// The journal entries not reported yet, one line each.
    fn transcript(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        for entry in self.server.journal().entries() {
            if !self.journaled.insert(entry.sequence) {
                continue;
            }
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
            lines.push(format!(
                "{status} {} {} {}{query}{fault}",
                entry.method, entry.host, entry.path
            ));
        }
        lines
    }
}

impl Observed {
    fn outcome(outcome: Outcome) -> Observed {
        Observed {
            outcome: Some(outcome),
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

fn secret_string(secret: &SecretInput) -> SecretString {
    SecretString::from(secret.value.expose().to_owned())
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
    mismatches
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

fn expectation_report(expect: &Expectation) -> ExpectationReport {
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
