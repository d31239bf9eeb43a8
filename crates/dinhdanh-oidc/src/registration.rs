//! Client registration by the identity authority: raw fields in, a checked registration out.
//!
//! The CLI (`dinhdanh clients create`) and the admin API pass the same [`ClientRegistration`];
//! the server stores what [`ClientRegistration::validate`] returns.

use dinhdanh_core::{DISPLAY_NAME_MAX_CHARS, EidLevel, display_name};
use dinhdanh_crypto::SignatureAlgorithm;
use dinhdanh_crypto::jose::Jwks;

use crate::client::{ClientError, ClientId, ClientPolicy, RedirectUri, SectorIdentifier};
use crate::scope::{Scope, Scopes};

/// The most redirect URIs a client may register.
const MAX_REDIRECT_URIS: usize = 20;

/// The ID-token algorithms a client may choose: ML-DSA-65 by default, EdDSA and ES256 for
/// libraries that do not speak ML-DSA yet (DESIGN §2, §5).
pub const ID_TOKEN_ALGORITHMS: [SignatureAlgorithm; 3] = [
    SignatureAlgorithm::MlDsa65,
    SignatureAlgorithm::Ed25519,
    SignatureAlgorithm::EcdsaP256,
];

/// Why a registration was refused. Each variant names the field at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// A client-level rule (id, redirect URI, sector).
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The name is empty, too long or has control characters.
    #[error("name: must be 1 to {DISPLAY_NAME_MAX_CHARS} printable characters")]
    Name,
    /// Too many redirect URIs.
    #[error("redirect_uris: at most {MAX_REDIRECT_URIS}")]
    TooManyRedirectUris,
    /// The scopes do not parse, or do not include `openid`.
    #[error("scopes: {0}")]
    Scopes(String),
    /// The minimum level is not 1 or 2.
    #[error("min_level: must be 1 or 2")]
    Level,
    /// The ID-token algorithm is not one of [`ID_TOKEN_ALGORITHMS`].
    #[error("id_token_signed_response_alg: must be ML-DSA-65, EdDSA or ES256")]
    IdTokenAlgorithm,
    /// The authentication method is not `private_key_jwt` or `client_secret_basic`.
    #[error("token_endpoint_auth_method: must be private_key_jwt or client_secret_basic")]
    AuthMethod,
    /// `private_key_jwt` without a key set, or a key set with `client_secret_basic`.
    #[error("jwks: required with private_key_jwt, and only with it")]
    JwksPresence,
    /// The key set does not parse, is empty, or holds a private key.
    #[error("jwks: {0}")]
    Jwks(String),
}

/// How a registered client authenticates at the token endpoint.
#[derive(Debug, Clone)]
pub enum RegisteredAuth {
    /// `private_key_jwt` with these public keys.
    PrivateKeyJwt(Jwks),
    /// `client_secret_basic`: the caller makes the secret and stores its hash.
    SecretBasic,
}

/// A registration as asked for.
#[derive(Debug, Clone, Default)]
pub struct ClientRegistration {
    /// The client id.
    pub client_id: String,
    /// The name shown on the consent page.
    pub name: String,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The sector host; without it, the one host of the redirect URIs.
    pub sector: Option<String>,
    /// The scopes the client may ask for, space-separated; must include `openid`.
    pub scopes: String,
    /// Whether it must push its authorization requests (RFC 9126 §6).
    pub require_par: bool,
    /// 1 or 2.
    pub min_level: u8,
    /// `ML-DSA-65` (default), `EdDSA` or `ES256`.
    pub id_token_alg: Option<String>,
    /// `private_key_jwt` or `client_secret_basic`.
    pub auth_method: String,
    /// The client's public keys (a JWK Set document), for `private_key_jwt`.
    pub jwks: Option<String>,
}

/// A registration that passed every check.
#[derive(Debug, Clone)]
pub struct ValidRegistration {
    /// The engine's view of the client.
    pub policy: ClientPolicy,
    /// Its name, whitespace collapsed.
    pub name: String,
    /// How its ID tokens are signed.
    pub id_token_alg: SignatureAlgorithm,
    /// How it authenticates.
    pub auth: RegisteredAuth,
}

impl ClientRegistration {
    /// Checks every field.
    pub fn validate(&self) -> Result<ValidRegistration, RegistrationError> {
        let id = ClientId::new(&self.client_id)?;
        let name = display_name(&self.name).ok_or(RegistrationError::Name)?;
        if self.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(RegistrationError::TooManyRedirectUris);
        }
        let redirect_uris = self
            .redirect_uris
            .iter()
            .map(|uri| RedirectUri::new(uri))
            .collect::<Result<Vec<_>, _>>()?;
        let sector = self
            .sector
            .as_deref()
            .map(SectorIdentifier::new)
            .transpose()?;
        let scopes = Scopes::parse(&self.scopes)
            .map_err(|err| RegistrationError::Scopes(err.to_string()))?;
        if !scopes.contains(Scope::OpenId) {
            return Err(RegistrationError::Scopes("must include openid".into()));
        }
        let min_level = match self.min_level {
            1 => EidLevel::Level1,
            2 => EidLevel::Level2,
            _ => return Err(RegistrationError::Level),
        };
        let id_token_alg = match self.id_token_alg.as_deref() {
            None => SignatureAlgorithm::MlDsa65,
            Some(name) => SignatureAlgorithm::from_jose_name(name)
                .filter(|alg| ID_TOKEN_ALGORITHMS.contains(alg))
                .ok_or(RegistrationError::IdTokenAlgorithm)?,
        };
        let auth = match (self.auth_method.as_str(), &self.jwks) {
            ("private_key_jwt", Some(jwks)) => RegisteredAuth::PrivateKeyJwt(client_keys(jwks)?),
            ("client_secret_basic", None) => RegisteredAuth::SecretBasic,
            ("private_key_jwt" | "client_secret_basic", _) => {
                return Err(RegistrationError::JwksPresence);
            }
            _ => return Err(RegistrationError::AuthMethod),
        };
        let policy = ClientPolicy::new(
            id,
            redirect_uris,
            sector,
            scopes,
            self.require_par,
            min_level,
        )?;
        Ok(ValidRegistration {
            policy,
            name,
            id_token_alg,
            auth,
        })
    }
}

/// A client's key set: at least one key, public keys only.
fn client_keys(text: &str) -> Result<Jwks, RegistrationError> {
    let jwks =
        Jwks::from_json(text.as_bytes()).map_err(|err| RegistrationError::Jwks(err.to_string()))?;
    if jwks.keys().is_empty() {
        return Err(RegistrationError::Jwks("the set has no key".into()));
    }
    if jwks.keys().iter().any(|key| key.signing_key().is_some()) {
        return Err(RegistrationError::Jwks(
            "a private key was sent; register public keys only".into(),
        ));
    }
    Ok(jwks)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use dinhdanh_crypto::SigningKey;
    use dinhdanh_crypto::jose::Jwk;

    fn key_set(private: bool) -> String {
        let key = Jwk::private(
            SigningKey::generate(SignatureAlgorithm::MlDsa65).unwrap(),
            Some("k1".into()),
        );
        let key = if private { key } else { key.to_public() };
        let mut set = serde_json::Map::new();
        set.insert("keys".into(), serde_json::Value::Array(vec![key.to_json()]));
        serde_json::Value::Object(set).to_string()
    }

    fn registration() -> ClientRegistration {
        ClientRegistration {
            client_id: "rp-mau".into(),
            name: "  Ứng dụng   mẫu ".into(),
            redirect_uris: vec!["https://rp.example.vn/cb".into()],
            sector: None,
            scopes: "openid verified age".into(),
            require_par: false,
            min_level: 1,
            id_token_alg: None,
            auth_method: "private_key_jwt".into(),
            jwks: Some(key_set(false)),
        }
    }

    #[test]
    fn a_good_registration_defaults_to_ml_dsa_65() {
        let valid = registration().validate().unwrap();
        assert_eq!(valid.name, "Ứng dụng mẫu");
        assert_eq!(valid.id_token_alg, SignatureAlgorithm::MlDsa65);
        assert_eq!(valid.policy.sector.as_str(), "rp.example.vn");
        assert!(
            matches!(valid.auth, RegisteredAuth::PrivateKeyJwt(ref set) if set.keys().len() == 1)
        );
        let legacy = ClientRegistration {
            auth_method: "client_secret_basic".into(),
            jwks: None,
            id_token_alg: Some("ES256".into()),
            ..registration()
        };
        let valid = legacy.validate().unwrap();
        assert_eq!(valid.id_token_alg, SignatureAlgorithm::EcdsaP256);
        assert!(matches!(valid.auth, RegisteredAuth::SecretBasic));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(ClientRegistration, &str)> = vec![
            (
                ClientRegistration {
                    client_id: "a b".into(),
                    ..registration()
                },
                "client id",
            ),
            (
                ClientRegistration {
                    name: " ".into(),
                    ..registration()
                },
                "name",
            ),
            (
                ClientRegistration {
                    redirect_uris: vec!["http://rp.example.vn/cb".into()],
                    ..registration()
                },
                "redirect URI",
            ),
            (
                ClientRegistration {
                    redirect_uris: vec![],
                    ..registration()
                },
                "redirect URI",
            ),
            (
                ClientRegistration {
                    scopes: "verified".into(),
                    ..registration()
                },
                "scopes",
            ),
            (
                ClientRegistration {
                    scopes: "openid email".into(),
                    ..registration()
                },
                "scopes",
            ),
            (
                ClientRegistration {
                    min_level: 0,
                    ..registration()
                },
                "min_level",
            ),
            (
                ClientRegistration {
                    id_token_alg: Some("none".into()),
                    ..registration()
                },
                "alg",
            ),
            (
                ClientRegistration {
                    id_token_alg: Some("ML-DSA-44".into()),
                    ..registration()
                },
                "alg",
            ),
            (
                ClientRegistration {
                    id_token_alg: Some("RS256".into()),
                    ..registration()
                },
                "alg",
            ),
            (
                ClientRegistration {
                    auth_method: "none".into(),
                    ..registration()
                },
                "auth_method",
            ),
            (
                ClientRegistration {
                    jwks: None,
                    ..registration()
                },
                "jwks",
            ),
            (
                ClientRegistration {
                    jwks: Some(key_set(true)),
                    ..registration()
                },
                "private key",
            ),
            (
                ClientRegistration {
                    jwks: Some(r#"{"keys":[]}"#.into()),
                    ..registration()
                },
                "no key",
            ),
            (
                ClientRegistration {
                    jwks: Some("[".into()),
                    ..registration()
                },
                "jwks",
            ),
        ];
        for (case, names) in cases {
            let err = case.validate().unwrap_err().to_string();
            assert!(err.contains(names), "{err:?} should name {names:?}");
        }
    }
}
