//! `d365-harness demo` as a process: it serves the fakes as `serve` does (state files
//! written), prints the web app's URL, answers the Sources page there and refuses another
//! `Host`, and on SIGTERM stops and removes its state files (an open traffic event stream too).

#[path = "support/demo_process.rs"]
mod demo_process;

use std::time::Duration;

use anyhow::{Context, ensure};

use demo_process::DemoProcess;

/// Generous: a debug build on a busy two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn demo_serves_the_sources_page_beside_the_fakes_and_stops_on_sigterm() -> anyhow::Result<()>
{
    let mut demo = DemoProcess::start()?;
    let url = demo.sources_url.clone();
    ensure!(
        demo.state_dir().join("connection.env").exists(),
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

    let (status, rest) = demo.stop()?;
    ensure!(status.success(), "the demo exited with {status}:\n{rest}");
    ensure!(rest.contains("d365-harness: stopped (SIGTERM)"), "{rest}");
    ensure!(
        !demo.state_dir().join("connection.env").exists(),
        "connection.env left behind"
    );
    Ok(())
}

#[tokio::test]
async fn demo_stops_on_sigterm_while_a_traffic_event_stream_is_open() -> anyhow::Result<()> {
    let mut demo = DemoProcess::start()?;
    let events_url = demo.sources_url.replace("/sources", "/traffic/events");
    let client = reqwest::Client::builder().build()?;
    // The stream stays open (nothing happens in the world): the web app's graceful shutdown
    // must end it rather than wait for it.
    let events = client.get(&events_url).send().await?;
    ensure!(
        events.status() == 200,
        "GET {events_url}: {}",
        events.status()
    );

    let (status, _) = demo
        .stop()
        .context("the demo did not stop with an event stream open")?;
    ensure!(status.success(), "the demo exited with {status}");
    // The stream ended with the demo (cleanly: the body is complete, not cut).
    let body = tokio::time::timeout(DEADLINE, events.text())
        .await
        .context("the event stream is still open")??;
    ensure!(!body.contains("data:"), "{body}");
    Ok(())
}
