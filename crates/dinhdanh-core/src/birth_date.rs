//! A person's date of birth.
//!
//! Owns the accepted text form (`YYYY-MM-DD`, nothing else) and the lower bound of 1900,
//! the first year a citizen number can encode. It does not read the clock: whether a date
//! lies in the future is for the caller to ask with [`BirthDate::is_after`].

use crate::IdentifierError;
use jiff::civil::Date;
use std::fmt;
use std::str::FromStr;

/// The earliest accepted year: century digit 0/1 of a citizen number means the 1900s
/// (Circular 07/2016/TT-BCA Art. 7), and nobody alive was born earlier.
const FIRST_YEAR: i16 = 1900;

/// A civil date of birth, from 1 January 1900 on.
///
/// Parsed from and displayed as `YYYY-MM-DD`; serialised as that string. `Debug` shows only
/// the year, because a full birth date is personal data that identifies people.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BirthDate(Date);

impl BirthDate {
    /// Wraps a date that is already known to be a birth date.
    ///
    /// The 1900 lower bound applies to parsing only; this constructor trusts its caller
    /// (e.g. a generator of synthetic people or a database row).
    pub fn new(date: Date) -> Self {
        Self(date)
    }

    /// The civil date.
    pub fn date(&self) -> Date {
        self.0
    }

    /// The year of birth.
    pub fn year(&self) -> i16 {
        self.0.year()
    }

    /// Whether the birth date is later than `today`, i.e. lies in the future.
    pub fn is_after(&self, today: Date) -> bool {
        self.0 > today
    }
}

impl From<Date> for BirthDate {
    fn from(date: Date) -> Self {
        Self::new(date)
    }
}

impl FromStr for BirthDate {
    type Err = IdentifierError;

    /// Parses exactly `YYYY-MM-DD` (ISO 8601 extended calendar date), after trimming
    /// surrounding whitespace. Other ISO 8601 forms (`YYYYMMDD`, times, offsets) are refused.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.trim().as_bytes();
        let [y1, y2, y3, y4, b'-', m1, m2, b'-', d1, d2] = *bytes else {
            return Err(IdentifierError::BirthDate);
        };
        let number = |digits: &[u8]| -> Result<i16, IdentifierError> {
            digits.iter().try_fold(0i16, |acc, &byte| {
                if byte.is_ascii_digit() {
                    Ok(acc * 10 + i16::from(byte - b'0'))
                } else {
                    Err(IdentifierError::BirthDate)
                }
            })
        };
        let year = number(&[y1, y2, y3, y4])?;
        let month = number(&[m1, m2])?;
        let day = number(&[d1, d2])?;
        if year < FIRST_YEAR {
            return Err(IdentifierError::BirthDate);
        }
        // Month and day are two digits, so they fit in i8.
        let (Ok(month), Ok(day)) = (i8::try_from(month), i8::try_from(day)) else {
            return Err(IdentifierError::BirthDate);
        };
        Date::new(year, month, day)
            .map(Self)
            .map_err(|_| IdentifierError::BirthDate)
    }
}

impl fmt::Display for BirthDate {
    /// Writes `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
    }
}

impl fmt::Debug for BirthDate {
    /// Writes only the year, e.g. `BirthDate(1990-**-**)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BirthDate({:04}-**-**)", self.0.year())
    }
}

serde_via_str!(BirthDate, "a date as \"YYYY-MM-DD\"");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::BirthDate;
    use crate::IdentifierError;
    use jiff::civil::date;
    use proptest::prelude::*;

    #[test]
    fn parses_iso_dates() {
        let birth: BirthDate = "1990-07-15".parse().unwrap();
        assert_eq!(birth.date(), date(1990, 7, 15));
        assert_eq!(birth.year(), 1990);
        assert_eq!(
            " 2000-02-29\n".parse::<BirthDate>().unwrap().date(),
            date(2000, 2, 29)
        );
        assert_eq!("1900-01-01".parse::<BirthDate>().unwrap().year(), 1900);
    }

    #[test]
    fn refuses_impossible_and_malformed_dates() {
        for text in [
            "1899-12-31",
            "2023-02-29",
            "1900-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "2024-01-00",
            "19900715",
            "1990/07/15",
            "1990-7-15",
            "90-07-15",
            "1990-07-15T00:00",
            "+1990-07-15",
            "١٩٩٠-٠٧-١٥",
            "",
        ] {
            assert_eq!(
                text.parse::<BirthDate>(),
                Err(IdentifierError::BirthDate),
                "{text:?}"
            );
        }
    }

    #[test]
    fn is_after_compares_with_today() {
        let birth: BirthDate = "2024-05-10".parse().unwrap();
        assert!(birth.is_after(date(2024, 5, 9)));
        assert!(!birth.is_after(date(2024, 5, 10)));
        assert!(!birth.is_after(date(2030, 1, 1)));
    }

    #[test]
    fn debug_hides_month_and_day() {
        let birth: BirthDate = "1987-11-23".parse().unwrap();
        let debug = format!("{birth:?}");
        assert_eq!(debug, "BirthDate(1987-**-**)");
        assert!(!debug.contains("11") && !debug.contains("23"));
    }

    #[test]
    fn serde_uses_the_iso_string() {
        let birth: BirthDate = "2005-01-09".parse().unwrap();
        assert_eq!(serde_json::to_string(&birth).unwrap(), "\"2005-01-09\"");
        assert_eq!(
            serde_json::from_str::<BirthDate>("\"2005-01-09\"").unwrap(),
            birth
        );
        let error = serde_json::from_str::<BirthDate>("\"1850-01-09\"").unwrap_err();
        assert!(!error.to_string().contains("1850"), "{error}");
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(
            year in 1900i16..=9999,
            month in 1i8..=12,
            day in 1i8..=31,
        ) {
            prop_assume!(jiff::civil::Date::new(year, month, day).is_ok());
            let birth = BirthDate::new(date(year, month, day));
            prop_assert_eq!(birth.to_string().parse::<BirthDate>(), Ok(birth));
        }

        #[test]
        fn years_before_1900_are_refused(year in 0i16..1900, month in 1i8..=12, day in 1i8..=28) {
            let text = BirthDate::new(date(year, month, day)).to_string();
            prop_assert_eq!(text.parse::<BirthDate>(), Err(IdentifierError::BirthDate));
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = text.parse::<BirthDate>();
        }
    }
}
