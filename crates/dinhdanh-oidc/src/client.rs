//! What the engine needs to know about a registered client.

use std::fmt;

use dinhdanh_core::EidLevel;
use url::Url;

use crate::scope::Scopes;

/// Why a client registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The client id is not 1 to 64 characters from `A-Z a-z 0-9 - _ .`.
    #[error("client id must be 1 to 64 characters from A-Z a-z 0-9 - _ .")]
    ClientId,
    /// A redirect URI is not an absolute `https` URL (or `http` on a loopback address), or has a
    /// fragment (RFC 6749 §3.1.2, RFC 8252 §7.3).
    #[error(
        "redirect URI must be an absolute https URL without a fragment (http only on loopback)"
    )]
    RedirectUri,
    /// The client has no redirect URI.
    #[error("a client needs at least one redirect URI")]
    NoRedirectUri,
    /// The sector is not a host name.
    #[error("the sector identifier must be a host name")]
    Sector,
    /// Redirect URIs on several hosts and no sector given (OIDC Core §8.1).
    #[error("redirect URIs on several hosts need an explicit sector identifier")]
    SectorRequired,
}

/// A client id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client id.
    pub fn new(id: &str) -> Result<Self, ClientError> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        if id.is_empty() || id.len() > 64 || !id.bytes().all(allowed) {
            return Err(ClientError::ClientId);
        }
        Ok(Self(id.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A registered redirect URI. Requests must repeat it exactly, character for character
/// (RFC 9700 §2.1, OIDC Core §3.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri {
    text: String,
    host: String,
}

impl RedirectUri {
    /// Validates a redirect URI for registration.
    pub fn new(text: &str) -> Result<Self, ClientError> {
        let url = Url::parse(text).map_err(|_| ClientError::RedirectUri)?;
        let host = url.host_str().ok_or(ClientError::RedirectUri)?.to_owned();
        let loopback = matches!(host.as_str(), "127.0.0.1" | "[::1]" | "localhost");
        let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
        // The registered text is what requests are compared with: it must be the URL's own
        // serialisation, so that two spellings of one URL cannot both seem registered.
        if !scheme_ok
            || url.fragment().is_some()
            || url.as_str() != text
            || !url.username().is_empty()
        {
            return Err(ClientError::RedirectUri);
        }
        Ok(Self {
            text: text.to_owned(),
            host,
        })
    }

    /// The URI.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Its host.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// The host that names a client's sector for pairwise subjects (OIDC Core §8.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SectorIdentifier(String);

impl SectorIdentifier {
    /// Validates a sector host name (lower-cased).
    pub fn new(host: &str) -> Result<Self, ClientError> {
        let host = host.to_ascii_lowercase();
        let label_ok = |label: &str| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if host.is_empty() || host.len() > 253 || !host.split('.').all(label_ok) {
            return Err(ClientError::Sector);
        }
        Ok(Self(host))
    }

    /// The host.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registered client, as the engine sees it.
#[derive(Debug, Clone)]
pub struct ClientPolicy {
    /// The client id.
    pub id: ClientId,
    /// Its redirect URIs.
    pub redirect_uris: Vec<RedirectUri>,
    /// Its sector.
    pub sector: SectorIdentifier,
    /// The scopes it may ask for.
    pub allowed_scopes: Scopes,
    /// Whether it must push its authorization requests (RFC 9126 §6).
    pub require_par: bool,
    /// The lowest e-ID level it accepts.
    pub min_level: EidLevel,
}

impl ClientPolicy {
    /// A client policy. Without `sector`, all redirect URIs must share one host, which then
    /// names the sector (OIDC Core §8.1).
    pub fn new(
        id: ClientId,
        redirect_uris: Vec<RedirectUri>,
        sector: Option<SectorIdentifier>,
        allowed_scopes: Scopes,
        require_par: bool,
        min_level: EidLevel,
    ) -> Result<Self, ClientError> {
        let first = redirect_uris.first().ok_or(ClientError::NoRedirectUri)?;
        let sector = match sector {
            Some(sector) => sector,
            None => {
                if redirect_uris.iter().any(|uri| uri.host() != first.host()) {
                    return Err(ClientError::SectorRequired);
                }
                SectorIdentifier::new(
                    first
                        .host()
                        .trim_start_matches('[')
                        .trim_end_matches(']')
                        .replace(':', "-")
                        .as_str(),
                )?
            }
        };
        Ok(Self {
            id,
            redirect_uris,
            sector,
            allowed_scopes,
            require_par,
            min_level: min_level.max(EidLevel::Level1),
        })
    }

    /// The registered URI equal to `text`, character for character.
    pub fn redirect_uri(&self, text: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|uri| uri.as_str() == text)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_https_absolute_and_canonical() {
        for good in [
            "https://rp.example.vn/cb",
            "https://rp.example.vn/cb?x=1",
            "http://127.0.0.1:8080/cb",
            "http://localhost/cb",
        ] {
            assert!(RedirectUri::new(good).is_ok(), "{good}");
        }
        for bad in [
            "http://rp.example.vn/cb",
            "https://rp.example.vn/cb#frag",
            "/cb",
            "https://RP.example.vn/cb",
            "https://user@rp.example.vn/cb",
            "javascript:alert(1)",
        ] {
            assert_eq!(
                RedirectUri::new(bad),
                Err(ClientError::RedirectUri),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_sector_comes_from_the_one_host_or_must_be_given() {
        let uris = |list: &[&str]| list.iter().map(|u| RedirectUri::new(u).unwrap()).collect();
        let id = ClientId::new("rp-1").unwrap();
        let policy = ClientPolicy::new(
            id.clone(),
            uris(&["https://a.example.vn/1", "https://a.example.vn/2"]),
            None,
            Scopes::default(),
            false,
            EidLevel::Level0,
        )
        .unwrap();
        assert_eq!(policy.sector.as_str(), "a.example.vn");
        assert_eq!(policy.min_level, EidLevel::Level1);
        assert!(policy.redirect_uri("https://a.example.vn/1").is_some());
        assert!(policy.redirect_uri("https://a.example.vn/1/").is_none());
        let two_hosts = uris(&["https://a.example.vn/1", "https://b.example.vn/2"]);
        assert_eq!(
            ClientPolicy::new(
                id.clone(),
                two_hosts.clone(),
                None,
                Scopes::default(),
                false,
                EidLevel::Level1
            )
            .unwrap_err(),
            ClientError::SectorRequired
        );
        let sector = SectorIdentifier::new("example.vn").unwrap();
        assert!(
            ClientPolicy::new(
                id,
                two_hosts,
                Some(sector),
                Scopes::default(),
                false,
                EidLevel::Level1
            )
            .is_ok()
        );
        assert!(ClientId::new("has space").is_err());
    }
}
