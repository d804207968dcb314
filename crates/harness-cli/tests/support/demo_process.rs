//! A `d365-harness demo` process for the process and browser tests: started on free ports with
//! a temporary state folder, its printed URL and `connection.env` read back, its admin API
//! called for world changes, stopped with SIGTERM or killed on drop. Waits poll with an overall
//! deadline.

#![allow(
    dead_code,
    reason = "each test target that includes this module uses part of it"
)]

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");
/// Generous: a debug build on a busy two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// The running demo: the Sources page's URL, the app's origin and `connection.env`.
pub struct DemoProcess {
    child: Child,
    /// `http://127.0.0.1:<port>/sources`.
    pub sources_url: String,
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    env: Vec<(String, String)>,
    http: reqwest::Client,
    /// Reads stdout to its end (so that the demo never blocks writing), then hands it over.
    output: Option<JoinHandle<String>>,
    /// The state folder (removed on drop, after the process is killed).
    state: tempfile::TempDir,
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DemoProcess {
    /// Starts `d365-harness demo` (the built-in demo world) on free ports.
    pub fn start() -> anyhow::Result<DemoProcess> {
        let state = tempfile::tempdir()?;
        let log = state.path().join("demo.log");
        let mut child = Command::new(BINARY)
            .arg("demo")
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(["--ui-listen", "127.0.0.1:0"])
            .arg("--scenarios")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scenarios"))
            .arg("--state-dir")
            .arg(state.path())
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .with_context(|| format!("failed to start `{BINARY} demo`"))?;
        let mut stdout = BufReader::new(child.stdout.take().context("piped stdout")?);
        // A blocking read is bounded: the process prints its URL or exits (EOF) at start-up,
        // and `kill` on drop ends it if it hangs.
        let sources_url = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line)? == 0 {
                let _ = child.wait();
                bail!(
                    "the demo ended before printing its URL:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if let Some(rest) = line.strip_prefix("d365-harness demo: open ") {
                break rest.split_whitespace().next().context("a URL")?.to_owned();
            }
        };
        // Keep draining stdout so that the demo never blocks writing to it.
        let output = std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stdout.read_to_string(&mut rest);
            rest
        });
        let origin = sources_url
            .strip_suffix("/sources")
            .with_context(|| format!("a Sources URL: {sources_url}"))?
            .to_owned();
        let env = std::fs::read_to_string(state.path().join("connection.env"))
            .context("connection.env")?
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        Ok(DemoProcess {
            child,
            sources_url,
            origin,
            env,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(DEADLINE)
                .build()?,
            output: Some(output),
            state,
        })
    }

    /// The state folder (`connection.env`, `ca.pem`, …).
    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    /// Sends SIGTERM and waits (within the deadline) for the demo to exit; returns its status
    /// and what it printed after its URL.
    pub fn stop(&mut self) -> anyhow::Result<(ExitStatus, String)> {
        let pid = self.child.id().to_string();
        ensure!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()?
                .success(),
            "kill -TERM {pid} failed"
        );
        let deadline = Instant::now() + DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            ensure!(
                Instant::now() < deadline,
                "the demo did not stop within {DEADLINE:?} of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        let output = match self.output.take() {
            Some(reader) => reader
                .join()
                .map_err(|_| anyhow::anyhow!("the stdout reader panicked"))?,
            None => String::new(),
        };
        Ok((status, output))
    }

    /// A `connection.env` value.
    pub fn value(&self, key: &str) -> anyhow::Result<&str> {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .with_context(|| format!("{key} missing from connection.env"))
    }

    /// Calls the admin API (`D365_ADMIN_URL`, loopback: no token) and returns its JSON answer.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.value("D365_ADMIN_URL")?);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = response.status();
        let text = response.text().await?;
        ensure!(status.is_success(), "{method} {url}: {status}: {text}");
        Ok(serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// Applies world changes through the admin API (`POST /changes`).
    pub async fn change(&self, changes: Value) -> anyhow::Result<Value> {
        self.admin(reqwest::Method::POST, "/changes", Some(changes))
            .await
    }
}
