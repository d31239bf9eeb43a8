//! Personal data is sealed at rest: after people are registered through the API, no file of
//! the database (the main file, its write-ahead log, shared memory or any journal) holds a
//! name, citizen number or birth date in clear, neither while the server runs nor after it
//! has stopped and the store is closed.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{TestApp, expect_json, files_under, person_body, synthetic_people};
use dinhdanh_core::OrganisationKind;
use reqwest::StatusCode;
use serde_json::json;

/// How many people the test registers.
const PEOPLE: usize = 50;

/// A string that must not be in the data directory, and what it is (for the failure message,
/// which never prints the value itself).
struct Needle {
    what: String,
    bytes: Vec<u8>,
}

/// Every occurrence of a needle: (file, needle description).
fn scan(dir: &Path, needles: &[Needle]) -> Vec<(PathBuf, String)> {
    let mut found = Vec::new();
    for file in files_under(dir) {
        // A file may vanish between listing and reading (SQLite removes its WAL and SHM on
        // close); what is gone cannot leak.
        let Ok(content) = std::fs::read(&file) else {
            continue;
        };
        for needle in needles {
            if content
                .windows(needle.bytes.len())
                .any(|window| window == needle.bytes.as_slice())
            {
                found.push((file.clone(), needle.what.clone()));
            }
        }
    }
    found
}

/// Proves that `scan` reads every file of `dir`, including ones in subdirectories, and finds
/// a needle anywhere in a file: a scanner that silently read nothing would pass the test.
fn assert_scanner_finds_planted(dir: &Path, needle: &Needle) {
    let nested = dir.join("scanner-check");
    std::fs::create_dir_all(&nested).unwrap();
    let planted = nested.join("planted.bin");
    let mut content = vec![0xA5_u8; 8191];
    content.extend_from_slice(&needle.bytes);
    content.extend_from_slice(&[0x5A; 3]);
    std::fs::write(&planted, &content).unwrap();
    let found = scan(dir, std::slice::from_ref(needle));
    std::fs::remove_dir_all(&nested).unwrap();
    assert!(
        found.iter().any(|(file, _)| file == &planted),
        "the scanner missed a {} planted in {}",
        needle.what,
        planted.display()
    );
}

/// Today's date in UTC, `YYYY-MM-DD`.
fn utc_day() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}

fn describe(found: &[(PathBuf, String)]) -> String {
    found
        .iter()
        .map(|(file, what)| format!("{what} in {}", file.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn no_personal_field_is_stored_in_clear() {
    let utc_day_at_start = utc_day();
    let app = TestApp::init().await;
    let people = synthetic_people(PEOPLE);

    // Register everyone through the API, then link each minor to their synthetic guardian.
    let mut ids = Vec::with_capacity(PEOPLE);
    for person in &people {
        let created = app.create_person(&person_body(person)).await;
        ids.push(created["id"].as_str().unwrap().to_owned());
    }
    let mut links = 0;
    for (index, person) in people.iter().enumerate() {
        if let Some(guardian) = person.guardian {
            let response = app
                .post(
                    &app.writer,
                    &format!("/v1/persons/{}/guardians", ids[index]),
                    &json!({"guardian_id": ids[guardian], "relationship": "parent"}),
                )
                .await;
            expect_json(response, StatusCode::CREATED).await;
            links += 1;
        }
    }
    assert!(
        links > 0,
        "the population should hold minors with guardians"
    );
    // Reads and look-ups as well: they must not leave anything behind either.
    for person in people.iter().take(10) {
        let response = app
            .post(
                &app.reader,
                "/v1/persons/lookup",
                &json!({"citizen_number": person.citizen_number.as_str()}),
            )
            .await;
        expect_json(response, StatusCode::OK).await;
    }
    assert_eq!(app.person_count().await, PEOPLE as u64);

    // Positive control: an organisation's name is not personal data and is stored in clear,
    // so the scan must find it in the database files. This shows the scanner reaches what
    // the server just wrote (in the WAL or the main file).
    let organisation = dinhdanh_synth::organisations(3)
        .into_iter()
        .find(|o| o.kind == OrganisationKind::Enterprise && o.parent.is_none())
        .unwrap();
    let control = Needle {
        what: "the registered organisation's name (control)".to_owned(),
        bytes: organisation.name.as_bytes().to_vec(),
    };
    app.create_organisation(&json!({
        "tax_code": organisation.tax_code.as_str(),
        "name": organisation.name,
        "kind": "enterprise",
    }))
    .await;

    // sqlx's migration table records when the schema was installed, as a UTC
    // `YYYY-MM-DD HH:MM:SS`: a birth date on that day is no evidence of a leak. Such a person
    // is still checked for name and citizen number.
    let install_days = [utc_day_at_start, utc_day()];
    let mut needles = Vec::new();
    for (index, person) in people.iter().enumerate() {
        // `PersonName` is canonical: NFC, single spaces.
        needles.push(Needle {
            what: format!("the name of person #{index}"),
            bytes: person.name.as_str().as_bytes().to_vec(),
        });
        needles.push(Needle {
            what: format!("the citizen number of person #{index}"),
            bytes: person.citizen_number.as_str().as_bytes().to_vec(),
        });
        let birth_date = person.birth_date.to_string();
        if !install_days.contains(&birth_date) {
            needles.push(Needle {
                what: format!("the birth date of person #{index}"),
                bytes: birth_date.into_bytes(),
            });
        }
    }

    // While the server runs.
    let dir = app.data_dir().to_path_buf();
    let files = files_under(&dir);
    assert!(
        files.iter().any(|f| f.ends_with("dinhdanh.db")),
        "no database file in {}: {files:?}",
        dir.display()
    );
    assert_scanner_finds_planted(&dir, &needles[1]);
    let found = scan(&dir, std::slice::from_ref(&control));
    assert!(
        !found.is_empty(),
        "the control string was not found in {files:?}: the scan does not see the database"
    );
    let found = scan(&dir, &needles);
    assert!(
        found.is_empty(),
        "personal data in clear while running:\n{}",
        describe(&found)
    );

    // After shutdown, with every handle on the store dropped.
    let dir = app.shutdown().await;
    let files = files_under(dir.path());
    assert!(
        files.iter().any(|f| f.ends_with("dinhdanh.db")),
        "{files:?}"
    );
    assert_scanner_finds_planted(dir.path(), &needles[0]);
    assert!(
        !scan(dir.path(), std::slice::from_ref(&control)).is_empty(),
        "the control string vanished from {files:?}"
    );
    let found = scan(dir.path(), &needles);
    assert!(
        found.is_empty(),
        "personal data in clear after shutdown:\n{}",
        describe(&found)
    );
}
