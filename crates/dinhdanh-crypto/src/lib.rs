#![doc = include_str!("../README.md")]

mod error;
mod field;
mod hybrid;
pub mod jose;
mod kem;
mod master;
pub mod passkey;
mod password;
mod sign;
mod token;
mod totp;

pub use error::CryptoError;
pub use field::{BlindIndexKey, DataKeyMaterial, FieldCipher, KeyId, KeyPurpose};
pub use hybrid::{HybridFormat, HybridPublicKey, HybridRecipientKey};
pub use kem::{KemDecapsulationKey, KemEncapsulationKey};
pub use master::{MASTER_KEY_ENV, MasterKey};
pub use password::{hash_password, verify_nothing, verify_password};
pub use sign::{SignatureAlgorithm, SigningKey, VerifyingKey};
pub use token::{ApiToken, TokenHash, constant_time_eq};
pub use totp::TotpSecret;

/// SHA-256 of `bytes`, for fingerprints (of a certificate, say).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref());
    out
}

/// SHA-256 of the concatenation of `parts`, without copying them into one buffer first (Merkle
/// tree hashing prefixes a domain byte to every input).
pub fn sha256_concat(parts: &[&[u8]]) -> [u8; 32] {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for part in parts {
        context.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// Fills `buf` from the operating system's CSPRNG through aws-lc-rs.
pub fn random_bytes(buf: &mut [u8]) -> Result<(), CryptoError> {
    aws_lc_rs::rand::fill(buf).map_err(|_| CryptoError::Random)
}
