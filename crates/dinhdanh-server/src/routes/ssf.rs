//! The Shared Signals Framework 1.0 transmitter's endpoints: its configuration, streams and
//! their status, subjects and verification (SSF §7, §8), and poll delivery (RFC 8936).
//!
//! Receivers are clients of platforms and telecom operators, calling with their own access
//! token (client credentials) holding the `signals` scope. A receiver sees and changes its own
//! streams only; another's is not found. Push delivery is the transmitter worker's.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use dinhdanh_signals::{
    Delivery, POLL_METHOD, PUSH_METHOD, PollRequest, SecurityEvent, StreamConfig, StreamError,
    StreamRequest, StreamStatus, SubjectId, poll_response,
};
use dinhdanh_store::{Client, NewStream, StoreError, Stream};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::extract::{ApiJson, ServiceCaller, Signals};
use crate::problem::Problem;
use crate::transmitter::sign_event;

/// Where the configuration is published (SSF §7.2).
pub(crate) const SSF_CONFIGURATION_PATH: &str = "/.well-known/ssf-configuration";
const STREAMS_PATH: &str = "/ssf/streams";
const STATUS_PATH: &str = "/ssf/status";
const ADD_SUBJECT_PATH: &str = "/ssf/subjects/add";
const REMOVE_SUBJECT_PATH: &str = "/ssf/subjects/remove";
const VERIFY_PATH: &str = "/ssf/verify";
const POLL_PATH: &str = "/ssf/poll";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(SSF_CONFIGURATION_PATH, get(configuration))
        .route(
            STREAMS_PATH,
            get(read_streams)
                .post(create_stream)
                .patch(update_stream)
                .put(replace_stream)
                .delete(delete_stream),
        )
        .route(STATUS_PATH, get(read_status).post(update_status))
        .route(ADD_SUBJECT_PATH, post(add_subject))
        .route(REMOVE_SUBJECT_PATH, post(remove_subject))
        .route(VERIFY_PATH, post(verify))
        .route("/ssf/poll/{stream_id}", post(poll))
}

/// SSF §7.1: the transmitter's configuration.
#[utoipa::path(get, path = "/.well-known/ssf-configuration", tag = "signals",
    responses((status = 200, description = "Transmitter configuration metadata (SSF 1.0 §7.1)",
        content_type = "application/json")))]
pub(crate) async fn configuration(State(state): State<AppState>) -> Response {
    let issuer = &state.oidc.config.issuer;
    let body = json!({
        "spec_version": "1_0",
        "issuer": issuer,
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "delivery_methods_supported": [PUSH_METHOD, POLL_METHOD],
        "configuration_endpoint": format!("{issuer}{STREAMS_PATH}"),
        "status_endpoint": format!("{issuer}{STATUS_PATH}"),
        "add_subject_endpoint": format!("{issuer}{ADD_SUBJECT_PATH}"),
        "remove_subject_endpoint": format!("{issuer}{REMOVE_SUBJECT_PATH}"),
        "verification_endpoint": format!("{issuer}{VERIFY_PATH}"),
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": "ALL",
    });
    axum::Json(body).into_response()
}

fn poll_endpoint(state: &AppState, stream_id: &str) -> String {
    format!("{}{POLL_PATH}/{stream_id}", state.oidc.config.issuer)
}

fn stream_problem(err: &StreamError) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "invalid-stream",
        "Invalid stream configuration",
        err.to_string(),
    )
}

fn no_stream() -> Problem {
    Problem::not_found("stream")
}

/// A stored stream as SSF sees it.
fn config_of(stream: &Stream) -> Result<StreamConfig, Problem> {
    let request = StreamRequest::from_stored(&stream.config, stream.authorization.clone())
        .ok_or_else(|| Problem::internal(&"a stored stream is unreadable"))?;
    let status = StreamStatus::parse(&stream.status)
        .map_err(|_| Problem::internal(&"a stored stream status is unreadable"))?;
    Ok(StreamConfig {
        stream_id: stream.id.clone(),
        request,
        status,
        reason: stream.reason.clone(),
    })
}

fn published(state: &AppState, client: &Client, config: &StreamConfig) -> Value {
    config.to_json(
        &state.oidc.config.issuer,
        &client.registration.id,
        &poll_endpoint(state, &config.stream_id),
    )
}

fn new_stream(
    client: &Client,
    request: &StreamRequest,
    status: StreamStatus,
    reason: Option<String>,
) -> NewStream {
    NewStream {
        client_id: client.registration.id.clone(),
        config: request.to_stored().to_string(),
        method: match request.delivery {
            Delivery::Push { .. } => "push".to_owned(),
            Delivery::Poll => "poll".to_owned(),
        },
        authorization: request.authorization().map(str::to_owned),
        status: status.as_str().to_owned(),
        reason,
    }
}

fn no_store(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body.clone()),
    )
        .into_response()
}

async fn owned_stream(
    state: &AppState,
    client: &Client,
    stream_id: &str,
) -> Result<Stream, Problem> {
    state
        .store
        .signals()
        .find_stream(&client.registration.id, stream_id)
        .await?
        .ok_or_else(no_stream)
}

/// The stream a body names by `stream_id` (SSF §8.1.1.3 and after).
fn named_stream(body: &Value) -> Result<&str, Problem> {
    body.get("stream_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty() && id.len() <= 64)
        .ok_or_else(|| Problem::malformed_body("stream_id is required"))
}

/// SSF §8.1.1.1: a receiver makes a stream. Several per receiver are allowed.
#[utoipa::path(post, path = "/ssf/streams", tag = "signals",
    request_body(content_type = "application/json",
        description = "`delivery` (`method` `urn:ietf:rfc:8935` with `endpoint_url` and an optional `authorization_header`, or `urn:ietf:rfc:8936`), `events_requested` (event type URIs; all if absent), `description`"),
    responses(
        (status = 201, description = "the stream's configuration (SSF §8.1.1.1), with `events_delivered` and, for poll, its `endpoint_url`", content_type = "application/json"),
        (status = 400, description = "an invalid stream configuration"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope")),
    security(("client" = [])))]
pub(crate) async fn create_stream(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    // The poll URL is not known before the id; a receiver never sends it on create.
    let request = StreamRequest::parse_create(&body, "").map_err(|err| stream_problem(&err))?;
    let stream = state
        .store
        .signals()
        .insert_stream(&new_stream(
            &caller.client,
            &request,
            StreamStatus::Enabled,
            None,
        ))
        .await?;
    let config = config_of(&stream)?;
    Ok(no_store(
        StatusCode::CREATED,
        &published(&state, &caller.client, &config),
    ))
}

#[derive(Deserialize)]
pub(crate) struct StreamQuery {
    stream_id: Option<String>,
}

/// SSF §8.1.1.2: one stream, or all of the receiver's.
#[utoipa::path(get, path = "/ssf/streams", tag = "signals",
    params(("stream_id" = Option<String>, Query, description = "one stream; all of the receiver's if absent")),
    responses(
        (status = 200, description = "the stream's configuration, or an array of all", content_type = "application/json"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn read_streams(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    Query(query): Query<StreamQuery>,
) -> Result<Response, Problem> {
    if let Some(id) = query.stream_id {
        let stream = owned_stream(&state, &caller.client, &id).await?;
        let config = config_of(&stream)?;
        return Ok(no_store(
            StatusCode::OK,
            &published(&state, &caller.client, &config),
        ));
    }
    let streams = state
        .store
        .signals()
        .list_streams(&caller.client.registration.id)
        .await?;
    let mut all = Vec::with_capacity(streams.len());
    for stream in &streams {
        all.push(published(&state, &caller.client, &config_of(stream)?));
    }
    Ok(no_store(StatusCode::OK, &Value::Array(all)))
}

async fn change_stream(
    state: &AppState,
    client: &Client,
    body: &Value,
    replace: bool,
) -> Result<Response, Problem> {
    let stream = owned_stream(state, client, named_stream(body)?).await?;
    let current = config_of(&stream)?;
    let shown = published(state, client, &current);
    let request = StreamRequest::parse_update(
        body,
        &current,
        &shown,
        replace,
        &poll_endpoint(state, &stream.id),
    )
    .map_err(|err| stream_problem(&err))?;
    let updated = state
        .store
        .signals()
        .update_stream(
            &stream.id,
            &new_stream(client, &request, current.status, current.reason.clone()),
            None,
        )
        .await?;
    Ok(no_store(
        StatusCode::OK,
        &published(state, client, &config_of(&updated)?),
    ))
}

/// SSF §8.1.1.3: changes the members the body names.
#[utoipa::path(patch, path = "/ssf/streams", tag = "signals",
    request_body(content_type = "application/json",
        description = "`stream_id` and the receiver-supplied members to change (SSF §8.1.1.3)"),
    responses(
        (status = 200, description = "the stream's configuration as it is now", content_type = "application/json"),
        (status = 400, description = "an invalid change, or a transmitter-supplied member that differs"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn update_stream(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    change_stream(&state, &caller.client, &body, false).await
}

/// SSF §8.1.1.4: replaces the receiver-supplied members.
#[utoipa::path(put, path = "/ssf/streams", tag = "signals",
    request_body(content_type = "application/json",
        description = "`stream_id` and every receiver-supplied member (SSF §8.1.1.4)"),
    responses(
        (status = 200, description = "the stream's configuration as it is now", content_type = "application/json"),
        (status = 400, description = "an invalid configuration"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn replace_stream(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    change_stream(&state, &caller.client, &body, true).await
}

/// SSF §8.1.1.5: deletes a stream with its undelivered events.
#[utoipa::path(delete, path = "/ssf/streams", tag = "signals",
    params(("stream_id" = String, Query, description = "the stream")),
    responses(
        (status = 204, description = "deleted, with its subjects and undelivered events"),
        (status = 400, description = "no `stream_id`"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn delete_stream(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    Query(query): Query<StreamQuery>,
) -> Result<Response, Problem> {
    let id = query
        .stream_id
        .ok_or_else(|| Problem::malformed_body("stream_id is required"))?;
    match state
        .store
        .signals()
        .delete_stream(&caller.client.registration.id, &id)
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT.into_response()),
        Err(StoreError::NotFound(_)) => Err(no_stream()),
        Err(err) => Err(err.into()),
    }
}

fn status_body(config: &StreamConfig) -> Value {
    let mut body = json!({"stream_id": config.stream_id, "status": config.status.as_str()});
    if let Some(reason) = &config.reason {
        body["reason"] = reason.clone().into();
    }
    body
}

/// SSF §8.1.2.1: a stream's status.
#[utoipa::path(get, path = "/ssf/status", tag = "signals",
    params(("stream_id" = String, Query, description = "the stream")),
    responses(
        (status = 200, description = "`stream_id`, `status` (`enabled`, `paused` or `disabled`) and `reason` (SSF §8.1.2.1)", content_type = "application/json"),
        (status = 400, description = "no `stream_id`"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn read_status(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    Query(query): Query<StreamQuery>,
) -> Result<Response, Problem> {
    let id = query
        .stream_id
        .ok_or_else(|| Problem::malformed_body("stream_id is required"))?;
    let stream = owned_stream(&state, &caller.client, &id).await?;
    Ok(no_store(StatusCode::OK, &status_body(&config_of(&stream)?)))
}

/// SSF §8.1.2.2: the receiver enables, pauses or disables its stream. A change is announced
/// by a `stream-updated` event (§8.1.5) queued in the same transaction, ahead of anything
/// held.
#[utoipa::path(post, path = "/ssf/status", tag = "signals",
    request_body(content_type = "application/json",
        description = "`stream_id`, `status` and an optional `reason` (SSF §8.1.2.2); a paused stream holds its events, a disabled one drops them"),
    responses(
        (status = 200, description = "the status as it is now", content_type = "application/json"),
        (status = 400, description = "an unknown status or a malformed body"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn update_status(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    let stream = owned_stream(&state, &caller.client, named_stream(&body)?).await?;
    let object = body
        .as_object()
        .ok_or_else(|| Problem::malformed_body("expected an object"))?;
    if object
        .keys()
        .any(|name| !["stream_id", "status", "reason"].contains(&name.as_str()))
    {
        return Err(Problem::malformed_body(
            "a status update has stream_id, status and reason only",
        ));
    }
    let status = object
        .get("status")
        .and_then(Value::as_str)
        .ok_or_else(|| Problem::malformed_body("status is required"))
        .and_then(|text| StreamStatus::parse(text).map_err(|err| stream_problem(&err)))?;
    let reason = match object.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(text.chars().take(255).collect::<String>()),
        Some(_) => return Err(Problem::malformed_body("reason must be a string")),
    };
    let current = config_of(&stream)?;
    let event = (status != current.status).then(|| {
        SecurityEvent::stream_updated(&stream.id, status.as_str(), reason.as_deref()).to_stored()
    });
    let updated = state
        .store
        .signals()
        .update_stream(
            &stream.id,
            &new_stream(&caller.client, &current.request, status, reason),
            event.as_ref(),
        )
        .await?;
    Ok(no_store(
        StatusCode::OK,
        &status_body(&config_of(&updated)?),
    ))
}

async fn subject_change(
    state: &AppState,
    client: &Client,
    body: &Value,
    included: bool,
) -> Result<(), Problem> {
    let stream = owned_stream(state, client, named_stream(body)?).await?;
    let subject = body
        .get("subject")
        .ok_or_else(|| Problem::malformed_body("subject is required"))?;
    let sub = SubjectId::parse_person(subject, &state.oidc.config.issuer).map_err(|err| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-subject",
            "Invalid subject",
            err.to_string(),
        )
    })?;
    let person = state
        .store
        .oidc()
        .find_subject(&client.registration.sector, &sub)
        .await?;
    // SSF §9.1: an unknown subject gets the same answer as a known one, so that a receiver
    // cannot probe who exists.
    if let Some(person) = person {
        state
            .store
            .signals()
            .update_stream_subject(&stream.id, person, included)
            .await?;
    }
    Ok(())
}

/// SSF §8.1.3.2: the receiver asks for events about a subject it holds.
#[utoipa::path(post, path = "/ssf/subjects/add", tag = "signals",
    request_body(content_type = "application/json",
        description = "`stream_id` and `subject`, an `iss_sub` subject identifier (RFC 9493) of this issuer"),
    responses(
        (status = 200, description = "added; an unknown subject gets the same answer (SSF §9.1)"),
        (status = 400, description = "a malformed body or subject"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn add_subject(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    subject_change(&state, &caller.client, &body, true).await?;
    Ok(StatusCode::OK.into_response())
}

/// SSF §8.1.3.3: the receiver no longer wants events about a subject.
#[utoipa::path(post, path = "/ssf/subjects/remove", tag = "signals",
    request_body(content_type = "application/json",
        description = "`stream_id` and `subject`, an `iss_sub` subject identifier (RFC 9493) of this issuer"),
    responses(
        (status = 204, description = "removed; an unknown subject gets the same answer (SSF §9.1)"),
        (status = 400, description = "a malformed body or subject"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn remove_subject(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    subject_change(&state, &caller.client, &body, false).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// SSF §8.1.4.2: queues a verification event echoing the receiver's `state`.
#[utoipa::path(post, path = "/ssf/verify", tag = "signals",
    request_body(content_type = "application/json",
        description = "`stream_id` and an optional `state`, echoed in the verification event (SSF §8.1.4.2)"),
    responses(
        (status = 204, description = "a verification event is queued on the stream"),
        (status = 400, description = "a malformed body"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, Problem> {
    let stream = owned_stream(&state, &caller.client, named_stream(&body)?).await?;
    let echo = match body.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.len() <= 255 => Some(text.as_str()),
        Some(_) => {
            return Err(Problem::malformed_body(
                "state must be a string of at most 255 bytes",
            ));
        }
    };
    let event = SecurityEvent::verification(&stream.id, echo).to_stored();
    state
        .store
        .signals()
        .insert_stream_event(&stream.id, &event)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// RFC 8936: the receiver acknowledges what it has and takes what is waiting. Nothing is
/// held open: every answer returns at once (RFC 8936 §2.4 leaves the long-poll timeout to
/// agreement; this one is zero).
#[utoipa::path(post, path = "/ssf/poll/{stream_id}", tag = "signals",
    params(("stream_id" = String, Path, description = "the poll stream")),
    request_body(content_type = "application/json",
        description = "RFC 8936 §2.4: `maxEvents`, `returnImmediately`, `ack` (the `jti`s received) and `setErrs`"),
    responses(
        (status = 200, description = "`sets` (signed tokens by `jti`) and `moreAvailable`", content_type = "application/json"),
        (status = 400, description = "a malformed poll request, or a stream delivered by push"),
        (status = 401, description = "no access token from the client credentials grant"),
        (status = 403, description = "the token lacks the `signals` scope"),
        (status = 404, description = "no stream of this receiver has this id")),
    security(("client" = [])))]
pub(crate) async fn poll(
    State(state): State<AppState>,
    caller: ServiceCaller<Signals>,
    Path(stream_id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Response, Problem> {
    let stream = owned_stream(&state, &caller.client, &stream_id).await?;
    if stream.method != "poll" {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "not-polled",
            "Stream is not polled",
            "this stream's events are pushed (RFC 8935)",
        ));
    }
    let request = PollRequest::parse(&body).map_err(|err| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "invalid-poll",
            "Invalid poll request",
            err.to_string(),
        )
    })?;
    let rejected: Vec<(String, String)> = request
        .set_errs
        .iter()
        .map(|(jti, error)| (jti.clone(), error.err.clone()))
        .collect();
    state
        .store
        .signals()
        .acknowledge(&stream.id, &request.ack, &rejected)
        .await?;
    // A paused stream holds its events (SSF §8.1.2).
    let held = stream.status != StreamStatus::Enabled.as_str();
    if request.max_events == 0 || held {
        return Ok(no_store(StatusCode::OK, &poll_response(&[], false)));
    }
    let (events, more) = state
        .store
        .signals()
        .list_polled(&stream.id, request.max_events)
        .await?;
    let mut sets = Vec::with_capacity(events.len());
    for event in &events {
        sets.push((event.jti.clone(), sign_event(&state, event).await?));
    }
    Ok(no_store(StatusCode::OK, &poll_response(&sets, more)))
}
