//! The disclosure log against an adversary and a crash: entries edited, deleted and reordered
//! directly in the database, and a server killed with SIGKILL in the middle of heavy appends.
//! `dinhdanh log verify` must name each change, and lose nothing acknowledged.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Demo, run_in, start_demo, token};
use dinhdanh_core::today_in_vietnam;
use dinhdanh_synth::PopulationSpec;
use serde_json::{Value, json};
use sqlx::{Connection, Row, SqliteConnection};

/// Registers `count` synthetic people through the API and returns their ids.
async fn register(demo: &Demo, token: &str, count: usize) -> Vec<String> {
    let client = {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        reqwest::Client::new()
    };
    let people = dinhdanh_synth::population(&PopulationSpec {
        // Not the demo's seed: these people are not in its population yet.
        seed: 4_242,
        people: count,
        as_of: today_in_vietnam(jiff::Timestamp::now()),
    });
    let mut ids = Vec::new();
    for person in people {
        let body = json!({
            "citizen_number": person.citizen_number.as_str(),
            "name": person.name.as_str(),
            "birth_date": person.birth_date.to_string(),
            "sex": person.sex.to_string(),
        });
        let response = client
            .post(format!("{}/v1/persons", demo.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        if response.status() == 201 {
            let created: Value = response.json().await.unwrap();
            ids.push(created["id"].as_str().unwrap().to_owned());
        }
    }
    assert!(!ids.is_empty());
    ids
}

/// Reads a person; returns the disclosure record id the answer names, if it was answered.
async fn read(client: &reqwest::Client, base: &str, token: &str, id: &str) -> Option<String> {
    let response = client
        .get(format!("{base}/v1/persons/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let record = response
        .headers()
        .get("dinhdanh-disclosure")?
        .to_str()
        .ok()?
        .to_owned();
    // Acknowledged only once the whole answer arrived.
    response.bytes().await.ok()?;
    Some(record)
}

fn database(data_dir: &Path) -> String {
    format!("sqlite://{}", data_dir.join("dinhdanh.db").display())
}

async fn connect(data_dir: &Path) -> SqliteConnection {
    SqliteConnection::connect(&database(data_dir))
        .await
        .unwrap()
}

fn verify(data_dir: &Path) -> (bool, String, String) {
    let saved = data_dir.join("saved-checkpoint.txt");
    if saved.exists() {
        let saved = saved.display().to_string();
        run_in(data_dir, &["log", "verify", "--checkpoint", &saved])
    } else {
        run_in(data_dir, &["log", "verify"])
    }
}

/// The disclosures in the tree, with their indexes (`log_ranges` maps runs of indexes to runs
/// of seqs).
const TREE: &str = "SELECT r.idx + (d.seq - r.seq) AS idx, d.seq, d.entry FROM log_ranges r \
                    JOIN disclosures d ON d.seq >= r.seq AND d.seq < r.seq + r.count";

/// Changes entry 5, rewrites the tiles to match and removes the checkpoints that would betray it.
async fn forge_and_unsign(conn: &mut SqliteConnection) {
    let text = String::from_utf8(entry(conn, 5).await)
        .unwrap()
        .replace("\"name\"", "\"sex\"");
    set_entry(conn, 5, text.into_bytes()).await;
    rebuild_tiles(conn).await;
    exec(conn, "DELETE FROM log_checkpoints").await;
}

/// Rewrites every tile from the stored entries, as a forger who changed entries would.
async fn rebuild_tiles(conn: &mut SqliteConnection) {
    let entries: Vec<Vec<u8>> = sqlx::query(&format!("SELECT entry FROM ({TREE}) ORDER BY idx"))
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut tree = dinhdanh_ledger::TileAppender::new();
    tree.extend(
        entries
            .iter()
            .map(|entry| dinhdanh_ledger::leaf_hash(entry)),
    );
    for tile in tree.take_tiles() {
        sqlx::query("UPDATE log_tiles SET hashes = ? WHERE level = ? AND idx = ?")
            .bind(tile.data)
            .bind(i64::from(tile.id.level))
            .bind(tile.id.index as i64)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// A stopped demo whose log holds `reads` integrated, checkpointed entries.
async fn log_with_entries(root: &Path, reads: usize) -> PathBuf {
    let data_dir = root.join("data");
    let demo = start_demo(&data_dir, 50);
    let token = token(&data_dir);
    let ids = register(&demo, &token, 5).await;
    let client = {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        reqwest::Client::new()
    };
    for i in 0..reads {
        read(&client, &demo.base, &token, &ids[i % ids.len()])
            .await
            .unwrap();
    }
    drop(demo);
    let (ok, _, err) = run_in(&data_dir, &["log", "publish"]);
    assert!(ok, "{err}");
    let (ok, out, err) = verify(&data_dir);
    assert!(ok, "{out}{err}");
    assert!(out.contains(&format!("{reads} entries")), "{out}");
    assert!(out.contains("the disclosure log verifies"), "{out}");
    data_dir
}

/// Applies `tamper` to a copy of the log and returns what `log verify` said.
async fn tampered<F>(original: &Path, name: &str, tamper: F) -> String
where
    F: AsyncFnOnce(&mut SqliteConnection),
{
    let copy = original.parent().unwrap().join(name);
    copy_dir(original, &copy);
    let mut conn = connect(&copy).await;
    tamper(&mut conn).await;
    conn.close().await.unwrap();
    let (ok, out, err) = verify(&copy);
    assert!(!ok, "{name}: verify passed\n{out}");
    assert!(!err.contains("panicked"), "{err}");
    err.lines()
        .find(|line| line.starts_with("error:"))
        .unwrap_or_else(|| panic!("{name}: no error line in {err}"))
        .to_owned()
}

/// Runs one statement of the forger's.
async fn exec(conn: &mut SqliteConnection, sql: &str) {
    sqlx::query(sql).execute(&mut *conn).await.unwrap();
}

async fn entry(conn: &mut SqliteConnection, index: i64) -> Vec<u8> {
    sqlx::query(&format!("SELECT entry FROM ({TREE}) WHERE idx = ?"))
        .bind(index)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0)
}

/// The seq of the disclosure at tree index `index`.
async fn seq(conn: &mut SqliteConnection, index: i64) -> i64 {
    sqlx::query(&format!("SELECT seq FROM ({TREE}) WHERE idx = ?"))
        .bind(index)
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0)
}

async fn set_entry(conn: &mut SqliteConnection, index: i64, bytes: Vec<u8>) {
    let seq = seq(conn, index).await;
    sqlx::query("UPDATE disclosures SET entry = ? WHERE seq = ?")
        .bind(bytes)
        .bind(seq)
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_verify_names_each_edit_deletion_and_reordering() {
    let dir = tempfile::tempdir().unwrap();
    // 300 entries: a full level-0 tile, a partial one, and a level-1 tile.
    let original = log_with_entries(dir.path(), 300).await;

    let edited = tampered(&original, "edited", async |conn| {
        let mut bytes = entry(conn, 123).await;
        let text = String::from_utf8(bytes.clone()).unwrap();
        bytes = text.replace("\"name\"", "\"sex\"").into_bytes();
        set_entry(conn, 123, bytes).await;
    })
    .await;
    assert!(edited.contains("entry 123 was changed"), "{edited}");

    let deleted = tampered(&original, "deleted", async |conn| {
        let seq = seq(conn, 77).await;
        exec(conn, &format!("DELETE FROM disclosures WHERE seq = {seq}")).await;
    })
    .await;
    assert!(deleted.contains("entry 77 is missing"), "{deleted}");

    let reordered = tampered(&original, "reordered", async |conn| {
        let (a, b) = (entry(conn, 10).await, entry(conn, 11).await);
        set_entry(conn, 10, b).await;
        set_entry(conn, 11, a).await;
    })
    .await;
    assert!(
        reordered.contains("entry 10 was reordered: it is the entry the tree recorded at index 11"),
        "{reordered}"
    );

    let truncated = tampered(&original, "truncated", async |conn| {
        let seq = seq(conn, 290).await;
        exec(conn, &format!("DELETE FROM disclosures WHERE seq >= {seq}")).await;
    })
    .await;
    assert!(truncated.contains("entry 290 is missing"), "{truncated}");

    // Rewriting an entry and the tiles above it to match is caught by the signed root.
    let rehashed = tampered(&original, "rehashed", async |conn| {
        let bytes = entry(conn, 5).await;
        let text = String::from_utf8(bytes)
            .unwrap()
            .replace("\"name\"", "\"sex\"");
        set_entry(conn, 5, text.clone().into_bytes()).await;
        let mut tile: Vec<u8> =
            sqlx::query("SELECT hashes FROM log_tiles WHERE level = 0 AND idx = 0")
                .fetch_one(&mut *conn)
                .await
                .unwrap()
                .get(0);
        tile[5 * 32..6 * 32].copy_from_slice(&dinhdanh_ledger::leaf_hash(text.as_bytes()));
        sqlx::query("UPDATE log_tiles SET hashes = ? WHERE level = 0 AND idx = 0")
            .bind(tile)
            .execute(&mut *conn)
            .await
            .unwrap();
    })
    .await;
    assert!(
        rehashed.contains("tile/1/000.p/1 differs")
            || rehashed.contains("do not hash to the root of the signed checkpoint"),
        "{rehashed}"
    );

    let moved_subject = tampered(&original, "subject", async |conn| {
        let seq = seq(conn, 42).await;
        exec(
            conn,
            &format!("UPDATE disclosures SET subject = subject + 1 WHERE seq = {seq}"),
        )
        .await;
    })
    .await;
    assert!(
        moved_subject.contains("entry 42: its subject column does not name the person"),
        "{moved_subject}"
    );

    // A forger who rewrites an entry, every tile, and removes the checkpoints is caught: a log
    // with entries and no checkpoint does not verify...
    let unsigned = tampered(&original, "unsigned", forge_and_unsign).await;
    assert!(
        unsigned.contains("300 entries but no signed checkpoint"),
        "{unsigned}"
    );
    // ...and an auditor who kept a checkpoint names the rewritten range even if the forger
    // leaves an older checkpoint in place.
    let mut conn = connect(&original).await;
    let note: String = sqlx::query("SELECT note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap()
        .get(0);
    conn.close().await.unwrap();
    std::fs::write(original.join("saved-checkpoint.txt"), note).unwrap();
    let rewritten = tampered(&original, "rewritten", forge_and_unsign).await;
    assert!(
        rewritten
            .contains("the first 300 entries do not hash to the root of the signed checkpoint"),
        "{rewritten}"
    );
    std::fs::remove_file(original.join("saved-checkpoint.txt")).unwrap();

    let forged = tampered(&original, "forged-checkpoint", async |conn| {
        let note: String =
            sqlx::query("SELECT note FROM log_checkpoints ORDER BY size DESC LIMIT 1")
                .fetch_one(&mut *conn)
                .await
                .unwrap()
                .get(0);
        let forged = note.replacen("\n300\n", "\n301\n", 1);
        sqlx::query("UPDATE log_checkpoints SET note = ? WHERE size = 300")
            .bind(forged)
            .execute(&mut *conn)
            .await
            .unwrap();
    })
    .await;
    assert!(
        forged.contains("checkpoint 300") && forged.contains("does not verify"),
        "{forged}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_heavy_appends_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut demo = start_demo(&data_dir, 50);
    let token = token(&data_dir);
    let ids = Arc::new(register(&demo, &token, 8).await);
    let base = demo.base.clone();

    // Eight clients read as fast as they can; each keeps the records it was told about.
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for worker in 0..8 {
        let (ids, base, token, stop) = (
            Arc::clone(&ids),
            base.clone(),
            token.clone(),
            Arc::clone(&stop),
        );
        clients.push(tokio::spawn(async move {
            let client = {
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                reqwest::Client::new()
            };
            let mut acknowledged = Vec::new();
            let mut i = worker;
            while !stop.load(Ordering::Relaxed) {
                match read(&client, &base, &token, &ids[i % ids.len()]).await {
                    Some(record) => acknowledged.push(record),
                    None => break,
                }
                i += 1;
            }
            acknowledged
        }));
    }
    // Long enough for checkpoints to be published mid-stream (every second by default).
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    demo.child.kill().unwrap(); // SIGKILL
    demo.child.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    let mut acknowledged = BTreeSet::new();
    for client in clients {
        acknowledged.extend(client.await.unwrap());
    }
    assert!(
        acknowledged.len() > 100,
        "only {} reads",
        acknowledged.len()
    );
    eprintln!("{} reads acknowledged before SIGKILL", acknowledged.len());

    // Restarted, the publisher takes up what waited to enter the tree.
    let demo = start_demo(&data_dir, 50);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    drop(demo);
    let (ok, out, err) = run_in(&data_dir, &["log", "verify"]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("0 waiting"), "{out}");

    let mut conn = connect(&data_dir).await;
    let stored: BTreeSet<String> = sqlx::query(&format!("SELECT entry FROM ({TREE})"))
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .iter()
        .map(|row| {
            let entry: Vec<u8> = row.get(0);
            let record: Value = serde_json::from_slice(&entry).unwrap();
            record["id"].as_str().unwrap().to_owned()
        })
        .collect();
    let lost: Vec<_> = acknowledged.difference(&stored).collect();
    assert!(lost.is_empty(), "{} acknowledged records lost", lost.len());
    conn.close().await.unwrap();
}
