//! The AADSTS error catalogue for client-credentials apps (reference/entra.md §6): status,
//! `error`, code and message template per entry, as data. Templates use `{name}` placeholders
//! filled from the request; [`crate::Config::message_overrides`] can reword any entry, since
//! Microsoft changes its texts over time.

use std::collections::BTreeMap;

use serde::Serialize;

/// Declares [`AadstsError`] and [`CATALOGUE`] from one list of rows, so that each error's key,
/// name, code, `error`, status and template are written once and the table is indexed by the
/// key by construction (row `n` is variant `n`).
macro_rules! catalogue {
    ($($(#[$doc:meta])* $key:ident => $entry:expr,)*) => {
        /// A typed key of the catalogue: a misspelt key does not compile.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        pub enum AadstsError {
            $($(#[$doc])* $key,)*
        }

        /// Every entry, in the order of reference/entra.md §6 (and of [`AadstsError`]).
        pub const CATALOGUE: &[CatalogueEntry] = &[$($entry,)*];

        impl AadstsError {
            /// Every key, in catalogue order.
            pub const ALL: &[AadstsError] = &[$(AadstsError::$key,)*];
        }
    };
}

/// One error the fake can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct CatalogueEntry {
    /// A stable name (`invalid_client_secret`), used by forced errors and reports.
    pub name: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The OAuth `error` value.
    pub error: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The message after `AADSTS{code}: `, with `{placeholders}`.
    pub template: &'static str,
    /// When the real service answers with it.
    pub condition: &'static str,
    /// Whether status and `error` were observed (`true`) or are a documented guess.
    pub confirmed: bool,
}

catalogue! {
    /// `tenant_not_found` (AADSTS90002).
    TenantNotFound => CatalogueEntry {
        name: "tenant_not_found",
        code: 90002,
        error: "invalid_request",
        status: 400,
        template: "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
        condition: "the tenant GUID or domain does not exist (token endpoint)",
        confirmed: true,
    },
    /// `tenant_not_found_discovery` (AADSTS90002).
    TenantNotFoundDiscovery => CatalogueEntry {
        name: "tenant_not_found_discovery",
        code: 90002,
        error: "invalid_tenant",
        status: 400,
        template: "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.",
        condition: "the tenant GUID or domain does not exist (OpenID configuration)",
        confirmed: true,
    },
    /// `tenant_identifier_invalid` (AADSTS900023).
    TenantIdentifierInvalid => CatalogueEntry {
        name: "tenant_identifier_invalid",
        code: 900023,
        error: "invalid_request",
        status: 400,
        template: "Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain.",
        condition: "the tenant segment is neither a GUID nor a DNS name",
        confirmed: true,
    },
    /// `tenant_empty_guid` (AADSTS90002).
    TenantEmptyGuid => CatalogueEntry {
        name: "tenant_empty_guid",
        code: 90002,
        error: "invalid_request",
        status: 400,
        template: "Requested tenant identifier '00000000-0000-0000-0000-000000000000' is not valid. Tenant identifiers may not be an empty GUID.",
        condition: "the tenant is the all-zero GUID (`error` UNCONFIRMED)",
        confirmed: false,
    },
    /// `application_not_found` (AADSTS700016).
    ApplicationNotFound => CatalogueEntry {
        name: "application_not_found",
        code: 700016,
        error: "unauthorized_client",
        status: 400,
        template: "Application with identifier '{client_id}' was not found in the directory '{directory}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.",
        condition: "no service principal for the client id in the tenant (typo, wrong tenant, multi-tenant app never consented)",
        confirmed: true,
    },
    /// `invalid_client_secret` (AADSTS7000215).
    InvalidClientSecret => CatalogueEntry {
        name: "invalid_client_secret",
        code: 7000215,
        error: "invalid_client",
        status: 401,
        template: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
        condition: "the secret matches none of the app's secrets (often the secret ID sent instead of its value)",
        confirmed: true,
    },
    /// `expired_client_secret` (AADSTS7000222).
    ExpiredClientSecret => CatalogueEntry {
        name: "expired_client_secret",
        code: 7000222,
        error: "invalid_client",
        status: 401,
        template: "The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
        condition: "the secret matches an expired secret, or every secret of the app is expired",
        confirmed: true,
    },
    /// `missing_client_credential` (AADSTS7000216).
    MissingClientCredential => CatalogueEntry {
        name: "missing_client_credential",
        code: 7000216,
        error: "invalid_client",
        status: 401,
        template: "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
        condition: "neither a secret nor an assertion was sent",
        confirmed: true,
    },
    /// `confidential_credential_required` (AADSTS7000218).
    ConfidentialCredentialRequired => CatalogueEntry {
        name: "confidential_credential_required",
        code: 7000218,
        error: "invalid_client",
        status: 401,
        template: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        condition: "no credential on a confidential-only grant (authorization code, ROPC); this fake serves client credentials only, so it is sent only when a forced error asks",
        confirmed: true,
    },
    /// `missing_parameter` (AADSTS900144).
    MissingParameter => CatalogueEntry {
        name: "missing_parameter",
        code: 900144,
        error: "invalid_request",
        status: 400,
        template: "The request body must contain the following parameter: '{parameter}'.",
        condition: "`grant_type`, `client_id`, `scope` (v2) or `resource` (v1) is missing (for `scope` the `error` is UNCONFIRMED); a body that is not `application/x-www-form-urlencoded` counts as empty, so it gets `'grant_type'` (observed for `application/json`)",
        confirmed: true,
    },
    /// `unsupported_grant_type` (AADSTS70003).
    UnsupportedGrantType => CatalogueEntry {
        name: "unsupported_grant_type",
        code: 70003,
        error: "unsupported_grant_type",
        status: 400,
        template: "The app requested an unsupported grant type '{grant_type}'.",
        condition: "`grant_type` is not `client_credentials` (the only grant this fake serves)",
        confirmed: true,
    },
    /// `scope_not_default` (AADSTS1002012).
    ScopeNotDefault => CatalogueEntry {
        name: "scope_not_default",
        code: 1002012,
        error: "invalid_scope",
        status: 400,
        template: "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
        condition: "a scope does not end in `/.default`",
        confirmed: true,
    },
    /// `scope_invalid` (AADSTS70011).
    ScopeInvalid => CatalogueEntry {
        name: "scope_invalid",
        code: 70011,
        error: "invalid_scope",
        status: 400,
        template: "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.",
        condition: "the scope names more than one resource",
        confirmed: true,
    },
    /// `resource_not_found` (AADSTS500011).
    ResourceNotFound => CatalogueEntry {
        name: "resource_not_found",
        code: 500011,
        error: "invalid_resource",
        status: 400,
        template: "The resource principal named {resource} was not found in the tenant named {directory}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.",
        condition: "the tenant has no Dynamics CRM service principal, or the resource is not a Dynamics 365 host",
        confirmed: true,
    },
    /// `resource_disabled` (AADSTS500014).
    ResourceDisabled => CatalogueEntry {
        name: "resource_disabled",
        code: 500014,
        error: "invalid_resource",
        status: 400,
        template: "The service principal for resource '{resource}' is disabled. This indicate that a subscription within the tenant has lapsed, or that the administrator for this tenant has disabled the application, preventing tokens from being issued for it.",
        condition: "the tenant's Dynamics CRM service principal exists but is disabled (status and `error` UNCONFIRMED)",
        confirmed: false,
    },
    /// `application_disabled` (AADSTS7000112).
    ApplicationDisabled => CatalogueEntry {
        name: "application_disabled",
        code: 7000112,
        error: "unauthorized_client",
        status: 400,
        template: "Application '{client_id}'({app_name}) is disabled.",
        condition: "the client's service principal is disabled (status UNCONFIRMED)",
        confirmed: false,
    },
    /// `certificate_not_registered` (AADSTS700027).
    CertificateNotRegistered => CatalogueEntry {
        name: "certificate_not_registered",
        code: 700027,
        error: "invalid_client",
        status: 401,
        template: "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{client_id}']",
        condition: "the assertion's thumbprint matches no certificate of the app (status inferred from `invalid_client`)",
        confirmed: false,
    },
    /// `assertion_signature_invalid` (AADSTS700027).
    AssertionSignatureInvalid => CatalogueEntry {
        name: "assertion_signature_invalid",
        code: 700027,
        error: "invalid_client",
        status: 401,
        template: "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{thumbprint}', Found key 'Start={key_start}, End={key_end}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'. Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, such as 'https://graph.microsoft.com/beta/applications/{client_id}']",
        condition: "the certificate is registered but the signature does not verify (prefix UNCONFIRMED)",
        confirmed: false,
    },
    /// `assertion_outside_validity` (AADSTS700024).
    AssertionOutsideValidity => CatalogueEntry {
        name: "assertion_outside_validity",
        code: 700024,
        error: "invalid_client",
        status: 401,
        template: "Client assertion is not within its valid time range. Current time: {now}, assertion valid from {valid_from}, expiry time of assertion {expiry}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        condition: "the assertion is expired or not yet valid (status UNCONFIRMED)",
        confirmed: false,
    },
    /// `assertion_invalid` (AADSTS50027).
    AssertionInvalid => CatalogueEntry {
        name: "assertion_invalid",
        code: 50027,
        error: "invalid_request",
        status: 400,
        template: "JWT token is invalid or malformed. {reason}",
        condition: "the client assertion is not a well-formed JWT with the claims Entra requires (wording and status UNCONFIRMED)",
        confirmed: false,
    },
    /// `assertion_audience_invalid` (AADSTS50027).
    AssertionAudienceInvalid => CatalogueEntry {
        name: "assertion_audience_invalid",
        code: 50027,
        error: "invalid_request",
        status: 400,
        template: "JWT token is invalid or malformed. The audience '{audience}' of the client assertion is not the token endpoint '{expected_audience}'.",
        condition: "the assertion `aud` is not the token endpoint that received it (ESTS rejects it; code and wording UNCONFIRMED)",
        confirmed: false,
    },
    /// `assertion_replayed` (AADSTS50027).
    AssertionReplayed => CatalogueEntry {
        name: "assertion_replayed",
        code: 50027,
        error: "invalid_request",
        status: 400,
        template: "JWT token is invalid or malformed. The client assertion with 'jti' '{jti}' was already used; sign a new assertion for each request.",
        condition: "a client assertion is used a second time before it expires, when `AssertionReplayPolicy::Reject` is configured (ESTS is not known to refuse replays; code, status and wording UNCONFIRMED)",
        confirmed: false,
    },
    /// `no_tenant_identifier` (AADSTS50059).
    NoTenantIdentifier => CatalogueEntry {
        name: "no_tenant_identifier",
        code: 50059,
        error: "invalid_request",
        status: 400,
        template: "No tenant-identifying information found in either the request or implied by any provided credentials.",
        condition: "`/common`, `/organizations` or `/consumers` with client credentials",
        confirmed: true,
    },
    /// `post_only` (AADSTS900561).
    PostOnly => CatalogueEntry {
        name: "post_only",
        code: 900561,
        error: "invalid_request",
        status: 400,
        template: "The endpoint only accepts POST requests. Received a {method} request.",
        condition: "the token endpoint called with another method (status and `error` UNCONFIRMED)",
        confirmed: false,
    },
    /// `consent_required` (AADSTS65001).
    ConsentRequired => CatalogueEntry {
        name: "consent_required",
        code: 65001,
        error: "invalid_grant",
        status: 400,
        template: "The user or administrator has not consented to use the application with ID '{client_id}' named '{app_name}'. Send an interactive authorization request for this user and resource.",
        condition: "delegated flows only; client credentials never get it from the real service, so this fake sends it only when a forced error asks",
        confirmed: true,
    },
    /// `conditional_access_blocked` (AADSTS53003).
    ConditionalAccessBlocked => CatalogueEntry {
        name: "conditional_access_blocked",
        code: 53003,
        error: "access_denied",
        status: 400,
        template: "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance.",
        condition: "Conditional Access for workload identities blocks the app (forced only; status and `error` UNCONFIRMED)",
        confirmed: false,
    },
    /// `invalid_instance` (AADSTS50049).
    InvalidInstance => CatalogueEntry {
        name: "invalid_instance",
        code: 50049,
        error: "invalid_instance",
        status: 400,
        template: "Unknown or invalid instance.",
        condition: "instance discovery for an authority host that is not a known cloud alias",
        confirmed: true,
    },
    /// `temporarily_unavailable` (AADSTS90033).
    TemporarilyUnavailable => CatalogueEntry {
        name: "temporarily_unavailable",
        code: 90033,
        error: "temporarily_unavailable",
        status: 503,
        template: "A transient error has occurred. Please try again.",
        condition: "a transient service error (forced only; codes UNCONFIRMED)",
        confirmed: false,
    },
}

/// The name forced errors use for throttling (429 `Too Many Requests`, not a JSON body).
pub const THROTTLED: &str = "throttled";

/// What a forced error answers with: 429 throttling, or a catalogue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ForcedErrorKind {
    /// 429 `Too Many Requests` with `Retry-After` (named [`THROTTLED`]).
    Throttled,
    /// The catalogue entry's JSON error.
    Aadsts(AadstsError),
}

impl ForcedErrorKind {
    /// Reads a forced error's name ([`THROTTLED`], a catalogue name or an AADSTS code);
    /// `None` when it is none of these.
    pub fn find(name_or_code: &str) -> Option<ForcedErrorKind> {
        if name_or_code == THROTTLED {
            return Some(ForcedErrorKind::Throttled);
        }
        AadstsError::find(name_or_code).map(ForcedErrorKind::Aadsts)
    }

    /// The canonical name (a code resolves to its first entry's name).
    pub fn name(self) -> &'static str {
        match self {
            ForcedErrorKind::Throttled => THROTTLED,
            ForcedErrorKind::Aadsts(key) => key.name(),
        }
    }
}

impl AadstsError {
    /// This key's row of [`CATALOGUE`].
    pub const fn entry(self) -> &'static CatalogueEntry {
        &CATALOGUE[self as usize]
    }

    /// The stable name of this key (`invalid_client_secret`), as world files write it.
    pub const fn name(self) -> &'static str {
        self.entry().name
    }

    /// Finds a key by name, or by AADSTS code (the first entry with that code); `None` when
    /// neither matches, never a stand-in.
    pub fn find(name_or_code: &str) -> Option<AadstsError> {
        let wanted = name_or_code.trim().trim_start_matches("AADSTS");
        let by_name = AadstsError::ALL
            .iter()
            .find(|key| key.name() == wanted)
            .copied();
        by_name.or_else(|| {
            let code: u32 = wanted.parse().ok()?;
            AadstsError::ALL
                .iter()
                .find(|key| key.entry().code == code)
                .copied()
        })
    }
}

impl CatalogueEntry {
    /// Finds an entry by name, or by AADSTS code (the first entry with that code).
    pub fn find(name_or_code: &str) -> Option<&'static CatalogueEntry> {
        AadstsError::find(name_or_code).map(AadstsError::entry)
    }

    /// Every name a forced error may use, for error messages.
    pub fn known_names() -> String {
        CATALOGUE
            .iter()
            .map(|entry| format!("{} ({})", entry.name, entry.code))
            .chain(std::iter::once(format!("{THROTTLED} (429)")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// An error ready to send: the entry and its rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AadError {
    /// The catalogue entry.
    pub entry: &'static CatalogueEntry,
    /// `AADSTS{code}: ` is not included; the trailer neither.
    pub message: String,
}

impl AadError {
    /// Renders entry `key` with `facts`. Unknown placeholders are left as they are, so a
    /// missing fact shows up in tests rather than as an empty string.
    pub fn new(key: AadstsError, facts: &[(&str, &str)]) -> AadError {
        let entry = key.entry();
        AadError {
            entry,
            message: render(entry.template, facts),
        }
    }

    /// Like [`AadError::new`], with the wording overridden where the config says so.
    pub fn with_overrides(
        key: AadstsError,
        facts: &[(&str, &str)],
        overrides: &BTreeMap<String, String>,
    ) -> AadError {
        let mut error = AadError::new(key, facts);
        if let Some(template) = overrides.get(error.entry.name) {
            error.message = render(template, facts);
        }
        error
    }
}

/// Replaces each `{key}` in `template` by its value in `facts`, each value bounded by
/// [`fake_core::echo`]: facts quote client input (tenant segment, client id, scope, resource,
/// grant type, thumbprint, audience), and a 60 KB scope must not make a 60 KB answer.
pub(crate) fn render(template: &str, facts: &[(&str, &str)]) -> String {
    let mut rendered = template.to_owned();
    for (key, value) in facts {
        rendered = rendered.replace(&format!("{{{key}}}"), &fake_core::echo(value));
    }
    rendered
}

/// The JSON error body, with fields in the order Entra writes them.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody<'a> {
    pub error: &'a str,
    pub error_description: String,
    pub error_codes: [u32; 1],
    pub timestamp: &'a str,
    pub trace_id: &'a str,
    pub correlation_id: &'a str,
    pub error_uri: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_findable_by_code() {
        let mut names: Vec<&str> = CATALOGUE.iter().map(|entry| entry.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        assert_eq!(
            CatalogueEntry::find("AADSTS7000215").map(|entry| entry.name),
            Some("invalid_client_secret")
        );
        assert_eq!(
            CatalogueEntry::find("65001").map(|entry| entry.name),
            Some("consent_required")
        );
        assert!(CatalogueEntry::find("nope").is_none());
    }

    #[test]
    fn every_key_owns_its_row_and_is_found_by_its_name() {
        assert_eq!(AadstsError::ALL.len(), CATALOGUE.len());
        for (index, key) in AadstsError::ALL.iter().enumerate() {
            assert_eq!(key.entry(), &CATALOGUE[index]);
            assert_eq!(AadstsError::find(key.name()), Some(*key));
        }
        assert_eq!(
            AadstsError::InvalidClientSecret.entry().code,
            7000215,
            "the variant and its row agree"
        );
        assert_eq!(AadstsError::find("invalid_client_secre"), None);
    }

    #[test]
    fn forced_error_names_are_throttled_or_a_catalogue_key() {
        assert_eq!(
            ForcedErrorKind::find(THROTTLED),
            Some(ForcedErrorKind::Throttled)
        );
        assert_eq!(ForcedErrorKind::Throttled.name(), "throttled");
        assert_eq!(
            ForcedErrorKind::find("AADSTS65001"),
            Some(ForcedErrorKind::Aadsts(AadstsError::ConsentRequired))
        );
        assert_eq!(ForcedErrorKind::find(" throttled "), None);
        assert_eq!(ForcedErrorKind::find("throttle"), None);
    }

    #[test]
    fn renders_every_placeholder_it_is_given() {
        let error = AadError::new(
            AadstsError::ApplicationDisabled,
            &[("client_id", "abc"), ("app_name", "Importer")],
        );
        assert_eq!(error.message, "Application 'abc'(Importer) is disabled.");
        assert_eq!(error.entry.status, 400);
    }

    #[test]
    fn overrides_reword_an_entry() {
        let overrides = BTreeMap::from([(
            "invalid_client_secret".to_owned(),
            "Old wording for {client_id}.".to_owned(),
        )]);
        let error = AadError::with_overrides(
            AadstsError::InvalidClientSecret,
            &[("client_id", "x")],
            &overrides,
        );
        assert_eq!(error.message, "Old wording for x.");
        assert_eq!(error.entry.code, 7000215);
    }
}
