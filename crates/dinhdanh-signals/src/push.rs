//! Push delivery (RFC 8935): what the receiver's answer means, and when to try again.

use std::time::Duration;

/// What a push answer means for the token (RFC 8935 §2.2–2.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    /// 202 (or another 2xx): delivered; never sent again.
    Delivered,
    /// The receiver could not take it now (a server error, a timeout, an authentication or
    /// key problem that may clear): try again later.
    Retry(String),
    /// The receiver rejected this token for what it is (`invalid_request`, `invalid_issuer`,
    /// `invalid_audience`, `invalid_state`): sending it again would get the same answer.
    Rejected(String),
}

/// Reads a push answer: its status and, for a 400, the `err` code of its JSON body.
pub fn push_outcome(status: u16, body: &[u8]) -> PushOutcome {
    if (200..300).contains(&status) {
        return PushOutcome::Delivered;
    }
    if status == 400 {
        let err = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|value| {
                value
                    .get("err")
                    .and_then(|err| err.as_str())
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "invalid_request".to_owned());
        return match err.as_str() {
            // Keys propagate, credentials get fixed: these may clear.
            "invalid_key" | "authentication_failed" | "access_denied" => PushOutcome::Retry(err),
            _ => PushOutcome::Rejected(err.chars().take(64).collect()),
        };
    }
    PushOutcome::Retry(format!("HTTP {status}"))
}

/// Exponential backoff between push attempts: `base` doubled for each failed attempt, at
/// most `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub base: Duration,
    /// The longest wait.
    pub cap: Duration,
}

impl Backoff {
    /// The wait after `failures` failed attempts (one or more).
    pub fn delay(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        self.base
            .checked_mul(1u32 << doublings)
            .map_or(self.cap, |delay| delay.min(self.cap))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_to_outcomes() {
        assert_eq!(push_outcome(202, b""), PushOutcome::Delivered);
        assert_eq!(
            push_outcome(503, b""),
            PushOutcome::Retry("HTTP 503".into())
        );
        assert_eq!(
            push_outcome(400, br#"{"err":"invalid_audience"}"#),
            PushOutcome::Rejected("invalid_audience".into())
        );
        assert_eq!(
            push_outcome(400, br#"{"err":"invalid_key"}"#),
            PushOutcome::Retry("invalid_key".into())
        );
        assert_eq!(
            push_outcome(400, b"not json"),
            PushOutcome::Rejected("invalid_request".into())
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let backoff = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        assert_eq!(backoff.delay(1), Duration::from_secs(1));
        assert_eq!(backoff.delay(2), Duration::from_secs(2));
        assert_eq!(backoff.delay(4), Duration::from_secs(8));
        assert_eq!(backoff.delay(7), Duration::from_secs(60));
        assert_eq!(backoff.delay(u32::MAX), Duration::from_secs(60));
    }
}
