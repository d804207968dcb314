//! The host a request is for: HTTP/2's `:authority` (or an absolute-form HTTP/1.1 target),
//! else HTTP/1.1's `Host`. Checked (one `Host`, agreeing with `:authority`, a DNS name or IP
//! literal, a numeric port) and normalised (lower case, no trailing dot, no `:443`) before any
//! routing; a request that fails gets 400 (RFC 9112 §3.2, RFC 9113 §8.3.1).

use std::fmt::Write as _;

use http::header;

use crate::service::is_host_name;

/// The normalised host of a request and the origin URLs for its client should use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RequestHost {
    /// Lower case, without port and without a trailing dot (`login.microsoftonline.com.` is
    /// the same host as `login.microsoftonline.com`); an IPv6 literal without brackets.
    pub(super) host: String,
    /// `https://` plus the host and the port the client named, unless that is 443.
    pub(super) origin: String,
}

/// Why a request's host cannot be used; each is answered with 400.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HostError {
    /// No `:authority` and no (or an empty) `Host`.
    Missing,
    /// More than one `Host` header field (RFC 9112 §3.2: "MUST respond with a 400").
    Duplicate,
    /// `Host` names another host than `:authority` (RFC 9113 §8.3.1: malformed).
    Conflicting,
    /// Not a host name, IP literal or numeric port.
    Invalid,
}

impl HostError {
    /// The `error` code of the 400 answer.
    pub(super) fn code(self) -> &'static str {
        match self {
            HostError::Missing => "missing_host",
            HostError::Duplicate => "duplicate_host",
            HostError::Conflicting => "conflicting_host",
            HostError::Invalid => "invalid_host",
        }
    }

    /// The `message` of the 400 answer. It quotes no client input.
    pub(super) fn message(self) -> &'static str {
        match self {
            HostError::Missing => "the request names no host (no :authority and no Host header)",
            HostError::Duplicate => "the request has more than one Host header",
            HostError::Conflicting => "the Host header names another host than :authority",
            HostError::Invalid => {
                "the request's host is not a host name or IP address with an optional numeric port"
            }
        }
    }
}

/// The host a request is for.
pub(super) fn request_host(parts: &http::request::Parts) -> Result<RequestHost, HostError> {
    let mut host_fields = parts.headers.get_all(header::HOST).iter();
    let host_field = host_fields.next();
    if host_fields.next().is_some() {
        return Err(HostError::Duplicate);
    }
    let host_field = host_field
        .map(|value| value.to_str().map_err(|_| HostError::Invalid))
        .transpose()?;
    match parts.uri.authority() {
        Some(authority) => {
            let from_authority = parse_authority(authority.as_str())?;
            // An HTTP/1.1 absolute-form target overrides Host (RFC 9112 §3.2.2); over HTTP/2
            // the two must agree.
            if parts.version == http::Version::HTTP_2
                && let Some(host_field) = host_field
                && parse_authority(host_field).as_ref() != Ok(&from_authority)
            {
                return Err(HostError::Conflicting);
            }
            Ok(from_authority)
        }
        None => parse_authority(host_field.ok_or(HostError::Missing)?),
    }
}

/// Parses `host[:port]` or `[ipv6][:port]`.
pub(super) fn parse_authority(authority: &str) -> Result<RequestHost, HostError> {
    if authority.is_empty() {
        return Err(HostError::Missing);
    }
    let authority = authority.to_ascii_lowercase();
    let (host, port, bracketed) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (literal, rest) = bracketed.split_once(']').ok_or(HostError::Invalid)?;
            let port = match rest {
                "" => None,
                rest => Some(rest.strip_prefix(':').ok_or(HostError::Invalid)?),
            };
            if literal.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(HostError::Invalid);
            }
            (literal, port, true)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority.as_str(), None),
            };
            (host.strip_suffix('.').unwrap_or(host), port, false)
        }
    };
    if !bracketed && !is_host_name(host) {
        return Err(HostError::Invalid);
    }
    let port = match port {
        // `host:` is allowed: an empty port means the default one (RFC 3986 §3.2.3).
        None | Some("") => None,
        Some(port) => {
            if !port.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(HostError::Invalid);
            }
            Some(port.parse::<u16>().map_err(|_| HostError::Invalid)?)
        }
    };
    // Built without `format!`, and the host cut from the lowered copy: this runs on every
    // request.
    let mut origin = String::with_capacity(8 + authority.len() + 2);
    origin.push_str("https://");
    if bracketed {
        origin.push('[');
        origin.push_str(host);
        origin.push(']');
    } else {
        origin.push_str(host);
    }
    if let Some(port) = port.filter(|port| *port != 443) {
        // Writing to a String cannot fail.
        let _ = write!(origin, ":{port}");
    }
    let host = if bracketed {
        host.to_owned()
    } else {
        // Not bracketed, the host is where the lowered authority starts.
        let length = host.len();
        let mut lowered = authority;
        lowered.truncate(length);
        lowered
    };
    Ok(RequestHost { host, origin })
}

#[cfg(test)]
mod tests;
