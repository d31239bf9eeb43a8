//! `/.well-known/openid-configuration`: the provider's metadata (OpenID Connect Discovery 1.0
//! §3, RFC 8414), which client libraries read to find every endpoint and what each accepts.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use dinhdanh_core::EidLevel;
use dinhdanh_oidc::{Acr, ID_TOKEN_ALGORITHMS, Scope};
use serde_json::json;

use crate::AppState;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/.well-known/openid-configuration", get(configuration))
}

/// The endpoints the provider answers on, relative to the issuer.
pub(crate) const AUTHORIZATION_PATH: &str = "/authorize";
pub(crate) const PAR_PATH: &str = "/par";
pub(crate) const TOKEN_PATH: &str = "/token";
pub(crate) const USERINFO_PATH: &str = "/userinfo";
pub(crate) const REVOCATION_PATH: &str = "/revoke";
pub(crate) const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The provider metadata.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oidc",
    responses((status = 200, description = "OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3)",
        content_type = "application/json")))]
pub(crate) async fn configuration(State(state): State<AppState>) -> Response {
    let config = &state.oidc.config;
    let algorithms: Vec<&str> = ID_TOKEN_ALGORITHMS.iter().map(|a| a.jose_name()).collect();
    let claims: Vec<&str> = [
        "sub",
        "iss",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        // RFC 8693 §4.1: the guardian who signed in for a child under 14.
        "act",
    ]
    .into_iter()
    .chain(
        Scope::ALL
            .iter()
            .flat_map(|scope| scope.claims().iter().copied()),
    )
    .collect();
    let acr_values: Vec<&str> = [EidLevel::Level1, EidLevel::Level2]
        .into_iter()
        .filter_map(Acr::of_level)
        .map(Acr::as_str)
        .collect();
    let body = json!({
        "issuer": config.issuer,
        "authorization_endpoint": config.endpoint(AUTHORIZATION_PATH),
        "pushed_authorization_request_endpoint": config.endpoint(PAR_PATH),
        "token_endpoint": config.endpoint(TOKEN_PATH),
        "userinfo_endpoint": config.endpoint(USERINFO_PATH),
        "revocation_endpoint": config.endpoint(REVOCATION_PATH),
        "jwks_uri": config.endpoint(JWKS_PATH),
        "scopes_supported": Scope::ALL.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": algorithms,
        "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "token_endpoint_auth_signing_alg_values_supported": algorithms,
        "revocation_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": claims,
        "acr_values_supported": acr_values,
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": ["vi", "en"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_pushed_authorization_requests": false,
        "authorization_response_iss_parameter_supported": true,
    });
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    response
}
