//! What the OpenID Connect provider keeps: registered clients, citizen accounts and their
//! sessions, authorization requests in flight, consents, and grants with their tokens.
//!
//! The store holds no token, session id or request reference itself, only its SHA-256 hash
//! ([`TokenHash`]); TOTP secrets are sealed under the field key. The protocol rules live in
//! `dinhdanh-oidc`: this module stores what the engine decided, and enforces only what must hold
//! under concurrency: a code or refresh token is redeemed once, and a second redemption revokes
//! everything its grant issued (RFC 9700 §4.14, OAuth 2.1 §4.1.3).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use dinhdanh_core::EidLevel;
use dinhdanh_crypto::{BlindIndexKey, SignatureAlgorithm, TokenHash};
use dinhdanh_signals::EventType;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::disclosure::{Disclosed, NewDisclosure};
use crate::error::classify;
use crate::keys::Keyring;
use crate::log::{PreparedRecord, SqlDisclosureLog};
use crate::model::{OrganisationId, Person, PersonId};
use crate::signals::{NewSignal, record_signal};
use crate::sql::{now_micros, open_field, optional_time, person_at, timestamp as time};
use crate::{DisclosureId, StoreError};

/// The id of a grant: one authorization of a client by a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct GrantId(Uuid);

impl GrantId {
    fn generate() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for GrantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for GrantId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// How a client proves who it is at the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `private_key_jwt` (OIDC Core §9): an assertion signed by a key in this JWK Set (JSON).
    PrivateKeyJwt {
        /// The client's public keys, as a JWK Set document.
        jwks: String,
    },
    /// `client_secret_basic` (RFC 6749 §2.3.1), for legacy clients: the secret's hash.
    SecretBasic {
        /// SHA-256 of the secret (a 256-bit random value, so a fast hash is enough).
        secret_hash: TokenHash,
    },
}

impl ClientAuth {
    /// The method's name in discovery documents.
    pub fn method(&self) -> &'static str {
        match self {
            ClientAuth::PrivateKeyJwt { .. } => "private_key_jwt",
            ClientAuth::SecretBasic { .. } => "client_secret_basic",
        }
    }
}

/// A client to register. The server validates every field with the OIDC engine first.
#[derive(Clone, Debug)]
pub struct NewClient {
    /// The client id.
    pub id: String,
    /// The organisation that runs it.
    pub organisation_id: OrganisationId,
    /// Its name, shown on the consent page next to the organisation's.
    pub name: String,
    /// Its redirect URIs, exactly as registered.
    pub redirect_uris: Vec<String>,
    /// Its sector host for pairwise subjects.
    pub sector: String,
    /// The scopes it may ask for, space-separated.
    pub scopes: String,
    /// Whether it must push its authorization requests.
    pub require_par: bool,
    /// The lowest e-ID level it accepts (1 or 2).
    pub min_level: EidLevel,
    /// How its ID tokens are signed.
    pub id_token_alg: SignatureAlgorithm,
    /// How it authenticates.
    pub auth: ClientAuth,
}

/// A registered client.
#[derive(Clone, Debug)]
pub struct Client {
    /// What was registered.
    pub registration: NewClient,
    /// When.
    pub created_at: Timestamp,
    /// When it was disabled, if it was.
    pub disabled_at: Option<Timestamp>,
}

/// A citizen account to create.
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// The person.
    pub person_id: PersonId,
    /// The Argon2id hash of the password, as a PHC string.
    pub password_hash: String,
    /// The TOTP secret, sealed at rest.
    pub totp_secret: Option<Zeroizing<Vec<u8>>>,
    /// A passkey registered with the account, created in the same transaction.
    pub passkey: Option<NewPasskey>,
}

/// A passkey (WebAuthn credential) of a citizen account.
#[derive(Clone, Debug)]
pub struct NewPasskey {
    /// SHA-256 of the credential id. One credential belongs to one account (WebAuthn §7.1
    /// step 25): a second registration of it is `Conflict("passkey")`.
    pub id_hash: TokenHash,
    /// The credential as `dinhdanh_crypto::passkey` serialised it, sealed at rest.
    pub credential: Zeroizing<Vec<u8>>,
}

/// An access token a client holds for itself (client credentials).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceToken {
    /// The client.
    pub client_id: String,
    /// The service scopes granted, space-separated.
    pub scopes: String,
    /// When it stops working.
    pub expires_at: Timestamp,
}

/// A WebAuthn ceremony in flight: whose it is and the state the server kept.
#[derive(Clone, Debug)]
pub struct Ceremony {
    /// The person the ceremony is for.
    pub person_id: PersonId,
    /// The kept state, opened.
    pub state: Zeroizing<Vec<u8>>,
}

/// A citizen account.
#[derive(Clone, Debug)]
pub struct Account {
    /// The person.
    pub person_id: PersonId,
    /// The Argon2id hash of the password, as a PHC string.
    pub password_hash: String,
    /// The TOTP secret.
    pub totp_secret: Option<Zeroizing<Vec<u8>>>,
    /// How many passkeys the account holds.
    pub passkeys: u32,
    /// Failed logins since the last success.
    pub failed_logins: u32,
    /// Until when logins are refused.
    pub locked_until: Option<Timestamp>,
    /// When the account was made.
    pub created_at: Timestamp,
}

/// A browser session after login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginSession {
    /// Who logged in.
    pub person_id: PersonId,
    /// The e-ID level the login proved.
    pub eid_level: EidLevel,
    /// When they authenticated.
    pub auth_time: Timestamp,
    /// When the session ends.
    pub expires_at: Timestamp,
}

/// The two kinds of authorization request kept between HTTP requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// Pushed by the client (RFC 9126), found by its `request_uri`.
    Pushed,
    /// Validated and waiting for the person's login and consent.
    Interaction,
}

impl RequestKind {
    fn as_str(self) -> &'static str {
        match self {
            RequestKind::Pushed => "pushed",
            RequestKind::Interaction => "interaction",
        }
    }
}

/// An authorization request kept between HTTP requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingRequest {
    /// The client that made it.
    pub client_id: String,
    /// Its parameters, as the server serialised them.
    pub params: String,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// A grant to record with its authorization code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewGrant {
    /// The client.
    pub client_id: String,
    /// The person.
    pub person_id: PersonId,
    /// The scopes granted, space-separated.
    pub scopes: String,
    /// The redirect URI the code was sent to; the token request must repeat it.
    pub redirect_uri: String,
    /// The PKCE challenge (base64url of SHA-256), checked at the token endpoint.
    pub code_challenge: String,
    /// The `nonce` for the ID token.
    pub nonce: Option<String>,
    /// The e-ID level of the login.
    pub eid_level: EidLevel,
    /// When the person authenticated.
    pub auth_time: Timestamp,
    /// The guardian who signed in for `person_id`, a child with no account of their own.
    pub actor_id: Option<PersonId>,
}

/// A recorded grant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// Its id.
    pub id: GrantId,
    /// What was granted.
    pub grant: NewGrant,
    /// When.
    pub created_at: Timestamp,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
}

/// The kinds of token a grant issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// An authorization code: single use.
    Code,
    /// An access token, presented to userinfo.
    Access,
    /// A refresh token: single use, replaced at each refresh.
    Refresh,
}

impl TokenKind {
    fn as_str(self) -> &'static str {
        match self {
            TokenKind::Code => "code",
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "code" => Some(TokenKind::Code),
            "access" => Some(TokenKind::Access),
            "refresh" => Some(TokenKind::Refresh),
            _ => None,
        }
    }
}

/// A token to record.
#[derive(Clone, Debug)]
pub struct NewToken {
    /// The hash of the token.
    pub hash: TokenHash,
    /// Its kind.
    pub kind: TokenKind,
    /// When it lapses.
    pub expires_at: Timestamp,
}

/// A grant whose code or refresh token was just redeemed, with its person as the store held
/// them at that moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedeemedGrant {
    /// The grant.
    pub grant: Grant,
    /// The person the grant is for (the child, when a guardian acted).
    pub person: Person,
}

/// What redeeming a single-use token found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Redemption {
    /// First use, in time, of a live grant: the token is now used.
    Redeemed(Box<RedeemedGrant>),
    /// No such token of that kind.
    Unknown,
    /// The token lapsed.
    Expired,
    /// Its grant was revoked earlier.
    Revoked,
    /// The token was used before: its grant, and every token of it, is now revoked.
    Replayed,
}

/// What issuing tokens on a grant did.
#[derive(Debug, PartialEq, Eq)]
pub enum Issued {
    /// The tokens and the disclosure record are committed: here is what was released.
    Disclosed(Disclosed<String>),
    /// Nothing was written. `Revoked`: the grant is revoked. For a refresh token spent in
    /// the issue, what spending it found instead: `Replayed` (and the grant is now revoked),
    /// `Expired` or `Unknown`.
    Refused(Redemption),
}

/// A token found by its hash, with the grant it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundToken {
    /// Its kind.
    pub kind: TokenKind,
    /// When it lapses.
    pub expires_at: Timestamp,
    /// Its grant.
    pub grant: Grant,
}

/// The OpenID Connect provider's storage. Each method is one transaction.
#[async_trait]
pub trait OidcStore: Send + Sync + 'static {
    /// The key that derives pairwise subjects (the blind-index key, under its own domain).
    fn subject_key(&self) -> &BlindIndexKey;

    /// Registers a client. A taken id is `Conflict("client")`; an unknown organisation is
    /// `InvalidReference("organisation")`; a sector another organisation's clients use is
    /// `Conflict("sector")`, since clients of one sector receive the same pairwise subjects.
    async fn insert_client(&self, client: &NewClient) -> Result<Client, StoreError>;

    /// A client by id.
    async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError>;

    /// Every client, newest first.
    async fn list_clients(&self) -> Result<Vec<Client>, StoreError>;

    /// Creates a citizen account. An existing one is `Conflict("account")`; an unknown person
    /// is `InvalidReference("person")`.
    async fn insert_account(&self, account: &NewAccount) -> Result<Account, StoreError>;

    /// A person's account.
    async fn find_account(&self, person: PersonId) -> Result<Option<Account>, StoreError>;

    /// Counts a failed login and returns the count since the last success.
    async fn record_failed_login(&self, person: PersonId) -> Result<u32, StoreError>;

    /// Refuses logins until `until`.
    async fn lock_account(&self, person: PersonId, until: Timestamp) -> Result<(), StoreError>;

    /// Clears the failure count and any lock after a successful login.
    async fn reset_failed_logins(&self, person: PersonId) -> Result<(), StoreError>;

    /// Records that a TOTP code of time step `step` was accepted. Returns false, changing
    /// nothing, if a code of this step or a later one was accepted before (RFC 6238 §5.2).
    async fn use_totp_step(&self, person: PersonId, step: i64) -> Result<bool, StoreError>;

    /// The sealed credentials of a person's passkeys, opened, with their id hashes.
    async fn list_passkeys(
        &self,
        person: PersonId,
    ) -> Result<Vec<(TokenHash, Zeroizing<Vec<u8>>)>, StoreError>;

    /// Replaces a passkey's credential after a login (its signature counter moved) and
    /// records when it was used. An unknown passkey of this person is `NotFound("passkey")`.
    async fn update_passkey(
        &self,
        person: PersonId,
        id_hash: &TokenHash,
        credential: Option<&[u8]>,
    ) -> Result<(), StoreError>;

    /// Keeps a WebAuthn ceremony's state, sealed, until `expires_at`, replacing one kept
    /// under the same id and removing every expired one.
    async fn insert_ceremony(
        &self,
        id: &TokenHash,
        person: PersonId,
        state: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Takes a ceremony out: of two concurrent takers one gets it, and an expired one is gone.
    async fn take_ceremony(
        &self,
        id: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError>;

    /// Keeps a client's own access token by its hash, and removes every expired one.
    async fn insert_service_token(
        &self,
        hash: &TokenHash,
        token: &ServiceToken,
    ) -> Result<(), StoreError>;

    /// The unexpired service token with this hash.
    async fn find_service_token(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<ServiceToken>, StoreError>;

    /// Ends a client's own access token; another client's, or an unknown one, is left alone
    /// without an error (RFC 7009 §2.2).
    async fn delete_service_token(
        &self,
        hash: &TokenHash,
        client_id: &str,
    ) -> Result<(), StoreError>;

    /// Records that `subject` names `person` in `sector`; recording it again changes nothing.
    async fn record_subject(
        &self,
        sector: &str,
        subject: &str,
        person: PersonId,
    ) -> Result<(), StoreError>;

    /// The person `subject` names in `sector`, if a grant was ever made for it.
    async fn find_subject(
        &self,
        sector: &str,
        subject: &str,
    ) -> Result<Option<PersonId>, StoreError>;

    /// Records a session by the hash of its id.
    async fn insert_session(
        &self,
        id: &TokenHash,
        session: &LoginSession,
    ) -> Result<(), StoreError>;

    /// The session with this id hash, unless it ended before `now`.
    async fn find_session(
        &self,
        id: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<LoginSession>, StoreError>;

    /// Ends a session; ending one that does not exist is not an error.
    async fn delete_session(&self, id: &TokenHash) -> Result<(), StoreError>;

    /// Keeps an authorization request under the hash of its reference.
    async fn insert_authorization_request(
        &self,
        id: &TokenHash,
        kind: RequestKind,
        request: &PendingRequest,
    ) -> Result<(), StoreError>;

    /// The unused, unexpired request of `kind` with this reference hash.
    async fn find_authorization_request(
        &self,
        id: &TokenHash,
        kind: RequestKind,
        now: Timestamp,
    ) -> Result<Option<PendingRequest>, StoreError>;

    /// Like [`OidcStore::find_authorization_request`], and marks it used: of two concurrent
    /// takers, one gets it.
    async fn take_authorization_request(
        &self,
        id: &TokenHash,
        kind: RequestKind,
        now: Timestamp,
    ) -> Result<Option<PendingRequest>, StoreError>;

    /// The scopes a person consented to for a client.
    async fn find_consent(
        &self,
        person: PersonId,
        client_id: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Records a person's consent (replacing an earlier one) and its disclosure record, in one
    /// transaction.
    async fn record_consent(
        &self,
        person: PersonId,
        client_id: &str,
        scopes: &str,
        disclosure: &NewDisclosure,
    ) -> Result<DisclosureId, StoreError>;

    /// Records a grant and its authorization code. An unknown client or person is
    /// `InvalidReference`.
    async fn insert_grant(&self, grant: &NewGrant, code: &NewToken) -> Result<Grant, StoreError>;

    /// Redeems a single-use token (a code or a refresh token) at `now`. A second redemption
    /// revokes the grant, and with it everything the first one issued.
    async fn redeem(
        &self,
        kind: TokenKind,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Redemption, StoreError>;

    /// What redeeming a single-use token at `now` would find, without spending it: a
    /// `Redeemed` answer means it is usable, and [`OidcStore::issue_tokens`] spends it. A token
    /// used before is a replay all the same, and revokes its grant.
    async fn peek(
        &self,
        kind: TokenKind,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Redemption, StoreError>;

    /// Records the tokens issued on a grant and the disclosure of what they release, in one
    /// transaction (shared with other issues in flight), and hands back `released` as
    /// disclosed. With `spending`, the same transaction spends that refresh token of the
    /// grant, and issues only if it was still unused and unexpired at `now`: a refresh
    /// rotates atomically, never spending the old token without writing the new ones (but a
    /// revoked grant's token is spent all the same). A revoked grant, or a refresh token that
    /// cannot be spent, is [`Issued::Refused`], and no token or record is written; a refresh
    /// token spent before is a replay, which revokes the grant. An unknown grant is
    /// `NotFound("grant")`.
    async fn issue_tokens(
        &self,
        grant: GrantId,
        spending: Option<(&TokenHash, Timestamp)>,
        tokens: &[NewToken],
        disclosure: &NewDisclosure,
        released: String,
    ) -> Result<Issued, StoreError>;

    /// A token of any kind by its hash, with its grant, whatever its state.
    async fn find_token(&self, hash: &TokenHash) -> Result<Option<FoundToken>, StoreError>;

    /// Revokes a grant and so every token of it. Revoking twice keeps the first time.
    async fn revoke_grant(&self, id: GrantId) -> Result<(), StoreError>;

    /// Signs a person out everywhere, in one transaction: ends every browser session of
    /// theirs, revokes every live grant they made (for themselves, or as a guardian for a
    /// child), and tells their platforms, and those of each child whose grant ended (CAEP
    /// `session-revoked`). Returns how many grants were revoked.
    async fn end_sessions(&self, person: PersonId) -> Result<u64, StoreError>;

    /// Replaces a person's password hash, clears their failed logins, ends every browser
    /// session of theirs but `keep` (the one that made the change), and tells their platforms
    /// (CAEP `credential-change`), in one transaction. No account is `NotFound("account")`.
    async fn change_password(
        &self,
        person: PersonId,
        password_hash: &str,
        keep: &TokenHash,
    ) -> Result<(), StoreError>;
}

const CLIENT_COLUMNS: &str = "id, organisation_id, name, redirect_uris, sector, scopes, \
    require_par, min_level, id_token_alg, auth_method, jwks, secret_hash, created_at, disabled_at";
const ACCOUNT_COLUMNS: &str = "person_id, password_hash, totp_secret, failed_logins, \
    locked_until, created_at, \
    (SELECT COUNT(*) FROM passkeys p WHERE p.person_id = citizen_accounts.person_id)";
const GRANT_COLUMNS: &str = "g.id, g.client_id, g.person_id, g.scopes, g.redirect_uri, \
    g.code_challenge, g.nonce, g.eid_level, g.auth_time, g.created_at, g.revoked_at, g.actor_id";

/// A CAEP `session-revoked` signal about `person` at `at` (microseconds), started by
/// `initiator` (CAEP `initiating_entity`), for one platform or all of the person's.
fn session_revoked(
    person: PersonId,
    organisation: Option<OrganisationId>,
    initiator: &'static str,
    at: i64,
) -> NewSignal<'static> {
    NewSignal {
        person_id: Some(person),
        organisation_id: organisation,
        event: EventType::SessionRevoked.name(),
        detail: json!({ "event_timestamp": at / 1_000_000, "initiating_entity": initiator }),
    }
}

fn totp_aad(person: PersonId) -> Vec<u8> {
    format!("dinhdanh totp secret v1\0{person}").into_bytes()
}

/// A passkey is bound to its person and its credential id: moved to another row, it does
/// not open.
fn passkey_aad(person: PersonId, id: &TokenHash) -> Vec<u8> {
    let mut aad = format!("dinhdanh passkey v1\0{person}\0").into_bytes();
    aad.extend_from_slice(id.as_bytes());
    aad
}

fn ceremony_aad(person: PersonId, id: &TokenHash) -> Vec<u8> {
    let mut aad = format!("dinhdanh webauthn ceremony v1\0{person}\0").into_bytes();
    aad.extend_from_slice(id.as_bytes());
    aad
}

fn level(value: i64, column: &'static str) -> Result<EidLevel, StoreError> {
    u8::try_from(value)
        .ok()
        .and_then(|level| EidLevel::try_from(level).ok())
        .ok_or(StoreError::Corrupt(column))
}

fn hash_column(bytes: Vec<u8>, column: &'static str) -> Result<TokenHash, StoreError> {
    Ok(TokenHash::from_bytes(
        bytes.try_into().map_err(|_| StoreError::Corrupt(column))?,
    ))
}

fn parsed<T: FromStr>(text: &str, column: &'static str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(column))
}

fn client_from_row(row: &AnyRow) -> Result<Client, StoreError> {
    let redirect_uris: String = row.try_get(3)?;
    let alg: String = row.try_get(8)?;
    let method: String = row.try_get(9)?;
    let auth = match method.as_str() {
        "private_key_jwt" => ClientAuth::PrivateKeyJwt {
            jwks: row
                .try_get::<Option<String>, _>(10)?
                .ok_or(StoreError::Corrupt("oidc_clients.jwks"))?,
        },
        "client_secret_basic" => {
            let hash: Vec<u8> = row
                .try_get::<Option<Vec<u8>>, _>(11)?
                .ok_or(StoreError::Corrupt("oidc_clients.secret_hash"))?;
            ClientAuth::SecretBasic {
                secret_hash: hash_column(hash, "oidc_clients.secret_hash")?,
            }
        }
        _ => return Err(StoreError::Corrupt("oidc_clients.auth_method")),
    };
    Ok(Client {
        registration: NewClient {
            id: row.try_get(0)?,
            organisation_id: parsed(
                &row.try_get::<String, _>(1)?,
                "oidc_clients.organisation_id",
            )?,
            name: row.try_get(2)?,
            redirect_uris: serde_json::from_str(&redirect_uris)
                .map_err(|_| StoreError::Corrupt("oidc_clients.redirect_uris"))?,
            sector: row.try_get(4)?,
            scopes: row.try_get(5)?,
            require_par: row.try_get::<i64, _>(6)? == 1,
            min_level: level(row.try_get(7)?, "oidc_clients.min_level")?,
            id_token_alg: SignatureAlgorithm::from_jose_name(&alg)
                .ok_or(StoreError::Corrupt("oidc_clients.id_token_alg"))?,
            auth,
        },
        created_at: time(row.try_get(12)?, "oidc_clients.created_at")?,
        disabled_at: optional_time(row.try_get(13)?, "oidc_clients.disabled_at")?,
    })
}

fn grant_from_row(row: &AnyRow, offset: usize) -> Result<Grant, StoreError> {
    Ok(Grant {
        id: parsed(&row.try_get::<String, _>(offset)?, "oidc_grants.id")?,
        grant: NewGrant {
            client_id: row.try_get(offset + 1)?,
            person_id: parsed(
                &row.try_get::<String, _>(offset + 2)?,
                "oidc_grants.person_id",
            )?,
            scopes: row.try_get(offset + 3)?,
            redirect_uri: row.try_get(offset + 4)?,
            code_challenge: row.try_get(offset + 5)?,
            nonce: row.try_get(offset + 6)?,
            eid_level: level(row.try_get(offset + 7)?, "oidc_grants.eid_level")?,
            auth_time: time(row.try_get(offset + 8)?, "oidc_grants.auth_time")?,
            actor_id: row
                .try_get::<Option<String>, _>(offset + 11)?
                .map(|id| parsed(&id, "oidc_grants.actor_id"))
                .transpose()?,
        },
        created_at: time(row.try_get(offset + 9)?, "oidc_grants.created_at")?,
        revoked_at: optional_time(row.try_get(offset + 10)?, "oidc_grants.revoked_at")?,
    })
}

/// The SQL implementation of [`OidcStore`], sharing the registry's pool, keys and log.
pub(crate) struct SqlOidcStore {
    pool: AnyPool,
    keys: Arc<Keyring>,
    log: Arc<SqlDisclosureLog>,
    /// The token writer's queue (see [`token_writer`]).
    token_writes: tokio::sync::mpsc::Sender<TokenWrite>,
}

/// The most token writes committed in one transaction.
const WRITE_BATCH: usize = 64;

/// A write of the token endpoint, and where to say how it went.
struct TokenWrite {
    job: TokenJob,
    reply: tokio::sync::oneshot::Sender<Result<TokenOutcome, String>>,
}

/// What a token write does.
enum TokenJob {
    /// Marks a single-use token used, if it is unused and unexpired at `now`, and reads it with
    /// its grant and the grant's person.
    Claim {
        kind: TokenKind,
        hash: TokenHash,
        now: Timestamp,
    },
    /// Records tokens for a grant with the disclosure records of what they release, if the
    /// grant is live and `spend` (a refresh token, and the time) is claimed with them; if
    /// not, no token or record is written (a refresh token of a revoked grant is spent all
    /// the same, which changes nothing).
    Issue {
        grant: GrantId,
        spend: Option<(TokenHash, Timestamp)>,
        tokens: Vec<NewToken>,
        records: Vec<PreparedRecord>,
    },
}

/// How a token write went.
enum TokenOutcome {
    /// Whether this write claimed the token, and the token's row ([`CLAIMED_COLUMNS`]) if a
    /// token of that kind exists.
    Claim { claimed: bool, row: Option<AnyRow> },
    /// Whether the grant was live, whether the token to spend (if any) was claimed, and so
    /// whether the tokens and records were written (both).
    Issue { live: bool, spent: bool },
}

/// What a claim reads: the token, its grant, and the grant's person.
const CLAIMED_COLUMNS: &str = "t.token_hash, t.kind, t.expires_at, t.used_at, \
    g.id, g.client_id, g.person_id, g.scopes, g.redirect_uri, g.code_challenge, g.nonce, \
    g.eid_level, g.auth_time, g.created_at, g.revoked_at, g.actor_id, \
    p.id, p.personal, p.status, p.eid_level, p.created_at, p.updated_at";
/// Where the grant's columns start in [`CLAIMED_COLUMNS`].
const CLAIMED_GRANT: usize = 4;
/// Where the person's columns start in [`CLAIMED_COLUMNS`].
const CLAIMED_PERSON: usize = 16;

/// `$first, $first+1, …` for `count` values: a list for `IN (…)`.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Commits the token writes of concurrent requests together: each transaction takes every
/// write waiting (up to [`WRITE_BATCH`]). Whatever the batch's size, it costs the same few
/// statements: one update claims every token, one select reads them with their grants and
/// people, one select finds which grants are live, one insert writes every new token and one
/// the disclosure records. Under load that shares the statements, the transaction and
/// SQLite's single writer among many requests (group commit), and every statement is a
/// round trip to the driver's worker thread. A failed transaction fails every write in it,
/// and none of them took effect.
async fn token_writer(
    pool: AnyPool,
    log: Arc<SqlDisclosureLog>,
    mut jobs: tokio::sync::mpsc::Receiver<TokenWrite>,
) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < WRITE_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        match write_batch(&pool, &log, &mut batch).await {
            Ok(outcomes) => {
                for (job, outcome) in batch.into_iter().zip(outcomes) {
                    // A caller that went away needs no answer.
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, writes = batch.len(), "token write batch failed");
                let text = err.to_string();
                for job in batch {
                    let _ = job.reply.send(Err(text.clone()));
                }
            }
        }
    }
}

async fn write_batch(
    pool: &AnyPool,
    log: &SqlDisclosureLog,
    batch: &mut [TokenWrite],
) -> Result<Vec<TokenOutcome>, StoreError> {
    let mut tx = pool.begin().await?;
    let claims: Vec<(TokenKind, TokenHash, Timestamp)> = batch
        .iter()
        .filter_map(|write| match write.job {
            TokenJob::Claim { kind, hash, now } => Some((kind, hash, now)),
            TokenJob::Issue { spend, .. } => {
                spend.map(|(hash, now)| (TokenKind::Refresh, hash, now))
            }
        })
        .collect();
    let (mut claimed, rows) = claim_tokens(&mut tx, &claims).await?;
    let issued: Vec<GrantId> = batch
        .iter()
        .filter_map(|write| match &write.job {
            TokenJob::Issue { grant, .. } => Some(*grant),
            TokenJob::Claim { .. } => None,
        })
        .collect();
    let live = live_grants(&mut tx, &issued).await?;
    let mut tokens = Vec::new();
    let mut records = Vec::new();
    let mut outcomes = Vec::with_capacity(batch.len());
    for write in batch.iter_mut() {
        outcomes.push(match &mut write.job {
            // Two claims of one token in a batch: the first is the one that claimed it.
            TokenJob::Claim { kind, hash, .. } => TokenOutcome::Claim {
                claimed: claimed.remove(&(*kind, *hash)),
                row: rows.get(&(*kind, *hash)).cloned(),
            },
            TokenJob::Issue {
                grant,
                spend,
                tokens: new,
                records: issued,
            } => {
                // A revocation that commits after this check still revokes these tokens,
                // since every use of a token reads its grant.
                let live = live.contains(grant);
                let spent = spend
                    .as_ref()
                    .is_none_or(|(hash, _)| claimed.remove(&(TokenKind::Refresh, *hash)));
                if live && spent {
                    tokens.extend(new.iter().map(|token| (*grant, token.clone())));
                    records.append(issued);
                }
                TokenOutcome::Issue { live, spent }
            }
        });
    }
    insert_tokens(&mut tx, &tokens).await?;
    log.insert_records(&mut tx, &records).await?;
    tx.commit().await?;
    log.note_recorded(records.len());
    Ok(outcomes)
}

/// The most tokens one statement claims, reads or inserts (within every backend's limit on
/// bound parameters).
const STATEMENT_ROWS: usize = 64;

/// Claims the tokens of `claims` that are unused and unexpired, and reads every one of them
/// that exists with its grant and person. The conditional update is the single point of
/// decision: of two concurrent redeemers, exactly one sees its token among those it claimed.
async fn claim_tokens(
    conn: &mut sqlx::AnyConnection,
    claims: &[(TokenKind, TokenHash, Timestamp)],
) -> Result<
    (
        HashSet<(TokenKind, TokenHash)>,
        HashMap<(TokenKind, TokenHash), AnyRow>,
    ),
    StoreError,
> {
    let mut claimed = HashSet::new();
    let mut rows = HashMap::new();
    for chunk in claims.chunks(STATEMENT_ROWS) {
        let conditions = (0..chunk.len())
            .map(|i| {
                let n = 2 + 3 * i;
                format!(
                    "(token_hash = ${n} AND kind = ${} AND expires_at > ${})",
                    n + 1,
                    n + 2
                )
            })
            .collect::<Vec<_>>()
            .join(" OR ");
        let sql = format!(
            "UPDATE oidc_tokens SET used_at = $1 WHERE used_at IS NULL AND ({conditions}) \
             RETURNING token_hash, kind"
        );
        let mut query = sqlx::query(&sql).bind(now_micros());
        for (kind, hash, now) in chunk {
            query = query
                .bind(hash.as_bytes().to_vec())
                .bind(kind.as_str())
                .bind(now.as_microsecond());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let kind = TokenKind::parse(&row.try_get::<String, _>(1)?)
                .ok_or(StoreError::Corrupt("oidc_tokens.kind"))?;
            claimed.insert((
                kind,
                hash_column(row.try_get(0)?, "oidc_tokens.token_hash")?,
            ));
        }
        let sql = format!(
            "SELECT {CLAIMED_COLUMNS} FROM oidc_tokens t \
             JOIN oidc_grants g ON g.id = t.grant_id JOIN persons p ON p.id = g.person_id \
             WHERE t.token_hash IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for (_, hash, _) in chunk {
            query = query.bind(hash.as_bytes().to_vec());
        }
        for row in query.fetch_all(&mut *conn).await? {
            let hash = hash_column(row.try_get(0)?, "oidc_tokens.token_hash")?;
            let kind = TokenKind::parse(&row.try_get::<String, _>(1)?)
                .ok_or(StoreError::Corrupt("oidc_tokens.kind"))?;
            rows.insert((kind, hash), row);
        }
    }
    Ok((claimed, rows))
}

/// Which of `grants` are not revoked.
async fn live_grants(
    conn: &mut sqlx::AnyConnection,
    grants: &[GrantId],
) -> Result<HashSet<GrantId>, StoreError> {
    let mut live = HashSet::new();
    for chunk in grants.chunks(STATEMENT_ROWS) {
        let sql = format!(
            "SELECT id FROM oidc_grants WHERE revoked_at IS NULL AND id IN ({})",
            placeholders(1, chunk.len())
        );
        let mut query = sqlx::query(&sql);
        for grant in chunk {
            query = query.bind(grant.to_string());
        }
        for row in query.fetch_all(&mut *conn).await? {
            live.insert(parsed(&row.try_get::<String, _>(0)?, "oidc_grants.id")?);
        }
    }
    Ok(live)
}

impl SqlOidcStore {
    /// Hands a write to the token writer and waits for its commit.
    async fn write_tokens(&self, job: TokenJob) -> Result<TokenOutcome, StoreError> {
        let stopped = || StoreError::Batch("the token writer has stopped".to_owned());
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.token_writes
            .send(TokenWrite { job, reply })
            .await
            .map_err(|_| stopped())?;
        answer
            .await
            .map_err(|_| stopped())?
            .map_err(StoreError::Batch)
    }

    /// What a token's row ([`CLAIMED_COLUMNS`]) means for a redemption at `now`: `claimed`
    /// says whether this redemption just spent it, and is `None` for a peek, which asks
    /// whether it could. A token used by anyone else is a replay, which revokes its grant.
    async fn judge(
        &self,
        row: &AnyRow,
        claimed: Option<bool>,
        now: Timestamp,
    ) -> Result<Redemption, StoreError> {
        let grant = grant_from_row(row, CLAIMED_GRANT)?;
        let expires_at = time(row.try_get(2)?, "oidc_tokens.expires_at")?;
        let used_at: Option<i64> = row.try_get(3)?;
        if used_at.is_some() && claimed != Some(true) {
            // RFC 9700 §4.14 and OAuth 2.1 §4.1.3: a replayed code or refresh token revokes
            // what was issued with it.
            self.revoke_replayed(&grant).await?;
            return Ok(Redemption::Replayed);
        }
        if grant.revoked_at.is_some() {
            return Ok(Redemption::Revoked);
        }
        let usable = claimed.unwrap_or(used_at.is_none() && expires_at > now);
        if !usable {
            return Ok(Redemption::Expired);
        }
        let person = person_at(&self.keys, &self.pool, row, CLAIMED_PERSON).await?;
        Ok(Redemption::Redeemed(Box::new(RedeemedGrant {
            grant,
            person,
        })))
    }

    /// Revokes a grant whose code or refresh token was replayed, and tells the client's
    /// platform that the session it began is over (CAEP `session-revoked`, by policy), in
    /// one transaction; a grant revoked already is left as it is, and told of once.
    async fn revoke_replayed(&self, grant: &Grant) -> Result<(), StoreError> {
        let at = now_micros();
        let mut tx = self.pool.begin().await?;
        let revoked = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(grant.id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if revoked == 1 {
            let organisation: String =
                sqlx::query("SELECT organisation_id FROM oidc_clients WHERE id = $1")
                    .bind(&grant.grant.client_id)
                    .fetch_one(&mut *tx)
                    .await?
                    .try_get(0)?;
            let organisation = parsed(&organisation, "oidc_clients.organisation_id")?;
            let signal = session_revoked(grant.grant.person_id, Some(organisation), "policy", at);
            record_signal(&mut tx, &self.keys, signal).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(crate) fn new(pool: AnyPool, keys: Arc<Keyring>, log: Arc<SqlDisclosureLog>) -> Self {
        let (token_writes, queue) = tokio::sync::mpsc::channel(4 * WRITE_BATCH);
        tokio::spawn(token_writer(pool.clone(), Arc::clone(&log), queue));
        Self {
            pool,
            keys,
            log,
            token_writes,
        }
    }

    async fn pending(
        &self,
        id: &TokenHash,
        kind: RequestKind,
        now: Timestamp,
        take: bool,
    ) -> Result<Option<PendingRequest>, StoreError> {
        let sql = if take {
            "UPDATE authorization_requests SET used_at = $1 \
             WHERE id_hash = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING client_id, params, expires_at"
        } else {
            "SELECT client_id, params, expires_at FROM authorization_requests \
             WHERE id_hash = $2 AND kind = $3 AND used_at IS NULL AND expires_at > $1"
        };
        sqlx::query(sql)
            .bind(now.as_microsecond())
            .bind(id.as_bytes().to_vec())
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| {
                Ok(PendingRequest {
                    client_id: row.try_get(0)?,
                    params: row.try_get(1)?,
                    expires_at: time(row.try_get(2)?, "authorization_requests.expires_at")?,
                })
            })
            .transpose()
    }

    async fn account_from_row(&self, row: &AnyRow) -> Result<Account, StoreError> {
        let person_id: PersonId =
            parsed(&row.try_get::<String, _>(0)?, "citizen_accounts.person_id")?;
        let sealed: Option<Vec<u8>> = row.try_get(2)?;
        let totp_secret = match sealed {
            Some(sealed) => Some(self.open(&totp_aad(person_id), &sealed).await?),
            None => None,
        };
        Ok(Account {
            person_id,
            password_hash: row.try_get(1)?,
            totp_secret,
            passkeys: u32::try_from(row.try_get::<i64, _>(6)?)
                .map_err(|_| StoreError::Corrupt("passkeys"))?,
            failed_logins: u32::try_from(row.try_get::<i64, _>(3)?)
                .map_err(|_| StoreError::Corrupt("citizen_accounts.failed_logins"))?,
            locked_until: optional_time(row.try_get(4)?, "citizen_accounts.locked_until")?,
            created_at: time(row.try_get(5)?, "citizen_accounts.created_at")?,
        })
    }

    /// The blind index a pairwise subject is kept under: a dump of the table does not link
    /// the subjects clients hold to anyone.
    fn subject_index(&self, sector: &str, subject: &str) -> Vec<u8> {
        let mut value = sector.as_bytes().to_vec();
        value.push(0);
        value.extend_from_slice(subject.as_bytes());
        self.keys.blind().index("pairwise-subject", &value).to_vec()
    }

    /// Opens a sealed field, reloading the keyring once if it names a key made since.
    async fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        open_field(&self.keys, &self.pool, aad, sealed).await
    }

    async fn account_update(&self, sql: &str, person: PersonId, at: i64) -> Result<(), StoreError> {
        let result = sqlx::query(sql)
            .bind(at)
            .bind(person.to_string())
            .execute(&self.pool)
            .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("account"));
        }
        Ok(())
    }
}

#[async_trait]
impl OidcStore for SqlOidcStore {
    fn subject_key(&self) -> &BlindIndexKey {
        self.keys.blind()
    }

    async fn insert_client(&self, client: &NewClient) -> Result<Client, StoreError> {
        let at = now_micros();
        let (jwks, secret_hash) = match &client.auth {
            ClientAuth::PrivateKeyJwt { jwks } => (Some(jwks.clone()), None),
            ClientAuth::SecretBasic { secret_hash } => {
                (None, Some(secret_hash.as_bytes().to_vec()))
            }
        };
        let redirect_uris = serde_json::to_string(&client.redirect_uris)
            .map_err(|_| StoreError::Corrupt("oidc_clients.redirect_uris"))?;
        let sql = format!(
            "INSERT INTO oidc_clients ({CLIENT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULL)"
        );
        let mut tx = self.pool.begin().await?;
        sqlx::query(&sql)
            .bind(client.id.as_str())
            .bind(client.organisation_id.to_string())
            .bind(client.name.as_str())
            .bind(redirect_uris)
            .bind(client.sector.as_str())
            .bind(client.scopes.as_str())
            .bind(i64::from(client.require_par))
            .bind(i64::from(client.min_level.as_u8()))
            .bind(client.id_token_alg.jose_name())
            .bind(client.auth.method())
            .bind(jwks)
            .bind(secret_hash)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|err| classify(err, "client", "organisation"))?;
        // After the insert, so that an unknown organisation is told as such first; the
        // transaction rolls back when this refuses.
        let shared: i64 = sqlx::query(
            "SELECT COUNT(*) FROM oidc_clients WHERE sector = $1 AND organisation_id <> $2",
        )
        .bind(client.sector.as_str())
        .bind(client.organisation_id.to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if shared > 0 {
            return Err(StoreError::Conflict("sector"));
        }
        tx.commit().await?;
        Ok(Client {
            registration: client.clone(),
            created_at: time(at, "oidc_clients.created_at")?,
            disabled_at: None,
        })
    }

    async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM oidc_clients WHERE id = $1");
        sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| client_from_row(&row))
            .transpose()
    }

    async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM oidc_clients ORDER BY created_at DESC, id");
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(client_from_row)
            .collect()
    }

    async fn insert_account(&self, account: &NewAccount) -> Result<Account, StoreError> {
        let at = now_micros();
        let person = account.person_id;
        let sealed = account
            .totp_secret
            .as_ref()
            .map(|secret| self.keys.field().seal(&totp_aad(person), secret))
            .transpose()?;
        let passkey = account
            .passkey
            .as_ref()
            .map(|passkey| {
                let aad = passkey_aad(person, &passkey.id_hash);
                self.keys
                    .field()
                    .seal(&aad, &passkey.credential)
                    .map(|sealed| (passkey.id_hash.as_bytes().to_vec(), sealed))
            })
            .transpose()?;
        // The account and its first passkey together, or neither.
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO citizen_accounts (person_id, password_hash, totp_secret, failed_logins, \
             created_at, updated_at) VALUES ($1, $2, $3, 0, $4, $4)",
        )
        .bind(person.to_string())
        .bind(account.password_hash.as_str())
        .bind(sealed)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|err| classify(err, "account", "person"))?;
        if let Some((id_hash, credential)) = passkey {
            sqlx::query(
                "INSERT INTO passkeys (id_hash, person_id, credential, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id_hash)
            .bind(person.to_string())
            .bind(credential)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(|err| classify(err, "passkey", "account"))?;
        }
        tx.commit().await?;
        Ok(Account {
            person_id: person,
            password_hash: account.password_hash.clone(),
            totp_secret: account.totp_secret.clone(),
            passkeys: u32::from(account.passkey.is_some()),
            failed_logins: 0,
            locked_until: None,
            created_at: time(at, "citizen_accounts.created_at")?,
        })
    }

    async fn list_passkeys(
        &self,
        person: PersonId,
    ) -> Result<Vec<(TokenHash, Zeroizing<Vec<u8>>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id_hash, credential FROM passkeys WHERE person_id = $1 ORDER BY created_at",
        )
        .bind(person.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut passkeys = Vec::with_capacity(rows.len());
        for row in rows {
            let id = hash_column(row.try_get(0)?, "passkeys.id_hash")?;
            let sealed: Vec<u8> = row.try_get(1)?;
            let credential = self.open(&passkey_aad(person, &id), &sealed).await?;
            passkeys.push((id, credential));
        }
        Ok(passkeys)
    }

    async fn update_passkey(
        &self,
        person: PersonId,
        id_hash: &TokenHash,
        credential: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let sealed = credential
            .map(|credential| {
                self.keys
                    .field()
                    .seal(&passkey_aad(person, id_hash), credential)
            })
            .transpose()?;
        let result = sqlx::query(
            "UPDATE passkeys SET credential = COALESCE($1, credential), used_at = $2 \
             WHERE id_hash = $3 AND person_id = $4",
        )
        .bind(sealed)
        .bind(now_micros())
        .bind(id_hash.as_bytes().to_vec())
        .bind(person.to_string())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("passkey"));
        }
        Ok(())
    }

    async fn insert_ceremony(
        &self,
        id: &TokenHash,
        person: PersonId,
        state: &[u8],
        expires_at: Timestamp,
    ) -> Result<(), StoreError> {
        let sealed = self.keys.field().seal(&ceremony_aad(person, id), state)?;
        let mut tx = self.pool.begin().await?;
        // Abandoned ceremonies go with the next one made: no sweeper needed.
        sqlx::query("DELETE FROM webauthn_ceremonies WHERE id_hash = $1 OR expires_at <= $2")
            .bind(id.as_bytes().to_vec())
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO webauthn_ceremonies (id_hash, person_id, state, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id.as_bytes().to_vec())
        .bind(person.to_string())
        .bind(sealed)
        .bind(expires_at.as_microsecond())
        .execute(&mut *tx)
        .await
        .map_err(|err| classify(err, "ceremony", "person"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_ceremony(
        &self,
        id: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<Ceremony>, StoreError> {
        let Some(row) = sqlx::query(
            "DELETE FROM webauthn_ceremonies WHERE id_hash = $1 \
             RETURNING person_id, state, expires_at",
        )
        .bind(id.as_bytes().to_vec())
        .fetch_optional(&self.pool)
        .await?
        else {
            return Ok(None);
        };
        if time(row.try_get(2)?, "webauthn_ceremonies.expires_at")? <= now {
            return Ok(None);
        }
        let person_id: PersonId = parsed(
            &row.try_get::<String, _>(0)?,
            "webauthn_ceremonies.person_id",
        )?;
        let sealed: Vec<u8> = row.try_get(1)?;
        let state = self.open(&ceremony_aad(person_id, id), &sealed).await?;
        Ok(Some(Ceremony { person_id, state }))
    }

    async fn find_account(&self, person: PersonId) -> Result<Option<Account>, StoreError> {
        let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM citizen_accounts WHERE person_id = $1");
        let row = sqlx::query(&sql)
            .bind(person.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(Some(self.account_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    async fn record_failed_login(&self, person: PersonId) -> Result<u32, StoreError> {
        let row = sqlx::query(
            "UPDATE citizen_accounts SET failed_logins = failed_logins + 1, updated_at = $1 \
             WHERE person_id = $2 RETURNING failed_logins",
        )
        .bind(now_micros())
        .bind(person.to_string())
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("account"))?;
        u32::try_from(row.try_get::<i64, _>(0)?)
            .map_err(|_| StoreError::Corrupt("citizen_accounts.failed_logins"))
    }

    async fn lock_account(&self, person: PersonId, until: Timestamp) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE citizen_accounts SET locked_until = $1, updated_at = $2 WHERE person_id = $3",
        )
        .bind(until.as_microsecond())
        .bind(now_micros())
        .bind(person.to_string())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("account"));
        }
        Ok(())
    }

    async fn reset_failed_logins(&self, person: PersonId) -> Result<(), StoreError> {
        self.account_update(
            "UPDATE citizen_accounts SET failed_logins = 0, locked_until = NULL, updated_at = $1 \
             WHERE person_id = $2",
            person,
            now_micros(),
        )
        .await
    }

    async fn use_totp_step(&self, person: PersonId, step: i64) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE citizen_accounts SET totp_last_step = $1, updated_at = $2 \
             WHERE person_id = $3 AND (totp_last_step IS NULL OR totp_last_step < $1)",
        )
        .bind(step)
        .bind(now_micros())
        .bind(person.to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    async fn insert_service_token(
        &self,
        hash: &TokenHash,
        token: &ServiceToken,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM service_tokens WHERE expires_at <= $1")
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO service_tokens (token_hash, client_id, scopes, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(hash.as_bytes().to_vec())
        .bind(token.client_id.as_str())
        .bind(token.scopes.as_str())
        .bind(token.expires_at.as_microsecond())
        .execute(&mut *tx)
        .await
        .map_err(|err| classify(err, "service token", "client"))?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_service_token(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<ServiceToken>, StoreError> {
        sqlx::query(
            "SELECT client_id, scopes, expires_at FROM service_tokens \
             WHERE token_hash = $1 AND expires_at > $2",
        )
        .bind(hash.as_bytes().to_vec())
        .bind(now.as_microsecond())
        .fetch_optional(&self.pool)
        .await?
        .map(|row| {
            Ok(ServiceToken {
                client_id: row.try_get(0)?,
                scopes: row.try_get(1)?,
                expires_at: time(row.try_get(2)?, "service_tokens.expires_at")?,
            })
        })
        .transpose()
    }

    async fn delete_service_token(
        &self,
        hash: &TokenHash,
        client_id: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM service_tokens WHERE token_hash = $1 AND client_id = $2")
            .bind(hash.as_bytes().to_vec())
            .bind(client_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn record_subject(
        &self,
        sector: &str,
        subject: &str,
        person: PersonId,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO pairwise_subjects (subject_index, person_id) VALUES ($1, $2) \
             ON CONFLICT (subject_index) DO NOTHING",
        )
        .bind(self.subject_index(sector, subject))
        .bind(person.to_string())
        .execute(&self.pool)
        .await
        .map_err(|err| classify(err, "subject", "person"))?;
        Ok(())
    }

    async fn find_subject(
        &self,
        sector: &str,
        subject: &str,
    ) -> Result<Option<PersonId>, StoreError> {
        sqlx::query("SELECT person_id FROM pairwise_subjects WHERE subject_index = $1")
            .bind(self.subject_index(sector, subject))
            .fetch_optional(&self.pool)
            .await?
            .map(|row| parsed(&row.try_get::<String, _>(0)?, "pairwise_subjects.person_id"))
            .transpose()
    }

    async fn insert_session(
        &self,
        id: &TokenHash,
        session: &LoginSession,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO login_sessions (id_hash, person_id, eid_level, auth_time, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_bytes().to_vec())
        .bind(session.person_id.to_string())
        .bind(i64::from(session.eid_level.as_u8()))
        .bind(session.auth_time.as_microsecond())
        .bind(session.expires_at.as_microsecond())
        .execute(&self.pool)
        .await
        .map_err(|err| classify(err, "session", "person"))?;
        Ok(())
    }

    async fn find_session(
        &self,
        id: &TokenHash,
        now: Timestamp,
    ) -> Result<Option<LoginSession>, StoreError> {
        sqlx::query(
            "SELECT person_id, eid_level, auth_time, expires_at FROM login_sessions \
             WHERE id_hash = $1 AND expires_at > $2",
        )
        .bind(id.as_bytes().to_vec())
        .bind(now.as_microsecond())
        .fetch_optional(&self.pool)
        .await?
        .map(|row| {
            Ok(LoginSession {
                person_id: parsed(&row.try_get::<String, _>(0)?, "login_sessions.person_id")?,
                eid_level: level(row.try_get(1)?, "login_sessions.eid_level")?,
                auth_time: time(row.try_get(2)?, "login_sessions.auth_time")?,
                expires_at: time(row.try_get(3)?, "login_sessions.expires_at")?,
            })
        })
        .transpose()
    }

    async fn delete_session(&self, id: &TokenHash) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_sessions WHERE id_hash = $1")
            .bind(id.as_bytes().to_vec())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn insert_authorization_request(
        &self,
        id: &TokenHash,
        kind: RequestKind,
        request: &PendingRequest,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO authorization_requests (id_hash, client_id, kind, params, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.as_bytes().to_vec())
        .bind(request.client_id.as_str())
        .bind(kind.as_str())
        .bind(request.params.as_str())
        .bind(request.expires_at.as_microsecond())
        .execute(&self.pool)
        .await
        .map_err(|err| classify(err, "authorization request", "client"))?;
        Ok(())
    }

    async fn find_authorization_request(
        &self,
        id: &TokenHash,
        kind: RequestKind,
        now: Timestamp,
    ) -> Result<Option<PendingRequest>, StoreError> {
        self.pending(id, kind, now, false).await
    }

    async fn take_authorization_request(
        &self,
        id: &TokenHash,
        kind: RequestKind,
        now: Timestamp,
    ) -> Result<Option<PendingRequest>, StoreError> {
        self.pending(id, kind, now, true).await
    }

    async fn find_consent(
        &self,
        person: PersonId,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query("SELECT scopes FROM oidc_consents WHERE person_id = $1 AND client_id = $2")
                .bind(person.to_string())
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?,
        )
    }

    async fn record_consent(
        &self,
        person: PersonId,
        client_id: &str,
        scopes: &str,
        disclosure: &NewDisclosure,
    ) -> Result<DisclosureId, StoreError> {
        let records = self.log.prepare_records(std::slice::from_ref(disclosure))?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO oidc_consents (person_id, client_id, scopes, granted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (person_id, client_id) \
             DO UPDATE SET scopes = excluded.scopes, granted_at = excluded.granted_at",
        )
        .bind(person.to_string())
        .bind(client_id)
        .bind(scopes)
        .bind(now_micros())
        .execute(&mut *tx)
        .await
        .map_err(|err| classify(err, "consent", "person or client"))?;
        self.log.insert_records(&mut tx, &records).await?;
        tx.commit().await?;
        self.log.note_recorded(records.len());
        records
            .first()
            .map(|record| record.id())
            .ok_or(StoreError::Corrupt("disclosure id"))
    }

    async fn insert_grant(&self, grant: &NewGrant, code: &NewToken) -> Result<Grant, StoreError> {
        let id = GrantId::generate();
        let at = now_micros();
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO oidc_grants (id, client_id, person_id, scopes, redirect_uri, \
             code_challenge, nonce, eid_level, auth_time, created_at, actor_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id.to_string())
        .bind(grant.client_id.as_str())
        .bind(grant.person_id.to_string())
        .bind(grant.scopes.as_str())
        .bind(grant.redirect_uri.as_str())
        .bind(grant.code_challenge.as_str())
        .bind(grant.nonce.as_deref())
        .bind(i64::from(grant.eid_level.as_u8()))
        .bind(grant.auth_time.as_microsecond())
        .bind(at)
        .bind(grant.actor_id.map(|id| id.to_string()))
        .execute(&mut *tx)
        .await
        .map_err(|err| classify(err, "grant", "client or person"))?;
        insert_tokens(&mut tx, &[(id, code.clone())]).await?;
        tx.commit().await?;
        Ok(Grant {
            id,
            grant: grant.clone(),
            created_at: time(at, "oidc_grants.created_at")?,
            revoked_at: None,
        })
    }

    async fn redeem(
        &self,
        kind: TokenKind,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Redemption, StoreError> {
        let TokenOutcome::Claim { claimed, row } = self
            .write_tokens(TokenJob::Claim {
                kind,
                hash: *hash,
                now,
            })
            .await?
        else {
            return Err(StoreError::Corrupt("token writer answer"));
        };
        match row {
            Some(row) => self.judge(&row, Some(claimed), now).await,
            None => Ok(Redemption::Unknown),
        }
    }

    async fn peek(
        &self,
        kind: TokenKind,
        hash: &TokenHash,
        now: Timestamp,
    ) -> Result<Redemption, StoreError> {
        let sql = format!(
            "SELECT {CLAIMED_COLUMNS} FROM oidc_tokens t \
             JOIN oidc_grants g ON g.id = t.grant_id JOIN persons p ON p.id = g.person_id \
             WHERE t.token_hash = $1 AND t.kind = $2"
        );
        let row = sqlx::query(&sql)
            .bind(hash.as_bytes().to_vec())
            .bind(kind.as_str())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => self.judge(&row, None, now).await,
            None => Ok(Redemption::Unknown),
        }
    }

    async fn issue_tokens(
        &self,
        grant: GrantId,
        spending: Option<(&TokenHash, Timestamp)>,
        tokens: &[NewToken],
        disclosure: &NewDisclosure,
        released: String,
    ) -> Result<Issued, StoreError> {
        if tokens.is_empty() {
            return Err(StoreError::Corrupt("no token to issue"));
        }
        let records = self.log.prepare_records(std::slice::from_ref(disclosure))?;
        let id = records
            .first()
            .map(PreparedRecord::id)
            .ok_or(StoreError::Corrupt("disclosure id"))?;
        let outcome = self
            .write_tokens(TokenJob::Issue {
                grant,
                spend: spending.map(|(hash, now)| (*hash, now)),
                tokens: tokens.to_vec(),
                records,
            })
            .await?;
        let TokenOutcome::Issue { live, spent } = outcome else {
            return Err(StoreError::Corrupt("token writer answer"));
        };
        if let (false, Some((hash, now))) = (spent, spending) {
            // Spent by another exchange since it was peeked (a replay), or lapsed.
            return Ok(Issued::Refused(
                match self.peek(TokenKind::Refresh, hash, now).await? {
                    Redemption::Redeemed(_) => Redemption::Unknown,
                    other => other,
                },
            ));
        }
        if live {
            return Ok(Issued::Disclosed(Disclosed::recorded(released, id)));
        }
        let known = sqlx::query("SELECT 1 FROM oidc_grants WHERE id = $1")
            .bind(grant.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match known {
            Some(_) => Ok(Issued::Refused(Redemption::Revoked)),
            None => Err(StoreError::NotFound("grant")),
        }
    }

    async fn find_token(&self, hash: &TokenHash) -> Result<Option<FoundToken>, StoreError> {
        let sql = format!(
            "SELECT t.kind, t.expires_at, {GRANT_COLUMNS} FROM oidc_tokens t \
             JOIN oidc_grants g ON g.id = t.grant_id WHERE t.token_hash = $1"
        );
        sqlx::query(&sql)
            .bind(hash.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| {
                Ok(FoundToken {
                    kind: TokenKind::parse(&row.try_get::<String, _>(0)?)
                        .ok_or(StoreError::Corrupt("oidc_tokens.kind"))?,
                    expires_at: time(row.try_get(1)?, "oidc_tokens.expires_at")?,
                    grant: grant_from_row(&row, 2)?,
                })
            })
            .transpose()
    }

    async fn end_sessions(&self, person: PersonId) -> Result<u64, StoreError> {
        let at = now_micros();
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM login_sessions WHERE person_id = $1")
            .bind(person.to_string())
            .execute(&mut *tx)
            .await?;
        // The children whose sessions, begun by this guardian, end too.
        let children = sqlx::query(
            "SELECT DISTINCT person_id FROM oidc_grants \
             WHERE actor_id = $1 AND person_id <> $1 AND revoked_at IS NULL",
        )
        .bind(person.to_string())
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| parsed::<PersonId>(&row.try_get::<String, _>(0)?, "oidc_grants.person_id"))
        .collect::<Result<Vec<_>, _>>()?;
        let revoked = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = $1 \
             WHERE (person_id = $2 OR actor_id = $2) AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(person.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for told in std::iter::once(person).chain(children) {
            record_signal(&mut tx, &self.keys, session_revoked(told, None, "user", at)).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    async fn change_password(
        &self,
        person: PersonId,
        password_hash: &str,
        keep: &TokenHash,
    ) -> Result<(), StoreError> {
        let at = now_micros();
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE citizen_accounts SET password_hash = $1, updated_at = $2, failed_logins = 0, \
             locked_until = NULL WHERE person_id = $3",
        )
        .bind(password_hash)
        .bind(at)
        .bind(person.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("account"));
        }
        sqlx::query("DELETE FROM login_sessions WHERE person_id = $1 AND id_hash <> $2")
            .bind(person.to_string())
            .bind(keep.as_bytes().to_vec())
            .execute(&mut *tx)
            .await?;
        record_signal(
            &mut tx,
            &self.keys,
            NewSignal {
                person_id: Some(person),
                organisation_id: None,
                event: EventType::CredentialChange.name(),
                detail: json!({
                    "event_timestamp": at / 1_000_000,
                    "credential_type": "password",
                    "change_type": "update",
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_grant(&self, id: GrantId) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE oidc_grants SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        )
        .bind(now_micros())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("grant"));
        }
        Ok(())
    }
}

/// Inserts tokens, each for its grant, a few statements for any number.
async fn insert_tokens(
    conn: &mut sqlx::AnyConnection,
    tokens: &[(GrantId, NewToken)],
) -> Result<(), StoreError> {
    for chunk in tokens.chunks(STATEMENT_ROWS) {
        let values = (0..chunk.len())
            .map(|i| format!("({})", placeholders(1 + 4 * i, 4)))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "INSERT INTO oidc_tokens (token_hash, grant_id, kind, expires_at) VALUES {values}"
        );
        let mut query = sqlx::query(&sql);
        for (grant, token) in chunk {
            query = query
                .bind(token.hash.as_bytes().to_vec())
                .bind(grant.to_string())
                .bind(token.kind.as_str())
                .bind(token.expires_at.as_microsecond());
        }
        query
            .execute(&mut *conn)
            .await
            .map_err(|err| classify(err, "token", "grant"))?;
    }
    Ok(())
}
