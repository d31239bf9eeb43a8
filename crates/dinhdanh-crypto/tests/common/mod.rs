//! libcrux (Cryspen's ML-DSA and ML-KEM, an implementation independent of aws-lc-rs) behind
//! small functions keyed by parameter-set name, shared by `acvp.rs` and `differential.rs`.
#![allow(dead_code)] // Each test binary uses a different subset.

/// Converts a slice to the fixed-size array an algorithm requires.
pub(crate) fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    bytes
        .try_into()
        .expect("input has the length its algorithm fixes")
}

/// Runs `$body` with `$m` bound to the libcrux module of an ML-DSA parameter set.
macro_rules! libcrux_ml_dsa {
    ($set:expr, $m:ident => $body:expr) => {
        match $set {
            "ML-DSA-44" => {
                use libcrux_ml_dsa::ml_dsa_44 as $m;
                $body
            }
            "ML-DSA-65" => {
                use libcrux_ml_dsa::ml_dsa_65 as $m;
                $body
            }
            "ML-DSA-87" => {
                use libcrux_ml_dsa::ml_dsa_87 as $m;
                $body
            }
            other => panic!("unknown ML-DSA parameter set {other}"),
        }
    };
}

/// Runs `$body` with `$m` bound to the libcrux module of an ML-KEM parameter set.
macro_rules! libcrux_ml_kem {
    ($set:expr, $m:ident => $body:expr) => {
        match $set {
            "ML-KEM-512" => {
                use libcrux_ml_kem::mlkem512 as $m;
                $body
            }
            "ML-KEM-768" => {
                use libcrux_ml_kem::mlkem768 as $m;
                $body
            }
            "ML-KEM-1024" => {
                use libcrux_ml_kem::mlkem1024 as $m;
                $body
            }
            other => panic!("unknown ML-KEM parameter set {other}"),
        }
    };
}

/// ML-DSA.KeyGen_internal(ξ) → (pk, sk) (FIPS 204 Algorithm 6).
pub(crate) fn dsa_key_gen(set: &str, seed: [u8; 32]) -> (Vec<u8>, Vec<u8>) {
    libcrux_ml_dsa!(set, m => {
        let pair = m::generate_key_pair(seed);
        (
            pair.verification_key.as_slice().to_vec(),
            pair.signing_key.as_slice().to_vec(),
        )
    })
}

/// ML-DSA.Verify_internal(pk, M′, σ) (FIPS 204 Algorithm 8). A key or signature of the wrong
/// length is `false`.
pub(crate) fn dsa_verify_internal(set: &str, pk: &[u8], message: &[u8], signature: &[u8]) -> bool {
    libcrux_ml_dsa!(set, m => {
        let (Ok(pk), Ok(signature)) = (pk.try_into(), signature.try_into()) else {
            return false;
        };
        m::verify_internal(
            &libcrux_ml_dsa::MLDSAVerificationKey::new(pk),
            message,
            &libcrux_ml_dsa::MLDSASignature::new(signature),
        )
        .is_ok()
    })
}

/// ML-DSA.Verify(pk, M, σ, ctx), pure (FIPS 204 Algorithm 3). A key or signature of the wrong
/// length is `false`.
pub(crate) fn dsa_verify(
    set: &str,
    pk: &[u8],
    message: &[u8],
    context: &[u8],
    signature: &[u8],
) -> bool {
    libcrux_ml_dsa!(set, m => {
        let (Ok(pk), Ok(signature)) = (pk.try_into(), signature.try_into()) else {
            return false;
        };
        m::verify(
            &libcrux_ml_dsa::MLDSAVerificationKey::new(pk),
            message,
            context,
            &libcrux_ml_dsa::MLDSASignature::new(signature),
        )
        .is_ok()
    })
}

/// ML-DSA.Sign_internal(sk, M′, rnd) (FIPS 204 Algorithm 7), sk in expanded form.
pub(crate) fn dsa_sign_internal(set: &str, sk: &[u8], message: &[u8], rnd: [u8; 32]) -> Vec<u8> {
    libcrux_ml_dsa!(set, m => {
        let sk = libcrux_ml_dsa::MLDSASigningKey::new(array(sk));
        m::sign_internal(&sk, message, rnd)
            .expect("libcrux signs")
            .as_slice()
            .to_vec()
    })
}

/// ML-DSA.Sign(sk, M, ctx) with the given rnd, pure (FIPS 204 Algorithm 2), sk expanded.
pub(crate) fn dsa_sign(
    set: &str,
    sk: &[u8],
    message: &[u8],
    context: &[u8],
    rnd: [u8; 32],
) -> Vec<u8> {
    libcrux_ml_dsa!(set, m => {
        let sk = libcrux_ml_dsa::MLDSASigningKey::new(array(sk));
        m::sign(&sk, message, context, rnd)
            .expect("libcrux signs")
            .as_slice()
            .to_vec()
    })
}

/// ML-KEM.KeyGen_internal(d, z) → (ek, dk) (FIPS 203 Algorithm 16).
pub(crate) fn kem_key_gen(set: &str, d: &[u8], z: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let seed: [u8; 64] = array(&[d, z].concat());
    libcrux_ml_kem!(set, m => {
        let pair = m::generate_key_pair(seed);
        (pair.pk().to_vec(), pair.sk().to_vec())
    })
}

/// ML-KEM.Encaps_internal(ek, m) → (c, K) (FIPS 203 Algorithm 17).
pub(crate) fn kem_encaps(set: &str, ek: &[u8], randomness: [u8; 32]) -> (Vec<u8>, Vec<u8>) {
    libcrux_ml_kem!(set, m => {
        let ek = libcrux_ml_kem::MlKemPublicKey::try_from(ek).expect("ek length");
        let (c, k) = m::encapsulate(&ek, randomness);
        (c.as_ref().to_vec(), k.to_vec())
    })
}

/// ML-KEM.Decaps(dk, c) → K (FIPS 203 Algorithm 21).
pub(crate) fn kem_decaps(set: &str, dk: &[u8], c: &[u8]) -> Vec<u8> {
    libcrux_ml_kem!(set, m => {
        let dk = libcrux_ml_kem::MlKemPrivateKey::try_from(dk).expect("dk length");
        let c = libcrux_ml_kem::MlKemCiphertext::try_from(c).expect("c length");
        m::decapsulate(&dk, &c).to_vec()
    })
}

/// FIPS 203 §7.2 input check on ek (length and modulus).
pub(crate) fn kem_ek_valid(set: &str, ek: &[u8]) -> bool {
    libcrux_ml_kem!(set, m => {
        libcrux_ml_kem::MlKemPublicKey::try_from(ek).is_ok_and(|ek| m::validate_public_key(&ek))
    })
}

/// FIPS 203 §7.3 hash check on dk (libcrux ignores the ciphertext argument).
pub(crate) fn kem_dk_valid(set: &str, dk: &[u8]) -> bool {
    libcrux_ml_kem!(set, m => {
        libcrux_ml_kem::MlKemPrivateKey::try_from(dk).is_ok_and(|dk| {
            m::validate_private_key(&dk, &libcrux_ml_kem::MlKemCiphertext::default())
        })
    })
}
