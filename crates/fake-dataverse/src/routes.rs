//! Routing and the request pipeline, in the order of reference/dataverse.md §11.2: environment
//! by host → `/api/data/v9.x/` → token (401) → application user (403 `0x80072560`) → disabled
//! (403) → admin mode (403 `0x8004A113`) → service protection (429) → the resource, whose
//! handler runs the privilege and row-access checks. One [`Resource`] enum, one [`resource`]
//! parser, one `match`.

use std::borrow::Cow;
use std::sync::LazyLock;

use bytes::Bytes;
use http::{Method, Request, Response, header};
use http_body_util::Full;
use uuid::Uuid;

use crate::auth::{self, Expectation};
use crate::errors::ErrorCode;
use crate::functions::{self, FUNCTIONS, Function};
use crate::response::{self, ApiError, Exchange};
use crate::security::Principal;
use crate::state::State;

/// Every resource the fake serves, below `/api/data/v9.x/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Resource {
    /// `GET /` — the service document.
    ServiceDocument,
    /// `GET $metadata` — CSDL.
    Metadata,
    /// A declared function: `GET WhoAmI()`, `RetrieveCurrentOrganization(AccessType=…)`, or
    /// bound, `systemusers({id})/Microsoft.Dynamics.CRM.RetrieveUserPrivileges()`.
    Function {
        function: &'static Function,
        /// The text between the parentheses (empty for bound functions).
        arguments: String,
        /// The bound `systemuser`, `None` for an unbound function.
        user: Option<Uuid>,
    },
    /// `GET EntityDefinitions`, `EntityDefinitions(LogicalName='x')`, `…/Attributes`.
    EntityDefinitions {
        key: Option<String>,
        attributes: bool,
    },
    /// `GET {set}`.
    EntitySet { set: String },
    /// `GET {set}/$count`.
    Count { set: String },
    /// `GET {set}({id})`.
    Row { set: String, id: Uuid },
}

/// What the fake serves, for errors that must say so: the service document, `$metadata`, the
/// unbound functions, entity definitions and sets, then the bound functions.
pub(crate) fn supported() -> &'static str {
    static SUPPORTED: LazyLock<String> = LazyLock::new(|| {
        let usages = |bound: bool| {
            FUNCTIONS
                .iter()
                .filter(|function| function.is_bound() == bound)
                .map(|function| function.usage)
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "GET /api/data/v9.0|v9.1|v9.2/ (service document), $metadata, {}, EntityDefinitions[(LogicalName='…')][/Attributes], {{entityset}}[?$select,$filter,$orderby,$top,$count,$expand], {{entityset}}({{id}}), {{entityset}}/$count, {}",
            usages(false),
            usages(true)
        )
    });
    &SUPPORTED
}

/// Splits `/api/data/v9.2/rest` (tolerating `//api`) into the version and the rest.
pub(crate) fn api_path(path: &str) -> Option<(&str, &str)> {
    let path = path.trim_start_matches('/');
    let rest = path.strip_prefix("api/data/")?;
    let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
    matches!(version, "v9.0" | "v9.1" | "v9.2").then_some((version, rest))
}

/// Parses the resource path below the version. `None`: not something Dataverse has.
pub(crate) fn resource(rest: &str) -> Option<Resource> {
    if rest.is_empty() {
        return Some(Resource::ServiceDocument);
    }
    if rest == "$metadata" {
        return Some(Resource::Metadata);
    }
    let segments: Vec<&str> = rest.split('/').collect();
    let (name, key) = split_key(segments[0])?;
    if let ([], Some(function)) = (&segments[1..], functions::find(name, false)) {
        // Without parameters `WhoAmI` and `WhoAmI()`; with them, only `Name(…)`.
        let called = if function.parameters.is_empty() {
            matches!(key, None | Some(""))
        } else {
            key.is_some()
        };
        if called {
            return Some(Resource::Function {
                function,
                arguments: key.unwrap_or_default().to_owned(),
                user: None,
            });
        }
    }
    match (name, key, &segments[1..]) {
        ("EntityDefinitions", key, []) => Some(Resource::EntityDefinitions {
            key: key.map(str::to_owned),
            attributes: false,
        }),
        ("EntityDefinitions", Some(key), ["Attributes"]) => Some(Resource::EntityDefinitions {
            key: Some(key.to_owned()),
            attributes: true,
        }),
        (set, None, []) => Some(Resource::EntitySet {
            set: set.to_owned(),
        }),
        (set, None, ["$count"]) => Some(Resource::Count {
            set: set.to_owned(),
        }),
        (set, Some(key), []) => Some(Resource::Row {
            set: set.to_owned(),
            id: parse_guid_key(key)?,
        }),
        ("systemusers", Some(key), [function]) => {
            let user = parse_guid_key(key)?;
            let function = function.strip_prefix("Microsoft.Dynamics.CRM.")?;
            let (function, _) = split_key(function)?;
            functions::find(function, true).map(|function| Resource::Function {
                function,
                arguments: String::new(),
                user: Some(user),
            })
        }
        _ => None,
    }
}

/// `name(key)` → (`name`, `Some(key)`); `name` → (`name`, `None`).
fn split_key(segment: &str) -> Option<(&str, Option<&str>)> {
    match segment.split_once('(') {
        Some((name, rest)) => Some((name, Some(rest.strip_suffix(')')?))),
        None => Some((segment, None)),
    }
}

/// A row key: a bare GUID, optionally braced.
fn parse_guid_key(key: &str) -> Option<Uuid> {
    Uuid::try_parse(key.trim_start_matches('{').trim_end_matches('}')).ok()
}

/// The host the client asked for: fake-core's request context, else the `Host` header.
fn request_host(request: &Request<Bytes>) -> Cow<'_, str> {
    match request.extensions().get::<fake_core::RequestContext>() {
        Some(context) => Cow::Borrowed(context.host.as_str()),
        None => Cow::Owned(
            request
                .headers()
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
                .map(|host| host.split(':').next().unwrap_or(host).to_ascii_lowercase())
                .unwrap_or_default(),
        ),
    }
}

/// Whether answering `request` may scan a large table: a read of a table (its rows or
/// `/$count`) with more than the budget's `blocking_threshold` rows, or any `$expand` in an
/// environment that has such a table. Such requests run on the blocking pool (see `lib.rs`).
/// A cheap look at the path only: the pipeline itself runs in [`handle`].
pub(crate) fn is_heavy(state: &State, request: &Request<Bytes>) -> bool {
    let Some((index, environment)) = state.environment(&request_host(request)) else {
        return false;
    };
    if !state.facts(index).has_large_table {
        // Most environments have no large table: no need to look at the path or query.
        return false;
    }
    let threshold = state.config.scan_budget.blocking_threshold;
    let large = |table: &crate::config::Table| match &table.data {
        crate::config::TableData::Generated { count } => *count > threshold,
        crate::config::TableData::Rows(rows) => rows.len() as u64 > threshold,
    };
    let set = match api_path(request.uri().path()).and_then(|(_, rest)| resource(rest)) {
        Some(Resource::EntitySet { set } | Resource::Count { set }) => set,
        _ => return false,
    };
    if environment
        .tables
        .iter()
        .any(|table| large(table) && table.definition.entity_set_name == set)
    {
        return true;
    }
    request.uri().query().is_some_and(|query| {
        crate::odata::decode_query(query)
            .iter()
            .any(|(name, _)| name == "$expand")
    })
}

pub(crate) fn handle(state: &State, request: Request<Bytes>) -> Response<Full<Bytes>> {
    let host = request_host(&request);
    let origin = match request.extensions().get::<fake_core::RequestContext>() {
        Some(context) => Cow::Borrowed(context.origin.as_str()),
        None => Cow::Owned(format!("https://{host}")),
    };
    let request_id = state.config.ids.next_uuid().to_string();
    let prefer = request
        .headers()
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let error_annotations = prefer.contains("include-annotations")
        && (prefer.contains('*') || prefer.contains("Microsoft.PowerApps.CDS"));
    let path = request.uri().path();
    // Before the API path is known, errors name the origin as their base.
    let early_not_found = |message: String| {
        let exchange = Exchange {
            request_id: request_id.clone(),
            base: origin.clone().into_owned(),
            error_annotations,
        };
        let error = ApiError::new(ErrorCode::NoHttpResource, message);
        response::error(&error, &exchange)
    };
    let Some((environment_index, environment)) = state.environment(&host) else {
        return early_not_found(format!(
            "d365-harness fake Dataverse has no environment on host `{host}`"
        ));
    };
    let Some((version, rest)) = api_path(path) else {
        return early_not_found(format!(
            "No HTTP resource was found that matches the request URI '{}'. This fake serves: {}",
            fake_core::echo(&format!("{origin}{path}")),
            supported()
        ));
    };
    let exchange = Exchange {
        request_id,
        base: [&*origin, "/api/data/", version].concat(),
        error_annotations,
    };

    // Authentication: 401, empty body, the challenge naming the tenant and the environment.
    let config = &state.config;
    let facts = state.facts(environment_index);
    let expectation = Expectation {
        verifier: &state.verifier,
        issuer: &facts.issuer,
        hosts: [&facts.web_host, &facts.api_host],
        now: config.clock.now(),
    };
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    let claims = match auth::validate(authorization, &expectation) {
        Ok(claims) => claims,
        Err(rejection) => {
            let authority = format!(
                "https://{}/{}/oauth2/authorize",
                config.authority_host, environment.tenant_id
            );
            let resource_id = format!("https://{}/", facts.web_host);
            return response::unauthorized(
                &authority,
                &resource_id,
                rejection.reason.as_deref(),
                &exchange,
            );
        }
    };

    // The application user behind the token's appid, and what its roles grant.
    let user = claims.client_id().and_then(|client_id| {
        environment
            .application_users
            .iter()
            .zip(&facts.grants)
            .find(|(user, _)| user.application_id == client_id)
    });
    let Some((user, grants)) = user else {
        return response::error(&ApiError::fixed(ErrorCode::UserNotMemberOfOrg), &exchange);
    };
    if !user.enabled {
        return response::error(
            &ApiError::configured(
                ErrorCode::UserDisabled,
                config.switches.disabled_user_code.clone(),
                // A world that answers with the not-a-member code gets that code's message.
                if config.switches.disabled_user_code == ErrorCode::UserNotMemberOfOrg.hex() {
                    ErrorCode::UserNotMemberOfOrg.fixed_message()
                } else {
                    ErrorCode::UserDisabled.fixed_message()
                }
                .unwrap_or_default(),
            ),
            &exchange,
        );
    }
    let principal = Principal::with_grants(user, environment, grants);
    if environment.admin_mode && !principal.is_administrator() {
        return response::error(&ApiError::fixed(ErrorCode::AdminOnlyMode), &exchange);
    }
    let _in_flight = match state.admit(environment_index, user.id, user.application_id) {
        Ok(guard) => guard,
        Err(error) => return response::error(&error, &exchange),
    };

    let Some(resource) = resource(rest) else {
        let segment = rest.split(['/', '(']).next().unwrap_or(rest);
        return response::error(
            &ApiError::configured(
                ErrorCode::SegmentNotFound,
                config.switches.segment_not_found_code.clone(),
                format!(
                    "Resource not found for the segment '{}'.",
                    fake_core::echo(segment)
                ),
            ),
            &exchange,
        );
    };
    if request.method() != Method::GET {
        return not_get(&request, &resource, &exchange, &origin);
    }
    let call = crate::call::Call {
        state,
        environment,
        principal: &principal,
        exchange: &exchange,
        query: request.uri().query().unwrap_or_default(),
        prefer: &prefer,
        host: &host,
    };
    let result = match resource {
        Resource::ServiceDocument => functions::service_document(&call),
        Resource::Function {
            function,
            arguments,
            user,
        } => function.invoke(&call, &arguments, user),
        Resource::Metadata => crate::csdl::csdl(&call),
        Resource::EntityDefinitions { key, attributes } => {
            crate::metadata::entity_definitions(&call, key.as_deref(), attributes)
        }
        Resource::EntitySet { set } => crate::entity_sets::list(&call, &set),
        Resource::Count { set } => crate::entity_sets::count(&call, &set),
        Resource::Row { set, id } => crate::entity_sets::retrieve(&call, &set, id),
    };
    result.unwrap_or_else(|error| response::error(&error, &exchange))
}

/// Functions answer only GET (others: 404 as the real service does); tables are read-only here.
fn not_get(
    request: &Request<Bytes>,
    resource: &Resource,
    exchange: &Exchange,
    origin: &str,
) -> Response<Full<Bytes>> {
    let function = matches!(resource, Resource::Function { .. });
    let error = if function {
        ApiError::new(
            ErrorCode::NoHttpResource,
            format!(
                "No HTTP resource was found that matches the request URI '{}'.",
                fake_core::echo(&format!("{origin}{}", request.uri().path()))
            ),
        )
    } else {
        ApiError::new(
            ErrorCode::NotSupported,
            format!(
                "{} is not supported by this fake Dataverse (d365-harness), which serves reads only: {}",
                request.method(),
                supported()
            ),
        )
    };
    response::error(&error, exchange)
}

#[cfg(test)]
mod tests;
