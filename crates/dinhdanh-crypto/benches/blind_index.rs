//! Throughput of the per-person cryptography on the write path: the blind index of a citizen
//! number and the sealing of a person's personal fields.
#![allow(missing_docs)] // criterion_group! generates undocumented items.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dinhdanh_crypto::{BlindIndexKey, DataKeyMaterial, FieldCipher, KeyId};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let Ok(material) = DataKeyMaterial::generate() else {
        return;
    };
    let index_key = BlindIndexKey::new(&material);
    let mut group = c.benchmark_group("crypto");
    group.throughput(Throughput::Elements(1));
    group.bench_function("blind_index_citizen_number", |b| {
        b.iter(|| index_key.index("citizen-number", black_box(b"001190012345")))
    });
    let kid = KeyId::generate();
    let Ok(material) = DataKeyMaterial::generate() else {
        return;
    };
    let Ok(cipher) = FieldCipher::new(kid, [(kid, material)]) else {
        return;
    };
    let record = br#"{"citizen_number":"001190012345","name":"Nguy\u1ec5n Th\u1ecb \u0110\u00e0o","birth_date":"1990-04-01","sex":"female"}"#;
    group.bench_function("seal_person_record", |b| {
        b.iter(|| {
            cipher.seal(
                b"person:0190a1b2-0000-7000-8000-000000000000",
                black_box(record),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
