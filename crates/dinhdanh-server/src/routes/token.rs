//! `POST /token` (RFC 6749 §3.2, OIDC Core §3.1.3), `GET|POST /userinfo` (OIDC Core §5.3) and
//! `POST /revoke` (RFC 7009).
//!
//! A code is redeemed once: the store's conditional update decides, and a second redemption
//! revokes the grant with every token it issued. Each ID token and userinfo answer is written
//! to the disclosure log in the same transaction as the tokens, before it is sent.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dinhdanh_core::PersonStatus;
use dinhdanh_crypto::TokenHash;
use dinhdanh_crypto::jose;
use dinhdanh_oidc::{
    Acr, CodeChallenge, CodeVerifier, PersonFacts, Scope, Scopes, SectorIdentifier, ServiceScopes,
    SubjectKey, release_claims,
};
use dinhdanh_store::{
    Client, Grant, Issued, NewDisclosure, NewToken, Purpose, Recipient, RedeemedGrant, Redemption,
    ServiceToken, TokenKind, disclose,
};
use jiff::Timestamp;
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::client_auth;
use crate::provider::{FormPairs, OAuthError, random_reference};
use crate::routes::authorize::seconds;
use crate::routes::discovery::{REVOCATION_PATH, TOKEN_PATH, USERINFO_PATH};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route(USERINFO_PATH, get(userinfo).post(userinfo))
        .route(REVOCATION_PATH, post(revoke))
}

/// The legal basis recorded for what a relying party receives: the person agreed (or, for
/// scopes that need no agreement, asked to sign in).
const SIGN_IN_BASIS: &str = "data-subject-consent";

/// The token endpoint.
#[utoipa::path(post, path = "/token", tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded",
        description = "`authorization_code` (with `code`, `redirect_uri`, `code_verifier`), `refresh_token`, or `client_credentials` (with an optional `scope` of service scopes), with client authentication"),
    responses(
        (status = 200, description = "access token, ID token and, with offline_access, a refresh token"),
        (status = 400, description = "OAuth error (RFC 6749 §5.2)"),
        (status = 401, description = "client authentication failed")))]
pub(crate) async fn token(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (client, form) = client_auth::authenticated_form(&state, &headers, &body).await?;
    match form.get("grant_type") {
        Some("authorization_code") => exchange_code(&state, &client, &form).await,
        Some("refresh_token") => refresh(&state, &client, &form).await,
        Some("client_credentials") => client_credentials(&state, &client, &form).await,
        Some(_) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )),
        None => Err(OAuthError::invalid_request("grant_type is required")),
    }
}

/// RFC 6749 §4.4: a client's own access token, for the service APIs that the kind of its
/// organisation allows (`ServiceScope::allowed_for`). No person stands behind it, so it
/// releases nothing about anyone by itself.
async fn client_credentials(
    state: &AppState,
    client: &Client,
    form: &FormPairs,
) -> Result<Response, OAuthError> {
    let invalid_scope =
        |text: &str| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", text);
    let kind = state
        .store
        .find_organisation(client.registration.organisation_id)
        .await?
        .ok_or_else(|| OAuthError::internal(&"a client's organisation is missing"))?
        .kind;
    let allowed = ServiceScopes::allowed_for(kind);
    if allowed.is_empty() {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "the client's organisation has no service APIs",
        ));
    }
    // RFC 6749 §3.3: without `scope`, the client gets what it may hold.
    let scopes = match form.get("scope") {
        None => allowed.clone(),
        Some(text) => ServiceScopes::parse(text)
            .map_err(|_| invalid_scope("scope names an unknown service scope or is malformed"))?,
    };
    if !scopes.is_subset(&allowed) {
        return Err(invalid_scope(
            "the client's organisation may not hold this service scope",
        ));
    }
    let access = random_reference().map_err(|err| OAuthError::internal(&err))?;
    let ttl = state.oidc.config.access_ttl_seconds;
    let token = ServiceToken {
        client_id: client.registration.id.clone(),
        scopes: scopes.to_string(),
        expires_at: Timestamp::now() + seconds(ttl),
    };
    state
        .store
        .oidc()
        .insert_service_token(&TokenHash::of(&access), &token)
        .await?;
    let body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": ttl,
        "scope": token.scopes,
    });
    Ok(json_no_store(body.to_string()))
}

fn redemption_error(redemption: &Redemption, what: &str) -> OAuthError {
    OAuthError::invalid_grant(match redemption {
        Redemption::Replayed => {
            format!("the {what} was used before; everything issued with it is now revoked")
        }
        Redemption::Expired => format!("the {what} has expired"),
        Redemption::Revoked => format!("the {what} was revoked"),
        Redemption::Unknown | Redemption::Redeemed(_) => format!("the {what} is not valid"),
    })
}

/// Refuses a redeemed grant for a mismatch, revoking it: the code is spent, and whoever
/// holds it with the wrong verifier or client should get nothing from it later either.
async fn refuse_grant(
    state: &AppState,
    grant: &Grant,
    description: &'static str,
) -> Result<Response, OAuthError> {
    state.store.oidc().revoke_grant(grant.id).await?;
    Err(OAuthError::invalid_grant(description))
}

async fn exchange_code(
    state: &AppState,
    client: &Client,
    form: &FormPairs,
) -> Result<Response, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let redirect_uri = form
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is required"))?;
    // OAuth 2.1 §4.1.3: PKCE is required; a malformed verifier is refused before the code
    // is spent.
    let verifier = CodeVerifier::parse(
        form.get("code_verifier")
            .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE)"))?,
    )
    .map_err(|_| OAuthError::invalid_request("code_verifier is malformed (RFC 7636 §4.1)"))?;
    let now = Timestamp::now();
    let redemption = state
        .store
        .oidc()
        .redeem(TokenKind::Code, &TokenHash::of(code), now)
        .await?;
    let Redemption::Redeemed(redeemed) = redemption else {
        if redemption == Redemption::Replayed {
            tracing::warn!("authorization code replayed: its grant is revoked");
        }
        return Err(redemption_error(&redemption, "authorization code"));
    };
    let grant = &redeemed.grant;
    if grant.grant.client_id != client.registration.id {
        return refuse_grant(state, grant, "the code was issued to another client").await;
    }
    if grant.grant.redirect_uri != redirect_uri {
        return refuse_grant(
            state,
            grant,
            "redirect_uri differs from the authorization request",
        )
        .await;
    }
    let challenge = CodeChallenge::from_encoded(&grant.grant.code_challenge)
        .map_err(|_| OAuthError::internal(&"stored code challenge unreadable"))?;
    if challenge.verify(&verifier).is_err() {
        return refuse_grant(
            state,
            grant,
            "code_verifier does not match the code challenge",
        )
        .await;
    }
    issue(state, client, &redeemed, None, now).await
}

async fn refresh(
    state: &AppState,
    client: &Client,
    form: &FormPairs,
) -> Result<Response, OAuthError> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let now = Timestamp::now();
    let hash = TokenHash::of(presented);
    // OAuth 2.1 §6.1: refresh tokens rotate, and presenting a used one revokes the grant.
    // The token is spent in the same transaction that writes the new ones (`issue`), so a
    // failure on the way never leaves the client without a usable refresh token.
    let redemption = state
        .store
        .oidc()
        .peek(TokenKind::Refresh, &hash, now)
        .await?;
    let Redemption::Redeemed(mut redeemed) = redemption else {
        if redemption == Redemption::Replayed {
            tracing::warn!("refresh token replayed: its grant is revoked");
        }
        return Err(redemption_error(&redemption, "refresh token"));
    };
    let grant = &redeemed.grant.grant;
    if grant.client_id != client.registration.id {
        return Err(OAuthError::invalid_grant("the refresh token is not valid"));
    }
    if let Some(scope) = form.get("scope") {
        let invalid_scope =
            |text: &str| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", text);
        let asked = Scopes::parse(scope).map_err(|_| invalid_scope("scope is malformed"))?;
        let granted = Scopes::parse(&grant.scopes)
            .map_err(|_| OAuthError::internal(&"stored scopes unreadable"))?;
        if !asked.is_subset(&granted) {
            return Err(invalid_scope("a refresh may not widen the grant"));
        }
        // RFC 6749 §6: a narrower scope for this answer; the grant keeps its own.
        redeemed.grant.grant.scopes = scope.to_owned();
    }
    issue(state, client, &redeemed, Some(&hash), now).await
}

/// The person's facts and the claims the grant releases, with the pairwise `sub`.
async fn released(
    state: &AppState,
    client: &Client,
    redeemed: &RedeemedGrant,
    now: Timestamp,
) -> Result<Option<(Scopes, Map<String, Value>)>, OAuthError> {
    let RedeemedGrant { grant, person } = redeemed;
    if person.status != PersonStatus::Active {
        return Ok(None);
    }
    let scopes = Scopes::parse(&grant.grant.scopes)
        .map_err(|_| OAuthError::internal(&"stored scopes unreadable"))?;
    // The person's newest line that an operator verified against the registry and whose
    // face check it attested, still active and not reported as someone else's; read only
    // when the grant asks for it.
    let phone = if scopes.contains(Scope::Phone) {
        state
            .store
            .subscriptions()
            .verified_msisdn(grant.grant.person_id)
            .await?
            .map(|msisdn| msisdn.as_str().to_owned())
    } else {
        None
    };
    let facts = PersonFacts {
        active: true,
        eid_level: grant.grant.eid_level,
        birth_date: person.personal.birth_date,
        name: person.personal.name.as_str().to_owned(),
        phone,
    };
    let mut claims = release_claims(&scopes, &facts, now);
    let sector = SectorIdentifier::new(&client.registration.sector)
        .map_err(|_| OAuthError::internal(&"stored sector unreadable"))?;
    let oidc = state.store.oidc();
    let subjects = SubjectKey::new(oidc.subject_key());
    let subject = subjects.subject(&sector, grant.grant.person_id.as_uuid().as_bytes());
    claims.insert("sub".into(), subject.as_str().into());
    // A guardian signed in for a child: the client learns that, and who acted, under the
    // guardian's own pairwise subject (RFC 8693 §4.1 `act`).
    if let Some(actor) = grant.grant.actor_id {
        let guardian = state.store.find_person(actor).await?;
        if guardian.is_none_or(|guardian| guardian.status != PersonStatus::Active) {
            return Ok(None);
        }
        let actor = subjects.subject(&sector, actor.as_uuid().as_bytes());
        claims.insert("act".into(), json!({ "sub": actor.as_str() }));
    }
    Ok(Some((scopes, claims)))
}

/// The claim names a disclosure record lists: the released claims, by their static names.
fn disclosed_fields(
    scopes: &Scopes,
    claims: &Map<String, Value>,
    extra: &'static str,
) -> Vec<&'static str> {
    let mut fields = vec![extra];
    if claims.contains_key("act") {
        fields.push("act");
    }
    fields.extend(
        scopes
            .claims()
            .into_iter()
            .filter(|name| claims.contains_key(*name)),
    );
    fields
}

/// Signs and issues the tokens of a redeemed grant. With `spending`, the refresh token
/// presented is spent in the same transaction that records the new ones.
async fn issue(
    state: &AppState,
    client: &Client,
    redeemed: &RedeemedGrant,
    spending: Option<&TokenHash>,
    now: Timestamp,
) -> Result<Response, OAuthError> {
    let oidc = state.store.oidc();
    let config = &state.oidc.config;
    let grant = &redeemed.grant;
    let Some((scopes, claims)) = released(state, client, redeemed, now).await? else {
        oidc.revoke_grant(grant.id).await?;
        return Err(OAuthError::invalid_grant(
            "the person's record no longer allows signing in",
        ));
    };
    let registration = &client.registration;
    let mut id_token = claims.clone();
    id_token.insert("iss".into(), config.issuer.clone().into());
    id_token.insert("aud".into(), registration.id.clone().into());
    id_token.insert("iat".into(), now.as_second().into());
    id_token.insert(
        "exp".into(),
        (now + seconds(config.access_ttl_seconds))
            .as_second()
            .into(),
    );
    id_token.insert("auth_time".into(), grant.grant.auth_time.as_second().into());
    if let Some(acr) = Acr::of_level(grant.grant.eid_level) {
        id_token.insert("acr".into(), acr.as_str().into());
    }
    if let Some(nonce) = &grant.grant.nonce {
        id_token.insert("nonce".into(), nonce.clone().into());
    }
    let payload = serde_json::to_vec(&id_token).map_err(|err| OAuthError::internal(&err))?;
    let key = state
        .oidc
        .signing_key(state.store.as_ref(), registration.id_token_alg)
        .await?;
    let id_token = jose::sign_compact(&key, Some("JWT"), &payload)
        .map_err(|err| OAuthError::internal(&err))?;

    let access = random_reference().map_err(|err| OAuthError::internal(&err))?;
    let mut tokens = vec![NewToken {
        hash: TokenHash::of(&access),
        kind: TokenKind::Access,
        expires_at: now + seconds(config.access_ttl_seconds),
    }];
    let mut body = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": config.access_ttl_seconds,
        "id_token": id_token,
        "scope": scopes.iter().map(Scope::as_str).collect::<Vec<_>>().join(" "),
    });
    if scopes.contains(Scope::OfflineAccess) {
        let refresh = random_reference().map_err(|err| OAuthError::internal(&err))?;
        tokens.push(NewToken {
            hash: TokenHash::of(&refresh),
            kind: TokenKind::Refresh,
            expires_at: now + seconds(config.refresh_ttl_seconds),
        });
        body["refresh_token"] = refresh.into();
    }
    let disclosure = NewDisclosure {
        subject: grant.grant.person_id,
        recipient: Recipient::Organisation(registration.organisation_id),
        fields: disclosed_fields(&scopes, &claims, "id_token"),
        purpose: sign_in_purpose()?,
        legal_basis: SIGN_IN_BASIS,
    };
    let body = serde_json::to_string(&body).map_err(|err| OAuthError::internal(&err))?;
    let issued = oidc
        .issue_tokens(
            grant.id,
            spending.map(|hash| (hash, now)),
            &tokens,
            &disclosure,
            body,
        )
        .await?;
    let disclosed = match issued {
        Issued::Disclosed(disclosed) => disclosed,
        Issued::Refused(Redemption::Revoked) => {
            return Err(OAuthError::invalid_grant("the grant was revoked"));
        }
        Issued::Refused(redemption) => {
            if redemption == Redemption::Replayed {
                tracing::warn!("refresh token replayed: its grant is revoked");
            }
            return Err(redemption_error(&redemption, "refresh token"));
        }
    };
    Ok(json_no_store(disclosed.value().clone()))
}

fn sign_in_purpose() -> Result<Purpose, OAuthError> {
    Purpose::new("sign in with the national e-ID").map_err(|_| OAuthError::internal(&"purpose"))
}

/// RFC 6749 §5.1: token responses are never cached.
fn json_no_store(body: String) -> Response {
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The userinfo endpoint: the grant's claims for a live access token.
#[utoipa::path(get, path = "/userinfo", tag = "oidc",
    responses(
        (status = 200, description = "the claims the grant releases, with the pairwise `sub`"),
        (status = 401, description = "missing, unknown, expired or revoked access token (RFC 6750 §3.1)")))]
pub(crate) async fn userinfo(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or_else(|| OAuthError::invalid_token("an access token is required"))?;
    let now = Timestamp::now();
    let found = state
        .store
        .oidc()
        .find_token(&TokenHash::of(presented))
        .await?
        .filter(|found| {
            found.kind == TokenKind::Access
                && found.expires_at > now
                && found.grant.revoked_at.is_none()
        })
        .ok_or_else(|| {
            OAuthError::invalid_token("the access token is unknown, expired or revoked")
        })?;
    let client = state
        .store
        .oidc()
        .find_client(&found.grant.grant.client_id)
        .await?
        .filter(|client| client.disabled_at.is_none())
        .ok_or_else(|| OAuthError::invalid_token("the access token's client is disabled"))?;
    let refused = || OAuthError::invalid_token("the person's record no longer allows it");
    let person = state
        .store
        .find_person(found.grant.grant.person_id)
        .await?
        .ok_or_else(refused)?;
    let redeemed = RedeemedGrant {
        grant: found.grant,
        person,
    };
    let Some((scopes, claims)) = released(&state, &client, &redeemed, now).await? else {
        return Err(refused());
    };
    let found = redeemed;
    let disclosure = NewDisclosure {
        subject: found.grant.grant.person_id,
        recipient: Recipient::Organisation(client.registration.organisation_id),
        fields: disclosed_fields(&scopes, &claims, "userinfo"),
        purpose: sign_in_purpose()?,
        legal_basis: SIGN_IN_BASIS,
    };
    let body = serde_json::to_string(&claims).map_err(|err| OAuthError::internal(&err))?;
    let disclosed = disclose(state.log.as_ref(), disclosure, body).await?;
    Ok(json_no_store(disclosed.value().clone()))
}

/// RFC 7009: revokes the grant of a token the client holds. Unknown tokens, and tokens of
/// other clients, get the same 200 (RFC 7009 §2.2), and nothing changes for them.
#[utoipa::path(post, path = "/revoke", tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded",
        description = "`token` and optional `token_type_hint`, with client authentication"),
    responses(
        (status = 200, description = "revoked, or nothing to revoke"),
        (status = 401, description = "client authentication failed")))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthError> {
    let (client, form) = client_auth::authenticated_form(&state, &headers, &body).await?;
    let presented = form
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
    let oidc = state.store.oidc();
    let hash = TokenHash::of(presented);
    if let Some(found) = oidc.find_token(&hash).await?
        && found.grant.grant.client_id == client.registration.id
    {
        oidc.revoke_grant(found.grant.id).await?;
    }
    // A client's own access token (client credentials) ends the same way.
    oidc.delete_service_token(&hash, &client.registration.id)
        .await?;
    let mut response = StatusCode::OK.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
