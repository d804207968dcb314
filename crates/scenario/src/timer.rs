//! [`ManualTimer`]: the flow's `Timer` on the fakes' clock, so that waiting out a
//! `Retry-After` advances the clock and returns at once. Every wait is recorded for reports.

use std::sync::Mutex;
use std::time::Duration;

use d365_source::Timer;
use fake_core::Clock;
use time::OffsetDateTime;

/// The flow's timer on the fakes' [`Clock`]: a wait advances the clock and completes at once.
/// The runner's clock is manual; the demo's player uses the running fakes' system clock, which
/// moves by keeping an offset.
#[derive(Debug)]
pub struct ManualTimer {
    clock: Clock,
    waits: Mutex<Vec<Duration>>,
}

impl ManualTimer {
    /// A timer on `clock` (manual, or a system clock that a wait moves forward).
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
        // Waits come from `Retry-After` headers capped by the flow's budget, so they fit; only
        // a move past the year 9999 fails, and then the clock stays where it is.
        let by = time::Duration::try_from(duration).unwrap_or(time::Duration::MAX);
        let _ = self.clock.advance(by);
        Box::pin(std::future::ready(()))
    }
}
