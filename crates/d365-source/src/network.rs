//! Network settings: the knobs a real deployment has (host overrides, trusted roots, an HTTPS
//! proxy, timeouts, the environment-host allow-list) and the HTTP client built from them.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::Error;

/// Which root certificates the flow trusts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrustRoots {
    /// The platform's trust store (the default).
    #[default]
    Platform,
    /// Only these PEM-encoded roots (a private CA, or `d365-harness serve`'s `ca.pem`).
    Only(Vec<String>),
    /// The platform's trust store plus these PEM-encoded roots (a TLS-inspecting proxy).
    PlatformAnd(Vec<String>),
}

/// How the flow reaches the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkSettings {
    /// Host name → address overrides (like `curl --resolve`). Port 0 means the URL's port.
    pub resolve: BTreeMap<String, SocketAddr>,
    /// When set, a host missing from [`NetworkSettings::resolve`] does not resolve at all (no
    /// system DNS): hermetic tests and demos.
    pub resolve_only: bool,
    /// Trusted roots.
    pub roots: TrustRoots,
    /// An HTTPS proxy for every request (`http://proxy.example:3128`).
    pub https_proxy: Option<String>,
    /// Connecting (TCP + TLS) at most this long.
    pub connect_timeout: Duration,
    /// One request at most this long, end to end.
    pub request_timeout: Duration,
    /// Environment hosts accepted although they are on no known Dynamics 365 cloud.
    pub allowed_hosts: Vec<String>,
}

impl Default for NetworkSettings {
    fn default() -> NetworkSettings {
        NetworkSettings {
            resolve: BTreeMap::new(),
            resolve_only: false,
            roots: TrustRoots::Platform,
            https_proxy: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            allowed_hosts: Vec::new(),
        }
    }
}

impl NetworkSettings {
    /// Parses a `HOST=ADDR` override (`contoso.crm.dynamics.com=127.0.0.1:8443`; `ADDR` may
    /// omit the port, which then comes from the URL) and adds it.
    pub fn add_resolve(&mut self, spec: &str) -> Result<(), Error> {
        let refuse = |reason: String| Error::Network {
            setting: format!("--resolve {spec}"),
            reason,
        };
        let (host, addr) = spec.split_once('=').ok_or_else(|| {
            refuse("expected HOST=ADDR, e.g. contoso.crm.dynamics.com=127.0.0.1:8443".to_owned())
        })?;
        let host = host.trim().trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.contains(['/', ':', ' ']) {
            return Err(refuse(format!("`{host}` is not a host name")));
        }
        let addr = addr.trim();
        let addr = addr
            .parse::<SocketAddr>()
            .or_else(|_| addr.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 0)))
            .map_err(|_| {
                refuse(format!(
                    "`{addr}` is not an IP address with an optional port"
                ))
            })?;
        self.resolve.insert(host, addr);
        Ok(())
    }

    /// Builds the HTTP client these settings describe.
    pub(crate) fn client(&self) -> Result<reqwest::Client, Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.request_timeout)
            .user_agent(concat!("d365-source/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(Resolver {
                overrides: self.resolve.clone(),
                system: !self.resolve_only,
            }));
        builder = match &self.roots {
            TrustRoots::Platform => builder,
            TrustRoots::Only(pems) => builder.tls_certs_only(certificates(pems)?),
            TrustRoots::PlatformAnd(pems) => builder.tls_certs_merge(certificates(pems)?),
        };
        builder = match &self.https_proxy {
            Some(proxy) => {
                builder.proxy(
                    reqwest::Proxy::https(proxy).map_err(|error| Error::Network {
                        setting: "https_proxy".to_owned(),
                        reason: format!("`{proxy}` is not a proxy URL: {error}"),
                    })?,
                )
            }
            None => builder.no_proxy(),
        };
        builder.build().map_err(Error::Client)
    }
}

fn certificates(pems: &[String]) -> Result<Vec<reqwest::Certificate>, Error> {
    let mut certificates = Vec::new();
    for pem in pems {
        let bundle = reqwest::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|error| {
            Error::Network {
                setting: "trusted roots".to_owned(),
                reason: format!("not a PEM certificate bundle: {error}"),
            }
        })?;
        if bundle.is_empty() {
            return Err(Error::Network {
                setting: "trusted roots".to_owned(),
                reason: "the PEM text holds no certificate".to_owned(),
            });
        }
        certificates.extend(bundle);
    }
    Ok(certificates)
}

/// The host a name lookup failed for; the check finds it in the error chain and reports the
/// environment as not found.
#[derive(Debug, thiserror::Error)]
#[error("no address for host `{host}`")]
pub(crate) struct HostNotFound {
    pub host: String,
    #[source]
    pub source: Option<std::io::Error>,
}

/// Overrides first, then (unless `resolve_only`) the system resolver.
#[derive(Debug)]
struct Resolver {
    overrides: BTreeMap<String, SocketAddr>,
    system: bool,
}

impl Resolve for Resolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        if let Some(addr) = self.overrides.get(&host) {
            let addrs: Addrs = Box::new(std::iter::once(*addr));
            return Box::pin(std::future::ready(Ok(addrs)));
        }
        let system = self.system;
        Box::pin(async move {
            if !system {
                return Err(Box::new(HostNotFound { host, source: None }) as _);
            }
            let lookup = tokio::net::lookup_host((host.clone(), 0)).await;
            match lookup {
                Ok(found) => {
                    let found: Vec<SocketAddr> = found.collect();
                    if found.is_empty() {
                        Err(Box::new(HostNotFound { host, source: None }) as _)
                    } else {
                        Ok(Box::new(found.into_iter()) as Addrs)
                    }
                }
                Err(error) => Err(Box::new(HostNotFound {
                    host,
                    source: Some(error),
                }) as _),
            }
        })
    }
}

#[cfg(test)]
mod tests;
