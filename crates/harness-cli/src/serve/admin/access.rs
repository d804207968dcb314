//! Who may call the admin API. On a loopback address anyone on the machine may (curl without
//! a token), but only with a loopback `Host` and no browser `Origin`: a web page must not
//! reach it through DNS rebinding or a cross-site request. Anywhere else every request needs
//! `Authorization: Bearer <token>`, the token `serve` generated and wrote (0600) beside
//! `connection.env`; it is compared in constant time and never logged.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use http::HeaderMap;
use http::header::{AUTHORIZATION, HOST, ORIGIN};

/// The admin API's bearer token: 32 random bytes, base64url without padding.
#[derive(Clone)]
pub(crate) struct AdminToken(String);

impl AdminToken {
    /// A fresh token from the operating system's random source.
    pub(crate) fn generate() -> anyhow::Result<AdminToken> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes)
            .map_err(|_| anyhow::anyhow!("failed to generate the admin token"))?;
        Ok(AdminToken(
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes),
        ))
    }

    /// The token's text, for the token file only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is this token, in time that does not depend on where they differ.
    pub(crate) fn matches(&self, candidate: &[u8]) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(self.0.as_bytes(), candidate).is_ok()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("AdminToken([redacted])")
    }
}

/// What the admin listener asks of a request.
#[derive(Clone, Debug)]
pub(crate) enum Access {
    /// Loopback: no token, but a loopback `Host` and no `Origin`.
    Loopback,
    /// Any other address: the bearer token.
    Token(AdminToken),
}

impl Access {
    /// What a listener on `addr` requires: the token unless `addr` is a loopback address.
    pub(crate) fn for_listener(addr: SocketAddr, token: &AdminToken) -> Access {
        if addr.ip().is_loopback() {
            Access::Loopback
        } else {
            Access::Token(token.clone())
        }
    }
}

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// No bearer token, or the wrong one (401).
    Unauthorized,
    /// A browser's cross-site request or a rebound host name (403).
    Forbidden(&'static str),
}

/// Checks a request's headers (and HTTP/2 authority) against `access`.
pub(crate) fn check(
    access: &Access,
    authority: Option<&str>,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    match access {
        Access::Token(token) => {
            let presented = headers
                .get(AUTHORIZATION)
                .and_then(|value| bearer(value.as_bytes()));
            match presented {
                Some(presented) if token.matches(presented) => Ok(()),
                _ => Err(Refusal::Unauthorized),
            }
        }
        Access::Loopback => {
            if headers.contains_key(ORIGIN) {
                return Err(Refusal::Forbidden(
                    "the admin API does not answer browsers' cross-origin requests",
                ));
            }
            let host =
                authority.or_else(|| headers.get(HOST).and_then(|value| value.to_str().ok()));
            match host {
                Some(host) if !is_loopback_host(host) => Err(Refusal::Forbidden(
                    "a loopback admin API answers only Host names of this machine \
                     (localhost, 127.0.0.1, [::1])",
                )),
                _ => Ok(()),
            }
        }
    }
}

/// The token of a `Bearer <token>` header (scheme case-insensitive).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let (scheme, token) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then(|| token.trim_ascii())
}

/// Whether `host` (`name[:port]`) names this machine.
fn is_loopback_host(host: &str) -> bool {
    let is_port = |port: &str| port.bytes().all(|byte| byte.is_ascii_digit());
    let name = if let Some(bracketed) = host.strip_prefix('[') {
        // `[::1]` or `[::1]:8444`, nothing else after the bracket.
        match bracketed.split_once(']') {
            Some((name, "")) => name,
            Some((name, rest)) if rest.strip_prefix(':').is_some_and(is_port) => name,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((name, port)) if is_port(port) => name,
            _ => host,
        }
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests;
