//! The key that encrypts client secrets at rest and the sealing of one secret. `sources.key`
//! holds [`KEY_LEN`] raw random bytes; it is created once (mode 0600, `create_new`) and never
//! rewritten, because a new key would orphan every stored secret. Each secret is sealed with
//! AES-256-GCM under a fresh random nonce, with associated data that binds it to its source.
//! Nothing here prints key material or plaintext.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use secrecy::zeroize::{Zeroize as _, Zeroizing};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};

use super::StoredSource;
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
    /// Reads the key file; `None` when there is none.
    pub(super) fn load(path: &Path) -> Result<Option<SecretKey>, Error> {
        let bytes = match fs::read(path) {
            Ok(bytes) => Zeroizing::new(bytes),
            Err(source) if source.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(Error::Io {
                    action: "read",
                    path: path.to_owned(),
                    source,
                });
            }
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
