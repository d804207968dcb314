//! Bearer-token validation, as a resource server does it: the token's shape (three segments,
//! Base64Url JSON header and payload), the signature against the trusted JWKS (keys picked by
//! `kid`, RS256 whatever the header says), then lifetime on the injected clock, issuer (the
//! environment's tenant) and audience (the web or API host, with or without a trailing slash,
//! any case). Failures carry the Microsoft.IdentityModel texts of `JwtSecurityTokenHandler`
//! (the token type IDX10225 names) for the `401_error_reason` header, with token contents shown
//! as IdentityModel shows hidden PII; the exact texts are UNCONFIRMED except the audience one
//! (reference/dataverse.md §2.2).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// Clock skew tolerated on `exp` and `nbf` (IdentityModel's default: five minutes).
const CLOCK_SKEW_SECONDS: i64 = 300;

/// The claims Dataverse reads from an app-only token, read leniently like IdentityModel's
/// `JwtPayload`: a claim of the wrong JSON type is as good as absent, except the NumericDates.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Claims {
    /// `aud`: one string or an array of strings.
    pub(crate) aud: Vec<String>,
    pub(crate) iss: Option<String>,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) appid: Option<String>,
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
/// RSA verification out of the per-request cost for clients that reuse their token. The
/// verifier lives in the world's snapshot, so a changed world (other keys) starts empty.
pub(crate) struct Verifier {
    keys: Vec<(String, DecodingKey)>,
    key_ids: String,
    verified: Mutex<HashMap<String, Arc<Claims>, TailHash>>,
}

/// How many verified tokens are remembered before the memory is cleared.
const VERIFIED_CAPACITY: usize = 4096;

/// Hashes only the last [`TAIL_BYTES`] of a remembered token: the end of its signature, which
/// tells verified tokens apart as well as the whole ~1.5 KB would, for a fraction of the
/// hashing. A lookup still compares the whole token, so this changes speed, never answers.
#[derive(Default)]
struct TailHash(std::hash::RandomState);

/// How much of a token's end [`TailHash`] hashes.
const TAIL_BYTES: usize = 32;

impl BuildHasher for TailHash {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

struct TailHasher(std::hash::DefaultHasher);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0
            .write(&bytes[bytes.len().saturating_sub(TAIL_BYTES)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

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
            verified: Mutex::new(HashMap::default()),
        }
    }

    fn remembered(&self, token: &str) -> Option<Arc<Claims>> {
        self.lock().get(token).cloned()
    }

    fn remember(&self, token: &str, claims: &Arc<Claims>) {
        let mut verified = self.lock();
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(token.to_owned(), Arc::clone(claims));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Claims>, TailHash>> {
        self.verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What a token must match.
pub(crate) struct Expectation<'a> {
    pub(crate) verifier: &'a Verifier,
    pub(crate) issuer: &'a str,
    /// Accepted audience hosts (web and API host), lower case.
    pub(crate) hosts: [&'a str; 2],
    pub(crate) now: OffsetDateTime,
}

/// Validates the `Authorization` header value.
pub(crate) fn validate(
    authorization: Option<&str>,
    expect: &Expectation<'_>,
) -> Result<Arc<Claims>, Rejection> {
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
            let claims = Arc::new(verify_signature(token, expect.verifier)?);
            expect.verifier.remember(token, &claims);
            claims
        }
    };
    let now = expect.now.unix_timestamp();
    let Some(expires) = claims.exp else {
        return refuse(
            "IDX10225: Lifetime validation failed. The token is missing an Expiration Time. Tokentype: 'System.IdentityModel.Tokens.Jwt.JwtSecurityToken'."
                .into(),
        );
    };
    if expires.saturating_add(CLOCK_SKEW_SECONDS) < now {
        return refuse(format!(
            "IDX10223: Lifetime validation failed. The token is expired. ValidTo (UTC): '{}', Current time (UTC): '{}'.",
            show(expires),
            show(now)
        ));
    }
    if let Some(not_before) = claims.nbf
        && not_before.saturating_sub(CLOCK_SKEW_SECONDS) > now
    {
        return refuse(format!(
            "IDX10222: Lifetime validation failed. The token is not yet valid. ValidFrom (UTC): '{}', Current time (UTC): '{}'.",
            show(not_before),
            show(now)
        ));
    }
    let Some(issuer) = claims
        .iss
        .as_deref()
        .filter(|issuer| !issuer.trim().is_empty())
    else {
        return refuse(
            "IDX10211: Unable to validate issuer. The 'issuer' parameter is null or whitespace."
                .into(),
        );
    };
    if issuer != expect.issuer {
        return refuse(format!(
            "IDX10205: Issuer validation failed. Issuer: '{}'. Did not match: validationParameters.ValidIssuer: '{}' or validationParameters.ValidIssuers: 'null'.",
            fake_core::echo(issuer),
            expect.issuer
        ));
    }
    if claims.aud.is_empty() {
        return refuse(
            "IDX10206: Unable to validate audience. The 'audiences' parameter is empty.".into(),
        );
    }
    if !claims
        .aud
        .iter()
        .any(|audience| audience_matches(audience, &expect.hosts))
    {
        let valid: Vec<String> = expect
            .hosts
            .iter()
            .map(|host| format!("https://{host}/"))
            .collect();
        return refuse(format!(
            "IDX10214: Audience validation failed. Audiences: '{}'. Did not match: validationParameters.ValidAudience: 'null' or validationParameters.ValidAudiences: '{}'.",
            fake_core::echo(&claims.aud.join(", ")),
            valid.join(", ")
        ));
    }
    Ok(claims)
}

/// How IdentityModel shows a value it treats as PII (the default, `ShowPII = false`): token
/// contents never reach the reason header.
const HIDDEN: &str = "[PII of type 'System.String' is hidden. For more details, see https://aka.ms/IdentityModel/PII.]";

/// Decodes a Base64Url segment holding a JSON object.
fn json_segment(segment: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(object) => Some(object),
        _ => None,
    }
}

/// The signature check: a JWS of three segments, a JSON header and payload, a trusted `kid`,
/// a valid RS256 signature. Then the claims, read from the verified payload.
fn verify_signature(token: &str, verifier: &Verifier) -> Result<Claims, Rejection> {
    let refuse = |reason: String| {
        Err(Rejection {
            reason: Some(reason),
        })
    };
    let segments: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = segments.as_slice() else {
        return refuse(if segments.len() == 1 {
            // No dots at all: IdentityModel's "not well formed" text.
            "IDX14100: JWT is not well formed, there are no dots (.). The token needs to be in JWS or JWE Compact Serialization Format. (JWS): 'EncodedHeader.EndcodedPayload.EncodedSignature'."
                .into()
        } else if segments.len() == 5 {
            // A JWE: Dataverse has no decryption keys for it.
            format!("IDX10609: Decryption failed. No Keys tried: token: '{HIDDEN}'.")
        } else {
            format!(
                "IDX12741: JWT: '{HIDDEN}' must have three segments (JWS) or five segments (JWE)."
            )
        });
    };
    let Some(header_json) = json_segment(header) else {
        return refuse(format!(
            "IDX12729: Unable to decode the header '{HIDDEN}' as Base64Url encoded string."
        ));
    };
    let Some(payload_json) = json_segment(payload) else {
        return refuse(format!(
            "IDX12723: Unable to decode the payload '{HIDDEN}' as Base64Url encoded string."
        ));
    };
    if signature.is_empty() {
        // `alg: none` and other unsigned tokens: Dataverse requires signed tokens.
        return refuse(format!(
            "IDX10504: Unable to validate signature, token does not have a signature: '{HIDDEN}'."
        ));
    }
    let kid = header_json
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let Some((_, key)) = verifier.keys.iter().find(|(known, _)| known == kid) else {
        return refuse(format!(
            "IDX10503: Signature validation failed. Token does not have a kid. Keys tried: '{}'. Number of keys in TokenValidationParameters: '{}'. kid: '{}'.",
            verifier.key_ids,
            verifier.keys.len(),
            fake_core::echo(kid)
        ));
    };
    // The keys are RSA keys: whatever `alg` the header claims, only an RS256 signature by
    // them verifies (so `HS256` signed with the public key as secret cannot pass).
    let signed = header.len() + 1 + payload.len();
    let verified = jsonwebtoken::crypto::verify(
        signature,
        &token.as_bytes()[..signed],
        key,
        Algorithm::RS256,
    )
    .unwrap_or(false);
    if !verified || header_json.get("alg").and_then(Value::as_str) != Some("RS256") {
        return refuse(format!(
            "IDX10511: Signature validation failed. Keys tried: '{0}'. kid: '{0}'.",
            fake_core::echo(kid)
        ));
    }
    claims(&payload_json).ok_or_else(|| Rejection {
        reason: Some(format!(
            "IDX12723: Unable to decode the payload '{HIDDEN}' as Base64Url encoded string."
        )),
    })
}

/// The claims of a verified payload; `None` if a NumericDate (`exp`, `nbf`) is not a number
/// of seconds (IdentityModel fails to read such a payload; which text it gives is UNCONFIRMED,
/// so the payload error stands for it).
fn claims(payload: &Map<String, Value>) -> Option<Claims> {
    let text = |name: &str| payload.get(name).and_then(Value::as_str).map(str::to_owned);
    let date = |name: &str| -> Option<Option<i64>> {
        match payload.get(name) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(number)) => match number.as_i64() {
                Some(seconds) => Some(Some(seconds)),
                // Fractional seconds are truncated, as IdentityModel does.
                None => number
                    .as_f64()
                    .filter(|seconds| seconds.is_finite() && seconds.abs() < 1e15)
                    .map(|seconds| Some(seconds.trunc() as i64)),
            },
            Some(_) => None,
        }
    };
    let aud = match payload.get("aud") {
        Some(Value::String(audience)) => vec![audience.clone()],
        Some(Value::Array(audiences)) => audiences
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Some(Claims {
        aud,
        iss: text("iss"),
        exp: date("exp")?,
        nbf: date("nbf")?,
        appid: text("appid"),
        azp: text("azp"),
    })
}

/// `https://host` or `https://host/`, any case, for either host form (UNCONFIRMED which forms
/// the real service accepts; it is widely relied on).
fn audience_matches(audience: &str, hosts: &[&str; 2]) -> bool {
    let Some(host) = audience
        .get(..8)
        .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
        .and_then(|_| audience.get(8..))
    else {
        return false;
    };
    let host = host.strip_suffix('/').unwrap_or(host);
    hosts
        .iter()
        .any(|expected| expected.eq_ignore_ascii_case(host))
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
