//! World and scenario files for d365-harness: loading, validation, and translation into each
//! fake's config.
//!
//! Start at [`World::load`]. Invariant: file types (serde mirrors of the TOML) stay private;
//! only validated types such as [`World`] leave the crate, and every error names its file.

mod location;
mod world;

use std::path::PathBuf;

pub use location::Location;
pub use world::{
    App, Certificate, ClientCredentials, Permission, Secret, SecretValue, ServicePrincipal, Tenant,
    World,
};

/// Everything that can go wrong while loading a world or turning it into a fake's config.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read at all.
    #[error("failed to read world `{}`", .path.display())]
    Read {
        /// The world file.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The file is not TOML, or not shaped like a world file (unknown or missing field, wrong
    /// type).
    #[error("failed to parse world `{}`{}", .path.display(), location::at(.location.as_ref()))]
    Parse {
        /// The world file.
        path: PathBuf,
        /// Where in the file, when the TOML parser knows.
        location: Option<Location>,
        /// What the parser said.
        #[source]
        source: TomlError,
    },
    /// The file is well-formed but a value is wrong: a bad GUID or timestamp, a reference to an
    /// unknown tenant, a duplicate, an unreadable file it names.
    #[error("invalid world `{}` at {location}: `{key}`", .path.display())]
    Invalid {
        /// The world file.
        path: PathBuf,
        /// Where the offending value is.
        location: Location,
        /// The dotted key of the offending value (`apps.importer.secrets[1].expires`).
        key: String,
        /// What is wrong with it (boxed: some causes are large, and errors travel by value).
        #[source]
        reason: Box<Reason>,
    },
    /// The world has no app with a usable client secret, so there are no credentials to hand
    /// to a client.
    #[error("world `{}` has no app with a client secret that is still valid", .path.display())]
    NoClientCredentials {
        /// The world file.
        path: PathBuf,
    },
    /// The fake Entra ID rejected the translated config (a bug in the translation or a check
    /// this loader lacks).
    #[error("world `{}` does not make a valid fake Entra ID config", .path.display())]
    Entra {
        /// The world file.
        path: PathBuf,
        /// What the fake said.
        #[source]
        source: fake_entra::Error,
    },
}

/// Why a value in a world file is wrong; the enclosing [`Error::Invalid`] says where.
#[derive(Debug, thiserror::Error)]
pub enum Reason {
    /// `version` is not one this loader reads.
    #[error("unsupported version `{found}`; this harness reads version 1")]
    Version {
        /// The value as written.
        found: String,
    },
    /// A table key that other entries cannot refer to cleanly.
    #[error("`{name}` is not a plain key; use letters, digits, `-` and `_`")]
    Key {
        /// The key as written.
        name: String,
    },
    /// A value that must be a GUID is not one.
    #[error("`{value}` is not a GUID")]
    Guid {
        /// The value as written.
        value: String,
        /// What the GUID parser said.
        #[source]
        source: uuid::Error,
    },
    /// A value that must be an RFC 3339 timestamp is not one.
    #[error("`{value}` is not an RFC 3339 timestamp like `2028-06-30T00:00:00Z` ({cause})")]
    Timestamp {
        /// The value as written.
        value: String,
        /// What the timestamp parser said. Shown inline, not as a `source()`: `time`'s error
        /// returns its own message again as its source, which would print it twice.
        cause: time::error::Parse,
    },
    /// A certificate's validity ends before it starts.
    #[error("the certificate ends before it starts")]
    EndBeforeStart,
    /// A value that must not be empty is.
    #[error("must not be empty")]
    Empty,
    /// A domain name with characters no domain has.
    #[error("`{value}` is not a domain name")]
    Domain {
        /// The value as written.
        value: String,
    },
    /// A value that must be unique in the world is used twice.
    #[error("{what} `{value}` is already used by `{first}`")]
    Duplicate {
        /// What kind of value (`tenant id`, `domain`, `client id`, ...).
        what: &'static str,
        /// The value.
        value: String,
        /// The key of the first use.
        first: String,
    },
    /// A reference to a tenant the world does not define.
    #[error("unknown tenant `{name}`; known: {}", .known.join(", "))]
    UnknownTenant {
        /// The key as written.
        name: String,
        /// The tenant keys the world defines.
        known: Vec<String>,
    },
    /// A service principal outside the home tenant of a single-tenant app.
    #[error(
        "app is single-tenant, so it has no service principal outside its home tenant `{home}`; set `multi_tenant = true`"
    )]
    SingleTenant {
        /// The home tenant key.
        home: String,
    },
    /// A file the world names could not be read.
    #[error("failed to read `{}`", .file.display())]
    ReadFile {
        /// The file, joined to the world file's folder.
        file: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// A file that must hold PEM is not valid PEM.
    #[error("`{}` is not valid PEM", .file.display())]
    Pem {
        /// The file, joined to the world file's folder.
        file: PathBuf,
        /// What the PEM reader said.
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    /// A certificate file holds no certificate.
    #[error("`{}` holds no PEM `CERTIFICATE` block", .file.display())]
    NoCertificate {
        /// The file, joined to the world file's folder.
        file: PathBuf,
    },
    /// `dynamics_enabled = false` in a tenant that has no Dynamics CRM principal to disable.
    #[error(
        "there is no Dynamics CRM service principal to disable (`dynamics = false`); set `dynamics = true` or remove `dynamics_enabled`"
    )]
    DynamicsDisabledWithoutPrincipal,
    /// A value that must be a host name (no scheme, port, path or wildcard) is not one.
    #[error("`{value}` is not a host name like `login.windows.net`")]
    HostName {
        /// The value as written.
        value: String,
    },
    /// A number outside the range its knob allows.
    #[error("must be {}, not `{value}`", allowed_range(*.min, *.max))]
    OutOfRange {
        /// The value as written.
        value: i64,
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value, when there is one below the type's limit.
        max: Option<i64>,
    },
    /// A listed resource that is not the https URI of a Dataverse host of the world's cloud
    /// (the fake Entra ID issues tokens for nothing else).
    #[error("`{value}` is not the URI of a Dataverse host like `https://contoso.crm.dynamics.com`")]
    ResourceUri {
        /// The value as written.
        value: String,
    },
    /// A forced error or message override that names no entry of the AADSTS catalogue.
    #[error("`{value}` is not in the AADSTS catalogue; known: {known}")]
    UnknownCatalogueEntry {
        /// The value as written.
        value: String,
        /// The names that would be accepted here, comma-separated.
        known: String,
    },
    /// A forced error's tenant that no client would send as the tenant segment.
    #[error(
        "`{value}` is not a tenant as clients send it: a tenant id, a domain like `contoso.onmicrosoft.com`, or `common`, `organizations` or `consumers`"
    )]
    TenantSegment {
        /// The value as written.
        value: String,
    },
    /// A fault rule for a service the harness does not have.
    #[error("unknown service `{name}`; known: {}", .known.join(", "))]
    UnknownService {
        /// The value as written.
        name: String,
        /// The service names fault rules can match.
        known: Vec<&'static str>,
    },
    /// A fault rule path that can never match, since request paths start with `/`.
    #[error("`{value}` is not a path pattern; start it with `/` or `*`")]
    PathPattern {
        /// The value as written.
        value: String,
    },
    /// A response header name with characters HTTP does not allow.
    #[error("`{name}` is not an HTTP header name")]
    HeaderName {
        /// The name as written.
        name: String,
    },
    /// A response header value with characters HTTP does not allow.
    #[error("the value of header `{name}` must be printable ASCII")]
    HeaderValue {
        /// The header name.
        name: String,
    },
    /// The signing key or its certificate is unusable.
    #[error("the signing key is unusable")]
    SigningKey {
        /// What the fake said.
        #[source]
        source: fake_entra::Error,
    },
}

/// `between 1 and 86400` or `at least 1`, for [`Reason::OutOfRange`].
fn allowed_range(min: i64, max: Option<i64>) -> String {
    match max {
        Some(max) => format!("between {min} and {max}"),
        None => format!("at least {min}"),
    }
}

/// A TOML syntax or schema error, displayed as its one-line message: the enclosing
/// [`Error::Parse`] carries the file and position. (The `toml` error's own `Display` is a
/// multi-line snippet that would repeat both.)
#[derive(Debug)]
pub struct TomlError(Box<toml::de::Error>);

impl TomlError {
    /// The error as the `toml` crate reported it (with its span and snippet).
    pub fn toml(&self) -> &toml::de::Error {
        &self.0
    }
}

impl std::fmt::Display for TomlError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.0.message().trim_end())
    }
}

impl std::error::Error for TomlError {}
