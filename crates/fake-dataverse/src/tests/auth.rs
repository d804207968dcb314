//! Bearer tokens of every shape through `auth::validate` and through the handler: each
//! malformed claim or segment gets its Microsoft.IdentityModel reason (never serde's wording),
//! and properties over arbitrary strings, segments, mutated and re-signed tokens.

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::*;
use crate::auth::{self, Expectation, Verifier};

const HIDDEN: &str = "[PII of type 'System.String' is hidden. For more details, see https://aka.ms/IdentityModel/PII.]";

/// A token from raw header and payload bytes, signed (RS256) with `key`.
fn signed_raw(header: &[u8], payload: &[u8], key: &str) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_rsa_pem(key.as_bytes()).expect("key"),
        Algorithm::RS256,
    )
    .expect("signs");
    format!("{message}.{signature}")
}

fn rs256_header() -> Vec<u8> {
    serde_json::to_vec(&json!({"alg": "RS256", "typ": "JWT", "kid": kid()})).expect("json")
}

/// A token with the test claims changed by `change`, signed with the trusted key.
fn with_claims(change: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let Value::Object(mut claims) = claims(IMPORTER) else {
        unreachable!("claims are an object");
    };
    change(&mut claims);
    signed_raw(
        &rs256_header(),
        &serde_json::to_vec(&claims).expect("json"),
        KEY,
    )
}

/// One service for every case (the clock is manual: nothing changes between cases).
fn shared() -> &'static Dataverse {
    static DATAVERSE: OnceLock<std::sync::Arc<Dataverse>> = OnceLock::new();
    DATAVERSE.get_or_init(dataverse)
}

/// Sends `WhoAmI` with `Authorization: Bearer {token}` through the handler, synchronously.
fn who_am_i(token: &str) -> Answer {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime")
    });
    runtime.block_on(get(shared(), "/api/data/v9.2/WhoAmI", Some(token)))
}

/// The validator's verdict on `authorization`, with the test environment's expectation.
fn validate(authorization: &str) -> Result<auth::Claims, auth::Rejection> {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| Verifier::new(&jwks()));
    let issuer = format!("https://sts.windows.net/{TENANT}/");
    let expectation = Expectation {
        verifier,
        issuer: &issuer,
        hosts: [HOST, "contoso.api.crm.dynamics.com"],
        now: datetime!(2026-03-01 12:00:00 UTC),
    };
    auth::validate(Some(authorization), &expectation).map(|claims| (*claims).clone())
}

/// `IDX` and five digits, `: `, then text: the shape of every IdentityModel reason.
fn is_idx_reason(reason: &str) -> bool {
    reason.len() > 10
        && reason.starts_with("IDX")
        && reason[3..8].bytes().all(|byte| byte.is_ascii_digit())
        && &reason[8..10] == ": "
}

/// A rejection as Dataverse sends it: 401, the challenge, an empty body, an IDX reason that
/// does not quote the token.
fn assert_rejected(answer: &Answer, token: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    prop_assert_eq!(answer.text.as_str(), "");
    prop_assert_eq!(
        answer.headers["www-authenticate"].to_str().ok(),
        Some(CHALLENGE)
    );
    let reason = answer
        .headers
        .get("401_error_reason")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    prop_assert!(is_idx_reason(reason), "reason {:?}", reason);
    prop_assert!(token.len() < 24 || !reason.contains(token), "{}", reason);
    Ok(())
}

#[track_caller]
fn check(token: &str, expected: &str) {
    let answer = who_am_i(token);
    assert_401(&answer, Some(expected));
    let rejection = validate(&format!("Bearer {token}")).expect_err("rejected");
    assert_eq!(rejection.reason.as_deref(), Some(expected));
}

#[test]
fn claim_and_segment_failures_get_identity_model_reasons() {
    check(
        &with_claims(|claims| {
            claims.remove("exp");
        }),
        "IDX10225: Lifetime validation failed. The token is missing an Expiration Time. Tokentype: 'System.IdentityModel.Tokens.Jwt.JwtSecurityToken'.",
    );
    check(
        &with_claims(|claims| {
            claims.insert("exp".into(), Value::Null);
        }),
        "IDX10225: Lifetime validation failed. The token is missing an Expiration Time. Tokentype: 'System.IdentityModel.Tokens.Jwt.JwtSecurityToken'.",
    );
    let payload =
        format!("IDX12723: Unable to decode the payload '{HIDDEN}' as Base64Url encoded string.");
    for (name, value) in [
        ("exp", json!("tomorrow")),
        ("exp", json!(true)),
        ("nbf", json!({"seconds": 1})),
        ("nbf", json!([NOW])),
    ] {
        check(
            &with_claims(|claims| {
                claims.insert(name.into(), value);
            }),
            &payload,
        );
    }
    for value in [None, Some(json!(42)), Some(json!([])), Some(json!({}))] {
        check(
            &with_claims(|claims| match value {
                Some(value) => {
                    claims.insert("aud".into(), value);
                }
                None => {
                    claims.remove("aud");
                }
            }),
            "IDX10206: Unable to validate audience. The 'audiences' parameter is empty.",
        );
    }
    for value in [None, Some(json!(7)), Some(json!(" "))] {
        check(
            &with_claims(|claims| match value {
                Some(value) => {
                    claims.insert("iss".into(), value);
                }
                None => {
                    claims.remove("iss");
                }
            }),
            "IDX10211: Unable to validate issuer. The 'issuer' parameter is null or whitespace.",
        );
    }
    // Payloads that are not a JSON object, signed by the trusted key.
    for bytes in [&b"not json"[..], b"[1,2]", b"\"text\"", b"\xff\xfe"] {
        check(&signed_raw(&rs256_header(), bytes, KEY), &payload);
    }
    let good = token(IMPORTER);
    let segments: Vec<&str> = good.split('.').collect();
    check(
        &format!("e30x!.{}.{}", segments[1], segments[2]),
        &format!("IDX12729: Unable to decode the header '{HIDDEN}' as Base64Url encoded string."),
    );
    check(&format!("{}.%%%.{}", segments[0], segments[2]), &payload);
    check(
        &format!("{}.{}", segments[0], segments[1]),
        &format!(
            "IDX12741: JWT: '{HIDDEN}' must have three segments (JWS) or five segments (JWE)."
        ),
    );
    check(
        &format!("{good}.a.b"),
        &format!("IDX10609: Decryption failed. No Keys tried: token: '{HIDDEN}'."),
    );
    // `alg: none`, unsigned, then the same token with a signature that is not RS256.
    let none = serde_json::to_vec(&json!({"alg": "none", "kid": kid()})).expect("json");
    let unsigned = format!("{}.{}.", URL_SAFE_NO_PAD.encode(&none), segments[1]);
    check(
        &unsigned,
        &format!(
            "IDX10504: Unable to validate signature, token does not have a signature: '{HIDDEN}'."
        ),
    );
    let forged_signature = format!("{unsigned}{}", segments[2]);
    check(
        &forged_signature,
        &format!(
            "IDX10511: Signature validation failed. Keys tried: '{0}'. kid: '{0}'.",
            kid()
        ),
    );
}

#[test]
fn audience_arrays_and_wrongly_typed_client_ids_are_read_like_identity_model() {
    let array = with_claims(|claims| {
        claims.insert(
            "aud".into(),
            json!([
                "00000007-0000-0000-c000-000000000000",
                format!("https://{HOST}/")
            ]),
        );
    });
    let answer = who_am_i(&array);
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // A non-string appid is no client id: the token is valid, the caller unknown (403).
    let answer = who_am_i(&with_claims(|claims| {
        claims.insert("appid".into(), json!(12));
    }));
    assert_error(
        &answer,
        403,
        "0x80072560",
        "The user is not a member of the organization.",
    );
}

/// One claim of a generated token: absent, valid, a wrong value, or a wrong JSON type.
#[derive(Clone, Debug)]
enum Variant {
    Absent,
    Valid,
    WrongValue,
    WrongType(Value),
}

fn variant() -> impl Strategy<Value = Variant> {
    prop_oneof![
        Just(Variant::Absent),
        Just(Variant::Valid),
        Just(Variant::Valid),
        Just(Variant::WrongValue),
        prop_oneof![
            Just(json!(true)),
            Just(json!([])),
            Just(json!({"a": 1})),
            Just(Value::Null),
            any::<i64>().prop_map(|number| json!(number)),
            "[ -~]{0,12}".prop_map(|text| json!(text)),
        ]
        .prop_map(Variant::WrongType),
    ]
}

/// A header value carries only visible ASCII and spaces: what a client can send.
const HEADER_TEXT: &str = "[ -~]{0,300}";

proptest! {
    #[test]
    fn arbitrary_strings_are_refused_with_an_idx_reason(token in HEADER_TEXT) {
        assert_rejected(&who_am_i(&token), &token)?;
    }

    #[test]
    fn the_validator_refuses_any_text_without_panicking(text in any::<String>()) {
        let rejection = validate(&format!("Bearer {text}")).expect_err("never valid");
        let reason = rejection.reason.unwrap_or_default();
        prop_assert!(is_idx_reason(&reason), "{}", reason);
    }

    #[test]
    fn arbitrary_three_segment_tokens_are_refused(
        header in "[A-Za-z0-9_-]{0,80}",
        payload in "[A-Za-z0-9_-]{0,80}",
        signature in "[A-Za-z0-9_-]{0,80}",
    ) {
        let token = format!("{header}.{payload}.{signature}");
        assert_rejected(&who_am_i(&token), &token)?;
    }

    #[test]
    fn a_valid_token_with_one_byte_changed_is_refused(
        position in any::<prop::sample::Index>(),
        replacement in "[ -~]",
    ) {
        let good = token(IMPORTER);
        let position = position.index(good.len());
        let mut bytes = good.clone().into_bytes();
        let replacement = replacement.as_bytes()[0];
        prop_assume!(bytes[position] != replacement);
        bytes[position] = replacement;
        let mutated = String::from_utf8(bytes).expect("ascii");
        assert_rejected(&who_am_i(&mutated), &mutated)?;
    }

    #[test]
    fn a_valid_token_with_a_segment_swapped_is_refused(
        segment in 0usize..3,
        replacement in "[A-Za-z0-9_-]{0,120}",
    ) {
        let good = token(IMPORTER);
        let mut segments: Vec<String> = good.split('.').map(str::to_owned).collect();
        prop_assume!(segments[segment] != replacement);
        segments[segment] = replacement;
        let mutated = segments.join(".");
        assert_rejected(&who_am_i(&mutated), &mutated)?;
    }

    #[test]
    fn tokens_signed_by_another_key_are_never_accepted(
        aud in variant(), iss in variant(), exp in variant(), nbf in variant(),
    ) {
        let token = signed_raw(
            &rs256_header(),
            &serde_json::to_vec(&generated_claims(&aud, &iss, &exp, &nbf)).expect("json"),
            OTHER_KEY,
        );
        let answer = who_am_i(&token);
        assert_rejected(&answer, &token)?;
        let reason = answer.headers["401_error_reason"].to_str().unwrap_or_default();
        prop_assert!(reason.starts_with("IDX10511: "), "{}", reason);
    }

    #[test]
    fn re_signed_tokens_pass_exactly_when_their_claims_are_valid(
        aud in variant(), iss in variant(), exp in variant(), nbf in variant(),
        appid in variant(),
    ) {
        let mut claims = generated_claims(&aud, &iss, &exp, &nbf);
        set(&mut claims, "appid", &appid, json!(IMPORTER), json!(STRANGER_APP));
        let token = signed_raw(
            &rs256_header(),
            &serde_json::to_vec(&claims).expect("json"),
            KEY,
        );
        let valid = |variant: &Variant| matches!(variant, Variant::Valid);
        // A number of another value is still a NumericDate: it counts by its value.
        let seconds = |variant: &Variant| match variant {
            Variant::WrongType(Value::Number(number)) => number.as_i64(),
            _ => None,
        };
        let exp_ok = valid(&exp)
            || seconds(&exp).is_some_and(|exp| exp.saturating_add(300) >= NOW);
        let nbf_ok = matches!(nbf, Variant::Valid | Variant::Absent | Variant::WrongType(Value::Null))
            || seconds(&nbf).is_some_and(|nbf| nbf.saturating_sub(300) <= NOW);
        let lifetime_ok = exp_ok && nbf_ok;
        let answer = who_am_i(&token);
        if lifetime_ok && valid(&iss) && valid(&aud) {
            // Authenticated: the application user decides (WhoAmI for the importer, else 403).
            let expected = if valid(&appid) { StatusCode::OK } else { StatusCode::FORBIDDEN };
            prop_assert_eq!(answer.status, expected, "{}", answer.text);
        } else {
            assert_rejected(&answer, &token)?;
        }
    }

    #[test]
    fn any_json_payload_signed_by_the_trusted_key_never_panics(payload in json_value()) {
        let token = signed_raw(
            &rs256_header(),
            &serde_json::to_vec(&payload).expect("json"),
            KEY,
        );
        let answer = who_am_i(&token);
        if payload.is_object() {
            // Without valid exp, iss and aud (an arbitrary object has none), a 401.
            assert_rejected(&answer, &token)?;
        } else {
            assert_rejected(&answer, &token)?;
            let expected =
                format!("IDX12723: Unable to decode the payload '{HIDDEN}' as Base64Url encoded string.");
            prop_assert_eq!(
                answer.headers["401_error_reason"].to_str().ok(),
                Some(expected.as_str())
            );
        }
    }
}

/// Arbitrary JSON, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Claims with `aud`, `iss`, `exp` and `nbf` as the variants say.
fn generated_claims(aud: &Variant, iss: &Variant, exp: &Variant, nbf: &Variant) -> Value {
    let mut claims = json!({"tid": TENANT, "ver": "1.0"});
    set(
        &mut claims,
        "aud",
        aud,
        json!(format!("https://{HOST}")),
        json!("https://fabrikam.crm.dynamics.com"),
    );
    set(
        &mut claims,
        "iss",
        iss,
        json!(format!("https://sts.windows.net/{TENANT}/")),
        json!("https://sts.windows.net/00000000-0000-0000-0000-000000000000/"),
    );
    set(
        &mut claims,
        "exp",
        exp,
        json!(NOW + 3600),
        json!(NOW - 3600),
    );
    set(&mut claims, "nbf", nbf, json!(NOW - 300), json!(NOW + 3600));
    claims
}

fn set(claims: &mut Value, name: &str, variant: &Variant, valid: Value, wrong: Value) {
    let value = match variant {
        Variant::Absent => return,
        Variant::Valid => valid,
        Variant::WrongValue => wrong,
        Variant::WrongType(value) => value.clone(),
    };
    claims[name] = value;
}
