//! The fake's state: the validated config with lookup indexes, plus the little that changes
//! per request (throttling windows, forced-error counters, used client assertions). A `State`
//! is one snapshot of the world: `Entra::replace_config` builds the next one, which adopts the
//! runtime memory of this one (see [`State::succeed`]). Locks are std mutexes held only for a
//! lookup, never across an `.await`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use uuid::Uuid;

use crate::catalogue::{CatalogueEntry, ForcedErrorKind};
use crate::replay::ReplayLedger;
use crate::{App, AssertionReplayPolicy, Config, Error, Tenant};

pub(crate) struct State {
    pub(crate) config: Arc<Config>,
    tenants_by_id: HashMap<Uuid, usize>,
    tenants_by_domain: HashMap<String, usize>,
    apps_by_client_id: HashMap<Uuid, usize>,
    throttle_windows: Arc<Mutex<HashMap<(Uuid, Uuid), ThrottleWindow>>>,
    forced_counters: Arc<Mutex<Vec<ForcedCounter>>>,
    /// `config.forced_errors[i].error`, read once when the state is built.
    forced_kinds: Vec<ForcedErrorKind>,
    /// Used client assertions, when [`AssertionReplayPolicy::Reject`] asks for the memory.
    assertion_ledger: Option<Arc<Mutex<ReplayLedger>>>,
}

#[derive(Clone, Copy, Debug)]
struct ThrottleWindow {
    started: OffsetDateTime,
    requests: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct ForcedCounter {
    matched: u64,
    fired: u64,
}

/// Where the client asked for a token: a tenant, or one of the tenant-independent aliases.
#[derive(Clone, Copy, Debug)]
pub(crate) enum TenantLookup<'a> {
    Found(&'a Tenant),
    Alias,
    EmptyGuid,
    Invalid,
    NotFound,
}

impl State {
    pub(crate) fn new(config: Config) -> Result<State, Error> {
        State::build(Arc::new(config))
    }

    /// A snapshot of `config` with fresh runtime memory.
    pub(crate) fn build(config: Arc<Config>) -> Result<State, Error> {
        let mut tenants_by_id = HashMap::new();
        let mut tenants_by_domain = HashMap::new();
        for (index, tenant) in config.tenants.iter().enumerate() {
            if tenants_by_id.insert(tenant.id, index).is_some() {
                return Err(Error::DuplicateTenant { tenant: tenant.id });
            }
            for domain in &tenant.domains {
                if tenants_by_domain
                    .insert(domain.to_ascii_lowercase(), index)
                    .is_some()
                {
                    return Err(Error::DuplicateDomain {
                        domain: domain.clone(),
                    });
                }
            }
        }
        let mut apps_by_client_id = HashMap::new();
        for (index, app) in config.apps.iter().enumerate() {
            if apps_by_client_id.insert(app.client_id, index).is_some() {
                return Err(Error::DuplicateApp {
                    client_id: app.client_id,
                });
            }
            let tenants = std::iter::once(app.home_tenant).chain(
                app.service_principals
                    .iter()
                    .map(|principal| principal.tenant),
            );
            for tenant in tenants {
                if !tenants_by_id.contains_key(&tenant) {
                    return Err(Error::UnknownTenant {
                        client_id: app.client_id,
                        tenant,
                    });
                }
            }
        }
        let mut forced_kinds = Vec::with_capacity(config.forced_errors.len());
        for forced in &config.forced_errors {
            let Some(kind) = ForcedErrorKind::find(&forced.error) else {
                return Err(Error::UnknownForcedError {
                    error: forced.error.clone(),
                    known: CatalogueEntry::known_names(),
                });
            };
            forced_kinds.push(kind);
        }
        if config.token_lifetime_seconds <= 0 {
            return Err(Error::TokenLifetime {
                seconds: config.token_lifetime_seconds,
            });
        }
        let forced_counters = vec![ForcedCounter::default(); config.forced_errors.len()];
        let assertion_ledger = match config.assertion_replay {
            AssertionReplayPolicy::Accept => None,
            // A ledger that remembers nothing would accept every replay while claiming not to.
            AssertionReplayPolicy::Reject { capacity: 0 } => return Err(Error::ReplayCapacityZero),
            AssertionReplayPolicy::Reject { capacity } => {
                Some(Arc::new(Mutex::new(ReplayLedger::new(capacity))))
            }
        };
        Ok(State {
            config,
            tenants_by_id,
            tenants_by_domain,
            apps_by_client_id,
            throttle_windows: Arc::new(Mutex::new(HashMap::new())),
            forced_counters: Arc::new(Mutex::new(forced_counters)),
            forced_kinds,
            assertion_ledger,
        })
    }

    /// The snapshot after this one, for `config`: validated like a new one, and keeping this
    /// one's runtime memory where it still means the same thing. Throttle windows are kept
    /// (they are keyed by tenant and client ids, which a change does not renumber); forced-error
    /// counters restart when the forced errors changed; used assertions are kept unless the
    /// replay policy changed.
    pub(crate) fn succeed(&self, config: Config) -> Result<State, Error> {
        let mut next = State::new(config)?;
        next.throttle_windows = Arc::clone(&self.throttle_windows);
        if next.config.forced_errors == self.config.forced_errors {
            next.forced_counters = Arc::clone(&self.forced_counters);
        }
        if next.config.assertion_replay == self.config.assertion_replay {
            next.assertion_ledger.clone_from(&self.assertion_ledger);
        }
        Ok(next)
    }

    pub(crate) fn hosts(&self) -> Vec<String> {
        let mut hosts = vec![self.config.cloud.authority_host().to_owned()];
        for alias in &self.config.aliases {
            let alias = alias.to_ascii_lowercase();
            if !hosts.contains(&alias) {
                hosts.push(alias);
            }
        }
        hosts
    }

    /// Resolves the tenant segment of a path as ESTS does: alias, GUID, or verified domain.
    pub(crate) fn tenant(&self, segment: &str) -> TenantLookup<'_> {
        let lowered = segment.to_ascii_lowercase();
        if matches!(lowered.as_str(), "common" | "organizations" | "consumers") {
            return TenantLookup::Alias;
        }
        if let Ok(id) = Uuid::try_parse(segment) {
            if id.is_nil() {
                return TenantLookup::EmptyGuid;
            }
            return match self.tenants_by_id.get(&id) {
                Some(index) => TenantLookup::Found(&self.config.tenants[*index]),
                None => TenantLookup::NotFound,
            };
        }
        if !is_dns_name(&lowered) {
            return TenantLookup::Invalid;
        }
        match self.tenants_by_domain.get(&lowered) {
            Some(index) => TenantLookup::Found(&self.config.tenants[*index]),
            None => TenantLookup::NotFound,
        }
    }

    pub(crate) fn tenant_by_id(&self, id: Uuid) -> Option<&Tenant> {
        self.tenants_by_id
            .get(&id)
            .map(|index| &self.config.tenants[*index])
    }

    pub(crate) fn app(&self, client_id: &str) -> Option<&App> {
        let client_id = Uuid::try_parse(client_id).ok()?;
        self.apps_by_client_id
            .get(&client_id)
            .map(|index| &self.config.apps[*index])
    }

    /// Counts a request against its client's window; `Some(seconds)` means throttled.
    pub(crate) fn throttle(&self, tenant: Uuid, client_id: Uuid) -> Option<i64> {
        let limit = self.config.rate_limit?;
        let now = self.config.clock.now();
        let window = time::Duration::seconds(i64::from(limit.window_seconds));
        let mut windows = self
            .throttle_windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = windows
            .entry((tenant, client_id))
            .or_insert(ThrottleWindow {
                started: now,
                requests: 0,
            });
        if now - entry.started >= window {
            *entry = ThrottleWindow {
                started: now,
                requests: 0,
            };
        }
        entry.requests += 1;
        if entry.requests > limit.requests {
            let remaining = (entry.started + window - now).whole_seconds().max(1);
            return Some(remaining);
        }
        None
    }

    /// Records a use of an assertion: `None` when replays are accepted, else whether this is
    /// the first use of `jti` by `client` before `valid_until`.
    pub(crate) fn first_use_of_assertion(
        &self,
        client: Uuid,
        jti: &str,
        valid_until: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Option<bool> {
        let mut ledger = self
            .assertion_ledger
            .as_ref()?
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Some(ledger.first_use(client, jti, valid_until, now))
    }

    /// How many assertion uses are remembered (tests check the memory is freed).
    #[cfg(test)]
    pub(crate) fn remembered_assertions(&self) -> usize {
        self.assertion_ledger.as_ref().map_or(0, |ledger| {
            ledger
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .len()
        })
    }

    /// The first forced error that fires for this request, if any.
    pub(crate) fn forced_error(&self, client_id: &str, tenant: &str) -> Option<ForcedErrorKind> {
        let mut counters = self
            .forced_counters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut fired = None;
        let forced_errors = self.config.forced_errors.iter().zip(&self.forced_kinds);
        for ((forced, kind), counter) in forced_errors.zip(counters.iter_mut()) {
            let client_matches = forced
                .client_id
                .as_deref()
                .is_none_or(|wanted| wanted.eq_ignore_ascii_case(client_id));
            let tenant_matches = forced
                .tenant
                .as_deref()
                .is_none_or(|wanted| wanted.eq_ignore_ascii_case(tenant));
            if !(client_matches && tenant_matches) {
                continue;
            }
            counter.matched += 1;
            let on_this_call = forced.nth.is_none_or(|nth| nth == counter.matched);
            let budget_left = forced.times.is_none_or(|times| counter.fired < times);
            if fired.is_none() && on_this_call && budget_left {
                counter.fired += 1;
                fired = Some(*kind);
            }
        }
        fired
    }
}

impl App {
    /// The service principal in `tenant`: `Some(enabled)` if it exists there.
    pub(crate) fn principal_in(&self, tenant: Uuid) -> Option<bool> {
        if let Some(principal) = self
            .service_principals
            .iter()
            .find(|principal| principal.tenant == tenant)
        {
            return Some(principal.enabled);
        }
        (tenant == self.home_tenant).then_some(true)
    }

    /// The object id of the service principal in `tenant`: the configured one, else a stable
    /// UUID v5 of the tenant and client id. Tokens carry it as `oid`; a Dataverse application
    /// user for this app records it as `azureactivedirectoryobjectid`.
    pub fn principal_object_id(&self, tenant: Uuid) -> Uuid {
        self.service_principals
            .iter()
            .find(|principal| principal.tenant == tenant)
            .and_then(|principal| principal.object_id)
            .unwrap_or_else(|| {
                Uuid::new_v5(
                    &Uuid::NAMESPACE_URL,
                    format!("d365-harness:service-principal:{tenant}:{}", self.client_id)
                        .as_bytes(),
                )
            })
    }
}

/// Whether `name` is a DNS name ESTS would look up as a domain (two or more labels).
fn is_dns_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && name.len() <= 253
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_dns(name: &str, expected: bool) {
        assert_eq!(is_dns_name(name), expected, "{name}");
    }

    #[test]
    fn dns_names() {
        check_dns("contoso.onmicrosoft.com", true);
        check_dns("contoso.com", true);
        check_dns("authorize", false);
        check_dns("my_tenant", false);
        check_dns("my_tenant.com", false);
        check_dns("-bad.com", false);
        check_dns("contoso.123", false);
        check_dns("a..b", false);
    }
}
