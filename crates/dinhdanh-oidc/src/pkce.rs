//! Proof Key for Code Exchange (RFC 7636), `S256` only.
//!
//! `plain` is refused: it protects nothing once the authorization request is seen (OAuth 2.1
//! §4.1.1, FAPI 2.0 §5.3.2.2).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_crypto::{constant_time_eq, sha256};

/// Why PKCE parameters were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PkceError {
    /// The authorization request has no `code_challenge`.
    #[error("code_challenge is required (PKCE, S256)")]
    MissingChallenge,
    /// The request has no `code_challenge_method`; the RFC's default, `plain`, is refused.
    #[error("code_challenge_method is required and must be S256")]
    MissingMethod,
    /// `code_challenge_method=plain`.
    #[error("code_challenge_method plain is not accepted; use S256")]
    Plain,
    /// A method other than `S256` or `plain`.
    #[error("code_challenge_method must be S256")]
    UnknownMethod,
    /// The challenge is not 43 base64url characters (a SHA-256 digest).
    #[error("code_challenge must be 43 base64url characters")]
    MalformedChallenge,
    /// The verifier is not 43 to 128 unreserved characters (RFC 7636 §4.1).
    #[error("code_verifier must be 43 to 128 characters from A-Z a-z 0-9 - . _ ~")]
    MalformedVerifier,
    /// The verifier does not hash to the challenge.
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

/// A validated `S256` code challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge([u8; 32]);

impl CodeChallenge {
    /// Validates `code_challenge` and `code_challenge_method` from an authorization request.
    pub fn parse(challenge: Option<&str>, method: Option<&str>) -> Result<Self, PkceError> {
        let challenge = challenge.ok_or(PkceError::MissingChallenge)?;
        match method {
            None => return Err(PkceError::MissingMethod),
            Some("S256") => {}
            Some("plain") => return Err(PkceError::Plain),
            Some(_) => return Err(PkceError::UnknownMethod),
        }
        Self::from_encoded(challenge)
    }

    /// The challenge from its stored, encoded form.
    pub fn from_encoded(challenge: &str) -> Result<Self, PkceError> {
        if challenge.len() != 43 {
            return Err(PkceError::MalformedChallenge);
        }
        let digest = URL_SAFE_NO_PAD
            .decode(challenge)
            .map_err(|_| PkceError::MalformedChallenge)?;
        let digest: [u8; 32] = digest
            .try_into()
            .map_err(|_| PkceError::MalformedChallenge)?;
        // Only the canonical encoding: the last character carries 4 unused bits.
        if URL_SAFE_NO_PAD.encode(digest) != challenge {
            return Err(PkceError::MalformedChallenge);
        }
        Ok(Self(digest))
    }

    /// The challenge as sent: base64url, no padding.
    pub fn encoded(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Checks a verifier from the token request (RFC 7636 §4.6), in constant time.
    pub fn verify(&self, verifier: &CodeVerifier) -> Result<(), PkceError> {
        let digest = sha256(verifier.0.as_bytes());
        if constant_time_eq(&digest, &self.0) {
            Ok(())
        } else {
            Err(PkceError::Mismatch)
        }
    }
}

/// A well-formed `code_verifier` (RFC 7636 §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeVerifier(String);

impl CodeVerifier {
    /// Validates a `code_verifier`.
    pub fn parse(verifier: &str) -> Result<Self, PkceError> {
        let unreserved =
            |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(unreserved) {
            return Err(PkceError::MalformedVerifier);
        }
        Ok(Self(verifier.to_owned()))
    }

    /// The `S256` challenge of this verifier (what a client sends).
    pub fn challenge(&self) -> CodeChallenge {
        CodeChallenge(sha256(self.0.as_bytes()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_7636_appendix_b_example() {
        // RFC 7636 Appendix B: the verifier and the challenge it gives.
        let verifier = CodeVerifier::parse("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        let challenge = CodeChallenge::parse(
            Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            Some("S256"),
        )
        .unwrap();
        assert_eq!(challenge, verifier.challenge());
        challenge.verify(&verifier).unwrap();
    }

    #[test]
    fn refuses_plain_missing_and_unknown_methods() {
        let challenge = Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert_eq!(
            CodeChallenge::parse(challenge, Some("plain")),
            Err(PkceError::Plain)
        );
        assert_eq!(
            CodeChallenge::parse(challenge, None),
            Err(PkceError::MissingMethod)
        );
        assert_eq!(
            CodeChallenge::parse(challenge, Some("s256")),
            Err(PkceError::UnknownMethod)
        );
        assert_eq!(
            CodeChallenge::parse(None, Some("S256")),
            Err(PkceError::MissingChallenge)
        );
        for bad in [
            "",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN",
        ] {
            assert_eq!(
                CodeChallenge::parse(Some(bad), Some("S256")),
                Err(PkceError::MalformedChallenge),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_wrong_verifier_is_refused() {
        let verifier = CodeVerifier::parse(&"a".repeat(43)).unwrap();
        let other = CodeVerifier::parse(&"b".repeat(43)).unwrap();
        assert_eq!(
            verifier.challenge().verify(&other),
            Err(PkceError::Mismatch)
        );
        assert!(CodeVerifier::parse(&"a".repeat(42)).is_err());
        assert!(CodeVerifier::parse(&"a".repeat(129)).is_err());
        assert!(CodeVerifier::parse(&format!("{}!", "a".repeat(43))).is_err());
    }

    proptest! {
        #[test]
        fn every_valid_verifier_matches_its_own_challenge_only(
            verifier in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9._~-]{43,128}",
        ) {
            let verifier = CodeVerifier::parse(&verifier).unwrap();
            let encoded = verifier.challenge().encoded();
            let challenge = CodeChallenge::parse(Some(&encoded), Some("S256")).unwrap();
            prop_assert!(challenge.verify(&verifier).is_ok());
            let other = CodeVerifier::parse(&other).unwrap();
            prop_assert_eq!(challenge.verify(&other).is_ok(), other == verifier);
        }
    }
}
