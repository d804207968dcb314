//! `d365-harness admin`: a client of a running `serve`'s admin API. It finds the API through
//! the state folder (`D365_ADMIN_URL` in `connection.env`, the bearer token in `admin.token`),
//! turns TOML or JSON files into the API's JSON, and prints answers for people (or, with
//! `--json`, as JSON lines). The server validates everything; this side only carries it.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// Arguments of `d365-harness admin`.
#[derive(Clone, Debug, clap::Args)]
pub struct AdminArgs {
    /// The state folder of the `serve` to talk to (its `connection.env` and `admin.token`).
    #[arg(
        long,
        value_name = "DIR",
        default_value = ".d365-harness",
        global = true
    )]
    pub state_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// The admin subcommands.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Apply changes, all or nothing: a TOML file (`[[changes]]` tables, or one change) or
    /// JSON (an array of changes, or one); `-` reads standard input.
    Apply {
        /// The file of changes, or `-`.
        #[arg(value_name = "FILE|-")]
        file: String,
    },
    /// Add or clear fault rules.
    Fault {
        /// What to do with the faults.
        #[command(subcommand)]
        command: FaultCommand,
    },
    /// Show the fakes' clock, or move it forward.
    Clock {
        /// What to do with the clock (show it when absent).
        #[command(subcommand)]
        command: Option<ClockCommand>,
    },
    /// Print the journal of requests (redacted), oldest first.
    Journal(JournalArgs),
    /// Print the current world as a world file (`serve --world` loads it to the same world).
    World {
        /// Print it as JSON instead of TOML.
        #[arg(long)]
        json: bool,
    },
    /// Serve another world file instead (its hosts may differ): checked here first, then
    /// sent standalone (certificates inline). `reset` comes back to it from then on, and
    /// `connection.env` is rewritten for it.
    Load {
        /// The world file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Put everything back as `serve` loaded it (or as `admin load` last loaded it): world,
    /// faults, clock, journal, throttling.
    Reset,
}

/// `admin fault ...`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum FaultCommand {
    /// Add fault rules: TOML (`[[faults]]` tables as in a world file, or one rule) or JSON (a
    /// rule or an array); `-` reads standard input.
    Add {
        /// The file of rules, or `-`.
        #[arg(value_name = "FILE|-")]
        file: String,
    },
    /// Remove every fault rule.
    Clear,
}

/// `admin clock ...`.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum ClockCommand {
    /// Move the clock forward by a duration: `90s`, `30m`, `1h`, `2d`, `1h30m`, or seconds.
    Advance {
        /// How far.
        #[arg(value_name = "DURATION")]
        by: String,
    },
}

/// `admin journal`'s filters.
#[derive(Clone, Debug, clap::Args)]
pub struct JournalArgs {
    /// Keep printing new requests as they come, until Ctrl-C.
    #[arg(long)]
    pub follow: bool,
    /// Only requests for this host.
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,
    /// Only answers with this status (`403`) or class (`4xx`).
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only the requests after this sequence number.
    #[arg(long, value_name = "SEQUENCE")]
    pub since: Option<u64>,
    /// Print each entry as one line of JSON (redacted) instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Runs `args` against the `serve` of its state folder.
pub(crate) fn run(
    args: &AdminArgs,
    runtime: &tokio::runtime::Runtime,
    input: &mut dyn Read,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let api = AdminApi::find(&args.state_dir)?;
    runtime.block_on(async {
        match &args.command {
            AdminCommand::Apply { file } => {
                let changes = read_document(file, input, "changes")?;
                let answer = api
                    .send(reqwest::Method::POST, "/changes", Some(changes))
                    .await?;
                let count = answer["changes"].as_u64().unwrap_or_default();
                writeln!(out, "applied {count} change{}", plural(count))?;
            }
            AdminCommand::Fault {
                command: FaultCommand::Add { file },
            } => {
                let faults = read_document(file, input, "faults")?;
                let answer = api
                    .send(reqwest::Method::POST, "/faults", Some(faults))
                    .await?;
                print_faults(&answer, out)?;
            }
            AdminCommand::Fault {
                command: FaultCommand::Clear,
            } => {
                let answer = api.send(reqwest::Method::DELETE, "/faults", None).await?;
                print_faults(&answer, out)?;
            }
            AdminCommand::Clock { command } => {
                let answer = match command {
                    None => api.send(reqwest::Method::GET, "/clock", None).await?,
                    Some(ClockCommand::Advance { by }) => {
                        let body = match by.trim().parse::<i64>() {
                            Ok(seconds) => json!({ "seconds": seconds }),
                            Err(_) => json!({ "duration": by }),
                        };
                        api.send(reqwest::Method::POST, "/clock/advance", Some(body))
                            .await?
                    }
                };
                writeln!(
                    out,
                    "clock: {} (moved {}s from the system time)",
                    answer["now"].as_str().unwrap_or("?"),
                    answer["offset_seconds"]
                )?;
            }
            AdminCommand::Journal(journal) => api.journal(journal, out).await?,
            AdminCommand::World { json } => {
                let path = if *json {
                    "/world?format=json"
                } else {
                    "/world"
                };
                let text = api.text(path).await?;
                write!(out, "{text}")?;
            }
            AdminCommand::Load { file } => {
                let (name, document) = standalone_world(file)?;
                let path = format!(
                    "/world?{}",
                    form_urlencoded::Serializer::new(String::new())
                        .append_pair("name", &name)
                        .finish()
                );
                let answer = api.put_text(&path, document).await?;
                print_loaded(&answer, out)?;
            }
            AdminCommand::Reset => {
                api.send(reqwest::Method::POST, "/reset", None).await?;
                writeln!(
                    out,
                    "reset: world, faults, clock and journal are back as serve loaded them"
                )?;
            }
        }
        out.flush()?;
        Ok(())
    })
}

/// The world in `file` (checked here, so that errors name the file and its lines) as a
/// standalone world file for `PUT /world`, with the file's name.
fn standalone_world(file: &Path) -> anyhow::Result<(String, String)> {
    let world = scenario::World::load(file).map_err(|error| {
        anyhow::Error::new(error).context(format!(
            "`{}` does not load (`d365-harness check {0}` lists every error)",
            file.display()
        ))
    })?;
    let document = scenario::WorldDocument::of(&world)
        .with_context(|| format!("failed to make `{}` standalone", file.display()))?;
    let name = file
        .file_name()
        .map_or_else(|| "world.toml".into(), |name| name.to_string_lossy());
    Ok((name.into_owned(), document.to_toml()))
}

/// `loaded world `x.toml` (clock ...): serving N hosts` and the hosts, one a line.
fn print_loaded(answer: &Value, out: &mut impl Write) -> anyhow::Result<()> {
    let hosts = answer["hosts"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    writeln!(
        out,
        "loaded world `{}` (clock {}): serving {} host{}",
        answer["world"].as_str().unwrap_or("?"),
        answer["now"].as_str().unwrap_or("?"),
        hosts.len(),
        plural(hosts.len() as u64)
    )?;
    for host in hosts {
        writeln!(out, "  {}", host.as_str().unwrap_or("?"))?;
    }
    if answer["hosts_changed"] == Value::Bool(true) {
        writeln!(
            out,
            "The hosts changed: clients need the new host map (D365_HOST_MAP in connection.env, \
             rewritten); the CA is the same."
        )?;
    }
    Ok(())
}

fn plural(count: u64) -> &'static str {
    if count == 1 { "" } else { "s" }
}

fn print_faults(answer: &Value, out: &mut impl Write) -> anyhow::Result<()> {
    let faults = answer["faults"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    writeln!(
        out,
        "{} fault rule{} active",
        faults.len(),
        plural(faults.len() as u64)
    )?;
    for fault in faults {
        // Only the fields the rule sets: `"nth":null` is noise.
        let mut fault = fault.clone();
        if let Value::Object(fields) = &mut fault {
            fields.retain(|_, value| !value.is_null());
        }
        writeln!(out, "  {fault}")?;
    }
    Ok(())
}

/// A running `serve`'s admin API, as its state folder describes it.
#[derive(Debug)]
struct AdminApi {
    url: String,
    token: Option<String>,
    client: reqwest::Client,
}

impl AdminApi {
    /// Reads `connection.env` and `admin.token` in `state_dir`.
    fn find(state_dir: &Path) -> anyhow::Result<AdminApi> {
        let env_file = state_dir.join("connection.env");
        let env = match std::fs::read_to_string(&env_file) {
            Ok(env) => env,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => bail!(
                "no serve is running (no {}); start `d365-harness serve` or pass its \
                 --state-dir",
                env_file.display()
            ),
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("failed to read `{}`", env_file.display()));
            }
        };
        let url = env
            .lines()
            .find_map(|line| line.strip_prefix("D365_ADMIN_URL="))
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .with_context(|| {
                format!(
                    "`{}` has no D365_ADMIN_URL: that serve predates the admin API",
                    env_file.display()
                )
            })?;
        let token_file = state_dir.join("admin.token");
        let token = match std::fs::read_to_string(&token_file) {
            Ok(token) => Some(token.trim().to_owned()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("failed to read `{}`", token_file.display()));
            }
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("failed to set up the HTTP client")?;
        Ok(AdminApi { url, token, client })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.url));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// Sends a request and reads its answer, failing with the API's error message.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        timeout: Option<Duration>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.request(method.clone(), path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        self.answer(request, method, path).await
    }

    /// `PUT path` with a TOML body and a 60 s bound; the JSON answer.
    async fn put_text(&self, path: &str, body: String) -> anyhow::Result<Value> {
        let request = self
            .request(reqwest::Method::PUT, path)
            .header(reqwest::header::CONTENT_TYPE, "text/toml; charset=utf-8")
            .body(body)
            .timeout(Duration::from_secs(60));
        self.answer(request, reqwest::Method::PUT, path)
            .await?
            .json()
            .await
            .with_context(|| format!("serve's answer to `{path}` is not JSON"))
    }

    /// Sends `request` (`method path`) and keeps a successful answer, else fails with the
    /// API's error message (and each error it lists).
    async fn answer(
        &self,
        request: reqwest::RequestBuilder,
        method: reqwest::Method,
        path: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let response = request
            .send()
            .await
            .map_err(|error| self.unanswered(error))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let error: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let mut message = error["error"]["message"]
            .as_str()
            .map_or_else(|| fake_core::echo(&text).into_owned(), str::to_owned);
        let listed = error["error"]["errors"].as_array().map(Vec::as_slice);
        if let Some(listed @ [_, _, ..]) = listed {
            for each in listed {
                message.push_str("\n  ");
                message.push_str(each["message"].as_str().unwrap_or("?"));
            }
        }
        bail!("serve refused `{method} {path}` ({status}): {message}")
    }

    /// A JSON call with a 60 s bound.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let response = self
            .call(method, path, body, Some(Duration::from_secs(60)))
            .await?;
        response
            .json()
            .await
            .with_context(|| format!("serve's answer to `{path}` is not JSON"))
    }

    /// A `GET` whose answer is text.
    async fn text(&self, path: &str) -> anyhow::Result<String> {
        let response = self
            .call(
                reqwest::Method::GET,
                path,
                None,
                Some(Duration::from_secs(60)),
            )
            .await?;
        response
            .text()
            .await
            .with_context(|| format!("failed to read serve's answer to `{path}`"))
    }

    fn unanswered(&self, error: reqwest::Error) -> anyhow::Error {
        if error.is_connect() || error.is_timeout() {
            anyhow::anyhow!(
                "serve at {} does not answer (it may have stopped without removing its \
                 connection.env)",
                self.url
            )
        } else {
            anyhow::Error::new(error).context(format!("failed to reach serve at {}", self.url))
        }
    }

    /// `admin journal`: the entries so far, or (`--follow`) a stream of them.
    async fn journal(&self, args: &JournalArgs, out: &mut impl Write) -> anyhow::Result<()> {
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(host) = &args.host {
            query.append_pair("host", host);
        }
        if let Some(status) = &args.status {
            query.append_pair("status", status);
        }
        if let Some(since) = args.since {
            query.append_pair("since", &since.to_string());
        }
        if args.follow {
            query.append_pair("follow", "true");
        }
        let path = format!("/journal?{}", query.finish());
        if !args.follow {
            let entries = self.send(reqwest::Method::GET, &path, None).await?;
            for entry in entries.as_array().map(Vec::as_slice).unwrap_or_default() {
                print_entry(entry, args.json, out)?;
            }
            return Ok(());
        }
        let mut response = self.call(reqwest::Method::GET, &path, None, None).await?;
        let mut events = EventParser::default();
        while let Some(chunk) = response
            .chunk()
            .await
            .with_context(|| format!("the journal stream from {} broke off", self.url))?
        {
            for data in events.push(&chunk) {
                let entry: Value =
                    serde_json::from_str(&data).context("a journal event is not JSON")?;
                print_entry(&entry, args.json, out)?;
            }
            out.flush()?;
        }
        Ok(())
    }
}

/// One journal entry: a JSON line, or `#seq time METHOD host/path -> status [fault]`.
fn print_entry(entry: &Value, json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{entry}")?;
        return Ok(());
    }
    let text = |key: &str| entry[key].as_str().unwrap_or_default().to_owned();
    let query = entry["query"]
        .as_str()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let fault = entry["fault"]
        .as_str()
        .map(|fault| format!("  [fault: {fault}]"))
        .unwrap_or_default();
    writeln!(
        out,
        "#{} {} {} https://{}{}{query} -> {}{fault}",
        entry["sequence"],
        text("received_at"),
        text("method"),
        text("host"),
        text("path"),
        entry["status"],
    )?;
    Ok(())
}

/// Splits a server-sent event stream into the `data` of its `entry` events.
#[derive(Debug, Default)]
pub(crate) struct EventParser {
    buffer: String,
}

impl EventParser {
    /// Adds a chunk and returns the data of every `entry` event it completed.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buffer.push_str(&String::from_utf8_lossy(chunk));
        let mut complete = Vec::new();
        while let Some(end) = self.buffer.find("\n\n") {
            let event: String = self.buffer.drain(..end + 2).collect();
            let mut kind = "message";
            let mut data = Vec::new();
            for line in event.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    kind = value.trim();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value));
                }
            }
            if kind == "entry" && !data.is_empty() {
                complete.push(data.join("\n"));
            }
        }
        complete
    }
}

/// Reads `file` (or standard input for `-`) as TOML or JSON and returns the JSON array the
/// API takes: `key`'s array of a TOML file (`[[changes]]`), a JSON array, or one item of
/// either kind as an array of one.
fn read_document(file: &str, input: &mut dyn Read, key: &str) -> anyhow::Result<Value> {
    let (text, source) = if file == "-" {
        let mut text = String::new();
        input
            .read_to_string(&mut text)
            .context("failed to read standard input")?;
        (text, "standard input".to_owned())
    } else {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("failed to read `{file}`"))?;
        (text, format!("`{file}`"))
    };
    let is_json = match Path::new(file)
        .extension()
        .and_then(|extension| extension.to_str())
    {
        Some("json") => true,
        Some("toml") => false,
        _ => looks_like_json(&text),
    };
    let value: Value = if is_json {
        serde_json::from_str(&text).with_context(|| format!("{source} is not valid JSON"))?
    } else {
        let table: toml::Table =
            toml::from_str(&text).with_context(|| format!("{source} is not valid TOML"))?;
        serde_json::to_value(table).with_context(|| format!("{source} does not convert to JSON"))?
    };
    Ok(match value {
        Value::Array(items) => Value::Array(items),
        Value::Object(mut object) => match object.remove(key) {
            Some(items @ Value::Array(_)) if object.is_empty() => items,
            Some(_) => bail!("{source}: `{key}` must be the file's only key, holding an array"),
            None => Value::Array(vec![Value::Object(object)]),
        },
        _ => bail!("{source} holds neither an array of {key} nor one"),
    })
}

/// JSON starts with `{`, or `[` and then `{` or `]`; TOML's `[[changes]]` and `[table]` do
/// not.
fn looks_like_json(text: &str) -> bool {
    let text = text.trim_start();
    match text.strip_prefix('[') {
        Some(rest) => matches!(rest.trim_start().chars().next(), Some('{' | ']') | None),
        None => text.starts_with('{'),
    }
}

#[cfg(test)]
mod tests;
