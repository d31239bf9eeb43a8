//! Time-based one-time passwords (RFC 6238) for the second login factor: HMAC-SHA-1, 6 digits,
//! 30-second steps, which every authenticator app supports.
//!
//! A code is accepted in the current step or one step either side (RFC 6238 §5.2 allows for
//! clock drift and transmission delay); the caller records the step a code matched so that a
//! code is never accepted twice.

use std::fmt;

use totp_rs::{Algorithm, TOTP};
use zeroize::Zeroizing;

use crate::{CryptoError, constant_time_eq};

/// RFC 6238 §4.1: X = 30 seconds.
const STEP_SECONDS: u64 = 30;
const DIGITS: usize = 6;
/// RFC 4226 §4 R6: a shared secret of at least 128 bits; 160 recommended.
const SECRET_BYTES: usize = 20;

/// A TOTP shared secret.
#[derive(Clone)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(..)")
    }
}

impl TotpSecret {
    /// A fresh 160-bit secret.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new(vec![0u8; SECRET_BYTES]);
        crate::random_bytes(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// A stored secret; fewer than 128 bits is `InvalidKey`.
    pub fn from_bytes(bytes: Zeroizing<Vec<u8>>) -> Result<Self, CryptoError> {
        if bytes.len() < 16 {
            return Err(CryptoError::InvalidKey);
        }
        Ok(Self(bytes))
    }

    /// The secret's bytes, to seal for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn totp(&self, issuer: &str, account: &str) -> Result<TOTP, CryptoError> {
        TOTP::new(
            Algorithm::SHA1,
            DIGITS,
            0,
            STEP_SECONDS,
            self.0.to_vec(),
            Some(issuer.replace(':', " ")),
            account.replace(':', " "),
        )
        .map_err(|_| CryptoError::InvalidKey)
    }

    /// The `otpauth://` URI an authenticator app enrols from.
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> Result<String, CryptoError> {
        Ok(self.totp(issuer, account)?.get_url())
    }

    /// The secret in base32, for typing into an app by hand.
    pub fn base32(&self) -> Result<String, CryptoError> {
        Ok(self.totp("x", "x")?.get_secret_base32())
    }

    /// The code of the step that contains `unix_seconds`.
    pub fn code_at(&self, unix_seconds: u64) -> Result<String, CryptoError> {
        Ok(self.totp("x", "x")?.generate(unix_seconds))
    }

    /// The time step a code matches at `unix_seconds`, if any: the current one or one either
    /// side. Anything but six ASCII digits matches nothing.
    pub fn verify(&self, code: &str, unix_seconds: u64) -> Result<Option<u64>, CryptoError> {
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let totp = self.totp("x", "x")?;
        let now = unix_seconds / STEP_SECONDS;
        let mut matched = None;
        // Every candidate is computed and compared, so the time taken does not say which one
        // matched.
        for step in [now.saturating_sub(1), now, now + 1] {
            let expected = totp.generate(step * STEP_SECONDS);
            if constant_time_eq(expected.as_bytes(), code.as_bytes()) && matched.is_none() {
                matched = Some(step);
            }
        }
        Ok(matched)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rfc_secret() -> TotpSecret {
        // RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
        TotpSecret::from_bytes(Zeroizing::new(b"12345678901234567890".to_vec())).unwrap()
    }

    #[test]
    fn rfc_6238_appendix_b_vectors_in_six_digits() {
        // The RFC lists 8-digit values; a 6-digit code is the same number modulo 10^6.
        for (time, eight) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(rfc_secret().code_at(time).unwrap(), &eight[2..], "t={time}");
        }
    }

    #[test]
    fn codes_match_their_step_and_one_either_side_only() {
        let secret = rfc_secret();
        let t = 1_234_567_890;
        let step = t / 30;
        let code = secret.code_at(t).unwrap();
        assert_eq!(secret.verify(&code, t).unwrap(), Some(step));
        assert_eq!(secret.verify(&code, t + 30).unwrap(), Some(step));
        assert_eq!(secret.verify(&code, t - 30).unwrap(), Some(step));
        assert_eq!(secret.verify(&code, t + 90).unwrap(), None);
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(secret.verify(bad, t).unwrap(), None, "{bad:?}");
        }
        let fresh = TotpSecret::generate().unwrap();
        assert_eq!(fresh.as_bytes().len(), 20);
        let uri = fresh.provisioning_uri("dinhdanh", "người dùng").unwrap();
        assert!(uri.starts_with("otpauth://totp/dinhdanh:"), "{uri}");
        assert!(uri.contains(&format!("secret={}", fresh.base32().unwrap())));
        assert!(TotpSecret::from_bytes(Zeroizing::new(vec![0; 15])).is_err());
    }
}
