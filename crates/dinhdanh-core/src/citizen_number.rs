//! The 12-digit personal identification number (số định danh cá nhân).
//!
//! Owns its structure and the consistency rules between the number and the person's stated
//! birth date and sex. The number has no check digit, so structure and consistency are all
//! that can be validated offline; whether the number was actually issued is a registry
//! question. The digits are personal data: `Debug` masks them and errors never repeat them.

use crate::ascii::AsciiBuf;
use crate::province::{self, Province};
use crate::{BirthDate, IdentifierError, Sex};
use std::fmt;
use std::str::FromStr;

/// Number of digits in a citizen number.
const LEN: usize = 12;
/// First and last birth years a century digit can encode (`0`..=`9` → 1900s..2300s).
const FIRST_YEAR: i16 = 1900;
const LAST_YEAR: i16 = 2399;
/// Largest six-digit serial.
const MAX_SERIAL: u32 = 999_999;

/// A personal identification number `PPP G YY NNNNNN`.
///
/// Structure (Decree 137/2015/NĐ-CP Art. 7; Circular 07/2016/TT-BCA Art. 7 and Annex 1):
///
/// - `PPP`: the birth-registration province, a code of [`province::PROVINCES`];
/// - `G`: century and sex: `0`/`1` born in the 1900s male/female, `2`/`3` the 2000s,
///   `4`/`5` the 2100s, `6`/`7` the 2200s, `8`/`9` the 2300s;
/// - `YY`: the last two digits of the birth year;
/// - `NNNNNN`: a random serial.
///
/// Parsing accepts exactly 12 ASCII digits after trimming surrounding whitespace, and checks
/// the province code. `Display` and [`CitizenNumber::as_str`] give the digits;
/// `Debug` shows only the last two, and [`CitizenNumber::masked`] the province and last two.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CitizenNumber(AsciiBuf<LEN>);

impl CitizenNumber {
    /// Builds the number of a person from its parts, e.g. for synthetic populations.
    ///
    /// Fails if the province is not in the table, the year is outside 1900..=2399 or the
    /// serial has more than six digits.
    pub fn compose(
        province_code: u16,
        sex: Sex,
        birth_year: i16,
        serial: u32,
    ) -> Result<Self, IdentifierError> {
        if province::province(province_code).is_none() {
            return Err(IdentifierError::CitizenNumberProvince);
        }
        if !(FIRST_YEAR..=LAST_YEAR).contains(&birth_year) {
            return Err(IdentifierError::CitizenNumberYear);
        }
        if serial > MAX_SERIAL {
            return Err(IdentifierError::CitizenNumberSerial);
        }
        let since_1900 = birth_year - FIRST_YEAR;
        let century_digit = since_1900 / 100 * 2 + i16::from(sex == Sex::Female);
        let year_digits = since_1900 % 100;
        let digits = [
            province_code / 100,
            province_code / 10,
            province_code,
            century_digit.unsigned_abs(),
            year_digits.unsigned_abs() / 10,
            year_digits.unsigned_abs(),
        ]
        .into_iter()
        .map(|value| (value % 10) as u8)
        .chain([100_000, 10_000, 1_000, 100, 10, 1].map(|place| (serial / place % 10) as u8));
        Ok(Self(AsciiBuf::from_digits("", digits)))
    }

    /// The twelve digits.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The digit at `index` (0-based) as a number.
    fn digit(&self, index: usize) -> u8 {
        self.as_str()
            .as_bytes()
            .get(index)
            .map_or(0, |byte| byte.wrapping_sub(b'0'))
    }

    /// The province where the birth was registered.
    pub fn province(&self) -> &'static Province {
        let code = u16::from(self.digit(0)) * 100
            + u16::from(self.digit(1)) * 10
            + u16::from(self.digit(2));
        // Parsing and `compose` only admit codes of the table, so the lookup succeeds; the
        // fallback keeps this function total without a panic.
        province::province(code).unwrap_or(&province::PROVINCES[0])
    }

    /// The century-and-sex digit `G`.
    fn century_digit(&self) -> u8 {
        self.digit(3)
    }

    /// The sex encoded by the century digit: even is male, odd is female.
    pub fn sex(&self) -> Sex {
        if self.century_digit().is_multiple_of(2) {
            Sex::Male
        } else {
            Sex::Female
        }
    }

    /// The birth year encoded by the century digit and the two year digits.
    pub fn birth_year(&self) -> i16 {
        let century = i16::from(self.century_digit() / 2);
        FIRST_YEAR + century * 100 + i16::from(self.digit(4)) * 10 + i16::from(self.digit(5))
    }

    /// The six-digit serial as a number.
    pub fn serial(&self) -> u32 {
        (6..LEN).fold(0, |acc, index| acc * 10 + u32::from(self.digit(index)))
    }

    /// Checks the number against a person's stated birth date and, if given, sex.
    ///
    /// The century digit must give the century of the birth year
    /// ([`IdentifierError::CitizenNumberCentury`]), the year digits its last two digits
    /// ([`IdentifierError::CitizenNumberBirthYear`]), and the parity of the century digit
    /// the sex ([`IdentifierError::CitizenNumberSex`]).
    pub fn check_consistent(
        &self,
        birth_date: &BirthDate,
        sex: Option<Sex>,
    ) -> Result<(), IdentifierError> {
        let stated = birth_date.year();
        let encoded = self.birth_year();
        if stated.div_euclid(100) != encoded.div_euclid(100) {
            return Err(IdentifierError::CitizenNumberCentury);
        }
        if stated != encoded {
            return Err(IdentifierError::CitizenNumberBirthYear);
        }
        match sex {
            Some(sex) if sex != self.sex() => Err(IdentifierError::CitizenNumberSex),
            _ => Ok(()),
        }
    }

    /// The number with all but the province code and the last two digits hidden,
    /// e.g. `001*******89`, for display to the person it belongs to.
    pub fn masked(&self) -> String {
        let digits = self.as_str();
        format!(
            "{}*******{}",
            digits.get(..3).unwrap_or_default(),
            digits.get(LEN - 2..).unwrap_or_default()
        )
    }
}

impl FromStr for CitizenNumber {
    type Err = IdentifierError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.len() != LEN || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(IdentifierError::CitizenNumberFormat);
        }
        let buf = AsciiBuf::new(text).ok_or(IdentifierError::CitizenNumberFormat)?;
        let code = text
            .get(..3)
            .and_then(|code| code.parse().ok())
            .ok_or(IdentifierError::CitizenNumberFormat)?;
        if province::province(code).is_none() {
            return Err(IdentifierError::CitizenNumberProvince);
        }
        Ok(Self(buf))
    }
}

impl fmt::Display for CitizenNumber {
    /// Writes the twelve digits. This is personal data: log [`fmt::Debug`] instead.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CitizenNumber {
    /// Writes only the last two digits, e.g. `CitizenNumber(**********89)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last_two = self.as_str().get(LEN - 2..).unwrap_or_default();
        write!(f, "CitizenNumber(**********{last_two})")
    }
}

serde_via_str!(CitizenNumber, "a 12-digit citizen number");

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::CitizenNumber;
    use crate::province::PROVINCES;
    use crate::{BirthDate, IdentifierError, Sex};
    use proptest::prelude::*;

    fn number(text: &str) -> CitizenNumber {
        text.parse().unwrap()
    }

    fn born(text: &str) -> BirthDate {
        text.parse().unwrap()
    }

    #[test]
    fn parses_and_decodes_the_parts() {
        let n = number("001090012345");
        assert_eq!(n.as_str(), "001090012345");
        assert_eq!(n.province().name, "Hà Nội");
        assert_eq!(n.sex(), Sex::Male);
        assert_eq!(n.birth_year(), 1990);
        assert_eq!(n.serial(), 12_345);

        let n = number("079305987654");
        assert_eq!(n.province().name, "Hồ Chí Minh");
        assert_eq!(n.sex(), Sex::Female);
        assert_eq!(n.birth_year(), 2005);
        assert_eq!(n.serial(), 987_654);
    }

    #[test]
    fn century_digits_for_1999_and_2000() {
        assert_eq!(number("001099000001").birth_year(), 1999);
        assert_eq!(number("001199000001").birth_year(), 1999);
        assert_eq!(number("001200000001").birth_year(), 2000);
        assert_eq!(number("001300000001").birth_year(), 2000);
        assert_eq!(
            CitizenNumber::compose(1, Sex::Male, 1999, 1)
                .unwrap()
                .as_str(),
            "001099000001"
        );
        assert_eq!(
            CitizenNumber::compose(1, Sex::Female, 2000, 1)
                .unwrap()
                .as_str(),
            "001300000001"
        );
    }

    #[test]
    fn every_century_digit_decodes() {
        let expected = [
            (1900, Sex::Male),
            (1900, Sex::Female),
            (2000, Sex::Male),
            (2000, Sex::Female),
            (2100, Sex::Male),
            (2100, Sex::Female),
            (2200, Sex::Male),
            (2200, Sex::Female),
            (2300, Sex::Male),
            (2300, Sex::Female),
        ];
        for (digit, (year, sex)) in expected.into_iter().enumerate() {
            let n = number(&format!("036{digit}00123456"));
            assert_eq!((n.birth_year(), n.sex()), (year, sex), "digit {digit}");
        }
    }

    #[test]
    fn trims_surrounding_whitespace_only() {
        assert_eq!(number("  001090012345\n").as_str(), "001090012345");
        for text in ["001 090 012345", "001-090-012345", "0010900 12345"] {
            assert_eq!(
                text.parse::<CitizenNumber>(),
                Err(IdentifierError::CitizenNumberFormat),
                "{text:?}"
            );
        }
    }

    #[test]
    fn refuses_wrong_length_and_non_digits() {
        for text in [
            "",
            "00109001234",
            "0010900123456",
            "00109001234a",
            "00109001234５",
            "+01090012345",
            "001090012345\u{0}",
        ] {
            assert_eq!(
                text.parse::<CitizenNumber>(),
                Err(IdentifierError::CitizenNumberFormat),
                "{text:?}"
            );
        }
    }

    #[test]
    fn refuses_provinces_outside_the_table() {
        for text in [
            "000090012345",
            "003090012345",
            "097090012345",
            "999090012345",
        ] {
            assert_eq!(
                text.parse::<CitizenNumber>(),
                Err(IdentifierError::CitizenNumberProvince),
                "{text:?}"
            );
        }
    }

    #[test]
    fn consistency_with_birth_date_and_sex() {
        let n = number("001090012345");
        assert_eq!(
            n.check_consistent(&born("1990-03-04"), Some(Sex::Male)),
            Ok(())
        );
        assert_eq!(n.check_consistent(&born("1990-12-31"), None), Ok(()));
        assert_eq!(
            n.check_consistent(&born("1990-03-04"), Some(Sex::Female)),
            Err(IdentifierError::CitizenNumberSex)
        );
        assert_eq!(
            n.check_consistent(&born("1991-03-04"), Some(Sex::Male)),
            Err(IdentifierError::CitizenNumberBirthYear)
        );
        assert_eq!(
            n.check_consistent(&born("2090-03-04"), Some(Sex::Male)),
            Err(IdentifierError::CitizenNumberCentury)
        );
        // Born 1 January 2000 but numbered with the 1900s digit.
        assert_eq!(
            number("001000000001").check_consistent(&born("2000-01-01"), None),
            Err(IdentifierError::CitizenNumberCentury)
        );
        assert_eq!(
            number("001200000001").check_consistent(&born("2000-01-01"), Some(Sex::Male)),
            Ok(())
        );
    }

    #[test]
    fn compose_refuses_what_it_cannot_encode() {
        assert_eq!(
            CitizenNumber::compose(3, Sex::Male, 1990, 1),
            Err(IdentifierError::CitizenNumberProvince)
        );
        assert_eq!(
            CitizenNumber::compose(0, Sex::Male, 1990, 1),
            Err(IdentifierError::CitizenNumberProvince)
        );
        assert_eq!(
            CitizenNumber::compose(1, Sex::Male, 1899, 1),
            Err(IdentifierError::CitizenNumberYear)
        );
        assert_eq!(
            CitizenNumber::compose(1, Sex::Male, 2400, 1),
            Err(IdentifierError::CitizenNumberYear)
        );
        assert_eq!(
            CitizenNumber::compose(1, Sex::Male, 1990, 1_000_000),
            Err(IdentifierError::CitizenNumberSerial)
        );
        assert_eq!(
            CitizenNumber::compose(96, Sex::Female, 2399, 999_999)
                .unwrap()
                .as_str(),
            "096999999999"
        );
    }

    #[test]
    fn debug_and_masked_hide_the_digits() {
        let n = number("001090012389");
        assert_eq!(format!("{n:?}"), "CitizenNumber(**********89)");
        assert_eq!(n.masked(), "001*******89");
        assert!(!format!("{:?}", Some(n)).contains("0900123"));
    }

    #[test]
    fn serde_is_the_digit_string_and_validates() {
        let n = number("001090012345");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"001090012345\"");
        assert_eq!(
            serde_json::from_str::<CitizenNumber>("\"001090012345\"").unwrap(),
            n
        );
        let error = serde_json::from_str::<CitizenNumber>("\"003090012345\"").unwrap_err();
        assert!(error.to_string().contains("province"), "{error}");
        assert!(!error.to_string().contains("003090012345"), "{error}");
        assert!(serde_json::from_str::<CitizenNumber>("001090012345").is_err());
    }

    fn province_code() -> impl Strategy<Value = u16> {
        proptest::sample::select(PROVINCES.iter().map(|p| p.code).collect::<Vec<_>>())
    }

    fn sex() -> impl Strategy<Value = Sex> {
        prop_oneof![Just(Sex::Male), Just(Sex::Female)]
    }

    fn citizen_number() -> impl Strategy<Value = CitizenNumber> {
        (province_code(), sex(), 1900i16..=2399, 0u32..=999_999).prop_map(
            |(province, sex, year, serial)| {
                CitizenNumber::compose(province, sex, year, serial).unwrap()
            },
        )
    }

    proptest! {
        #[test]
        fn compose_then_decode_round_trips(
            province in province_code(),
            sex in sex(),
            year in 1900i16..=2399,
            serial in 0u32..=999_999,
        ) {
            let n = CitizenNumber::compose(province, sex, year, serial).unwrap();
            prop_assert_eq!(n.province().code, province);
            prop_assert_eq!(n.sex(), sex);
            prop_assert_eq!(n.birth_year(), year);
            prop_assert_eq!(n.serial(), serial);
            let birth = BirthDate::new(jiff::civil::date(year, 6, 1));
            prop_assert_eq!(n.check_consistent(&birth, Some(sex)), Ok(()));
        }

        #[test]
        fn display_then_parse_round_trips(n in citizen_number()) {
            prop_assert_eq!(n.to_string().parse::<CitizenNumber>(), Ok(n));
            let json = serde_json::to_string(&n).unwrap();
            prop_assert_eq!(serde_json::from_str::<CitizenNumber>(&json).unwrap(), n);
        }

        #[test]
        fn arbitrary_text_never_panics(text in any::<String>()) {
            let _ = text.parse::<CitizenNumber>();
        }

        #[test]
        fn arbitrary_twelve_digits_parse_iff_province_is_known(text in "[0-9]{12}") {
            let code: u16 = text[..3].parse().unwrap();
            let known = PROVINCES.iter().any(|p| p.code == code);
            prop_assert_eq!(text.parse::<CitizenNumber>().is_ok(), known);
        }

        #[test]
        fn dropping_or_adding_a_digit_is_refused(n in citizen_number(), extra in 0u8..10) {
            let text = n.to_string();
            prop_assert_eq!(
                text[1..].parse::<CitizenNumber>(),
                Err(IdentifierError::CitizenNumberFormat)
            );
            prop_assert_eq!(
                format!("{text}{extra}").parse::<CitizenNumber>(),
                Err(IdentifierError::CitizenNumberFormat)
            );
        }

        #[test]
        fn a_non_digit_anywhere_is_refused(
            n in citizen_number(),
            index in 0usize..12,
            replacement in "[^0-9]",
        ) {
            let mut text = n.to_string();
            text.replace_range(index..=index, &replacement);
            prop_assert!(text.parse::<CitizenNumber>().is_err());
        }

        #[test]
        fn an_unknown_province_is_refused(n in citizen_number(), code in 0u16..1000) {
            prop_assume!(PROVINCES.iter().all(|p| p.code != code));
            let text = format!("{code:03}{}", &n.to_string()[3..]);
            prop_assert_eq!(
                text.parse::<CitizenNumber>(),
                Err(IdentifierError::CitizenNumberProvince)
            );
        }

        #[test]
        fn a_different_birth_year_or_sex_is_inconsistent(
            n in citizen_number(),
            offset in 1i16..200,
        ) {
            let other_year = n.birth_year() + offset;
            let birth = BirthDate::new(jiff::civil::date(other_year, 1, 1));
            prop_assert!(n.check_consistent(&birth, None).is_err());
            let own = BirthDate::new(jiff::civil::date(n.birth_year(), 1, 1));
            let other_sex = match n.sex() { Sex::Male => Sex::Female, Sex::Female => Sex::Male };
            prop_assert_eq!(
                n.check_consistent(&own, Some(other_sex)),
                Err(IdentifierError::CitizenNumberSex)
            );
        }
    }
}
