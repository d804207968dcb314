//! How a fake plugs into the shared listener: a [`Service`] answers requests for the hosts its
//! [`Mount`] names. Handlers receive the whole body as [`Bytes`] and a [`RequestContext`] in the
//! request extensions (the host and origin the client used, so documents can name them).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;

use crate::Error;

/// A boxed, sendable future: what [`Service::call`] returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One emulated Microsoft service (Entra ID, Dataverse, ...).
pub trait Service: Send + Sync + 'static {
    /// A short name used in the journal, fault rules and error bodies (`entra`, `dataverse`).
    fn name(&self) -> &str;

    /// Answers one request. Must never panic: malformed input gets the protocol's error shape.
    fn call(&self, request: Request<Bytes>) -> BoxFuture<'_, Response<Full<Bytes>>>;
}

/// Facts about a request that handlers need and cannot read from the request itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestContext {
    /// The host name the client asked for, lower case, without port.
    pub host: String,
    /// `https://` plus the authority the client used (with a port only if the client sent one),
    /// so that URLs a fake emits work for the client that asked.
    pub origin: String,
    /// The position of this request in the journal (1-based).
    pub sequence: u64,
}

/// A host name a service answers for: exact (`login.microsoftonline.com`) or a wildcard that
/// matches one or more leading labels (`*.crm.dynamics.com`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host.
    Exact(String),
    /// Any host ending in `.{suffix}`.
    Suffix(String),
}

impl HostPattern {
    /// Parses `host` or `*.suffix`; names are compared case-insensitively, and a trailing dot
    /// (an absolute name, `login.microsoftonline.com.`) is dropped, as it is from request hosts.
    pub fn parse(pattern: &str) -> Result<HostPattern, Error> {
        let lowered = pattern.trim().to_ascii_lowercase();
        let invalid = |reason| Error::HostPattern {
            pattern: pattern.to_owned(),
            reason,
        };
        let name = lowered.strip_prefix("*.").unwrap_or(&lowered);
        let name = name.strip_suffix('.').unwrap_or(name);
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.contains('*') {
            return Err(invalid("only a leading `*.` wildcard is supported"));
        }
        if name.contains([':', '/', ' ']) {
            return Err(invalid("a host pattern has no scheme, port or path"));
        }
        if !is_host_name(name) {
            return Err(invalid(
                "a host name is dot-separated labels of 1 to 63 letters, digits, `-` or `_`",
            ));
        }
        Ok(if lowered.starts_with("*.") {
            HostPattern::Suffix(name.to_owned())
        } else {
            HostPattern::Exact(name.to_owned())
        })
    }

    /// Whether `host` (lower case, no port) is covered by this pattern.
    pub fn matches(&self, host: &str) -> bool {
        match self {
            HostPattern::Exact(exact) => host == exact,
            HostPattern::Suffix(suffix) => host
                .strip_suffix(suffix.as_str())
                .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        }
    }

    /// The pattern as written in a certificate SAN (`*.suffix` or the host).
    pub fn as_san(&self) -> String {
        match self {
            HostPattern::Exact(exact) => exact.clone(),
            HostPattern::Suffix(suffix) => format!("*.{suffix}"),
        }
    }
}

impl std::fmt::Display for HostPattern {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.as_san())
    }
}

/// The longest host name DNS allows (RFC 1035 §2.3.4), without the trailing dot.
const MAX_HOST_NAME: usize = 253;
/// The longest label DNS allows.
const MAX_LABEL: usize = 63;

/// Whether `host` (lower case, no trailing dot) is a DNS name or an IPv4 address: dot-separated
/// labels of 1 to 63 letters, digits, `-` or `_`, at most 253 characters in all. Request hosts
/// and host patterns follow the same rule, so every pattern can match a request.
pub(crate) fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST_NAME
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

/// A service and the hosts it answers for.
#[derive(Clone)]
pub struct Mount {
    /// The hosts routed to `service`. The first mount that matches wins.
    pub hosts: Vec<HostPattern>,
    /// The service itself.
    pub service: Arc<dyn Service>,
}

impl Mount {
    /// Mounts `service` on `hosts` (exact names or `*.suffix` wildcards).
    pub fn new(service: Arc<dyn Service>, hosts: &[String]) -> Result<Mount, Error> {
        let hosts = hosts
            .iter()
            .map(|host| HostPattern::parse(host))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Mount { hosts, service })
    }
}

impl std::fmt::Debug for Mount {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Mount")
            .field("hosts", &self.hosts)
            .field("service", &self.service.name())
            .finish()
    }
}

/// A JSON response with the given status, from an already-serialized body.
pub fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// A plain-text response with the given status.
pub fn text_response(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(pattern: &str, host: &str, expected: bool) {
        let pattern = HostPattern::parse(pattern).expect("valid pattern");
        assert_eq!(pattern.matches(host), expected, "{pattern} vs {host}");
    }

    #[test]
    fn host_patterns_match_like_certificate_names_but_deeper() {
        check(
            "login.microsoftonline.com",
            "login.microsoftonline.com",
            true,
        );
        check(
            "login.microsoftonline.com",
            "login.microsoftonline.co",
            false,
        );
        check("*.crm.dynamics.com", "contoso.crm.dynamics.com", true);
        check("*.crm.dynamics.com", "contoso.api.crm.dynamics.com", true);
        check("*.crm.dynamics.com", "crm.dynamics.com", false);
        check("*.crm.dynamics.com", "evilcrm.dynamics.com", false);
        check("*.crm.dynamics.com", ".crm.dynamics.com", false);
        check(
            "login.microsoftonline.com.",
            "login.microsoftonline.com",
            true,
        );
        check("*.crm.dynamics.com.", "contoso.crm.dynamics.com", true);
    }

    #[test]
    fn rejects_malformed_patterns() {
        for pattern in [
            "",
            "*.",
            "a.*.com",
            "https://x.com",
            "x.com:443",
            "a..com",
            "*..com",
            "x.com..",
            "ü.com",
        ] {
            assert!(HostPattern::parse(pattern).is_err(), "{pattern}");
        }
    }
}
