//! Differential tests: this crate (aws-lc-rs) against libcrux, an independent implementation of
//! ML-DSA (FIPS 204) and ML-KEM (FIPS 203), on random keys and messages.
//!
//! For ML-DSA, keys made from the same seed must be byte-identical, and pure signatures with an
//! empty context (RFC 9964) must verify across the two in both directions. For ML-KEM-768, a
//! secret encapsulated by one side must decapsulate to the same bytes on the other, including
//! the implicit-rejection secret of an altered ciphertext.
//!
//! Every failure message carries the seed and message in hex, so that a case can be replayed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lc_rs::encoding::AsRawBytes;
use aws_lc_rs::signature::{self as aws_signature, PqdsaKeyPair, PqdsaSigningAlgorithm};
use dinhdanh_crypto::{
    CryptoError, KemDecapsulationKey, KemEncapsulationKey, SignatureAlgorithm, SigningKey,
    random_bytes,
};

mod common;

/// Iterations per ML-DSA parameter set and for ML-KEM-768.
const ITERATIONS: usize = 32;

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    random_bytes(&mut bytes).unwrap();
    bytes
}

/// A random message of 0 to 2,047 bytes.
fn random_message() -> Vec<u8> {
    let [a, b] = random::<2>();
    let mut message = vec![0u8; usize::from(u16::from_le_bytes([a, b]) % 2048)];
    random_bytes(&mut message).unwrap();
    message
}

fn aws_ml_dsa(alg: SignatureAlgorithm) -> &'static PqdsaSigningAlgorithm {
    match alg {
        SignatureAlgorithm::MlDsa44 => &aws_signature::ML_DSA_44_SIGNING,
        SignatureAlgorithm::MlDsa65 => &aws_signature::ML_DSA_65_SIGNING,
        SignatureAlgorithm::MlDsa87 => &aws_signature::ML_DSA_87_SIGNING,
        other => panic!("{other:?} is not ML-DSA"),
    }
}

fn ml_dsa_differential(alg: SignatureAlgorithm) {
    let set = alg.jose_name();
    for _ in 0..ITERATIONS {
        let seed = random::<32>();
        let message = random_message();
        let case = format!(
            "{set} seed {} message {}",
            hex::encode(seed),
            hex::encode(&message)
        );

        // Same seed, same keys (FIPS 204 KeyGen_internal is deterministic in ξ).
        let ours = SigningKey::from_private_bytes(alg, &seed).unwrap();
        let public = ours.verifying_key();
        let (libcrux_pk, libcrux_sk) = common::dsa_key_gen(set, seed);
        assert_eq!(public.as_bytes(), libcrux_pk, "public keys differ: {case}");
        let aws_pair = PqdsaKeyPair::from_seed(aws_ml_dsa(alg), &seed).unwrap();
        let aws_sk = aws_pair.private_key().as_raw_bytes().unwrap();
        assert_eq!(aws_sk.as_ref(), libcrux_sk, "expanded keys differ: {case}");

        // aws-lc-rs signs, libcrux verifies (pure, empty context)…
        let signature = ours.sign(&message).unwrap();
        assert!(
            common::dsa_verify(set, &libcrux_pk, &message, b"", &signature),
            "libcrux refused an aws-lc-rs signature: {case}"
        );
        // …and only with the empty context and the same message.
        assert!(!common::dsa_verify(
            set,
            &libcrux_pk,
            &message,
            b"dinhdanh",
            &signature
        ));
        let mut other = message.clone();
        other.push(0);
        assert!(!common::dsa_verify(
            set,
            &libcrux_pk,
            &other,
            b"",
            &signature
        ));

        // libcrux signs (hedged and deterministic), aws-lc-rs verifies.
        for rnd in [random::<32>(), [0u8; 32]] {
            let signature = common::dsa_sign(set, &libcrux_sk, &message, b"", rnd);
            public
                .verify(&message, &signature)
                .unwrap_or_else(|e| panic!("aws-lc-rs refused a libcrux signature ({e}): {case}"));
            assert!(matches!(
                public.verify(&other, &signature),
                Err(CryptoError::BadSignature)
            ));
        }
        // A signature under a non-empty context is not an RFC 9964 signature: refused.
        let with_context = common::dsa_sign(set, &libcrux_sk, &message, b"dinhdanh", random());
        assert!(
            matches!(
                public.verify(&message, &with_context),
                Err(CryptoError::BadSignature)
            ),
            "aws-lc-rs accepted a signature made with a context: {case}"
        );
    }
}

#[test]
fn ml_dsa_44_agrees_with_libcrux() {
    ml_dsa_differential(SignatureAlgorithm::MlDsa44);
}

#[test]
fn ml_dsa_65_agrees_with_libcrux() {
    ml_dsa_differential(SignatureAlgorithm::MlDsa65);
}

#[test]
fn ml_dsa_87_agrees_with_libcrux() {
    ml_dsa_differential(SignatureAlgorithm::MlDsa87);
}

const ML_KEM_768: &str = "ML-KEM-768";

#[test]
fn ml_kem_768_aws_lc_rs_keys_agree_with_libcrux() {
    for _ in 0..ITERATIONS {
        let dk = KemDecapsulationKey::generate().unwrap();
        let ek = dk.encapsulation_key();
        let dk_bytes = dk.private_bytes().unwrap();
        let case = format!("dk {}", hex::encode(&*dk_bytes));
        assert!(common::kem_ek_valid(ML_KEM_768, ek.as_bytes()), "{case}");
        assert!(common::kem_dk_valid(ML_KEM_768, &dk_bytes), "{case}");

        // libcrux encapsulates to our key, we decapsulate.
        let m = random::<32>();
        let (c, k) = common::kem_encaps(ML_KEM_768, ek.as_bytes(), m);
        assert_eq!(
            *dk.decapsulate(&c).unwrap(),
            k,
            "m {}: {case}",
            hex::encode(m)
        );

        // We encapsulate, libcrux decapsulates with our dk.
        let (c, k) = ek.encapsulate().unwrap();
        assert_eq!(
            common::kem_decaps(ML_KEM_768, &dk_bytes, &c),
            *k,
            "c {}: {case}",
            hex::encode(&c)
        );

        // An altered ciphertext: both sides derive the same implicit-rejection secret
        // (FIPS 203 Algorithm 18, K̄ = J(z ‖ c)), which is not the sender's.
        let mut altered = c.clone();
        let [index, bit] = random::<2>();
        altered[usize::from(index) * 4] ^= 1 << (bit % 8);
        let ours = dk.decapsulate(&altered).unwrap();
        assert_ne!(*ours, *k);
        assert_eq!(
            *ours,
            common::kem_decaps(ML_KEM_768, &dk_bytes, &altered),
            "implicit rejection differs, c' {}: {case}",
            hex::encode(&altered)
        );
    }
}

#[test]
fn ml_kem_768_libcrux_keys_agree_with_aws_lc_rs() {
    for _ in 0..ITERATIONS {
        let (d, z) = (random::<32>(), random::<32>());
        let (ek_bytes, dk_bytes) = common::kem_key_gen(ML_KEM_768, &d, &z);
        let case = format!("d {} z {}", hex::encode(d), hex::encode(z));

        // We encapsulate to libcrux's key, libcrux decapsulates.
        let ek = KemEncapsulationKey::from_bytes(&ek_bytes).unwrap();
        let (c, k) = ek.encapsulate().unwrap();
        assert_eq!(common::kem_decaps(ML_KEM_768, &dk_bytes, &c), *k, "{case}");

        // libcrux encapsulates, we decapsulate with libcrux's dk imported.
        let dk = KemDecapsulationKey::from_bytes(&dk_bytes).unwrap();
        assert_eq!(dk.encapsulation_key(), ek, "{case}");
        let m = random::<32>();
        let (c, k) = common::kem_encaps(ML_KEM_768, &ek_bytes, m);
        assert_eq!(
            *dk.decapsulate(&c).unwrap(),
            k,
            "m {}: {case}",
            hex::encode(m)
        );
    }
}

/// FIPS 203 §7.2 on corrupted keys: this crate's modulus check refuses exactly the keys libcrux
/// refuses, and aws-lc-rs cannot encapsulate to any of them.
#[test]
fn ml_kem_768_key_checks_agree_with_libcrux() {
    let ek = KemDecapsulationKey::generate()
        .unwrap()
        .encapsulation_key()
        .as_bytes()
        .to_vec();
    let mut outcomes = [0usize; 2];
    for _ in 0..512 {
        // One 12-bit coefficient of t̂ (768 of them, two per three bytes) set to a random
        // value: 0..=4095, so about one in five is ≥ q = 3329.
        let [i0, i1, v0, v1] = random::<4>();
        let index = usize::from(u16::from_le_bytes([i0, i1]) % 768);
        let value = u16::from_le_bytes([v0, v1]) % 4096;
        let mut bad = ek.clone();
        let at = index / 2 * 3;
        if index % 2 == 0 {
            bad[at] = (value & 0xff) as u8;
            bad[at + 1] = (bad[at + 1] & 0xf0) | (value >> 8) as u8;
        } else {
            bad[at + 1] = (bad[at + 1] & 0x0f) | ((value & 0x0f) << 4) as u8;
            bad[at + 2] = (value >> 4) as u8;
        }
        let libcrux = common::kem_ek_valid(ML_KEM_768, &bad);
        let ours = KemEncapsulationKey::from_bytes(&bad).is_ok();
        assert_eq!(ours, libcrux, "coefficient {index} = {value}");
        assert_eq!(libcrux, value < 3329, "coefficient {index} = {value}");
        let aws = aws_lc_rs::kem::EncapsulationKey::new(&aws_lc_rs::kem::ML_KEM_768, &bad)
            .is_ok_and(|key| key.encapsulate().is_ok());
        assert_eq!(aws, libcrux, "aws-lc-rs, coefficient {index} = {value}");
        outcomes[usize::from(ours)] += 1;
    }
    // Both outcomes occurred (each has probability < 2^-100 of never occurring in 512 draws).
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}
