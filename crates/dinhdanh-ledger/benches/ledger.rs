//! The ledger's costs against their limits measured in the same run:
//! - batched appends (leaf hash, tile hashes, root) against raw SHA-256 of the same entries, the
//!   physical limit of any RFC 9162 log (every entry must be hashed at least once);
//! - producing and verifying an inclusion proof in trees above 1,000,000 leaves, with the proof
//!   checked against an independent recomputation from the leaves before timing.
#![allow(clippy::unwrap_used, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dinhdanh_crypto::sha256;
use dinhdanh_ledger::{
    Hash, TileAppender, TileMap, consistency_proof, inclusion_proof, leaf_hash, node_hash,
    tiles_for, verify_consistency, verify_inclusion,
};

/// A disclosure record's typical size (`dinhdanh-store`'s JSON entry is about 330 bytes).
fn entries(count: usize) -> Vec<Vec<u8>> {
    (0..count)
        .map(|i| format!("{{\"v\":1,\"id\":\"{i:032}\",{}}}", "x".repeat(300)).into_bytes())
        .collect()
}

fn append(c: &mut Criterion) {
    let batch = 10_000;
    let entries = entries(batch);
    let mut group = c.benchmark_group("append");
    group.throughput(Throughput::Elements(batch as u64));
    group.bench_function("sha256_only_limit", |b| {
        b.iter(|| {
            for entry in &entries {
                black_box(sha256(entry));
            }
        })
    });
    group.bench_function(BenchmarkId::new("batch", batch), |b| {
        // A tree already past a million leaves, so that every tile level is in play.
        let mut appender = TileAppender::new();
        appender.extend((0..1_000_000u32).map(|i| leaf_hash(&i.to_be_bytes())));
        appender.take_tiles();
        b.iter(|| {
            appender.extend(entries.iter().map(|entry| leaf_hash(entry)));
            black_box(appender.take_tiles());
            black_box(appender.root().unwrap());
        })
    });
    group.finish();
}

/// RFC 9162 §2.1 by definition, to check the proofs the benchmark times.
fn mth(leaves: &[Hash]) -> Hash {
    if leaves.len() == 1 {
        return leaves[0];
    }
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
}

fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    if leaves.len() <= 1 {
        return vec![];
    }
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    let (mut proof, sibling) = if m < k {
        (naive_path(m, &leaves[..k]), mth(&leaves[k..]))
    } else {
        (naive_path(m - k, &leaves[k..]), mth(&leaves[..k]))
    };
    proof.push(sibling);
    proof
}

/// RFC 9162 §2.1.4.1 `SUBPROOF` by definition.
fn naive_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
    if m == leaves.len() {
        return if whole { vec![] } else { vec![mth(leaves)] };
    }
    let mut k = 1;
    while k * 2 < leaves.len() {
        k *= 2;
    }
    let (mut proof, sibling) = if m <= k {
        (naive_subproof(m, &leaves[..k], whole), mth(&leaves[k..]))
    } else {
        (
            naive_subproof(m - k, &leaves[k..], false),
            mth(&leaves[..k]),
        )
    };
    proof.push(sibling);
    proof
}

fn proofs(c: &mut Criterion) {
    let largest = 3_000_017usize;
    let leaves: Vec<Hash> = (0..largest as u32)
        .map(|i| leaf_hash(&i.to_be_bytes()))
        .collect();
    let mut appender = TileAppender::new();
    let mut map = TileMap::new();
    appender.extend(leaves.iter().copied());
    for tile in appender.take_tiles() {
        map.insert(tile.id.level, tile.id.index, tile.data).unwrap();
    }
    let mut group = c.benchmark_group("inclusion_proof");
    for size in [1_048_577usize, 2_000_000, largest] {
        let index = size * 2 / 3;
        let proof = inclusion_proof(&map, index as u64, size as u64).unwrap();
        // Independent recomputation, untimed: a wrong proof fails the benchmark.
        assert_eq!(proof, naive_path(index, &leaves[..size]), "proof at {size}");
        let root = mth(&leaves[..size]);
        verify_inclusion(&leaves[index], index as u64, size as u64, &proof, &root).unwrap();

        // A consistency proof from an older tree, checked the same way.
        let old = size / 3 + 7;
        let consistency = consistency_proof(&map, old as u64, size as u64).unwrap();
        assert_eq!(
            consistency,
            naive_subproof(old, &leaves[..size], true),
            "consistency at {size}"
        );
        verify_consistency(
            old as u64,
            size as u64,
            &mth(&leaves[..old]),
            &root,
            &consistency,
        )
        .unwrap();

        group.bench_function(BenchmarkId::new("produce", size), |b| {
            b.iter(|| {
                let needed = tiles_for(size as u64, |source| {
                    inclusion_proof(source, index as u64, size as u64)
                })
                .unwrap();
                black_box(needed);
                black_box(inclusion_proof(&map, index as u64, size as u64).unwrap())
            })
        });
        group.bench_function(BenchmarkId::new("verify", size), |b| {
            b.iter(|| {
                verify_inclusion(&leaves[index], index as u64, size as u64, &proof, &root).unwrap()
            })
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = append, proofs }
criterion_main!(benches);
