//! Bearer-token validation, as a resource server does it: the signature against the trusted
//! JWKS (keys picked by `kid`), then lifetime on the injected clock, issuer (the environment's
//! tenant) and audience (the web or API host, with or without a trailing slash, any case).
//! Failures carry Microsoft.IdentityModel-style reasons for the `401_error_reason` header; the
//! exact texts are UNCONFIRMED except the audience one (reference/dataverse.md §2.2).

use std::collections::HashMap;
use std::sync::Mutex;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Clock skew tolerated on `exp` and `nbf` (IdentityModel's default: five minutes).
const CLOCK_SKEW_SECONDS: i64 = 300;

/// The claims Dataverse reads from an app-only token.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Claims {
    pub(crate) aud: String,
    pub(crate) iss: String,
    pub(crate) exp: i64,
    #[serde(default)]
    pub(crate) nbf: Option<i64>,
    pub(crate) appid: Option<String>,
    #[serde(default)]
    pub(crate) azp: Option<String>,
}

impl Claims {
    /// The client id: `appid` (v1 tokens) or `azp` (v2).
    pub(crate) fn client_id(&self) -> Option<Uuid> {
        self.appid
            .as_deref()
            .or(self.azp.as_deref())
            .and_then(|id| Uuid::try_parse(id).ok())
    }
}

/// Why a token was refused; `None` reason means no token at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    pub(crate) reason: Option<String>,
}

/// The trusted keys, parsed once, and the tokens whose signatures already verified.
///
/// A signature over the same bytes with the same fixed keys verifies the same way every time,
/// so a verified token is remembered (bounded) and its claims are re-checked on every request:
/// lifetime, issuer and audience still follow the clock and the environment. This keeps the
/// RSA verification out of the per-request cost for clients that reuse their token.
pub(crate) struct Verifier {
    keys: Vec<(String, DecodingKey)>,
    key_ids: String,
    verified: Mutex<HashMap<String, Claims>>,
}

/// How many verified tokens are remembered before the memory is cleared.
const VERIFIED_CAPACITY: usize = 4096;

impl Verifier {
    pub(crate) fn new(keys: &jsonwebtoken::jwk::JwkSet) -> Verifier {
        Verifier {
            keys: keys
                .keys
                .iter()
                .filter_map(|jwk| {
                    let kid = jwk.common.key_id.clone()?;
                    Some((kid, DecodingKey::from_jwk(jwk).ok()?))
                })
                .collect(),
            key_ids: key_ids(keys),
            verified: Mutex::new(HashMap::new()),
        }
    }

    fn remembered(&self, token: &str) -> Option<Claims> {
        self.lock().get(token).cloned()
    }

    fn remember(&self, token: &str, claims: &Claims) {
        let mut verified = self.lock();
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(token.to_owned(), claims.clone());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Claims>> {
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a token must match.
pub(crate) struct Expectation<'a> {
    pub(crate) verifier: &'a Verifier,
    pub(crate) issuer: String,
    /// Accepted audience hosts (web and API host), lower case.
    pub(crate) hosts: [&'a str; 2],
    pub(crate) now: OffsetDateTime,
}

/// Validates the `Authorization` header value.
pub(crate) fn validate(
    authorization: Option<&str>,
    expect: &Expectation<'_>,
) -> Result<Claims, Rejection> {
    let token = match authorization {
        None => return Err(Rejection { reason: None }),
        Some(value) => match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
            _ => {
                return Err(Rejection {
                    reason: Some("Bearer token is missing from the Authorization header.".into()),
                });
            }
        },
    };
    let refuse = |reason: String| {
        Err(Rejection {
            reason: Some(reason),
        })
    };
    let claims = match expect.verifier.remembered(token) {
        Some(claims) => claims,
        None => {
            let claims = verify_signature(token, expect.verifier)?;
            expect.verifier.remember(token, &claims);
            claims
        }
    };
    let now = expect.now.unix_timestamp();
    if claims.exp + CLOCK_SKEW_SECONDS < now {
        return refuse(format!(
            "IDX10223: Lifetime validation failed. The token is expired. ValidTo (UTC): '{}', Current time (UTC): '{}'.",
            show(claims.exp),
            show(now)
        ));
    }
    if let Some(not_before) = claims.nbf
        && not_before - CLOCK_SKEW_SECONDS > now
    {
        return refuse(format!(
            "IDX10222: Lifetime validation failed. The token is not yet valid. ValidFrom (UTC): '{}', Current time (UTC): '{}'.",
            show(not_before),
            show(now)
        ));
    }
    if claims.iss != expect.issuer {
        return refuse(format!(
            "IDX10205: Issuer validation failed. Issuer: '{}'. Did not match: validationParameters.ValidIssuer: '{}' or validationParameters.ValidIssuers: 'null'.",
            claims.iss, expect.issuer
        ));
    }
    if !audience_matches(&claims.aud, &expect.hosts) {
        let valid: Vec<String> = expect
            .hosts
            .iter()
            .map(|host| format!("https://{host}/"))
            .collect();
        return refuse(format!(
            "IDX10214: Audience validation failed. Audiences: '{}'. Did not match: validationParameters.ValidAudience: 'null' or validationParameters.ValidAudiences: '{}'.",
            claims.aud,
            valid.join(", ")
        ));
    }
    Ok(claims)
}

/// The signature check: well-formed JWS, a trusted `kid`, a valid RS256 signature.
fn verify_signature(token: &str, verifier: &Verifier) -> Result<Claims, Rejection> {
    let refuse = |reason: String| {
        Err(Rejection {
            reason: Some(reason),
        })
    };
    if token.split('.').count() != 3 {
        return refuse(
            "IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'."
                .into(),
        );
    }
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return refuse("IDX14102: Unable to decode the header as Base64Url encoded string.".into());
    };
    let kid = header.kid.clone().unwrap_or_default();
    let Some((_, key)) = verifier.keys.iter().find(|(known, _)| *known == kid) else {
        return refuse(format!(
            "IDX10503: Signature validation failed. Token does not have a kid. Keys tried: '{}'. Number of keys in TokenValidationParameters: '{}'. kid: '{kid}'.",
            verifier.key_ids,
            verifier.keys.len()
        ));
    };
    let mut validation = Validation::new(Algorithm::RS256);
    // Lifetime, audience and issuer are checked by the caller on the injected clock, with
    // IdentityModel's wording; jsonwebtoken only checks the signature here.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    match jsonwebtoken::decode::<Claims>(token, key, &validation) {
        Ok(data) => Ok(data.claims),
        Err(error) => refuse(match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => {
                format!("IDX10511: Signature validation failed. Keys tried: '{kid}'. kid: '{kid}'.")
            }
            _ => format!("IDX10000: The token could not be read: {error}."),
        }),
    }
}

/// `https://host` or `https://host/`, any case, for either host form (UNCONFIRMED which forms
/// the real service accepts; it is widely relied on).
fn audience_matches(audience: &str, hosts: &[&str; 2]) -> bool {
    let lowered = audience.to_ascii_lowercase();
    let Some(host) = lowered.strip_prefix("https://") else {
        return false;
    };
    let host = host.strip_suffix('/').unwrap_or(host);
    hosts.contains(&host)
}

fn key_ids(keys: &jsonwebtoken::jwk::JwkSet) -> String {
    keys.keys
        .iter()
        .filter_map(|key| key.common.key_id.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

fn show(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|time| time.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(audience: &str, expected: bool) {
        assert_eq!(
            audience_matches(
                audience,
                &["contoso.crm.dynamics.com", "contoso.api.crm.dynamics.com"]
            ),
            expected,
            "{audience}"
        );
    }

    #[test]
    fn audiences() {
        check("https://contoso.crm.dynamics.com", true);
        check("https://contoso.crm.dynamics.com/", true);
        check("HTTPS://Contoso.CRM.Dynamics.com", true);
        check("https://contoso.api.crm.dynamics.com/", true);
        check("https://contoso.crm4.dynamics.com", false);
        check("http://contoso.crm.dynamics.com", false);
        check("https://contoso.crm.dynamics.com//", false);
        check("00000007-0000-0000-c000-000000000000", false);
    }
}
