//! Service scopes: what a client may do through the platform's own APIs with an access token
//! of its own, from the client credentials grant (RFC 6749 §4.4), with no person involved.
//!
//! Which scopes a client may hold follows from the kind of organisation it belongs to, as the
//! registry records it: a platform registers and checks its accounts' bindings, a telecom
//! operator its subscribers. No registration flag can widen that.

use std::collections::BTreeSet;
use std::fmt;

use dinhdanh_core::OrganisationKind;

use crate::ScopeError;

/// A scope of the platform's service APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServiceScope {
    /// `bindings`: register that an account belongs to a pairwise subject, and ask whether
    /// the binding still holds.
    Bindings,
    /// `subscribers`: register and check telecom subscriptions.
    Subscribers,
    /// `signals`: manage Shared Signals streams and poll their events.
    Signals,
}

impl ServiceScope {
    /// Every service scope.
    pub const ALL: [ServiceScope; 3] = [
        ServiceScope::Bindings,
        ServiceScope::Subscribers,
        ServiceScope::Signals,
    ];

    /// The scope's token.
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceScope::Bindings => "bindings",
            ServiceScope::Subscribers => "subscribers",
            ServiceScope::Signals => "signals",
        }
    }

    /// Whether a client of an organisation of this kind may hold the scope.
    pub fn allowed_for(self, kind: OrganisationKind) -> bool {
        matches!(
            (self, kind),
            (ServiceScope::Bindings, OrganisationKind::Platform)
                | (ServiceScope::Subscribers, OrganisationKind::TelecomOperator)
                | (
                    ServiceScope::Signals,
                    OrganisationKind::Platform | OrganisationKind::TelecomOperator
                )
        )
    }
}

impl fmt::Display for ServiceScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of service scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceScopes(BTreeSet<ServiceScope>);

impl ServiceScopes {
    /// Parses a `scope` parameter of service scopes (RFC 6749 §3.3: tokens separated by single
    /// spaces). Unknown scopes are refused by name (cut to 40 characters).
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        if text.is_empty() || text.starts_with(' ') || text.ends_with(' ') || text.contains("  ") {
            return Err(ScopeError::Malformed);
        }
        let mut scopes = BTreeSet::new();
        for token in text.split(' ') {
            let scope = ServiceScope::ALL
                .into_iter()
                .find(|scope| scope.as_str() == token)
                .ok_or_else(|| ScopeError::Unknown(token.chars().take(40).collect()))?;
            scopes.insert(scope);
        }
        Ok(Self(scopes))
    }

    /// Every scope an organisation of this kind may hold.
    pub fn allowed_for(kind: OrganisationKind) -> Self {
        Self(
            ServiceScope::ALL
                .into_iter()
                .filter(|scope| scope.allowed_for(kind))
                .collect(),
        )
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: ServiceScope) -> bool {
        self.0.contains(&scope)
    }

    /// Whether every scope of `self` is in `other`.
    pub fn is_subset(&self, other: &ServiceScopes) -> bool {
        self.0.is_subset(&other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ServiceScopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_organisation_kind_decides_what_a_client_may_hold() {
        let platform = ServiceScopes::allowed_for(OrganisationKind::Platform);
        assert!(platform.contains(ServiceScope::Bindings));
        assert!(platform.contains(ServiceScope::Signals));
        assert!(!platform.contains(ServiceScope::Subscribers));
        let operator = ServiceScopes::allowed_for(OrganisationKind::TelecomOperator);
        assert_eq!(operator.to_string(), "subscribers signals");
        assert!(ServiceScopes::allowed_for(OrganisationKind::Ministry).is_empty());
    }

    #[test]
    fn scope_parameters_parse_strictly() {
        let both = ServiceScopes::parse("subscribers bindings bindings").unwrap();
        assert_eq!(both.to_string(), "bindings subscribers");
        assert!(ServiceScopes::parse("bindings").unwrap().is_subset(&both));
        assert!(!both.is_subset(&ServiceScopes::parse("bindings").unwrap()));
        for bad in ["", " bindings", "bindings ", "bindings  subscribers"] {
            assert_eq!(
                ServiceScopes::parse(bad),
                Err(ScopeError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            ServiceScopes::parse("bindings openid"),
            Err(ScopeError::Unknown("openid".to_owned()))
        );
    }
}
