//! Account bindings: a platform (a client whose organisation is a platform, with an access
//! token of its own holding the `bindings` scope) registers that one of its accounts belongs
//! to the person behind a pairwise `sub` it received at login, and asks later whether the
//! binding still holds.
//!
//! What a platform learns here is recorded in the person's disclosure log: that the person is
//! verified and, for a binding, whether it waits for a guardian; for a check, the binding's
//! state and the age brackets at the moment of asking.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dinhdanh_core::{
    AgeBracket, BindingStatus, EidLevel, GUARDIAN_CONSENT_BELOW, GuardianConsent, PersonStatus,
};
use dinhdanh_store::{
    Binding, BindingId, NewBinding, NewDisclosure, Person, Purpose, Recipient, StoreError, disclose,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::disclosure::DisclosedJson;
use crate::extract::{ApiJson, Bindings, PathId, ServiceCaller};
use crate::problem::Problem;
use crate::routes::rfc3339;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/bindings", post(create_binding))
        .route("/v1/bindings/{id}", get(check_binding))
}

/// The legal basis of what a platform learns about its accounts' owners: platforms must
/// authenticate their users' accounts against their identity (Decree 147/2024/ND-CP).
const BINDING_BASIS: &str = "legal-obligation";
/// A handle is the platform's name for an account: at most this many characters.
const HANDLE_MAX_CHARS: usize = 256;
/// A pairwise subject is 43 base64url characters; anything far longer is not one.
const SUBJECT_MAX_CHARS: usize = 128;

/// An account to bind.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBindingRequest {
    /// The pairwise `sub` the platform received when the person signed in.
    sub: String,
    /// The platform's handle of the account (1 to 256 characters, no control characters).
    handle: String,
}

/// A binding, as its platform sees it.
#[derive(Serialize, ToSchema)]
pub(crate) struct BindingResponse {
    /// The binding's id.
    id: String,
    /// The pairwise `sub`.
    sub: String,
    /// The handle.
    handle: String,
    /// `active`, `pending_guardian`, `refused` (by a guardian), `unlinked` or `disputed`.
    status: String,
    /// For a person under 16: `pending`, `approved`, `denied` or `revoked`.
    #[serde(skip_serializing_if = "Option::is_none")]
    guardian_consent: Option<String>,
    /// Whether the account may be used now: an active binding of a living, not suspended,
    /// verified person, with a guardian's approval while they are under 16.
    valid: bool,
    /// Why not, when it is not valid.
    reasons: Vec<&'static str>,
    /// Age brackets at the moment of the answer (Asia/Ho_Chi_Minh); absent once the binding
    /// was unlinked or reported, when the platform learns nothing more about the person.
    #[serde(skip_serializing_if = "Option::is_none")]
    age_over_16: Option<bool>,
    /// See `age_over_16`.
    #[serde(skip_serializing_if = "Option::is_none")]
    age_over_18: Option<bool>,
    /// RFC 3339.
    created_at: String,
}

/// Why a binding is not valid now, from its record and the person's as they are.
/// Why a binding is not valid now, from its record and the person's as they are. Once a
/// binding is unlinked or reported, that is the only reason given: the platform learns
/// nothing more about the person through it.
fn reasons(binding: &Binding, person: &Person, now: Timestamp) -> Vec<&'static str> {
    match binding.status {
        BindingStatus::Unlinked => return vec!["unlinked"],
        BindingStatus::Disputed => return vec!["reported_not_mine"],
        BindingStatus::Active | BindingStatus::PendingGuardian | BindingStatus::Refused => {}
    }
    let mut reasons = Vec::new();
    match person.status {
        PersonStatus::Active => {}
        PersonStatus::Deceased => reasons.push("person_deceased"),
        PersonStatus::Suspended => reasons.push("person_suspended"),
    }
    let minor = AgeBracket::age_at(&person.personal.birth_date, now)
        .is_none_or(|age| age < GUARDIAN_CONSENT_BELOW);
    // A guardian's refusal or withdrawal stands even after the child turns 16: the platform
    // binds the account again, and the person then answers for themselves.
    match binding.guardian_consent {
        Some(GuardianConsent::Denied) => reasons.push("guardian_consent_denied"),
        Some(GuardianConsent::Revoked) => reasons.push("guardian_consent_revoked"),
        Some(GuardianConsent::Pending) | None if minor => {
            reasons.push("guardian_consent_pending");
        }
        _ => {}
    }
    reasons
}

/// The fields an answer about this binding releases, for its disclosure record.
fn released_fields(status: BindingStatus) -> Vec<&'static str> {
    match status {
        BindingStatus::Unlinked | BindingStatus::Disputed => vec!["binding_status"],
        BindingStatus::Active | BindingStatus::PendingGuardian | BindingStatus::Refused => vec![
            "binding_status",
            "person_status",
            "guardian_consent",
            "age_over_16",
            "age_over_18",
        ],
    }
}

fn answer(binding: &Binding, person: &Person, now: Timestamp) -> BindingResponse {
    let bracket = AgeBracket::at(&person.personal.birth_date, now);
    let reasons = reasons(binding, person, now);
    let about_person = binding.status.stands();
    BindingResponse {
        id: binding.id.to_string(),
        sub: binding.subject.clone(),
        handle: binding.handle.clone(),
        status: binding.status.as_str().to_owned(),
        guardian_consent: binding
            .guardian_consent
            .map(|consent| consent.as_str().to_owned()),
        valid: reasons.is_empty(),
        reasons,
        age_over_16: about_person.then(|| bracket.over_16()),
        age_over_18: about_person.then(|| bracket.over_18()),
        created_at: rfc3339(binding.created_at),
    }
}

fn purpose(text: &str) -> Result<Purpose, Problem> {
    Purpose::new(text).map_err(|err| Problem::internal(&format!("{err:?}")))
}

/// The text of a request field: trimmed of nothing, refused when empty, too long or holding
/// control characters.
fn field<'a>(name: &'static str, value: &'a str, max: usize) -> Result<&'a str, Problem> {
    let length = value.chars().count();
    if length == 0 || length > max || value.chars().any(char::is_control) {
        return Err(Problem::unprocessable(
            "invalid-field",
            format!("{name}: must be 1 to {max} characters without control characters"),
        )
        .with_field(name));
    }
    Ok(value)
}

/// Registers that an account of the calling platform belongs to the person behind `sub`.
#[utoipa::path(post, path = "/v1/bindings", tag = "bindings",
    request_body = CreateBindingRequest,
    responses(
        (status = 201, description = "bound; `pending_guardian` while a person under 16 waits for a guardian", body = BindingResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `bindings` scope"),
        (status = 404, description = "no login of this platform's sector produced this `sub`"),
        (status = 409, description = "the handle is bound already, or the person holds as many accounts on this platform as the policy allows"),
        (status = 422, description = "a malformed field, or a person who cannot hold an account now")),
    security(("client" = [])))]
pub(crate) async fn create_binding(
    State(state): State<AppState>,
    caller: ServiceCaller<Bindings>,
    ApiJson(request): ApiJson<CreateBindingRequest>,
) -> Result<Response, Problem> {
    let subject = field("sub", &request.sub, SUBJECT_MAX_CHARS)?;
    let handle = field("handle", &request.handle, HANDLE_MAX_CHARS)?;
    let registration = &caller.client.registration;
    let oidc = state.store.oidc();
    let person_id = oidc
        .find_subject(&registration.sector, subject)
        .await?
        .ok_or_else(|| Problem::not_found("subject"))?;
    let person = state
        .store
        .find_person(person_id)
        .await?
        .ok_or_else(|| Problem::not_found("subject"))?;
    // e-ID level 1 or above: verified in person, or enrolled against the registry.
    let enrolled = oidc.find_account(person_id).await?.is_some();
    let level = if enrolled {
        person.eid_level.max(EidLevel::Level1)
    } else {
        person.eid_level
    };
    let organisation = registration.organisation_id;
    // A refusal tells the platform something about the person too: it is recorded as well.
    let refused = async |problem: Problem| -> Result<Response, Problem> {
        let disclosure = NewDisclosure {
            subject: person_id,
            recipient: Recipient::Organisation(organisation),
            fields: vec!["eligible"],
            purpose: purpose("a refused binding of a platform account")?,
            legal_basis: BINDING_BASIS,
        };
        disclose(state.log.as_ref(), disclosure, ()).await?;
        Err(problem)
    };
    if person.status != PersonStatus::Active || level < EidLevel::Level1 {
        return refused(Problem::unprocessable(
            "not-eligible",
            "the person cannot hold a verified account now",
        ))
        .await;
    }
    let now = Timestamp::now();
    let minor = AgeBracket::age_at(&person.personal.birth_date, now)
        .is_none_or(|age| age < GUARDIAN_CONSENT_BELOW);
    let binding = NewBinding {
        organisation_id: registration.organisation_id,
        person_id,
        subject: subject.to_owned(),
        handle: handle.to_owned(),
        status: if minor {
            BindingStatus::PendingGuardian
        } else {
            BindingStatus::Active
        },
        guardian_consent: minor.then_some(GuardianConsent::Pending),
        age_bracket: Some(AgeBracket::at(&person.personal.birth_date, now))
            .filter(|bracket| !bracket.over_18()),
    };
    let disclosure = NewDisclosure {
        subject: person_id,
        recipient: Recipient::Organisation(organisation),
        fields: released_fields(binding.status),
        purpose: purpose("binding a platform account to a verified person")?,
        legal_basis: BINDING_BASIS,
    };
    let limit = state.oidc.config.accounts_per_platform;
    let inserted = state
        .store
        .bindings()
        .insert_binding(&binding, limit, &disclosure)
        .await;
    let (binding, recorded) = match inserted {
        Ok(inserted) => inserted,
        Err(StoreError::Limit(_)) => {
            return refused(Problem::new(
                StatusCode::CONFLICT,
                "binding-limit",
                "Account limit reached",
                format!("the person already holds {limit} accounts on this platform"),
            ))
            .await;
        }
        Err(StoreError::Conflict(_)) => {
            return refused(Problem::new(
                StatusCode::CONFLICT,
                "handle-bound",
                "Handle already bound",
                "this handle is bound on this platform already",
            ))
            .await;
        }
        // Stopped being active since it was read above.
        Err(StoreError::InvalidReference(_)) => {
            return refused(Problem::unprocessable(
                "not-eligible",
                "the person cannot hold a verified account now",
            ))
            .await;
        }
        Err(other) => return Err(other.into()),
    };
    tracing::info!(minor, "platform account bound");
    let mut response = DisclosedJson(recorded, answer(&binding, &person, now)).into_response();
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

/// Whether a binding of the calling platform holds now, and why not if it does not.
#[utoipa::path(get, path = "/v1/bindings/{id}", tag = "bindings",
    params(("id" = String, Path, description = "the binding's id")),
    responses(
        (status = 200, description = "the binding, its validity now and the reasons against it", body = BindingResponse),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `bindings` scope"),
        (status = 404, description = "no binding of this platform has this id")),
    security(("client" = [])))]
pub(crate) async fn check_binding(
    State(state): State<AppState>,
    caller: ServiceCaller<Bindings>,
    PathId(id): PathId,
) -> Result<DisclosedJson<BindingResponse>, Problem> {
    let organisation = caller.client.registration.organisation_id;
    let binding = state
        .store
        .bindings()
        .find_binding(organisation, BindingId::from(id))
        .await?
        .ok_or_else(|| Problem::not_found("binding"))?;
    let person = state
        .store
        .find_person(binding.person_id)
        .await?
        .ok_or_else(|| Problem::internal(&"a binding's person is missing"))?;
    let now = Timestamp::now();
    let answer = answer(&binding, &person, now);
    let disclosure = NewDisclosure {
        subject: binding.person_id,
        recipient: Recipient::Organisation(organisation),
        fields: released_fields(binding.status),
        purpose: purpose("checking a platform account's binding")?,
        legal_basis: BINDING_BASIS,
    };
    // Recorded before it is sent; the answer is built once and moved into the reply.
    let recorded = disclose(state.log.as_ref(), disclosure, ()).await?.id();
    Ok(DisclosedJson(recorded, answer))
}
