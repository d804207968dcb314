//! The injectable clock. Every time a fake reads (token lifetimes, secret expiry, timestamps in
//! error bodies, `Retry-After` windows) comes from a [`Clock`], so scenarios can move time without
//! waiting for it.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::Error;

/// A cheap-to-clone handle on either the system time or a manual time that tests move.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

enum Inner {
    System,
    Manual(Mutex<OffsetDateTime>),
}

impl Clock {
    /// A clock that follows the system time (what `serve` uses).
    pub fn system() -> Clock {
        Clock {
            inner: Arc::new(Inner::System),
        }
    }

    /// A clock that stands still at `start` until [`Clock::advance`] or [`Clock::set`] moves it.
    pub fn manual(start: OffsetDateTime) -> Clock {
        Clock {
            inner: Arc::new(Inner::Manual(Mutex::new(
                start.to_offset(time::UtcOffset::UTC),
            ))),
        }
    }

    /// The current time, in UTC.
    pub fn now(&self) -> OffsetDateTime {
        match &*self.inner {
            Inner::System => OffsetDateTime::now_utc(),
            Inner::Manual(now) => *now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    /// The current time as whole seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Moves a manual clock forward (or back, with a negative duration).
    pub fn advance(&self, by: Duration) -> Result<(), Error> {
        let Inner::Manual(now) = &*self.inner else {
            return Err(Error::ClockNotManual);
        };
        let mut now = now.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *now += by;
        Ok(())
    }

    /// Puts a manual clock at `to`.
    pub fn set(&self, to: OffsetDateTime) -> Result<(), Error> {
        let Inner::Manual(now) = &*self.inner else {
            return Err(Error::ClockNotManual);
        };
        *now.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
            to.to_offset(time::UtcOffset::UTC);
        Ok(())
    }

    /// Whether this clock is manual (tests) rather than the system time.
    pub fn is_manual(&self) -> bool {
        matches!(&*self.inner, Inner::Manual(_))
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.inner {
            Inner::System => formatter.write_str("Clock::System"),
            Inner::Manual(_) => write!(formatter, "Clock::Manual({})", self.now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::manual(datetime!(2026-01-01 00:00:00 UTC));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00:00 UTC));
        clock
            .advance(Duration::seconds(3600))
            .expect("manual clock");
        assert_eq!(clock.now(), datetime!(2026-01-01 01:00:00 UTC));
        clock
            .set(datetime!(2030-05-05 05:05:05 UTC))
            .expect("manual clock");
        assert_eq!(clock.unix_seconds(), 1_904_187_905);
    }

    #[test]
    fn system_clock_refuses_to_move() {
        let clock = Clock::system();
        assert!(matches!(
            clock.advance(Duration::seconds(1)),
            Err(Error::ClockNotManual)
        ));
        assert!(!clock.is_manual());
    }
}
