#![doc = include_str!("../README.md")]

mod acr;
mod authorize;
mod claims;
mod client;
mod pkce;
mod registration;
mod scope;
mod service;
mod subject;

pub use acr::Acr;
pub use authorize::{
    AuthorizationError, AuthorizationErrorCode, AuthorizationParams, Prompt, ValidatedAuthorization,
};
pub use claims::{PersonFacts, release_claims};
pub use client::{ClientError, ClientId, ClientPolicy, RedirectUri, SectorIdentifier};
pub use pkce::{CodeChallenge, CodeVerifier, PkceError};
pub use registration::{
    ClientRegistration, ID_TOKEN_ALGORITHMS, RegisteredAuth, RegistrationError, ValidRegistration,
};
pub use scope::{Consent, Scope, ScopeError, Scopes};
pub use service::{ServiceScope, ServiceScopes};
pub use subject::{PairwiseSubject, SubjectKey};
