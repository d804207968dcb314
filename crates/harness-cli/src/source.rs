//! `d365-harness source`: the importer's Add Source flow (`d365-source`) on the command line.
//! `add`, `test` and `rotate-secret` run the connection check; `list` and `remove` only touch the
//! source list; `output.rs` renders what they found. Invariant: a client secret comes from an
//! environment variable or standard input, never from the command line, and is never printed
//! (the list shows the store's `secret_hint`).

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use d365_source::{
    AddOutcome, Flow, FlowOptions, NetworkSettings, RotateOutcome, SourceForm, Store, SystemTimer,
    TestOutcome, TrustRoots,
};
use secrecy::SecretString;
use secrecy::zeroize::Zeroize;

use crate::Exit;

mod output;
#[cfg(test)]
mod tests;

/// The folder under the platform's data directory that holds the source list by default.
const DATA_DIR_NAME: &str = "d365-harness";

/// Arguments of `d365-harness source`.
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// What to do with the source list.
    #[command(subcommand)]
    pub command: SourceCommand,
}

/// The `source` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SourceCommand {
    /// Check a new source (token, WhoAmI, organization, privileges, one read of each table)
    /// and save it only if the check passes.
    Add(AddArgs),
    /// Show the saved sources, their masked secrets and last checks.
    List(ListArgs),
    /// Run the connection check of a saved source again and record the outcome.
    Test(TestArgs),
    /// Remove a saved source.
    Remove(RemoveArgs),
    /// Check a new client secret for a saved source and replace the old one if it passes.
    RotateSecret(RotateSecretArgs),
}

/// Arguments of `source add`: the Add Source form, except its secret.
#[derive(Debug, clap::Args)]
pub struct AddArgs {
    /// Name of the source in the list.
    #[arg(long)]
    pub name: String,
    /// Environment URL (https://contoso.crm.dynamics.com; a link into the environment works
    /// too).
    #[arg(long, value_name = "URL")]
    pub environment_url: String,
    /// Directory (tenant) ID: a GUID or a verified domain such as contoso.onmicrosoft.com.
    #[arg(long, value_name = "TENANT")]
    pub tenant_id: String,
    /// Application (client) ID of the app registration.
    #[arg(long, value_name = "GUID")]
    pub client_id: String,
    /// Where the client secret comes from.
    #[command(flatten)]
    pub secret: SecretArgs,
    /// The tables to import.
    #[command(flatten)]
    pub tables: TableArgs,
    /// Where the source list lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// How to reach Microsoft (or the fakes).
    // Last: a help heading applies to every argument after it.
    #[command(flatten, next_help_heading = "Network")]
    pub network: NetworkArgs,
}

/// Arguments of `source list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print a JSON array (with each source's last check in full) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where the source list lives.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `source test`.
#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The saved source (names compare case-insensitively).
    pub name: String,
    /// Where the source list lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// How to reach Microsoft (or the fakes).
    // Last: a help heading applies to every argument after it.
    #[command(flatten, next_help_heading = "Network")]
    pub network: NetworkArgs,
}

/// Arguments of `source remove`.
#[derive(Debug, clap::Args)]
pub struct RemoveArgs {
    /// The saved source (names compare case-insensitively).
    pub name: String,
    /// Where the source list lives.
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Arguments of `source rotate-secret`.
#[derive(Debug, clap::Args)]
pub struct RotateSecretArgs {
    /// The saved source (names compare case-insensitively).
    pub name: String,
    /// Where the new client secret comes from.
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Where the source list lives.
    #[command(flatten)]
    pub store: StoreArgs,
    /// How to reach Microsoft (or the fakes).
    // Last: a help heading applies to every argument after it.
    #[command(flatten, next_help_heading = "Network")]
    pub network: NetworkArgs,
}

/// Where a client secret comes from. No option takes the secret itself: command lines end up
/// in shell history and process listings.
#[derive(Clone, Debug, clap::Args)]
pub struct SecretArgs {
    /// Read the client secret from the environment variable VAR [default: one line of
    /// standard input]
    #[arg(long, value_name = "VAR")]
    pub client_secret_env: Option<String>,
}

/// The tables the connection check reads (stored with the source; `test` and `rotate-secret`
/// read the stored ones).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct TableArgs {
    /// A table to import: its logical, schema or entity set name, in any case (`account`,
    /// `Accounts`); the source saves the logical name. Repeat for more [default: account, contact]
    #[arg(long = "table", value_name = "NAME")]
    pub tables: Vec<String>,
}

/// How the connection check reaches the network. Without any of these it talks to the real
/// Microsoft endpoints through the system resolver and trust store.
#[derive(Clone, Debug, clap::Args)]
pub struct NetworkArgs {
    /// Connect to ADDR (IP, optionally with :PORT) for HOST instead of looking it up, like
    /// curl --resolve; repeatable
    #[arg(long, value_name = "HOST=ADDR")]
    pub resolve: Vec<String>,
    /// Resolve only the hosts given with --resolve; every other host fails to resolve
    #[arg(long)]
    pub resolve_only: bool,
    /// Trust only the root certificates in this PEM file (`d365-harness serve` writes its
    /// ca.pem) instead of the system's
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Send every request through this HTTPS proxy (http://proxy.example:3128)
    #[arg(long, value_name = "URL")]
    pub https_proxy: Option<String>,
    /// Accept this environment host although it is on no Dynamics 365 cloud; repeatable
    #[arg(long, value_name = "HOST")]
    pub allowed_host: Vec<String>,
    /// Give up connecting (TCP and TLS) after SECS seconds [default: 10]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub connect_timeout: Option<Duration>,
    /// Give up on one request after SECS seconds [default: 30]
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    pub timeout: Option<Duration>,
}

/// Where the source list lives.
#[derive(Clone, Debug, clap::Args)]
pub struct StoreArgs {
    /// Folder of the source list and the key that encrypts its secrets [default: the
    /// platform's data folder + /d365-harness]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Where a client secret can come from besides the command line.
pub(crate) trait SecretInput {
    /// The environment variable `name`, if it is set.
    fn var(&self, name: &str) -> Option<OsString>;
    /// One line of standard input, line ending included; on a terminal, `prompt` goes to
    /// `err` first and the typing is not echoed.
    fn read_line(&mut self, prompt: &str, err: &mut dyn Write) -> std::io::Result<String>;
}

/// The process's own environment and standard input.
#[derive(Debug)]
pub(crate) struct ProcessInput;

impl SecretInput for ProcessInput {
    fn var(&self, name: &str) -> Option<OsString> {
        std::env::var_os(name)
    }

    fn read_line(&mut self, prompt: &str, err: &mut dyn Write) -> std::io::Result<String> {
        let stdin = std::io::stdin();
        let mut line = String::new();
        if !stdin.is_terminal() {
            stdin.lock().read_line(&mut line)?;
            return Ok(line);
        }
        // rpassword switches the terminal's echo off while the line is typed and back on
        // when it is read.
        write!(err, "{prompt}")?;
        err.flush()?;
        rpassword::read_password()
    }
}

/// Runs one `source` subcommand. `Ok(Exit::Failures)` means the form or the check found a
/// problem, which has been printed to `out`; `Err` is a usage or harness error.
pub(crate) fn run(
    args: SourceArgs,
    runtime: &tokio::runtime::Runtime,
    input: &mut dyn SecretInput,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let exit = match args.command {
        SourceCommand::Add(args) => add(args, runtime, input, out, err)?,
        SourceCommand::List(args) => list(&args, out, err)?,
        SourceCommand::Test(args) => test(&args, runtime, out, err)?,
        SourceCommand::Remove(args) => remove(&args, out, err)?,
        SourceCommand::RotateSecret(args) => rotate_secret(&args, runtime, input, out, err)?,
    };
    out.flush()?;
    Ok(exit)
}

fn add(
    args: AddArgs,
    runtime: &tokio::runtime::Runtime,
    input: &mut dyn SecretInput,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    // Every option is checked before the secret is asked for.
    let flow = args.network.flow(&args.tables)?;
    let store = args.store.store(err)?;
    // A key that cannot take a new secret is reported before anyone types one.
    store
        .check_key()
        .with_context(|| format!("failed to add source `{}`", args.name.trim()))?;
    let form = SourceForm {
        name: args.name,
        environment_url: args.environment_url,
        tenant_id: args.tenant_id,
        client_id: args.client_id,
        client_secret: args.secret.read(input, err)?,
    };
    let outcome = runtime
        .block_on(flow.add(&form, &store))
        .with_context(|| format!("failed to add source `{}`", form.name.trim()))?;
    Ok(match outcome {
        AddOutcome::Added { source, warnings } => {
            write!(out, "{}", output::warnings(&warnings))?;
            write!(out, "{}", output::check_passed(&source))?;
            writeln!(
                out,
                "Saved source `{}` (client secret {}) in `{}`.",
                source.name,
                source.secret_hint,
                store.dir().display()
            )?;
            Exit::Success
        }
        AddOutcome::Invalid(errors) => {
            write!(
                out,
                "{}",
                output::form_errors("The source form has errors", &errors)
            )?;
            writeln!(out, "Nothing was checked or saved.")?;
            Exit::Failures
        }
        AddOutcome::Failed { problem, warnings } => {
            write!(out, "{}", output::warnings(&warnings))?;
            write!(out, "{}", output::problem(form.name.trim(), &problem))?;
            writeln!(out, "Source `{}` was not saved.", form.name.trim())?;
            Exit::Failures
        }
    })
}

fn list(args: &ListArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Exit> {
    let store = args.store.store(err)?;
    let sources = store.list()?;
    if args.json {
        writeln!(out, "{}", output::list_json(&sources)?)?;
    } else if sources.is_empty() {
        writeln!(out, "No sources saved in `{}`.", store.dir().display())?;
    } else {
        write!(out, "{}", output::list_table(&sources))?;
    }
    Ok(Exit::Success)
}

fn test(
    args: &TestArgs,
    runtime: &tokio::runtime::Runtime,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let flow = args.network.flow(&TableArgs::default())?;
    let store = args.store.store(err)?;
    // The store's errors name the source or the file.
    let outcome = match runtime.block_on(flow.test(&store, &args.name)) {
        Ok(outcome) => outcome,
        // The form's rules found a problem with the saved source: a finding, not a breakage.
        Err(error @ d365_source::Error::InvalidStoredSource { .. }) => {
            writeln!(out, "{}", capitalised(&error.to_string()))?;
            return Ok(Exit::Failures);
        }
        Err(error) => return Err(error.into()),
    };
    Ok(match outcome {
        TestOutcome::Passed(source) => {
            write!(out, "{}", output::check_passed(&source))?;
            writeln!(out, "Recorded the passed check of `{}`.", source.name)?;
            Exit::Success
        }
        TestOutcome::Failed { source, problem } => {
            write!(out, "{}", output::problem(&source.name, &problem))?;
            writeln!(
                out,
                "Recorded the failed check of `{}`; the source is kept as it was.",
                source.name
            )?;
            Exit::Failures
        }
    })
}

/// `text` with its first letter in upper case (error texts start in lower case).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn remove(args: &RemoveArgs, out: &mut dyn Write, err: &mut dyn Write) -> anyhow::Result<Exit> {
    let store = args.store.store(err)?;
    let source = store.remove(&args.name)?;
    writeln!(
        out,
        "Removed source `{}` ({}) from `{}`.",
        source.name,
        source.environment,
        store.dir().display()
    )?;
    Ok(Exit::Success)
}

fn rotate_secret(
    args: &RotateSecretArgs,
    runtime: &tokio::runtime::Runtime,
    input: &mut dyn SecretInput,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Exit> {
    let flow = args.network.flow(&TableArgs::default())?;
    let store = args.store.store(err)?;
    // A missing source, or a key that cannot take the new secret, is reported before anyone
    // types a secret.
    let name = store.get(&args.name)?.name;
    store
        .check_key()
        .with_context(|| format!("failed to rotate the client secret of `{name}`"))?;
    let secret = args.secret.read(input, err)?;
    let outcome = runtime.block_on(flow.rotate_secret(&store, &name, secret))?;
    let unchanged = format!("The client secret of `{name}` was not changed.");
    Ok(match outcome {
        RotateOutcome::Rotated { source, warnings } => {
            write!(out, "{}", output::warnings(&warnings))?;
            write!(out, "{}", output::check_passed(&source))?;
            writeln!(
                out,
                "Replaced the client secret of `{}` (now {}).",
                source.name, source.secret_hint
            )?;
            Exit::Success
        }
        RotateOutcome::Invalid(errors) => {
            write!(
                out,
                "{}",
                output::form_errors("The new client secret is not acceptable", &errors)
            )?;
            writeln!(out, "{unchanged}")?;
            Exit::Failures
        }
        RotateOutcome::Failed { problem, warnings } => {
            write!(out, "{}", output::warnings(&warnings))?;
            write!(out, "{}", output::problem(&name, &problem))?;
            writeln!(out, "{unchanged}")?;
            Exit::Failures
        }
    })
}

impl SecretArgs {
    /// The client secret, from `--client-secret-env` or else one line of standard input.
    fn read(
        &self,
        input: &mut dyn SecretInput,
        err: &mut dyn Write,
    ) -> anyhow::Result<SecretString> {
        if let Some(name) = &self.client_secret_env {
            let value = input.var(name).with_context(|| {
                format!(
                    "the environment variable `{name}` (named by --client-secret-env) is not set"
                )
            })?;
            // The error must not carry the value.
            let value = value
                .into_string()
                .map_err(|_| anyhow!("the environment variable `{name}` is not valid UTF-8"))?;
            return Ok(SecretString::from(value));
        }
        let mut line = input
            .read_line("Client secret: ", err)
            .context("failed to read the client secret from standard input")?;
        let secret = SecretString::from(without_line_ending(&line));
        line.zeroize();
        Ok(secret)
    }
}

/// `line` without its final `\n` or `\r\n`: nothing else is trimmed, since a secret may
/// contain any character.
fn without_line_ending(line: &str) -> &str {
    match line.strip_suffix('\n') {
        Some(line) => line.strip_suffix('\r').unwrap_or(line),
        None => line,
    }
}

impl TableArgs {
    fn options(&self) -> FlowOptions {
        let mut options = FlowOptions::default();
        if !self.tables.is_empty() {
            options.tables = self.tables.clone();
        }
        options
    }
}

impl NetworkArgs {
    /// The settings these options describe, over the defaults (real endpoints).
    fn settings(&self) -> anyhow::Result<NetworkSettings> {
        let mut network = NetworkSettings::default();
        for spec in &self.resolve {
            network.add_resolve(spec)?;
        }
        network.resolve_only = self.resolve_only;
        if let Some(path) = &self.ca_file {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("failed to read the CA file `{}`", path.display()))?;
            if !pem.contains("-----BEGIN CERTIFICATE-----") {
                bail!(
                    "the CA file `{}` holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
                    path.display()
                );
            }
            network.roots = TrustRoots::Only(vec![pem]);
        }
        network.https_proxy = self.https_proxy.clone();
        network.allowed_hosts = self.allowed_host.clone();
        if let Some(timeout) = self.connect_timeout {
            network.connect_timeout = timeout;
        }
        if let Some(timeout) = self.timeout {
            network.request_timeout = timeout;
        }
        Ok(network)
    }

    /// The flow over these settings, checking `tables`, on the system clock.
    fn flow(&self, tables: &TableArgs) -> anyhow::Result<Flow> {
        Flow::new(&self.settings()?, Arc::new(SystemTimer), tables.options())
            .context("failed to set up the connection check")
    }
}

impl StoreArgs {
    /// The store in `--data-dir`, or in the platform's data directory, after its warnings
    /// (a key file others can read) went to `err`.
    fn store(&self, err: &mut dyn Write) -> anyhow::Result<Store> {
        let store = Store::open(self.dir()?);
        for warning in store.warnings() {
            writeln!(err, "warning: {warning}")?;
        }
        Ok(store)
    }

    fn dir(&self) -> anyhow::Result<PathBuf> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => dirs::data_dir()
                .map(|dir| dir.join(DATA_DIR_NAME))
                .context("this platform has no data directory; choose one with --data-dir DIR"),
        }
    }
}

/// A positive number of seconds (`1.5` allowed).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    if seconds.is_nan() || seconds <= 0.0 {
        return Err(format!("`{text}` is not a positive number of seconds"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("`{text}` seconds is too long"))
}
