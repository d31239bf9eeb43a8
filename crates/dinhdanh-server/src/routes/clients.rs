//! `/v1/clients`: the relying parties the identity authority registers, each for an
//! organisation of the registry. [`register_client`] is shared with `dinhdanh clients create`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use dinhdanh_crypto::ApiToken;
use dinhdanh_oidc::{ClientRegistration, RegisteredAuth, RegistrationError};
use dinhdanh_store::{Client, ClientAuth, NewClient, OrganisationId, RegistryStore, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{Admin, ApiJson, Authorized};
use crate::problem::Problem;
use crate::routes::rfc3339;

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/v1/clients", post(create_client))
}

/// Why a client could not be registered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientRegistrationError {
    /// A field is invalid.
    #[error(transparent)]
    Invalid(#[from] RegistrationError),
    /// The store refused it (a taken id, an unknown organisation) or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The random number generator failed.
    #[error("could not make a client secret")]
    Secret,
}

impl From<ClientRegistrationError> for Problem {
    fn from(err: ClientRegistrationError) -> Self {
        match err {
            ClientRegistrationError::Invalid(err) => {
                Problem::unprocessable("client-registration", err.to_string())
            }
            ClientRegistrationError::Store(err) => Problem::from(err),
            ClientRegistrationError::Secret => Problem::internal(&err),
        }
    }
}

/// A registered client, with its secret if it uses `client_secret_basic`: shown once.
#[derive(Debug)]
pub struct RegisteredClient {
    /// The client as stored.
    pub client: Client,
    /// The secret, for `client_secret_basic` clients only.
    pub secret: Option<ApiToken>,
}

/// Registers a client for an organisation. Without a client id, one is made up.
pub async fn register_client(
    store: &dyn RegistryStore,
    organisation_id: OrganisationId,
    registration: &ClientRegistration,
) -> Result<RegisteredClient, ClientRegistrationError> {
    let mut registration = registration.clone();
    if registration.client_id.is_empty() {
        registration.client_id = format!("rp-{}", uuid::Uuid::now_v7().simple());
    }
    let valid = registration.validate()?;
    let (auth, secret) = match valid.auth {
        RegisteredAuth::PrivateKeyJwt(jwks) => (
            ClientAuth::PrivateKeyJwt {
                jwks: jwks.to_public_json().to_string(),
            },
            None,
        ),
        RegisteredAuth::SecretBasic => {
            let secret = ApiToken::generate().map_err(|_| ClientRegistrationError::Secret)?;
            (
                ClientAuth::SecretBasic {
                    secret_hash: secret.hash(),
                },
                Some(secret),
            )
        }
    };
    let policy = valid.policy;
    let client = store
        .oidc()
        .insert_client(&NewClient {
            id: policy.id.as_str().to_owned(),
            organisation_id,
            name: valid.name,
            redirect_uris: policy
                .redirect_uris
                .iter()
                .map(|uri| uri.as_str().to_owned())
                .collect(),
            sector: policy.sector.as_str().to_owned(),
            scopes: policy
                .allowed_scopes
                .iter()
                .map(|scope| scope.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            require_par: policy.require_par,
            min_level: policy.min_level,
            id_token_alg: valid.id_token_alg,
            auth,
        })
        .await?;
    Ok(RegisteredClient { client, secret })
}

/// A client to register. Member names follow RFC 7591 §2 where it has one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateClientRequest {
    /// The organisation that runs the client.
    organisation_id: uuid::Uuid,
    /// 1 to 64 characters from `A-Z a-z 0-9 - _ .`; made up if left out.
    #[serde(default)]
    client_id: Option<String>,
    /// Shown to citizens on the consent page.
    #[schema(example = "Mạng xã hội Mẫu")]
    client_name: String,
    /// Exact redirect URIs: `https`, or `http` on a loopback address.
    redirect_uris: Vec<String>,
    /// The host that names the sector for pairwise subjects; needed when the redirect URIs
    /// are on several hosts.
    #[serde(default)]
    sector_identifier: Option<String>,
    /// The scopes the client may ask for, space-separated, `openid` among them.
    #[schema(example = "openid verified age")]
    scope: String,
    /// Whether the client must use pushed authorization requests (RFC 9126 §6).
    #[serde(default)]
    require_pushed_authorization_requests: bool,
    /// The lowest e-ID level it accepts: 1 (default) or 2.
    #[serde(default = "level_one")]
    min_level: u8,
    /// `ML-DSA-65` (default), `EdDSA` or `ES256`.
    #[serde(default)]
    id_token_signed_response_alg: Option<String>,
    /// `private_key_jwt` (with `jwks`) or `client_secret_basic`.
    token_endpoint_auth_method: String,
    /// The client's public keys, for `private_key_jwt`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
}

fn level_one() -> u8 {
    1
}

/// A registered client.
#[derive(Serialize, ToSchema)]
pub(crate) struct ClientResponse {
    client_id: String,
    organisation_id: uuid::Uuid,
    client_name: String,
    redirect_uris: Vec<String>,
    sector_identifier: String,
    scope: String,
    require_pushed_authorization_requests: bool,
    min_level: u8,
    id_token_signed_response_alg: String,
    token_endpoint_auth_method: String,
    /// Only in the answer to the registration, and only for `client_secret_basic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// RFC 3339.
    created_at: String,
}

impl ClientResponse {
    fn new(registered: &RegisteredClient) -> Self {
        let client = &registered.client.registration;
        Self {
            client_id: client.id.clone(),
            organisation_id: client.organisation_id.as_uuid(),
            client_name: client.name.clone(),
            redirect_uris: client.redirect_uris.clone(),
            sector_identifier: client.sector.clone(),
            scope: client.scopes.clone(),
            require_pushed_authorization_requests: client.require_par,
            min_level: client.min_level.as_u8(),
            id_token_signed_response_alg: client.id_token_alg.jose_name().to_owned(),
            token_endpoint_auth_method: client.auth.method().to_owned(),
            client_secret: registered
                .secret
                .as_ref()
                .map(|secret| secret.reveal().to_owned()),
            created_at: rfc3339(registered.client.created_at),
        }
    }
}

/// Register a relying party.
#[utoipa::path(post, path = "/v1/clients", tag = "clients",
    request_body = CreateClientRequest, security(("operator" = [])),
    responses(
        (status = 201, description = "Registered; a client secret is shown this once", body = ClientResponse),
        (status = 409, description = "The client id is taken", content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, or the organisation does not exist", content_type = "application/problem+json")))]
pub(crate) async fn create_client(
    State(state): State<AppState>,
    _operator: Authorized<Admin>,
    ApiJson(request): ApiJson<CreateClientRequest>,
) -> Result<(StatusCode, Json<ClientResponse>), Problem> {
    if request.client_id.as_deref() == Some("") {
        return Err(Problem::from(ClientRegistrationError::Invalid(
            RegistrationError::Client(dinhdanh_oidc::ClientError::ClientId),
        )));
    }
    let registration = ClientRegistration {
        client_id: request.client_id.unwrap_or_default(),
        name: request.client_name,
        redirect_uris: request.redirect_uris,
        sector: request.sector_identifier,
        scopes: request.scope,
        require_par: request.require_pushed_authorization_requests,
        min_level: request.min_level,
        id_token_alg: request.id_token_signed_response_alg,
        auth_method: request.token_endpoint_auth_method,
        jwks: request.jwks.map(|jwks| jwks.to_string()),
    };
    let registered = register_client(
        state.store.as_ref(),
        OrganisationId::from(request.organisation_id),
        &registration,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(ClientResponse::new(&registered))))
}
