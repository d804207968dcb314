//! A copied `d365-harness` binary, run from empty folders with no checkout around: `serve` with
//! no `--world` serves the built-in demo world, and `world export demo` writes a world file that
//! `serve --world` serves from yet another folder. Each serve hands out a token that Dataverse's
//! WhoAmI accepts, then stops on SIGTERM. Every wait polls with an overall deadline.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");
/// Generous: a debug build on a busy two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(25);

/// Held while the binary is copied and while a process is started. A process forked (by the
/// other test's thread) while the copy is open for writing inherits that descriptor until it
/// execs, and executing the copy meanwhile fails with "Text file busy" (ETXTBSY).
static FORKING: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn forking() -> std::sync::MutexGuard<'static, ()> {
    FORKING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The build's binary, copied into a folder of its own (as `cargo install` or a download would
/// leave it).
fn copied_binary(folder: &Path) -> anyhow::Result<PathBuf> {
    let bin = folder.join("bin");
    std::fs::create_dir_all(&bin)?;
    let copy = bin.join("d365-harness");
    let _forking = forking();
    std::fs::copy(BINARY, &copy).context("copy the binary")?;
    Ok(copy)
}

/// An empty folder to run in.
fn empty_folder(parent: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let folder = parent.join(name);
    std::fs::create_dir_all(&folder)?;
    Ok(folder)
}

/// A `serve` process, killed if the test ends without stopping it.
struct Serve {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// serve's first line: `d365-harness: serving world `…` on https://…`.
    first_line: String,
}

impl Serve {
    /// Starts `binary serve` in `cwd` with `args` and waits for its first line, which it prints
    /// after writing `ca.pem` and `connection.env`.
    fn start(binary: &Path, cwd: &Path, args: &[&str]) -> anyhow::Result<Serve> {
        let forking = forking();
        let mut child = Command::new(binary)
            .current_dir(cwd)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("failed to start `{}`", binary.display()))?;
        drop(forking);
        let mut stdout = BufReader::new(child.stdout.take().context("piped stdout")?);
        let mut first_line = String::new();
        stdout.read_line(&mut first_line)?;
        if !first_line.starts_with("d365-harness: serving world") {
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                let _ = child.kill();
                pipe.read_to_string(&mut stderr)?;
            }
            bail!("serve is not serving; its first line: {first_line:?}; stderr:\n{stderr}");
        }
        Ok(Serve {
            child,
            stdout,
            first_line,
        })
    }

    /// Sends SIGTERM and waits (bounded) for a clean exit; returns the rest of stdout.
    async fn stop(mut self) -> anyhow::Result<String> {
        let pid = self.child.id().to_string();
        let status = {
            let _forking = forking();
            Command::new("kill").args(["-TERM", &pid]).status()?
        };
        ensure!(status.success(), "kill -TERM {pid} failed: {status}");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            if started.elapsed() > DEADLINE {
                bail!("serve did not exit within {DEADLINE:?}");
            }
            tokio::time::sleep(POLL).await;
        };
        let mut rest = String::new();
        self.stdout.read_to_string(&mut rest)?;
        ensure!(status.success(), "serve exited with {status}:\n{rest}");
        Ok(rest)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `connection.env` as a lookup.
fn connection_env(state_dir: &Path) -> anyhow::Result<impl Fn(&str) -> anyhow::Result<String>> {
    let text = std::fs::read_to_string(state_dir.join("connection.env"))?;
    Ok(move |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
            .map(str::to_owned)
            .with_context(|| format!("{key} missing from connection.env"))
    })
}

/// What a client does with `connection.env` alone: a client-credentials token for the
/// environment, then WhoAmI with it. Returns WhoAmI's body.
async fn who_am_i(state_dir: &Path) -> anyhow::Result<serde_json::Value> {
    let env = connection_env(state_dir)?;
    let ca = reqwest::Certificate::from_pem(&std::fs::read(env("D365_CA_FILE")?)?)?;
    let mut builder = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .timeout(Duration::from_secs(30));
    for entry in env("D365_HOST_MAP")?.split(',') {
        let (host, target) = entry.split_once('=').context("host=ip:port")?;
        builder = builder.resolve(host, target.parse::<SocketAddr>()?);
    }
    let client = builder.build()?;
    let environment = env("D365_ENVIRONMENT_URL")?;
    let token_response = client
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            env("D365_AUTHORITY_HOST")?,
            env("D365_TENANT_ID")?
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &env("D365_CLIENT_ID")?),
            ("client_secret", &env("D365_CLIENT_SECRET")?),
            ("scope", &format!("{environment}/.default")),
        ])
        .send()
        .await?;
    ensure!(
        token_response.status() == 200,
        "token: {}",
        token_response.status()
    );
    let body: serde_json::Value = token_response.json().await?;
    let token = body["access_token"].as_str().context("an access token")?;
    let answer = client
        .get(format!("{environment}/api/data/v9.2/WhoAmI"))
        .bearer_auth(token)
        .send()
        .await?;
    ensure!(answer.status() == 200, "WhoAmI: {}", answer.status());
    Ok(answer.json().await?)
}

/// The demo world's organization, as WhoAmI reports it.
const DEMO_ORGANIZATION: &str = "f2c9290b-0806-4d48-bf9c-3814d4286755";

#[tokio::test]
async fn a_copied_binary_serves_the_built_in_demo_world_from_an_empty_folder() -> anyhow::Result<()>
{
    let root = tempfile::tempdir()?;
    let binary = copied_binary(root.path())?;
    let cwd = empty_folder(root.path(), "empty")?;
    let state_dir = root.path().join("state");
    let serve = Serve::start(
        &binary,
        &cwd,
        &[
            "--state-dir",
            state_dir.to_str().context("UTF-8 temp path")?,
        ],
    )?;
    // The checkout this test runs in still exists on this machine; the world's name shows that
    // serve did not read the demo world from it.
    assert!(
        serve
            .first_line
            .starts_with("d365-harness: serving world `built-in:demo` on https://127.0.0.1:"),
        "{}",
        serve.first_line
    );

    let who = who_am_i(&state_dir).await?;
    assert_eq!(who["OrganizationId"], DEMO_ORGANIZATION, "{who}");

    let rest = serve.stop().await?;
    assert!(
        rest.ends_with("d365-harness: stopped (SIGTERM)\n"),
        "{rest}"
    );
    assert_eq!(
        std::fs::read_dir(&cwd)?.count(),
        0,
        "nothing written to the current folder with an explicit --state-dir"
    );
    Ok(())
}

#[tokio::test]
async fn an_exported_demo_world_is_served_from_another_folder() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let binary = copied_binary(root.path())?;
    let export_folder = empty_folder(root.path(), "export")?;
    let world_file = export_folder.join("my.toml");
    let forking = forking();
    let export = Command::new(&binary)
        .current_dir(&export_folder)
        .args(["world", "export", "demo"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&world_file)?)
        .stderr(Stdio::piped())
        .output()?;
    drop(forking);
    ensure!(
        export.status.success(),
        "world export demo: {}\n{}",
        export.status,
        String::from_utf8_lossy(&export.stderr)
    );
    let names: Vec<_> = std::fs::read_dir(&export_folder)?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()?;
    assert_eq!(names, ["my.toml"], "the export is one file");

    let serve_folder = empty_folder(root.path(), "elsewhere")?;
    let state_dir = root.path().join("state");
    let world = world_file.to_str().context("UTF-8 temp path")?;
    let serve = Serve::start(
        &binary,
        &serve_folder,
        &[
            "--world",
            world,
            "--state-dir",
            state_dir.to_str().context("UTF-8 temp path")?,
        ],
    )?;
    assert!(
        serve
            .first_line
            .starts_with(&format!("d365-harness: serving world `{world}` on ")),
        "{}",
        serve.first_line
    );

    let who = who_am_i(&state_dir).await?;
    assert_eq!(who["OrganizationId"], DEMO_ORGANIZATION, "{who}");

    serve.stop().await?;
    Ok(())
}
