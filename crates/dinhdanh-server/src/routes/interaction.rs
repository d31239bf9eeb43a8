//! The person's side of an authorization: `/login` (citizen number and password),
//! `/login/totp` or `/login/passkey` (the second factor), `/enrol` (e-ID level 1 by matching
//! the population registry) and `/consent`, then the code goes back to the client.
//!
//! Sessions are opaque references in `__Host-` cookies (`Secure`, `HttpOnly`,
//! `SameSite=Lax`), stored only as hashes. Every form carries a CSRF token bound to the
//! browser's CSRF cookie and to the transaction. Logins are throttled per address (in memory)
//! and per account (in the store, with a lock that doubles with each further failure).

use std::net::IpAddr;
use std::str::FromStr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, SameSite};
use dinhdanh_core::{AgeBracket, BirthDate, CitizenNumber, EidLevel, PersonName, PersonStatus};
use dinhdanh_crypto::{TokenHash, TotpSecret, hash_password, verify_nothing, verify_password};
use dinhdanh_oidc::{Consent, Scope, Scopes, SectorIdentifier, SubjectKey, ValidatedAuthorization};
use dinhdanh_store::{
    Client, LoginSession, NewAccount, NewDisclosure, NewGrant, NewToken, Person, PersonId, Purpose,
    Recipient, RequestKind, StoreError, TokenKind,
};
use jiff::Timestamp;
use serde::Deserialize;

use crate::AppState;
use crate::pages::{self, ErrorMessage, Form, FormError, Lang, Requester};
use crate::provider::{ClientAddress, FormPairs, csrf_matches, csrf_token, random_reference};
use crate::routes::authorize::{
    Interaction, Refusal, client_policy, error_page, error_redirect, error_url, html,
    redirect_to_client, refusal_response, refuse, seconds, see_other,
};

mod passkey;
mod portal;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/login/totp", get(totp_page).post(totp))
        .route(
            "/login/passkey",
            get(passkey::login_page).post(passkey::login),
        )
        .route("/enrol", get(enrol_page).post(enrol))
        .route("/enrol/passkey", post(passkey::enrol))
        .route("/assets/passkey.js", get(passkey::script))
        .route("/me", get(portal::page))
        .route("/me/bindings", post(portal::decide_binding))
        .route("/me/lines", post(portal::report_line))
        .route("/me/password", post(portal::change_password))
        .route("/me/sessions", post(portal::sign_out_everywhere))
        .route("/consent", get(consent_page).post(consent))
}

const CSRF_COOKIE: &str = "__Host-dd-csrf";
const SESSION_COOKIE: &str = "__Host-dd-session";
const SECOND_FACTOR_COOKIE: &str = "__Host-dd-mfa";
/// How long a person has between the password and the second factor, in seconds.
const SECOND_FACTOR_TTL: u64 = 300;
/// Passwords: at least 12 characters (NIST SP 800-63B §3.1.1.2 asks for 8 or more), at most
/// 128 so that hashing stays bounded.
const PASSWORD_CHARS: std::ops::RangeInclusive<usize> = 12..=128;
/// Children under 14 have no account of their own; a guardian acts for them (Decree
/// 69/2024/ND-CP Art. 11, in the project's reading).
const MIN_ENROLMENT_AGE: u16 = 14;
/// The legal basis recorded for what a person agreed to release.
const CONSENT_BASIS: &str = "data-subject-consent";
/// The legal basis recorded when a guardian agreed for a child under 14 (Decree 13/2023/ND-CP
/// Art. 20: a child's data is processed with the consent of a parent or guardian).
const GUARDIAN_BASIS: &str = "guardian-consent";

/// A second-factor reference and a session reference live in one table; the second-factor
/// one is hashed under its own prefix so that neither can stand in for the other.
fn second_factor_hash(reference: &str) -> TokenHash {
    TokenHash::of(&format!("second-factor\0{reference}"))
}

#[derive(Deserialize)]
struct PageQuery {
    tx: Option<String>,
    lang: Option<String>,
}

fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok())
}

fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| Cookie::split_parse(value).filter_map(Result::ok))
        .find(|cookie| cookie.name() == name)
        .map(|cookie| cookie.value().to_owned())
        .filter(|value| !value.is_empty())
}

/// A `__Host-` cookie: `Secure`, `HttpOnly`, `SameSite=Lax`, `Path=/`, no `Domain`
/// (RFC 6265bis §4.1.3.2). `max_age` 0 deletes it.
fn set_cookie(response: &mut Response, name: &'static str, value: &str, max_age: u64) {
    let cookie = Cookie::build((name, value))
        .path("/")
        .secure(true)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(cookie::time::Duration::seconds(
            i64::try_from(max_age).unwrap_or(i64::MAX),
        ))
        .build();
    if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// Deletes the session cookie from the browser (its session is gone from the store).
fn end_session_cookie(response: &mut Response) {
    set_cookie(response, SESSION_COOKIE, "", 0);
}

fn internal(err: &dyn std::fmt::Display) -> ErrorMessage {
    tracing::error!(error = %err, "internal error on a login page");
    ErrorMessage::Internal
}

/// A form page being answered: its language, transaction, and the browser's CSRF cookie
/// (made here when the browser has none yet).
struct PageContext {
    lang: Lang,
    tx: String,
    csrf_cookie: String,
    new_cookie: bool,
}

impl PageContext {
    fn new(headers: &HeaderMap, tx: String, lang: Option<&str>) -> Result<Self, ErrorMessage> {
        let lang = Lang::negotiate(lang, accept_language(headers));
        let (csrf_cookie, new_cookie) = match read_cookie(headers, CSRF_COOKIE) {
            Some(cookie) => (cookie, false),
            None => (random_reference().map_err(|err| internal(&err))?, true),
        };
        Ok(Self {
            lang,
            tx,
            csrf_cookie,
            new_cookie,
        })
    }

    /// The address of another step of this transaction, in this language.
    fn url(&self, path: &str) -> String {
        let tx: String = form_urlencoded::byte_serialize(self.tx.as_bytes()).collect();
        format!("{path}?tx={tx}&lang={}", self.lang.code())
    }

    fn render(
        &self,
        state: &AppState,
        status: StatusCode,
        page: impl FnOnce(&Form<'_>) -> String,
    ) -> Response {
        let csrf = csrf_token(
            state.store.oidc().subject_key(),
            &self.csrf_cookie,
            &self.tx,
        );
        let form = Form {
            lang: self.lang,
            tx: &self.tx,
            csrf: &csrf,
        };
        let mut response = html(status, page(&form));
        if self.new_cookie {
            set_cookie(&mut response, CSRF_COOKIE, &self.csrf_cookie, 24 * 3600);
        }
        response
    }
}

/// A posted form after its CSRF check.
struct Posted {
    form: FormPairs,
    ctx: PageContext,
}

/// Parses a form post and checks its CSRF token; a form without a valid token changes
/// nothing and gets a 403 page.
fn posted(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Posted, Box<Response>> {
    let lang = Lang::negotiate(None, accept_language(headers));
    let form = FormPairs::parse(body).map_err(|_| {
        Box::new(error_page(
            lang,
            StatusCode::BAD_REQUEST,
            ErrorMessage::BadRequest,
        ))
    })?;
    let lang = Lang::negotiate(form.get("lang"), accept_language(headers));
    let tx = form.get("tx").unwrap_or_default().to_owned();
    let cookie = read_cookie(headers, CSRF_COOKIE);
    let valid = match (&cookie, form.get("csrf")) {
        (Some(cookie), Some(presented)) => {
            csrf_matches(state.store.oidc().subject_key(), cookie, &tx, presented)
        }
        _ => false,
    };
    if !valid || tx.is_empty() {
        tracing::info!("form refused: CSRF token missing or wrong");
        return Err(Box::new(error_page(
            lang,
            StatusCode::FORBIDDEN,
            ErrorMessage::CsrfFailed,
        )));
    }
    Ok(Posted {
        ctx: PageContext {
            lang,
            tx,
            csrf_cookie: cookie.unwrap_or_default(),
            new_cookie: false,
        },
        form,
    })
}

/// The interaction a transaction reference names, with its client.
struct Pending {
    interaction: Interaction,
    client: Client,
    organisation_name: String,
}

async fn pending(state: &AppState, tx: &str, take: bool) -> Result<Pending, ErrorMessage> {
    let oidc = state.store.oidc();
    let now = Timestamp::now();
    let hash = TokenHash::of(tx);
    let found = if take {
        oidc.take_authorization_request(&hash, RequestKind::Interaction, now)
            .await
    } else {
        oidc.find_authorization_request(&hash, RequestKind::Interaction, now)
            .await
    }
    .map_err(|err| internal(&err))?
    .ok_or(ErrorMessage::Expired)?;
    let interaction: Interaction =
        serde_json::from_str(&found.params).map_err(|err| internal(&err))?;
    let client = oidc
        .find_client(&found.client_id)
        .await
        .map_err(|err| internal(&err))?
        .filter(|client| client.disabled_at.is_none())
        .ok_or(ErrorMessage::UnknownClient)?;
    let organisation_name = state
        .store
        .find_organisation(client.registration.organisation_id)
        .await
        .map_err(|err| internal(&err))?
        .map(|organisation| organisation.name)
        .unwrap_or_default();
    Ok(Pending {
        interaction,
        client,
        organisation_name,
    })
}

impl Pending {
    fn requester(&self) -> Requester<'_> {
        Requester {
            client_name: &self.client.registration.name,
            organisation_name: &self.organisation_name,
        }
    }
}

/// The transaction of the citizen's own pages (`/me`): a login there is for no client, and
/// ends on the person's page instead of consent.
const PORTAL_TX: &str = "me";

/// What a login or enrolment form is for.
enum Transaction {
    /// A client's authorization request.
    Client(Box<Pending>),
    /// The person's own pages.
    Portal,
}

impl Transaction {
    fn requester(&self) -> Requester<'_> {
        match self {
            Transaction::Client(pending) => pending.requester(),
            Transaction::Portal => Requester {
                client_name: "dinhdanh",
                organisation_name: PORTAL_OWNER,
            },
        }
    }
}

/// Who runs the citizen's own pages, as the login page names them.
const PORTAL_OWNER: &str = "Hệ thống định danh và xác thực điện tử";

/// The transaction `tx` names: the portal's, or a pending authorization request.
async fn transaction(state: &AppState, tx: &str) -> Result<Transaction, ErrorMessage> {
    if tx == PORTAL_TX {
        return Ok(Transaction::Portal);
    }
    Ok(Transaction::Client(Box::new(
        pending(state, tx, false).await?,
    )))
}

fn page_error(lang: Lang, message: ErrorMessage) -> Response {
    let status = match message {
        ErrorMessage::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorMessage::CsrfFailed | ErrorMessage::LevelTooLow => StatusCode::FORBIDDEN,
        _ => StatusCode::BAD_REQUEST,
    };
    error_page(lang, status, message)
}

/// The context of a page asked for with `?tx=…&lang=…`, or the error page to answer instead.
fn page_context(headers: &HeaderMap, query: PageQuery) -> Result<PageContext, Box<Response>> {
    let lang = query.lang.as_deref();
    let Some(tx) = query.tx else {
        let lang = Lang::negotiate(lang, accept_language(headers));
        return Err(Box::new(page_error(lang, ErrorMessage::Expired)));
    };
    PageContext::new(headers, tx, lang).map_err(|message| Box::new(page_error(Lang::Vi, message)))
}

/// A page about a pending request, with the error to show on it if any.
type PendingPage<'p> = &'p (dyn Fn(&Form<'_>, &Requester<'_>, Option<FormError>) -> String + Sync);

/// A form page about a pending request: the login and enrolment pages.
async fn pending_page(
    state: &AppState,
    headers: &HeaderMap,
    query: PageQuery,
    page: PendingPage<'_>,
) -> Response {
    let ctx = match page_context(headers, query) {
        Ok(ctx) => ctx,
        Err(response) => return *response,
    };
    match transaction(state, &ctx.tx).await {
        Ok(pending) => ctx.render(state, StatusCode::OK, |form| {
            page(form, &pending.requester(), None)
        }),
        Err(message) => page_error(ctx.lang, message),
    }
}

/// `GET /login`.
async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    pending_page(&state, &headers, query, &pages::login).await
}

/// Counts an attempt on an account before its secret is checked, so that parallel guesses
/// cannot all slip in under the threshold: true if this attempt may go on. The attempt that
/// reaches the threshold locks the account (doubling with each further one); a success
/// clears both the count and the lock (`reset_failed_logins`).
async fn count_attempt(state: &AppState, person: PersonId) -> Result<bool, StoreError> {
    let oidc = state.store.oidc();
    let attempts = oidc.record_failed_login(person).await?;
    let config = &state.oidc.config;
    if let Some(duration) = config.lockout(attempts) {
        let until = Timestamp::now()
            + jiff::SignedDuration::try_from(duration).unwrap_or(jiff::SignedDuration::MAX);
        oidc.lock_account(person, until).await?;
        tracing::info!(attempts, "account locked after failed logins");
    }
    Ok(attempts <= config.max_failed_logins)
}

/// Argon2id takes tens of milliseconds and 64 MiB: off the async workers, a few at a time.
async fn password_matches(state: &AppState, stored: Option<String>, password: String) -> bool {
    let Ok(_permit) = state.oidc.password_work.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || match stored {
        Some(stored) => verify_password(&stored, &password).unwrap_or(false),
        None => {
            verify_nothing(&password);
            false
        }
    })
    .await
    .unwrap_or(false)
}

/// The new password a form sets (`password`, repeated in `password_again`), or why not.
fn new_password(form: &FormPairs) -> Result<String, FormError> {
    let password = form.get("password").unwrap_or_default();
    if !PASSWORD_CHARS.contains(&password.chars().count()) {
        return Err(FormError::WeakPassword);
    }
    if form.get("password_again") != Some(password) {
        return Err(FormError::PasswordsDiffer);
    }
    Ok(password.to_owned())
}

/// The Argon2id hash of a new password, made off the async workers like every check.
async fn hashed_password(state: &AppState, password: String) -> Option<String> {
    let _permit = state.oidc.password_work.acquire().await.ok()?;
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .ok()?
        .ok()
}

fn throttled(state: &AppState, address: Option<IpAddr>) -> bool {
    !state.oidc.allow_attempt(address)
}

/// A posted login or enrolment form whose CSRF token, transaction and address passed.
struct PendingForm {
    form: FormPairs,
    ctx: PageContext,
    pending: Transaction,
}

/// Checks a posted form about a pending request: its CSRF token, its transaction, and the
/// address's throttle (answered with `page` and a `RateLimited` error).
async fn pending_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    address: Option<IpAddr>,
    page: PendingPage<'_>,
) -> Result<PendingForm, Box<Response>> {
    let Posted { form, ctx } = posted(state, headers, body)?;
    let pending = match transaction(state, &ctx.tx).await {
        Ok(pending) => pending,
        Err(message) => return Err(Box::new(page_error(ctx.lang, message))),
    };
    if throttled(state, address) {
        return Err(Box::new(ctx.render(
            state,
            StatusCode::TOO_MANY_REQUESTS,
            |form| page(form, &pending.requester(), Some(FormError::RateLimited)),
        )));
    }
    Ok(PendingForm { form, ctx, pending })
}

/// `POST /login`: citizen number and password.
async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let PendingForm { form, ctx, pending } =
        match pending_form(&state, &headers, &body, address, &pages::login).await {
            Ok(posted) => posted,
            Err(response) => return *response,
        };
    let again = |status: StatusCode, error: FormError| {
        ctx.render(&state, status, |page| {
            pages::login(page, &pending.requester(), Some(error))
        })
    };
    let password = form.get("password").unwrap_or_default().to_owned();
    let Ok(number) = CitizenNumber::from_str(form.get("citizen_number").unwrap_or_default().trim())
    else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, FormError::Invalid);
    };
    match check_password(&state, &number, password).await {
        Ok(Ok((person, has_passkey))) => {
            let Ok(reference) = random_reference() else {
                return page_error(ctx.lang, ErrorMessage::Internal);
            };
            let now = Timestamp::now();
            let pending_session = LoginSession {
                person_id: person,
                eid_level: EidLevel::Level1,
                auth_time: now,
                expires_at: now + seconds(SECOND_FACTOR_TTL),
            };
            if let Err(err) = state
                .store
                .oidc()
                .insert_session(&second_factor_hash(&reference), &pending_session)
                .await
            {
                return page_error(ctx.lang, internal(&err));
            }
            let next = if has_passkey {
                "/login/passkey"
            } else {
                "/login/totp"
            };
            let mut response = see_other(&ctx.url(next));
            set_cookie(
                &mut response,
                SECOND_FACTOR_COOKIE,
                &reference,
                SECOND_FACTOR_TTL,
            );
            response
        }
        Ok(Err(error)) => again(StatusCode::UNAUTHORIZED, error),
        Err(err) => page_error(ctx.lang, internal(&err)),
    }
}

/// The person whose password this is and whether their second factor is a passkey, or why
/// not. Unknown numbers, missing accounts and locked accounts get the same answer after the
/// same hashing time, so that neither the answer nor its timing tells whether a number has
/// an account.
async fn check_password(
    state: &AppState,
    number: &CitizenNumber,
    password: String,
) -> Result<Result<(PersonId, bool), FormError>, StoreError> {
    let refused = Ok(Err(FormError::BadCredentials));
    let Some(person) = state.store.find_person_by_citizen_number(number).await? else {
        password_matches(state, None, password).await;
        return refused;
    };
    let oidc = state.store.oidc();
    let account = oidc.find_account(person.id).await?;
    let locked = account
        .as_ref()
        .and_then(|account| account.locked_until)
        .is_some_and(|until| until > Timestamp::now());
    let Some(account) = account.filter(|_| !locked) else {
        password_matches(state, None, password).await;
        return refused;
    };
    if !count_attempt(state, person.id).await? {
        password_matches(state, None, password).await;
        return refused;
    }
    if !password_matches(state, Some(account.password_hash.clone()), password).await
        || person.status != PersonStatus::Active
        || (account.totp_secret.is_none() && account.passkeys == 0)
    {
        return refused;
    }
    Ok(Ok((person.id, account.passkeys > 0)))
}

/// `GET /login/totp`.
async fn totp_page(
    headers: HeaderMap,
    State(state): State<AppState>,
    Query(query): Query<PageQuery>,
) -> Response {
    match page_context(&headers, query) {
        Ok(ctx) => ctx.render(&state, StatusCode::OK, |form| pages::totp(form, None)),
        Err(response) => *response,
    }
}

/// `POST /login/totp`: the second factor; on success the session starts.
async fn totp(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Posted { form, ctx } = match posted(&state, &headers, &body) {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let again = |status: StatusCode, error: FormError| {
        ctx.render(&state, status, |page| pages::totp(page, Some(error)))
    };
    if throttled(&state, address) {
        return again(StatusCode::TOO_MANY_REQUESTS, FormError::RateLimited);
    }
    let (reference, person) = match second_factor_person(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return page_error(ctx.lang, ErrorMessage::Expired),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    match check_second_factor(&state, person, form.get("code").unwrap_or_default()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => return again(StatusCode::UNAUTHORIZED, error),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    }
    begin_session(&state, &ctx, &headers, &reference, person).await
}

/// The person between password and second factor, from the second-factor cookie.
async fn second_factor_person(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(String, PersonId)>, StoreError> {
    let Some(reference) = read_cookie(headers, SECOND_FACTOR_COOKIE) else {
        return Ok(None);
    };
    let session = state
        .store
        .oidc()
        .find_session(&second_factor_hash(&reference), Timestamp::now())
        .await?;
    Ok(session.map(|session| (reference, session.person_id)))
}

/// The second factor passed: the password step's reference ends, a session begins (ending
/// the browser's earlier one), and the person goes on to consent.
async fn begin_session(
    state: &AppState,
    ctx: &PageContext,
    headers: &HeaderMap,
    second_factor_reference: &str,
    person: PersonId,
) -> Response {
    let oidc = state.store.oidc();
    let now = Timestamp::now();
    let Ok(session_reference) = random_reference() else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    let config = &state.oidc.config;
    let level = match state.store.find_person(person).await {
        Ok(Some(found)) => found.eid_level.max(EidLevel::Level1),
        Ok(None) => return page_error(ctx.lang, ErrorMessage::Expired),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    let session = LoginSession {
        person_id: person,
        eid_level: level,
        auth_time: now,
        expires_at: now + seconds(config.session_ttl_seconds),
    };
    let previous = read_cookie(headers, SESSION_COOKIE);
    let started = async {
        oidc.delete_session(&second_factor_hash(second_factor_reference))
            .await?;
        // A new login ends the browser's earlier session, if it had one.
        if let Some(previous) = &previous {
            oidc.delete_session(&TokenHash::of(previous)).await?;
        }
        oidc.insert_session(&TokenHash::of(&session_reference), &session)
            .await
    };
    if let Err(err) = started.await {
        return page_error(ctx.lang, internal(&err));
    }
    let next = if ctx.tx == PORTAL_TX {
        "/me"
    } else {
        "/consent"
    };
    let mut response = see_other(&ctx.url(next));
    set_cookie(&mut response, SECOND_FACTOR_COOKIE, "", 0);
    set_cookie(
        &mut response,
        SESSION_COOKIE,
        &session_reference,
        config.session_ttl_seconds,
    );
    response
}

/// Whether a second-factor attempt may go on: the account is not locked, and the attempt is
/// counted (until one succeeds) before the factor is checked.
async fn second_factor_allowed(
    state: &AppState,
    person: PersonId,
) -> Result<Result<(), FormError>, StoreError> {
    let Some(account) = state.store.oidc().find_account(person).await? else {
        return Ok(Err(FormError::BadCode));
    };
    if account
        .locked_until
        .is_some_and(|until| until > Timestamp::now())
        || !count_attempt(state, person).await?
    {
        return Ok(Err(FormError::Locked));
    }
    Ok(Ok(()))
}

/// Checks a TOTP code: right for the current step (or the one before or after), and of a
/// step not used before (RFC 6238 §5.2). Each code counts as an attempt until one succeeds.
async fn check_second_factor(
    state: &AppState,
    person: PersonId,
    code: &str,
) -> Result<Result<(), FormError>, StoreError> {
    if let Err(error) = second_factor_allowed(state, person).await? {
        return Ok(Err(error));
    }
    let oidc = state.store.oidc();
    let Some(secret) = oidc
        .find_account(person)
        .await?
        .and_then(|account| account.totp_secret)
    else {
        return Ok(Err(FormError::BadCode));
    };
    let secret = TotpSecret::from_bytes(secret)?;
    let now = u64::try_from(Timestamp::now().as_second()).unwrap_or_default();
    let accepted = match secret.verify(code.trim(), now)? {
        Some(step) => {
            oidc.use_totp_step(person, i64::try_from(step).unwrap_or(i64::MAX))
                .await?
        }
        None => false,
    };
    if !accepted {
        return Ok(Err(FormError::BadCode));
    }
    oidc.reset_failed_logins(person).await?;
    Ok(Ok(()))
}

/// `GET /enrol`.
async fn enrol_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    pending_page(&state, &headers, query, &enrol_form(&state)).await
}

/// The enrolment page, offering passkeys where the site can hold them.
fn enrol_form(
    state: &AppState,
) -> impl Fn(&Form<'_>, &Requester<'_>, Option<FormError>) -> String + Sync + use<> {
    let passkeys = state.oidc.passkeys.is_some();
    move |form, requester, error| pages::enrol(form, requester, error, passkeys)
}

/// `POST /enrol`: e-ID level 1. The person proves who they are with their citizen number, full
/// name and birth date as the population registry holds them, sets a password and chooses a
/// second factor: a TOTP secret the provider makes and shows once, or a passkey
/// (`passkey::begin_enrolment`), with which the account is made only once it verifies.
async fn enrol(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let PendingForm { form, ctx, pending } =
        match pending_form(&state, &headers, &body, address, &enrol_form(&state)).await {
            Ok(posted) => posted,
            Err(response) => return *response,
        };
    let again = |status: StatusCode, error: FormError| {
        ctx.render(&state, status, |page| {
            enrol_form(&state)(page, &pending.requester(), Some(error))
        })
    };
    let field = |name| form.get(name).unwrap_or_default().trim();
    let number = CitizenNumber::from_str(field("citizen_number"));
    let name = PersonName::from_str(field("name"));
    let birth = jiff::civil::Date::from_str(field("birth_date")).map(BirthDate::new);
    let (Ok(number), Ok(name), Ok(birth)) = (number, name, birth) else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, FormError::Invalid);
    };
    let password = match new_password(&form) {
        Ok(password) => password,
        Err(error) => return again(StatusCode::UNPROCESSABLE_ENTITY, error),
    };
    let with_passkey = match form.get("second_factor") {
        None | Some("totp") => false,
        Some("passkey") if state.oidc.passkeys.is_some() => true,
        Some(_) => return again(StatusCode::UNPROCESSABLE_ENTITY, FormError::Invalid),
    };
    // Failures are counted per citizen number (by its keyed hash): the number gives away the
    // birth year, so without a limit the birth date would be a year's worth of guesses.
    let number_key = state
        .store
        .oidc()
        .subject_key()
        .index("oidc-enrolment-attempts", number.as_str().as_bytes());
    let oidc = state.store.oidc();
    if !state.oidc.enrolment_allowed(&number_key) {
        return again(StatusCode::UNPROCESSABLE_ENTITY, FormError::NoMatch);
    }
    let person = match state.store.find_person_by_citizen_number(&number).await {
        Ok(found) => found,
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    // One answer for every refusal (no match, under 14, already enrolled), so that the form
    // confirms nothing about a person to someone who does not already know it all.
    let enrolled = match &person {
        Some(person) => match oidc.find_account(person.id).await {
            Ok(account) => account.is_some(),
            Err(err) => return page_error(ctx.lang, internal(&err)),
        },
        None => false,
    };
    let Some(person) = person.filter(|person| {
        matches_registry(person, &name, &birth)
            && !enrolled
            && AgeBracket::age_at(&person.personal.birth_date, Timestamp::now())
                .is_some_and(|age| age >= MIN_ENROLMENT_AGE)
    }) else {
        state.oidc.enrolment_failed(&number_key);
        return again(StatusCode::UNPROCESSABLE_ENTITY, FormError::NoMatch);
    };
    let Some(password_hash) = hashed_password(&state, password).await else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    if with_passkey {
        return passkey::begin_enrolment(&state, &ctx, person.id, password_hash, None).await;
    }
    let Ok(secret) = TotpSecret::generate() else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    let account = NewAccount {
        person_id: person.id,
        password_hash,
        totp_secret: Some(zeroize::Zeroizing::new(secret.as_bytes().to_vec())),
        passkey: None,
    };
    match oidc.insert_account(&account).await {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => {
            return again(StatusCode::UNPROCESSABLE_ENTITY, FormError::NoMatch);
        }
        Err(err) => return page_error(ctx.lang, internal(&err)),
    }
    tracing::info!("citizen account enrolled at e-ID level 1");
    // The authenticator's label names the service only: no personal data leaves in it.
    let (Ok(base32), Ok(uri)) = (secret.base32(), secret.provisioning_uri("dinhdanh", "e-ID"))
    else {
        return page_error(ctx.lang, ErrorMessage::Internal);
    };
    ctx.render(&state, StatusCode::CREATED, |page| {
        pages::enrolled(page, Some(pages::TotpSetup::new(&base32, &uri)))
    })
}

/// Name (folded: case, diacritics, spacing) and birth date agree with the registry, and the
/// person is alive and not suspended.
fn matches_registry(person: &Person, name: &PersonName, birth: &BirthDate) -> bool {
    let fold = |name: &PersonName| {
        name.folded()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    person.status == PersonStatus::Active
        && fold(&person.personal.name) == fold(name)
        && person.personal.birth_date == *birth
}

/// The current login session, if the browser has one.
async fn current_session(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<LoginSession>, StoreError> {
    let Some(hash) = session_hash(headers) else {
        return Ok(None);
    };
    state
        .store
        .oidc()
        .find_session(&hash, Timestamp::now())
        .await
}

/// The hash of the session id the browser sent, if it sent one.
fn session_hash(headers: &HeaderMap) -> Option<TokenHash> {
    read_cookie(headers, SESSION_COOKIE).map(|reference| TokenHash::of(&reference))
}

/// What the consent step decided before asking anything.
enum Step {
    /// Log in (again) first.
    Login,
    /// Ask the person, who may sign in for one of these children.
    Ask(Box<ValidatedAuthorization>, LoginSession, Vec<Ward>),
    /// Consent is on record: issue the code now.
    Issue(Box<ValidatedAuthorization>, LoginSession),
    /// Stop here.
    Refused(Refusal),
}

/// The scopes that need the person's agreement.
fn asked_scopes(scopes: &Scopes) -> Vec<Scope> {
    scopes
        .iter()
        .filter(|scope| scope.consent() != Consent::NotAsked)
        .collect()
}

async fn decide(
    state: &AppState,
    pending: &Pending,
    headers: &HeaderMap,
) -> Result<Step, StoreError> {
    let policy = match client_policy(&pending.client) {
        Ok(policy) => policy,
        Err(err) => {
            tracing::error!(error = %err, "stored client unreadable");
            return Ok(Step::Refused(Refusal::Page(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorMessage::Internal,
            )));
        }
    };
    let request = match pending.interaction.validate(&policy) {
        Ok(request) => request,
        Err(err) => {
            return Ok(Step::Refused(refuse(
                state,
                &policy,
                &pending.interaction,
                &err,
            )));
        }
    };
    let redirect_error = |code: &str, description: &str| {
        Step::Refused(Refusal::Redirect(error_redirect(
            &state.oidc.config.issuer,
            &request.redirect_uri,
            request.state.as_deref(),
            code,
            description,
        )))
    };
    let now = Timestamp::now();
    let session = current_session(state, headers).await?.filter(|session| {
        // OIDC Core §3.1.2.1: `prompt=login` wants a login after this request arrived;
        // `max_age` bounds how old the login may be.
        // `max_age=0` asks for a login after this request, like `prompt=login`.
        let must_be_new = request.prompt.login || request.max_age == Some(0);
        let fresh = !must_be_new || session.auth_time.as_second() >= pending.interaction.arrived;
        let young = request.max_age.is_none_or(|max| {
            max == 0
                || now.as_second() - session.auth_time.as_second()
                    <= i64::try_from(max).unwrap_or(i64::MAX)
        });
        fresh && young
    });
    let Some(session) = session else {
        if request.prompt.none {
            return Ok(redirect_error(
                "login_required",
                "the person is not logged in",
            ));
        }
        return Ok(Step::Login);
    };
    if session.eid_level < request.min_level {
        tracing::info!("login refused: e-ID level below the client's minimum");
        if request.prompt.none {
            return Ok(redirect_error(
                "interaction_required",
                "the login's e-ID level is below what this client requires",
            ));
        }
        // The person learns why, and may go back to the client, which then learns it too.
        let back = error_url(
            &state.oidc.config.issuer,
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "this client requires a higher e-ID level than the login's",
        );
        return Ok(Step::Refused(Refusal::PageWithReturn(
            StatusCode::FORBIDDEN,
            ErrorMessage::LevelTooLow,
            back,
        )));
    }
    let asked = asked_scopes(&request.scopes);
    let on_record = state
        .store
        .oidc()
        .find_consent(session.person_id, &pending.client.registration.id)
        .await?
        .and_then(|scopes| Scopes::parse(&scopes).ok());
    let covered = on_record.is_some_and(|given| asked.iter().all(|scope| given.contains(*scope)));
    // A guardian is asked each time whom they sign in for, unless no page may be shown.
    let wards = if request.prompt.none {
        Vec::new()
    } else {
        wards(state, session.person_id).await?
    };
    if (covered || asked.is_empty()) && !request.prompt.consent && wards.is_empty() {
        return Ok(Step::Issue(Box::new(request), session));
    }
    if request.prompt.none {
        return Ok(redirect_error(
            "consent_required",
            "the person has not agreed to this request",
        ));
    }
    Ok(Step::Ask(Box::new(request), session, wards))
}

/// A child under 14 in the logged-in person's care, with no account of their own, for whom
/// the person may sign in.
struct Ward {
    /// What the consent form posts to choose the child: derived under the blind-index key,
    /// so that the page carries no internal id.
    choice: String,
    name: String,
    id: PersonId,
}

/// The active children younger than `below` years whom the registry links to `guardian`,
/// with their names.
async fn children_under(
    state: &AppState,
    guardian: PersonId,
    below: u16,
) -> Result<Vec<(PersonId, String)>, StoreError> {
    let now = Timestamp::now();
    let mut children = Vec::new();
    for link in state.store.list_wards(guardian).await? {
        let Some(child) = state.store.find_person(link.child_id).await? else {
            continue;
        };
        let young =
            AgeBracket::age_at(&child.personal.birth_date, now).is_some_and(|age| age < below);
        if child.status == PersonStatus::Active && young {
            children.push((child.id, child.personal.name.as_str().to_owned()));
        }
    }
    Ok(children)
}

/// The active children under 14 the registry links to this guardian.
async fn wards(state: &AppState, guardian: PersonId) -> Result<Vec<Ward>, StoreError> {
    let key = state.store.oidc();
    Ok(children_under(state, guardian, MIN_ENROLMENT_AGE)
        .await?
        .into_iter()
        .map(|(id, name)| {
            let derived = key
                .subject_key()
                .index("oidc-ward-choice", id.to_string().as_bytes());
            Ward {
                choice: URL_SAFE_NO_PAD.encode(&derived[..12]),
                name,
                id,
            }
        })
        .collect())
}

/// `GET /consent`: after login, lists exactly the claims the client will receive.
async fn consent_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PageQuery>,
) -> Response {
    let ctx = match page_context(&headers, query) {
        Ok(ctx) => ctx,
        Err(response) => return *response,
    };
    let pending = match pending(&state, &ctx.tx, false).await {
        Ok(pending) => pending,
        Err(message) => return page_error(ctx.lang, message),
    };
    match decide(&state, &pending, &headers).await {
        Ok(Step::Login) => {
            let mut response = see_other(&ctx.url("/login"));
            if ctx.new_cookie {
                set_cookie(&mut response, CSRF_COOKIE, &ctx.csrf_cookie, 24 * 3600);
            }
            response
        }
        Ok(Step::Ask(request, _, wards)) => {
            let claims = request.scopes.claims();
            let explicit: Vec<&'static str> = request
                .scopes
                .iter()
                .filter(|scope| scope.consent() == Consent::Explicit)
                .map(Scope::as_str)
                .collect();
            let wards: Vec<pages::Ward<'_>> = wards
                .iter()
                .map(|ward| pages::Ward {
                    choice: &ward.choice,
                    name: &ward.name,
                })
                .collect();
            ctx.render(&state, StatusCode::OK, |form| {
                pages::consent(form, &pending.requester(), &claims, &explicit, &wards)
            })
        }
        Ok(Step::Issue(request, session)) => {
            // Consent on record: the interaction is used up here, once.
            match pending_taken(&state, &ctx).await {
                Ok(()) => {
                    issue_code(
                        &state,
                        &pending.client,
                        &request,
                        &session,
                        &request.scopes,
                        None,
                    )
                    .await
                }
                Err(response) => *response,
            }
        }
        Ok(Step::Refused(refusal)) => refusal_response(ctx.lang, refusal),
        Err(err) => page_error(ctx.lang, internal(&err)),
    }
}

async fn pending_taken(state: &AppState, ctx: &PageContext) -> Result<(), Box<Response>> {
    match pending(state, &ctx.tx, true).await {
        Ok(_) => Ok(()),
        Err(message) => Err(Box::new(page_error(ctx.lang, message))),
    }
}

/// `POST /consent`: allow or deny.
async fn consent(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Posted { form, ctx } = match posted(&state, &headers, &body) {
        Ok(posted) => posted,
        Err(response) => return *response,
    };
    let pending = match pending(&state, &ctx.tx, false).await {
        Ok(pending) => pending,
        Err(message) => return page_error(ctx.lang, message),
    };
    let (request, session, wards) = match decide(&state, &pending, &headers).await {
        Ok(Step::Ask(request, session, wards)) => (request, session, wards),
        Ok(Step::Issue(request, session)) => (request, session, Vec::new()),
        Ok(Step::Login) => {
            return see_other(&ctx.url("/login"));
        }
        Ok(Step::Refused(refusal)) => return refusal_response(ctx.lang, refusal),
        Err(err) => return page_error(ctx.lang, internal(&err)),
    };
    // A guardian may sign in for a child in their care; a choice the page did not offer
    // changes nothing.
    let on_behalf = match form.get("act_for") {
        None | Some("self") => None,
        Some(choice) => match wards.iter().find(|ward| ward.choice == choice) {
            Some(ward) => Some(ward.id),
            None => return page_error(ctx.lang, ErrorMessage::BadRequest),
        },
    };
    // Of two posts of one form, one goes on.
    if let Err(response) = pending_taken(&state, &ctx).await {
        return *response;
    }
    if form.get("decision") != Some("allow") {
        return error_redirect(
            &state.oidc.config.issuer,
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "the person declined",
        );
    }
    // A scope that needs explicit agreement goes only if its box was ticked.
    let ticked = form.get("explicit").unwrap_or_default();
    let granted = Scopes::from_scopes(
        request
            .scopes
            .iter()
            .filter(|scope| scope.consent() != Consent::Explicit || ticked == scope.as_str()),
    );
    let client = &pending.client.registration;
    let granted_text = scope_text(&granted);
    let subject = on_behalf.unwrap_or(session.person_id);
    let disclosure = match consent_disclosure(
        subject,
        client.organisation_id,
        &granted,
        on_behalf.is_some(),
    ) {
        Ok(disclosure) => disclosure,
        Err(message) => return page_error(ctx.lang, message),
    };
    if let Err(err) = state
        .store
        .oidc()
        .record_consent(subject, &client.id, &granted_text, &disclosure)
        .await
    {
        return page_error(ctx.lang, internal(&err));
    }
    if on_behalf.is_some() {
        tracing::info!("a guardian signed in for a child under 14");
    }
    issue_code(
        &state,
        &pending.client,
        &request,
        &session,
        &granted,
        on_behalf,
    )
    .await
}

fn scope_text(scopes: &Scopes) -> String {
    scopes
        .iter()
        .map(Scope::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The disclosure record of a consent: the person's own, or a guardian's for a child.
fn consent_disclosure(
    person: PersonId,
    organisation: dinhdanh_store::OrganisationId,
    granted: &Scopes,
    by_guardian: bool,
) -> Result<NewDisclosure, ErrorMessage> {
    let (purpose, legal_basis) = if by_guardian {
        (
            "a guardian's consent to sign in for a child under 14",
            GUARDIAN_BASIS,
        )
    } else {
        ("consent to sign in with the national e-ID", CONSENT_BASIS)
    };
    Ok(NewDisclosure {
        subject: person,
        recipient: Recipient::Organisation(organisation),
        fields: granted.claims(),
        purpose: Purpose::new(purpose).map_err(|err| internal(&format!("{err:?}")))?,
        legal_basis,
    })
}

/// Records the grant with a fresh authorization code and sends the code to the client
/// (RFC 6749 §4.1.2, RFC 9207 `iss`). `on_behalf` is the child a guardian signs in for: the
/// grant is then the child's, with the logged-in guardian as its actor.
async fn issue_code(
    state: &AppState,
    client: &Client,
    request: &ValidatedAuthorization,
    session: &LoginSession,
    granted: &Scopes,
    on_behalf: Option<PersonId>,
) -> Response {
    let Ok(code) = random_reference() else {
        return page_error(Lang::Vi, ErrorMessage::Internal);
    };
    let now = Timestamp::now();
    let grant = NewGrant {
        client_id: client.registration.id.clone(),
        person_id: on_behalf.unwrap_or(session.person_id),
        actor_id: on_behalf.map(|_| session.person_id),
        scopes: scope_text(granted),
        redirect_uri: request.redirect_uri.as_str().to_owned(),
        code_challenge: request.challenge.encoded(),
        nonce: request.nonce.clone(),
        eid_level: session.eid_level,
        auth_time: session.auth_time,
    };
    let token = NewToken {
        hash: TokenHash::of(&code),
        kind: TokenKind::Code,
        expires_at: now + seconds(state.oidc.config.code_ttl_seconds),
    };
    // The subject the client will receive is recorded first, so that the client can later
    // name this person by it (account bindings).
    let oidc = state.store.oidc();
    let recorded = async {
        let sector = SectorIdentifier::new(&client.registration.sector)
            .map_err(|_| StoreError::Corrupt("oidc_clients.sector"))?;
        let subject = SubjectKey::new(oidc.subject_key())
            .subject(&sector, grant.person_id.as_uuid().as_bytes());
        oidc.record_subject(
            &client.registration.sector,
            subject.as_str(),
            grant.person_id,
        )
        .await?;
        oidc.insert_grant(&grant, &token).await
    };
    if let Err(err) = recorded.await {
        return page_error(Lang::Vi, internal(&err));
    }
    let issuer = state.oidc.config.issuer.as_str();
    let mut pairs = vec![("code", code.as_str())];
    if let Some(client_state) = request.state.as_deref() {
        pairs.push(("state", client_state));
    }
    pairs.push(("iss", issuer));
    redirect_to_client(&request.redirect_uri, &pairs)
}
