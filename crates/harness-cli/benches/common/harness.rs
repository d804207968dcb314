//! What the benchmarks share: a `d365-harness serve` process on a world file, an HTTP/1.1
//! keep-alive client on its host map, tokens from its Entra ID, a load driver whose workers
//! record every outcome and latency by phase, and the process's CPU time and memory from `/proc`.

#![allow(
    dead_code,
    reason = "each benchmark includes this module and uses a part of it"
)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A number from the environment, or `default`.
pub fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The demo world with its certificate path made absolute and its environment replaced by one
/// whose account table has `rows` generated rows and whose service protection is lifted,
/// written into a fresh temporary folder (the caller removes it).
pub fn bench_world(root: &Path, rows: u64) -> anyhow::Result<PathBuf> {
    let folder = std::env::temp_dir().join(format!("d365-bench-world-{}", std::process::id()));
    std::fs::create_dir_all(&folder)?;
    let demo = std::fs::read_to_string(root.join("fixtures/worlds/demo.toml"))?;
    let certificate = root.join("fixtures/keys/importer-client.crt.pem");
    let world = demo
        .replace(
            "../keys/importer-client.crt.pem",
            &certificate.display().to_string(),
        )
        .split("\n[environments")
        .next()
        .unwrap_or_default()
        .to_owned()
        + &format!(
            r#"
[environments.contoso]
url = "https://contoso.crm.dynamics.com"
tenant = "contoso"
application_users = [{{ app = "importer", roles = ["Service Reader"] }}]
# Service protection would stop a load test after 6000 requests: lift it.
limits = {{ requests = 1000000000, concurrent = 1000 }}

[environments.contoso.tables.account]
generate = {rows}
"#
        );
    let path = folder.join("bench.toml");
    std::fs::write(&path, world)?;
    Ok(path)
}

/// A running `d365-harness serve`, stopped and cleaned up on drop.
pub struct Serve {
    pub child: Child,
    /// Kept open so that `serve` can still write to its standard output.
    _stdout: BufReader<ChildStdout>,
    folder: PathBuf,
    env: Vec<(String, String)>,
}

/// How long one request may take before the client gives up (a hung server then shows as a
/// transport error instead of a benchmark that never ends).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Distinguishes the state folders of the `serve` processes one benchmark starts.
static LAUNCHES: AtomicU64 = AtomicU64::new(0);

impl Serve {
    /// Starts `serve` on `world` with a fresh state folder and waits until it is ready.
    pub fn start(world: &Path) -> anyhow::Result<Serve> {
        Serve::launch(Some(world))
    }

    /// Starts `serve` on `world` (`None`: its built-in default world) with a fresh state
    /// folder, and returns as soon as it is ready: when it prints its instructions, which it
    /// does after writing `connection.env` (read on a pipe, so no polling delay is measured).
    pub fn launch(world: Option<&Path>) -> anyhow::Result<Serve> {
        let folder = std::env::temp_dir().join(format!(
            "d365-bench-{}-{}",
            std::process::id(),
            LAUNCHES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder)?;
        let state = folder.join("state");
        let mut command = Command::new(env!("CARGO_BIN_EXE_d365-harness"));
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--state-dir",
            ])
            .arg(&state);
        if let Some(world) = world {
            command.arg("--world").arg(world);
        }
        let mut child = command
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("failed to start `d365-harness serve`")?;
        let mut stdout = BufReader::new(child.stdout.take().context("a piped stdout")?);
        let mut first_line = String::new();
        if stdout.read_line(&mut first_line)? == 0 {
            let _ = child.kill();
            let status = child.wait()?;
            bail!("`serve` ended before it was ready ({status})");
        }
        let env_file = state.join("connection.env");
        let env = std::fs::read_to_string(&env_file)
            .with_context(|| format!("`serve` is ready but {} is missing", env_file.display()))?
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        Ok(Serve {
            child,
            _stdout: stdout,
            folder,
            env,
        })
    }

    /// A `connection.env` value.
    pub fn value(&self, key: &str) -> anyhow::Result<&str> {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .with_context(|| format!("`{key}` missing from connection.env"))
    }

    /// The served environment's URL, without a trailing slash.
    pub fn environment(&self) -> anyhow::Result<String> {
        Ok(self
            .value("D365_ENVIRONMENT_URL")?
            .trim_end_matches('/')
            .to_owned())
    }

    /// A [`keep_alive_client`] trusting only the harness CA and resolving every host of the
    /// host map.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        let ca = std::fs::read_to_string(self.value("D365_CA_FILE")?)?;
        let mut hosts = Vec::new();
        for pair in self.value("D365_HOST_MAP")?.split(',') {
            let (host, addr) = pair.split_once('=').context("a host=address pair")?;
            hosts.push((host.to_owned(), addr.parse()?));
        }
        keep_alive_client(&ca, &hosts)
    }

    /// The served tenant's v2 token endpoint.
    pub fn token_url(&self) -> anyhow::Result<String> {
        Ok(format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            self.value("D365_TENANT_ID")?
        ))
    }

    /// The client-credentials form of the served app (its secret) for `scope`.
    pub fn token_form(&self, scope: &str) -> anyhow::Result<Vec<(String, String)>> {
        Ok(vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            (
                "client_id".to_owned(),
                self.value("D365_CLIENT_ID")?.to_owned(),
            ),
            (
                "client_secret".to_owned(),
                self.value("D365_CLIENT_SECRET")?.to_owned(),
            ),
            ("scope".to_owned(), scope.to_owned()),
        ])
    }

    /// An access token for the served environment (`{environment}/.default`).
    pub async fn environment_token(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        let scope = format!("{}/.default", self.environment()?);
        let response = client
            .post(self.token_url()?)
            .form(&self.token_form(&scope)?)
            .send()
            .await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        match body["access_token"].as_str() {
            Some(token) => Ok(token.to_owned()),
            // An error body carries no secret: AADSTS code, description, trace ids.
            None => bail!("no token ({status}): {body}"),
        }
    }
}

/// HTTP/1.1 keep-alive, one connection per concurrent request (what MSAL Python,
/// azure-identity, msal-node and dynamics-web-api use), trusting only `ca_pem` and resolving
/// `hosts` to their addresses.
pub fn keep_alive_client(
    ca_pem: &str,
    hosts: &[(String, std::net::SocketAddr)],
) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca_pem.as_bytes())?])
        .no_proxy()
        .http1_only()
        .timeout(REQUEST_TIMEOUT)
        .pool_max_idle_per_host(usize::MAX);
    for (host, addr) in hosts {
        builder = builder.resolve(host, *addr);
    }
    Ok(builder.build()?)
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// How one request ended.
#[derive(Debug)]
pub enum Outcome {
    /// The expected status, and a body that passed the request kind's checks.
    Ok,
    /// No complete response: connection, TLS, timeout, or the body broke off.
    Transport(String),
    /// A status the request kind does not expect, with the start of the body.
    Status(u16, String),
    /// The expected status with a body that failed the request kind's checks.
    Body(String),
}

/// How much of a body an error sample keeps.
const EXCERPT_CHARS: usize = 300;

/// Sends `request`; with the `expected` status, `check` turns the body into the caller's value
/// (or says what is wrong with it), any other status or a transport failure is the outcome.
pub async fn fetch<T>(
    request: reqwest::RequestBuilder,
    expected: u16,
    check: impl FnOnce(&[u8]) -> Result<T, String>,
) -> Result<T, Outcome> {
    let response = request
        .send()
        .await
        .map_err(|error| Outcome::Transport(transport_error(&error)))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|error| Outcome::Transport(transport_error(&error)))?;
    if status != expected {
        let excerpt: String = String::from_utf8_lossy(&body)
            .chars()
            .take(EXCERPT_CHARS)
            .collect();
        return Err(Outcome::Status(status, excerpt));
    }
    check(&body).map_err(Outcome::Body)
}

/// An error with its causes (reqwest's own message hides the I/O or TLS error underneath).
fn transport_error(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connect"
    } else if error.is_body() || error.is_decode() {
        "body"
    } else {
        "request"
    };
    let mut text = format!("{kind}: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// One worker of a load: one connection's worth of requests, one request at a time.
pub trait Worker: Send + 'static {
    /// The index of this worker's request kind in the tallies.
    fn kind(&self) -> usize;
    /// Sends the next request and tells how it ended.
    fn next(&mut self) -> impl Future<Output = Outcome> + Send;
}

/// The phases of a run; an outcome belongs to the phase in which its response completed.
pub const WARM_UP: usize = 0;
/// The timed window that throughput and latency are measured over.
pub const COUNTED: usize = 1;
/// After the window, while the workers finish the request they had started.
pub const DRAIN: usize = 2;
const STOP: u8 = 3;

/// How many error samples a tally keeps for the report.
const SAMPLES: usize = 5;

/// What one request kind did in one phase.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub requests: u64,
    pub transport_errors: u64,
    /// Unexpected statuses by code.
    pub statuses: std::collections::BTreeMap<u16, u64>,
    pub body_errors: u64,
    pub latency: Histogram,
    /// The first few distinct errors, as text.
    pub samples: Vec<String>,
}

impl Tally {
    fn record(&mut self, outcome: Outcome, latency: Duration) {
        self.requests += 1;
        self.latency.record(latency);
        let sample = match outcome {
            Outcome::Ok => return,
            Outcome::Transport(error) => {
                self.transport_errors += 1;
                format!("transport error: {error}")
            }
            Outcome::Status(status, excerpt) => {
                *self.statuses.entry(status).or_default() += 1;
                format!("status {status}: {excerpt}")
            }
            Outcome::Body(problem) => {
                self.body_errors += 1;
                format!("bad body: {problem}")
            }
        };
        if self.samples.len() < SAMPLES && !self.samples.contains(&sample) {
            self.samples.push(sample);
        }
    }

    /// Adds `other`'s counts to this one.
    pub fn merge(&mut self, other: &Tally) {
        self.requests += other.requests;
        self.transport_errors += other.transport_errors;
        for (status, count) in &other.statuses {
            *self.statuses.entry(*status).or_default() += count;
        }
        self.body_errors += other.body_errors;
        self.latency.merge(&other.latency);
        for sample in &other.samples {
            if self.samples.len() < SAMPLES && !self.samples.contains(sample) {
                self.samples.push(sample.clone());
            }
        }
    }

    /// Requests with an unexpected status.
    pub fn status_errors(&self) -> u64 {
        self.statuses.values().sum()
    }

    /// Responses with a 5xx status.
    pub fn server_errors(&self) -> u64 {
        self.statuses.range(500..600).map(|(_, count)| count).sum()
    }

    /// Every request that did not end as expected.
    pub fn errors(&self) -> u64 {
        self.transport_errors + self.status_errors() + self.body_errors
    }

    /// Requests that ended as expected.
    pub fn successes(&self) -> u64 {
        self.requests - self.errors()
    }
}

/// Latencies in microseconds, log-linear: exact below 128 µs, then 64 buckets per power of two
/// (under 1.6% error), so a ten-minute run at tens of thousands of requests per second needs
/// a few kilobytes instead of a sample per request.
#[derive(Debug, Clone)]
pub struct Histogram {
    buckets: Vec<u64>,
    count: u64,
}

const SUB_BUCKETS: u64 = 64;

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram {
            buckets: vec![0; Histogram::index(u64::MAX) + 1],
            count: 0,
        }
    }
}

impl Histogram {
    fn index(micros: u64) -> usize {
        if micros < 2 * SUB_BUCKETS {
            return micros as usize;
        }
        let shift = u64::from(63 - micros.leading_zeros()) - 6;
        (shift * SUB_BUCKETS + (micros >> shift)) as usize
    }

    /// The smallest value of bucket `index`.
    fn lower_bound(index: usize) -> u64 {
        let index = index as u64;
        if index < 2 * SUB_BUCKETS {
            return index;
        }
        let shift = index / SUB_BUCKETS - 1;
        (index % SUB_BUCKETS + SUB_BUCKETS) << shift
    }

    /// Counts one latency.
    pub fn record(&mut self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.buckets[Histogram::index(micros)] += 1;
        self.count += 1;
    }

    /// Adds `other`'s counts to this one.
    pub fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.count += other.count;
    }

    /// The latency at `percent` (0–100): the lower bound of the bucket that holds it.
    pub fn percentile(&self, percent: f64) -> Duration {
        let rank = ((percent / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (index, count) in self.buckets.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Duration::from_micros(Histogram::lower_bound(index));
            }
        }
        Duration::ZERO
    }
}

/// A load in progress: every worker sends requests back to back and records each outcome in
/// the current phase, starting with `WARM_UP`.
pub struct Run {
    phase: Arc<AtomicU8>,
    counting_since: Option<Instant>,
    workers: Vec<tokio::task::JoinHandle<(usize, [Tally; 3])>>,
    /// Requests completed so far by kind, every phase included.
    completed: Arc<Vec<AtomicU64>>,
}

impl Run {
    /// Starts the workers (on the current Tokio runtime).
    pub fn start<W: Worker>(workers: impl IntoIterator<Item = W>) -> Run {
        let workers: Vec<W> = workers.into_iter().collect();
        let kinds = workers
            .iter()
            .map(|worker| worker.kind() + 1)
            .max()
            .unwrap_or(0);
        let completed = Arc::new((0..kinds).map(|_| AtomicU64::new(0)).collect::<Vec<_>>());
        let phase = Arc::new(AtomicU8::new(WARM_UP as u8));
        let workers = workers
            .into_iter()
            .map(|mut worker| {
                let (phase, completed) = (phase.clone(), completed.clone());
                tokio::spawn(async move {
                    let mut tallies: [Tally; 3] = Default::default();
                    loop {
                        let started = Instant::now();
                        let outcome = worker.next().await;
                        let latency = started.elapsed();
                        let now = usize::from(phase.load(Ordering::Relaxed)).min(DRAIN);
                        tallies[now].record(outcome, latency);
                        completed[worker.kind()].fetch_add(1, Ordering::Relaxed);
                        if phase.load(Ordering::Relaxed) == STOP {
                            return (worker.kind(), tallies);
                        }
                    }
                })
            })
            .collect();
        Run {
            phase,
            counting_since: None,
            workers,
            completed,
        }
    }

    /// Requests completed so far by kind, every phase included.
    pub fn completed(&self) -> Vec<u64> {
        self.completed
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect()
    }

    /// Ends the warm-up: outcomes from now on are counted.
    pub fn count(&mut self) {
        self.phase.store(COUNTED as u8, Ordering::Relaxed);
        self.counting_since = Some(Instant::now());
    }

    /// Ends the counted window and returns its length in seconds.
    pub fn end_count(&mut self) -> f64 {
        self.phase.store(DRAIN as u8, Ordering::Relaxed);
        self.counting_since
            .map_or(0.0, |since| since.elapsed().as_secs_f64())
    }

    /// Lets every worker finish its request, then returns the tallies by kind and phase.
    pub async fn stop(self) -> anyhow::Result<Vec<[Tally; 3]>> {
        self.phase.store(STOP, Ordering::Relaxed);
        let mut by_kind: Vec<[Tally; 3]> = vec![Default::default(); self.completed.len()];
        for worker in self.workers {
            let (kind, tallies) = worker.await?;
            for (total, tally) in by_kind[kind].iter_mut().zip(&tallies) {
                total.merge(tally);
            }
        }
        Ok(by_kind)
    }
}

/// One request built afresh each time, expected to succeed (any 2xx) with any body.
struct Repeat<F> {
    client: reqwest::Client,
    request: F,
}

impl<F> Worker for Repeat<F>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    fn kind(&self) -> usize {
        0
    }

    async fn next(&mut self) -> Outcome {
        match (self.request)(&self.client).send().await {
            Ok(response) if response.status().is_success() => match response.bytes().await {
                Ok(_) => Outcome::Ok,
                Err(error) => Outcome::Transport(transport_error(&error)),
            },
            Ok(response) => Outcome::Status(response.status().as_u16(), String::new()),
            Err(error) => Outcome::Transport(transport_error(&error)),
        }
    }
}

/// What a load run measured.
pub struct Load {
    pub per_second: f64,
    /// Successes divided by the CPU time the server used while counting.
    pub per_server_cpu_second: f64,
    pub server_cores: f64,
    pub client_cores: f64,
}

/// Sends `request` from `concurrency` tasks; after a one-second warm-up, counts the successes
/// of `seconds` and the CPU time of the server (`server_pid`) and of this process meanwhile.
/// Any failed request, warm-up included, fails the load.
pub async fn load<F>(
    client: &reqwest::Client,
    request: F,
    seconds: u64,
    concurrency: usize,
    server_pid: u32,
) -> anyhow::Result<Load>
where
    F: Fn(&reqwest::Client) -> reqwest::RequestBuilder + Clone + Send + Sync + 'static,
{
    let mut run = Run::start((0..concurrency).map(|_| Repeat {
        client: client.clone(),
        request: request.clone(),
    }));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_pid = server_pid.to_string();
    let server_before = cpu_seconds(&server_pid)?;
    let client_before = cpu_seconds("self")?;
    run.count();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let elapsed = run.end_count();
    let server_cpu = cpu_seconds(&server_pid)? - server_before;
    let client_cpu = cpu_seconds("self")? - client_before;
    let tallies = run.stop().await?;
    let Some([warm_up, counted, drain]) = tallies.first() else {
        bail!("no workers");
    };
    let failures = warm_up.errors() + counted.errors() + drain.errors();
    if failures > 0 {
        bail!("{failures} requests failed under load");
    }
    let successes = counted.successes() as f64;
    Ok(Load {
        per_second: successes / elapsed,
        per_server_cpu_second: successes / server_cpu,
        server_cores: server_cpu / elapsed,
        client_cores: client_cpu / elapsed,
    })
}

/// User + system CPU seconds of a process, from `/proc/<pid>/stat` (USER_HZ = 100).
pub fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .context("short /proc stat line")?
            .parse::<f64>()?)
    };
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

/// Peak resident memory of a process in KiB (`VmHWM` in `/proc/<pid>/status`).
pub fn peak_memory_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmHWM")
}

/// Resident memory of a process in KiB now (`VmRSS` in `/proc/<pid>/status`).
pub fn resident_kib(pid: u32) -> anyhow::Result<u64> {
    status_kib(pid, "VmRSS")
}

fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}
