//! The handler context: [`Call`], everything a resource handler needs about the request it
//! answers (built once by `routes.rs` after the pipeline's checks pass), and [`Answer`], what
//! every handler returns.

use bytes::Bytes;
use http::Response;
use http_body_util::Full;

use crate::config::Environment;
use crate::response::{ApiError, Exchange};
use crate::security::Principal;
use crate::state::State;

/// Everything a resource handler needs about the request it answers.
pub(crate) struct Call<'a> {
    pub(crate) state: &'a State,
    pub(crate) environment: &'a Environment,
    pub(crate) principal: &'a Principal<'a>,
    pub(crate) exchange: &'a Exchange,
    /// The raw query string.
    pub(crate) query: &'a str,
    /// Every `Prefer` header, comma-joined.
    pub(crate) prefer: &'a str,
    /// The host the client used.
    pub(crate) host: &'a str,
}

/// What a handler returns: the response, or the error the pipeline renders as the OData
/// error envelope.
pub(crate) type Answer = Result<Response<Full<Bytes>>, ApiError>;
