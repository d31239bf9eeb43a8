//! Checkpoints (C2SP `tlog-checkpoint`) as signed notes (C2SP `signed-note`), signed with
//! ML-DSA-65 and co-signed with Ed25519. The Ed25519 line is the standard signed-note type, so
//! existing verifiers check it and ignore the ML-DSA line; ours check both.
//!
//! This module formats, signs, parses and verifies text. It never fetches a key: verifiers are
//! configured by their caller, from the log's published keys or a pinned copy of them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dinhdanh_crypto::{SignatureAlgorithm, SigningKey, VerifyingKey, sha256_concat};

use crate::LedgerError;
use crate::merkle::Hash;

/// The signature line prefix: em dash and space (C2SP signed-note).
const SIGNATURE_PREFIX: &str = "\u{2014} ";
/// The most signature lines a note may carry; the spec asks verifiers to accept at least 16.
const MAX_SIGNATURES: usize = 16;
/// The largest note accepted: 16 ML-DSA-87 signatures fit with room to spare.
const MAX_NOTE_BYTES: usize = 128 * 1024;

/// A tree head: the log's origin, its size and its root hash (C2SP tlog-checkpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, conventionally its URL prefix without the scheme.
    pub origin: String,
    /// Number of leaves.
    pub size: u64,
    /// RFC 9162 root hash.
    pub root: Hash,
}

impl Checkpoint {
    /// The note text: origin, decimal size and base64 root, each on its own line.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root)
        )
    }

    /// Parses note text. Extension lines after the root are allowed and ignored, as the spec
    /// permits; the first three lines are checked strictly.
    pub fn parse_body(text: &str) -> Result<Self, LedgerError> {
        let bad = |what: &'static str| LedgerError::BadCheckpoint(what);
        let body = text.strip_suffix('\n').ok_or(bad("no final newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(bad("origin line"));
        }
        let size = lines.next().ok_or(bad("size line"))?;
        let canonical = !size.is_empty()
            && size.bytes().all(|b| b.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        let size: u64 = if canonical { size.parse().ok() } else { None }.ok_or(bad("size line"))?;
        let root = lines.next().ok_or(bad("root line"))?;
        let root: Hash = STANDARD
            .decode(root)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(bad("root line"))?;
        if lines.any(str::is_empty) {
            return Err(bad("empty extension line"));
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// The signature type identifier of an algorithm (C2SP signed-note §Signature types): `0x01`
/// for Ed25519; ML-DSA has no assigned byte, so it takes `0xff` and a name, as the spec
/// recommends for unassigned types.
fn signature_type(algorithm: SignatureAlgorithm) -> Result<&'static [u8], LedgerError> {
    match algorithm {
        SignatureAlgorithm::Ed25519 => Ok(&[0x01]),
        SignatureAlgorithm::MlDsa65 => Ok(b"\xffML-DSA-65"),
        _ => Err(LedgerError::UnsupportedAlgorithm),
    }
}

/// `SHA-256(key name || 0x0A || signature type || public key)[:4]` (C2SP signed-note).
fn key_id(name: &str, key: &VerifyingKey) -> Result<u32, LedgerError> {
    let digest = sha256_concat(&[
        name.as_bytes(),
        b"\n",
        signature_type(key.algorithm())?,
        key.as_bytes(),
    ]);
    Ok(u32::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3],
    ]))
}

fn check_name(name: &str) -> Result<(), LedgerError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        Err(LedgerError::BadKeyName)
    } else {
        Ok(())
    }
}

/// A key that signs notes under a name.
#[derive(Debug)]
pub struct NoteSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl NoteSigner {
    /// A signer for `key` (Ed25519 or ML-DSA-65) under `name`, which has no spaces or `+`.
    pub fn new(name: &str, key: SigningKey) -> Result<Self, LedgerError> {
        check_name(name)?;
        let id = key_id(name, &key.verifying_key())?;
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    fn signature_line(&self, text: &str) -> Result<String, LedgerError> {
        let signature = self
            .key
            .sign(text.as_bytes())
            .map_err(|_| LedgerError::Signing)?;
        let mut bytes = Vec::with_capacity(4 + signature.len());
        bytes.extend_from_slice(&self.id.to_be_bytes());
        bytes.extend_from_slice(&signature);
        Ok(format!(
            "{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(bytes)
        ))
    }
}

/// A public key that verifies notes, with its name and key id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// A verifier for `key` under `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, LedgerError> {
        check_name(name)?;
        let id = key_id(name, &key)?;
        Ok(Self {
            name: name.to_owned(),
            id,
            key,
        })
    }

    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.key.algorithm()
    }

    /// The verifier key text `<name>+<hex key id>+<base64(type || public key)>`, the form
    /// signed-note tooling reads (for Ed25519, exactly the Go `note` package's format).
    pub fn to_vkey(&self) -> String {
        let mut bytes = signature_type(self.key.algorithm())
            .unwrap_or_default()
            .to_vec();
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.id, STANDARD.encode(bytes))
    }

    /// Parses verifier key text, checking that the key id matches the key.
    pub fn parse_vkey(text: &str) -> Result<Self, LedgerError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(LedgerError::BadVerifierKey);
        };
        let id = (id.len() == 8)
            .then(|| u32::from_str_radix(id, 16).ok())
            .flatten()
            .ok_or(LedgerError::BadVerifierKey)?;
        let bytes = STANDARD
            .decode(key)
            .map_err(|_| LedgerError::BadVerifierKey)?;
        let algorithm = [SignatureAlgorithm::Ed25519, SignatureAlgorithm::MlDsa65]
            .into_iter()
            .find(|alg| signature_type(*alg).is_ok_and(|prefix| bytes.starts_with(prefix)))
            .ok_or(LedgerError::BadVerifierKey)?;
        let prefix = signature_type(algorithm)?.len();
        let key = VerifyingKey::from_bytes(algorithm, &bytes[prefix..])
            .map_err(|_| LedgerError::BadVerifierKey)?;
        let verifier = Self::new(name, key)?;
        if verifier.id != id {
            return Err(LedgerError::BadVerifierKey);
        }
        Ok(verifier)
    }
}

/// Signs note text (which ends in a newline) with every signer, in order.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, LedgerError> {
    if !text.ends_with('\n')
        || text.contains("\n\n")
        || text.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(LedgerError::BadNote("note text"));
    }
    let mut note = format!("{text}\n");
    for signer in signers {
        note.push_str(&signer.signature_line(text)?);
    }
    Ok(note)
}

/// A note whose signatures were checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedNote {
    /// The signed text, final newline included.
    pub text: String,
    /// The known keys whose signatures verified.
    pub verified: Vec<NoteVerifier>,
}

/// Splits and verifies a signed note against `verifiers` (C2SP signed-note): signatures by
/// unknown keys are ignored, any signature by a known key must verify, and at least one must.
pub fn open_note(note: &str, verifiers: &[NoteVerifier]) -> Result<VerifiedNote, LedgerError> {
    if note.len() > MAX_NOTE_BYTES {
        return Err(LedgerError::BadNote("too large"));
    }
    if note.chars().any(|c| c.is_control() && c != '\n') {
        return Err(LedgerError::BadNote("control character"));
    }
    let split = note
        .rfind("\n\n")
        .ok_or(LedgerError::BadNote("no blank line before the signatures"))?;
    let text = &note[..=split];
    let signatures = &note[split + 2..];
    if signatures.is_empty() || !signatures.ends_with('\n') {
        return Err(LedgerError::BadNote("signature lines"));
    }
    let lines: Vec<&str> = signatures[..signatures.len() - 1].split('\n').collect();
    if lines.len() > MAX_SIGNATURES {
        return Err(LedgerError::BadNote("too many signatures"));
    }
    let mut verified = Vec::new();
    for line in lines {
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or(LedgerError::BadNote("signature line"))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or(LedgerError::BadNote("signature line"))?;
        check_name(name).map_err(|_| LedgerError::BadNote("signature key name"))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| LedgerError::BadNote("signature encoding"))?;
        if bytes.len() < 5 {
            return Err(LedgerError::BadNote("signature too short"));
        }
        let id = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let Some(verifier) = verifiers.iter().find(|v| v.name == name && v.id == id) else {
            continue;
        };
        if verified.contains(verifier) {
            // One key, one signature (as Go's note package requires).
            return Err(LedgerError::BadNote("a key signed twice"));
        }
        verifier
            .key
            .verify(text.as_bytes(), &bytes[4..])
            .map_err(|_| LedgerError::BadSignature(verifier.key.algorithm()))?;
        verified.push(verifier.clone());
    }
    if verified.is_empty() {
        return Err(LedgerError::NoKnownSignature);
    }
    Ok(VerifiedNote {
        text: text.to_owned(),
        verified,
    })
}

/// Opens a signed checkpoint, requiring a valid signature from *every* verifier given (the log
/// signs with ML-DSA-65 and Ed25519; a note missing either is refused) and the expected origin.
pub fn open_checkpoint(
    note: &str,
    origin: &str,
    verifiers: &[NoteVerifier],
) -> Result<Checkpoint, LedgerError> {
    let opened = open_note(note, verifiers)?;
    for verifier in verifiers {
        if !opened.verified.contains(verifier) {
            return Err(LedgerError::MissingSignature(verifier.key.algorithm()));
        }
    }
    let checkpoint = Checkpoint::parse_body(&opened.text)?;
    if checkpoint.origin != origin {
        return Err(LedgerError::BadCheckpoint("origin is not this log's"));
    }
    Ok(checkpoint)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn signers() -> (NoteSigner, NoteSigner) {
        let name = "dinhdanh.invalid/test-log";
        (
            NoteSigner::new(
                name,
                SigningKey::generate(SignatureAlgorithm::MlDsa65).unwrap(),
            )
            .unwrap(),
            NoteSigner::new(
                name,
                SigningKey::generate(SignatureAlgorithm::Ed25519).unwrap(),
            )
            .unwrap(),
        )
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "dinhdanh.invalid/test-log".into(),
            size: 12_345,
            root: [7; 32],
        }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_both_keys() {
        let (pq, classic) = signers();
        let note = sign_note(&checkpoint().body(), &[&pq, &classic]).unwrap();
        assert!(note.starts_with("dinhdanh.invalid/test-log\n12345\n"));
        assert_eq!(
            note.matches("\n\u{2014} dinhdanh.invalid/test-log ")
                .count(),
            2
        );
        let verifiers = [pq.verifier(), classic.verifier()];
        let opened = open_checkpoint(&note, "dinhdanh.invalid/test-log", &verifiers).unwrap();
        assert_eq!(opened, checkpoint());
        // A classical-only verifier accepts the note too, ignoring the ML-DSA line.
        assert!(open_note(&note, &[classic.verifier()]).is_ok());
    }

    #[test]
    fn tampering_or_a_missing_line_is_refused() {
        let (pq, classic) = signers();
        let verifiers = [pq.verifier(), classic.verifier()];
        let note = sign_note(&checkpoint().body(), &[&pq, &classic]).unwrap();
        let changed = note.replacen("12345", "12346", 1);
        assert!(matches!(
            open_checkpoint(&changed, "dinhdanh.invalid/test-log", &verifiers),
            Err(LedgerError::BadSignature(_))
        ));
        let classic_only = sign_note(&checkpoint().body(), &[&classic]).unwrap();
        assert!(matches!(
            open_checkpoint(&classic_only, "dinhdanh.invalid/test-log", &verifiers),
            Err(LedgerError::MissingSignature(SignatureAlgorithm::MlDsa65))
        ));
        let (other_pq, _) = signers();
        assert!(matches!(
            open_note(&note, &[other_pq.verifier()]),
            Err(LedgerError::NoKnownSignature)
        ));
        assert!(open_checkpoint(&note, "another.example/log", &verifiers).is_err());
        // The same key's line twice is refused, even though each copy verifies.
        let line = note.lines().last().unwrap();
        let doubled = format!("{note}{line}\n");
        assert_eq!(
            open_note(&doubled, &verifiers),
            Err(LedgerError::BadNote("a key signed twice"))
        );
        // Two Ed25519 keys required, one present: the second is missing.
        let (_, other_classic) = signers();
        let both = [classic.verifier(), other_classic.verifier()];
        assert!(matches!(
            open_checkpoint(&note, "dinhdanh.invalid/test-log", &both),
            Err(LedgerError::MissingSignature(SignatureAlgorithm::Ed25519))
        ));
    }

    #[test]
    fn verifier_keys_round_trip_and_check_their_id() {
        let (pq, classic) = signers();
        for verifier in [pq.verifier(), classic.verifier()] {
            let text = verifier.to_vkey();
            assert_eq!(NoteVerifier::parse_vkey(&text).unwrap(), verifier);
            let (head, tail) = text.split_at(text.find('+').unwrap() + 1);
            let wrong_id = format!("{head}00000000{}", &tail[8..]);
            assert!(NoteVerifier::parse_vkey(&wrong_id).is_err());
        }
        assert!(NoteVerifier::parse_vkey("name+zz+AAAA").is_err());
    }

    #[test]
    fn checkpoint_bodies_are_parsed_strictly() {
        let body = checkpoint().body();
        assert_eq!(Checkpoint::parse_body(&body).unwrap(), checkpoint());
        for bad in [
            "origin\n012\nAAAA\n",
            "origin\n12\nnot-base64\n",
            "\n12\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
            "origin\n12\n",
            "origin\n-1\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n",
        ] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?} was accepted");
        }
        let with_extension = format!("{body}extension line\n");
        assert_eq!(
            Checkpoint::parse_body(&with_extension).unwrap(),
            checkpoint()
        );
    }
}
