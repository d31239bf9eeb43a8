//! Poll delivery (RFC 8936): the receiver's request, and the answer.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The most tokens one poll answer carries, whatever `maxEvents` asks (RFC 8936 §2.4: the
/// transmitter may return fewer).
pub const MAX_POLL_EVENTS: usize = 256;
/// The most acknowledgements and errors one request may carry.
const MAX_ACKS: usize = 1024;

/// Why a poll request was refused (RFC 8936 §2.5.1 `invalid_request`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// Not a JSON object of the members RFC 8936 §2.4 defines.
    #[error(
        "a poll request is a JSON object with maxEvents, returnImmediately, ack and setErrs (RFC 8936 §2.4)"
    )]
    Malformed,
    /// More acknowledgements or errors than one request may carry.
    #[error("at most 1024 acknowledgements and errors in one request")]
    TooManyAcks,
}

/// An error a receiver reports for one token (RFC 8936 §2.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetError {
    /// The error code (RFC 8935 §2.4).
    pub err: String,
    /// Its description, if given.
    pub description: Option<String>,
}

/// A poll request (RFC 8936 §2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRequest {
    /// How many tokens to return, at most [`MAX_POLL_EVENTS`]; zero to acknowledge only.
    pub max_events: usize,
    /// Whether to answer at once even with nothing to return (no long polling).
    pub return_immediately: bool,
    /// Tokens the receiver accepted, by `jti`.
    pub ack: Vec<String>,
    /// Tokens the receiver rejected, by `jti`.
    pub set_errs: BTreeMap<String, SetError>,
}

impl PollRequest {
    /// Parses a request body; an empty body asks for the default.
    pub fn parse(body: &[u8]) -> Result<Self, PollError> {
        let value: Value = if body.iter().all(u8::is_ascii_whitespace) {
            Value::Object(Map::new())
        } else {
            serde_json::from_slice(body).map_err(|_| PollError::Malformed)?
        };
        let object = value.as_object().ok_or(PollError::Malformed)?;
        if object.keys().any(|name| {
            !["maxEvents", "returnImmediately", "ack", "setErrs"].contains(&name.as_str())
        }) {
            return Err(PollError::Malformed);
        }
        let max_events = match object.get("maxEvents") {
            None => MAX_POLL_EVENTS,
            Some(value) => usize::try_from(value.as_u64().ok_or(PollError::Malformed)?)
                .unwrap_or(usize::MAX)
                .min(MAX_POLL_EVENTS),
        };
        let return_immediately = match object.get("returnImmediately") {
            None => false,
            Some(value) => value.as_bool().ok_or(PollError::Malformed)?,
        };
        let jti = |value: &Value| {
            value
                .as_str()
                .filter(|text| !text.is_empty() && text.len() <= 128)
                .map(str::to_owned)
                .ok_or(PollError::Malformed)
        };
        let ack = match object.get("ack") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.iter().map(jti).collect::<Result<_, _>>()?,
            Some(_) => return Err(PollError::Malformed),
        };
        let mut set_errs = BTreeMap::new();
        match object.get("setErrs") {
            None => {}
            Some(Value::Object(errors)) => {
                for (id, error) in errors {
                    let err = error
                        .get("err")
                        .and_then(Value::as_str)
                        .ok_or(PollError::Malformed)?;
                    let description = error
                        .get("description")
                        .and_then(Value::as_str)
                        .map(|text| text.chars().take(255).collect());
                    set_errs.insert(
                        jti(&Value::String(id.clone()))?,
                        SetError {
                            err: err.chars().take(64).collect(),
                            description,
                        },
                    );
                }
            }
            Some(_) => return Err(PollError::Malformed),
        }
        if ack.len() + set_errs.len() > MAX_ACKS {
            return Err(PollError::TooManyAcks);
        }
        Ok(Self {
            max_events,
            return_immediately,
            ack,
            set_errs,
        })
    }
}

/// The answer to a poll (RFC 8936 §2.5): tokens by `jti`, and whether more are waiting.
pub fn poll_response(sets: &[(String, String)], more_available: bool) -> Value {
    let sets: Map<String, Value> = sets
        .iter()
        .map(|(jti, token)| (jti.clone(), Value::String(token.clone())))
        .collect();
    json!({"sets": sets, "moreAvailable": more_available})
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_full_request_parses() {
        let request = PollRequest::parse(
            br#"{"maxEvents": 5, "returnImmediately": true, "ack": ["a", "b"],
                 "setErrs": {"c": {"err": "invalid_key", "description": "kid"}}}"#,
        )
        .unwrap();
        assert_eq!(request.max_events, 5);
        assert!(request.return_immediately);
        assert_eq!(request.ack, vec!["a", "b"]);
        assert_eq!(request.set_errs["c"].err, "invalid_key");
    }

    #[test]
    fn defaults_and_limits() {
        let empty = PollRequest::parse(b"").unwrap();
        assert_eq!(empty.max_events, MAX_POLL_EVENTS);
        assert!(!empty.return_immediately);
        let huge = PollRequest::parse(br#"{"maxEvents": 100000}"#).unwrap();
        assert_eq!(huge.max_events, MAX_POLL_EVENTS);
        for bad in [
            &br#"[]"#[..],
            br#"{"maxEvents": -1}"#,
            br#"{"maxEvents": "5"}"#,
            br#"{"ack": "a"}"#,
            br#"{"ack": [1]}"#,
            br#"{"setErrs": {"a": {}}}"#,
            br#"{"other": 1}"#,
            b"{",
        ] {
            assert_eq!(
                PollRequest::parse(bad),
                Err(PollError::Malformed),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn the_answer_maps_jti_to_token() {
        let answer = poll_response(&[("j1".into(), "t1".into())], true);
        assert_eq!(answer, json!({"sets": {"j1": "t1"}, "moreAvailable": true}));
    }
}
