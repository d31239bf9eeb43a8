//! The disclosure log's records and its one interface, [`DisclosureLog`]. Every release of
//! personal data, or of a claim derived from it, goes through [`disclose`], which records it
//! durably before handing back the value wrapped in [`Disclosed`]; response types that carry
//! personal data are built only from a `Disclosed` value, so a release cannot skip the log.
//!
//! A record names the recipient, the person as a keyed pseudonym, the names of the fields or
//! claims released (never their values), the purpose, the legal basis and the time.

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_ledger::{Hash, NoteVerifier};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::model::{DisclosureId, OperatorTokenId, OrganisationId, PersonId};

/// Who received disclosed data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// An operator of the identity authority, by API token.
    Operator(OperatorTokenId),
    /// An organisation: a relying party or an agency.
    Organisation(OrganisationId),
}

impl fmt::Display for Recipient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recipient::Operator(id) => write!(f, "operator:{id}"),
            Recipient::Organisation(id) => write!(f, "organisation:{id}"),
        }
    }
}

impl FromStr for Recipient {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let corrupt = || StoreError::Corrupt("disclosure recipient");
        match s.split_once(':').ok_or_else(corrupt)? {
            ("operator", id) => Ok(Recipient::Operator(id.parse().map_err(|_| corrupt())?)),
            ("organisation", id) => Ok(Recipient::Organisation(id.parse().map_err(|_| corrupt())?)),
            _ => Err(corrupt()),
        }
    }
}

/// Why data is released, in the recipient's words: 1 to 200 characters. The log is permanent,
/// so a purpose may not carry what looks like an identifier (a run of 9 or more digits: a
/// citizen number, a phone number) nor control, bidirectional or zero-width characters that
/// would make it read differently from what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Purpose(String);

impl Purpose {
    /// Checks a stated purpose.
    pub fn new(text: &str) -> Result<Self, InvalidPurpose> {
        let text = text.trim();
        let length = text.chars().count();
        let hidden = |c: char| {
            c.is_control()
                || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
                    | '\u{2066}'..='\u{2069}' | '\u{061C}' | '\u{FEFF}')
        };
        let mut digits = 0;
        let mut longest_digits = 0;
        for c in text.chars() {
            digits = if c.is_ascii_digit() { digits + 1 } else { 0 };
            longest_digits = longest_digits.max(digits);
        }
        if length == 0 || length > 200 || text.chars().any(hidden) || longest_digits >= 9 {
            return Err(InvalidPurpose);
        }
        Ok(Self(text.to_owned()))
    }

    /// The purpose as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stated purpose that is empty, too long, or has hidden characters or an identifier-like run
/// of digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "a purpose is 1 to 200 characters, without control or invisible characters or runs of 9 digits"
)]
pub struct InvalidPurpose;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purposes_that_could_carry_an_identifier_or_hide_text_are_refused() {
        assert!(Purpose::new("kiểm tra hồ sơ theo yêu cầu số 12/2026").is_ok());
        assert!(Purpose::new("12345678 lần").is_ok());
        for bad in [
            "",
            "   ",
            "tra cứu 079305000123",
            "gọi 0912345678",
            "a\u{202E}b",
            "a\u{200B}b",
            "a\nb",
        ] {
            assert_eq!(Purpose::new(bad), Err(InvalidPurpose), "{bad:?}");
        }
        assert!(Purpose::new(&"x".repeat(201)).is_err());
    }
}

/// A disclosure about to happen.
#[derive(Clone, Debug)]
pub struct NewDisclosure {
    /// The person the data is about.
    pub subject: PersonId,
    /// Who receives it.
    pub recipient: Recipient,
    /// The names of the fields or claims released, never their values.
    pub fields: Vec<&'static str>,
    /// Why.
    pub purpose: Purpose,
    /// The rule that allows it, as a stable slug (`registry-administration`, `data-subject-access`).
    pub legal_basis: &'static str,
}

/// A disclosure as the log holds it. Its JSON form, with the fields in this order, is the log
/// entry whose hash is a leaf of the tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRecord {
    /// Format version, 1.
    pub v: u8,
    /// The record's id.
    pub id: DisclosureId,
    /// When it was recorded (RFC 3339, UTC, microseconds).
    pub time: Timestamp,
    /// `operator:<id>` or `organisation:<id>`.
    pub recipient: String,
    /// The person's pseudonym: base64url of a keyed HMAC, stable per person, unlinkable without
    /// the key.
    pub subject: String,
    /// The names of the fields or claims released.
    pub disclosed: Vec<String>,
    /// Why.
    pub purpose: String,
    /// The rule that allows it.
    pub legal_basis: String,
}

impl DisclosureRecord {
    /// The entry bytes: the record's JSON.
    pub fn to_entry(&self) -> Result<Vec<u8>, StoreError> {
        serde_json::to_vec(self).map_err(|_| StoreError::Corrupt("disclosure record"))
    }

    /// A record from entry bytes.
    pub fn from_entry(entry: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(entry).map_err(|_| StoreError::Corrupt("disclosures.entry"))
    }
}

/// A value whose release was recorded in the disclosure log. Only [`disclose`] makes one.
#[derive(Debug, PartialEq, Eq)]
pub struct Disclosed<T> {
    value: T,
    id: DisclosureId,
}

impl<T> Disclosed<T> {
    /// A value whose record `id` the store committed in the same transaction as the writes
    /// that release it.
    pub(crate) fn recorded(value: T, id: DisclosureId) -> Self {
        Self { value, id }
    }

    /// The released value.
    pub fn value(&self) -> &T {
        &self.value
    }

    /// The record that covers the release.
    pub fn id(&self) -> DisclosureId {
        self.id
    }
}

/// Records a disclosure of `value` (committed before this returns) and hands the value back as
/// [`Disclosed`]. If recording fails, the value is dropped: nothing is released unlogged.
pub async fn disclose<T>(
    log: &dyn DisclosureLog,
    disclosure: NewDisclosure,
    value: T,
) -> Result<Disclosed<T>, StoreError> {
    let ids = log
        .record_disclosures(std::slice::from_ref(&disclosure))
        .await?;
    let id = ids
        .into_iter()
        .next()
        .ok_or(StoreError::Corrupt("disclosure id"))?;
    Ok(Disclosed { value, id })
}

/// An entry as stored: its index, the subject key it is found by, and its bytes.
#[derive(Clone, Debug)]
pub struct StoredEntry {
    /// Index in the tree.
    pub index: u64,
    /// The subject key column (outside the tree): the first 8 bytes of the pseudonym, which
    /// must agree with the entry's own subject.
    pub subject_key: i64,
    /// The entry bytes.
    pub entry: Vec<u8>,
}

impl StoredEntry {
    /// Whether the subject key names the person the entry itself names. A changed key would
    /// hide the entry from its person, or show it to another.
    pub fn subject_agrees(&self) -> bool {
        DisclosureRecord::from_entry(&self.entry).is_ok_and(|record| {
            URL_SAFE_NO_PAD
                .decode(&record.subject)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .is_some_and(|pseudonym| crate::log::subject_key(&pseudonym) == self.subject_key)
        })
    }
}

/// A signed checkpoint as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: Hash,
    /// The signed note (C2SP tlog-checkpoint text and its signature lines).
    pub note: String,
}

/// What one integration step did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Integration {
    /// Records moved into the tree.
    pub integrated: usize,
    /// The tree size afterwards.
    pub size: u64,
}

/// One of a person's disclosure records, with its place in the log.
#[derive(Clone, Debug)]
pub struct SubjectEntry {
    /// The record.
    pub record: DisclosureRecord,
    /// The entry bytes (the leaf is `SHA-256(0x00 || entry)`).
    pub entry: Vec<u8>,
    /// Its index in the tree; `None` while it waits for the next integration.
    pub index: Option<u64>,
    /// Its inclusion proof against the checkpoint, when the checkpoint covers it.
    pub proof: Option<Vec<Hash>>,
}

/// A person's records and the checkpoint their proofs lead to.
#[derive(Clone, Debug)]
pub struct SubjectLog {
    /// The latest checkpoint, if any.
    pub checkpoint: Option<SignedCheckpoint>,
    /// The records, oldest first; those still waiting have no index.
    pub entries: Vec<SubjectEntry>,
}

/// The disclosure log. One implementation per store backend, chosen at startup.
#[async_trait]
pub trait DisclosureLog: Send + Sync + 'static {
    /// The log's origin: the first line of its checkpoints and the name of its keys.
    fn origin(&self) -> &str;

    /// The keys that sign checkpoints: ML-DSA-65 first, then the Ed25519 co-signer.
    fn verifiers(&self) -> &[NoteVerifier];

    /// Records disclosures durably, in one transaction, before the data is released; returns
    /// their ids in order. They enter the tree at the next integration.
    async fn record_disclosures(
        &self,
        disclosures: &[NewDisclosure],
    ) -> Result<Vec<DisclosureId>, StoreError>;

    /// Waits until this process has recorded at least `count` disclosures since the last call
    /// returned, so that a publisher can act after N entries.
    async fn wait_for_records(&self, count: u64);

    /// Moves up to `max` waiting records into the tree in one transaction, oldest first: gives
    /// them the next indexes and writes the tiles they change.
    async fn integrate(&self, max: usize) -> Result<Integration, StoreError>;

    /// Signs and stores a checkpoint of the current tree when it is larger than the latest one.
    async fn publish_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError>;

    /// The latest checkpoint.
    async fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>, StoreError>;

    /// Every checkpoint, smallest first.
    async fn list_checkpoints(&self) -> Result<Vec<SignedCheckpoint>, StoreError>;

    /// A tile's stored hashes (its latest state).
    async fn find_tile(&self, level: u8, index: u64) -> Result<Option<Vec<u8>>, StoreError>;

    /// Up to `limit` stored tiles after `(level, index)` in (level, index) order, for audits.
    async fn list_tiles(
        &self,
        after: Option<(u8, u64)>,
        limit: usize,
    ) -> Result<Vec<(u8, u64, Vec<u8>)>, StoreError>;

    /// Up to `limit` stored entries with index ≥ `from`, in index order, for audits.
    async fn list_entries(&self, from: u64, limit: usize) -> Result<Vec<StoredEntry>, StoreError>;

    /// How many entries the tree holds, and how many records wait to enter it.
    async fn sizes(&self) -> Result<(u64, u64), StoreError>;

    /// A person's records, with inclusion proofs against the latest checkpoint (whose size and
    /// root are taken from its verified note, not from the row beside it).
    async fn list_subject_entries(&self, subject: PersonId) -> Result<SubjectLog, StoreError>;
}
