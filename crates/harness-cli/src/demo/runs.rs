//! Connection checks the browser watches: a POST starts a [`Run`] (Add Source, Test, Rotate secret),
//! `GET /runs/{id}/events` streams its steps as server-sent events and `GET /runs/{id}` shows
//! its outcome. Without JavaScript the form's POST starts the same run and waits for it.
//! Invariant: a run keeps the form as typed minus the secret; the secret lives only in the task
//! that checks and is dropped with it. [`Runs`] keeps at most [`CAPACITY`] runs for [`KEEP`],
//! and at most [`CHECKING`] of them check at once (503 past that).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use d365_source::{
    AddOutcome, CheckEvent, CheckEventKind, Progress, RotateOutcome, SecretString, SourceForm,
    Step, TestOutcome,
};
use maud::{Markup, html};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;

use super::app::{self, AddForm, Demo};
use super::pages::{self, FormView};
use super::rotate::{self, RotateView};
use crate::serve::admin::AdminToken;

/// The script that makes the check live (`js/progress.js`).
pub(super) const SCRIPT: &str = "/js/progress.js";

/// How many runs are kept at most: the oldest goes first.
pub(super) const CAPACITY: usize = 32;

/// How long a run is kept after it started: long enough to read its outcome, short enough that
/// an old id stops answering.
pub(super) const KEEP: Duration = Duration::from_secs(15 * 60);

/// How many checks may run at once: each holds connections to the fakes and a task, and a
/// script posting in a loop must not pile them up.
pub(super) const CHECKING: usize = 8;

/// The runs kept in memory, oldest first, and the permits of the checks running now.
pub(crate) struct Runs {
    kept: Mutex<VecDeque<Arc<Run>>>,
    pub(super) checking: Arc<tokio::sync::Semaphore>,
}

impl Default for Runs {
    fn default() -> Runs {
        Runs {
            kept: Mutex::default(),
            checking: Arc::new(tokio::sync::Semaphore::new(CHECKING)),
        }
    }
}

impl fmt::Debug for Runs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runs")
            .field("kept", &self.lock().len())
            .finish()
    }
}

impl Runs {
    fn lock(&self) -> MutexGuard<'_, VecDeque<Arc<Run>>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `run`, forgetting runs past [`KEEP`] and the oldest past [`CAPACITY`] (a run
    /// forgotten while it checks still finishes: only its outcome is lost).
    pub(super) fn keep(&self, run: Arc<Run>) {
        let mut kept = self.lock();
        expire(&mut kept);
        while kept.len() >= CAPACITY {
            kept.pop_front();
        }
        kept.push_back(run);
    }

    /// The run `id`, if it is still kept.
    pub(super) fn get(&self, id: &str) -> Option<Arc<Run>> {
        let mut kept = self.lock();
        expire(&mut kept);
        kept.iter().find(|run| run.id == id).cloned()
    }

    /// The steps of the finished run `id` (none if there is no such run or it still checks).
    pub(crate) fn steps(&self, id: Option<&str>) -> Vec<StepView> {
        let Some(run) = id.and_then(|id| self.get(id)) else {
            return Vec::new();
        };
        let state = run.lock();
        match state.outcome {
            Some(_) => step_views(&state.events),
            None => Vec::new(),
        }
    }
}

/// Drops the runs older than [`KEEP`].
fn expire(kept: &mut VecDeque<Arc<Run>>) {
    while kept
        .front()
        .is_some_and(|run| run.started.elapsed() >= KEEP)
    {
        kept.pop_front();
    }
}

/// One check: its events so far and, once it ended, its outcome.
pub(crate) struct Run {
    /// 32 random bytes, base64url: the only way to reach the run.
    id: String,
    started: Instant,
    state: Mutex<RunState>,
    /// Ticks at each event and at the end (the event streams wait on it).
    changed: watch::Sender<()>,
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct RunState {
    events: Vec<CheckEvent>,
    outcome: Option<Outcome>,
}

/// How a run ended, kept to be shown (no secret in any of it).
pub(super) enum Outcome {
    /// Back to the list, with the notice `key=name` (`added`, `rotated`).
    Listed {
        /// The notice's query key.
        key: &'static str,
        /// The source.
        name: String,
    },
    /// The Dynamics 365 form again, with what went wrong.
    AddForm(StatusCode, FormView),
    /// The Rotate secret form again, with what went wrong.
    RotateForm(StatusCode, RotateView),
    /// The source list failed (an error page).
    Error(d365_source::Error),
    /// The check's task ended without an outcome.
    Broken,
}

impl Run {
    /// A new run under a fresh random id.
    pub(super) fn new() -> anyhow::Result<Run> {
        Ok(Run {
            id: AdminToken::generate()?.expose().to_owned(),
            started: Instant::now(),
            state: Mutex::new(RunState::default()),
            changed: watch::Sender::new(()),
        })
    }

    /// The run's id.
    pub(super) fn id(&self) -> &str {
        &self.id
    }

    fn lock(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records the outcome (the first one counts) and wakes the streams.
    fn finish(&self, outcome: Outcome) {
        {
            let mut state = self.lock();
            if state.outcome.is_some() {
                return;
            }
            state.outcome = Some(outcome);
        }
        self.changed.send_modify(|_| {});
    }

    /// The steps so far.
    fn steps(&self) -> Vec<StepView> {
        step_views(&self.lock().events)
    }

    /// Completes when the run has its outcome.
    async fn finished(&self) {
        let mut changed = self.changed.subscribe();
        while self.lock().outcome.is_none() {
            if changed.changed().await.is_err() {
                return;
            }
        }
    }
}

impl Progress for Run {
    fn event(&self, event: CheckEvent) {
        self.lock().events.push(event);
        self.changed.send_modify(|_| {});
    }
}

/// What a run checks. The secret is moved into the task and dropped when it ends.
pub(super) enum Job {
    /// Add Source with this form.
    Add(SourceForm),
    /// Test the source `name` again.
    Test {
        /// The source.
        name: String,
    },
    /// Rotate the secret of the source `name`.
    Rotate {
        /// The source.
        name: String,
        /// The new secret.
        secret: SecretString,
    },
}

/// Why a run did not start.
#[derive(Debug)]
pub(super) enum NotStarted {
    /// The form's CSRF token is wrong or missing.
    Csrf,
    /// No random id could be made.
    NoId,
    /// [`CHECKING`] checks are running already.
    Busy,
}

impl IntoResponse for NotStarted {
    fn into_response(self) -> Response {
        match self {
            NotStarted::Csrf => app::csrf_refused(),
            NotStarted::NoId => app::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The check could not start: the system's random source failed.",
            ),
            NotStarted::Busy => app::error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!(
                    "{CHECKING} connection checks are running already; wait for one to finish and try again."
                ),
            ),
        }
    }
}

/// Starts `job` in its own task (it goes on if the browser leaves) and keeps its run.
pub(super) fn start(demo: &Arc<Demo>, job: Job) -> Result<Arc<Run>, NotStarted> {
    let permit = Arc::clone(&demo.runs.checking)
        .try_acquire_owned()
        .map_err(|_| NotStarted::Busy)?;
    let run = Arc::new(Run::new().map_err(|_| NotStarted::NoId)?);
    demo.runs.keep(run.clone());
    let task_demo = demo.clone();
    let task_run = run.clone();
    tokio::spawn(async move {
        // A panic in the check must still end the run, or its stream would wait for ever.
        let guard = BrokenIfUnfinished(task_run.clone());
        let outcome = execute(&task_demo, job, &task_run).await;
        // The check is over: its permit goes back before anyone can see the outcome.
        drop(permit);
        task_run.finish(outcome);
        drop(guard);
    });
    Ok(run)
}

/// Ends its run as [`Outcome::Broken`] when dropped before the run finished.
struct BrokenIfUnfinished(Arc<Run>);

impl Drop for BrokenIfUnfinished {
    fn drop(&mut self) {
        self.0.finish(Outcome::Broken);
    }
}

async fn execute(demo: &Demo, job: Job, run: &Run) -> Outcome {
    match job {
        Job::Add(form) => {
            let mut view = FormView::of(&form);
            let outcome = demo.flow().add_with_progress(&form, &demo.store, run).await;
            drop(form);
            view.steps = run.steps();
            match outcome {
                Ok(AddOutcome::Added { source, .. }) => Outcome::Listed {
                    key: "added",
                    name: source.name,
                },
                Ok(AddOutcome::Invalid(errors)) => {
                    view.warnings = errors.warnings;
                    view.errors = errors.errors;
                    Outcome::AddForm(StatusCode::UNPROCESSABLE_ENTITY, view)
                }
                Ok(AddOutcome::Failed { problem, warnings }) => {
                    view.warnings = warnings;
                    view.problem = Some(problem);
                    Outcome::AddForm(StatusCode::OK, view)
                }
                Err(error) => Outcome::Error(error),
            }
        }
        Job::Test { name } => {
            // Passed or failed, the outcome is recorded in the store and the list shows it.
            match demo
                .flow()
                .test_with_progress(&demo.store, &name, run)
                .await
            {
                Ok(TestOutcome::Passed(source) | TestOutcome::Failed { source, .. }) => {
                    Outcome::Listed {
                        key: "tested",
                        name: source.name,
                    }
                }
                Err(error) => Outcome::Error(error),
            }
        }
        Job::Rotate { name, secret } => {
            let outcome = demo
                .flow()
                .rotate_secret_with_progress(&demo.store, &name, secret, run)
                .await;
            let mut view = RotateView::new(name);
            view.form.steps = run.steps();
            match outcome {
                Ok(RotateOutcome::Rotated { source, .. }) => Outcome::Listed {
                    key: "rotated",
                    name: source.name,
                },
                Ok(RotateOutcome::Invalid(errors)) => {
                    view.form.warnings = errors.warnings;
                    view.form.errors = errors.errors;
                    Outcome::RotateForm(StatusCode::UNPROCESSABLE_ENTITY, view)
                }
                Ok(RotateOutcome::Failed { problem, warnings }) => {
                    view.form.warnings = warnings;
                    view.form.problem = Some(problem);
                    Outcome::RotateForm(StatusCode::OK, view)
                }
                Err(error) => Outcome::Error(error),
            }
        }
    }
}

/// The demo's run routes (the forms' own POSTs are in `app.rs` and `rotate.rs`).
pub(super) fn routes() -> Router<Arc<Demo>> {
    Router::new()
        .route("/runs/add", post(start_add))
        .route("/runs/test", post(start_test))
        .route("/runs/{id}", get(outcome))
        .route("/runs/{id}/events", get(events))
        .merge(rotate::routes())
}

/// The Add Source form as a [`Job`], or the CSRF refusal.
fn add_job(demo: &Demo, form: AddForm) -> Result<Job, NotStarted> {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return Err(NotStarted::Csrf);
    }
    Ok(Job::Add(SourceForm {
        name: form.name,
        environment_url: form.environment_url,
        tenant_id: form.tenant_id,
        client_id: form.client_id,
        // From here on the secret lives only in the SecretString (zeroed on drop).
        client_secret: SecretString::from(form.client_secret),
    }))
}

/// Add Source without JavaScript: starts the run, waits for it, answers with its outcome.
pub(super) async fn add_and_wait(demo: Arc<Demo>, form: AddForm) -> Response {
    match add_job(&demo, form).and_then(|job| start(&demo, job)) {
        Ok(run) => wait_and_show(&demo, &run).await,
        Err(refused) => refused.into_response(),
    }
}

/// Waits for `run` and answers with its outcome.
pub(super) async fn wait_and_show(demo: &Demo, run: &Run) -> Response {
    run.finished().await;
    show(demo, run)
}

/// `POST /runs/add`: starts Add Source, answers 202 with the run's id and where to watch it.
async fn start_add(State(demo): State<Arc<Demo>>, Form(form): Form<AddForm>) -> Response {
    match add_job(&demo, form).and_then(|job| start(&demo, job)) {
        Ok(run) => started(&run),
        Err(refused) => refused.into_response(),
    }
}

/// Test (a saved source's name and the CSRF token).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct TestForm {
    csrf: String,
    name: String,
}

fn test_job(demo: &Demo, form: TestForm) -> Result<Job, NotStarted> {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return Err(NotStarted::Csrf);
    }
    Ok(Job::Test { name: form.name })
}

/// Test without JavaScript: starts the run, waits for it, answers with its outcome.
pub(super) async fn test_and_wait(demo: Arc<Demo>, form: TestForm) -> Response {
    match test_job(&demo, form).and_then(|job| start(&demo, job)) {
        Ok(run) => wait_and_show(&demo, &run).await,
        Err(refused) => refused.into_response(),
    }
}

/// `POST /runs/test`: starts Test, answers 202 with the run's id and where to watch it.
async fn start_test(State(demo): State<Arc<Demo>>, Form(form): Form<TestForm>) -> Response {
    match test_job(&demo, form).and_then(|job| start(&demo, job)) {
        Ok(run) => started(&run),
        Err(refused) => refused.into_response(),
    }
}

/// 202 with `{"id", "events", "result"}`.
pub(super) fn started(run: &Run) -> Response {
    let body = serde_json::json!({
        "id": run.id,
        "events": format!("/runs/{}/events", run.id),
        "result": format!("/runs/{}", run.id),
    });
    (
        StatusCode::ACCEPTED,
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        )],
        body.to_string(),
    )
        .into_response()
}

fn no_such_run() -> Response {
    app::error_page(
        StatusCode::NOT_FOUND,
        "There is no such check: it finished too long ago, or the demo restarted. Its outcome is in the list if it passed.",
    )
}

/// `GET /runs/{id}`: the run's outcome, or its steps so far while it checks.
async fn outcome(State(demo): State<Arc<Demo>>, Path(id): Path<String>) -> Response {
    match demo.runs.get(&id) {
        Some(run) => show(&demo, &run),
        None => no_such_run(),
    }
}

fn show(demo: &Demo, run: &Run) -> Response {
    let state = run.lock();
    let Some(outcome) = &state.outcome else {
        let steps = step_views(&state.events);
        return app::page(StatusCode::OK, running_page(&steps, run.id()));
    };
    match outcome {
        Outcome::Listed { key, name } => app::see_other(&format!(
            "/sources?{}&{}",
            app::query(key, name),
            app::query("run", &run.id)
        )),
        Outcome::AddForm(status, view) => {
            app::page(*status, pages::dynamics_form(view, demo.csrf()))
        }
        Outcome::RotateForm(status, view) => {
            app::page(*status, rotate::rotate_page(view, demo.csrf()))
        }
        Outcome::Error(error) => app::store_error(error),
        Outcome::Broken => app::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The check stopped before it ended; nothing was saved. Try again.",
        ),
    }
}

/// `GET /runs/{id}/events`: every event of the run as a server-sent event (`step`, its index
/// as the id; from after `Last-Event-ID` when the browser reconnects), then `done` with where
/// the outcome is, and the stream ends.
async fn events(
    State(demo): State<Arc<Demo>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(run) = demo.runs.get(&id) else {
        return no_such_run();
    };
    let next = headers
        .get("last-event-id")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok())
        .map_or(0, |last| last.saturating_add(1));
    // Subscribed before anything is read, so no event can slip between a read and the wait.
    let changed = run.changed.subscribe();
    let stream = futures_util::stream::unfold(Some((run, changed, next)), |state| async move {
        let (run, mut changed, next) = state?;
        loop {
            let (event, ended) = {
                let state = run.lock();
                (state.events.get(next).cloned(), state.outcome.is_some())
            };
            if let Some(event) = event {
                let item = step_event(next, &event);
                return Some((
                    Ok::<Event, Infallible>(item),
                    Some((run, changed, next + 1)),
                ));
            }
            if ended {
                let done = Event::default().event("done").data(
                    serde_json::json!({ "location": format!("/runs/{}", run.id) }).to_string(),
                );
                return Some((Ok(done), None));
            }
            if changed.changed().await.is_err() {
                return None;
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// One step event: `{"step", "label", "status", "elapsed_ms", "elapsed"}`.
fn step_event(index: usize, event: &CheckEvent) -> Event {
    let elapsed = event.kind.elapsed();
    Event::default().event("step").id(index.to_string()).data(
        serde_json::json!({
            "step": event.step.as_str(),
            "label": event.label,
            "status": event.kind.as_str(),
            "elapsed_ms": elapsed.map(|elapsed| elapsed.as_millis()),
            "elapsed": elapsed.map(elapsed_text),
        })
        .to_string(),
    )
}

/// A step of a check as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StepView {
    /// Which step.
    pub(crate) step: Step,
    /// `Token`, `Read account`, ...
    pub(crate) label: String,
    /// `started` (still running), `passed` or `failed`.
    pub(crate) status: &'static str,
    /// How long it took, once it ended.
    pub(crate) elapsed: Option<Duration>,
}

/// The steps of `events`: one per start, updated by its end.
fn step_views(events: &[CheckEvent]) -> Vec<StepView> {
    let mut steps: Vec<StepView> = Vec::new();
    for event in events {
        match event.kind {
            CheckEventKind::Started => steps.push(StepView {
                step: event.step,
                label: event.label.clone(),
                status: event.kind.as_str(),
                elapsed: None,
            }),
            CheckEventKind::Passed { .. } | CheckEventKind::Failed { .. } => {
                if let Some(step) = steps
                    .iter_mut()
                    .rev()
                    .find(|step| step.label == event.label && step.elapsed.is_none())
                {
                    step.status = event.kind.as_str();
                    step.elapsed = event.kind.elapsed();
                }
            }
        }
    }
    steps
}

/// `12 ms` under a second, `1.3 s` above.
pub(super) fn elapsed_text(elapsed: Duration) -> String {
    if elapsed < Duration::from_secs(1) {
        format!("{} ms", elapsed.as_millis())
    } else {
        format!("{:.1} s", elapsed.as_secs_f64())
    }
}

/// The check's step list: a live region the script fills while the check runs, and the
/// finished steps after it (hidden while empty).
pub(super) fn step_list(steps: &[StepView]) -> Markup {
    html! {
        section.check-progress #check-progress data-test="check-progress"
            aria-labelledby="check-progress-heading" hidden[steps.is_empty()] {
            h2 #check-progress-heading { "Connection check" }
            ol.steps #check-steps aria-live="polite" {
                @for step in steps {
                    li.step data-test="check-step" data-step=(step.step.as_str())
                        data-label=(step.label) data-status=(step.status) {
                        span.step-label { (step.label) }
                        " "
                        span.step-status data-test="step-status" { (status_text(step.status)) }
                        @if let Some(elapsed) = step.elapsed {
                            " "
                            span.step-time data-test="step-time" { (elapsed_text(elapsed)) }
                        }
                    }
                }
            }
        }
    }
}

/// The words for a step's status (the script uses the same).
fn status_text(status: &str) -> &'static str {
    match status {
        "passed" => "Passed",
        "failed" => "Failed",
        _ => "Checking…",
    }
}

/// A run that has not ended yet, for a browser that asks before the end.
fn running_page(steps: &[StepView], id: &str) -> Markup {
    pages::page_layout(
        "Checking",
        "/sources",
        &[],
        html! {
            h1 { "The connection check is running" }
            (step_list(steps))
            p { a href={ "/runs/" (id) } data-test="run-reload" { "Reload to see its outcome" } }
        },
    )
}

#[cfg(test)]
mod tests;
