//! Fixed keys shared by the fuzz targets and the seed-corpus example, so that the tokens and
//! sealed messages in the seed corpus verify and open under the keys the targets check them
//! with (and the fuzzer starts from inputs that reach the end of each parser).
//!
//! Every key here is synthetic and exists for fuzzing only: the signing keys come from fixed
//! 32-byte seeds, the hybrid recipient key from `fixtures/hybrid_recipient.bin` (made by
//! `cargo run --example seed_corpus -- --new-recipient`).

use std::sync::LazyLock;

use dinhdanh_crypto::jose::{ClaimChecks, Jwk, Jwks};
use dinhdanh_crypto::{HybridRecipientKey, SignatureAlgorithm, SigningKey};

/// The associated data every seed message is sealed under and `open` is called with.
pub const HYBRID_AAD: &[u8] = b"dinhdanh fuzz";

/// The issuer, audience and clock the `claims` target checks payloads against.
pub const CLAIM_CHECKS: ClaimChecks<'static> = ClaimChecks {
    issuer: "https://id.dinhdanh.invalid",
    audience: "rp-fuzz",
    now: 1_800_000_000,
    leeway: 30,
};

const RECIPIENT: &[u8] = include_bytes!("../fixtures/hybrid_recipient.bin");

/// The fixed seed (or P-256 scalar, which it is below the group order) of each algorithm's key.
fn seed(alg: SignatureAlgorithm) -> [u8; 32] {
    let byte = match alg {
        SignatureAlgorithm::MlDsa44 => 0x44,
        SignatureAlgorithm::MlDsa65 => 0x65,
        SignatureAlgorithm::MlDsa87 => 0x87,
        SignatureAlgorithm::Ed25519 => 0xed,
        // Starts below 0xff..., so it is below the P-256 group order.
        _ => 0x25,
    };
    [byte; 32]
}

/// The key id of each algorithm's fixed key.
pub fn kid(alg: SignatureAlgorithm) -> String {
    format!("fuzz-{}", alg.jose_name().to_ascii_lowercase())
}

/// The private JWK of `alg`, from its fixed seed.
pub fn private_jwk(alg: SignatureAlgorithm) -> Jwk {
    let key = SigningKey::from_private_bytes(alg, &seed(alg))
        .expect("every fixed seed is a valid private key for its algorithm");
    Jwk::private(key, Some(kid(alg)))
}

/// The fixed keys the JWS target verifies with, built once per process.
pub struct JwsKeys {
    /// The ML-DSA-65 public key.
    pub ml_dsa_65: Jwk,
    /// The Ed25519 public key.
    pub ed25519: Jwk,
    /// The public keys of every algorithm, each with its `kid`.
    pub set: Jwks,
}

/// The fixed public keys.
pub fn jws_keys() -> &'static JwsKeys {
    static KEYS: LazyLock<JwsKeys> = LazyLock::new(|| JwsKeys {
        ml_dsa_65: private_jwk(SignatureAlgorithm::MlDsa65).to_public(),
        ed25519: private_jwk(SignatureAlgorithm::Ed25519).to_public(),
        set: Jwks::new(
            SignatureAlgorithm::ALL
                .into_iter()
                .map(|alg| private_jwk(alg).to_public())
                .collect(),
        ),
    });
    &KEYS
}

/// The fixed hybrid recipient key.
pub fn recipient() -> &'static HybridRecipientKey {
    static KEY: LazyLock<HybridRecipientKey> = LazyLock::new(|| {
        HybridRecipientKey::from_bytes(RECIPIENT)
            .expect("fixtures/hybrid_recipient.bin is a key written by HybridRecipientKey")
    });
    &KEY
}
