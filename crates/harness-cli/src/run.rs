//! `d365-harness run`: replays scenario files (`scenarios/<area>/<case>.toml`) with
//! `scenario::run`, `--jobs` at a time (each on a worker thread with its own runtime), prints a
//! `PASS`/`FAIL`/`ERROR` line per file in file order and the summary `N passed, M failed`, and
//! can write the reports as JSON (`--report`) and JUnit XML (`--junit`). Invariant: those files
//! hold only `scenario::Report`s (secret-free by construction), paths and error messages.

use std::io::{IsTerminal, Write};
use std::num::NonZeroUsize;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use scenario::{Report, Scenario, StepReport};
use serde::Serialize;

use crate::Exit;

mod junit;
#[cfg(test)]
mod tests;

/// Where scenarios are taken from when no PATH is given (relative to the current folder).
const DEFAULT_FOLDER: &str = "scenarios";

/// Arguments of `d365-harness run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files, or folders whose `*.toml` files (in subfolders too) are scenarios
    /// [default: scenarios]
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print every step of every scenario: its outcome, and the problem's message and fix
    #[arg(long, short)]
    pub verbose: bool,
    /// Also write every scenario's path and full report to FILE, as JSON
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Also write a JUnit XML file for CI to FILE (one test case per scenario)
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Run N scenarios at once (results are still printed in file order)
    /// [default: the number of CPU cores]
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<NonZeroUsize>,
}

/// One scenario file and what came of it.
#[derive(Debug)]
pub(crate) struct Case {
    /// The file, as found from the command line's PATH (used to load it and in messages).
    pub(crate) path: PathBuf,
    /// The file relative to the common root, with `/` and without `.toml`
    /// (`entra/expired_secret`).
    pub(crate) id: String,
    /// The folder that holds the file, for a JUnit class name when `id` has no folder.
    folder: String,
    pub(crate) result: CaseResult,
    elapsed: Duration,
}

/// What came of running one scenario file.
#[derive(Debug)]
pub(crate) enum CaseResult {
    /// The scenario ran; whether it went as expected is in the report.
    Ran {
        /// The report (boxed: it is far larger than an error).
        report: Box<Report>,
        /// The fakes' journal of the run (for `coverage`).
        journal: Vec<fake_core::JournalEntry>,
    },
    /// The file did not load or the harness broke while running it.
    Error {
        /// `path:line:column` when the loader knows where, else the path.
        at: String,
        /// The error with its causes, on one line.
        message: String,
    },
}

/// How many scenarios passed, failed, and could not be loaded or run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
struct Counts {
    passed: usize,
    failed: usize,
    errors: usize,
}

/// Runs `d365-harness run`. `Ok(Exit::Failures)` means some scenario did not go as expected;
/// `Ok(Exit::Error)` that some file could not be loaded or run (both printed to `out`); `Err`
/// is a usage or harness error (a PATH that does not exist, a report that cannot be written).
pub(crate) fn run(
    args: &RunArgs,
    runtime: &tokio::runtime::Runtime,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let found = found_files(&args.paths)?;
    let jobs = args.jobs.map_or_else(default_jobs, NonZeroUsize::get);
    let mut progress = Progress::new(found.len(), std::io::stderr().is_terminal());
    let mut cases = Vec::with_capacity(found.len());
    let mut failed_write = None;
    progress.show(0);
    replay_all(found, jobs, runtime, |case| {
        progress.clear();
        if failed_write.is_none()
            && let Err(error) =
                write!(out, "{}", case_text(&case, args.verbose)).and_then(|()| out.flush())
        {
            failed_write = Some(error);
        }
        cases.push(case);
        progress.show(cases.len());
    });
    progress.clear();
    if let Some(error) = failed_write {
        return Err(error.into());
    }
    let counts = counts(&cases);
    if counts.errors > 0 {
        let noun = if counts.errors == 1 {
            "scenario"
        } else {
            "scenarios"
        };
        writeln!(out, "{} {noun} could not be loaded or run", counts.errors)?;
    }
    writeln!(out, "{} passed, {} failed", counts.passed, counts.failed)?;
    out.flush()?;
    if let Some(path) = &args.report {
        write_file(path, &json_report(&cases, counts)?, "JSON report")?;
    }
    if let Some(path) = &args.junit {
        write_file(path, &junit::document(&cases, counts), "JUnit file")?;
    }
    Ok(if counts.errors > 0 {
        Exit::Error
    } else if counts.failed > 0 {
        Exit::Failures
    } else {
        Exit::Success
    })
}

/// The scenario files under `paths`, or under `scenarios/` when there are none. Every PATH is
/// checked before anything runs.
fn found_files(paths: &[PathBuf]) -> anyhow::Result<Vec<FoundFile>> {
    if paths.is_empty() {
        let default = PathBuf::from(DEFAULT_FOLDER);
        if !default.exists() {
            bail!(
                "no folder `{DEFAULT_FOLDER}` here to take scenarios from; run in the repository's root or name scenario files or folders"
            );
        }
        scenario_files(&[default])
    } else {
        scenario_files(paths)
    }
}

/// Loads and runs the scenario files under `paths` (`scenarios/` when empty), `jobs` at a time,
/// and returns them in file order, for commands that read reports rather than print them.
pub(crate) fn replay_paths(
    paths: &[PathBuf],
    jobs: Option<NonZeroUsize>,
    runtime: &tokio::runtime::Runtime,
) -> anyhow::Result<Vec<Case>> {
    let found = found_files(paths)?;
    let mut cases = Vec::with_capacity(found.len());
    replay_all(
        found,
        jobs.map_or_else(default_jobs, NonZeroUsize::get),
        runtime,
        |case| {
            cases.push(case);
        },
    );
    Ok(cases)
}

/// The number of scenarios run at once without `--jobs`: one per core.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Loads and runs every file of `found`, `jobs` at a time, and hands each [`Case`] to `done` in
/// the order of `found` (a case that finishes early waits for those before it). One job runs on
/// `runtime` on this thread; more run on worker threads, each with its own single-threaded
/// runtime, so one scenario's fakes and flow share a thread and scenarios never wait on each
/// other's tasks.
fn replay_all(
    found: Vec<FoundFile>,
    jobs: usize,
    runtime: &tokio::runtime::Runtime,
    mut done: impl FnMut(Case),
) {
    let jobs = jobs.clamp(1, found.len().max(1));
    if jobs == 1 {
        for file in found {
            done(replay_case(file, runtime));
        }
        return;
    }
    let next = AtomicUsize::new(0);
    let (sender, receiver) = std::sync::mpsc::channel::<(usize, Case)>();
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let sender = sender.clone();
            let (found, next) = (&found, &next);
            scope.spawn(move || {
                let worker = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(file) = found.get(index).cloned() else {
                        break;
                    };
                    let case = match &worker {
                        Ok(worker) => replay_case(file, worker),
                        Err(error) => Case {
                            result: CaseResult::Error {
                                at: file.path.display().to_string(),
                                message: format!(
                                    "failed to start a runtime for this scenario: {error}"
                                ),
                            },
                            path: file.path,
                            id: file.id,
                            folder: file.folder,
                            elapsed: Duration::ZERO,
                        },
                    };
                    if sender.send((index, case)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        // Cases arrive in any order; each is handed on once all before it have been.
        let mut waiting: std::collections::BTreeMap<usize, Case> =
            std::collections::BTreeMap::new();
        let mut next_to_print = 0;
        for (index, case) in receiver {
            waiting.insert(index, case);
            while let Some(case) = waiting.remove(&next_to_print) {
                done(case);
                next_to_print += 1;
            }
        }
    });
}

/// Loads and runs one found file, timing it.
fn replay_case(file: FoundFile, runtime: &tokio::runtime::Runtime) -> Case {
    let started = Instant::now();
    let result = replay(&file.path, runtime);
    Case {
        path: file.path,
        id: file.id,
        folder: file.folder,
        result,
        elapsed: started.elapsed(),
    }
}

/// The `[done/total]` line on a terminal's stderr while scenarios run (nothing when stderr is
/// not a terminal, so logs and CI output stay clean).
struct Progress {
    total: usize,
    shown: bool,
    enabled: bool,
}

impl Progress {
    fn new(total: usize, enabled: bool) -> Progress {
        Progress {
            total,
            shown: false,
            enabled,
        }
    }

    fn show(&mut self, done: usize) {
        if self.enabled && done < self.total {
            let mut err = std::io::stderr();
            // A lost progress line is not worth failing the run for.
            let _ = write!(err, "\r\x1b[K[{done}/{}] running scenarios...", self.total);
            let _ = err.flush();
            self.shown = true;
        }
    }

    fn clear(&mut self) {
        if self.shown {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

/// Loads and runs one scenario file.
fn replay(path: &Path, runtime: &tokio::runtime::Runtime) -> CaseResult {
    let outcome = Scenario::load(path)
        .and_then(|scenario| runtime.block_on(scenario::run_journaled(&scenario)));
    match outcome {
        Ok((report, journal)) => CaseResult::Ran {
            report: Box::new(report),
            journal,
        },
        Err(error) => CaseResult::Error {
            at: error_location(path, &error),
            message: format!("{:#}", anyhow::Error::new(error)),
        },
    }
}

/// `path:line:column` for an error the loader could place, else `path`.
fn error_location(path: &Path, error: &scenario::Error) -> String {
    let location = match error {
        scenario::Error::Parse { location, .. } => location.as_ref(),
        scenario::Error::Invalid { location, .. } => Some(location),
        _ => None,
    };
    match location {
        Some(location) => format!("{}:{}:{}", path.display(), location.line, location.column),
        None => path.display().to_string(),
    }
}

fn counts(cases: &[Case]) -> Counts {
    let mut counts = Counts::default();
    for case in cases {
        match &case.result {
            CaseResult::Ran { report, .. } if report.passed() => counts.passed += 1,
            CaseResult::Ran { .. } => counts.failed += 1,
            CaseResult::Error { .. } => counts.errors += 1,
        }
    }
    counts
}

/// A scenario file found under a command-line PATH.
#[derive(Clone, Debug, PartialEq, Eq)]
struct FoundFile {
    path: PathBuf,
    id: String,
    folder: String,
}

/// The scenario files under `paths`: a file as given, a folder as every `*.toml` file in it
/// and its subfolders, sorted (hidden files and folders and symbolic links to folders are
/// skipped). A file reached twice counts once. Each gets its id relative to the deepest folder
/// that holds every PATH.
fn scenario_files(paths: &[PathBuf]) -> anyhow::Result<Vec<FoundFile>> {
    let mut files = Vec::new();
    let mut roots = Vec::new();
    for path in paths {
        let metadata = match std::fs::metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                bail!("no such scenario file or folder `{}`", path.display())
            }
            Err(error) => {
                return Err(error).with_context(|| format!("failed to read `{}`", path.display()));
            }
        };
        if metadata.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found)?;
            if found.is_empty() {
                bail!(
                    "no scenario files (`*.toml`) in folder `{}`",
                    path.display()
                );
            }
            found.sort();
            files.extend(found);
            roots.push(normalized(path)?);
        } else {
            files.push(path.clone());
            let file = normalized(path)?;
            roots.push(file.parent().map(Path::to_owned).unwrap_or(file));
        }
    }
    let root = common_root(&roots);
    let mut seen = std::collections::BTreeSet::new();
    let mut found = Vec::new();
    for path in files {
        let absolute = normalized(&path)?;
        if !seen.insert(absolute.clone()) {
            continue;
        }
        let relative = absolute.strip_prefix(&root).unwrap_or(&absolute);
        let mut parts: Vec<String> = relative
            .components()
            .map(|component| component.as_os_str().to_string_lossy().into_owned())
            .collect();
        if let Some(last) = parts.last_mut()
            && let Some(stem) = last.strip_suffix(".toml")
        {
            *last = stem.to_owned();
        }
        let folder = absolute
            .parent()
            .and_then(Path::file_name)
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        found.push(FoundFile {
            path,
            id: parts.join("/"),
            folder,
        });
    }
    Ok(found)
}

/// Adds every `*.toml` file in `folder` and its subfolders to `found`.
pub(crate) fn walk(folder: &Path, found: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(folder)
        .with_context(|| format!("failed to read folder `{}`", folder.display()))?;
    for entry in entries {
        let entry =
            entry.with_context(|| format!("failed to read folder `{}`", folder.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // Hidden entries are editors' and tools' files (`.#case.toml` is an Emacs lock).
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let file_type = entry
            .file_type()
            .with_context(|| format!("failed to read `{}`", path.display()))?;
        if file_type.is_dir() {
            walk(&path, found)?;
        } else if name.ends_with(".toml") && (file_type.is_file() || path.is_file()) {
            // A link to a file counts; a link to a folder is not followed (it could loop).
            found.push(path);
        }
    }
    Ok(())
}

/// `path` made absolute, without `.` and `..` (lexically: only used to compare and shorten
/// paths, never to open them).
pub(crate) fn normalized(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("failed to make `{}` absolute", path.display()))?;
    let mut normal = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    Ok(normal)
}

/// The deepest folder that holds every one of `folders`.
fn common_root(folders: &[PathBuf]) -> PathBuf {
    let Some((first, rest)) = folders.split_first() else {
        return PathBuf::new();
    };
    let mut common: Vec<Component<'_>> = first.components().collect();
    for folder in rest {
        let shared = common
            .iter()
            .zip(folder.components())
            .take_while(|(left, right)| **left == *right)
            .count();
        common.truncate(shared);
    }
    common.iter().collect()
}

/// What the terminal shows for one case: its status line, then the failing steps (every step
/// with `verbose`) or the error.
fn case_text(case: &Case, verbose: bool) -> String {
    let mut text = String::new();
    match &case.result {
        CaseResult::Ran { report, .. } => {
            let status = if report.passed() { "PASS" } else { "FAIL" };
            text.push_str(&format!("{status}  {}  {}\n", case.id, report.name));
            let steps: Vec<&StepReport> = if verbose {
                report.steps.iter().collect()
            } else {
                report.failures().collect()
            };
            for step in steps {
                for line in step_lines(step, verbose) {
                    text.push_str(&format!("      {line}\n"));
                }
            }
        }
        CaseResult::Error { at, message } => {
            text.push_str(&format!("ERROR {}  {at}\n", case.id));
            text.push_str(&format!("      {}\n", indented(message, "      ")));
        }
    }
    text
}

/// A step as the terminal and the JUnit failure show it: what happened on the first line,
/// then (indented) each way it differs from the expectation, the problem's message (and, if
/// `verbose`, its fix), and the form's refusals and warnings.
fn step_lines(step: &StepReport, verbose: bool) -> Vec<String> {
    let happened = match (&step.outcome, &step.problem, &step.clock_to) {
        (Some(outcome), Some(problem), _) => format!("{outcome} ({})", problem.kind),
        (Some(outcome), None, _) => outcome.to_string(),
        (None, _, Some(clock_to)) => format!("clock moved to {clock_to}"),
        (None, _, None) => "no outcome".to_owned(),
    };
    let mut lines = vec![format!("step {} ({}): {happened}", step.step, step.action)];
    let detail = |line: String| format!("  {}", indented(&line, "        "));
    lines.extend(step.mismatches.iter().cloned().map(detail));
    if let Some(problem) = &step.problem {
        lines.push(detail(format!("message: {}", problem.message)));
        if verbose {
            lines.push(detail(format!("fix: {}", problem.fix)));
        }
    }
    for error in &step.errors {
        lines.push(detail(format!(
            "invalid {}: {}",
            error.field, error.message
        )));
    }
    if verbose {
        for warning in &step.warnings {
            lines.push(detail(format!(
                "warning {}: {}",
                warning.field, warning.message
            )));
        }
    }
    lines
}

/// `text` with every line after the first indented by `indent`.
fn indented(text: &str, indent: &str) -> String {
    text.lines()
        .collect::<Vec<_>>()
        .join(&format!("\n{indent}"))
}

/// One scenario in the JSON report.
#[derive(Debug, Serialize)]
struct JsonCase<'a> {
    /// The file relative to the common root, without `.toml`.
    scenario: &'a str,
    /// The file as found.
    path: String,
    /// `passed`, `failed` or `error`.
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    report: Option<&'a Report>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

/// The JSON report: the counts, then every scenario with its full report or its error.
#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    #[serde(flatten)]
    counts: Counts,
    scenarios: Vec<JsonCase<'a>>,
}

fn json_report(cases: &[Case], counts: Counts) -> anyhow::Result<String> {
    let scenarios = cases
        .iter()
        .map(|case| {
            let (status, report, error) = match &case.result {
                CaseResult::Ran { report, .. } if report.passed() => {
                    ("passed", Some(&**report), None)
                }
                CaseResult::Ran { report, .. } => ("failed", Some(&**report), None),
                CaseResult::Error { message, .. } => ("error", None, Some(message.as_str())),
            };
            JsonCase {
                scenario: &case.id,
                path: case.path.display().to_string(),
                status,
                report,
                error,
            }
        })
        .collect();
    let mut json = serde_json::to_string_pretty(&JsonReport { counts, scenarios })
        .context("failed to serialize the JSON report")?;
    json.push('\n');
    Ok(json)
}

/// Writes `contents` to `path`, creating its folder if need be.
fn write_file(path: &Path, contents: &str, what: &str) -> anyhow::Result<()> {
    if let Some(folder) = path.parent()
        && !folder.as_os_str().is_empty()
    {
        std::fs::create_dir_all(folder).with_context(|| {
            format!(
                "failed to create the folder of the {what} `{}`",
                path.display()
            )
        })?;
    }
    std::fs::write(path, contents)
        .with_context(|| format!("failed to write the {what} `{}`", path.display()))
}
