//! Building answers the way Dataverse does: the OData error envelope (with the
//! `Microsoft.PowerApps.CDS` annotations only when `Prefer` asks for them), the standard headers
//! (`OData-Version`, `REQ_ID`, `x-ms-service-request-id`), and the empty-bodied 401 challenge.

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use crate::errors::ErrorCode;

/// Per-request facts every answer needs.
#[derive(Clone, Debug)]
pub(crate) struct Exchange {
    /// `REQ_ID` and `x-ms-service-request-id`.
    pub(crate) request_id: String,
    /// `https://{host}/api/data/v9.2`: the base the client used, for `@odata.context` and links.
    pub(crate) base: String,
    /// Whether `Prefer: odata.include-annotations` asked for error details.
    pub(crate) error_annotations: bool,
}

/// A Web API error: status, hex `code`, message and the exception name the annotations show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
    /// `ApiExceptionMessageName` (`PrivilegeDenied`, `ObjectDoesNotExist`, ...).
    pub(crate) name: &'static str,
    /// Extra headers (`Retry-After`).
    pub(crate) retry_after: Option<u64>,
}

impl ApiError {
    /// The error `code` names: its hex code, status and exception name.
    pub(crate) fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError::configured(code, code.hex(), message)
    }

    /// The error `code` names, with its fixed message (the exception name if it has none).
    pub(crate) fn fixed(code: ErrorCode) -> ApiError {
        ApiError::new(code, code.fixed_message().unwrap_or(code.name()))
    }

    /// The error `code` names, with the wire code a switch chose instead of the table's
    /// (`Switches::zero_roles_code` and friends, UNCONFIRMED choices a world may change).
    pub(crate) fn configured(
        code: ErrorCode,
        wire_code: impl Into<String>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status: code.status(),
            code: wire_code.into(),
            message: message.into(),
            name: code.name(),
            retry_after: None,
        }
    }
}

/// The names of the headers every answer carries, made once: a name given as text is parsed,
/// and a name unknown to `http` copied, on every insert.
const ODATA_VERSION: HeaderName = HeaderName::from_static("odata-version");
const REQ_ID: HeaderName = HeaderName::from_static("req_id");
const SERVICE_REQUEST_ID: HeaderName = HeaderName::from_static("x-ms-service-request-id");

/// Adds the headers every Dataverse answer carries.
fn standard_headers(response: &mut Response<Full<Bytes>>, exchange: &Exchange) {
    let headers = response.headers_mut();
    headers.insert(ODATA_VERSION, HeaderValue::from_static("4.0"));
    // Two values made from the text rather than one cloned: a clone of a fresh value copies
    // it into a shared buffer anyway.
    if let (Ok(request_id), Ok(service_request_id)) = (
        HeaderValue::from_str(&exchange.request_id),
        HeaderValue::from_str(&exchange.request_id),
    ) {
        headers.insert(REQ_ID, request_id);
        headers.insert(SERVICE_REQUEST_ID, service_request_id);
    }
}

/// A JSON answer (`application/json; odata.metadata=minimal`).
pub(crate) fn json(
    status: StatusCode,
    body: Vec<u8>,
    exchange: &Exchange,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; odata.metadata=minimal"),
    );
    standard_headers(&mut response, exchange);
    response
}

/// A text answer (`/$count`).
pub(crate) fn text(status: StatusCode, body: String, exchange: &Exchange) -> Response<Full<Bytes>> {
    let mut response = fake_core::text_response(status, body);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    standard_headers(&mut response, exchange);
    response
}

/// An XML answer (`$metadata`).
pub(crate) fn xml(body: String, exchange: &Exchange) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    standard_headers(&mut response, exchange);
    response
}

/// The OData error envelope `{"error":{"code":…,"message":…}}`.
pub(crate) fn error(error: &ApiError, exchange: &Exchange) -> Response<Full<Bytes>> {
    let mut body = Map::new();
    body.insert("code".into(), Value::String(error.code.clone()));
    body.insert("message".into(), Value::String(error.message.clone()));
    if exchange.error_annotations {
        let category = if error.status.is_server_error() {
            "SystemFailure"
        } else {
            "ClientError"
        };
        let prefix = "@Microsoft.PowerApps.CDS.ErrorDetails.";
        body.insert(format!("{prefix}ApiExceptionCategory"), json!(category));
        body.insert(
            format!("{prefix}ApiExceptionMessageName"),
            json!(error.name),
        );
        body.insert(
            format!("{prefix}ApiExceptionHttpStatusCode"),
            json!(error.status.as_u16().to_string()),
        );
        let code = error.code.trim_start_matches("0x");
        if !code.is_empty() && code != "0" {
            body.insert(
                "@Microsoft.PowerApps.CDS.HelpLink".into(),
                json!(format!(
                    "http://go.microsoft.com/fwlink/?LinkID=398563&error=Microsoft.Crm.CrmException%3a{code}&client=platform"
                )),
            );
        }
        body.insert(
            "@Microsoft.PowerApps.CDS.InnerError.Message".into(),
            json!(error.message),
        );
    }
    let body = serde_json::to_vec(&json!({ "error": body })).unwrap_or_default();
    let mut response = json(error.status, body, exchange);
    if let Some(seconds) = error.retry_after
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// 401 with an empty body and the challenge that names the tenant's authority and the
/// environment (reference/dataverse.md §2.1). `reason` goes into the `401_error_reason` header.
pub(crate) fn unauthorized(
    authority: &str,
    resource_id: &str,
    reason: Option<&str>,
    exchange: &Exchange,
) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let challenge = format!("Bearer authorization_uri={authority}, resource_id={resource_id}");
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    // A reason may quote token contents (an issuer, a kid): characters a header cannot carry
    // become `?` so the reason is never lost (UNCONFIRMED what IIS would send).
    let reason = reason.map(|reason| {
        reason
            .chars()
            .map(|character| match character {
                ' '..='~' => character,
                _ => '?',
            })
            .collect::<String>()
    });
    if let Some(reason) = reason
        && let Ok(value) = HeaderValue::from_str(&reason)
    {
        response.headers_mut().insert("401_error_reason", value);
    }
    standard_headers(&mut response, exchange);
    response
}
