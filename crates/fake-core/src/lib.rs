//! The runtime every d365-harness fake shares: a test PKI, one HTTPS listener that routes each
//! request to a [`Service`] by host name, a request [`Journal`], an injectable [`Clock`], a seeded
//! [`IdGenerator`] and [`FaultRule`]s applied before routing.
//!
//! Start at [`spawn`]. Invariant: nothing here knows about Entra or Dataverse; services plug in
//! through the [`Service`] trait and are matched by [`HostPattern`].

mod clock;
mod echo;
mod fault;
mod ids;
mod journal;
mod pki;
mod server;
mod service;
mod snapshot;

pub use clock::Clock;
pub use echo::{MAX_ECHO_CHARS, echo};
pub use fault::{FaultAction, FaultRule, FaultRuleError, Faults, glob_matches};
pub use ids::IdGenerator;
pub use journal::{
    Journal, JournalBody, JournalEntry, JournalQuery, MAX_JOURNALED_BODY, SUBSCRIBER_CAPACITY,
    StatusFilter, StatusFilterError, redact_form, redact_json,
};
pub use pki::{ServerCertificate, TestPki};
pub use server::{HEALTH_PATH, Mounts, ServerConfig, ServerHandle, spawn, spawn_one};
pub use service::{
    BoxFuture, HostPattern, Mount, RequestContext, Service, json_response, text_response,
};
pub use snapshot::Snapshot;

/// Everything that can go wrong while setting up or running the shared server runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The test PKI could not be generated.
    #[error("failed to generate the test PKI")]
    Pki(#[source] rcgen::Error),
    /// The TLS configuration was rejected by rustls.
    #[error("failed to build the TLS configuration")]
    Tls(#[source] rustls::Error),
    /// The listener could not be bound.
    #[error("failed to bind `{addr}`")]
    Bind {
        /// The address we tried to bind.
        addr: std::net::SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// A host pattern is not a valid host name or wildcard.
    #[error("invalid host pattern `{pattern}`: {reason}")]
    HostPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Moving the clock would take it outside the dates `time` can represent (years -9999 to
    /// 9999); the clock is left where it was.
    #[error(
        "the clock cannot be moved that far: the time would be outside the years -9999 to 9999"
    )]
    ClockOutOfRange,
}
