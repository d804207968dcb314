//! The `d365-harness` command line. Start at [`run`]: it parses the arguments (clap derive),
//! runs one command and turns its outcome into an [`Exit`]. Errors are printed once, with their
//! whole cause chain, to the error writer; `main.rs` only wires in the real stdout and stderr.

// The argument structs' doc comments are also clap's `--help` text, which shows them verbatim:
// a URL there is for the user to read (not a link), and `[default: …]` is clap's convention.
#![allow(
    rustdoc::bare_urls,
    rustdoc::broken_intra_doc_links,
    reason = "doc comments of clap arguments are --help text"
)]

mod admin;
mod check;
mod conformance;
mod coverage;
mod demo;
mod from_error;
mod run;
mod serve;
mod source;
mod state;
mod world;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

pub use admin::{AdminArgs, AdminCommand, ClockCommand, FaultCommand, JournalArgs};
pub use check::CheckArgs;
pub use conformance::{ConformanceArgs, ConformanceCommand, DiffArgs, ProbeArgs};
pub use coverage::{CoverageArgs, Format};
pub use demo::DemoArgs;
pub use from_error::{FromErrorArgs, ScenarioArgs, ScenarioCommand};
pub use run::RunArgs;
pub use serve::ServeArgs;
pub use source::{
    AddArgs, ListArgs, NetworkArgs, RemoveArgs, RotateSecretArgs, SecretArgs, SourceArgs,
    SourceCommand, StoreArgs, TableArgs, TestArgs,
};
pub use world::{ExportArgs, WorldArgs, WorldCommand};

use source::{ProcessInput, SecretInput};

/// `d365-harness`: fakes of Microsoft Entra ID and Dataverse for testing Dynamics 365
/// clients.
#[derive(Debug, Parser)]
#[command(name = "d365-harness", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing the arguments would buy nothing"
)]
pub enum Command {
    /// Serve the fakes over HTTPS until Ctrl-C or SIGTERM, for any client.
    Serve(ServeArgs),
    /// Serve the fakes as `serve` does, plus a web app on `--ui-listen` (default
    /// http://127.0.0.1:8080) with the importer's Sources page, whose Add Source runs the real
    /// flow against them.
    Demo(DemoArgs),
    /// Add, list, test and remove Dynamics 365 sources: the importer's Add Source flow.
    Source(SourceArgs),
    /// Replay scenario files against fresh fakes and report which went as expected.
    Run(RunArgs),
    /// The worlds built into the binary: list them, or export one as a world file to edit.
    World(WorldArgs),
    /// Load and validate world and scenario files without running them, reporting every
    /// error of each file (exit 1 when there is one).
    Check(CheckArgs),
    /// List every failure the fakes emulate and every flow problem, with the scenarios that
    /// reach each (exit 1 while a flow problem is uncovered).
    Coverage(CoverageArgs),
    /// Write scenario files: `from-error` turns a pasted error into a scenario reproducing it.
    Scenario(ScenarioArgs),
    /// Change a running `serve`'s world, faults and clock, and read its journal, through its
    /// admin API.
    Admin(AdminArgs),
    /// Probe Entra ID and Dataverse (a real tenant, or `serve`) and record the shape of each
    /// answer, secrets and volatile values masked; `conformance diff` compares two records.
    Conformance(ConformanceArgs),
}

/// How the process ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked (exit 0).
    Success,
    /// Scenarios ran and some failed, or a source's form or connection check found a problem
    /// (exit 1).
    Failures,
    /// The harness itself failed, or the command line was wrong (exit 2).
    Error,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failures => 1,
            Exit::Error => 2,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

/// Runs the command line `args` (program name first), writing results to `out` and errors
/// (and clap's usage messages) to `err`. A client secret comes from the process environment or
/// standard input.
pub fn run<I, T>(args: I, out: &mut impl Write, err: &mut impl Write) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    run_with(args, &mut ProcessInput, out, err)
}

/// [`run`] with the secret's sources injected (in-process tests cannot set environment
/// variables or feed standard input).
pub(crate) fn run_with<I, T>(
    args: I,
    input: &mut dyn SecretInput,
    out: &mut impl Write,
    err: &mut impl Write,
) -> Exit
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let (writer, exit): (&mut dyn Write, Exit) = if error.use_stderr() {
                (err, Exit::Error)
            } else {
                (out, Exit::Success)
            };
            // Nothing sensible is left to do if the terminal is gone.
            let _ = write!(writer, "{}", without_stray_values(&error));
            return exit;
        }
    };
    match execute(cli, input, out, err) {
        Ok(exit) => exit,
        Err(error) => {
            let _ = writeln!(err, "error: {error:#}");
            Exit::Error
        }
    }
}

fn execute(
    cli: Cli,
    input: &mut dyn SecretInput,
    out: &mut impl Write,
    err: &mut impl Write,
) -> anyhow::Result<Exit> {
    // `run` reports the flow's waits in each scenario's report; its progress logs would only
    // interleave with the PASS/FAIL lines.
    init_logging(match cli.command {
        Command::Run(_) | Command::Check(_) | Command::Coverage(_) | Command::Scenario(_) => "warn",
        _ => "info",
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    match cli.command {
        Command::Serve(args) => {
            runtime.block_on(serve::serve(&args, out))?;
            Ok(Exit::Success)
        }
        Command::Demo(args) => {
            runtime.block_on(demo::demo(&args, out))?;
            Ok(Exit::Success)
        }
        Command::Source(args) => source::run(args, &runtime, input, out, err),
        Command::Run(args) => run::run(&args, &runtime, out),
        Command::Check(args) => check::run(&args, out),
        Command::Coverage(args) => coverage::run(&args, &runtime, out),
        Command::Scenario(args) => from_error::run(args, &runtime, out, err),
        Command::Conformance(args) => conformance::run(args, &runtime, input, out),
        Command::World(args) => {
            world::run(&args, out)?;
            Ok(Exit::Success)
        }
        Command::Admin(args) => {
            admin::run(&args, &runtime, &mut std::io::stdin(), out)?;
            Ok(Exit::Success)
        }
    }
}

/// clap's message for `error`, with a stray value (`unexpected argument 'Qm28Q~…' found`) left
/// out: a value typed where no option takes one is often a secret pasted on the command line.
fn without_stray_values(error: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};

    let rendered = error.render().to_string();
    match (error.kind(), error.get(ContextKind::InvalidArg)) {
        (ErrorKind::UnknownArgument, Some(ContextValue::String(value)))
            if !value.starts_with('-') =>
        {
            rendered.replace(
                &format!("'{value}'"),
                &format!(
                    "'[a value of {} characters, not shown]'",
                    value.chars().count()
                ),
            )
        }
        _ => rendered,
    }
}

/// `error` and its causes on one line, `: `-separated (what `{:#}` shows of an `anyhow::Error`),
/// for a message that is not an `anyhow::Error`: a page, a JSON answer, a log field.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Logs to stderr, filtered by `RUST_LOG` (default `default_level`). Only the first call in a
/// process installs the subscriber; later ones (in-process tests) are no-ops.
fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
