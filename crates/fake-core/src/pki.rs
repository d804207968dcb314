//! The test PKI: one root CA and a leaf certificate covering every host name served (ECDSA
//! P-256, about a millisecond each). The CA keeps its key, so a server that starts serving other
//! hosts gets a new leaf from the same CA ([`TestPki::issue`]) and clients that trust `ca.pem`
//! keep trusting it. Clients trust the CA through the same knobs a real deployment has for a
//! private CA.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::ResolvesServerCert;
use rustls::sign::CertifiedKey;

use crate::Error;

/// A CA (with its key, to issue more leaves) and the first server certificate, made for a set
/// of host names. `Debug` never shows a private key.
pub struct TestPki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
    leaf: ServerCertificate,
}

/// A leaf certificate issued by a [`TestPki`]'s CA, with its chain (leaf, CA) and key as rustls
/// serves them. Cheap to clone. `Debug` shows only the names.
#[derive(Clone)]
pub struct ServerCertificate {
    names: Vec<String>,
    certified: Arc<CertifiedKey>,
}

impl ServerCertificate {
    /// The names the certificate covers (lower-case, `localhost` and `127.0.0.1` included).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The chain and key, as a rustls certificate resolver hands them out.
    pub fn certified_key(&self) -> &Arc<CertifiedKey> {
        &self.certified
    }
}

impl std::fmt::Debug for ServerCertificate {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ServerCertificate")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

/// `names` lower-cased with `localhost` and `127.0.0.1` added, duplicates dropped: what a
/// leaf covers.
pub(crate) fn leaf_names(names: &[String]) -> Vec<String> {
    let mut all_names: Vec<String> = Vec::with_capacity(names.len() + 2);
    let lower = names.iter().map(|name| name.to_ascii_lowercase());
    for name in lower.chain(["localhost".to_owned(), "127.0.0.1".to_owned()]) {
        if !all_names.contains(&name) {
            all_names.push(name);
        }
    }
    all_names
}

impl TestPki {
    /// Makes a CA and a leaf for `names` (host names, `*.` wildcards or IP addresses);
    /// `localhost` and `127.0.0.1` are always added.
    pub fn generate(names: &[String]) -> Result<TestPki, Error> {
        let ca_key = KeyPair::generate().map_err(Error::Pki)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(Error::Pki)?;
        let mut ca_name = DistinguishedName::new();
        ca_name.push(DnType::CommonName, "d365-harness test root CA");
        ca_name.push(DnType::OrganizationName, "d365-harness");
        ca_params.distinguished_name = ca_name;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(Error::Pki)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let ca_der = ca_cert.der().clone();
        let leaf = issue_leaf(&issuer, &ca_der, leaf_names(names))?;
        Ok(TestPki {
            ca_pem: ca_cert.pem(),
            ca_der,
            issuer,
            leaf,
        })
    }

    /// A new leaf from the same CA for `names` (as [`TestPki::generate`] takes them), for a
    /// server that starts serving other hosts: clients that trust [`TestPki::ca_pem`] trust it.
    pub fn issue(&self, names: &[String]) -> Result<ServerCertificate, Error> {
        issue_leaf(&self.issuer, &self.ca_der, leaf_names(names))
    }

    /// The root CA certificate in PEM, for clients to trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The root CA certificate in DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The leaf made by [`TestPki::generate`] (a server that changed its hosts serves a later
    /// one: `ServerHandle::certificate`).
    pub fn certificate(&self) -> &ServerCertificate {
        &self.leaf
    }

    /// The names the first server certificate covers.
    pub fn names(&self) -> &[String] {
        &self.leaf.names
    }

    /// A rustls server configuration (aws-lc-rs, ALPN h2 then http/1.1) for the first
    /// certificate.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        server_config(Arc::new(Fixed(Arc::clone(&self.leaf.certified))))
    }
}

/// Signs a leaf for `names` (already normalised) with the CA.
fn issue_leaf(
    issuer: &Issuer<'static, KeyPair>,
    ca_der: &CertificateDer<'static>,
    names: Vec<String>,
) -> Result<ServerCertificate, Error> {
    let leaf_key = KeyPair::generate().map_err(Error::Pki)?;
    let mut leaf_params = CertificateParams::new(names.clone()).map_err(Error::Pki)?;
    let mut leaf_name = DistinguishedName::new();
    leaf_name.push(DnType::CommonName, "d365-harness fake services");
    leaf_params.distinguished_name = leaf_name;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, issuer)
        .map_err(Error::Pki)?;
    let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let signing_key =
        rustls::crypto::aws_lc_rs::sign::any_supported_type(&key_der).map_err(Error::Tls)?;
    let certified = CertifiedKey::new(vec![leaf_cert.der().clone(), ca_der.clone()], signing_key);
    Ok(ServerCertificate {
        names,
        certified: Arc::new(certified),
    })
}

/// A rustls server configuration (aws-lc-rs, ALPN h2 then http/1.1) whose certificate comes
/// from `resolver` at each handshake.
pub(crate) fn server_config(
    resolver: Arc<dyn ResolvesServerCert>,
) -> Result<Arc<rustls::ServerConfig>, Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(Error::Tls)?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Always the same certificate.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TestPki")
            .field("names", &self.leaf.names)
            .field("keys", &"[redacted]")
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covers_requested_names_plus_loopback() {
        let pki = TestPki::generate(&[
            "Login.MicrosoftOnline.com".into(),
            "*.crm.dynamics.com".into(),
        ])
        .expect("pki");
        assert_eq!(
            pki.names(),
            [
                "login.microsoftonline.com",
                "*.crm.dynamics.com",
                "localhost",
                "127.0.0.1"
            ]
        );
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        pki.server_config().expect("rustls accepts the certificate");
        assert!(!format!("{pki:?}").contains("PRIVATE"));
    }

    #[test]
    fn issues_leaves_for_other_names_from_the_same_ca() {
        let pki = TestPki::generate(&["login.microsoftonline.com".into()]).expect("pki");
        let leaf = pki
            .issue(&["Fabrikam.crm4.dynamics.com".into(), "localhost".into()])
            .expect("a new leaf");
        assert_eq!(
            leaf.names(),
            ["fabrikam.crm4.dynamics.com", "localhost", "127.0.0.1"]
        );
        let chain = &leaf.certified_key().cert;
        assert_eq!(chain.len(), 2);
        assert_eq!(&chain[1], pki.ca_der(), "the chain ends with the same CA");
        assert_ne!(chain[0], pki.certificate().certified_key().cert[0]);
        leaf.certified_key()
            .keys_match()
            .expect("the key is the certificate's");
        assert!(!format!("{leaf:?}").contains("PRIVATE"));
    }
}
