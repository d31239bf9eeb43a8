//! `/v1/organisations`: ministries, provinces, agencies, telecom operators, platforms,
//! registrars and enterprises, keyed by tax code.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use dinhdanh_core::{DISPLAY_NAME_MAX_CHARS, OrganisationKind, TaxCode, display_name};
use dinhdanh_store::{NewOrganisation, Organisation, OrganisationId, OrganisationUpdate};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::extract::{ApiJson, Authorized, PathId, Reader, Writer};
use crate::problem::Problem;
use crate::routes::rfc3339;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/organisations",
            post(create_organisation).get(find_by_tax_code),
        )
        .route(
            "/v1/organisations/{id}",
            get(read_organisation).patch(update_organisation),
        )
}

/// An organisation to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateOrganisationRequest {
    /// 10 digits, or 10 + `-` + 3 for a branch.
    #[schema(example = "0100109106")]
    tax_code: String,
    /// Registered name.
    #[schema(example = "Công ty Viễn thông Mẫu")]
    name: String,
    /// `ministry`, `province`, `agency`, `telecom_operator`, `platform`, `registrar` or
    /// `enterprise`.
    #[schema(example = "telecom_operator")]
    kind: String,
    /// Parent organisation id.
    #[serde(default)]
    parent_id: Option<uuid::Uuid>,
}

/// A registered organisation.
#[derive(Serialize, ToSchema)]
pub(crate) struct OrganisationResponse {
    /// Internal id.
    id: uuid::Uuid,
    /// Tax code.
    tax_code: String,
    /// Registered name.
    name: String,
    /// Kind.
    kind: String,
    /// Parent organisation id.
    parent_id: Option<uuid::Uuid>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
}

impl From<&Organisation> for OrganisationResponse {
    fn from(organisation: &Organisation) -> Self {
        Self {
            id: organisation.id.as_uuid(),
            tax_code: organisation.tax_code.as_str().to_owned(),
            name: organisation.name.clone(),
            kind: organisation.kind.as_str().to_owned(),
            parent_id: organisation.parent_id.map(|id| id.as_uuid()),
            created_at: rfc3339(organisation.created_at),
            updated_at: rfc3339(organisation.updated_at),
        }
    }
}

fn organisation_name(raw: &str) -> Result<String, Problem> {
    display_name(raw).ok_or_else(|| {
        Problem::unprocessable(
            "organisation-name",
            format!("name: must be 1 to {DISPLAY_NAME_MAX_CHARS} printable characters"),
        )
        .with_field("name")
    })
}

/// Register an organisation.
#[utoipa::path(post, path = "/v1/organisations", tag = "organisations",
    request_body = CreateOrganisationRequest, security(("operator" = [])),
    responses(
        (status = 201, description = "Registered", body = OrganisationResponse),
        (status = 409, description = "Tax code already registered", content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", content_type = "application/problem+json")))]
pub(crate) async fn create_organisation(
    State(state): State<AppState>,
    _operator: Authorized<Writer>,
    ApiJson(request): ApiJson<CreateOrganisationRequest>,
) -> Result<(StatusCode, Json<OrganisationResponse>), Problem> {
    let organisation = NewOrganisation {
        tax_code: request
            .tax_code
            .parse::<TaxCode>()
            .map_err(|err| Problem::invalid_field("tax_code", &err))?,
        name: organisation_name(&request.name)?,
        kind: request
            .kind
            .parse::<OrganisationKind>()
            .map_err(|err| Problem::invalid_field("kind", &err))?,
        parent_id: request.parent_id.map(OrganisationId::from),
    };
    let organisation = state.store.insert_organisation(&organisation).await?;
    Ok((
        StatusCode::CREATED,
        Json(OrganisationResponse::from(&organisation)),
    ))
}

/// Read an organisation.
#[utoipa::path(get, path = "/v1/organisations/{id}", tag = "organisations",
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The organisation", body = OrganisationResponse),
        (status = 404, description = "No such organisation", content_type = "application/problem+json")))]
pub(crate) async fn read_organisation(
    State(state): State<AppState>,
    _operator: Authorized<Reader>,
    PathId(id): PathId,
) -> Result<Json<OrganisationResponse>, Problem> {
    let organisation = state
        .store
        .find_organisation(OrganisationId::from(id))
        .await?
        .ok_or_else(|| Problem::not_found("organisation"))?;
    Ok(Json(OrganisationResponse::from(&organisation)))
}

/// Look-up parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub(crate) struct TaxCodeQuery {
    /// The tax code to find.
    tax_code: String,
}

/// Find an organisation by tax code.
#[utoipa::path(get, path = "/v1/organisations", tag = "organisations", params(TaxCodeQuery),
    security(("operator" = [])),
    responses(
        (status = 200, description = "The organisation", body = OrganisationResponse),
        (status = 404, description = "No organisation has this tax code", content_type = "application/problem+json"),
        (status = 422, description = "Not a tax code", content_type = "application/problem+json")))]
pub(crate) async fn find_by_tax_code(
    State(state): State<AppState>,
    _operator: Authorized<Reader>,
    query: Result<Query<TaxCodeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<OrganisationResponse>, Problem> {
    let Query(query) = query.map_err(|_| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-query",
            "Invalid query",
            "expected exactly one parameter: tax_code",
        )
    })?;
    let tax_code = query
        .tax_code
        .parse::<TaxCode>()
        .map_err(|err| Problem::invalid_field("tax_code", &err))?;
    let organisation = state
        .store
        .find_organisation_by_tax_code(&tax_code)
        .await?
        .ok_or_else(|| Problem::not_found("organisation"))?;
    Ok(Json(OrganisationResponse::from(&organisation)))
}

/// A change of name or parent.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateOrganisationRequest {
    /// New registered name.
    #[serde(default)]
    name: Option<String>,
    /// New parent id; `null` detaches the organisation from its parent.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<uuid::Uuid>)]
    parent_id: Option<Option<uuid::Uuid>>,
}

/// Tells a field given as `null` (`Some(None)`) from a field left out (`None`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Change an organisation's name or parent.
#[utoipa::path(patch, path = "/v1/organisations/{id}", tag = "organisations",
    request_body = UpdateOrganisationRequest,
    params(("id" = uuid::Uuid, Path, description = "Organisation id")),
    security(("operator" = [])),
    responses(
        (status = 200, description = "Changed", body = OrganisationResponse),
        (status = 404, description = "No such organisation", content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, unknown parent or a cycle", content_type = "application/problem+json")))]
pub(crate) async fn update_organisation(
    State(state): State<AppState>,
    _operator: Authorized<Writer>,
    PathId(id): PathId,
    ApiJson(request): ApiJson<UpdateOrganisationRequest>,
) -> Result<Json<OrganisationResponse>, Problem> {
    if request.name.is_none() && request.parent_id.is_none() {
        return Err(Problem::malformed_body(
            "give at least one of: name, parent_id",
        ));
    }
    let update = OrganisationUpdate {
        name: request.name.as_deref().map(organisation_name).transpose()?,
        parent_id: request
            .parent_id
            .map(|parent| parent.map(OrganisationId::from)),
    };
    let organisation = state
        .store
        .update_organisation(OrganisationId::from(id), &update)
        .await?;
    Ok(Json(OrganisationResponse::from(&organisation)))
}
