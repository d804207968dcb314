//! Certificate client assertions (reference/entra.md §1.3): a JWT signed with the private key
//! of a certificate registered on the app. Accepts what every real library sends: PS256 with
//! `x5t#S256` or RS256 with `x5t`; `exp`/`nbf`/`iat` as integers, floats or numeric strings;
//! `nbf` and `iat` optional. `jti` replay is checked by the caller, per
//! [`crate::AssertionReplayPolicy`] (off by default: MSAL reuses assertions).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rustls_pki_types::CertificateDer;
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::catalogue::{AadError, AadstsError};
use crate::token::{sha1_thumbprint, sha256_thumbprint};
use crate::{App, ClientCertificate};

/// `client_assertion_type` for certificate credentials.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Clock skew tolerated on `exp` and `nbf`. UNCONFIRMED; five minutes is the common assumption.
pub(crate) const CLOCK_SKEW_SECONDS: i64 = 300;

/// What a verified assertion tells the replay check.
#[derive(Debug)]
pub(crate) struct VerifiedAssertion {
    /// The `jti` claim, when it is a string.
    pub(crate) jti: Option<String>,
    /// The last instant the assertion is accepted: `exp` plus the clock skew.
    pub(crate) valid_until: OffsetDateTime,
}

/// Checks `assertion` for `app`. `audiences` are the token endpoint URLs that count as the
/// endpoint the request reached (compared case-insensitively).
pub(crate) fn verify(
    assertion: &str,
    app: &App,
    audiences: &[String],
    now: OffsetDateTime,
) -> Result<VerifiedAssertion, AadError> {
    let client_id = app.client_id.to_string();
    let invalid =
        |reason: &str| AadError::new(AadstsError::AssertionInvalid, &[("reason", reason)]);
    let mut parts = assertion.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid(
            "The client assertion is not a JWS in compact form.",
        ));
    };
    let header: Value = decode_json(header)
        .ok_or_else(|| invalid("The client assertion header is not base64url JSON."))?;
    let claims: Value = decode_json(claims)
        .ok_or_else(|| invalid("The client assertion payload is not base64url JSON."))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| invalid("The client assertion signature is not base64url."))?;
    let signing_input = &assertion[..assertion.rfind('.').unwrap_or(0)];

    let algorithm = match header.get("alg").and_then(Value::as_str) {
        Some("RS256") => webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
        Some("PS256") => webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
        Some(other) => {
            return Err(invalid(&format!(
                "Unsupported signing algorithm '{}'; use RS256 or PS256.",
                fake_core::echo(other)
            )));
        }
        None => return Err(invalid("The client assertion header has no 'alg'.")),
    };
    let (thumbprint, thumbprint_of): (&str, fn(&[u8]) -> String) =
        match (header.get("x5t#S256"), header.get("x5t")) {
            // MSAL Python pads its thumbprints with `=`; msal-node does not.
            (Some(Value::String(sha256)), _) => (sha256.trim_end_matches('='), sha256_thumbprint),
            (_, Some(Value::String(sha1))) => (sha1.trim_end_matches('='), sha1_thumbprint),
            _ => {
                return Err(invalid(
                    "No certificate thumbprint specified in token header.",
                ));
            }
        };
    let thumbprint_hex: String = URL_SAFE_NO_PAD
        .decode(thumbprint)
        .map(|bytes| bytes.iter().map(|byte| format!("{byte:02X}")).collect())
        .unwrap_or_else(|_| thumbprint.to_owned());
    let base_facts = [
        ("client_id", client_id.as_str()),
        ("thumbprint", thumbprint_hex.as_str()),
    ];
    let Some(certificate) = app
        .certificates
        .iter()
        .find(|certificate| thumbprint_of(&certificate.der) == thumbprint)
    else {
        return Err(AadError::new(
            AadstsError::CertificateNotRegistered,
            &base_facts,
        ));
    };
    let verified = CertificateDer::from(certificate.der.as_slice());
    let signature_ok = webpki::EndEntityCert::try_from(&verified)
        .map(|cert| {
            cert.verify_signature(algorithm, signing_input.as_bytes(), &signature)
                .is_ok()
        })
        .unwrap_or(false);
    if !signature_ok {
        let (start, end) = key_dates(certificate);
        let mut facts = base_facts.to_vec();
        facts.extend([("key_start", start.as_str()), ("key_end", end.as_str())]);
        return Err(AadError::new(
            AadstsError::AssertionSignatureInvalid,
            &facts,
        ));
    }

    for claim in ["iss", "sub"] {
        if claims.get(claim).and_then(Value::as_str) != Some(client_id.as_str())
            && !claims
                .get(claim)
                .and_then(Value::as_str)
                .is_some_and(|value| value.eq_ignore_ascii_case(&client_id))
        {
            return Err(invalid(&format!(
                "The '{claim}' claim of the client assertion must be the client id '{client_id}'."
            )));
        }
    }
    let audience = claims
        .get("aud")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !audiences
        .iter()
        .any(|expected| expected.eq_ignore_ascii_case(audience))
    {
        let expected = audiences.first().map(String::as_str).unwrap_or_default();
        return Err(AadError::new(
            AadstsError::AssertionAudienceInvalid,
            &[("audience", audience), ("expected_audience", expected)],
        ));
    }
    let expiry = numeric_date(claims.get("exp"))
        .ok_or_else(|| invalid("The client assertion has no valid 'exp' claim."))?;
    let not_before = match claims.get("nbf") {
        None | Some(Value::Null) => None,
        present => Some(
            numeric_date(present)
                .ok_or_else(|| invalid("The client assertion 'nbf' claim is not a NumericDate."))?,
        ),
    };
    let skew = time::Duration::seconds(CLOCK_SKEW_SECONDS);
    let expired = now > expiry + skew;
    let premature = not_before.is_some_and(|not_before| now + skew < not_before);
    if expired || premature {
        let valid_from = not_before.unwrap_or(OffsetDateTime::UNIX_EPOCH);
        return Err(AadError::new(
            AadstsError::AssertionOutsideValidity,
            &[
                ("now", &precise(now)),
                ("valid_from", &precise(valid_from)),
                ("expiry", &precise(expiry)),
            ],
        ));
    }
    Ok(VerifiedAssertion {
        jti: claims.get("jti").and_then(Value::as_str).map(str::to_owned),
        valid_until: expiry + skew,
    })
}

fn decode_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    value.is_object().then_some(value)
}

/// A JWT NumericDate as MSAL Python (float), MSAL.NET (string) and others (integer) send it.
pub(crate) fn numeric_date(value: Option<&Value>) -> Option<OffsetDateTime> {
    let seconds = match value? {
        Value::Number(number) => number.as_f64()?,
        Value::String(text) => text.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !seconds.is_finite() {
        return None;
    }
    OffsetDateTime::from_unix_timestamp(seconds.floor() as i64).ok()
}

/// `2025-08-29T05:47:32.1501147Z`: seven fraction digits, as ESTS prints times.
fn precise(time: OffsetDateTime) -> String {
    let base = time
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]"
        ))
        .unwrap_or_default();
    format!("{base}.{:07}Z", time.nanosecond() / 100)
}

/// `MM/dd/yyyy HH:mm:ss` key dates for AADSTS700027; `unknown` when the config has none.
fn key_dates(certificate: &ClientCertificate) -> (String, String) {
    let format = format_description!("[month]/[day]/[year] [hour]:[minute]:[second]");
    let show = |date: Option<OffsetDateTime>| {
        date.and_then(|date| date.format(format).ok())
            .unwrap_or_else(|| "unknown".to_owned())
    };
    (show(certificate.start), show(certificate.end))
}

#[cfg(test)]
mod tests;
