//! The fixed list of probes, in the order they run: each is a request a client-credentials app
//! makes (or gets wrong) and a note of what its answer settles. Only the `token`,
//! `token_unknown_environment` and `token_organizations` probes send the real client secret, and
//! only to the authority host; the other token probes send [`WRONG_SECRET`].

/// The client secret sent where the real one is not needed: obviously not a real secret.
pub(crate) const WRONG_SECRET: &str = "d365-harness-conformance-wrong-secret";

/// The bearer token sent by the malformed-token probe: not a JWS.
pub(crate) const MALFORMED_TOKEN: &str = "d365-harness-conformance-not-a-jwt";

/// The column the unknown-property probe selects: no table has it.
pub(crate) const UNKNOWN_COLUMN: &str = "d365harness_nosuchcolumn";

/// The function the unknown-function probe calls.
pub(crate) const UNKNOWN_FUNCTION: &str = "D365HarnessNoSuchFunction()";

/// What a probe does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Client credentials (v2, `scope={environment}/.default`) with the real secret.
    Token,
    /// The same with [`WRONG_SECRET`].
    WrongSecret,
    /// The same with a random tenant GUID (and [`WRONG_SECRET`]).
    UnknownTenant,
    /// The same with a random client id in the real tenant (and [`WRONG_SECRET`]).
    UnknownApp,
    /// The real secret, for a Dataverse host with no environment behind it.
    UnknownEnvironment,
    /// The real secret, on `/organizations` instead of the tenant.
    Organizations,
    /// The form fields sent as a JSON body (`application/json`), with [`WRONG_SECRET`].
    JsonBody,
    /// The form sent as `text/plain`, with [`WRONG_SECRET`].
    TextPlainBody,
    /// `GET WhoAmI` with the token.
    WhoAmI,
    /// `GET WhoAmI` without `Authorization`.
    WhoAmINoToken,
    /// `GET WhoAmI` with a bearer value that is not a JWT.
    WhoAmIMalformedToken,
    /// `GET {forbidden set}?$top=1`.
    ForbiddenTable,
    /// `GET {set}?$select={id}` with `Prefer: odata.maxpagesize=2`.
    Paging,
    /// The `@odata.nextLink` of [`Kind::Paging`].
    PagingNext,
    /// `GET {set}?$select={id}&$top=2`.
    Top,
    /// `GET {set}?$select=` [`UNKNOWN_COLUMN`].
    UnknownProperty,
    /// `GET` [`UNKNOWN_FUNCTION`].
    UnknownFunction,
    /// `GET {set}?$d365harness=1`: a system query option OData does not define.
    UnsupportedQuery,
    /// `GET {set}?$apply=groupby((statuscode),aggregate($count as count))`: aggregation.
    Aggregate,
}

/// One probe: its name in the record, what it does and what its answer settles.
#[derive(Debug)]
pub(crate) struct Probe {
    /// The record's key for it.
    pub name: &'static str,
    /// What it asks.
    pub kind: Kind,
    /// One or two sentences for the record and `--help`: the request and the question.
    pub about: &'static str,
}

/// Every probe, in the order they run (later ones use the token and the next link).
pub(crate) const PROBES: &[Probe] = &[
    Probe {
        name: "token",
        kind: Kind::Token,
        about: "Client credentials on the v2 token endpoint with the real secret, scope \
                {environment}/.default: the token answer's fields and headers, and the access \
                token's claim names (token_lifetime_seconds, v1 issuer host).",
    },
    Probe {
        name: "wrong_secret",
        kind: Kind::WrongSecret,
        about: "The same request with a wrong client secret: AADSTS7000215's status, error, \
                error_codes and error_description template (trailer_separator).",
    },
    Probe {
        name: "unknown_tenant",
        kind: Kind::UnknownTenant,
        about: "The same request to a random tenant GUID: the unknown-tenant error \
                (AADSTS90002).",
    },
    Probe {
        name: "unknown_app",
        kind: Kind::UnknownApp,
        about: "The same request with a random client id in the real tenant: the \
                unknown-application error (AADSTS700016).",
    },
    Probe {
        name: "token_unknown_environment",
        kind: Kind::UnknownEnvironment,
        about: "The real secret with scope https://{random}.crm.dynamics.com/.default, a \
                Dataverse host with no environment: is a token issued (resources)?",
    },
    Probe {
        name: "token_organizations",
        kind: Kind::Organizations,
        about: "The real secret on /organizations/oauth2/v2.0/token instead of the tenant: \
                AADSTS50059, or a token in the app's home tenant (common_tenant)?",
    },
    Probe {
        name: "token_json_body",
        kind: Kind::JsonBody,
        about: "The token request as a JSON body (Content-Type: application/json) with a \
                wrong secret: AADSTS900144 'grant_type' if the body is not read \
                (require_form_content_type).",
    },
    Probe {
        name: "token_text_plain_body",
        kind: Kind::TextPlainBody,
        about: "The form with Content-Type: text/plain and a wrong secret: is the body read \
                (AADSTS7000215) or not (AADSTS900144)? (require_form_content_type)",
    },
    Probe {
        name: "whoami",
        kind: Kind::WhoAmI,
        about: "GET /api/data/v9.2/WhoAmI with the token: the answer's fields and OData \
                headers.",
    },
    Probe {
        name: "whoami_no_token",
        kind: Kind::WhoAmINoToken,
        about: "GET WhoAmI without Authorization: the 401, its WWW-Authenticate challenge and \
                body.",
    },
    Probe {
        name: "whoami_malformed_token",
        kind: Kind::WhoAmIMalformedToken,
        about: "GET WhoAmI with a bearer value that is not a JWT: the 401 and its body.",
    },
    Probe {
        name: "forbidden_table",
        kind: Kind::ForbiddenTable,
        about: "GET a table the application user's roles cannot read (--forbidden-table): \
                the privilege error's status, code and message template (access_mode_text).",
    },
    Probe {
        name: "paging",
        kind: Kind::Paging,
        about: "GET --table's ids with Prefer: odata.maxpagesize=2: Preference-Applied, the \
                page's fields and the @odata.nextLink shape.",
    },
    Probe {
        name: "paging_next",
        kind: Kind::PagingNext,
        about: "GET the paging probe's @odata.nextLink: the second page's shape.",
    },
    Probe {
        name: "top",
        kind: Kind::Top,
        about: "GET --table's ids with $top=2: no next link, the same row shape.",
    },
    Probe {
        name: "unknown_property",
        kind: Kind::UnknownProperty,
        about: "GET --table with $select of a column no table has: status, code and message \
                (property_not_found_code).",
    },
    Probe {
        name: "unknown_function",
        kind: Kind::UnknownFunction,
        about: "GET a function that does not exist: status, code and message \
                (segment_not_found_code).",
    },
    Probe {
        name: "unsupported_query",
        kind: Kind::UnsupportedQuery,
        about: "GET --table with a $-option OData does not define ($d365harness=1): status, \
                code and message.",
    },
    Probe {
        name: "aggregate",
        kind: Kind::Aggregate,
        about: "GET --table with $apply=groupby((statuscode),aggregate($count as count)), \
                Microsoft's own example: Dataverse aggregates, the fake answers 501 (a known \
                gap, expected to differ).",
    },
];

/// The entity set of `table`: a name ending in `s` is taken as an entity set already;
/// otherwise the plural Dataverse gives most tables (`account` → `accounts`, `opportunity` →
/// `opportunities`).
pub(crate) fn entity_set(table: &str) -> String {
    let table = table.trim();
    if table.ends_with('s') {
        table.to_owned()
    } else if let Some(stem) = table.strip_suffix('y')
        && !stem.ends_with(['a', 'e', 'i', 'o', 'u'])
    {
        format!("{stem}ies")
    } else {
        format!("{table}s")
    }
}

/// The primary key column of `table` (`account` → `accountid`), for `$select`; an entity set
/// name loses its plural first.
pub(crate) fn primary_key(table: &str) -> String {
    let table = table.trim();
    let logical = if let Some(stem) = table.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = table.strip_suffix('s') {
        stem.to_owned()
    } else {
        table.to_owned()
    };
    format!("{logical}id")
}
