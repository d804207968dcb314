//! Fault rules: data that makes the server misbehave on purpose (a 429 with `Retry-After`, a 503,
//! a delay, a closed connection, a reset HTTP/2 stream) before a request reaches its service. Scenarios and the admin
//! API add them; they are matched in order and the first that fires wins.

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
    /// Fire at most this many times.
    #[serde(default)]
    pub times: Option<u64>,
    /// What to do.
    pub action: FaultAction,
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
            let on_this_call = armed.rule.nth.is_none_or(|nth| nth == armed.matched);
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

/// Matches `text` against `pattern`, where `*` is any run of characters (case-insensitive).
fn glob_matches(pattern: &str, text: &str) -> bool {
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
}
