//! `d365-harness demo`: the fakes exactly as `serve` runs them ([`Serving`]), plus a web app on
//! `--ui-listen` with the importer's Sources page (`demo/app.rs` routes and guards it,
//! `demo/pages.rs` renders it), whose Add Source runs the real `d365_source::Flow` against the
//! fakes (`demo/runs.rs` runs each check in the background and streams its steps). Invariant:
//! a secret typed into the page goes to the flow and the encrypted store only; no page, log
//! line, event stream or file shows it.

mod app;
mod console;
mod pages;
mod player;
mod rotate;
mod runs;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
mod traffic;

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use d365_source::Store;
use tokio::net::TcpListener;

use crate::serve::admin::AdminToken;
use crate::serve::{ServeArgs, Serving, connect_address};

pub(crate) use app::Demo;

/// Arguments of `d365-harness demo`: `serve`'s, the web app's address and its source list.
#[derive(Clone, Debug, clap::Args)]
pub struct DemoArgs {
    /// The fakes, as `serve` takes them.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// Address of the web app (plain HTTP). It answers only requests whose `Host` (and
    /// `Origin`, when sent) is this address, or `localhost` on its port when it is a loopback
    /// or unspecified address: a page on another site cannot reach it through DNS rebinding.
    /// Port 0 picks a free port
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub ui_listen: SocketAddr,
    /// Folder of the demo's source list and the key that encrypts its secrets [default:
    /// `<state-dir>/demo-sources`]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Folder of the scenario files the Scenarios page lists [default: `./scenarios` when it
    /// exists, else the `scenarios/` of the checkout this binary was built from]
    #[arg(long, value_name = "DIR")]
    pub scenarios: Option<PathBuf>,
}

/// Runs the demo until Ctrl-C or SIGTERM.
pub(crate) async fn demo(args: &DemoArgs, out: &mut impl Write) -> anyhow::Result<()> {
    // Bound first: a taken port fails before the fakes write their state files.
    let listener = TcpListener::bind(args.ui_listen).await.with_context(|| {
        format!(
            "failed to listen for the demo's web app on {}",
            args.ui_listen
        )
    })?;
    let addr = listener
        .local_addr()
        .context("failed to read the web app's address")?;
    let mut serving = Serving::start(&args.serve, out).await?;
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| serving.state.path().join("demo-sources"));
    let store = Store::open(data_dir);
    for warning in store.warnings() {
        tracing::warn!(%warning, "demo source list");
    }
    let flow = app::flow_for(&scenario::network_settings(&serving.handle))
        .context("failed to set up the connection check")?;
    let mut demo = Demo::new(
        flow,
        store,
        serving.admin_client(),
        addr,
        AdminToken::generate()?,
    );
    demo.player = player::PlayerState::new(args.scenarios.clone());
    demo.connection_env = Some(serving.state.path().join("connection.env"));
    let demo = Arc::new(demo);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        axum::serve(listener, app::router(demo.clone()))
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    writeln!(
        out,
        "d365-harness demo: open {} in a browser (the importer's Sources page).",
        page_url(addr)
    )?;
    out.flush()?;
    let signal = serving.shutdown.recv().await;
    // Event streams (the traffic view's) end first: the graceful shutdown waits for them.
    demo.stop();
    let _ = stop.send(());
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::warn!(%error, "the demo's web app stopped with an error"),
        Err(error) => tracing::warn!(%error, "the demo's web app failed"),
    }
    serving.stop(signal, out).await
}

/// The Sources page's URL on `addr` ("any" address replaced by loopback).
fn page_url(addr: SocketAddr) -> String {
    format!("http://{}/sources", connect_address(addr))
}
