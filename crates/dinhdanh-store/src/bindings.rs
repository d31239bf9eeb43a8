//! Platform accounts bound to people: a platform names one of its accounts by its handle and
//! the pairwise subject its owner signed in with. The handle is sealed under the field key,
//! and found through a blind index keyed per platform, so that one handle is bound at most
//! once on a platform and never stored in clear.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use dinhdanh_core::{AgeBracket, BindingStatus, GuardianConsent};
use dinhdanh_signals::EventType;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};
use uuid::Uuid;

use crate::disclosure::NewDisclosure;
use crate::error::classify;
use crate::keys::Keyring;
use crate::log::SqlDisclosureLog;
use crate::model::{OrganisationId, PersonId};
use crate::signals::{NewSignal, record_signal, watch_age};
use crate::sql::{now_micros, timestamp as time};
use crate::{DisclosureId, StoreError};

/// A binding's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BindingId(Uuid);

impl BindingId {
    /// A new time-ordered id.
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    /// The UUID.
    pub fn as_uuid(&self) -> &Uuid {
        &self.0
    }
}

impl std::fmt::Display for BindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Uuid> for BindingId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl FromStr for BindingId {
    type Err = uuid::Error;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(text).map(Self)
    }
}

/// A binding to record.
#[derive(Clone, Debug)]
pub struct NewBinding {
    /// The platform.
    pub organisation_id: OrganisationId,
    /// The person the pairwise subject names.
    pub person_id: PersonId,
    /// The pairwise subject the platform named.
    pub subject: String,
    /// The platform's handle of the account, sealed at rest.
    pub handle: String,
    /// `Active`, or `PendingGuardian` for a person under 16.
    pub status: BindingStatus,
    /// For a person under 16, where the guardian's consent stands.
    pub guardian_consent: Option<GuardianConsent>,
    /// The person's age bracket now, if they are under 18: the store then watches for
    /// their 16th and 18th birthdays, which their platforms hear of.
    pub age_bracket: Option<AgeBracket>,
}

/// A recorded binding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Binding {
    /// Its id.
    pub id: BindingId,
    /// The platform.
    pub organisation_id: OrganisationId,
    /// The person.
    pub person_id: PersonId,
    /// The pairwise subject the platform named.
    pub subject: String,
    /// The handle.
    pub handle: String,
    /// Where it stands.
    pub status: BindingStatus,
    /// For a person under 16, where the guardian's consent stands.
    pub guardian_consent: Option<GuardianConsent>,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// Account bindings.
#[async_trait]
pub trait BindingStore: Send + Sync + 'static {
    /// Records a binding with the disclosure record of what the answer tells the platform,
    /// unless the person already holds `limit` bindings on the platform that count towards it
    /// (`StoreError::Limit("bindings")`), or the handle is bound on the platform already
    /// (`Conflict("handle")`). It is one transaction that holds the person's row, so that two
    /// at once cannot both pass the limit, and nothing is written when it is refused.
    async fn insert_binding(
        &self,
        binding: &NewBinding,
        limit: u32,
        disclosure: &NewDisclosure,
    ) -> Result<(Binding, DisclosureId), StoreError>;

    /// Every binding of a person, on every platform, oldest first.
    async fn list_bindings_of(&self, person: PersonId) -> Result<Vec<Binding>, StoreError>;

    /// Moves a person's binding to `status` with `guardian_consent`, recording the guardian
    /// who answered if one did, and returns it as it is now. Another person's binding is
    /// `NotFound("binding")`.
    async fn update_binding(
        &self,
        person: PersonId,
        id: BindingId,
        status: BindingStatus,
        guardian_consent: Option<GuardianConsent>,
        guardian: Option<PersonId>,
    ) -> Result<Binding, StoreError>;

    /// A platform's binding by id; another platform's is not found.
    async fn find_binding(
        &self,
        organisation: OrganisationId,
        id: BindingId,
    ) -> Result<Option<Binding>, StoreError>;
}

const BINDING_COLUMNS: &str = "id, organisation_id, person_id, subject, handle, status, \
    guardian_consent, created_at, updated_at";

/// The SQL implementation of [`BindingStore`].
pub(crate) struct SqlBindingStore {
    pool: AnyPool,
    keys: Arc<Keyring>,
    log: Arc<SqlDisclosureLog>,
}

fn handle_aad(organisation: OrganisationId, id: BindingId) -> Vec<u8> {
    format!("dinhdanh binding handle v1\0{organisation}\0{id}").into_bytes()
}

fn parsed<T: FromStr>(text: &str, column: &'static str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(column))
}

impl SqlBindingStore {
    pub(crate) fn new(pool: AnyPool, keys: Arc<Keyring>, log: Arc<SqlDisclosureLog>) -> Self {
        Self { pool, keys, log }
    }

    fn handle_index(&self, organisation: OrganisationId, handle: &str) -> Vec<u8> {
        let mut value = organisation.to_string().into_bytes();
        value.push(0);
        value.extend_from_slice(handle.as_bytes());
        self.keys.blind().index("binding-handle", &value).to_vec()
    }

    fn binding_from_row(&self, row: &AnyRow) -> Result<Binding, StoreError> {
        let id: BindingId = parsed(&row.try_get::<String, _>(0)?, "account_bindings.id")?;
        let organisation_id: OrganisationId = parsed(
            &row.try_get::<String, _>(1)?,
            "account_bindings.organisation_id",
        )?;
        let sealed: Vec<u8> = row.try_get(4)?;
        let handle = self
            .keys
            .field()
            .open(&handle_aad(organisation_id, id), &sealed)?;
        Ok(Binding {
            id,
            organisation_id,
            person_id: parsed(&row.try_get::<String, _>(2)?, "account_bindings.person_id")?,
            subject: row.try_get(3)?,
            handle: String::from_utf8(handle.to_vec())
                .map_err(|_| StoreError::Corrupt("account_bindings.handle"))?,
            status: parsed(&row.try_get::<String, _>(5)?, "account_bindings.status")?,
            guardian_consent: row
                .try_get::<Option<String>, _>(6)?
                .map(|text| parsed(&text, "account_bindings.guardian_consent"))
                .transpose()?,
            created_at: time(row.try_get(7)?, "account_bindings.created_at")?,
            updated_at: time(row.try_get(8)?, "account_bindings.updated_at")?,
        })
    }
}

#[async_trait]
impl BindingStore for SqlBindingStore {
    async fn insert_binding(
        &self,
        binding: &NewBinding,
        limit: u32,
        disclosure: &NewDisclosure,
    ) -> Result<(Binding, DisclosureId), StoreError> {
        let records = self.log.prepare_records(std::slice::from_ref(disclosure))?;
        let id = BindingId::generate();
        let at = now_micros();
        let organisation = binding.organisation_id;
        let sealed = self
            .keys
            .field()
            .seal(&handle_aad(organisation, id), binding.handle.as_bytes())?;
        let mut tx = self.pool.begin().await?;
        // Holds the person's row (a row lock on PostgreSQL, the write lock on SQLite) until
        // the binding is in: a second binding for the same person waits, then counts this one.
        // A person who stopped being active since the caller looked is refused here.
        let held = sqlx::query(
            "UPDATE persons SET updated_at = updated_at WHERE id = $1 AND status = 'active'",
        )
        .bind(binding.person_id.to_string())
        .execute(&mut *tx)
        .await?;
        if held.rows_affected() == 0 {
            return Err(StoreError::InvalidReference("person"));
        }
        // The statuses that count: `BindingStatus::counts_towards_limit`.
        let held: i64 = sqlx::query(
            "SELECT COUNT(*) FROM account_bindings WHERE person_id = $1 AND organisation_id = $2 \
             AND status IN ('active', 'pending_guardian')",
        )
        .bind(binding.person_id.to_string())
        .bind(organisation.to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
        if held >= i64::from(limit) {
            return Err(StoreError::Limit("bindings"));
        }
        sqlx::query(
            "INSERT INTO account_bindings (id, organisation_id, person_id, subject, handle, \
             handle_index, status, guardian_consent, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(id.to_string())
        .bind(organisation.to_string())
        .bind(binding.person_id.to_string())
        .bind(binding.subject.as_str())
        .bind(sealed)
        .bind(self.handle_index(organisation, &binding.handle))
        .bind(binding.status.as_str())
        .bind(binding.guardian_consent.map(|consent| consent.as_str()))
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(|err| classify(err, "handle", "organisation or person"))?;
        if let Some(bracket) = binding.age_bracket.filter(|b| !b.over_18()) {
            watch_age(&mut tx, &self.keys, binding.person_id, bracket).await?;
        }
        self.log.insert_records(&mut tx, &records).await?;
        tx.commit().await?;
        self.log.note_recorded(records.len());
        let recorded = records
            .first()
            .map(|record| record.id())
            .ok_or(StoreError::Corrupt("disclosure id"))?;
        let stored = Binding {
            id,
            organisation_id: organisation,
            person_id: binding.person_id,
            subject: binding.subject.clone(),
            handle: binding.handle.clone(),
            status: binding.status,
            guardian_consent: binding.guardian_consent,
            created_at: time(at, "account_bindings.created_at")?,
            updated_at: time(at, "account_bindings.updated_at")?,
        };
        Ok((stored, recorded))
    }

    async fn list_bindings_of(&self, person: PersonId) -> Result<Vec<Binding>, StoreError> {
        let sql = format!(
            "SELECT {BINDING_COLUMNS} FROM account_bindings WHERE person_id = $1 \
             ORDER BY created_at, id"
        );
        sqlx::query(&sql)
            .bind(person.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| self.binding_from_row(row))
            .collect()
    }

    async fn update_binding(
        &self,
        person: PersonId,
        id: BindingId,
        status: BindingStatus,
        guardian_consent: Option<GuardianConsent>,
        guardian: Option<PersonId>,
    ) -> Result<Binding, StoreError> {
        let sql = format!(
            "UPDATE account_bindings SET status = $1, guardian_consent = $2, updated_at = $3, \
             guardian_id = COALESCE($6, guardian_id), \
             decided_at = CASE WHEN $6 IS NULL THEN decided_at ELSE $3 END \
             WHERE id = $4 AND person_id = $5 RETURNING {BINDING_COLUMNS}"
        );
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(guardian_consent.map(|consent| consent.as_str()))
            .bind(now_micros())
            .bind(id.to_string())
            .bind(person.to_string())
            .bind(guardian.map(|guardian| guardian.to_string()))
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound("binding"))?;
        let binding = self.binding_from_row(&row)?;
        // The platform hears that a guardian refused or withdrew consent, in the same
        // transaction as the answer.
        if let Some(consent @ (GuardianConsent::Revoked | GuardianConsent::Denied)) =
            guardian_consent
        {
            record_signal(
                &mut tx,
                &self.keys,
                NewSignal {
                    person_id: Some(person),
                    organisation_id: Some(binding.organisation_id),
                    event: EventType::GuardianConsentRevoked.name(),
                    detail: serde_json::json!({
                        "event_timestamp": Timestamp::now().as_second(),
                        "binding": id.to_string(),
                        "guardian_consent": consent.as_str(),
                    }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(binding)
    }

    async fn find_binding(
        &self,
        organisation: OrganisationId,
        id: BindingId,
    ) -> Result<Option<Binding>, StoreError> {
        let sql = format!(
            "SELECT {BINDING_COLUMNS} FROM account_bindings WHERE id = $1 AND organisation_id = $2"
        );
        sqlx::query(&sql)
            .bind(id.to_string())
            .bind(organisation.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| self.binding_from_row(&row))
            .transpose()
    }
}
