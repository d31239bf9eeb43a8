//! Validation of an authorization request (OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC 9126).
//!
//! A raw request is a list of parameters; a [`ValidatedAuthorization`] is one that passed every
//! check against its client. Errors say whether they may go back to the client's redirect URI:
//! a bad client id or redirect URI must never redirect (RFC 6749 §4.1.2.1), since the URI is
//! then not known to be the client's.

use dinhdanh_core::EidLevel;

use crate::acr::Acr;
use crate::client::{ClientPolicy, RedirectUri};
use crate::pkce::CodeChallenge;
use crate::scope::{Scope, ScopeError, Scopes};

/// The longest `state` or `nonce` accepted.
const MAX_OPAQUE: usize = 512;

/// The error codes of RFC 6749 §4.1.2.1 and OIDC Core §3.1.2.6 that this engine gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorizationErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_response_type`
    UnsupportedResponseType,
    /// `invalid_scope`
    InvalidScope,
    /// `request_not_supported`
    RequestNotSupported,
}

impl AuthorizationErrorCode {
    /// The code on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::RequestNotSupported => "request_not_supported",
        }
    }
}

/// A refused authorization request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", code.as_str())]
pub struct AuthorizationError {
    /// The error code.
    pub code: AuthorizationErrorCode,
    /// A description safe to show the client (it names parameters, never personal data).
    pub description: String,
    /// Whether the error may be sent to the redirect URI (else it is shown to the user).
    pub redirectable: bool,
}

impl AuthorizationError {
    fn at_server(description: impl Into<String>) -> Self {
        Self {
            code: AuthorizationErrorCode::InvalidRequest,
            description: description.into(),
            redirectable: false,
        }
    }

    fn to_client(code: AuthorizationErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            redirectable: true,
        }
    }
}

/// The `prompt` parameter (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: no page may be shown.
    pub none: bool,
    /// `login`: authenticate again even with a session.
    pub login: bool,
    /// `consent`: ask for consent again.
    pub consent: bool,
}

/// The parameters of an authorization request, from the query or a pushed request body.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationParams(Vec<(String, String)>);

impl AuthorizationParams {
    /// Parameters from decoded name–value pairs.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Self(pairs)
    }

    /// The one value of `name`; an error if it is repeated (RFC 6749 §3.1).
    fn one(&self, name: &str) -> Result<Option<&str>, String> {
        let mut values = self.0.iter().filter(|(key, _)| key == name);
        let first = values.next().map(|(_, value)| value.as_str());
        if values.next().is_some() {
            return Err(format!("{name} is repeated"));
        }
        Ok(first)
    }
}

/// An authorization request that passed every check against its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedAuthorization {
    /// The redirect URI, exactly as registered.
    pub redirect_uri: RedirectUri,
    /// The scopes asked for (all allowed to the client, `openid` among them).
    pub scopes: Scopes,
    /// `state`, returned as sent.
    pub state: Option<String>,
    /// `nonce`, put into the ID token.
    pub nonce: Option<String>,
    /// The PKCE challenge.
    pub challenge: CodeChallenge,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<u64>,
    /// The lowest e-ID level the login must have: the client's, raised by `acr_values`.
    pub min_level: EidLevel,
}

impl ValidatedAuthorization {
    /// Validates `params` against `client`. `pushed` says whether they came from a pushed
    /// authorization request (RFC 9126) rather than the query string.
    pub fn validate(
        params: &AuthorizationParams,
        client: &ClientPolicy,
        pushed: bool,
    ) -> Result<Self, AuthorizationError> {
        let one = |name: &str| params.one(name).map_err(AuthorizationError::at_server);
        // Checks that must not redirect come first.
        match one("client_id")? {
            Some(id) if id == client.id.as_str() => {}
            Some(_) => return Err(AuthorizationError::at_server("client_id does not match")),
            None => return Err(AuthorizationError::at_server("client_id is required")),
        }
        let redirect_uri = one("redirect_uri")?
            .ok_or_else(|| AuthorizationError::at_server("redirect_uri is required"))?;
        let redirect_uri = client
            .redirect_uri(redirect_uri)
            .ok_or_else(|| {
                AuthorizationError::at_server("redirect_uri is not registered for this client")
            })?
            .clone();
        let to_client = |description: String| {
            AuthorizationError::to_client(AuthorizationErrorCode::InvalidRequest, description)
        };
        let one = |name: &str| params.one(name).map_err(to_client);
        if one("request")?.is_some() {
            return Err(AuthorizationError::to_client(
                AuthorizationErrorCode::RequestNotSupported,
                "request objects are not supported; push the parameters (PAR) instead",
            ));
        }
        if client.require_par && !pushed {
            return Err(to_client(
                "this client must push its authorization requests (PAR)".into(),
            ));
        }
        match one("response_type")? {
            Some("code") => {}
            Some(_) => {
                return Err(AuthorizationError::to_client(
                    AuthorizationErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported",
                ));
            }
            None => return Err(to_client("response_type is required".into())),
        }
        let scope = one("scope")?.ok_or_else(|| to_client("scope is required".into()))?;
        let scopes = Scopes::parse(scope).map_err(|err| {
            AuthorizationError::to_client(
                AuthorizationErrorCode::InvalidScope,
                match err {
                    ScopeError::Unknown(name) => format!("unknown scope \"{name}\""),
                    _ => "the scope parameter is malformed".into(),
                },
            )
        })?;
        if !scopes.contains(Scope::OpenId) {
            return Err(AuthorizationError::to_client(
                AuthorizationErrorCode::InvalidScope,
                "scope must include openid",
            ));
        }
        if let Some(scope) = scopes
            .iter()
            .find(|scope| *scope != Scope::OpenId && !client.allowed_scopes.contains(*scope))
        {
            return Err(AuthorizationError::to_client(
                AuthorizationErrorCode::InvalidScope,
                format!("this client may not ask for scope \"{scope}\""),
            ));
        }
        let challenge = CodeChallenge::parse(one("code_challenge")?, one("code_challenge_method")?)
            .map_err(|err| to_client(err.to_string()))?;
        let opaque = |name: &str| -> Result<Option<String>, AuthorizationError> {
            match one(name)? {
                None => Ok(None),
                Some(value)
                    if !value.is_empty()
                        && value.len() <= MAX_OPAQUE
                        && value.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
                {
                    Ok(Some(value.to_owned()))
                }
                Some(_) => Err(to_client(format!(
                    "{name} must be 1 to {MAX_OPAQUE} printable ASCII characters"
                ))),
            }
        };
        let state = opaque("state")?;
        let nonce = opaque("nonce")?;
        let mut prompt = Prompt::default();
        if let Some(value) = one("prompt")? {
            for token in value.split(' ') {
                match token {
                    "none" => prompt.none = true,
                    "login" => prompt.login = true,
                    "consent" => prompt.consent = true,
                    // Everyone has one account here: nothing to select.
                    "select_account" => {}
                    _ => {
                        return Err(to_client(format!(
                            "unknown prompt value \"{}\"",
                            token.chars().take(40).collect::<String>()
                        )));
                    }
                }
            }
            if prompt.none && (prompt.login || prompt.consent) {
                return Err(to_client(
                    "prompt=none cannot be combined with other values".into(),
                ));
            }
        }
        let max_age = one("max_age")?
            .map(|value| {
                value
                    .parse::<u64>()
                    .ok()
                    .filter(|_| value.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| to_client("max_age must be a non-negative integer".into()))
            })
            .transpose()?;
        // acr_values is a voluntary request (OIDC Core §3.1.2.1): the lowest level it names
        // raises the client's minimum; unknown values are ignored.
        let requested = one("acr_values")?
            .map(|values| {
                values
                    .split(' ')
                    .filter_map(Acr::parse)
                    .map(Acr::level)
                    .min()
            })
            .unwrap_or_default();
        let min_level = requested.map_or(client.min_level, |level| level.max(client.min_level));
        Ok(Self {
            redirect_uri,
            scopes,
            state,
            nonce,
            challenge,
            prompt,
            max_age,
            min_level,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::client::{ClientId, RedirectUri};

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(require_par: bool, min_level: EidLevel) -> ClientPolicy {
        ClientPolicy::new(
            ClientId::new("rp-1").unwrap(),
            vec![RedirectUri::new("https://rp.example.vn/cb").unwrap()],
            None,
            Scopes::from_scopes([Scope::Verified, Scope::Age, Scope::Profile]),
            require_par,
            min_level,
        )
        .unwrap()
    }

    fn params(changes: &[(&str, Option<&str>)]) -> AuthorizationParams {
        let mut pairs: Vec<(String, String)> = [
            ("client_id", "rp-1"),
            ("redirect_uri", "https://rp.example.vn/cb"),
            ("response_type", "code"),
            ("scope", "openid age"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
            ("nonce", "n-0S6_WzA2Mj"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (name, value) in changes {
            pairs.retain(|(key, _)| key != name);
            if let Some(value) = value {
                pairs.push(((*name).to_owned(), (*value).to_owned()));
            }
        }
        AuthorizationParams::new(pairs)
    }

    fn refused(changes: &[(&str, Option<&str>)]) -> AuthorizationError {
        ValidatedAuthorization::validate(&params(changes), &client(false, EidLevel::Level1), false)
            .unwrap_err()
    }

    #[test]
    fn a_good_request_validates() {
        let request =
            ValidatedAuthorization::validate(&params(&[]), &client(false, EidLevel::Level1), false)
                .unwrap();
        assert_eq!(request.redirect_uri.as_str(), "https://rp.example.vn/cb");
        assert_eq!(request.scopes.to_string(), "openid age");
        assert_eq!(request.state.as_deref(), Some("xyz"));
        assert_eq!(request.min_level, EidLevel::Level1);
    }

    #[test]
    fn a_redirect_uri_one_character_off_is_refused_without_redirecting() {
        for uri in [
            "https://rp.example.vn/cc",
            "https://rp.example.vn/cb/",
            "https://rp.example.vn/c",
        ] {
            let err = refused(&[("redirect_uri", Some(uri))]);
            assert!(!err.redirectable, "{uri}");
        }
        assert!(!refused(&[("client_id", Some("rp-2"))]).redirectable);
        assert!(!refused(&[("redirect_uri", None)]).redirectable);
    }

    #[test]
    fn missing_or_plain_pkce_is_refused() {
        let err = refused(&[("code_challenge_method", Some("plain"))]);
        assert_eq!(err.code, AuthorizationErrorCode::InvalidRequest);
        assert!(err.redirectable);
        assert!(err.description.contains("plain"));
        refused(&[("code_challenge", None)]);
        refused(&[("code_challenge_method", None)]);
    }

    #[test]
    fn scopes_must_include_openid_and_be_allowed() {
        assert_eq!(
            refused(&[("scope", Some("age"))]).code,
            AuthorizationErrorCode::InvalidScope
        );
        assert_eq!(
            refused(&[("scope", Some("openid birthdate"))]).code,
            AuthorizationErrorCode::InvalidScope
        );
        assert_eq!(
            refused(&[("scope", Some("openid email"))]).code,
            AuthorizationErrorCode::InvalidScope
        );
    }

    #[test]
    fn other_refusals() {
        assert_eq!(
            refused(&[("response_type", Some("token"))]).code,
            AuthorizationErrorCode::UnsupportedResponseType
        );
        assert_eq!(
            refused(&[("request", Some("eyJ..."))]).code,
            AuthorizationErrorCode::RequestNotSupported
        );
        refused(&[("prompt", Some("none login"))]);
        refused(&[("prompt", Some("bogus"))]);
        refused(&[("max_age", Some("-1"))]);
        refused(&[("max_age", Some("+5"))]);
        refused(&[("state", Some("bad\u{7}"))]);
        let mut repeated = params(&[]);
        repeated.0.push(("scope".into(), "openid".into()));
        assert!(
            ValidatedAuthorization::validate(&repeated, &client(false, EidLevel::Level1), false)
                .is_err()
        );
    }

    #[test]
    fn par_can_be_required_and_acr_values_raise_the_level() {
        let par_client = client(true, EidLevel::Level1);
        assert!(ValidatedAuthorization::validate(&params(&[]), &par_client, false).is_err());
        assert!(ValidatedAuthorization::validate(&params(&[]), &par_client, true).is_ok());
        let request = ValidatedAuthorization::validate(
            &params(&[("acr_values", Some(Acr::LEVEL_2))]),
            &client(false, EidLevel::Level1),
            false,
        )
        .unwrap();
        assert_eq!(request.min_level, EidLevel::Level2);
        // A request cannot lower the client's minimum.
        let request = ValidatedAuthorization::validate(
            &params(&[("acr_values", Some(Acr::LEVEL_1))]),
            &client(false, EidLevel::Level2),
            false,
        )
        .unwrap();
        assert_eq!(request.min_level, EidLevel::Level2);
    }
}
