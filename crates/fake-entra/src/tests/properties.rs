//! Property tests of the token endpoint, driven through the handler without a socket: arbitrary
//! form bodies, HTTP Basic headers and client assertions never panic, every refusal is a
//! catalogue error body, and nothing gets a token without the right secret or a valid signature.

use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, Waker};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RSA_PSS_SHA256, RsaEncoding, RsaKeyPair};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rustls_pki_types::PrivateKeyDer;

use super::*;
use crate::catalogue::CATALOGUE;

/// One fake for every case: with the default knobs (no throttling, replays accepted) a token
/// request changes nothing that a later case could observe.
static ENTRA: LazyLock<Arc<Entra>> = LazyLock::new(entra);

const SCOPE: &str = "https://contoso.crm.dynamics.com/.default";
const FORM: &str = "application/x-www-form-urlencoded";

struct Outcome {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// Sends `request` through the router synchronously: handlers are plain functions and a
/// `Full` body is ready on the first poll.
fn call(request: Request<Bytes>) -> Outcome {
    let mut request = request;
    request.extensions_mut().insert(RequestContext {
        host: "login.microsoftonline.com".into(),
        origin: "https://login.microsoftonline.com".into(),
        sequence: 1,
    });
    let response = crate::routes::handle(&ENTRA.snapshot(), request);
    let status = response.status();
    let headers = response.headers().clone();
    let mut body = response.into_body();
    let mut context = Context::from_waker(Waker::noop());
    let body = match Future::poll(Pin::new(&mut body.frame()), &mut context) {
        Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
        _ => Bytes::new(),
    };
    Outcome {
        status,
        headers,
        body,
    }
}

fn token_request(path: &str, authorization: Option<HeaderValue>, body: Vec<u8>) -> Outcome {
    let mut request = Request::post(path)
        .header("content-type", FORM)
        .body(Bytes::from(body))
        .expect("request");
    if let Some(value) = authorization {
        request.headers_mut().insert("authorization", value);
    }
    call(request)
}

/// A refusal is exactly one catalogue row's body: status, `error` and code of one entry, the
/// `AADSTS{code}: ` prefix and the trailer, fields in Entra's order, trace id as header, and a
/// bounded size (client input is echoed at most `MAX_ECHO_CHARS` characters per fact).
fn check_refusal(outcome: &Outcome) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(&outcome.body);
    let status = outcome.status.as_u16();
    prop_assert!(status == 400 || status == 401, "{status}: {text}");
    prop_assert!(outcome.body.len() < 8192, "{} bytes", outcome.body.len());
    let body: Value = serde_json::from_slice(&outcome.body)
        .map_err(|error| TestCaseError::fail(format!("{error}: {text}")))?;
    let object = body
        .as_object()
        .ok_or_else(|| TestCaseError::fail(format!("not an object: {text}")))?;
    let keys: Vec<&str> = object.keys().map(String::as_str).collect();
    prop_assert_eq!(
        keys,
        [
            "error",
            "error_description",
            "error_codes",
            "timestamp",
            "trace_id",
            "correlation_id",
            "error_uri"
        ]
    );
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    let codes = body["error_codes"].as_array().cloned().unwrap_or_default();
    prop_assert_eq!(codes.len(), 1, "{}", text);
    let code = codes[0].as_u64().unwrap_or_default();
    let error = field("error");
    prop_assert!(
        CATALOGUE.iter().any(|entry| u64::from(entry.code) == code
            && entry.error == error
            && entry.status == status),
        "no catalogue row for {status} {error} {code}"
    );
    let description = field("error_description");
    let prefix = format!("AADSTS{code}: ");
    prop_assert!(description.starts_with(&prefix), "{}", description);
    let digits = &description["AADSTS".len()..prefix.len() - 2];
    prop_assert!(digits.bytes().all(|byte| byte.is_ascii_digit()));
    let trailer = format!(
        " Trace ID: {} Correlation ID: {} Timestamp: {}",
        field("trace_id"),
        field("correlation_id"),
        field("timestamp")
    );
    prop_assert!(description.ends_with(&trailer), "{}", description);
    prop_assert_eq!(
        outcome.headers["x-ms-request-id"]
            .to_str()
            .unwrap_or_default(),
        field("trace_id")
    );
    prop_assert_eq!(
        field("error_uri"),
        format!("https://login.microsoftonline.com/error?code={code}")
    );
    Ok(())
}

/// A 200 is the v2 token answer.
fn check_token(outcome: &Outcome) -> Result<(), TestCaseError> {
    let body: Value = serde_json::from_slice(&outcome.body)
        .map_err(|error| TestCaseError::fail(error.to_string()))?;
    prop_assert_eq!(&body["token_type"], "Bearer");
    prop_assert!(
        body["access_token"]
            .as_str()
            .is_some_and(|token| token.starts_with("eyJ"))
    );
    Ok(())
}

fn check(outcome: &Outcome, accepted: bool) -> Result<(), TestCaseError> {
    if accepted {
        prop_assert_eq!(
            outcome.status,
            StatusCode::OK,
            "{}",
            String::from_utf8_lossy(&outcome.body)
        );
        check_token(outcome)
    } else {
        check_refusal(outcome)
    }
}

// ---- form bodies ----

/// Long values: about 60 KB of one character, mostly ASCII (a 60 KB run of multi-byte
/// characters percent-encodes to half a megabyte, which only slows the suite down).
fn huge() -> impl Strategy<Value = String> {
    let character = prop_oneof![
        8 => prop::sample::select(vec!['a', 'Z', '7', '-', '.', '/']),
        1 => any::<char>(),
    ];
    (character, 55_000usize..65_000)
        .prop_map(|(character, bytes)| character.to_string().repeat(bytes / character.len_utf8()))
}

fn form_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "grant_type",
            "client_id",
            "client_secret",
            "scope",
            "resource",
            "client_assertion",
            "client_assertion_type",
        ])
        .prop_map(str::to_owned),
        1 => ".{0,12}",
    ]
}

fn form_value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "client_credentials",
            IMPORTER,
            SECRET,
            SECRET_ID,
            SCOPE,
            DATAVERSE,
            "",
            "password",
        ])
        .prop_map(str::to_owned),
        3 => ".{0,40}",
        1 => huge(),
    ]
}

/// How one pair is written: serialized, every byte percent-encoded (hex in either case), or
/// raw (which may break the pair apart, as a careless client would).
#[derive(Clone, Copy, Debug)]
enum Encoding {
    Serialized,
    PercentAll { upper: bool },
    Raw,
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        Just(Encoding::Serialized),
        any::<bool>().prop_map(|upper| Encoding::PercentAll { upper }),
        Just(Encoding::Raw),
    ]
}

fn percent_all(text: &str, upper: bool) -> String {
    let digits: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut encoded = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        encoded.push('%');
        encoded.push(char::from(digits[usize::from(byte >> 4)]));
        encoded.push(char::from(digits[usize::from(byte & 0xf)]));
    }
    encoded
}

fn encode_pair(key: &str, value: &str, encoding: Encoding) -> String {
    match encoding {
        Encoding::Serialized => form_urlencoded::Serializer::new(String::new())
            .append_pair(key, value)
            .finish(),
        Encoding::PercentAll { upper } => {
            format!("{}={}", percent_all(key, upper), percent_all(value, upper))
        }
        Encoding::Raw => format!("{key}={value}"),
    }
}

fn encode(pairs: &[(String, String, Encoding)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(key, value, encoding)| encode_pair(key, value, *encoding))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

/// The value the fake reads for `key`: the last one, after form decoding.
fn last(body: &[u8], key: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .filter(|(name, _)| name == key)
        .last()
        .map(|(_, value)| value.into_owned())
}

/// Whether `text` names the importer app (any case, any form `Uuid::try_parse` reads).
fn is_importer(text: Option<String>) -> bool {
    text.and_then(|text| Uuid::try_parse(&text).ok()) == Some(uuid(IMPORTER))
}

/// Only the right client id and secret value may get a token from a form with no credential
/// elsewhere.
fn check_form(body: &[u8], outcome: &Outcome) -> Result<(), TestCaseError> {
    if outcome.status == StatusCode::OK {
        prop_assert_eq!(last(body, "client_secret"), Some(SECRET.to_owned()));
        prop_assert!(is_importer(last(body, "client_id")));
        prop_assert_eq!(
            last(body, "grant_type"),
            Some("client_credentials".to_owned())
        );
        check_token(outcome)
    } else {
        check_refusal(outcome)
    }
}

const REQUIRED: [&str; 4] = ["grant_type", "client_id", "client_secret", "scope"];

proptest! {
    #[test]
    fn arbitrary_form_bytes_get_a_token_or_a_catalogue_error(
        body in prop::collection::vec(any::<u8>(), 0..512),
        v1 in any::<bool>(),
    ) {
        let path = if v1 { format!("/{CONTOSO}/oauth2/token") } else { token_path(CONTOSO) };
        let outcome = token_request(&path, None, body.clone());
        check_form(&body, &outcome)?;
    }

    #[test]
    fn arbitrary_forms_get_a_token_only_with_the_right_secret(
        pairs in prop::collection::vec((form_key(), form_value(), encoding()), 0..10),
    ) {
        let body = encode(&pairs);
        let outcome = token_request(&token_path(CONTOSO), None, body.clone());
        check_form(&body, &outcome)?;
    }

    #[test]
    fn a_valid_form_with_extra_and_duplicate_fields_follows_the_last_value(
        extras in prop::collection::vec((form_key(), form_value(), encoding()), 0..6),
        encodings in prop::collection::vec(
            prop_oneof![
                Just(Encoding::Serialized),
                any::<bool>().prop_map(|upper| Encoding::PercentAll { upper }),
            ],
            4,
        ),
        position in 0usize..=6,
    ) {
        let valid = [
            ("grant_type", "client_credentials"),
            ("client_id", IMPORTER),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ];
        let mut pairs: Vec<(String, String, Encoding)> = valid
            .iter()
            .zip(&encodings)
            .map(|((key, value), encoding)| ((*key).to_owned(), (*value).to_owned(), *encoding))
            .collect();
        // Extras go before or after the valid fields; the last value of a key wins.
        let position = position.min(pairs.len());
        let tail = pairs.split_off(position);
        pairs.extend(extras.iter().cloned());
        pairs.extend(tail);
        let body = encode(&pairs);
        let outcome = token_request(&token_path(CONTOSO), None, body.clone());
        check_form(&body, &outcome)?;
        let intact = REQUIRED.iter().zip(valid).all(|(key, (_, value))| {
            last(&body, key).as_deref() == Some(value)
        });
        // Raw extras can swallow a valid field ("a=b&c" is fine, "a=%" too); only an extra
        // that leaves every required field at its valid value must not matter.
        if intact {
            prop_assert_eq!(outcome.status, StatusCode::OK, "{}", String::from_utf8_lossy(&outcome.body));
        }
    }

    #[test]
    fn huge_form_values_are_refused_with_a_bounded_answer(
        key in prop::sample::select(REQUIRED.to_vec()),
        value in huge(),
    ) {
        let pairs: Vec<(String, String, Encoding)> = [
            ("grant_type", "client_credentials"),
            ("client_id", IMPORTER),
            ("client_secret", SECRET),
            ("scope", SCOPE),
        ]
        .iter()
        .map(|(name, valid)| {
            let value = if *name == key { value.clone() } else { (*valid).to_owned() };
            ((*name).to_owned(), value, Encoding::Serialized)
        })
        .collect();
        let outcome = token_request(&token_path(CONTOSO), None, encode(&pairs));
        check_refusal(&outcome)?;
    }
}

/// `Content-Type` values: the form type in random case with or without parameters, near
/// misses, other types, anything.
fn content_types() -> impl Strategy<Value = (String, bool)> {
    let form_in_any_case = (
        prop::collection::vec(any::<bool>(), FORM.len()),
        prop::sample::select(vec!["", ";charset=utf-8", "; charset=UTF-8", " ;q=1", ";"]),
    )
        .prop_map(|(upper, parameters)| {
            let media_type: String = FORM
                .chars()
                .zip(upper)
                .map(|(c, upper)| if upper { c.to_ascii_uppercase() } else { c })
                .collect();
            (format!("{media_type}{parameters}"), true)
        });
    prop_oneof![
        form_in_any_case,
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/x-www-form-urlencodedx",
            "application/x-www-form",
            "x-www-form-urlencoded",
            "",
        ])
        .prop_map(|media_type| (media_type.to_owned(), false)),
        "[ -~]{0,40}".prop_map(|text| {
            let form = text
                .split(';')
                .next()
                .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case(FORM));
            (text, form)
        }),
    ]
}

proptest! {
    #[test]
    fn only_form_bodies_are_read(
        (content_type, form) in content_types(),
        v1 in any::<bool>(),
    ) {
        let (path, last_field) = if v1 {
            (format!("/{CONTOSO}/oauth2/token"), ("resource", DATAVERSE))
        } else {
            (token_path(CONTOSO), ("scope", SCOPE))
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("grant_type", "client_credentials"),
                ("client_id", IMPORTER),
                ("client_secret", SECRET),
                last_field,
            ])
            .finish();
        let mut request = Request::post(path).body(Bytes::from(body)).expect("request");
        if let Ok(value) = HeaderValue::from_str(&content_type) {
            request.headers_mut().insert("content-type", value);
        }
        let outcome = call(request);
        check(&outcome, form)?;
        if !form {
            let body: Value = serde_json::from_slice(&outcome.body).unwrap_or_default();
            prop_assert_eq!(&body["error_codes"], &json!([900144]));
            prop_assert!(
                body["error_description"].as_str().unwrap_or_default().starts_with(
                    "AADSTS900144: The request body must contain the following parameter: 'grant_type'."
                )
            );
        }
    }
}

// ---- HTTP Basic ----

/// `id:secret`, each percent-encoded where `mask` says so (RFC 6749 §2.3.1 form-encodes them).
fn basic_value(scheme: &str, id: &str, secret: &str, mask: &[bool]) -> String {
    let encode = |text: &str| -> String {
        text.bytes()
            .enumerate()
            .map(|(index, byte)| {
                let unreserved = byte.is_ascii_alphanumeric() || b"-._~".contains(&byte);
                if unreserved && !mask.get(index).copied().unwrap_or(false) {
                    (byte as char).to_string()
                } else {
                    format!("%{byte:02X}")
                }
            })
            .collect()
    };
    format!(
        "{scheme} {}",
        STANDARD.encode(format!("{}:{}", encode(id), encode(secret)))
    )
}

/// What a Basic header means under RFC 6749 §2.3.1: the scheme, base64 of `id:secret`, each
/// form-encoded. `None` when it is not Basic or does not decode.
fn basic_meaning(header: &HeaderValue) -> Option<(String, String)> {
    let text = header.to_str().ok()?;
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |text: &str| {
        form_urlencoded::parse(
            format!("v={}", text.replace('&', "%26").replace('=', "%3D")).as_bytes(),
        )
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

fn basic_header() -> impl Strategy<Value = Vec<u8>> {
    let id = prop_oneof![
        Just(IMPORTER.to_owned()),
        Just(IMPORTER.to_uppercase()),
        Just(MULTI.to_owned()),
        ".{0,40}",
    ];
    let secret = prop_oneof![
        Just(SECRET.to_owned()),
        Just(OLD_SECRET.to_owned()),
        Just(SECRET_ID.to_owned()),
        Just(format!("{SECRET} ")),
        ".{0,40}",
    ];
    let scheme = prop::sample::select(vec!["Basic", "basic", "BASIC", "Bearer", "Basic "]);
    prop_oneof![
        (
            scheme,
            id,
            secret,
            prop::collection::vec(any::<bool>(), 0..40)
        )
            .prop_map(
                |(scheme, id, secret, mask)| basic_value(scheme, &id, &secret, &mask).into_bytes()
            ),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|bytes| format!(
            "Basic {}",
            STANDARD.encode(bytes)
        )
        .into_bytes()),
        "[ -~]{0,80}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..80),
    ]
}

proptest! {
    #[test]
    fn basic_authentication_gets_a_token_only_for_the_right_secret(
        header in basic_header(),
        with_client_id in any::<bool>(),
    ) {
        let Ok(value) = HeaderValue::from_bytes(&header) else {
            // Not a header value at all: hyper would refuse it before any handler runs.
            return Ok(());
        };
        let meaning = basic_meaning(&value);
        let mut form = vec![("grant_type", "client_credentials"), ("scope", SCOPE)];
        if with_client_id {
            form.push(("client_id", IMPORTER));
        }
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish()
            .into_bytes();
        let outcome = token_request(&token_path(CONTOSO), Some(value), body);
        // The body's client id, when sent, names the app; the header's id is then unused. The
        // multi-tenant app, at home in Contoso, shares the importer's secret value.
        let id_ok = |id: &str| {
            with_client_id
                || Uuid::try_parse(id).is_ok_and(|id| id == uuid(IMPORTER) || id == uuid(MULTI))
        };
        let accepted = meaning
            .as_ref()
            .is_some_and(|(id, secret)| id_ok(id) && secret == SECRET);
        check(&outcome, accepted)?;
    }

    #[test]
    fn a_form_encoded_basic_header_for_the_importer_always_works(
        scheme in prop::sample::select(vec!["Basic", "basic", "BASIC", "bAsIc"]),
        mask in prop::collection::vec(any::<bool>(), 0..40),
        upper in any::<bool>(),
    ) {
        let id = if upper { IMPORTER.to_uppercase() } else { IMPORTER.to_owned() };
        let value = HeaderValue::from_str(&basic_value(scheme, &id, SECRET, &mask))
            .expect("ASCII header");
        let body = b"grant_type=client_credentials&scope=https%3A%2F%2Fcontoso.crm.dynamics.com%2F.default".to_vec();
        check(&token_request(&token_path(CONTOSO), Some(value), body), true)?;
    }
}

// ---- client assertions ----

static KEY_PAIR: LazyLock<RsaKeyPair> = LazyLock::new(|| {
    let PrivateKeyDer::Pkcs8(der) =
        PrivateKeyDer::from_pem_slice(CLIENT_KEY.as_bytes()).expect("committed test key")
    else {
        panic!("the committed client key is PKCS#8");
    };
    RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).expect("RSA key")
});

static VALID: LazyLock<String> =
    LazyLock::new(|| signed(claims(&endpoint(), json!(NOW + 600), None)));

/// Signs `header.claims` (both as given, not re-serialized) with the client key.
fn sign_raw(header: &Value, claims: &Value, encoding: &'static dyn RsaEncoding) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; KEY_PAIR.public_modulus_len()];
    KEY_PAIR
        .sign(
            encoding,
            &SystemRandom::new(),
            input.as_bytes(),
            &mut signature,
        )
        .expect("signs");
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn assertion_request(jwt: &str) -> Outcome {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(assertion_form(jwt))
        .finish()
        .into_bytes();
    token_request(&token_path(CONTOSO), None, body)
}

/// A generated part of an assertion and whether ESTS (as this fake models it) accepts it.
#[derive(Clone, Debug)]
struct Part {
    value: Option<Value>,
    ok: bool,
}

fn part(value: Value, ok: bool) -> Part {
    Part {
        value: Some(value),
        ok,
    }
}

fn absent(ok: bool) -> Part {
    Part { value: None, ok }
}

fn thumbprints() -> impl Strategy<Value = (Option<Value>, Option<Value>, bool)> {
    let cert = der(CLIENT_CERT);
    let sha256 = sha256_thumbprint(&cert);
    let sha1 = sha1_thumbprint(&cert);
    let other = sha1_thumbprint(&der(OTHER_CERT));
    prop_oneof![
        Just((Some(json!(sha256)), None, true)),
        Just((Some(json!(format!("{sha256}="))), None, true)),
        Just((None, Some(json!(sha1)), true)),
        Just((Some(json!(sha256)), Some(json!(other)), true)),
        // `x5t#S256` wins when it is a string, even a wrong one.
        Just((Some(json!(other)), Some(json!(sha1)), false)),
        Just((Some(json!(42)), Some(json!(sha1)), true)),
        Just((None, None, false)),
        Just((Some(Value::Null), None, false)),
        ".{0,60}".prop_map(|text| (Some(json!(text)), None, false)),
    ]
}

fn audiences() -> impl Strategy<Value = Part> {
    prop_oneof![
        Just(part(json!(endpoint()), true)),
        Just(part(json!(endpoint().to_uppercase()), true)),
        Just(part(
            json!("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"),
            true
        )),
        Just(part(
            json!(format!("https://sts.windows.net/{CONTOSO}/")),
            false
        )),
        Just(part(
            json!(format!(
                "https://login.microsoftonline.com/{CONTOSO}/oauth2/token"
            )),
            false
        )),
        Just(part(json!([endpoint()]), false)),
        Just(absent(false)),
        ".{0,60}".prop_map(|text| part(json!(text), false)),
        huge().prop_map(|text| part(json!(text), false)),
    ]
}

fn client_ids() -> impl Strategy<Value = Part> {
    prop_oneof![
        4 => Just(part(json!(IMPORTER), true)),
        1 => Just(part(json!(IMPORTER.to_uppercase()), true)),
        1 => Just(part(json!(MULTI), false)),
        1 => Just(absent(false)),
        1 => ".{0,40}".prop_map(|text| part(json!(text), false)),
    ]
}

/// `exp` in every shape: integers, floats and numeric strings around now, the past, huge and
/// non-finite numbers, garbage.
fn expiries() -> impl Strategy<Value = Part> {
    prop_oneof![
        (0i64..3600).prop_map(|ahead| part(json!(NOW + ahead), true)),
        (0i64..3600).prop_map(|ahead| part(json!(NOW as f64 + ahead as f64 + 0.5), true)),
        (0i64..3600).prop_map(|ahead| part(json!(format!(" {} ", NOW + ahead)), true)),
        // Within the five minutes of skew an expired assertion still passes.
        (0i64..300).prop_map(|ago| part(json!(NOW - ago), true)),
        (301i64..100_000).prop_map(|ago| part(json!(NOW - ago), false)),
        Just(part(json!(u64::MAX), false)),
        Just(part(json!(i64::MAX), false)),
        Just(part(json!(i64::MIN), false)),
        Just(part(json!(1e300), false)),
        Just(part(json!("NaN"), false)),
        Just(part(json!("inf"), false)),
        Just(part(json!("soon"), false)),
        Just(part(Value::Null, false)),
        Just(part(json!([NOW + 600]), false)),
        Just(absent(false)),
    ]
}

fn not_befores() -> impl Strategy<Value = Part> {
    prop_oneof![
        2 => Just(absent(true)),
        1 => Just(part(Value::Null, true)),
        1 => (0i64..300).prop_map(|ahead| part(json!(NOW + ahead), true)),
        1 => (301i64..100_000).prop_map(|ahead| part(json!(NOW + ahead), false)),
        1 => Just(part(json!(NOW.to_string()), true)),
        1 => Just(part(json!(1e300), false)),
        1 => Just(part(json!("yesterday"), false)),
    ]
}

/// The header's `alg`, the algorithm that really signs, and whether the pair verifies.
fn algorithms() -> impl Strategy<Value = (Option<Value>, &'static dyn RsaEncoding, bool)> {
    prop_oneof![
        3 => Just((Some(json!("PS256")), &RSA_PSS_SHA256 as &'static dyn RsaEncoding, true)),
        3 => Just((Some(json!("RS256")), &RSA_PKCS1_SHA256 as &'static dyn RsaEncoding, true)),
        1 => Just((Some(json!("PS256")), &RSA_PKCS1_SHA256 as &'static dyn RsaEncoding, false)),
        1 => Just((Some(json!("RS256")), &RSA_PSS_SHA256 as &'static dyn RsaEncoding, false)),
        1 => Just((Some(json!("none")), &RSA_PKCS1_SHA256 as &'static dyn RsaEncoding, false)),
        1 => Just((Some(json!("HS256")), &RSA_PKCS1_SHA256 as &'static dyn RsaEncoding, false)),
        1 => Just((None, &RSA_PKCS1_SHA256 as &'static dyn RsaEncoding, false)),
        1 => Just((Some(json!(256)), &RSA_PKCS1_SHA256 as &'static dyn RsaEncoding, false)),
    ]
}

fn with(object: &mut serde_json::Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value);
    }
}

/// The base64url alphabet, the separator and padding: what a mutation writes.
const JWT_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=";

proptest! {
    #[test]
    fn arbitrary_assertion_strings_are_refused(
        jwt in prop_oneof![".{0,200}", "[A-Za-z0-9_=.-]{0,400}", huge()],
    ) {
        check_refusal(&assertion_request(&jwt))?;
    }

    #[test]
    fn mutated_valid_assertions_are_refused(
        position in any::<prop::sample::Index>(),
        replacement in prop::sample::select(JWT_CHARS.to_vec()),
        truncate in any::<bool>(),
    ) {
        let valid = VALID.as_str();
        let at = position.index(valid.len());
        let mutated = if truncate {
            valid[..at].to_owned()
        } else {
            let mut bytes = valid.as_bytes().to_vec();
            bytes[at] = replacement;
            String::from_utf8(bytes).expect("ASCII")
        };
        prop_assume!(mutated != valid);
        check_refusal(&assertion_request(&mutated))?;
    }

    #[test]
    fn signed_assertions_get_a_token_exactly_when_every_claim_is_valid(
        (alg, encoding, alg_ok) in algorithms(),
        (x5t_s256, x5t, thumbprint_ok) in thumbprints(),
        typ in prop::option::of(prop_oneof![Just(json!("JWT")), Just(json!(1))]),
        aud in audiences(),
        iss in client_ids(),
        sub in client_ids(),
        exp in expiries(),
        nbf in not_befores(),
        jti in prop::option::of(prop_oneof![".{0,40}".prop_map(|text| json!(text)), Just(json!(7))]),
        extra in prop::option::of((".{1,12}", any::<f64>())),
    ) {
        let mut header = serde_json::Map::new();
        with(&mut header, "alg", alg);
        with(&mut header, "typ", typ);
        with(&mut header, "x5t#S256", x5t_s256);
        with(&mut header, "x5t", x5t);
        let mut claims = serde_json::Map::new();
        with(&mut claims, "aud", aud.value);
        with(&mut claims, "iss", iss.value);
        with(&mut claims, "sub", sub.value);
        with(&mut claims, "exp", exp.value);
        with(&mut claims, "nbf", nbf.value);
        with(&mut claims, "jti", jti);
        if let Some((key, number)) = extra {
            // Only keys the checks ignore: an extra `exp` could make an absent one valid.
            if !["aud", "iss", "sub", "exp", "nbf", "jti"].contains(&key.as_str()) {
                claims.insert(key, json!(number));
            }
        }
        let jwt = sign_raw(&Value::Object(header), &Value::Object(claims), encoding);
        let accepted = alg_ok && thumbprint_ok && aud.ok && iss.ok && sub.ok && exp.ok && nbf.ok;
        check(&assertion_request(&jwt), accepted)?;
    }
}
