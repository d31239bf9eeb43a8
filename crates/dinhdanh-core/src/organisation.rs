//! The kinds of organisation in the identity graph.
//!
//! Owns the vocabulary and its wire form; what each kind may do is decided elsewhere.

use crate::IdentifierError;

/// What kind of body an organisation is.
///
/// Serialised in snake case: `"ministry"`, `"province"`, `"agency"`, `"telecom_operator"`,
/// `"platform"`, `"registrar"`, `"enterprise"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrganisationKind {
    /// A ministry of the government.
    Ministry,
    /// A provincial or city people's committee.
    Province,
    /// Another state agency.
    Agency,
    /// A mobile or fixed telecommunications operator.
    TelecomOperator,
    /// An online platform (social network, marketplace, …) acting as a relying party.
    Platform,
    /// A domain-name or Internet-resource registrar.
    Registrar,
    /// Any other enterprise.
    Enterprise,
}

str_enum!(OrganisationKind, IdentifierError::OrganisationKind, "an organisation kind", {
    Ministry => "ministry",
    Province => "province",
    Agency => "agency",
    TelecomOperator => "telecom_operator",
    Platform => "platform",
    Registrar => "registrar",
    Enterprise => "enterprise",
});

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::OrganisationKind;
    use crate::IdentifierError;

    #[test]
    fn every_kind_round_trips() {
        assert_eq!(OrganisationKind::ALL.len(), 7);
        for kind in OrganisationKind::ALL {
            assert_eq!(kind.as_str().parse::<OrganisationKind>(), Ok(*kind));
            let json = serde_json::to_string(kind).unwrap();
            assert_eq!(json, format!("\"{}\"", kind.as_str()));
            assert_eq!(
                serde_json::from_str::<OrganisationKind>(&json).unwrap(),
                *kind
            );
        }
    }

    #[test]
    fn telecom_operator_is_snake_case() {
        assert_eq!(
            OrganisationKind::TelecomOperator.to_string(),
            "telecom_operator"
        );
        assert_eq!(
            "TelecomOperator".parse::<OrganisationKind>(),
            Err(IdentifierError::OrganisationKind)
        );
        assert_eq!(
            "telecom-operator".parse::<OrganisationKind>(),
            Err(IdentifierError::OrganisationKind)
        );
    }
}
