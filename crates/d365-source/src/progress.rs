//! What the connection check reports while it runs: a [`CheckEvent`] when each step starts
//! and when it ends, with the time it took on the flow's [`Timer`](crate::Timer), delivered to
//! a [`Progress`] observer. Observing changes nothing the check sends or decides; no event ever
//! carries a secret, a token or a service's answer (the outcome's `Problem` has those, scrubbed).

use std::time::Duration;

use crate::problem::Step;

/// One step of the check started or ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckEvent {
    /// Which step: the check's steps are token, WhoAmI, organization, privileges, then one
    /// table read per table to import.
    pub step: Step,
    /// The step as a person reads it: `Token`, `WhoAmI`, `Organization`, `Privileges`,
    /// `Read account` (the table's logical name, or the name as typed when it names no table).
    pub label: String,
    /// Started, or how it ended.
    pub kind: CheckEventKind,
}

/// Whether a step started, passed or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckEventKind {
    /// The step started (its first request is about to be sent).
    Started,
    /// The step passed.
    Passed {
        /// From its start to its end on the flow's timer, retries and waits included.
        elapsed: Duration,
    },
    /// The step failed: the check ends with it (its reads excepted: every table is read before
    /// the denied ones are reported together, so a failed read may be followed by others).
    Failed {
        /// From its start to its end on the flow's timer, retries and waits included.
        elapsed: Duration,
    },
}

impl CheckEventKind {
    /// `started`, `passed` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckEventKind::Started => "started",
            CheckEventKind::Passed { .. } => "passed",
            CheckEventKind::Failed { .. } => "failed",
        }
    }

    /// How long the step took, once it ended.
    pub fn elapsed(self) -> Option<Duration> {
        match self {
            CheckEventKind::Started => None,
            CheckEventKind::Passed { elapsed } | CheckEventKind::Failed { elapsed } => {
                Some(elapsed)
            }
        }
    }
}

/// Receives the check's events, in order, on the task that runs the check. It must not block:
/// the check waits for it.
pub trait Progress: Send + Sync {
    /// One step started or ended.
    fn event(&self, event: CheckEvent);
}

/// The observer of the flow's methods that take none: it ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&self, _event: CheckEvent) {}
}

/// Events sent to a channel (a receiver gone is not the check's concern: it goes on).
impl Progress for tokio::sync::mpsc::UnboundedSender<CheckEvent> {
    fn event(&self, event: CheckEvent) {
        let _ = self.send(event);
    }
}

/// Events collected in order (tests, and callers that show the steps after the check).
impl Progress for std::sync::Mutex<Vec<CheckEvent>> {
    fn event(&self, event: CheckEvent) {
        // A poisoned list still takes events: a panic elsewhere says nothing about them.
        self.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(event);
    }
}
