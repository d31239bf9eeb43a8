//! Closed vocabularies describing a person: sex, e-ID assurance level and record status.
//!
//! Owns their wire forms. It holds no policy about what a status or level permits; that is
//! for the crates that enforce the policies.

use crate::IdentifierError;
use std::fmt;
use std::str::FromStr;

/// Sex as recorded in the population registry, and as encoded in the citizen number.
///
/// Serialised as `"male"` / `"female"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Sex {
    /// Male (even century digit in a citizen number).
    Male,
    /// Female (odd century digit in a citizen number).
    Female,
}

str_enum!(Sex, IdentifierError::Sex, "\"male\" or \"female\"", {
    Male => "male",
    Female => "female",
});

/// Assurance level of a person's electronic identity (e-ID).
///
/// Serialised as the integer `0`, `1` or `2`; ordered so that `Level2 > Level1 > Level0`
/// and a policy can say "at least level 1" with `>=`.
// Levels 1 and 2 follow the two levels of electronic identification accounts of
// Decree 69/2024/NĐ-CP: level 1 is enrolled by the person and matched against the national
// population database, level 2 is verified in person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EidLevel {
    /// No verified electronic identity.
    Level0,
    /// Self-enrolled and matched against the population registry.
    Level1,
    /// Verified in person.
    Level2,
}

impl EidLevel {
    /// Every level, lowest first.
    pub const ALL: &'static [Self] = &[Self::Level0, Self::Level1, Self::Level2];

    /// The level as its number, `0..=2`.
    pub fn as_u8(self) -> u8 {
        match self {
            Self::Level0 => 0,
            Self::Level1 => 1,
            Self::Level2 => 2,
        }
    }
}

impl TryFrom<u8> for EidLevel {
    type Error = IdentifierError;

    fn try_from(level: u8) -> Result<Self, Self::Error> {
        match level {
            0 => Ok(Self::Level0),
            1 => Ok(Self::Level1),
            2 => Ok(Self::Level2),
            _ => Err(IdentifierError::EidLevel),
        }
    }
}

impl From<EidLevel> for u8 {
    fn from(level: EidLevel) -> Self {
        level.as_u8()
    }
}

impl FromStr for EidLevel {
    type Err = IdentifierError;

    /// Parses `"0"`, `"1"` or `"2"`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "0" => Ok(Self::Level0),
            "1" => Ok(Self::Level1),
            "2" => Ok(Self::Level2),
            _ => Err(IdentifierError::EidLevel),
        }
    }
}

impl fmt::Display for EidLevel {
    /// Writes the level's number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_u8())
    }
}

impl serde::Serialize for EidLevel {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.as_u8())
    }
}

impl<'de> serde::Deserialize<'de> for EidLevel {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let level = u8::deserialize(deserializer)?;
        Self::try_from(level).map_err(serde::de::Error::custom)
    }
}

/// Status of a person's record in the identity graph.
///
/// Serialised as `"active"`, `"deceased"` or `"suspended"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonStatus {
    /// The person's identity is in normal use.
    Active,
    /// The person has died; the identity must not authenticate anyone.
    Deceased,
    /// Use of the identity is suspended (e.g. pending investigation of misuse).
    Suspended,
}

str_enum!(
    PersonStatus,
    IdentifierError::PersonStatus,
    "\"active\", \"deceased\" or \"suspended\"",
    {
        Active => "active",
        Deceased => "deceased",
        Suspended => "suspended",
    }
);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::{EidLevel, PersonStatus, Sex};
    use crate::IdentifierError;
    use serde_json::json;

    #[test]
    fn sex_round_trips_through_text_and_json() {
        for sex in Sex::ALL {
            assert_eq!(sex.as_str().parse::<Sex>(), Ok(*sex));
            let json = serde_json::to_value(sex).unwrap();
            assert_eq!(json, json!(sex.as_str()));
            assert_eq!(serde_json::from_value::<Sex>(json).unwrap(), *sex);
        }
        assert_eq!(serde_json::to_string(&Sex::Female).unwrap(), "\"female\"");
    }

    #[test]
    fn sex_refuses_other_spellings() {
        for text in ["Male", "m", "F", "", " male", "other"] {
            assert_eq!(text.parse::<Sex>(), Err(IdentifierError::Sex), "{text:?}");
        }
        assert!(serde_json::from_str::<Sex>("\"MALE\"").is_err());
    }

    #[test]
    fn eid_level_serialises_as_a_number() {
        assert_eq!(serde_json::to_string(&EidLevel::Level2).unwrap(), "2");
        assert_eq!(
            serde_json::from_str::<EidLevel>("1").unwrap(),
            EidLevel::Level1
        );
        assert!(serde_json::from_str::<EidLevel>("3").is_err());
        assert!(serde_json::from_str::<EidLevel>("\"1\"").is_err());
        assert!(serde_json::from_str::<EidLevel>("-1").is_err());
    }

    #[test]
    fn eid_level_converts_from_u8_and_text() {
        for level in EidLevel::ALL {
            assert_eq!(EidLevel::try_from(level.as_u8()), Ok(*level));
            assert_eq!(level.to_string().parse::<EidLevel>(), Ok(*level));
            assert_eq!(u8::from(*level), level.as_u8());
        }
        assert_eq!(EidLevel::try_from(3), Err(IdentifierError::EidLevel));
        assert_eq!("level1".parse::<EidLevel>(), Err(IdentifierError::EidLevel));
    }

    #[test]
    fn eid_levels_are_ordered_by_assurance() {
        assert!(EidLevel::Level0 < EidLevel::Level1);
        assert!(EidLevel::Level1 < EidLevel::Level2);
        assert_eq!(EidLevel::ALL.iter().max(), Some(&EidLevel::Level2));
    }

    #[test]
    fn person_status_wire_forms() {
        assert_eq!(PersonStatus::ALL.len(), 3);
        for status in PersonStatus::ALL {
            assert_eq!(status.to_string().parse::<PersonStatus>(), Ok(*status));
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(
                serde_json::from_str::<PersonStatus>(&json).unwrap(),
                *status
            );
        }
        assert_eq!(PersonStatus::Deceased.as_str(), "deceased");
        assert_eq!(
            "dead".parse::<PersonStatus>(),
            Err(IdentifierError::PersonStatus)
        );
    }
}
