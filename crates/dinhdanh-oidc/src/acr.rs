//! Authentication context class references for the e-ID levels (OIDC Core §2, `acr`).

use dinhdanh_core::EidLevel;

/// An `acr` value this provider issues: one per e-ID level a person can log in with.
// Level 0 has no value: a person without a verified e-ID cannot log in (Decree 69/2024/NĐ-CP
// defines levels 1 and 2 of electronic identification accounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Acr(EidLevel);

impl Acr {
    /// The value for level 1.
    pub const LEVEL_1: &'static str = "https://dinhdanh.invalid/acr/eid1";
    /// The value for level 2.
    pub const LEVEL_2: &'static str = "https://dinhdanh.invalid/acr/eid2";

    /// Every value, for discovery (`acr_values_supported`).
    pub const SUPPORTED: [&'static str; 2] = [Self::LEVEL_1, Self::LEVEL_2];

    /// The value of a login at `level`; none for level 0.
    pub fn of_level(level: EidLevel) -> Option<Self> {
        (level >= EidLevel::Level1).then_some(Self(level))
    }

    /// The level a value names.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            Self::LEVEL_1 => Some(Self(EidLevel::Level1)),
            Self::LEVEL_2 => Some(Self(EidLevel::Level2)),
            _ => None,
        }
    }

    /// The e-ID level.
    pub fn level(self) -> EidLevel {
        self.0
    }

    /// The value as it goes into the `acr` claim.
    pub fn as_str(self) -> &'static str {
        match self.0 {
            EidLevel::Level2 => Self::LEVEL_2,
            _ => Self::LEVEL_1,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_level_0_has_none() {
        assert_eq!(Acr::of_level(EidLevel::Level0), None);
        for level in [EidLevel::Level1, EidLevel::Level2] {
            let acr = Acr::of_level(level).unwrap();
            assert_eq!(Acr::parse(acr.as_str()), Some(acr));
            assert_eq!(acr.level(), level);
        }
        assert_eq!(Acr::parse("urn:other"), None);
    }
}
