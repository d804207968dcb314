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
    SecurityRole, ServiceProtectionLimits, Switches, Table, TableData, Team, TeamKind,
    ThrottleLimit,
};
pub use errors::{ERROR_CODES, ErrorCodeEntry};
pub use rows::{OrdinaryUser, ordinary_users, ordinary_users_in};
pub use standard_tables::{
    RoleTemplate, predefined_role, predefined_roles, standard_table, standard_tables,
};

use fake_core::{Mount, ServerHandle};

/// Everything that can go wrong while building or starting the fake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration contradicts itself.
    #[error("invalid fake Dataverse configuration: {0}")]
    Config(ConfigError),
    /// [`Dataverse::replace_config`] was given a config with other hosts than the running fake.
    #[error(
        "a running fake Dataverse cannot change its hosts (serving {before:?}, the new config has {after:?})"
    )]
    HostsChanged {
        /// The hosts served.
        before: Vec<String>,
        /// The hosts of the refused config.
        after: Vec<String>,
    },
    /// The shared server runtime failed.
    #[error(transparent)]
    Core(#[from] fake_core::Error),
}

/// How a [`Config`] contradicts itself. Validation finds these itself: there is no underlying
/// cause to keep, so each variant carries the facts its message names.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Two environments claim one host.
    #[error("host `{host}` belongs to two environments")]
    DuplicateHost {
        /// The host, lowercase.
        host: String,
    },
    /// An environment needs exactly one business unit without a parent.
    #[error("environment `{environment}` must have exactly one root business unit, found {found}")]
    RootBusinessUnits {
        /// The environment's host.
        environment: String,
        /// How many roots it has.
        found: usize,
    },
    /// An application user's business unit is not the environment's.
    #[error(
        "application user `{application_id}` of `{environment}` is in unknown business unit `{business_unit}`"
    )]
    UnknownBusinessUnit {
        /// The user's `appid`.
        application_id: uuid::Uuid,
        /// The environment's host.
        environment: String,
        /// The missing business unit.
        business_unit: uuid::Uuid,
    },
    /// An application user holds a role the environment lacks.
    #[error("application user `{application_id}` of `{environment}` has unknown role `{role}`")]
    UnknownRole {
        /// The user's `appid`.
        application_id: uuid::Uuid,
        /// The environment's host.
        environment: String,
        /// The missing role.
        role: uuid::Uuid,
    },
    /// A team's role or business unit, a team member, or an owner of a table's rows that the
    /// environment does not have.
    #[error("{what} `{id}` of `{environment}` is unknown")]
    UnknownPrincipal {
        /// What refers to it (`role of team Importers`, `owner of table account`).
        what: String,
        /// The environment's host.
        environment: String,
        /// The missing id.
        id: uuid::Uuid,
    },
    /// Two tables of one environment share a logical or entity set name (a custom table named
    /// like a standard one would shadow it in URLs and metadata).
    #[error("environment `{environment}` has two tables named `{name}`")]
    DuplicateTable {
        /// The environment's host.
        environment: String,
        /// The logical or entity set name both use.
        name: String,
    },
    /// A role from another business unit, with Dataverse's own message for it (also for a
    /// team's role: `userid` is then the `teamid`, UNCONFIRMED wording for teams).
    #[error(
        "Cannot associate security role because the security role's Business Unit is not the same as the user's Business Unit. Details: userid={user}, userBU={user_business_unit}, roleId={role}, roleBU={role_business_unit}"
    )]
    RoleInOtherBusinessUnit {
        /// The user's `systemuserid`.
        user: uuid::Uuid,
        /// The user's business unit.
        user_business_unit: uuid::Uuid,
        /// The role.
        role: uuid::Uuid,
        /// The role's business unit.
        role_business_unit: uuid::Uuid,
    },
}

/// The fake as a [`fake_core::Service`], and the handle that changes its world while it runs
/// ([`Dataverse::replace_config`]).
pub struct Dataverse {
    /// The current snapshot. A request clones the `Arc` once when it starts and reads only that
    /// snapshot, so it sees the world before or after a change, never half of each.
    current: fake_core::Snapshot<state::State>,
    /// The snapshot the fake was built with, for [`Dataverse::reset`].
    initial: Arc<state::State>,
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
            .field("hosts", &self.snapshot().hosts())
            .finish_non_exhaustive()
    }
}

impl Dataverse {
    /// Every host served: each environment's web host and its `.api.` host.
    pub fn hosts(&self) -> Vec<String> {
        self.snapshot().hosts()
    }

    /// Changes the world while the fake runs: `config` is validated as [`service`] validates
    /// one, then swapped in at once. Requests in flight finish on the world they started with.
    /// Service-protection windows and in-flight counts carry over; forced-throttle counters
    /// restart when the forced throttles differ. The environments' hosts (and their order)
    /// cannot change, since the listener's certificate was made for them; neither can
    /// `scan_budget.concurrent_scans`, whose permits exist once per fake.
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

    /// Forgets every runtime memory (service-protection windows, forced-throttle counters,
    /// scan statistics) and goes back to the config the fake was built with. Requests in
    /// flight keep their own in-flight slots, in the memory they started with.
    pub fn reset(&self) {
        self.install(&self.initial.config);
    }

    /// Forgets every runtime memory and keeps the current config.
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
    pub(crate) fn snapshot(&self) -> Arc<state::State> {
        self.current.get()
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
        let state = self.snapshot();
        Box::pin(async move {
            if !routes::is_heavy(&state, &request) {
                return routes::handle(&state, request);
            }
            // The semaphore is never closed, so acquiring fails only if it were; then the scan
            // runs without a permit rather than not at all.
            let permit = Arc::clone(&self.scans).acquire_owned().await.ok();
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
        r#"{{"error":{{"code":"{}","message":"{}"}}}}"#,
        code.hex(),
        code.fixed_message().unwrap_or_default()
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
    let state = Arc::new(state::State::new(config)?);
    Ok(Arc::new(Dataverse {
        current: fake_core::Snapshot::new(Arc::clone(&state)),
        initial: state,
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
