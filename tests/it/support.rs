//! Helpers shared by the cross-crate tests.

use std::net::SocketAddr;
use std::path::PathBuf;

use fake_core::{Clock, IdGenerator, ServerHandle};
use time::macros::datetime;

/// The demo world every test starts from.
pub fn demo_world() -> scenario::World {
    scenario::World::load(demo_world_path()).unwrap_or_else(|error| panic!("{error:#}"))
}

/// Where the demo world lives (worlds parsed from edited copies of its text need the path to
/// find the files it names).
pub fn demo_world_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/worlds/demo.toml")
}

/// The time the tests' manual clocks start at.
pub fn start_time() -> time::OffsetDateTime {
    datetime!(2026-03-01 12:00:00 UTC)
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

/// Both fakes of `world` on one listener, on a manual clock and seeded ids.
pub async fn fakes(world: scenario::World) -> (ServerHandle, scenario::World) {
    let clock = Clock::manual(start_time());
    let ids = IdGenerator::seeded(11);
    let entra = world
        .entra_config(clock.clone(), ids.clone())
        .expect("the world translates for Entra");
    let dataverse = world
        .dataverse_config(clock.clone(), ids)
        .expect("the world translates for Dataverse");
    let mut config = fake_core::ServerConfig::new(vec![
        fake_entra::mount(entra).expect("Entra mounts"),
        fake_dataverse::mount(dataverse).expect("Dataverse mounts"),
    ]);
    config.clock = clock;
    config.faults = fake_core::Faults::new(world.faults().iter().cloned());
    let server = fake_core::spawn(config).await.expect("the server starts");
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
