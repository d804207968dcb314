//! The injectable clock. Every time a fake reads (token lifetimes, secret expiry, timestamps in
//! error bodies, `Retry-After` windows) comes from a [`Clock`], so scenarios can move time without
//! waiting for it; a system clock can be moved too (by an offset), so `serve` can jump ahead.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

use crate::Error;

/// A cheap-to-clone handle on either the system time (plus an offset that can be moved) or a
/// manual time that only moves when told.
#[derive(Clone)]
pub struct Clock {
    inner: Arc<Inner>,
}

enum Inner {
    /// The system time plus this offset (zero until moved).
    System(Mutex<Duration>),
    /// A time that stands still; `start` is kept for [`Clock::reset`].
    Manual {
        start: OffsetDateTime,
        now: Mutex<OffsetDateTime>,
    },
}

impl Clock {
    /// A clock that follows the system time (what `serve` uses), with no offset.
    pub fn system() -> Clock {
        Clock {
            inner: Arc::new(Inner::System(Mutex::new(Duration::ZERO))),
        }
    }

    /// A clock that stands still at `start` until [`Clock::advance`] or [`Clock::set`] moves it.
    pub fn manual(start: OffsetDateTime) -> Clock {
        let start = start.to_offset(time::UtcOffset::UTC);
        Clock {
            inner: Arc::new(Inner::Manual {
                start,
                now: Mutex::new(start),
            }),
        }
    }

    /// The current time, in UTC. A system clock whose offset would take it past the range
    /// `time` can represent stops at that range's end rather than failing.
    pub fn now(&self) -> OffsetDateTime {
        match &*self.inner {
            Inner::System(offset) => OffsetDateTime::now_utc().saturating_add(*lock(offset)),
            Inner::Manual { now, .. } => *lock(now),
        }
    }

    /// The current time as whole seconds since the Unix epoch.
    pub fn unix_seconds(&self) -> i64 {
        self.now().unix_timestamp()
    }

    /// Moves the clock forward (or back, with a negative duration). A system clock keeps
    /// following the system time from its new position (its offset grows by `by`).
    ///
    /// Fails with [`Error::ClockOutOfRange`], leaving the clock as it was, when the new time
    /// would be outside what `time` can represent.
    pub fn advance(&self, by: Duration) -> Result<(), Error> {
        match &*self.inner {
            Inner::System(offset) => {
                let mut offset = lock(offset);
                let moved = offset
                    .checked_add(by)
                    .filter(|moved| OffsetDateTime::now_utc().checked_add(*moved).is_some())
                    .ok_or(Error::ClockOutOfRange)?;
                *offset = moved;
            }
            Inner::Manual { now, .. } => {
                let mut now = lock(now);
                *now = now.checked_add(by).ok_or(Error::ClockOutOfRange)?;
            }
        }
        Ok(())
    }

    /// Puts the clock at `to`. A system clock gets the offset that makes [`Clock::now`] read
    /// `to` at this instant, and keeps ticking from there. It cannot fail today (any `to` is
    /// representable); the `Result` stays so that callers written for it need not change.
    pub fn set(&self, to: OffsetDateTime) -> Result<(), Error> {
        let to = to.to_offset(time::UtcOffset::UTC);
        match &*self.inner {
            Inner::System(offset) => *lock(offset) = to - OffsetDateTime::now_utc(),
            Inner::Manual { now, .. } => *lock(now) = to,
        }
        Ok(())
    }

    /// Undoes every move: a manual clock goes back to the time it was created with, a system
    /// clock back to the system time (offset zero).
    pub fn reset(&self) {
        match &*self.inner {
            Inner::System(offset) => *lock(offset) = Duration::ZERO,
            Inner::Manual { start, now } => *lock(now) = *start,
        }
    }

    /// How far the clock has been moved: a system clock's offset from the system time, or how
    /// far a manual clock is from the time it was created with. Zero after [`Clock::reset`].
    pub fn offset(&self) -> Duration {
        match &*self.inner {
            Inner::System(offset) => *lock(offset),
            Inner::Manual { start, now } => *lock(now) - *start,
        }
    }

    /// Whether this clock is manual (tests) rather than the system time.
    pub fn is_manual(&self) -> bool {
        matches!(&*self.inner, Inner::Manual { .. })
    }
}

/// Locks a clock's state; a poisoned lock still holds a valid time (writes are single stores).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.inner {
            Inner::System(offset) => write!(formatter, "Clock::System(offset {})", *lock(offset)),
            Inner::Manual { .. } => write!(formatter, "Clock::Manual({})", self.now()),
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
    fn manual_clock_reports_its_offset_and_resets_to_its_start() {
        let clock = Clock::manual(datetime!(2026-01-01 02:00:00 +02:00));
        assert_eq!(clock.offset(), Duration::ZERO);
        clock.advance(Duration::hours(5)).expect("in range");
        clock.advance(Duration::minutes(-30)).expect("in range");
        assert_eq!(clock.offset(), Duration::minutes(270));
        clock
            .set(datetime!(2025-12-31 00:00:00 UTC))
            .expect("manual clock");
        assert_eq!(clock.offset(), Duration::hours(-24));
        clock.reset();
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00:00 UTC));
        assert_eq!(clock.offset(), Duration::ZERO);
    }

    #[test]
    fn manual_clock_refuses_to_leave_the_representable_range() {
        let clock = Clock::manual(datetime!(2026-01-01 00:00:00 UTC));
        assert!(matches!(
            clock.advance(Duration::MAX),
            Err(Error::ClockOutOfRange)
        ));
        assert_eq!(clock.now(), datetime!(2026-01-01 00:00:00 UTC));
    }

    #[test]
    fn system_clock_advances_by_an_offset_and_keeps_following_the_system_time() {
        let clock = Clock::system();
        assert!(!clock.is_manual());
        assert_eq!(clock.offset(), Duration::ZERO);
        clock.advance(Duration::days(2)).expect("in range");
        clock.advance(Duration::hours(-1)).expect("in range");
        assert_eq!(clock.offset(), Duration::hours(47));
        let before = OffsetDateTime::now_utc();
        let now = clock.now();
        let after = OffsetDateTime::now_utc();
        assert!(
            before + Duration::hours(47) <= now && now <= after + Duration::hours(47),
            "{before} <= {now} - 47h <= {after}"
        );
    }

    #[test]
    fn system_clock_set_makes_now_read_the_target() {
        let clock = Clock::system();
        let target = datetime!(2031-03-04 05:06:07 UTC);
        let before = OffsetDateTime::now_utc();
        clock.set(target).expect("system clock");
        let now = clock.now();
        let elapsed = OffsetDateTime::now_utc() - before;
        // It read exactly `target` when set, and has ticked on by at most the time elapsed.
        assert!(
            target <= now && now <= target + elapsed,
            "{now} not within {elapsed} after {target}"
        );
        assert!(clock.offset() > Duration::ZERO);
    }

    #[test]
    fn system_clock_resets_to_the_system_time() {
        let clock = Clock::system();
        clock.advance(Duration::days(-400)).expect("in range");
        assert_eq!(clock.offset(), Duration::days(-400));
        clock.reset();
        assert_eq!(clock.offset(), Duration::ZERO);
        let before = OffsetDateTime::now_utc();
        let now = clock.now();
        assert!(before <= now && now <= OffsetDateTime::now_utc());
    }

    #[test]
    fn system_clock_refuses_an_offset_past_the_representable_range() {
        let clock = Clock::system();
        clock.advance(Duration::hours(1)).expect("in range");
        assert!(matches!(
            clock.advance(Duration::MAX),
            Err(Error::ClockOutOfRange)
        ));
        assert!(matches!(
            clock.advance(Duration::days(365 * 10_000)),
            Err(Error::ClockOutOfRange)
        ));
        assert_eq!(clock.offset(), Duration::hours(1));
    }

    #[test]
    fn clones_share_one_clock() {
        let clock = Clock::system();
        let clone = clock.clone();
        clone.advance(Duration::minutes(5)).expect("in range");
        assert_eq!(clock.offset(), Duration::minutes(5));
        clock.reset();
        assert_eq!(clone.offset(), Duration::ZERO);
    }
}
