//! What Shared Signals needs kept: receivers' streams, the subjects they added or removed,
//! signals waiting to be fanned out, and the outbox of events until each receiver has its own.
//!
//! A signal is written in the transaction that made it happen (a person's status or e-ID
//! level changed, a guardian withdrew consent), so that no change commits without the events
//! it owes. Fanning a signal out writes one outbox row per stream concerned, with the
//! disclosure record of what each receiver will learn, and deletes the signal, in one
//! transaction: done once, by whichever node gets there first. This module never signs or
//! sends: tokens are signed and delivered by the server.

use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use dinhdanh_core::{AgeBracket, PersonStatus};
use dinhdanh_signals::EventType;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use uuid::Uuid;

use crate::StoreError;
use crate::disclosure::NewDisclosure;
use crate::keys::Keyring;
use crate::log::SqlDisclosureLog;
use crate::model::{OrganisationId, Person, PersonId};
use crate::sql::{
    PERSON_COLUMNS_OF_P, now_micros, open_field, optional_time, person_at, timestamp as time,
};

/// A stream to record, or what to make of one.
#[derive(Clone, Debug)]
pub struct NewStream {
    /// The receiver's client.
    pub client_id: String,
    /// What the receiver asked for, as JSON (no secret in it).
    pub config: String,
    /// `push` (RFC 8935) or `poll` (RFC 8936).
    pub method: String,
    /// The push `authorization_header`, sealed at rest.
    pub authorization: Option<String>,
    /// `enabled`, `paused` or `disabled`.
    pub status: String,
    /// Why, if a reason was given.
    pub reason: Option<String>,
}

/// A recorded stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stream {
    /// Its id.
    pub id: String,
    /// The receiver's client.
    pub client_id: String,
    /// What the receiver asked for, as JSON.
    pub config: String,
    /// `push` or `poll`.
    pub method: String,
    /// The push `authorization_header`, opened.
    pub authorization: Option<String>,
    /// Its status.
    pub status: String,
    /// Why, if a reason was given.
    pub reason: Option<String>,
    /// When it was made.
    pub created_at: Timestamp,
}

/// A signal waiting to be fanned out.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// Its id.
    pub id: String,
    /// Whom it is about; none for a line an organisation holds.
    pub person_id: Option<PersonId>,
    /// The only platform whose streams hear of it, if it is limited to one.
    pub organisation_id: Option<OrganisationId>,
    /// The event type's short name.
    pub event: String,
    /// The event's members.
    pub detail: Value,
}

/// A signal to record in a transaction.
#[derive(Clone, Debug)]
pub(crate) struct NewSignal<'a> {
    pub(crate) person_id: Option<PersonId>,
    pub(crate) organisation_id: Option<OrganisationId>,
    pub(crate) event: &'a str,
    pub(crate) detail: Value,
}

/// What fanning one signal out writes.
#[derive(Clone, Debug)]
pub struct FanOut {
    /// The signal's id.
    pub signal: String,
    /// `(stream, event)`: the events to queue.
    pub deliveries: Vec<(String, Value)>,
    /// The disclosure records of what each receiver will learn.
    pub disclosures: Vec<NewDisclosure>,
}

/// A stream that hears of a person's signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamReach {
    /// The stream.
    pub stream_id: String,
    /// The receiver's client.
    pub client_id: String,
    /// What the receiver asked for, as JSON.
    pub config: String,
}

/// An event in the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxEvent {
    /// The token's id.
    pub jti: String,
    /// The stream.
    pub stream_id: String,
    /// The receiver's client.
    pub client_id: String,
    /// The event, unsigned: type, subject and members.
    pub event: Value,
    /// When it was made (the token's `iat`).
    pub created_at: Timestamp,
    /// Push attempts so far.
    pub attempts: u32,
    /// The stream's configuration, as JSON.
    pub config: String,
    /// The stream's push `authorization_header`, opened.
    pub authorization: Option<String>,
}

/// How a push attempt went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushResult {
    /// The receiver has it.
    Delivered,
    /// Try again at the given time; the text is the error.
    Retry(Timestamp, String),
    /// The receiver rejected it for what it is: never again.
    Rejected(String),
    /// Not tried (an earlier push to its receiver failed): due again at once, with no
    /// attempt counted.
    Deferred,
}

/// A person watched for their 16th and 18th birthdays, with the bracket last announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgeWatch {
    /// The person, opened.
    pub person: Person,
    /// The bracket their platforms last heard of (or that held at their first binding).
    pub announced: AgeBracket,
    /// The row's version, for a compare-and-set.
    pub version: i64,
}

/// Shared Signals storage.
#[async_trait]
pub trait SignalStore: Send + Sync + 'static {
    /// Records a stream.
    async fn insert_stream(&self, stream: &NewStream) -> Result<Stream, StoreError>;

    /// A client's stream; another client's is not found.
    async fn find_stream(&self, client_id: &str, id: &str) -> Result<Option<Stream>, StoreError>;

    /// A client's streams, oldest first.
    async fn list_streams(&self, client_id: &str) -> Result<Vec<Stream>, StoreError>;

    /// Replaces a client's stream's configuration and status, queueing `event` (a
    /// `stream-updated` event) for it in the same transaction if one is given.
    async fn update_stream(
        &self,
        id: &str,
        stream: &NewStream,
        event: Option<&Value>,
    ) -> Result<Stream, StoreError>;

    /// Deletes a client's stream with its subjects and undelivered events.
    async fn delete_stream(&self, client_id: &str, id: &str) -> Result<(), StoreError>;

    /// Adds a person to a stream (`included`) or removes them (SSF §8.1.3).
    async fn update_stream_subject(
        &self,
        stream_id: &str,
        person: PersonId,
        included: bool,
    ) -> Result<(), StoreError>;

    /// Queues an event for one stream (verification, stream updates) and returns its `jti`.
    async fn insert_stream_event(
        &self,
        stream_id: &str,
        event: &Value,
    ) -> Result<String, StoreError>;

    /// Signals waiting to be fanned out, oldest first.
    async fn list_signals(&self, limit: usize) -> Result<Vec<Signal>, StoreError>;

    /// The streams, not disabled, that hear of `person`: those of clients of a platform on
    /// which the person holds a binding (limited to `organisation` if given), and those that
    /// added the person, less those that removed them.
    async fn list_streams_reaching(
        &self,
        person: PersonId,
        organisation: Option<OrganisationId>,
    ) -> Result<Vec<StreamReach>, StoreError>;

    /// The streams, not disabled, of an organisation's clients: an operator hears of its
    /// own lines through all of them.
    async fn list_streams_of(
        &self,
        organisation: OrganisationId,
    ) -> Result<Vec<StreamReach>, StoreError>;

    /// Fans signals out, all in one transaction: for each, deletes the signal and queues each
    /// `(stream, event)` with the disclosure records. For each, `false` if another node
    /// fanned it out first (then nothing of it is written).
    async fn fan_out(&self, batch: &[FanOut]) -> Result<Vec<bool>, StoreError>;

    /// Claims up to `limit` push events due at `now` on enabled streams for `lease`: no
    /// other node takes them meanwhile. Oldest first.
    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Records how pushes went, `(jti, result)`, in one transaction.
    async fn update_pushes(&self, results: &[(String, PushResult)]) -> Result<(), StoreError>;

    /// Up to `limit` undelivered events of a polled stream, oldest first, and whether more
    /// are waiting.
    async fn list_polled(
        &self,
        stream_id: &str,
        limit: usize,
    ) -> Result<(Vec<OutboxEvent>, bool), StoreError>;

    /// Marks a stream's events acknowledged, or rejected with the receiver's error.
    async fn acknowledge(
        &self,
        stream_id: &str,
        acked: &[String],
        rejected: &[(String, String)],
    ) -> Result<(), StoreError>;

    /// The time of the earliest push still waiting, if any (for the deliverer's sleep).
    async fn next_push_at(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Up to `limit` people watched for a change of age bracket, in id order after `after`.
    async fn list_age_watch(
        &self,
        after: Option<PersonId>,
        limit: usize,
    ) -> Result<Vec<AgeWatch>, StoreError>;

    /// Records that `watch`'s person is now in `current` at `at`, in one transaction: the
    /// watch moves on (or ends, for an adult or a deceased person), and if they crossed 16 or
    /// 18, an `age-bracket-changed` signal goes to their platforms. `false`, with nothing
    /// written, if the watch changed since it was read (another node announced it).
    async fn announce_age(
        &self,
        watch: &AgeWatch,
        current: AgeBracket,
        at: Timestamp,
    ) -> Result<bool, StoreError>;

    /// Deletes the events delivered, acknowledged or rejected before `before`, and returns
    /// how many.
    async fn sweep_outbox(&self, before: Timestamp) -> Result<u64, StoreError>;
}

const STREAM_COLUMNS: &str =
    "s.id, s.client_id, s.config, s.push_authorization, s.status, s.reason, s.created_at, s.method";
const OUTBOX_COLUMNS: &str = "o.jti, o.stream_id, s.client_id, o.event, o.created_at, \
    o.attempts, s.config, s.push_authorization";

fn stream_aad(id: &str) -> Vec<u8> {
    format!("dinhdanh ssf stream authorization v1\0{id}").into_bytes()
}

fn age_aad(person: PersonId) -> Vec<u8> {
    format!("dinhdanh age watch v1\0{person}").into_bytes()
}

/// Starts watching `person`, in `bracket` now, for a change of age bracket, inside the
/// caller's transaction; a person watched already keeps their row.
pub(crate) async fn watch_age(
    conn: &mut AnyConnection,
    keys: &Keyring,
    person: PersonId,
    bracket: AgeBracket,
) -> Result<(), StoreError> {
    let sealed = keys
        .field()
        .seal(&age_aad(person), bracket.as_str().as_bytes())?;
    sqlx::query(
        "INSERT INTO age_watch (person_id, bracket, version) VALUES ($1, $2, 0) \
         ON CONFLICT (person_id) DO NOTHING",
    )
    .bind(person.to_string())
    .bind(sealed)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn signal_aad(id: &str) -> Vec<u8> {
    format!("dinhdanh signal v1\0{id}").into_bytes()
}

fn event_aad(jti: &str) -> Vec<u8> {
    format!("dinhdanh ssf event v1\0{jti}").into_bytes()
}

/// Records a signal inside the caller's transaction, its type and members sealed.
pub(crate) async fn record_signal(
    conn: &mut AnyConnection,
    keys: &Keyring,
    signal: NewSignal<'_>,
) -> Result<(), StoreError> {
    let id = Uuid::now_v7().to_string();
    let plain = json!({ "event": signal.event, "detail": signal.detail }).to_string();
    let sealed = keys.field().seal(&signal_aad(&id), plain.as_bytes())?;
    sqlx::query(
        "INSERT INTO signals (id, person_id, organisation_id, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(signal.person_id.map(|id| id.to_string()))
    .bind(signal.organisation_id.map(|id| id.to_string()))
    .bind(sealed)
    .bind(now_micros())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A stream as a row of `(id, client_id, config)` names it.
fn stream_reach(row: &AnyRow) -> Result<StreamReach, StoreError> {
    Ok(StreamReach {
        stream_id: row.try_get(0)?,
        client_id: row.try_get(1)?,
        config: row.try_get(2)?,
    })
}

/// Queues an event for a stream inside the caller's transaction, sealed, and returns its
/// `jti`.
async fn queue_event(
    conn: &mut AnyConnection,
    keys: &Keyring,
    stream_id: &str,
    event: &Value,
    at: i64,
) -> Result<String, StoreError> {
    let jti = Uuid::now_v7().to_string();
    let sealed = keys
        .field()
        .seal(&event_aad(&jti), event.to_string().as_bytes())?;
    sqlx::query(
        "INSERT INTO ssf_outbox (jti, stream_id, event, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(&jti)
    .bind(stream_id)
    .bind(sealed)
    .bind(at)
    .execute(&mut *conn)
    .await?;
    Ok(jti)
}

/// The SQL implementation of [`SignalStore`].
pub(crate) struct SqlSignalStore {
    pool: AnyPool,
    keys: Arc<Keyring>,
    log: Arc<SqlDisclosureLog>,
}

impl SqlSignalStore {
    pub(crate) fn new(pool: AnyPool, keys: Arc<Keyring>, log: Arc<SqlDisclosureLog>) -> Self {
        Self { pool, keys, log }
    }

    async fn authorization(
        &self,
        id: &str,
        sealed: Option<Vec<u8>>,
    ) -> Result<Option<String>, StoreError> {
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = open_field(&self.keys, &self.pool, &stream_aad(id), &sealed).await?;
        String::from_utf8(plain.to_vec())
            .map(Some)
            .map_err(|_| StoreError::Corrupt("ssf_streams.push_authorization"))
    }

    async fn stream_from_row(&self, row: &AnyRow) -> Result<Stream, StoreError> {
        let id: String = row.try_get(0)?;
        let authorization = self.authorization(&id, row.try_get(3)?).await?;
        Ok(Stream {
            client_id: row.try_get(1)?,
            config: row.try_get(2)?,
            authorization,
            status: row.try_get(4)?,
            reason: row.try_get(5)?,
            created_at: time(row.try_get(6)?, "ssf_streams.created_at")?,
            method: row.try_get(7)?,
            id,
        })
    }

    async fn outbox_from_row(&self, row: &AnyRow) -> Result<OutboxEvent, StoreError> {
        let stream_id: String = row.try_get(1)?;
        let jti: String = row.try_get(0)?;
        let sealed: Vec<u8> = row.try_get(3)?;
        let event = open_field(&self.keys, &self.pool, &event_aad(&jti), &sealed).await?;
        Ok(OutboxEvent {
            client_id: row.try_get(2)?,
            event: serde_json::from_slice(&event)
                .map_err(|_| StoreError::Corrupt("ssf_outbox.event"))?,
            jti,
            created_at: time(row.try_get(4)?, "ssf_outbox.created_at")?,
            attempts: u32::try_from(row.try_get::<i64, _>(5)?).unwrap_or(u32::MAX),
            config: row.try_get(6)?,
            authorization: self.authorization(&stream_id, row.try_get(7)?).await?,
            stream_id,
        })
    }

    fn seal(&self, id: &str, authorization: Option<&str>) -> Result<Option<Vec<u8>>, StoreError> {
        authorization
            .map(|text| {
                self.keys
                    .field()
                    .seal(&stream_aad(id), text.as_bytes())
                    .map_err(StoreError::from)
            })
            .transpose()
    }
}

#[async_trait]
impl SignalStore for SqlSignalStore {
    async fn insert_stream(&self, stream: &NewStream) -> Result<Stream, StoreError> {
        let id = Uuid::now_v7().to_string();
        let at = now_micros();
        sqlx::query(
            "INSERT INTO ssf_streams (id, client_id, config, push_authorization, status, reason, \
             created_at, updated_at, method) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8)",
        )
        .bind(&id)
        .bind(&stream.client_id)
        .bind(&stream.config)
        .bind(self.seal(&id, stream.authorization.as_deref())?)
        .bind(&stream.status)
        .bind(stream.reason.as_deref())
        .bind(at)
        .bind(&stream.method)
        .execute(&self.pool)
        .await
        .map_err(|err| crate::error::classify(err, "stream", "client"))?;
        Ok(Stream {
            id,
            client_id: stream.client_id.clone(),
            config: stream.config.clone(),
            method: stream.method.clone(),
            authorization: stream.authorization.clone(),
            status: stream.status.clone(),
            reason: stream.reason.clone(),
            created_at: time(at, "ssf_streams.created_at")?,
        })
    }

    async fn find_stream(&self, client_id: &str, id: &str) -> Result<Option<Stream>, StoreError> {
        let sql = format!(
            "SELECT {STREAM_COLUMNS} FROM ssf_streams s WHERE s.id = $1 AND s.client_id = $2"
        );
        match sqlx::query(&sql)
            .bind(id)
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?
        {
            Some(row) => Ok(Some(self.stream_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    async fn list_streams(&self, client_id: &str) -> Result<Vec<Stream>, StoreError> {
        let sql = format!(
            "SELECT {STREAM_COLUMNS} FROM ssf_streams s WHERE s.client_id = $1 ORDER BY s.id"
        );
        let rows = sqlx::query(&sql)
            .bind(client_id)
            .fetch_all(&self.pool)
            .await?;
        let mut streams = Vec::with_capacity(rows.len());
        for row in &rows {
            streams.push(self.stream_from_row(row).await?);
        }
        Ok(streams)
    }

    async fn update_stream(
        &self,
        id: &str,
        stream: &NewStream,
        event: Option<&Value>,
    ) -> Result<Stream, StoreError> {
        let mut tx = self.pool.begin().await?;
        let at = now_micros();
        let changed = sqlx::query(
            "UPDATE ssf_streams SET config = $1, push_authorization = $2, status = $3, reason = $4, \
             updated_at = $5, method = $8 WHERE id = $6 AND client_id = $7",
        )
        .bind(&stream.config)
        .bind(self.seal(id, stream.authorization.as_deref())?)
        .bind(&stream.status)
        .bind(stream.reason.as_deref())
        .bind(at)
        .bind(id)
        .bind(&stream.client_id)
        .bind(&stream.method)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::NotFound("stream"));
        }
        if let Some(event) = event {
            queue_event(&mut tx, &self.keys, id, event, at).await?;
        }
        let sql = format!("SELECT {STREAM_COLUMNS} FROM ssf_streams s WHERE s.id = $1");
        let row = sqlx::query(&sql).bind(id).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        self.stream_from_row(&row).await
    }

    async fn delete_stream(&self, client_id: &str, id: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let owned = sqlx::query("SELECT 1 FROM ssf_streams WHERE id = $1 AND client_id = $2")
            .bind(id)
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if !owned {
            return Err(StoreError::NotFound("stream"));
        }
        for sql in [
            "DELETE FROM ssf_outbox WHERE stream_id = $1",
            "DELETE FROM ssf_stream_subjects WHERE stream_id = $1",
            "DELETE FROM ssf_streams WHERE id = $1",
        ] {
            sqlx::query(sql).bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn update_stream_subject(
        &self,
        stream_id: &str,
        person: PersonId,
        included: bool,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO ssf_stream_subjects (stream_id, person_id, included) VALUES ($1, $2, $3) \
             ON CONFLICT (stream_id, person_id) DO UPDATE SET included = excluded.included",
        )
        .bind(stream_id)
        .bind(person.to_string())
        .bind(i64::from(included))
        .execute(&self.pool)
        .await
        .map_err(|err| crate::error::classify(err, "subject", "stream or person"))?;
        Ok(())
    }

    async fn insert_stream_event(
        &self,
        stream_id: &str,
        event: &Value,
    ) -> Result<String, StoreError> {
        let mut conn = self.pool.acquire().await?;
        queue_event(&mut conn, &self.keys, stream_id, event, now_micros()).await
    }

    async fn list_signals(&self, limit: usize) -> Result<Vec<Signal>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, person_id, organisation_id, detail FROM signals ORDER BY id LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut signals = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: String = row.try_get(0)?;
            let sealed: Vec<u8> = row.try_get(3)?;
            let plain = open_field(&self.keys, &self.pool, &signal_aad(&id), &sealed).await?;
            let corrupt = || StoreError::Corrupt("signals.detail");
            let mut opened: Value = serde_json::from_slice(&plain).map_err(|_| corrupt())?;
            let event = opened
                .get("event")
                .and_then(Value::as_str)
                .ok_or_else(corrupt)?
                .to_owned();
            signals.push(Signal {
                id,
                person_id: row
                    .try_get::<Option<String>, _>(1)?
                    .map(|id| {
                        PersonId::from_str(&id)
                            .map_err(|_| StoreError::Corrupt("signals.person_id"))
                    })
                    .transpose()?,
                organisation_id: row
                    .try_get::<Option<String>, _>(2)?
                    .map(|id| {
                        OrganisationId::from_str(&id)
                            .map_err(|_| StoreError::Corrupt("signals.organisation_id"))
                    })
                    .transpose()?,
                event,
                detail: opened
                    .get_mut("detail")
                    .map(Value::take)
                    .ok_or_else(corrupt)?,
            });
        }
        Ok(signals)
    }

    async fn list_streams_of(
        &self,
        organisation: OrganisationId,
    ) -> Result<Vec<StreamReach>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, s.client_id, s.config FROM ssf_streams s \
             JOIN oidc_clients c ON c.id = s.client_id \
             WHERE s.status <> 'disabled' AND c.organisation_id = $1 ORDER BY s.id",
        )
        .bind(organisation.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stream_reach).collect()
    }

    async fn list_streams_reaching(
        &self,
        person: PersonId,
        organisation: Option<OrganisationId>,
    ) -> Result<Vec<StreamReach>, StoreError> {
        // Bindings that were disowned or unlinked no longer tie the person to the platform.
        let rows = sqlx::query(
            "SELECT s.id, s.client_id, s.config FROM ssf_streams s \
             JOIN oidc_clients c ON c.id = s.client_id \
             WHERE s.status <> 'disabled' \
             AND ($2 IS NULL OR c.organisation_id = $2) \
             AND (EXISTS (SELECT 1 FROM account_bindings b WHERE b.person_id = $1 \
                    AND b.organisation_id = c.organisation_id \
                    AND b.status NOT IN ('unlinked', 'disputed')) \
                  OR EXISTS (SELECT 1 FROM ssf_stream_subjects t WHERE t.stream_id = s.id \
                    AND t.person_id = $1 AND t.included = 1)) \
             AND NOT EXISTS (SELECT 1 FROM ssf_stream_subjects t WHERE t.stream_id = s.id \
                    AND t.person_id = $1 AND t.included = 0) \
             ORDER BY s.id",
        )
        .bind(person.to_string())
        .bind(organisation.map(|id| id.to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stream_reach).collect()
    }

    async fn fan_out(&self, batch: &[FanOut]) -> Result<Vec<bool>, StoreError> {
        let mut records = Vec::new();
        let mut taken = Vec::with_capacity(batch.len());
        let at = now_micros();
        let mut tx = self.pool.begin().await?;
        for fan_out in batch {
            let deleted = sqlx::query("DELETE FROM signals WHERE id = $1")
                .bind(&fan_out.signal)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            taken.push(deleted == 1);
            if deleted == 0 {
                continue;
            }
            for (stream, event) in &fan_out.deliveries {
                queue_event(&mut tx, &self.keys, stream, event, at).await?;
            }
            records.extend(self.log.prepare_records(&fan_out.disclosures)?);
        }
        self.log.insert_records(&mut tx, &records).await?;
        tx.commit().await?;
        self.log.note_recorded(records.len());
        Ok(taken)
    }

    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        let now = now.as_microsecond();
        let until = now.saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX));
        let mut tx = self.pool.begin().await?;
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM ssf_outbox o JOIN ssf_streams s ON s.id = o.stream_id \
             WHERE o.delivered_at IS NULL AND o.next_attempt_at <= $1 AND s.status = 'enabled' \
             AND s.method = 'push' ORDER BY o.created_at, o.jti LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(now)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await?;
        let mut claimed = Vec::with_capacity(rows.len());
        for row in &rows {
            let jti: String = row.try_get(0)?;
            // Taken only if no other node moved it since the select.
            let taken = sqlx::query(
                "UPDATE ssf_outbox SET next_attempt_at = $1 \
                 WHERE jti = $2 AND delivered_at IS NULL AND next_attempt_at <= $3",
            )
            .bind(until)
            .bind(&jti)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if taken == 1 {
                claimed.push(row);
            }
        }
        tx.commit().await?;
        let mut events = Vec::with_capacity(claimed.len());
        for row in claimed {
            events.push(self.outbox_from_row(row).await?);
        }
        Ok(events)
    }

    async fn update_pushes(&self, results: &[(String, PushResult)]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let at = now_micros();
        let mut tx = self.pool.begin().await?;
        for (jti, result) in results {
            let query = match result {
                PushResult::Delivered => sqlx::query(
                    "UPDATE ssf_outbox SET delivered_at = $1, next_attempt_at = NULL, \
                     attempts = attempts + 1, failure = NULL WHERE jti = $2",
                )
                .bind(at)
                .bind(jti),
                PushResult::Retry(next, error) => sqlx::query(
                    "UPDATE ssf_outbox SET next_attempt_at = $1, attempts = attempts + 1, \
                     failure = $2 WHERE jti = $3 AND delivered_at IS NULL",
                )
                .bind(next.as_microsecond())
                .bind(error.clone())
                .bind(jti),
                PushResult::Rejected(error) => sqlx::query(
                    "UPDATE ssf_outbox SET next_attempt_at = NULL, attempts = attempts + 1, \
                     failure = $1 WHERE jti = $2 AND delivered_at IS NULL",
                )
                .bind(error.clone())
                .bind(jti),
                PushResult::Deferred => sqlx::query(
                    "UPDATE ssf_outbox SET next_attempt_at = $1 \
                     WHERE jti = $2 AND delivered_at IS NULL",
                )
                .bind(at)
                .bind(jti),
            };
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_polled(
        &self,
        stream_id: &str,
        limit: usize,
    ) -> Result<(Vec<OutboxEvent>, bool), StoreError> {
        let sql = format!(
            "SELECT {OUTBOX_COLUMNS} FROM ssf_outbox o JOIN ssf_streams s ON s.id = o.stream_id \
             WHERE o.stream_id = $1 AND o.delivered_at IS NULL AND o.next_attempt_at IS NOT NULL \
             ORDER BY o.created_at, o.jti LIMIT $2"
        );
        let rows = sqlx::query(&sql)
            .bind(stream_id)
            .bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let more = rows.len() > limit;
        let mut events = Vec::with_capacity(limit.min(rows.len()));
        for row in rows.iter().take(limit) {
            events.push(self.outbox_from_row(row).await?);
        }
        Ok((events, more))
    }

    async fn acknowledge(
        &self,
        stream_id: &str,
        acked: &[String],
        rejected: &[(String, String)],
    ) -> Result<(), StoreError> {
        let at = now_micros();
        let mut tx = self.pool.begin().await?;
        for jti in acked {
            sqlx::query(
                "UPDATE ssf_outbox SET delivered_at = $1, next_attempt_at = NULL \
                 WHERE jti = $2 AND stream_id = $3 AND delivered_at IS NULL",
            )
            .bind(at)
            .bind(jti)
            .bind(stream_id)
            .execute(&mut *tx)
            .await?;
        }
        for (jti, error) in rejected {
            sqlx::query(
                "UPDATE ssf_outbox SET next_attempt_at = NULL, failure = $1 \
                 WHERE jti = $2 AND stream_id = $3 AND delivered_at IS NULL",
            )
            .bind(error)
            .bind(jti)
            .bind(stream_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn list_age_watch(
        &self,
        after: Option<PersonId>,
        limit: usize,
    ) -> Result<Vec<AgeWatch>, StoreError> {
        let sql = format!(
            "SELECT a.bracket, a.version, {} FROM age_watch a JOIN persons p \
             ON p.id = a.person_id WHERE a.person_id > $1 ORDER BY a.person_id LIMIT $2",
            PERSON_COLUMNS_OF_P
        );
        let rows = sqlx::query(&sql)
            .bind(after.map_or_else(String::new, |person| person.to_string()))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        let mut watched = Vec::with_capacity(rows.len());
        for row in &rows {
            let person = person_at(&self.keys, &self.pool, row, 2).await?;
            let sealed: Vec<u8> = row.try_get(0)?;
            let plain = open_field(&self.keys, &self.pool, &age_aad(person.id), &sealed).await?;
            let announced = std::str::from_utf8(&plain)
                .ok()
                .and_then(|text| AgeBracket::from_str(text).ok())
                .ok_or(StoreError::Corrupt("age_watch.bracket"))?;
            watched.push(AgeWatch {
                person,
                announced,
                version: row.try_get(1)?,
            });
        }
        Ok(watched)
    }

    async fn announce_age(
        &self,
        watch: &AgeWatch,
        current: AgeBracket,
        at: Timestamp,
    ) -> Result<bool, StoreError> {
        let person = watch.person.id;
        let ended = current.over_18() || watch.person.status == PersonStatus::Deceased;
        let mut tx = self.pool.begin().await?;
        let moved = if ended {
            sqlx::query("DELETE FROM age_watch WHERE person_id = $1 AND version = $2")
                .bind(person.to_string())
                .bind(watch.version)
                .execute(&mut *tx)
                .await?
        } else {
            let sealed = self
                .keys
                .field()
                .seal(&age_aad(person), current.as_str().as_bytes())?;
            sqlx::query(
                "UPDATE age_watch SET bracket = $1, version = version + 1 \
                 WHERE person_id = $2 AND version = $3",
            )
            .bind(sealed)
            .bind(person.to_string())
            .bind(watch.version)
            .execute(&mut *tx)
            .await?
        };
        if moved.rows_affected() != 1 {
            return Ok(false);
        }
        let before = &watch.announced;
        let crossed =
            before.over_16() != current.over_16() || before.over_18() != current.over_18();
        // The dead have no birthdays: their platforms heard `account-disabled` already.
        if crossed && watch.person.status != PersonStatus::Deceased {
            record_signal(
                &mut tx,
                &self.keys,
                NewSignal {
                    person_id: Some(person),
                    organisation_id: None,
                    event: EventType::AgeBracketChanged.name(),
                    detail: json!({
                        "event_timestamp": at.as_second(),
                        "age_over_16": current.over_16(),
                        "age_over_18": current.over_18(),
                    }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn sweep_outbox(&self, before: Timestamp) -> Result<u64, StoreError> {
        let swept = sqlx::query(
            "DELETE FROM ssf_outbox WHERE delivered_at < $1 \
             OR (delivered_at IS NULL AND next_attempt_at IS NULL AND created_at < $1)",
        )
        .bind(before.as_microsecond())
        .execute(&self.pool)
        .await?;
        Ok(swept.rows_affected())
    }

    async fn next_push_at(&self) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query(
            "SELECT MIN(o.next_attempt_at) FROM ssf_outbox o JOIN ssf_streams s \
             ON s.id = o.stream_id WHERE o.delivered_at IS NULL AND s.status = 'enabled' \
             AND s.method = 'push'",
        )
        .fetch_one(&self.pool)
        .await?;
        optional_time(row.try_get(0)?, "ssf_outbox.next_attempt_at")
    }
}
