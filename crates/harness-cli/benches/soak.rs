//! Load and soak of `d365-harness serve`: keep-alive connections mixing client-credentials
//! tokens, WhoAmI and paged reads of a generated 1,000,000-row table for a warm-up and a counted
//! window; prints requests, errors, 5xx, p50/p99 and throughput per kind and `serve`'s RSS, then
//! PASS/FAIL lines (zero errors, zero 5xx, RSS growth within bounds; exit 1 on a FAIL).
//! Run: `cargo bench -p harness-cli --bench soak`; knobs in [`Settings`].

#![allow(clippy::print_stdout, reason = "a benchmark reports on stdout")]
#![allow(clippy::print_stderr, reason = "progress of a long run goes to stderr")]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;
use serde::de::IgnoredAny;

#[path = "common/harness.rs"]
mod harness;

use harness::{
    COUNTED, DRAIN, Outcome, Run, Serve, Tally, WARM_UP, Worker, bench_world, cpu_seconds,
    env_number, fetch, peak_memory_kib, repo_root, resident_kib,
};

/// The knobs, each from an environment variable.
#[derive(Debug, Clone)]
struct Settings {
    /// `SOAK_SECONDS` (default 30): the counted window.
    seconds: u64,
    /// `SOAK_WARMUP_SECONDS` (default 10): the shortest warm-up (load before the window; RSS
    /// is read at its end).
    warm_up_seconds: u64,
    /// `SOAK_WARMUP_REQUESTS` (default 10000): the warm-up also lasts until every kind has
    /// completed this many requests, so that `serve`'s bounded memories are full before RSS is
    /// read: the journal keeps the last 10,000 exchanges and the fake Dataverse remembers up to
    /// 4,096 verified tokens (every token request gives WhoAmI and pages a new one). Measured
    /// with 10 s and no request floor on this machine (~300 tokens/s), RSS grew 25% in the
    /// window while both filled, and stayed flat after a 40 s warm-up.
    warm_up_requests: u64,
    /// `SOAK_WARMUP_MAX_SECONDS` (default 180): the warm-up ends then even short of requests.
    warm_up_max_seconds: u64,
    /// `SOAK_CONNECTIONS` (default 64): connection `i` sends request kind `i % 3`.
    connections: usize,
    /// `SOAK_ROWS` (default 1000000): generated rows of the account table.
    rows: u64,
    /// `SOAK_PAGE_SIZE` (default 5000): `Prefer: odata.maxpagesize`.
    page_size: u64,
    /// `SOAK_SCAN_PAGES` (default 20): a scan restarts from the first page after a number of
    /// pages drawn from 1 to this.
    scan_pages: u64,
    /// `SOAK_RSS_GROWTH_PERCENT` (default 10): the most RSS may grow from warm-up to the end.
    rss_growth_percent: f64,
}

impl Settings {
    fn from_env() -> Settings {
        Settings {
            seconds: env_number("SOAK_SECONDS", 30),
            warm_up_seconds: env_number("SOAK_WARMUP_SECONDS", 10),
            warm_up_requests: env_number("SOAK_WARMUP_REQUESTS", 10_000),
            warm_up_max_seconds: env_number("SOAK_WARMUP_MAX_SECONDS", 180),
            connections: env_number("SOAK_CONNECTIONS", 64),
            rows: env_number("SOAK_ROWS", 1_000_000),
            page_size: env_number("SOAK_PAGE_SIZE", 5000).max(1),
            scan_pages: env_number("SOAK_SCAN_PAGES", 20).max(1),
            rss_growth_percent: env_number("SOAK_RSS_GROWTH_PERCENT", 10.0),
        }
    }
}

/// The request kinds, in the order of `Connection::kind`.
const KINDS: [&str; 3] = ["token", "WhoAmI", "page"];

fn main() -> anyhow::Result<()> {
    let settings = Settings::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?;
    let world = bench_world(&repo_root(), settings.rows)?;
    let serve = Serve::start(&world)?;
    let soak = runtime.block_on(soak(&serve, &settings));
    drop(serve);
    let _ = std::fs::remove_dir_all(world.parent().context("the world's folder")?);
    let soak = soak?;
    print_report(&settings, &soak);
    let failed = check(&settings, &soak);
    if failed > 0 {
        bail!("{failed} pass criteria failed");
    }
    Ok(())
}

/// What the requests of every kind share.
struct Shared {
    client: reqwest::Client,
    token_url: String,
    token_form: Vec<(String, String)>,
    who_am_i: String,
    first_page: String,
    prefer: String,
    settings: Settings,
    /// The newest token a token connection got: WhoAmI and pages use it, so the fake Dataverse
    /// sees a stream of fresh tokens as it would from many clients over time.
    latest_token: Mutex<Arc<str>>,
}

impl Shared {
    fn token(&self) -> Arc<str> {
        self.latest_token
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// One connection's loop: which kind it sends and what it remembers between requests.
enum Connection {
    Token(Arc<Shared>),
    WhoAmI(Arc<Shared>),
    Pages(Scan),
}

/// A paged read in progress.
struct Scan {
    shared: Arc<Shared>,
    next_link: Option<String>,
    pages: u64,
    rows: u64,
    /// After how many pages this scan restarts.
    length: u64,
    random: u64,
}

impl Worker for Connection {
    fn kind(&self) -> usize {
        match self {
            Connection::Token(_) => 0,
            Connection::WhoAmI(_) => 1,
            Connection::Pages(_) => 2,
        }
    }

    async fn next(&mut self) -> Outcome {
        match self {
            Connection::Token(shared) => token(shared).await,
            Connection::WhoAmI(shared) => who_am_i(shared).await,
            Connection::Pages(scan) => scan.next_page().await,
        }
    }
}

async fn token(shared: &Shared) -> Outcome {
    #[derive(Deserialize)]
    struct TokenResponse {
        token_type: String,
        access_token: String,
    }
    let request = shared
        .client
        .post(&shared.token_url)
        .form(&shared.token_form);
    // The body holds a token: a problem with it is described, never quoted.
    let parsed = fetch(request, 200, |body| {
        let response: TokenResponse = serde_json::from_slice(body)
            .map_err(|error| format!("not a token response: {error}"))?;
        if !response.token_type.eq_ignore_ascii_case("bearer") || response.access_token.is_empty() {
            return Err("no bearer token in the token response".to_owned());
        }
        Ok(response.access_token)
    })
    .await;
    match parsed {
        Ok(access_token) => {
            *shared
                .latest_token
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = access_token.into();
            Outcome::Ok
        }
        Err(outcome) => outcome,
    }
}

async fn who_am_i(shared: &Shared) -> Outcome {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct WhoAmIResponse {
        user_id: uuid::Uuid,
        business_unit_id: uuid::Uuid,
        organization_id: uuid::Uuid,
    }
    let request = shared
        .client
        .get(&shared.who_am_i)
        .bearer_auth(shared.token());
    let checked = fetch(request, 200, |body| {
        let response: WhoAmIResponse = serde_json::from_slice(body)
            .map_err(|error| format!("not a WhoAmI response: {error}: {}", excerpt(body)))?;
        if response.user_id.is_nil()
            || response.business_unit_id.is_nil()
            || response.organization_id.is_nil()
        {
            return Err(format!("a nil id: {}", excerpt(body)));
        }
        Ok(())
    })
    .await;
    match checked {
        Ok(()) => Outcome::Ok,
        Err(outcome) => outcome,
    }
}

/// One page of a collection: its rows (not kept) and the link to the next page.
#[derive(Deserialize)]
struct Page {
    value: Vec<IgnoredAny>,
    #[serde(rename = "@odata.nextLink")]
    next_link: Option<String>,
}

impl Scan {
    fn new(shared: Arc<Shared>, seed: u64) -> Scan {
        let mut scan = Scan {
            shared,
            next_link: None,
            pages: 0,
            rows: 0,
            length: 0,
            random: seed,
        };
        scan.restart();
        scan
    }

    /// Back to the first page, with a new length drawn from 1 to `scan_pages`.
    fn restart(&mut self) {
        // Knuth's MMIX LCG: enough to spread the restart points, deterministic per connection.
        self.random = self
            .random
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.length = 1 + (self.random >> 33) % self.shared.settings.scan_pages;
        self.next_link = None;
        self.pages = 0;
        self.rows = 0;
    }

    async fn next_page(&mut self) -> Outcome {
        let shared = &self.shared;
        let url = self.next_link.as_deref().unwrap_or(&shared.first_page);
        let request = shared
            .client
            .get(url)
            .bearer_auth(shared.token())
            .header("Prefer", &shared.prefer);
        let page = fetch(request, 200, |body| {
            serde_json::from_slice::<Page>(body)
                .map_err(|error| format!("not a page: {error}: {}", excerpt(body)))
        })
        .await;
        let page = match page {
            Ok(page) => page,
            Err(outcome) => {
                self.restart();
                return outcome;
            }
        };
        let (page_size, total) = (shared.settings.page_size, shared.settings.rows);
        let rows = page.value.len() as u64;
        self.pages += 1;
        self.rows += rows;
        let outcome = match &page.next_link {
            Some(_) if rows != page_size => Outcome::Body(format!(
                "page {} has {rows} rows and a next link; expected {page_size}",
                self.pages
            )),
            None if self.rows != total => Outcome::Body(format!(
                "the scan ended on page {} after {} rows; expected {total}",
                self.pages, self.rows
            )),
            _ => Outcome::Ok,
        };
        match page.next_link {
            Some(next_link) if self.pages < self.length && matches!(outcome, Outcome::Ok) => {
                self.next_link = Some(next_link);
            }
            _ => self.restart(),
        }
        outcome
    }
}

/// The start of a body, for an error sample (only bodies without secrets are quoted).
fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

/// What the soak measured.
struct Soak {
    warm_up: WarmUp,
    connections: [usize; 3],
    /// Tallies by kind, then phase (`WARM_UP`, `COUNTED`, `DRAIN`).
    tallies: Vec<[Tally; 3]>,
    window_seconds: f64,
    server_cores: f64,
    client_cores: f64,
    rss_after_warm_up: u64,
    rss_after_run: u64,
    rss_low: u64,
    rss_high: u64,
    peak: u64,
}

async fn soak(serve: &Serve, settings: &Settings) -> anyhow::Result<Soak> {
    let client = serve.client()?;
    let environment = serve.environment()?;
    let first_token = serve.environment_token(&client).await?;
    let shared = Arc::new(Shared {
        token_url: serve.token_url()?,
        token_form: serve.token_form(&format!("{environment}/.default"))?,
        who_am_i: format!("{environment}/api/data/v9.2/WhoAmI()"),
        first_page: format!("{environment}/api/data/v9.2/accounts?$select=name"),
        prefer: format!("odata.maxpagesize={}", settings.page_size),
        settings: settings.clone(),
        latest_token: Mutex::new(first_token.into()),
        client,
    });
    let mut connections = [0; 3];
    let workers: Vec<Connection> = (0..settings.connections)
        .map(|index| {
            connections[index % 3] += 1;
            let shared = shared.clone();
            match index % 3 {
                0 => Connection::Token(shared),
                1 => Connection::WhoAmI(shared),
                _ => Connection::Pages(Scan::new(shared, index as u64)),
            }
        })
        .collect();
    let pid = serve.child.id();
    let server_pid = pid.to_string();
    let mut run = Run::start(workers);
    let warm_up = warm_up(&run, settings).await;
    let rss_after_warm_up = resident_kib(pid)?;
    let server_before = cpu_seconds(&server_pid)?;
    let client_before = cpu_seconds("self")?;
    run.count();
    // RSS every second through the window; a line on stderr every tenth of a long run.
    let started = Instant::now();
    let window = Duration::from_secs(settings.seconds);
    let progress_every = (settings.seconds / 10).max(10);
    let (mut rss_low, mut rss_high) = (rss_after_warm_up, rss_after_warm_up);
    let mut ticks = 0u64;
    while started.elapsed() < window {
        let left = window.saturating_sub(started.elapsed());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        let rss = resident_kib(pid)?;
        rss_low = rss_low.min(rss);
        rss_high = rss_high.max(rss);
        ticks += 1;
        if ticks.is_multiple_of(progress_every) && started.elapsed() < window {
            eprintln!(
                "soak: {} s of {}, serve RSS {:.1} MB",
                started.elapsed().as_secs(),
                settings.seconds,
                mib(rss)
            );
        }
    }
    let window_seconds = run.end_count();
    let rss_after_run = resident_kib(pid)?;
    let server_cpu = cpu_seconds(&server_pid)? - server_before;
    let client_cpu = cpu_seconds("self")? - client_before;
    let tallies = run.stop().await?;
    Ok(Soak {
        warm_up,
        connections,
        tallies,
        window_seconds,
        server_cores: server_cpu / window_seconds,
        client_cores: client_cpu / window_seconds,
        rss_after_warm_up,
        rss_after_run,
        rss_low: rss_low.min(rss_after_run),
        rss_high: rss_high.max(rss_after_run),
        peak: peak_memory_kib(pid)?,
    })
}

/// How the warm-up went.
struct WarmUp {
    seconds: f64,
    /// Requests completed by kind.
    requests: Vec<u64>,
    /// Whether it ended at `SOAK_WARMUP_MAX_SECONDS`, short of requests.
    cut: bool,
}

/// Waits at least `warm_up_seconds` and until every kind has completed `warm_up_requests`, at
/// most `warm_up_max_seconds`.
async fn warm_up(run: &Run, settings: &Settings) -> WarmUp {
    let started = Instant::now();
    let shortest = Duration::from_secs(settings.warm_up_seconds);
    let longest = Duration::from_secs(settings.warm_up_max_seconds.max(settings.warm_up_seconds));
    loop {
        let elapsed = started.elapsed();
        let requests = run.completed();
        let enough = requests
            .iter()
            .all(|count| *count >= settings.warm_up_requests);
        if (elapsed >= shortest && enough) || elapsed >= longest {
            return WarmUp {
                seconds: elapsed.as_secs_f64(),
                requests,
                cut: !enough,
            };
        }
        let wait = if elapsed < shortest {
            shortest - elapsed
        } else {
            Duration::from_millis(250)
        };
        tokio::time::sleep(wait.min(longest - elapsed)).await;
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn millis(latency: Duration) -> f64 {
    latency.as_secs_f64() * 1000.0
}

fn print_report(settings: &Settings, soak: &Soak) {
    println!(
        "load and soak of `d365-harness serve`: {} connections ({} token, {} WhoAmI, {} paging), {:.1} s warm-up ({} requests: {}{}), {:.1} s counted; pages of {} rows over {} generated accounts, restarting after 1 to {} pages",
        settings.connections,
        soak.connections[0],
        soak.connections[1],
        soak.connections[2],
        soak.warm_up.seconds,
        soak.warm_up.requests.iter().sum::<u64>(),
        soak.warm_up
            .requests
            .iter()
            .zip(KINDS)
            .map(|(count, kind)| format!("{count} {kind}"))
            .collect::<Vec<_>>()
            .join(", "),
        if soak.warm_up.cut {
            format!(
                "; cut at {} s, short of {} per kind",
                settings.warm_up_max_seconds, settings.warm_up_requests
            )
        } else {
            String::new()
        },
        soak.window_seconds,
        settings.page_size,
        settings.rows,
        settings.scan_pages,
    );
    println!();
    println!(
        "| kind | connections | requests | transport errors | unexpected statuses | bad bodies | 5xx | p50 | p99 | throughput |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    let mut total = Tally::default();
    for (kind, phases) in soak.tallies.iter().enumerate() {
        let counted = &phases[COUNTED];
        total.merge(counted);
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} ms | {:.2} ms | {:.0}/s |",
            KINDS[kind],
            soak.connections[kind],
            counted.requests,
            counted.transport_errors,
            statuses(counted),
            counted.body_errors,
            counted.server_errors(),
            millis(counted.latency.percentile(50.0)),
            millis(counted.latency.percentile(99.0)),
            counted.requests as f64 / soak.window_seconds,
        );
    }
    println!(
        "| all | {} | {} | {} | {} | {} | {} | {:.2} ms | {:.2} ms | {:.0}/s |",
        settings.connections,
        total.requests,
        total.transport_errors,
        statuses(&total),
        total.body_errors,
        total.server_errors(),
        millis(total.latency.percentile(50.0)),
        millis(total.latency.percentile(99.0)),
        total.requests as f64 / soak.window_seconds,
    );
    println!();
    if let Some(pages) = soak.tallies.get(2) {
        println!(
            "paging: {:.0} rows/s in the window",
            pages[COUNTED].successes() as f64 * settings.page_size as f64 / soak.window_seconds
        );
    }
    println!(
        "CPU in the window: `serve` {:.2} cores, load generator {:.2} cores (same 2 cores)",
        soak.server_cores, soak.client_cores
    );
    println!(
        "`serve` RSS: {:.1} MB after warm-up, {:.1} MB after the run ({:+.1}%); {:.1}–{:.1} MB during the run; peak (VmHWM) {:.1} MB",
        mib(soak.rss_after_warm_up),
        mib(soak.rss_after_run),
        growth_percent(soak),
        mib(soak.rss_low),
        mib(soak.rss_high),
        mib(soak.peak),
    );
    for (kind, phases) in soak.tallies.iter().enumerate() {
        for (phase, name) in [(WARM_UP, "warm-up"), (COUNTED, "run"), (DRAIN, "drain")] {
            let tally = &phases[phase];
            if tally.errors() > 0 {
                println!(
                    "{} errors in the {name}: {} ({} transport, statuses {}, {} bad bodies); first ones:",
                    KINDS[kind],
                    tally.errors(),
                    tally.transport_errors,
                    statuses(tally),
                    tally.body_errors
                );
                for sample in &tally.samples {
                    println!("  {sample}");
                }
            }
        }
    }
    println!();
}

/// Unexpected statuses as `count×status`, or 0.
fn statuses(tally: &Tally) -> String {
    if tally.statuses.is_empty() {
        return "0".to_owned();
    }
    tally
        .statuses
        .iter()
        .map(|(status, count)| format!("{count}×{status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn growth_percent(soak: &Soak) -> f64 {
    100.0 * (soak.rss_after_run as f64 - soak.rss_after_warm_up as f64)
        / soak.rss_after_warm_up as f64
}

/// Prints a PASS or FAIL line per criterion and returns the number of FAILs.
fn check(settings: &Settings, soak: &Soak) -> usize {
    let mut all = Tally::default();
    for phases in &soak.tallies {
        for tally in phases {
            all.merge(tally);
        }
    }
    let counted: Vec<String> = soak
        .tallies
        .iter()
        .enumerate()
        .map(|(kind, phases)| format!("{} {}", KINDS[kind], phases[COUNTED].successes()))
        .collect();
    let growth = growth_percent(soak);
    let criteria = [
        (
            soak.tallies.len() == KINDS.len()
                && soak
                    .tallies
                    .iter()
                    .all(|phases| phases[COUNTED].successes() > 0),
            format!(
                "every kind succeeded in the window ({})",
                counted.join(", ")
            ),
        ),
        (
            all.errors() == 0,
            format!(
                "zero errors over warm-up, run and drain ({} transport, {} unexpected statuses, {} bad bodies of {} requests)",
                all.transport_errors,
                all.status_errors(),
                all.body_errors,
                all.requests
            ),
        ),
        (
            all.server_errors() == 0,
            format!("zero 5xx ({})", all.server_errors()),
        ),
        (
            growth <= settings.rss_growth_percent,
            format!(
                "RSS after the run within {}% of RSS after warm-up ({:.1} MB -> {:.1} MB, {growth:+.1}%)",
                settings.rss_growth_percent,
                mib(soak.rss_after_warm_up),
                mib(soak.rss_after_run)
            ),
        ),
    ];
    let mut failed = 0;
    for (passed, text) in criteria {
        println!("{} {text}", if passed { "PASS" } else { "FAIL" });
        failed += usize::from(!passed);
    }
    failed
}
