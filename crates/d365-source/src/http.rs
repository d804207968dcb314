//! One request of the check, with the retry budget ([`RetryPolicy`]) and the translation of
//! transport failures into [`Problem`]s. Responses other than 429 and 5xx come back as
//! [`Answer`]s for the caller to judge; everything that leaves here has been scrubbed of the
//! secret and the token.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::network::HostNotFound;
use crate::problem::{Evidence, GaveUp, Problem, Step, TlsCause};
use crate::timer::Timer;

/// When and how long the flow waits before sending a failing request again.
///
/// What is retried follows the Azure SDKs: azure-core for Python
/// (`sdk/core/azure-core/azure/core/pipeline/policies/_retry.py`, `RetryPolicyBase`) retries
/// 429, 500, 502, 503 and 504 (its `_SAFE_CODES` complement; 408 is not an answer Entra or
/// Dataverse give the check), lets POST retry on 500/503/504 and retries connection and read
/// errors (`ServiceRequestError`, `ServiceResponseError`). Every request of the check is
/// idempotent — GETs, and the client-credentials token POST, which creates nothing
/// (azure-identity sends it through the same retry policy; MSAL.NET retries token requests
/// once on 5xx, per `includes/active-directory-develop-error-handling-retries.md` in
/// MicrosoftDocs/azure-docs) — so the
/// check retries all of them alike. Retried: those statuses, and a connection dropped after it
/// was made (reset or closed mid-request, an HTTP/2 stream reset, a body cut short). Not
/// retried: a connection that could not be made (DNS, refused, TLS: a retry a second later
/// meets the same wall) and a timeout (it already cost the whole request timeout).
///
/// How long: a `Retry-After` header, when present, is the wait (Python's `RetryPolicy.sleep`
/// sleeps for it and skips the backoff); otherwise exponential backoff with jitter as
/// Azure.Core for .NET computes it (`sdk/core/Azure.Core/src/ExponentialDelayStrategy.cs`:
/// `delay × 2^retryNumber × a random factor in [0.8, 1.2)`, at most `max_delay`; defaults 0.8 s
/// and 1 minute, 3 retries, the defaults of .NET's `RetryOptions`). This flow counts its first
/// retry as 0, so its first backoff is 0.8 s ± 20 % (Python waits nothing before its first
/// retry; a dropped connection retried in the same instant tends to meet the same fault).
/// Python's `backoff_factor` is the same 0.8 s; its `BACKOFF_MAX` is 120 s, more than this
/// check's whole budget. On top of the
/// SDKs, one budget bounds the waiting of a whole check ([`RetryPolicy::max_wait`]): a wait
/// beyond what is left ends the check at once, and the problem says so (UNCONFIRMED: a design
/// choice of this flow, so that pressing Add Source never hangs for minutes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries per request at most.
    pub max_retries: u32,
    /// Total waiting per check at most; a wait beyond what is left ends the check.
    pub max_wait: Duration,
    /// The first backoff (before jitter) when the service gives no `Retry-After`; it doubles
    /// with each retry.
    pub backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// Where the backoff's random factor comes from.
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            max_wait: Duration::from_secs(60),
            backoff: Duration::from_millis(800),
            max_backoff: Duration::from_secs(60),
            jitter: Jitter::Random,
        }
    }
}

/// The source of the backoff's random factor (in `[0.8, 1.2)`): jitter spreads the retries of
/// many clients that failed at the same moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// A new random seed for every check (the default).
    Random,
    /// A fixed seed: the same failures give the same waits (tests and scenario replays).
    Seeded(u64),
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (0 for the first) with the jitter `factor`:
    /// `backoff × 2^retry × factor`, at most `max_backoff`.
    fn backoff(&self, retry: u32, factor: f64) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(2u32.saturating_pow(retry.min(31)));
        doubled.mul_f64(factor).min(self.max_backoff)
    }
}

/// SplitMix64 (the generator fake-core's ids use, written again here: this crate depends on no
/// fake), giving jitter factors in `[0.8, 1.2)`.
#[derive(Debug, Clone)]
pub(crate) struct JitterSource {
    state: u64,
}

impl JitterSource {
    pub fn new(jitter: Jitter) -> JitterSource {
        let state = match jitter {
            Jitter::Seeded(seed) => seed,
            // `RandomState` is seeded from the operating system's randomness: enough for
            // spreading retries, without a dependency on `rand`.
            Jitter::Random => {
                use std::hash::{BuildHasher, Hasher};
                std::collections::hash_map::RandomState::new()
                    .build_hasher()
                    .finish()
            }
        };
        JitterSource { state }
    }

    pub fn factor(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits as a fraction in [0, 1).
        let unit = (z >> 11) as f64 / (1u64 << 53) as f64;
        0.8 + 0.4 * unit
    }
}

/// A response the caller judges.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// Replaces every known secret (client secret, access token) in text shown to anyone.
#[derive(Clone, Default)]
pub(crate) struct Scrubber {
    secrets: Vec<String>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

impl Scrubber {
    pub fn add(&mut self, secret: &str) {
        // Very short "secrets" would blank out ordinary words; the form requires a secret, and
        // real ones are 40 characters.
        if secret.len() >= 4 {
            self.secrets.push(secret.to_owned());
        }
    }

    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "[redacted]");
            }
        }
        text
    }
}

/// The HTTP side of one check: client, timer, budget and scrubber.
#[derive(Debug)]
pub(crate) struct Session {
    pub client: reqwest::Client,
    pub timer: Arc<dyn Timer>,
    pub retry: RetryPolicy,
    pub jitter: JitterSource,
    pub scrubber: Scrubber,
    /// Waiting left in this check.
    pub wait_left: Duration,
    /// The environment host, to tell "environment not found" from other lookup failures.
    pub environment_host: String,
}

impl Session {
    /// Sends the request `build` makes (again after each wait) until it gets an answer that is
    /// not 429 or 5xx, or the connection is not dropped, or the retries or the budget run out.
    pub async fn send(
        &mut self,
        step: Step,
        method: &str,
        url: &str,
        build: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Answer, Problem> {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|url| url.host_str().map(str::to_owned))
            .unwrap_or_default();
        let request = format!("{method} {url}");
        let mut retries = 0;
        let mut waited = Duration::ZERO;
        loop {
            let attempt = match build(&self.client).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    response.text().await.map(|body| Answer {
                        status,
                        headers,
                        body,
                    })
                }
                Err(error) => Err(error),
            };
            let failure = match attempt {
                Ok(answer) => {
                    tracing::debug!(%request, status = answer.status, bytes = answer.body.len(), "answer");
                    if !matches!(answer.status, 429 | 500 | 502 | 503 | 504) {
                        return Ok(answer);
                    }
                    Failure::Status(answer)
                }
                Err(error) if self.is_dropped(&error) => Failure::Dropped(error),
                Err(error) => {
                    let evidence = Evidence::new(step, &request).attempts(retries, waited);
                    return Err(self.transport_problem(&host, evidence, &error));
                }
            };
            let retry_after = match &failure {
                Failure::Status(answer) => retry_after(&answer.headers),
                Failure::Dropped(_) => None,
            };
            // The service's Retry-After first; the flow's own backoff only without one.
            let wait = match retry_after {
                Some(seconds) => Duration::from_secs(seconds),
                None => self.retry.backoff(retries, self.jitter.factor()),
            };
            let gave_up = if retries >= self.retry.max_retries {
                GaveUp::RetriesUsed
            } else if wait > self.wait_left {
                GaveUp::WaitBeyondBudget {
                    next_wait: wait,
                    wait_left: self.wait_left,
                    max_wait: self.retry.max_wait,
                }
            } else {
                retries += 1;
                waited += wait;
                self.wait_left -= wait;
                tracing::info!(%request, wait_ms = wait.as_millis() as u64, "waiting before retrying");
                self.timer.sleep(wait).await;
                continue;
            };
            let evidence = Evidence::new(step, &request)
                .retry_after(retry_after)
                .attempts(retries, waited);
            return Err(match failure {
                Failure::Status(answer) => {
                    let evidence = evidence.status(answer.status);
                    let evidence = match error_code(&answer) {
                        Some((code, message)) => {
                            evidence.code(code).detail(self.scrubber.scrub(&message))
                        }
                        None => evidence.detail(self.scrubber.scrub(&answer.body)),
                    };
                    if answer.status == 429 {
                        Problem::throttled(&host, evidence, gave_up)
                    } else {
                        Problem::service_unavailable(&host, evidence, gave_up)
                    }
                }
                Failure::Dropped(error) => Problem::connection_dropped(
                    &host,
                    evidence.detail(self.scrubber.scrub(&chain(&error))),
                    gave_up,
                ),
            });
        }
    }

    /// Whether `error` is a connection dropped after it was made: the request was on its way
    /// (reqwest's `is_request`, or the body was being read) and the failure is none of those
    /// that come before a connection exists (reqwest's `is_connect`: name lookup, TCP connect,
    /// TLS handshake, proxy tunnel) nor a timeout.
    fn is_dropped(&self, error: &reqwest::Error) -> bool {
        !error.is_timeout()
            && !error.is_connect()
            && find::<HostNotFound>(error).is_none()
            && find::<rustls::Error>(error).is_none()
            && (error.is_request() || error.is_body() || error.is_decode())
    }

    fn transport_problem(&self, host: &str, evidence: Evidence, error: &reqwest::Error) -> Problem {
        let evidence = evidence.detail(self.scrubber.scrub(&chain(error)));
        if error.is_timeout() {
            return Problem::timeout(host, evidence);
        }
        if let Some(not_found) = find::<HostNotFound>(error) {
            if not_found.host.eq_ignore_ascii_case(&self.environment_host) {
                return Problem::environment_not_found(host, evidence);
            }
            return Problem::connection_failed(host, evidence);
        }
        if let Some(tls) = find::<rustls::Error>(error) {
            return Problem::tls_failure(host, evidence, tls_cause(tls));
        }
        if error.is_connect() {
            return Problem::connection_failed(host, evidence);
        }
        Problem::unexpected_response(host, evidence)
    }
}

/// What a TLS error says about the certificate: only an invalid certificate is a certificate
/// problem; an alert or a protocol mismatch is not.
fn tls_cause(error: &rustls::Error) -> TlsCause {
    use rustls::CertificateError as Certificate;
    match error {
        rustls::Error::InvalidCertificate(
            Certificate::Expired
            | Certificate::ExpiredContext { .. }
            | Certificate::NotValidYet
            | Certificate::NotValidYetContext { .. },
        ) => TlsCause::Expired,
        rustls::Error::InvalidCertificate(
            Certificate::NotValidForName | Certificate::NotValidForNameContext { .. },
        ) => TlsCause::WrongName,
        rustls::Error::InvalidCertificate(_) => TlsCause::Untrusted,
        _ => TlsCause::Handshake,
    }
}

/// Why a try failed in a way worth another try.
enum Failure {
    /// A 429 or 5xx answer.
    Status(Answer),
    /// The connection was dropped after it was made.
    Dropped(reqwest::Error),
}

/// `Retry-After` in whole seconds (Entra and Dataverse send seconds; an HTTP date is not used
/// by either and counts as absent).
fn retry_after(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
        .map(|seconds| seconds.ceil() as u64)
}

/// The error code and message of an Entra (`error_codes`, `error_description`) or Dataverse
/// (`error.code`, `error.message`) error body.
pub(crate) fn error_code(answer: &Answer) -> Option<(String, String)> {
    let body = answer.json()?;
    if let Some(error) = body.get("error").and_then(|error| error.as_object()) {
        let code = error.get("code")?.as_str()?.to_owned();
        let message = error
            .get("message")
            .and_then(|message| message.as_str())
            .unwrap_or_default()
            .to_owned();
        return Some((code, message));
    }
    let description = body
        .get("error_description")
        .and_then(|description| description.as_str())
        .unwrap_or_default();
    let number = body
        .get("error_codes")
        .and_then(|codes| codes.get(0))
        .and_then(|code| code.as_u64())
        .map(|code| code.to_string())
        .or_else(|| {
            let rest = description.strip_prefix("AADSTS")?;
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!digits.is_empty()).then_some(digits)
        })?;
    // The trailer (Trace ID, Correlation ID, Timestamp) identifies one request; the evidence
    // keeps the sentence.
    let sentence = description
        .split(" Trace ID:")
        .next()
        .unwrap_or(description)
        .split("\r\nTrace ID:")
        .next()
        .unwrap_or(description)
        .trim();
    Some((format!("AADSTS{number}"), sentence.to_owned()))
}

/// The error and its causes, `: `-separated (io errors' inner errors included).
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = next_cause(error);
    while let Some(current) = cause {
        let line = current.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        cause = next_cause(current);
    }
    text
}

/// The cause of `error`. An `io::Error` wrapping another error reports that error's source as
/// its own, skipping the wrapped error; this returns the wrapped error itself.
fn next_cause<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    if let Some(inner) = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        return Some(inner as &(dyn StdError + 'static));
    }
    error.source()
}

/// The first error of type `E` in the cause chain.
fn find<'a, E: StdError + 'static>(error: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(error) = current {
        if let Some(found) = error.downcast_ref::<E>() {
            return Some(found);
        }
        current = next_cause(error);
    }
    None
}

#[cfg(test)]
mod tests;
