//! Starting the fakes for a world: fake Entra ID and fake Dataverse mounted on one TLS listener
//! (fake-core), on a manual clock at [`START_TIME`] with ids from [`SEED`], so that every
//! answer and journal entry is the same run after run. [`network_settings`] points the flow
//! under test at that listener, and nowhere else. Shared by the runner and the tests.

use std::net::SocketAddr;

use d365_source::{NetworkSettings, TrustRoots};
use fake_core::{Clock, FaultRule, HostPattern, IdGenerator, ServerHandle};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::{Error, World};

/// The time every scenario's manual clock starts at.
pub const START_TIME: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);

/// The seed of the fakes' id generator in scenarios and tests.
pub const SEED: u64 = 11;

/// What failed while starting the fakes.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The fake Entra ID refused its config.
    #[error("the fake Entra ID does not start")]
    Entra(#[source] fake_entra::Error),
    /// The fake Dataverse refused its config.
    #[error("the fake Dataverse does not start")]
    Dataverse(#[source] fake_dataverse::Error),
    /// The listener did not start (PKI, TLS, bind).
    #[error("the listener does not start")]
    Listener(#[source] fake_core::Error),
}

/// Both fakes of `world` on one listener on `127.0.0.1:0`: Entra ID, and Dataverse when the
/// world has environments. `faults` are checked before the world's own `[[faults]]`. `clock`
/// and `ids` go to both fakes and the journal. [`crate::spawn_live`] does the same and also
/// returns the handle that changes the world while it runs.
pub async fn spawn_fakes(
    world: &World,
    clock: Clock,
    ids: IdGenerator,
    faults: &[FaultRule],
) -> Result<ServerHandle, Error> {
    crate::spawn_live(world, clock, ids, faults)
        .await
        .map(|(server, _)| server)
}

/// Network settings that send every host `server` serves to its address and resolve nothing
/// else (a host outside the world does not exist), trusting only the harness CA.
///
/// The hosts are those served when it is called: after [`crate::LiveWorld::load`] of a world
/// with other hosts, call it again (or [`crate::LiveWorld::network_settings`]) and rebuild any
/// [`d365_source::Flow`] made from the old settings.
pub fn network_settings(server: &ServerHandle) -> NetworkSettings {
    network_settings_for(&server.hosts(), server.addr(), server.ca_pem())
}

/// Settings that resolve each exact host of `hosts` (and nothing else) to `addr` and trust
/// only `ca_pem`: [`network_settings`] for hosts known otherwise, e.g. in a
/// [`crate::LiveWorld::on_load`] hook, which is told the hosts and must not call the live
/// world (capture [`crate::LiveWorld::addr`] and [`crate::LiveWorld::ca_pem`] beforehand).
pub fn network_settings_for(
    hosts: &[HostPattern],
    addr: SocketAddr,
    ca_pem: &str,
) -> NetworkSettings {
    let mut network = NetworkSettings {
        resolve_only: true,
        roots: TrustRoots::Only(vec![ca_pem.to_owned()]),
        ..NetworkSettings::default()
    };
    for host in hosts {
        // Mounts list exact names; a wildcard could not be resolved host by host anyway.
        if let HostPattern::Exact(name) = host {
            network.resolve.insert(name.clone(), addr);
        }
    }
    network
}
