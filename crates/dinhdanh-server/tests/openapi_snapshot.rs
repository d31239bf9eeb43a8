//! Snapshots of the API's public surface: the OpenAPI document and the bodies of common
//! errors. An accidental change to either fails here; an intended one is recorded with
//!
//! ```text
//! UPDATE_SNAPSHOTS=1 cargo test -p dinhdanh-server --test openapi_snapshot
//! ```
//!
//! and the changed files under `tests/snapshots/` are reviewed and committed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::PathBuf;

use common::TestApp;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, Response};
use serde_json::{Map, Value, json};

fn snapshot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("snapshots")
        .join(name)
}

/// Compares `actual` with the committed snapshot `name`, or writes it when
/// `UPDATE_SNAPSHOTS=1`.
fn assert_snapshot(name: &str, actual: &str) {
    let path = snapshot_path(name);
    let actual = format!("{}\n", actual.trim_end());
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|value| value == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|err| {
        panic!(
            "cannot read the snapshot {} ({err}); create it with \
             `UPDATE_SNAPSHOTS=1 cargo test -p dinhdanh-server --test openapi_snapshot`",
            path.display()
        )
    });
    if expected != actual {
        let first_difference = expected
            .lines()
            .zip(actual.lines())
            .enumerate()
            .find(|(_, (e, a))| e != a)
            .map_or_else(
                || {
                    format!(
                        "one is a prefix of the other ({} vs {} lines)",
                        expected.lines().count(),
                        actual.lines().count()
                    )
                },
                |(line, (e, a))| {
                    format!(
                        "first difference at line {}:\n  snapshot: {e}\n  actual:   {a}",
                        line + 1
                    )
                },
            );
        panic!(
            "{name} differs from the committed snapshot {}.\n{first_difference}\n\
             If the change is intended, run \
             `UPDATE_SNAPSHOTS=1 cargo test -p dinhdanh-server --test openapi_snapshot`, \
             review the diff of tests/snapshots/ and commit it.",
            path.display()
        );
    }
}

#[test]
fn the_openapi_document_matches_its_snapshot() {
    let document = serde_json::to_string_pretty(&dinhdanh_server::openapi_document()).unwrap();
    assert_snapshot("openapi.json", &document);
}

/// What a client sees of an error: status, the headers it acts on, and the body.
async fn observed(response: Response) -> Value {
    let status = response.status().as_u16();
    let header = |name| {
        response
            .headers()
            .get(name)
            .map_or(Value::Null, |v| json!(v.to_str().unwrap()))
    };
    let content_type = header(CONTENT_TYPE);
    let challenge = header(WWW_AUTHENTICATE);
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    let mut seen = Map::new();
    seen.insert("status".to_owned(), json!(status));
    seen.insert("content-type".to_owned(), content_type);
    if !challenge.is_null() {
        seen.insert("www-authenticate".to_owned(), challenge);
    }
    seen.insert("body".to_owned(), body);
    Value::Object(seen)
}

#[tokio::test]
async fn error_bodies_match_their_snapshot() {
    let app = TestApp::init().await;
    let person = json!({
        "citizen_number": "001090012345",
        "name": "Nguyễn Văn Mẫu",
        "birth_date": "1990-03-04",
        "sex": "male",
    });
    let mut bad_province = person.clone();
    bad_province["citizen_number"] = json!("003090012345");
    let mut unknown_field = person.clone();
    unknown_field["nickname"] = json!("Mẫu");
    let mut wrong_type = person.clone();
    wrong_type["citizen_number"] = json!(1_234_567_890_123_u64);

    let mut problems = Map::new();
    let mut record = |name: &str, value: Value| {
        problems.insert(name.to_owned(), value);
    };

    record(
        "401 missing token",
        observed(
            app.anonymous(Method::POST, "/v1/persons")
                .json(&person)
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    record(
        "401 unknown token",
        observed(
            app.anonymous(Method::POST, "/v1/persons/lookup")
                .header(AUTHORIZATION, "Bearer ddo_unknown")
                .json(&json!({"citizen_number": "001090012345"}))
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    record(
        "403 reader writes",
        observed(app.post(&app.reader, "/v1/persons", &person).await).await,
    );
    record(
        "422 citizen-number-province",
        observed(app.post(&app.writer, "/v1/persons", &bad_province).await).await,
    );
    record(
        "400 unknown field",
        observed(app.post(&app.writer, "/v1/persons", &unknown_field).await).await,
    );
    record(
        "400 wrong type",
        observed(app.post(&app.writer, "/v1/persons", &wrong_type).await).await,
    );
    record(
        "400 invalid id",
        observed(app.get(&app.reader, "/v1/persons/not-a-uuid").await).await,
    );
    record(
        "404 unknown route",
        observed(app.get(&app.reader, "/v1/people").await).await,
    );
    record(
        "405 wrong method",
        observed(
            app.request(&app.writer, Method::DELETE, "/v1/persons")
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    record(
        "415 no content type",
        observed(
            app.request(&app.writer, Method::POST, "/v1/persons")
                .body(person.to_string())
                .send()
                .await
                .unwrap(),
        )
        .await,
    );
    app.create_person(&person).await;
    record(
        "409 duplicate citizen number",
        observed(app.post(&app.writer, "/v1/persons", &person).await).await,
    );

    let text = serde_json::to_string_pretty(&Value::Object(problems)).unwrap();
    assert_snapshot("problems.json", &text);
}
