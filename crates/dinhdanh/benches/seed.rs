//! Seeding throughput, against the physical limit measured in the same run: SQLite's own rate
//! for multi-row inserts of rows shaped like ours (same columns, same sizes, same unique
//! index), without generation or cryptography.
//!
//! `cargo bench -p dinhdanh --bench seed`

// criterion's macros generate public functions without doc comments.
#![allow(missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dinhdanh::seed::seed_people;
use dinhdanh_core::{EidLevel, today_in_vietnam};
use dinhdanh_crypto::MasterKey;
use dinhdanh_store::{NewPerson, PersonalData, RegistryStore, StoreOptions};
use dinhdanh_synth::{PopulationSpec, population};
use sqlx::Executor;

const PEOPLE: usize = 100_000;

fn spec() -> PopulationSpec {
    PopulationSpec {
        seed: 1,
        people: PEOPLE,
        as_of: today_in_vietnam(jiff::Timestamp::now()),
    }
}

async fn fresh_store(dir: &std::path::Path) -> Arc<dyn RegistryStore> {
    let url = format!("sqlite://{}", dir.join("bench.db").display());
    let master = MasterKey::generate().expect("random");
    dinhdanh_store::open(&StoreOptions::new(url), &master)
        .await
        .expect("store opens")
}

/// The limit: the same rows (a 36-byte text id, a 32-byte random index, a sealed record of the
/// size ours have, two small columns, two timestamps) into the same table shape with the same
/// pragmas, 1,000 rows a statement, 50,000 rows a transaction, as the seeder does.
async fn raw_insert(dir: &std::path::Path, rows: usize) -> Duration {
    let url = format!("sqlite://{}?mode=rwc", dir.join("raw.db").display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.expect("sqlite");
    pool.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; \
         CREATE TABLE t (id TEXT PRIMARY KEY, idx BLOB NOT NULL UNIQUE, personal BLOB NOT NULL, \
         status TEXT NOT NULL, eid_level INTEGER NOT NULL, created_at INTEGER NOT NULL, \
         updated_at INTEGER NOT NULL)",
    )
    .await
    .expect("schema");
    let mut index = [0u8; 32];
    let blob = vec![7u8; 150];
    let started = Instant::now();
    let mut n = 0u64;
    for tx_start in (0..rows).step_by(50_000) {
        let tx_end = (tx_start + 50_000).min(rows);
        let mut tx = pool.begin().await.expect("tx");
        for statement_start in (tx_start..tx_end).step_by(1_000) {
            let count = (tx_end - statement_start).min(1_000);
            let mut sql = String::from(
                "INSERT INTO t (id, idx, personal, status, eid_level, created_at, updated_at) VALUES ",
            );
            sql.push_str(&vec!["(?,?,?,?,?,?,?)"; count].join(","));
            let mut query = sqlx::query(&sql);
            for _ in 0..count {
                n += 1;
                // A cheap scramble stands in for HMAC output: random order in the index.
                let scrambled = n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes();
                index[..8].copy_from_slice(&scrambled);
                query = query
                    .bind(format!("{n:036}"))
                    .bind(index.to_vec())
                    .bind(blob.clone())
                    .bind("active")
                    .bind(1_i64)
                    .bind(0_i64)
                    .bind(0_i64);
            }
            query.execute(&mut *tx).await.expect("insert");
        }
        tx.commit().await.expect("commit");
    }
    let elapsed = started.elapsed();
    pool.close().await;
    elapsed
}

fn bench(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("seed");
    group.sample_size(10);
    group.throughput(Throughput::Elements(PEOPLE as u64));

    group.bench_function("sqlite_raw_insert_limit", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                total += runtime.block_on(raw_insert(dir.path(), PEOPLE));
            }
            total
        })
    });

    group.bench_function("generate_people", |b| {
        b.iter(|| population(&spec()).count())
    });

    group.bench_function("generate_and_seal", |b| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = runtime.block_on(fresh_store(dir.path()));
        let today = spec().as_of;
        b.iter(|| {
            let batch: Vec<NewPerson> = population(&spec())
                .map(|p| NewPerson {
                    personal: PersonalData::new(
                        p.citizen_number,
                        p.name,
                        p.birth_date,
                        p.sex,
                        today,
                    )
                    .expect("consistent"),
                    status: p.status,
                    eid_level: EidLevel::Level1,
                })
                .collect();
            store.prepare_persons(&batch).expect("sealed").len()
        })
    });

    group.bench_function("seed_people_sqlite", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("tempdir");
                let store = runtime.block_on(fresh_store(dir.path()));
                let started = Instant::now();
                runtime
                    .block_on(seed_people(&store, &spec(), false))
                    .expect("seeded");
                total += started.elapsed();
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
