//! Rotate secret: a saved source's page with one password field. The new secret is checked
//! (as a run, `runs.rs`) and replaces the old one only if the check passes; otherwise the page
//! shows the problem and its fix and the old secret stays. The secret is never shown again.

use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use d365_source::{Field, SecretString};
use maud::{Markup, html};
use serde::Deserialize;

use super::app::{self, Demo};
use super::pages::{self, FormView};
use super::runs::{self, Job, NotStarted, Run};

/// The Rotate secret page as shown again: the source and what went wrong.
#[derive(Debug)]
pub(crate) struct RotateView {
    /// The source's name.
    pub(crate) name: String,
    /// The secret field's errors and warnings, the problem and the steps.
    pub(crate) form: FormView,
}

impl RotateView {
    /// The page for the source `name`, nothing wrong yet.
    pub(crate) fn new(name: String) -> RotateView {
        RotateView {
            name,
            form: FormView::empty(),
        }
    }
}

/// The Rotate secret form as posted. `Debug` leaves the secret out.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct RotateForm {
    csrf: String,
    name: String,
    client_secret: String,
}

impl fmt::Debug for RotateForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RotateForm")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Which source the page is for.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Named {
    name: String,
}

/// The Rotate secret routes.
pub(super) fn routes() -> Router<Arc<Demo>> {
    Router::new()
        .route("/sources/rotate", get(rotate_form).post(rotate_and_wait))
        .route("/runs/rotate", post(start_rotate))
}

/// `GET /sources/rotate?name=…`: the form, or 404 for an unknown source.
async fn rotate_form(State(demo): State<Arc<Demo>>, Query(named): Query<Named>) -> Response {
    match demo.store.get(&named.name) {
        Ok(source) => app::page(
            StatusCode::OK,
            rotate_page(&RotateView::new(source.name), demo.csrf()),
        ),
        Err(error) => app::store_error(&error),
    }
}

/// The posted form as a [`Job`], or the CSRF refusal.
fn rotate_job(demo: &Demo, form: RotateForm) -> Result<Job, NotStarted> {
    if !demo.csrf.matches(form.csrf.as_bytes()) {
        return Err(NotStarted::Csrf);
    }
    Ok(Job::Rotate {
        name: form.name,
        secret: SecretString::from(form.client_secret),
    })
}

fn start(demo: &Arc<Demo>, form: RotateForm) -> Result<Arc<Run>, NotStarted> {
    rotate_job(demo, form).and_then(|job| runs::start(demo, job))
}

/// `POST /sources/rotate` (no JavaScript): runs the check and answers with its outcome.
async fn rotate_and_wait(State(demo): State<Arc<Demo>>, Form(form): Form<RotateForm>) -> Response {
    match start(&demo, form) {
        Ok(run) => runs::wait_and_show(&demo, &run).await,
        Err(refused) => refused.into_response(),
    }
}

/// `POST /runs/rotate`: starts the check, answers 202 with the run's id.
async fn start_rotate(State(demo): State<Arc<Demo>>, Form(form): Form<RotateForm>) -> Response {
    match start(&demo, form) {
        Ok(run) => runs::started(&run),
        Err(refused) => refused.into_response(),
    }
}

/// The Rotate secret page: the problem of the last try, the field with the Value hint, the
/// check's steps.
pub(crate) fn rotate_page(view: &RotateView, csrf: &str) -> Markup {
    let hint = pages::FIELDS
        .iter()
        .find(|(field, _)| *field == Field::ClientSecret)
        .map_or("", |(_, hint)| hint);
    let has_error = !view.form.errors.is_empty();
    pages::page_layout(
        "Rotate secret",
        "/sources",
        &[runs::SCRIPT],
        html! {
            p { a href="/sources" { "← Sources" } }
            h1 { "Rotate the secret of " (view.name) }
            p.lead { "Paste the new client secret's Value. The connection check runs with it; only if it passes does it replace the saved secret." }
            @if let Some(problem) = &view.form.problem {
                h2 #problem-heading { "The connection check failed" }
                p data-test="old-secret-kept" { "The saved secret was kept: " (view.name) " still uses it." }
                (pages::problem_block(problem, true))
            }
            (runs::step_list(&view.form.steps))
            form.source-form #rotate-form method="post" action="/sources/rotate" data-run="/runs/rotate" novalidate {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="name" value=(view.name);
                (pages::form_field(&view.form, Field::ClientSecret, hint, has_error))
                button #rotate-secret type="submit" { "Rotate secret" }
            }
        },
    )
}
