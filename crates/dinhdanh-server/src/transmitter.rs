//! The Shared Signals transmitter's worker: fans signals out to the streams concerned, and
//! pushes due events to their receivers (RFC 8935) with exponential backoff.
//!
//! Every node runs one. The store makes each step safe to run on several at once: a signal is
//! fanned out by the transaction that deletes it, and a push is leased before it is sent. An
//! event is marked delivered only after the receiver's 2xx, so a node that stops in between
//! sends it again later under the same `jti` (RFC 8935 §4 lets receivers drop duplicates by it).
//! A round's pushes go out concurrently, and their outcomes are recorded in one transaction.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use dinhdanh_core::{AgeBracket, PersonStatus};
use dinhdanh_crypto::jose;
use dinhdanh_oidc::{Acr, SectorIdentifier, SubjectKey};
use dinhdanh_signals::{
    AssuranceChange, Backoff, CredentialChange, EventType, Initiator, PushOutcome, SecurityEvent,
    StreamRequest, SubjectId, push_outcome,
};
use dinhdanh_store::{
    FanOut, NewDisclosure, OutboxEvent, Purpose, PushResult, Recipient, Signal, StoreError,
};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::AppState;

/// How the transmitter delivers.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SignalsConfig {
    /// The wait after a push's first failure, in milliseconds; it doubles with each further
    /// failure. Default 1,000.
    pub retry_base_ms: u64,
    /// The longest wait between push attempts, in seconds. Default 3,600.
    pub retry_cap_seconds: u64,
    /// How often the worker looks for work when idle, in milliseconds. Default 250.
    pub tick_ms: u64,
    /// How long one push may take, in seconds. Default 10.
    pub push_timeout_seconds: u64,
    /// How often the worker announces age-bracket changes, moves telecom lines on through
    /// the device-change stages, and sweeps the outbox, in seconds. Default 3,600.
    pub housekeeping_seconds: u64,
    /// How long a delivered, acknowledged or rejected event stays in the outbox, in hours.
    /// Default 168 (a week).
    pub outbox_retention_hours: u64,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        Self {
            retry_base_ms: 1_000,
            retry_cap_seconds: 3_600,
            tick_ms: 250,
            push_timeout_seconds: 10,
            housekeeping_seconds: 3_600,
            outbox_retention_hours: 168,
        }
    }
}

/// The legal basis of telling a platform about its own users' accounts.
const SIGNALS_BASIS: &str = "legal-obligation";
/// Signals fanned out, and pushes sent, per step.
const STEP: usize = 64;
/// Pushes in flight at once. They go out concurrently, so a receiver may get a stream's
/// events out of order: RFC 8935 promises no order, and each token carries its `iat` and
/// `jti`. After a failed push, a stream's events not yet sent wait for the next round.
const PUSHES_IN_FLIGHT: usize = 16;

/// Starts the transmitter's worker for `state`: delivery, and beside it the housekeeping
/// rounds (age brackets, the outbox sweep). Aborting the handle stops both.
pub fn spawn_transmitter(state: AppState, config: SignalsConfig) -> JoinHandle<()> {
    // reqwest's rustls takes the process's provider: the same aws-lc-rs as the server's TLS.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tokio::spawn(async move {
        tokio::join!(deliver(&state, &config), housekeeping(&state, &config));
    })
}

/// Fans out and pushes, round after round, resting a tick when there is nothing to do.
async fn deliver(state: &AppState, config: &SignalsConfig) {
    let http = match reqwest::Client::builder()
        .timeout(Duration::from_secs(config.push_timeout_seconds))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(http) => http,
        Err(err) => {
            tracing::error!(error = %err, "the signals transmitter has no HTTP client");
            return;
        }
    };
    let backoff = Backoff {
        base: Duration::from_millis(config.retry_base_ms.max(1)),
        cap: Duration::from_secs(config.retry_cap_seconds.max(1)),
    };
    let tick = Duration::from_millis(config.tick_ms.max(1));
    // Fan-out and pushes run side by side: neither waits for a round of the other.
    tokio::join!(
        rounds("fan-out", tick, || fan_out_round(state)),
        rounds("push", tick, || push_round(state, &http, backoff)),
    );
}

/// Runs `round` again and again, resting a tick after a round that found no more work.
async fn rounds<F, Fut>(name: &'static str, tick: Duration, round: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, StoreError>>,
{
    loop {
        let busy = match round().await {
            Ok(busy) => busy,
            Err(err) => {
                tracing::warn!(error = %err, round = name, "signals transmitter round failed");
                false
            }
        };
        if !busy {
            tokio::time::sleep(tick).await;
        }
    }
}

/// Every `housekeeping_seconds`: announces the age brackets that moved, moves telecom lines
/// on through the device-change stages, and sweeps the outbox. Each part runs even when
/// another failed.
async fn housekeeping(state: &AppState, config: &SignalsConfig) {
    let mut rounds = tokio::time::interval(Duration::from_secs(config.housekeeping_seconds.max(1)));
    rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // At most ten years: beyond that the subtraction below could leave jiff's range.
    let retention = SignedDuration::from_hours(
        i64::try_from(config.outbox_retention_hours.min(24 * 366 * 10)).unwrap_or(0),
    );
    loop {
        rounds.tick().await;
        let now = Timestamp::now();
        match announce_ages(state, now).await {
            Ok(0) => {}
            Ok(moved) => tracing::info!(moved, "age brackets announced"),
            Err(err) => tracing::warn!(error = %err, "age bracket announcements failed"),
        }
        match apply_line_stages(state, now).await {
            Ok(0) => {}
            Ok(moved) => tracing::info!(moved, "telecom lines moved on"),
            Err(err) => tracing::warn!(error = %err, "telecom line stages failed"),
        }
        let before = now.checked_sub(retention).unwrap_or(now);
        match state.store.signals().sweep_outbox(before).await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "outbox swept"),
            Err(err) => tracing::warn!(error = %err, "outbox sweep failed"),
        }
    }
}

/// Fans out the signals waiting (up to [`STEP`]). `true` if more may be waiting.
async fn fan_out_round(state: &AppState) -> Result<bool, StoreError> {
    let signals = state.store.signals().list_signals(STEP).await?;
    let mut batch = Vec::with_capacity(signals.len());
    for signal in &signals {
        batch.push(fan_out(state, signal).await?);
    }
    // One transaction for the whole batch: SQLite's single writer is the round's limit.
    state.store.signals().fan_out(&batch).await?;
    Ok(signals.len() == STEP)
}

/// Pushes the events due (up to [`STEP`], [`PUSHES_IN_FLIGHT`] at once), and records how
/// each went. `true` if more may be due.
async fn push_round(
    state: &AppState,
    http: &reqwest::Client,
    backoff: Backoff,
) -> Result<bool, StoreError> {
    let pushes = state
        .store
        .signals()
        .claim_pushes(Timestamp::now(), SignedDuration::from_secs(60), STEP)
        .await?;
    let claimed = pushes.len();
    let mut results = Vec::with_capacity(claimed);
    let mut failed_streams = HashSet::new();
    let mut running = tokio::task::JoinSet::new();
    let mut waiting = pushes.into_iter();
    loop {
        while running.len() < PUSHES_IN_FLIGHT {
            let Some(event) = waiting.next() else { break };
            if failed_streams.contains(&event.stream_id) {
                // Its receiver just failed: not tried now, and not counted as an attempt.
                results.push((event.jti, PushResult::Deferred));
                continue;
            }
            let (state, http) = (state.clone(), http.clone());
            running.spawn(async move {
                let result = push(&state, &http, backoff, &event).await;
                (event, result)
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        // A push that panicked keeps its lease, and is tried again when the lease ends.
        let Ok((event, result)) = done else { continue };
        if !matches!(result, PushResult::Delivered) {
            failed_streams.insert(event.stream_id.clone());
        }
        results.push((event.jti, result));
    }
    state.store.signals().update_pushes(&results).await?;
    Ok(claimed == STEP)
}

/// Lines moved on per store call.
const LINE_PAGE: usize = 256;

/// Moves every telecom line whose next device-change stage is due at `now` (blocked 30 days
/// after an unverified change, terminated 5 days later), recording each transition once for
/// its operator, with a `line-status-changed` signal for a person's line. Returns how many
/// lines moved. Safe on several nodes at once: each line is re-read under its operator's
/// row before it moves.
pub async fn apply_line_stages(state: &AppState, now: Timestamp) -> Result<usize, StoreError> {
    let mut moved = 0;
    let mut after = None;
    loop {
        let round = state
            .store
            .subscriptions()
            .apply_due(now, after, LINE_PAGE)
            .await?;
        moved += round.moved;
        if round.listed < LINE_PAGE {
            return Ok(moved);
        }
        after = round.last;
    }
}

/// People read per page when announcing age brackets.
const AGE_PAGE: usize = 512;

/// Announces the age brackets of watched people as they stand at `now`: each person whose
/// bracket moved since the last announcement gets their watch moved on, and, when they
/// turned 16 or 18, an `age-bracket-changed` signal to their platforms. Birth dates are
/// sealed, so each watched person's record is opened; only people under 18 with a binding
/// are watched. Returns how many watches moved. Safe on several nodes at once: each move
/// is a compare-and-set.
pub async fn announce_ages(state: &AppState, now: Timestamp) -> Result<usize, StoreError> {
    let signals = state.store.signals();
    let mut after = None;
    let mut moved = 0;
    loop {
        let page = signals.list_age_watch(after, AGE_PAGE).await?;
        for watch in &page {
            let current = AgeBracket::at(&watch.person.personal.birth_date, now);
            let dead = watch.person.status == PersonStatus::Deceased;
            if (current != watch.announced || dead)
                && signals.announce_age(watch, current, now).await?
            {
                moved += 1;
            }
        }
        match page.last() {
            Some(last) if page.len() == AGE_PAGE => after = Some(last.person.id),
            _ => return Ok(moved),
        }
    }
}

/// The stored event of `signal` for a subject: its type's members, as the signal recorded
/// them, in the form each event type defines.
fn event_for(signal: &Signal, kind: EventType, subject: SubjectId) -> Option<SecurityEvent> {
    let when = signal.detail.get("event_timestamp")?.as_i64()?;
    let text = |name: &str| signal.detail.get(name).and_then(Value::as_str);
    Some(match kind {
        EventType::AccountDisabled => SecurityEvent::account_disabled(subject, when),
        EventType::AccountEnabled => SecurityEvent::account_enabled(subject, when),
        EventType::AssuranceLevelChange => {
            let level = |name: &str| {
                signal
                    .detail
                    .get(name)
                    .and_then(Value::as_u64)
                    .and_then(|level| u8::try_from(level).ok())
                    .and_then(|level| dinhdanh_core::EidLevel::try_from(level).ok())
            };
            let (previous, current) = (level("previous_eid_level")?, level("current_eid_level")?);
            // A level without an `acr` value (level 0) is named as such.
            let acr = |level| {
                Acr::of_level(level).map_or("none".to_owned(), |acr| acr.as_str().to_owned())
            };
            SecurityEvent::assurance_level_change(
                subject,
                when,
                AssuranceChange {
                    previous: Some(acr(previous)),
                    current: acr(current),
                    increased: current > previous,
                },
            )
        }
        EventType::GuardianConsentRevoked => {
            let mut event =
                SecurityEvent::guardian_consent_revoked(subject, when, text("binding")?);
            event
                .payload
                .insert("guardian_consent".into(), text("guardian_consent")?.into());
            event
        }
        EventType::AgeBracketChanged => SecurityEvent::age_bracket_changed(
            subject,
            when,
            signal.detail.get("age_over_16")?.as_bool()?,
            signal.detail.get("age_over_18")?.as_bool()?,
        ),
        EventType::SessionRevoked => SecurityEvent::session_revoked(
            subject,
            when,
            Initiator::parse(text("initiating_entity")?)?,
        ),
        EventType::CredentialChange => SecurityEvent::credential_change(
            subject,
            when,
            CredentialChange::parse(text("credential_type")?, text("change_type")?)?,
        ),
        EventType::LineStatusChanged => SecurityEvent::line_status_changed(
            subject,
            when,
            text("subscription")?,
            text("previous_status")?,
            text("current_status")?,
            text("cause")?,
        ),
        EventType::Verification | EventType::StreamUpdated => return None,
    })
}

/// What fanning `signal` out writes: an event for each stream that hears of the person and
/// asked for the type, under the `sub` of that stream's sector, and a disclosure record for
/// each platform told.
async fn fan_out(state: &AppState, signal: &Signal) -> Result<FanOut, StoreError> {
    let Some(kind) = EventType::from_name(&signal.event) else {
        return Err(StoreError::Corrupt("signals.event"));
    };
    // A line's operator hears of it under its number, through all its streams; other
    // events reach the platforms that know the person, under the pairwise `sub`.
    let line = match (kind, signal.organisation_id) {
        (EventType::LineStatusChanged, Some(operator)) => Some((
            operator,
            signal
                .detail
                .get("msisdn")
                .and_then(Value::as_str)
                .ok_or(StoreError::Corrupt("signals.detail"))?
                .to_owned(),
        )),
        (EventType::LineStatusChanged, None) => return Err(StoreError::Corrupt("signals.detail")),
        _ => None,
    };
    // Every other event is about a person (a line's may be about an organisation's line).
    let person = match (&line, signal.person_id) {
        (_, Some(person)) => Some(person),
        (Some(_), None) => None,
        (None, None) => return Err(StoreError::Corrupt("signals.person_id")),
    };
    let streams = match (&line, person) {
        (Some((operator, _)), _) => state.store.signals().list_streams_of(*operator).await?,
        (None, Some(person)) => {
            state
                .store
                .signals()
                .list_streams_reaching(person, signal.organisation_id)
                .await?
        }
        (None, None) => Vec::new(),
    };
    let oidc = state.store.oidc();
    let subjects = SubjectKey::new(oidc.subject_key());
    let mut deliveries = Vec::new();
    let mut told = BTreeSet::new();
    for stream in streams {
        let wanted = StreamRequest::from_stored(&stream.config, None)
            .is_some_and(|request| request.events_delivered().contains(&kind));
        if !wanted {
            continue;
        }
        let Some(client) = state
            .oidc
            .client(state.store.as_ref(), &stream.client_id)
            .await?
        else {
            continue;
        };
        let Ok(sector) = SectorIdentifier::new(&client.registration.sector) else {
            return Err(StoreError::Corrupt("oidc_clients.sector"));
        };
        let subject = match (&line, person) {
            (Some((_, msisdn)), _) => SubjectId::PhoneNumber {
                phone_number: msisdn.clone(),
            },
            (None, Some(person)) => SubjectId::IssSub {
                iss: state.oidc.config.issuer.clone(),
                sub: subjects
                    .subject(&sector, person.as_uuid().as_bytes())
                    .as_str()
                    .to_owned(),
            },
            (None, None) => continue,
        };
        let Some(event) = event_for(signal, kind, subject) else {
            return Err(StoreError::Corrupt("signals.detail"));
        };
        deliveries.push((stream.stream_id, event.to_stored()));
        told.insert(client.registration.organisation_id);
    }
    // A line's event tells its operator only about the operator's own line, under the
    // operator's own number: what the operator did, the stage its own data reached, or what
    // the holder asked to tell it. None of the registry's facts about the person is in it,
    // so, as on the poll of transitions, no disclosure is recorded.
    let subject = match (&line, person) {
        (None, Some(person)) => Some(person),
        _ => None,
    };
    let purpose = Purpose::new("security event about an account on the platform")
        .map_err(|_| StoreError::Corrupt("purpose"))?;
    let disclosures: Vec<NewDisclosure> = told
        .into_iter()
        .filter_map(|organisation| Some((organisation, subject?)))
        .map(|(organisation, subject)| NewDisclosure {
            subject,
            recipient: Recipient::Organisation(organisation),
            fields: vec![kind.name()],
            purpose: purpose.clone(),
            legal_basis: SIGNALS_BASIS,
        })
        .collect();
    Ok(FanOut {
        signal: signal.id.clone(),
        deliveries,
        disclosures,
    })
}

/// Signs an event for its receiver, with the algorithm the receiver registered for its ID
/// tokens (ML-DSA-65 unless it chose a classical one).
pub(crate) async fn sign_event(
    state: &AppState,
    event: &OutboxEvent,
) -> Result<String, StoreError> {
    let client = state
        .oidc
        .client(state.store.as_ref(), &event.client_id)
        .await?
        .ok_or(StoreError::NotFound("client"))?;
    let claims = SecurityEvent::claims(
        &event.event,
        &state.oidc.config.issuer,
        &event.client_id,
        &event.jti,
        event.created_at.as_second(),
    );
    let payload = serde_json::to_vec(&claims).map_err(|_| StoreError::Corrupt("event"))?;
    let key = state
        .oidc
        .signing_key(state.store.as_ref(), client.registration.id_token_alg)
        .await?;
    // RFC 8417 §2.3: explicit typing.
    jose::sign_compact(&key, Some("secevent+jwt"), &payload)
        .map_err(|_| StoreError::Corrupt("signing key"))
}

async fn push(
    state: &AppState,
    http: &reqwest::Client,
    backoff: Backoff,
    event: &OutboxEvent,
) -> PushResult {
    let retry = |why: String| {
        let wait = backoff.delay(event.attempts.saturating_add(1));
        let wait = SignedDuration::try_from(wait).unwrap_or(SignedDuration::MAX);
        PushResult::Retry(
            Timestamp::now().checked_add(wait).unwrap_or(Timestamp::MAX),
            why,
        )
    };
    let Some(request) = StreamRequest::from_stored(&event.config, event.authorization.clone())
    else {
        return PushResult::Rejected("stream configuration unreadable".to_owned());
    };
    let dinhdanh_signals::Delivery::Push { endpoint_url, .. } = &request.delivery else {
        return PushResult::Rejected("stream is not pushed".to_owned());
    };
    let token = match sign_event(state, event).await {
        Ok(token) => token,
        Err(err) => return retry(format!("signing: {err}")),
    };
    // RFC 8935 §2.1.
    let mut call = http
        .post(endpoint_url.clone())
        .header("content-type", "application/secevent+jwt")
        .header("accept", "application/json")
        .body(token);
    if let Some(authorization) = request.authorization() {
        call = call.header("authorization", authorization);
    }
    match call.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            let body = &body[..body.len().min(4096)];
            match push_outcome(status, body) {
                PushOutcome::Delivered => PushResult::Delivered,
                PushOutcome::Retry(why) => retry(why),
                PushOutcome::Rejected(why) => {
                    tracing::warn!(stream = %event.stream_id, jti = %event.jti, error = %why, "receiver rejected an event");
                    PushResult::Rejected(why)
                }
            }
        }
        Err(err) => retry(if err.is_timeout() {
            "timeout".to_owned()
        } else {
            "connection failed".to_owned()
        }),
    }
}
