//! Scopes and what each one releases.
//!
//! A relying party asks for scopes; each names a small set of claims. Scopes that release
//! personal data beyond "a verified person of some age" need the person's consent, and the birth
//! date needs it explicitly (DESIGN §5).

use std::collections::BTreeSet;
use std::fmt;

/// A scope this provider knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `openid`: this is an OpenID Connect request (OIDC Core §3.1.2.1); releases `sub`.
    OpenId,
    /// `verified`: the person is real, living and verified.
    Verified,
    /// `age`: `age_over_13`, `age_over_16`, `age_over_18`, nothing else.
    Age,
    /// `profile`: the person's name.
    Profile,
    /// `phone`: a verified mobile number.
    Phone,
    /// `birthdate`: the birth date itself.
    Birthdate,
    /// `offline_access`: a refresh token (OIDC Core §11).
    OfflineAccess,
}

/// How a person must agree before a scope's claims are released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Consent {
    /// Released to a client allowed the scope, without asking.
    NotAsked,
    /// Listed on the consent page; the person approves the page.
    Asked,
    /// Its own box on the consent page, unticked until the person ticks it.
    Explicit,
}

impl Scope {
    /// Every scope, in the order the consent page lists them.
    pub const ALL: [Scope; 7] = [
        Scope::OpenId,
        Scope::Verified,
        Scope::Age,
        Scope::Profile,
        Scope::Phone,
        Scope::Birthdate,
        Scope::OfflineAccess,
    ];

    /// The scope's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Verified => "verified",
            Scope::Age => "age",
            Scope::Profile => "profile",
            Scope::Phone => "phone",
            Scope::Birthdate => "birthdate",
            Scope::OfflineAccess => "offline_access",
        }
    }

    /// The claims the scope releases (in ID tokens and at userinfo).
    pub fn claims(self) -> &'static [&'static str] {
        match self {
            Scope::OpenId | Scope::OfflineAccess => &[],
            Scope::Verified => &["verified"],
            Scope::Age => &["age_over_13", "age_over_16", "age_over_18"],
            Scope::Profile => &["name"],
            Scope::Phone => &["phone_number", "phone_number_verified"],
            Scope::Birthdate => &["birthdate"],
        }
    }

    /// How the person must agree.
    pub fn consent(self) -> Consent {
        match self {
            Scope::OpenId | Scope::Verified | Scope::Age => Consent::NotAsked,
            Scope::Profile | Scope::Phone | Scope::OfflineAccess => Consent::Asked,
            Scope::Birthdate => Consent::Explicit,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a scope parameter was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeError {
    /// A scope this provider does not know (its name, cut to 40 characters).
    #[error("unknown scope \"{0}\"")]
    Unknown(String),
    /// The parameter is not a space-separated list of scope tokens (RFC 6749 §3.3).
    #[error("the scope parameter is malformed")]
    Malformed,
}

/// A set of known scopes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// Parses a `scope` parameter: scope tokens separated by single spaces (RFC 6749 §3.3).
    /// A repeated scope counts once.
    pub fn parse(text: &str) -> Result<Self, ScopeError> {
        let mut scopes = BTreeSet::new();
        for token in text.split(' ') {
            // RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
            if token.is_empty()
                || !token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
            {
                return Err(ScopeError::Malformed);
            }
            let scope = Scope::ALL
                .into_iter()
                .find(|scope| scope.as_str() == token)
                .ok_or_else(|| ScopeError::Unknown(token.chars().take(40).collect()))?;
            scopes.insert(scope);
        }
        Ok(Self(scopes))
    }

    /// A set from these scopes.
    pub fn from_scopes(scopes: impl IntoIterator<Item = Scope>) -> Self {
        Self(scopes.into_iter().collect())
    }

    /// Whether the set holds `scope`.
    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    /// The scopes, in a fixed order.
    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }

    /// Whether every scope here is also in `other`.
    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    /// The scopes in both sets.
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&other.0).copied().collect())
    }

    /// The claim names these scopes release.
    pub fn claims(&self) -> Vec<&'static str> {
        self.iter()
            .flat_map(|scope| scope.claims().iter().copied())
            .collect()
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in self.iter() {
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
    fn parses_known_scopes_once_each() {
        let scopes = Scopes::parse("openid age age verified").unwrap();
        assert_eq!(scopes.to_string(), "openid verified age");
        assert_eq!(
            scopes.claims(),
            ["verified", "age_over_13", "age_over_16", "age_over_18"]
        );
    }

    #[test]
    fn refuses_unknown_and_malformed_scopes() {
        assert_eq!(
            Scopes::parse("openid email"),
            Err(ScopeError::Unknown("email".into()))
        );
        for bad in [
            "",
            "openid  age",
            " openid",
            "openid\tage",
            "open\"id",
            "openid\\",
        ] {
            assert_eq!(Scopes::parse(bad), Err(ScopeError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn the_birth_date_needs_explicit_consent_and_age_none() {
        assert_eq!(Scope::Birthdate.consent(), Consent::Explicit);
        assert_eq!(Scope::Profile.consent(), Consent::Asked);
        assert_eq!(Scope::Age.consent(), Consent::NotAsked);
        // `age` never releases a birth date or a name.
        assert!(!Scope::Age.claims().contains(&"birthdate"));
        assert!(!Scope::Age.claims().contains(&"name"));
    }
}
