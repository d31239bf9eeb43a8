//! Data keys, field sealing and blind indexes.

use std::collections::HashMap;
use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{CryptoError, random_bytes};

const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const SEAL_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 16 + NONCE_LEN;

/// The identifier of a data key, written in front of everything it seals.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Uuid);

impl KeyId {
    /// A new, time-ordered key id (UUIDv7).
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id as 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// Rebuilds an id from its 16 bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(Uuid::from_bytes(bytes))
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

impl std::str::FromStr for KeyId {
    type Err = CryptoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s)
            .map(Self)
            .map_err(|_| CryptoError::Malformed)
    }
}

/// What a data key is for. A key is never used for two purposes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// Sealing personal fields (AES-256-GCM).
    Field,
    /// Computing blind indexes (HMAC-SHA-256).
    BlindIndex,
}

impl KeyPurpose {
    /// The stable name stored beside the wrapped key.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Field => "field",
            KeyPurpose::BlindIndex => "blind-index",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "field" => Some(KeyPurpose::Field),
            "blind-index" => Some(KeyPurpose::BlindIndex),
            _ => None,
        }
    }
}

/// The 256 secret bits of a data key, wiped from memory when dropped.
pub struct DataKeyMaterial(Zeroizing<[u8; KEY_LEN]>);

impl fmt::Debug for DataKeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKeyMaterial(..)")
    }
}

impl DataKeyMaterial {
    /// Fresh random key material.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        random_bytes(bytes.as_mut())?;
        Ok(Self(bytes))
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| CryptoError::Malformed)?;
        Ok(Self(Zeroizing::new(array)))
    }

    pub(crate) fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// Seals and opens personal fields with AES-256-GCM under a ring of data keys.
///
/// Sealed layout: `version (1) ‖ key id (16) ‖ nonce (12) ‖ ciphertext ‖ tag (16)`. New data is
/// always sealed under the active key; older keys stay in the ring so that rows sealed before a
/// rotation still open. The associated data binds a ciphertext to its row and column, so a
/// sealed value copied into another row fails to open.
///
/// Nonces are random; NIST SP 800-38D §8.3 bounds one key to 2^32 random-nonce messages, so
/// rotate the field key well before that (a national population is ~10^8 rows).
pub struct FieldCipher {
    active: KeyId,
    keys: HashMap<KeyId, LessSafeKey>,
}

impl fmt::Debug for FieldCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldCipher")
            .field("active", &self.active)
            .field("keys", &self.keys.len())
            .finish()
    }
}

impl FieldCipher {
    /// Builds a ring from data keys; `active` must be among them.
    pub fn new(
        active: KeyId,
        keys: impl IntoIterator<Item = (KeyId, DataKeyMaterial)>,
    ) -> Result<Self, CryptoError> {
        let mut ring = HashMap::new();
        for (kid, material) in keys {
            let unbound = UnboundKey::new(&AES_256_GCM, material.expose())
                .map_err(|_| CryptoError::Malformed)?;
            ring.insert(kid, LessSafeKey::new(unbound));
        }
        if !ring.contains_key(&active) {
            return Err(CryptoError::UnknownKey);
        }
        Ok(Self { active, keys: ring })
    }

    /// The key new data is sealed under.
    pub fn active_key(&self) -> KeyId {
        self.active
    }

    /// Seals `plaintext`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let key = self.keys.get(&self.active).ok_or(CryptoError::UnknownKey)?;
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        // Room for the tag up front: growing the buffer would leave a copy of the plaintext
        // behind in freed memory.
        let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
        body.extend_from_slice(plaintext);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut *body,
        )
        .map_err(|_| CryptoError::Random)?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.push(SEAL_VERSION);
        out.extend_from_slice(self.active.as_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Opens what [`FieldCipher::seal`] sealed under the same `aad`. The plaintext is wiped
    /// from memory when dropped.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let kid = Self::key_id_of(sealed)?;
        let key = self.keys.get(&kid).ok_or(CryptoError::UnknownKey)?;
        let nonce = Nonce::try_assume_unique_for_key(&sealed[17..HEADER_LEN])
            .map_err(|_| CryptoError::Malformed)?;
        let mut body = Zeroizing::new(sealed[HEADER_LEN..].to_vec());
        let len = key
            .open_in_place(nonce, Aad::from(aad), body.as_mut_slice())
            .map_err(|_| CryptoError::OpenFailed)?
            .len();
        body.truncate(len);
        Ok(body)
    }

    /// The id of the key a sealed value was sealed under, to find rows to re-seal after a
    /// rotation.
    pub fn key_id_of(sealed: &[u8]) -> Result<KeyId, CryptoError> {
        if sealed.len() < HEADER_LEN + TAG_LEN || sealed[0] != SEAL_VERSION {
            return Err(CryptoError::Malformed);
        }
        let mut kid = [0u8; 16];
        kid.copy_from_slice(&sealed[1..17]);
        Ok(KeyId::from_bytes(kid))
    }
}

/// Computes keyed blind indexes: `HMAC-SHA-256(key, domain ‖ 0x00 ‖ value)`.
///
/// The domain separates indexes of different kinds of value, so that equal strings of two
/// kinds never share an index.
pub struct BlindIndexKey(hmac::Key);

impl fmt::Debug for BlindIndexKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BlindIndexKey(..)")
    }
}

impl BlindIndexKey {
    /// A blind-index key from data key material.
    pub fn new(material: &DataKeyMaterial) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, material.expose()))
    }

    /// The index of `value` in `domain`.
    pub fn index(&self, domain: &str, value: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(domain.as_bytes());
        ctx.update(&[0]);
        ctx.update(value);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ring() -> (FieldCipher, KeyId) {
        let kid = KeyId::generate();
        let cipher = FieldCipher::new(kid, [(kid, DataKeyMaterial::generate().unwrap())]).unwrap();
        (cipher, kid)
    }

    #[test]
    fn seal_open_round_trip_hides_plaintext() {
        let (cipher, kid) = ring();
        let plain = "Nguyễn Thị Đào 001190012345".as_bytes();
        let sealed = cipher.seal(b"person:1", plain).unwrap();
        assert_eq!(FieldCipher::key_id_of(&sealed).unwrap(), kid);
        assert!(!sealed.windows(plain.len()).any(|w| w == plain));
        assert_eq!(cipher.open(b"person:1", &sealed).unwrap().as_slice(), plain);
        // Two seals of the same value differ (random nonce).
        assert_ne!(sealed, cipher.seal(b"person:1", plain).unwrap());
    }

    #[test]
    fn wrong_row_tampering_and_unknown_keys_fail() {
        let (cipher, _) = ring();
        let sealed = cipher.seal(b"person:1", b"secret").unwrap();
        assert!(matches!(
            cipher.open(b"person:2", &sealed),
            Err(CryptoError::OpenFailed)
        ));
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            cipher.open(b"person:1", &flipped),
            Err(CryptoError::OpenFailed)
        ));
        let (other, _) = ring();
        assert!(matches!(
            other.open(b"person:1", &sealed),
            Err(CryptoError::UnknownKey)
        ));
        assert!(matches!(
            cipher.open(b"person:1", &sealed[..20]),
            Err(CryptoError::Malformed)
        ));
    }

    #[test]
    fn rotation_keeps_old_rows_readable() {
        let old = KeyId::generate();
        let old_material = DataKeyMaterial::generate().unwrap();
        let old_bytes = *old_material.expose();
        let before = FieldCipher::new(old, [(old, old_material)]).unwrap();
        let sealed_before = before.seal(b"row", b"value").unwrap();

        let new = KeyId::generate();
        let after = FieldCipher::new(
            new,
            [
                (old, DataKeyMaterial::from_slice(&old_bytes).unwrap()),
                (new, DataKeyMaterial::generate().unwrap()),
            ],
        )
        .unwrap();
        let sealed_after = after.seal(b"row", b"value").unwrap();
        assert_eq!(FieldCipher::key_id_of(&sealed_after).unwrap(), new);
        assert_eq!(
            after.open(b"row", &sealed_before).unwrap().as_slice(),
            b"value"
        );
        assert!(before.open(b"row", &sealed_after).is_err());
    }

    #[test]
    fn blind_index_is_keyed_and_domain_separated() {
        let a = BlindIndexKey::new(&DataKeyMaterial::generate().unwrap());
        let b = BlindIndexKey::new(&DataKeyMaterial::generate().unwrap());
        let x = a.index("citizen-number", b"001190012345");
        assert_eq!(x, a.index("citizen-number", b"001190012345"));
        assert_ne!(x, a.index("citizen-number", b"001190012346"));
        assert_ne!(x, a.index("msisdn", b"001190012345"));
        assert_ne!(x, b.index("citizen-number", b"001190012345"));
    }
}
