//! Password hashing with Argon2id (RFC 9106), stored as PHC strings.
//!
//! The parameters are RFC 9106 §4's second recommended option (t = 3, p = 4, m = 64 MiB), which
//! needs no more memory than a small server can give each of a few concurrent logins. A PHC
//! string carries its own parameters, so hashes made under older ones still verify.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use zeroize::Zeroizing;

use crate::CryptoError;

/// RFC 9106 §4, second recommended option: 64 MiB (in KiB), 3 passes, 4 lanes.
const MEMORY_KIB: u32 = 1 << 16;
const PASSES: u32 = 3;
const LANES: u32 = 4;

fn hasher() -> Result<Argon2<'static>, CryptoError> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, Some(32)).map_err(|_| CryptoError::Internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password with a fresh 16-byte salt; returns the PHC string.
pub fn hash_password(password: &str) -> Result<String, CryptoError> {
    let mut salt = Zeroizing::new([0u8; 16]);
    crate::random_bytes(salt.as_mut())?;
    let salt = SaltString::encode_b64(salt.as_ref()).map_err(|_| CryptoError::Random)?;
    Ok(hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|_| CryptoError::Internal)?
        .to_string())
}

/// Whether `password` matches the PHC string `stored` (compared in constant time by argon2).
/// A stored string that is not an Argon2id PHC string is `Malformed`.
pub fn verify_password(stored: &str, password: &str) -> Result<bool, CryptoError> {
    let parsed = PasswordHash::new(stored).map_err(|_| CryptoError::Malformed)?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(CryptoError::Malformed);
    }
    Ok(hasher()?
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// Spends the time of one verification, for a login whose account does not exist, so that
/// timing does not tell which citizen numbers have accounts.
pub fn verify_nothing(password: &str) {
    // A fixed salt is fine: the result is thrown away.
    if let (Ok(argon), Ok(salt)) = (hasher(), SaltString::from_b64("ZGluaGRhbmgtbm9uZQ")) {
        let _ = argon.hash_password(password.as_bytes(), &salt);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash_password("mật khẩu đủ dài").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=65536,t=3,p=4$"),
            "{stored}"
        );
        assert!(verify_password(&stored, "mật khẩu đủ dài").unwrap());
        assert!(!verify_password(&stored, "mật khẩu đủ dài ").unwrap());
        assert_ne!(stored, hash_password("mật khẩu đủ dài").unwrap(), "salted");
        assert!(verify_password("not a phc string", "x").is_err());
        // RFC 9106 §5.3 test vector parameters are not Argon2id PHC; a PHC string of another
        // algorithm is refused rather than verified with weaker rules.
        assert!(
            verify_password(
                "$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$aGFzaGhhc2hoYXNo",
                "x"
            )
            .is_err()
        );
    }

    #[test]
    fn hashes_made_under_other_parameters_still_verify() {
        // A hash made by argon2 itself with smaller parameters (m=19 MiB, t=2, p=1).
        let salt = SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
        let old = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).unwrap(),
        )
        .hash_password(b"older password", &salt)
        .unwrap()
        .to_string();
        assert!(verify_password(&old, "older password").unwrap());
        assert!(!verify_password(&old, "older passwort").unwrap());
    }
}
