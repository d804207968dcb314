//! Building answers the way ESTS does: the token-endpoint header set, the discovery header set,
//! the AADSTS error body with its trailer, and the plain-text 429.

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::catalogue::{AadError, ErrorBody};
use crate::state::State;

/// Per-request facts every answer needs: ids, the time, and where the client called us.
pub(crate) struct Exchange {
    pub(crate) trace_id: String,
    pub(crate) correlation_id: String,
    pub(crate) now: OffsetDateTime,
    pub(crate) origin: String,
}

impl Exchange {
    pub(crate) fn new(state: &State, request: &Request<Bytes>) -> Exchange {
        let origin = request
            .extensions()
            .get::<fake_core::RequestContext>()
            .map(|context| context.origin.clone())
            .unwrap_or_else(|| format!("https://{}", state.config.cloud.authority_host()));
        // MSAL sends `client-request-id` as a header; msal-node also appends it to the query.
        let from_header = request
            .headers()
            .get("client-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let from_query = || {
            let query = request.uri().query()?;
            form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "client-request-id")
                .map(|(_, value)| value.into_owned())
        };
        let correlation_id = from_header
            .or_else(from_query)
            .filter(|id| !id.is_empty() && id.len() <= 64)
            .unwrap_or_else(|| state.config.ids.next_uuid().to_string());
        Exchange {
            trace_id: state.config.ids.next_uuid().to_string(),
            correlation_id,
            now: state.config.clock.now(),
            origin,
        }
    }

    /// `yyyy-MM-dd HH:mm:ssZ`, as in `timestamp` and the trailer.
    pub(crate) fn timestamp(&self) -> String {
        self.now
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default()
    }
}

/// Headers on every token-endpoint answer, success or error (reference/entra.md §1.2).
pub(crate) fn token_headers(response: &mut Response<Full<Bytes>>, exchange: &Exchange) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache"),
    );
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    headers.insert(header::EXPIRES, HeaderValue::from_static("-1"));
    common_headers(response, exchange);
}

/// Headers on discovery documents and keys (reference/entra.md §4.1).
pub(crate) fn discovery_headers(response: &mut Response<Full<Bytes>>, exchange: &Exchange) {
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=86400, private"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    common_headers(response, exchange);
}

fn common_headers(response: &mut Response<Full<Bytes>>, exchange: &Exchange) {
    let headers = response.headers_mut();
    headers.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000; includeSubDomains"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        "p3p",
        HeaderValue::from_static("CP=\"DSP CUR OTPi IND OTRi ONL FIN\""),
    );
    if let Ok(trace_id) = HeaderValue::from_str(&exchange.trace_id) {
        headers.insert("x-ms-request-id", trace_id);
    }
    headers.insert(
        "x-ms-ests-server",
        HeaderValue::from_static("2.1.0 - d365-harness fake"),
    );
}

/// A JSON answer with the token-endpoint headers.
pub(crate) fn token_json(
    status: StatusCode,
    body: Vec<u8>,
    exchange: &Exchange,
) -> Response<Full<Bytes>> {
    let mut response = fake_core::json_response(status, body);
    token_headers(&mut response, exchange);
    response
}

/// A JSON document with the discovery headers.
pub(crate) fn discovery_json(
    status: StatusCode,
    body: Vec<u8>,
    exchange: &Exchange,
) -> Response<Full<Bytes>> {
    let mut response = fake_core::json_response(status, body);
    discovery_headers(&mut response, exchange);
    response
}

/// The AADSTS error body (reference/entra.md §5), with `trace_id` = `x-ms-request-id`.
pub(crate) fn aad_error(
    state: &State,
    exchange: &Exchange,
    error: &AadError,
    discovery: bool,
) -> Response<Full<Bytes>> {
    let separator = state.config.trailer_separator.as_str();
    let timestamp = exchange.timestamp();
    let body = ErrorBody {
        error: error.entry.error,
        error_description: format!(
            "AADSTS{}: {}{separator}Trace ID: {}{separator}Correlation ID: {}{separator}Timestamp: {timestamp}",
            error.entry.code, error.message, exchange.trace_id, exchange.correlation_id
        ),
        error_codes: [error.entry.code],
        timestamp: &timestamp,
        trace_id: &exchange.trace_id,
        correlation_id: &exchange.correlation_id,
        error_uri: format!("{}/error?code={}", exchange.origin, error.entry.code),
    };
    let status = StatusCode::from_u16(error.entry.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::to_vec(&body).unwrap_or_default();
    if discovery {
        discovery_json(status, body, exchange)
    } else {
        token_json(status, body, exchange)
    }
}

/// ESTS throttling: 429, `Retry-After` in whole seconds, a plain-text body (as recorded by the
/// MSAL.NET team; a JSON variant is UNCONFIRMED).
pub(crate) fn throttled(exchange: &Exchange, retry_after_seconds: i64) -> Response<Full<Bytes>> {
    let mut response = fake_core::text_response(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
    token_headers(&mut response, exchange);
    if let Ok(value) = HeaderValue::from_str(&retry_after_seconds.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}
