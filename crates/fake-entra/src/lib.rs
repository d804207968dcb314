//! A fake Microsoft Entra ID (the "ESTS" token service) for client-credentials apps that call
//! Dynamics 365: token endpoints v2 and v1, OpenID configuration, JWKS, instance discovery and
//! the AADSTS error catalogue, shaped like the real service (see `shared/reference/entra.md`).
//!
//! Start at [`service`] (to mount on a shared listener) or [`spawn`] (a server of its own).
//! Invariant: this crate knows nothing of Dataverse; the two fakes share only identifiers and
//! the JWKS this one publishes.

mod assertion;
mod catalogue;
mod config;
mod discovery;
mod grant;
mod replay;
mod response;
mod routes;
mod state;
mod token;

use std::sync::Arc;

pub use catalogue::{AadError, AadstsError, CATALOGUE, CatalogueEntry, ForcedErrorKind, THROTTLED};
pub use config::{
    ApiPermission, App, AssertionReplayPolicy, ClientCertificate, ClientSecret, Cloud,
    CommonTenantPolicy, Config, ForcedError, PermissionKind, RateLimit, ResourcePolicy,
    ServicePrincipal, Tenant, TrailerSeparator,
};
pub use token::{AccessTokenClaims, SigningKey, sha1_thumbprint, sha256_thumbprint};

use fake_core::{Mount, ServerHandle};

/// Everything that can go wrong while building or starting the fake. Causes are kept as
/// sources, so a report that walks the chain shows the PEM or key error beneath ours.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A PEM text of the signing key could not be read.
    #[error("invalid signing key: cannot read the {part} PEM")]
    SigningKeyPem {
        /// Which PEM: the private key or its certificate.
        part: PemPart,
        /// The PEM parser's error.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// The private key is not RSA (an EC or Ed25519 key, say); tokens are signed RS256.
    #[error("invalid signing key: the signing key must be an RSA key (PKCS#8 or PKCS#1)")]
    SigningKeyNotRsa,
    /// The private key is RSA but aws-lc refuses it (too short, inconsistent, ...).
    #[error("invalid signing key: the private key is not a usable RSA key")]
    SigningKeyRejected(#[source] aws_lc_rs::error::KeyRejected),
    /// Signing a token failed (aws-lc reports no detail).
    #[error("invalid signing key: RSA signing failed")]
    Signing(#[source] aws_lc_rs::error::Unspecified),
    /// Two tenants of the configuration have the same id.
    #[error("invalid fake Entra configuration: tenant `{tenant}` is listed twice")]
    DuplicateTenant {
        /// The tenant id.
        tenant: uuid::Uuid,
    },
    /// A domain is claimed by two tenants (compared case-insensitively).
    #[error("invalid fake Entra configuration: domain `{domain}` belongs to two tenants")]
    DuplicateDomain {
        /// The domain as the second tenant writes it.
        domain: String,
    },
    /// Two apps of the configuration have the same client id.
    #[error("invalid fake Entra configuration: app `{client_id}` is listed twice")]
    DuplicateApp {
        /// The client id.
        client_id: uuid::Uuid,
    },
    /// An app's home tenant or service principal names a tenant the configuration lacks.
    #[error(
        "invalid fake Entra configuration: app `{client_id}` names tenant `{tenant}`, which is not in the config"
    )]
    UnknownTenant {
        /// The app.
        client_id: uuid::Uuid,
        /// The tenant it names.
        tenant: uuid::Uuid,
    },
    /// A forced error that is neither `throttled` nor in the catalogue.
    #[error(
        "invalid fake Entra configuration: forced error `{error}` is not in the catalogue; known: {known}"
    )]
    UnknownForcedError {
        /// The name or code as configured.
        error: String,
        /// Every name a forced error may use ([`CatalogueEntry::known_names`]).
        known: String,
    },
    /// `token_lifetime_seconds` is zero or negative.
    #[error("invalid fake Entra configuration: token lifetime must be positive, got {seconds} s")]
    TokenLifetime {
        /// The configured lifetime.
        seconds: i64,
    },
    /// `AssertionReplayPolicy::Reject { capacity: 0 }`: a ledger that remembers nothing would
    /// accept every replay while claiming not to.
    #[error(
        "invalid fake Entra configuration: assertion replay protection needs a capacity of at least 1"
    )]
    ReplayCapacityZero,
    /// [`Entra::replace_config`] was given a config with other hosts than the running fake.
    #[error(
        "a running fake Entra ID cannot change its hosts (serving {before:?}, the new config has {after:?})"
    )]
    HostsChanged {
        /// The hosts served.
        before: Vec<String>,
        /// The hosts of the refused config.
        after: Vec<String>,
    },
    /// A document could not be serialized (a bug).
    #[error("failed to serialize a response")]
    Serialize(#[source] serde_json::Error),
    /// The shared server runtime failed.
    #[error(transparent)]
    Core(#[from] fake_core::Error),
}

/// Which PEM text of the signing key [`Error::SigningKeyPem`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemPart {
    /// The RSA private key.
    PrivateKey,
    /// Its certificate.
    Certificate,
}

impl std::fmt::Display for PemPart {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            PemPart::PrivateKey => "private key",
            PemPart::Certificate => "certificate",
        })
    }
}

/// The fake as a [`fake_core::Service`], and the handle that changes its world while it runs
/// ([`Entra::replace_config`]).
pub struct Entra {
    /// The current snapshot. A request clones the `Arc` once when it starts and reads only that
    /// snapshot, so it sees the world before or after a change, never half of each.
    current: fake_core::Snapshot<state::State>,
    /// The config the fake was built with, for [`Entra::reset`].
    initial: Arc<state::State>,
}

impl std::fmt::Debug for Entra {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Entra")
            .field(
                "authority_host",
                &self.snapshot().config.cloud.authority_host(),
            )
            .finish_non_exhaustive()
    }
}

impl Entra {
    /// The host names this instance answers for (authority host first, then aliases).
    pub fn hosts(&self) -> Vec<String> {
        self.snapshot().hosts()
    }

    /// Changes the world while the fake runs: `config` is validated as [`service`] validates
    /// one, then swapped in at once. Requests in flight finish on the world they started with.
    /// Throttle windows and used client assertions carry over; forced-error counters restart
    /// when the forced errors differ. The hosts (authority host and aliases) cannot change,
    /// since the listener's certificate was made for them.
    pub fn replace_config(&self, config: Config) -> Result<(), Error> {
        self.current.replace_with(|current| {
            let next = current.succeed(config)?;
            let (before, after) = (current.hosts(), next.hosts());
            if before != after {
                return Err(Error::HostsChanged { before, after });
            }
            Ok(next)
        })
    }

    /// Forgets every runtime memory (throttle windows, forced-error counters, used client
    /// assertions) and goes back to the config the fake was built with.
    pub fn reset(&self) {
        self.install(&self.initial.config);
    }

    /// Forgets every runtime memory (throttle windows, forced-error counters, used client
    /// assertions) and keeps the current config.
    pub fn reset_runtime(&self) {
        let config = Arc::clone(&self.snapshot().config);
        self.install(&config);
    }

    /// Makes a snapshot of `config`, which was validated before, with fresh runtime memory.
    fn install(&self, config: &Arc<Config>) {
        // Building a snapshot of a config that built one before cannot fail; should it ever,
        // the current snapshot stays rather than the fake losing its world.
        let _ = self
            .current
            .replace_with(|_| state::State::build(Arc::clone(config)));
    }

    /// The current snapshot of the world.
    fn snapshot(&self) -> Arc<state::State> {
        self.current.get()
    }
}

impl fake_core::Service for Entra {
    fn name(&self) -> &str {
        "entra"
    }

    fn call(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> fake_core::BoxFuture<'_, http::Response<http_body_util::Full<bytes::Bytes>>> {
        let state = self.snapshot();
        Box::pin(async move { routes::handle(&state, request) })
    }
}

/// Validates `config` and builds the service.
pub fn service(config: Config) -> Result<Arc<Entra>, Error> {
    let state = Arc::new(state::State::new(config)?);
    Ok(Arc::new(Entra {
        current: fake_core::Snapshot::new(Arc::clone(&state)),
        initial: state,
    }))
}

/// The service and its hosts, ready for a shared listener.
pub fn mount(config: Config) -> Result<Mount, Error> {
    let entra = service(config)?;
    let hosts = entra.hosts();
    Ok(Mount::new(entra, &hosts)?)
}

#[cfg(test)]
mod tests;

/// Starts a server on `127.0.0.1:0` that serves only this fake.
pub async fn spawn(config: Config) -> Result<ServerHandle, Error> {
    let clock = config.clock.clone();
    Ok(fake_core::spawn_one(mount(config)?, clock).await?)
}
