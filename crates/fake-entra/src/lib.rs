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

/// Everything that can go wrong while building or starting the fake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The signing key or its certificate is unusable.
    #[error("invalid signing key: {0}")]
    SigningKey(String),
    /// The configuration contradicts itself (unknown tenant, unknown catalogue entry, ...).
    #[error("invalid fake Entra configuration: {0}")]
    Config(String),
    /// A document could not be serialized (a bug).
    #[error("failed to serialize a response")]
    Serialize(#[source] serde_json::Error),
    /// The shared server runtime failed.
    #[error(transparent)]
    Core(#[from] fake_core::Error),
}

/// The fake as a [`fake_core::Service`].
pub struct Entra {
    state: state::State,
}

impl std::fmt::Debug for Entra {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Entra")
            .field("authority_host", &self.state.config.cloud.authority_host())
            .finish_non_exhaustive()
    }
}

impl Entra {
    /// The host names this instance answers for (authority host first, then aliases).
    pub fn hosts(&self) -> Vec<String> {
        self.state.hosts()
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
        Box::pin(async move { routes::handle(&self.state, request) })
    }
}

/// Validates `config` and builds the service.
pub fn service(config: Config) -> Result<Arc<Entra>, Error> {
    Ok(Arc::new(Entra {
        state: state::State::new(config)?,
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
