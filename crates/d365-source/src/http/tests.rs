use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};

use std::time::Duration;

use super::{
    Answer, Jitter, JitterSource, RetryPolicy, Scrubber, TlsCause, error_code, retry_after,
    tls_cause,
};

fn answer(body: &str) -> Answer {
    Answer {
        status: 400,
        headers: HeaderMap::new(),
        body: body.to_owned(),
    }
}

#[track_caller]
fn check_code(body: &str, expected: Option<(&str, &str)>) {
    let found = error_code(&answer(body));
    assert_eq!(
        found
            .as_ref()
            .map(|(code, message)| (code.as_str(), message.as_str())),
        expected
    );
}

#[test]
fn reads_entra_and_dataverse_error_codes() {
    check_code(
        r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided. Trace ID: 1 Correlation ID: 2 Timestamp: 2026-03-01 12:00:00Z","error_codes":[7000215]}"#,
        Some((
            "AADSTS7000215",
            "AADSTS7000215: Invalid client secret provided.",
        )),
    );
    // The pre-2023 layout separates the trailer with CRLF.
    check_code(
        "{\"error\":\"invalid_request\",\"error_description\":\"AADSTS90002: Tenant 'x' not found.\\r\\nTrace ID: 1\\r\\nCorrelation ID: 2\"}",
        Some(("AADSTS90002", "AADSTS90002: Tenant 'x' not found.")),
    );
    check_code(
        r#"{"error":{"code":"0x80072560","message":"The user is not a member of the organization."}}"#,
        Some((
            "0x80072560",
            "The user is not a member of the organization.",
        )),
    );
    check_code(r#"{"error":"invalid_request"}"#, None);
    check_code("<html>Object moved</html>", None);
    check_code("", None);
}

#[track_caller]
fn check_retry_after(value: Option<&str>, expected: Option<u64>) {
    let mut headers = HeaderMap::new();
    if let Some(value) = value {
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    assert_eq!(retry_after(&headers), expected);
}

#[test]
fn reads_retry_after_seconds() {
    check_retry_after(Some("30"), Some(30));
    check_retry_after(Some(" 5 "), Some(5));
    check_retry_after(Some("0.2"), Some(1));
    check_retry_after(Some("-1"), None);
    check_retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT"), None);
    check_retry_after(None, None);
}

#[test]
fn scrubs_every_secret_it_knows() {
    let mut scrubber = Scrubber::default();
    scrubber.add("Qm28Q~secret");
    scrubber.add("eyJ0eXAi.token");
    scrubber.add("abc");
    assert_eq!(
        scrubber.scrub("sent Qm28Q~secret and eyJ0eXAi.token, abc stays"),
        "sent [redacted] and [redacted], abc stays"
    );
    assert_eq!(format!("{scrubber:?}"), "Scrubber(2 secrets)");
}

#[test]
fn backoff_doubles_with_jitter_and_stops_at_the_maximum() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.backoff(0, 1.0), Duration::from_millis(800));
    assert_eq!(policy.backoff(1, 1.0), Duration::from_millis(1600));
    assert_eq!(policy.backoff(2, 0.8), Duration::from_millis(2560));
    assert_eq!(policy.backoff(3, 1.2), Duration::from_millis(7680));
    assert_eq!(policy.backoff(7, 1.0), Duration::from_secs(60));
    assert_eq!(policy.backoff(40, 1.2), Duration::from_secs(60));
}

#[test]
fn seeded_jitter_repeats_and_stays_in_range() {
    let factors = |seed| {
        let mut source = JitterSource::new(Jitter::Seeded(seed));
        (0..1000).map(|_| source.factor()).collect::<Vec<f64>>()
    };
    let first = factors(7);
    assert_eq!(first, factors(7), "the same seed gives the same factors");
    assert_ne!(first, factors(8), "another seed gives other factors");
    assert!(first.iter().all(|factor| (0.8..1.2).contains(factor)));
    // Spread over the range, not stuck at one end.
    assert!(first.iter().any(|factor| *factor < 0.85));
    assert!(first.iter().any(|factor| *factor > 1.15));
}

#[test]
fn only_an_invalid_certificate_is_called_a_certificate_problem() {
    use rustls::{AlertDescription, CertificateError, Error};
    let check =
        |error: Error, expected: TlsCause| assert_eq!(tls_cause(&error), expected, "{error:?}");
    check(
        Error::InvalidCertificate(CertificateError::UnknownIssuer),
        TlsCause::Untrusted,
    );
    check(
        Error::InvalidCertificate(CertificateError::BadSignature),
        TlsCause::Untrusted,
    );
    check(
        Error::InvalidCertificate(CertificateError::Expired),
        TlsCause::Expired,
    );
    check(
        Error::InvalidCertificate(CertificateError::NotValidYet),
        TlsCause::Expired,
    );
    check(
        Error::InvalidCertificate(CertificateError::NotValidForName),
        TlsCause::WrongName,
    );
    check(
        Error::AlertReceived(AlertDescription::HandshakeFailure),
        TlsCause::Handshake,
    );
}
