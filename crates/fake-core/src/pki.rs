//! The test PKI: one root CA and one leaf certificate covering every host name served, made
//! fresh for each server (ECDSA P-256, about a millisecond). Clients trust the CA through the
//! same knobs a real deployment has for a private CA.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::Error;

/// A CA and a server certificate for a set of host names. `Debug` never shows the private key.
pub struct TestPki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    leaf_der: CertificateDer<'static>,
    leaf_key: PrivatePkcs8KeyDer<'static>,
    names: Vec<String>,
}

impl TestPki {
    /// Makes a CA and a leaf for `names` (host names, `*.` wildcards or IP addresses);
    /// `localhost` and `127.0.0.1` are always added.
    pub fn generate(names: &[String]) -> Result<TestPki, Error> {
        let mut all_names: Vec<String> =
            names.iter().map(|name| name.to_ascii_lowercase()).collect();
        for always in ["localhost", "127.0.0.1"] {
            if !all_names.iter().any(|name| name == always) {
                all_names.push(always.to_owned());
            }
        }
        all_names.dedup();

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
        let issuer = Issuer::new(ca_params, &ca_key);

        let leaf_key = KeyPair::generate().map_err(Error::Pki)?;
        let mut leaf_params = CertificateParams::new(all_names.clone()).map_err(Error::Pki)?;
        let mut leaf_name = DistinguishedName::new();
        leaf_name.push(DnType::CommonName, "d365-harness fake services");
        leaf_params.distinguished_name = leaf_name;
        leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        leaf_params.use_authority_key_identifier_extension = true;
        let leaf_cert = leaf_params
            .signed_by(&leaf_key, &issuer)
            .map_err(Error::Pki)?;

        Ok(TestPki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            leaf_der: leaf_cert.der().clone(),
            leaf_key: PrivatePkcs8KeyDer::from(leaf_key.serialize_der()),
            names: all_names,
        })
    }

    /// The root CA certificate in PEM, for clients to trust.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The root CA certificate in DER.
    pub fn ca_der(&self) -> &CertificateDer<'static> {
        &self.ca_der
    }

    /// The names the server certificate covers.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// A rustls server configuration (aws-lc-rs, ALPN h2 then http/1.1) for this certificate.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(Error::Tls)?
            .with_no_client_auth()
            .with_single_cert(
                vec![self.leaf_der.clone(), self.ca_der.clone()],
                PrivateKeyDer::Pkcs8(self.leaf_key.clone_key()),
            )
            .map_err(Error::Tls)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl std::fmt::Debug for TestPki {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("TestPki")
            .field("names", &self.names)
            .field("leaf_key", &"[redacted]")
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
}
