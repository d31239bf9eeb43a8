//! Key encapsulation with ML-KEM-768 (FIPS 203).
//!
//! This module owns the ML-KEM-768 key pair types and the FIPS 203 §7 input checks on keys and
//! ciphertexts that arrive from outside. The shared secret is handed out in a buffer that is
//! wiped when dropped.
//!
//! What it must never do: print a decapsulation key or a shared secret (`Debug` shows neither),
//! or accept a key that fails the FIPS 203 §7.2 / §7.3 checks.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::kem::{Ciphertext, DecapsulationKey, EncapsulationKey, ML_KEM_768};
use zeroize::Zeroizing;

use crate::CryptoError;

/// ML-KEM-768: k = 3 (FIPS 203 §8, Table 2).
const K: usize = 3;
/// Bytes of one encoded polynomial with 12-bit coefficients: 256 × 12 / 8.
const POLY_BYTES: usize = 384;
/// The modulus q of FIPS 203.
const Q: u16 = 3329;
/// `ek` = ByteEncode₁₂(t̂) ‖ ρ (FIPS 203 Algorithm 13).
const EK_LEN: usize = POLY_BYTES * K + 32;
/// `dk` = dk_PKE ‖ ek ‖ H(ek) ‖ z (FIPS 203 Algorithm 16).
const DK_LEN: usize = POLY_BYTES * K + EK_LEN + 32 + 32;
/// `c` = c₁ ‖ c₂ with d_u = 10, d_v = 4 (FIPS 203 Algorithm 14, Table 2).
const CIPHERTEXT_LEN: usize = 32 * (10 * K + 4);
/// The shared secret K (FIPS 203 Algorithm 17).
const SHARED_SECRET_LEN: usize = 32;

/// An ML-KEM-768 encapsulation key (public): what a peer encapsulates a fresh secret to.
///
/// Built only from bytes that passed the FIPS 203 §7.2 input check.
#[derive(Clone, PartialEq, Eq)]
pub struct KemEncapsulationKey {
    bytes: Box<[u8]>,
}

impl fmt::Debug for KemEncapsulationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head: String = self
            .bytes
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        f.debug_tuple("KemEncapsulationKey")
            .field(&format_args!("{head}… ({} bytes)", self.bytes.len()))
            .finish()
    }
}

impl KemEncapsulationKey {
    /// The length of an encapsulation key in bytes (1,184).
    pub const LEN: usize = EK_LEN;
    /// The length of a ciphertext in bytes (1,088).
    pub const CIPHERTEXT_LEN: usize = CIPHERTEXT_LEN;
    /// The length of a shared secret in bytes (32).
    pub const SHARED_SECRET_LEN: usize = SHARED_SECRET_LEN;

    /// Parses an encapsulation key `ek`, with the FIPS 203 §7.2 checks: the length (type
    /// check) and every 12-bit coefficient of t̂ below q (modulus check). Failing either gives
    /// [`CryptoError::InvalidKey`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        // aws-lc-rs checks only the length when it parses a key, and the modulus inside
        // `encapsulate`; checking here makes a bad key a caller error at parse time rather
        // than an internal failure at first use.
        if bytes.len() != EK_LEN || !coefficients_below_q(&bytes[..POLY_BYTES * K]) {
            return Err(CryptoError::InvalidKey);
        }
        EncapsulationKey::new(&ML_KEM_768, bytes).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            bytes: bytes.into(),
        })
    }

    /// The encoded key `ek`.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Encapsulates a fresh shared secret to this key (FIPS 203 Algorithm 20,
    /// ML-KEM.Encaps): returns the ciphertext to send and the 32-byte shared secret to keep.
    pub fn encapsulate(&self) -> Result<(Vec<u8>, Zeroizing<Vec<u8>>), CryptoError> {
        // Parsed again here rather than kept: the library's key type cannot be cloned, and the
        // parse is a copy of 1,184 bytes next to an encapsulation.
        let key =
            EncapsulationKey::new(&ML_KEM_768, &self.bytes).map_err(|_| CryptoError::Internal)?;
        let (ciphertext, secret) = key.encapsulate().map_err(|_| CryptoError::Internal)?;
        Ok((
            ciphertext.as_ref().to_vec(),
            Zeroizing::new(secret.as_ref().to_vec()),
        ))
    }
}

/// An ML-KEM-768 decapsulation key (private), with its encapsulation key.
///
/// `Debug` prints nothing of the key.
pub struct KemDecapsulationKey {
    key: DecapsulationKey,
    encapsulation_key: KemEncapsulationKey,
}

impl fmt::Debug for KemDecapsulationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KemDecapsulationKey")
            .field("encapsulation_key", &self.encapsulation_key)
            .finish_non_exhaustive()
    }
}

impl KemDecapsulationKey {
    /// The length of a decapsulation key in bytes (2,400).
    pub const LEN: usize = DK_LEN;

    /// A new random key pair (FIPS 203 Algorithm 19, ML-KEM.KeyGen), from aws-lc-rs's CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        let key = DecapsulationKey::generate(&ML_KEM_768).map_err(|_| CryptoError::Internal)?;
        let ek = key
            .encapsulation_key()
            .and_then(|ek| ek.key_bytes())
            .map_err(|_| CryptoError::Internal)?;
        let encapsulation_key =
            KemEncapsulationKey::from_bytes(ek.as_ref()).map_err(|_| CryptoError::Internal)?;
        Ok(Self {
            key,
            encapsulation_key,
        })
    }

    /// Rebuilds a key from its FIPS 203 encoding `dk` = dk_PKE ‖ ek ‖ H(ek) ‖ z, with the
    /// FIPS 203 §7.3 checks: the length (type check) and H(ek) = SHA3-256 of the embedded `ek`
    /// (hash check). The embedded `ek` must also pass the §7.2 checks, and becomes this key's
    /// [`KemDecapsulationKey::encapsulation_key`]. Any failure gives
    /// [`CryptoError::InvalidKey`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        if bytes.len() != DK_LEN {
            return Err(CryptoError::InvalidKey);
        }
        let ek_start = POLY_BYTES * K;
        let ek = &bytes[ek_start..ek_start + EK_LEN];
        let hash = &bytes[ek_start + EK_LEN..ek_start + EK_LEN + 32];
        // FIPS 203 §7.3, step 3: H is SHA3-256 (§4.1).
        if digest::digest(&digest::SHA3_256, ek).as_ref() != hash {
            return Err(CryptoError::InvalidKey);
        }
        let encapsulation_key = KemEncapsulationKey::from_bytes(ek)?;
        let key = DecapsulationKey::new(&ML_KEM_768, bytes).map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            key,
            encapsulation_key,
        })
    }

    /// The encoded key `dk`, as [`KemDecapsulationKey::from_bytes`] takes it. The caller must
    /// keep it secret; the buffer is wiped when dropped.
    pub fn private_bytes(&self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let bytes = self.key.key_bytes().map_err(|_| CryptoError::Internal)?;
        Ok(Zeroizing::new(bytes.as_ref().to_vec()))
    }

    /// The matching encapsulation key, to publish.
    pub fn encapsulation_key(&self) -> KemEncapsulationKey {
        self.encapsulation_key.clone()
    }

    /// Recovers the shared secret from a ciphertext (FIPS 203 Algorithm 21, ML-KEM.Decaps).
    ///
    /// A ciphertext of the wrong length gives [`CryptoError::InvalidCiphertext`] (§7.3
    /// ciphertext type check). Any ciphertext of the right length yields 32 bytes: an altered
    /// one yields the implicit-rejection secret, which matches nothing the sender holds, so
    /// a protocol finds out at its next authenticated step.
    pub fn decapsulate(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        if ciphertext.len() != CIPHERTEXT_LEN {
            return Err(CryptoError::InvalidCiphertext);
        }
        let secret = self
            .key
            .decapsulate(Ciphertext::from(ciphertext))
            .map_err(|_| CryptoError::Internal)?;
        Ok(Zeroizing::new(secret.as_ref().to_vec()))
    }
}

/// FIPS 203 §7.2, modulus check: ByteEncode₁₂(ByteDecode₁₂(t̂)) = t̂, which holds exactly when
/// every 12-bit little-endian coefficient is below q (ByteDecode₁₂ reduces modulo q, §4.2.1).
fn coefficients_below_q(encoded: &[u8]) -> bool {
    encoded.chunks_exact(3).all(|three| {
        let (b0, b1, b2) = (
            u16::from(three[0]),
            u16::from(three[1]),
            u16::from(three[2]),
        );
        let low = b0 | ((b1 & 0x0f) << 8);
        let high = (b1 >> 4) | (b2 << 4);
        low < Q && high < Q
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lengths_match_fips_203() {
        assert_eq!(KemEncapsulationKey::LEN, 1184);
        assert_eq!(KemDecapsulationKey::LEN, 2400);
        assert_eq!(KemEncapsulationKey::CIPHERTEXT_LEN, 1088);
        assert_eq!(KemEncapsulationKey::SHARED_SECRET_LEN, 32);
    }

    #[test]
    fn both_sides_agree_and_keys_round_trip() {
        let dk = KemDecapsulationKey::generate().unwrap();
        let ek = dk.encapsulation_key();
        assert_eq!(ek.as_bytes().len(), KemEncapsulationKey::LEN);
        let (ciphertext, sent) = ek.encapsulate().unwrap();
        assert_eq!(ciphertext.len(), KemEncapsulationKey::CIPHERTEXT_LEN);
        assert_eq!(sent.len(), 32);
        assert_eq!(*dk.decapsulate(&ciphertext).unwrap(), *sent);

        // Two encapsulations give different ciphertexts and secrets.
        let (ciphertext2, sent2) = ek.encapsulate().unwrap();
        assert_ne!(ciphertext, ciphertext2);
        assert_ne!(*sent, *sent2);

        // The stored forms rebuild the same keys.
        let private = dk.private_bytes().unwrap();
        assert_eq!(private.len(), KemDecapsulationKey::LEN);
        let dk2 = KemDecapsulationKey::from_bytes(&private).unwrap();
        assert_eq!(dk2.encapsulation_key(), ek);
        assert_eq!(*dk2.decapsulate(&ciphertext2).unwrap(), *sent2);
        let ek2 = KemEncapsulationKey::from_bytes(ek.as_bytes()).unwrap();
        let (ciphertext3, sent3) = ek2.encapsulate().unwrap();
        assert_eq!(*dk.decapsulate(&ciphertext3).unwrap(), *sent3);
    }

    #[test]
    fn an_altered_ciphertext_yields_another_secret() {
        let dk = KemDecapsulationKey::generate().unwrap();
        let (mut ciphertext, sent) = dk.encapsulation_key().encapsulate().unwrap();
        ciphertext[100] ^= 0x04;
        let received = dk.decapsulate(&ciphertext).unwrap();
        assert_eq!(received.len(), 32);
        assert_ne!(*received, *sent);
        // Another key pair does not recover it either.
        let (ciphertext, sent) = dk.encapsulation_key().encapsulate().unwrap();
        let other = KemDecapsulationKey::generate().unwrap();
        assert_ne!(*other.decapsulate(&ciphertext).unwrap(), *sent);
    }

    #[test]
    fn wrong_lengths_are_refused() {
        let dk = KemDecapsulationKey::generate().unwrap();
        for len in [0, 1087, 1089] {
            assert!(matches!(
                dk.decapsulate(&vec![0u8; len]),
                Err(CryptoError::InvalidCiphertext)
            ));
        }
        let ek = dk.encapsulation_key();
        let private = dk.private_bytes().unwrap();
        for bad in [&ek.as_bytes()[1..], &[][..]] {
            assert!(matches!(
                KemEncapsulationKey::from_bytes(bad),
                Err(CryptoError::InvalidKey)
            ));
        }
        for bad in [&private[1..], &[][..]] {
            assert!(matches!(
                KemDecapsulationKey::from_bytes(bad),
                Err(CryptoError::InvalidKey)
            ));
        }
    }

    #[test]
    fn fips_203_key_checks_refuse_altered_keys() {
        let dk = KemDecapsulationKey::generate().unwrap();
        let ek = dk.encapsulation_key();

        // §7.2: the first coefficient of t̂ (the low 12 bits of the first three bytes, little
        // endian) set to q = 3329 = 0xD01 is refused, q − 1 = 0xD00 passes.
        let mut bad_ek = ek.as_bytes().to_vec();
        bad_ek[0] = 0x01;
        bad_ek[1] = (bad_ek[1] & 0xf0) | 0x0d;
        assert!(matches!(
            KemEncapsulationKey::from_bytes(&bad_ek),
            Err(CryptoError::InvalidKey)
        ));
        bad_ek[0] = 0x00;
        KemEncapsulationKey::from_bytes(&bad_ek).unwrap();
        // The same for the second coefficient (high 12 bits): 0xFFF.
        let mut bad_ek = ek.as_bytes().to_vec();
        bad_ek[1] |= 0xf0;
        bad_ek[2] = 0xff;
        assert!(matches!(
            KemEncapsulationKey::from_bytes(&bad_ek),
            Err(CryptoError::InvalidKey)
        ));
        // And the last coefficient of t̂; ρ after it is free-form.
        let mut bad_ek = ek.as_bytes().to_vec();
        bad_ek[POLY_BYTES * K - 1] = 0xff;
        assert!(KemEncapsulationKey::from_bytes(&bad_ek).is_err());
        let mut any_rho = ek.as_bytes().to_vec();
        any_rho[POLY_BYTES * K..].fill(0xff);
        KemEncapsulationKey::from_bytes(&any_rho).unwrap();

        // §7.3: the embedded ek no longer matches H(ek).
        let mut bad_dk = dk.private_bytes().unwrap();
        bad_dk[POLY_BYTES * K + 5] ^= 0x01;
        assert!(matches!(
            KemDecapsulationKey::from_bytes(&bad_dk),
            Err(CryptoError::InvalidKey)
        ));
        let mut bad_hash = dk.private_bytes().unwrap();
        bad_hash[POLY_BYTES * K + EK_LEN] ^= 0x01;
        assert!(matches!(
            KemDecapsulationKey::from_bytes(&bad_hash),
            Err(CryptoError::InvalidKey)
        ));
    }

    #[test]
    fn modulus_check_reads_both_coefficients_of_each_triple() {
        // q − 1 = 0xD00 in both coefficients: 00, 0D | 0 << 4, D0.
        assert!(coefficients_below_q(&[0x00, 0x0d, 0xd0]));
        // q = 0xD01 in the low one, then in the high one.
        assert!(!coefficients_below_q(&[0x01, 0x0d, 0x00]));
        assert!(!coefficients_below_q(&[0x00, 0x1d, 0xd0]));
        // 0xFFF in either.
        assert!(!coefficients_below_q(&[0xff, 0x0f, 0x00]));
        assert!(!coefficients_below_q(&[0x00, 0xf0, 0xff]));
        // Any triple of the input counts, not just the first.
        assert!(!coefficients_below_q(&[0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff]));
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let dk = KemDecapsulationKey::generate().unwrap();
        let text = format!("{dk:?}");
        let private = dk.private_bytes().unwrap();
        let z: String = private[private.len() - 32..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!text.contains(&z), "{text}");
        assert!(text.len() < 120, "{text}");
    }
}
