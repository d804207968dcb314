//! The key that encrypts client secrets at rest, and the sealing of one secret. `sources.key`:
//! [`KEY_LEN`] random bytes, created once (mode 0600, `create_new`), never rewritten (a new key
//! orphans every stored secret), read only as a regular file of that size. Each secret is
//! sealed with AES-256-GCM under a fresh nonce, its associated data binding it to its source;
//! nothing here prints key material or plaintext.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::zeroize::{Zeroize as _, Zeroizing};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::{StoredSource, disk};
use crate::Error;

/// The size of the key file: an AES-256 key.
pub(super) const KEY_LEN: usize = 32;

/// A client secret as the list stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SealedSecret {
    /// The GCM nonce, base64.
    #[serde(with = "base64_nonce")]
    pub(super) nonce: [u8; NONCE_LEN],
    /// The ciphertext followed by the 16-byte tag, base64.
    #[serde(with = "base64_bytes")]
    pub(super) ciphertext: Vec<u8>,
}

/// The key of one data directory, loaded from its key file.
pub(super) struct SecretKey {
    key: LessSafeKey,
    path: PathBuf,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key", &"[redacted]")
            .field("path", &self.path)
            .finish()
    }
}

impl SecretKey {
    /// Reads the key file; `None` when there is none. Only a regular file (a symbolic link is
    /// followed) of exactly [`KEY_LEN`] bytes is read: a device, a FIFO or a huge file is
    /// refused from its metadata, before it is opened, so it can neither hang nor exhaust
    /// memory.
    pub(super) fn load(path: &Path) -> Result<Option<SecretKey>, Error> {
        let Some(bytes) = read_key_file(path)? else {
            return Ok(None);
        };
        SecretKey::from_bytes(path, &bytes).map(Some)
    }

    /// Creates the key file with fresh random bytes. Fails rather than overwrite an existing
    /// file; the caller fsyncs the directory.
    pub(super) fn create(path: &Path) -> Result<SecretKey, Error> {
        let mut bytes = Zeroizing::new([0_u8; KEY_LEN]);
        aws_lc_rs::rand::fill(bytes.as_mut_slice()).map_err(|_| Error::Key {
            path: path.to_owned(),
            reason: "the system random number generator failed".to_owned(),
        })?;
        let io_error = |action, source| Error::Io {
            action,
            path: path.to_owned(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options
            .open(path)
            .map_err(|source| io_error("create", source))?;
        file.write_all(bytes.as_slice())
            .map_err(|source| io_error("write", source))?;
        file.sync_all().map_err(|source| io_error("sync", source))?;
        SecretKey::from_bytes(path, bytes.as_slice())
    }

    fn from_bytes(path: &Path, bytes: &[u8]) -> Result<SecretKey, Error> {
        if bytes.len() != KEY_LEN {
            return Err(Error::Key {
                path: path.to_owned(),
                reason: format!(
                    "it holds {} bytes, an AES-256 key has {KEY_LEN}",
                    bytes.len()
                ),
            });
        }
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| Error::Key {
            path: path.to_owned(),
            reason: "AES-256-GCM refused the key".to_owned(),
        })?;
        Ok(SecretKey {
            key: LessSafeKey::new(unbound),
            path: path.to_owned(),
        })
    }

    /// Encrypts `secret` for `source` under a fresh random nonce.
    pub(super) fn seal(
        &self,
        secret: &SecretString,
        source: &StoredSource,
    ) -> Result<SealedSecret, Error> {
        let failed = |reason: &str| Error::Key {
            path: self.path.clone(),
            reason: reason.to_owned(),
        };
        let mut nonce = [0_u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce)
            .map_err(|_| failed("the system random number generator failed"))?;
        let mut in_out = secret.expose_secret().as_bytes().to_vec();
        let sealed = self.key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated_data(source)),
            &mut in_out,
        );
        if sealed.is_err() {
            in_out.zeroize();
            return Err(failed("AES-256-GCM encryption failed"));
        }
        Ok(SealedSecret {
            nonce,
            ciphertext: in_out,
        })
    }

    /// Decrypts the secret of `source`; `None` when the tag does not verify (another key, an
    /// edited file, or a ciphertext taken from another source).
    pub(super) fn open(
        &self,
        sealed: &SealedSecret,
        source: &StoredSource,
    ) -> Option<SecretString> {
        let mut in_out = Zeroizing::new(sealed.ciphertext.clone());
        let plaintext = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(sealed.nonce),
                Aad::from(associated_data(source)),
                in_out.as_mut_slice(),
            )
            .ok()?;
        // We only ever seal UTF-8; anything else authenticated under our key is not ours.
        std::str::from_utf8(plaintext).ok().map(SecretString::from)
    }
}

/// The bytes of the key file at `path` (see [`SecretKey::load`]).
fn read_key_file(path: &Path) -> Result<Option<Zeroizing<Vec<u8>>>, Error> {
    let io_error = |action, source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    };
    // `stat`, not `open`: opening a FIFO blocks until a writer appears, and opening a device
    // may have side effects.
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error("inspect", source)),
    };
    check_key_file(path, &metadata)?;
    // The path may be swapped between the `stat` and the `open`: non-blocking, the open of a
    // FIFO returns at once, and the `fstat` below refuses it.
    let file = disk::open_nonblocking(path).map_err(|source| io_error("open", source))?;
    let metadata = file
        .metadata()
        .map_err(|source| io_error("inspect", source))?;
    check_key_file(path, &metadata)?;
    // One byte more than a key, so a file that grew since the `fstat` is still caught, and
    // never more, whatever it became.
    let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN + 1));
    file.take(KEY_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| io_error("read", source))?;
    Ok(Some(bytes))
}

/// Refuses anything but a regular file of [`KEY_LEN`] bytes.
fn check_key_file(path: &Path, metadata: &fs::Metadata) -> Result<(), Error> {
    let refuse = |reason: String| {
        Err(Error::Key {
            path: path.to_owned(),
            reason,
        })
    };
    if !metadata.is_file() {
        return refuse(format!(
            "it is {}, not a regular file; move it away and restore the key file",
            disk::file_kind(&metadata.file_type())
        ));
    }
    if metadata.len() != KEY_LEN as u64 {
        return refuse(format!(
            "it holds {} bytes, an AES-256 key has {KEY_LEN}",
            metadata.len()
        ));
    }
    Ok(())
}

/// The permission bits of the key file that let other users than its owner read or replace
/// it (`mode & 0o077`), if any; `None` when there is no key file or it is not a regular file
/// (loading it reports that).
#[cfg(unix)]
pub(super) fn loose_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata = fs::metadata(path).ok()?;
    let mode = metadata.permissions().mode() & 0o777;
    (metadata.is_file() && mode & 0o077 != 0).then_some(mode)
}

/// Other platforms have no Unix mode to check.
#[cfg(not(unix))]
pub(super) fn loose_mode(_path: &Path) -> Option<u32> {
    None
}

/// What a ciphertext is bound to: a label for this use of the key, then the fields that
/// identify the source and that no operation changes. Each part is length-prefixed, so no two
/// different sources share associated data.
fn associated_data(source: &StoredSource) -> Vec<u8> {
    let tenant = source.tenant.to_string();
    let client_id = source.client_id.hyphenated().to_string();
    let parts: [&[u8]; 5] = [
        b"d365-source sources.json client_secret v1",
        source.name.as_bytes(),
        source.environment.as_str().as_bytes(),
        tenant.as_bytes(),
        client_id.as_bytes(),
    ];
    let mut data = Vec::new();
    for part in parts {
        data.extend_from_slice(&(part.len() as u64).to_be_bytes());
        data.extend_from_slice(part);
    }
    data
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize as _, Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD
            .decode(text)
            .map_err(|error| de::Error::custom(format_args!("invalid base64: {error}")))
    }
}

mod base64_nonce {
    use aws_lc_rs::aead::NONCE_LEN;
    use serde::{Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(
        nonce: &[u8; NONCE_LEN],
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        super::base64_bytes::serialize(nonce, serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<[u8; NONCE_LEN], D::Error> {
        let bytes = super::base64_bytes::deserialize(deserializer)?;
        <[u8; NONCE_LEN]>::try_from(bytes.as_slice()).map_err(|_| {
            de::Error::custom(format_args!(
                "a nonce has {NONCE_LEN} bytes, this one has {}",
                bytes.len()
            ))
        })
    }
}
