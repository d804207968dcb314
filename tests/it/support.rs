//! Helpers shared by the cross-crate tests.

use std::net::SocketAddr;
use std::path::PathBuf;

use fake_core::{Clock, IdGenerator, ServerHandle};

/// The demo world every test starts from.
pub fn demo_world() -> scenario::World {
    scenario::World::load(demo_world_path()).unwrap_or_else(|error| panic!("{error:#}"))
}

/// Where the demo world lives (worlds parsed from edited copies of its text need the path to
/// find the files it names).
pub fn demo_world_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/worlds/demo.toml")
}

/// The time the tests' manual clocks start at (the scenario runner's).
pub fn start_time() -> time::OffsetDateTime {
    scenario::START_TIME
}

/// A fake Entra ID for the demo world on a manual clock and seeded ids.
pub async fn demo_entra() -> (ServerHandle, scenario::World) {
    let world = demo_world();
    let config = world
        .entra_config(Clock::manual(start_time()), IdGenerator::seeded(7))
        .expect("the demo world translates");
    let server = fake_entra::spawn(config).await.expect("the server starts");
    (server, world)
}

/// Both fakes of the demo world on one listener, on a manual clock and seeded ids.
pub async fn demo_fakes() -> (ServerHandle, scenario::World) {
    fakes(demo_world()).await
}

/// Both fakes of `world` on one listener, on a manual clock and seeded ids, as the scenario
/// runner starts them.
pub async fn fakes(world: scenario::World) -> (ServerHandle, scenario::World) {
    let server = scenario::spawn_fakes(
        &world,
        Clock::manual(start_time()),
        IdGenerator::seeded(scenario::SEED),
        &[],
    )
    .await
    .unwrap_or_else(|error| panic!("{:#}", anyhow::Error::from(error)));
    (server, world)
}

/// A client for every host of the demo world.
pub fn client_for_all(server: &ServerHandle) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    let mut builder = reqwest::Client::builder().tls_certs_only([ca]).no_proxy();
    for host in [
        "login.microsoftonline.com",
        "contoso.crm.dynamics.com",
        "contoso.api.crm.dynamics.com",
    ] {
        builder = builder.resolve(host, server.addr());
    }
    builder.build().expect("client")
}

/// A reqwest client that trusts only the harness CA and sends the real host names to `addr`.
pub fn client(server: &ServerHandle, http1: bool) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(server.ca_pem().as_bytes()).expect("CA PEM");
    let addr: SocketAddr = server.addr();
    let builder = reqwest::Client::builder()
        .tls_certs_only([ca])
        .no_proxy()
        .resolve("login.microsoftonline.com", addr);
    let builder = if http1 { builder.http1_only() } else { builder };
    builder.build().expect("client")
}
