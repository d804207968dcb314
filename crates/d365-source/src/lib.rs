//! The Dynamics 365 source-configuration flow: what an importer does when a user fills in its
//! source form (Name, Environment URL, Tenant ID, Client ID, Client Secret) and presses Add
//! Source. Start at [`Flow`]: [`form::validate`] → token → connection check → [`Store`].
//!
//! Invariant: this crate talks HTTPS only and knows nothing about the fakes. Its one seam for
//! tests is [`NetworkSettings`] (host overrides, trusted roots, proxy, timeouts) and the
//! injected [`Timer`], the same knobs a real deployment has.

pub mod flow;
pub mod form;
pub mod network;
pub mod problem;
pub mod progress;
pub mod report;
pub mod store;
pub mod timer;

mod check;
mod http;

use std::path::PathBuf;

pub use flow::{AddOutcome, Flow, FlowOptions, RotateOutcome, TestOutcome};
pub use form::{
    Cloud, Draft, EnvironmentUrl, Field, FieldError, FieldWarning, FormErrors, FormRules,
    SourceForm, TenantId,
};
pub use http::{Jitter, RetryPolicy};
pub use network::{NetworkSettings, TrustRoots};
pub use problem::{Evidence, Problem, ProblemKind, Step};
pub use progress::{CheckEvent, CheckEventKind, NoProgress, Progress};
pub use report::{
    CheckReport, CheckWarning, CheckWarningKind, Organization, ReadDepth, TableAccess,
};
pub use secrecy::{ExposeSecret, SecretString};
pub use store::{LastCheck, Store, StoreWarning, StoredSource};
pub use timer::{SystemTimer, Timer};

/// What went wrong in the harness around the flow (the flow's own findings are [`Problem`]s
/// and form errors, which are data, not `Error`s).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A network setting cannot be used.
    #[error("invalid network setting `{setting}`: {reason}")]
    Network {
        /// The setting, as the user wrote it (`--resolve`, `--ca-file`, ...).
        setting: String,
        /// Why it was refused.
        reason: String,
    },
    /// The HTTP client could not be built from the network settings.
    #[error("failed to build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// A file of the source list could not be read or written.
    #[error("failed to {action} `{path}`")]
    Io {
        /// What was being done (`read`, `write`, `lock`, ...).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The source list is not valid JSON of the expected shape; it is left untouched.
    #[error(
        "the source list `{path}` is corrupt at line {line}, column {column}; it was left untouched (move it away to start a new list)"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// The source list was written by a version of the format this build cannot read.
    #[error(
        "the source list `{path}` has format version {found}, this build reads version {supported}; it was left untouched"
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
        /// The version this build reads and writes.
        supported: u64,
    },
    /// The key that encrypts the secrets at rest is missing, unreadable, not a regular file or
    /// of the wrong size.
    #[error("the key file `{path}` cannot be used: {reason}")]
    Key {
        /// The key file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A saved secret does not open with the key file, which opens other saved secrets (or
    /// there is no other): its record was edited outside d365-harness, or the key was replaced.
    #[error(
        "the saved secret of `{name}` was changed outside d365-harness or the key `{key_path}` was replaced; restore the original key if it was replaced, otherwise remove the source and add it again"
    )]
    Tampered {
        /// The source.
        name: String,
        /// The key file used.
        key_path: PathBuf,
    },
    /// The key file opens none of the saved secrets: it was replaced (or every secret was
    /// edited). No new secret is saved under such a key, or the list would hold secrets under
    /// two keys.
    #[error(
        "the key `{key_path}` does not match the {count} saved secret(s) in `{list_path}`: it was replaced, or the secrets were changed outside d365-harness; restore the original key, or move `{list_path}` away and add the sources again"
    )]
    KeyMismatch {
        /// The key file.
        key_path: PathBuf,
        /// The source list.
        list_path: PathBuf,
        /// How many secrets are saved.
        count: usize,
    },
    /// A saved source no longer passes the form's rules (its host left the allow-list, or the
    /// file was edited by hand); it is not checked.
    #[error("the saved source `{name}` is not valid any more, add it again: {errors}")]
    InvalidStoredSource {
        /// The source.
        name: String,
        /// Every invalid field, as `Field: message`, `; `-separated.
        errors: String,
    },
    /// No source has this name.
    #[error("no source is named `{name}`")]
    SourceNotFound {
        /// The name asked for.
        name: String,
    },
    /// Another source already has this name (names compare case-insensitively).
    #[error("a source named `{name}` already exists")]
    NameTaken {
        /// The name asked for.
        name: String,
    },
}
