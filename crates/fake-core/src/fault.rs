//! Fault rules: data that makes the server misbehave on purpose (a 429 with `Retry-After`, a 503,
//! a delay, a closed connection, a reset HTTP/2 stream) before a request reaches its service. Scenarios and the admin
//! API add them; they are matched in order and the first that fires wins.
//!
//! When a rule fires, by its counts (n ≥ 1; `nth` with `from` is refused by [`FaultRule::check`]):
//!
//! | `nth` | `from` | `times` | fires on the matching requests numbered |
//! |-------|--------|---------|-----------------------------------------|
//! | –     | –      | –       | every one (always)                      |
//! | n     | –      | –       | n only                                  |
//! | –     | n      | –       | n, n+1, n+2, … (from the n-th on)       |
//! | –     | –      | k       | 1 to k (the first k)                    |
//! | –     | n      | k       | n to n+k−1 (k times from the n-th on)   |
//!
//! Every rule counts every request it matches, even one that an earlier rule answered; `times`
//! counts only the requests this rule answered.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// When and how to misbehave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// A name for the journal and reports; defaults to the rule's position.
    #[serde(default)]
    pub name: Option<String>,
    /// Only requests routed to this service (`entra`, `dataverse`).
    #[serde(default)]
    pub service: Option<String>,
    /// Only requests for this host.
    #[serde(default)]
    pub host: Option<String>,
    /// Only this HTTP method (case-insensitive).
    #[serde(default)]
    pub method: Option<String>,
    /// Only paths matching this pattern; `*` stands for any run of characters.
    #[serde(default)]
    pub path: Option<String>,
    /// Fire only on the n-th matching request (1-based); every matching request when absent.
    #[serde(default)]
    pub nth: Option<u64>,
    /// Fire on every matching request from the n-th on (1-based); with `times`, on `times`
    /// requests from the n-th on. Not together with `nth` (see [`FaultRule::check`]).
    #[serde(default)]
    pub from: Option<u64>,
    /// Fire at most this many times.
    #[serde(default)]
    pub times: Option<u64>,
    /// What to do.
    pub action: FaultAction,
}

/// Why a [`FaultRule`]'s counts can never make sense (from [`FaultRule::check`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultRuleError {
    /// `nth`, `from` or `times` is 0: counts start at 1, and a rule that may fire 0 times is a
    /// rule that does nothing.
    #[error("`{field}` must be 1 or more, not 0")]
    Zero {
        /// The field: `nth`, `from` or `times`.
        field: &'static str,
    },
    /// Both `nth` (one request) and `from` (every request from one on) are set.
    #[error(
        "`nth` and `from` cannot be used together: `nth = n` fires on the n-th matching request only, `from = n` on every one from the n-th on (limit it with `times`)"
    )]
    NthWithFrom,
}

/// What a fault does to a matching request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this status, headers and body instead of the service.
    Respond {
        /// The HTTP status code.
        status: u16,
        /// Response headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// The response body, sent as is.
        #[serde(default)]
        body: String,
    },
    /// Wait this long (on the runtime's timer), then let the service answer.
    Delay {
        /// Milliseconds to wait.
        millis: u64,
    },
    /// Close the whole connection without an answer, abruptly (TCP close, no HTTP/2 GOAWAY,
    /// no TLS close_notify), as a proxy or load balancer that gives up does. Every other
    /// request in flight on that connection fails too; the client must open a new one.
    CloseConnection,
    /// Fail this request only: HTTP/2 resets its stream (RST_STREAM with INTERNAL_ERROR, what
    /// hyper sends for a failed service) and the connection keeps serving other requests.
    /// HTTP/1.1 has no streams, so there the connection is closed without an answer (as
    /// [`FaultAction::CloseConnection`]).
    ResetStream,
    /// The old spelling of [`FaultAction::ResetStream`], kept so existing files still load: it
    /// behaves exactly like it (HTTP/2: the stream is reset; HTTP/1.1: the connection closes).
    Close,
}

#[derive(Debug)]
struct ArmedRule {
    rule: FaultRule,
    matched: u64,
    fired: u64,
}

/// The live, shared list of fault rules of one server.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    rules: Arc<Mutex<Vec<ArmedRule>>>,
}

/// A request as fault rules see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaultProbe<'a> {
    pub service: &'a str,
    pub host: &'a str,
    pub method: &'a str,
    pub path: &'a str,
}

impl FaultRule {
    /// A rule that does `action` on every request (no filters, no counts), to fill in with
    /// struct update syntax: `FaultRule { nth: Some(2), ..FaultRule::new(action) }`.
    pub fn new(action: FaultAction) -> FaultRule {
        FaultRule {
            name: None,
            service: None,
            host: None,
            method: None,
            path: None,
            nth: None,
            from: None,
            times: None,
            action,
        }
    }

    /// Checks the counts serde cannot: each of `nth`, `from` and `times` is at least 1, and
    /// `nth` and `from` are not both set. World and scenario files check this (with positions)
    /// when they load; anything else that takes rules from users (the admin API) should call it.
    /// An unchecked rule still behaves predictably: with both, it fires when both hold.
    pub fn check(&self) -> Result<(), FaultRuleError> {
        for (field, count) in [
            ("nth", self.nth),
            ("from", self.from),
            ("times", self.times),
        ] {
            if count == Some(0) {
                return Err(FaultRuleError::Zero { field });
            }
        }
        if self.nth.is_some() && self.from.is_some() {
            return Err(FaultRuleError::NthWithFrom);
        }
        Ok(())
    }

    /// Whether the `matched`-th matching request is one this rule's `nth`/`from` picks.
    fn picks(&self, matched: u64) -> bool {
        self.nth.is_none_or(|nth| matched == nth) && self.from.is_none_or(|from| matched >= from)
    }
}

impl Faults {
    /// A list holding `rules`.
    pub fn new(rules: impl IntoIterator<Item = FaultRule>) -> Faults {
        let faults = Faults::default();
        rules.into_iter().for_each(|rule| faults.add(rule));
        faults
    }

    /// Appends a rule.
    pub fn add(&self, rule: FaultRule) {
        self.lock().push(ArmedRule {
            rule,
            matched: 0,
            fired: 0,
        });
    }

    /// Removes every rule.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Swaps the whole list for `rules` at once (no request sees half of it); every rule's
    /// counts start again from zero, even a rule that was in the old list too.
    pub fn replace(&self, rules: impl IntoIterator<Item = FaultRule>) {
        let armed: Vec<ArmedRule> = rules
            .into_iter()
            .map(|rule| ArmedRule {
                rule,
                matched: 0,
                fired: 0,
            })
            .collect();
        *self.lock() = armed;
    }

    /// The rules, as configured.
    pub fn rules(&self) -> Vec<FaultRule> {
        self.lock().iter().map(|armed| armed.rule.clone()).collect()
    }

    /// Finds the first rule that fires for this request, counting matches as it goes.
    pub(crate) fn fire(&self, probe: FaultProbe<'_>) -> Option<(String, FaultAction)> {
        let mut rules = self.lock();
        let mut fired = None;
        for (index, armed) in rules.iter_mut().enumerate() {
            if !armed.rule.matches(probe) {
                continue;
            }
            armed.matched += 1;
            let on_this_call = armed.rule.picks(armed.matched);
            let budget_left = armed.rule.times.is_none_or(|times| armed.fired < times);
            if fired.is_none() && on_this_call && budget_left {
                armed.fired += 1;
                let name = armed
                    .rule
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("fault #{}", index + 1));
                fired = Some((name, armed.rule.action.clone()));
            }
        }
        fired
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<ArmedRule>> {
        self.rules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl FaultRule {
    /// Whether the request is one this rule is about (before any counting).
    fn matches(&self, probe: FaultProbe<'_>) -> bool {
        self.service
            .as_deref()
            .is_none_or(|service| service == probe.service)
            && self
                .host
                .as_deref()
                .is_none_or(|host| host.eq_ignore_ascii_case(probe.host))
            && self
                .method
                .as_deref()
                .is_none_or(|method| method.eq_ignore_ascii_case(probe.method))
            && self
                .path
                .as_deref()
                .is_none_or(|pattern| glob_matches(pattern, probe.path))
    }
}

/// Matches `text` against `pattern`, where `*` is any run of characters (case-insensitive):
/// how fault rules match paths, and how scenarios count requests by path.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let text = text.to_ascii_lowercase();
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check_glob(pattern: &str, text: &str, expected: bool) {
        assert_eq!(glob_matches(pattern, text), expected, "{pattern} vs {text}");
    }

    #[test]
    fn globs() {
        check_glob("/a/b", "/a/b", true);
        check_glob("/a/b", "/a/bc", false);
        check_glob("*/oauth2/v2.0/token", "/contoso/oauth2/v2.0/token", true);
        check_glob("/api/data/*/WhoAmI*", "/api/data/v9.2/WhoAmI()", true);
        check_glob("/api/data/*/WhoAmI*", "/api/data/v9.2/accounts", false);
        check_glob("*", "", true);
        check_glob("a*a", "a", false);
    }

    fn probe(path: &str) -> FaultProbe<'_> {
        FaultProbe {
            service: "entra",
            host: "login.microsoftonline.com",
            method: "POST",
            path,
        }
    }

    fn respond(status: u16) -> FaultAction {
        FaultAction::Respond {
            status,
            headers: BTreeMap::new(),
            body: String::new(),
        }
    }

    #[test]
    fn nth_fires_once_on_that_call() {
        let faults = Faults::new([FaultRule {
            name: Some("second".into()),
            service: Some("entra".into()),
            host: None,
            method: Some("post".into()),
            path: Some("*/token".into()),
            nth: Some(2),
            from: None,
            times: None,
            action: respond(503),
        }]);
        assert!(faults.fire(probe("/t/oauth2/v2.0/token")).is_none());
        assert_eq!(
            faults.fire(probe("/t/oauth2/v2.0/token")),
            Some(("second".into(), respond(503)))
        );
        assert!(faults.fire(probe("/t/oauth2/v2.0/token")).is_none());
        assert!(faults.fire(probe("/t/other")).is_none());
    }

    #[test]
    fn times_limits_and_first_rule_wins() {
        let limited = FaultRule {
            name: None,
            service: None,
            host: None,
            method: None,
            path: None,
            nth: None,
            from: None,
            times: Some(1),
            action: respond(429),
        };
        let every = FaultRule {
            action: respond(500),
            times: None,
            ..limited.clone()
        };
        let faults = Faults::new([limited, every]);
        assert_eq!(faults.fire(probe("/x")).map(|f| f.1), Some(respond(429)));
        assert_eq!(
            faults.fire(probe("/x")),
            Some(("fault #2".into(), respond(500)))
        );
    }

    #[test]
    fn rules_deserialize_from_toml_like_data() {
        let rule: FaultRule = serde_json::from_str(
            r#"{"service":"dataverse","nth":1,"action":{"kind":"respond","status":429,"headers":{"Retry-After":"5"}}}"#,
        )
        .expect("valid rule");
        assert_eq!(rule.nth, Some(1));
        let unknown =
            serde_json::from_str::<FaultRule>(r#"{"sevrice":"x","action":{"kind":"close"}}"#);
        assert!(unknown.is_err());
    }

    #[test]
    fn transport_fault_kinds_deserialize_and_unknown_kinds_list_them() {
        for (kind, action) in [
            ("close_connection", FaultAction::CloseConnection),
            ("reset_stream", FaultAction::ResetStream),
            ("close", FaultAction::Close),
        ] {
            let rule: FaultRule =
                serde_json::from_str(&format!(r#"{{"action":{{"kind":"{kind}"}}}}"#))
                    .expect("a known kind");
            assert_eq!(rule.action, action);
        }
        let unknown = serde_json::from_str::<FaultRule>(r#"{"action":{"kind":"reset"}}"#)
            .expect_err("an unknown kind")
            .to_string();
        assert!(
            unknown.contains(
                "expected one of `respond`, `delay`, `close_connection`, `reset_stream`, `close`"
            ),
            "{unknown}"
        );
    }

    /// The numbers (1-based) of the first `requests` matching requests on which `rule` fires.
    fn firing_pattern(rule: FaultRule, requests: u64) -> Vec<u64> {
        let faults = Faults::new([rule]);
        (1..=requests)
            .filter(|_| faults.fire(probe("/x")).is_some())
            .collect()
    }

    fn counted(nth: Option<u64>, from: Option<u64>, times: Option<u64>) -> FaultRule {
        FaultRule {
            nth,
            from,
            times,
            ..FaultRule::new(respond(503))
        }
    }

    #[test]
    fn without_counts_a_rule_fires_always() {
        assert_eq!(
            firing_pattern(counted(None, None, None), 6),
            [1, 2, 3, 4, 5, 6]
        );
    }

    #[test]
    fn nth_alone_fires_on_that_request_only() {
        assert_eq!(firing_pattern(counted(Some(3), None, None), 8), [3]);
    }

    #[test]
    fn from_alone_fires_on_every_request_from_that_one_on() {
        assert_eq!(
            firing_pattern(counted(None, Some(3), None), 6),
            [3, 4, 5, 6]
        );
        assert_eq!(firing_pattern(counted(None, Some(1), None), 3), [1, 2, 3]);
    }

    #[test]
    fn times_alone_fires_on_the_first_requests() {
        assert_eq!(firing_pattern(counted(None, None, Some(2)), 6), [1, 2]);
    }

    #[test]
    fn from_with_times_fires_that_many_times_from_that_request_on() {
        assert_eq!(
            firing_pattern(counted(None, Some(2), Some(3)), 8),
            [2, 3, 4]
        );
    }

    #[test]
    fn from_counts_requests_an_earlier_rule_answered_but_times_does_not() {
        let first = FaultRule {
            nth: Some(2),
            ..FaultRule::new(respond(429))
        };
        let second = counted(None, Some(2), Some(2));
        let faults = Faults::new([first, second]);
        let fired: Vec<Option<FaultAction>> = (0..5)
            .map(|_| faults.fire(probe("/x")).map(|(_, action)| action))
            .collect();
        // Request 2 goes to the first rule; the second still counts it (it is past `from`) but
        // spends its two firings on requests 3 and 4.
        assert_eq!(
            fired,
            [
                None,
                Some(respond(429)),
                Some(respond(503)),
                Some(respond(503)),
                None
            ]
        );
    }

    #[test]
    fn unmatched_requests_do_not_count_towards_from() {
        let rule = FaultRule {
            path: Some("/token".into()),
            from: Some(2),
            ..FaultRule::new(respond(503))
        };
        let faults = Faults::new([rule]);
        assert!(faults.fire(probe("/token")).is_none());
        assert!(faults.fire(probe("/other")).is_none());
        assert!(faults.fire(probe("/other")).is_none());
        assert!(faults.fire(probe("/token")).is_some());
    }

    #[test]
    fn check_refuses_nth_with_from_and_zero_counts() {
        assert_eq!(
            counted(Some(2), Some(3), None).check(),
            Err(FaultRuleError::NthWithFrom)
        );
        for (rule, field) in [
            (counted(Some(0), None, None), "nth"),
            (counted(None, Some(0), None), "from"),
            (counted(None, Some(1), Some(0)), "times"),
        ] {
            assert_eq!(rule.check(), Err(FaultRuleError::Zero { field }));
        }
        for rule in [
            counted(None, None, None),
            counted(Some(1), None, Some(1)),
            counted(None, Some(4), Some(2)),
        ] {
            assert_eq!(rule.check(), Ok(()), "{rule:?}");
        }
        let message = FaultRuleError::NthWithFrom.to_string();
        assert!(
            message.contains("`nth` and `from` cannot be used together"),
            "{message}"
        );
    }

    #[test]
    fn from_deserializes_and_round_trips() {
        let rule: FaultRule =
            serde_json::from_str(r#"{"from":3,"times":2,"action":{"kind":"reset_stream"}}"#)
                .expect("valid rule");
        assert_eq!(
            rule,
            FaultRule {
                from: Some(3),
                times: Some(2),
                ..FaultRule::new(FaultAction::ResetStream)
            }
        );
        let text = serde_json::to_string(&rule).expect("serializable");
        assert_eq!(
            serde_json::from_str::<FaultRule>(&text).expect("round trip"),
            rule
        );
    }

    #[test]
    fn replace_swaps_the_list_and_restarts_the_counts() {
        let second = counted(Some(2), None, None);
        let faults = Faults::new([second.clone(), counted(None, None, None)]);
        assert!(faults.fire(probe("/x")).is_some());
        faults.replace([second.clone()]);
        assert_eq!(faults.rules(), [second]);
        // The `nth = 2` rule had already counted one request; after the replace it needs two.
        assert!(faults.fire(probe("/x")).is_none());
        assert_eq!(
            faults.fire(probe("/x")),
            Some(("fault #1".into(), respond(503)))
        );
        faults.replace([]);
        assert!(faults.rules().is_empty());
        assert!(faults.fire(probe("/x")).is_none());
    }

    proptest::proptest! {
        /// Every valid combination of counts fires exactly on the requests the module's table
        /// gives: those `nth`/`from` pick, up to `times` of them; `check` accepts exactly the
        /// combinations without 0 and without `nth` beside `from`.
        #[test]
        fn counts_fire_as_the_table_says(
            nth in proptest::option::of(0u64..8),
            from in proptest::option::of(0u64..8),
            times in proptest::option::of(0u64..8),
            requests in 0u64..20,
        ) {
            let rule = counted(nth, from, times);
            let zero = [nth, from, times].contains(&Some(0));
            let valid = !zero && (nth.is_none() || from.is_none());
            proptest::prop_assert_eq!(rule.check().is_ok(), valid);
            proptest::prop_assume!(valid);
            let picked = (1..=requests).filter(|request| match (nth, from) {
                (Some(nth), _) => *request == nth,
                (None, Some(from)) => *request >= from,
                (None, None) => true,
            });
            let expected: Vec<u64> = match times {
                Some(times) => picked.take(usize::try_from(times).unwrap_or(usize::MAX)).collect(),
                None => picked.collect(),
            };
            proptest::prop_assert_eq!(firing_pattern(rule, requests), expected);
        }
    }
}
