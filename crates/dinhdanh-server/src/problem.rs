//! The one place where errors become HTTP responses: RFC 9457 `application/problem+json`
//! bodies with a stable `type`. Clients get a safe message; internal causes go to the log only.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dinhdanh_core::IdentifierError;
use dinhdanh_store::{PersonRuleError, StoreError};
use serde::Serialize;

/// The prefix of every problem `type` URI. Each type is documented at its URI.
pub const PROBLEM_BASE: &str = "https://dinhdanh.invalid/problems/";

/// An error answer. Build one with the constructors; it renders as problem+json.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    field: Option<&'static str>,
    reasons: Vec<ProblemReason>,
}

/// One reason of a refusal that has several (an RFC 9457 extension member, `reasons`).
#[derive(Debug, Clone, Serialize)]
pub struct ProblemReason {
    /// The reason's stable code.
    pub code: &'static str,
    /// What it means.
    pub detail: &'static str,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "<[ProblemReason]>::is_empty")]
    reasons: &'a [ProblemReason],
}

impl Problem {
    /// A problem with every member given.
    pub fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            field: None,
            reasons: Vec::new(),
        }
    }

    /// Lists every reason of the refusal (an RFC 9457 extension member, `reasons`).
    pub fn with_reasons(mut self, reasons: Vec<ProblemReason>) -> Self {
        self.reasons = reasons;
        self
    }

    /// Names the request field at fault (an RFC 9457 extension member).
    pub fn with_field(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable slug of the `type` URI.
    pub fn slug(&self) -> &'static str {
        self.slug
    }

    /// 400: the body is not JSON, or not the expected JSON.
    pub fn malformed_body(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "malformed-body",
            "Malformed request body",
            detail,
        )
    }

    /// 422: a field failed validation.
    pub fn invalid_field(field: &'static str, err: &IdentifierError) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            err.code(),
            "Invalid field",
            format!("{field}: {err}"),
        )
        .with_field(field)
    }

    /// 422: a rule across fields failed.
    pub fn unprocessable(slug: &'static str, detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            slug,
            "Request breaks a registry rule",
            detail,
        )
    }

    /// 400: a path parameter is not a valid id.
    pub fn invalid_id() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-id",
            "Invalid id",
            "the id in the path is not a UUID",
        )
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("{what} not found"),
        )
    }

    /// 401: no usable bearer token.
    pub fn unauthorized(detail: &'static str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication required",
            detail,
        )
    }

    /// 403: the token's role does not allow this.
    pub fn forbidden(needed: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Role not allowed",
            format!("this operation needs the role {needed} or above"),
        )
    }

    /// 500, with the cause logged and not shown.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed; the fault is logged",
        )
    }

    /// 503: not ready or too slow.
    pub fn unavailable(detail: &'static str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            detail,
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            kind: format!("{PROBLEM_BASE}{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            field: self.field,
            reasons: &self.reasons,
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, bytes).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<StoreError> for Problem {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound(what) => Problem::not_found(what),
            StoreError::Conflict(what) => Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                "Already exists",
                format!("{what} already exists"),
            ),
            StoreError::Limit(what) => Problem::new(
                StatusCode::CONFLICT,
                "limit-reached",
                "Limit reached",
                format!("the limit on {what} is reached"),
            ),
            StoreError::PersonDeceased => Problem::new(
                StatusCode::CONFLICT,
                "person-deceased",
                "Person is deceased",
                "a deceased person's record no longer changes",
            ),
            StoreError::InvalidReference(what) => Problem::unprocessable(
                "invalid-reference",
                format!("{what} does not exist or cannot be used here"),
            ),
            other => Problem::internal(&other),
        }
    }
}

impl From<PersonRuleError> for Problem {
    fn from(err: PersonRuleError) -> Self {
        match err {
            PersonRuleError::BirthDateInFuture => {
                Problem::unprocessable("birth-date-in-future", "birth_date: is in the future")
                    .with_field("birth_date")
            }
            PersonRuleError::Identifier(err) => Problem::invalid_field("citizen_number", &err),
            other => Problem::unprocessable("person-rule", other.to_string()),
        }
    }
}
