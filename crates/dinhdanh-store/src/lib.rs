#![doc = include_str!("../README.md")]

mod bindings;
mod disclosure;
mod error;
mod keys;
mod log;
mod model;
mod oidc;
mod signals;
mod sql;
mod subscriptions;

use std::sync::Arc;

use async_trait::async_trait;
use dinhdanh_core::{CitizenNumber, TaxCode};
use dinhdanh_crypto::{KeyId, MasterKey, SignatureAlgorithm, SigningKey, TokenHash};

pub use bindings::{Binding, BindingId, BindingStore, NewBinding};
pub use disclosure::{
    Disclosed, DisclosureLog, DisclosureRecord, Integration, InvalidPurpose, NewDisclosure,
    Purpose, Recipient, SignedCheckpoint, StoredEntry, SubjectEntry, SubjectLog, disclose,
};
pub use error::StoreError;
pub use model::{
    DisclosureId, GuardianRelationship, Guardianship, NewOperatorToken, NewOrganisation, NewPerson,
    OperatorRole, OperatorToken, OperatorTokenId, Organisation, OrganisationId, OrganisationUpdate,
    Person, PersonId, PersonRuleError, PersonUpdate, PersonalData, SigningKeyRecord,
    SigningKeyState, SubscriptionId, UnknownRole,
};
pub use oidc::{
    Account, Ceremony, Client, ClientAuth, FoundToken, Grant, GrantId, Issued, LoginSession,
    NewAccount, NewClient, NewGrant, NewPasskey, NewToken, OidcStore, PendingRequest,
    RedeemedGrant, Redemption, RequestKind, ServiceToken, TokenKind,
};
pub use signals::{
    AgeWatch, FanOut, NewStream, OutboxEvent, PushResult, Signal, SignalStore, Stream, StreamReach,
};
pub use sql::PreparedPersons;
pub use subscriptions::{
    Cause, DueRound, FaceCheck, Holder, LINE_STATUS_EVENT, LineFacts, LineTransition,
    NewSubscription, Subscription, SubscriptionStore,
};

/// Which database a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, embedded.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn from_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// The backend's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Options for opening a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host:port/db`.
    pub database_url: String,
    /// Maximum pooled connections.
    pub max_connections: u32,
    /// Whether to apply pending migrations when opening.
    pub migrate: bool,
}

impl StoreOptions {
    /// Defaults for `database_url`: 8 connections, migrations applied.
    pub fn new(database_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            max_connections: 8,
            migrate: true,
        }
    }
}

/// Opens the store a URL names, applies migrations if asked, and loads (or, on a new database,
/// creates) the data keys under `master`.
pub async fn open(
    options: &StoreOptions,
    master: &MasterKey,
) -> Result<Arc<dyn RegistryStore>, StoreError> {
    Ok(Arc::new(sql::SqlStore::open(options, master).await?))
}

/// Applies pending migrations to the database a URL names, without touching keys.
pub async fn migrate(database_url: &str) -> Result<usize, StoreError> {
    sql::migrate_only(database_url).await
}

/// The identity registry's storage. Every write is one transaction.
#[async_trait]
pub trait RegistryStore: Send + Sync + 'static {
    /// The backend in use.
    fn backend(&self) -> Backend;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The disclosure log kept in the same database.
    fn disclosure_log(&self) -> Arc<dyn DisclosureLog>;

    /// The OpenID Connect provider's storage in the same database.
    fn oidc(&self) -> Arc<dyn OidcStore>;

    /// Account bindings of platforms.
    fn bindings(&self) -> Arc<dyn BindingStore>;

    /// Shared Signals streams, signals and the outbox.
    fn signals(&self) -> Arc<dyn SignalStore>;

    /// Telecom subscriptions and their lines' transitions.
    fn subscriptions(&self) -> Arc<dyn SubscriptionStore>;

    /// Registers a person. A taken citizen number is `Conflict("citizen number")`.
    async fn insert_person(&self, person: &NewPerson) -> Result<Person, StoreError>;

    /// Seals a batch of people for [`RegistryStore::insert_prepared_persons`]. CPU only, so a
    /// bulk loader can prepare the next batch while the previous one is written.
    fn prepare_persons(&self, batch: &[NewPerson]) -> Result<PreparedPersons, StoreError>;

    /// Writes a prepared batch in one transaction; returns the new ids in batch order.
    async fn insert_prepared_persons(
        &self,
        batch: PreparedPersons,
    ) -> Result<Vec<PersonId>, StoreError>;

    /// Registers many people in one transaction.
    async fn insert_persons(&self, batch: &[NewPerson]) -> Result<Vec<PersonId>, StoreError> {
        let prepared = self.prepare_persons(batch)?;
        self.insert_prepared_persons(prepared).await
    }

    /// A person by id.
    async fn find_person(&self, id: PersonId) -> Result<Option<Person>, StoreError>;

    /// A person by citizen number, through the blind index.
    async fn find_person_by_citizen_number(
        &self,
        citizen_number: &CitizenNumber,
    ) -> Result<Option<Person>, StoreError>;

    /// Changes a person's status or e-ID level. A deceased person's record is
    /// `PersonDeceased` and stays as it is.
    async fn update_person(
        &self,
        id: PersonId,
        update: &PersonUpdate,
    ) -> Result<Person, StoreError>;

    /// How many people are registered.
    async fn count_persons(&self) -> Result<u64, StoreError>;

    /// Up to `limit` people in id order after `after` (from the first if `None`), opened:
    /// for a pass over the whole registry, a page at a time.
    async fn list_persons(
        &self,
        after: Option<PersonId>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError>;

    /// Registers an organisation. A taken tax code is `Conflict("tax code")`.
    async fn insert_organisation(
        &self,
        organisation: &NewOrganisation,
    ) -> Result<Organisation, StoreError>;

    /// An organisation by id.
    async fn find_organisation(
        &self,
        id: OrganisationId,
    ) -> Result<Option<Organisation>, StoreError>;

    /// An organisation by tax code.
    async fn find_organisation_by_tax_code(
        &self,
        tax_code: &TaxCode,
    ) -> Result<Option<Organisation>, StoreError>;

    /// Changes an organisation's name or parent. A parent that would make a cycle is
    /// `InvalidReference("parent organisation")`.
    async fn update_organisation(
        &self,
        id: OrganisationId,
        update: &OrganisationUpdate,
    ) -> Result<Organisation, StoreError>;

    /// How many organisations are registered.
    async fn count_organisations(&self) -> Result<u64, StoreError>;

    /// Every organisation, in tax-code order.
    async fn list_organisations(&self) -> Result<Vec<Organisation>, StoreError>;

    /// Records guardianship links in one transaction. Both people must exist; an existing
    /// link is `Conflict("guardianship")`.
    async fn insert_guardianships(&self, links: &[Guardianship]) -> Result<(), StoreError>;

    /// The guardians of a person.
    async fn list_guardians(&self, child_id: PersonId) -> Result<Vec<Guardianship>, StoreError>;

    /// The people a person is guardian of.
    async fn list_wards(&self, guardian_id: PersonId) -> Result<Vec<Guardianship>, StoreError>;

    /// Records an operator token (its hash).
    async fn insert_operator_token(
        &self,
        token: &NewOperatorToken,
    ) -> Result<OperatorToken, StoreError>;

    /// The token with this hash, if any (usable or not).
    async fn find_operator_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<OperatorToken>, StoreError>;

    /// Every operator token, newest first.
    async fn list_operator_tokens(&self) -> Result<Vec<OperatorToken>, StoreError>;

    /// Revokes a token now. Revoking twice keeps the first time.
    async fn revoke_operator_token(&self, id: OperatorTokenId) -> Result<(), StoreError>;

    /// Creates a new field data key and makes it the active one; earlier keys stay readable.
    async fn rotate_field_key(&self) -> Result<KeyId, StoreError>;

    /// Stores a signing key in `state` (`next` or `active`), its private part sealed. A second
    /// `active` or `next` key of one algorithm is `Conflict`.
    async fn insert_signing_key(
        &self,
        key: &SigningKey,
        state: SigningKeyState,
    ) -> Result<SigningKeyRecord, StoreError>;

    /// Every signing key, newest first.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// The active key of an algorithm, with its private part.
    async fn find_active_signing_key(
        &self,
        algorithm: SignatureAlgorithm,
    ) -> Result<Option<(SigningKeyRecord, SigningKey)>, StoreError>;

    /// Every signing key with its private part, for a sealed backup.
    async fn export_signing_keys(&self) -> Result<Vec<(SigningKeyRecord, SigningKey)>, StoreError>;

    /// Restores signing keys from a backup in one transaction, keeping their kids, states and
    /// times. A kid already present, or a second active or next key of one algorithm, is
    /// `Conflict` and nothing is written.
    async fn import_signing_keys(
        &self,
        keys: &[(SigningKeyRecord, SigningKey)],
    ) -> Result<(), StoreError>;

    /// Moves the keys of an algorithm one step, in one transaction: `retiring` → `retired`,
    /// `active` → `retiring`, `next` → `active`. Without a `next` key it is
    /// `NotFound("next signing key")` and nothing changes.
    async fn rotate_signing_keys(
        &self,
        algorithm: SignatureAlgorithm,
    ) -> Result<Vec<SigningKeyRecord>, StoreError>;
}
