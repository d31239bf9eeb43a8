//! Routes, one module per resource. Request and response types live beside their handlers.

use axum::Router;

use crate::AppState;

pub(crate) mod authorize;
pub(crate) mod bindings;
pub(crate) mod clients;
pub(crate) mod discovery;
pub(crate) mod home;
pub(crate) mod interaction;
pub(crate) mod keys;
pub(crate) mod log;
pub(crate) mod organisations;
pub(crate) mod persons;
pub(crate) mod ssf;
pub(crate) mod subscriptions;
pub(crate) mod system;
pub(crate) mod token;

/// Every route of the application.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .merge(home::router())
        .merge(system::router())
        .merge(keys::router())
        .merge(log::router())
        .merge(persons::router())
        .merge(organisations::router())
        .merge(clients::router())
        .merge(discovery::router())
        .merge(authorize::router())
        .merge(interaction::router())
        .merge(token::router())
        .merge(bindings::router())
        .merge(ssf::router())
        .merge(subscriptions::router())
}

/// Formats a timestamp for a response (RFC 3339, UTC).
pub(crate) fn rfc3339(at: jiff::Timestamp) -> String {
    at.to_string()
}
