//! The disclosure log checked by a verifier nobody on this project's Rust side wrote against:
//! `interop/log_verifier.py`, written from the C2SP and RFC 9162 texts, with pyca/cryptography
//! (OpenSSL) verifying the ML-DSA-65 and Ed25519 checkpoint signatures. It skips without Python
//! and a `cryptography` that has ML-DSA, except under `CI=true`, where `.ci/run` installs it.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{TestApp, expect_json, synthetic_person_bodies};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/log_verifier.py");

fn python_with_ml_dsa() -> bool {
    let probe = Command::new("python3")
        .args([
            "-c",
            "from cryptography.hazmat.primitives.asymmetric import mldsa; \
             mldsa.MLDSA65PrivateKey.generate()",
        ])
        .output();
    let available = probe.is_ok_and(|output| output.status.success());
    if !available {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("CI=true needs python3 with cryptography >= 48 (ML-DSA); .ci/run installs it");
        }
        eprintln!("SKIPPED: python3 with an ML-DSA-capable `cryptography` is not installed");
    }
    available
}

/// Runs the verifier off the runtime's threads: it calls back into the server under test.
async fn run_verifier(base: &str, dir: &Path) -> (bool, String) {
    let mut command = Command::new("python3");
    command.arg(SCRIPT).arg(base).arg(dir);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_verifier_accepts_the_log_and_refuses_forgeries() {
    if !python_with_ml_dsa() {
        return;
    }
    let app = TestApp::init().await;
    let bodies = synthetic_person_bodies(2);
    let mut paths = Vec::new();
    for body in &bodies {
        let person = app.create_person(body).await;
        paths.push(format!("/v1/persons/{}", person["id"].as_str().unwrap()));
    }
    // 300 records: a full level-0 tile and a partial one.
    for i in 0..300 {
        expect_json(app.get(&app.reader, &paths[i % 2]).await, StatusCode::OK).await;
    }
    let log = app.store().disclosure_log();
    dinhdanh_server::publish_log(log.as_ref(), 1000)
        .await
        .unwrap();
    let list = expect_json(
        app.get(&app.reader, &format!("{}/disclosures", paths[0]))
            .await,
        StatusCode::OK,
    )
    .await;
    let included: Vec<Value> = list["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["status"] == "included")
        .map(|entry| {
            json!({
                "index": entry["index"],
                "entry": entry["entry"],
                "inclusion_proof": entry["inclusion_proof"],
            })
        })
        .collect();
    assert_eq!(included.len(), 150);

    let dir = tempfile::tempdir().unwrap();
    let entries = dir.path().join("entries.json");
    std::fs::write(&entries, serde_json::to_vec(&included).unwrap()).unwrap();
    let (ok, said) = run_verifier(&app.base_url, dir.path()).await;
    assert!(ok, "{said}");
    assert!(
        said.contains("checkpoint of 300 entries, 150 inclusion proofs"),
        "{said}"
    );

    // An entry claimed at another index is refused.
    let mut moved = included.clone();
    moved[3]["index"] = moved[4]["index"].clone();
    std::fs::write(&entries, serde_json::to_vec(&moved).unwrap()).unwrap();
    let (ok, said) = run_verifier(&app.base_url, dir.path()).await;
    assert!(!ok && said.contains("is not in the signed tree"), "{said}");

    // A checkpoint with a changed size is refused on its signatures.
    std::fs::write(&entries, serde_json::to_vec(&included).unwrap()).unwrap();
    let note = list["checkpoint"].as_str().unwrap();
    let forged = note.replacen("\n300\n", "\n299\n", 1);
    assert_ne!(forged, note);
    std::fs::write(dir.path().join("checkpoint.txt"), forged).unwrap();
    let (ok, said) = run_verifier(&app.base_url, dir.path()).await;
    assert!(!ok && said.contains("does not verify"), "{said}");
    app.shutdown().await;
}
