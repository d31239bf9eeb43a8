//! Hybrid post-quantum sealing to a recipient's public key, for key backups and data exports.
//!
//! This module owns the hybrid KEM — ML-KEM-768 (FIPS 203) and X25519 (RFC 7748) joined by the
//! X-Wing combiner of draft-connolly-cfrg-xwing-kem-10 §5.3 — and the sealed-message format
//! built on it: the KEM's shared secret keys AES-256-GCM through HKDF-SHA-256 (RFC 5869). A
//! message stays confidential as long as either ML-KEM-768 or X25519 holds (draft §6).
//!
//! Layouts (all lengths in bytes; `‖` is concatenation):
//!
//! - public key: `version (1) ‖ pk_M (1,184) ‖ pk_X (32)`, where `pk_M ‖ pk_X` is an X-Wing
//!   encapsulation key (draft §5.1); as text, `ddpk1.` followed by the same bytes in
//!   unpadded base64url.
//! - private key: `version (1) ‖ dk_M (2,400) ‖ sk_X (32)` — the *expanded* form, see
//!   [`HybridRecipientKey`].
//! - sealed message: `version (1) ‖ ct_M (1,088) ‖ ct_X (32) ‖ nonce (12) ‖ ciphertext ‖
//!   tag (16)`, where `ct_M ‖ ct_X` is an X-Wing ciphertext (draft §5.4). The AEAD key is
//!   HKDF-SHA-256 with an empty salt, the X-Wing shared secret as input keying material and
//!   `dinhdanh hybrid seal v1` as info; the associated data is the whole header (everything
//!   before the ciphertext) followed by the caller's associated data. The header has a fixed
//!   length, so the two parts cannot be shifted into each other.
//!
//! What it must never do: print or return a private key or shared secret other than through
//! [`HybridRecipientKey::to_bytes`] (`Debug` shows neither), or tell a caller *why* a message
//! failed to open.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, UnparsedPublicKey, X25519};
use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin};
use aws_lc_rs::hkdf::{HKDF_SHA256, Salt};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::{CryptoError, KemDecapsulationKey, KemEncapsulationKey, random_bytes};

/// The format version of keys and sealed messages written by this module.
const VERSION: u8 = 1;
/// X25519 public keys, private keys and shared secrets (RFC 7748 §5).
const X25519_LEN: usize = 32;
/// The ML-KEM-768 and X-Wing shared secrets (FIPS 203 §8, draft §5.1).
const SECRET_LEN: usize = 32;
const PUBLIC_KEY_LEN: usize = 1 + KemEncapsulationKey::LEN + X25519_LEN;
const PRIVATE_KEY_LEN: usize = 1 + KemDecapsulationKey::LEN + X25519_LEN;
/// `version ‖ ct_M ‖ ct_X ‖ nonce`.
const HEADER_LEN: usize = 1 + KemEncapsulationKey::CIPHERTEXT_LEN + X25519_LEN + NONCE_LEN;
const TAG_LEN: usize = 16;
/// The prefix of the text form of a public key; the digit is the format version.
const TEXT_PREFIX: &str = "ddpk1.";
/// HKDF info (RFC 5869 §2.3) of the AEAD key: names this use and format version, so that a
/// shared secret used anywhere else can never key this AEAD.
const HKDF_INFO: &[u8] = b"dinhdanh hybrid seal v1";

/// draft-connolly-cfrg-xwing-kem-10 §5.3: `XWingLabel = concat("\./", "/^\")`, in hexadecimal
/// 5c2e2f2f5e5c.
const XWING_LABEL: &[u8; 6] = b"\\.//^\\";

/// Which encoding a hybrid-sealing error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HybridFormat {
    /// A [`HybridPublicKey`] in binary form.
    PublicKey,
    /// A [`HybridRecipientKey`] in binary form.
    PrivateKey,
    /// A message sealed by [`HybridPublicKey::seal`].
    Sealed,
}

impl fmt::Display for HybridFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HybridFormat::PublicKey => "public key",
            HybridFormat::PrivateKey => "private key",
            HybridFormat::Sealed => "sealed message",
        })
    }
}

/// A recipient's public key: what data is sealed to, for a key backup or a data export.
///
/// It is an X-Wing encapsulation key (draft-connolly-cfrg-xwing-kem-10 §5.1) behind a version
/// byte. Built only from keys that pass the FIPS 203 §7.2 check (which X-Wing requires of
/// ML-KEM encapsulation, draft §4) and whose X25519 part is not a point of small order.
#[derive(Clone, PartialEq, Eq)]
pub struct HybridPublicKey {
    kem: KemEncapsulationKey,
    x25519: [u8; X25519_LEN],
}

impl fmt::Debug for HybridPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A short fingerprint, enough to tell two keys apart in a log line.
        let digest = digest::digest(&digest::SHA3_256, &self.to_bytes());
        let head: String = digest
            .as_ref()
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        write!(f, "HybridPublicKey(sha3-256 {head}…)")
    }
}

impl HybridPublicKey {
    /// The length of the binary form in bytes (1,217).
    pub const LEN: usize = PUBLIC_KEY_LEN;
    /// What sealing adds to a plaintext, in bytes (1,149): the header and the tag.
    pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;

    /// Parses the binary form written by [`HybridPublicKey::to_bytes`].
    ///
    /// Errors: [`CryptoError::UnknownFormatVersion`], [`CryptoError::WrongLength`], and
    /// [`CryptoError::InvalidKey`] for an ML-KEM key that fails the FIPS 203 §7.2 check or an
    /// X25519 key of small order (with which no shared secret can be agreed).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        check_version_and_length(bytes, HybridFormat::PublicKey, PUBLIC_KEY_LEN)?;
        let kem = KemEncapsulationKey::from_bytes(&bytes[1..1 + KemEncapsulationKey::LEN])?;
        let mut x25519 = [0u8; X25519_LEN];
        x25519.copy_from_slice(&bytes[1 + KemEncapsulationKey::LEN..]);
        // aws-lc refuses an all-zero X25519 output (RFC 7748 §6.1 allows the check), which
        // every clamped scalar gives exactly for the points of small order; a trial
        // agreement finds them now rather than at the first seal.
        let trial = agreement::PrivateKey::generate(&X25519).map_err(|_| CryptoError::Internal)?;
        agreement::agree(
            &trial,
            UnparsedPublicKey::new(&X25519, &x25519),
            CryptoError::InvalidKey,
            |_| Ok(()),
        )?;
        Ok(Self { kem, x25519 })
    }

    /// The binary form: `version ‖ pk_M ‖ pk_X`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(PUBLIC_KEY_LEN);
        out.push(VERSION);
        out.extend_from_slice(self.kem.as_bytes());
        out.extend_from_slice(&self.x25519);
        out
    }

    /// The text form, for an operator to paste on a command line: `ddpk1.` followed by the
    /// binary form in unpadded base64url (RFC 4648 §5), 1,629 characters in all.
    pub fn to_text(&self) -> String {
        format!("{TEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.to_bytes()))
    }

    /// Parses the text form written by [`HybridPublicKey::to_text`]. Whitespace around it
    /// (a pasted line end) is ignored; anything else that is not the prefix and canonical
    /// unpadded base64url gives [`CryptoError::PublicKeyText`]. The decoded bytes are then
    /// checked as [`HybridPublicKey::from_bytes`] does.
    pub fn from_text(text: &str) -> Result<Self, CryptoError> {
        let encoded = text
            .trim()
            .strip_prefix(TEXT_PREFIX)
            .ok_or(CryptoError::PublicKeyText)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CryptoError::PublicKeyText)?;
        Self::from_bytes(&bytes)
    }

    /// Seals `plaintext` to this key, bound to the associated data `aad` (which is not
    /// stored: the recipient must give the same bytes to [`HybridRecipientKey::open`]).
    ///
    /// Every call encapsulates a fresh secret (draft §5.4, with fresh randomness), so sealing
    /// the same plaintext twice gives unrelated outputs.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        // X-Wing Encapsulate, draft §5.4: ML-KEM-768.Encaps(pk_M), and an ephemeral X25519
        // key ek_X whose public key is ct_X.
        let (ct_m, ss_m) = self.kem.encapsulate()?;
        let ephemeral =
            agreement::PrivateKey::generate(&X25519).map_err(|_| CryptoError::Internal)?;
        let ct_x = ephemeral
            .compute_public_key()
            .map_err(|_| CryptoError::Internal)?;
        let ss_x = x25519_agree(&ephemeral, &self.x25519).ok_or(CryptoError::Internal)?;
        let ss = combiner(&ss_m, &ss_x[..], ct_x.as_ref(), &self.x25519);

        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.push(VERSION);
        out.extend_from_slice(&ct_m);
        out.extend_from_slice(ct_x.as_ref());
        out.extend_from_slice(&nonce);
        debug_assert_eq!(out.len(), HEADER_LEN);

        let key = aead_key(&ss)?;
        let associated = [&out[..], aad].concat();
        // Room for the tag up front: growing the buffer would leave a copy of the plaintext
        // behind in freed memory.
        let mut body = Zeroizing::new(Vec::with_capacity(plaintext.len() + TAG_LEN));
        body.extend_from_slice(plaintext);
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated),
            &mut *body,
        )
        .map_err(|_| CryptoError::Internal)?;
        out.extend_from_slice(&body);
        Ok(out)
    }
}

impl fmt::Display for HybridPublicKey {
    /// The text form, as [`HybridPublicKey::to_text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl FromStr for HybridPublicKey {
    type Err = CryptoError;

    /// Parses the text form, as [`HybridPublicKey::from_text`].
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_text(text)
    }
}

/// A recipient's private key: opens what was sealed to its [`HybridPublicKey`].
///
/// **Stored in expanded form.** X-Wing's private key is a 32-byte seed from which the ML-KEM
/// and X25519 keys are derived (draft-connolly-cfrg-xwing-kem-10 §5.2). aws-lc-rs 1.19 has
/// no deterministic ML-KEM key generation from a seed (FIPS 203 ML-KEM.KeyGen_internal(d, z)):
/// `kem::DecapsulationKey` is either generated from the library's own randomness or rebuilt
/// from the 2,400-byte expanded key. So this key keeps the expanded ML-KEM-768 decapsulation
/// key `dk_M` and the 32-byte X25519 private key `sk_X` (imported with
/// `agreement::PrivateKey::from_private_key(&X25519, …)` and exported through its
/// `Curve25519SeedBin` encoding), and cannot be derived from, or exported as, an X-Wing seed.
/// The combiner, the public key and the ciphertext still follow X-Wing (§5.1, §5.3–§5.5), so
/// anything X-Wing can encapsulate to the public key opens here.
///
/// Draft §5.5.1 warns that an expanded key must not be moved between implementations: with a
/// plain ML-KEM decapsulation key X-Wing's MAL-BIND-K-PK and MAL-BIND-K-CT properties no
/// longer hold, because nothing ties `dk_M` to the seed. Treat [`HybridRecipientKey::to_bytes`]
/// as a backup format of this crate only, not an exchange format. Reading one checks the
/// FIPS 203 §7.3 hash of `dk_M`, which catches corruption, not a maliciously built key.
///
/// `Debug` prints only the public key. The private material is wiped from memory on drop
/// (the library's key objects are freed by aws-lc, which clears memory it frees).
pub struct HybridRecipientKey {
    kem: KemDecapsulationKey,
    x25519: agreement::PrivateKey,
    public: HybridPublicKey,
    encoded: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for HybridRecipientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HybridRecipientKey")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl HybridRecipientKey {
    /// The length of the binary form in bytes (2,433).
    pub const LEN: usize = PRIVATE_KEY_LEN;

    /// A new random key pair, from aws-lc-rs's CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        let kem = KemDecapsulationKey::generate()?;
        let x25519 = agreement::PrivateKey::generate(&X25519).map_err(|_| CryptoError::Internal)?;
        let mut encoded = Zeroizing::new(Vec::with_capacity(PRIVATE_KEY_LEN));
        encoded.push(VERSION);
        encoded.extend_from_slice(&kem.private_bytes()?);
        let scalar: Curve25519SeedBin<'static> =
            x25519.as_be_bytes().map_err(|_| CryptoError::Internal)?;
        encoded.extend_from_slice(scalar.as_ref());
        // One way in for every key, so that a generated key meets the same checks as a
        // stored one.
        Self::from_bytes(&encoded).map_err(|_| CryptoError::Internal)
    }

    /// Rebuilds a key from the binary form written by [`HybridRecipientKey::to_bytes`].
    ///
    /// Errors: [`CryptoError::UnknownFormatVersion`], [`CryptoError::WrongLength`], and
    /// [`CryptoError::InvalidKey`] when `dk_M` fails the FIPS 203 §7.3 checks (its embedded
    /// encapsulation key no longer matches its hash, or fails §7.2).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CryptoError> {
        check_version_and_length(bytes, HybridFormat::PrivateKey, PRIVATE_KEY_LEN)?;
        let split = 1 + KemDecapsulationKey::LEN;
        let kem = KemDecapsulationKey::from_bytes(&bytes[1..split])?;
        // Any 32 bytes are an X25519 private key: they are clamped at use (RFC 7748 §5).
        let x25519 = agreement::PrivateKey::from_private_key(&X25519, &bytes[split..])
            .map_err(|_| CryptoError::InvalidKey)?;
        let x25519_public = x25519
            .compute_public_key()
            .map_err(|_| CryptoError::Internal)?;
        let mut public_x25519 = [0u8; X25519_LEN];
        public_x25519.copy_from_slice(x25519_public.as_ref());
        let public = HybridPublicKey {
            kem: kem.encapsulation_key(),
            x25519: public_x25519,
        };
        Ok(Self {
            kem,
            x25519,
            public,
            encoded: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// The binary form: `version ‖ dk_M ‖ sk_X`, 2,433 bytes. The caller must keep it secret;
    /// the buffer is wiped when dropped. See the type's documentation for why this is not an
    /// X-Wing seed.
    pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.encoded.clone()
    }

    /// The public key to hand to whoever seals to this recipient.
    pub fn public_key(&self) -> HybridPublicKey {
        self.public.clone()
    }

    /// Opens a message sealed to this key's public key under the same associated data `aad`.
    /// The plaintext is wiped from memory when dropped.
    ///
    /// Errors: [`CryptoError::UnknownFormatVersion`] and [`CryptoError::SealedTooShort`] for
    /// input that cannot be a sealed message; [`CryptoError::HybridOpenFailed`] for one that
    /// was altered, cut, extended, sealed to another recipient, or sealed with other `aad`.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        const MINIMUM: usize = HEADER_LEN + TAG_LEN;
        let too_short = || CryptoError::SealedTooShort {
            minimum: MINIMUM,
            actual: sealed.len(),
        };
        let (&version, _) = sealed.split_first().ok_or_else(too_short)?;
        if version != VERSION {
            return Err(CryptoError::UnknownFormatVersion {
                format: HybridFormat::Sealed,
                version,
            });
        }
        if sealed.len() < MINIMUM {
            return Err(too_short());
        }
        let (header, body) = sealed.split_at(HEADER_LEN);
        let ct_m = &header[1..1 + KemEncapsulationKey::CIPHERTEXT_LEN];
        let ct_x = &header[1 + KemEncapsulationKey::CIPHERTEXT_LEN..HEADER_LEN - NONCE_LEN];
        let nonce = &header[HEADER_LEN - NONCE_LEN..];

        // X-Wing Decapsulate, draft §5.5. An altered ct_M decapsulates to the implicit-rejection
        // secret (FIPS 203 Algorithm 18), which the AEAD then refuses.
        let ss_m = self.kem.decapsulate(ct_m)?;
        // ct_X of small order leaves no X25519 secret: only an altered message does that.
        let ss_x = x25519_agree(&self.x25519, ct_x).ok_or(CryptoError::HybridOpenFailed)?;
        let ss = combiner(&ss_m, &ss_x[..], ct_x, &self.public.x25519);

        let key = aead_key(&ss)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Internal)?;
        let associated = [header, aad].concat();
        let mut plaintext = Zeroizing::new(body.to_vec());
        let len = key
            .open_in_place(nonce, Aad::from(associated), plaintext.as_mut_slice())
            .map_err(|_| CryptoError::HybridOpenFailed)?
            .len();
        plaintext.truncate(len);
        Ok(plaintext)
    }
}

/// The first byte is the format version, checked before the length so that input written by
/// a later format is named as such.
fn check_version_and_length(
    bytes: &[u8],
    format: HybridFormat,
    expected: usize,
) -> Result<(), CryptoError> {
    let wrong_length = CryptoError::WrongLength {
        format,
        expected,
        actual: bytes.len(),
    };
    match bytes.first() {
        None => Err(wrong_length),
        Some(&version) if version != VERSION => {
            Err(CryptoError::UnknownFormatVersion { format, version })
        }
        Some(_) if bytes.len() != expected => Err(wrong_length),
        Some(_) => Ok(()),
    }
}

/// X25519(k, u) (RFC 7748 §5) through aws-lc-rs; `None` when `peer` has the wrong length or is
/// of small order (the output would be all zeros, which aws-lc refuses).
fn x25519_agree(
    private: &agreement::PrivateKey,
    peer: &[u8],
) -> Option<Zeroizing<[u8; X25519_LEN]>> {
    agreement::agree(
        private,
        UnparsedPublicKey::new(&X25519, peer),
        (),
        |secret| {
            let mut out = Zeroizing::new([0u8; X25519_LEN]);
            if secret.len() != X25519_LEN {
                return Err(());
            }
            out.copy_from_slice(secret);
            Ok(out)
        },
    )
    .ok()
}

/// The X-Wing combiner, draft-connolly-cfrg-xwing-kem-10 §5.3:
/// `SHA3-256(ss_M ‖ ss_X ‖ ct_X ‖ pk_X ‖ XWingLabel)`. `ct_X` is the sender's ephemeral X25519
/// public key, `pk_X` the recipient's. The ML-KEM ciphertext is deliberately left out (draft
/// §1.2, §6: ML-KEM's FO transform already binds it).
pub(crate) fn combiner(
    ss_m: &[u8],
    ss_x: &[u8],
    ct_x: &[u8],
    pk_x: &[u8],
) -> Zeroizing<[u8; SECRET_LEN]> {
    let mut context = digest::Context::new(&digest::SHA3_256);
    for part in [ss_m, ss_x, ct_x, pk_x, XWING_LABEL] {
        context.update(part);
    }
    let mut out = Zeroizing::new([0u8; SECRET_LEN]);
    out.copy_from_slice(context.finish().as_ref());
    out
}

/// The AEAD key of one sealed message: HKDF-SHA-256 (RFC 5869) with an empty salt (§2.2: a
/// string of zeros; the X-Wing secret is already uniform), the X-Wing secret as input keying
/// material and [`HKDF_INFO`].
fn aead_key(shared_secret: &[u8; SECRET_LEN]) -> Result<LessSafeKey, CryptoError> {
    let prk = Salt::new(HKDF_SHA256, &[]).extract(shared_secret);
    let okm = prk
        .expand(&[HKDF_INFO], &AES_256_GCM)
        .map_err(|_| CryptoError::Internal)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lengths_follow_the_layouts() {
        assert_eq!(HybridPublicKey::LEN, 1 + 1184 + 32);
        assert_eq!(HybridRecipientKey::LEN, 1 + 2400 + 32);
        assert_eq!(HEADER_LEN, 1 + 1088 + 32 + 12);
        assert_eq!(HybridPublicKey::OVERHEAD, 1 + 1088 + 32 + 12 + 16);
        let key = HybridRecipientKey::generate().unwrap();
        assert_eq!(key.to_bytes().len(), HybridRecipientKey::LEN);
        assert_eq!(key.public_key().to_bytes().len(), HybridPublicKey::LEN);
        assert_eq!(
            key.public_key().to_text().len(),
            TEXT_PREFIX.len() + (HybridPublicKey::LEN * 4).div_ceil(3)
        );
        let sealed = key.public_key().seal(b"", b"abc").unwrap();
        assert_eq!(sealed.len(), HybridPublicKey::OVERHEAD + 3);
    }

    #[test]
    fn xwing_label_is_the_drafts() {
        // draft-connolly-cfrg-xwing-kem-10 §5.3: "In hexadecimal, XWingLabel is given by
        // 5c2e2f2f5e5c."
        assert_eq!(XWING_LABEL, &[0x5c, 0x2e, 0x2f, 0x2f, 0x5e, 0x5c]);
    }

    #[test]
    fn combiner_is_sha3_256_of_the_concatenation_in_draft_order() {
        // Distinct inputs, so that any reordering or omission changes the output. The
        // reference hash is libcrux's SHA3-256, not aws-lc's.
        let (ss_m, ss_x, ct_x, pk_x) = ([1u8; 32], [2u8; 32], [3u8; 32], [4u8; 32]);
        let expected =
            libcrux_sha3::sha256(&[&ss_m[..], &ss_x, &ct_x, &pk_x, b"\\.//^\\"].concat());
        assert_eq!(*combiner(&ss_m, &ss_x, &ct_x, &pk_x), expected);
        assert_ne!(*combiner(&ss_m, &ss_x, &pk_x, &ct_x), expected);
        assert_ne!(*combiner(&ss_x, &ss_m, &ct_x, &pk_x), expected);
    }

    #[test]
    fn debug_output_holds_no_secret() {
        let key = HybridRecipientKey::generate().unwrap();
        let text = format!("{key:?}");
        let private = key.to_bytes();
        // The X25519 private key and the last 32 bytes of dk_M (its z), in hex.
        for secret in [&private[private.len() - 32..], &private[2401 - 32..2401]] {
            let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
            assert!(!text.contains(&hex[..16]), "{text}");
        }
        assert!(text.starts_with("HybridRecipientKey { public: HybridPublicKey(sha3-256 "));
        assert!(text.len() < 100, "{text}");
    }

    #[test]
    fn the_stored_x25519_key_is_the_one_behind_pk_x() {
        // The combiner's pk_X is the last 32 bytes of the public key; it must be the public
        // key of the stored sk_X, or nothing sealed to it would open.
        let key = HybridRecipientKey::generate().unwrap();
        let private = key.to_bytes();
        let x25519 = agreement::PrivateKey::from_private_key(&X25519, &private[2401..]).unwrap();
        assert_eq!(
            x25519.compute_public_key().unwrap().as_ref(),
            &key.public_key().to_bytes()[1 + 1184..]
        );
        // And the stored ML-KEM key is the one behind pk_M.
        let kem = KemDecapsulationKey::from_bytes(&private[1..2401]).unwrap();
        assert_eq!(
            kem.encapsulation_key().as_bytes(),
            &key.public_key().to_bytes()[1..1 + 1184]
        );
    }
}
