//! `/v1/persons`: the identity authority registers people, changes their status and e-ID
//! level, links guardians, and looks people up by citizen number through the blind index.

use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use dinhdanh_core::{
    AgeBracket, BirthDate, CitizenNumber, EidLevel, IdentifierError, PersonName, PersonStatus, Sex,
    today_in_vietnam,
};
use dinhdanh_store::{
    Disclosed, GuardianRelationship, Guardianship, NewDisclosure, NewPerson, Person, PersonId,
    PersonUpdate, PersonalData, Recipient, disclose,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::disclosure::{DisclosedJson, StatedPurpose};
use crate::extract::{ApiJson, Authorized, PathId, Reader, RoleNeeded, Writer};
use crate::problem::Problem;
use crate::routes::rfc3339;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/persons", post(create_person))
        .route("/v1/persons/lookup", post(lookup_person))
        .route("/v1/persons/{id}", get(read_person).patch(update_person))
        .route("/v1/persons/{id}/disclosures", get(list_disclosures))
        .route(
            "/v1/persons/{id}/guardians",
            get(list_guardians).post(add_guardian),
        )
}

/// The fields a person record releases, as the disclosure log names them.
const PERSON_FIELDS: &[&str] = &[
    "citizen_number",
    "name",
    "birth_date",
    "sex",
    "status",
    "eid_level",
    "age_bracket",
];
/// The identity authority's operators read the registry to run it.
const REGISTRY_ADMINISTRATION: &str = "registry-administration";
/// The purpose recorded when an operator states none.
const DEFAULT_PURPOSE: &str = "registry administration";

/// Records that the operator receives `fields` about `subject`, before the data is sent.
async fn disclose_to_operator<R: RoleNeeded, T>(
    state: &AppState,
    operator: &Authorized<R>,
    purpose: StatedPurpose,
    subject: PersonId,
    fields: &'static [&'static str],
    value: T,
) -> Result<Disclosed<T>, Problem> {
    let disclosure = NewDisclosure {
        subject,
        recipient: Recipient::Operator(operator.token.id),
        fields: fields.to_vec(),
        purpose: purpose.or_default(DEFAULT_PURPOSE)?,
        legal_basis: REGISTRY_ADMINISTRATION,
    };
    Ok(disclose(state.log.as_ref(), disclosure, value).await?)
}

fn parse<T>(field: &'static str, raw: &str) -> Result<T, Problem>
where
    T: FromStr<Err = IdentifierError>,
{
    raw.parse()
        .map_err(|err| Problem::invalid_field(field, &err))
}

/// A person to register. Every personal field is sealed at rest.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreatePersonRequest {
    /// 12-digit personal identification number `PPP G YY NNNNNN`.
    #[schema(example = "001203012345")]
    citizen_number: String,
    /// Full name, with diacritics.
    #[schema(example = "Nguyễn Văn An")]
    name: String,
    /// `YYYY-MM-DD`.
    #[schema(example = "2003-04-01")]
    birth_date: String,
    /// `male` or `female`; must agree with the citizen number's century digit.
    #[schema(example = "male")]
    sex: String,
    /// e-ID level 0, 1 or 2 (default 0).
    #[serde(default)]
    eid_level: Option<u8>,
    /// `active` (default), `deceased` or `suspended`.
    #[serde(default)]
    status: Option<String>,
}

/// A registered person, as the identity authority sees them.
#[derive(Serialize, ToSchema)]
pub(crate) struct PersonResponse {
    /// Internal id (UUIDv7). Never given to relying parties.
    id: uuid::Uuid,
    /// 12-digit personal identification number.
    citizen_number: String,
    /// Full name.
    name: String,
    /// `YYYY-MM-DD`.
    birth_date: String,
    /// `male` or `female`.
    sex: String,
    /// `active`, `deceased` or `suspended`.
    status: String,
    /// 0, 1 or 2.
    eid_level: u8,
    /// Age bracket now, in Asia/Ho_Chi_Minh: `under_13`, `13_15`, `16_17` or `adult`.
    age_bracket: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

impl PersonResponse {
    /// A released person record: only from a disclosure that was logged.
    fn disclosed(person: &Disclosed<Person>, now: Timestamp) -> DisclosedJson<Self> {
        DisclosedJson(person.id(), Self::from_person(person.value(), now))
    }

    /// The record a writer just registered, echoed back: it releases nothing the writer did not
    /// send, so it is not a disclosure.
    fn from_person(person: &Person, now: Timestamp) -> Self {
        Self {
            id: person.id.as_uuid(),
            citizen_number: person.personal.citizen_number.as_str().to_owned(),
            name: person.personal.name.as_str().to_owned(),
            birth_date: person.personal.birth_date.to_string(),
            sex: person.personal.sex.to_string(),
            status: person.status.as_str().to_owned(),
            eid_level: person.eid_level.as_u8(),
            age_bracket: AgeBracket::at(&person.personal.birth_date, now).to_string(),
            created_at: rfc3339(person.created_at),
            updated_at: rfc3339(person.updated_at),
        }
    }
}

fn eid_level(raw: u8) -> Result<EidLevel, Problem> {
    EidLevel::try_from(raw).map_err(|err| Problem::invalid_field("eid_level", &err))
}

/// Register a person.
#[utoipa::path(post, path = "/v1/persons", tag = "persons", request_body = CreatePersonRequest,
    security(("operator" = [])),
    responses(
        (status = 201, description = "Registered", body = PersonResponse),
        (status = 400, description = "Malformed body", content_type = "application/problem+json"),
        (status = 401, description = "No usable token", content_type = "application/problem+json"),
        (status = 403, description = "Role too low", content_type = "application/problem+json"),
        (status = 409, description = "Citizen number already registered", content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", content_type = "application/problem+json")))]
pub(crate) async fn create_person(
    State(state): State<AppState>,
    _operator: Authorized<Writer>,
    ApiJson(request): ApiJson<CreatePersonRequest>,
) -> Result<(StatusCode, Json<PersonResponse>), Problem> {
    let now = Timestamp::now();
    let personal = PersonalData::new(
        parse::<CitizenNumber>("citizen_number", &request.citizen_number)?,
        parse::<PersonName>("name", &request.name)?,
        parse::<BirthDate>("birth_date", &request.birth_date)?,
        parse::<Sex>("sex", &request.sex)?,
        today_in_vietnam(now),
    )?;
    let person = NewPerson {
        personal,
        status: match &request.status {
            Some(raw) => parse::<PersonStatus>("status", raw)?,
            None => PersonStatus::Active,
        },
        eid_level: eid_level(request.eid_level.unwrap_or(0))?,
    };
    let person = state.store.insert_person(&person).await?;
    Ok((
        StatusCode::CREATED,
        Json(PersonResponse::from_person(&person, now)),
    ))
}

/// Read a person.
#[utoipa::path(get, path = "/v1/persons/{id}", tag = "persons",
    params(("id" = uuid::Uuid, Path, description = "Person id"), ("Dinhdanh-Purpose" = Option<String>, Header, description = "Why the data is read (UTF-8, up to 200 characters); recorded in the disclosure log")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The person", body = PersonResponse, headers(("Dinhdanh-Disclosure" = uuid::Uuid, description = "The disclosure log record that covers this answer"))),
        (status = 404, description = "No such person", content_type = "application/problem+json")))]
pub(crate) async fn read_person(
    State(state): State<AppState>,
    operator: Authorized<Reader>,
    purpose: StatedPurpose,
    PathId(id): PathId,
) -> Result<DisclosedJson<PersonResponse>, Problem> {
    let person = state
        .store
        .find_person(PersonId::from(id))
        .await?
        .ok_or_else(|| Problem::not_found("person"))?;
    let person =
        disclose_to_operator(&state, &operator, purpose, person.id, PERSON_FIELDS, person).await?;
    Ok(PersonResponse::disclosed(&person, Timestamp::now()))
}

/// A change of status or e-ID level.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdatePersonRequest {
    /// `active`, `deceased` or `suspended`.
    #[serde(default)]
    status: Option<String>,
    /// 0, 1 or 2.
    #[serde(default)]
    eid_level: Option<u8>,
}

/// Change a person's status or e-ID level. A deceased person's record no longer changes.
#[utoipa::path(patch, path = "/v1/persons/{id}", tag = "persons", request_body = UpdatePersonRequest,
    params(("id" = uuid::Uuid, Path, description = "Person id"), ("Dinhdanh-Purpose" = Option<String>, Header, description = "Why the data is read (UTF-8, up to 200 characters); recorded in the disclosure log")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Changed", body = PersonResponse, headers(("Dinhdanh-Disclosure" = uuid::Uuid, description = "The disclosure log record that covers this answer"))),
        (status = 404, description = "No such person", content_type = "application/problem+json"),
        (status = 409, description = "The person is deceased", content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", content_type = "application/problem+json")))]
pub(crate) async fn update_person(
    State(state): State<AppState>,
    operator: Authorized<Writer>,
    purpose: StatedPurpose,
    PathId(id): PathId,
    ApiJson(request): ApiJson<UpdatePersonRequest>,
) -> Result<DisclosedJson<PersonResponse>, Problem> {
    let update = PersonUpdate {
        status: request
            .status
            .as_deref()
            .map(|raw| parse::<PersonStatus>("status", raw))
            .transpose()?,
        eid_level: request.eid_level.map(eid_level).transpose()?,
    };
    if update.status.is_none() && update.eid_level.is_none() {
        return Err(Problem::malformed_body(
            "give at least one of: status, eid_level",
        ));
    }
    let id = PersonId::from(id);
    let person = state.store.update_person(id, &update).await?;
    // The answer releases the whole record; if recording fails the change stands but nothing
    // is sent.
    let person =
        disclose_to_operator(&state, &operator, purpose, person.id, PERSON_FIELDS, person).await?;
    Ok(PersonResponse::disclosed(&person, Timestamp::now()))
}

/// A look-up by citizen number. The number travels in the body, never in a URL, so that it
/// stays out of access logs.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupRequest {
    /// 12-digit personal identification number.
    citizen_number: String,
}

/// Find a person by citizen number (through the keyed blind index).
#[utoipa::path(post, path = "/v1/persons/lookup", tag = "persons", request_body = LookupRequest,
    params(("Dinhdanh-Purpose" = Option<String>, Header, description = "Why the data is read (UTF-8, up to 200 characters); recorded in the disclosure log")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The person", body = PersonResponse, headers(("Dinhdanh-Disclosure" = uuid::Uuid, description = "The disclosure log record that covers this answer"))),
        (status = 404, description = "No person has this number", content_type = "application/problem+json"),
        (status = 422, description = "Not a citizen number", content_type = "application/problem+json")))]
pub(crate) async fn lookup_person(
    State(state): State<AppState>,
    operator: Authorized<Reader>,
    purpose: StatedPurpose,
    ApiJson(request): ApiJson<LookupRequest>,
) -> Result<DisclosedJson<PersonResponse>, Problem> {
    let number = parse::<CitizenNumber>("citizen_number", &request.citizen_number)?;
    let person = state
        .store
        .find_person_by_citizen_number(&number)
        .await?
        .ok_or_else(|| Problem::not_found("person"))?;
    let person =
        disclose_to_operator(&state, &operator, purpose, person.id, PERSON_FIELDS, person).await?;
    Ok(PersonResponse::disclosed(&person, Timestamp::now()))
}

/// A guardian to link to a minor.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AddGuardianRequest {
    /// The guardian's person id.
    guardian_id: uuid::Uuid,
    /// `parent` or `legal_guardian`.
    #[schema(value_type = String, example = "parent")]
    relationship: GuardianRelationship,
}

/// A guardianship link.
#[derive(Serialize, ToSchema)]
pub(crate) struct GuardianshipResponse {
    /// The minor.
    child_id: uuid::Uuid,
    /// The guardian.
    guardian_id: uuid::Uuid,
    /// `parent` or `legal_guardian`.
    relationship: String,
    /// RFC 3339.
    created_at: String,
}

impl From<&Guardianship> for GuardianshipResponse {
    fn from(link: &Guardianship) -> Self {
        Self {
            child_id: link.child_id.as_uuid(),
            guardian_id: link.guardian_id.as_uuid(),
            relationship: link.relationship.as_str().to_owned(),
            created_at: rfc3339(link.created_at),
        }
    }
}

/// Checks the rules of a guardianship: the person in care is a minor (Civil Code 2015, Art. 21:
/// under 18), the guardian is a different, living, active adult (Art. 49: a guardian has full
/// civil capacity).
fn check_guardianship(child: &Person, guardian: &Person, now: Timestamp) -> Result<(), Problem> {
    if child.id == guardian.id {
        return Err(Problem::unprocessable(
            "guardian-self",
            "a person cannot be their own guardian",
        ));
    }
    if child.status != PersonStatus::Active {
        return Err(Problem::unprocessable(
            "guardian-child-not-active",
            "only an active (living, not suspended) minor is linked to a guardian",
        ));
    }
    if AgeBracket::at(&child.personal.birth_date, now) == AgeBracket::Adult {
        return Err(Problem::unprocessable(
            "guardian-child-adult",
            "only a minor (under 18) is linked to a guardian",
        ));
    }
    if AgeBracket::at(&guardian.personal.birth_date, now) != AgeBracket::Adult
        || guardian.status != PersonStatus::Active
    {
        return Err(Problem::unprocessable(
            "guardian-not-eligible",
            "a guardian must be a living, active adult",
        ));
    }
    Ok(())
}

/// Link a guardian to a minor.
#[utoipa::path(post, path = "/v1/persons/{id}/guardians", tag = "persons", request_body = AddGuardianRequest,
    params(("id" = uuid::Uuid, Path, description = "The minor's person id")),
    security(("operator" = [])),
    responses(
        (status = 201, description = "Linked", body = GuardianshipResponse),
        (status = 404, description = "No such person", content_type = "application/problem+json"),
        (status = 409, description = "Already linked", content_type = "application/problem+json"),
        (status = 422, description = "The link breaks a rule", content_type = "application/problem+json")))]
pub(crate) async fn add_guardian(
    State(state): State<AppState>,
    _operator: Authorized<Writer>,
    PathId(id): PathId,
    ApiJson(request): ApiJson<AddGuardianRequest>,
) -> Result<(StatusCode, Json<GuardianshipResponse>), Problem> {
    let child = state
        .store
        .find_person(PersonId::from(id))
        .await?
        .ok_or_else(|| Problem::not_found("person"))?;
    let guardian = state
        .store
        .find_person(PersonId::from(request.guardian_id))
        .await?
        .ok_or_else(|| {
            Problem::unprocessable("invalid-reference", "guardian_id: no such person")
                .with_field("guardian_id")
        })?;
    // Stored with microsecond precision: answer with what a later read returns.
    let now = Timestamp::from_microsecond(Timestamp::now().as_microsecond())
        .map_err(|err| Problem::internal(&err))?;
    check_guardianship(&child, &guardian, now)?;
    let link = Guardianship {
        child_id: child.id,
        guardian_id: guardian.id,
        relationship: request.relationship,
        created_at: now,
    };
    state
        .store
        .insert_guardianships(std::slice::from_ref(&link))
        .await?;
    Ok((StatusCode::CREATED, Json(GuardianshipResponse::from(&link))))
}

/// List a minor's guardians.
#[utoipa::path(get, path = "/v1/persons/{id}/guardians", tag = "persons",
    params(("id" = uuid::Uuid, Path, description = "Person id"), ("Dinhdanh-Purpose" = Option<String>, Header, description = "Why the data is read (UTF-8, up to 200 characters); recorded in the disclosure log")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Guardianship links", body = [GuardianshipResponse], headers(("Dinhdanh-Disclosure" = uuid::Uuid, description = "The disclosure log record that covers this answer"))),
        (status = 404, description = "No such person", content_type = "application/problem+json")))]
pub(crate) async fn list_guardians(
    State(state): State<AppState>,
    operator: Authorized<Reader>,
    purpose: StatedPurpose,
    PathId(id): PathId,
) -> Result<DisclosedJson<Vec<GuardianshipResponse>>, Problem> {
    let id = PersonId::from(id);
    if state.store.find_person(id).await?.is_none() {
        return Err(Problem::not_found("person"));
    }
    let links = state.store.list_guardians(id).await?;
    let links = disclose_to_operator(&state, &operator, purpose, id, &["guardians"], links).await?;
    Ok(DisclosedJson(
        links.id(),
        links
            .value()
            .iter()
            .map(GuardianshipResponse::from)
            .collect(),
    ))
}

/// One of a person's disclosure records, with its inclusion proof.
#[derive(Serialize, ToSchema)]
pub(crate) struct DisclosureEntryResponse {
    /// Index in the log; absent while the record waits to enter the tree.
    index: Option<u64>,
    /// `included` (with a proof against `checkpoint`), `integrated` (in the tree, after the
    /// checkpoint) or `waiting`.
    status: &'static str,
    /// The record's id.
    id: uuid::Uuid,
    /// When it was recorded (RFC 3339).
    time: String,
    /// `operator:<id>` or `organisation:<id>`.
    recipient: String,
    /// The names of the fields or claims released.
    disclosed: Vec<String>,
    /// Why, as the recipient stated it.
    purpose: String,
    /// The rule that allowed it.
    legal_basis: String,
    /// The log entry bytes, base64: the leaf hash is `SHA-256(0x00 || entry)`.
    entry: String,
    /// RFC 9162 inclusion proof against `checkpoint`, base64 hashes nearest the leaf first.
    inclusion_proof: Option<Vec<String>>,
}

/// A person's disclosure records and the checkpoint their proofs verify against.
#[derive(Serialize, ToSchema)]
pub(crate) struct DisclosureListResponse {
    /// The latest signed checkpoint (C2SP tlog-checkpoint note), if any.
    checkpoint: Option<String>,
    /// Its tree size.
    tree_size: u64,
    /// Oldest first.
    entries: Vec<DisclosureEntryResponse>,
}

/// A person's disclosure records, with inclusion proofs. Until citizens log in, operators read
/// them here; the reading is itself recorded as a disclosure (and listed, as `waiting`).
#[utoipa::path(get, path = "/v1/persons/{id}/disclosures", tag = "persons",
    params(("id" = uuid::Uuid, Path, description = "Person id"), ("Dinhdanh-Purpose" = Option<String>, Header, description = "Why the data is read (UTF-8, up to 200 characters); recorded in the disclosure log")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The person's disclosure records", body = DisclosureListResponse, headers(("Dinhdanh-Disclosure" = uuid::Uuid, description = "The disclosure log record that covers this answer"))),
        (status = 404, description = "No such person", content_type = "application/problem+json")))]
pub(crate) async fn list_disclosures(
    State(state): State<AppState>,
    operator: Authorized<Reader>,
    purpose: StatedPurpose,
    PathId(id): PathId,
) -> Result<DisclosedJson<DisclosureListResponse>, Problem> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    let id = PersonId::from(id);
    if state.store.find_person(id).await?.is_none() {
        return Err(Problem::not_found("person"));
    }
    // Recorded before the list is read, so that the list shows this reading too.
    let reading =
        disclose_to_operator(&state, &operator, purpose, id, &["disclosure_log"], ()).await?;
    let log = state.log.list_subject_entries(id).await?;
    let tree_size = log.checkpoint.as_ref().map_or(0, |c| c.size);
    let entries = log
        .entries
        .into_iter()
        .map(|entry| DisclosureEntryResponse {
            index: entry.index,
            status: match (&entry.index, &entry.proof) {
                (_, Some(_)) => "included",
                (Some(_), None) => "integrated",
                (None, _) => "waiting",
            },
            id: entry.record.id.as_uuid(),
            time: rfc3339(entry.record.time),
            recipient: entry.record.recipient,
            disclosed: entry.record.disclosed,
            purpose: entry.record.purpose,
            legal_basis: entry.record.legal_basis,
            entry: STANDARD.encode(&entry.entry),
            inclusion_proof: entry
                .proof
                .map(|proof| proof.iter().map(|hash| STANDARD.encode(hash)).collect()),
        })
        .collect();
    Ok(DisclosedJson(
        reading.id(),
        DisclosureListResponse {
            checkpoint: log.checkpoint.map(|c| c.note),
            tree_size,
            entries,
        },
    ))
}
