//! The fake's state: the validated config with a host index, and what changes per request
//! (service protection windows, in-flight counts). A `State` is one snapshot of the world:
//! `Dataverse::replace_config` builds the next one, which adopts this one's runtime memory
//! ([`State::succeed`]). Locks are held only for a lookup.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::{Config, Environment, ForcedThrottle, ServiceProtectionLimits, ThrottleLimit};
use crate::errors::ErrorCode;
use crate::generator::GeneratorSpec;
use crate::response::ApiError;
use crate::{ConfigError, Error, api_host};

pub(crate) struct State {
    pub(crate) config: Arc<Config>,
    pub(crate) verifier: crate::auth::Verifier,
    hosts: HashMap<String, usize>,
    windows: Arc<Mutex<HashMap<(usize, Uuid), Window>>>,
    in_flight: Arc<Mutex<HashMap<(usize, Uuid), u32>>>,
    /// Matched and fired counts of each forced throttle.
    forced: Arc<Mutex<Vec<(u64, u64)>>>,
    /// The row generator's spec of each environment: it depends on the config only.
    specs: Vec<GeneratorSpec>,
    /// What ordered scans held and examined (for tests and diagnostics).
    pub(crate) scan_stats: Arc<crate::scan::ScanStats>,
}

/// One user's service-protection window, counted per second: each entry is a second (its
/// start) and what was spent in it, so memory follows the window's length, never the request
/// rate (a timestamp per request grew by megabytes under load). A second leaves the window when
/// its start is `window_seconds` old, which is when a request at its very start would.
/// UNCONFIRMED: Dataverse does not document its window's granularity.
#[derive(Debug, Default)]
struct Window {
    /// Requests per second.
    requests: VecDeque<(OffsetDateTime, u64)>,
    /// Execution milliseconds per second.
    execution: VecDeque<(OffsetDateTime, u64)>,
}

impl Window {
    /// Adds `amount` to the second `now` falls in.
    fn count(buckets: &mut VecDeque<(OffsetDateTime, u64)>, now: OffsetDateTime, amount: u64) {
        let second = now.replace_nanosecond(0).unwrap_or(now);
        match buckets.back_mut() {
            Some((at, spent)) if *at == second => *spent += amount,
            _ => buckets.push_back((second, amount)),
        }
    }

    /// Drops the seconds that left the window.
    fn expire(
        buckets: &mut VecDeque<(OffsetDateTime, u64)>,
        now: OffsetDateTime,
        window: time::Duration,
    ) {
        while buckets.front().is_some_and(|(at, _)| now - *at >= window) {
            buckets.pop_front();
        }
    }

    fn total(buckets: &VecDeque<(OffsetDateTime, u64)>) -> u64 {
        buckets.iter().map(|(_, spent)| spent).sum()
    }
}

impl State {
    pub(crate) fn new(config: Config) -> Result<State, Error> {
        State::build(Arc::new(config))
    }

    /// A snapshot of `config` with fresh runtime memory.
    pub(crate) fn build(config: Arc<Config>) -> Result<State, Error> {
        let mut hosts = HashMap::new();
        for (index, environment) in config.environments.iter().enumerate() {
            validate(environment)?;
            for host in [
                environment.host.to_ascii_lowercase(),
                api_host(&environment.host),
            ] {
                if hosts.insert(host.clone(), index).is_some() {
                    return Err(Error::Config(ConfigError::DuplicateHost { host }));
                }
            }
        }
        let forced = Arc::new(Mutex::new(vec![(0, 0); config.forced_throttles.len()]));
        let specs = config.environments.iter().map(crate::rows::spec).collect();
        Ok(State {
            specs,
            forced,
            verifier: crate::auth::Verifier::new(&config.trusted_keys),
            config,
            hosts,
            windows: Arc::new(Mutex::new(HashMap::new())),
            in_flight: Arc::new(Mutex::new(HashMap::new())),
            scan_stats: Arc::default(),
        })
    }

    /// The snapshot after this one, for `config`: validated like a new one, keeping this
    /// one's runtime memory. Service-protection windows and in-flight counts are keyed by
    /// environment position and user id, which a change keeps as long as the hosts stay (the
    /// caller checks that); forced-throttle counters restart when the forced throttles changed.
    pub(crate) fn succeed(&self, config: Config) -> Result<State, Error> {
        let mut next = State::new(config)?;
        next.windows = Arc::clone(&self.windows);
        next.in_flight = Arc::clone(&self.in_flight);
        next.scan_stats = Arc::clone(&self.scan_stats);
        if next.config.forced_throttles == self.config.forced_throttles {
            next.forced = Arc::clone(&self.forced);
        }
        Ok(next)
    }

    /// Every host served: each environment's web and API host.
    pub(crate) fn hosts(&self) -> Vec<String> {
        let mut hosts: Vec<(usize, String)> = self
            .hosts
            .iter()
            .map(|(host, index)| (*index, host.clone()))
            .collect();
        hosts.sort();
        hosts.into_iter().map(|(_, host)| host).collect()
    }

    /// The row generator's spec of `environment` (one of this state's environments).
    pub(crate) fn spec(&self, environment: &Environment) -> &GeneratorSpec {
        let index = self
            .config
            .environments
            .iter()
            .position(|candidate| std::ptr::eq(candidate, environment))
            .expect("environments come from this state's config");
        &self.specs[index]
    }

    pub(crate) fn environment(&self, host: &str) -> Option<(usize, &Environment)> {
        let index = *self.hosts.get(&host.to_ascii_lowercase())?;
        Some((index, &self.config.environments[index]))
    }

    /// Counts a request against the caller's service protection limits (reference §9).
    pub(crate) fn admit(
        &self,
        environment: usize,
        user: Uuid,
        application: Uuid,
    ) -> Result<InFlight<'_>, ApiError> {
        let limits = self.config.environments[environment].limits;
        let now = self.config.clock.now();
        let window = time::Duration::seconds(i64::from(limits.window_seconds));
        let decimal = self.config.switches.throttle_code_decimal;
        if let Some(forced) = self.forced_throttle(environment, application) {
            let error = limit_error(forced.limit, &limits, decimal);
            return Err(throttled(error, forced.retry_after_seconds.max(1)));
        }
        {
            let mut in_flight = lock(&self.in_flight);
            let count = in_flight.entry((environment, user)).or_insert(0);
            if *count >= limits.concurrent {
                let error = limit_error(ThrottleLimit::Concurrency, &limits, decimal);
                return Err(throttled(error, 1));
            }
            *count += 1;
        }
        let guard = InFlight {
            state: self,
            key: (environment, user),
        };
        let mut windows = lock(&self.windows);
        let entry = windows.entry((environment, user)).or_default();
        Window::expire(&mut entry.requests, now, window);
        Window::expire(&mut entry.execution, now, window);
        let retry_after =
            |oldest: OffsetDateTime| (oldest + window - now).whole_seconds().max(1) as u64;
        if Window::total(&entry.requests) >= u64::from(limits.requests) {
            let oldest = entry.requests.front().map_or(now, |(at, _)| *at);
            let error = limit_error(ThrottleLimit::Requests, &limits, decimal);
            return Err(throttled(error, retry_after(oldest)));
        }
        let spent = Window::total(&entry.execution);
        if limits.execution_milliseconds_per_request > 0 && spent >= limits.execution_milliseconds {
            let oldest = entry.execution.front().map_or(now, |(at, _)| *at);
            let error = limit_error(ThrottleLimit::ExecutionTime, &limits, decimal);
            return Err(throttled(error, retry_after(oldest)));
        }
        Window::count(&mut entry.requests, now, 1);
        if limits.execution_milliseconds_per_request > 0 {
            Window::count(
                &mut entry.execution,
                now,
                limits.execution_milliseconds_per_request,
            );
        }
        Ok(guard)
    }
}

impl State {
    /// The first forced throttle that fires for this request, counting matches as it goes.
    fn forced_throttle(&self, environment: usize, application: Uuid) -> Option<&ForcedThrottle> {
        let host = &self.config.environments[environment].host;
        let mut counters = lock(&self.forced);
        let mut fired = None;
        for (forced, (matched, times_fired)) in
            self.config.forced_throttles.iter().zip(counters.iter_mut())
        {
            let host_matches = forced.host.as_deref().is_none_or(|wanted| {
                wanted.eq_ignore_ascii_case(host) || wanted.eq_ignore_ascii_case(&api_host(host))
            });
            let application_matches = forced
                .application_id
                .is_none_or(|wanted| wanted == application);
            if !(host_matches && application_matches) {
                continue;
            }
            *matched += 1;
            let on_this_call = forced.nth.is_none_or(|nth| nth == *matched);
            let budget_left = forced.times.is_none_or(|times| *times_fired < times);
            if fired.is_none() && on_this_call && budget_left {
                *times_fired += 1;
                fired = Some(forced);
            }
        }
        fired
    }
}

/// The code and message of a limit's 429 (reference §9; hex codes, or the decimal ones the
/// .NET client compares against when the switch says so).
fn limit_error(limit: ThrottleLimit, limits: &ServiceProtectionLimits, decimal: bool) -> ApiError {
    let (code, message) = match limit {
        ThrottleLimit::Requests => (
            ErrorCode::RequestsExceeded,
            format!(
                "Number of requests exceeded the limit of {} over time window of {} seconds.",
                limits.requests, limits.window_seconds
            ),
        ),
        ThrottleLimit::ExecutionTime => (
            ErrorCode::ExecutionTimeExceeded,
            format!(
                "Combined execution time of incoming requests exceeded limit of {}  milliseconds over time window of {} seconds. Decrease number of concurrent requests or reduce the duration of requests and try again later.",
                crate::formatted_values::format_number(limits.execution_milliseconds as i64),
                limits.window_seconds
            ),
        ),
        ThrottleLimit::Concurrency => (
            ErrorCode::ConcurrencyExceeded,
            format!(
                "Number of concurrent requests exceeded the limit of {}.",
                limits.concurrent
            ),
        ),
    };
    let wire_code = if decimal {
        code.decimal()
    } else {
        code.hex().to_owned()
    };
    ApiError::configured(code, wire_code, message)
}

/// Holds one in-flight slot of a caller until the answer is built.
pub(crate) struct InFlight<'a> {
    state: &'a State,
    key: (usize, Uuid),
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut in_flight = lock(&self.state.in_flight);
        if let Some(count) = in_flight.get_mut(&self.key) {
            *count = count.saturating_sub(1);
        }
    }
}

fn throttled(mut error: ApiError, retry_after: u64) -> ApiError {
    error.retry_after = Some(retry_after);
    error
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn validate(environment: &Environment) -> Result<(), Error> {
    let roots = environment
        .business_units
        .iter()
        .filter(|unit| unit.parent.is_none())
        .count();
    if roots != 1 {
        return Err(Error::Config(ConfigError::RootBusinessUnits {
            environment: environment.host.clone(),
            found: roots,
        }));
    }
    for (index, table) in environment.tables.iter().enumerate() {
        let table = &table.definition;
        for other in &environment.tables[index + 1..] {
            let other = &other.definition;
            let clash = [&table.logical_name, &table.entity_set_name]
                .into_iter()
                .find(|name| **name == other.logical_name || **name == other.entity_set_name);
            if let Some(name) = clash {
                return Err(Error::Config(ConfigError::DuplicateTable {
                    environment: environment.host.clone(),
                    name: name.clone(),
                }));
            }
        }
    }
    for user in &environment.application_users {
        if !environment
            .business_units
            .iter()
            .any(|unit| unit.id == user.business_unit)
        {
            return Err(Error::Config(ConfigError::UnknownBusinessUnit {
                application_id: user.application_id,
                environment: environment.host.clone(),
                business_unit: user.business_unit,
            }));
        }
        for role in &user.roles {
            let Some(found) = environment
                .roles
                .iter()
                .find(|candidate| candidate.id == *role)
            else {
                return Err(Error::Config(ConfigError::UnknownRole {
                    application_id: user.application_id,
                    environment: environment.host.clone(),
                    role: *role,
                }));
            };
            if found.business_unit != user.business_unit {
                return Err(Error::Config(ConfigError::RoleInOtherBusinessUnit {
                    user: user.id,
                    user_business_unit: user.business_unit,
                    role: found.id,
                    role_business_unit: found.business_unit,
                }));
            }
        }
    }
    validate_teams_and_owners(environment)
}

/// Teams' business units, roles and members, and table owners, must be the environment's.
fn validate_teams_and_owners(environment: &Environment) -> Result<(), Error> {
    let unknown = |what: String, id: uuid::Uuid| {
        Error::Config(ConfigError::UnknownPrincipal {
            what,
            environment: environment.host.clone(),
            id,
        })
    };
    let ordinary = crate::rows::ordinary_users(environment);
    let is_user = |id: uuid::Uuid| {
        environment
            .application_users
            .iter()
            .any(|user| user.id == id)
            || ordinary.iter().any(|user| user.id == id)
    };
    for team in &environment.teams {
        if !environment
            .business_units
            .iter()
            .any(|unit| unit.id == team.business_unit)
        {
            return Err(unknown(
                format!("business unit of team {}", team.name),
                team.business_unit,
            ));
        }
        for role in &team.roles {
            let Some(found) = environment.roles.iter().find(|found| found.id == *role) else {
                return Err(unknown(format!("role of team {}", team.name), *role));
            };
            if found.business_unit != team.business_unit {
                return Err(Error::Config(ConfigError::RoleInOtherBusinessUnit {
                    user: team.id,
                    user_business_unit: team.business_unit,
                    role: found.id,
                    role_business_unit: found.business_unit,
                }));
            }
        }
        if let Some(member) = team.members.iter().find(|member| !is_user(**member)) {
            return Err(unknown(format!("member of team {}", team.name), *member));
        }
    }
    for (table, owners) in &environment.table_owners {
        let is_team = |id: uuid::Uuid| environment.teams.iter().any(|team| team.id == id);
        if let Some(owner) = owners
            .iter()
            .find(|owner| !is_user(**owner) && !is_team(**owner))
        {
            return Err(unknown(format!("owner of table {table}"), *owner));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
