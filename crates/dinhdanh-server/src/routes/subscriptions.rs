//! The operator API for telecom subscriptions (Circular 08/2026): a telecom operator (a
//! client of an organisation of that kind, with an access token of its own holding the
//! `subscribers` scope) checks a declared holder, registers, replaces and terminates its
//! lines, records face-check attestations and device changes, and polls every change of its
//! lines' status.
//!
//! The check is `dinhdanh-telecom`'s, the same as the bulk reconciliation's: the answer lists
//! every reason that applies, in a fixed order, each with its explanation. What an answer
//! tells the operator about a registered person is recorded in that person's disclosure log,
//! refusals included. A rejected registration writes nothing else.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dinhdanh_core::{BirthDate, CitizenNumber, Msisdn, PersonName, PersonStatus, TaxCode};
use dinhdanh_store::{
    FaceCheck, Holder, NewDisclosure, NewSubscription, OrganisationId, PersonId, Purpose,
    Recipient, StoreError, Subscription, SubscriptionId, disclose,
};
use dinhdanh_telecom::{
    DeclaredHolder, HolderFacts, LineStatus, NameKey, PersonRecord, Reason, SubscriptionFacts,
    Verdict, check,
};
use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::disclosure::DisclosedJson;
use crate::extract::{ApiJson, PathId, ServiceCaller, Subscribers};
use crate::problem::{Problem, ProblemReason};
use crate::routes::rfc3339;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/subscriber-checks", post(check_subscriber))
        .route("/v1/subscriptions", post(register))
        .route("/v1/subscriptions/transitions", get(list_transitions))
        .route(
            "/v1/subscriptions/{id}",
            get(read).put(replace).delete(terminate),
        )
        .route("/v1/subscriptions/{id}/device-changes", post(device_change))
        .route("/v1/subscriptions/{id}/verifications", post(verification))
}

/// The legal basis of what an operator learns: operators must match their subscribers'
/// identity against the population registry (Circular 08/2026).
const SUBSCRIBER_BASIS: &str = "legal-obligation";
/// The disclosed field: the outcome of the subscriber check about the person.
const CHECK_FIELD: &str = "subscriber_check";
/// The disclosed field: that a live line of the person holds a number.
const NUMBER_FIELD: &str = "line_holds_number";
/// A face-check method is the operator's name for its equipment's procedure.
const METHOD_MAX_CHARS: usize = 64;
/// Transitions answered per poll, at most.
const MAX_TRANSITIONS: usize = 1_000;

/// Who the operator says holds a line: a person (all three of `citizen_number`, `name` and
/// `birth_date`) or an organisation (`tax_code` alone).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HolderRequest {
    /// 12 digits.
    #[serde(default)]
    citizen_number: Option<String>,
    /// The full name as the operator recorded it; compared without regard to case and
    /// diacritics.
    #[serde(default)]
    name: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default)]
    birth_date: Option<String>,
    /// An organisation's tax code (10 digits, or 10-3 for a branch).
    #[serde(default)]
    tax_code: Option<String>,
}

/// An attestation that the operator's certified equipment matched the holder's face.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FaceCheckRequest {
    /// The method, in the operator's words (1 to 64 characters).
    method: String,
    /// RFC 3339; not in the future.
    checked_at: String,
}

/// A line to check, register or replace.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SubscriptionRequest {
    /// The number: `+84…`, `84…` or `0…`.
    msisdn: String,
    /// The declared holder.
    holder: HolderRequest,
    /// `YYYY-MM-DD`; not in the future.
    activated_on: String,
    /// A contract that allows the person more lines at this operator than the default.
    #[serde(default)]
    contract: bool,
    /// The face-check attestation, if the check was done already; without one the line is
    /// `pending_face_check`.
    #[serde(default)]
    face_check: Option<FaceCheckRequest>,
}

/// One reason of a rejection.
#[derive(Serialize, ToSchema)]
pub(crate) struct ReasonBody {
    /// `unknown_citizen_number`, `unknown_tax_code`, `name_mismatch`, `birth_date_mismatch`,
    /// `holder_deceased`, `holder_suspended`, `over_operator_limit` or
    /// `msisdn_held_by_another`.
    code: &'static str,
    /// What it means.
    detail: &'static str,
}

/// The answer of a check.
#[derive(Serialize, ToSchema)]
pub(crate) struct CheckResponse {
    /// `verified` or `rejected`.
    result: &'static str,
    /// Every reason that applies, in a fixed order; empty when verified.
    reasons: Vec<ReasonBody>,
}

/// A face-check attestation as recorded.
#[derive(Serialize, ToSchema)]
pub(crate) struct FaceCheckBody {
    /// The method.
    method: String,
    /// RFC 3339.
    checked_at: String,
}

/// A line, as its operator sees it. It names no personal field of the holder.
#[derive(Serialize, ToSchema)]
pub(crate) struct SubscriptionResponse {
    /// The line's id.
    id: String,
    /// The number, `+84…`.
    msisdn: String,
    /// `person` or `organisation`.
    holder: &'static str,
    /// `pending_face_check` until the face check is attested, then the line's status:
    /// `active`, `outgoing_suspended`, `blocked` or `terminated`.
    status: &'static str,
    /// The line's status alone.
    line_status: &'static str,
    /// The face-check attestation, if there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    face_check: Option<FaceCheckBody>,
    /// The last device change not verified since (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    device_changed_at: Option<String>,
    /// Whether the holder reported that the line is not theirs.
    reported_not_mine: bool,
    /// The contract flag.
    contract: bool,
    /// `YYYY-MM-DD`.
    activated_on: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

fn answer(line: &Subscription) -> SubscriptionResponse {
    SubscriptionResponse {
        id: line.id.to_string(),
        msisdn: line.msisdn.as_str().to_owned(),
        holder: match line.holder {
            Holder::Person(_) => "person",
            Holder::Organisation(_) => "organisation",
        },
        status: if line.pending_face_check() {
            "pending_face_check"
        } else {
            line.status.as_str()
        },
        line_status: line.status.as_str(),
        face_check: line.face_check.as_ref().map(|check| FaceCheckBody {
            method: check.method.clone(),
            checked_at: rfc3339(check.checked_at),
        }),
        device_changed_at: line.device_changed_at.map(rfc3339),
        reported_not_mine: line.reported_at.is_some(),
        contract: line.contract,
        activated_on: line.activated_on.to_string(),
        created_at: rfc3339(line.created_at),
        updated_at: rfc3339(line.updated_at),
    }
}

fn reason_bodies(reasons: &[Reason]) -> Vec<ReasonBody> {
    reasons
        .iter()
        .map(|reason| ReasonBody {
            code: reason.as_str(),
            detail: reason.explanation(),
        })
        .collect()
}

fn invalid(field: &'static str, detail: impl Into<String>) -> Problem {
    Problem::unprocessable("invalid-field", format!("{field}: {}", detail.into())).with_field(field)
}

fn present<'a>(field: &'static str, value: Option<&'a str>) -> Result<&'a str, Problem> {
    value
        .filter(|text| !text.is_empty())
        .ok_or_else(|| invalid(field, "is required for a person holder"))
}

fn date(field: &'static str, text: &str, today: Date) -> Result<Date, Problem> {
    let date: Date = text
        .parse()
        .map_err(|_| invalid(field, "must be a date, YYYY-MM-DD"))?;
    if date > today {
        return Err(invalid(field, "is in the future"));
    }
    Ok(date)
}

fn face_check(request: &FaceCheckRequest, now: Timestamp) -> Result<FaceCheck, Problem> {
    let method = request.method.trim();
    let length = method.chars().count();
    if length == 0 || length > METHOD_MAX_CHARS || method.chars().any(char::is_control) {
        return Err(invalid(
            "face_check.method",
            format!("must be 1 to {METHOD_MAX_CHARS} characters without control characters"),
        ));
    }
    let checked_at: Timestamp = request
        .checked_at
        .parse()
        .map_err(|_| invalid("face_check.checked_at", "must be an RFC 3339 time"))?;
    if checked_at > now {
        return Err(invalid("face_check.checked_at", "is in the future"));
    }
    Ok(FaceCheck {
        method: method.to_owned(),
        checked_at,
    })
}

/// A request's fields, parsed.
struct Parsed {
    msisdn: Msisdn,
    declared: DeclaredHolder,
    activated_on: Date,
    contract: bool,
    face_check: Option<FaceCheck>,
}

fn parse(request: &SubscriptionRequest, now: Timestamp) -> Result<Parsed, Problem> {
    let today = dinhdanh_core::today_in_vietnam(now);
    let msisdn: Msisdn = request
        .msisdn
        .parse()
        .map_err(|err| Problem::invalid_field("msisdn", &err))?;
    let holder = &request.holder;
    let person = [&holder.citizen_number, &holder.name, &holder.birth_date]
        .iter()
        .any(|field| field.is_some());
    let declared = match (person, holder.tax_code.as_deref()) {
        (true, None) => DeclaredHolder::Person {
            number: present("holder.citizen_number", holder.citizen_number.as_deref())?
                .parse::<CitizenNumber>()
                .map_err(|err| Problem::invalid_field("holder.citizen_number", &err))?,
            name: present("holder.name", holder.name.as_deref())?
                .parse::<PersonName>()
                .map_err(|err| Problem::invalid_field("holder.name", &err))?,
            birth_date: BirthDate::new(date(
                "holder.birth_date",
                present("holder.birth_date", holder.birth_date.as_deref())?,
                today,
            )?),
        },
        (false, Some(tax_code)) => DeclaredHolder::Organisation {
            tax_code: tax_code
                .parse::<TaxCode>()
                .map_err(|err| Problem::invalid_field("holder.tax_code", &err))?,
        },
        _ => {
            return Err(invalid(
                "holder",
                "give either citizen_number, name and birth_date, or tax_code alone",
            ));
        }
    };
    Ok(Parsed {
        msisdn,
        declared,
        activated_on: date("activated_on", &request.activated_on, today)?,
        contract: request.contract,
        face_check: request
            .face_check
            .as_ref()
            .map(|check| face_check(check, now))
            .transpose()?,
    })
}

/// A check's outcome, with what recording and registering it need.
struct Assessed {
    verdict: Verdict,
    /// The registered holder, if the registry knows them.
    holder: Option<Holder>,
    /// The live line of this operator and holder that already has the number.
    already_registered: bool,
    /// The person whose live line holds the number, when the answer says it is taken: the
    /// operator learns that much about them.
    number_holder: Option<PersonId>,
}

/// Checks a declared holder against the registry and the live lines, leaving out the line
/// `except` (one being replaced).
async fn assess(
    state: &AppState,
    operator: OrganisationId,
    parsed: &Parsed,
    except: Option<SubscriptionId>,
) -> Result<Assessed, Problem> {
    let (facts, holder) = match &parsed.declared {
        DeclaredHolder::Person { number, .. } => {
            match state.store.find_person_by_citizen_number(number).await? {
                Some(person) => (
                    HolderFacts::Person(PersonRecord {
                        name: NameKey::of(&person.personal.name),
                        birth_date: person.personal.birth_date,
                        status: person.status,
                    }),
                    Some(Holder::Person(person.id)),
                ),
                None => (HolderFacts::Unknown, None),
            }
        }
        DeclaredHolder::Organisation { tax_code } => {
            match state.store.find_organisation_by_tax_code(tax_code).await? {
                Some(organisation) => (
                    HolderFacts::Organisation,
                    Some(Holder::Organisation(organisation.id)),
                ),
                None => (HolderFacts::Unknown, None),
            }
        }
    };
    // The number's holder is looked up only for a holder the registry knows: a check with
    // a made-up holder tells nothing about who holds which number.
    let lines = match holder {
        Some(holder) => Some(
            state
                .store
                .subscriptions()
                .line_facts(operator, holder, &parsed.msisdn, except)
                .await?,
        ),
        None => None,
    };
    let number_line = lines.as_ref().and_then(|lines| lines.msisdn_line);
    let already_registered = holder.is_some_and(|holder| number_line == Some((operator, holder)));
    let taken = number_line.is_some() && !already_registered;
    let facts = SubscriptionFacts {
        holder: facts,
        held_at_operator: lines.as_ref().map_or(0, |lines| lines.held_at_operator),
        operator_limit: limit(&state.oidc.config, parsed.contract),
        msisdn_held_by_another: taken,
    };
    Ok(Assessed {
        verdict: check(&parsed.declared, &facts),
        holder,
        already_registered,
        number_holder: match number_line {
            Some((_, Holder::Person(person))) if taken => Some(person),
            _ => None,
        },
    })
}

fn limit(config: &crate::OidcConfig, contract: bool) -> u32 {
    if contract {
        config.lines_per_operator_with_contract
    } else {
        config.lines_per_operator
    }
}

fn purpose(text: &str) -> Result<Purpose, Problem> {
    Purpose::new(text).map_err(|err| Problem::internal(&err))
}

/// The disclosure record of an answer about a registered person; none for an organisation
/// or an unknown holder.
fn disclosure_of(
    holder: Option<Holder>,
    operator: OrganisationId,
    why: &str,
) -> Result<Option<NewDisclosure>, Problem> {
    let Some(Holder::Person(subject)) = holder else {
        return Ok(None);
    };
    Ok(Some(NewDisclosure {
        subject,
        recipient: Recipient::Organisation(operator),
        fields: vec![CHECK_FIELD],
        purpose: purpose(why)?,
        legal_basis: SUBSCRIBER_BASIS,
    }))
}

/// The disclosure record of telling an operator that a person's live line holds a number.
fn number_taken(
    person: Option<PersonId>,
    operator: OrganisationId,
) -> Result<Option<NewDisclosure>, Problem> {
    person
        .map(|subject| {
            Ok(NewDisclosure {
                subject,
                recipient: Recipient::Organisation(operator),
                fields: vec![NUMBER_FIELD],
                purpose: purpose("a telecom number found held by another subscriber")?,
                legal_basis: SUBSCRIBER_BASIS,
            })
        })
        .transpose()
}

/// Records what a refusal told the operator about the declared holder and about the
/// number's holder, then answers 422 with every reason.
async fn rejected(
    state: &AppState,
    holder: Option<Holder>,
    number_holder: Option<PersonId>,
    operator: OrganisationId,
    reasons: &[Reason],
) -> Result<Response, Problem> {
    let records: Vec<NewDisclosure> = [
        disclosure_of(holder, operator, "a refused telecom subscription")?,
        number_taken(number_holder, operator)?,
    ]
    .into_iter()
    .flatten()
    .collect();
    if !records.is_empty() {
        state.log.record_disclosures(&records).await?;
    }
    let names: Vec<&str> = reasons.iter().map(|reason| reason.as_str()).collect();
    Err(Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "subscription-rejected",
        "Subscription rejected",
        format!("the declared holder does not pass: {}", names.join(", ")),
    )
    .with_reasons(
        reasons
            .iter()
            .map(|reason| ProblemReason {
                code: reason.as_str(),
                detail: reason.explanation(),
            })
            .collect(),
    ))
}

fn operator_of(caller: &ServiceCaller<Subscribers>) -> OrganisationId {
    caller.client.registration.organisation_id
}

/// Checks a declared holder without registering anything: the online check for a new
/// subscription, deterministic and explained.
#[utoipa::path(post, path = "/v1/subscriber-checks", tag = "subscribers",
    request_body = SubscriptionRequest,
    responses(
        (status = 200, description = "`verified`, or `rejected` with every reason that applies", body = CheckResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `subscribers` scope"),
        (status = 422, description = "a malformed field")),
    security(("client" = [])))]
pub(crate) async fn check_subscriber(
    State(state): State<AppState>,
    caller: ServiceCaller<Subscribers>,
    ApiJson(request): ApiJson<SubscriptionRequest>,
) -> Result<Response, Problem> {
    let operator = operator_of(&caller);
    let parsed = parse(&request, Timestamp::now())?;
    let assessed = assess(&state, operator, &parsed, None).await?;
    let body = CheckResponse {
        result: if assessed.verdict.verified() {
            "verified"
        } else {
            "rejected"
        },
        reasons: reason_bodies(&assessed.verdict.reasons),
    };
    if let Some(taken) = number_taken(assessed.number_holder, operator)? {
        disclose(state.log.as_ref(), taken, ()).await?;
    }
    match disclosure_of(
        assessed.holder,
        operator,
        "checking a telecom subscriber's declared identity",
    )? {
        Some(disclosure) => {
            let recorded = disclose(state.log.as_ref(), disclosure, ()).await?.id();
            Ok(DisclosedJson(recorded, body).into_response())
        }
        None => Ok(axum::Json(body).into_response()),
    }
}

/// Writes a verified line (new, or replacing `replacing`), or answers why not.
async fn write(
    state: &AppState,
    operator: OrganisationId,
    parsed: Parsed,
    replacing: Option<SubscriptionId>,
) -> Result<Response, Problem> {
    let assessed = assess(state, operator, &parsed, replacing).await?;
    if assessed.already_registered {
        return Err(exists());
    }
    let holder = match (assessed.verdict.verified(), assessed.holder) {
        (true, Some(holder)) => holder,
        _ => {
            return rejected(
                state,
                assessed.holder,
                assessed.number_holder,
                operator,
                &assessed.verdict.reasons,
            )
            .await;
        }
    };
    let subscription = NewSubscription {
        operator_id: operator,
        msisdn: parsed.msisdn,
        holder,
        contract: parsed.contract,
        activated_on: parsed.activated_on,
        face_check: parsed.face_check,
    };
    let disclosure = disclosure_of(Some(holder), operator, "registering a telecom subscription")?;
    let limit = limit(&state.oidc.config, parsed.contract);
    let store = state.store.subscriptions();
    let written = match replacing {
        None => {
            store
                .insert_subscription(&subscription, limit, disclosure.as_ref())
                .await
        }
        Some(id) => {
            store
                .replace_subscription(id, &subscription, limit, disclosure.as_ref())
                .await
        }
    };
    // What changed between the check and the write is answered as the check would now.
    let reason = match written {
        Ok((line, recorded)) => {
            tracing::info!(status = line.status.as_str(), "subscription written");
            let status = if replacing.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            let mut response = match recorded {
                Some(recorded) => DisclosedJson(recorded, answer(&line)).into_response(),
                None => axum::Json(answer(&line)).into_response(),
            };
            *response.status_mut() = status;
            return Ok(response);
        }
        Err(StoreError::Limit(_)) => Reason::OverOperatorLimit,
        Err(StoreError::Conflict("msisdn")) if replacing.is_none() => {
            // Another request took the number first: this operator's own line for this
            // holder (a request sent twice) is the conflict it is; anyone else's a reason.
            let lines = state
                .store
                .subscriptions()
                .line_facts(operator, holder, &subscription.msisdn, None)
                .await?;
            if lines.msisdn_line == Some((operator, holder)) {
                return Err(exists());
            }
            Reason::MsisdnHeldByAnother
        }
        Err(StoreError::InvalidReference("person")) => {
            let deceased = match holder {
                Holder::Person(id) => state
                    .store
                    .find_person(id)
                    .await?
                    .is_some_and(|person| person.status == PersonStatus::Deceased),
                Holder::Organisation(_) => false,
            };
            if deceased {
                Reason::HolderDeceased
            } else {
                Reason::HolderSuspended
            }
        }
        Err(StoreError::Conflict("terminated")) => return Err(terminated()),
        Err(StoreError::Conflict("msisdn")) => {
            return Err(invalid(
                "msisdn",
                "a line keeps its number: terminate it and register the new number",
            ));
        }
        Err(other) => return Err(other.into()),
    };
    rejected(state, Some(holder), None, operator, &[reason]).await
}

fn exists() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "subscription-exists",
        "Subscription exists",
        "this operator already has a live line with this number for this holder",
    )
}

fn terminated() -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "subscription-terminated",
        "Subscription terminated",
        "the line is terminated: register it again",
    )
}

/// Why the store refused to move a line, as the operator is told.
fn line_refused(err: StoreError) -> Problem {
    match err {
        StoreError::Conflict("terminated") => terminated(),
        StoreError::Conflict("pending face check") => Problem::new(
            StatusCode::CONFLICT,
            "pending-face-check",
            "Face check pending",
            "the line has no face check yet: attest one first",
        ),
        StoreError::Conflict("changed before") => invalid(
            "changed_at",
            "is before the line was registered or last verified",
        ),
        StoreError::Conflict("stale attestation") => {
            invalid("checked_at", "is before the device change it should answer")
        }
        other => other.into(),
    }
}

/// Registers a line: 201 when the registry verifies the declared holder, 422 with every
/// reason when it does not (and nothing is written).
#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscribers",
    request_body = SubscriptionRequest,
    responses(
        (status = 201, description = "verified and registered; `pending_face_check` until the operator attests the face check", body = SubscriptionResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `subscribers` scope"),
        (status = 409, description = "this operator has a live line with this number for this holder already"),
        (status = 422, description = "a malformed field, or `subscription-rejected` with `reasons`: every reason that applies")),
    security(("client" = [])))]
pub(crate) async fn register(
    State(state): State<AppState>,
    caller: ServiceCaller<Subscribers>,
    ApiJson(request): ApiJson<SubscriptionRequest>,
) -> Result<Response, Problem> {
    let parsed = parse(&request, Timestamp::now())?;
    write(&state, operator_of(&caller), parsed, None).await
}

/// Replaces a live line's holder, contract and activation date after the same check; its
/// number stays. A new holder starts pending a face check unless one is given.
#[utoipa::path(put, path = "/v1/subscriptions/{id}", tag = "subscribers",
    params(("id" = String, Path, description = "the line's id")),
    request_body = SubscriptionRequest,
    responses(
        (status = 200, description = "verified and replaced", body = SubscriptionResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `subscribers` scope"),
        (status = 404, description = "no line of this operator has this id"),
        (status = 409, description = "the line is terminated"),
        (status = 422, description = "a malformed field, a different number, or `subscription-rejected` with `reasons`")),
    security(("client" = [])))]
pub(crate) async fn replace(
    State(state): State<AppState>,
    caller: ServiceCaller<Subscribers>,
    PathId(id): PathId,
    ApiJson(request): ApiJson<SubscriptionRequest>,
) -> Result<Response, Problem> {
    let operator = operator_of(&caller);
    let id = SubscriptionId::from(id);
    let parsed = parse(&request, Timestamp::now())?;
    let line = state
        .store
        .subscriptions()
        .find_subscription(operator, id)
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?;
    if line.status == LineStatus::Terminated {
        return Err(terminated());
    }
    if line.msisdn != parsed.msisdn {
        return Err(invalid(
            "msisdn",
            "a line keeps its number: terminate it and register the new number",
        ));
    }
    write(&state, operator, parsed, Some(id)).await
}

/// A line of the calling operator.
#[utoipa::path(get, path = "/v1/subscriptions/{id}", tag = "subscribers",
    params(("id" = String, Path, description = "the line's id")),
    responses(
        (status = 200, description = "the line", body = SubscriptionResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `subscribers` scope"),
        (status = 404, description = "no line of this operator has this id")),
    security(("client" = [])))]
pub(crate) async fn read(
    State(state): State<AppState>,
    caller: ServiceCaller<Subscribers>,
    PathId(id): PathId,
) -> Result<axum::Json<SubscriptionResponse>, Problem> {
    let line = state
        .store
        .subscriptions()
        .find_subscription(operator_of(&caller), SubscriptionId::from(id))
        .await?
        .ok_or_else(|| Problem::not_found("subscription"))?;
    Ok(axum::Json(answer(&line)))
}

/// Terminates a line. Terminating it again answers it as it is.
#[utoipa::path(delete, path = "/v1/subscriptions/{id}", tag = "subscribers",
    params(("id" = String, Path, description = "the line's id")),
    responses(
        (status = 200, description = "the line, terminated", body = SubscriptionResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `subscribers` scope"),
        (status = 404, description = "no line of this operator has this id")),
    security(("client" = [])))]
pub(crate) async fn terminate(
    State(state): State<AppState>,
    caller: ServiceCaller<Subscribers>,
    PathId(id): PathId,
) -> Result<axum::Json<SubscriptionResponse>, Problem> {
    let line = state
        .store
        .subscriptions()
        .terminate_subscription(
            operator_of(&caller),
            SubscriptionId::from(id),
            Timestamp::now(),
        )
        .await?;
    Ok(axum::Json(answer(&line)))
}

/// A device change.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeviceChangeRequest {
    /// When the SIM moved to another device (RFC 3339); now if absent. Not in the future.
    #[serde(default)]
    changed_at: Option<String>,
}

/// Records that the line's SIM moved to another device: outgoing service is suspended until
/// the holder verifies again; 30 days unverified the line is blocked both ways, and 5 days
/// later terminated.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/device-changes", tag = "subscribers",
    params(("id" = String, Path, description = "the line's id")),
    request_body = DeviceChangeRequest,
    responses(
        (status = 200, description = "the line, suspended (or further on, for a change reported late)", body = SubscriptionResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `subscribers` scope"),
        (status = 404, description = "no line of this operator has this id"),
        (status = 409, description = "the line is terminated, or still pending its face check"),
        (status = 422, description = "a malformed or future time")),
    security(("client" = [])))]
pub(crate) async fn device_change(
    State(state): State<AppState>,
    caller: ServiceCaller<Subscribers>,
    PathId(id): PathId,
    ApiJson(request): ApiJson<DeviceChangeRequest>,
) -> Result<axum::Json<SubscriptionResponse>, Problem> {
    let now = Timestamp::now();
    let changed_at = match request.changed_at.as_deref() {
        None => now,
        Some(text) => text
            .parse::<Timestamp>()
            .ok()
            .filter(|at| *at <= now)
            .ok_or_else(|| invalid("changed_at", "must be an RFC 3339 time, not in the future"))?,
    };
    let line = state
        .store
        .subscriptions()
        .record_device_change(
            operator_of(&caller),
            SubscriptionId::from(id),
            changed_at,
            now,
        )
        .await
        .map_err(line_refused)?;
    Ok(axum::Json(answer(&line)))
}

/// Records the operator's attestation that the holder verified again (a face check by its
/// certified equipment): a suspended or blocked line is active again, and a line pending its
/// first face check has it.
#[utoipa::path(post, path = "/v1/subscriptions/{id}/verifications", tag = "subscribers",
    params(("id" = String, Path, description = "the line's id")),
    request_body = FaceCheckRequest,
    responses(
        (status = 200, description = "the line, active", body = SubscriptionResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `subscribers` scope"),
        (status = 404, description = "no line of this operator has this id"),
        (status = 409, description = "the line is terminated"),
        (status = 422, description = "a malformed attestation")),
    security(("client" = [])))]
pub(crate) async fn verification(
    State(state): State<AppState>,
    caller: ServiceCaller<Subscribers>,
    PathId(id): PathId,
    ApiJson(request): ApiJson<FaceCheckRequest>,
) -> Result<axum::Json<SubscriptionResponse>, Problem> {
    let now = Timestamp::now();
    let check = face_check(&request, now)?;
    let line = state
        .store
        .subscriptions()
        .record_verification(operator_of(&caller), SubscriptionId::from(id), &check, now)
        .await
        .map_err(line_refused)?;
    Ok(axum::Json(answer(&line)))
}

/// Where a poll of transitions starts.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct TransitionsQuery {
    /// The `seq` of the last transition seen; 0 (the default) for the first.
    #[serde(default)]
    after: i64,
    /// At most this many (1 to 1,000; default 100).
    #[serde(default)]
    limit: Option<usize>,
}

/// A change of a line.
#[derive(Serialize, ToSchema)]
pub(crate) struct TransitionBody {
    /// Its place in the operator's sequence.
    seq: i64,
    /// The line's id.
    subscription: String,
    /// The status before.
    from: &'static str,
    /// The status after (the same for `reported_not_mine`).
    to: &'static str,
    /// `device_change`, `elapsed`, `verified`, `terminated` or `reported_not_mine`.
    cause: &'static str,
    /// RFC 3339.
    at: String,
}

/// The changes of the operator's lines.
#[derive(Serialize, ToSchema)]
pub(crate) struct TransitionsResponse {
    /// Oldest first.
    transitions: Vec<TransitionBody>,
    /// Whether more may follow: ask again after the last `seq`.
    more: bool,
}

/// Every change of the calling operator's lines, in order: device changes, the stages the
/// scheduler applies, verifications, terminations and holders' "not mine" reports.
#[utoipa::path(get, path = "/v1/subscriptions/transitions", tag = "subscribers",
    params(TransitionsQuery),
    responses(
        (status = 200, description = "the transitions after `after`", body = TransitionsResponse),
        (status = 400, description = "a malformed query"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `subscribers` scope"),
        (status = 422, description = "`after` negative or `limit` out of range")),
    security(("client" = [])))]
pub(crate) async fn list_transitions(
    State(state): State<AppState>,
    caller: ServiceCaller<Subscribers>,
    query: Result<Query<TransitionsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<TransitionsResponse>, Problem> {
    let Query(query) = query.map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-query",
            "Malformed query",
            "the query takes `after` (an integer) and `limit` (1 to 1000)",
        )
    })?;
    if query.after < 0 {
        return Err(invalid("after", "must not be negative"));
    }
    let limit = query.limit.unwrap_or(100);
    if !(1..=MAX_TRANSITIONS).contains(&limit) {
        return Err(invalid("limit", "must be 1 to 1000"));
    }
    let found = state
        .store
        .subscriptions()
        .list_transitions(operator_of(&caller), query.after, limit)
        .await?;
    Ok(axum::Json(TransitionsResponse {
        more: found.len() == limit,
        transitions: found
            .into_iter()
            .map(|transition| TransitionBody {
                seq: transition.seq,
                subscription: transition.subscription_id.to_string(),
                from: transition.from.as_str(),
                to: transition.to.as_str(),
                cause: transition.cause.as_str(),
                at: rfc3339(transition.at),
            })
            .collect(),
    }))
}
