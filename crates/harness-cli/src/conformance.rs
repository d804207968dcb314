//! `d365-harness conformance`: run a fixed list of probes (`conformance/probes.rs`) against a
//! real tenant (or `serve`) and write a masked record of each answer's shape
//! (`conformance/record.rs`, `conformance/mask.rs`); `conformance diff` compares two records
//! (`conformance/diff.rs`). Invariant: the record holds no secret, no token and nothing that
//! changes from run to run, so two runs against the same service give no difference.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::Exit;
use crate::source::SecretInput;

mod diff;
mod mask;
mod probes;
mod record;
#[cfg(test)]
mod tests;

use mask::Masker;
use probes::{Kind, PROBES, Probe};
use record::{Answer, ProbeRecord, Record};

/// Arguments of `d365-harness conformance`: the probes' target, or the `diff` subcommand.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct ConformanceArgs {
    /// Compare two records instead of probing.
    #[command(subcommand)]
    pub command: Option<ConformanceCommand>,
    /// Where to probe.
    #[command(flatten)]
    pub probe: ProbeArgs,
}

/// The `conformance` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConformanceCommand {
    /// Print the differences between two records probe by probe; exit 0 when there are none,
    /// 1 when there are some.
    Diff(DiffArgs),
    /// List the probes: each one's name in the record, its request and what it settles.
    Probes,
}

/// Arguments of `conformance diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The first record (e.g. from `serve`).
    #[arg(value_name = "A.json")]
    pub first: PathBuf,
    /// The second record (e.g. from a real tenant).
    #[arg(value_name = "B.json")]
    pub second: PathBuf,
}

/// What the probes talk to, and where the record goes.
#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// The Entra ID authority host (https://login.microsoftonline.com)
    #[arg(long, value_name = "URL", required = true)]
    pub authority_host: Option<String>,
    /// Directory (tenant) ID: a GUID or a verified domain
    #[arg(long, value_name = "TENANT", required = true)]
    pub tenant_id: Option<String>,
    /// Application (client) ID of an app registration with an application user in the
    /// environment
    #[arg(long, value_name = "GUID", required = true)]
    pub client_id: Option<String>,
    /// Read the app's client secret from the environment variable VAR (never from the command
    /// line)
    #[arg(long, value_name = "VAR", required = true)]
    pub client_secret_env: Option<String>,
    /// Environment URL (https://contoso.crm.dynamics.com)
    #[arg(long, value_name = "URL", required = true)]
    pub environment_url: Option<String>,
    /// A table the application user can read, for the paging and query probes (logical or
    /// entity set name)
    #[arg(long, value_name = "NAME", default_value = "account")]
    pub table: String,
    /// A table the application user's roles cannot read, for the privilege probe
    #[arg(long, value_name = "NAME", default_value = "incident")]
    pub forbidden_table: String,
    /// Also mask TEXT (any case) where it stands as a word, e.g. the directory's display name;
    /// repeatable
    #[arg(long, value_name = "TEXT")]
    pub mask: Vec<String>,
    /// Write the record here instead of standard output
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Connect to ADDR (IP, optionally with :PORT) for HOST instead of looking it up, like
    /// curl --resolve; repeatable
    #[arg(long, value_name = "HOST=ADDR", help_heading = "Network")]
    pub resolve: Vec<String>,
    /// Trust only the root certificates in this PEM file (`serve`'s ca.pem) instead of the
    /// system's
    #[arg(long, value_name = "PEM", help_heading = "Network")]
    pub ca_file: Option<PathBuf>,
    /// Send every request through this HTTPS proxy (http://proxy.example:3128, or `serve
    /// --proxy-listen`'s address); without it no proxy is used, whatever the environment says
    #[arg(long, value_name = "URL", help_heading = "Network")]
    pub https_proxy: Option<String>,
    /// Give up on one request after SECS seconds
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 30,
        help_heading = "Network"
    )]
    pub timeout: u64,
}

/// Runs `conformance` or `conformance diff`.
pub(crate) fn run(
    args: ConformanceArgs,
    runtime: &tokio::runtime::Runtime,
    input: &mut dyn SecretInput,
    out: &mut dyn Write,
) -> anyhow::Result<Exit> {
    match args.command {
        Some(ConformanceCommand::Diff(diff)) => run_diff(&diff, out),
        Some(ConformanceCommand::Probes) => {
            for probe in PROBES {
                writeln!(out, "{}\n    {}", probe.name, probe.about)?;
            }
            Ok(Exit::Success)
        }
        None => {
            let target = Target::from_args(&args.probe, input)?;
            let client = client(&args.probe)?;
            let record = runtime.block_on(probe_all(&client, &target));
            let mut json =
                serde_json::to_string_pretty(&record).context("failed to write the record")?;
            json.push('\n');
            match &args.probe.out {
                Some(path) => {
                    std::fs::write(path, json)
                        .with_context(|| format!("failed to write `{}`", path.display()))?;
                    write!(out, "{}", summary(&record))?;
                    writeln!(
                        out,
                        "Wrote the record to `{}`; it holds no secret or token.",
                        path.display()
                    )?;
                }
                None => out.write_all(json.as_bytes())?,
            }
            out.flush()?;
            Ok(Exit::Success)
        }
    }
}

/// One line per probe in run order: its status and error code, or why it has none.
fn summary(record: &Record) -> String {
    let width = PROBES
        .iter()
        .map(|probe| probe.name.len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for probe in PROBES {
        let Some(seen) = record.probes.get(probe.name) else {
            continue;
        };
        let outcome = match (&seen.status, &seen.transport_error, &seen.skipped) {
            (Some(status), _, _) => match seen.error_code() {
                Some(code) => format!("{status} {code}"),
                None => status.to_string(),
            },
            (None, Some(error), _) => format!("no answer: {error}"),
            (None, None, Some(reason)) => format!("skipped: {reason}"),
            (None, None, None) => "nothing recorded".to_owned(),
        };
        text.push_str(&format!("{:width$}  {outcome}\n", probe.name));
    }
    text
}

fn run_diff(args: &DiffArgs, out: &mut dyn Write) -> anyhow::Result<Exit> {
    let read = |path: &PathBuf| -> anyhow::Result<serde_json::Value> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read `{}`", path.display()))?;
        let value: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("`{}` is not JSON", path.display()))?;
        let format = value.get("format").and_then(serde_json::Value::as_u64);
        if format != Some(u64::from(record::FORMAT)) {
            bail!(
                "`{}` is not a conformance record of format {} (its format: {})",
                path.display(),
                record::FORMAT,
                format.map_or("none".to_owned(), |format| format.to_string())
            );
        }
        Ok(value)
    };
    let first = read(&args.first)?;
    let second = read(&args.second)?;
    let found = diff::differences(&first, &second);
    if found.is_empty() {
        writeln!(out, "No differences.")?;
        return Ok(Exit::Success);
    }
    write!(out, "{}", diff::render(&found))?;
    writeln!(out, "{} difference(s).", found.len())?;
    Ok(Exit::Failures)
}

/// Everything the probes need to know about the target.
struct Target {
    /// `https://login.microsoftonline.com`, no trailing slash.
    authority: String,
    tenant: String,
    client_id: String,
    secret: SecretString,
    /// `https://contoso.crm.dynamics.com`, no trailing slash.
    environment: String,
    table: String,
    forbidden_table: String,
    /// Masks every literal of this run (hosts, tenant, client id, secret).
    masker: Masker,
}

impl Target {
    fn from_args(args: &ProbeArgs, input: &mut dyn SecretInput) -> anyhow::Result<Target> {
        let required = |value: &Option<String>, flag: &str| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("{flag} is required"))
        };
        let authority = https_origin(&required(&args.authority_host, "--authority-host")?)?;
        let environment = https_origin(&required(&args.environment_url, "--environment-url")?)?;
        let tenant = required(&args.tenant_id, "--tenant-id")?;
        let client_id = required(&args.client_id, "--client-id")?;
        let variable = required(&args.client_secret_env, "--client-secret-env")?;
        let secret = input
            .var(&variable)
            .with_context(|| {
                format!(
                    "the environment variable `{variable}` (named by --client-secret-env) is not set"
                )
            })?
            .into_string()
            .map_err(|_| anyhow!("the environment variable `{variable}` is not valid UTF-8"))?;
        if secret.is_empty() {
            bail!("the environment variable `{variable}` is empty");
        }
        let mut masker = Masker::default();
        masker.add(&secret, "secret");
        for text in &args.mask {
            masker.add_word(text, "masked");
        }
        let authority_host = host_of(&authority);
        let environment_host = host_of(&environment);
        masker.add(authority_host, "authority_host");
        masker.add(environment_host, "environment_host");
        if let Some((org, rest)) = environment_host.split_once('.') {
            masker.add(&format!("{org}.api.{rest}"), "environment_api_host");
            masker.add_word(org, "org");
        }
        masker.add(&tenant, "tenant");
        if let Some((name, _)) = tenant.split_once('.') {
            masker.add_word(name, "tenant_name");
        }
        masker.add(&client_id, "client_id");
        Ok(Target {
            authority,
            tenant,
            client_id,
            secret: SecretString::from(secret),
            environment,
            table: args.table.trim().to_owned(),
            forbidden_table: args.forbidden_table.trim().to_owned(),
            masker,
        })
    }

    fn scope(&self) -> String {
        format!("{}/.default", self.environment)
    }

    fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.authority)
    }

    fn api(&self, path: &str) -> String {
        format!("{}/api/data/v9.2/{path}", self.environment)
    }
}

/// `https://host[:port]` from a URL or a bare host, without path or trailing slash.
fn https_origin(text: &str) -> anyhow::Result<String> {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| (!text.contains("://")).then_some(text))
        .ok_or_else(|| anyhow!("`{text}` is not an https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() {
        bail!("`{text}` has no host");
    }
    Ok(format!("https://{}", host.to_ascii_lowercase()))
}

/// The host of an origin made by [`https_origin`], without its port.
fn host_of(origin: &str) -> &str {
    let host = origin.trim_start_matches("https://");
    host.split(':').next().unwrap_or(host)
}

/// The HTTP client: no redirects followed (a redirect is part of the answer), the `--resolve`
/// overrides, `--ca-file` as the only roots and `--https-proxy` as the only proxy when given.
fn client(args: &ProbeArgs) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!(
            "d365-harness-conformance/",
            env!("CARGO_PKG_VERSION")
        ))
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(args.timeout.max(1)));
    builder = match &args.https_proxy {
        Some(proxy) => builder.proxy(
            reqwest::Proxy::https(proxy)
                .with_context(|| format!("--https-proxy `{proxy}` is not a proxy URL"))?,
        ),
        // A proxy picked up from the environment would change where the probes go unseen.
        None => builder.no_proxy(),
    };
    // The source flow's parser, so that `--resolve` means the same in both commands.
    let mut network = d365_source::NetworkSettings::default();
    for spec in &args.resolve {
        network.add_resolve(spec)?;
    }
    for (host, addr) in &network.resolve {
        builder = builder.resolve(host, *addr);
    }
    if let Some(path) = &args.ca_file {
        let pem = std::fs::read(path)
            .with_context(|| format!("failed to read the CA file `{}`", path.display()))?;
        let roots = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("the CA file `{}` is not PEM", path.display()))?;
        if roots.is_empty() {
            bail!("the CA file `{}` holds no certificate", path.display());
        }
        builder = builder.tls_certs_only(roots);
    }
    builder.build().context("failed to set up the HTTP client")
}

/// What the probes learn that later probes need.
#[derive(Default)]
struct Learned {
    token: Option<SecretString>,
    next_link: Option<String>,
}

/// Runs every probe in order; a probe that cannot run (no token) is recorded as skipped.
async fn probe_all(client: &reqwest::Client, target: &Target) -> Record {
    let mut masker = target.masker.clone();
    let mut learned = Learned::default();
    let mut probes = BTreeMap::new();
    for probe in PROBES {
        let record = run_probe(client, target, probe, &mut learned, &mut masker).await;
        probes.insert(probe.name.to_owned(), record);
    }
    Record {
        format: record::FORMAT,
        probes,
    }
}

/// The request one probe sends.
struct ProbeRequest {
    /// What the record says was asked (masked later).
    summary: String,
    request: reqwest::RequestBuilder,
    /// A random value of this run that the answer may quote, masked as `{random}`.
    volatile: Option<String>,
}

async fn run_probe(
    client: &reqwest::Client,
    target: &Target,
    probe: &Probe,
    learned: &mut Learned,
    masker: &mut Masker,
) -> ProbeRecord {
    let request = match build_request(client, target, probe.kind, learned) {
        Ok(request) => request,
        Err(reason) => {
            return ProbeRecord {
                about: probe.about.to_owned(),
                skipped: Some(reason),
                ..ProbeRecord::default()
            };
        }
    };
    if let Some(volatile) = &request.volatile {
        masker.add(volatile, "random");
    }
    let answer = match send(request.request).await {
        Ok(answer) => answer,
        Err(error) => {
            return ProbeRecord {
                about: probe.about.to_owned(),
                request: masker.mask(&request.summary),
                transport_error: Some(masker.mask(&format!("{error:#}"))),
                ..ProbeRecord::default()
            };
        }
    };
    let json = serde_json::from_slice::<serde_json::Value>(&answer.body).ok();
    let mut claims = BTreeMap::new();
    if probe.kind == Kind::Token
        && let Some(token) = json
            .as_ref()
            .and_then(|json| json.get("access_token"))
            .and_then(serde_json::Value::as_str)
    {
        masker.add(token, "token");
        claims = record::token_claims(token, masker);
        learned.token = Some(SecretString::from(token.to_owned()));
    }
    if probe.kind == Kind::Paging {
        learned.next_link = json
            .as_ref()
            .and_then(|json| json.get("@odata.nextLink"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
    }
    let mut record = ProbeRecord::of_answer(probe.about, &request.summary, &answer, masker);
    record.token_claims = claims;
    record
}

fn build_request(
    client: &reqwest::Client,
    target: &Target,
    kind: Kind,
    learned: &Learned,
) -> Result<ProbeRequest, String> {
    let form = |tenant: &str, client_id: &str, secret: &str, scope: &str| {
        let url = target.token_url(tenant);
        let fields = [
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", scope),
        ];
        ProbeRequest {
            summary: format!("POST {url} (client credentials, scope {scope})"),
            request: client.post(url).form(&fields),
            volatile: None,
        }
    };
    let secret = target.secret.expose_secret();
    let scope = target.scope();
    let table = probes::entity_set(&target.table);
    let key = probes::primary_key(&target.table);
    let bearer = || {
        learned
            .token
            .as_ref()
            .map(|token| format!("Bearer {}", token.expose_secret()))
            .ok_or_else(|| "no access token: the `token` probe did not get one".to_owned())
    };
    let get = |url: String, authorization: Option<String>, prefer: Option<&str>| {
        let mut request = client
            .get(&url)
            .header("Accept", "application/json")
            .header("OData-MaxVersion", "4.0")
            .header("OData-Version", "4.0");
        let mut summary = format!("GET {url}");
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
            summary.push_str(&format!(" (Prefer: {prefer})"));
        }
        ProbeRequest {
            summary,
            request,
            volatile: None,
        }
    };
    Ok(match kind {
        Kind::Token => form(&target.tenant, &target.client_id, secret, &scope),
        Kind::WrongSecret => form(
            &target.tenant,
            &target.client_id,
            probes::WRONG_SECRET,
            &scope,
        ),
        Kind::UnknownTenant => form(
            &Uuid::new_v4().to_string(),
            &target.client_id,
            probes::WRONG_SECRET,
            &scope,
        ),
        Kind::UnknownApp => form(
            &target.tenant,
            &Uuid::new_v4().to_string(),
            probes::WRONG_SECRET,
            &scope,
        ),
        Kind::UnknownEnvironment => {
            let label = format!("d365harness{}", &Uuid::new_v4().simple().to_string()[..12]);
            let mut request = form(
                &target.tenant,
                &target.client_id,
                secret,
                &format!("https://{label}.crm.dynamics.com/.default"),
            );
            // The random host is volatile: the record names it by a placeholder.
            request.volatile = Some(label);
            request
        }
        Kind::Organizations => form("organizations", &target.client_id, secret, &scope),
        Kind::JsonBody | Kind::TextPlainBody => {
            let url = target.token_url(&target.tenant);
            let fields = [
                ("grant_type", "client_credentials"),
                ("client_id", target.client_id.as_str()),
                ("client_secret", probes::WRONG_SECRET),
                ("scope", scope.as_str()),
            ];
            let (content_type, body) = if kind == Kind::JsonBody {
                let object: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(name, value)| ((*name).to_owned(), (*value).into()))
                    .collect();
                (
                    "application/json",
                    serde_json::Value::Object(object).to_string(),
                )
            } else {
                ("text/plain", form_body(&fields))
            };
            ProbeRequest {
                volatile: None,
                summary: format!("POST {url} (Content-Type: {content_type}, wrong secret)"),
                request: client
                    .post(url)
                    .header("Content-Type", content_type)
                    .body(body),
            }
        }
        Kind::WhoAmI => get(target.api("WhoAmI"), Some(bearer()?), None),
        Kind::WhoAmINoToken => get(target.api("WhoAmI"), None, None),
        Kind::WhoAmIMalformedToken => get(
            target.api("WhoAmI"),
            Some(format!("Bearer {}", probes::MALFORMED_TOKEN)),
            None,
        ),
        Kind::ForbiddenTable => get(
            target.api(&format!(
                "{}?$top=1",
                probes::entity_set(&target.forbidden_table)
            )),
            Some(bearer()?),
            None,
        ),
        Kind::Paging => get(
            target.api(&format!("{table}?$select={key}")),
            Some(bearer()?),
            Some("odata.maxpagesize=2"),
        ),
        Kind::PagingNext => {
            let link = learned
                .next_link
                .clone()
                .ok_or_else(|| "no @odata.nextLink: the `paging` probe got none".to_owned())?;
            let mut request = get(link, Some(bearer()?), Some("odata.maxpagesize=2"));
            request.summary =
                "GET {the paging probe's @odata.nextLink} (Prefer: odata.maxpagesize=2)".to_owned();
            request
        }
        Kind::Top => get(
            target.api(&format!("{table}?$select={key}&$top=2")),
            Some(bearer()?),
            None,
        ),
        Kind::UnknownProperty => get(
            target.api(&format!("{table}?$select={}", probes::UNKNOWN_COLUMN)),
            Some(bearer()?),
            None,
        ),
        Kind::UnknownFunction => get(target.api(probes::UNKNOWN_FUNCTION), Some(bearer()?), None),
        Kind::UnsupportedQuery => get(
            target.api(&format!("{table}?$select={key}&$d365harness=1")),
            Some(bearer()?),
            None,
        ),
        Kind::Aggregate => get(
            target.api(&format!(
                "{table}?$apply=groupby((statuscode),aggregate($count%20as%20count))"
            )),
            Some(bearer()?),
            None,
        ),
    })
}

/// `fields` as an `application/x-www-form-urlencoded` body, for a request that labels it
/// otherwise (reqwest's `.form` would set the form type).
fn form_body(fields: &[(&str, &str)]) -> String {
    let encode = |text: &str| {
        let mut encoded = String::new();
        for byte in text.bytes() {
            if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
                encoded.push(char::from(byte));
            } else {
                encoded.push_str(&format!("%{byte:02X}"));
            }
        }
        encoded
    };
    fields
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

async fn send(request: reqwest::RequestBuilder) -> anyhow::Result<Answer> {
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = response.bytes().await?.to_vec();
    Ok(Answer {
        status,
        headers,
        body,
    })
}
