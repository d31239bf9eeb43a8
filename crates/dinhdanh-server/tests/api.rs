//! End-to-end tests of the HTTP API: a real server on an ephemeral port over a fresh SQLite
//! database. Every refusal is checked for its status, its problem+json `type`, and for having
//! written nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestApp, expect_json, expect_problem, issue_token, person_body, synthetic_people};
use dinhdanh_core::{AgeBracket, CitizenNumber, EidLevel, PersonStatus, Sex, today_in_vietnam};
use dinhdanh_server::HttpConfig;
use dinhdanh_store::{OperatorRole, OrganisationId, PersonId};
use dinhdanh_synth::{SyntheticOrganisation, SyntheticPerson};
use jiff::{Timestamp, ToSpan};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// An obviously made-up adult ("Mẫu" means "sample"), male, born 1990 in Hà Nội (001).
fn sample_man() -> Value {
    json!({
        "citizen_number": "001090012345",
        "name": "Nguyễn Văn Mẫu",
        "birth_date": "1990-03-04",
        "sex": "male",
    })
}

/// `body` with `field` set to `value`.
fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

fn is_minor(person: &SyntheticPerson) -> bool {
    AgeBracket::at(&person.birth_date, Timestamp::now()) != AgeBracket::Adult
}

/// The first synthetic people that match, in population order.
fn pick(
    people: &[SyntheticPerson],
    count: usize,
    test: impl Fn(&SyntheticPerson) -> bool,
) -> Vec<&SyntheticPerson> {
    let found: Vec<_> = people.iter().filter(|p| test(p)).take(count).collect();
    assert_eq!(
        found.len(),
        count,
        "the synthetic population is too small for this test"
    );
    found
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

fn person_id(body: &Value) -> PersonId {
    id_of(body).parse().unwrap()
}

fn organisation_id(body: &Value) -> OrganisationId {
    id_of(body).parse().unwrap()
}

/// Synthetic, fictional organisations (enterprises, platforms, registrars: no real body).
fn fictional_organisations() -> Vec<SyntheticOrganisation> {
    use dinhdanh_core::OrganisationKind as K;
    dinhdanh_synth::organisations(7)
        .into_iter()
        .filter(|o| {
            matches!(o.kind, K::Enterprise | K::Platform | K::Registrar) && o.parent.is_none()
        })
        .collect()
}

fn organisation_body(organisation: &SyntheticOrganisation) -> Value {
    json!({
        "tax_code": organisation.tax_code.as_str(),
        "name": organisation.name,
        "kind": organisation.kind.as_str(),
    })
}

/// Asserts that the response body does not contain `secret` anywhere.
fn assert_not_echoed(body: &Value, secret: &str) {
    let text = body.to_string();
    assert!(
        !text.contains(secret),
        "the error body repeats {secret:?}: {text}"
    );
}

/// POSTs a person as the writer, expects a refusal, and checks nothing was written.
async fn refuse_person(app: &TestApp, body: &Value, status: StatusCode, slug: &str) -> Value {
    let before = app.person_count().await;
    let response = app.post(&app.writer, "/v1/persons", body).await;
    let problem = expect_problem(response, status, slug).await;
    assert_eq!(
        app.person_count().await,
        before,
        "a refused person was written"
    );
    problem
}

// ---------------------------------------------------------------------------------------------
// Persons
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_registered_person_reads_back_by_id_and_by_citizen_number() {
    let app = TestApp::init().await;
    let people = synthetic_people(200);
    let adult = pick(&people, 1, |p| {
        !is_minor(p) && p.status == PersonStatus::Active
    })[0];

    let created = app.create_person(&person_body(adult)).await;
    assert_eq!(created["citizen_number"], adult.citizen_number.as_str());
    assert_eq!(created["name"], adult.name.as_str());
    assert_eq!(created["birth_date"], adult.birth_date.to_string());
    assert_eq!(created["sex"], adult.sex.to_string());
    assert_eq!(created["status"], "active");
    assert_eq!(created["eid_level"], 0);
    assert_eq!(created["age_bracket"], "adult");
    assert!(
        created["created_at"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .is_ok()
    );
    let id = person_id(&created);
    assert_eq!(app.person_count().await, 1);

    // By id, as the lowest role.
    let read = expect_json(
        app.get(&app.reader, &format!("/v1/persons/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(read, created);

    // By citizen number, in the body.
    let looked_up = app
        .post(
            &app.reader,
            "/v1/persons/lookup",
            &json!({"citizen_number": adult.citizen_number.as_str()}),
        )
        .await;
    assert_eq!(expect_json(looked_up, StatusCode::OK).await, created);

    // The store holds what the API answered.
    let stored = app.store().find_person(id).await.unwrap().unwrap();
    assert_eq!(stored.personal.citizen_number, adult.citizen_number);
    assert_eq!(stored.personal.name, adult.name);
}

#[tokio::test]
async fn lookups_of_unknown_people_are_404_and_bad_numbers_422() {
    let app = TestApp::init().await;
    app.create_person(&sample_man()).await;

    let unknown = app
        .post(
            &app.reader,
            "/v1/persons/lookup",
            &json!({"citizen_number": "001090099999"}),
        )
        .await;
    let problem = expect_problem(unknown, StatusCode::NOT_FOUND, "not-found").await;
    assert_not_echoed(&problem, "001090099999");

    let bad = app
        .post(
            &app.reader,
            "/v1/persons/lookup",
            &json!({"citizen_number": "003090012345"}),
        )
        .await;
    let problem = expect_problem(
        bad,
        StatusCode::UNPROCESSABLE_ENTITY,
        "citizen-number-province",
    )
    .await;
    assert_eq!(problem["field"], "citizen_number");
    assert_not_echoed(&problem, "003090012345");

    let id = uuid::Uuid::now_v7();
    let missing = app.get(&app.reader, &format!("/v1/persons/{id}")).await;
    expect_problem(missing, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn names_are_stored_in_canonical_form() {
    let app = TestApp::init().await;
    // "Nguyễn" decomposed (e + U+0302 + U+0303), with stray whitespace.
    let body = with(
        sample_man(),
        "name",
        json!("  Nguye\u{302}\u{303}n   Văn\tMẫu "),
    );
    let created = app.create_person(&body).await;
    assert_eq!(created["name"], "Nguyễn Văn Mẫu");
    let stored = app
        .store()
        .find_person(person_id(&created))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.personal.name.as_str(), "Nguyễn Văn Mẫu");
}

#[tokio::test]
async fn status_and_eid_level_are_patched() {
    let app = TestApp::init().await;
    let created = app.create_person(&sample_man()).await;
    let id = person_id(&created);
    let path = format!("/v1/persons/{id}");

    let patched = expect_json(
        app.patch(&app.writer, &path, &json!({"eid_level": 2}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["eid_level"], 2);
    assert_eq!(patched["status"], "active");
    assert_eq!(patched["citizen_number"], created["citizen_number"]);

    let patched = expect_json(
        app.patch(&app.writer, &path, &json!({"status": "suspended"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["status"], "suspended");
    assert_eq!(
        patched["eid_level"], 2,
        "a PATCH of status must keep the e-ID level"
    );

    let read = expect_json(app.get(&app.reader, &path).await, StatusCode::OK).await;
    assert_eq!(read["status"], "suspended");
    assert_eq!(read["eid_level"], 2);
    let stored = app.store().find_person(id).await.unwrap().unwrap();
    assert_eq!(stored.status, PersonStatus::Suspended);
    assert_eq!(stored.eid_level, EidLevel::try_from(2).unwrap());
}

#[tokio::test]
async fn invalid_patches_change_nothing() {
    let app = TestApp::init().await;
    let created = app
        .create_person(&with(sample_man(), "eid_level", json!(1)))
        .await;
    let id = person_id(&created);
    let path = format!("/v1/persons/{id}");
    let before = app.store().find_person(id).await.unwrap().unwrap();

    let cases: [(Value, StatusCode, &str); 5] = [
        (json!({}), StatusCode::BAD_REQUEST, "malformed-body"),
        (
            json!({"eid_level": 3}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "eid-level",
        ),
        (
            json!({"status": "dead", "eid_level": 2}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "person-status",
        ),
        (
            json!({"eid_level": 2, "name": "Trần Thị Mẫu"}),
            StatusCode::BAD_REQUEST,
            "malformed-body",
        ),
        (
            json!({"eid_level": -1}),
            StatusCode::BAD_REQUEST,
            "malformed-body",
        ),
    ];
    for (body, status, slug) in cases {
        let response = app.patch(&app.writer, &path, &body).await;
        expect_problem(response, status, slug).await;
        let after = app.store().find_person(id).await.unwrap().unwrap();
        assert_eq!(after, before, "the refused PATCH {body} changed the person");
    }

    // An unknown person.
    let other = uuid::Uuid::now_v7();
    let response = app
        .patch(
            &app.writer,
            &format!("/v1/persons/{other}"),
            &json!({"eid_level": 2}),
        )
        .await;
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn a_deceased_persons_record_no_longer_changes() {
    let app = TestApp::init().await;
    let created = app
        .create_person(&with(sample_man(), "status", json!("deceased")))
        .await;
    assert_eq!(created["status"], "deceased");
    let id = person_id(&created);
    let path = format!("/v1/persons/{id}");

    for body in [json!({"eid_level": 2}), json!({"status": "active"})] {
        let response = app.patch(&app.writer, &path, &body).await;
        expect_problem(response, StatusCode::CONFLICT, "person-deceased").await;
        let stored = app.store().find_person(id).await.unwrap().unwrap();
        assert_eq!(stored.status, PersonStatus::Deceased, "after {body}");
        assert_eq!(stored.eid_level.as_u8(), 0, "after {body}");
    }

    // A person who dies through a PATCH is frozen from then on too.
    let other = app
        .create_person(&json!({
            "citizen_number": "001190012346",
            "name": "Trần Thị Mẫu",
            "birth_date": "1990-05-06",
            "sex": "female",
        }))
        .await;
    let other_path = format!("/v1/persons/{}", id_of(&other));
    expect_json(
        app.patch(&app.writer, &other_path, &json!({"status": "deceased"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let response = app
        .patch(&app.writer, &other_path, &json!({"status": "active"}))
        .await;
    expect_problem(response, StatusCode::CONFLICT, "person-deceased").await;
    let read = expect_json(app.get(&app.reader, &other_path).await, StatusCode::OK).await;
    assert_eq!(read["status"], "deceased");
}

#[tokio::test]
async fn a_duplicate_citizen_number_is_409_and_writes_nothing() {
    let app = TestApp::init().await;
    let first = app.create_person(&sample_man()).await;
    assert_eq!(app.person_count().await, 1);

    // Same number, other name: the number alone is unique.
    let again = with(sample_man(), "name", json!("Lê Văn Khác"));
    let problem = refuse_person(&app, &again, StatusCode::CONFLICT, "conflict").await;
    assert_not_echoed(&problem, "001090012345");
    assert_eq!(app.person_count().await, 1);

    // The first registration is untouched.
    let looked_up = app
        .post(
            &app.reader,
            "/v1/persons/lookup",
            &json!({"citizen_number": "001090012345"}),
        )
        .await;
    let looked_up = expect_json(looked_up, StatusCode::OK).await;
    assert_eq!(looked_up["id"], first["id"]);
    assert_eq!(looked_up["name"], "Nguyễn Văn Mẫu");
}

// ---------------------------------------------------------------------------------------------
// Validation of person fields (422)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_province_code_is_422_citizen_number_province() {
    let app = TestApp::init().await;
    let body = with(sample_man(), "citizen_number", json!("003090012345"));
    let problem = refuse_person(
        &app,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "citizen-number-province",
    )
    .await;
    assert_eq!(problem["field"], "citizen_number");
    assert_not_echoed(&problem, "003090012345");
}

#[tokio::test]
async fn a_century_digit_that_contradicts_the_birth_date_is_422() {
    let app = TestApp::init().await;
    // Century digit 0 (a man born in the 1900s), year digits 03, but born in 2003.
    let body = json!({
        "citizen_number": "001003012345",
        "name": "Nguyễn Văn Mẫu",
        "birth_date": "2003-04-01",
        "sex": "male",
    });
    let problem = refuse_person(
        &app,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "citizen-number-century",
    )
    .await;
    assert_eq!(problem["field"], "citizen_number");
    assert_not_echoed(&problem, "001003012345");
    assert_not_echoed(&problem, "2003-04-01");
}

#[tokio::test]
async fn birth_year_digits_that_contradict_the_birth_date_are_422() {
    let app = TestApp::init().await;
    let body = with(sample_man(), "birth_date", json!("1991-03-04"));
    let problem = refuse_person(
        &app,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "citizen-number-birth-year",
    )
    .await;
    assert_eq!(problem["field"], "citizen_number");
}

#[tokio::test]
async fn a_sex_that_contradicts_the_citizen_number_is_422() {
    let app = TestApp::init().await;
    // Century digit 0 is male; the body says female.
    let body = with(sample_man(), "sex", json!("female"));
    let problem = refuse_person(
        &app,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "citizen-number-sex",
    )
    .await;
    assert_eq!(problem["field"], "citizen_number");
}

#[tokio::test]
async fn a_birth_date_in_the_future_is_422() {
    let app = TestApp::init().await;
    // Tomorrow in Vietnam, with a citizen number that agrees with it in every other way.
    let tomorrow = today_in_vietnam(Timestamp::now())
        .checked_add(1.day())
        .unwrap();
    let number = CitizenNumber::compose(1, Sex::Female, tomorrow.year(), 4321).unwrap();
    let body = json!({
        "citizen_number": number.as_str(),
        "name": "Trần Thị Mẫu",
        "birth_date": tomorrow.to_string(),
        "sex": "female",
    });
    let problem = refuse_person(
        &app,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "birth-date-in-future",
    )
    .await;
    assert_eq!(problem["field"], "birth_date");
    assert_not_echoed(&problem, &tomorrow.to_string());

    // Today is fine.
    let today = today_in_vietnam(Timestamp::now());
    let number = CitizenNumber::compose(1, Sex::Female, today.year(), 4322).unwrap();
    let body = json!({
        "citizen_number": number.as_str(),
        "name": "Trần Thị Mẫu",
        "birth_date": today.to_string(),
        "sex": "female",
    });
    let created = app.create_person(&body).await;
    assert_eq!(created["age_bracket"], "under_13");
}

#[tokio::test]
async fn a_name_with_digits_is_422_and_not_repeated() {
    let app = TestApp::init().await;
    let body = with(sample_man(), "name", json!("Nguyễn Văn 4567"));
    let problem = refuse_person(&app, &body, StatusCode::UNPROCESSABLE_ENTITY, "person-name").await;
    assert_eq!(problem["field"], "name");
    assert_not_echoed(&problem, "4567");
    assert_not_echoed(&problem, "Nguyễn");
}

#[tokio::test]
async fn other_invalid_person_fields_are_422_with_the_field_named() {
    let app = TestApp::init().await;
    let cases = [
        (
            "citizen_number",
            json!("00109001234"),
            "citizen-number-format",
        ),
        (
            "citizen_number",
            json!("00109001234x"),
            "citizen-number-format",
        ),
        ("birth_date", json!("04/03/1990"), "birth-date"),
        ("birth_date", json!("1990-02-30"), "birth-date"),
        ("sex", json!("Male"), "sex"),
        ("name", json!(""), "person-name"),
        ("eid_level", json!(3), "eid-level"),
        ("status", json!("dead"), "person-status"),
    ];
    for (field, value, slug) in cases {
        let body = with(sample_man(), field, value.clone());
        let problem = refuse_person(&app, &body, StatusCode::UNPROCESSABLE_ENTITY, slug).await;
        assert_eq!(problem["field"], field, "for {field} = {value}");
    }
}

// ---------------------------------------------------------------------------------------------
// Malformed bodies (400, 413, 415)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_400_malformed_body() {
    let app = TestApp::init().await;
    let before = app.person_count().await;
    let response = app
        .request(&app.writer, Method::POST, "/v1/persons")
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"citizen_number": "001090012345", "name": "Nguyễn Văn Mẫu""#)
        .send()
        .await
        .unwrap();
    let problem = expect_problem(response, StatusCode::BAD_REQUEST, "malformed-body").await;
    assert_not_echoed(&problem, "001090012345");
    assert_not_echoed(&problem, "Nguyễn");
    assert_eq!(app.person_count().await, before);
}

#[tokio::test]
async fn an_unknown_field_is_400_and_lists_the_expected_ones() {
    let app = TestApp::init().await;
    let body = with(sample_man(), "nickname", json!("Mẫu Nhỏ"));
    let problem = refuse_person(&app, &body, StatusCode::BAD_REQUEST, "malformed-body").await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.starts_with("unknown field"), "{detail}");
    assert!(detail.contains("`citizen_number`"), "{detail}");
    assert_not_echoed(&problem, "Mẫu Nhỏ");
    assert_not_echoed(&problem, "001090012345");
    // A key is client data too: it is never repeated, even a key that mimics serde's text.
    let body = with(
        sample_man(),
        "079305000123`, expected 001090012345",
        json!(1),
    );
    let problem = refuse_person(&app, &body, StatusCode::BAD_REQUEST, "malformed-body").await;
    assert_not_echoed(&problem, "079305000123");
    assert_not_echoed(&problem, "001090012345");
}

#[tokio::test]
async fn a_missing_field_is_400_and_named() {
    let app = TestApp::init().await;
    let mut body = sample_man();
    body.as_object_mut().unwrap().remove("birth_date");
    let problem = refuse_person(&app, &body, StatusCode::BAD_REQUEST, "malformed-body").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("birth_date"),
        "{problem}"
    );
    assert_not_echoed(&problem, "001090012345");
}

#[tokio::test]
async fn a_wrong_type_is_400_and_the_value_is_not_repeated() {
    let app = TestApp::init().await;
    let body = with(sample_man(), "citizen_number", json!(1_234_567_890_123_u64));
    let problem = refuse_person(&app, &body, StatusCode::BAD_REQUEST, "malformed-body").await;
    assert_not_echoed(&problem, "1234567890123");

    let body = with(sample_man(), "eid_level", json!("987654"));
    let problem = refuse_person(&app, &body, StatusCode::BAD_REQUEST, "malformed-body").await;
    assert_not_echoed(&problem, "987654");

    let body = with(sample_man(), "name", json!(["Nguyễn", "Văn", "Mẫu"]));
    let problem = refuse_person(&app, &body, StatusCode::BAD_REQUEST, "malformed-body").await;
    assert_not_echoed(&problem, "Nguyễn");
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = TestApp::init().await;
    let body = with(sample_man(), "name", json!("a".repeat(70 * 1024)));
    let problem = refuse_person(
        &app,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("65536"),
        "{problem}"
    );
}

#[tokio::test]
async fn the_body_limit_comes_from_the_config() {
    let app = TestApp::builder()
        .with_config(HttpConfig {
            body_limit_bytes: 1024,
            ..HttpConfig::default()
        })
        .start()
        .await;
    // About 2 KiB: under the default limit, over this server's.
    let body = with(sample_man(), "nickname", json!("x".repeat(2048)));
    let problem = refuse_person(
        &app,
        &body,
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload-too-large",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("1024"),
        "{problem}"
    );
    // A small body still passes.
    app.create_person(&sample_man()).await;
}

#[tokio::test]
async fn a_body_without_json_content_type_is_415() {
    let app = TestApp::init().await;
    let before = app.person_count().await;
    let text = sample_man().to_string();

    let missing = app
        .request(&app.writer, Method::POST, "/v1/persons")
        .body(text.clone())
        .send()
        .await
        .unwrap();
    expect_problem(
        missing,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;

    let plain = app
        .request(&app.writer, Method::POST, "/v1/persons")
        .header(CONTENT_TYPE, "text/plain")
        .body(text.clone())
        .send()
        .await
        .unwrap();
    expect_problem(
        plain,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    )
    .await;
    assert_eq!(app.person_count().await, before);

    // With parameters and in another case, JSON is still JSON.
    let ok = app
        .request(&app.writer, Method::POST, "/v1/persons")
        .header(CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(text)
        .send()
        .await
        .unwrap();
    expect_json(ok, StatusCode::CREATED).await;
    assert_eq!(app.person_count().await, before + 1);
}

// ---------------------------------------------------------------------------------------------
// Authentication and roles
// ---------------------------------------------------------------------------------------------

/// Sends a valid registration with `authorization` (or none) and expects 401, with nothing
/// written.
async fn assert_unauthorized(app: &TestApp, authorization: Option<&str>) {
    let before = app.person_count().await;
    let mut request = app
        .anonymous(Method::POST, "/v1/persons")
        .json(&sample_man());
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|v| v.to_str().unwrap().to_owned());
    expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer"),
        "for Authorization {authorization:?}"
    );
    assert_eq!(
        app.person_count().await,
        before,
        "written with Authorization {authorization:?}"
    );
}

#[tokio::test]
async fn a_missing_token_is_401() {
    let app = TestApp::init().await;
    assert_unauthorized(&app, None).await;
    // Reads too.
    let response = app
        .anonymous(
            Method::GET,
            &format!("/v1/persons/{}", uuid::Uuid::now_v7()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
    expect_problem(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn a_malformed_authorization_header_is_401() {
    let app = TestApp::init().await;
    let basic = format!("Basic {}", app.writer);
    let bare = app.writer.clone();
    let no_token = "Bearer".to_owned();
    let blank = "Bearer    ".to_owned();
    for value in [basic, bare, no_token, blank] {
        assert_unauthorized(&app, Some(&value)).await;
    }
}

#[tokio::test]
async fn an_unknown_token_is_401() {
    let app = TestApp::init().await;
    assert_unauthorized(&app, Some("Bearer ddo_not-a-token-anyone-was-given")).await;
    // A token one character off.
    let mut altered = app.writer.clone();
    let last = if altered.ends_with('A') { 'B' } else { 'A' };
    altered.pop();
    altered.push(last);
    assert_unauthorized(&app, Some(&format!("Bearer {altered}"))).await;
}

#[tokio::test]
async fn a_revoked_token_is_401() {
    let app = TestApp::init().await;
    let (token, record) = issue_token(app.store(), OperatorRole::RegistryWriter, None).await;
    // Works before revocation ...
    let ok = app
        .get(&token, &format!("/v1/persons/{}", uuid::Uuid::now_v7()))
        .await;
    expect_problem(ok, StatusCode::NOT_FOUND, "not-found").await;
    // ... and not after.
    app.store().revoke_operator_token(record.id).await.unwrap();
    assert_unauthorized(&app, Some(&format!("Bearer {token}"))).await;
}

#[tokio::test]
async fn an_expired_token_is_401() {
    let app = TestApp::init().await;
    let past = Timestamp::now().checked_sub(1.hour()).unwrap();
    let (expired, _) = issue_token(app.store(), OperatorRole::Admin, Some(past)).await;
    assert_unauthorized(&app, Some(&format!("Bearer {expired}"))).await;

    // A token that expires later works now.
    let future = Timestamp::now().checked_add(1.hour()).unwrap();
    let (valid, _) = issue_token(app.store(), OperatorRole::RegistryWriter, Some(future)).await;
    expect_json(
        app.post(&valid, "/v1/persons", &sample_man()).await,
        StatusCode::CREATED,
    )
    .await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    // RFC 9110 §11.1: the auth scheme is case-insensitive.
    let app = TestApp::init().await;
    let response = app
        .anonymous(Method::POST, "/v1/persons")
        .header(AUTHORIZATION, format!("bearer {}", app.writer))
        .json(&sample_man())
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await;
}

#[tokio::test]
async fn a_reader_cannot_write_and_nothing_is_written() {
    let app = TestApp::init().await;
    let person = app.create_person(&sample_man()).await;
    let person_path = format!("/v1/persons/{}", id_of(&person));
    let organisation = fictional_organisations().remove(0);

    // Register a person.
    let other = json!({
        "citizen_number": "001190012346",
        "name": "Trần Thị Mẫu",
        "birth_date": "1990-05-06",
        "sex": "female",
    });
    let response = app.post(&app.reader, "/v1/persons", &other).await;
    let problem = expect_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("registry-writer"),
        "{problem}"
    );
    assert_eq!(app.person_count().await, 1);

    // Change a person.
    let response = app
        .patch(&app.reader, &person_path, &json!({"eid_level": 2}))
        .await;
    expect_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    let stored = app
        .store()
        .find_person(person_id(&person))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.eid_level.as_u8(), 0);

    // Link a guardian.
    let response = app
        .post(
            &app.reader,
            &format!("{person_path}/guardians"),
            &json!({"guardian_id": uuid::Uuid::now_v7(), "relationship": "parent"}),
        )
        .await;
    expect_problem(response, StatusCode::FORBIDDEN, "forbidden").await;

    // Register an organisation.
    let response = app
        .post(
            &app.reader,
            "/v1/organisations",
            &organisation_body(&organisation),
        )
        .await;
    expect_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    assert_eq!(app.store().count_organisations().await.unwrap(), 0);

    // The admin role includes the writer's.
    expect_json(
        app.post(&app.admin, "/v1/persons", &other).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(app.person_count().await, 2);
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_invalid_path_id_is_400_invalid_id() {
    let app = TestApp::init().await;
    for path in [
        "/v1/persons/not-a-uuid",
        "/v1/persons/001090012345/guardians",
        "/v1/organisations/123",
    ] {
        let response = app.get(&app.reader, path).await;
        let problem = expect_problem(response, StatusCode::BAD_REQUEST, "invalid-id").await;
        assert_not_echoed(&problem, "001090012345");
    }
    let response = app
        .patch(&app.writer, "/v1/persons/xyz", &json!({"eid_level": 1}))
        .await;
    expect_problem(response, StatusCode::BAD_REQUEST, "invalid-id").await;
}

#[tokio::test]
async fn an_unknown_route_is_404_problem() {
    let app = TestApp::init().await;
    for path in [
        "/v1/people",
        "/index.html",
        "/v2/persons",
        "/v1/persons/lookup/001090012345",
    ] {
        let response = app.get(&app.admin, path).await;
        expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
    }
    // Without a token too: the route does not exist for anyone.
    let response = app
        .anonymous(Method::GET, "/v1/people")
        .send()
        .await
        .unwrap();
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn a_wrong_method_is_405_problem() {
    // RFC 9110 §15.5.6: a 405 answer lists the allowed methods in `Allow`.
    let app = TestApp::init().await;
    let id = uuid::Uuid::now_v7();
    let cases = [
        (
            Method::DELETE,
            format!("/v1/persons/{id}"),
            "GET,HEAD,PATCH",
        ),
        (Method::PUT, "/v1/persons".to_owned(), "POST"),
        (Method::GET, "/v1/persons/lookup".to_owned(), "POST"),
        (Method::POST, "/healthz".to_owned(), "GET,HEAD"),
    ];
    for (method, path, allowed) in cases {
        let response = app
            .request(&app.admin, method.clone(), &path)
            .send()
            .await
            .unwrap();
        let allow = response
            .headers()
            .get(reqwest::header::ALLOW)
            .map(|value| value.to_str().unwrap().to_owned());
        expect_problem(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
        )
        .await;
        let mut allow: Vec<_> = allow
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_owned())
            .collect();
        allow.sort();
        assert_eq!(allow.join(","), allowed, "Allow of {method} {path}");
    }
    assert_eq!(app.person_count().await, 0);
}

// ---------------------------------------------------------------------------------------------
// Organisations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_organisation_is_created_read_and_found_by_tax_code() {
    let app = TestApp::init().await;
    let organisation = fictional_organisations().remove(0);
    let created = app
        .create_organisation(&organisation_body(&organisation))
        .await;
    assert_eq!(created["tax_code"], organisation.tax_code.as_str());
    assert_eq!(created["name"], organisation.name.as_str());
    assert_eq!(created["kind"], organisation.kind.as_str());
    assert_eq!(created["parent_id"], Value::Null);

    let read = app
        .get(
            &app.reader,
            &format!("/v1/organisations/{}", id_of(&created)),
        )
        .await;
    assert_eq!(expect_json(read, StatusCode::OK).await, created);

    let found = app
        .get(
            &app.reader,
            &format!(
                "/v1/organisations?tax_code={}",
                organisation.tax_code.as_str()
            ),
        )
        .await;
    assert_eq!(expect_json(found, StatusCode::OK).await, created);

    let stored = app
        .store()
        .find_organisation(organisation_id(&created))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.tax_code, organisation.tax_code);
}

#[tokio::test]
async fn organisation_look_ups_refuse_bad_queries() {
    let app = TestApp::init().await;
    let organisation = fictional_organisations().remove(0);
    app.create_organisation(&organisation_body(&organisation))
        .await;

    let unknown = app
        .get(&app.reader, "/v1/organisations?tax_code=0999999999")
        .await;
    expect_problem(unknown, StatusCode::NOT_FOUND, "not-found").await;

    let bad = app
        .get(&app.reader, "/v1/organisations?tax_code=12345")
        .await;
    let problem = expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "tax-code-format").await;
    assert_eq!(problem["field"], "tax_code");

    for query in ["", "?name=x", "?tax_code=0999999999&name=x"] {
        let response = app
            .get(&app.reader, &format!("/v1/organisations{query}"))
            .await;
        expect_problem(response, StatusCode::BAD_REQUEST, "invalid-query").await;
    }
}

#[tokio::test]
async fn refused_organisations_are_not_written() {
    let app = TestApp::init().await;
    let mut fictional = fictional_organisations();
    let first = fictional.remove(0);
    let second = fictional.remove(0);
    app.create_organisation(&organisation_body(&first)).await;
    let count = || async { app.store().count_organisations().await.unwrap() };
    assert_eq!(count().await, 1);

    // The same tax code again.
    let duplicate = with(
        organisation_body(&second),
        "tax_code",
        json!(first.tax_code.as_str()),
    );
    let response = app.post(&app.writer, "/v1/organisations", &duplicate).await;
    expect_problem(response, StatusCode::CONFLICT, "conflict").await;

    // A parent that does not exist.
    let orphan = with(
        organisation_body(&second),
        "parent_id",
        json!(uuid::Uuid::now_v7()),
    );
    let response = app.post(&app.writer, "/v1/organisations", &orphan).await;
    expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-reference",
    )
    .await;

    // Invalid fields.
    let cases = [
        ("tax_code", json!("01001091"), "tax-code-format"),
        ("kind", json!("bank"), "organisation-kind"),
        ("name", json!("   "), "organisation-name"),
        ("name", json!("x".repeat(201)), "organisation-name"),
        ("name", json!("Công ty\u{0007} Mẫu"), "organisation-name"),
    ];
    for (field, value, slug) in cases {
        let body = with(organisation_body(&second), field, value.clone());
        let response = app.post(&app.writer, "/v1/organisations", &body).await;
        let problem = expect_problem(response, StatusCode::UNPROCESSABLE_ENTITY, slug).await;
        assert_eq!(problem["field"], field, "for {field} = {value}");
    }
    assert_eq!(count().await, 1);
    let absent = app
        .store()
        .find_organisation_by_tax_code(&second.tax_code)
        .await
        .unwrap();
    assert!(absent.is_none());
}

#[tokio::test]
async fn an_organisation_is_renamed_reparented_and_detached() {
    let app = TestApp::init().await;
    let fictional = fictional_organisations();
    let head = app
        .create_organisation(&organisation_body(&fictional[0]))
        .await;
    let other_head = app
        .create_organisation(&organisation_body(&fictional[1]))
        .await;
    let child_body = with(
        organisation_body(&fictional[2]),
        "parent_id",
        json!(head["id"]),
    );
    let child = app.create_organisation(&child_body).await;
    assert_eq!(child["parent_id"], head["id"]);
    let child_path = format!("/v1/organisations/{}", id_of(&child));

    // Rename: whitespace collapses, the parent stays.
    let renamed = app
        .patch(
            &app.writer,
            &child_path,
            &json!({"name": "  Chi nhánh   Mẫu  "}),
        )
        .await;
    let renamed = expect_json(renamed, StatusCode::OK).await;
    assert_eq!(renamed["name"], "Chi nhánh Mẫu");
    assert_eq!(renamed["parent_id"], head["id"]);
    assert_eq!(renamed["tax_code"], child["tax_code"]);

    // Move under another parent.
    let moved = app
        .patch(
            &app.writer,
            &child_path,
            &json!({"parent_id": other_head["id"]}),
        )
        .await;
    let moved = expect_json(moved, StatusCode::OK).await;
    assert_eq!(moved["parent_id"], other_head["id"]);
    assert_eq!(moved["name"], "Chi nhánh Mẫu");

    // `null` detaches.
    let detached = app
        .patch(&app.writer, &child_path, &json!({"parent_id": null}))
        .await;
    let detached = expect_json(detached, StatusCode::OK).await;
    assert_eq!(detached["parent_id"], Value::Null);

    let read = expect_json(app.get(&app.reader, &child_path).await, StatusCode::OK).await;
    assert_eq!(read["parent_id"], Value::Null);
    assert_eq!(read["name"], "Chi nhánh Mẫu");
    let stored = app
        .store()
        .find_organisation(organisation_id(&child))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.parent_id, None);

    // An empty change is refused, an unknown organisation is 404.
    let response = app.patch(&app.writer, &child_path, &json!({})).await;
    expect_problem(response, StatusCode::BAD_REQUEST, "malformed-body").await;
    let response = app
        .patch(
            &app.writer,
            &format!("/v1/organisations/{}", uuid::Uuid::now_v7()),
            &json!({"name": "Công ty Mẫu"}),
        )
        .await;
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
}

#[tokio::test]
async fn an_organisation_cycle_is_refused() {
    let app = TestApp::init().await;
    let fictional = fictional_organisations();
    let top = app
        .create_organisation(&organisation_body(&fictional[0]))
        .await;
    let middle = app
        .create_organisation(&with(
            organisation_body(&fictional[1]),
            "parent_id",
            json!(top["id"]),
        ))
        .await;
    let bottom = app
        .create_organisation(&with(
            organisation_body(&fictional[2]),
            "parent_id",
            json!(middle["id"]),
        ))
        .await;
    let top_path = format!("/v1/organisations/{}", id_of(&top));
    let top_id = organisation_id(&top);

    // top -> bottom would close top -> bottom -> middle -> top; top -> top is the shortest.
    for parent in [&bottom["id"], &middle["id"], &top["id"]] {
        let response = app
            .patch(&app.writer, &top_path, &json!({"parent_id": parent}))
            .await;
        expect_problem(
            response,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-reference",
        )
        .await;
        let stored = app
            .store()
            .find_organisation(top_id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.parent_id, None,
            "after a refused move under {parent}"
        );
    }
    // With a rename in the same request, the rename is not applied either.
    let response = app
        .patch(
            &app.writer,
            &top_path,
            &json!({"name": "Tên Mới", "parent_id": bottom["id"]}),
        )
        .await;
    expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-reference",
    )
    .await;
    let stored = app
        .store()
        .find_organisation(top_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.name, fictional[0].name);

    // An unknown parent.
    let response = app
        .patch(
            &app.writer,
            &top_path,
            &json!({"parent_id": uuid::Uuid::now_v7()}),
        )
        .await;
    expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-reference",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Guardians
// ---------------------------------------------------------------------------------------------

/// A registered minor whose synthetic guardian is registered too, and two more adults.
struct Family {
    minor: Value,
    guardian: Value,
    other_adult: Value,
}

async fn family(app: &TestApp, people: &[SyntheticPerson]) -> Family {
    let (minor, guardian) = people
        .iter()
        .filter(|p| is_minor(p))
        .find_map(|p| p.guardian.map(|g| (p, &people[g])))
        .expect("the synthetic population has a minor with a guardian");
    assert!(!is_minor(guardian));
    let other_adult = people
        .iter()
        .find(|p| {
            !is_minor(p)
                && p.status == PersonStatus::Active
                && p.citizen_number != guardian.citizen_number
        })
        .unwrap();
    Family {
        minor: app.create_person(&person_body(minor)).await,
        guardian: app.create_person(&person_body(guardian)).await,
        other_adult: app.create_person(&person_body(other_adult)).await,
    }
}

#[tokio::test]
async fn a_guardian_is_linked_to_a_minor_and_listed() {
    let app = TestApp::init().await;
    let people = synthetic_people(200);
    let family = family(&app, &people).await;
    assert_ne!(family.minor["age_bracket"], "adult");
    let path = format!("/v1/persons/{}/guardians", id_of(&family.minor));

    // Nobody yet.
    let listed = expect_json(app.get(&app.reader, &path).await, StatusCode::OK).await;
    assert_eq!(listed, json!([]));

    let link = app
        .post(
            &app.writer,
            &path,
            &json!({"guardian_id": family.guardian["id"], "relationship": "parent"}),
        )
        .await;
    let link = expect_json(link, StatusCode::CREATED).await;
    assert_eq!(link["child_id"], family.minor["id"]);
    assert_eq!(link["guardian_id"], family.guardian["id"]);
    assert_eq!(link["relationship"], "parent");

    let second = app
        .post(
            &app.writer,
            &path,
            &json!({"guardian_id": family.other_adult["id"], "relationship": "legal_guardian"}),
        )
        .await;
    expect_json(second, StatusCode::CREATED).await;

    let listed = expect_json(app.get(&app.reader, &path).await, StatusCode::OK).await;
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    for member in ["child_id", "guardian_id", "relationship"] {
        assert_eq!(listed[0][member], link[member], "{member}");
    }
    // `created_at` is compared in `a_guardianship_reads_back_as_it_was_created`.
    assert_eq!(listed[1]["guardian_id"], family.other_adult["id"]);
    assert_eq!(listed[1]["relationship"], "legal_guardian");

    let stored = app
        .store()
        .list_guardians(person_id(&family.minor))
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);

    // The list of an unknown person is 404, not an empty list.
    let response = app
        .get(
            &app.reader,
            &format!("/v1/persons/{}/guardians", uuid::Uuid::now_v7()),
        )
        .await;
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;
}

/// What `POST .../guardians` answers is what `GET .../guardians` lists afterwards, to the
/// microsecond: a client that keeps the answer must not see the link change.
#[tokio::test]
async fn a_guardianship_reads_back_as_it_was_created() {
    let app = TestApp::init().await;
    let people = synthetic_people(200);
    let family = family(&app, &people).await;
    let path = format!("/v1/persons/{}/guardians", id_of(&family.minor));
    let link = app
        .post(
            &app.writer,
            &path,
            &json!({"guardian_id": family.guardian["id"], "relationship": "parent"}),
        )
        .await;
    let link = expect_json(link, StatusCode::CREATED).await;
    let listed = expect_json(app.get(&app.reader, &path).await, StatusCode::OK).await;
    assert_eq!(listed, json!([link]));
}

#[tokio::test]
async fn guardianships_that_break_the_rules_are_refused() {
    let app = TestApp::init().await;
    let people = synthetic_people(300);
    let family = family(&app, &people).await;
    let minors = pick(&people, 2, is_minor);
    let other_minor = minors
        .iter()
        .find(|p| p.citizen_number.as_str() != family.minor["citizen_number"])
        .unwrap();
    let other_minor = app.create_person(&person_body(other_minor)).await;
    // A deceased and a suspended adult (statuses forced; the people are synthetic).
    let adults = pick(&people, 4, |p| {
        !is_minor(p)
            && p.status == PersonStatus::Active
            && p.citizen_number.as_str() != family.guardian["citizen_number"]
            && p.citizen_number.as_str() != family.other_adult["citizen_number"]
    });
    let deceased = app
        .create_person(&with(person_body(adults[0]), "status", json!("deceased")))
        .await;
    let suspended = app
        .create_person(&with(person_body(adults[1]), "status", json!("suspended")))
        .await;

    let minor_path = format!("/v1/persons/{}/guardians", id_of(&family.minor));
    let link = |guardian: &Value| json!({"guardian_id": guardian["id"], "relationship": "parent"});
    expect_json(
        app.post(&app.writer, &minor_path, &link(&family.guardian))
            .await,
        StatusCode::CREATED,
    )
    .await;

    let cases = [
        (
            "self",
            &minor_path,
            &family.minor,
            StatusCode::UNPROCESSABLE_ENTITY,
            "guardian-self",
        ),
        (
            "an adult child",
            &format!("/v1/persons/{}/guardians", id_of(&family.other_adult)),
            &family.guardian,
            StatusCode::UNPROCESSABLE_ENTITY,
            "guardian-child-adult",
        ),
        (
            "a minor guardian",
            &minor_path,
            &other_minor,
            StatusCode::UNPROCESSABLE_ENTITY,
            "guardian-not-eligible",
        ),
        (
            "a deceased guardian",
            &minor_path,
            &deceased,
            StatusCode::UNPROCESSABLE_ENTITY,
            "guardian-not-eligible",
        ),
        (
            "a suspended guardian",
            &minor_path,
            &suspended,
            StatusCode::UNPROCESSABLE_ENTITY,
            "guardian-not-eligible",
        ),
        (
            "a duplicate",
            &minor_path,
            &family.guardian,
            StatusCode::CONFLICT,
            "conflict",
        ),
    ];
    for (case, path, guardian, status, slug) in cases {
        let before = guardian_links(&app, &[&family.minor, &family.other_adult]).await;
        let response = app.post(&app.writer, path, &link(guardian)).await;
        let problem = expect_problem(response, status, slug).await;
        assert_not_echoed(&problem, guardian["citizen_number"].as_str().unwrap());
        let after = guardian_links(&app, &[&family.minor, &family.other_adult]).await;
        assert_eq!(after, before, "{case}: a link was written");
    }

    // A deceased minor gets no guardian.
    let minors = pick(&people, 3, is_minor);
    let lost = minors
        .iter()
        .find(|p| {
            p.citizen_number.as_str() != family.minor["citizen_number"]
                && p.citizen_number.as_str() != other_minor["citizen_number"]
        })
        .unwrap();
    let lost = app
        .create_person(&with(person_body(lost), "status", json!("deceased")))
        .await;
    let response = app
        .post(
            &app.writer,
            &format!("/v1/persons/{}/guardians", id_of(&lost)),
            &link(&family.guardian),
        )
        .await;
    expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "guardian-child-not-active",
    )
    .await;
    assert_eq!(guardian_links(&app, &[&lost]).await, 0);

    // A guardian that does not exist, and a child that does not exist.
    let response = app
        .post(
            &app.writer,
            &minor_path,
            &json!({"guardian_id": uuid::Uuid::now_v7(), "relationship": "parent"}),
        )
        .await;
    let problem = expect_problem(
        response,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-reference",
    )
    .await;
    assert_eq!(problem["field"], "guardian_id");
    let response = app
        .post(
            &app.writer,
            &format!("/v1/persons/{}/guardians", uuid::Uuid::now_v7()),
            &link(&family.guardian),
        )
        .await;
    expect_problem(response, StatusCode::NOT_FOUND, "not-found").await;

    // An unknown relationship is a malformed body.
    let response = app
        .post(
            &app.writer,
            &minor_path,
            &json!({"guardian_id": family.other_adult["id"], "relationship": "uncle"}),
        )
        .await;
    expect_problem(response, StatusCode::BAD_REQUEST, "malformed-body").await;
    assert_eq!(guardian_links(&app, &[&family.minor]).await, 1);
}

/// How many guardianship links the store holds for these children.
async fn guardian_links(app: &TestApp, children: &[&Value]) -> usize {
    let mut total = 0;
    for child in children {
        total += app
            .store()
            .list_guardians(person_id(child))
            .await
            .unwrap()
            .len();
    }
    total
}

// ---------------------------------------------------------------------------------------------
// System routes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn health_and_readiness_need_no_token() {
    let app = TestApp::init().await;
    let health = app.anonymous(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(
        expect_json(health, StatusCode::OK).await,
        json!({"status": "ok"})
    );
    let ready = app.anonymous(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(
        expect_json(ready, StatusCode::OK).await,
        json!({"status": "ok", "backend": "sqlite"})
    );
}

#[tokio::test]
async fn the_home_page_links_the_api_and_shows_readiness_without_personal_data() {
    let app = TestApp::init().await;
    let created = app.create_person(&sample_man()).await;
    let page = app.anonymous(Method::GET, "/").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.headers().contains_key("content-security-policy"));
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<html lang="vi">"#));
    assert!(html.contains(r#"href="/openapi.json""#));
    assert!(html.contains("sẵn sàng / ready"), "{html}");
    assert!(html.contains("sqlite"));
    assert!(!html.contains(created["name"].as_str().unwrap()));
    assert!(!html.contains(created["citizen_number"].as_str().unwrap()));
}

#[tokio::test]
async fn a_request_over_the_time_limit_is_503_and_writes_nothing() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = TestApp::builder()
        .with_config(HttpConfig {
            request_timeout_ms: 300,
            ..HttpConfig::default()
        })
        .start()
        .await;
    // A client that announces a body and then stalls halfway: reading it outlasts the limit.
    let body = sample_man().to_string();
    let half = &body.as_bytes()[..body.len() / 2];
    let address = app.base_url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let head = format!(
        "POST /v1/persons HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        app.writer,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(half).await.unwrap();

    let started = std::time::Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let response = loop {
        let read =
            tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buffer))
                .await
                .expect("no answer within 10 s")
                .unwrap();
        received.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap())
                })
                .unwrap();
            if body.len() >= length || read == 0 {
                break (head.to_owned(), body.to_owned());
            }
        }
        assert!(read > 0, "the connection closed without an answer: {text}");
    };
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(250),
        "answered before the limit"
    );
    let (head, body) = response;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let problem: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        problem["type"],
        format!("{}unavailable", dinhdanh_server::PROBLEM_BASE)
    );
    assert_eq!(app.person_count().await, 0);
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_carry_no_personal_data() {
    let app = TestApp::init().await;
    let people = synthetic_people(3);
    for person in &people {
        app.create_person(&person_body(person)).await;
    }
    let person = &people[0];
    let number = person.citizen_number.as_str();
    // Personal data in places a careless server would copy into labels.
    app.post(
        &app.reader,
        "/v1/persons/lookup",
        &json!({"citizen_number": number}),
    )
    .await;
    app.get(&app.reader, &format!("/v1/persons/{number}")).await;
    app.get(&app.reader, &format!("/v1/unknown/{number}")).await;
    app.post(&app.writer, "/v1/persons", &person_body(person))
        .await; // 409

    let response = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();

    assert!(text.contains("dinhdanh_http_requests_total"), "{text}");
    let created = text.lines().find(|line| {
        line.starts_with("dinhdanh_http_requests_total{")
            && line.contains(r#"method="POST""#)
            && line.contains(r#"route="/v1/persons""#)
            && line.contains(r#"status="201""#)
    });
    let created =
        created.unwrap_or_else(|| panic!("no counter of POST /v1/persons 201 in:\n{text}"));
    assert!(
        created.ends_with(" 3"),
        "three registrations were counted as: {created}"
    );
    assert!(
        text.lines()
            .any(|line| line.contains(r#"route="/v1/persons/{id}""#)
                && line.contains(r#"status="400""#)),
        "the invalid id is counted under its template: {text}"
    );
    assert!(
        text.contains("dinhdanh_http_request_duration_seconds"),
        "{text}"
    );

    for person in &people {
        assert!(
            !text.contains(person.citizen_number.as_str()),
            "a citizen number is in the metrics"
        );
        assert!(
            !text.contains(person.name.as_str()),
            "a name is in the metrics"
        );
        assert!(
            !text.contains(&person.birth_date.to_string()),
            "a birth date is in the metrics"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_is_served() {
    let app = TestApp::init().await;
    let response = app
        .anonymous(Method::GET, "/openapi.json")
        .send()
        .await
        .unwrap();
    let content_type = response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let document = expect_json(response, StatusCode::OK).await;
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/v1/persons",
        "/v1/persons/lookup",
        "/v1/persons/{id}",
        "/v1/persons/{id}/guardians",
        "/v1/organisations",
        "/v1/organisations/{id}",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} is missing from the document"
        );
    }
    assert!(paths["/v1/persons/{id}"].get("patch").is_some());
    assert_eq!(
        document["components"]["securitySchemes"]["operator"]["scheme"],
        "bearer"
    );
    // What is served is what the crate documents.
    assert_eq!(
        document,
        serde_json::to_value(dinhdanh_server::openapi_document()).unwrap()
    );
}

#[tokio::test]
async fn the_authority_registers_relying_parties_and_refuses_bad_ones() {
    let app = TestApp::init().await;
    let platform = app
        .create_organisation(&json!({
            "tax_code": "0100000777", "name": "Mạng Xã Hội Mẫu", "kind": "platform"
        }))
        .await;
    let body = json!({
        "organisation_id": platform["id"],
        "client_id": "rp-mau",
        "client_name": "Ứng dụng mẫu",
        "redirect_uris": ["https://rp.example.vn/cb"],
        "scope": "openid verified age",
        "token_endpoint_auth_method": "client_secret_basic",
        "id_token_signed_response_alg": "ES256"
    });
    // Registering relying parties is for administrators only.
    expect_problem(
        app.post(&app.writer, "/v1/clients", &body).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let created = expect_json(
        app.post(&app.admin, "/v1/clients", &body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["client_id"], "rp-mau");
    assert_eq!(created["sector_identifier"], "rp.example.vn");
    assert_eq!(created["id_token_signed_response_alg"], "ES256");
    let secret = created["client_secret"].as_str().unwrap();
    let stored = app
        .store()
        .oidc()
        .find_client("rp-mau")
        .await
        .unwrap()
        .unwrap();
    let dinhdanh_store::ClientAuth::SecretBasic { secret_hash } = stored.registration.auth else {
        panic!("stored with another auth method");
    };
    assert!(secret_hash.matches(&dinhdanh_crypto::TokenHash::of(secret)));
    expect_problem(
        app.post(&app.admin, "/v1/clients", &body).await,
        StatusCode::CONFLICT,
        "conflict",
    )
    .await;
    for (change, value) in [
        ("redirect_uris", json!(["http://rp.example.vn/cb"])),
        ("scope", json!("verified")),
        ("id_token_signed_response_alg", json!("none")),
        ("token_endpoint_auth_method", json!("private_key_jwt")),
        ("client_id", json!("")),
        ("organisation_id", json!(uuid::Uuid::now_v7())),
    ] {
        let mut bad = body.clone();
        bad[change] = value;
        bad["client_id"] = if change == "client_id" {
            json!("")
        } else {
            json!("rp-khac")
        };
        let response = app.post(&app.admin, "/v1/clients", &bad).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{change}"
        );
    }
    assert_eq!(app.store().oidc().list_clients().await.unwrap().len(), 1);
}
