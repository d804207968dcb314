//! `d365-harness coverage`: every failure the fakes emulate (each AADSTS catalogue entry, each
//! Dataverse error code, Entra's and Dataverse's throttles) and every flow `ProblemKind`, each
//! with the scenario files that reach it, found by running the scenarios and reading their
//! reports (problem kinds) and journals (the codes in response bodies). Uncovered ones come
//! last; an uncovered `ProblemKind` exits 1, so CI holds the goal of covering every one.

use std::collections::BTreeSet;
use std::io::Write;
use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::Context;
use d365_source::ProblemKind;
use fake_core::{JournalBody, JournalEntry};
use serde::Serialize;
use serde_json::Value;

use crate::Exit;
use crate::run::{self, Case, CaseResult};

#[cfg(test)]
mod tests;

/// Arguments of `d365-harness coverage`.
#[derive(Debug, clap::Args)]
pub struct CoverageArgs {
    /// Scenario files or folders to run [default: scenarios]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// How to print the coverage
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Run N scenarios at once [default: the number of CPU cores]
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,
}

/// How `coverage` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One line per failure, grouped by kind, the uncovered ones last.
    Text,
    /// One JSON document (`items`, `uncovered`, `not_counted`).
    Json,
}

/// The id of Entra ID's throttle (429 without a JSON body, so without a code).
pub(crate) const ENTRA_THROTTLE_ID: &str = "entra 429";

/// The kinds of failure coverage lists, in the order it prints them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Category {
    /// A `d365_source::ProblemKind`: what the importer tells its user.
    Problem,
    /// An entry of `fake_entra::CATALOGUE`.
    Aadsts,
    /// A row of `fake_dataverse::ERROR_CODES` other than the throttles.
    Dataverse,
    /// Entra's 429, and Dataverse's three service-protection limits.
    Throttle,
}

impl Category {
    fn title(self) -> &'static str {
        match self {
            Category::Problem => "Flow problems (d365_source::ProblemKind)",
            Category::Aadsts => "AADSTS catalogue (fake_entra::CATALOGUE)",
            Category::Dataverse => "Dataverse error codes (fake_dataverse::ERROR_CODES)",
            Category::Throttle => "Throttles",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Category::Problem => "problem",
            Category::Aadsts => "aadsts",
            Category::Dataverse => "dataverse",
            Category::Throttle => "throttle",
        }
    }
}

/// One failure the fakes emulate or the flow reports, and the scenarios that reach it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Item {
    pub(crate) category: Category,
    /// What a person types or greps for: `wrong_secret`, `AADSTS7000215`, `0x80040220`.
    pub(crate) id: String,
    /// The entry's own name: the catalogue name, the Dataverse row, the throttle.
    pub(crate) name: String,
    /// The scenario ids (`entra/wrong_secret`) that reach it, in file order.
    pub(crate) scenarios: Vec<String>,
    /// The scenario files that reach it, in file order (same order as `scenarios`).
    #[serde(skip)]
    pub(crate) paths: Vec<PathBuf>,
}

/// What one scenario reached, read from its report and journal.
#[derive(Debug, Default)]
struct Reached {
    problems: BTreeSet<String>,
    /// `(code, error, status, description)` of every Entra error body.
    aadsts: Vec<(u32, String, u16, String)>,
    /// `(code, status)` of every Dataverse error body.
    dataverse: BTreeSet<(String, u16)>,
    entra_throttled: bool,
}

/// Every failure coverage lists, none reached yet.
pub(crate) fn catalogue() -> Vec<Item> {
    let item = |category, id: String, name: &str| Item {
        category,
        id,
        name: name.to_owned(),
        scenarios: Vec::new(),
        paths: Vec::new(),
    };
    let mut items = Vec::new();
    for kind in ProblemKind::ALL {
        items.push(item(
            Category::Problem,
            kind.as_str().to_owned(),
            kind.as_str(),
        ));
    }
    for entry in fake_entra::CATALOGUE {
        items.push(item(
            Category::Aadsts,
            format!("AADSTS{}", entry.code),
            entry.name,
        ));
    }
    for entry in fake_dataverse::ERROR_CODES {
        let category = if entry.status == 429 {
            Category::Throttle
        } else {
            Category::Dataverse
        };
        let id = if entry.code.is_empty() {
            format!("{} (no code)", entry.status)
        } else {
            format!("{} {}", entry.code, entry.status)
        };
        items.push(item(category, id, entry.variant));
    }
    items.push(item(
        Category::Throttle,
        ENTRA_THROTTLE_ID.to_owned(),
        "TooManyRequests (Entra ID)",
    ));
    items.sort_by_key(|item| item.category);
    items
}

/// Runs `d365-harness coverage`.
pub(crate) fn run(
    args: &CoverageArgs,
    runtime: &tokio::runtime::Runtime,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let cases = run::replay_paths(&args.paths, args.jobs, runtime)?;
    let (items, not_counted) = measure(&cases);
    match args.format {
        Format::Text => write!(out, "{}", text(&items, &not_counted))?,
        Format::Json => {
            let uncovered: Vec<&Item> = items
                .iter()
                .filter(|item| item.scenarios.is_empty())
                .collect();
            let document = serde_json::json!({
                "items": items,
                "uncovered": uncovered,
                "not_counted": not_counted,
            });
            let mut json = serde_json::to_string_pretty(&document)
                .context("failed to serialize the coverage")?;
            json.push('\n');
            out.write_all(json.as_bytes())?;
        }
    }
    out.flush()?;
    let problem_uncovered = items
        .iter()
        .any(|item| item.category == Category::Problem && item.scenarios.is_empty());
    Ok(if problem_uncovered {
        Exit::Failures
    } else {
        Exit::Success
    })
}

/// Every item with the passing scenarios that reach it, and the scenarios not counted
/// (`id: why`): one that fails its expectations or does not load proves nothing.
pub(crate) fn measure(cases: &[Case]) -> (Vec<Item>, Vec<String>) {
    let mut items = catalogue();
    let mut not_counted = Vec::new();
    for case in cases {
        let (report, journal) = match &case.result {
            CaseResult::Ran { report, journal } if report.passed() => (report, journal),
            CaseResult::Ran { .. } => {
                not_counted.push(format!("{}: did not go as expected", case.id));
                continue;
            }
            CaseResult::Error { message, .. } => {
                not_counted.push(format!("{}: {}", case.id, first_line(message)));
                continue;
            }
        };
        let reached = reached(report, journal);
        for item in &mut items {
            if reaches(&reached, item) {
                item.scenarios.push(case.id.clone());
                item.paths.push(case.path.clone());
            }
        }
    }
    (items, not_counted)
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

/// What `report` and `journal` show a scenario reached.
fn reached(report: &scenario::Report, journal: &[JournalEntry]) -> Reached {
    let mut reached = Reached::default();
    for step in &report.steps {
        if let Some(problem) = &step.problem {
            reached.problems.insert(problem.kind.clone());
        }
    }
    for entry in journal {
        if entry.service == "entra" && entry.status == 429 {
            reached.entra_throttled = true;
        }
        let JournalBody::Json(body) = &entry.response_body else {
            continue;
        };
        if let Some(code) = body
            .get("error_codes")
            .and_then(Value::as_array)
            .and_then(|codes| codes.first())
            .and_then(Value::as_u64)
            .and_then(|code| u32::try_from(code).ok())
        {
            let text = |field: &str| {
                body.get(field)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            reached
                .aadsts
                .push((code, text("error"), entry.status, text("error_description")));
        }
        if let Some(code) = body
            .get("error")
            .and_then(|error| error.get("code"))
            .and_then(Value::as_str)
        {
            reached.dataverse.insert((code.to_owned(), entry.status));
        }
    }
    reached
}

fn reaches(reached: &Reached, item: &Item) -> bool {
    match item.category {
        Category::Problem => reached.problems.contains(&item.id),
        Category::Aadsts => {
            let Some(entry) = fake_entra::CATALOGUE
                .iter()
                .find(|entry| entry.name == item.name)
            else {
                return false;
            };
            reached
                .aadsts
                .iter()
                .any(|(code, error, status, description)| {
                    *code == entry.code
                        && error == entry.error
                        && *status == entry.status
                        && description.contains(template_prefix(entry.template))
                })
        }
        Category::Dataverse | Category::Throttle => {
            if item.id == ENTRA_THROTTLE_ID {
                return reached.entra_throttled;
            }
            fake_dataverse::ERROR_CODES
                .iter()
                .find(|entry| entry.variant == item.name)
                .is_some_and(|entry| {
                    reached
                        .dataverse
                        .contains(&(entry.code.to_owned(), entry.status))
                })
        }
    }
}

/// The template's text before its first `{placeholder}`: what every message made from it
/// starts with (entries that share a code, error and status differ there).
fn template_prefix(template: &str) -> &str {
    template.split('{').next().unwrap_or_default()
}

/// The text report: each category with its items, then the uncovered ones, then the
/// scenarios not counted.
fn text(items: &[Item], not_counted: &[String]) -> String {
    let mut text = String::new();
    let width = items.iter().map(|item| item.id.len()).max().unwrap_or(0);
    let name_width = items.iter().map(|item| item.name.len()).max().unwrap_or(0);
    let mut category = None;
    for item in items {
        if category != Some(item.category) {
            category = Some(item.category);
            let of: Vec<&Item> = items
                .iter()
                .filter(|other| other.category == item.category)
                .collect();
            let covered = of
                .iter()
                .filter(|other| !other.scenarios.is_empty())
                .count();
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&format!(
                "{}: {covered} of {} covered\n",
                item.category.title(),
                of.len()
            ));
        }
        let reached_by = if item.scenarios.is_empty() {
            "-".to_owned()
        } else {
            item.scenarios.join(", ")
        };
        text.push_str(&format!(
            "  {:width$}  {:name_width$}  {reached_by}\n",
            item.id, item.name
        ));
    }
    let uncovered: Vec<&Item> = items
        .iter()
        .filter(|item| item.scenarios.is_empty())
        .collect();
    text.push_str(&format!("\nUncovered: {}\n", uncovered.len()));
    for item in uncovered {
        text.push_str(&format!(
            "  {:9}  {:width$}  {}\n",
            item.category.word(),
            item.id,
            item.name
        ));
    }
    if !not_counted.is_empty() {
        text.push_str(&format!(
            "\nNot counted (the scenario did not pass): {}\n",
            not_counted.len()
        ));
        for line in not_counted {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text
}
