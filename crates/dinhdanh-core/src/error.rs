//! The error every parser and rule of this crate returns.
//!
//! Owns the client-facing wording and the stable slug of each failure. Messages describe the
//! rule that was broken and must never repeat the value that broke it: identifiers, names and
//! birth dates are personal data and errors end up in responses and logs.

/// Why a value was refused as a domain identifier or attribute.
///
/// Every variant is a caller mistake (bad input); this crate has no internal faults.
/// The `Display` text is safe to show to API clients; [`IdentifierError::code`] is a stable
/// slug for machine use (problem `type` URIs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum IdentifierError {
    /// The citizen number is not exactly 12 ASCII digits.
    #[error("citizen number must be 12 digits")]
    CitizenNumberFormat,
    /// The first three digits of the citizen number are not a birth-registration province code.
    #[error("unknown birth-registration province code")]
    CitizenNumberProvince,
    /// The century digit of the citizen number gives a different century from the birth date.
    #[error("century digit contradicts the birth date")]
    CitizenNumberCentury,
    /// The two birth-year digits of the citizen number differ from the birth date's year.
    #[error("birth-year digits contradict the birth date")]
    CitizenNumberBirthYear,
    /// The sex encoded in the citizen number differs from the stated sex.
    #[error("sex digit contradicts the stated sex")]
    CitizenNumberSex,
    /// A citizen number was to be composed for a year it cannot encode (before 1900 or after 2399).
    #[error("a citizen number can only encode birth years 1900 to 2399")]
    CitizenNumberYear,
    /// A citizen number was to be composed with a serial of more than six digits.
    #[error("citizen number serial must be at most six digits")]
    CitizenNumberSerial,
    /// The mobile network name is not one of the known networks.
    #[error("unknown mobile network")]
    MobileNetwork,
    /// The phone number has letters or other stray characters, or the wrong number of digits.
    #[error("phone number must be a 10-digit national number or +84 followed by 9 digits")]
    MsisdnFormat,
    /// The phone number is well formed but not a Vietnamese mobile number (landline, foreign
    /// number, or a prefix not allocated to a mobile network).
    #[error("not a Vietnamese mobile number")]
    MsisdnNotMobile,
    /// The tax code is neither 10 digits nor 10 digits, a hyphen and a 3-digit unit number.
    #[error("tax code must be 10 digits, or 10 digits, '-' and a 3-digit unit number from 001")]
    TaxCodeFormat,
    /// The person name is empty, too long, or has characters other than letters, spaces,
    /// apostrophes, hyphens and periods.
    #[error(
        "person name must be 1 to 100 characters: letters, spaces, apostrophes, hyphens and periods"
    )]
    PersonName,
    /// The birth date is not a real `YYYY-MM-DD` date, or is before 1900.
    #[error("birth date must be a valid YYYY-MM-DD date from 1900 on")]
    BirthDate,
    /// The sex is not one of the known values.
    #[error("sex must be \"male\" or \"female\"")]
    Sex,
    /// The e-ID level is not 0, 1 or 2.
    #[error("e-ID level must be 0, 1 or 2")]
    EidLevel,
    /// The person status is not one of the known values.
    #[error("person status must be \"active\", \"deceased\" or \"suspended\"")]
    PersonStatus,
    /// The organisation kind is not one of the known values.
    #[error("unknown organisation kind")]
    OrganisationKind,
    /// A binding status is not one of the known ones.
    #[error(
        "binding status must be \"active\", \"pending_guardian\", \"refused\", \"unlinked\" or \"disputed\""
    )]
    BindingStatus,
    /// A guardian consent state is not one of the known ones.
    #[error("guardian consent must be \"pending\", \"approved\", \"denied\" or \"revoked\"")]
    GuardianConsent,
    /// The age bracket is not one of the known values.
    #[error("age bracket must be \"under_13\", \"13_15\", \"16_17\" or \"adult\"")]
    AgeBracket,
}

impl IdentifierError {
    /// A stable kebab-case slug naming the variant, for problem `type` URIs and metrics.
    ///
    /// Slugs never change once published; a new kind of failure gets a new slug.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CitizenNumberFormat => "citizen-number-format",
            Self::CitizenNumberProvince => "citizen-number-province",
            Self::CitizenNumberCentury => "citizen-number-century",
            Self::CitizenNumberBirthYear => "citizen-number-birth-year",
            Self::CitizenNumberSex => "citizen-number-sex",
            Self::CitizenNumberYear => "citizen-number-year",
            Self::CitizenNumberSerial => "citizen-number-serial",
            Self::MobileNetwork => "mobile-network",
            Self::MsisdnFormat => "msisdn-format",
            Self::MsisdnNotMobile => "msisdn-not-mobile",
            Self::TaxCodeFormat => "tax-code-format",
            Self::PersonName => "person-name",
            Self::BirthDate => "birth-date",
            Self::Sex => "sex",
            Self::EidLevel => "eid-level",
            Self::PersonStatus => "person-status",
            Self::OrganisationKind => "organisation-kind",
            Self::BindingStatus => "binding-status",
            Self::GuardianConsent => "guardian-consent",
            Self::AgeBracket => "age-bracket",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IdentifierError as E;
    use std::collections::HashSet;

    const ALL: [E; 20] = [
        E::CitizenNumberFormat,
        E::CitizenNumberProvince,
        E::CitizenNumberCentury,
        E::CitizenNumberBirthYear,
        E::CitizenNumberSex,
        E::CitizenNumberYear,
        E::CitizenNumberSerial,
        E::MobileNetwork,
        E::MsisdnFormat,
        E::MsisdnNotMobile,
        E::TaxCodeFormat,
        E::PersonName,
        E::BirthDate,
        E::Sex,
        E::EidLevel,
        E::PersonStatus,
        E::OrganisationKind,
        E::BindingStatus,
        E::GuardianConsent,
        E::AgeBracket,
    ];

    #[test]
    fn codes_are_unique_kebab_case_slugs() {
        let codes: HashSet<_> = ALL.iter().map(E::code).collect();
        assert_eq!(codes.len(), ALL.len());
        for code in codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{code} is not kebab-case"
            );
        }
    }

    #[test]
    fn codes_published_to_the_http_layer_are_stable() {
        assert_eq!(E::CitizenNumberFormat.code(), "citizen-number-format");
        assert_eq!(E::CitizenNumberProvince.code(), "citizen-number-province");
        assert_eq!(E::CitizenNumberCentury.code(), "citizen-number-century");
        assert_eq!(E::CitizenNumberSex.code(), "citizen-number-sex");
        assert_eq!(E::MsisdnFormat.code(), "msisdn-format");
        assert_eq!(E::MsisdnNotMobile.code(), "msisdn-not-mobile");
        assert_eq!(E::TaxCodeFormat.code(), "tax-code-format");
        assert_eq!(E::PersonName.code(), "person-name");
        assert_eq!(E::BirthDate.code(), "birth-date");
        assert_eq!(E::EidLevel.code(), "eid-level");
    }

    #[test]
    fn messages_are_non_empty_and_distinct() {
        let messages: HashSet<_> = ALL.iter().map(ToString::to_string).collect();
        assert_eq!(messages.len(), ALL.len());
        assert_eq!(
            E::CitizenNumberFormat.to_string(),
            "citizen number must be 12 digits"
        );
        assert_eq!(
            E::MsisdnNotMobile.to_string(),
            "not a Vietnamese mobile number"
        );
    }
}
