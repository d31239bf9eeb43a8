//! The device-change timeline (Circular 08/2026): when a SIM moves to another device, the
//! line's outgoing service is suspended until the subscriber verifies again; after
//! [`BLOCK_AFTER_DAYS`] days unverified it is blocked both ways, and [`TERMINATE_AFTER_DAYS`]
//! days later terminated. Verifying again restores a suspended or blocked line; termination
//! is final.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// Days a line may stay unverified after a device change before it is blocked both ways.
pub const BLOCK_AFTER_DAYS: i64 = 30;
/// Days a blocked line waits for verification before it is terminated.
pub const TERMINATE_AFTER_DAYS: i64 = 5;

/// Where a line stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineStatus {
    /// In service.
    Active,
    /// Moved to another device and not verified since: incoming calls only.
    OutgoingSuspended,
    /// Unverified for [`BLOCK_AFTER_DAYS`] days: no service either way.
    Blocked,
    /// Unverified for [`TERMINATE_AFTER_DAYS`] more days: the subscription has ended.
    Terminated,
}

impl LineStatus {
    /// Its stable name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::OutgoingSuspended => "outgoing_suspended",
            Self::Blocked => "blocked",
            Self::Terminated => "terminated",
        }
    }
}

/// A change of a line's status, and when it took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The status before.
    pub from: LineStatus,
    /// The status after.
    pub to: LineStatus,
    /// When it took effect.
    pub at: Timestamp,
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

/// When each stage after a device change at `changed` begins: suspended at once, blocked
/// after [`BLOCK_AFTER_DAYS`], terminated [`TERMINATE_AFTER_DAYS`] days after that.
fn stages(changed: Timestamp) -> [(LineStatus, Timestamp); 3] {
    let blocked = changed
        .checked_add(days(BLOCK_AFTER_DAYS))
        .unwrap_or(Timestamp::MAX);
    let terminated = blocked
        .checked_add(days(TERMINATE_AFTER_DAYS))
        .unwrap_or(Timestamp::MAX);
    [
        (LineStatus::OutgoingSuspended, changed),
        (LineStatus::Blocked, blocked),
        (LineStatus::Terminated, terminated),
    ]
}

/// Where a line stands at `now`, given its last device change not verified since
/// (`None` when the subscriber verified after the last change, or none happened), and the
/// transitions it went through after `since` up to `now`, in order. A scheduler that last
/// looked at `since` applies exactly these; one that looks again at the same `now` finds none.
pub fn line_status(
    unverified_change: Option<Timestamp>,
    since: Timestamp,
    now: Timestamp,
) -> (LineStatus, Vec<Transition>) {
    let Some(changed) = unverified_change else {
        return (LineStatus::Active, Vec::new());
    };
    let mut status = LineStatus::Active;
    let mut transitions = Vec::new();
    for (stage, begins) in stages(changed) {
        if begins > now {
            break;
        }
        if begins > since {
            transitions.push(Transition {
                from: status,
                to: stage,
                at: begins,
            });
        }
        status = stage;
    }
    (status, transitions)
}

/// When a line that went through a device change at `changed` and stands at `status` moves
/// next: the start of the stage after `status`, or `None` from termination on (and for an
/// active line, whose next stage waits for a device change).
pub fn next_transition_at(changed: Timestamp, status: LineStatus) -> Option<Timestamp> {
    if status == LineStatus::Active {
        return None;
    }
    stages(changed)
        .into_iter()
        .find(|(stage, _)| *stage > status)
        .map(|(_, begins)| begins)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(day: i64) -> Timestamp {
        "2026-03-01T08:00:00Z".parse::<Timestamp>().unwrap() + days(day)
    }

    #[test]
    fn a_device_change_suspends_then_blocks_then_terminates() {
        let changed = Some(at(0));
        let status = |now| line_status(changed, now, now).0;
        assert_eq!(line_status(None, at(0), at(90)).0, LineStatus::Active);
        assert_eq!(status(at(0)), LineStatus::OutgoingSuspended);
        assert_eq!(status(at(29)), LineStatus::OutgoingSuspended);
        assert_eq!(status(at(30)), LineStatus::Blocked);
        assert_eq!(status(at(34)), LineStatus::Blocked);
        assert_eq!(status(at(35)), LineStatus::Terminated);
        assert_eq!(status(at(400)), LineStatus::Terminated);
        // A second before the 30th day, still suspended.
        assert_eq!(
            status(at(30) - SignedDuration::from_secs(1)),
            LineStatus::OutgoingSuspended
        );
    }

    #[test]
    fn a_scheduler_sees_each_transition_once_whenever_it_looks() {
        let changed = Some(at(0));
        // One look after everything: all three transitions, in order.
        let (status, all) = line_status(changed, at(0) - days(1), at(40));
        assert_eq!(status, LineStatus::Terminated);
        assert_eq!(
            all.iter().map(|t| (t.from, t.to, t.at)).collect::<Vec<_>>(),
            [
                (LineStatus::Active, LineStatus::OutgoingSuspended, at(0)),
                (LineStatus::OutgoingSuspended, LineStatus::Blocked, at(30)),
                (LineStatus::Blocked, LineStatus::Terminated, at(35)),
            ]
        );
        // Daily looks: the same transitions, spread over the days, none twice.
        let mut seen = Vec::new();
        for day in 0..40 {
            seen.extend(line_status(changed, at(day - 1), at(day)).1);
        }
        assert_eq!(seen, all);
        assert!(line_status(changed, at(40), at(40)).1.is_empty());
    }

    #[test]
    fn the_next_stage_follows_the_status() {
        let next = |status| next_transition_at(at(0), status);
        assert_eq!(next(LineStatus::Active), None);
        assert_eq!(next(LineStatus::OutgoingSuspended), Some(at(30)));
        assert_eq!(next(LineStatus::Blocked), Some(at(35)));
        assert_eq!(next(LineStatus::Terminated), None);
    }
}
