//! Platform accounts bound to verified people: how many one person may hold on a platform,
//! and when a binding waits for a guardian.

/// At most this many accounts per person per platform unless configured otherwise. No
/// Vietnamese rule fixes a number: Decree 147/2024/ND-CP requires that social-network
/// accounts be authenticated against a person's identity, and leaves a limit to policy.
pub const DEFAULT_ACCOUNTS_PER_PLATFORM: u32 = 5;

/// Below this age an account is registered and supervised by a parent or guardian (Decree
/// 147/2024/ND-CP, in the project's reading): its binding waits for a guardian's consent.
pub const GUARDIAN_CONSENT_BELOW: u16 = 16;

/// Where a binding stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BindingStatus {
    /// The account belongs to a verified person and may be used.
    Active,
    /// The person is under 16: a guardian must approve first.
    PendingGuardian,
    /// A guardian refused it, or withdrew an approval. It no longer counts towards the
    /// person's limit, and stays refused until a guardian approves or the platform binds the
    /// account again.
    Refused,
    /// The person or the platform unlinked it.
    Unlinked,
    /// The person reported that the account is not theirs.
    Disputed,
}

str_enum!(BindingStatus, crate::IdentifierError::BindingStatus, "a binding status", {
    Active => "active",
    PendingGuardian => "pending_guardian",
    Refused => "refused",
    Unlinked => "unlinked",
    Disputed => "disputed",
});

impl BindingStatus {
    /// Whether a binding in this status counts towards the person's limit on the platform.
    pub fn counts_towards_limit(self) -> bool {
        matches!(self, BindingStatus::Active | BindingStatus::PendingGuardian)
    }

    /// Whether the binding still stands between the platform and the person: neither
    /// unlinked nor reported as not theirs.
    pub fn stands(self) -> bool {
        !matches!(self, BindingStatus::Unlinked | BindingStatus::Disputed)
    }
}

/// A guardian's answer about a child's binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuardianConsent {
    /// Nobody has answered yet.
    Pending,
    /// A guardian approved.
    Approved,
    /// A guardian refused.
    Denied,
    /// A guardian approved, then withdrew it.
    Revoked,
}

str_enum!(GuardianConsent, crate::IdentifierError::GuardianConsent, "a guardian consent state", {
    Pending => "pending",
    Approved => "approved",
    Denied => "denied",
    Revoked => "revoked",
});

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_only_live_ones_count() {
        for status in BindingStatus::ALL {
            assert_eq!(status.as_str().parse::<BindingStatus>().unwrap(), *status);
        }
        assert!(BindingStatus::PendingGuardian.counts_towards_limit());
        assert!(!BindingStatus::Unlinked.counts_towards_limit());
        assert!(!BindingStatus::Refused.counts_towards_limit());
        assert!(BindingStatus::Refused.stands() && !BindingStatus::Disputed.stands());
        assert!("Active".parse::<BindingStatus>().is_err());
        for consent in GuardianConsent::ALL {
            assert_eq!(
                consent.as_str().parse::<GuardianConsent>().unwrap(),
                *consent
            );
        }
    }
}
