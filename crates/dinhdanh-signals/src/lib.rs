#![doc = include_str!("../README.md")]

mod event;
mod poll;
mod push;
mod stream;
mod subject;

pub use event::{AssuranceChange, CredentialChange, EventType, Initiator, SecurityEvent};
pub use poll::{MAX_POLL_EVENTS, PollError, PollRequest, SetError, poll_response};
pub use push::{Backoff, PushOutcome, push_outcome};
pub use stream::{
    Delivery, POLL_METHOD, PUSH_METHOD, StreamConfig, StreamError, StreamRequest, StreamStatus,
};
pub use subject::{SubjectError, SubjectId};
