//! The player's pages (maud): the list of scenario files by folder, and a scenario with its
//! form, its steps and each played step's report in words. Nothing here receives a secret:
//! secrets are named by where they come from, and `scenario`'s reports hold none.

use std::path::Path;

use d365_source::Field;
use maud::{Markup, html};
use scenario::{
    Action, ClockMove, ExpectationReport, Form, Player, Scenario, SecretOrigin, SecretPart, Step,
    StepReport,
};

use super::Listed;
use crate::demo::pages::page_layout;

/// What the list says when there is no scenario folder.
pub(super) const NO_FOLDER: &str = "No scenario folder was found: start the demo in a checkout (it reads ./scenarios) or give one with --scenarios DIR.";

/// The section's path in the top navigation.
const SECTION: &str = "/scenarios";

/// The scenario being played, as the list mentions it.
pub(super) struct Current<'a> {
    pub(super) file: &'a str,
    pub(super) name: &'a str,
    pub(super) played: usize,
    pub(super) steps: usize,
}

/// The list page: the scenario files of `folder` grouped by folder, each with a Load button;
/// or why there is none.
pub(super) fn list(
    folder: Result<(&Path, &[Listed]), &str>,
    current: Option<Current<'_>>,
    csrf: &str,
) -> Markup {
    page_layout(
        "Scenarios",
        SECTION,
        &[],
        html! {
            h1 { "Scenarios" }
            p.lead { "Pick a scenario: the tenant becomes its world (its faults too, the clock at its start time), the Sources list is emptied, and you play its steps one by one with the report of each beside it." }
            @if let Some(current) = current {
                p.notice #scenario-current role="status" {
                    "Loaded: " strong { (current.name) } " (" code { (current.file) } "), "
                    (current.played) " of " (current.steps) " steps played. "
                    a href="/scenarios/play" data-test="scenario-continue" { "Continue playing" }
                }
            }
            @match folder {
                Err(message) => p #scenario-none role="alert" { (message) },
                Ok((_, [])) => p #scenario-none role="alert" { "The scenario folder has no scenario files (*.toml)." },
                Ok((dir, listed)) => {
                    p.hint { "From " code { (dir.display()) } "." }
                    nav.scenario-folders aria-label="Scenario folders" {
                        @for (folder, files) in groups(listed) {
                            a href={ "#group-" (slug(folder)) } { (folder_label(folder)) " (" (files.len()) ")" }
                        }
                    }
                    div #scenario-list {
                        @for (folder, files) in groups(listed) {
                            section.scenario-group data-test="scenario-group" data-folder=(folder) aria-labelledby={ "group-" (slug(folder)) } {
                                h2 id={ "group-" (slug(folder)) } { (folder_label(folder)) }
                                ul.scenario-files {
                                    @for file in files {
                                        (list_item(file, csrf))
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The files in folder order, grouped by folder.
fn groups(listed: &[Listed]) -> Vec<(&str, Vec<&Listed>)> {
    let mut groups: Vec<(&str, Vec<&Listed>)> = Vec::new();
    for file in listed {
        match groups.last_mut() {
            Some((folder, files)) if *folder == file.folder => files.push(file),
            _ => groups.push((&file.folder, vec![file])),
        }
    }
    groups
}

/// A folder's heading: its path, or "Scenarios" for the folder itself.
fn folder_label(folder: &str) -> &str {
    if folder.is_empty() {
        "Scenarios"
    } else {
        folder
    }
}

/// An id-safe form of a folder name (`lifecycle`, `top` for the folder itself).
fn slug(folder: &str) -> String {
    if folder.is_empty() {
        return "top".to_owned();
    }
    folder
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

fn list_item(file: &Listed, csrf: &str) -> Markup {
    let label = file
        .head
        .as_ref()
        .map_or(file.file.as_str(), |head| head.name.as_str());
    html! {
        li.scenario-file data-test="scenario-item" data-file=(file.file) {
            form method="post" action="/scenarios/load" {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="file" value=(file.file);
                button type="submit" data-test="scenario-load" aria-label={ "Load " (label) } { "Load" }
            }
            div.scenario-about {
                @match &file.head {
                    Some(head) => {
                        span.scenario-name { (head.name) }
                        " " code.scenario-path { (file.file) }
                        " " span.scenario-world { "world " (head.world) }
                        @if !head.description.is_empty() {
                            p.scenario-description { (head.description) }
                        }
                    }
                    None => {
                        code.scenario-path { (file.file) }
                        p.scenario-description { "Not shaped like a scenario file; loading it shows its errors." }
                    }
                }
            }
        }
    }
}

/// The player page: the scenario, its form, its steps with the reports of those played, and
/// the controls.
pub(super) fn play(file: &str, player: &Player, csrf: &str) -> Markup {
    let scenario = player.scenario();
    let played = player.played();
    let next = player.next_step();
    let total = scenario.steps().len();
    page_layout(
        scenario.name(),
        SECTION,
        &["/js/player.js"],
        html! {
            p { a href="/scenarios" { "← Scenarios" } }
            h1 #scenario-title { (scenario.name()) }
            p.lead #scenario-description { (scenario.description()) }
            p.hint {
                code #scenario-file { (file) } " · world " strong #scenario-world { (scenario.world_name()) }
                @if !scenario.tables().is_empty() { " · tables " (scenario.tables().join(", ")) }
            }
            p.notice #scenario-status role="status" aria-live="polite" { (status(player)) }
            (controls(next, total, csrf))
            section aria-labelledby="form-heading" {
                h2 #form-heading { "The form" }
                p.hint { "The Microsoft Dynamics 365 form as the scenario fills it in." }
                (form_view("scenario-form", scenario.form()))
                @for (name, form) in scenario.forms() {
                    h3 { "Form " q { (name) } }
                    (form_view(&format!("scenario-form-{}", slug(name)), form))
                }
            }
            section aria-labelledby="steps-heading" {
                h2 #steps-heading { "Steps" }
                ol #scenario-steps {
                    @for (index, step) in scenario.steps().iter().enumerate() {
                        (step_item(scenario, index + 1, step, played.get(index), next))
                    }
                }
            }
        },
    )
}

/// `Step 2 of 5 played …`, or the verdict once every step has been played.
fn status(player: &Player) -> String {
    let played = player.played();
    let total = player.scenario().steps().len();
    let failed = played.iter().filter(|step| !step.held).count();
    match player.next_step() {
        Some(next) if played.is_empty() => format!(
            "Loaded: the world is the scenario's, the Sources list is empty. Next: step {next} of {total}."
        ),
        Some(next) => format!(
            "{} of {total} steps played ({}). Next: step {next}.",
            played.len(),
            held_words(played.len(), failed)
        ),
        None => format!(
            "All {total} steps played: {}.",
            held_words(played.len(), failed)
        ),
    }
}

fn held_words(played: usize, failed: usize) -> String {
    match failed {
        0 if played == 1 => "it went as expected".to_owned(),
        0 => "each went as expected".to_owned(),
        1 => "1 did not go as expected".to_owned(),
        failed => format!("{failed} did not go as expected"),
    }
}

/// The buttons, once per page (a bar that stays in view while the steps scroll).
fn controls(next: Option<usize>, total: usize, csrf: &str) -> Markup {
    html! {
        div.player-controls data-test="player-controls" {
            @if let Some(next) = next {
                form method="post" action="/scenarios/next" {
                    input type="hidden" name="csrf" value=(csrf);
                    button #play-next type="submit" data-test="play-next" { "Play next step (" (next) " of " (total) ")" }
                }
                form method="post" action="/scenarios/all" {
                    input type="hidden" name="csrf" value=(csrf);
                    button.secondary #play-all type="submit" data-test="play-all" { "Play all" }
                }
            }
            form method="post" action="/scenarios/restart" {
                input type="hidden" name="csrf" value=(csrf);
                button.secondary #play-restart type="submit" data-test="play-restart"
                    aria-describedby="restart-hint" { "Restart" }
            }
            p.hint #restart-hint { "Restart loads the scenario again: its world, faults and clock, an empty Sources list, step 1 next. (The Sources page's Reset puts the world back and ends the scenario being played.)" }
        }
    }
}

/// A form's five fields, the secret named by where it comes from.
fn form_view(id: &str, form: &Form) -> Markup {
    let fields = [
        (Field::Name, form.name.clone()),
        (Field::EnvironmentUrl, form.environment_url.clone()),
        (Field::TenantId, form.tenant_id.clone()),
        (Field::ClientId, form.client_id.clone()),
        (
            Field::ClientSecret,
            secret_words(&form.client_secret.origin),
        ),
    ];
    html! {
        dl.scenario-form id=(id) {
            @for (field, value) in fields {
                div data-test="form-field" data-field=(field.as_str()) {
                    dt { (field.label()) }
                    @if field == Field::ClientSecret {
                        dd.secret-origin { (value) }
                    } @else if value.is_empty() {
                        dd { em { "(empty)" } }
                    } @else {
                        dd { code { (value) } }
                    }
                }
            }
        }
    }
}

/// Where a typed secret comes from, in words (never its value).
fn secret_words(origin: &SecretOrigin) -> String {
    match origin {
        SecretOrigin::Typed => "typed by the scenario (a value of its own, not shown)".to_owned(),
        SecretOrigin::World {
            app,
            secret,
            part,
            before,
            after,
        } => {
            let mut words = format!("from the world: app {app}, secret {secret}");
            if *part == SecretPart::Id {
                words.push_str(" (its Secret ID pasted instead of its value)");
            }
            if !before.is_empty() || !after.is_empty() {
                words.push_str(", with what a paste dragged along");
            }
            words
        }
    }
}

fn step_item(
    scenario: &Scenario,
    number: usize,
    step: &Step,
    report: Option<&StepReport>,
    next: Option<usize>,
) -> Markup {
    let state = match (report, next) {
        (Some(_), _) => "played",
        (None, Some(next)) if next == number => "next",
        (None, _) => "pending",
    };
    html! {
        li.step id={ "step-" (number) } tabindex="-1" data-test="step" data-step=(number) data-state=(state) {
            div.step-plan {
                h3 { "Step " (number) ": " (step.action.as_str()) }
                p.step-what { (what(scenario, step)) }
                @if let Action::Change { changes } = &step.action {
                    ul.step-changes {
                        @for change in changes { li { code { (scenario::describe_change(change)) } } }
                    }
                }
                @if let Some(form) = step.form.as_ref().filter(|_| step.source.is_none()) {
                    (form_view(&format!("step-{number}-form"), form))
                }
                @if let Some(expect) = &step.expect {
                    p.step-expect data-test="step-expect" { "Expected: " (expectation_words(&scenario::expectation_report(expect))) }
                }
            }
            @if let Some(report) = report {
                (report_view(report))
            } @else if state == "next" {
                p.step-pending { "Next to play." }
            }
        }
    }
}

/// What the step does, in a sentence.
fn what(scenario: &Scenario, step: &Step) -> String {
    let form = step.form.as_ref().unwrap_or(scenario.form());
    let with = match (&step.source, &step.form) {
        (Some(name), _) => format!("the form '{name}'"),
        (None, Some(_)) => "the step's own form (below)".to_owned(),
        (None, None) => "the form above".to_owned(),
    };
    match &step.action {
        Action::Add => format!("Press Add Source with {with}."),
        Action::Test => format!("Press Test on the source '{}'.", form.name),
        Action::RotateSecret { new_secret } => format!(
            "Rotate the secret of the source '{}'; the new secret is {}.",
            form.name,
            secret_words(&new_secret.origin)
        ),
        Action::Remove => format!("Press Remove on the source '{}'.", form.name),
        Action::AdvanceClock(ClockMove::By(by)) => {
            format!(
                "Time passes: the clock moves {} forward.",
                duration_words(by.as_secs())
            )
        }
        Action::AdvanceClock(ClockMove::Until(until)) => format!(
            "Time passes: the clock moves to {}.",
            until
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|_| until.to_string())
        ),
        Action::Fault { clear, add } => {
            let mut words = Vec::new();
            if *clear {
                words.push("Every fault rule is removed".to_owned());
            }
            for rule in add {
                words.push(match &rule.name {
                    Some(name) => format!("the fault rule '{name}' is added"),
                    None => "a fault rule is added".to_owned(),
                });
            }
            let mut sentence = words.join(", then ");
            if let Some(first) = sentence.get(..1) {
                sentence = first.to_uppercase() + &sentence[1..];
            }
            format!("{sentence}.")
        }
        Action::Change { changes } => format!(
            "The tenant changes ({} change{}), as an admin or Microsoft would:",
            changes.len(),
            if changes.len() == 1 { "" } else { "s" }
        ),
    }
}

/// `2 h 5 min`, `30 s`.
fn duration_words(seconds: u64) -> String {
    let (days, hours, minutes, rest) = (
        seconds / 86_400,
        seconds % 86_400 / 3_600,
        seconds % 3_600 / 60,
        seconds % 60,
    );
    let parts: Vec<String> = [(days, "d"), (hours, "h"), (minutes, "min"), (rest, "s")]
        .into_iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".to_owned()
    } else {
        parts.join(" ")
    }
}

/// An RFC 3339 UTC time without its fraction of a second (the demo's clock keeps ticking).
fn seconds(at: &str) -> String {
    match at.split_once('.') {
        Some((whole, _)) => format!("{whole}Z"),
        None => at.to_owned(),
    }
}

/// An expectation in words: `outcome failed, problem missing_table_privilege, …`.
fn expectation_words(expect: &ExpectationReport) -> String {
    let mut words = vec![format!("outcome {}", expect.outcome)];
    if let Some(problem) = &expect.problem {
        words.push(format!("problem {problem}"));
    }
    if let Some(fields) = &expect.fields {
        words.push(format!("invalid fields [{}]", fields.join(", ")));
    }
    if let Some(warnings) = &expect.warnings {
        words.push(format!("warnings on [{}]", warnings.join(", ")));
    }
    if let Some(kinds) = &expect.check_warnings {
        words.push(format!("check warnings [{}]", kinds.join(", ")));
    }
    if let Some(seconds) = expect.waited_seconds {
        words.push(format!("waited {seconds} s"));
    }
    if let Some(message) = &expect.message {
        words.push(format!("a message with “{message}”"));
    }
    if let Some(fix) = &expect.fix {
        words.push(format!("a fix with “{fix}”"));
    }
    for count in &expect.requests {
        words.push(format!("{} request(s) to {}", count.count, count.to));
    }
    if let Some(sources) = &expect.sources {
        words.push(format!("sources [{}]", sources.join(", ")));
    }
    words.join(", ")
}

/// A played step's report: outcome, problem, what else it did, and whether it went as
/// expected.
fn report_view(report: &StepReport) -> Markup {
    let outcome = report.outcome.map(|outcome| outcome.as_str());
    html! {
        div.step-report.held[report.held].not-held[!report.held] data-test="step-report"
            data-outcome=[outcome] data-held=(report.held) {
            p.step-verdict data-test="step-verdict" {
                @if report.held { "✓ As expected" } @else { "✗ Not as expected" }
            }
            @if !report.mismatches.is_empty() {
                ul.step-mismatches data-test="step-mismatches" {
                    @for mismatch in &report.mismatches { li { (mismatch) } }
                }
            }
            dl.step-facts {
                dt { "Started at" } dd { (seconds(&report.at)) }
                @if let Some(outcome) = outcome {
                    dt { "Outcome" } dd data-test="step-outcome" { strong { (outcome) } }
                }
                @if let Some(clock) = &report.clock_to {
                    dt { "Clock now" } dd data-test="step-clock" { (seconds(clock)) }
                }
                @if let Some(error) = &report.error {
                    dt { "Refused" } dd { (error) }
                }
                @if let Some(faults) = &report.faults {
                    @if faults.cleared { dt { "Faults" } dd { "every rule removed" } }
                    @for added in &faults.added { dt { "Fault added" } dd { code { (added) } } }
                    dt { "Faults in effect" }
                    dd { @if faults.in_effect.is_empty() { "none" } @else { (faults.in_effect.join(", ")) } }
                }
                @if let Some(check) = &report.check {
                    dt { "Check" }
                    dd { "passed: " (check.organization) ", tables read " (check.tables_read.join(", ")) }
                    @for warning in &check.warnings { dt { "Check warning" } dd { (warning.message) } }
                }
                @if !report.waits_seconds.is_empty() {
                    dt { "Waited" }
                    dd {
                        (report.waits_seconds.iter().map(|wait| format!("{} s", wait.0.as_secs_f64())).collect::<Vec<_>>().join(" + "))
                    }
                }
                @for error in &report.errors { dt { "Field error (" (error.field) ")" } dd { (error.message) } }
                @for warning in &report.warnings { dt { "Field warning (" (warning.field) ")" } dd { (warning.message) } }
                dt { "Source list" }
                dd data-test="step-saved" { @if report.saved.is_empty() { "empty" } @else { (report.saved.join("; ")) } }
            }
            @if let Some(problem) = &report.problem {
                div.problem data-test="step-problem" data-kind=(problem.kind) {
                    p.problem-kind { "Problem " code { (problem.kind) } }
                    p.problem-message data-test="step-message" { (problem.message) }
                    p.problem-fix data-test="step-fix" { strong { "Fix: " } (problem.fix) }
                    details {
                        summary { "Evidence" }
                        dl {
                            dt { "Check step" } dd { (problem.step) }
                            dt { "Request" } dd { code { (problem.request) } }
                            @if let Some(status) = problem.status { dt { "Status" } dd { (status) } }
                            @if let Some(code) = &problem.code { dt { "Code" } dd { code { (code) } } }
                            @if let Some(detail) = &problem.detail { dt { "Detail" } dd { (detail) } }
                            @if problem.retries > 0 {
                                dt { "Retries" } dd { (problem.retries) " (waited " (problem.waited_ms) " ms)" }
                            }
                        }
                    }
                }
            }
            @if !report.requests.is_empty() {
                details.step-requests data-test="step-requests" {
                    summary { (report.requests.len()) " request" @if report.requests.len() != 1 { "s" } }
                    ol { @for line in &report.requests { li { code { (line) } } } }
                }
            }
        }
    }
}
