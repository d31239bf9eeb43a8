//! Request extractors that turn every rejection into a problem+json answer: JSON bodies,
//! path ids, the operator's bearer token and a client's own access token for service APIs.

use std::marker::PhantomData;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use dinhdanh_crypto::TokenHash;
use dinhdanh_oidc::{ServiceScope, ServiceScopes};
use dinhdanh_store::{Client, OperatorRole, OperatorToken};
use serde::de::DeserializeOwned;

use crate::AppState;
use crate::problem::Problem;

/// A JSON body, parsed strictly. Syntax errors are 400; a body of the wrong shape (unknown
/// field, wrong type, missing field) is 400 too; too large is 413; not JSON is 415. The
/// detail never repeats a value from the body, since bodies carry personal data.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || mime.to_ascii_lowercase().ends_with("+json")
            });
        if !is_json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "the body must be application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Request body too large",
                    format!(
                        "the body must be at most {} bytes",
                        state.config.body_limit_bytes
                    ),
                )
            } else {
                body_failed(&rejection)
            }
        })?;
        let value = serde_json::from_slice(&bytes).map_err(|err| {
            let message = err.to_string();
            let detail = if let Some(rest) = message.strip_prefix("unknown field `") {
                // The client's key is not repeated (a key can be anything, even personal
                // data); the expected ones are ours to name.
                // serde's own text comes after the key, so the last match is genuine.
                let expected = rest
                    .rfind("`, expected")
                    .map(|at| rest[at + 3..].split(" at line").next().unwrap_or(""))
                    .unwrap_or("");
                format!("unknown field; {expected}")
                    .trim_end_matches("; ")
                    .to_owned()
            } else if message.starts_with("missing field") {
                // `missing field `x``: a name from our own schema.
                message
                    .split(" at line")
                    .next()
                    .unwrap_or("a required field is missing")
                    .to_owned()
            } else {
                match err.classify() {
                    serde_json::error::Category::Data => format!(
                        "a value has the wrong type or form (line {}, column {})",
                        err.line(),
                        err.column()
                    ),
                    _ => format!(
                        "the body is not valid JSON (line {}, column {})",
                        err.line(),
                        err.column()
                    ),
                }
            };
            Problem::malformed_body(detail)
        })?;
        Ok(ApiJson(value))
    }
}

fn body_failed(rejection: &BytesRejection) -> Problem {
    tracing::debug!(error = %rejection, "request body could not be read");
    Problem::malformed_body("the body could not be read")
}

/// A path id, parsed as a UUID; anything else is 400 `invalid-id`.
pub(crate) struct PathId(pub(crate) uuid::Uuid);

impl<S: Send + Sync> FromRequestParts<S> for PathId {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| Problem::invalid_id())?;
        uuid::Uuid::parse_str(&raw)
            .map(PathId)
            .map_err(|_| Problem::invalid_id())
    }
}

/// The role a route needs, as a type, so that a handler states it in its signature.
pub(crate) trait RoleNeeded {
    /// The least role that may call the route.
    const ROLE: OperatorRole;
}

/// Routes that read the registry.
pub(crate) struct Reader;

impl RoleNeeded for Reader {
    const ROLE: OperatorRole = OperatorRole::RegistryReader;
}

/// Routes that write the registry.
pub(crate) struct Writer;

impl RoleNeeded for Writer {
    const ROLE: OperatorRole = OperatorRole::RegistryWriter;
}

/// Routes of the identity authority's administrators (registering relying parties).
pub(crate) struct Admin;

impl RoleNeeded for Admin {
    const ROLE: OperatorRole = OperatorRole::Admin;
}

/// The token of an `Authorization: Bearer` header (RFC 6750 §2.1), or 401 saying `missing`
/// when there is no header at all.
fn bearer_token<'p>(parts: &'p Parts, missing: &'static str) -> Result<&'p str, Problem> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or(Problem::unauthorized(missing))?;
    header
        .to_str()
        .ok()
        .and_then(|value| {
            let (scheme, token) = value.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|token| !token.is_empty())
        .ok_or(Problem::unauthorized(
            "the Authorization header must be `Bearer <token>`",
        ))
}

/// The service scope a route needs, as a type.
pub(crate) trait ScopeNeeded {
    /// The scope.
    const SCOPE: ServiceScope;
}

/// Routes of platforms about their accounts' bindings.
pub(crate) struct Bindings;

impl ScopeNeeded for Bindings {
    const SCOPE: ServiceScope = ServiceScope::Bindings;
}

/// Routes of telecom operators about their subscribers.
pub(crate) struct Subscribers;

impl ScopeNeeded for Subscribers {
    const SCOPE: ServiceScope = ServiceScope::Subscribers;
}

/// The `signals` service scope: Shared Signals streams.
pub(crate) struct Signals;

impl ScopeNeeded for Signals {
    const SCOPE: ServiceScope = ServiceScope::Signals;
}

/// A client calling a service API with its own access token (client credentials) that holds
/// the route's scope: 401 without a usable token, 403 without the scope or with a client
/// disabled since.
pub(crate) struct ServiceCaller<S> {
    /// The client, as registered.
    pub(crate) client: Client,
    scope: PhantomData<S>,
}

impl<S: ScopeNeeded> FromRequestParts<AppState> for ServiceCaller<S> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(
            parts,
            "an access token from the client credentials grant is required",
        )?;
        let found = state
            .store
            .oidc()
            .find_service_token(&TokenHash::of(token), jiff::Timestamp::now())
            .await
            .map_err(Problem::from)?
            .ok_or(Problem::unauthorized(
                "the access token is unknown or expired",
            ))?;
        let scopes = ServiceScopes::parse(&found.scopes)
            .map_err(|_| Problem::internal(&"a stored service token's scopes are unreadable"))?;
        if !scopes.contains(S::SCOPE) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Scope not granted",
                format!("this operation needs the service scope {}", S::SCOPE),
            ));
        }
        let client = state
            .oidc
            .client(state.store.as_ref(), &found.client_id)
            .await
            .map_err(Problem::from)?
            .filter(|client| client.disabled_at.is_none())
            .ok_or(Problem::new(
                StatusCode::FORBIDDEN,
                "client-disabled",
                "Client disabled",
                "the client that holds this token is disabled",
            ))?;
        Ok(ServiceCaller {
            client,
            scope: PhantomData,
        })
    }
}

/// An operator authenticated by an `Authorization: Bearer` token whose role allows the
/// route: 401 without a usable token, 403 with a role too low. Being an extractor that runs
/// before the body is read, a refused caller learns nothing about its body.
pub(crate) struct Authorized<R> {
    /// The operator's token record.
    pub(crate) token: OperatorToken,
    role: PhantomData<R>,
}

impl<R: RoleNeeded> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts, "an operator bearer token is required")?;
        // Looked up by hash: the store holds only hashes, and equality of hashes is checked
        // by the unique index, so no secret is compared byte by byte here.
        let found = state
            .store
            .find_operator_token(&TokenHash::of(token))
            .await
            .map_err(Problem::from)?;
        let token = match found {
            Some(record) if record.is_usable(jiff::Timestamp::now()) => record,
            _ => {
                return Err(Problem::unauthorized(
                    "the bearer token is unknown, expired or revoked",
                ));
            }
        };
        if !token.role.grants(R::ROLE) {
            return Err(Problem::forbidden(R::ROLE.as_str()));
        }
        Ok(Authorized {
            token,
            role: PhantomData,
        })
    }
}
