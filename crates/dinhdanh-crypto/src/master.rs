//! The master key: the root of the key hierarchy, kept outside the database.

use std::fs::OpenOptions;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{hkdf, hmac};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use zeroize::Zeroizing;

use crate::field::{DataKeyMaterial, KeyId, KeyPurpose};
use crate::{CryptoError, random_bytes};

/// The environment variable that may carry the master key (32 bytes, base64).
pub const MASTER_KEY_ENV: &str = "DINHDANH_MASTER_KEY";

const KEY_LEN: usize = 32;
const WRAP_VERSION: u8 = 1;

/// The 256-bit master key. It only wraps and unwraps data keys; it never seals data itself.
#[derive(Clone)]
pub struct MasterKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A fresh random master key.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random_bytes(bytes.as_mut())?;
        Ok(Self { bytes })
    }

    /// Decodes a master key given as base64 (standard or URL-safe, padding optional), as in
    /// the `DINHDANH_MASTER_KEY` environment variable.
    pub fn from_base64(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        let decoded = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .or_else(|_| STANDARD.decode(text))
                .map_err(|_| CryptoError::MasterKeyEncoding)?,
        );
        let bytes: [u8; KEY_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::MasterKeyEncoding)?;
        Ok(Self {
            bytes: Zeroizing::new(bytes),
        })
    }

    /// The key as URL-safe base64, for writing it to the key file or printing it once to an
    /// operator who asked for it.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(URL_SAFE_NO_PAD.encode(self.bytes.as_ref()))
    }

    /// Reads the master key from `path`, or creates the file with a new random key. Returns
    /// the key and whether it was created now. A file readable by group or others is refused.
    ///
    /// Creation is atomic: the key is written and synced to a private temporary file, which is
    /// then hard-linked to `path` (a link never replaces an existing name). A crash leaves no
    /// half-written key file, and of two processes starting at once, the second reads the
    /// first one's key.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), CryptoError> {
        match Self::load(path) {
            Err(CryptoError::KeyFile { source, .. }) if source.kind() == ErrorKind::NotFound => {}
            other => return other.map(|key| (key, false)),
        }
        let key = Self::generate()?;
        let key_file_error = |source| CryptoError::KeyFile {
            path: path.to_path_buf(),
            source,
        };
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let mut suffix = [0u8; 8];
        random_bytes(&mut suffix)?;
        let temporary = dir.join(format!(
            ".{}.{}.tmp",
            path.file_name()
                .map_or("master.key".into(), |n| n.to_string_lossy()),
            u64::from_le_bytes(suffix)
        ));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)
            .and_then(|mut file| {
                file.write_all(key.to_base64().as_bytes())?;
                file.write_all(b"\n")?;
                file.sync_all()
            })
            .and_then(|()| std::fs::hard_link(&temporary, path));
        let _ = std::fs::remove_file(&temporary);
        match written {
            Ok(()) => {
                // Make the new name durable.
                if let Ok(dir) = std::fs::File::open(dir) {
                    let _ = dir.sync_all();
                }
                Ok((key, true))
            }
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                Self::load(path).map(|key| (key, false))
            }
            Err(err) => Err(key_file_error(err)),
        }
    }

    /// Reads the master key file; refuses one readable by group or others.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let key_file_error = |source| CryptoError::KeyFile {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .open(path)
            .map_err(key_file_error)?;
        let mode = file
            .metadata()
            .map_err(key_file_error)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(CryptoError::KeyFilePermissions {
                path: path.to_path_buf(),
            });
        }
        let mut text = Zeroizing::new(String::with_capacity(64));
        file.read_to_string(&mut text).map_err(key_file_error)?;
        Self::from_base64(&text)
    }

    /// The HKDF-SHA-256 pseudo-random key (RFC 5869) from which every use of the master key
    /// derives its own subkey, so that the master key itself never keys two algorithms.
    fn prk(&self) -> hkdf::Prk {
        hkdf::Salt::new(hkdf::HKDF_SHA256, b"dinhdanh master key v1").extract(self.bytes.as_ref())
    }

    /// A value that identifies this master key without revealing it (HMAC of a fixed label
    /// under a derived subkey), stored beside the data so that starting with the wrong master
    /// key fails clearly.
    pub fn check_value(&self) -> Result<[u8; 32], CryptoError> {
        let prk = self.prk();
        let okm = prk
            .expand(&[b"check value"], hmac::HMAC_SHA256)
            .map_err(|_| CryptoError::Random)?;
        let key = hmac::Key::from(okm);
        let tag = hmac::sign(&key, b"dinhdanh master key check value v1");
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    fn wrapping_key(&self) -> Result<LessSafeKey, CryptoError> {
        let prk = self.prk();
        let okm = prk
            .expand(&[b"data key wrapping"], &AES_256_GCM)
            .map_err(|_| CryptoError::Random)?;
        Ok(LessSafeKey::new(UnboundKey::from(okm)))
    }

    /// Encrypts a data key for storage. The key id and purpose are authenticated, so a wrapped
    /// key cannot be relabelled in the database.
    pub fn wrap(
        &self,
        kid: KeyId,
        purpose: KeyPurpose,
        material: &DataKeyMaterial,
    ) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + KEY_LEN + 16);
        out.push(WRAP_VERSION);
        out.extend_from_slice(&nonce);
        // Room for the tag up front: growing the buffer would leave a copy of the key behind.
        let mut body = Zeroizing::new(Vec::with_capacity(KEY_LEN + 16));
        body.extend_from_slice(material.expose());
        self.wrapping_key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(wrap_aad(kid, purpose)),
                &mut *body,
            )
            .map_err(|_| CryptoError::Random)?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decrypts a data key wrapped by [`MasterKey::wrap`] under the same id and purpose.
    pub fn unwrap(
        &self,
        kid: KeyId,
        purpose: KeyPurpose,
        wrapped: &[u8],
    ) -> Result<DataKeyMaterial, CryptoError> {
        let (&version, rest) = wrapped.split_first().ok_or(CryptoError::Malformed)?;
        if version != WRAP_VERSION || rest.len() != NONCE_LEN + KEY_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Malformed)?;
        let mut body = Zeroizing::new(body.to_vec());
        let plain = self
            .wrapping_key()?
            .open_in_place(
                nonce,
                Aad::from(wrap_aad(kid, purpose)),
                body.as_mut_slice(),
            )
            .map_err(|_| CryptoError::WrongMasterKey)?;
        DataKeyMaterial::from_slice(plain)
    }
}

fn wrap_aad(kid: KeyId, purpose: KeyPurpose) -> Vec<u8> {
    let mut aad = b"dinhdanh data key v1\0".to_vec();
    aad.extend_from_slice(kid.as_bytes());
    aad.extend_from_slice(purpose.as_str().as_bytes());
    aad
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn key_file_is_created_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        let (first, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(created);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (second, created) = MasterKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(first.check_value().unwrap(), second.check_value().unwrap());
    }

    #[test]
    fn creation_leaves_no_temporary_file_and_an_existing_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        // Two creators at once: both end with the same key, one of them created it.
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| MasterKey::load_or_create(&path).unwrap());
            let b = scope.spawn(|| MasterKey::load_or_create(&path).unwrap());
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!(a.0.check_value().unwrap(), b.0.check_value().unwrap());
        assert!(a.1 ^ b.1, "exactly one creates the key");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("master.key")]);
    }

    #[test]
    fn an_empty_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        std::fs::write(&path, "").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(
            MasterKey::load_or_create(&path),
            Err(CryptoError::MasterKeyEncoding)
        ));
    }

    #[test]
    fn key_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("master.key");
        MasterKey::load_or_create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            MasterKey::load_or_create(&path),
            Err(CryptoError::KeyFilePermissions { .. })
        ));
    }

    #[test]
    fn base64_forms_decode_and_bad_lengths_fail() {
        let key = MasterKey::generate().unwrap();
        let text = key.to_base64();
        let again = MasterKey::from_base64(&text).unwrap();
        assert_eq!(key.check_value().unwrap(), again.check_value().unwrap());
        let standard = STANDARD.encode(key.bytes.as_ref());
        assert_eq!(
            MasterKey::from_base64(&standard)
                .unwrap()
                .check_value()
                .unwrap(),
            key.check_value().unwrap()
        );
        assert!(MasterKey::from_base64("c2hvcnQ").is_err());
        assert!(MasterKey::from_base64("not base64 at all!").is_err());
    }

    #[test]
    fn wrapped_key_opens_only_under_same_master_id_and_purpose() {
        let master = MasterKey::generate().unwrap();
        let other = MasterKey::generate().unwrap();
        let kid = KeyId::generate();
        let material = DataKeyMaterial::generate().unwrap();
        let wrapped = master.wrap(kid, KeyPurpose::Field, &material).unwrap();
        let opened = master.unwrap(kid, KeyPurpose::Field, &wrapped).unwrap();
        assert_eq!(opened.expose(), material.expose());
        assert!(matches!(
            other.unwrap(kid, KeyPurpose::Field, &wrapped),
            Err(CryptoError::WrongMasterKey)
        ));
        assert!(
            master
                .unwrap(KeyId::generate(), KeyPurpose::Field, &wrapped)
                .is_err()
        );
        assert!(
            master
                .unwrap(kid, KeyPurpose::BlindIndex, &wrapped)
                .is_err()
        );
        assert!(!wrapped.windows(32).any(|w| w == material.expose()));
    }
}
