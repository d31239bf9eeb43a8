//! The events dinhdanh sends, and the claims of the security event token that carries one.

use serde_json::{Map, Value, json};

use crate::subject::SubjectId;

/// An event type (SSF §4.2, CAEP 1.0 §3, RISC 1.0 §2), named by its URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    /// RISC: the account may no longer be used (the person is deceased or suspended).
    AccountDisabled,
    /// RISC: the account may be used again (a suspension ended).
    AccountEnabled,
    /// CAEP §3.1: the person's sessions at the receiver should end.
    SessionRevoked,
    /// CAEP §3.3: a credential of the person changed.
    CredentialChange,
    /// CAEP §3.4: the person's e-ID level changed.
    AssuranceLevelChange,
    /// dinhdanh: a guardian withdrew or refused consent to a child's account.
    GuardianConsentRevoked,
    /// dinhdanh: the person crossed an age bracket (16 or 18).
    AgeBracketChanged,
    /// dinhdanh: a telecom line's status changed (a device change, a stage of the
    /// device-change timeline, a verification, a termination) or its holder reported it as
    /// not theirs; for the line's operator, about the line's number.
    LineStatusChanged,
    /// SSF §8.1.4.1: a stream's verification.
    Verification,
    /// SSF §8.1.5: a stream's status changed.
    StreamUpdated,
}

impl EventType {
    /// The types a receiver may request, in the order published.
    pub const REQUESTABLE: [EventType; 8] = [
        EventType::AccountDisabled,
        EventType::AccountEnabled,
        EventType::SessionRevoked,
        EventType::CredentialChange,
        EventType::AssuranceLevelChange,
        EventType::GuardianConsentRevoked,
        EventType::AgeBracketChanged,
        EventType::LineStatusChanged,
    ];

    /// The type's URI.
    pub fn uri(self) -> &'static str {
        match self {
            EventType::AccountDisabled => {
                "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
            }
            EventType::AccountEnabled => {
                "https://schemas.openid.net/secevent/risc/event-type/account-enabled"
            }
            EventType::SessionRevoked => {
                "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
            }
            EventType::CredentialChange => {
                "https://schemas.openid.net/secevent/caep/event-type/credential-change"
            }
            EventType::AssuranceLevelChange => {
                "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change"
            }
            EventType::GuardianConsentRevoked => {
                "urn:dinhdanh:secevent:event-type:guardian-consent-revoked"
            }
            EventType::AgeBracketChanged => "urn:dinhdanh:secevent:event-type:age-bracket-changed",
            EventType::LineStatusChanged => "urn:dinhdanh:secevent:event-type:line-status-changed",
            EventType::Verification => {
                "https://schemas.openid.net/secevent/ssf/event-type/verification"
            }
            EventType::StreamUpdated => {
                "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"
            }
        }
    }

    /// The type a URI names, if dinhdanh sends it.
    pub fn from_uri(uri: &str) -> Option<Self> {
        [EventType::Verification, EventType::StreamUpdated]
            .into_iter()
            .chain(Self::REQUESTABLE)
            .find(|kind| kind.uri() == uri)
    }

    /// A short stable name, for the store and the disclosure log.
    pub fn name(self) -> &'static str {
        match self {
            EventType::AccountDisabled => "account-disabled",
            EventType::AccountEnabled => "account-enabled",
            EventType::SessionRevoked => "session-revoked",
            EventType::CredentialChange => "credential-change",
            EventType::AssuranceLevelChange => "assurance-level-change",
            EventType::GuardianConsentRevoked => "guardian-consent-revoked",
            EventType::AgeBracketChanged => "age-bracket-changed",
            EventType::LineStatusChanged => "line-status-changed",
            EventType::Verification => "verification",
            EventType::StreamUpdated => "stream-updated",
        }
    }

    /// The type of a short name.
    pub fn from_name(name: &str) -> Option<Self> {
        [EventType::Verification, EventType::StreamUpdated]
            .into_iter()
            .chain(Self::REQUESTABLE)
            .find(|kind| kind.name() == name)
    }

    /// Whether the event goes to a stream whatever it requested: a stream's own verification
    /// and status events (SSF §8.1.4.1, §8.1.5).
    pub fn always_delivered(self) -> bool {
        matches!(self, EventType::Verification | EventType::StreamUpdated)
    }
}

/// A credential change (CAEP §3.3): which credential, and what happened to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialChange {
    /// `credential_type`: `password`, `app` (TOTP) or `fido2-platform`/`fido2-roaming`.
    pub credential_type: &'static str,
    /// `change_type`: `create`, `revoke`, `update` or `delete`.
    pub change_type: &'static str,
}

impl CredentialChange {
    /// The change named by its members, if both are values CAEP §3.3 defines.
    pub fn parse(credential_type: &str, change_type: &str) -> Option<Self> {
        let credential_type = [
            "password",
            "pin",
            "x509",
            "fido2-platform",
            "fido2-roaming",
            "fido-u2f",
            "verifiable-credential",
            "phone-voice",
            "phone-sms",
            "app",
        ]
        .into_iter()
        .find(|known| *known == credential_type)?;
        let change_type = ["create", "revoke", "update", "delete"]
            .into_iter()
            .find(|known| *known == change_type)?;
        Some(Self {
            credential_type,
            change_type,
        })
    }
}

/// Who started an event (CAEP §2 `initiating_entity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    /// An administrator.
    Admin,
    /// The person themselves.
    User,
    /// A rule of the transmitter's (a replayed token, say).
    Policy,
    /// The system itself.
    System,
}

impl Initiator {
    /// Its name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::User => "user",
            Self::Policy => "policy",
            Self::System => "system",
        }
    }

    /// The initiator of that name.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Admin, Self::User, Self::Policy, Self::System]
            .into_iter()
            .find(|initiator| initiator.as_str() == name)
    }
}

/// An e-ID level change (CAEP §3.4), as `acr` values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssuranceChange {
    /// The level before, as its `acr` value, if it was one.
    pub previous: Option<String>,
    /// The level now.
    pub current: String,
    /// Whether the level went up.
    pub increased: bool,
}

/// One event about one subject, before it becomes a token: its type, whom it is about and
/// the event's own members.
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityEvent {
    /// The event type.
    pub event_type: EventType,
    /// The subject (SSF §3.1, top-level `sub_id`).
    pub subject: SubjectId,
    /// The event's members (`events.<uri>`).
    pub payload: Map<String, Value>,
}

/// The CAEP common member `event_timestamp` (CAEP §2), in seconds.
fn at(seconds: i64) -> Map<String, Value> {
    let mut payload = Map::new();
    payload.insert("event_timestamp".into(), seconds.into());
    payload
}

impl SecurityEvent {
    fn new(event_type: EventType, subject: SubjectId, payload: Map<String, Value>) -> Self {
        Self {
            event_type,
            subject,
            payload,
        }
    }

    /// RISC `account-disabled`. No reason is given: the receiver needs to know that the
    /// account no longer stands for a living, active person, not why (least disclosure).
    pub fn account_disabled(subject: SubjectId, when: i64) -> Self {
        Self::new(EventType::AccountDisabled, subject, at(when))
    }

    /// RISC `account-enabled`.
    pub fn account_enabled(subject: SubjectId, when: i64) -> Self {
        Self::new(EventType::AccountEnabled, subject, at(when))
    }

    /// CAEP `session-revoked` (CAEP §3.1).
    pub fn session_revoked(subject: SubjectId, when: i64, initiator: Initiator) -> Self {
        let mut payload = at(when);
        payload.insert("initiating_entity".into(), initiator.as_str().into());
        Self::new(EventType::SessionRevoked, subject, payload)
    }

    /// CAEP `credential-change` (CAEP §3.3).
    pub fn credential_change(subject: SubjectId, when: i64, change: CredentialChange) -> Self {
        let mut payload = at(when);
        payload.insert("credential_type".into(), change.credential_type.into());
        payload.insert("change_type".into(), change.change_type.into());
        Self::new(EventType::CredentialChange, subject, payload)
    }

    /// CAEP `assurance-level-change` (CAEP §3.4) in the `RFC8176`-style namespace of this
    /// provider's `acr` values, which name the e-ID levels.
    pub fn assurance_level_change(subject: SubjectId, when: i64, change: AssuranceChange) -> Self {
        let mut payload = at(when);
        payload.insert("namespace".into(), "dinhdanh-eid".into());
        payload.insert("current_level".into(), change.current.into());
        if let Some(previous) = change.previous {
            payload.insert("previous_level".into(), previous.into());
            let direction = if change.increased {
                "increase"
            } else {
                "decrease"
            };
            payload.insert("change_direction".into(), direction.into());
        }
        Self::new(EventType::AssuranceLevelChange, subject, payload)
    }

    /// dinhdanh's guardian-consent-revoked: the binding `binding` no longer has a guardian's
    /// consent.
    pub fn guardian_consent_revoked(subject: SubjectId, when: i64, binding: &str) -> Self {
        let mut payload = at(when);
        payload.insert("binding".into(), binding.into());
        payload.insert("guardian_consent".into(), "revoked".into());
        Self::new(EventType::GuardianConsentRevoked, subject, payload)
    }

    /// dinhdanh's age-bracket-changed, with the brackets as they stand now.
    pub fn age_bracket_changed(
        subject: SubjectId,
        when: i64,
        age_over_16: bool,
        age_over_18: bool,
    ) -> Self {
        let mut payload = at(when);
        payload.insert("age_over_16".into(), age_over_16.into());
        payload.insert("age_over_18".into(), age_over_18.into());
        Self::new(EventType::AgeBracketChanged, subject, payload)
    }

    /// dinhdanh's line-status-changed: the line, its status before and after (the same for
    /// a holder's "not mine" report), and why.
    pub fn line_status_changed(
        subject: SubjectId,
        when: i64,
        subscription: &str,
        previous_status: &str,
        current_status: &str,
        cause: &str,
    ) -> Self {
        let mut payload = at(when);
        payload.insert("subscription".into(), subscription.into());
        payload.insert("previous_status".into(), previous_status.into());
        payload.insert("current_status".into(), current_status.into());
        payload.insert("cause".into(), cause.into());
        Self::new(EventType::LineStatusChanged, subject, payload)
    }

    /// SSF `verification` (§8.1.4.1), echoing the receiver's `state`.
    pub fn verification(stream_id: &str, state: Option<&str>) -> Self {
        let mut payload = Map::new();
        if let Some(state) = state {
            payload.insert("state".into(), state.into());
        }
        Self::new(
            EventType::Verification,
            SubjectId::Opaque {
                id: stream_id.to_owned(),
            },
            payload,
        )
    }

    /// SSF `stream-updated` (§8.1.5).
    pub fn stream_updated(stream_id: &str, status: &str, reason: Option<&str>) -> Self {
        let mut payload = Map::new();
        payload.insert("status".into(), status.into());
        if let Some(reason) = reason {
            payload.insert("reason".into(), reason.into());
        }
        Self::new(
            EventType::StreamUpdated,
            SubjectId::Opaque {
                id: stream_id.to_owned(),
            },
            payload,
        )
    }

    /// The event as stored: type, subject and members, without the envelope.
    pub fn to_stored(&self) -> Value {
        json!({
            "type": self.event_type.name(),
            "sub_id": self.subject.to_json(),
            "event": Value::Object(self.payload.clone()),
        })
    }

    /// The token's claims (RFC 8417 §2.2, SSF §4.1): `iss`, `iat`, `jti`, `aud`, `txn`,
    /// the top-level `sub_id` and `events` with exactly this event. No `sub` and no `exp`
    /// (SSF §4.1).
    pub fn claims(stored: &Value, issuer: &str, audience: &str, jti: &str, iat: i64) -> Value {
        let uri = stored
            .get("type")
            .and_then(Value::as_str)
            .and_then(EventType::from_name)
            .map_or("", EventType::uri);
        let mut events = Map::new();
        events.insert(
            uri.to_owned(),
            stored.get("event").cloned().unwrap_or_else(|| json!({})),
        );
        json!({
            "iss": issuer,
            "iat": iat,
            "jti": jti,
            "aud": audience,
            "txn": jti,
            "sub_id": stored.get("sub_id").cloned().unwrap_or(Value::Null),
            "events": events,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn credential_changes_and_initiators_take_only_caep_values() {
        let change = CredentialChange::parse("password", "update").unwrap();
        assert_eq!(
            (change.credential_type, change.change_type),
            ("password", "update")
        );
        assert!(CredentialChange::parse("passwd", "update").is_none());
        assert!(CredentialChange::parse("app", "rotate").is_none());
        for initiator in [
            Initiator::Admin,
            Initiator::User,
            Initiator::Policy,
            Initiator::System,
        ] {
            assert_eq!(Initiator::parse(initiator.as_str()), Some(initiator));
        }
        assert_eq!(Initiator::parse("robot"), None);
    }

    #[test]
    fn every_type_round_trips_by_uri_and_name() {
        for kind in EventType::REQUESTABLE
            .into_iter()
            .chain([EventType::Verification, EventType::StreamUpdated])
        {
            assert_eq!(EventType::from_uri(kind.uri()), Some(kind));
            assert_eq!(EventType::from_name(kind.name()), Some(kind));
        }
        assert_eq!(EventType::from_uri("urn:example:other"), None);
    }

    #[test]
    fn a_token_has_one_event_a_top_level_subject_and_no_sub_or_exp() {
        let subject = SubjectId::IssSub {
            iss: "https://id.example".into(),
            sub: "abc".into(),
        };
        let event = SecurityEvent::account_disabled(subject.clone(), 1_700_000_000);
        let claims = SecurityEvent::claims(
            &event.to_stored(),
            "https://id.example",
            "client-1",
            "jti-1",
            1_700_000_001,
        );
        assert_eq!(claims["iss"], "https://id.example");
        assert_eq!(claims["aud"], "client-1");
        assert_eq!(claims["jti"], "jti-1");
        assert_eq!(claims["iat"], 1_700_000_001);
        assert_eq!(claims["sub_id"], subject.to_json());
        assert!(claims.get("sub").is_none() && claims.get("exp").is_none());
        let events = claims["events"].as_object().unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[EventType::AccountDisabled.uri()]["event_timestamp"],
            1_700_000_000
        );
    }

    #[test]
    fn an_assurance_change_says_which_way() {
        let subject = SubjectId::Opaque { id: "x".into() };
        let event = SecurityEvent::assurance_level_change(
            subject,
            1,
            AssuranceChange {
                previous: Some("level1".into()),
                current: "level2".into(),
                increased: true,
            },
        );
        assert_eq!(event.payload["change_direction"], "increase");
        assert_eq!(event.payload["previous_level"], "level1");
        assert_eq!(event.payload["namespace"], "dinhdanh-eid");
    }
}
