//! The records the store keeps, as typed values. Values that reach the store have already been
//! parsed into `dinhdanh-core` types at the edge; the constructors here enforce the rules that
//! span several fields.

use std::fmt;
use std::str::FromStr;

use dinhdanh_core::{
    BirthDate, CitizenNumber, EidLevel, IdentifierError, OrganisationKind, PersonName,
    PersonStatus, Sex, TaxCode,
};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7).
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            /// The id as a UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// The internal id of a person. Never given to a relying party.
    PersonId
);
id_type!(
    /// The internal id of an organisation.
    OrganisationId
);
id_type!(
    /// The id of an operator API token (not the token itself).
    OperatorTokenId
);
id_type!(
    /// The id of a disclosure record, given to the recipient with the data it covers.
    DisclosureId
);
id_type!(
    /// The id of a telecom subscription.
    SubscriptionId
);

/// The personal fields of a person: the data that is sealed at rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalData {
    /// The 12-digit personal identification number.
    pub citizen_number: CitizenNumber,
    /// Full name, NFC.
    pub name: PersonName,
    /// Date of birth.
    pub birth_date: BirthDate,
    /// Sex as registered.
    pub sex: Sex,
}

impl PersonalData {
    /// Checks that the citizen number agrees with the birth date and sex (century digit, year
    /// digits, sex digit) and that the birth date is not after `today`.
    pub fn new(
        citizen_number: CitizenNumber,
        name: PersonName,
        birth_date: BirthDate,
        sex: Sex,
        today: jiff::civil::Date,
    ) -> Result<Self, PersonRuleError> {
        if birth_date.is_after(today) {
            return Err(PersonRuleError::BirthDateInFuture);
        }
        citizen_number
            .check_consistent(&birth_date, Some(sex))
            .map_err(PersonRuleError::Identifier)?;
        Ok(Self {
            citizen_number,
            name,
            birth_date,
            sex,
        })
    }
}

/// A rule that a person's fields broke together.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PersonRuleError {
    /// The birth date is after today (Asia/Ho_Chi_Minh).
    #[error("birth date is in the future")]
    BirthDateInFuture,
    /// The citizen number contradicts the birth date or the sex.
    #[error(transparent)]
    Identifier(IdentifierError),
}

/// A person to register.
#[derive(Clone, Debug)]
pub struct NewPerson {
    /// The sealed fields.
    pub personal: PersonalData,
    /// Initial status.
    pub status: PersonStatus,
    /// Initial e-ID level.
    pub eid_level: EidLevel,
}

/// A registered person, with personal fields opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// Internal id.
    pub id: PersonId,
    /// Personal fields.
    pub personal: PersonalData,
    /// Active, deceased or suspended.
    pub status: PersonStatus,
    /// e-ID assurance level.
    pub eid_level: EidLevel,
    /// When the record was created.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
}

/// A change to a person; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct PersonUpdate {
    /// New status.
    pub status: Option<PersonStatus>,
    /// New e-ID level.
    pub eid_level: Option<EidLevel>,
}

/// An organisation to register.
#[derive(Clone, Debug)]
pub struct NewOrganisation {
    /// Tax code, unique in the registry.
    pub tax_code: TaxCode,
    /// Registered name.
    pub name: String,
    /// What kind of organisation.
    pub kind: OrganisationKind,
    /// Parent organisation, if any.
    pub parent_id: Option<OrganisationId>,
}

/// A registered organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    /// Internal id.
    pub id: OrganisationId,
    /// Tax code.
    pub tax_code: TaxCode,
    /// Registered name.
    pub name: String,
    /// Kind.
    pub kind: OrganisationKind,
    /// Parent organisation.
    pub parent_id: Option<OrganisationId>,
    /// When the record was created.
    pub created_at: Timestamp,
    /// When the record last changed.
    pub updated_at: Timestamp,
}

/// A change to an organisation; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct OrganisationUpdate {
    /// New name.
    pub name: Option<String>,
    /// New parent: `Some(None)` detaches it.
    pub parent_id: Option<Option<OrganisationId>>,
}

/// How a guardian is related to the person in their care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardianRelationship {
    /// Mother or father.
    Parent,
    /// A guardian appointed under the Civil Code (2015, Art. 46-63).
    LegalGuardian,
}

impl GuardianRelationship {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GuardianRelationship::Parent => "parent",
            GuardianRelationship::LegalGuardian => "legal_guardian",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "parent" => Some(GuardianRelationship::Parent),
            "legal_guardian" => Some(GuardianRelationship::LegalGuardian),
            _ => None,
        }
    }
}

/// A link from a person to one of their guardians.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Guardianship {
    /// The person in care.
    pub child_id: PersonId,
    /// The guardian.
    pub guardian_id: PersonId,
    /// How they are related.
    pub relationship: GuardianRelationship,
    /// When the link was recorded.
    pub created_at: Timestamp,
}

/// What an operator token allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OperatorRole {
    /// Reads the registry.
    RegistryReader,
    /// Reads and writes the registry.
    RegistryWriter,
    /// Everything, including operator tokens.
    Admin,
}

impl OperatorRole {
    /// Every role, for help texts.
    pub const ALL: [OperatorRole; 3] = [
        OperatorRole::RegistryReader,
        OperatorRole::RegistryWriter,
        OperatorRole::Admin,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::RegistryReader => "registry-reader",
            OperatorRole::RegistryWriter => "registry-writer",
            OperatorRole::Admin => "admin",
        }
    }

    /// Whether a holder of this role may act as `needed` (roles are ordered by power).
    pub fn grants(self, needed: OperatorRole) -> bool {
        self >= needed
    }
}

impl fmt::Display for OperatorRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OperatorRole {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OperatorRole::ALL
            .into_iter()
            .find(|role| role.as_str() == s)
            .ok_or(UnknownRole)
    }
}

/// A role name that is not one of [`OperatorRole::ALL`].
#[derive(Debug, thiserror::Error)]
#[error("unknown role (expected one of: registry-reader, registry-writer, admin)")]
pub struct UnknownRole;

/// An operator token to record. The token itself is never stored, only its hash.
#[derive(Clone, Debug)]
pub struct NewOperatorToken {
    /// SHA-256 of the bearer token.
    pub hash: dinhdanh_crypto::TokenHash,
    /// What it allows.
    pub role: OperatorRole,
    /// A label for people (who holds it, what for).
    pub label: String,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
}

/// A recorded operator token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorToken {
    /// Token id.
    pub id: OperatorTokenId,
    /// What it allows.
    pub role: OperatorRole,
    /// Label.
    pub label: String,
    /// Created.
    pub created_at: Timestamp,
    /// Expiry.
    pub expires_at: Option<Timestamp>,
    /// Revocation time, if revoked.
    pub revoked_at: Option<Timestamp>,
}

impl OperatorToken {
    /// Whether the token may be used at `now`.
    pub fn is_usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Where a signing key is in its life: `next` (published, not yet signing), `active` (signs),
/// `retiring` (published so that what it signed still verifies, no longer signs), `retired`
/// (neither).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKeyState {
    /// Published ahead of use, so that caches hold it before it signs.
    Next,
    /// Signs new tokens.
    Active,
    /// No longer signs; still published.
    Retiring,
    /// Neither signs nor is published.
    Retired,
}

impl SigningKeyState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningKeyState::Next => "next",
            SigningKeyState::Active => "active",
            SigningKeyState::Retiring => "retiring",
            SigningKeyState::Retired => "retired",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "next" => Some(SigningKeyState::Next),
            "active" => Some(SigningKeyState::Active),
            "retiring" => Some(SigningKeyState::Retiring),
            "retired" => Some(SigningKeyState::Retired),
            _ => None,
        }
    }

    /// Whether the key appears in the JWKS.
    pub fn is_published(self) -> bool {
        !matches!(self, SigningKeyState::Retired)
    }
}

impl fmt::Display for SigningKeyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A stored signing key, without its private part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigningKeyRecord {
    /// Key id, as published in the JWKS and token headers.
    pub kid: String,
    /// The algorithm the key is pinned to.
    pub algorithm: dinhdanh_crypto::SignatureAlgorithm,
    /// Life-cycle state.
    pub state: SigningKeyState,
    /// The public key bytes.
    pub public_key: Vec<u8>,
    /// Created.
    pub created_at: Timestamp,
    /// Became active.
    pub activated_at: Option<Timestamp>,
    /// Started retiring.
    pub retiring_at: Option<Timestamp>,
    /// Retired.
    pub retired_at: Option<Timestamp>,
}
