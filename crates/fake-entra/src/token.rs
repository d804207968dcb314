//! Access tokens: the signing key (parsed once, so issuing a token costs one RSA signature),
//! the v1 claim layout Dataverse receives, and compact JWS assembly.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;

use crate::{Error, PemPart};

/// The RSA key that signs access tokens, with the certificate published in the JWKS.
/// `kid` and `x5t` are the base64url SHA-1 thumbprint of the certificate, as Entra's are.
/// Cloning is cheap and shares the parsed key (parsing an RSA key is what costs).
#[derive(Clone)]
pub struct SigningKey {
    key_pair: std::sync::Arc<RsaKeyPair>,
    rng: SystemRandom,
    cert_der: Vec<u8>,
    kid: String,
    modulus: String,
    exponent: String,
}

impl SigningKey {
    /// Parses a PKCS#8 or PKCS#1 RSA private key PEM and its certificate PEM.
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<SigningKey, Error> {
        let key_der = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|source| {
            Error::SigningKeyPem {
                part: PemPart::PrivateKey,
                source,
            }
        })?;
        let key_pair = match &key_der {
            PrivateKeyDer::Pkcs8(pkcs8) => RsaKeyPair::from_pkcs8(pkcs8.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(pkcs1) => RsaKeyPair::from_der(pkcs1.secret_pkcs1_der()),
            _ => return Err(Error::SigningKeyNotRsa),
        }
        .map_err(Error::SigningKeyRejected)?;
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|source| {
            Error::SigningKeyPem {
                part: PemPart::Certificate,
                source,
            }
        })?;
        let cert_der = cert.as_ref().to_vec();
        let public_key = key_pair.public_key();
        let modulus =
            URL_SAFE_NO_PAD.encode(public_key.modulus().big_endian_without_leading_zero());
        let exponent =
            URL_SAFE_NO_PAD.encode(public_key.exponent().big_endian_without_leading_zero());
        Ok(SigningKey {
            key_pair: std::sync::Arc::new(key_pair),
            rng: SystemRandom::new(),
            kid: sha1_thumbprint(&cert_der),
            cert_der,
            modulus,
            exponent,
        })
    }

    /// The key id (`kid` == `x5t`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The RSA modulus, base64url.
    pub fn modulus(&self) -> &str {
        &self.modulus
    }

    /// The RSA public exponent, base64url (`AQAB`).
    pub fn exponent(&self) -> &str {
        &self.exponent
    }

    /// The certificate as `x5c` carries it (standard base64 of the DER).
    pub fn x5c(&self) -> String {
        STANDARD.encode(&self.cert_der)
    }

    /// Signs `claims` as an RS256 JWS with Entra's v1 header (`typ`, `alg`, `x5t`, `kid`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, Error> {
        #[derive(Serialize)]
        struct Header<'a> {
            typ: &'static str,
            alg: &'static str,
            x5t: &'a str,
            kid: &'a str,
        }
        let header = Header {
            typ: "JWT",
            alg: "RS256",
            x5t: &self.kid,
            kid: &self.kid,
        };
        let header = serde_json::to_vec(&header).map_err(Error::Serialize)?;
        let claims = serde_json::to_vec(claims).map_err(Error::Serialize)?;
        let mut token = String::with_capacity((header.len() + claims.len()) * 4 / 3 + 400);
        URL_SAFE_NO_PAD.encode_string(&header, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let mut signature = vec![0u8; self.key_pair.public_modulus_len()];
        self.key_pair
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                token.as_bytes(),
                &mut signature,
            )
            .map_err(Error::Signing)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
        Ok(token)
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("private_key", &"[redacted]")
            .finish_non_exhaustive()
    }
}

/// base64url(SHA-1(DER)): `x5t` and `kid`.
pub fn sha1_thumbprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// base64url(SHA-256(DER)): `x5t#S256`.
pub fn sha256_thumbprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The claims of an app-only v1.0 access token, in the order Entra writes them.
#[derive(Debug, Serialize)]
pub struct AccessTokenClaims {
    /// The resource (scope minus `/.default`, or the v1 `resource` as sent).
    pub aud: String,
    /// `https://sts.windows.net/{tid}/`.
    pub iss: String,
    /// Issued at: now − 300 s.
    pub iat: i64,
    /// Not before: same as `iat`.
    pub nbf: i64,
    /// Expiry: now + `expires_in` + 1.
    pub exp: i64,
    /// Opaque.
    pub aio: String,
    /// The app's display name.
    pub app_displayname: String,
    /// The client id.
    pub appid: String,
    /// `"1"` secret, `"2"` certificate.
    pub appidacr: String,
    /// Same as `iss`.
    pub idp: String,
    /// `"app"`.
    pub idtyp: &'static str,
    /// The client's service principal object id in the tenant.
    pub oid: String,
    /// Opaque, `0.<base64url>.`.
    pub rh: String,
    /// Same as `oid`.
    pub sub: String,
    /// Tenant region scope.
    pub tenant_region_scope: String,
    /// The tenant id.
    pub tid: String,
    /// Unique token id.
    pub uti: String,
    /// `"1.0"`.
    pub ver: &'static str,
}
