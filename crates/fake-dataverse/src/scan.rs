//! The scan budget of one request (rows examined, wall time), checked as a scan goes, and the
//! SQL timeout error that ends a request over it (see [`ScanBudget`] for the limits and why).
//! Every loop over a table's rows calls [`Budget::examine`] once per row.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use crate::config::ScanBudget;
use crate::errors::ErrorCode;
use crate::response::ApiError;

/// How often (in rows) the wall clock is read: reading it per row would cost more than a row.
const CLOCK_EVERY: u64 = 1024;

/// What one request may still scan. Shared by reference between the parts of one answer (the
/// count, the page, the expands), hence the `Cell`s; it never crosses threads.
#[derive(Debug)]
pub(crate) struct Budget {
    max_rows: u64,
    deadline: Option<Instant>,
    examined: Cell<u64>,
    exceeded: Cell<bool>,
}

impl Budget {
    /// A fresh budget for one request, its clock starting now.
    pub(crate) fn new(limits: &ScanBudget) -> Budget {
        let now = Instant::now();
        Budget {
            max_rows: limits.max_rows,
            deadline: limits.max_time.map(|time| now + time),
            examined: Cell::new(0),
            exceeded: Cell::new(false),
        }
    }

    /// Counts one row examined; the SQL timeout error once the budget is spent.
    pub(crate) fn examine(&self) -> Result<(), ApiError> {
        if self.proceed() {
            Ok(())
        } else {
            Err(sql_timeout())
        }
    }

    /// Like [`Budget::examine`], as a `bool` for iterator adapters (`take_while`); follow the
    /// loop with [`Budget::check`].
    pub(crate) fn proceed(&self) -> bool {
        if self.exceeded.get() {
            return false;
        }
        let examined = self.examined.get() + 1;
        self.examined.set(examined);
        // The first row reads the clock too, so a zero time budget fails at once.
        let late = examined % CLOCK_EVERY == 1
            && self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline);
        if examined > self.max_rows || late {
            self.exceeded.set(true);
            return false;
        }
        true
    }

    /// The SQL timeout error if the budget ran out during a `take_while` loop.
    pub(crate) fn check(&self) -> Result<(), ApiError> {
        if self.exceeded.get() {
            Err(sql_timeout())
        } else {
            Ok(())
        }
    }

    /// Rows examined so far.
    pub(crate) fn examined(&self) -> u64 {
        self.examined.get()
    }
}

/// What Dataverse answers when a query's SQL runs out of time (see [`ScanBudget`]).
pub(crate) fn sql_timeout() -> ApiError {
    ApiError::new(
        ErrorCode::SqlTimeout,
        "SQL timeout expired. CRM ErrorCode: -2147204783 Sql ErrorCode: -2146232060 Sql Number: -2",
    )
}

/// What the ordered scans of this fake did: the most rows one page held at once, and the rows
/// the last scan examined. Tests read it to show memory stays bounded without measuring RSS.
#[derive(Debug, Default)]
pub(crate) struct ScanStats {
    peak_held: AtomicUsize,
    last_examined: AtomicU64,
}

impl ScanStats {
    /// Records one request's scan.
    pub(crate) fn record(&self, examined: u64, held: usize) {
        self.peak_held.fetch_max(held, Ordering::Relaxed);
        self.last_examined.store(examined, Ordering::Relaxed);
    }

    /// The most rows any ordered page held at once.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by tests only"))]
    pub(crate) fn peak_held(&self) -> usize {
        self.peak_held.load(Ordering::Relaxed)
    }

    /// The rows the last recorded scan examined.
    #[cfg_attr(not(test), expect(dead_code, reason = "read by tests only"))]
    pub(crate) fn last_examined(&self) -> u64 {
        self.last_examined.load(Ordering::Relaxed)
    }
}
