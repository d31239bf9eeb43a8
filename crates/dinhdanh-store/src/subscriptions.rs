//! Telecom subscriptions: the lines operators registered and the registry verified, where each
//! stands after a device change, and every change of status in order for its operator.
//!
//! The MSISDN is sealed under the field key (bound to the row's id) and found through a blind
//! index, unique among live lines. A status change holds the operator's row while it writes,
//! so that an operator's transitions commit in `seq` order on every backend, and writes a
//! `line-status-changed` signal for the line in the same transaction. The rules of the
//! device-change timeline are `dinhdanh-telecom`'s; this module keeps where each line stands.

use std::sync::Arc;

use async_trait::async_trait;
use dinhdanh_core::Msisdn;
use dinhdanh_telecom::{LineStatus, line_status, next_transition_at};
use jiff::Timestamp;
use jiff::civil::Date;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::disclosure::NewDisclosure;
use crate::error::classify;
use crate::keys::Keyring;
use crate::log::SqlDisclosureLog;
use crate::model::{OrganisationId, PersonId, SubscriptionId};
use crate::signals::{NewSignal, record_signal};
use crate::sql::timestamp as time;
use crate::{DisclosureId, StoreError};

/// The event name of a line's status change, as signals record it.
pub const LINE_STATUS_EVENT: &str = "line-status-changed";

/// Who holds a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Holder {
    /// A person of the registry.
    Person(PersonId),
    /// An organisation of the registry.
    Organisation(OrganisationId),
}

/// The operator's attestation that its certified equipment matched the holder's face: how,
/// and when. No biometric is kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaceCheck {
    /// The method, in the operator's words (1 to 64 characters).
    pub method: String,
    /// When the check passed.
    pub checked_at: Timestamp,
}

/// A verified subscription to record, or to replace a line's holder and terms with.
#[derive(Clone, Debug)]
pub struct NewSubscription {
    /// The operator.
    pub operator_id: OrganisationId,
    /// The number.
    pub msisdn: Msisdn,
    /// The holder the registry verified.
    pub holder: Holder,
    /// A contract that allows the person more lines than the default limit.
    pub contract: bool,
    /// When the line was activated.
    pub activated_on: Date,
    /// The operator's face-check attestation, if it has one yet.
    pub face_check: Option<FaceCheck>,
}

/// A recorded subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// The operator.
    pub operator_id: OrganisationId,
    /// The number.
    pub msisdn: Msisdn,
    /// The holder.
    pub holder: Holder,
    /// A contract that allows the person more lines than the default limit.
    pub contract: bool,
    /// When the line was activated.
    pub activated_on: Date,
    /// Where the line stands.
    pub status: LineStatus,
    /// The face-check attestation; without one a live line is pending a face check.
    pub face_check: Option<FaceCheck>,
    /// The last device change not verified since.
    pub device_changed_at: Option<Timestamp>,
    /// When the holder said the line is not theirs.
    pub reported_at: Option<Timestamp>,
    /// When it was recorded.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl Subscription {
    /// Whether the line waits for the operator's face-check attestation.
    pub fn pending_face_check(&self) -> bool {
        self.face_check.is_none() && self.status != LineStatus::Terminated
    }
}

/// Why a line's status changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cause {
    /// The SIM moved to another device.
    DeviceChange,
    /// The time allowed without verification ran out.
    Elapsed,
    /// The holder verified again.
    Verified,
    /// The operator ended the subscription.
    Terminated,
    /// The holder said the line is not theirs (the status stays).
    ReportedNotMine,
}

impl Cause {
    /// Its stable name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DeviceChange => "device_change",
            Self::Elapsed => "elapsed",
            Self::Verified => "verified",
            Self::Terminated => "terminated",
            Self::ReportedNotMine => "reported_not_mine",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        [
            Self::DeviceChange,
            Self::Elapsed,
            Self::Verified,
            Self::Terminated,
            Self::ReportedNotMine,
        ]
        .into_iter()
        .find(|cause| cause.as_str() == text)
        .ok_or(StoreError::Corrupt("subscription_transitions.cause"))
    }
}

/// A change of a line, as its operator polls it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineTransition {
    /// Its place in the operator's sequence: poll after the last one seen.
    pub seq: i64,
    /// The line.
    pub subscription_id: SubscriptionId,
    /// The status before.
    pub from: LineStatus,
    /// The status after.
    pub to: LineStatus,
    /// Why.
    pub cause: Cause,
    /// When it took effect.
    pub at: Timestamp,
}

/// What a round of [`SubscriptionStore::apply_due`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DueRound {
    /// Lines listed as due: fewer than asked for means the round reached the end.
    pub listed: usize,
    /// Lines that moved.
    pub moved: usize,
    /// The last line listed, where the next round starts after.
    pub last: Option<SubscriptionId>,
}

/// What the live lines say about a registration: the holder's lines at the operator, and
/// the line that holds the number now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineFacts {
    /// The person's live lines at the operator (the line being replaced not counted); 0 for
    /// an organisation.
    pub held_at_operator: u32,
    /// The live line with the number, if one exists (the line being replaced not counted):
    /// its operator and holder.
    pub msisdn_line: Option<(OrganisationId, Holder)>,
}

/// Telecom subscriptions.
#[async_trait]
pub trait SubscriptionStore: Send + Sync + 'static {
    /// What the live lines say about registering `msisdn` for `holder` at `operator`,
    /// leaving out the line `except` (one being replaced).
    async fn line_facts(
        &self,
        operator: OrganisationId,
        holder: Holder,
        msisdn: &Msisdn,
        except: Option<SubscriptionId>,
    ) -> Result<LineFacts, StoreError>;

    /// Records a verified subscription with the disclosure record of the answer, unless the
    /// person holds `limit` live lines at the operator already (`Limit("subscriptions")`),
    /// stopped being active (`InvalidReference("person")`), or a live line holds the number
    /// (`Conflict("msisdn")`). One transaction that holds the person's row: two at once
    /// cannot both pass the limit, and nothing is written when it is refused.
    async fn insert_subscription(
        &self,
        subscription: &NewSubscription,
        limit: u32,
        disclosure: Option<&NewDisclosure>,
    ) -> Result<(Subscription, Option<DisclosureId>), StoreError>;

    /// Replaces a live line's holder, contract and activation date (its number stays), with
    /// the same refusals as [`Self::insert_subscription`]. A new holder starts without a face
    /// check unless `subscription` brings one. Another operator's line is
    /// `NotFound("subscription")`, a terminated one `Conflict("terminated")`.
    async fn replace_subscription(
        &self,
        id: SubscriptionId,
        subscription: &NewSubscription,
        limit: u32,
        disclosure: Option<&NewDisclosure>,
    ) -> Result<(Subscription, Option<DisclosureId>), StoreError>;

    /// An operator's line by id; another operator's is not found.
    async fn find_subscription(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError>;

    /// Records that the line's SIM moved to another device at `changed_at` (not after `now`):
    /// outgoing service is suspended at once, and the scheduler moves it on. A line already
    /// waiting for verification keeps its first unverified change. Refused on a terminated
    /// line (`Conflict("terminated")`), on one without a face check
    /// (`Conflict("pending face check")`), and for a change before the line was registered
    /// or last verified (`Conflict("changed before")`).
    async fn record_device_change(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
        changed_at: Timestamp,
        now: Timestamp,
    ) -> Result<Subscription, StoreError>;

    /// Records the operator's attestation that the holder verified again: the face check is
    /// replaced, a pending device change is cleared and a suspended or blocked line is
    /// active again. A line that reached termination (whether or not the scheduler has
    /// applied it yet) is `Conflict("terminated")`; a check older than the device change it
    /// should answer is `Conflict("stale attestation")`.
    async fn record_verification(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
        check: &FaceCheck,
        now: Timestamp,
    ) -> Result<Subscription, StoreError>;

    /// Ends a line. Ending it again answers it as it is.
    async fn terminate_subscription(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
        now: Timestamp,
    ) -> Result<Subscription, StoreError>;

    /// Moves on up to `max` lines whose next stage is due at `now`, with ids after `after`
    /// (in id order), each in its own transaction and each transition once (a line another
    /// node moved first is left). A line that fails is logged and left for the next round,
    /// so one bad line holds up no other.
    async fn apply_due(
        &self,
        now: Timestamp,
        after: Option<SubscriptionId>,
        max: usize,
    ) -> Result<DueRound, StoreError>;

    /// An operator's transitions after `after`, oldest first, at most `limit`.
    async fn list_transitions(
        &self,
        operator: OrganisationId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<LineTransition>, StoreError>;

    /// Every line a person holds or held, at every operator, newest first.
    async fn list_subscriptions_of(
        &self,
        person: PersonId,
    ) -> Result<Vec<Subscription>, StoreError>;

    /// Records that the person says their line `id` is not theirs; its operator hears of it.
    /// Another person's line is `NotFound("subscription")`, a terminated one
    /// `Conflict("terminated")`. Reporting again changes nothing.
    async fn report_not_mine(
        &self,
        person: PersonId,
        id: SubscriptionId,
        now: Timestamp,
    ) -> Result<Subscription, StoreError>;

    /// The person's verified mobile number: their newest line that is active, face-checked
    /// and not reported as not theirs.
    async fn verified_msisdn(&self, person: PersonId) -> Result<Option<Msisdn>, StoreError>;

    /// People's live lines at operators other than `except`, by person id after `after`
    /// (ascending), at most `limit` people: pages of the counts a reconciliation adds to
    /// the operator's own file.
    async fn count_lines_elsewhere(
        &self,
        except: OrganisationId,
        after: Option<PersonId>,
        limit: usize,
    ) -> Result<Vec<(PersonId, u32)>, StoreError>;
}

const COLUMNS: &str = "id, operator_id, msisdn, person_id, holder_organisation_id, contract, \
    activated_on, status, face_check_method, face_checked_at, device_changed_at, reported_at, \
    created_at, updated_at";

/// The SQL implementation of [`SubscriptionStore`].
pub(crate) struct SqlSubscriptionStore {
    pool: AnyPool,
    keys: Arc<Keyring>,
    log: Arc<SqlDisclosureLog>,
}

fn msisdn_aad(id: SubscriptionId) -> Vec<u8> {
    format!("dinhdanh subscription msisdn v1\0{id}").into_bytes()
}

fn parsed<T: std::str::FromStr>(text: &str, column: &'static str) -> Result<T, StoreError> {
    text.parse().map_err(|_| StoreError::Corrupt(column))
}

fn status_of(text: &str) -> Result<LineStatus, StoreError> {
    [
        LineStatus::Active,
        LineStatus::OutgoingSuspended,
        LineStatus::Blocked,
        LineStatus::Terminated,
    ]
    .into_iter()
    .find(|status| status.as_str() == text)
    .ok_or(StoreError::Corrupt("subscriptions.status"))
}

fn micros(at: Timestamp) -> i64 {
    at.as_microsecond()
}

fn holder_columns(holder: Holder) -> (Option<String>, Option<String>) {
    match holder {
        Holder::Person(id) => (Some(id.to_string()), None),
        Holder::Organisation(id) => (None, Some(id.to_string())),
    }
}

/// The stages a line that went through a device change at `changed` reaches by `now` and
/// is not at yet, as (from, to, when), and when it moves next after them.
type Steps = Vec<(LineStatus, LineStatus, Timestamp)>;

fn stages_due(
    line: &Subscription,
    changed: Timestamp,
    now: Timestamp,
) -> (Steps, Option<Timestamp>) {
    let (status, stages) = line_status(Some(changed), Timestamp::MIN, now);
    let steps = stages
        .iter()
        .filter(|stage| stage.to > line.status)
        .map(|stage| (stage.from.max(line.status), stage.to, stage.at))
        .collect();
    (steps, next_transition_at(changed, status.max(line.status)))
}

/// The holder of a row, from its `person_id` and `holder_organisation_id`.
fn holder_of(person: Option<String>, organisation: Option<String>) -> Result<Holder, StoreError> {
    match (person, organisation) {
        (Some(person), None) => Ok(Holder::Person(parsed(&person, "subscriptions.person_id")?)),
        (None, Some(organisation)) => Ok(Holder::Organisation(parsed(
            &organisation,
            "subscriptions.holder_organisation_id",
        )?)),
        _ => Err(StoreError::Corrupt("subscriptions holder")),
    }
}

/// Holds an operator's row until the transaction ends (a row lock on PostgreSQL, the write
/// lock on SQLite), so that its transitions commit in `seq` order.
async fn hold_operator(
    conn: &mut AnyConnection,
    operator: OrganisationId,
) -> Result<(), StoreError> {
    let held = sqlx::query("UPDATE organisations SET updated_at = updated_at WHERE id = $1")
        .bind(operator.to_string())
        .execute(&mut *conn)
        .await?;
    if held.rows_affected() == 0 {
        return Err(StoreError::NotFound("subscription"));
    }
    Ok(())
}

/// Holds a person's row, and refuses one no longer active.
async fn hold_person(conn: &mut AnyConnection, person: PersonId) -> Result<(), StoreError> {
    let held = sqlx::query(
        "UPDATE persons SET updated_at = updated_at WHERE id = $1 AND status = 'active'",
    )
    .bind(person.to_string())
    .execute(&mut *conn)
    .await?;
    if held.rows_affected() == 0 {
        return Err(StoreError::InvalidReference("person"));
    }
    Ok(())
}

impl SqlSubscriptionStore {
    pub(crate) fn new(pool: AnyPool, keys: Arc<Keyring>, log: Arc<SqlDisclosureLog>) -> Self {
        Self { pool, keys, log }
    }

    fn msisdn_index(&self, msisdn: &Msisdn) -> Vec<u8> {
        self.keys
            .blind()
            .index("msisdn", msisdn.as_str().as_bytes())
            .to_vec()
    }

    fn line_from_row(&self, row: &AnyRow) -> Result<Subscription, StoreError> {
        let id: SubscriptionId = parsed(&row.try_get::<String, _>(0)?, "subscriptions.id")?;
        let sealed: Vec<u8> = row.try_get(2)?;
        let opened = self.keys.field().open(&msisdn_aad(id), &sealed)?;
        let msisdn = std::str::from_utf8(&opened)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or(StoreError::Corrupt("subscriptions.msisdn"))?;
        let holder = holder_of(row.try_get(3)?, row.try_get(4)?)?;
        let optional_time = |index: usize, column| -> Result<Option<Timestamp>, StoreError> {
            row.try_get::<Option<i64>, _>(index)?
                .map(|micros| time(micros, column))
                .transpose()
        };
        let method: Option<String> = row.try_get(8)?;
        let checked = optional_time(9, "subscriptions.face_checked_at")?;
        Ok(Subscription {
            id,
            operator_id: parsed(&row.try_get::<String, _>(1)?, "subscriptions.operator_id")?,
            msisdn,
            holder,
            contract: row.try_get::<i64, _>(5)? != 0,
            activated_on: parsed(&row.try_get::<String, _>(6)?, "subscriptions.activated_on")?,
            status: status_of(&row.try_get::<String, _>(7)?)?,
            face_check: method
                .zip(checked)
                .map(|(method, checked_at)| FaceCheck { method, checked_at }),
            device_changed_at: optional_time(10, "subscriptions.device_changed_at")?,
            reported_at: optional_time(11, "subscriptions.reported_at")?,
            created_at: time(row.try_get(12)?, "subscriptions.created_at")?,
            updated_at: time(row.try_get(13)?, "subscriptions.updated_at")?,
        })
    }

    /// An operator's line, read inside a transaction.
    async fn read(
        &self,
        conn: &mut AnyConnection,
        operator: OrganisationId,
        id: SubscriptionId,
    ) -> Result<Subscription, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM subscriptions WHERE id = $1 AND operator_id = $2");
        let row = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(operator.to_string())
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound("subscription"))?;
        self.line_from_row(&row)
    }

    /// Counts the person's live lines at the operator and checks the limit, with the
    /// person's row held.
    async fn within_limit(
        conn: &mut AnyConnection,
        subscription: &NewSubscription,
        except: Option<SubscriptionId>,
        limit: u32,
    ) -> Result<(), StoreError> {
        let Holder::Person(person) = subscription.holder else {
            return Ok(());
        };
        hold_person(conn, person).await?;
        let held: i64 = sqlx::query(
            "SELECT COUNT(*) FROM subscriptions WHERE person_id = $1 AND operator_id = $2 \
             AND status <> 'terminated' AND ($3 IS NULL OR id <> $3)",
        )
        .bind(person.to_string())
        .bind(subscription.operator_id.to_string())
        .bind(except.map(|id| id.to_string()))
        .fetch_one(&mut *conn)
        .await?
        .try_get(0)?;
        if held >= i64::from(limit) {
            return Err(StoreError::Limit("subscriptions"));
        }
        Ok(())
    }

    /// Moves a line to `to` (with its device change and next stage as given), recording
    /// each transition with `cause` and, for a person's line, a signal to its operator.
    #[allow(clippy::too_many_arguments)]
    async fn move_line(
        &self,
        conn: &mut AnyConnection,
        line: &Subscription,
        transitions: &[(LineStatus, LineStatus, Timestamp)],
        device_changed_at: Option<Timestamp>,
        next_at: Option<Timestamp>,
        cause: Cause,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let to = transitions.last().map_or(line.status, |(_, to, _)| *to);
        sqlx::query(
            "UPDATE subscriptions SET status = $1, device_changed_at = $2, \
             next_transition_at = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(to.as_str())
        .bind(device_changed_at.map(micros))
        .bind(next_at.map(micros))
        .bind(micros(now))
        .bind(line.id.to_string())
        .execute(&mut *conn)
        .await?;
        for (from, to, at) in transitions {
            self.record_transition(conn, line, *from, *to, cause, *at)
                .await?;
        }
        Ok(())
    }

    async fn record_transition(
        &self,
        conn: &mut AnyConnection,
        line: &Subscription,
        from: LineStatus,
        to: LineStatus,
        cause: Cause,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO subscription_transitions (operator_id, subscription_id, from_status, \
             to_status, cause, at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(line.operator_id.to_string())
        .bind(line.id.to_string())
        .bind(from.as_str())
        .bind(to.as_str())
        .bind(cause.as_str())
        .bind(micros(at))
        .execute(&mut *conn)
        .await?;
        // Every line's operator hears of it, whoever holds it: a person's line, or an
        // organisation's (a signal about no person).
        let person = match line.holder {
            Holder::Person(person) => Some(person),
            Holder::Organisation(_) => None,
        };
        {
            record_signal(
                conn,
                &self.keys,
                NewSignal {
                    person_id: person,
                    organisation_id: Some(line.operator_id),
                    event: LINE_STATUS_EVENT,
                    detail: serde_json::json!({
                        "event_timestamp": at.as_second(),
                        "subscription": line.id.to_string(),
                        "msisdn": line.msisdn.as_str(),
                        "previous_status": from.as_str(),
                        "current_status": to.as_str(),
                        "cause": cause.as_str(),
                    }),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// Applies the stages a line has reached by `now` that the scheduler has not applied yet,
    /// and answers the line as it then stands: a line is never restored, reported or
    /// replaced after its termination was due.
    async fn catch_up(
        &self,
        conn: &mut AnyConnection,
        line: Subscription,
        now: Timestamp,
    ) -> Result<Subscription, StoreError> {
        let Some(changed) = line.device_changed_at else {
            return Ok(line);
        };
        let (transitions, next) = stages_due(&line, changed, now);
        if transitions.is_empty() {
            return Ok(line);
        }
        self.move_line(
            conn,
            &line,
            &transitions,
            Some(changed),
            next,
            Cause::Elapsed,
            now,
        )
        .await?;
        self.read(conn, line.operator_id, line.id).await
    }

    /// Begins a transaction that holds the operator's row, and reads its line `id` as it
    /// stands at `now` (the stages it has reached applied: [`Self::catch_up`]).
    async fn open_line(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
        now: Timestamp,
    ) -> Result<(sqlx::Transaction<'static, sqlx::Any>, Subscription), StoreError> {
        let mut tx = self.pool.begin().await?;
        hold_operator(&mut tx, operator).await?;
        let line = self.read(&mut tx, operator, id).await?;
        let line = self.catch_up(&mut tx, line, now).await?;
        Ok((tx, line))
    }

    /// Moves one due line on, in its own transaction: `false` when another node did first.
    async fn move_due(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        hold_operator(&mut tx, operator).await?;
        let line = self.read(&mut tx, operator, id).await?;
        let before = line.status;
        let line = self.catch_up(&mut tx, line, now).await?;
        tx.commit().await?;
        Ok(line.status != before)
    }

    /// Moves a line back to active after a verification, clearing its device change.
    async fn restore(
        &self,
        conn: &mut AnyConnection,
        line: &Subscription,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let restored: Vec<_> = (line.status != LineStatus::Active)
            .then_some((line.status, LineStatus::Active, now))
            .into_iter()
            .collect();
        self.move_line(conn, line, &restored, None, None, Cause::Verified, now)
            .await
    }

    /// Writes a new or replaced line, with its disclosure record, in one transaction.
    async fn write(
        &self,
        replacing: Option<SubscriptionId>,
        subscription: &NewSubscription,
        limit: u32,
        disclosure: Option<&NewDisclosure>,
    ) -> Result<(Subscription, Option<DisclosureId>), StoreError> {
        let records = self
            .log
            .prepare_records(disclosure.map(std::slice::from_ref).unwrap_or_default())?;
        let now = Timestamp::now();
        let at = micros(now);
        let operator = subscription.operator_id;
        let mut tx = self.pool.begin().await?;
        hold_operator(&mut tx, operator).await?;
        let mut before = None;
        let id = match replacing {
            Some(id) => {
                let line = self.read(&mut tx, operator, id).await?;
                let line = self.catch_up(&mut tx, line, now).await?;
                if line.status == LineStatus::Terminated {
                    tx.commit().await?;
                    return Err(StoreError::Conflict("terminated"));
                }
                if line.msisdn != subscription.msisdn {
                    return Err(StoreError::Conflict("msisdn"));
                }
                before = Some(line);
                id
            }
            None => SubscriptionId::generate(),
        };
        Self::within_limit(&mut tx, subscription, replacing, limit).await?;
        let (person, organisation) = holder_columns(subscription.holder);
        let face = subscription.face_check.as_ref();
        match replacing {
            None => {
                let sealed = self
                    .keys
                    .field()
                    .seal(&msisdn_aad(id), subscription.msisdn.as_str().as_bytes())?;
                sqlx::query(
                    "INSERT INTO subscriptions (id, operator_id, msisdn, msisdn_index, \
                     person_id, holder_organisation_id, contract, activated_on, status, \
                     face_check_method, face_checked_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9, $10, $11, $11)",
                )
                .bind(id.to_string())
                .bind(operator.to_string())
                .bind(sealed)
                .bind(self.msisdn_index(&subscription.msisdn))
                .bind(person)
                .bind(organisation)
                .bind(i64::from(subscription.contract))
                .bind(subscription.activated_on.to_string())
                .bind(face.map(|check| check.method.clone()))
                .bind(face.map(|check| micros(check.checked_at)))
                .bind(at)
                .execute(&mut *tx)
                .await
                .map_err(|err| classify(err, "msisdn", "operator or holder"))?;
            }
            Some(_) => {
                // A new holder starts without the old holder's face check.
                sqlx::query(
                    "UPDATE subscriptions SET \
                     face_check_method = CASE WHEN $9 IS NOT NULL THEN $9 \
                        WHEN person_id IS NOT DISTINCT FROM $1 \
                         AND holder_organisation_id IS NOT DISTINCT FROM $2 \
                        THEN face_check_method END, \
                     face_checked_at = CASE WHEN $9 IS NOT NULL THEN $10 \
                        WHEN person_id IS NOT DISTINCT FROM $1 \
                         AND holder_organisation_id IS NOT DISTINCT FROM $2 \
                        THEN face_checked_at END, \
                     reported_at = CASE WHEN person_id IS NOT DISTINCT FROM $1 \
                        THEN reported_at END, \
                     person_id = $1, holder_organisation_id = $2, contract = $3, \
                     activated_on = $4, updated_at = $5 WHERE id = $6 AND operator_id = $7 \
                     AND status <> $8",
                )
                .bind(person)
                .bind(organisation)
                .bind(i64::from(subscription.contract))
                .bind(subscription.activated_on.to_string())
                .bind(at)
                .bind(id.to_string())
                .bind(operator.to_string())
                .bind(LineStatus::Terminated.as_str())
                .bind(face.map(|check| check.method.clone()))
                .bind(face.map(|check| micros(check.checked_at)))
                .execute(&mut *tx)
                .await
                .map_err(|err| classify(err, "msisdn", "operator or holder"))?;
            }
        }
        // A fresh face check given with a replacement answers a device change made before it,
        // as a verification would.
        if let (Some(line), Some(check)) = (&before, face)
            && line
                .device_changed_at
                .is_some_and(|changed| check.checked_at >= changed)
        {
            self.restore(&mut tx, line, now).await?;
        }
        self.log.insert_records(&mut tx, &records).await?;
        let stored = self.read(&mut tx, operator, id).await?;
        tx.commit().await?;
        self.log.note_recorded(records.len());
        Ok((stored, records.first().map(|record| record.id())))
    }
}

#[async_trait]
impl SubscriptionStore for SqlSubscriptionStore {
    async fn line_facts(
        &self,
        operator: OrganisationId,
        holder: Holder,
        msisdn: &Msisdn,
        except: Option<SubscriptionId>,
    ) -> Result<LineFacts, StoreError> {
        let except = except.map(|id| id.to_string());
        let held_at_operator = match holder {
            Holder::Person(person) => {
                let held: i64 = sqlx::query(
                    "SELECT COUNT(*) FROM subscriptions WHERE person_id = $1 \
                     AND operator_id = $2 AND status <> 'terminated' AND ($3 IS NULL OR id <> $3)",
                )
                .bind(person.to_string())
                .bind(operator.to_string())
                .bind(except.clone())
                .fetch_one(&self.pool)
                .await?
                .try_get(0)?;
                u32::try_from(held).unwrap_or(u32::MAX)
            }
            Holder::Organisation(_) => 0,
        };
        let row = sqlx::query(
            "SELECT operator_id, person_id, holder_organisation_id FROM subscriptions \
             WHERE msisdn_index = $1 AND status <> 'terminated' AND ($2 IS NULL OR id <> $2)",
        )
        .bind(self.msisdn_index(msisdn))
        .bind(except)
        .fetch_optional(&self.pool)
        .await?;
        let msisdn_line = row
            .map(|row| -> Result<_, StoreError> {
                let operator = parsed(&row.try_get::<String, _>(0)?, "subscriptions.operator_id")?;
                Ok((operator, holder_of(row.try_get(1)?, row.try_get(2)?)?))
            })
            .transpose()?;
        Ok(LineFacts {
            held_at_operator,
            msisdn_line,
        })
    }

    async fn insert_subscription(
        &self,
        subscription: &NewSubscription,
        limit: u32,
        disclosure: Option<&NewDisclosure>,
    ) -> Result<(Subscription, Option<DisclosureId>), StoreError> {
        self.write(None, subscription, limit, disclosure).await
    }

    async fn replace_subscription(
        &self,
        id: SubscriptionId,
        subscription: &NewSubscription,
        limit: u32,
        disclosure: Option<&NewDisclosure>,
    ) -> Result<(Subscription, Option<DisclosureId>), StoreError> {
        self.write(Some(id), subscription, limit, disclosure).await
    }

    async fn find_subscription(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match self.read(&mut conn, operator, id).await {
            Ok(line) => Ok(Some(line)),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(other) => Err(other),
        }
    }

    async fn record_device_change(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
        changed_at: Timestamp,
        now: Timestamp,
    ) -> Result<Subscription, StoreError> {
        let mut tx = self.pool.begin().await?;
        hold_operator(&mut tx, operator).await?;
        let line = self.read(&mut tx, operator, id).await?;
        if line.status == LineStatus::Terminated {
            return Err(StoreError::Conflict("terminated"));
        }
        let Some(checked) = &line.face_check else {
            return Err(StoreError::Conflict("pending face check"));
        };
        if changed_at < line.created_at || changed_at < checked.checked_at {
            return Err(StoreError::Conflict("changed before"));
        }
        let changed = line.device_changed_at.unwrap_or(changed_at);
        // A change reported late may move the line past suspension at once.
        let (transitions, next) = stages_due(&line, changed, now);
        self.move_line(
            &mut tx,
            &line,
            &transitions,
            Some(changed),
            next,
            Cause::DeviceChange,
            now,
        )
        .await?;
        let line = self.read(&mut tx, operator, id).await?;
        tx.commit().await?;
        Ok(line)
    }

    async fn record_verification(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
        check: &FaceCheck,
        now: Timestamp,
    ) -> Result<Subscription, StoreError> {
        let (mut tx, line) = self.open_line(operator, id, now).await?;
        if line.status == LineStatus::Terminated {
            tx.commit().await?;
            return Err(StoreError::Conflict("terminated"));
        }
        if line
            .device_changed_at
            .is_some_and(|changed| check.checked_at < changed)
        {
            return Err(StoreError::Conflict("stale attestation"));
        }
        sqlx::query(
            "UPDATE subscriptions SET face_check_method = $1, face_checked_at = $2 WHERE id = $3",
        )
        .bind(check.method.as_str())
        .bind(micros(check.checked_at))
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?;
        self.restore(&mut tx, &line, now).await?;
        let line = self.read(&mut tx, operator, id).await?;
        tx.commit().await?;
        Ok(line)
    }

    async fn terminate_subscription(
        &self,
        operator: OrganisationId,
        id: SubscriptionId,
        now: Timestamp,
    ) -> Result<Subscription, StoreError> {
        let (mut tx, line) = self.open_line(operator, id, now).await?;
        if line.status != LineStatus::Terminated {
            let ended = [(line.status, LineStatus::Terminated, now)];
            self.move_line(
                &mut tx,
                &line,
                &ended,
                line.device_changed_at,
                None,
                Cause::Terminated,
                now,
            )
            .await?;
        }
        let line = self.read(&mut tx, operator, id).await?;
        tx.commit().await?;
        Ok(line)
    }

    async fn apply_due(
        &self,
        now: Timestamp,
        after: Option<SubscriptionId>,
        max: usize,
    ) -> Result<DueRound, StoreError> {
        let due = sqlx::query(
            "SELECT id, operator_id FROM subscriptions WHERE next_transition_at IS NOT NULL \
             AND next_transition_at <= $1 AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3",
        )
        .bind(micros(now))
        .bind(after.map(|id| id.to_string()))
        .bind(i64::try_from(max).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?;
        let mut round = DueRound {
            listed: due.len(),
            ..DueRound::default()
        };
        for row in due {
            let id: SubscriptionId = parsed(&row.try_get::<String, _>(0)?, "subscriptions.id")?;
            let operator: OrganisationId =
                parsed(&row.try_get::<String, _>(1)?, "subscriptions.operator_id")?;
            round.last = Some(id);
            match self.move_due(operator, id, now).await {
                Ok(true) => round.moved += 1,
                Ok(false) => {}
                Err(err) => tracing::warn!(line = %id, error = %err, "a line's stage failed"),
            }
        }
        Ok(round)
    }

    async fn list_transitions(
        &self,
        operator: OrganisationId,
        after: i64,
        limit: usize,
    ) -> Result<Vec<LineTransition>, StoreError> {
        sqlx::query(
            "SELECT seq, subscription_id, from_status, to_status, cause, at \
             FROM subscription_transitions WHERE operator_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(operator.to_string())
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(LineTransition {
                seq: row.try_get(0)?,
                subscription_id: parsed(
                    &row.try_get::<String, _>(1)?,
                    "subscription_transitions.subscription_id",
                )?,
                from: status_of(&row.try_get::<String, _>(2)?)?,
                to: status_of(&row.try_get::<String, _>(3)?)?,
                cause: Cause::parse(&row.try_get::<String, _>(4)?)?,
                at: time(row.try_get(5)?, "subscription_transitions.at")?,
            })
        })
        .collect()
    }

    async fn list_subscriptions_of(
        &self,
        person: PersonId,
    ) -> Result<Vec<Subscription>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE person_id = $1 \
             ORDER BY created_at DESC, id DESC"
        );
        sqlx::query(&sql)
            .bind(person.to_string())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|row| self.line_from_row(row))
            .collect()
    }

    async fn report_not_mine(
        &self,
        person: PersonId,
        id: SubscriptionId,
        now: Timestamp,
    ) -> Result<Subscription, StoreError> {
        let operator: OrganisationId =
            sqlx::query("SELECT operator_id FROM subscriptions WHERE id = $1 AND person_id = $2")
                .bind(id.to_string())
                .bind(person.to_string())
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get::<String, _>(0))
                .transpose()?
                .map(|text| parsed(&text, "subscriptions.operator_id"))
                .transpose()?
                .ok_or(StoreError::NotFound("subscription"))?;
        let mut tx = self.pool.begin().await?;
        hold_operator(&mut tx, operator).await?;
        let line = self.read(&mut tx, operator, id).await?;
        if line.holder != Holder::Person(person) {
            return Err(StoreError::NotFound("subscription"));
        }
        let line = self.catch_up(&mut tx, line, now).await?;
        if line.status == LineStatus::Terminated {
            tx.commit().await?;
            return Err(StoreError::Conflict("terminated"));
        }
        if line.reported_at.is_none() {
            sqlx::query("UPDATE subscriptions SET reported_at = $1, updated_at = $1 WHERE id = $2")
                .bind(micros(now))
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
            self.record_transition(
                &mut tx,
                &line,
                line.status,
                line.status,
                Cause::ReportedNotMine,
                now,
            )
            .await?;
        }
        let line = self.read(&mut tx, operator, id).await?;
        tx.commit().await?;
        Ok(line)
    }

    async fn verified_msisdn(&self, person: PersonId) -> Result<Option<Msisdn>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM subscriptions WHERE person_id = $1 AND status = 'active' \
             AND face_checked_at IS NOT NULL AND reported_at IS NULL \
             ORDER BY created_at DESC, id DESC LIMIT 1"
        );
        sqlx::query(&sql)
            .bind(person.to_string())
            .fetch_optional(&self.pool)
            .await?
            .map(|row| self.line_from_row(&row).map(|line| line.msisdn))
            .transpose()
    }

    async fn count_lines_elsewhere(
        &self,
        except: OrganisationId,
        after: Option<PersonId>,
        limit: usize,
    ) -> Result<Vec<(PersonId, u32)>, StoreError> {
        sqlx::query(
            "SELECT person_id, COUNT(*) FROM subscriptions WHERE person_id IS NOT NULL \
             AND status <> 'terminated' AND operator_id <> $1 AND ($2 IS NULL OR person_id > $2) \
             GROUP BY person_id ORDER BY person_id LIMIT $3",
        )
        .bind(except.to_string())
        .bind(after.map(|id| id.to_string()))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|row| {
            let person = parsed(&row.try_get::<String, _>(0)?, "subscriptions.person_id")?;
            let count: i64 = row.try_get(1)?;
            Ok((person, u32::try_from(count).unwrap_or(u32::MAX)))
        })
        .collect()
    }
}
