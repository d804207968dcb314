//! Benchmarks of the fake Dataverse through `d365-harness serve`, printed as a Markdown table:
//! 1. WhoAmI requests per second under concurrent load, beside the same listener answering a
//!    static 200 (`/_harness/health` on the environment host) in the same run;
//! 2. rows per second when one client pages through a generated 1,000,000-row table with
//!    5,000-row pages, and the server's peak memory (VmHWM) afterwards.
//!
//! Run: `cargo bench -p harness-cli --bench dataverse` (release profile). Knobs (environment):
//! `BENCH_SECONDS` (load duration, default 5), `BENCH_CONCURRENCY` (default 32),
//! `BENCH_ROWS` (default 1000000).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

fn main() -> anyhow::Result<()> {
    let seconds: u64 = env_number("BENCH_SECONDS", 5);
    let concurrency: usize = env_number("BENCH_CONCURRENCY", 32);
    let rows: u64 = env_number("BENCH_ROWS", 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let serve = Serve::start(&root, rows)?;
    let report = runtime.block_on(measure(&serve, seconds, concurrency, rows))?;
    let peak = peak_memory_kib(serve.child.id())?;
    drop(serve);

    println!("| measurement | result |");
    println!("|---|---|");
    println!(
        "| static 200 from the same listener (`/_harness/health`), {concurrency} concurrent, {seconds} s | {:.0}/s |",
        report.static_rate
    );
    println!(
        "| `WhoAmI()` with token validation and the application-user pipeline, {concurrency} concurrent, {seconds} s | {:.0}/s |",
        report.whoami_rate
    );
    println!(
        "| WhoAmI vs static ceiling | {:.0}% |",
        100.0 * report.whoami_rate / report.static_rate
    );
    println!(
        "| paging {rows} generated accounts, 5,000-row pages, one client | {:.0} rows/s ({} pages in {:.2} s) |",
        report.rows as f64 / report.paging_seconds,
        report.pages,
        report.paging_seconds
    );
    println!(
        "| peak memory of `serve` (VmHWM) | {:.1} MB |",
        peak as f64 / 1024.0
    );
    Ok(())
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

struct Serve {
    child: Child,
    folder: PathBuf,
    env: Vec<(String, String)>,
}

impl Serve {
    /// Writes a world with a `rows`-row account table and starts `serve` on it.
    fn start(root: &Path, rows: u64) -> anyhow::Result<Serve> {
        let folder =
            std::env::temp_dir().join(format!("d365-bench-dataverse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder)?;
        let demo = std::fs::read_to_string(root.join("fixtures/worlds/demo.toml"))?;
        let certificate = root.join("fixtures/keys/importer-client.crt.pem");
        // The demo world, with its certificate path made absolute and its environment replaced
        // by one whose account table has `rows` generated rows.
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
        let world_path = folder.join("bench.toml");
        std::fs::write(&world_path, world)?;
        let state = folder.join("state");
        let child = Command::new(env!("CARGO_BIN_EXE_d365-harness"))
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(&state)
            .arg("--world")
            .arg(&world_path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("failed to start `d365-harness serve`")?;
        let env_file = state.join("connection.env");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !env_file.exists() {
            if Instant::now() > deadline {
                bail!("`serve` did not write {} within 30 s", env_file.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let env = std::fs::read_to_string(&env_file)?
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        Ok(Serve { child, folder, env })
    }

    fn value(&self, key: &str) -> anyhow::Result<&str> {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .with_context(|| format!("`{key}` missing from connection.env"))
    }

    fn client(&self) -> anyhow::Result<reqwest::Client> {
        let ca = reqwest::Certificate::from_pem(
            std::fs::read_to_string(self.value("D365_CA_FILE")?)?.as_bytes(),
        )?;
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .http1_only()
            .pool_max_idle_per_host(usize::MAX);
        for pair in self.value("D365_HOST_MAP")?.split(',') {
            let (host, addr) = pair.split_once('=').context("a host=address pair")?;
            builder = builder.resolve(host, addr.parse()?);
        }
        Ok(builder.build()?)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

struct Report {
    static_rate: f64,
    whoami_rate: f64,
    rows: u64,
    pages: u64,
    paging_seconds: f64,
}

async fn measure(
    serve: &Serve,
    seconds: u64,
    concurrency: usize,
    rows: u64,
) -> anyhow::Result<Report> {
    let client = serve.client()?;
    let environment = serve
        .value("D365_ENVIRONMENT_URL")?
        .trim_end_matches('/')
        .to_owned();
    let token: serde_json::Value = client
        .post(format!(
            "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
            serve.value("D365_TENANT_ID")?
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", serve.value("D365_CLIENT_ID")?),
            ("client_secret", serve.value("D365_CLIENT_SECRET")?),
            ("scope", &format!("{environment}/.default")),
        ])
        .send()
        .await?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .with_context(|| format!("no token: {token}"))?
        .to_owned();

    let static_rate = load(
        &client,
        &format!("{environment}/_harness/health"),
        None,
        seconds,
        concurrency,
    )
    .await?;
    let whoami_rate = load(
        &client,
        &format!("{environment}/api/data/v9.2/WhoAmI()"),
        Some(&token),
        seconds,
        concurrency,
    )
    .await?;

    let started = Instant::now();
    let mut url = format!("{environment}/api/data/v9.2/accounts?$select=name");
    let mut seen = 0u64;
    let mut pages = 0u64;
    loop {
        let page: serde_json::Value = client
            .get(&url)
            .bearer_auth(&token)
            .header("Prefer", "odata.maxpagesize=5000")
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        seen += page["value"].as_array().map_or(0, |rows| rows.len() as u64);
        pages += 1;
        match page["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    let paging_seconds = started.elapsed().as_secs_f64();
    if seen != rows {
        bail!("paged {seen} rows, expected {rows}");
    }
    Ok(Report {
        static_rate,
        whoami_rate,
        rows: seen,
        pages,
        paging_seconds,
    })
}

/// Requests per second of successful GETs of `url` from `concurrency` tasks for `seconds`.
async fn load(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<f64> {
    let counted = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token) = (client.clone(), url.to_owned(), token.map(str::to_owned));
        let (counted, stop, done, failures) = (
            counted.clone(),
            stop.clone(),
            done.clone(),
            failures.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let mut request = client.get(&url);
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let ok = match request.send().await {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if counted.load(Ordering::Relaxed) {
                    if ok {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    counted.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    counted.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await?;
    }
    let failures = failures.load(Ordering::Relaxed);
    if failures > 0 {
        bail!("{failures} requests to {url} failed under load");
    }
    Ok(done.load(Ordering::Relaxed) as f64 / elapsed)
}

/// Peak resident memory of a process in KiB (`VmHWM` in `/proc/<pid>/status`).
fn peak_memory_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc status")
}
