//! [`ManualTimer`]: the flow's `Timer` on the fakes' manual clock, so that waiting out a
//! `Retry-After` advances the clock and returns at once. Every wait is recorded for reports.

use std::sync::Mutex;
use std::time::Duration;

use d365_source::Timer;
use fake_core::Clock;
use time::OffsetDateTime;

/// The flow's timer on a manual [`Clock`]: a wait advances the clock and completes at once.
#[derive(Debug)]
pub struct ManualTimer {
    clock: Clock,
    waits: Mutex<Vec<Duration>>,
}

impl ManualTimer {
    /// A timer on `clock`, which must be manual (`Clock::manual`).
    pub fn new(clock: Clock) -> ManualTimer {
        ManualTimer {
            clock,
            waits: Mutex::new(Vec::new()),
        }
    }

    /// Every wait so far, in order.
    pub fn waits(&self) -> Vec<Duration> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Duration>> {
        self.waits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Timer for ManualTimer {
    fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    fn sleep(&self, duration: Duration) -> d365_source::timer::Sleep {
        self.lock().push(duration);
        // Waits come from `Retry-After` headers capped by the flow's budget, so they fit; and
        // the runner only ever builds this timer on a manual clock.
        let by = time::Duration::try_from(duration).unwrap_or(time::Duration::MAX);
        self.clock
            .advance(by)
            .expect("a ManualTimer runs on a manual clock");
        Box::pin(std::future::ready(()))
    }
}
