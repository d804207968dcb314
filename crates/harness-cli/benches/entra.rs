//! Benchmarks of the fake Entra ID, printed as a Markdown table for the README:
//! 1. spawn → first HTTPS token response, in-process (fresh PKI, listener and client each time);
//! 2. tokens per second from `d365-harness serve` under concurrent load, beside the raw RS256
//!    signing rate of the same key (aws-lc-rs, key parsed once), measured in the same run.
//!
//! Run: `cargo bench -p harness-cli --bench entra` (release profile). Knobs (environment):
//! `BENCH_SECONDS` (load and signing duration, default 5), `BENCH_CONCURRENCY` (default 32),
//! `BENCH_SPAWNS` (default 50).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

fn main() -> anyhow::Result<()> {
    let seconds: u64 = env_number("BENCH_SECONDS", 5);
    let concurrency: usize = env_number("BENCH_CONCURRENCY", 32);
    let spawns: usize = env_number("BENCH_SPAWNS", 50);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?;
    let root = repo_root();

    let spawn_times = runtime.block_on(spawn_to_first_token(&root, spawns))?;
    let load = runtime.block_on(serve_throughput(&root, seconds, concurrency))?;
    let served = load.tokens_per_second;
    let raw_one = raw_signing_rate(&root, 1, seconds)?;
    let raw_all = raw_signing_rate(&root, cores, seconds)?;

    let median = percentile(&spawn_times, 50.0);
    let p95 = percentile(&spawn_times, 95.0);
    println!("| measurement | result |");
    println!("|---|---|");
    println!(
        "| spawn → first HTTPS token response, in-process ({spawns} runs) | median {median:.2} ms, p95 {p95:.2} ms |"
    );
    println!(
        "| tokens/s from `serve`, {concurrency} concurrent requests, {seconds} s | {served:.0}/s |"
    );
    println!(
        "| CPU used during the load: `serve` / load generator | {:.2} / {:.2} cores |",
        load.server_cores, load.client_cores
    );
    println!(
        "| tokens per CPU-second of `serve` | {:.0}/s |",
        load.tokens_per_server_cpu_second
    );
    println!("| raw RS256 signing, same key, 1 thread | {raw_one:.0}/s |");
    println!("| raw RS256 signing, same key, {cores} threads | {raw_all:.0}/s |");
    println!(
        "| `serve` vs raw signing on all {cores} cores (load generator on the same cores) | {:.0}% |",
        100.0 * served / raw_all
    );
    println!(
        "| `serve` per CPU-second vs raw signing per CPU-second | {:.0}% |",
        100.0 * load.tokens_per_server_cpu_second / raw_one
    );
    Ok(())
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn percentile(samples: &[f64], percent: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let index = ((percent / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

const DATAVERSE_SCOPE: &str = "https://contoso.crm.dynamics.com/.default";

/// Milliseconds from `fake_entra::spawn` to the body of the first token response.
async fn spawn_to_first_token(root: &Path, runs: usize) -> anyhow::Result<Vec<f64>> {
    let world = scenario::World::load(root.join("fixtures/worlds/demo.toml"))?;
    let now = fake_core::Clock::system().now();
    let demo = world.client_credentials(now)?;
    let (tenant_id, client_id) = (demo.tenant.id.to_string(), demo.app.client_id.to_string());
    let client_secret = demo.secret.value.expose();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let config = world.entra_config(
            fake_core::Clock::system(),
            fake_core::IdGenerator::seeded(1),
        )?;
        let started = Instant::now();
        let server = fake_entra::spawn(config).await?;
        let client = client(
            server.ca_pem(),
            &[("login.microsoftonline.com", server.addr())],
        )?;
        let response = client
            .post(format!(
                "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
                tenant_id
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client_id.as_str()),
                ("client_secret", client_secret),
                ("scope", DATAVERSE_SCOPE),
            ])
            .send()
            .await?;
        if !response.status().is_success() {
            bail!("token request failed: {}", response.text().await?);
        }
        response.bytes().await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        server.shutdown().await;
    }
    Ok(times)
}

fn client(ca_pem: &str, hosts: &[(&str, std::net::SocketAddr)]) -> anyhow::Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]).no_proxy();
    for (host, addr) in hosts {
        builder = builder.resolve(host, *addr);
    }
    Ok(builder.build()?)
}

fn http1_client(ca_pem: &str, addr: std::net::SocketAddr) -> anyhow::Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(ca_pem.as_bytes())?;
    Ok(reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .http1_only()
        .pool_max_idle_per_host(usize::MAX)
        .resolve("login.microsoftonline.com", addr)
        .build()?)
}

struct Serve {
    child: Child,
    state_dir: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

/// What the load on `serve` measured.
struct Load {
    tokens_per_second: f64,
    /// Tokens divided by the CPU time `serve` used while counting.
    tokens_per_server_cpu_second: f64,
    server_cores: f64,
    client_cores: f64,
}

/// User + system CPU seconds of a process, from `/proc/<pid>/stat` (Linux; USER_HZ = 100).
fn cpu_seconds(pid: &str) -> anyhow::Result<f64> {
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

/// Token responses per second from a `d365-harness serve` process.
async fn serve_throughput(root: &Path, seconds: u64, concurrency: usize) -> anyhow::Result<Load> {
    let state_dir = std::env::temp_dir().join(format!("d365-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state_dir);
    let child = Command::new(env!("CARGO_BIN_EXE_d365-harness"))
        .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
        .arg(&state_dir)
        .arg("--world")
        .arg(root.join("fixtures/worlds/demo.toml"))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("failed to start `d365-harness serve`")?;
    let serve = Serve { child, state_dir };
    let env_file = serve.state_dir.join("connection.env");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !env_file.exists() {
        if Instant::now() > deadline {
            bail!("`serve` did not write {} within 30 s", env_file.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let env = std::fs::read_to_string(&env_file)?;
    let value = |key: &str| {
        env.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .map(str::to_owned)
            .with_context(|| format!("`{key}` missing from connection.env"))
    };
    let ca_pem = std::fs::read_to_string(value("D365_CA_FILE")?)?;
    let addr = value("D365_HOST_MAP")?
        .split(',')
        .find_map(|pair| pair.strip_prefix("login.microsoftonline.com="))
        .context("no address for login.microsoftonline.com in D365_HOST_MAP")?
        .parse()?;
    let url = format!(
        "https://login.microsoftonline.com/{}/oauth2/v2.0/token",
        value("D365_TENANT_ID")?
    );
    let form = Arc::new(vec![
        ("grant_type".to_owned(), "client_credentials".to_owned()),
        ("client_id".to_owned(), value("D365_CLIENT_ID")?),
        ("client_secret".to_owned(), value("D365_CLIENT_SECRET")?),
        ("scope".to_owned(), DATAVERSE_SCOPE.to_owned()),
    ]);
    // HTTP/1.1 keep-alive, one connection per concurrent request: what MSAL Python,
    // azure-identity (requests) and msal-node (Node's https/fetch) use against Entra.
    let client = http1_client(&ca_pem, addr)?;

    let counted = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let client = client.clone();
        let (url, form) = (url.clone(), form.clone());
        let (counted, stop, done, failures) = (
            counted.clone(),
            stop.clone(),
            done.clone(),
            failures.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = match client.post(&url).form(&*form).send().await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        ok && response.bytes().await.is_ok()
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
    tokio::time::sleep(Duration::from_secs(1)).await; // warm-up: connections, caches
    let server_pid = serve.child.id().to_string();
    let server_cpu_before = cpu_seconds(&server_pid)?;
    let client_cpu_before = cpu_seconds("self")?;
    counted.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    counted.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(&server_pid)? - server_cpu_before;
    let client_cpu = cpu_seconds("self")? - client_cpu_before;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await?;
    }
    let failures = failures.load(Ordering::Relaxed);
    if failures > 0 {
        bail!("{failures} token requests failed under load");
    }
    drop(serve);
    let tokens = done.load(Ordering::Relaxed) as f64;
    Ok(Load {
        tokens_per_second: tokens / elapsed,
        tokens_per_server_cpu_second: tokens / server_cpu,
        server_cores: server_cpu / elapsed,
        client_cores: client_cpu / elapsed,
    })
}

/// RS256 signatures per second over a token-sized message, key parsed once, on `threads`.
fn raw_signing_rate(root: &Path, threads: usize, seconds: u64) -> anyhow::Result<f64> {
    let pem = std::fs::read_to_string(root.join("fixtures/keys/entra-signing.key.pem"))?;
    let der = rustls_pki_types::PrivateKeyDer::from_pem_slice(pem.as_bytes())
        .context("cannot read the signing key")?;
    let rustls_pki_types::PrivateKeyDer::Pkcs8(pkcs8) = der else {
        bail!("the committed signing key is PKCS#8");
    };
    let key = Arc::new(
        RsaKeyPair::from_pkcs8(pkcs8.secret_pkcs8_der())
            .map_err(|error| anyhow::anyhow!("not an RSA key: {error}"))?,
    );
    // About the length of an encoded header and claims of a Dataverse token.
    let message = Arc::new(vec![b'x'; 900]);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (key, message, stop) = (key.clone(), message.clone(), stop.clone());
            std::thread::spawn(move || {
                let rng = SystemRandom::new();
                let mut signature = vec![0u8; key.public_modulus_len()];
                let mut count = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    key.sign(&RSA_PKCS1_SHA256, &rng, &message, &mut signature)
                        .expect("signing with a valid key");
                    count += 1;
                }
                count
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    let total: u64 = handles
        .into_iter()
        .map(|handle| handle.join().unwrap_or(0))
        .sum();
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

use rustls_pki_types::pem::PemObject as _;
