//! The SQL implementation of [`RegistryStore`], on SQLite or PostgreSQL through sqlx's `Any`
//! driver. Statements use `$n` placeholders, which both backends accept; the few differences
//! (pragmas, migrations, pool size) are settled once in [`SqlStore::open`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use dinhdanh_core::{CitizenNumber, EidLevel, OrganisationKind, PersonStatus, TaxCode};
use dinhdanh_crypto::{CryptoError, KeyId, MasterKey, SignatureAlgorithm, SigningKey, TokenHash};
use dinhdanh_signals::EventType;
use jiff::Timestamp;
use serde_json::json;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor, Row};
use zeroize::Zeroizing;

use crate::bindings::{BindingStore, SqlBindingStore};
use crate::disclosure::DisclosureLog;
use crate::error::classify;
use crate::keys::Keyring;
use crate::log::SqlDisclosureLog;
use crate::model::{
    GuardianRelationship, Guardianship, NewOperatorToken, NewOrganisation, NewPerson,
    OperatorToken, OperatorTokenId, Organisation, OrganisationId, OrganisationUpdate, Person,
    PersonId, PersonUpdate, PersonalData, SigningKeyRecord, SigningKeyState,
};
use crate::oidc::{OidcStore, SqlOidcStore};
use crate::signals::{NewSignal, SignalStore, SqlSignalStore, record_signal};
use crate::subscriptions::{SqlSubscriptionStore, SubscriptionStore};
use crate::{Backend, RegistryStore, StoreError, StoreOptions};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Domain of the citizen-number blind index.
const CITIZEN_INDEX_DOMAIN: &str = "citizen-number";
/// Rows per multi-row INSERT: 7 parameters a row stays under SQLite's 32,766 and PostgreSQL's
/// 65,535 bound parameters.
const INSERT_CHUNK: usize = 1_000;

const PERSON_COLUMNS: &str = "id, personal, status, eid_level, created_at, updated_at";
/// [`PERSON_COLUMNS`] of a table named `p`.
pub(crate) const PERSON_COLUMNS_OF_P: &str =
    "p.id, p.personal, p.status, p.eid_level, p.created_at, p.updated_at";
const ORGANISATION_COLUMNS: &str = "id, tax_code, name, kind, parent_id, created_at, updated_at";
const TOKEN_COLUMNS: &str = "id, role, label, created_at, expires_at, revoked_at";
const SIGNING_KEY_COLUMNS: &str =
    "kid, algorithm, state, public_key, created_at, activated_at, retiring_at, retired_at";

fn signing_key_aad(kid: &str) -> Vec<u8> {
    format!("dinhdanh signing key v1\0{kid}").into_bytes()
}

/// The current time in microseconds since the epoch, as stored.
pub(crate) fn now_micros() -> i64 {
    Timestamp::now().as_microsecond()
}

pub(crate) fn timestamp(micros: i64, column: &'static str) -> Result<Timestamp, StoreError> {
    Timestamp::from_microsecond(micros).map_err(|_| StoreError::Corrupt(column))
}

pub(crate) fn optional_time(
    micros: Option<i64>,
    column: &'static str,
) -> Result<Option<Timestamp>, StoreError> {
    micros.map(|m| timestamp(m, column)).transpose()
}

fn person_aad(id: PersonId) -> Vec<u8> {
    format!("dinhdanh person v1\0{id}").into_bytes()
}

/// Whether a person exists, inside a transaction.
async fn before_exists(conn: &mut sqlx::AnyConnection, id: PersonId) -> Result<bool, StoreError> {
    Ok(sqlx::query("SELECT 1 FROM persons WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut *conn)
        .await?
        .is_some())
}

/// Opens a sealed field, reloading the key ring once if the field was sealed under a key this
/// node has not seen yet (another node rotated it).
pub(crate) async fn open_field(
    keys: &Keyring,
    pool: &AnyPool,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    match keys.field().open(aad, sealed) {
        Err(CryptoError::UnknownKey) => {
            keys.reload(pool).await?;
            Ok(keys.field().open(aad, sealed)?)
        }
        other => Ok(other?),
    }
}

/// Opens the person whose [`PERSON_COLUMNS`] start at column `offset` of `row`.
pub(crate) async fn person_at(
    keys: &Keyring,
    pool: &AnyPool,
    row: &AnyRow,
    offset: usize,
) -> Result<Person, StoreError> {
    let id: PersonId = row
        .try_get::<String, _>(offset)?
        .parse()
        .map_err(|_| StoreError::Corrupt("persons.id"))?;
    let sealed: Vec<u8> = row.try_get(offset + 1)?;
    let plain = open_field(keys, pool, &person_aad(id), &sealed).await?;
    let personal: PersonalData =
        serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt("persons.personal"))?;
    let status = PersonStatus::from_str(&row.try_get::<String, _>(offset + 2)?)
        .map_err(|_| StoreError::Corrupt("persons.status"))?;
    let eid_level = u8::try_from(row.try_get::<i64, _>(offset + 3)?)
        .ok()
        .and_then(|level| EidLevel::try_from(level).ok())
        .ok_or(StoreError::Corrupt("persons.eid_level"))?;
    Ok(Person {
        id,
        personal,
        status,
        eid_level,
        created_at: timestamp(row.try_get(offset + 4)?, "persons.created_at")?,
        updated_at: timestamp(row.try_get(offset + 5)?, "persons.updated_at")?,
    })
}

/// A batch of people sealed and indexed, ready to be written.
#[derive(Debug)]
pub struct PreparedPersons {
    rows: Vec<PreparedPerson>,
}

impl PreparedPersons {
    /// How many people the batch holds.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The ids the people will have, in batch order.
    pub fn ids(&self) -> impl Iterator<Item = PersonId> + '_ {
        self.rows.iter().map(|row| row.id)
    }
}

#[derive(Debug)]
struct PreparedPerson {
    id: PersonId,
    citizen_index: [u8; 32],
    personal: Vec<u8>,
    status: PersonStatus,
    eid_level: EidLevel,
    at: i64,
}

/// How often a store checks whether the field key was rotated by another process.
const KEY_REFRESH: Duration = Duration::from_secs(30);

/// A registry store on a SQL database.
pub(crate) struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    keys: Arc<Keyring>,
    log: Arc<SqlDisclosureLog>,
    oidc: Arc<SqlOidcStore>,
    bindings: Arc<SqlBindingStore>,
    signals: Arc<SqlSignalStore>,
    subscriptions: Arc<SqlSubscriptionStore>,
}

/// Adds `mode=rwc` to a SQLite URL that does not say otherwise, so that a new file is created.
fn sqlite_url(url: &str) -> String {
    if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    }
}

async fn connect(url: &str, max_connections: u32) -> Result<(AnyPool, Backend), StoreError> {
    sqlx::any::install_default_drivers();
    let backend = Backend::from_url(url)?;
    let pool = match backend {
        Backend::Sqlite => {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                // No ping before each use: on SQLite it is a hand-off to the connection's
                // worker thread for every statement, and a local file does not go away.
                .test_before_acquire(false)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        // WAL: readers do not block the writer. NORMAL is durable in WAL mode
                        // except for the last transactions on power loss (SQLite docs, "WAL").
                        // A 64 MiB page cache keeps the random-keyed blind index in memory
                        // for bulk writes (the default is 2 MiB); it is allocated as used.
                        // Statement journals in memory: a multi-row insert inside a
                        // transaction otherwise writes every page it touches to a temporary
                        // file first. Checkpoints every 10,000 pages (40 MiB) instead of
                        // 1,000, so that a page written many times (the newest pages of the
                        // disclosure log and its indexes) is copied back once.
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; \
                             PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY; \
                             PRAGMA wal_autocheckpoint = 10000;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                .connect(&sqlite_url(url))
                .await?
        }
        Backend::Postgres => {
            AnyPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(Duration::from_secs(10))
                // No ping before each use: it would double every statement's round trips. A
                // connection the server closed fails its next statement and is dropped.
                .test_before_acquire(false)
                .connect(url)
                .await?
        }
    };
    Ok((pool, backend))
}

async fn run_migrations(pool: &AnyPool, backend: Backend) -> Result<usize, StoreError> {
    let migrator = match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    };
    migrator.run(pool).await?;
    Ok(migrator.iter().count())
}

pub(crate) async fn migrate_only(url: &str) -> Result<usize, StoreError> {
    let (pool, backend) = connect(url, 1).await?;
    let count = run_migrations(&pool, backend).await?;
    pool.close().await;
    Ok(count)
}

impl SqlStore {
    pub(crate) async fn open(
        options: &StoreOptions,
        master: &MasterKey,
    ) -> Result<Self, StoreError> {
        let (pool, backend) = connect(&options.database_url, options.max_connections).await?;
        if options.migrate {
            run_migrations(&pool, backend).await?;
        }
        let keys = Arc::new(Keyring::open(&pool, master).await?);
        // Follow rotations made by other processes; the task ends with the store.
        let watched = Arc::downgrade(&keys);
        let watch_pool = pool.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(KEY_REFRESH);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(keys) = watched.upgrade() else { break };
                if let Err(err) = keys.refresh_if_rotated(&watch_pool).await {
                    tracing::warn!(error = %err, "could not check for a rotated data key");
                }
            }
        });
        let log = Arc::new(SqlDisclosureLog::open(pool.clone(), backend, Arc::clone(&keys)).await?);
        let oidc = Arc::new(SqlOidcStore::new(
            pool.clone(),
            Arc::clone(&keys),
            Arc::clone(&log),
        ));
        let bindings = Arc::new(SqlBindingStore::new(
            pool.clone(),
            Arc::clone(&keys),
            Arc::clone(&log),
        ));
        let signals = Arc::new(SqlSignalStore::new(
            pool.clone(),
            Arc::clone(&keys),
            Arc::clone(&log),
        ));
        let subscriptions = Arc::new(SqlSubscriptionStore::new(
            pool.clone(),
            Arc::clone(&keys),
            Arc::clone(&log),
        ));
        Ok(Self {
            pool,
            backend,
            keys,
            log,
            oidc,
            bindings,
            signals,
            subscriptions,
        })
    }

    fn citizen_index(&self, citizen_number: &CitizenNumber) -> [u8; 32] {
        self.keys
            .blind()
            .index(CITIZEN_INDEX_DOMAIN, citizen_number.as_str().as_bytes())
    }

    fn prepare(
        &self,
        person: &NewPerson,
        id: PersonId,
        at: i64,
    ) -> Result<PreparedPerson, StoreError> {
        // Sized up front so that no reallocation leaves a copy of the fields behind.
        let mut plain = Zeroizing::new(Vec::with_capacity(256));
        serde_json::to_writer(&mut *plain, &person.personal)
            .map_err(|_| StoreError::Corrupt("persons.personal"))?;
        let personal = self.keys.field().seal(&person_aad(id), &plain)?;
        Ok(PreparedPerson {
            id,
            citizen_index: self.citizen_index(&person.personal.citizen_number),
            personal,
            status: person.status,
            eid_level: person.eid_level,
            at,
        })
    }

    /// Opens a person row.
    async fn person_from_row(&self, row: &AnyRow) -> Result<Person, StoreError> {
        person_at(&self.keys, &self.pool, row, 0).await
    }

    async fn person_where<T>(&self, clause: &str, value: T) -> Result<Option<Person>, StoreError>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Any> + sqlx::Type<sqlx::Any> + Send,
    {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE {clause}");
        match sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(row) => Ok(Some(self.person_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    async fn organisation_where(
        &self,
        clause: &str,
        value: String,
    ) -> Result<Option<Organisation>, StoreError> {
        let sql = format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE {clause}");
        sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?
            .map(|row| organisation_from_row(&row))
            .transpose()
    }
}

fn organisation_from_row(row: &AnyRow) -> Result<Organisation, StoreError> {
    let parse_id = |text: String, column| {
        text.parse::<OrganisationId>()
            .map_err(|_| StoreError::Corrupt(column))
    };
    Ok(Organisation {
        id: parse_id(row.try_get(0)?, "organisations.id")?,
        tax_code: TaxCode::from_str(&row.try_get::<String, _>(1)?)
            .map_err(|_| StoreError::Corrupt("organisations.tax_code"))?,
        name: row.try_get(2)?,
        kind: OrganisationKind::from_str(&row.try_get::<String, _>(3)?)
            .map_err(|_| StoreError::Corrupt("organisations.kind"))?,
        parent_id: row
            .try_get::<Option<String>, _>(4)?
            .map(|text| parse_id(text, "organisations.parent_id"))
            .transpose()?,
        created_at: timestamp(row.try_get(5)?, "organisations.created_at")?,
        updated_at: timestamp(row.try_get(6)?, "organisations.updated_at")?,
    })
}

fn token_from_row(row: &AnyRow) -> Result<OperatorToken, StoreError> {
    Ok(OperatorToken {
        id: row
            .try_get::<String, _>(0)?
            .parse::<OperatorTokenId>()
            .map_err(|_| StoreError::Corrupt("operator_tokens.id"))?,
        role: row
            .try_get::<String, _>(1)?
            .parse()
            .map_err(|_| StoreError::Corrupt("operator_tokens.role"))?,
        label: row.try_get(2)?,
        created_at: timestamp(row.try_get(3)?, "operator_tokens.created_at")?,
        expires_at: optional_time(row.try_get(4)?, "operator_tokens.expires_at")?,
        revoked_at: optional_time(row.try_get(5)?, "operator_tokens.revoked_at")?,
    })
}

fn signing_key_from_row(row: &AnyRow) -> Result<SigningKeyRecord, StoreError> {
    Ok(SigningKeyRecord {
        kid: row.try_get(0)?,
        algorithm: SignatureAlgorithm::from_jose_name(&row.try_get::<String, _>(1)?)
            .ok_or(StoreError::Corrupt("signing_keys.algorithm"))?,
        state: SigningKeyState::parse(&row.try_get::<String, _>(2)?)
            .ok_or(StoreError::Corrupt("signing_keys.state"))?,
        public_key: row.try_get(3)?,
        created_at: timestamp(row.try_get(4)?, "signing_keys.created_at")?,
        activated_at: optional_time(row.try_get(5)?, "signing_keys.activated_at")?,
        retiring_at: optional_time(row.try_get(6)?, "signing_keys.retiring_at")?,
        retired_at: optional_time(row.try_get(7)?, "signing_keys.retired_at")?,
    })
}

fn guardianship_from_row(row: &AnyRow) -> Result<Guardianship, StoreError> {
    let parse_id = |text: String, column| {
        text.parse::<PersonId>()
            .map_err(|_| StoreError::Corrupt(column))
    };
    Ok(Guardianship {
        child_id: parse_id(row.try_get(0)?, "guardianships.child_id")?,
        guardian_id: parse_id(row.try_get(1)?, "guardianships.guardian_id")?,
        relationship: GuardianRelationship::parse(&row.try_get::<String, _>(2)?)
            .ok_or(StoreError::Corrupt("guardianships.relationship"))?,
        created_at: timestamp(row.try_get(3)?, "guardianships.created_at")?,
    })
}

/// Placeholders for `rows` rows of `columns` values: `($1, $2), ($3, $4)` on PostgreSQL,
/// `(?, ?), (?, ?)` on SQLite. SQLite looks a named or numbered parameter up by a linear scan
/// of the statement's parameter list on every bind, which makes a thousand-row insert
/// quadratic; plain `?` parameters are bound by position with no look-up.
pub(crate) fn values_placeholders(backend: Backend, rows: usize, columns: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    sql.push('$');
                    sql.push_str(&(row * columns + column + 1).to_string());
                }
            }
        }
        sql.push(')');
    }
    sql
}

#[async_trait]
impl RegistryStore for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    fn oidc(&self) -> Arc<dyn OidcStore> {
        Arc::clone(&self.oidc) as Arc<dyn OidcStore>
    }

    fn bindings(&self) -> Arc<dyn BindingStore> {
        Arc::clone(&self.bindings) as Arc<dyn BindingStore>
    }

    fn signals(&self) -> Arc<dyn SignalStore> {
        Arc::clone(&self.signals) as Arc<dyn SignalStore>
    }

    fn subscriptions(&self) -> Arc<dyn SubscriptionStore> {
        Arc::clone(&self.subscriptions) as Arc<dyn SubscriptionStore>
    }

    fn disclosure_log(&self) -> Arc<dyn DisclosureLog> {
        Arc::clone(&self.log) as Arc<dyn DisclosureLog>
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn insert_person(&self, person: &NewPerson) -> Result<Person, StoreError> {
        let prepared = self.prepare_persons(std::slice::from_ref(person))?;
        let at = prepared
            .rows
            .first()
            .map(|row| row.at)
            .unwrap_or_else(now_micros);
        let ids = self.insert_prepared_persons(prepared).await?;
        let id = ids.first().copied().ok_or(StoreError::NotFound("person"))?;
        Ok(Person {
            id,
            personal: person.personal.clone(),
            status: person.status,
            eid_level: person.eid_level,
            created_at: timestamp(at, "persons.created_at")?,
            updated_at: timestamp(at, "persons.created_at")?,
        })
    }

    fn prepare_persons(&self, batch: &[NewPerson]) -> Result<PreparedPersons, StoreError> {
        let at = now_micros();
        let rows = batch
            .iter()
            .map(|person| self.prepare(person, PersonId::generate(), at))
            .collect::<Result<_, _>>()?;
        Ok(PreparedPersons { rows })
    }

    async fn insert_prepared_persons(
        &self,
        batch: PreparedPersons,
    ) -> Result<Vec<PersonId>, StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in batch.rows.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO persons (id, citizen_index, personal, status, eid_level, created_at, \
                 updated_at) VALUES {}",
                values_placeholders(self.backend, chunk.len(), 7)
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                query = query
                    .bind(row.id.to_string())
                    .bind(row.citizen_index.to_vec())
                    .bind(row.personal.clone())
                    .bind(row.status.as_str())
                    .bind(i64::from(row.eid_level.as_u8()))
                    .bind(row.at)
                    .bind(row.at);
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|err| classify(err, "citizen number", "person"))?;
        }
        tx.commit().await?;
        Ok(batch.rows.iter().map(|row| row.id).collect())
    }

    async fn list_persons(
        &self,
        after: Option<PersonId>,
        limit: usize,
    ) -> Result<Vec<Person>, StoreError> {
        let sql =
            format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id > $1 ORDER BY id LIMIT $2");
        let rows = sqlx::query(&sql)
            .bind(after.map_or_else(String::new, |id| id.to_string()))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let mut people = Vec::with_capacity(rows.len());
        for row in &rows {
            people.push(self.person_from_row(row).await?);
        }
        Ok(people)
    }

    async fn list_organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let sql = format!("SELECT {ORGANISATION_COLUMNS} FROM organisations ORDER BY tax_code");
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(organisation_from_row)
            .collect()
    }

    async fn find_person(&self, id: PersonId) -> Result<Option<Person>, StoreError> {
        self.person_where("id = $1", id.to_string()).await
    }

    async fn find_person_by_citizen_number(
        &self,
        citizen_number: &CitizenNumber,
    ) -> Result<Option<Person>, StoreError> {
        self.person_where(
            "citizen_index = $1",
            self.citizen_index(citizen_number).to_vec(),
        )
        .await
    }

    async fn update_person(
        &self,
        id: PersonId,
        update: &PersonUpdate,
    ) -> Result<Person, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Taken first, so that the state read below is the one this update changes (a
        // no-op write holds the row on PostgreSQL and the database on SQLite).
        sqlx::query("UPDATE persons SET updated_at = updated_at WHERE id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        let before = sqlx::query("SELECT status, eid_level FROM persons WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        // The rule "a deceased person's record no longer changes" is in the statement itself,
        // so a concurrent change of status cannot slip between a check and the write.
        let result = sqlx::query(
            "UPDATE persons SET status = COALESCE($1, status), \
             eid_level = COALESCE($2, eid_level), updated_at = $3 \
             WHERE id = $4 AND status <> 'deceased'",
        )
        .bind(update.status.map(|status| status.as_str()))
        .bind(update.eid_level.map(|level| i64::from(level.as_u8())))
        .bind(now_micros())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        let Some(before) = before.filter(|_| result.rows_affected() == 1) else {
            return Err(if result.rows_affected() == 1 {
                StoreError::Corrupt("persons")
            } else if before_exists(&mut tx, id).await? {
                StoreError::PersonDeceased
            } else {
                StoreError::NotFound("person")
            });
        };
        let was_active = before.try_get::<String, _>(0)? == PersonStatus::Active.as_str();
        let level_before: i64 = before.try_get(1)?;
        let when = Timestamp::now().as_second();
        // Receivers hear of what changed, in this transaction (SSF: no change without its
        // events). RISC account-disabled/-enabled when the person stops or starts being an
        // active person; CAEP assurance-level-change when the e-ID level moves.
        let mut signals = Vec::new();
        if let Some(status) = update.status {
            let active = status == PersonStatus::Active;
            if was_active != active {
                let event = if active {
                    EventType::AccountEnabled
                } else {
                    EventType::AccountDisabled
                };
                signals.push((event, json!({ "event_timestamp": when })));
            }
        }
        if let Some(level) = update.eid_level {
            let level_now = i64::from(level.as_u8());
            if level_now != level_before {
                signals.push((
                    EventType::AssuranceLevelChange,
                    json!({
                        "event_timestamp": when,
                        "previous_eid_level": level_before,
                        "current_eid_level": level_now,
                    }),
                ));
            }
        }
        for (event, detail) in signals {
            record_signal(
                &mut tx,
                &self.keys,
                NewSignal {
                    person_id: Some(id),
                    organisation_id: None,
                    event: event.name(),
                    detail,
                },
            )
            .await?;
        }
        let sql = format!("SELECT {PERSON_COLUMNS} FROM persons WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        self.person_from_row(&row).await
    }

    async fn count_persons(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM persons")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn insert_organisation(
        &self,
        organisation: &NewOrganisation,
    ) -> Result<Organisation, StoreError> {
        let id = OrganisationId::generate();
        let at = now_micros();
        sqlx::query(
            "INSERT INTO organisations (id, tax_code, name, kind, parent_id, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id.to_string())
        .bind(organisation.tax_code.as_str())
        .bind(organisation.name.as_str())
        .bind(organisation.kind.as_str())
        .bind(organisation.parent_id.map(|parent| parent.to_string()))
        .bind(at)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(|err| classify(err, "tax code", "parent organisation"))?;
        Ok(Organisation {
            id,
            tax_code: organisation.tax_code,
            name: organisation.name.clone(),
            kind: organisation.kind,
            parent_id: organisation.parent_id,
            created_at: timestamp(at, "organisations.created_at")?,
            updated_at: timestamp(at, "organisations.updated_at")?,
        })
    }

    async fn find_organisation(
        &self,
        id: OrganisationId,
    ) -> Result<Option<Organisation>, StoreError> {
        self.organisation_where("id = $1", id.to_string()).await
    }

    async fn find_organisation_by_tax_code(
        &self,
        tax_code: &TaxCode,
    ) -> Result<Option<Organisation>, StoreError> {
        self.organisation_where("tax_code = $1", tax_code.as_str().to_owned())
            .await
    }

    async fn update_organisation(
        &self,
        id: OrganisationId,
        update: &OrganisationUpdate,
    ) -> Result<Organisation, StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(Some(parent)) = update.parent_id {
            // Walk up from the new parent: reaching `id` would make a cycle.
            let mut cursor = Some(parent.to_string());
            let mut steps = 0;
            while let Some(current) = cursor {
                if current == id.to_string() || steps > 64 {
                    return Err(StoreError::InvalidReference("parent organisation"));
                }
                let row = sqlx::query("SELECT parent_id FROM organisations WHERE id = $1")
                    .bind(current)
                    .fetch_optional(&mut *tx)
                    .await?
                    .ok_or(StoreError::InvalidReference("parent organisation"))?;
                cursor = row.try_get::<Option<String>, _>(0)?;
                steps += 1;
            }
        }
        let (set_parent, parent) = match update.parent_id {
            None => (0_i64, None),
            Some(parent) => (1_i64, parent.map(|p| p.to_string())),
        };
        let result = sqlx::query(
            "UPDATE organisations SET name = COALESCE($1, name), \
             parent_id = CASE WHEN $2 = 1 THEN $3 ELSE parent_id END, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(update.name.as_deref())
        .bind(set_parent)
        .bind(parent)
        .bind(now_micros())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|err| classify(err, "organisation", "parent organisation"))?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("organisation"));
        }
        let sql = format!("SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let organisation = organisation_from_row(&row)?;
        tx.commit().await?;
        Ok(organisation)
    }

    async fn count_organisations(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) FROM organisations")
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn insert_guardianships(&self, links: &[Guardianship]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for chunk in links.chunks(INSERT_CHUNK) {
            let sql = format!(
                "INSERT INTO guardianships (child_id, guardian_id, relationship, created_at) \
                 VALUES {}",
                values_placeholders(self.backend, chunk.len(), 4)
            );
            let mut query = sqlx::query(&sql);
            for link in chunk {
                query = query
                    .bind(link.child_id.to_string())
                    .bind(link.guardian_id.to_string())
                    .bind(link.relationship.as_str())
                    .bind(link.created_at.as_microsecond());
            }
            query
                .execute(&mut *tx)
                .await
                .map_err(|err| classify(err, "guardianship", "person"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_guardians(&self, child_id: PersonId) -> Result<Vec<Guardianship>, StoreError> {
        sqlx::query(
            "SELECT child_id, guardian_id, relationship, created_at FROM guardianships \
             WHERE child_id = $1 ORDER BY created_at, guardian_id",
        )
        .bind(child_id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(guardianship_from_row)
        .collect()
    }

    async fn list_wards(&self, guardian_id: PersonId) -> Result<Vec<Guardianship>, StoreError> {
        sqlx::query(
            "SELECT child_id, guardian_id, relationship, created_at FROM guardianships \
             WHERE guardian_id = $1 ORDER BY created_at, child_id",
        )
        .bind(guardian_id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(guardianship_from_row)
        .collect()
    }

    async fn insert_operator_token(
        &self,
        token: &NewOperatorToken,
    ) -> Result<OperatorToken, StoreError> {
        let id = OperatorTokenId::generate();
        let at = now_micros();
        sqlx::query(
            "INSERT INTO operator_tokens (id, token_hash, role, label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(token.hash.as_bytes().to_vec())
        .bind(token.role.as_str())
        .bind(token.label.as_str())
        .bind(at)
        .bind(token.expires_at.map(|t| t.as_microsecond()))
        .execute(&self.pool)
        .await
        .map_err(|err| classify(err, "operator token", "operator token"))?;
        Ok(OperatorToken {
            id,
            role: token.role,
            label: token.label.clone(),
            created_at: timestamp(at, "operator_tokens.created_at")?,
            expires_at: token.expires_at,
            revoked_at: None,
        })
    }

    async fn find_operator_token(
        &self,
        hash: &TokenHash,
    ) -> Result<Option<OperatorToken>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM operator_tokens WHERE token_hash = $1");
        sqlx::query(&sql)
            .bind(hash.as_bytes().to_vec())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| token_from_row(&row))
            .transpose()
    }

    async fn list_operator_tokens(&self) -> Result<Vec<OperatorToken>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM operator_tokens ORDER BY created_at DESC, id DESC"
        );
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn revoke_operator_token(&self, id: OperatorTokenId) -> Result<(), StoreError> {
        let result = sqlx::query(
            "UPDATE operator_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2",
        )
        .bind(now_micros())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(StoreError::NotFound("operator token"));
        }
        Ok(())
    }

    async fn rotate_field_key(&self) -> Result<KeyId, StoreError> {
        self.keys.rotate_field(&self.pool).await
    }

    async fn insert_signing_key(
        &self,
        key: &SigningKey,
        state: SigningKeyState,
    ) -> Result<SigningKeyRecord, StoreError> {
        let kid = uuid::Uuid::now_v7().to_string();
        let sealed = self
            .keys
            .field()
            .seal(&signing_key_aad(&kid), &key.private_bytes())?;
        let at = now_micros();
        let activated = (state == SigningKeyState::Active).then_some(at);
        sqlx::query(
            "INSERT INTO signing_keys (kid, algorithm, state, public_key, private_key, \
             created_at, activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(kid.as_str())
        .bind(key.algorithm().jose_name())
        .bind(state.as_str())
        .bind(key.verifying_key().as_bytes().to_vec())
        .bind(sealed)
        .bind(at)
        .bind(activated)
        .execute(&self.pool)
        .await
        .map_err(|err| classify(err, "signing key in this state", "signing key"))?;
        Ok(SigningKeyRecord {
            kid,
            algorithm: key.algorithm(),
            state,
            public_key: key.verifying_key().as_bytes().to_vec(),
            created_at: timestamp(at, "signing_keys.created_at")?,
            activated_at: activated
                .map(|at| timestamp(at, "signing_keys.activated_at"))
                .transpose()?,
            retiring_at: None,
            retired_at: None,
        })
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY created_at DESC, kid DESC"
        );
        sqlx::query(&sql)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(signing_key_from_row)
            .collect()
    }

    async fn find_active_signing_key(
        &self,
        algorithm: SignatureAlgorithm,
    ) -> Result<Option<(SigningKeyRecord, SigningKey)>, StoreError> {
        let sql = format!(
            "SELECT {SIGNING_KEY_COLUMNS}, private_key FROM signing_keys \
             WHERE algorithm = $1 AND state = 'active'"
        );
        let Some(row) = sqlx::query(&sql)
            .bind(algorithm.jose_name())
            .fetch_optional(&self.pool)
            .await?
        else {
            return Ok(None);
        };
        let record = signing_key_from_row(&row)?;
        let sealed: Vec<u8> = row.try_get(8)?;
        let private = open_field(
            &self.keys,
            &self.pool,
            &signing_key_aad(&record.kid),
            &sealed,
        )
        .await?;
        let key = SigningKey::from_private_bytes(algorithm, &private)
            .map_err(|_| StoreError::Corrupt("signing_keys.private_key"))?;
        if key.verifying_key().as_bytes() != record.public_key.as_slice() {
            return Err(StoreError::Corrupt("signing_keys.public_key"));
        }
        Ok(Some((record, key)))
    }

    async fn export_signing_keys(&self) -> Result<Vec<(SigningKeyRecord, SigningKey)>, StoreError> {
        let sql = format!(
            "SELECT {SIGNING_KEY_COLUMNS}, private_key FROM signing_keys \
             ORDER BY created_at, kid"
        );
        let rows = sqlx::query(&sql).fetch_all(&self.pool).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let record = signing_key_from_row(&row)?;
            let sealed: Vec<u8> = row.try_get(8)?;
            let private = open_field(
                &self.keys,
                &self.pool,
                &signing_key_aad(&record.kid),
                &sealed,
            )
            .await?;
            let key = SigningKey::from_private_bytes(record.algorithm, &private)
                .map_err(|_| StoreError::Corrupt("signing_keys.private_key"))?;
            keys.push((record, key));
        }
        Ok(keys)
    }

    async fn import_signing_keys(
        &self,
        keys: &[(SigningKeyRecord, SigningKey)],
    ) -> Result<(), StoreError> {
        let micros = |t: Option<Timestamp>| t.map(|t| t.as_microsecond());
        let mut tx = self.pool.begin().await?;
        for (record, key) in keys {
            if key.algorithm() != record.algorithm
                || key.verifying_key().as_bytes() != record.public_key.as_slice()
            {
                return Err(StoreError::InvalidReference(
                    "signing key (public and private parts differ)",
                ));
            }
            let sealed = self
                .keys
                .field()
                .seal(&signing_key_aad(&record.kid), &key.private_bytes())?;
            sqlx::query(
                "INSERT INTO signing_keys (kid, algorithm, state, public_key, private_key, \
                 created_at, activated_at, retiring_at, retired_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(record.kid.as_str())
            .bind(record.algorithm.jose_name())
            .bind(record.state.as_str())
            .bind(record.public_key.clone())
            .bind(sealed)
            .bind(record.created_at.as_microsecond())
            .bind(micros(record.activated_at))
            .bind(micros(record.retiring_at))
            .bind(micros(record.retired_at))
            .execute(&mut *tx)
            .await
            .map_err(|err| classify(err, "signing key (same kid, or same state)", "signing key"))?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn rotate_signing_keys(
        &self,
        algorithm: SignatureAlgorithm,
    ) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let alg = algorithm.jose_name();
        let at = now_micros();
        let mut tx = self.pool.begin().await?;
        let has_next =
            sqlx::query("SELECT kid FROM signing_keys WHERE algorithm = $1 AND state = 'next'")
                .bind(alg)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if !has_next {
            return Err(StoreError::NotFound("next signing key"));
        }
        // In this order, so that at no point two keys of one algorithm are active.
        for (from, to, column) in [
            ("retiring", "retired", "retired_at"),
            ("active", "retiring", "retiring_at"),
            ("next", "active", "activated_at"),
        ] {
            let sql = format!(
                "UPDATE signing_keys SET state = $1, {column} = $2 \
                 WHERE algorithm = $3 AND state = $4"
            );
            sqlx::query(&sql)
                .bind(to)
                .bind(at)
                .bind(alg)
                .bind(from)
                .execute(&mut *tx)
                .await?;
        }
        let sql = format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys WHERE algorithm = $1 \
             ORDER BY created_at DESC, kid DESC"
        );
        let keys = sqlx::query(&sql)
            .bind(alg)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(signing_key_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        tx.commit().await?;
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_rows_in_order() {
        assert_eq!(
            values_placeholders(Backend::Postgres, 2, 3),
            "($1, $2, $3), ($4, $5, $6)"
        );
        assert_eq!(values_placeholders(Backend::Postgres, 1, 1), "($1)");
        assert_eq!(values_placeholders(Backend::Sqlite, 2, 2), "(?, ?), (?, ?)");
    }

    #[test]
    fn sqlite_urls_get_create_mode_unless_given() {
        assert_eq!(sqlite_url("sqlite://a.db"), "sqlite://a.db?mode=rwc");
        assert_eq!(
            sqlite_url("sqlite://a.db?x=1"),
            "sqlite://a.db?x=1&mode=rwc"
        );
        assert_eq!(sqlite_url("sqlite://a.db?mode=ro"), "sqlite://a.db?mode=ro");
    }
}
