//! What every route that releases personal data shares: the purpose the caller states, the
//! record made through `dinhdanh_store::disclose` before anything is sent, and the
//! `Dinhdanh-Disclosure` header that tells the recipient which log record covers the answer.

use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use dinhdanh_store::{DisclosureId, Purpose};
use serde::Serialize;

use crate::AppState;
use crate::problem::Problem;

/// The request header in which a caller states why it reads personal data.
pub(crate) const PURPOSE_HEADER: HeaderName = HeaderName::from_static("dinhdanh-purpose");
/// The response header that names the disclosure record covering the answer.
pub(crate) const DISCLOSURE_HEADER: HeaderName = HeaderName::from_static("dinhdanh-disclosure");

/// The purpose from `Dinhdanh-Purpose` (UTF-8, 1 to 200 characters), if the caller gave one.
/// A malformed one is 422: nothing is read for a purpose that cannot be recorded.
pub(crate) struct StatedPurpose(Option<Purpose>);

impl StatedPurpose {
    /// The stated purpose, or the route's default.
    pub(crate) fn or_default(self, default: &str) -> Result<Purpose, Problem> {
        match self.0 {
            Some(purpose) => Ok(purpose),
            None => Purpose::new(default).map_err(|err| Problem::internal(&err)),
        }
    }
}

impl FromRequestParts<AppState> for StatedPurpose {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(PURPOSE_HEADER) else {
            return Ok(Self(None));
        };
        let purpose = std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(|text| Purpose::new(text).ok())
            .ok_or_else(|| {
                Problem::unprocessable(
                    "invalid-purpose",
                    "Dinhdanh-Purpose must be UTF-8, 1 to 200 characters, without control or \
                     invisible characters, and without identifiers (no run of 9 digits): the log \
                     keeps it for ever",
                )
            })?;
        Ok(Self(Some(purpose)))
    }
}

/// A JSON answer carrying disclosed data, with the record id in `Dinhdanh-Disclosure`.
pub(crate) struct DisclosedJson<T>(pub(crate) DisclosureId, pub(crate) T);

impl<T: Serialize> IntoResponse for DisclosedJson<T> {
    fn into_response(self) -> Response {
        let mut response = Json(self.1).into_response();
        if let Ok(value) = HeaderValue::from_str(&self.0.to_string()) {
            response.headers_mut().insert(DISCLOSURE_HEADER, value);
        }
        response
    }
}
