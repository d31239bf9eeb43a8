//! Client authentication at the PAR, token and revocation endpoints: `private_key_jwt` (OIDC
//! Core §9, RFC 7523) with ML-DSA, EdDSA or ES256 keys, and `client_secret_basic` (RFC 6749
//! §2.3.1) for legacy clients. A client may use only the method it registered.
//!
//! Every failure is the same `invalid_client` to the caller; the log names the reason.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dinhdanh_crypto::TokenHash;
use dinhdanh_crypto::jose::{self, ClaimChecks, Jwks};
use dinhdanh_store::{Client, ClientAuth};
use serde_json::Value;

use crate::AppState;
use crate::provider::{FormPairs, OAuthError, is_form};
use crate::routes::discovery;

/// RFC 7523 §2.2: the only assertion type accepted.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest an assertion may live, in seconds, which bounds how long its `jti` is kept.
/// An hour, with a minute of clock skew: common client libraries (authlib among them) make
/// assertions that live an hour by default.
const MAX_ASSERTION_LIFETIME: i64 = 3660;

/// Clock skew allowed on an assertion's times, in seconds.
const LEEWAY: i64 = 30;

/// Authenticates the client of a request to the PAR, token or revocation endpoint. An assertion's
/// `aud` must name this server: its issuer identifier (RFC 9126 §2, RFC 7523bis) or one of its
/// endpoints that take client authentication (RFC 7523 §3 item 3). An assertion made for any
/// other server is never accepted.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &FormPairs,
) -> Result<Client, OAuthError> {
    let basic = headers.get(header::AUTHORIZATION);
    let assertion = form.get("client_assertion");
    match (basic, assertion) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request(
            "use one client authentication method, not two",
        )),
        (Some(value), None) => secret_basic(state, value.to_str().unwrap_or_default(), form).await,
        (None, Some(assertion)) => private_key_jwt(state, assertion, form).await,
        (None, None) => Err(OAuthError::invalid_client(
            "client authentication is required (private_key_jwt or client_secret_basic)",
        )),
    }
}

/// The form body of a request to the PAR, token or revocation endpoint, and the client that
/// authenticated it.
pub(crate) async fn authenticated_form(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Client, FormPairs), OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let form = FormPairs::parse(body).map_err(OAuthError::invalid_request)?;
    let client = authenticate(state, headers, &form).await?;
    Ok((client, form))
}

fn refused(reason: &str) -> OAuthError {
    tracing::info!(reason, "client authentication failed");
    OAuthError::invalid_client("client authentication failed")
}

async fn usable_client(state: &AppState, id: &str) -> Result<Client, OAuthError> {
    match state.oidc.client(state.store.as_ref(), id).await? {
        Some(client) if client.disabled_at.is_none() => Ok(client),
        Some(_) => Err(refused("client disabled")),
        None => Err(refused("unknown client")),
    }
}

async fn secret_basic(
    state: &AppState,
    header: &str,
    form: &FormPairs,
) -> Result<Client, OAuthError> {
    let (scheme, encoded) = header
        .split_once(' ')
        .ok_or_else(|| refused("malformed Basic"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(refused("not Basic"));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| refused("malformed Basic"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| refused("malformed Basic"))?;
    // RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    let decode = |text: &str| -> String {
        form_urlencoded::parse(format!("v={text}").as_bytes())
            .next()
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default()
    };
    let (id, secret) = (decode(id), decode(secret));
    if form.get("client_id").is_some_and(|named| named != id) {
        return Err(OAuthError::invalid_request(
            "client_id differs from the authenticated client",
        ));
    }
    let client = usable_client(state, &id).await?;
    match &client.registration.auth {
        ClientAuth::SecretBasic { secret_hash } if TokenHash::of(&secret).matches(secret_hash) => {
            Ok(client)
        }
        ClientAuth::SecretBasic { .. } => Err(refused("wrong secret")),
        ClientAuth::PrivateKeyJwt { .. } => Err(refused("client registered private_key_jwt")),
    }
}

/// The `iss` of an assertion's payload, read before verification only to find whose keys to
/// verify it with; the verified claims must then agree.
fn unverified_issuer(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

async fn private_key_jwt(
    state: &AppState,
    assertion: &str,
    form: &FormPairs,
) -> Result<Client, OAuthError> {
    if form.get("client_assertion_type") != Some(JWT_BEARER) {
        return Err(OAuthError::invalid_request(format!(
            "client_assertion_type must be {JWT_BEARER}"
        )));
    }
    let id = match form.get("client_id") {
        Some(id) => id.to_owned(),
        None => unverified_issuer(assertion).ok_or_else(|| refused("no issuer"))?,
    };
    let client = usable_client(state, &id).await?;
    let ClientAuth::PrivateKeyJwt { jwks } = &client.registration.auth else {
        return Err(refused("client registered client_secret_basic"));
    };
    let keys = Jwks::from_json(jwks.as_bytes()).map_err(|err| OAuthError::internal(&err))?;
    let verified = jose::verify_compact_with_set(assertion, &keys).map_err(|err| {
        tracing::info!(error = %err, "client assertion refused");
        refused("assertion signature")
    })?;
    let config = &state.oidc.config;
    let now = jiff::Timestamp::now().as_second();
    let endpoints = [
        config.endpoint(discovery::TOKEN_PATH),
        config.endpoint(discovery::PAR_PATH),
        config.endpoint(discovery::REVOCATION_PATH),
    ];
    let audiences =
        std::iter::once(config.issuer.as_str()).chain(endpoints.iter().map(String::as_str));
    let mut claims = None;
    for audience in audiences {
        let checks = ClaimChecks {
            issuer: &id,
            audience,
            now,
            leeway: LEEWAY,
        };
        match jose::check_claims(&verified.payload, &checks) {
            Ok(found) => {
                claims = Some(found);
                break;
            }
            Err(jose::JoseError::WrongAudience) => continue,
            Err(err) => {
                tracing::info!(error = %err, "client assertion claims refused");
                return Err(refused("assertion claims"));
            }
        }
    }
    let claims = claims.ok_or_else(|| refused("assertion audience"))?;
    // RFC 7523 §3: `sub` is the client id; `jti` makes the assertion single-use.
    if claims.get("sub").and_then(Value::as_str) != Some(id.as_str()) {
        return Err(refused("assertion sub"));
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MAX);
    if exp > now + MAX_ASSERTION_LIFETIME {
        return Err(refused("assertion lives too long"));
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|jti| !jti.is_empty() && jti.len() <= 256)
        .ok_or_else(|| refused("assertion without jti"))?;
    // Kept while the assertion could still pass the time checks, leeway included.
    if !state
        .oidc
        .first_use_of_assertion(&id, jti, exp.saturating_add(LEEWAY), now)
    {
        return Err(refused("assertion replayed"));
    }
    Ok(client)
}
