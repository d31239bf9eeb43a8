//! The disclosure log through HTTP: every read of personal data is recorded before it is
//! answered, and the person's records come with inclusion proofs that an outside verifier
//! checks using only the public checkpoint, keys and tiles.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{TestApp, expect_json, expect_problem, synthetic_person_bodies};
use dinhdanh_ledger::{
    Hash, NoteVerifier, TileMap, inclusion_proof, leaf_hash, open_checkpoint, tiles_for,
    verify_inclusion,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn publish(app: &TestApp) {
    let log = app.store().disclosure_log();
    dinhdanh_server::publish_log(log.as_ref(), 1000)
        .await
        .unwrap();
}

async fn public_text(app: &TestApp, path: &str) -> String {
    let response = app.anonymous(Method::GET, path).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    response.text().await.unwrap()
}

fn disclosure_header(response: &reqwest::Response) -> String {
    response.headers()["dinhdanh-disclosure"]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn reads_are_logged_and_proved_to_the_person() {
    let app = TestApp::init().await;
    let bodies = synthetic_person_bodies(2);
    let person = app.create_person(&bodies[0]).await;
    let other = app.create_person(&bodies[1]).await;
    let id = person["id"].as_str().unwrap();
    let path = format!("/v1/persons/{id}");

    // Four releases of this person's data, with and without a stated purpose.
    let read = app
        .request(&app.reader, Method::GET, &path)
        .header("dinhdanh-purpose", "kiểm tra hồ sơ định danh")
        .send()
        .await
        .unwrap();
    let first_id = disclosure_header(&read);
    expect_json(read, StatusCode::OK).await;
    let lookup = app
        .post(
            &app.reader,
            "/v1/persons/lookup",
            &json!({"citizen_number": bodies[0]["citizen_number"]}),
        )
        .await;
    assert!(lookup.headers().contains_key("dinhdanh-disclosure"));
    expect_json(lookup, StatusCode::OK).await;
    let changed = app
        .patch(&app.writer, &path, &json!({"eid_level": 1}))
        .await;
    expect_json(changed, StatusCode::OK).await;
    let guardians = app.get(&app.reader, &format!("{path}/guardians")).await;
    expect_json(guardians, StatusCode::OK).await;
    // Someone else's read is not this person's record.
    let read_other = app
        .get(
            &app.reader,
            &format!("/v1/persons/{}", other["id"].as_str().unwrap()),
        )
        .await;
    expect_json(read_other, StatusCode::OK).await;
    publish(&app).await;

    // The public face: a checkpoint signed by both published keys.
    let keys = public_text(&app, "/log/keys").await;
    let verifiers: Vec<NoteVerifier> = keys
        .lines()
        .map(|line| NoteVerifier::parse_vkey(line).unwrap())
        .collect();
    assert_eq!(verifiers.len(), 2);
    let note = public_text(&app, "/log/checkpoint").await;
    let origin = note.lines().next().unwrap();
    let checkpoint = open_checkpoint(&note, origin, &verifiers).unwrap();
    assert_eq!(checkpoint.size, 5);

    let response = app.get(&app.reader, &format!("{path}/disclosures")).await;
    let reading_id = disclosure_header(&response);
    let list = expect_json(response, StatusCode::OK).await;
    assert_eq!(list["tree_size"], 5);
    assert_eq!(list["checkpoint"], note.as_str());
    let entries = list["entries"].as_array().unwrap();
    let fields: Vec<&Value> = entries.iter().map(|e| &e["disclosed"]).collect();
    let person_fields = json!([
        "citizen_number",
        "name",
        "birth_date",
        "sex",
        "status",
        "eid_level",
        "age_bracket"
    ]);
    assert_eq!(
        fields,
        vec![
            &person_fields,
            &person_fields,
            &person_fields,
            &json!(["guardians"]),
            &json!(["disclosure_log"]),
        ]
    );
    assert_eq!(entries[0]["id"], first_id.as_str());
    assert_eq!(entries[0]["purpose"], "kiểm tra hồ sơ định danh");
    assert_eq!(entries[1]["purpose"], "registry administration");
    assert_eq!(entries[0]["legal_basis"], "registry-administration");
    assert!(
        entries[0]["recipient"]
            .as_str()
            .unwrap()
            .starts_with("operator:")
    );
    // This very reading is a disclosure too, waiting for the next checkpoint.
    assert_eq!(entries[4]["id"], reading_id.as_str());
    assert_eq!(entries[4]["status"], "waiting");
    assert!(entries[4]["inclusion_proof"].is_null());

    // Each included record verifies against the public checkpoint, and its proof is what an
    // outside verifier computes from the public tiles alone.
    for entry in &entries[..4] {
        assert_eq!(entry["status"], "included");
        let index = entry["index"].as_u64().unwrap();
        let bytes = STANDARD.decode(entry["entry"].as_str().unwrap()).unwrap();
        let proof: Vec<Hash> = entry["inclusion_proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                STANDARD
                    .decode(h.as_str().unwrap())
                    .unwrap()
                    .try_into()
                    .unwrap()
            })
            .collect();
        verify_inclusion(&leaf_hash(&bytes), index, 5, &proof, &checkpoint.root).unwrap();
        let needed = tiles_for(5, |source| inclusion_proof(source, index, 5)).unwrap();
        let mut tiles = TileMap::new();
        for tile in needed {
            let response = app
                .anonymous(Method::GET, &format!("/log/{}", tile.path()))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{}", tile.path());
            assert_eq!(
                response.headers()["cache-control"],
                "public, max-age=31536000, immutable"
            );
            let data = response.bytes().await.unwrap().to_vec();
            tiles.insert(tile.level, tile.index, data).unwrap();
        }
        assert_eq!(inclusion_proof(&tiles, index, 5).unwrap(), proof);
        // Entries hold names of fields, never values.
        let text = String::from_utf8(bytes).unwrap();
        for value in ["citizen_number", "name", "birth_date"] {
            assert!(!text.contains(bodies[0][value].as_str().unwrap()));
        }
        assert!(!text.contains(id));
    }
    app.shutdown().await;
}

#[tokio::test]
async fn refused_reads_record_nothing() {
    let app = TestApp::init().await;
    let person = app.create_person(&synthetic_person_bodies(1)[0]).await;
    let path = format!("/v1/persons/{}", person["id"].as_str().unwrap());
    let log = app.store().disclosure_log();

    for bad in ["x".repeat(201), "tra cứu 079305000123".to_owned()] {
        let response = app
            .request(&app.reader, Method::GET, &path)
            .header("dinhdanh-purpose", bad)
            .send()
            .await
            .unwrap();
        let body = expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-purpose",
        )
        .await;
        assert!(!body.to_string().contains("079305000123"));
    }
    let response = app
        .get(
            &app.reader,
            "/v1/persons/0190a0b0-0000-7000-8000-000000000000",
        )
        .await;
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    let response = app.anonymous(Method::GET, &path).send().await.unwrap();
    expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(
        log.sizes().await.unwrap(),
        (0, 0),
        "no record for a refused read"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn tiles_are_served_by_their_canonical_paths_only() {
    let app = TestApp::init().await;
    let response = app
        .anonymous(Method::GET, "/log/checkpoint")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;

    let people = synthetic_person_bodies(1);
    let person = app.create_person(&people[0]).await;
    let path = format!("/v1/persons/{}", person["id"].as_str().unwrap());
    for _ in 0..3 {
        expect_json(app.get(&app.reader, &path).await, StatusCode::OK).await;
    }
    publish(&app).await;

    let mut status: HashMap<&str, u16> = HashMap::new();
    for tile in [
        "0/000.p/3",
        "0/000.p/2",
        "0/000.p/4",
        "0/000",
        "0/001.p/1",
        "1/000.p/1",
        "00/000.p/3",
        "0/0.p/3",
        "0/000.p/03",
        "entries/000.p/3",
        "64/000",
        "0/x000/000.p/3",
    ] {
        let response = app
            .anonymous(Method::GET, &format!("/log/tile/{tile}"))
            .send()
            .await
            .unwrap();
        let code = response.status().as_u16();
        if code == 200 {
            let width: usize = tile.rsplit('/').next().unwrap().parse().unwrap();
            assert_eq!(response.bytes().await.unwrap().len(), width * 32);
        } else {
            expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
        }
        status.insert(tile, code);
    }
    // The stored partial tile holds three hashes: it and its prefixes are served.
    assert_eq!(status["0/000.p/3"], 200);
    assert_eq!(status["0/000.p/2"], 200);
    for missing in ["0/000.p/4", "0/000", "0/001.p/1", "1/000.p/1"] {
        assert_eq!(status[missing], 404, "{missing}");
    }
    for malformed in [
        "00/000.p/3",
        "0/0.p/3",
        "0/000.p/03",
        "64/000",
        "0/x000/000.p/3",
    ] {
        assert_eq!(status[malformed], 404, "{malformed}");
    }
    assert_eq!(
        status["entries/000.p/3"], 404,
        "entry bundles are not public"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn the_publisher_signs_after_n_records_without_waiting_for_its_interval() {
    let app = TestApp::init().await;
    let person = app.create_person(&synthetic_person_bodies(1)[0]).await;
    let path = format!("/v1/persons/{}", person["id"].as_str().unwrap());
    let log = app.store().disclosure_log();
    let config = dinhdanh_server::LogConfig {
        checkpoint_interval_ms: 3_600_000,
        checkpoint_after_entries: 5,
        integration_batch: 2,
    };
    let publisher = dinhdanh_server::spawn_log_publisher(log.clone(), config);
    for _ in 0..4 {
        expect_json(app.get(&app.reader, &path).await, StatusCode::OK).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        log.latest_checkpoint().await.unwrap().is_none(),
        "4 of 5: not yet"
    );
    expect_json(app.get(&app.reader, &path).await, StatusCode::OK).await;
    let mut size = 0;
    for _ in 0..100 {
        if let Some(checkpoint) = log.latest_checkpoint().await.unwrap() {
            size = checkpoint.size;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Integrated two at a time, then signed once.
    assert_eq!(size, 5);
    assert_eq!(log.sizes().await.unwrap(), (5, 0));
    publisher.abort();
    app.shutdown().await;
}
