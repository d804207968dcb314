//! Benchmarks of the fake Entra ID, printed as a Markdown table for the README:
//! 1. spawn → first HTTPS token response, in-process (fresh PKI, listener and client each time);
//! 2. tokens per second from `d365-harness serve` under concurrent load, beside the raw RS256
//!    signing rate of the same key (aws-lc-rs, key parsed once), measured in the same run.
//!
//! Run: `cargo bench -p harness-cli --bench entra` (release profile). Knobs (environment):
//! `BENCH_SECONDS` (load and signing duration, default 5), `BENCH_CONCURRENCY` (default 32),
//! `BENCH_SPAWNS` (default 50).

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject as _;

#[path = "common/harness.rs"]
mod harness;

use harness::{Serve, env_number, load, repo_root};

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
    let served = load.per_second;
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
        load.per_server_cpu_second
    );
    println!("| raw RS256 signing, same key, 1 thread | {raw_one:.0}/s |");
    println!("| raw RS256 signing, same key, {cores} threads | {raw_all:.0}/s |");
    println!(
        "| `serve` vs raw signing on all {cores} cores (load generator on the same cores) | {:.0}% |",
        100.0 * served / raw_all
    );
    println!(
        "| `serve` per CPU-second vs raw signing per CPU-second | {:.0}% |",
        100.0 * load.per_server_cpu_second / raw_one
    );
    Ok(())
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

/// Tokens per second from a `d365-harness serve` process on the demo world.
async fn serve_throughput(
    root: &Path,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<harness::Load> {
    let serve = Serve::start(&root.join("fixtures/worlds/demo.toml"))?;
    let client = serve.client()?;
    let url = Arc::new(serve.token_url()?);
    let form = Arc::new(serve.token_form(DATAVERSE_SCOPE)?);
    let request = move |client: &reqwest::Client| client.post(url.as_str()).form(&*form);
    load(&client, request, seconds, concurrency, serve.child.id()).await
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
