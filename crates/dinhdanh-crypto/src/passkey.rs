//! Passkeys (W3C Web Authentication Level 3) as a second factor, through `webauthn-rs`.
//!
//! This module is the only place that sees `webauthn-rs` types. Everything it hands out is
//! opaque: options as JSON text for the browser, ceremony state and stored credentials as
//! bytes for the store (which seals them), and the browser's answer taken back as JSON text.
//! Ceremony state must stay on the server (WebAuthn §13.4.3: a challenge is used once); the
//! caller keeps it in its store and takes it out exactly once.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, WebauthnError,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::TokenHash;

/// What can go wrong in a passkey ceremony.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasskeyError {
    /// The site's origin cannot be a WebAuthn relying party: it is not `https` (or `http` on
    /// `localhost`), or its host is an IP address rather than a domain (WebAuthn §5.1.4.1
    /// needs a valid domain as the RP ID).
    #[error("passkeys need an https origin whose host is a domain name (or http://localhost)")]
    Origin,
    /// The browser's answer is not valid JSON of the expected shape.
    #[error("the passkey answer is malformed")]
    Malformed,
    /// The browser's answer is well formed but does not verify: wrong challenge, origin, RP ID
    /// or signature, no user verification, or a credential this person does not hold.
    #[error("the passkey answer was refused")]
    Refused,
    /// Stored ceremony state or a stored credential does not decode: an internal fault.
    #[error("stored passkey data is unreadable")]
    Corrupt,
    /// The WebAuthn library failed on input it should have accepted.
    #[error("the WebAuthn library failed")]
    Internal,
}

/// The relying party: this site, as authenticators see it.
pub struct PasskeySite {
    webauthn: Webauthn,
}

impl std::fmt::Debug for PasskeySite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasskeySite").finish_non_exhaustive()
    }
}

/// A registration to finish: the options for the browser and the state to keep.
#[derive(Debug)]
pub struct RegistrationStart {
    /// `PublicKeyCredentialCreationOptions` as JSON (`{"publicKey": …}`, binary fields in
    /// unpadded base64url), for `navigator.credentials.create`.
    pub options: String,
    /// What the server keeps until the browser answers.
    pub state: Vec<u8>,
}

/// An authentication to finish: the options for the browser and the state to keep.
#[derive(Debug)]
pub struct AuthenticationStart {
    /// `PublicKeyCredentialRequestOptions` as JSON, for `navigator.credentials.get`.
    pub options: String,
    /// What the server keeps until the browser answers.
    pub state: Vec<u8>,
}

/// A credential to keep with an account.
#[derive(Debug)]
pub struct StoredCredential {
    /// SHA-256 of the credential id (unpadded base64url): one credential, one account
    /// (WebAuthn §7.1 step 25).
    pub id_hash: TokenHash,
    /// The credential (public key, counter, flags), to be stored sealed.
    pub credential: Vec<u8>,
}

fn id_hash(id: &[u8]) -> TokenHash {
    TokenHash::of(&URL_SAFE_NO_PAD.encode(id))
}

/// The library's reason names which check failed; it stays out of every answer.
fn refused(_reason: WebauthnError) -> PasskeyError {
    PasskeyError::Refused
}

impl PasskeySite {
    /// The relying party for `origin` (the provider's issuer): the RP ID is its host.
    pub fn new(origin: &str, name: &str) -> Result<Self, PasskeyError> {
        let url = Url::parse(origin).map_err(|_| PasskeyError::Origin)?;
        let host = url.domain().ok_or(PasskeyError::Origin)?.to_owned();
        let secure = url.scheme() == "https" || (url.scheme() == "http" && host == "localhost");
        if !secure {
            return Err(PasskeyError::Origin);
        }
        let webauthn = WebauthnBuilder::new(&host, &url)
            .map_err(|_| PasskeyError::Origin)?
            .rp_name(name)
            .build()
            .map_err(|_| PasskeyError::Origin)?;
        Ok(Self { webauthn })
    }

    /// Starts registering a passkey for the user `handle`, labelled `label` in the
    /// authenticator's account picker, excluding credentials the user already holds.
    pub fn start_registration(
        &self,
        handle: Uuid,
        label: &str,
        existing: &[Vec<u8>],
    ) -> Result<RegistrationStart, PasskeyError> {
        let exclude = existing
            .iter()
            .map(|stored| decode_credential(stored).map(|passkey| passkey.cred_id().clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_registration(handle, label, label, Some(exclude))
            .map_err(|_| PasskeyError::Internal)?;
        Ok(RegistrationStart {
            options: serde_json::to_string(&options).map_err(|_| PasskeyError::Internal)?,
            state: serde_json::to_vec(&state).map_err(|_| PasskeyError::Internal)?,
        })
    }

    /// Checks the browser's answer (`PublicKeyCredential` as JSON) to a registration.
    pub fn finish_registration(
        &self,
        answer: &str,
        state: &[u8],
    ) -> Result<StoredCredential, PasskeyError> {
        let state: PasskeyRegistration =
            serde_json::from_slice(state).map_err(|_| PasskeyError::Corrupt)?;
        let answer: RegisterPublicKeyCredential =
            serde_json::from_str(answer).map_err(|_| PasskeyError::Malformed)?;
        let passkey = self
            .webauthn
            .finish_passkey_registration(&answer, &state)
            .map_err(refused)?;
        Ok(StoredCredential {
            id_hash: id_hash(passkey.cred_id()),
            credential: serde_json::to_vec(&passkey).map_err(|_| PasskeyError::Internal)?,
        })
    }

    /// Starts an authentication with any of the person's stored credentials.
    pub fn start_authentication(
        &self,
        credentials: &[Vec<u8>],
    ) -> Result<AuthenticationStart, PasskeyError> {
        let passkeys = credentials
            .iter()
            .map(|stored| decode_credential(stored))
            .collect::<Result<Vec<_>, _>>()?;
        let (options, state) = self
            .webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(|_| PasskeyError::Internal)?;
        Ok(AuthenticationStart {
            options: serde_json::to_string(&options).map_err(|_| PasskeyError::Internal)?,
            state: serde_json::to_vec(&state).map_err(|_| PasskeyError::Internal)?,
        })
    }

    /// Checks the browser's answer to an authentication against the stored credentials the
    /// ceremony allowed. Returns the credential used, updated (its signature counter) when it
    /// changed.
    pub fn finish_authentication(
        &self,
        answer: &str,
        state: &[u8],
        credentials: &[Vec<u8>],
    ) -> Result<(TokenHash, Option<Vec<u8>>), PasskeyError> {
        let state: PasskeyAuthentication =
            serde_json::from_slice(state).map_err(|_| PasskeyError::Corrupt)?;
        let answer: PublicKeyCredential =
            serde_json::from_str(answer).map_err(|_| PasskeyError::Malformed)?;
        let result = self
            .webauthn
            .finish_passkey_authentication(&answer, &state)
            .map_err(refused)?;
        // The library checked the credential was one the ceremony allowed, and its counter
        // against the copy the ceremony started with. Find the credential as stored now and
        // check the counter again (WebAuthn §7.2 step 22: a counter that did not move past the
        // stored one may be a cloned authenticator), then keep the new value.
        for stored in credentials {
            let mut passkey = decode_credential(stored)?;
            if passkey.cred_id() != result.cred_id() {
                continue;
            }
            let before = stored_counter(&passkey)?;
            if (result.counter() > 0 || before > 0) && result.counter() <= before {
                return Err(PasskeyError::Refused);
            }
            let changed = passkey.update_credential(&result).unwrap_or(false);
            let updated = if changed {
                Some(serde_json::to_vec(&passkey).map_err(|_| PasskeyError::Internal)?)
            } else {
                None
            };
            return Ok((id_hash(passkey.cred_id()), updated));
        }
        Err(PasskeyError::Refused)
    }
}

/// The signature counter a credential holds. `webauthn-rs` keeps it private; its serialised
/// form names it (`cred.counter`).
fn stored_counter(passkey: &Passkey) -> Result<u32, PasskeyError> {
    let value = serde_json::to_value(passkey).map_err(|_| PasskeyError::Internal)?;
    value["cred"]["counter"]
        .as_u64()
        .and_then(|counter| u32::try_from(counter).ok())
        .ok_or(PasskeyError::Corrupt)
}

fn decode_credential(stored: &[u8]) -> Result<Passkey, PasskeyError> {
    serde_json::from_slice(stored).map_err(|_| PasskeyError::Corrupt)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn origins_that_cannot_hold_passkeys_are_refused() {
        for origin in [
            "https://127.0.0.1:8443",
            "http://id.example.vn",
            "http://127.0.0.1:3000",
            "not a url",
            "https://[::1]:8443",
        ] {
            assert!(
                matches!(
                    PasskeySite::new(origin, "dinhdanh"),
                    Err(PasskeyError::Origin)
                ),
                "{origin} accepted"
            );
        }
        for origin in [
            "https://id.example.vn",
            "http://localhost:8080",
            "https://localhost",
        ] {
            assert!(PasskeySite::new(origin, "dinhdanh").is_ok(), "{origin}");
        }
    }

    #[test]
    fn registration_options_carry_the_challenge_and_no_more_than_the_label() {
        let site = PasskeySite::new("https://id.example.vn", "dinhdanh").unwrap();
        let handle = Uuid::from_bytes([7; 16]);
        let start = site
            .start_registration(handle, "e-ID ••••5678", &[])
            .unwrap();
        let options: serde_json::Value = serde_json::from_str(&start.options).unwrap();
        let public_key = &options["publicKey"];
        assert_eq!(public_key["rp"]["id"], "id.example.vn");
        assert_eq!(public_key["user"]["name"], "e-ID ••••5678");
        assert_eq!(public_key["user"]["id"], URL_SAFE_NO_PAD.encode([7u8; 16]));
        assert_eq!(
            public_key["authenticatorSelection"]["userVerification"],
            "required"
        );
        let challenge = public_key["challenge"].as_str().unwrap();
        assert!(URL_SAFE_NO_PAD.decode(challenge).unwrap().len() >= 16);
        // Two ceremonies never share a challenge.
        let again = site.start_registration(handle, "e-ID", &[]).unwrap();
        let other: serde_json::Value = serde_json::from_str(&again.options).unwrap();
        assert_ne!(other["publicKey"]["challenge"], public_key["challenge"]);
    }

    #[test]
    fn answers_that_are_not_credentials_are_malformed_and_bad_state_is_corrupt() {
        let site = PasskeySite::new("https://id.example.vn", "dinhdanh").unwrap();
        let start = site
            .start_registration(Uuid::from_bytes([1; 16]), "e-ID", &[])
            .unwrap();
        for answer in ["", "{}", "null", "{\"id\":\"x\"}", "[1,2]"] {
            assert!(matches!(
                site.finish_registration(answer, &start.state),
                Err(PasskeyError::Malformed)
            ));
        }
        assert!(matches!(
            site.finish_registration("{}", b"not state"),
            Err(PasskeyError::Corrupt)
        ));
        assert!(matches!(
            site.start_authentication(&[b"not a credential".to_vec()]),
            Err(PasskeyError::Corrupt)
        ));
    }

    #[test]
    fn a_forged_registration_answer_is_refused() {
        let site = PasskeySite::new("https://id.example.vn", "dinhdanh").unwrap();
        let start = site
            .start_registration(Uuid::from_bytes([1; 16]), "e-ID", &[])
            .unwrap();
        let options: serde_json::Value = serde_json::from_str(&start.options).unwrap();
        let challenge = options["publicKey"]["challenge"].as_str().unwrap();
        // Client data from another origin, with the right challenge: refused.
        let client_data = serde_json::json!({
            "type": "webauthn.create",
            "challenge": challenge,
            "origin": "https://phishing.example",
        });
        let answer = serde_json::json!({
            "id": "AAAA",
            "rawId": "AAAA",
            "type": "public-key",
            "response": {
                "attestationObject": URL_SAFE_NO_PAD.encode([0xa0]),
                "clientDataJSON": URL_SAFE_NO_PAD.encode(client_data.to_string()),
            },
        });
        assert!(matches!(
            site.finish_registration(&answer.to_string(), &start.state),
            Err(PasskeyError::Refused)
        ));
    }
}
