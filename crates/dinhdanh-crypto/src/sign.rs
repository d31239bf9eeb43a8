//! Digital signatures: ML-DSA (FIPS 204), Ed25519 (RFC 8032) and ECDSA P-256 with SHA-256.
//!
//! This module owns the signing keys of the platform and the raw sign / verify operations that
//! the JOSE layer builds on. Every private key is a 32-byte string that [`SigningKey::private_bytes`]
//! hands out and [`SigningKey::from_private_bytes`] takes back: for ML-DSA the FIPS 204 seed ξ
//! (what RFC 9964 stores as `priv`), for Ed25519 the RFC 8032 seed, for P-256 the scalar `d`.
//!
//! What it must never do: print or log a private key (the `Debug` output names the algorithm
//! only), sign with a context string or a pre-hash (RFC 9964 uses pure ML-DSA with an empty
//! context), or let a signature be verified under an algorithm other than its key's.

use std::fmt;

use aws_lc_rs::agreement;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, PqdsaKeyPair,
    PqdsaSigningAlgorithm, VerificationAlgorithm,
};
use zeroize::Zeroizing;

use crate::{CryptoError, random_bytes};

/// The length of every private key this module takes and gives (see [`SigningKey`]).
const PRIVATE_KEY_LEN: usize = 32;

/// A signature algorithm, as JOSE names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// ML-DSA-44 (FIPS 204, security category 2), pure, empty context.
    MlDsa44,
    /// ML-DSA-65 (FIPS 204, security category 3), pure, empty context.
    MlDsa65,
    /// ML-DSA-87 (FIPS 204, security category 5), pure, empty context.
    MlDsa87,
    /// Ed25519 (RFC 8032), JOSE `EdDSA` (RFC 8037).
    Ed25519,
    /// ECDSA on P-256 with SHA-256, JOSE `ES256` (RFC 7518 §3.4).
    EcdsaP256,
}

impl SignatureAlgorithm {
    /// Every algorithm, post-quantum first.
    pub const ALL: [SignatureAlgorithm; 5] = [
        SignatureAlgorithm::MlDsa44,
        SignatureAlgorithm::MlDsa65,
        SignatureAlgorithm::MlDsa87,
        SignatureAlgorithm::Ed25519,
        SignatureAlgorithm::EcdsaP256,
    ];

    /// The JWS `alg` value (RFC 9964 for ML-DSA, RFC 8037 `EdDSA`, RFC 7518 `ES256`).
    pub fn jose_name(self) -> &'static str {
        match self {
            SignatureAlgorithm::MlDsa44 => "ML-DSA-44",
            SignatureAlgorithm::MlDsa65 => "ML-DSA-65",
            SignatureAlgorithm::MlDsa87 => "ML-DSA-87",
            SignatureAlgorithm::Ed25519 => "EdDSA",
            SignatureAlgorithm::EcdsaP256 => "ES256",
        }
    }

    /// The algorithm a JWS `alg` value names, if it is one of ours. Exact match: `none` and
    /// every other name give `None`.
    pub fn from_jose_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.jose_name() == name)
    }

    /// The length of a signature in bytes (FIPS 204 Table 2; RFC 8032 §5.1.6; RFC 7518 §3.4).
    pub fn signature_len(self) -> usize {
        match self {
            SignatureAlgorithm::MlDsa44 => 2420,
            SignatureAlgorithm::MlDsa65 => 3309,
            SignatureAlgorithm::MlDsa87 => 4627,
            SignatureAlgorithm::Ed25519 | SignatureAlgorithm::EcdsaP256 => 64,
        }
    }

    /// The length of a public key in bytes: the FIPS 204 encoding `pk`, the RFC 8032 point, or
    /// the uncompressed SEC1 point `0x04 ‖ x ‖ y` for P-256.
    pub fn public_key_len(self) -> usize {
        match self {
            SignatureAlgorithm::MlDsa44 => 1312,
            SignatureAlgorithm::MlDsa65 => 1952,
            SignatureAlgorithm::MlDsa87 => 2592,
            SignatureAlgorithm::Ed25519 => 32,
            SignatureAlgorithm::EcdsaP256 => 65,
        }
    }

    /// The length of a private key in bytes: 32 for every algorithm (the ML-DSA seed ξ, the
    /// Ed25519 seed, the P-256 scalar).
    pub fn private_key_len(self) -> usize {
        PRIVATE_KEY_LEN
    }

    fn pqdsa_signing(self) -> Option<&'static PqdsaSigningAlgorithm> {
        match self {
            SignatureAlgorithm::MlDsa44 => Some(&signature::ML_DSA_44_SIGNING),
            SignatureAlgorithm::MlDsa65 => Some(&signature::ML_DSA_65_SIGNING),
            SignatureAlgorithm::MlDsa87 => Some(&signature::ML_DSA_87_SIGNING),
            SignatureAlgorithm::Ed25519 | SignatureAlgorithm::EcdsaP256 => None,
        }
    }

    fn verification(self) -> &'static dyn VerificationAlgorithm {
        match self {
            SignatureAlgorithm::MlDsa44 => &signature::ML_DSA_44,
            SignatureAlgorithm::MlDsa65 => &signature::ML_DSA_65,
            SignatureAlgorithm::MlDsa87 => &signature::ML_DSA_87,
            SignatureAlgorithm::Ed25519 => &signature::ED25519,
            // RFC 7518 §3.4: the fixed-length R ‖ S encoding, not DER.
            SignatureAlgorithm::EcdsaP256 => &signature::ECDSA_P256_SHA256_FIXED,
        }
    }
}

/// The aws-lc-rs key pair behind a [`SigningKey`].
enum KeyPairInner {
    MlDsa(PqdsaKeyPair),
    Ed25519(Ed25519KeyPair),
    EcdsaP256(EcdsaKeyPair),
}

/// A private signing key for one [`SignatureAlgorithm`].
///
/// It keeps its 32-byte private key (zeroized on drop) beside the library's key pair, because
/// RFC 9964 stores an ML-DSA key as its seed and the expanded key cannot be turned back into
/// one. `Debug` prints the algorithm only.
pub struct SigningKey {
    algorithm: SignatureAlgorithm,
    private: Zeroizing<[u8; PRIVATE_KEY_LEN]>,
    pair: KeyPairInner,
    verifying_key: VerifyingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A new random key from the operating system's CSPRNG through aws-lc-rs.
    pub fn generate(alg: SignatureAlgorithm) -> Result<Self, CryptoError> {
        let mut private = Zeroizing::new([0u8; PRIVATE_KEY_LEN]);
        match alg {
            SignatureAlgorithm::EcdsaP256 => {
                // A random 32-byte string is not always a valid scalar (it may be ≥ n), so let
                // the library draw the scalar and export it.
                use aws_lc_rs::encoding::AsBigEndian;
                let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| CryptoError::Internal)?;
                let scalar = pair
                    .private_key()
                    .as_be_bytes()
                    .map_err(|_| CryptoError::Internal)?;
                if scalar.as_ref().len() != PRIVATE_KEY_LEN {
                    return Err(CryptoError::Internal);
                }
                private.copy_from_slice(scalar.as_ref());
            }
            // FIPS 204 Algorithm 1 (ML-DSA.KeyGen) and RFC 8032 §5.1.5: the seed is 32 random
            // bytes; everything else is derived from it.
            _ => random_bytes(private.as_mut())?,
        }
        Self::from_private_bytes(alg, private.as_ref()).map_err(|_| CryptoError::Internal)
    }

    /// Rebuilds a key from its 32-byte private key: for ML-DSA the seed ξ (RFC 9964 `priv`);
    /// for Ed25519 the seed (RFC 8032 §5.1.5); for ES256 the private scalar `d`, big-endian,
    /// left-padded to 32 bytes (RFC 7518 §6.2.2.1).
    ///
    /// Any other length, or a P-256 scalar that is 0 or not below the group order, gives
    /// [`CryptoError::InvalidKey`].
    pub fn from_private_bytes(alg: SignatureAlgorithm, bytes: &[u8]) -> Result<Self, CryptoError> {
        let private: [u8; PRIVATE_KEY_LEN] =
            bytes.try_into().map_err(|_| CryptoError::InvalidKey)?;
        let private = Zeroizing::new(private);
        let (pair, public) = match alg {
            SignatureAlgorithm::MlDsa44
            | SignatureAlgorithm::MlDsa65
            | SignatureAlgorithm::MlDsa87 => {
                let signing = alg.pqdsa_signing().ok_or(CryptoError::Internal)?;
                // FIPS 204 Algorithm 6 (ML-DSA.KeyGen_internal) from the seed ξ.
                let pair = PqdsaKeyPair::from_seed(signing, private.as_ref())
                    .map_err(|_| CryptoError::InvalidKey)?;
                let public = pair.public_key().as_ref().to_vec();
                (KeyPairInner::MlDsa(pair), public)
            }
            SignatureAlgorithm::Ed25519 => {
                // "Unchecked" only means that there is no public key to compare with.
                let pair = Ed25519KeyPair::from_seed_unchecked(private.as_ref())
                    .map_err(|_| CryptoError::InvalidKey)?;
                let public = pair.public_key().as_ref().to_vec();
                (KeyPairInner::Ed25519(pair), public)
            }
            SignatureAlgorithm::EcdsaP256 => {
                // aws-lc-rs builds an ECDSA key pair from a raw scalar only together with its
                // public point; the ECDH key type takes the scalar alone (rejecting 0 and
                // values ≥ n) and computes d·G, which the ECDSA constructor then checks again.
                let scalar = agreement::PrivateKey::from_private_key(
                    &agreement::ECDH_P256,
                    private.as_ref(),
                )
                .map_err(|_| CryptoError::InvalidKey)?;
                let point = scalar
                    .compute_public_key()
                    .map_err(|_| CryptoError::Internal)?;
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    private.as_ref(),
                    point.as_ref(),
                )
                .map_err(|_| CryptoError::InvalidKey)?;
                let public = pair.public_key().as_ref().to_vec();
                (KeyPairInner::EcdsaP256(pair), public)
            }
        };
        // The library derived this public key itself; failing to parse it is its fault.
        let verifying_key =
            VerifyingKey::from_bytes(alg, &public).map_err(|_| CryptoError::Internal)?;
        Ok(Self {
            algorithm: alg,
            private,
            pair,
            verifying_key,
        })
    }

    /// The 32-byte private key, as [`SigningKey::from_private_bytes`] takes it. The caller
    /// must keep it secret; the buffer is wiped when dropped.
    pub fn private_bytes(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.private.to_vec())
    }

    /// The algorithm this key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying_key.clone()
    }

    /// Signs `message`.
    ///
    /// ML-DSA: pure ML-DSA with an empty context (FIPS 204 Algorithm 2, ML-DSA.Sign, hedged:
    /// fresh randomness in every signature; RFC 9964). Ed25519: RFC 8032 §5.1.6. ES256: ECDSA
    /// P-256 over SHA-256, encoded as the fixed-length `R ‖ S` (RFC 7518 §3.4), 64 bytes.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let signature = match &self.pair {
            KeyPairInner::MlDsa(pair) => {
                let mut signature = vec![0u8; self.algorithm.signature_len()];
                let len = pair
                    .sign(message, &mut signature)
                    .map_err(|_| CryptoError::Internal)?;
                signature.truncate(len);
                signature
            }
            KeyPairInner::Ed25519(pair) => pair
                .try_sign(message)
                .map_err(|_| CryptoError::Internal)?
                .as_ref()
                .to_vec(),
            // aws-lc-rs ignores the random source argument and draws k itself.
            KeyPairInner::EcdsaP256(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map_err(|_| CryptoError::Internal)?
                .as_ref()
                .to_vec(),
        };
        if signature.len() != self.algorithm.signature_len() {
            return Err(CryptoError::Internal);
        }
        Ok(signature)
    }
}

/// A public key for one [`SignatureAlgorithm`], parsed once and ready to verify.
///
/// Two keys are equal when they have the same algorithm and the same bytes.
#[derive(Clone)]
pub struct VerifyingKey {
    algorithm: SignatureAlgorithm,
    key: ParsedPublicKey,
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.algorithm == other.algorithm && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for VerifyingKey {}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The first bytes are enough to tell keys apart in a log; the whole ML-DSA key is
        // several kilobytes of hex.
        let bytes = self.as_bytes();
        let head: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm)
            .field("bytes", &format_args!("{head}… ({} bytes)", bytes.len()))
            .finish()
    }
}

impl VerifyingKey {
    /// Parses a raw public key: the FIPS 204 `pk` encoding for ML-DSA, the 32-byte RFC 8032
    /// point for Ed25519, the 65-byte uncompressed SEC1 point for P-256 (which must lie on the
    /// curve). Any other length or encoding (DER, compressed points) gives
    /// [`CryptoError::InvalidKey`].
    pub fn from_bytes(alg: SignatureAlgorithm, public_key: &[u8]) -> Result<Self, CryptoError> {
        // aws-lc-rs would also accept a DER SubjectPublicKeyInfo or a compressed point; the
        // exact length (and the 0x04 prefix) pins the one raw form JOSE uses.
        if public_key.len() != alg.public_key_len() {
            return Err(CryptoError::InvalidKey);
        }
        if alg == SignatureAlgorithm::EcdsaP256 && public_key.first() != Some(&0x04) {
            return Err(CryptoError::InvalidKey);
        }
        let key = ParsedPublicKey::new(alg.verification(), public_key)
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self {
            algorithm: alg,
            key,
        })
    }

    /// The algorithm this key verifies.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The raw public key, in the form [`VerifyingKey::from_bytes`] takes.
    pub fn as_bytes(&self) -> &[u8] {
        self.key.as_ref()
    }

    /// Checks `signature` over `message` with this key's algorithm (for ML-DSA: pure, empty
    /// context). Any failure, including a signature of the wrong length, is
    /// [`CryptoError::BadSignature`].
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CryptoError> {
        if signature.len() != self.algorithm.signature_len() {
            return Err(CryptoError::BadSignature);
        }
        self.key
            .verify_sig(message, signature)
            .map_err(|_| CryptoError::BadSignature)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"dinhdanh: a signed statement about one citizen";

    #[test]
    fn names_and_lengths_match_the_standards() {
        let table = [
            (SignatureAlgorithm::MlDsa44, "ML-DSA-44", 2420, 1312),
            (SignatureAlgorithm::MlDsa65, "ML-DSA-65", 3309, 1952),
            (SignatureAlgorithm::MlDsa87, "ML-DSA-87", 4627, 2592),
            (SignatureAlgorithm::Ed25519, "EdDSA", 64, 32),
            (SignatureAlgorithm::EcdsaP256, "ES256", 64, 65),
        ];
        assert_eq!(table.map(|row| row.0), SignatureAlgorithm::ALL);
        for (alg, name, signature_len, public_key_len) in table {
            assert_eq!(alg.jose_name(), name);
            assert_eq!(SignatureAlgorithm::from_jose_name(name), Some(alg));
            assert_eq!(alg.signature_len(), signature_len);
            assert_eq!(alg.public_key_len(), public_key_len);
            assert_eq!(alg.private_key_len(), 32);
        }
        for name in ["none", "ml-dsa-65", "ES256K", "Ed25519", "RS256", ""] {
            assert_eq!(SignatureAlgorithm::from_jose_name(name), None, "{name}");
        }
    }

    #[test]
    fn every_algorithm_round_trips_and_rejects_tampering() {
        for alg in SignatureAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            assert_eq!(key.algorithm(), alg);
            let public = key.verifying_key();
            assert_eq!(public.algorithm(), alg);
            assert_eq!(public.as_bytes().len(), alg.public_key_len());

            let signature = key.sign(MESSAGE).unwrap();
            assert_eq!(signature.len(), alg.signature_len(), "{alg:?}");
            public.verify(MESSAGE, &signature).unwrap();

            // A flipped bit in the signature (first, middle, last byte) or in the message.
            for index in [0, signature.len() / 2, signature.len() - 1] {
                let mut bad = signature.clone();
                bad[index] ^= 0x01;
                assert!(
                    matches!(public.verify(MESSAGE, &bad), Err(CryptoError::BadSignature)),
                    "{alg:?} accepted a signature with byte {index} flipped"
                );
            }
            let mut message = MESSAGE.to_vec();
            message[3] ^= 0x80;
            assert!(matches!(
                public.verify(&message, &signature),
                Err(CryptoError::BadSignature)
            ));

            // Wrong lengths: one byte short, one byte long, empty.
            let short = &signature[..signature.len() - 1];
            let mut long = signature.clone();
            long.push(0);
            for bad in [short, &long[..], &[][..]] {
                assert!(matches!(
                    public.verify(MESSAGE, bad),
                    Err(CryptoError::BadSignature)
                ));
            }

            // Another key of the same algorithm does not verify it.
            let other = SigningKey::generate(alg).unwrap().verifying_key();
            assert_ne!(other, public);
            assert!(matches!(
                other.verify(MESSAGE, &signature),
                Err(CryptoError::BadSignature)
            ));
        }
    }

    #[test]
    fn private_bytes_rebuild_the_same_key() {
        for alg in SignatureAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let private = key.private_bytes();
            assert_eq!(private.len(), 32);
            let again = SigningKey::from_private_bytes(alg, &private).unwrap();
            assert_eq!(again.verifying_key(), key.verifying_key(), "{alg:?}");
            assert_eq!(*again.private_bytes(), *private);
            // A signature by the rebuilt key verifies under the original public key.
            let signature = again.sign(MESSAGE).unwrap();
            key.verifying_key().verify(MESSAGE, &signature).unwrap();
            // The public key survives its byte form.
            let public = VerifyingKey::from_bytes(alg, key.verifying_key().as_bytes()).unwrap();
            assert_eq!(public, key.verifying_key());
        }
    }

    #[test]
    fn same_seed_gives_the_same_key_and_keys_differ_per_algorithm() {
        let seed = [7u8; 32];
        for alg in SignatureAlgorithm::ALL {
            let a = SigningKey::from_private_bytes(alg, &seed).unwrap();
            let b = SigningKey::from_private_bytes(alg, &seed).unwrap();
            assert_eq!(a.verifying_key(), b.verifying_key());
        }
        let a = SigningKey::from_private_bytes(SignatureAlgorithm::MlDsa65, &seed).unwrap();
        let b = SigningKey::from_private_bytes(SignatureAlgorithm::MlDsa65, &[8u8; 32]).unwrap();
        assert_ne!(a.verifying_key(), b.verifying_key());
    }

    #[test]
    fn wrong_length_or_invalid_keys_are_invalid_key() {
        for alg in SignatureAlgorithm::ALL {
            for len in [0, 31, 33, 64] {
                assert!(
                    matches!(
                        SigningKey::from_private_bytes(alg, &vec![1u8; len]),
                        Err(CryptoError::InvalidKey)
                    ),
                    "{alg:?} private key of {len} bytes"
                );
            }
            let public = SigningKey::generate(alg).unwrap().verifying_key();
            let bytes = public.as_bytes();
            let mut long = bytes.to_vec();
            long.push(0);
            for bad in [&bytes[..bytes.len() - 1], &long[..], &[][..]] {
                assert!(
                    matches!(
                        VerifyingKey::from_bytes(alg, bad),
                        Err(CryptoError::InvalidKey)
                    ),
                    "{alg:?} public key of {} bytes",
                    bad.len()
                );
            }
        }
        // P-256: the scalar must be in [1, n-1].
        let order = [
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
            0xfc, 0x63, 0x25, 0x51,
        ];
        let mut below = order;
        below[31] -= 1;
        SigningKey::from_private_bytes(SignatureAlgorithm::EcdsaP256, &below).unwrap();
        for bad in [[0u8; 32], order, [0xff; 32]] {
            assert!(matches!(
                SigningKey::from_private_bytes(SignatureAlgorithm::EcdsaP256, &bad),
                Err(CryptoError::InvalidKey)
            ));
        }
        // P-256: a point off the curve, and a compressed point padded to 65 bytes.
        let key = SigningKey::generate(SignatureAlgorithm::EcdsaP256).unwrap();
        let mut off_curve = key.verifying_key().as_bytes().to_vec();
        off_curve[64] ^= 0x01;
        let mut not_uncompressed = key.verifying_key().as_bytes().to_vec();
        not_uncompressed[0] = 0x02;
        for bad in [off_curve, not_uncompressed] {
            assert!(matches!(
                VerifyingKey::from_bytes(SignatureAlgorithm::EcdsaP256, &bad),
                Err(CryptoError::InvalidKey)
            ));
        }
    }

    #[test]
    fn a_key_is_bound_to_its_algorithm() {
        // The same 32 bytes make an Ed25519 key and a P-256 key; neither verifies the other's
        // signature, and a public key does not parse as another algorithm's.
        let seed = [9u8; 32];
        let ed = SigningKey::from_private_bytes(SignatureAlgorithm::Ed25519, &seed).unwrap();
        let ec = SigningKey::from_private_bytes(SignatureAlgorithm::EcdsaP256, &seed).unwrap();
        let ed_signature = ed.sign(MESSAGE).unwrap();
        assert!(ec.verifying_key().verify(MESSAGE, &ed_signature).is_err());
        let ml = SigningKey::from_private_bytes(SignatureAlgorithm::MlDsa44, &seed).unwrap();
        assert!(
            VerifyingKey::from_bytes(SignatureAlgorithm::MlDsa65, ml.verifying_key().as_bytes())
                .is_err()
        );
    }

    #[test]
    fn debug_output_holds_no_private_key() {
        for alg in SignatureAlgorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let text = format!("{key:?}");
            assert!(text.contains(&format!("{alg:?}")), "{text}");
            let private = key.private_bytes();
            let hex: String = private.iter().map(|b| format!("{b:02x}")).collect();
            let decimal = format!("{:?}", &private[..4]);
            assert!(!text.contains(&hex) && !text.contains(&decimal), "{text}");
            assert!(text.len() < 80, "{text}");
        }
    }

    #[test]
    fn keys_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SigningKey>();
        assert_send_sync::<VerifyingKey>();
    }
}
