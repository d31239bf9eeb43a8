//! Passkeys (WebAuthn) as the second factor: created at enrolment (`POST /enrol` with
//! `second_factor=passkey`, then `POST /enrol/passkey`) and used after the password at login
//! (`GET`/`POST /login/passkey`). `GET /assets/passkey.js` is the only script the pages load.
//!
//! The ceremony's state (the challenge, the credentials allowed, and for an enrolment the
//! account still to be made) stays on the server, sealed in the store under the hash of a
//! reference the page carries in its form, and is taken out once (WebAuthn §13.4.3). Each page
//! has its own ceremony, so a second tab or a page left open does not spoil another's. An
//! enrolment makes the account and its passkey in one transaction when the passkey verifies,
//! so an abandoned ceremony leaves nothing behind.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_core::PersonStatus;
use dinhdanh_crypto::TokenHash;
use dinhdanh_crypto::passkey::PasskeyError;
use dinhdanh_store::{NewAccount, NewPasskey, PersonId, StoreError};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{
    PageContext, PageQuery, Posted, begin_session, internal, page_context, page_error, posted,
    second_factor_allowed, second_factor_person, throttled, transaction,
};
use crate::AppState;
use crate::pages::{self, ErrorMessage, FormError, PasskeyCeremony};
use crate::provider::{ClientAddress, FormPairs, random_reference};
use crate::routes::authorize::seconds;

/// How long a person has to answer the authenticator, in seconds (WebAuthn §5.4.6 suggests
/// 5 minutes for user verification).
const CEREMONY_TTL: u64 = 300;

/// The script of the passkey pages.
const SCRIPT: &str = include_str!("../../../assets/passkey.js");

/// The two ceremonies, kept apart so that neither's reference finds the other's state.
#[derive(Clone, Copy)]
enum Kind {
    Enrolment,
    Login,
}

fn ceremony_hash(kind: Kind, reference: &str) -> TokenHash {
    let prefix = match kind {
        Kind::Enrolment => "webauthn-enrolment",
        Kind::Login => "webauthn-login",
    };
    TokenHash::of(&format!("{prefix}\0{reference}"))
}

/// What an enrolment keeps between the form and the authenticator's answer.
#[derive(Serialize, Deserialize)]
struct EnrolmentState {
    /// The Argon2id hash of the password chosen in the form.
    password_hash: String,
    /// The WebAuthn library's registration state, base64url.
    webauthn: String,
}

/// The user handle an authenticator stores with the passkey: derived from the person under
/// the blind-index key, so that it is stable for them and tells nothing of their internal id.
fn user_handle(state: &AppState, person: PersonId) -> uuid::Uuid {
    let derived = state
        .store
        .oidc()
        .subject_key()
        .index("webauthn-user-handle", person.to_string().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&derived[..16]);
    uuid::Uuid::from_bytes(bytes)
}

/// The name the authenticator shows in its account list, and may sync to the person's other
/// devices: the service's name only, as the TOTP label, so that no personal data leaves in it.
const LABEL: &str = "dinhdanh e-ID";

/// Keeps a ceremony's state; returns the reference the page posts back.
async fn keep_ceremony(
    state: &AppState,
    kind: Kind,
    person: PersonId,
    kept: &[u8],
) -> Result<String, ErrorMessage> {
    let reference = random_reference().map_err(|err| internal(&err))?;
    let expires_at = Timestamp::now() + seconds(CEREMONY_TTL);
    state
        .store
        .oidc()
        .insert_ceremony(&ceremony_hash(kind, &reference), person, kept, expires_at)
        .await
        .map_err(|err| internal(&err))?;
    Ok(reference)
}

/// Takes the ceremony the posted form names, if it is still there.
async fn take_ceremony(
    state: &AppState,
    kind: Kind,
    form: &FormPairs,
) -> Result<Option<dinhdanh_store::Ceremony>, StoreError> {
    let Some(reference) = form.get("ceremony").filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    state
        .store
        .oidc()
        .take_ceremony(&ceremony_hash(kind, reference), Timestamp::now())
        .await
}

/// The refusal a ceremony answer gets: the person's mistake or the browser's, or a fault.
fn answer_refused(err: &PasskeyError) -> Option<FormError> {
    match err {
        PasskeyError::Malformed | PasskeyError::Refused => Some(FormError::PasskeyRefused),
        _ => None,
    }
}

/// After `POST /enrol` chose a passkey and everything else passed: the page that creates it
/// (again, with `error`, after a refused answer).
pub(super) async fn begin_enrolment(
    state: &AppState,
    ctx: &PageContext,
    person: PersonId,
    password_hash: String,
    error: Option<FormError>,
) -> Response {
    let Some(site) = &state.oidc.passkeys else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    let existing = match credentials(state, person).await {
        Ok(existing) => existing,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let start = match site.start_registration(user_handle(state, person), LABEL, &existing) {
        Ok(start) => start,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let kept = EnrolmentState {
        password_hash,
        webauthn: URL_SAFE_NO_PAD.encode(&start.state),
    };
    let Ok(kept) = serde_json::to_vec(&kept) else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    let reference = match keep_ceremony(state, Kind::Enrolment, person, &kept).await {
        Ok(reference) => reference,
        Err(message) => return page_error(ctx.lang, message),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    ctx.render(state, status, |form| {
        pages::passkey(
            form,
            PasskeyCeremony::Register,
            &start.options,
            &reference,
            error,
        )
    })
}

/// `POST /enrol/passkey`: the authenticator's new credential. If it verifies and the person
/// may still enrol, the account and its passkey are made together.
pub(super) async fn enrol(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Posted { form, ctx } = match posted(&state, &headers, &body) {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let pending = match transaction(&state, &ctx.tx).await {
        Ok(pending) => pending,
        Err(message) => return page_error(ctx.lang, message),
    };
    let passkeys = state.oidc.passkeys.is_some();
    // Without its ceremony the form is gone: back to the enrolment form.
    let again = |error: FormError| {
        ctx.render(&state, StatusCode::UNPROCESSABLE_ENTITY, |page| {
            pages::enrol(page, &pending.requester(), Some(error), passkeys)
        })
    };
    let ceremony = match take_ceremony(&state, Kind::Enrolment, &form).await {
        Ok(ceremony) => ceremony,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let (Some(site), Some(ceremony)) = (&state.oidc.passkeys, ceremony) else {
        return again(FormError::PasskeyRefused);
    };
    let person = ceremony.person_id;
    let Ok(kept) = serde_json::from_slice::<EnrolmentState>(&ceremony.state) else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    let Ok(webauthn) = URL_SAFE_NO_PAD.decode(&kept.webauthn) else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    let answer = form.get("credential").unwrap_or_default();
    let credential = match site.finish_registration(answer, &webauthn) {
        Ok(credential) => credential,
        Err(err) => {
            return match answer_refused(&err) {
                // The details were right: a new ceremony, not the whole form again.
                Some(error) => {
                    tracing::info!("passkey registration refused");
                    begin_enrolment(&state, &ctx, person, kept.password_hash, Some(error)).await
                }
                None => page_error(ctx.lang, internal(&err)),
            };
        }
    };
    // The registry may have changed while the person answered the authenticator.
    match state.store.find_person(person).await {
        Ok(Some(found)) if found.status == PersonStatus::Active => {}
        Ok(_) => return again(FormError::NoMatch),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    }
    let account = NewAccount {
        person_id: person,
        password_hash: kept.password_hash,
        totp_secret: None,
        passkey: Some(NewPasskey {
            id_hash: credential.id_hash,
            credential: zeroize::Zeroizing::new(credential.credential),
        }),
    };
    match state.store.oidc().insert_account(&account).await {
        Ok(_) => {}
        // Enrolled in the meantime, or this authenticator's credential is another account's.
        Err(StoreError::Conflict(_)) => return again(FormError::NoMatch),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    }
    tracing::info!("citizen account enrolled at e-ID level 1 with a passkey");
    ctx.render(&state, StatusCode::CREATED, |page| {
        pages::enrolled(page, None)
    })
}

/// The person's stored passkey credentials.
async fn credentials(state: &AppState, person: PersonId) -> Result<Vec<Vec<u8>>, StoreError> {
    Ok(state
        .store
        .oidc()
        .list_passkeys(person)
        .await?
        .into_iter()
        .map(|(_, credential)| credential.to_vec())
        .collect())
}

/// A fresh authentication ceremony over the person's passkeys, and its page.
async fn authentication_page(
    state: &AppState,
    ctx: &PageContext,
    person: PersonId,
    status: StatusCode,
    error: Option<FormError>,
) -> Response {
    let Some(site) = &state.oidc.passkeys else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    let credentials = match credentials(state, person).await {
        Ok(credentials) => credentials,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    if credentials.is_empty() {
        return page_error(ctx.lang, ErrorMessage::Expired);
    }
    let start = match site.start_authentication(&credentials) {
        Ok(start) => start,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let reference = match keep_ceremony(state, Kind::Login, person, &start.state).await {
        Ok(reference) => reference,
        Err(message) => return page_error(ctx.lang, message),
    };
    ctx.render(state, status, |form| {
        pages::passkey(
            form,
            PasskeyCeremony::Authenticate,
            &start.options,
            &reference,
            error,
        )
    })
}

/// `GET /login/passkey`: after the password, the page that asks for the passkey.
pub(super) async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let ctx = match page_context(&headers, query) {
        Ok(ctx) => ctx,
        Err(response) => return *response,
    };
    match second_factor_person(&state, &headers).await {
        Ok(Some((_, person))) => {
            authentication_page(&state, &ctx, person, StatusCode::OK, None).await
        }
        Ok(None) => page_error(ctx.lang, ErrorMessage::Expired),
        Err(err) => page_error(ctx.lang, internal(&err)),
    }
}

/// `POST /login/passkey`: the authenticator's assertion; on success the session starts.
pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Posted { form, ctx } = match posted(&state, &headers, &body) {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let (reference, person) = match second_factor_person(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return page_error(ctx.lang, ErrorMessage::Expired),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let again = |status: StatusCode, error: FormError| {
        authentication_page(&state, &ctx, person, status, Some(error))
    };
    if throttled(&state, address) {
        return again(StatusCode::TOO_MANY_REQUESTS, FormError::RateLimited).await;
    }
    // The ceremony is used up whatever the answer: a retry gets a new challenge. A page whose
    // ceremony is gone (expired, or answered already) is not counted as an attempt.
    let ceremony = match take_ceremony(&state, Kind::Login, &form).await {
        Ok(ceremony) => ceremony.filter(|ceremony| ceremony.person_id == person),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let Some(ceremony) = ceremony else {
        return again(StatusCode::UNAUTHORIZED, FormError::PasskeyRefused).await;
    };
    match second_factor_allowed(&state, person).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return again(StatusCode::UNAUTHORIZED, error).await,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    }
    let Some(site) = &state.oidc.passkeys else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    let oidc = state.store.oidc();
    let credentials = match credentials(&state, person).await {
        Ok(credentials) => credentials,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let answer = form.get("credential").unwrap_or_default();
    let (used, updated) = match site.finish_authentication(answer, &ceremony.state, &credentials) {
        Ok(outcome) => outcome,
        Err(err) => {
            return match answer_refused(&err) {
                Some(error) => {
                    tracing::info!("passkey login refused");
                    again(StatusCode::UNAUTHORIZED, error).await
                }
                None => page_error(ctx.lang, internal(&err)),
            };
        }
    };
    let recorded = async {
        oidc.update_passkey(person, &used, updated.as_deref())
            .await?;
        oidc.reset_failed_logins(person).await
    };
    if let Err(err) = recorded.await {
        return page_error(ctx.lang, internal(&err));
    }
    begin_session(&state, &ctx, &headers, &reference, person).await
}

/// `GET /assets/passkey.js`.
pub(super) async fn script() -> Response {
    let mut response = SCRIPT.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}
