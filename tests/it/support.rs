//! Helpers shared by the cross-crate tests.

use std::net::SocketAddr;
use std::path::PathBuf;

use fake_core::{Clock, IdGenerator, ServerHandle};
use time::macros::datetime;

/// The demo world every test starts from.
pub fn demo_world() -> scenario::World {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/worlds/demo.toml");
    scenario::World::load(&path).unwrap_or_else(|error| panic!("{error:#}"))
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
