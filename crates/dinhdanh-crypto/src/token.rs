//! Operator API bearer tokens: random, shown once, stored only as a hash.

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::{CryptoError, random_bytes};

/// The prefix of every operator token, so that leaked tokens are easy to find by scanners.
const TOKEN_PREFIX: &str = "ddo_";

/// A freshly issued bearer token. The clear text exists only here, to be shown once.
pub struct ApiToken {
    secret: Zeroizing<String>,
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(..)")
    }
}

impl ApiToken {
    /// A new token with 256 random bits.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        random_bytes(bytes.as_mut())?;
        Ok(Self {
            secret: Zeroizing::new(format!(
                "{TOKEN_PREFIX}{}",
                URL_SAFE_NO_PAD.encode(bytes.as_ref())
            )),
        })
    }

    /// The token to hand to the operator, once.
    pub fn reveal(&self) -> &str {
        &self.secret
    }

    /// The hash to store.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.secret)
    }
}

/// The SHA-256 hash of a bearer token: what the store keeps and looks tokens up by. A fast
/// hash suffices because tokens carry 256 random bits (no dictionary to search).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl TokenHash {
    /// Hashes a presented token.
    pub fn of(token: &str) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, token.as_bytes()).as_ref());
        Self(out)
    }

    /// Rebuilds a stored hash.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Compares two hashes in constant time.
    pub fn matches(&self, other: &TokenHash) -> bool {
        constant_time_eq(&self.0, &other.0)
    }
}

/// Compares two byte strings in time independent of their contents.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    #[allow(deprecated)]
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_prefixed_and_hash_consistently() {
        let a = ApiToken::generate().unwrap();
        let b = ApiToken::generate().unwrap();
        assert!(a.reveal().starts_with(TOKEN_PREFIX));
        assert_eq!(a.reveal().len(), TOKEN_PREFIX.len() + 43);
        assert_ne!(a.reveal(), b.reveal());
        assert!(a.hash().matches(&TokenHash::of(a.reveal())));
        assert!(!a.hash().matches(&b.hash()));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
