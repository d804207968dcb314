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
    /// The signing key or its certificate is unusable.
    #[error("the signing key is unusable")]
    SigningKey {
        /// What the fake said.
        #[source]
        source: fake_entra::Error,
    },
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
