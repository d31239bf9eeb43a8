//! `POST /par` (RFC 9126) and `GET /authorize` (OIDC Core §3.1.2): where an authorization
//! request enters. Each is validated by `dinhdanh-oidc` against its client; a valid one is
//! kept in the store as an interaction, and the browser goes on to log in and consent
//! (`routes/interaction.rs`).
//!
//! Errors that cannot safely go back to the client (unknown client, unregistered redirect URI)
//! are shown to the person; the rest are redirected to the client (RFC 6749 §4.1.2.1).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dinhdanh_crypto::TokenHash;
use dinhdanh_oidc::{
    AuthorizationError, AuthorizationParams, ClientId, ClientPolicy, RedirectUri, Scopes,
    SectorIdentifier, ValidatedAuthorization,
};
use dinhdanh_store::{Client, PendingRequest, RequestKind};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::client_auth;
use crate::pages::{self, ErrorMessage, Lang};
use crate::provider::{FormPairs, OAuthError, random_reference};
use crate::routes::discovery::PAR_PATH;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(PAR_PATH, post(push))
        .route("/authorize", get(authorize))
}

/// RFC 9126 §2.2: the prefix of every `request_uri` the provider hands out.
const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// An authorization request between its arrival and the person's consent: the parameters as
/// received, whether they were pushed, and when the request arrived (for `prompt=login`).
#[derive(Serialize, Deserialize)]
pub(crate) struct Interaction {
    pub(crate) pushed: bool,
    pub(crate) params: Vec<(String, String)>,
    pub(crate) arrived: i64,
}

impl Interaction {
    /// Validates the parameters again against the client as it is now registered.
    pub(crate) fn validate(
        &self,
        policy: &ClientPolicy,
    ) -> Result<ValidatedAuthorization, AuthorizationError> {
        ValidatedAuthorization::validate(
            &AuthorizationParams::new(self.params.clone()),
            policy,
            self.pushed,
        )
    }
}

/// The engine's view of a stored client. The store holds only what registration validated,
/// so a failure here means the row was altered.
pub(crate) fn client_policy(client: &Client) -> Result<ClientPolicy, String> {
    let registration = &client.registration;
    let uris = registration
        .redirect_uris
        .iter()
        .map(|uri| RedirectUri::new(uri))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| err.to_string())?;
    ClientPolicy::new(
        ClientId::new(&registration.id).map_err(|err| err.to_string())?,
        uris,
        Some(SectorIdentifier::new(&registration.sector).map_err(|err| err.to_string())?),
        Scopes::parse(&registration.scopes).map_err(|err| err.to_string())?,
        registration.require_par,
        registration.min_level,
    )
    .map_err(|err| err.to_string())
}

/// Where the person is sent back with an error (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
pub(crate) fn error_redirect(
    issuer: &str,
    redirect_uri: &RedirectUri,
    state: Option<&str>,
    code: &str,
    description: &str,
) -> Response {
    see_other(&error_url(issuer, redirect_uri, state, code, description))
}

/// The client's redirect URI carrying an error (RFC 6749 §4.1.2.1, RFC 9207 `iss`).
pub(crate) fn error_url(
    issuer: &str,
    redirect_uri: &RedirectUri,
    state: Option<&str>,
    code: &str,
    description: &str,
) -> String {
    let mut pairs = vec![("error", code), ("error_description", description)];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    client_url(redirect_uri, &pairs)
}

/// A 303 to the client's redirect URI with `pairs` added to its query.
pub(crate) fn redirect_to_client(redirect_uri: &RedirectUri, pairs: &[(&str, &str)]) -> Response {
    see_other(&client_url(redirect_uri, pairs))
}

fn client_url(redirect_uri: &RedirectUri, pairs: &[(&str, &str)]) -> String {
    let mut target = redirect_uri.as_str().to_owned();
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    target.push(if target.contains('?') { '&' } else { '?' });
    target.push_str(&query.finish());
    target
}

/// A 303 See Other to `location`, not cached.
pub(crate) fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An HTML page with the headers every provider page carries.
pub(crate) fn html(status: StatusCode, body: String) -> Response {
    let mut response = (status, axum::response::Html(body)).into_response();
    let headers = response.headers_mut();
    // Scripts only from this origin: the passkey pages load `/assets/passkey.js`, and nothing
    // inline runs. No `form-action`: browsers apply it to the redirect that follows a form post, which
    // here goes to the client.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// An error page in the person's language.
pub(crate) fn error_page(lang: Lang, status: StatusCode, message: ErrorMessage) -> Response {
    html(status, pages::error(lang, message))
}

/// RFC 9126 §2: a client pushes its authorization request and receives a `request_uri`.
#[utoipa::path(post, path = "/par", tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded",
        description = "authorization request parameters with client authentication"),
    responses(
        (status = 201, description = "`request_uri` and `expires_in` (RFC 9126 §2.2)"),
        (status = 400, description = "OAuth error (RFC 9126 §2.3)"),
        (status = 401, description = "client authentication failed")))]
pub(crate) async fn push(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (client, mut form) = client_auth::authenticated_form(&state, &headers, &body).await?;
    let config = &state.oidc.config;
    if form.get("request_uri").is_some() {
        return Err(OAuthError::invalid_request(
            "request_uri may not be pushed (RFC 9126 §2.1)",
        ));
    }
    if form.get("client_id").is_none() {
        form.0
            .push(("client_id".to_owned(), client.registration.id.clone()));
    }
    // Client authentication parameters are not part of the authorization request.
    form.0.retain(|(name, _)| {
        !matches!(
            name.as_str(),
            "client_assertion" | "client_assertion_type" | "client_secret"
        )
    });
    let policy = client_policy(&client).map_err(|err| OAuthError::internal(&err))?;
    let params = AuthorizationParams::new(form.0.clone());
    if let Err(err) = ValidatedAuthorization::validate(&params, &policy, true) {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            err.code.as_str(),
            err.description,
        ));
    }
    let reference = random_reference().map_err(|err| OAuthError::internal(&err))?;
    let request_uri = format!("{REQUEST_URI_PREFIX}{reference}");
    let now = Timestamp::now();
    let interaction = Interaction {
        pushed: true,
        params: form.0,
        arrived: now.as_second(),
    };
    state
        .store
        .oidc()
        .insert_authorization_request(
            &TokenHash::of(&request_uri),
            RequestKind::Pushed,
            &PendingRequest {
                client_id: client.registration.id.clone(),
                params: serde_json::to_string(&interaction)
                    .map_err(|err| OAuthError::internal(&err))?,
                expires_at: now + seconds(config.par_ttl_seconds),
            },
        )
        .await?;
    let mut response = (
        StatusCode::CREATED,
        axum::Json(json!({
            "request_uri": request_uri,
            "expires_in": config.par_ttl_seconds,
        })),
    )
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// A duration of `n` seconds for timestamp arithmetic.
pub(crate) fn seconds(n: u64) -> SignedDuration {
    SignedDuration::from_secs(i64::try_from(n).unwrap_or(i64::MAX / 2))
}

/// OIDC Core §3.1.2.1: the authorization endpoint, by query string or pushed `request_uri`.
#[utoipa::path(get, path = "/authorize", tag = "oidc",
    params(("client_id" = String, Query, description = "the client"),
        ("request_uri" = Option<String>, Query, description = "from /par (RFC 9126 §4)")),
    responses(
        (status = 303, description = "to the login or consent page, or back to the client with an error"),
        (status = 400, description = "an HTML page when the request cannot go back to the client")))]
pub(crate) async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|value| value.to_str().ok());
    let Ok(pairs) = FormPairs::parse(query.as_bytes()) else {
        return error_page(
            Lang::negotiate(None, accept),
            StatusCode::BAD_REQUEST,
            ErrorMessage::BadRequest,
        );
    };
    // OIDC Core §3.1.2.1 `ui_locales`: the first one the pages speak wins.
    let lang = Lang::negotiate(pairs.get("ui_locales").map(first_locale), accept);
    match start(&state, &pairs).await {
        Ok(tx) => see_other(&format!("/consent?tx={tx}&lang={}", lang.code())),
        Err(refusal) => refusal_response(lang, refusal),
    }
}

fn first_locale(locales: &str) -> &str {
    let first = locales.split(' ').next().unwrap_or_default();
    first.split('-').next().unwrap_or_default()
}

/// Why an authorization request went no further.
pub(crate) enum Refusal {
    /// Shown to the person.
    Page(StatusCode, ErrorMessage),
    /// Shown to the person, with a link back to the client that tells it the error.
    PageWithReturn(StatusCode, ErrorMessage, String),
    /// Sent back to the client.
    Redirect(Response),
}

/// The answer to a refused request: a page, a page with a way back, or a redirect.
pub(crate) fn refusal_response(lang: Lang, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Page(status, message) => error_page(lang, status, message),
        Refusal::PageWithReturn(status, message, back) => {
            html(status, pages::error_with_return(lang, message, Some(&back)))
        }
        Refusal::Redirect(response) => response,
    }
}

impl From<dinhdanh_store::StoreError> for Refusal {
    fn from(err: dinhdanh_store::StoreError) -> Self {
        tracing::error!(error = %err, "store error during authorization");
        Refusal::Page(StatusCode::INTERNAL_SERVER_ERROR, ErrorMessage::Internal)
    }
}

/// Validates the request and keeps it as an interaction; returns the transaction reference.
async fn start(state: &AppState, query: &FormPairs) -> Result<String, Refusal> {
    let oidc = state.store.oidc();
    let now = Timestamp::now();
    let client_id = query.get("client_id").ok_or(Refusal::Page(
        StatusCode::BAD_REQUEST,
        ErrorMessage::UnknownClient,
    ))?;
    let interaction = match query.get("request_uri") {
        Some(request_uri) => {
            // RFC 9126 §4: the pushed parameters are the request; the query adds nothing.
            let pushed = oidc
                .take_authorization_request(&TokenHash::of(request_uri), RequestKind::Pushed, now)
                .await?
                .filter(|pending| pending.client_id == client_id)
                .ok_or(Refusal::Page(
                    StatusCode::BAD_REQUEST,
                    ErrorMessage::Expired,
                ))?;
            serde_json::from_str::<Interaction>(&pushed.params).map_err(|err| {
                tracing::error!(error = %err, "stored pushed request unreadable");
                Refusal::Page(StatusCode::INTERNAL_SERVER_ERROR, ErrorMessage::Internal)
            })?
        }
        None => Interaction {
            pushed: false,
            params: query.0.clone(),
            arrived: now.as_second(),
        },
    };
    let client = oidc
        .find_client(client_id)
        .await?
        .filter(|client| client.disabled_at.is_none())
        .ok_or(Refusal::Page(
            StatusCode::BAD_REQUEST,
            ErrorMessage::UnknownClient,
        ))?;
    let policy = client_policy(&client).map_err(|err| {
        tracing::error!(error = %err, "stored client unreadable");
        Refusal::Page(StatusCode::INTERNAL_SERVER_ERROR, ErrorMessage::Internal)
    })?;
    if let Err(err) = interaction.validate(&policy) {
        return Err(refuse(state, &policy, &interaction, &err));
    }
    let tx = random_reference().map_err(|err| {
        tracing::error!(error = %err, "no randomness");
        Refusal::Page(StatusCode::INTERNAL_SERVER_ERROR, ErrorMessage::Internal)
    })?;
    oidc.insert_authorization_request(
        &TokenHash::of(&tx),
        RequestKind::Interaction,
        &PendingRequest {
            client_id: client.registration.id.clone(),
            params: serde_json::to_string(&interaction).map_err(|err| {
                tracing::error!(error = %err, "interaction not serialisable");
                Refusal::Page(StatusCode::INTERNAL_SERVER_ERROR, ErrorMessage::Internal)
            })?,
            expires_at: now + seconds(state.oidc.config.interaction_ttl_seconds),
        },
    )
    .await?;
    Ok(tx)
}

/// Turns a validation error into a page or a redirect, as RFC 6749 §4.1.2.1 requires.
pub(crate) fn refuse(
    state: &AppState,
    policy: &ClientPolicy,
    interaction: &Interaction,
    err: &AuthorizationError,
) -> Refusal {
    if !err.redirectable {
        tracing::info!(description = %err.description, "authorization request refused");
        return Refusal::Page(StatusCode::BAD_REQUEST, ErrorMessage::BadRedirectUri);
    }
    let param = |name: &str| {
        interaction
            .params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    // A redirectable error means the redirect URI matched a registered one.
    let Some(redirect_uri) = param("redirect_uri").and_then(|uri| policy.redirect_uri(uri)) else {
        return Refusal::Page(StatusCode::BAD_REQUEST, ErrorMessage::BadRedirectUri);
    };
    Refusal::Redirect(error_redirect(
        &state.oidc.config.issuer,
        redirect_uri,
        param("state"),
        err.code.as_str(),
        &err.description,
    ))
}
