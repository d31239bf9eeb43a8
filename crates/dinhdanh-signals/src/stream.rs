//! Streams (SSF §8.1.1): what a receiver asks for, and the configuration the transmitter
//! answers with.

use serde_json::{Map, Value, json};
use url::Url;

use crate::event::EventType;

/// RFC 8935 push delivery (SSF §6.1.1).
pub const PUSH_METHOD: &str = "urn:ietf:rfc:8935";
/// RFC 8936 poll delivery (SSF §6.1.2).
pub const POLL_METHOD: &str = "urn:ietf:rfc:8936";

/// The longest description kept (SSF §8.1.1 lets the transmitter truncate it).
const DESCRIPTION_MAX: usize = 255;
/// The most event types a receiver may request.
const REQUESTED_MAX: usize = 32;
/// The longest `authorization_header` accepted.
const AUTHORIZATION_MAX: usize = 4096;

/// Why a stream request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The body is not a JSON object.
    #[error("a stream configuration is a JSON object")]
    NotAnObject,
    /// A member this transmitter does not know, or one the receiver may not set.
    #[error("member `{0}` is not a receiver-supplied stream member (SSF §8.1.1)")]
    UnknownMember(String),
    /// A transmitter-supplied member whose value differs from the stream's (SSF §8.1.1.3).
    #[error("member `{0}` is set by the transmitter and differs from the stream's value")]
    TransmitterMember(&'static str),
    /// `events_requested` is not an array of at most 32 URI strings.
    #[error("events_requested must be an array of at most 32 event type URIs")]
    EventsRequested,
    /// `delivery` is malformed or names an unsupported method.
    #[error("delivery must name method {PUSH_METHOD} or {POLL_METHOD}")]
    Delivery,
    /// A push `endpoint_url` that is not an absolute https URL (http only on loopback).
    #[error(
        "a push endpoint_url must be an absolute https URL without a fragment (http only on loopback)"
    )]
    EndpointUrl,
    /// An `authorization_header` that is not a short printable string.
    #[error("authorization_header must be printable text of at most 4096 bytes")]
    AuthorizationHeader,
    /// A poll `endpoint_url` that is not the transmitter's (SSF §6.1.2).
    #[error("a poll endpoint_url is the transmitter's to set")]
    PollEndpoint,
    /// `description` is not a string.
    #[error("description must be a string")]
    Description,
    /// A status that is not `enabled`, `paused` or `disabled`.
    #[error("status must be enabled, paused or disabled (SSF §8.1.2)")]
    Status,
}

/// How a stream's events reach its receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// RFC 8935: the transmitter posts each token to the receiver.
    Push {
        /// Where.
        endpoint_url: Url,
        /// Sent as `Authorization` with every push, if the receiver gave one (SSF §6.1.1).
        authorization_header: Option<String>,
    },
    /// RFC 8936: the receiver polls the transmitter.
    Poll,
}

impl Delivery {
    /// The method's URI.
    pub fn method(&self) -> &'static str {
        match self {
            Delivery::Push { .. } => PUSH_METHOD,
            Delivery::Poll => POLL_METHOD,
        }
    }

    fn parse(value: &Value, poll_endpoint: &str) -> Result<Self, StreamError> {
        let object = value.as_object().ok_or(StreamError::Delivery)?;
        let method = object
            .get("method")
            .and_then(Value::as_str)
            .ok_or(StreamError::Delivery)?;
        let endpoint = object.get("endpoint_url");
        match method {
            PUSH_METHOD => {
                if let Some(name) = object.keys().find(|name| {
                    !["method", "endpoint_url", "authorization_header"].contains(&name.as_str())
                }) {
                    return Err(StreamError::UnknownMember(format!("delivery.{name}")));
                }
                let url = endpoint
                    .and_then(Value::as_str)
                    .and_then(|text| Url::parse(text).ok())
                    .ok_or(StreamError::EndpointUrl)?;
                let loopback = matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
                let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
                if !scheme_ok || url.fragment().is_some() || !url.username().is_empty() {
                    return Err(StreamError::EndpointUrl);
                }
                let authorization_header = match object.get("authorization_header") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(text))
                        if !text.is_empty()
                            && text.len() <= AUTHORIZATION_MAX
                            && text.bytes().all(|b| (0x20..0x7f).contains(&b)) =>
                    {
                        Some(text.clone())
                    }
                    Some(_) => return Err(StreamError::AuthorizationHeader),
                };
                Ok(Delivery::Push {
                    endpoint_url: url,
                    authorization_header,
                })
            }
            POLL_METHOD => {
                if let Some(name) = object
                    .keys()
                    .find(|name| !["method", "endpoint_url"].contains(&name.as_str()))
                {
                    return Err(StreamError::UnknownMember(format!("delivery.{name}")));
                }
                match endpoint {
                    None => Ok(Delivery::Poll),
                    Some(Value::String(url)) if url == poll_endpoint => Ok(Delivery::Poll),
                    Some(_) => Err(StreamError::PollEndpoint),
                }
            }
            _ => Err(StreamError::Delivery),
        }
    }
}

/// A stream's status (SSF §8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Events are transmitted.
    Enabled,
    /// Events are held, and sent when the stream is enabled again.
    Paused,
    /// Nothing is transmitted or held.
    Disabled,
}

impl StreamStatus {
    /// The status as SSF names it.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamStatus::Enabled => "enabled",
            StreamStatus::Paused => "paused",
            StreamStatus::Disabled => "disabled",
        }
    }

    /// Parses a status.
    pub fn parse(text: &str) -> Result<Self, StreamError> {
        match text {
            "enabled" => Ok(StreamStatus::Enabled),
            "paused" => Ok(StreamStatus::Paused),
            "disabled" => Ok(StreamStatus::Disabled),
            _ => Err(StreamError::Status),
        }
    }
}

/// What the receiver sets in a stream: the members SSF §8.1.1 marks receiver-supplied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamRequest {
    /// The event types asked for, as given (unknown URIs are kept and ignored, SSF §8.1.1).
    pub events_requested: Vec<String>,
    /// How events are delivered.
    pub delivery: Delivery,
    /// The receiver's description, cut to 255 characters.
    pub description: Option<String>,
}

/// Members the transmitter sets; a receiver may repeat them only with the stream's values.
const TRANSMITTER_MEMBERS: [&str; 6] = [
    "stream_id",
    "iss",
    "aud",
    "events_supported",
    "events_delivered",
    "min_verification_interval",
];

impl StreamRequest {
    /// Reads a create request (SSF §8.1.1.1). Without `delivery` the stream is polled; without
    /// `events_requested` it asks for every type this transmitter sends.
    pub fn parse_create(body: &Value, poll_endpoint: &str) -> Result<Self, StreamError> {
        let object = body.as_object().ok_or(StreamError::NotAnObject)?;
        if let Some(name) = object
            .keys()
            .find(|name| !["events_requested", "delivery", "description"].contains(&name.as_str()))
        {
            return Err(StreamError::UnknownMember(name.clone()));
        }
        Self::merge(object, None, poll_endpoint)
    }

    /// Reads an update (`replace` false, PATCH, SSF §8.1.1.3) or a replacement (`replace`
    /// true, PUT, §8.1.1.4) of `current`, whose configuration as published is `published`.
    /// Transmitter-supplied members may be repeated only with their current values.
    pub fn parse_update(
        body: &Value,
        current: &StreamConfig,
        published: &Value,
        replace: bool,
        poll_endpoint: &str,
    ) -> Result<Self, StreamError> {
        let object = body.as_object().ok_or(StreamError::NotAnObject)?;
        for (name, value) in object {
            if ["events_requested", "delivery", "description"].contains(&name.as_str()) {
                continue;
            }
            let Some(member) = TRANSMITTER_MEMBERS.iter().find(|m| **m == name) else {
                return Err(StreamError::UnknownMember(name.clone()));
            };
            if published.get(member) != Some(value) {
                return Err(StreamError::TransmitterMember(member));
            }
        }
        Self::merge(
            object,
            (!replace).then_some(&current.request),
            poll_endpoint,
        )
    }

    fn merge(
        object: &Map<String, Value>,
        base: Option<&StreamRequest>,
        poll_endpoint: &str,
    ) -> Result<Self, StreamError> {
        let events_requested = match object.get("events_requested") {
            None => base.map_or_else(
                || {
                    EventType::REQUESTABLE
                        .iter()
                        .map(|kind| kind.uri().to_owned())
                        .collect()
                },
                |base| base.events_requested.clone(),
            ),
            Some(Value::Array(items)) if items.len() <= REQUESTED_MAX => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .filter(|uri| !uri.is_empty() && uri.len() <= 255)
                        .map(str::to_owned)
                        .ok_or(StreamError::EventsRequested)
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(StreamError::EventsRequested),
        };
        let delivery = match object.get("delivery") {
            None => base.map_or(Delivery::Poll, |base| base.delivery.clone()),
            Some(value) => Delivery::parse(value, poll_endpoint)?,
        };
        let description = match object.get("description") {
            None => base.and_then(|base| base.description.clone()),
            Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.chars().take(DESCRIPTION_MAX).collect()),
            Some(_) => return Err(StreamError::Description),
        };
        Ok(Self {
            events_requested,
            delivery,
            description,
        })
    }

    /// The request as stored: everything but the push `authorization_header`, which is kept
    /// apart (sealed).
    pub fn to_stored(&self) -> Value {
        let delivery = match &self.delivery {
            Delivery::Push { endpoint_url, .. } => {
                json!({"method": PUSH_METHOD, "endpoint_url": endpoint_url.as_str()})
            }
            Delivery::Poll => json!({"method": POLL_METHOD}),
        };
        json!({
            "events_requested": self.events_requested,
            "delivery": delivery,
            "description": self.description,
        })
    }

    /// Reads a request as stored, with its push `authorization_header`.
    pub fn from_stored(stored: &str, authorization: Option<String>) -> Option<Self> {
        let value: Value = serde_json::from_str(stored).ok()?;
        let mut request = Self::parse_create(&value, "").ok()?;
        if let Delivery::Push {
            authorization_header,
            ..
        } = &mut request.delivery
        {
            *authorization_header = authorization;
        }
        Some(request)
    }

    /// The push `authorization_header`, if there is one.
    pub fn authorization(&self) -> Option<&str> {
        match &self.delivery {
            Delivery::Push {
                authorization_header,
                ..
            } => authorization_header.as_deref(),
            Delivery::Poll => None,
        }
    }

    /// The types this stream receives: those requested that this transmitter sends
    /// (SSF §8.1.1: `events_delivered` ⊆ supported ∩ requested).
    pub fn events_delivered(&self) -> Vec<EventType> {
        EventType::REQUESTABLE
            .into_iter()
            .filter(|kind| self.events_requested.iter().any(|uri| uri == kind.uri()))
            .collect()
    }
}

/// A stream as stored: its id, what the receiver asked for, and its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// The stream's id.
    pub stream_id: String,
    /// What the receiver asked for.
    pub request: StreamRequest,
    /// Its status.
    pub status: StreamStatus,
    /// Why it has that status, if a reason was given.
    pub reason: Option<String>,
}

impl StreamConfig {
    /// The configuration as published (SSF §8.1.1): `audience` is the receiver's client id,
    /// `poll_endpoint` this stream's poll URL. The push `authorization_header` is a secret the
    /// receiver already has: it is never echoed.
    pub fn to_json(&self, issuer: &str, audience: &str, poll_endpoint: &str) -> Value {
        let delivery = match &self.request.delivery {
            Delivery::Push { endpoint_url, .. } => {
                json!({"method": PUSH_METHOD, "endpoint_url": endpoint_url.as_str()})
            }
            Delivery::Poll => json!({"method": POLL_METHOD, "endpoint_url": poll_endpoint}),
        };
        let mut config = json!({
            "stream_id": self.stream_id,
            "iss": issuer,
            "aud": audience,
            "events_supported": EventType::REQUESTABLE.map(EventType::uri),
            "events_requested": self.request.events_requested,
            "events_delivered": self.request.events_delivered().into_iter().map(EventType::uri).collect::<Vec<_>>(),
            "delivery": delivery,
        });
        if let Some(description) = &self.request.description {
            config["description"] = description.clone().into();
        }
        config
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const POLL: &str = "https://id.example/ssf/poll/s1";

    fn stream(request: StreamRequest) -> StreamConfig {
        StreamConfig {
            stream_id: "s1".into(),
            request,
            status: StreamStatus::Enabled,
            reason: None,
        }
    }

    #[test]
    fn a_create_without_delivery_is_polled_and_asks_for_everything() {
        let request = StreamRequest::parse_create(&json!({}), POLL).unwrap();
        assert_eq!(request.delivery, Delivery::Poll);
        assert_eq!(request.events_delivered(), EventType::REQUESTABLE.to_vec());
        let published = stream(request).to_json("https://id.example", "c1", POLL);
        assert_eq!(published["delivery"]["endpoint_url"], POLL);
        assert_eq!(published["aud"], "c1");
    }

    #[test]
    fn unknown_event_types_are_kept_but_not_delivered() {
        let request = StreamRequest::parse_create(
            &json!({"events_requested": [EventType::AccountDisabled.uri(), "urn:example:x"]}),
            POLL,
        )
        .unwrap();
        assert_eq!(request.events_requested.len(), 2);
        assert_eq!(request.events_delivered(), vec![EventType::AccountDisabled]);
    }

    #[test]
    fn push_endpoints_are_https_or_loopback_http() {
        let push = |url: &str| {
            StreamRequest::parse_create(
                &json!({"delivery": {"method": PUSH_METHOD, "endpoint_url": url}}),
                POLL,
            )
        };
        assert!(push("https://rp.example/events").is_ok());
        assert!(push("http://127.0.0.1:8080/events").is_ok());
        for bad in [
            "http://rp.example/events",
            "https://rp.example/events#x",
            "https://user@rp.example/",
            "not a url",
        ] {
            assert_eq!(push(bad), Err(StreamError::EndpointUrl), "{bad}");
        }
        assert_eq!(
            StreamRequest::parse_create(
                &json!({"delivery": {"method": POLL_METHOD, "endpoint_url": "https://elsewhere"}}),
                POLL
            ),
            Err(StreamError::PollEndpoint)
        );
        assert_eq!(
            StreamRequest::parse_create(&json!({"delivery": {"method": "urn:x"}}), POLL),
            Err(StreamError::Delivery)
        );
        assert!(matches!(
            StreamRequest::parse_create(&json!({"stream_id": "mine"}), POLL),
            Err(StreamError::UnknownMember(_))
        ));
    }

    #[test]
    fn the_stored_form_keeps_everything_but_the_secret() {
        let request = StreamRequest::parse_create(
            &json!({"delivery": {"method": PUSH_METHOD, "endpoint_url": "https://rp.example/e",
                    "authorization_header": "Bearer s3cret"}, "description": "d"}),
            POLL,
        )
        .unwrap();
        let stored = request.to_stored().to_string();
        assert!(!stored.contains("s3cret"));
        let back = StreamRequest::from_stored(&stored, request.authorization().map(str::to_owned))
            .unwrap();
        assert_eq!(back, request);
    }

    #[test]
    fn a_patch_keeps_what_it_leaves_out_and_a_put_resets_it() {
        let current = stream(
            StreamRequest::parse_create(
                &json!({
                    "events_requested": [EventType::AccountDisabled.uri()],
                    "description": "platform x",
                }),
                POLL,
            )
            .unwrap(),
        );
        let published = current.to_json("https://id.example", "c1", POLL);
        let patch = json!({"stream_id": "s1", "description": "renamed"});
        let patched =
            StreamRequest::parse_update(&patch, &current, &published, false, POLL).unwrap();
        assert_eq!(patched.description.as_deref(), Some("renamed"));
        assert_eq!(patched.events_delivered(), vec![EventType::AccountDisabled]);
        let replaced =
            StreamRequest::parse_update(&patch, &current, &published, true, POLL).unwrap();
        assert_eq!(replaced.events_delivered(), EventType::REQUESTABLE.to_vec());
        let wrong = json!({"stream_id": "s1", "aud": "someone-else"});
        assert_eq!(
            StreamRequest::parse_update(&wrong, &current, &published, false, POLL),
            Err(StreamError::TransmitterMember("aud"))
        );
    }
}
