//! Issue 13's speed limits in one run on this machine, as a Markdown table: a bare hyper+rustls
//! server's static answer and `serve`'s WhoAmI and tokens under the same load (the in-process
//! generator, HTTP/1.1 keep-alive), `openssl speed -elapsed -multi <cores> rsa2048`, and
//! launch → first token of the release binary. Run: `cargo bench -p harness-cli --bench speed`.

// Knobs (environment): `BENCH_SECONDS` (each load, default 5), `BENCH_CONCURRENCY` (default
// 32), `BENCH_ROUNDS` (bare and WhoAmI loads in turn, default 2), `BENCH_LAUNCHES` (default
// 11), `BENCH_OPENSSL_SECONDS` (default 5), `BENCH_SERVE_LOAD` (`whoami` or `tokens`: only that
// load, on a `serve` whose process id goes to standard error first, for `perf record -p`).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on stdout (and a process id for a profiler on stderr)"
)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};

#[path = "common/harness.rs"]
mod harness;

use harness::{Load, Serve, bench_world, env_number, keep_alive_client, load, repo_root};

/// Set (to a folder) in the environment of this benchmark's own executable when it runs as
/// the bare server.
const BARE_SERVER: &str = "D365_BENCH_BARE_SERVER";

/// The targets of issue 13.
const WHOAMI_TARGET: f64 = 0.60;
const TOKENS_TARGET: f64 = 0.85;
const START_UP_TARGET_MS: f64 = 15.0;

fn main() -> anyhow::Result<()> {
    if let Some(folder) = std::env::var_os(BARE_SERVER) {
        return bare::serve(Path::new(&folder));
    }
    let seconds: u64 = env_number("BENCH_SECONDS", 5);
    let concurrency: usize = env_number("BENCH_CONCURRENCY", 32);
    let launches: usize = env_number("BENCH_LAUNCHES", 11).max(1);
    let rounds: usize = env_number("BENCH_ROUNDS", 2).max(1);
    let openssl_seconds: u64 = env_number("BENCH_OPENSSL_SECONDS", 5);
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the Tokio runtime")?;
    if let Ok(only) = std::env::var("BENCH_SERVE_LOAD") {
        return runtime.block_on(one_serve_load(&only, seconds, concurrency));
    }

    let world = bench_world(&repo_root(), 10)?;
    let (bare, whoami, tokens) = {
        let bare = Bare::launch()?;
        let serve = Serve::start(&world)?;
        runtime.block_on(loads(&bare, &serve, rounds, seconds, concurrency))?
    };
    let _ = std::fs::remove_dir_all(world.parent().context("the world's folder")?);
    let openssl = openssl_sign_rate(cores, openssl_seconds)?;
    let serve_start = runtime.block_on(serve_start_ups(launches))?;
    let bare_start = runtime.block_on(bare_start_ups(launches))?;

    let whoami_ratio = whoami.per_second / bare.per_second;
    let tokens_ratio = tokens.per_second / openssl;
    let start_up = median(&serve_start);
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "| measurement ({cores} cores, {concurrency} connections, {rounds} rounds of {seconds} s loads) | result | target |"
    );
    println!("|---|---|---|");
    println!(
        "| bare hyper+rustls static response | {:.0}/s (server {:.2} / load generator {:.2} cores) | |",
        bare.per_second, bare.server_cores, bare.client_cores
    );
    println!(
        "| `serve` WhoAmI (token validation, application-user pipeline) | {:.0}/s (server {:.2} / load generator {:.2} cores) | |",
        whoami.per_second, whoami.server_cores, whoami.client_cores
    );
    println!(
        "| **WhoAmI vs bare server** | **{:.0}%** | ≥ {:.0}%: {} |",
        100.0 * whoami_ratio,
        100.0 * WHOAMI_TARGET,
        met(whoami_ratio >= WHOAMI_TARGET)
    );
    println!(
        "| `serve` tokens (client credentials, each signed afresh) | {:.0}/s (server {:.2} / load generator {:.2} cores) | |",
        tokens.per_second, tokens.server_cores, tokens.client_cores
    );
    println!("| `openssl speed -elapsed -multi {cores} rsa2048` sign | {openssl:.0}/s | |");
    println!(
        "| **tokens vs openssl sign** | **{:.0}%** | ≥ {:.0}%: {} |",
        100.0 * tokens_ratio,
        100.0 * TOKENS_TARGET,
        met(tokens_ratio >= TOKENS_TARGET)
    );
    println!(
        "| tokens per CPU-second `serve` used (signing, TLS, HTTP, journal) | {:.0}/s | |",
        tokens.per_server_cpu_second
    );
    println!(
        "| **launch → first token, release `serve`, built-in world** | **median {start_up:.1} ms** (min {:.1}, max {:.1}, {launches} launches) | < {START_UP_TARGET_MS:.0} ms: {} |",
        min(&serve_start),
        max(&serve_start),
        met(start_up < START_UP_TARGET_MS)
    );
    println!(
        "| launch → first response, bare server | median {:.1} ms (min {:.1}, max {:.1}) | |",
        median(&bare_start),
        min(&bare_start),
        max(&bare_start)
    );
    Ok(())
}

/// The bare server's static answer and `serve`'s WhoAmI, in turn for `rounds` rounds (so that
/// a change in what else the machine runs weighs on both alike), then `serve`'s tokens; the
/// means of the rounds.
async fn loads(
    bare: &Bare,
    serve: &Serve,
    rounds: usize,
    seconds: u64,
    concurrency: usize,
) -> anyhow::Result<(Load, Load, Load)> {
    let client = serve.client()?;
    let environment = serve.environment()?;
    let token = Arc::new(serve.environment_token(&client).await?);
    let pid = serve.child.id();
    let who_am_i = Arc::new(format!("{environment}/api/data/v9.2/WhoAmI()"));
    let (mut bare_loads, mut whoami_loads) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        bare_loads.push(bare.load(seconds, concurrency).await?);
        let (who_am_i, token) = (who_am_i.clone(), token.clone());
        let request =
            move |client: &reqwest::Client| client.get(who_am_i.as_str()).bearer_auth(&token);
        whoami_loads.push(load(&client, request, seconds, concurrency, pid).await?);
    }
    let url = Arc::new(serve.token_url()?);
    let form = Arc::new(serve.token_form(&format!("{environment}/.default"))?);
    let tokens = load(
        &client,
        move |client: &reqwest::Client| client.post(url.as_str()).form(&*form),
        seconds,
        concurrency,
        pid,
    )
    .await?;
    Ok((mean(&bare_loads), mean(&whoami_loads), tokens))
}

/// The mean of each figure of `loads` (at least one).
fn mean(loads: &[Load]) -> Load {
    let average = |figure: fn(&Load) -> f64| {
        loads.iter().map(figure).sum::<f64>() / loads.len().max(1) as f64
    };
    Load {
        per_second: average(|load| load.per_second),
        per_server_cpu_second: average(|load| load.per_server_cpu_second),
        server_cores: average(|load| load.server_cores),
        client_cores: average(|load| load.client_cores),
    }
}

/// One of `serve`'s loads alone (`whoami` or `tokens`), for a profiler to watch.
async fn one_serve_load(which: &str, seconds: u64, concurrency: usize) -> anyhow::Result<()> {
    let world = bench_world(&repo_root(), 10)?;
    let serve = Serve::start(&world)?;
    let client = serve.client()?;
    let environment = serve.environment()?;
    let pid = serve.child.id();
    let rate = match which {
        "whoami" => {
            let token = serve.environment_token(&client).await?;
            let who_am_i = format!("{environment}/api/data/v9.2/WhoAmI()");
            eprintln!("serve pid {pid}");
            let request = move |client: &reqwest::Client| client.get(&who_am_i).bearer_auth(&token);
            load(&client, request, seconds, concurrency, pid).await?
        }
        "tokens" => {
            let url = Arc::new(serve.token_url()?);
            let form = Arc::new(serve.token_form(&format!("{environment}/.default"))?);
            eprintln!("serve pid {pid}");
            let request = move |client: &reqwest::Client| client.post(url.as_str()).form(&*form);
            load(&client, request, seconds, concurrency, pid).await?
        }
        other => bail!("BENCH_SERVE_LOAD is `whoami` or `tokens`, not `{other}`"),
    };
    println!(
        "{which}: {:.0}/s (server {:.2} / load generator {:.2} cores)",
        rate.per_second, rate.server_cores, rate.client_cores
    );
    drop(serve);
    let _ = std::fs::remove_dir_all(world.parent().context("the world's folder")?);
    Ok(())
}

/// Milliseconds from spawning the release `serve` (built-in world, fresh state folder) to the
/// body of its first token response, for each launch.
async fn serve_start_ups(launches: usize) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(launches);
    for _ in 0..launches {
        let started = Instant::now();
        let serve = Serve::launch(None)?;
        let client = serve.client()?;
        serve.environment_token(&client).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}

/// Milliseconds from spawning the bare server to the body of its first response.
async fn bare_start_ups(launches: usize) -> anyhow::Result<Vec<f64>> {
    let mut times = Vec::with_capacity(launches);
    for _ in 0..launches {
        let started = Instant::now();
        let server = Bare::launch()?;
        let response = server.client()?.get(server.url()).send().await?;
        if !response.status().is_success() {
            bail!("the bare server answered {}", response.status());
        }
        response.bytes().await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(times)
}

/// `openssl speed -elapsed -multi <processes> rsa2048`'s RSA-2048 signatures per second of
/// wall-clock time (all processes).
fn openssl_sign_rate(processes: usize, seconds: u64) -> anyhow::Result<f64> {
    let output = Command::new("openssl")
        // `-elapsed`: signatures per second of wall-clock time, as `serve`'s tokens are counted
        // (by default openssl divides by its own CPU time, which other work on the machine
        // does not reduce, while it does reduce the tokens `serve` answers meanwhile).
        .args([
            "speed",
            "-elapsed",
            "-seconds",
            &seconds.to_string(),
            "-multi",
        ])
        .arg(processes.to_string())
        .arg("rsa2048")
        .stderr(Stdio::null())
        .output()
        .context("failed to run `openssl speed` (is openssl installed?)")?;
    let text = String::from_utf8_lossy(&output.stdout);
    // `                  sign    verify    sign/s verify/s`
    // `rsa 2048 bits 0.000400s 0.000012s   2500.0  83333.3`
    text.lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["rsa", "2048", "bits", _, _, sign, _] => sign.parse().ok(),
                _ => None,
            }
        })
        .with_context(|| format!("no `rsa 2048 bits` line in `openssl speed`'s output:\n{text}"))
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

fn min(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(0.0, f64::max)
}

/// The bare server running as a child process (this executable, see [`BARE_SERVER`]), stopped
/// and cleaned up on drop.
struct Bare {
    child: Child,
    /// Kept open so that the server can still write to its standard output.
    _stdout: BufReader<ChildStdout>,
    folder: PathBuf,
    addr: SocketAddr,
    ca_pem: String,
}

impl Bare {
    /// Starts the bare server and returns once it listens (it prints its address then).
    fn launch() -> anyhow::Result<Bare> {
        static LAUNCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let folder = std::env::temp_dir().join(format!(
            "d365-bench-bare-{}-{}",
            std::process::id(),
            LAUNCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&folder)?;
        let mut child = Command::new(std::env::current_exe()?)
            .env(BARE_SERVER, &folder)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("failed to start the bare server")?;
        let mut stdout = BufReader::new(child.stdout.take().context("a piped stdout")?);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        let addr = line
            .trim()
            .parse()
            .with_context(|| format!("the bare server printed `{line}`, not its address"))?;
        let ca_pem = std::fs::read_to_string(folder.join("ca.pem"))?;
        Ok(Bare {
            child,
            _stdout: stdout,
            folder,
            addr,
            ca_pem,
        })
    }

    fn client(&self) -> anyhow::Result<reqwest::Client> {
        keep_alive_client(&self.ca_pem, &[(bare::HOST.to_owned(), self.addr)])
    }

    fn url(&self) -> String {
        format!("https://{}:{}/", bare::HOST, self.addr.port())
    }

    async fn load(&self, seconds: u64, concurrency: usize) -> anyhow::Result<Load> {
        let url = self.url();
        load(
            &self.client()?,
            move |client: &reqwest::Client| client.get(&url),
            seconds,
            concurrency,
            self.child.id(),
        )
        .await
    }
}

impl Drop for Bare {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.folder);
    }
}

/// The bare server: the TLS configuration `serve` uses (fake-core's test PKI, rustls on
/// aws-lc-rs, ALPN h2 and http/1.1), hyper-util's HTTP/1.1-or-2 connection builder, and one
/// static JSON answer to every request; nothing else.
mod bare {
    use std::convert::Infallible;
    use std::path::Path;

    use bytes::Bytes;
    use http::{HeaderValue, Response, header};
    use http_body_util::Full;
    use hyper_util::rt::{TokioExecutor, TokioIo};

    /// The host name its certificate is made for.
    pub const HOST: &str = "bare.test";

    /// Writes `ca.pem` into `folder`, prints the bound address and serves until killed.
    pub fn serve(folder: &Path) -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let pki = fake_core::TestPki::generate(&[HOST.to_owned()])?;
            let acceptor = tokio_rustls::TlsAcceptor::from(pki.server_config()?);
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            std::fs::write(folder.join("ca.pem"), pki.ca_pem())?;
            println!("{}", listener.local_addr()?);
            loop {
                let (tcp, _) = listener.accept().await?;
                let _ = tcp.set_nodelay(true);
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = hyper::service::service_fn(|_request| async {
                        let mut response =
                            Response::new(Full::new(Bytes::from_static(b"{\"status\":\"ok\"}")));
                        response.headers_mut().insert(
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, Infallible>(response)
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        })
    }
}
