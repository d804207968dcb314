//! Time for the flow: the current time (check timestamps) and waiting (`Retry-After`). Injected
//! so tests never wait real time; [`SystemTimer`] is the real one.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use time::OffsetDateTime;

/// A boxed future that completes when a wait is over.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// The flow's source of time.
pub trait Timer: Send + Sync + std::fmt::Debug + 'static {
    /// Now.
    fn now(&self) -> OffsetDateTime;
    /// Completes after `duration` (a test timer may advance its clock and complete at once).
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The system clock and tokio's timer.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTimer;

impl Timer for SystemTimer {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}
