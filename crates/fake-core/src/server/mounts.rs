//! What the listener serves, as one snapshot replaced whole at run time: the mounts, the host
//! patterns they serve (and the list quoted in error bodies), and the server certificate for
//! them. Each request reads the snapshot once, and each TLS handshake reads its certificate,
//! so a request sees the old or the new mounts, never half of each.

use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::pki::leaf_names;
use crate::{Error, HostPattern, Mount, ServerCertificate, Snapshot, TestPki};

/// One version of what the listener serves.
#[derive(Debug)]
pub(crate) struct Routes {
    /// The services and their hosts, matched in order.
    pub(crate) mounts: Vec<Mount>,
    /// Every host pattern served, in mount order (the CONNECT proxy's allow-list).
    pub(crate) hosts: Vec<HostPattern>,
    /// `hosts` as JSON strings joined by commas, for error bodies.
    pub(crate) served_hosts: String,
    /// The leaf the TLS handshake presents, covering `hosts`.
    pub(crate) certificate: ServerCertificate,
}

impl Routes {
    /// The routes for `mounts`, presenting `certificate`.
    fn new(mounts: Vec<Mount>, certificate: ServerCertificate) -> Routes {
        let hosts = hosts_of(&mounts);
        let served_hosts = hosts
            .iter()
            .map(|host| format!("\"{host}\""))
            .collect::<Vec<_>>()
            .join(",");
        Routes {
            mounts,
            hosts,
            served_hosts,
            certificate,
        }
    }
}

/// Every host pattern of `mounts`, in order.
pub(crate) fn hosts_of(mounts: &[Mount]) -> Vec<HostPattern> {
    mounts
        .iter()
        .flat_map(|mount| mount.hosts.iter().cloned())
        .collect()
}

/// The names a certificate for `hosts` must cover.
pub(crate) fn certificate_names(hosts: &[HostPattern]) -> Vec<String> {
    hosts.iter().map(HostPattern::as_san).collect()
}

/// The listener's mounts, replaceable while it runs. Cheap to clone; every clone is the same
/// listener's (from [`ServerHandle::mounts`](crate::ServerHandle::mounts)), so whoever changes
/// the world can hold one without owning the server.
#[derive(Clone, Debug)]
pub struct Mounts {
    routes: Arc<Snapshot<Routes>>,
    pki: Arc<TestPki>,
}

impl Mounts {
    /// The mounts `mounts` with the PKI's first certificate (made for their hosts, or reused:
    /// the caller checked that it covers them).
    pub(crate) fn new(mounts: Vec<Mount>, pki: Arc<TestPki>) -> Result<Mounts, Error> {
        let hosts = hosts_of(&mounts);
        let wanted = leaf_names(&certificate_names(&hosts));
        let certificate = if covers(pki.certificate(), &wanted) {
            pki.certificate().clone()
        } else {
            pki.issue(&wanted)?
        };
        Ok(Mounts {
            routes: Arc::new(Snapshot::new(Arc::new(Routes::new(mounts, certificate)))),
            pki,
        })
    }

    /// The current version, for one request.
    pub(crate) fn routes(&self) -> Arc<Routes> {
        self.routes.get()
    }

    /// The TLS certificate resolver that presents the current certificate.
    pub(crate) fn resolver(&self) -> Arc<dyn ResolvesServerCert> {
        Arc::new(CurrentCertificate(Arc::clone(&self.routes)))
    }

    /// Serves `mounts` instead, from the next request and the next TLS handshake on. When their
    /// hosts are not all covered by the current certificate, a new leaf is issued for them by
    /// the same CA first (a millisecond or so), so clients that trust the CA keep connecting.
    /// Requests already running finish with the mounts they started with; connections already
    /// open stay open, and their next request is routed by the new mounts (a host no longer
    /// served gets the 421 `unknown_host` answer). On error nothing changes.
    pub fn replace(&self, mounts: Vec<Mount>) -> Result<(), Error> {
        let wanted = leaf_names(&certificate_names(&hosts_of(&mounts)));
        // Issued before the write lock is taken: handshakes and requests keep reading the
        // current version meanwhile instead of waiting for a key to be generated.
        let issued = match covers(&self.routes.get().certificate, &wanted) {
            true => None,
            false => Some(self.pki.issue(&wanted)?),
        };
        self.routes.replace_with(|current| {
            let certificate = match issued {
                Some(issued) => issued,
                None if covers(&current.certificate, &wanted) => current.certificate.clone(),
                // Another replace changed the certificate since it was looked at.
                None => self.pki.issue(&wanted)?,
            };
            Ok(Routes::new(mounts, certificate))
        })
    }

    /// Every host pattern served now, in mount order.
    pub fn hosts(&self) -> Vec<HostPattern> {
        self.routes.get().hosts.clone()
    }

    /// The certificate the listener presents now.
    pub fn certificate(&self) -> ServerCertificate {
        self.routes.get().certificate.clone()
    }
}

/// Whether `certificate` covers exactly `names`: a leaf for other names is reissued, so that a
/// host no longer served is no longer in the certificate either.
fn covers(certificate: &ServerCertificate, names: &[String]) -> bool {
    certificate.names() == names
}

/// Presents the current snapshot's certificate (two `Arc` clones per handshake, nothing else).
#[derive(Debug)]
struct CurrentCertificate(Arc<Snapshot<Routes>>);

impl ResolvesServerCert for CurrentCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(self.0.get().certificate.certified_key()))
    }
}
