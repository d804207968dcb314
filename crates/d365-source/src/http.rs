//! One request of the check, with the retry budget and the translation of transport failures
//! into [`Problem`]s. Responses other than 429 and 5xx come back as [`Answer`]s for the caller
//! to judge; everything that leaves here has been scrubbed of the secret and the token.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::network::HostNotFound;
use crate::problem::{Evidence, Problem, Step};
use crate::timer::Timer;

/// How long the flow waits out 429 and 503 answers before giving up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries per request at most.
    pub max_retries: u32,
    /// Total waiting per check at most; a `Retry-After` beyond what is left ends the check.
    pub max_wait: Duration,
    /// The wait when a 429 or 503 carries no `Retry-After`.
    pub default_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_retries: 3,
            max_wait: Duration::from_secs(60),
            default_wait: Duration::from_secs(5),
        }
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
    pub scrubber: Scrubber,
    /// Waiting left in this check.
    pub wait_left: Duration,
    /// The environment host, to tell "environment not found" from other lookup failures.
    pub environment_host: String,
}

impl Session {
    /// Sends the request `build` makes (again after each wait) until it gets an answer that is
    /// not 429 or 5xx, or the budget runs out.
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
        loop {
            let answer = match build(&self.client).send().await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers = response.headers().clone();
                    let body = response.text().await.map_err(|error| {
                        self.transport_problem(&host, Evidence::new(step, &request), &error)
                    })?;
                    Answer {
                        status,
                        headers,
                        body,
                    }
                }
                Err(error) => {
                    return Err(self.transport_problem(
                        &host,
                        Evidence::new(step, &request),
                        &error,
                    ));
                }
            };
            tracing::debug!(%request, status = answer.status, bytes = answer.body.len(), "answer");
            let retryable = answer.status == 429 || matches!(answer.status, 500 | 502 | 503 | 504);
            if !retryable {
                return Ok(answer);
            }
            let retry_after = retry_after(&answer.headers);
            let wait = retry_after
                .map(Duration::from_secs)
                .unwrap_or(self.retry.default_wait);
            if retries < self.retry.max_retries && wait <= self.wait_left {
                retries += 1;
                self.wait_left -= wait;
                tracing::info!(%request, status = answer.status, wait_seconds = wait.as_secs(), "waiting before retrying");
                self.timer.sleep(wait).await;
                continue;
            }
            let evidence = Evidence::new(step, &request)
                .status(answer.status)
                .retry_after(retry_after);
            let evidence = match error_code(&answer) {
                Some((code, message)) => evidence.code(code).detail(self.scrubber.scrub(&message)),
                None => evidence.detail(self.scrubber.scrub(&answer.body)),
            };
            return Err(if answer.status == 429 {
                Problem::throttled(&host, evidence)
            } else {
                Problem::service_unavailable(&host, evidence)
            });
        }
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
        if find::<rustls::Error>(error).is_some() {
            return Problem::tls_failure(host, evidence);
        }
        if error.is_connect() || error.is_request() || error.is_body() {
            return Problem::connection_failed(host, evidence);
        }
        Problem::unexpected_response(host, evidence)
    }
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
