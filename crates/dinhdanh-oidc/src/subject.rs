//! Pairwise subject identifiers (OIDC Core §8.1).
//!
//! Each sector (a group of clients run by one organisation, named by a host) sees a person under
//! its own stable `sub`; two sectors cannot link their users by it. The value is a keyed hash
//! (HMAC-SHA-256 under the blind-index key) of the sector and the person's internal id, so it
//! reveals neither, and it is recomputed rather than stored.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_crypto::BlindIndexKey;

use crate::client::SectorIdentifier;

/// Domain separation for the subject hash under the blind-index key.
const DOMAIN: &str = "oidc-pairwise-subject";

/// The key that derives pairwise subjects.
pub struct SubjectKey<'a>(&'a BlindIndexKey);

impl<'a> SubjectKey<'a> {
    /// Derives subjects under this blind-index key.
    pub fn new(key: &'a BlindIndexKey) -> Self {
        Self(key)
    }

    /// The `sub` of the person with internal id `local_id` in `sector`.
    pub fn subject(&self, sector: &SectorIdentifier, local_id: &[u8]) -> PairwiseSubject {
        // The sector is a host name (no NUL), so the separator keeps the two parts apart.
        let mut input = Vec::with_capacity(sector.as_str().len() + 1 + local_id.len());
        input.extend_from_slice(sector.as_str().as_bytes());
        input.push(0);
        input.extend_from_slice(local_id);
        PairwiseSubject(URL_SAFE_NO_PAD.encode(self.0.index(DOMAIN, &input)))
    }
}

/// A pairwise `sub` value: 43 base64url characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PairwiseSubject(String);

impl PairwiseSubject {
    /// The value as it goes into tokens.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PairwiseSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dinhdanh_crypto::DataKeyMaterial;

    fn key() -> BlindIndexKey {
        BlindIndexKey::new(&DataKeyMaterial::generate().unwrap())
    }

    #[test]
    fn stable_per_sector_and_different_across_sectors() {
        let key = key();
        let subjects = SubjectKey::new(&key);
        let social = SectorIdentifier::new("social.example.vn").unwrap();
        let telecom = SectorIdentifier::new("telecom.example.vn").unwrap();
        let person = [1u8; 16];
        let a = subjects.subject(&social, &person);
        assert_eq!(a, subjects.subject(&social, &person));
        assert_ne!(a, subjects.subject(&telecom, &person));
        assert_ne!(a, subjects.subject(&social, &[2u8; 16]));
        assert_eq!(a.as_str().len(), 43);
        // Another deployment's key gives other subjects.
        let other = self::key();
        assert_ne!(a, SubjectKey::new(&other).subject(&social, &person));
    }
}
