//! Durable disclosure-log appends on SQLite, against the limit measured in the same run: SQLite
//! inserting rows of the same shape and size (text id, 32-byte subject, ~330-byte entry) in the
//! same batches, with no JSON, HMAC, hashing or tree.
//!
//! `cargo bench -p dinhdanh-store --bench disclosure_log` (`DINHDANH_BENCH_ENTRIES` sets the number of
//! entries, 200,000 by default, in whole batches).

#![allow(missing_docs, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use dinhdanh_crypto::MasterKey;
use dinhdanh_store::{
    DisclosureLog, NewDisclosure, OperatorTokenId, PersonId, Purpose, Recipient, StoreOptions,
};
use sqlx::{Connection, Executor};

const BATCH: usize = 10_000;

static ENTRIES: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("DINHDANH_BENCH_ENTRIES")
        .ok()
        .and_then(|value| value.parse::<usize>().ok())
        .map_or(200_000, |entries| entries.max(BATCH) / BATCH * BATCH)
});

fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// Inserts rows of the disclosure's shape with nothing else: the limit. `url` names a SQLite
/// file or a PostgreSQL database.
async fn raw_insert(url: &str) -> Duration {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let postgres = url.starts_with("postgres");
    pool.execute(if postgres {
        "CREATE TABLE t (idx BIGINT PRIMARY KEY, id TEXT NOT NULL, subject BYTEA NOT NULL, \
         entry BYTEA NOT NULL)"
    } else {
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; \
         CREATE TABLE t (idx INTEGER PRIMARY KEY, id TEXT NOT NULL, subject BLOB NOT NULL, \
         entry BLOB NOT NULL)"
    })
    .await
    .unwrap();
    let entry = vec![b'x'; 330];
    let subject = [9u8; 32];
    let started = Instant::now();
    for batch in 0..*ENTRIES / BATCH {
        let mut tx = pool.begin().await.unwrap();
        for chunk in 0..BATCH / 1000 {
            let sql = format!(
                "INSERT INTO t (idx, id, subject, entry) VALUES {}",
                (0..1000)
                    .map(|row| if postgres {
                        let n = 4 * row;
                        format!("(${}, ${}, ${}, ${})", n + 1, n + 2, n + 3, n + 4)
                    } else {
                        "(?, ?, ?, ?)".to_owned()
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
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

fn batch(
    people: &[PersonId],
    recipient: Recipient,
    purpose: &Purpose,
    n: usize,
) -> Vec<NewDisclosure> {
    (0..BATCH)
        .map(|i| NewDisclosure {
            subject: people[(n * BATCH + i) % people.len()],
            recipient,
            fields: vec!["citizen_number", "name", "birth_date"],
            purpose: purpose.clone(),
            legal_basis: "registry-administration",
        })
        .collect()
}

async fn open_log(url: &str) -> Arc<dyn DisclosureLog> {
    let store = dinhdanh_store::open(&StoreOptions::new(url), &MasterKey::generate().unwrap())
        .await
        .unwrap();
    store.disclosure_log()
}

/// Two recorders and the integrator at once, as in a server: the time until every record is
/// under a signed checkpoint.
async fn pipelined(url: &str, people: &[PersonId]) -> Duration {
    let log = open_log(url).await;
    let recipient = Recipient::Operator(OperatorTokenId::generate());
    let purpose = Purpose::new("benchmark").unwrap();
    let started = Instant::now();
    let recorders: Vec<_> = (0..2)
        .map(|half| {
            let (log, people, purpose) = (log.clone(), people.to_vec(), purpose.clone());
            tokio::spawn(async move {
                for n in (half..*ENTRIES / BATCH).step_by(2) {
                    log.record_disclosures(&batch(&people, recipient, &purpose, n))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    let integrator = tokio::spawn({
        let log = log.clone();
        async move {
            loop {
                let step = log.integrate(BATCH).await.unwrap();
                if step.size == *ENTRIES as u64 {
                    break;
                }
                if step.integrated == 0 {
                    tokio::task::yield_now().await;
                }
            }
            log.publish_checkpoint().await.unwrap().unwrap()
        }
    });
    for recorder in recorders {
        recorder.await.unwrap();
    }
    let checkpoint = integrator.await.unwrap();
    assert_eq!(checkpoint.size, *ENTRIES as u64);
    started.elapsed()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = |name: &str| format!("sqlite://{}?mode=rwc", dir.path().join(name).display());
    let raw = raw_insert(&sqlite("raw.db")).await;

    let log = open_log(&sqlite("log.db")).await;
    let people: Vec<PersonId> = (0..1000).map(|_| PersonId::generate()).collect();
    let recipient = Recipient::Operator(OperatorTokenId::generate());
    let purpose = Purpose::new("benchmark").unwrap();
    let started = Instant::now();
    for n in 0..*ENTRIES / BATCH {
        log.record_disclosures(&batch(&people, recipient, &purpose, n))
            .await
            .unwrap();
    }
    let record = started.elapsed();
    let started = Instant::now();
    while log.integrate(BATCH).await.unwrap().integrated > 0 {}
    let integrate = started.elapsed();
    let started = Instant::now();
    let checkpoint = log.publish_checkpoint().await.unwrap().unwrap();
    let sign = started.elapsed();
    assert_eq!(checkpoint.size, *ENTRIES as u64);

    let total = record + integrate + sign;
    let limit = rate(*ENTRIES, raw);
    println!(
        "disclosure log, {} entries in batches of {BATCH}, SQLite",
        *ENTRIES
    );
    println!(
        "  limit: raw insert of same-size rows   {:>10.0} rows/s",
        limit
    );
    println!(
        "  record (durable, subject index)      {:>10.0} entries/s  {:>5.1} % of limit",
        rate(*ENTRIES, record),
        100.0 * rate(*ENTRIES, record) / limit
    );
    println!(
        "  integrate (tree, tiles, entries)     {:>10.0} entries/s  {:>5.1} % of limit",
        rate(*ENTRIES, integrate),
        100.0 * rate(*ENTRIES, integrate) / limit
    );
    println!(
        "  sign one checkpoint                  {:>10.1} ms",
        sign.as_secs_f64() * 1e3
    );
    println!(
        "  end to end (record + integrate + sign) {:>8.0} entries/s  {:>5.1} % of limit",
        rate(*ENTRIES, total),
        100.0 * rate(*ENTRIES, total) / limit
    );
    let pipelined = pipelined(&sqlite("pipelined.db"), &people).await;
    println!(
        "  pipelined (2 recorders + integrator)   {:>8.0} entries/s  {:>5.1} % of limit",
        rate(*ENTRIES, pipelined),
        100.0 * rate(*ENTRIES, pipelined) / limit
    );
    if let Ok(server) = std::env::var("DATABASE_URL") {
        postgres(&server, &people).await;
    }
}

/// The same limit and pipeline on PostgreSQL, each in a fresh database on the server that
/// `DATABASE_URL` names.
async fn postgres(server: &str, people: &[PersonId]) {
    let mut admin = sqlx::AnyConnection::connect(server).await.unwrap();
    let base = server.rsplit_once('/').unwrap().0;
    let mut urls = Vec::new();
    for _ in 0..2 {
        let database = format!("dd_bench_{}", uuid::Uuid::now_v7().simple());
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&mut admin)
            .await
            .unwrap();
        urls.push((database.clone(), format!("{base}/{database}")));
    }
    let raw = raw_insert(&urls[0].1).await;
    let pipelined = pipelined(&urls[1].1, people).await;
    let limit = rate(*ENTRIES, raw);
    println!("PostgreSQL at {base}, same entries and batches");
    println!(
        "  limit: raw insert of same-size rows   {:>10.0} rows/s",
        limit
    );
    println!(
        "  pipelined (2 recorders + integrator)   {:>8.0} entries/s  {:>5.1} % of limit",
        rate(*ENTRIES, pipelined),
        100.0 * rate(*ENTRIES, pipelined) / limit
    );
    for (database, _) in urls {
        sqlx::query(&format!("DROP DATABASE {database} WITH (FORCE)"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}
