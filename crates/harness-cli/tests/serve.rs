//! `d365-harness serve` as a process: it writes `connection.env` and `ca.pem`, answers the health
//! route on the real host names (Entra ID's and the Dataverse environment's), stops cleanly on
//! SIGTERM, and refuses a port already taken; with `--proxy-listen`, a client given only
//! `HTTPS_PROXY` and the CA gets a token and a Dataverse answer through the CONNECT proxy.
//! Every wait polls with an overall deadline; nothing sleeps for a fixed time.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");
/// Generous: a debug build on a busy two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);

/// A `serve` process that is killed if the test ends without stopping it.
struct Serve {
    child: Option<Child>,
}

impl Serve {
    fn start(state_dir: &Path, listen: &str) -> anyhow::Result<Serve> {
        Serve::start_with(state_dir, listen, &[])
    }

    /// Like [`Serve::start`], with more `serve` arguments.
    fn start_with(state_dir: &Path, listen: &str, more: &[&str]) -> anyhow::Result<Serve> {
        let child = Command::new(BINARY)
            .args([
                "serve",
                "--listen",
                listen,
                "--admin-listen",
                "127.0.0.1:0",
                "--state-dir",
            ])
            .arg(state_dir)
            .args(more)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start `{BINARY}`"))?;
        Ok(Serve { child: Some(child) })
    }

    fn child(&mut self) -> &mut Child {
        self.child
            .as_mut()
            .expect("the child is there until `wait`")
    }

    /// Waits until `file` exists (the server writes it atomically when it is ready).
    async fn wait_for(&mut self, file: &Path) -> anyhow::Result<()> {
        let started = Instant::now();
        while !file.exists() {
            if let Some(status) = self.child().try_wait()? {
                let output = self.wait().await?;
                bail!(
                    "serve exited with {status} before writing `{}`:\n{}",
                    file.display(),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            if started.elapsed() > DEADLINE {
                bail!("`{}` did not appear within {DEADLINE:?}", file.display());
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }

    fn terminate(&mut self) -> anyhow::Result<()> {
        let pid = self.child().id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status()?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed: {status}");
        Ok(())
    }

    /// Waits (bounded) for the process to exit and collects its output.
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

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `connection.env` as ordered (key, value) pairs.
fn read_env(path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)?;
    text.lines()
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .with_context(|| format!("not KEY=value: {line:?}"))?;
            Ok((key.to_owned(), value.to_owned()))
        })
        .collect()
}

fn value<'a>(env: &'a [(String, String)], key: &str) -> &'a str {
    env.iter()
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("{key} missing from {env:?}"))
}

#[tokio::test]
async fn serve_writes_connection_env_answers_health_and_stops_on_sigterm() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let state_dir = folder.path().join("state");
    let mut serve = Serve::start(&state_dir, "127.0.0.1:0")?;
    let env_file = state_dir.join("connection.env");
    serve.wait_for(&env_file).await?;

    let env = read_env(&env_file)?;
    let keys: Vec<&str> = env.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "D365_AUTHORITY_HOST",
            "D365_TENANT_ID",
            "D365_CLIENT_ID",
            "D365_CLIENT_SECRET",
            "D365_ENVIRONMENT_URL",
            "D365_CA_FILE",
            "D365_HOST_MAP",
            "D365_ADMIN_URL",
        ]
    );
    assert_eq!(
        value(&env, "D365_AUTHORITY_HOST"),
        "https://login.microsoftonline.com"
    );
    // The built-in demo world (no `--world`).
    assert_eq!(
        value(&env, "D365_TENANT_ID"),
        "6f1f3b7e-2b51-4f0e-9d5e-0c8c3a7d1a10"
    );
    assert_eq!(
        value(&env, "D365_CLIENT_ID"),
        "3c2f9a51-7d0b-4e1a-8f5e-2a9b6c4d8e01"
    );
    assert_eq!(
        value(&env, "D365_CLIENT_SECRET"),
        "Qm28Q~demo.importer.secret.current.0001"
    );
    assert_eq!(
        value(&env, "D365_ENVIRONMENT_URL"),
        "https://contoso.crm.dynamics.com"
    );
    let ca_file = PathBuf::from(value(&env, "D365_CA_FILE"));
    assert!(ca_file.is_absolute(), "{}", ca_file.display());
    assert_eq!(ca_file, state_dir.canonicalize()?.join("ca.pem"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env_file)?.permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "connection.env holds a secret");
        let token_mode = std::fs::metadata(state_dir.join("admin.token"))?
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(token_mode, 0o600, "admin.token is a secret");
    }
    let admin_url = value(&env, "D365_ADMIN_URL");
    let admin_health = reqwest::Client::builder()
        .no_proxy()
        .build()?
        .get(format!("{admin_url}/health"))
        .send()
        .await?;
    assert_eq!(
        admin_health.status(),
        reqwest::StatusCode::OK,
        "{admin_url}"
    );

    let host_map = value(&env, "D365_HOST_MAP");
    let entries: Vec<(&str, SocketAddr)> = host_map
        .split(',')
        .map(|entry| {
            let (host, target) = entry
                .split_once('=')
                .with_context(|| format!("not host=ip:port: {entry:?}"))?;
            Ok((host, target.parse()?))
        })
        .collect::<anyhow::Result<_>>()?;
    let hosts: Vec<&str> = entries.iter().map(|(host, _)| *host).collect();
    assert_eq!(
        hosts,
        [
            "login.microsoftonline.com",
            "contoso.api.crm.dynamics.com",
            "contoso.crm.dynamics.com",
        ]
    );
    let addr = entries[0].1;
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    assert!(
        entries.iter().all(|(_, target)| *target == addr),
        "one listener: {host_map}"
    );

    let ca = reqwest::Certificate::from_pem(&std::fs::read(&ca_file)?)?;
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .timeout(Duration::from_secs(30));
    for host in &hosts {
        builder = builder.resolve(host, addr);
    }
    let client = builder.build()?;
    for host in &hosts {
        let response = client
            .get(format!("https://{host}/_harness/health"))
            .send()
            .await?;
        assert_eq!(response.status(), reqwest::StatusCode::OK, "{host}");
        let body = response.text().await?;
        assert!(body.contains("\"status\":\"ok\""), "{host}: {body}");
    }

    serve.terminate()?;
    let output = serve.wait().await?;
    let stdout = String::from_utf8(output.stdout)?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains(&format!("D365_HOST_MAP={host_map}\n")),
        "{stdout}"
    );
    assert!(stdout.contains("REQUESTS_CA_BUNDLE="), "{stdout}");
    assert!(
        stdout.ends_with("d365-harness: stopped (SIGTERM)\n"),
        "{stdout}"
    );
    for output in [stdout.as_str(), &*stderr] {
        assert!(!output.contains("PRIVATE KEY"), "{output}");
    }
    assert!(
        !env_file.exists(),
        "a stopped serve removes its connection.env"
    );
    assert!(!state_dir.join("ca.pem").exists(), "and its ca.pem");
    assert!(
        !state_dir.join("admin.token").exists(),
        "and its admin.token"
    );
    Ok(())
}

#[tokio::test]
async fn a_second_serve_on_the_same_port_exits_two_naming_the_address() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let first_state = folder.path().join("first");
    let mut first = Serve::start(&first_state, "127.0.0.1:0")?;
    first.wait_for(&first_state.join("connection.env")).await?;
    let env = read_env(&first_state.join("connection.env"))?;
    let addr = value(&env, "D365_HOST_MAP")
        .rsplit_once('=')
        .map(|(_, addr)| addr.to_owned())
        .context("host map entry")?;

    let second_state = folder.path().join("second");
    let mut second = Serve::start(&second_state, &addr)?;
    let output = second.wait().await?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "stderr:\n{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: failed to start the fakes for world `built-in:demo`: the listener does not \
             start: failed to bind `{addr}`: "
        )),
        "{stderr}"
    );
    assert!(!second_state.join("connection.env").exists());

    first.terminate()?;
    let output = first.wait().await?;
    assert_eq!(output.status.code(), Some(0));
    Ok(())
}

#[tokio::test]
async fn serve_with_a_proxy_gives_tokens_and_dataverse_to_a_client_with_only_https_proxy_and_the_ca()
-> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let state_dir = folder.path().join("state");
    let mut serve = Serve::start_with(
        &state_dir,
        "127.0.0.1:0",
        &["--proxy-listen", "127.0.0.1:0"],
    )?;
    let env_file = state_dir.join("connection.env");
    serve.wait_for(&env_file).await?;
    let env = read_env(&env_file)?;
    let keys: Vec<&str> = env.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys[keys.len() - 2..],
        ["HTTPS_PROXY", "D365_ADMIN_URL"],
        "{env:?}"
    );
    let proxy = value(&env, "HTTPS_PROXY");
    let proxy_addr: SocketAddr = proxy
        .strip_prefix("http://")
        .with_context(|| format!("not http://ip:port: {proxy}"))?
        .parse()?;
    assert!(
        proxy_addr.ip().is_loopback() && proxy_addr.port() != 0,
        "{proxy}"
    );

    // Only the proxy and the CA: no host mapping, the real URLs.
    let ca = reqwest::Certificate::from_pem(&std::fs::read(value(&env, "D365_CA_FILE"))?)?;
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .proxy(reqwest::Proxy::https(proxy)?)
        .timeout(Duration::from_secs(30))
        .build()?;
    let environment = value(&env, "D365_ENVIRONMENT_URL");
    let token: serde_json::Value = client
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            value(&env, "D365_AUTHORITY_HOST"),
            value(&env, "D365_TENANT_ID")
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", value(&env, "D365_CLIENT_ID")),
            ("client_secret", value(&env, "D365_CLIENT_SECRET")),
            ("scope", &format!("{environment}/.default")),
        ])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let access_token = token["access_token"]
        .as_str()
        .with_context(|| format!("no access_token in {token}"))?;
    let who_am_i = client
        .get(format!("{environment}/api/data/v9.2/WhoAmI"))
        .bearer_auth(access_token)
        .send()
        .await?;
    assert_eq!(who_am_i.status(), reqwest::StatusCode::OK);
    let who_am_i: serde_json::Value = who_am_i.json().await?;
    assert!(who_am_i["UserId"].is_string(), "{who_am_i}");

    serve.terminate()?;
    let output = serve.wait().await?;
    let stdout = String::from_utf8(output.stdout)?;
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(&format!("HTTPS_PROXY={proxy}\n")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("curl --proxy {proxy} --cacert ")),
        "{stdout}"
    );
    Ok(())
}
