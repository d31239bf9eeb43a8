//! The error type of this crate.

use std::path::PathBuf;

/// What can go wrong while handling keys, sealing or opening data.
///
/// No variant carries key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The master key file could not be read or created.
    #[error("master key file {path}: {source}")]
    KeyFile {
        /// The file in question.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The master key file is readable by others than its owner.
    #[error("master key file {path} must not be readable by group or others (chmod 600)")]
    KeyFilePermissions {
        /// The file in question.
        path: PathBuf,
    },
    /// A master key was given but is not 32 bytes of base64 (standard or URL-safe alphabet).
    #[error("a master key must be 32 bytes encoded in base64")]
    MasterKeyEncoding,
    /// A wrapped data key did not open under this master key: the master key does not belong
    /// to this database, or the wrapped key was altered.
    #[error("a data key does not open under this master key (wrong master key, or altered key)")]
    WrongMasterKey,
    /// A sealed field did not open: it was altered, moved to another row, or sealed under a key
    /// this keyring does not hold.
    #[error("sealed data failed authentication")]
    OpenFailed,
    /// A sealed field names a data key this keyring does not hold.
    #[error("sealed data names an unknown data key")]
    UnknownKey,
    /// A sealed field is too short or has an unknown format version.
    #[error("sealed data is malformed")]
    Malformed,
    /// The operating system's random number generator failed.
    #[error("the random number generator failed")]
    Random,
    /// A signature did not verify: it has the wrong length for its algorithm, does not decode,
    /// or was not made over this message by the private key of this public key.
    #[error("signature verification failed")]
    BadSignature,
    /// Key material given to this crate has the wrong length for its algorithm or fails the
    /// algorithm's own validity checks (a P-256 point off the curve, a scalar out of range, an
    /// ML-KEM key that fails the FIPS 203 §7.2 / §7.3 input checks).
    #[error("key material is invalid for this algorithm")]
    InvalidKey,
    /// A KEM ciphertext has the wrong length for its algorithm (FIPS 203 §7.3, ciphertext type
    /// check). A ciphertext of the right length always decapsulates (implicit rejection).
    #[error("KEM ciphertext has the wrong length")]
    InvalidCiphertext,
    /// The cryptographic library failed on input that it should have accepted: an internal
    /// fault, not a caller mistake.
    #[error("the cryptographic library failed")]
    Internal,
    /// A hybrid public key, private key or sealed message starts with a format version that
    /// this build does not know (see [`crate::HybridFormat`]). The version byte is given; it
    /// is not secret.
    #[error("unknown format version {version} of a hybrid {format}")]
    UnknownFormatVersion {
        /// What was being read.
        format: crate::HybridFormat,
        /// The version byte found.
        version: u8,
    },
    /// A hybrid public or private key has the wrong length for its format version.
    #[error("a hybrid {format} must be {expected} bytes, not {actual}")]
    WrongLength {
        /// What was being read.
        format: crate::HybridFormat,
        /// The length its version requires.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A hybrid-sealed message is shorter than its header and authentication tag, so it
    /// cannot be a sealed message at all (cut off, or not a sealed message).
    #[error("a hybrid-sealed message must be at least {minimum} bytes, not {actual}")]
    SealedTooShort {
        /// The shortest possible sealed message (empty plaintext).
        minimum: usize,
        /// The length given.
        actual: usize,
    },
    /// A hybrid-sealed message did not open: it was altered (or cut or extended), it was
    /// sealed to another recipient's public key, or it was sealed with other associated data.
    /// These cases cannot be told apart, by design.
    #[error(
        "hybrid-sealed message failed to open (altered, another recipient, or other associated data)"
    )]
    HybridOpenFailed,
    /// Text given as a hybrid public key is not `ddpk1.` followed by the key in canonical,
    /// unpadded base64url.
    #[error("not a hybrid public key in text form (expected `ddpk1.` and unpadded base64url)")]
    PublicKeyText,
}
