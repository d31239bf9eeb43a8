//! Raw signature and KEM throughput: sign and verify a 600-byte message (about the size of an
//! ID token's signing input) with every signature algorithm, and ML-KEM-768 encapsulation and
//! decapsulation; and the JWS layer against the raw primitive on the same signing input.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dinhdanh_crypto::{KemDecapsulationKey, SignatureAlgorithm, SigningKey, random_bytes};
use std::hint::black_box;

fn signatures(c: &mut Criterion) {
    let mut message = [0u8; 600];
    if random_bytes(&mut message).is_err() {
        return;
    }
    let mut group = c.benchmark_group("signature");
    group.throughput(Throughput::Elements(1));
    for alg in SignatureAlgorithm::ALL {
        let Ok(key) = SigningKey::generate(alg) else {
            return;
        };
        let verifying = key.verifying_key();
        let Ok(signature) = key.sign(&message) else {
            return;
        };
        if verifying.verify(&message, &signature).is_err() {
            return;
        }
        group.bench_function(format!("{}/sign", alg.jose_name()), |b| {
            b.iter(|| key.sign(black_box(&message)))
        });
        group.bench_function(format!("{}/verify", alg.jose_name()), |b| {
            b.iter(|| verifying.verify(black_box(&message), black_box(&signature)))
        });
    }
    group.finish();
}

fn kem(c: &mut Criterion) {
    let Ok(dk) = KemDecapsulationKey::generate() else {
        return;
    };
    let ek = dk.encapsulation_key();
    let Ok((ciphertext, _)) = ek.encapsulate() else {
        return;
    };
    let mut group = c.benchmark_group("kem");
    group.throughput(Throughput::Elements(1));
    group.bench_function("ML-KEM-768/encapsulate", |b| b.iter(|| ek.encapsulate()));
    group.bench_function("ML-KEM-768/decapsulate", |b| {
        b.iter(|| dk.decapsulate(black_box(&ciphertext)))
    });
    group.finish();
}

/// JWS compact sign and verify of a 600-byte ID-token payload, beside the raw primitive on
/// the same signing input, so the JOSE layer's own cost is the difference.
fn jws(c: &mut Criterion) {
    use dinhdanh_crypto::jose::{Jwk, sign_compact, verify_compact};
    let payload = {
        let mut claims = String::from(
            r#"{"iss":"https://id.dinhdanh.invalid","aud":"rp-1","sub":"pairwise-0123456789abcdef","#,
        );
        claims.push_str(
            r#""iat":1800000000,"exp":1800000300,"acr":"eid-level-2","age_over_16":true,"pad":""#,
        );
        while claims.len() < 598 {
            claims.push('x');
        }
        claims.push_str(r#""}"#);
        claims.into_bytes()
    };
    let mut group = c.benchmark_group("jws");
    group.throughput(Throughput::Elements(1));
    for alg in [SignatureAlgorithm::MlDsa65, SignatureAlgorithm::Ed25519] {
        let Ok(key) = SigningKey::generate(alg) else {
            return;
        };
        let jwk = Jwk::private(key, Some("bench".to_owned()));
        let public = jwk.to_public();
        let Ok(token) = sign_compact(&jwk, Some("JWT"), &payload) else {
            return;
        };
        let Some((signing_input, _)) = token.rsplit_once('.') else {
            return;
        };
        let Some(signing) = jwk.signing_key() else {
            return;
        };
        let Ok(raw_signature) = signing.sign(signing_input.as_bytes()) else {
            return;
        };
        let verifying = jwk.verifying_key();
        group.bench_function(format!("{}/raw-sign", alg.jose_name()), |b| {
            b.iter(|| signing.sign(black_box(signing_input.as_bytes())))
        });
        group.bench_function(format!("{}/jws-sign", alg.jose_name()), |b| {
            b.iter(|| sign_compact(&jwk, Some("JWT"), black_box(&payload)))
        });
        group.bench_function(format!("{}/raw-verify", alg.jose_name()), |b| {
            b.iter(|| verifying.verify(black_box(signing_input.as_bytes()), &raw_signature))
        });
        group.bench_function(format!("{}/jws-verify", alg.jose_name()), |b| {
            b.iter(|| verify_compact(black_box(&token), &public))
        });
    }
    group.finish();
}

criterion_group!(benches, signatures, kem, jws);
criterion_main!(benches);
