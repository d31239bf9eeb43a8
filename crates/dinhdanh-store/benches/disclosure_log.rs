//! Durable disclosure-log appends on SQLite, against the limit measured in the same run: SQLite
//! inserting rows of the same shape and size (text id, 32-byte subject, ~330-byte entry) in the
//! same batches, with no JSON, HMAC, hashing or tree.
//!
//! `cargo bench -p dinhdanh-store --bench disclosure_log`

#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use dinhdanh_crypto::MasterKey;
use dinhdanh_store::{NewDisclosure, OperatorTokenId, PersonId, Purpose, Recipient, StoreOptions};
use sqlx::Executor;

const ENTRIES: usize = 200_000;
const BATCH: usize = 10_000;

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

async fn raw_insert(dir: &std::path::Path) -> Duration {
    let url = format!("sqlite://{}?mode=rwc", dir.join("raw.db").display());
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    pool.execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; \
         CREATE TABLE t (idx INTEGER PRIMARY KEY, id TEXT NOT NULL, subject BLOB NOT NULL, \
         entry BLOB NOT NULL)",
    )
    .await
    .unwrap();
    let entry = vec![b'x'; 330];
    let subject = [9u8; 32];
    let started = Instant::now();
    for batch in 0..ENTRIES / BATCH {
        let mut tx = pool.begin().await.unwrap();
        for chunk in 0..BATCH / 1000 {
            let sql = format!(
                "INSERT INTO t (idx, id, subject, entry) VALUES {}",
                vec!["(?, ?, ?, ?)"; 1000].join(", ")
            );
            let mut query = sqlx::query(&sql);
            for row in 0..1000 {
                let idx = (batch * BATCH + chunk * 1000 + row) as i64;
                query = query
                    .bind(idx)
                    .bind(format!("0190a0b0-0000-7000-8000-{idx:012}"))
                    .bind(subject.to_vec())
                    .bind(entry.clone());
            }
            query.execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let raw = raw_insert(dir.path()).await;

    let url = format!("sqlite://{}", dir.path().join("log.db").display());
    let store = dinhdanh_store::open(&StoreOptions::new(url), &MasterKey::generate().unwrap())
        .await
        .unwrap();
    let log = store.disclosure_log();
    let people: Vec<PersonId> = (0..1000).map(|_| PersonId::generate()).collect();
    let recipient = Recipient::Operator(OperatorTokenId::generate());
    let purpose = Purpose::new("benchmark").unwrap();
    let started = Instant::now();
    for batch in 0..ENTRIES / BATCH {
        let disclosures: Vec<NewDisclosure> = (0..BATCH)
            .map(|i| NewDisclosure {
                subject: people[(batch * BATCH + i) % people.len()],
                recipient,
                fields: &["citizen_number", "name", "birth_date"],
                purpose: purpose.clone(),
                legal_basis: "registry-administration",
            })
            .collect();
        log.record_disclosures(&disclosures).await.unwrap();
    }
    let record = started.elapsed();
    let started = Instant::now();
    while log.integrate(BATCH).await.unwrap().integrated > 0 {}
    let integrate = started.elapsed();
    let started = Instant::now();
    let checkpoint = log.publish_checkpoint().await.unwrap().unwrap();
    let sign = started.elapsed();
    assert_eq!(checkpoint.size, ENTRIES as u64);

    let total = record + integrate + sign;
    let limit = rate(ENTRIES, raw);
    println!("disclosure log, {ENTRIES} entries in batches of {BATCH}, SQLite");
    println!(
        "  limit: raw insert of same-size rows   {:>10.0} rows/s",
        limit
    );
    println!(
        "  record (outbox, durable)             {:>10.0} entries/s  {:>5.1} % of limit",
        rate(ENTRIES, record),
        100.0 * rate(ENTRIES, record) / limit
    );
    println!(
        "  integrate (tree, tiles, entries)     {:>10.0} entries/s  {:>5.1} % of limit",
        rate(ENTRIES, integrate),
        100.0 * rate(ENTRIES, integrate) / limit
    );
    println!(
        "  sign one checkpoint                  {:>10.1} ms",
        sign.as_secs_f64() * 1e3
    );
    println!(
        "  end to end (record + integrate + sign) {:>8.0} entries/s  {:>5.1} % of limit",
        rate(ENTRIES, total),
        100.0 * rate(ENTRIES, total) / limit
    );
}
