//! `d365-harness demo` as a process: it serves the fakes as `serve` does (state files
//! written), prints the web app's URL, answers the Sources page there and refuses another
//! `Host`, and on SIGTERM stops and removes its state files (an open traffic event stream too).

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail, ensure};

const BINARY: &str = env!("CARGO_BIN_EXE_d365-harness");
/// Generous: a debug build on a busy two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

/// The demo process, killed if the test ends before it stopped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn demo_serves_the_sources_page_beside_the_fakes_and_stops_on_sigterm() -> anyhow::Result<()>
{
    let state = tempfile::tempdir()?;
    let mut child = Command::new(BINARY)
        .arg("demo")
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(["--ui-listen", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(state.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("failed to start the demo")?;
    let mut stdout = BufReader::new(child.stdout.take().context("piped stdout")?);
    let mut running = Running(child);
    // The URL comes after serve's instructions; EOF means the process ended.
    let url = loop {
        let mut line = String::new();
        if stdout.read_line(&mut line)? == 0 {
            bail!("the demo ended before printing its URL");
        }
        if let Some(rest) = line.strip_prefix("d365-harness demo: open ") {
            break rest.split_whitespace().next().context("a URL")?.to_owned();
        }
    };
    ensure!(
        state.path().join("connection.env").exists(),
        "no connection.env"
    );

    let client = reqwest::Client::builder().timeout(DEADLINE).build()?;
    let page = client.get(&url).send().await?;
    ensure!(page.status() == 200, "GET {url}: {}", page.status());
    let body = page.text().await?;
    ensure!(body.contains("Microsoft Dynamics 365"), "{body}");
    let rebound = client
        .get(&url)
        .header("host", "attacker.example")
        .send()
        .await?;
    ensure!(
        rebound.status() == 403,
        "another Host: {}",
        rebound.status()
    );

    let pid = running.0.id().to_string();
    ensure!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()?
            .success()
    );
    let status = tokio::time::timeout(
        DEADLINE,
        tokio::task::spawn_blocking(move || running.0.wait()),
    )
    .await
    .context("the demo did not stop within the deadline")???;
    let mut rest = String::new();
    stdout.read_to_string(&mut rest)?;
    ensure!(status.success(), "the demo exited with {status}:\n{rest}");
    ensure!(rest.contains("d365-harness: stopped (SIGTERM)"), "{rest}");
    ensure!(
        !state.path().join("connection.env").exists(),
        "connection.env left behind"
    );
    Ok(())
}

#[tokio::test]
async fn demo_stops_on_sigterm_while_a_traffic_event_stream_is_open() -> anyhow::Result<()> {
    let state = tempfile::tempdir()?;
    let mut child = Command::new(BINARY)
        .arg("demo")
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .args(["--ui-listen", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(state.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("failed to start the demo")?;
    let mut stdout = BufReader::new(child.stdout.take().context("piped stdout")?);
    let mut running = Running(child);
    let url = loop {
        let mut line = String::new();
        if stdout.read_line(&mut line)? == 0 {
            bail!("the demo ended before printing its URL");
        }
        if let Some(rest) = line.strip_prefix("d365-harness demo: open ") {
            break rest.split_whitespace().next().context("a URL")?.to_owned();
        }
    };
    let events_url = url.replace("/sources", "/traffic/events");
    let client = reqwest::Client::builder().build()?;
    // The stream stays open (nothing happens in the world): the web app's graceful shutdown
    // must end it rather than wait for it.
    let events = client.get(&events_url).send().await?;
    ensure!(
        events.status() == 200,
        "GET {events_url}: {}",
        events.status()
    );

    let pid = running.0.id().to_string();
    ensure!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()?
            .success()
    );
    let status = tokio::time::timeout(
        DEADLINE,
        tokio::task::spawn_blocking(move || running.0.wait()),
    )
    .await
    .context("the demo did not stop with an event stream open")???;
    ensure!(status.success(), "the demo exited with {status}");
    // The stream ended with the demo (cleanly: the body is complete, not cut).
    let body = tokio::time::timeout(DEADLINE, events.text())
        .await
        .context("the event stream is still open")??;
    ensure!(!body.contains("data:"), "{body}");
    Ok(())
}
