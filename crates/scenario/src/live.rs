//! The running world: [`spawn_live`] starts both fakes for a world and returns a [`LiveWorld`],
//! which applies batches of [`Change`]s to them (all or nothing), loads another world in their
//! place (other hosts too), serves the current world as a world file and resets everything to
//! the world as loaded. Invariant: the fakes' configs, the listener's mounts and fault rules
//! and the clock always match the committed document; a batch or load that fails leaves all of
//! them as they were.

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use d365_source::NetworkSettings;
use fake_core::{
    Clock, FaultRule, Faults, HostPattern, IdGenerator, Journal, Mount, Mounts, ServerConfig,
    ServerHandle,
};
use serde::Serialize;
use time::{Duration, OffsetDateTime};

use crate::change::{self, Change, ChangeError, ChangeReason};
use crate::{Error, ServeError, World, WorldDocument};

/// A world that changes while the fakes run. Cheap to clone; every clone is the same world.
#[derive(Clone)]
pub struct LiveWorld {
    inner: Arc<Inner>,
}

struct Inner {
    /// Everything a load replaces. Held while a batch or a load runs, so they never
    /// interleave.
    current: Mutex<Live>,
    /// The listener's mounts, replaced when a world with other fakes is loaded.
    mounts: Mounts,
    /// Where the listener is bound, for network settings.
    addr: SocketAddr,
    /// The listener's root CA (the same for every world loaded).
    ca_pem: String,
    faults: Faults,
    clock: Clock,
    journal: Journal,
    ids: IdGenerator,
    /// Called after each successful load (see [`LiveWorld::on_load`]).
    load_hooks: Mutex<Vec<LoadHook>>,
}

/// What [`LiveWorld::on_load`] registers.
type LoadHook = Box<dyn Fn(&World, &[HostPattern]) + Send + Sync>;

/// The world being served and what it goes back to.
struct Live {
    /// The committed state.
    state: State,
    /// The state [`LiveWorld::reset`] goes back to: the world spawned or last loaded.
    loaded: State,
    /// How far the clock had been moved when that world was loaded.
    loaded_offset: Duration,
    /// The fakes serving it.
    fakes: Fakes,
}

/// The fakes of one world.
#[derive(Clone)]
struct Fakes {
    entra: Arc<fake_entra::Entra>,
    /// `None` when the world has no environments.
    dataverse: Option<Arc<fake_dataverse::Dataverse>>,
}

/// One committed version of the world.
#[derive(Clone)]
struct State {
    document: WorldDocument,
    world: World,
    /// Fault rules besides the world's own (a scenario's, `serve`'s), checked first.
    extra_faults: Vec<FaultRule>,
}

/// What a batch did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Applied {
    /// How many changes were applied.
    pub changes: usize,
    /// Whether the world document changed (and with it the fakes' configs).
    pub world_changed: bool,
    /// Whether the listener's fault rules were replaced (their counts start again).
    pub faults_changed: bool,
    /// The clock after the batch.
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
}

/// What [`LiveWorld::load`] did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Loaded {
    /// The world file loaded (as the [`World`] names it).
    pub world: std::path::PathBuf,
    /// Every host now served, in mount order (Entra ID's, then each environment's).
    pub hosts: Vec<String>,
    /// Whether the hosts differ from those served before (clients with a host map or a Flow
    /// built before the load need the new ones: [`LiveWorld::network_settings`]).
    pub hosts_changed: bool,
    /// The clock, which the load leaves where it was.
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
}

/// Both fakes of `world` on one listener on `127.0.0.1:0` (Entra ID, and Dataverse when the
/// world has environments), and the [`LiveWorld`] that changes them. `faults` are checked
/// before the world's own `[[faults]]`. `clock` and `ids` go to both fakes and the journal.
pub async fn spawn_live(
    world: &World,
    clock: Clock,
    ids: IdGenerator,
    faults: &[FaultRule],
) -> Result<(ServerHandle, LiveWorld), Error> {
    spawn_live_with(world, clock, ids, faults, |_| {}).await
}

/// [`spawn_live`], with `configure` setting what else the listener needs (`serve`'s listen
/// address, proxy listener, timeouts) on its `ServerConfig` before it starts. The mounts,
/// clock and fault rules are the live world's: `configure` must leave them as they are.
pub async fn spawn_live_with(
    world: &World,
    clock: Clock,
    ids: IdGenerator,
    faults: &[FaultRule],
    configure: impl FnOnce(&mut ServerConfig),
) -> Result<(ServerHandle, LiveWorld), Error> {
    let failed = |source| Error::Serve {
        path: world.path().to_owned(),
        source,
    };
    let document = WorldDocument::of(world)?;
    let (fakes, mounts) = Fakes::build(world, &clock, &ids)?;
    let mut config = ServerConfig::new(mounts);
    config.clock = clock.clone();
    config.faults = Faults::new(faults.iter().chain(world.faults()).cloned());
    configure(&mut config);
    let listener_faults = config.faults.clone();
    let server = fake_core::spawn(config)
        .await
        .map_err(|error| failed(ServeError::Listener(error)))?;
    let loaded = State {
        document,
        world: world.clone(),
        extra_faults: faults.to_vec(),
    };
    let live = LiveWorld {
        inner: Arc::new(Inner {
            current: Mutex::new(Live {
                state: loaded.clone(),
                loaded,
                loaded_offset: clock.offset(),
                fakes,
            }),
            mounts: server.mounts().clone(),
            addr: server.addr(),
            ca_pem: server.ca_pem().to_owned(),
            faults: listener_faults,
            clock,
            journal: server.journal().clone(),
            ids,
            load_hooks: Mutex::new(Vec::new()),
        }),
    };
    Ok((server, live))
}

impl LiveWorld {
    /// Applies `changes` in order, all or nothing: each change's names are checked against the
    /// world as the changes before it left it, then the changed world is validated; then both
    /// fakes get their new configs, the listener its new fault rules (only when they changed)
    /// and the clock its move. On error nothing has changed. Batches never interleave; this
    /// blocks for as long as validating the world and building both configs take (milliseconds
    /// for the fixture worlds).
    pub fn apply(&self, changes: &[Change]) -> Result<Applied, ChangeError> {
        let inner = &*self.inner;
        let mut live = inner.lock();
        let Live {
            state: current,
            fakes,
            ..
        } = &mut *live;
        let staged = change::stage(
            &current.document,
            &current.world,
            &current.extra_faults,
            inner.clock.now(),
            &inner.ids,
            changes,
        )?;
        // Errors past staging belong to the batch as a whole; they name its last change.
        let last = changes.len().saturating_sub(1);
        let failed = |reason| ChangeError {
            index: last,
            change: changes.get(last).map_or("", Change::kind),
            field: None,
            reason: Box::new(reason),
        };
        let world_changed = staged.document != current.document;
        if staged.advance != Duration::ZERO {
            inner
                .clock
                .advance(staged.advance)
                .map_err(|error| failed(ChangeReason::Clock(error)))?;
        }
        let touched = Touched::between(&current.document, &staged.document);
        if world_changed && let Err(reason) = inner.install(fakes, &staged.world, touched) {
            // Put back what was installed before the failure, and the clock.
            let _ = inner.install(fakes, &current.world, touched);
            let _ = inner.clock.advance(-staged.advance);
            return Err(failed(reason));
        }
        if staged.faults_changed {
            inner.faults.replace(
                staged
                    .extra_faults
                    .iter()
                    .chain(staged.world.faults())
                    .cloned(),
            );
        }
        *current = State {
            document: staged.document,
            world: staged.world,
            extra_faults: staged.extra_faults,
        };
        Ok(Applied {
            changes: changes.len(),
            world_changed,
            faults_changed: staged.faults_changed,
            now: inner.clock.now(),
        })
    }

    /// The current world as a world file: what `serve --world` loads to the same world
    /// (certificates inline, signing key paths absolute; secret values included, as in any
    /// world file, but never a private key).
    pub fn world_toml(&self) -> String {
        self.inner.lock().state.document.to_toml()
    }

    /// The current world.
    pub fn world(&self) -> World {
        self.inner.lock().state.world.clone()
    }

    /// The current world document.
    pub fn document(&self) -> WorldDocument {
        self.inner.lock().state.document.clone()
    }

    /// Serves `world` instead of the current one, on the same listener, clock, id generator
    /// and journal, with `faults` checked before its own `[[faults]]` (as [`spawn_live`]
    /// takes them). All or nothing: fresh fakes are built for `world` first (a world whose
    /// configs the fakes refuse changes nothing), then the listener's mounts are replaced
    /// (with a certificate from the same CA when the hosts differ: see
    /// [`fake_core::Mounts::replace`]), then its fault rules (counts start again). From then
    /// on [`LiveWorld::reset`] goes back to `world` as loaded now, with the clock where it is
    /// now.
    ///
    /// Left as they are: the clock (move it first, e.g. with [`Clock::set`], to start the new
    /// world at another time; `reset` comes back to where it was at the load) and the journal
    /// (its entries name their host; clear it with [`Journal::clear`] if the old world's
    /// requests should go). Requests already running finish with the old fakes; the runtime
    /// memory of the old fakes (throttle windows, replay ledger) goes with them.
    ///
    /// The hosts may change: anything that holds the old host map must rebuild it. A
    /// [`d365_source::Flow`] built from [`network_settings`](crate::network_settings) or
    /// [`LiveWorld::network_settings`] before the load still resolves only the old hosts;
    /// build a new one from [`LiveWorld::network_settings`] after the load. The CA stays, so
    /// trust roots stay valid.
    pub fn load(&self, world: &World, faults: &[FaultRule]) -> Result<Loaded, Error> {
        let inner = &*self.inner;
        let document = WorldDocument::of(world)?;
        let (fakes, mounts) = Fakes::build(world, &inner.clock, &inner.ids)?;
        let mut live = inner.lock();
        let before = inner.mounts.hosts();
        inner.mounts.replace(mounts).map_err(|error| Error::Serve {
            path: world.path().to_owned(),
            source: ServeError::Listener(error),
        })?;
        inner
            .faults
            .replace(faults.iter().chain(world.faults()).cloned());
        let loaded = State {
            document,
            world: world.clone(),
            extra_faults: faults.to_vec(),
        };
        *live = Live {
            state: loaded.clone(),
            loaded,
            loaded_offset: inner.clock.offset(),
            fakes,
        };
        let hosts = inner.mounts.hosts();
        // Still under the lock, so hooks see loads in the order they happened.
        for hook in inner
            .load_hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
        {
            hook(world, &hosts);
        }
        Ok(Loaded {
            world: world.path().to_owned(),
            hosts_changed: hosts != before,
            hosts: hosts.iter().map(ToString::to_string).collect(),
            now: inner.clock.now(),
        })
    }

    /// Calls `hook` with the world and the hosts served after each successful
    /// [`LiveWorld::load`] (whoever loads it: the admin API, the demo's scenario player), for
    /// what must follow the hosts and credentials, such as `serve`'s `connection.env`. The
    /// hook runs inside the load, with the live world locked: it must be quick and must not
    /// call this `LiveWorld` (that would deadlock); [`crate::network_settings_for`] makes a
    /// client's network settings from the hosts it is given.
    pub fn on_load(&self, hook: impl Fn(&World, &[HostPattern]) + Send + Sync + 'static) {
        self.inner
            .load_hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Box::new(hook));
    }

    /// Everything back to the world as loaded (by [`spawn_live`] or the last
    /// [`LiveWorld::load`]): the document, both fakes' configs and runtime memory (throttle
    /// windows, counters, replay ledger), the fault rules and their counts, the clock, and the
    /// journal (emptied).
    pub fn reset(&self) {
        let inner = &*self.inner;
        let mut live = inner.lock();
        live.fakes.entra.reset();
        if let Some(dataverse) = &live.fakes.dataverse {
            dataverse.reset();
        }
        inner.faults.replace(
            live.loaded
                .extra_faults
                .iter()
                .chain(live.loaded.world.faults())
                .cloned(),
        );
        inner.clock.reset();
        // Moving back by the offset the world was loaded with cannot leave `time`'s range:
        // the clock was there before.
        let _ = inner.clock.advance(live.loaded_offset);
        inner.journal.clear();
        live.state = live.loaded.clone();
    }

    /// Network settings for a client of the world served now (the flow under test): every
    /// host served resolves to the listener and nothing else resolves; only the harness CA is
    /// trusted. Hosts change with [`LiveWorld::load`]: build settings (and a
    /// [`d365_source::Flow`]) after it.
    pub fn network_settings(&self) -> NetworkSettings {
        crate::fakes::network_settings_for(
            &self.inner.mounts.hosts(),
            self.inner.addr,
            &self.inner.ca_pem,
        )
    }

    /// Every host pattern served now, in mount order.
    pub fn hosts(&self) -> Vec<HostPattern> {
        self.inner.mounts.hosts()
    }

    /// Where the listener is bound.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The root CA clients must trust, in PEM (the same whatever world is loaded).
    pub fn ca_pem(&self) -> &str {
        &self.inner.ca_pem
    }

    /// The clock both fakes and the journal read.
    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// The listener's journal.
    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// The listener's live fault rules (the extra ones, then the world's).
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    /// The id generator both fakes draw from (and generated secrets).
    pub fn ids(&self) -> &IdGenerator {
        &self.inner.ids
    }
}

impl std::fmt::Debug for LiveWorld {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `try_lock`: formatting must not wait for (or deadlock with) a batch or load.
        let path = match self.inner.current.try_lock() {
            Ok(live) => live.state.world.path().display().to_string(),
            Err(_) => "(changing)".to_owned(),
        };
        formatter
            .debug_struct("LiveWorld")
            .field("path", &path)
            .finish_non_exhaustive()
    }
}

impl Fakes {
    /// Fresh fakes for `world` (Entra ID, and Dataverse when it has environments) on `clock`
    /// and `ids`, and the listener's mounts for them.
    fn build(
        world: &World,
        clock: &Clock,
        ids: &IdGenerator,
    ) -> Result<(Fakes, Vec<Mount>), Error> {
        let failed = |source| Error::Serve {
            path: world.path().to_owned(),
            source,
        };
        let entra = fake_entra::service(world.entra_config(clock.clone(), ids.clone())?)
            .map_err(|error| failed(ServeError::Entra(error)))?;
        let mut mounts = vec![
            Mount::new(entra.clone(), &entra.hosts())
                .map_err(|error| failed(ServeError::Listener(error)))?,
        ];
        let dataverse = if world.environments().is_empty() {
            None
        } else {
            let dataverse =
                fake_dataverse::service(world.dataverse_config(clock.clone(), ids.clone())?)
                    .map_err(|error| failed(ServeError::Dataverse(error)))?;
            mounts.push(
                Mount::new(dataverse.clone(), &dataverse.hosts())
                    .map_err(|error| failed(ServeError::Listener(error)))?,
            );
            Some(dataverse)
        };
        Ok((Fakes { entra, dataverse }, mounts))
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Live> {
        // A panic while a batch was staged left the state untouched (it is assigned last).
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Gives both fakes the configs of `world`: Dataverse first (it may refuse a change of
    /// hosts), then Entra ID; if Entra refuses, Dataverse gets its previous config back.
    fn install(&self, fakes: &Fakes, world: &World, touched: Touched) -> Result<(), ChangeReason> {
        let invalid = |error: Error| ChangeReason::World(Box::new(error));
        let entra = match touched.entra {
            true => Some(
                world
                    .entra_config(self.clock.clone(), self.ids.clone())
                    .map_err(invalid)?,
            ),
            false => None,
        };
        let dataverse = match (&fakes.dataverse, touched.dataverse) {
            (Some(_), true) => Some(
                world
                    .dataverse_config(self.clock.clone(), self.ids.clone())
                    .map_err(invalid)?,
            ),
            _ => None,
        };
        if let (Some(fake), Some(config)) = (&fakes.dataverse, dataverse) {
            fake.replace_config(config)
                .map_err(ChangeReason::Dataverse)?;
        }
        match entra {
            Some(config) => fakes
                .entra
                .replace_config(config)
                .map_err(ChangeReason::Entra),
            None => Ok(()),
        }
    }
}

/// Which fakes a change of the world document concerns: a fake whose part of the document is
/// the same keeps its config (and the cost of deriving and validating a new one is saved, which
/// is most of a role or privilege change's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Touched {
    entra: bool,
    dataverse: bool,
}

impl Touched {
    /// Top-level sections of a world file that Entra's config does not read (`[[faults]]` go
    /// to the listener; Dataverse's config reads every other section, to be safe).
    const NOT_ENTRA: &[&str] = &["environments", "dataverse", "faults"];

    fn between(before: &WorldDocument, after: &WorldDocument) -> Touched {
        let (before, after) = (before.table(), after.table());
        let differs = |key: &String| before.get(key) != after.get(key);
        let changed: Vec<&String> = before
            .keys()
            .chain(after.keys())
            .filter(|key| differs(key))
            .collect();
        Touched {
            entra: changed
                .iter()
                .any(|key| !Touched::NOT_ENTRA.contains(&key.as_str())),
            dataverse: changed.iter().any(|key| key.as_str() != "faults"),
        }
    }
}
