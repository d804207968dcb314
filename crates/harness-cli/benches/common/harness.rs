//! What both benchmarks share: a `d365-harness serve` process on a world file, an HTTP/1.1
//! keep-alive client on its host map, a load loop that counts successes in a timed window, and
//! the process's CPU time and peak memory from `/proc` (Linux).

#![allow(
    dead_code,
    reason = "each benchmark includes this module and uses a part of it"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// A running `d365-harness serve`, stopped and cleaned up on drop.
pub struct Serve {
    pub child: Child,
    folder: PathBuf,
    env: Vec<(String, String)>,
}

impl Serve {
    /// Starts `serve` on `world` with a fresh state folder and waits for `connection.env`.
    pub fn start(world: &Path) -> anyhow::Result<Serve> {
        let folder = std::env::temp_dir().join(format!(
            "d365-bench-{}-{}",
            std::process::id(),
            world
                .file_stem()
                .and_then(|stem| stem.to_str())
                .unwrap_or("world")
        ));
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder)?;
        let state = folder.join("state");
        let child = Command::new(env!("CARGO_BIN_EXE_d365-harness"))
            .args(["serve", "--listen", "127.0.0.1:0", "--state-dir"])
            .arg(&state)
            .arg("--world")
            .arg(world)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("failed to start `d365-harness serve`")?;
        let mut serve = Serve {
            child,
            folder,
            env: Vec::new(),
        };
        let env_file = state.join("connection.env");
        let deadline = Instant::now() + Duration::from_secs(30);
        while !env_file.exists() {
            if Instant::now() > deadline {
                bail!("`serve` did not write {} within 30 s", env_file.display());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        serve.env = std::fs::read_to_string(&env_file)?
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        Ok(serve)
    }

    /// A `connection.env` value.
    pub fn value(&self, key: &str) -> anyhow::Result<&str> {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .with_context(|| format!("`{key}` missing from connection.env"))
    }

    /// HTTP/1.1 keep-alive, one connection per concurrent request (what MSAL Python,
    /// azure-identity, msal-node and dynamics-web-api use), trusting only the harness CA and
    /// resolving every host of the host map.
    pub fn client(&self) -> anyhow::Result<reqwest::Client> {
        let ca = std::fs::read_to_string(self.value("D365_CA_FILE")?)?;
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(ca.as_bytes())?])
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
    let counted = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, request) = (client.clone(), request.clone());
        let (counted, stop, done, failures) = (
            counted.clone(),
            stop.clone(),
            done.clone(),
            failures.clone(),
        );
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = match request(&client).send().await {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                if counted.load(Ordering::Relaxed) {
                    let counter = if ok { &done } else { &failures };
                    counter.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_pid = server_pid.to_string();
    let server_before = cpu_seconds(&server_pid)?;
    let client_before = cpu_seconds("self")?;
    counted.store(true, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    counted.store(false, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    let server_cpu = cpu_seconds(&server_pid)? - server_before;
    let client_cpu = cpu_seconds("self")? - client_before;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await?;
    }
    let failures = failures.load(Ordering::Relaxed);
    if failures > 0 {
        bail!("{failures} requests failed under load");
    }
    let successes = done.load(Ordering::Relaxed) as f64;
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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmHWM in /proc status")
}
