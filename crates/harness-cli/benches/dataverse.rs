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

use std::time::Instant;

use anyhow::{Context, bail};

#[path = "common/harness.rs"]
mod harness;

use harness::{Serve, bench_world, env_number, load, peak_memory_kib, repo_root};

fn main() -> anyhow::Result<()> {
    let seconds: u64 = env_number("BENCH_SECONDS", 5);
    let concurrency: usize = env_number("BENCH_CONCURRENCY", 32);
    let rows: u64 = env_number("BENCH_ROWS", 1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?;
    let world = bench_world(&repo_root(), rows)?;
    let serve = Serve::start(&world)?;
    let report = runtime.block_on(measure(&serve, seconds, concurrency, rows))?;
    let peak = peak_memory_kib(serve.child.id())?;
    drop(serve);
    let _ = std::fs::remove_dir_all(world.parent().context("the world's folder")?);

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
    let environment = serve.environment()?;
    let token = serve.environment_token(&client).await?;

    let pid = serve.child.id();
    let health = format!("{environment}/_harness/health");
    let static_rate = load(
        &client,
        move |client: &reqwest::Client| client.get(&health),
        seconds,
        concurrency,
        pid,
    )
    .await?
    .per_second;
    let who_am_i = format!("{environment}/api/data/v9.2/WhoAmI()");
    let bearer = token.clone();
    let whoami_rate = load(
        &client,
        move |client: &reqwest::Client| client.get(&who_am_i).bearer_auth(&bearer),
        seconds,
        concurrency,
        pid,
    )
    .await?
    .per_second;

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
