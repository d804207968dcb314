//! A `d365-harness serve` process for process tests: started on free ports (HTTPS and admin),
//! killed if a test ends without stopping it, with `connection.env` read back and clients
//! built from it. Every wait polls with an overall deadline; nothing sleeps for a fixed time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");
/// Generous: a debug build on a busy two-core machine.
pub const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);

/// A running `serve` and what its `connection.env` says.
pub struct ServeProcess {
    child: Option<Child>,
    state_dir: PathBuf,
    pub env: Vec<(String, String)>,
}

impl ServeProcess {
    /// Starts `serve` on free ports with `more` arguments and waits for `connection.env`.
    pub async fn start(state_dir: &Path, more: &[&str]) -> anyhow::Result<ServeProcess> {
        ServeProcess::start_admin_on(state_dir, "127.0.0.1:0", more).await
    }

    /// Like [`ServeProcess::start`], with the admin API on `admin_listen`.
    pub async fn start_admin_on(
        state_dir: &Path,
        admin_listen: &str,
        more: &[&str],
    ) -> anyhow::Result<ServeProcess> {
        let child = Command::new(BINARY)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                admin_listen,
            ])
            .arg("--state-dir")
            .arg(state_dir)
            .args(more)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start `{BINARY}`"))?;
        let mut serve = ServeProcess {
            child: Some(child),
            state_dir: state_dir.to_owned(),
            env: Vec::new(),
        };
        let env_file = state_dir.join("connection.env");
        let started = Instant::now();
        while !env_file.exists() {
            if let Some(status) = serve.child().try_wait()? {
                let output = serve.wait().await?;
                bail!(
                    "serve exited with {status} before writing connection.env:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            if started.elapsed() > DEADLINE {
                bail!("connection.env did not appear within {DEADLINE:?}");
            }
            tokio::time::sleep(POLL).await;
        }
        serve.env = std::fs::read_to_string(&env_file)?
            .lines()
            .map(|line| {
                let (key, value) = line
                    .split_once('=')
                    .with_context(|| format!("not KEY=value: {line:?}"))?;
                Ok((key.to_owned(), value.to_owned()))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(serve)
    }

    fn child(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("the child is there until `wait`")
    }

    /// A `connection.env` value.
    pub fn value(&self, key: &str) -> &str {
        self.env
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
            .unwrap_or_else(|| panic!("{key} missing from {:?}", self.env))
    }

    /// A client of the fakes that trusts the harness CA and resolves the served hosts.
    pub fn https_client(&self) -> anyhow::Result<reqwest::Client> {
        let ca = reqwest::Certificate::from_pem(&std::fs::read(self.value("D365_CA_FILE"))?)?;
        let mut builder = reqwest::Client::builder()
            .tls_certs_only([ca])
            .no_proxy()
            .timeout(Duration::from_secs(30));
        for entry in self.value("D365_HOST_MAP").split(',') {
            let (host, target) = entry.split_once('=').context("host=ip:port")?;
            builder = builder.resolve(host, target.parse::<SocketAddr>()?);
        }
        Ok(builder.build()?)
    }

    /// A client-credentials token for the environment, with the credentials of
    /// `connection.env`.
    pub async fn token(&self, client: &reqwest::Client) -> anyhow::Result<String> {
        let environment = self.value("D365_ENVIRONMENT_URL");
        let response = client
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                self.value("D365_AUTHORITY_HOST"),
                self.value("D365_TENANT_ID")
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", self.value("D365_CLIENT_ID")),
                ("client_secret", self.value("D365_CLIENT_SECRET")),
                ("scope", &format!("{environment}/.default")),
            ])
            .send()
            .await?;
        anyhow::ensure!(response.status() == 200, "token: {}", response.status());
        let body: serde_json::Value = response.json().await?;
        Ok(body["access_token"]
            .as_str()
            .context("an access token")?
            .to_owned())
    }

    /// Runs `d365-harness admin --state-dir <this serve's> {args}` with `stdin`.
    pub fn admin(&self, args: &[&str], stdin: &str) -> anyhow::Result<Output> {
        use std::io::Write;
        let mut child = Command::new(BINARY)
            .arg("admin")
            .arg("--state-dir")
            .arg(&self.state_dir)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start `{BINARY} admin`"))?;
        child
            .stdin
            .take()
            .context("piped stdin")?
            .write_all(stdin.as_bytes())?;
        Ok(child.wait_with_output()?)
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub async fn stop(mut self) -> anyhow::Result<Output> {
        let pid = self.child().id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status()?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed: {status}");
        self.wait().await
    }

    async fn wait(&mut self) -> anyhow::Result<Output> {
        let started = Instant::now();
        loop {
            if self.child().try_wait()?.is_some() {
                let child = self.child.take().expect("checked above");
                return Ok(child.wait_with_output()?);
            }
            if started.elapsed() > DEADLINE {
                bail!("serve did not exit within {DEADLINE:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
