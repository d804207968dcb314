//! The running world: [`spawn_live`] starts both fakes for a world and returns a [`LiveWorld`],
//! which applies batches of [`Change`]s to them (all or nothing), serves the current world as
//! a world file and resets everything to the world as loaded. Invariant: the fakes' configs,
//! the listener's fault rules and the clock always match the committed document; a batch that
//! fails leaves all of them as they were.

#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard};

use fake_core::{
    Clock, FaultRule, Faults, IdGenerator, Journal, Mount, ServerConfig, ServerHandle,
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
    /// The state [`LiveWorld::reset`] goes back to.
    loaded: State,
    /// The committed state. Held while a batch is applied, so batches never interleave.
    current: Mutex<State>,
    entra: Arc<fake_entra::Entra>,
    /// `None` when the world has no environments.
    dataverse: Option<Arc<fake_dataverse::Dataverse>>,
    faults: Faults,
    clock: Clock,
    /// How far the clock had been moved when the world was loaded.
    loaded_offset: Duration,
    journal: Journal,
    ids: IdGenerator,
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
            current: Mutex::new(loaded.clone()),
            loaded,
            entra,
            dataverse,
            faults: listener_faults,
            loaded_offset: clock.offset(),
            clock,
            journal: server.journal().clone(),
            ids,
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
        let mut current = inner.lock();
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
        if world_changed && let Err(reason) = inner.install(&staged.world, touched) {
            // Put back what was installed before the failure, and the clock.
            let _ = inner.install(&current.world, touched);
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
        self.inner.lock().document.to_toml()
    }

    /// The current world.
    pub fn world(&self) -> World {
        self.inner.lock().world.clone()
    }

    /// The current world document.
    pub fn document(&self) -> WorldDocument {
        self.inner.lock().document.clone()
    }

    /// Everything back to the world as loaded: the document, both fakes' configs and runtime
    /// memory (throttle windows, counters, replay ledger), the fault rules and their counts,
    /// the clock, and the journal (emptied).
    pub fn reset(&self) {
        let inner = &*self.inner;
        let mut current = inner.lock();
        inner.entra.reset();
        if let Some(dataverse) = &inner.dataverse {
            dataverse.reset();
        }
        inner.faults.replace(
            inner
                .loaded
                .extra_faults
                .iter()
                .chain(inner.loaded.world.faults())
                .cloned(),
        );
        inner.clock.reset();
        // Moving back by the offset the world was loaded with cannot leave `time`'s range:
        // the clock was there before.
        let _ = inner.clock.advance(inner.loaded_offset);
        inner.journal.clear();
        *current = inner.loaded.clone();
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
        formatter
            .debug_struct("LiveWorld")
            .field("path", &self.inner.loaded.world.path())
            .finish_non_exhaustive()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while a batch was staged left `current` untouched (it is assigned last).
        self.current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Gives both fakes the configs of `world`: Dataverse first (it may refuse a change of
    /// hosts), then Entra ID; if Entra refuses, Dataverse gets its previous config back.
    fn install(&self, world: &World, touched: Touched) -> Result<(), ChangeReason> {
        let invalid = |error: Error| ChangeReason::World(Box::new(error));
        let entra = match touched.entra {
            true => Some(
                world
                    .entra_config(self.clock.clone(), self.ids.clone())
                    .map_err(invalid)?,
            ),
            false => None,
        };
        let dataverse = match (&self.dataverse, touched.dataverse) {
            (Some(_), true) => Some(
                world
                    .dataverse_config(self.clock.clone(), self.ids.clone())
                    .map_err(invalid)?,
            ),
            _ => None,
        };
        if let (Some(fake), Some(config)) = (&self.dataverse, dataverse) {
            fake.replace_config(config)
                .map_err(ChangeReason::Dataverse)?;
        }
        match entra {
            Some(config) => self
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
