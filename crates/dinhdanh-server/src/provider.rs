//! The OpenID Connect provider's server-side state: its configuration, the signing keys it
//! caches, the client assertions it has seen, the per-address login throttle, and the small
//! pieces every provider route shares (random references, form parsing, OAuth error bodies,
//! CSRF tokens).
//!
//! The protocol rules live in `dinhdanh-oidc`; what must survive a restart or be shared by
//! nodes lives in the store. What this module keeps in memory is a cache or a throttle only:
//! losing it on restart weakens nothing that the store does not enforce again.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_crypto::jose::Jwk;
use dinhdanh_crypto::passkey::PasskeySite;
use dinhdanh_crypto::{BlindIndexKey, SignatureAlgorithm, SigningKey, constant_time_eq};
use dinhdanh_store::{Client, RegistryStore, SigningKeyState, StoreError};
use serde::{Deserialize, Serialize};

/// The algorithms the provider signs ID tokens with; a client chooses one at registration.
pub const PROVIDER_ALGORITHMS: [SignatureAlgorithm; 3] = [
    SignatureAlgorithm::MlDsa65,
    SignatureAlgorithm::Ed25519,
    SignatureAlgorithm::EcdsaP256,
];

/// The OpenID Connect provider's settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer identifier: the provider's public base URL, with no trailing slash (OIDC
    /// Discovery §3). Default empty: `demo` and `serve` then use `https://<listen address>`.
    pub issuer: String,
    /// How long an authorization code lives, in seconds. Default 60 (RFC 6749 §4.1.2
    /// recommends at most 10 minutes).
    pub code_ttl_seconds: u64,
    /// How long an access token lives, in seconds. Default 600.
    pub access_ttl_seconds: u64,
    /// How long a refresh token lives, in seconds. Default 2,592,000 (30 days).
    pub refresh_ttl_seconds: u64,
    /// How long a login session lives, in seconds. Default 28,800 (8 hours).
    pub session_ttl_seconds: u64,
    /// How long a pushed request's `request_uri` lives, in seconds. Default 90 (RFC 9126 §2.2
    /// suggests 5 to 600).
    pub par_ttl_seconds: u64,
    /// How long a person has to log in and consent, in seconds. Default 600.
    pub interaction_ttl_seconds: u64,
    /// Failed logins of one account before it is locked. Default 5.
    pub max_failed_logins: u32,
    /// The first lock's length, in seconds; each further failure doubles it, up to an hour.
    /// Default 60.
    pub lockout_seconds: u64,
    /// Login and enrolment attempts one address may make per minute. Default 30.
    pub attempts_per_address_per_minute: u32,
    /// Addresses of reverse proxies that terminate TLS in front of this node. A request from
    /// one of them is counted under the last address its `X-Forwarded-For` names that is not
    /// a trusted proxy itself; from anyone else the header is ignored. Default none.
    pub trusted_proxies: Vec<IpAddr>,
    /// Accounts one person may have bound on one platform (default 5; no rule fixes a
    /// number, see `dinhdanh_core::DEFAULT_ACCOUNTS_PER_PLATFORM`).
    pub accounts_per_platform: u32,
    /// Live lines one person may hold at one telecom operator (default 3: DESIGN §4, after
    /// Circular 08/2026's limit on subscriptions per person per operator).
    pub lines_per_operator: u32,
    /// The same, for a line whose contract flag allows more (default 10).
    pub lines_per_operator_with_contract: u32,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            issuer: String::new(),
            code_ttl_seconds: 60,
            access_ttl_seconds: 600,
            refresh_ttl_seconds: 30 * 24 * 3600,
            session_ttl_seconds: 8 * 3600,
            par_ttl_seconds: 90,
            interaction_ttl_seconds: 600,
            max_failed_logins: 5,
            lockout_seconds: 60,
            attempts_per_address_per_minute: 30,
            trusted_proxies: Vec::new(),
            accounts_per_platform: dinhdanh_core::DEFAULT_ACCOUNTS_PER_PLATFORM,
            lines_per_operator: 3,
            lines_per_operator_with_contract: 10,
        }
    }
}

impl OidcConfig {
    /// The URL of a provider endpoint, such as `/token`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{path}", self.issuer.trim_end_matches('/'))
    }

    /// How long the account stays locked after `failures` failed logins, or `None` below the
    /// threshold: the lock doubles with each failure past it, up to an hour.
    pub fn lockout(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.max_failed_logins)?;
        let seconds = self
            .lockout_seconds
            .saturating_mul(1u64 << over.min(16))
            .min(3600);
        Some(Duration::from_secs(seconds))
    }
}

/// How long a client stays cached: disabling a client or changing its keys takes effect on
/// every node within this time.
const CLIENT_CACHE: Duration = Duration::from_secs(10);

/// How long a signing key stays cached. Keys are published as `next` for longer than this
/// before they sign, so a rotation reaches every node before relying parties need it.
const KEY_CACHE: Duration = Duration::from_secs(60);

/// The provider's in-memory state, shared by its routes.
pub(crate) struct Provider {
    pub(crate) config: OidcConfig,
    keys: Mutex<HashMap<SignatureAlgorithm, (Instant, Arc<Jwk>)>>,
    assertions: Mutex<HashMap<String, i64>>,
    attempts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    enrolments: Mutex<HashMap<[u8; 32], (Instant, u32)>>,
    clients: Mutex<HashMap<String, (Instant, Client)>>,
    /// Argon2id runs take 64 MiB each: at most this many at once.
    pub(crate) password_work: tokio::sync::Semaphore,
    /// The WebAuthn relying party for passkeys, when the issuer can be one (a domain name,
    /// over https or on `http://localhost`).
    pub(crate) passkeys: Option<PasskeySite>,
}

/// Failed enrolments one citizen number may see in an hour on a node before it is refused.
const ENROLMENT_FAILURES_PER_HOUR: u32 = 5;

impl Provider {
    pub(crate) fn new(mut config: OidcConfig) -> Self {
        config.issuer = config.issuer.trim_end_matches('/').to_owned();
        if config.issuer.is_empty() {
            config.issuer = "http://localhost".to_owned();
        }
        let passkeys = match PasskeySite::new(&config.issuer, "dinhdanh") {
            Ok(site) => Some(site),
            Err(err) => {
                tracing::info!(issuer = %config.issuer, reason = %err, "passkeys are not offered");
                None
            }
        };
        Self {
            passkeys,
            config,
            keys: Mutex::new(HashMap::new()),
            assertions: Mutex::new(HashMap::new()),
            attempts: Mutex::new(HashMap::new()),
            enrolments: Mutex::new(HashMap::new()),
            clients: Mutex::new(HashMap::new()),
            password_work: tokio::sync::Semaphore::new(4),
        }
    }

    /// Whether a citizen number (by its keyed hash, never in clear) may try enrolling: after
    /// [`ENROLMENT_FAILURES_PER_HOUR`] failures it must wait out the hour, so that a birth date
    /// cannot be found by trying each day of the year the number gives away.
    pub(crate) fn enrolment_allowed(&self, number: &[u8; 32]) -> bool {
        let enrolments = self
            .enrolments
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        enrolments.get(number).is_none_or(|(since, failures)| {
            since.elapsed() >= Duration::from_secs(3600) || *failures < ENROLMENT_FAILURES_PER_HOUR
        })
    }

    /// Counts a failed enrolment for a citizen number.
    pub(crate) fn enrolment_failed(&self, number: &[u8; 32]) {
        let mut enrolments = self
            .enrolments
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if enrolments.len() > 100_000 {
            enrolments.retain(|_, (since, _)| since.elapsed() < Duration::from_secs(3600));
        }
        let entry = enrolments.entry(*number).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= Duration::from_secs(3600) {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }

    /// The active signing key for `alg`, as a private JWK with its `kid`.
    pub(crate) async fn signing_key(
        &self,
        store: &dyn RegistryStore,
        alg: SignatureAlgorithm,
    ) -> Result<Arc<Jwk>, StoreError> {
        if let Some((at, key)) = self
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&alg)
            && at.elapsed() < KEY_CACHE
        {
            return Ok(key.clone());
        }
        let (record, key) = store
            .find_active_signing_key(alg)
            .await?
            .ok_or(StoreError::NotFound("signing key"))?;
        let jwk = Arc::new(Jwk::private(key, Some(record.kid)));
        self.keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(alg, (Instant::now(), jwk.clone()));
        Ok(jwk)
    }

    /// A registered client, as the store held it at most [`CLIENT_CACHE`] ago: the token
    /// endpoint reads its client on every request.
    pub(crate) async fn client(
        &self,
        store: &dyn RegistryStore,
        id: &str,
    ) -> Result<Option<Client>, StoreError> {
        if let Some((at, client)) = self
            .clients
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
            && at.elapsed() < CLIENT_CACHE
        {
            return Ok(Some(client.clone()));
        }
        let found = store.oidc().find_client(id).await?;
        if let Some(client) = &found {
            let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            if clients.len() > 10_000 {
                clients.retain(|_, (at, _)| at.elapsed() < CLIENT_CACHE);
            }
            clients.insert(id.to_owned(), (Instant::now(), client.clone()));
        }
        Ok(found)
    }

    /// Records a client assertion's `jti` until `exp`; false if it was seen before (RFC 7523
    /// §3 item 7). Kept per node: a replay across nodes within the assertion's short life is
    /// the residual risk, bounded by `exp`.
    pub(crate) fn first_use_of_assertion(
        &self,
        client_id: &str,
        jti: &str,
        exp: i64,
        now: i64,
    ) -> bool {
        let mut seen = self
            .assertions
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.len() > 10_000 {
            seen.retain(|_, until| *until >= now);
        }
        let key = format!("{client_id}\0{jti}");
        match seen.get(&key) {
            Some(until) if *until >= now => false,
            _ => {
                seen.insert(key, exp);
                true
            }
        }
    }

    /// Counts an attempt from `address`; false once it made more than the configured number
    /// in the current minute.
    pub(crate) fn allow_attempt(&self, address: Option<IpAddr>) -> bool {
        let Some(address) = address else {
            return true;
        };
        let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if attempts.len() > 100_000 {
            attempts.retain(|_, (since, _)| now.duration_since(*since) < Duration::from_secs(60));
        }
        let entry = attempts.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0) >= Duration::from_secs(60) {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
        entry.1 <= self.config.attempts_per_address_per_minute
    }
}

/// Makes sure one active signing key exists for each algorithm the provider offers, with a
/// `next` key published beside it. Returns the algorithms it created keys for.
pub async fn ensure_signing_keys(
    store: &dyn RegistryStore,
) -> Result<Vec<SignatureAlgorithm>, StoreError> {
    let mut created = Vec::new();
    for alg in PROVIDER_ALGORITHMS {
        if store.find_active_signing_key(alg).await?.is_some() {
            continue;
        }
        let generated = |alg| SigningKey::generate(alg).map_err(StoreError::Crypto);
        store
            .insert_signing_key(&generated(alg)?, SigningKeyState::Active)
            .await?;
        store
            .insert_signing_key(&generated(alg)?, SigningKeyState::Next)
            .await?;
        created.push(alg);
    }
    Ok(created)
}

/// A fresh unguessable reference: 256 random bits, base64url.
pub(crate) fn random_reference() -> Result<String, dinhdanh_crypto::CryptoError> {
    let mut bytes = [0u8; 32];
    dinhdanh_crypto::random_bytes(&mut bytes)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The CSRF token of a form: an HMAC of the browser's CSRF cookie and the transaction the
/// form belongs to, so that a token works only in the browser and the flow it was made for.
pub(crate) fn csrf_token(key: &BlindIndexKey, cookie: &str, tx: &str) -> String {
    let mut input = Vec::with_capacity(cookie.len() + 1 + tx.len());
    input.extend_from_slice(cookie.as_bytes());
    input.push(0);
    input.extend_from_slice(tx.as_bytes());
    URL_SAFE_NO_PAD.encode(key.index("oidc-csrf", &input))
}

/// Whether `presented` is the CSRF token for this cookie and transaction (constant time).
pub(crate) fn csrf_matches(key: &BlindIndexKey, cookie: &str, tx: &str, presented: &str) -> bool {
    constant_time_eq(csrf_token(key, cookie, tx).as_bytes(), presented.as_bytes())
}

/// A form body or query string as name/value pairs; a name given twice is refused (RFC 6749
/// §3.1: "Request and response parameters MUST NOT be included more than once").
#[derive(Debug, Default)]
pub(crate) struct FormPairs(pub(crate) Vec<(String, String)>);

impl FormPairs {
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in form_urlencoded::parse(bytes) {
            if !seen.insert(name.clone()) {
                return Err(format!("the parameter `{}` is repeated", safe_name(&name)));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    }
}

/// A parameter name fit to repeat in an error: short and plain, or not at all.
fn safe_name(name: &str) -> &str {
    if name.len() <= 40 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        name
    } else {
        "(unnamed)"
    }
}

/// Whether a request body is `application/x-www-form-urlencoded`.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|mime| {
            mime.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// An OAuth 2.0 error answer (RFC 6749 §5.2): the token, PAR, userinfo and revocation
/// endpoints answer in the format their clients' libraries parse, the way TAXII and RDAP keep
/// their own error bodies. The description is ours, never a value from the request.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
    bearer_challenge: bool,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        code: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            description: description.into(),
            bearer_challenge: false,
        }
    }

    /// `invalid_request` (400).
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `invalid_grant` (400): a code or refresh token that is unknown, used, expired or not
    /// this client's.
    pub(crate) fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    /// `invalid_client` (401).
    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    /// `invalid_token` at a protected resource (RFC 6750 §3.1), with its challenge.
    pub(crate) fn invalid_token(description: impl Into<String>) -> Self {
        Self {
            bearer_challenge: true,
            ..Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
        }
    }

    /// `server_error` (500), logging the cause and showing none of it.
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error at an OAuth endpoint");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }
}

impl From<StoreError> for OAuthError {
    fn from(err: StoreError) -> Self {
        Self::internal(&err)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.code,
            "error_description": self.description,
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            let challenge = if self.bearer_challenge {
                format!("Bearer error=\"{}\"", self.code)
            } else {
                // RFC 6749 §5.2: a 401 for client authentication names the scheme tried.
                "Basic realm=\"dinhdanh\"".to_owned()
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        response
    }
}

/// The address a request comes from, for the login throttle: the peer's, or behind a
/// trusted proxy the client's as the proxy reports it. `None` when the server has no
/// connection information (only the per-account limits apply then).
pub(crate) struct ClientAddress(pub(crate) Option<IpAddr>);

impl ClientAddress {
    /// `X-Forwarded-For` (the de facto form of RFC 7239's `for=`) lists the client, then each
    /// proxy that passed the request on; the last entry that is not one of ours is the client.
    fn resolve(
        peer: Option<IpAddr>,
        forwarded: Option<&str>,
        trusted: &[IpAddr],
    ) -> Option<IpAddr> {
        let peer = peer?;
        if !trusted.contains(&peer) {
            return Some(peer);
        }
        let Some(forwarded) = forwarded else {
            return Some(peer);
        };
        let mut hops = forwarded.split(',').rev();
        for hop in &mut hops {
            match hop.trim().parse::<IpAddr>() {
                Ok(address) if trusted.contains(&address) => continue,
                Ok(address) => return Some(address),
                // An entry that is not an address: stop at the last proxy we trust.
                Err(_) => return Some(peer),
            }
        }
        Some(peer)
    }
}

impl FromRequestParts<crate::AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|value| value.to_str().ok());
        Ok(Self(Self::resolve(
            peer,
            forwarded,
            &state.oidc.config.trusted_proxies,
        )))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_past_the_threshold_and_stops_at_an_hour() {
        let config = OidcConfig::default();
        assert_eq!(config.lockout(4), None);
        assert_eq!(config.lockout(5), Some(Duration::from_secs(60)));
        assert_eq!(config.lockout(6), Some(Duration::from_secs(120)));
        assert_eq!(config.lockout(9), Some(Duration::from_secs(960)));
        assert_eq!(config.lockout(200), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(FormPairs::parse(b"code=a&code=b").is_err());
        let pairs = FormPairs::parse(b"code=a&state=&x=%20y").unwrap();
        assert_eq!(pairs.get("code"), Some("a"));
        assert_eq!(pairs.get("state"), None, "an empty value counts as absent");
        assert_eq!(pairs.get("x"), Some(" y"));
    }

    #[test]
    fn a_csrf_token_belongs_to_one_cookie_and_one_transaction() {
        let key = BlindIndexKey::new(&dinhdanh_crypto::DataKeyMaterial::generate().unwrap());
        let token = csrf_token(&key, "cookie-a", "tx-1");
        assert!(csrf_matches(&key, "cookie-a", "tx-1", &token));
        assert!(!csrf_matches(&key, "cookie-b", "tx-1", &token));
        assert!(!csrf_matches(&key, "cookie-a", "tx-2", &token));
        assert!(!csrf_matches(&key, "cookie-a", "tx-1", ""));
    }

    #[test]
    fn the_address_throttle_counts_per_minute() {
        let provider = Provider::new(OidcConfig {
            attempts_per_address_per_minute: 2,
            ..OidcConfig::default()
        });
        let address = Some(IpAddr::from([192, 0, 2, 1]));
        assert!(provider.allow_attempt(address));
        assert!(provider.allow_attempt(address));
        assert!(!provider.allow_attempt(address));
        assert!(provider.allow_attempt(Some(IpAddr::from([192, 0, 2, 2]))));
        assert!(provider.allow_attempt(None));
    }

    #[test]
    fn only_a_trusted_proxy_names_the_client() {
        let proxy = IpAddr::from([10, 0, 0, 1]);
        let client = IpAddr::from([203, 0, 113, 7]);
        let trusted = [proxy];
        let resolve = |peer, header| ClientAddress::resolve(Some(peer), header, &trusted);
        // A client cannot pick its own address by sending the header.
        assert_eq!(resolve(client, Some("198.51.100.1")), Some(client));
        // Behind the proxy: the last untrusted hop, whatever the client put before it.
        assert_eq!(
            resolve(proxy, Some("198.51.100.1, 203.0.113.7")),
            Some(client)
        );
        assert_eq!(resolve(proxy, Some("203.0.113.7, 10.0.0.1")), Some(client));
        assert_eq!(resolve(proxy, None), Some(proxy));
        assert_eq!(resolve(proxy, Some("garbage")), Some(proxy));
        assert_eq!(
            ClientAddress::resolve(None, Some("203.0.113.7"), &trusted),
            None
        );
    }

    #[test]
    fn an_assertion_id_is_accepted_once_while_it_lives() {
        let provider = Provider::new(OidcConfig::default());
        assert!(provider.first_use_of_assertion("rp", "j1", 1_000, 900));
        assert!(!provider.first_use_of_assertion("rp", "j1", 1_000, 950));
        assert!(provider.first_use_of_assertion("other", "j1", 1_000, 950));
    }
}
