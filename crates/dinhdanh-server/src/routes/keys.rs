//! `/.well-known/jwks.json`: the public signing keys in states `next`, `active` and
//! `retiring` (RFC 7517 §5), so that relying parties cache a key before it signs and keep
//! verifying what a retiring key signed. Never a private member.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dinhdanh_crypto::VerifyingKey;
use dinhdanh_crypto::jose::{Jwk, Jwks};

use crate::AppState;
use crate::problem::Problem;

/// How long clients may cache the key set. Keys are published as `next` for longer than
/// this before they sign, so a cached set never misses a signing key.
pub(crate) const JWKS_MAX_AGE_SECONDS: u32 = 300;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

/// The public signing keys.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "keys",
    responses((status = 200, description = "JWK Set (RFC 7517): next, active and retiring signing keys",
        content_type = "application/jwk-set+json")))]
pub(crate) async fn jwks(State(state): State<AppState>) -> Result<Response, Problem> {
    let mut keys = Vec::new();
    for record in state.store.list_signing_keys().await? {
        if !record.state.is_published() {
            continue;
        }
        let public = VerifyingKey::from_bytes(record.algorithm, &record.public_key)
            .map_err(|err| Problem::internal(&err))?;
        keys.push(Jwk::public(public, Some(record.kid)));
    }
    let body = serde_json::to_vec(&Jwks::new(keys).to_public_json())
        .map_err(|err| Problem::internal(&err))?;
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jwk-set+json"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_str(&format!("public, max-age={JWKS_MAX_AGE_SECONDS}"))
            .map_err(|err| Problem::internal(&err))?,
    );
    Ok(response)
}
