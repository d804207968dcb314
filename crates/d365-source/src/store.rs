//! The source list: `sources.json` in a data directory, beside `sources.key` (the AES-256-GCM
//! key of the client secrets, mode 0600) and `sources.lock`. Every change takes an exclusive lock,
//! reads the file and replaces it atomically (temp file, fsync, rename, fsync of the directory).
//! A corrupt or foreign-version file is reported and never overwritten; a list or key that is not
//! a regular file of a sane size is never read (a FIFO or `/dev/zero` cannot hang a command).

use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::Error;
use crate::form::{Draft, EnvironmentUrl, TenantId};
use crate::problem::Problem;
use crate::report::CheckReport;

mod crypto;
mod disk;
mod format;
#[cfg(test)]
mod tests;

use crypto::SecretKey;
use format::SourceRecord;

const LIST_FILE: &str = "sources.json";
const KEY_FILE: &str = "sources.key";
const LOCK_FILE: &str = "sources.lock";

/// The format version this build reads and writes.
pub const FORMAT_VERSION: u64 = 1;

/// The source list in one data directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

/// A saved source as the list shows it: everything but the secret, which only
/// [`Store::secret`] decrypts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSource {
    /// The name, as typed (trimmed).
    pub name: String,
    /// The normalised environment URL.
    pub environment: EnvironmentUrl,
    /// The tenant.
    pub tenant: TenantId,
    /// The application (client) ID.
    pub client_id: Uuid,
    /// Logical names of the tables the source imports (each check reads them).
    pub tables: Vec<String>,
    /// The first three characters of the secret value followed by `*`s, as Entra's
    /// Certificates & secrets page shows it.
    pub secret_hint: String,
    /// When the source was added.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// The most recent connection check.
    pub last_check: LastCheck,
}

/// The outcome of the most recent connection check of a saved source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LastCheck {
    /// The check passed.
    Passed(CheckReport),
    /// The check found a problem.
    Failed {
        /// When the check ran.
        #[serde(with = "time::serde::rfc3339")]
        checked_at: OffsetDateTime,
        /// What it found.
        problem: Problem,
    },
}

impl LastCheck {
    /// When the check ran.
    pub fn checked_at(&self) -> OffsetDateTime {
        match self {
            LastCheck::Passed(report) => report.checked_at,
            LastCheck::Failed { checked_at, .. } => *checked_at,
        }
    }
}

impl Store {
    /// The store in `dir` (created, mode 0700, on the first write; nothing is read yet).
    pub fn open(dir: impl Into<PathBuf>) -> Store {
        Store { dir: dir.into() }
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every source, in the order they were added. A missing file is an empty list.
    pub fn list(&self) -> Result<Vec<StoredSource>, Error> {
        let records = self.read()?;
        Ok(records.iter().map(SourceRecord::source).collect())
    }

    /// The source named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Result<StoredSource, Error> {
        let records = self.read()?;
        let index = position(&records, name)?;
        Ok(records[index].source())
    }

    /// The decrypted client secret of the source named `name`.
    pub fn secret(&self, name: &str) -> Result<SecretString, Error> {
        let _lock = disk::lock_shared(&self.path(LOCK_FILE))?;
        let records = self.read_locked()?;
        let index = position(&records, name)?;
        let record = &records[index];
        let key_path = self.path(KEY_FILE);
        let key = SecretKey::load(&key_path)?.ok_or_else(|| missing_key(&key_path, &records))?;
        if let Some(secret) = key.open(record.client_secret(), &record.source()) {
            return Ok(secret);
        }
        // One record that does not open is a changed record; a key that opens none of several
        // is a replaced key.
        let others_open = records
            .iter()
            .enumerate()
            .any(|(other, record)| other != index && opens(&key, record));
        if records.len() > 1 && !others_open {
            return Err(self.key_mismatch(&records));
        }
        Err(Error::Tampered {
            name: record.name().to_owned(),
            key_path,
        })
    }

    /// Whether a new secret can be saved now: the key file is usable and opens the saved
    /// secrets (or there is no key yet and no saved secret needs one). [`Store::insert`] and
    /// [`Store::rotate_secret`] check the same under the lock; this lets a caller refuse before
    /// it asks for a secret and runs a check.
    pub fn check_key(&self) -> Result<(), Error> {
        let _lock = disk::lock_shared(&self.path(LOCK_FILE))?;
        let records = self.read_locked()?;
        let key_path = self.path(KEY_FILE);
        match SecretKey::load(&key_path)? {
            Some(key) => self.matching(key, &records).map(drop),
            None if records.is_empty() => Ok(()),
            None => Err(missing_key(&key_path, &records)),
        }
    }

    /// What the user should fix in the data directory although it works: a key file that
    /// other users can read or replace. Reads only metadata and changes nothing; an unusable
    /// key file is reported by the operations that need the key, not here.
    pub fn warnings(&self) -> Vec<StoreWarning> {
        let path = self.path(KEY_FILE);
        crypto::loose_mode(&path)
            .map(|mode| StoreWarning::KeyPermissions { path, mode })
            .into_iter()
            .collect()
    }

    /// Saves a checked draft that imports `tables` as a new source ([`Error::NameTaken`] if the
    /// name is in use).
    pub fn insert(
        &self,
        draft: &Draft,
        tables: &[String],
        report: CheckReport,
        created_at: OffsetDateTime,
    ) -> Result<StoredSource, Error> {
        self.change(|records| {
            let name = draft.name.trim();
            if position(records, name).is_ok() {
                return Err(Error::NameTaken {
                    name: name.to_owned(),
                });
            }
            let key = self.writing_key(records)?;
            let source = StoredSource {
                name: name.to_owned(),
                environment: draft.environment.clone(),
                tenant: draft.tenant.clone(),
                client_id: draft.client_id,
                tables: tables.to_vec(),
                secret_hint: secret_hint(&draft.client_secret),
                created_at,
                last_check: LastCheck::Passed(report),
            };
            let sealed = key.seal(&draft.client_secret, &source)?;
            records.push(SourceRecord::new(source.clone(), sealed));
            Ok(source)
        })
    }

    /// Records the outcome of a new check of the source named `name`.
    pub fn record_check(&self, name: &str, check: LastCheck) -> Result<StoredSource, Error> {
        self.change_existing(name, |records| {
            let index = position(records, name)?;
            let record = &mut records[index];
            record.set_last_check(check);
            Ok(record.source())
        })
    }

    /// Replaces the secret of the source named `name` (after the new secret passed a check).
    pub fn rotate_secret(
        &self,
        name: &str,
        secret: &SecretString,
        report: CheckReport,
    ) -> Result<StoredSource, Error> {
        self.change_existing(name, |records| {
            let index = position(records, name)?;
            let key = self.writing_key(records)?;
            let record = &mut records[index];
            let sealed = key.seal(secret, &record.source())?;
            record.set_client_secret(sealed, secret_hint(secret));
            record.set_last_check(LastCheck::Passed(report));
            Ok(record.source())
        })
    }

    /// Removes the source named `name` and returns it.
    pub fn remove(&self, name: &str) -> Result<StoredSource, Error> {
        self.change_existing(name, |records| {
            let index = position(records, name)?;
            Ok(records.remove(index).source())
        })
    }

    fn path(&self, file_name: &str) -> PathBuf {
        self.dir.join(file_name)
    }

    /// The records, under the shared lock.
    fn read(&self) -> Result<Vec<SourceRecord>, Error> {
        let _lock = disk::lock_shared(&self.path(LOCK_FILE))?;
        self.read_locked()
    }

    /// The records; the caller holds a lock (or there is no lock file yet).
    fn read_locked(&self) -> Result<Vec<SourceRecord>, Error> {
        let path = self.path(LIST_FILE);
        match disk::read(&path)? {
            None => Ok(Vec::new()),
            Some(bytes) => format::parse(&path, &bytes),
        }
    }

    /// Runs `apply` on the current records under the exclusive lock and writes the result
    /// atomically. Nothing is written when reading or `apply` fails.
    fn change<T>(
        &self,
        apply: impl FnOnce(&mut Vec<SourceRecord>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        disk::create_dir(&self.dir)?;
        let _lock = disk::lock_exclusive(&self.path(LOCK_FILE))?;
        let mut records = self.read_locked()?;
        let value = apply(&mut records)?;
        disk::replace(&self.path(LIST_FILE), &format::render(&records))?;
        Ok(value)
    }

    /// [`Store::change`] for a change to the source named `name`, which cannot exist when the
    /// directory does not: then the answer is [`Error::SourceNotFound`] and nothing is created.
    fn change_existing<T>(
        &self,
        name: &str,
        apply: impl FnOnce(&mut Vec<SourceRecord>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        if !disk::exists(&self.dir)? {
            return Err(Error::SourceNotFound {
                name: name.trim().to_owned(),
            });
        }
        self.change(apply)
    }

    /// The key to encrypt with, created on the first save. The caller holds the exclusive
    /// lock, so no other store creates one meanwhile.
    fn writing_key(&self, records: &[SourceRecord]) -> Result<SecretKey, Error> {
        let key_path = self.path(KEY_FILE);
        if let Some(key) = SecretKey::load(&key_path)? {
            return self.matching(key, records);
        }
        if !records.is_empty() {
            // A new key would make every saved secret undecryptable.
            return Err(missing_key(&key_path, records));
        }
        let key = SecretKey::create(&key_path)?;
        disk::sync_dir(&self.dir)?;
        Ok(key)
    }

    /// `key` if it opens at least one saved secret (or none is saved): a key that opens none
    /// is not the one they were saved with, and a secret saved under it would leave the list
    /// under two keys, one of them perhaps someone else's.
    fn matching(&self, key: SecretKey, records: &[SourceRecord]) -> Result<SecretKey, Error> {
        if records.is_empty() || records.iter().any(|record| opens(&key, record)) {
            Ok(key)
        } else {
            Err(self.key_mismatch(records))
        }
    }

    fn key_mismatch(&self, records: &[SourceRecord]) -> Error {
        Error::KeyMismatch {
            key_path: self.path(KEY_FILE),
            list_path: self.path(LIST_FILE),
            count: records.len(),
        }
    }
}

/// Something in the data directory that works but that the user should fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreWarning {
    /// The key file can be read or written by users other than its owner. The store only
    /// warns: it never changes a file's mode behind the user's back (reads change nothing, and
    /// the mode may be deliberate), and a silent fix would hide that the key may already have
    /// been read.
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits (`0o644`, ...).
        mode: u32,
    },
}

impl std::fmt::Display for StoreWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreWarning::KeyPermissions { path, mode } => write!(
                f,
                "the key file `{}` has mode {mode:04o}: other users can read or replace the key \
                 that encrypts the client secrets; run `chmod 600 {}`, and rotate the secrets if \
                 someone else may have read it",
                path.display(),
                path.display()
            ),
        }
    }
}

/// Whether `key` opens the secret of `record`.
fn opens(key: &SecretKey, record: &SourceRecord) -> bool {
    key.open(record.client_secret(), &record.source()).is_some()
}

/// The index of the source named `name`, compared trimmed and lower-cased.
fn position(records: &[SourceRecord], name: &str) -> Result<usize, Error> {
    let wanted = name_key(name);
    records
        .iter()
        .position(|record| name_key(record.name()) == wanted)
        .ok_or_else(|| Error::SourceNotFound {
            name: name.trim().to_owned(),
        })
}

fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn missing_key(key_path: &Path, records: &[SourceRecord]) -> Error {
    Error::Key {
        path: key_path.to_owned(),
        reason: format!(
            "it is missing, and the {} saved source(s) were encrypted with it; restore it, or \
             move the source list away to start over",
            records.len()
        ),
    }
}

/// The hint shown in place of a secret: its first three characters and a fixed `*****`, or
/// only `*****` for a secret shorter than eight characters (three of seven would give away
/// too much). The count is fixed so the hint does not reveal the length.
fn secret_hint(secret: &SecretString) -> String {
    const MASK: &str = "*****";
    let secret = secret.expose_secret();
    if secret.chars().count() < 8 {
        return MASK.to_owned();
    }
    let mut hint: String = secret.chars().take(3).collect();
    hint.push_str(MASK);
    hint
}
