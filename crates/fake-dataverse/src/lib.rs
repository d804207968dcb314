//! A fake Dataverse Web API for app-only clients: bearer tokens checked against the issuer's
//! JWKS, application users, security roles with depth, functions, metadata and OData queries
//! with paging, service protection limits and the real error envelope and codes (see
//! `shared/reference/dataverse.md`).
//!
//! Start at [`service`] (to mount on a shared listener) or [`spawn`]. Invariant: this crate
//! knows nothing of the fake Entra ID; it trusts whatever keys its [`Config`] names.

mod auth;
mod call;
mod config;
mod csdl;
mod entity_sets;
mod errors;
mod formatted_values;
mod functions;
mod generator;
mod metadata;
mod odata;
mod response;
mod routes;
mod rows;
mod scan;
pub mod schema;
mod security;
mod shaper;
mod standard_tables;
mod state;

use std::sync::Arc;

pub use config::{
    ApplicationUser, BusinessUnit, Config, Depth, Environment, ForcedThrottle, ScanBudget,
    SecurityRole, ServiceProtectionLimits, Switches, Table, TableData, ThrottleLimit,
};
pub use standard_tables::{
    RoleTemplate, predefined_role, predefined_roles, standard_table, standard_tables,
};

use fake_core::{Mount, ServerHandle};

/// Everything that can go wrong while building or starting the fake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration contradicts itself.
    #[error("invalid fake Dataverse configuration: {0}")]
    Config(String),
    /// The shared server runtime failed.
    #[error(transparent)]
    Core(#[from] fake_core::Error),
}

/// The fake as a [`fake_core::Service`].
pub struct Dataverse {
    state: Arc<state::State>,
    /// Permits for large scans (`ScanBudget::concurrent_scans`): a request that may scan a
    /// large table waits for one without holding a thread, then runs on the blocking pool.
    scans: Arc<tokio::sync::Semaphore>,
    /// Called on the blocking thread as a large scan starts: tests use it to hold scans open
    /// while they show that other requests still get answers.
    #[cfg(test)]
    scan_started: std::sync::Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
}

impl std::fmt::Debug for Dataverse {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Dataverse")
            .field("hosts", &self.state.hosts())
            .finish_non_exhaustive()
    }
}

impl Dataverse {
    /// Every host served: each environment's web host and its `.api.` host.
    pub fn hosts(&self) -> Vec<String> {
        self.state.hosts()
    }
}

impl fake_core::Service for Dataverse {
    fn name(&self) -> &str {
        "dataverse"
    }

    fn call(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> fake_core::BoxFuture<'_, http::Response<http_body_util::Full<bytes::Bytes>>> {
        Box::pin(async move {
            if !routes::is_heavy(&self.state, &request) {
                return routes::handle(&self.state, request);
            }
            // The semaphore is never closed, so acquiring fails only if it were; then the scan
            // runs without a permit rather than not at all.
            let permit = Arc::clone(&self.scans).acquire_owned().await.ok();
            let state = Arc::clone(&self.state);
            #[cfg(test)]
            let started = self
                .scan_started
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let scan = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                #[cfg(test)]
                if let Some(started) = started {
                    started();
                }
                routes::handle(&state, request)
            });
            match scan.await {
                Ok(response) => response,
                // A panic goes on to fake-core, which answers it like any handler's panic.
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(_) => shutting_down(),
            }
        })
    }
}

/// The answer when the runtime shuts down under a running scan.
fn shutting_down() -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let code = errors::ErrorCode::ShuttingDown;
    let body = format!(
        r#"{{"error":{{"code":"{}","message":"The fake Dataverse (d365-harness) is shutting down."}}}}"#,
        code.hex()
    );
    let mut response = http::Response::new(http_body_util::Full::new(bytes::Bytes::from(body)));
    *response.status_mut() = code.status();
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; odata.metadata=minimal"),
    );
    response
}

/// Validates `config` and builds the service.
pub fn service(config: Config) -> Result<Arc<Dataverse>, Error> {
    let scans = config.scan_budget.concurrent_scans.max(1);
    Ok(Arc::new(Dataverse {
        state: Arc::new(state::State::new(config)?),
        scans: Arc::new(tokio::sync::Semaphore::new(scans)),
        #[cfg(test)]
        scan_started: std::sync::Mutex::new(None),
    }))
}

/// The service and its hosts, ready for a shared listener.
pub fn mount(config: Config) -> Result<Mount, Error> {
    let dataverse = service(config)?;
    let hosts = dataverse.hosts();
    Ok(Mount::new(dataverse, &hosts)?)
}

#[cfg(test)]
mod tests;

/// Starts a server on `127.0.0.1:0` that serves only this fake.
pub async fn spawn(config: Config) -> Result<ServerHandle, Error> {
    let clock = config.clock.clone();
    Ok(fake_core::spawn_one(mount(config)?, clock).await?)
}

/// `contoso.crm.dynamics.com` → `contoso.api.crm.dynamics.com`.
pub fn api_host(host: &str) -> String {
    let host = host.to_ascii_lowercase();
    match host.split_once('.') {
        Some((org, rest)) if !rest.starts_with("api.") => format!("{org}.api.{rest}"),
        _ => host,
    }
}
