//! The on-disk shape of `sources.json`: `{"version": 1, "sources": [...]}`, pretty-printed,
//! fields in declaration order. [`parse`] checks the version before anything else, so a file of
//! another version is reported as such even when the rest has a different shape.
//!
//! The rule for a change of the format (which includes the report types in `report.rs` and the
//! `Problem` a failed check keeps): a build must read every list an earlier build of the same
//! version wrote, which `fixtures/sources/v1/` (tested in `store/tests.rs`) pins. A new field
//! in a report type gets `#[serde(default)]` (older files lack it) and stays the same version;
//! a field an older build must not drop or misread, a renamed or removed field, or a changed
//! meaning bumps [`FORMAT_VERSION`], reads the old version too, and commits a new fixture.

use std::path::Path;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::crypto::SealedSecret;
use super::{FORMAT_VERSION, LastCheck, StoredSource};
use crate::Error;
use crate::form::{EnvironmentUrl, TenantId};

/// Just enough of the file to read its version: other fields are parsed (so bad JSON is
/// still found) but ignored, whatever their shape.
#[derive(Deserialize)]
struct VersionHeader {
    version: u64,
}

#[derive(Serialize)]
struct ListFileRef<'a> {
    version: u64,
    sources: &'a [SourceRecord],
}

// Unknown fields are refused rather than dropped: the next write would lose them silently.
// A new field means a new format version.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    #[serde(rename = "version")]
    _version: u64,
    sources: Vec<SourceRecord>,
}

/// One source as the file holds it: [`StoredSource`] plus the sealed secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SourceRecord {
    name: String,
    environment: EnvironmentUrl,
    tenant: TenantId,
    client_id: Uuid,
    tables: Vec<String>,
    client_secret: SealedSecret,
    secret_hint: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    last_check: LastCheck,
}

impl SourceRecord {
    pub(super) fn new(source: StoredSource, client_secret: SealedSecret) -> SourceRecord {
        let StoredSource {
            name,
            environment,
            tenant,
            client_id,
            tables,
            secret_hint,
            created_at,
            last_check,
        } = source;
        SourceRecord {
            name,
            environment,
            tenant,
            client_id,
            tables,
            client_secret,
            secret_hint,
            created_at,
            last_check,
        }
    }

    /// The source without its secret.
    pub(super) fn source(&self) -> StoredSource {
        StoredSource {
            name: self.name.clone(),
            environment: self.environment.clone(),
            tenant: self.tenant.clone(),
            client_id: self.client_id,
            tables: self.tables.clone(),
            secret_hint: self.secret_hint.clone(),
            created_at: self.created_at,
            last_check: self.last_check.clone(),
        }
    }

    pub(super) fn name(&self) -> &str {
        &self.name
    }

    pub(super) fn client_secret(&self) -> &SealedSecret {
        &self.client_secret
    }

    pub(super) fn set_client_secret(&mut self, client_secret: SealedSecret, secret_hint: String) {
        self.client_secret = client_secret;
        self.secret_hint = secret_hint;
    }

    pub(super) fn set_last_check(&mut self, last_check: LastCheck) {
        self.last_check = last_check;
    }
}

/// The sources in the file's bytes, which were read from `path`.
pub(super) fn parse(path: &Path, bytes: &[u8]) -> Result<Vec<SourceRecord>, Error> {
    let corrupt = |source: serde_json::Error| Error::Corrupt {
        path: path.to_owned(),
        line: source.line(),
        column: source.column(),
        source,
    };
    let header: VersionHeader = serde_json::from_slice(bytes).map_err(corrupt)?;
    if header.version != FORMAT_VERSION {
        return Err(Error::UnsupportedVersion {
            path: path.to_owned(),
            found: header.version,
            supported: FORMAT_VERSION,
        });
    }
    let file: ListFile = serde_json::from_slice(bytes).map_err(corrupt)?;
    Ok(file.sources)
}

/// The file's bytes: pretty JSON and a final newline.
pub(super) fn render(sources: &[SourceRecord]) -> Vec<u8> {
    let file = ListFileRef {
        version: FORMAT_VERSION,
        sources,
    };
    let mut bytes = serde_json::to_vec_pretty(&file)
        .expect("the source list serialises: strings, numbers and structs only, no map keys");
    bytes.push(b'\n');
    bytes
}
